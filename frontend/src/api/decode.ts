// The edge: wire JSON (wei as decimal strings) into the page's types (wei as
// bigint). A message that does not have the shape it claims throws, and the feed
// treats that like a gap: it reconnects for a fresh snapshot.

import type {
  Activity,
  ConfigView,
  FeedMessage,
  FeedSnapshot,
  HistoryEntry,
  ParticipantsSummary,
  ParticipantView,
  PlayerView,
  RoundView,
  StakeDelta,
  StateEvent,
  WireFeedMessage,
} from './types';

/** A message the page cannot use. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** Wei from its decimal string (no sign, exponent, hex or spaces). */
export function wei(text: unknown): bigint {
  if (typeof text !== 'string' || !/^[0-9]{1,78}$/.test(text)) {
    throw new DecodeError(`expected a decimal string of wei, got ${JSON.stringify(text)}`);
  }
  return BigInt(text);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new DecodeError(`${what} is not a list`);
  return value;
}

export function decodeRound(raw: unknown): RoundView {
  const r = object(raw, 'round') as unknown as RoundView<string>;
  return { ...r, totalPot: wei(r.totalPot), prize: wei(r.prize), commission: wei(r.commission) };
}

export function decodeParticipants(raw: unknown): ParticipantView[] {
  return list(raw, 'participants').map((p) => {
    const v = object(p, 'participant') as unknown as ParticipantView<string>;
    return { ...v, amount: wei(v.amount) };
  });
}

export function decodeSummary(raw: unknown): ParticipantsSummary {
  const s = object(raw, 'participants summary') as unknown as ParticipantsSummary<string>;
  return { ...s, totalPot: wei(s.totalPot), topPlayers: decodeParticipants(s.topPlayers) };
}

export function decodeStakeDelta(raw: unknown): StakeDelta {
  const d = object(raw, 'stake update') as unknown as StakeDelta<string>;
  return { ...d, stake: wei(d.stake), totalPot: wei(d.totalPot) };
}

/** `/api/round/player/{address}`'s answer, or the feed's `player` message's data. */
export function decodePlayer(raw: unknown): PlayerView {
  const p = object(raw, 'player') as unknown as PlayerView<string>;
  return { ...p, amount: wei(p.amount) };
}

export function decodeConfig(raw: unknown): ConfigView {
  const c = object(raw, 'config') as unknown as ConfigView<string>;
  return { ...c, minBetAmount: wei(c.minBetAmount) };
}

export function decodeHistoryEntry(raw: unknown): HistoryEntry {
  const h = object(raw, 'history entry') as unknown as HistoryEntry<string>;
  if (h.outcome === 'completed') {
    return { ...h, totalPot: wei(h.totalPot), prize: wei(h.prize), commission: wei(h.commission) };
  }
  if (h.outcome === 'refunded') return { ...h, totalPot: wei(h.totalPot) };
  throw new DecodeError(`unknown outcome ${JSON.stringify((h as { outcome: unknown }).outcome)}`);
}

export function decodeActivity(raw: unknown): Activity {
  const a = object(raw, 'activity') as unknown as Activity<string>;
  switch (a.kind) {
    case 'bet':
      return { ...a, amount: wei(a.amount), newTotal: wei(a.newTotal) };
    case 'roundCompleted':
      return { ...a, prize: wei(a.prize) };
    case 'withdrawn':
      return { ...a, amount: wei(a.amount) };
    case 'roundCreated':
    case 'seedCommitted':
    case 'bettingStarted':
    case 'endTimeExtended':
    case 'roundRefunded':
    case 'configChanged':
      return a;
    default:
      throw new DecodeError(`unknown activity ${JSON.stringify((a as { kind: unknown }).kind)}`);
  }
}

export function decodeSnapshot(raw: unknown): FeedSnapshot {
  const s = object(raw, 'snapshot') as unknown as FeedSnapshot<string>;
  return {
    ...s,
    config: s.config === null ? null : decodeConfig(s.config),
    round: s.round === null ? null : decodeRound(s.round),
    participants: decodeSummary(s.participants),
    history: list(s.history, 'history').map(decodeHistoryEntry),
    activities: list(s.activities, 'activities').map(decodeActivity),
  };
}

/** One `/ws` message, parsed JSON in, the page's types out. */
export function decodeFeedMessage(raw: unknown): FeedMessage {
  const m = object(raw, 'feed message') as unknown as WireFeedMessage;
  if (typeof m.seq !== 'number') throw new DecodeError('feed message without seq');
  switch (m.type) {
    case 'snapshot':
      return { ...m, data: decodeSnapshot(m.data) };
    case 'heartbeat':
      return m;
    case 'participants_reset':
      return { ...m, data: decodeSummary(m.data) };
    case 'player':
      return { ...m, data: decodePlayer(m.data) };
    case 'round_update':
      return { ...m, data: decodeRound(m.data) };
    case 'stake_update':
      return { ...m, data: decodeStakeDelta(m.data) };
    case 'history_update':
      return { ...m, data: decodeHistoryEntry(m.data) };
    case 'config_update':
      return { ...m, data: decodeConfig(m.data) };
    case 'activity':
      return { ...m, data: decodeActivity(m.data) };
    case 'operator_update':
    case 'head_update':
    case 'reorged':
      return m as StateEvent;
    default:
      throw new DecodeError(`unknown feed message ${JSON.stringify((m as { type: unknown }).type)}`);
  }
}
