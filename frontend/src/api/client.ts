// The REST calls the page makes (everything else comes over the feed).

import { decodePlayer } from './decode';
import type { AttestationView, ErrorBody, PageConfigView, PlayerView } from './types';

/** An API error: the server's `{"error": ...}` sentence, or what went wrong. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function getJson<T>(path: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch {
    throw new ApiError('the server cannot be reached', 0);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body as ErrorBody | null)?.error;
    throw new ApiError(error ?? `HTTP ${response.status}`, response.status);
  }
  return body as T;
}

export function fetchPageConfig(): Promise<PageConfigView> {
  return getJson<PageConfigView>('/api/page-config');
}

/** A fresh attestation document for `nonceHex` (1 to 64 bytes). */
export function fetchAttestation(nonceHex: string): Promise<AttestationView> {
  return getJson<AttestationView>(`/api/attestation?nonce=${encodeURIComponent(nonceHex)}`);
}

/** `player`'s stake in the current round. */
export async function fetchPlayer(player: string): Promise<PlayerView> {
  return decodePlayer(await getJson<unknown>(`/api/round/player/${encodeURIComponent(player.toLowerCase())}`));
}
