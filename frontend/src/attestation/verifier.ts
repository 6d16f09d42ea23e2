// The project's own attestation verifier (attestation-wasm: the Rust crate's
// `attestation::verify`), compiled to WebAssembly. The module has no imports; its C
// ABI is three functions: `alloc(len)`, `dealloc(ptr, len)` and `verify(ptr, len)`,
// which returns `(ptr << 32) | len` of the JSON verdict (attestation-wasm/src/abi.rs).

/** Where scripts/build-frontend puts the module (frontend/public -> dist). */
export const VERIFIER_URL = '/attestation.wasm';

/** What the verifier is asked (attestation-wasm's `Request`). */
export interface VerifyRequest {
  /** COSE_Sign1, base64. */
  document: string;
  /** The nonce sent with the request, hex. */
  nonce: string;
  /** The page's clock, seconds. */
  nowSecs: number;
  maxAgeSecs: number;
  /** Report a document that does not chain to AWS's root as simulated instead of
   * refusing it. Never makes such a document "verified". */
  allowSimulated: boolean;
}

/** The enclave's `user_data` (attestation::UserData). */
export interface AttestedUserData {
  app: string;
  version: string;
  chainId: number;
  /** 0x and lower-case hex. */
  contract: string;
  operator: string;
  keySource: 'generated' | 'injected' | 'file' | 'environment';
  /** Whether one sealed key may be injected (for the pinned operator address only). */
  keyInjection: boolean;
  /** The JSON-RPC upstreams the enclave trusts for chain facts, as `host:port`. */
  rpcHosts: string[];
  /** How many of them must agree before the operator signs. */
  rpcQuorum: number;
}

/** The verifier's verdict. */
export type Verdict =
  | {
      ok: true;
      simulated: boolean;
      pcr0: string;
      moduleId: string;
      timestampMs: number;
      rootSha256: string;
      userData: AttestedUserData | null;
    }
  | { ok: false; error: string };

interface VerifierExports {
  memory: WebAssembly.Memory;
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  verify(ptr: number, len: number): bigint;
}

/** Instantiates the module from its bytes (no imports are given: it needs none). */
export async function instantiateVerifier(bytes: BufferSource): Promise<VerifierExports> {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const exports = instance.exports as unknown as VerifierExports;
  for (const name of ['memory', 'alloc', 'dealloc', 'verify'] as const) {
    if (!(name in exports)) throw new Error(`the verifier module lacks "${name}"`);
  }
  return exports;
}

let loaded: Promise<VerifierExports> | null = null;

/** The module, fetched and instantiated once. */
export function loadVerifier(url = VERIFIER_URL): Promise<VerifierExports> {
  loaded ??= (async () => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the verifier could not be loaded (HTTP ${response.status})`);
    return instantiateVerifier(await response.arrayBuffer());
  })();
  loaded.catch(() => {
    loaded = null;
  });
  return loaded;
}

/** Runs the verifier on `request`. A trap (which the module promises never to hit)
 * comes back as a failed verdict, not an exception. */
export function verifyWith(verifier: VerifierExports, request: VerifyRequest): Verdict {
  const input = new TextEncoder().encode(JSON.stringify(request));
  const inPtr = verifier.alloc(input.length);
  if (inPtr === 0 && input.length > 0) return { ok: false, error: 'the verifier is out of memory' };
  try {
    new Uint8Array(verifier.memory.buffer, inPtr, input.length).set(input);
    const packed = verifier.verify(inPtr, input.length);
    const outPtr = Number(packed >> 32n);
    const outLen = Number(packed & 0xffff_ffffn);
    // Read after the call: memory may have grown (and the old buffer detached).
    const text = new TextDecoder().decode(new Uint8Array(verifier.memory.buffer, outPtr, outLen).slice());
    verifier.dealloc(outPtr, outLen);
    return JSON.parse(text) as Verdict;
  } catch (error) {
    // A trapped instance is not used again.
    loaded = null;
    return { ok: false, error: `the verifier failed: ${String(error)}` };
  } finally {
    try {
      verifier.dealloc(inPtr, input.length);
    } catch {
      loaded = null;
    }
  }
}

/** `bytes` random bytes as hex (the Web Crypto RNG). */
export function randomNonce(bytes = 32): string {
  const nonce = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(nonce, (b) => b.toString(16).padStart(2, '0')).join('');
}
