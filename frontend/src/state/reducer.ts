// The page's view of the lottery: the feed's snapshot, then each event folded in,
// the same way the Rust side folds them (abi::state::apply_change), so the page
// shows what host-proxy holds. Pure: (state, action) -> state; unit-tested in
// reducer.test.ts.
//
// Sequence rules (abi::state): an event must carry seq = last + 1. An older one is a
// duplicate and ignored; a newer one means events were missed, and a `reorged`
// event means lists lost entries: both set `resync`, and the feed reconnects for a
// fresh snapshot (every connection starts with one).

import type { Activity, FeedMessage, HistoryEntry, Snapshot, StateChange } from '../api/types';

/** Settled rounds kept (abi::state::DEFAULT_HISTORY_LIMIT). */
export const HISTORY_LIMIT = 50;
/** Contract events kept (abi::state::DEFAULT_ACTIVITY_LIMIT). */
export const ACTIVITY_LIMIT = 500;

/** The WebSocket link to host-proxy. */
export type Link = 'connecting' | 'live' | 'reconnecting';

export interface FeedState {
  link: Link;
  /** Connections opened so far (a reconnect makes it 2, 3, ...). */
  opens: number;
  /** Whether host-proxy hears from the enclave (its state is live, not stale). */
  enclaveConnected: boolean;
  /** The state, once the first snapshot arrived. */
  snapshot: Snapshot | null;
  /** The page's clock (ms) when the current head arrived: chain time runs on from
   * `head.timestamp` at that moment. */
  headSeenAt: number | null;
  /** Events were missed or undone: reconnect for a new snapshot. */
  resync: boolean;
}

export type FeedAction =
  | { type: 'open' }
  | { type: 'closed' }
  | { type: 'message'; message: FeedMessage; at: number }
  | { type: 'garbled' };

export const initialFeedState: FeedState = {
  link: 'connecting',
  opens: 0,
  enclaveConnected: false,
  snapshot: null,
  headSeenAt: null,
  resync: false,
};

export function reduceFeed(state: FeedState, action: FeedAction): FeedState {
  switch (action.type) {
    case 'open':
      return { ...state, link: 'live', opens: state.opens + 1, resync: false };
    case 'closed':
      return { ...state, link: 'reconnecting' };
    case 'garbled':
      return { ...state, resync: true };
    case 'message':
      return reduceMessage(state, action.message, action.at);
  }
}

function reduceMessage(state: FeedState, message: FeedMessage, at: number): FeedState {
  switch (message.type) {
    case 'snapshot':
      return {
        ...state,
        snapshot: message.data,
        enclaveConnected: message.connected,
        headSeenAt: message.data.head ? at : null,
        resync: false,
      };
    case 'heartbeat':
      return state.enclaveConnected === message.connected
        ? state
        : { ...state, enclaveConnected: message.connected };
    default: {
      const snapshot = state.snapshot;
      if (!snapshot || message.seq <= snapshot.seq) return state;
      if (message.seq !== snapshot.seq + 1) return { ...state, resync: true };
      const next = applyChange(snapshot, message);
      return {
        ...state,
        snapshot: { ...next, seq: message.seq },
        headSeenAt: message.type === 'head_update' ? at : state.headSeenAt,
        resync: state.resync || message.type === 'reorged',
      };
    }
  }
}

/** How one change alters the state (abi::state::apply_change). */
export function applyChange(s: Snapshot, change: StateChange): Snapshot {
  switch (change.type) {
    case 'head_update':
      return { ...s, head: change.data };
    case 'config_update':
      return { ...s, config: change.data };
    case 'round_update':
      return { ...s, round: change.data };
    case 'participants_update':
      return { ...s, participants: change.data };
    case 'operator_update':
      return { ...s, operator: change.data };
    case 'history_update':
      return {
        ...s,
        history: insertNewestFirst(
          s.history,
          change.data,
          HISTORY_LIMIT,
          (a, b) => a.roundId === b.roundId,
          (a, b) => compare(a.roundId, b.roundId),
        ),
      };
    case 'activity':
      return {
        ...s,
        activities: insertNewestFirst(
          s.activities,
          change.data,
          ACTIVITY_LIMIT,
          (a, b) => a.transactionHash === b.transactionHash && a.logIndex === b.logIndex,
          activityOrder,
        ),
      };
    case 'reorged': {
      const from = change.data.fromBlock;
      return {
        ...s,
        history: s.history.filter((h: HistoryEntry) => h.blockNumber < from),
        activities: s.activities.filter((a: Activity) => a.blockNumber < from),
      };
    }
  }
}

function compare(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** (block, log index, hash): the Rust side's total order of activities. */
function activityOrder(a: Activity, b: Activity): number {
  return (
    compare(a.blockNumber, b.blockNumber) ||
    compare(a.logIndex, b.logIndex) ||
    compare(a.transactionHash, b.transactionHash)
  );
}

/** Inserts `item` into `list` (largest first by `order`), replacing the entry
 * `same` as it, keeping at most `limit`. Returns `list` itself when nothing changed. */
export function insertNewestFirst<T>(
  list: readonly T[],
  item: T,
  limit: number,
  same: (a: T, b: T) => boolean,
  order: (a: T, b: T) => number,
): T[] {
  const rest = list.filter((x) => !same(x, item));
  let at = rest.findIndex((x) => order(x, item) < 0);
  if (at === -1) at = rest.length;
  if (at >= limit) return rest.length === list.length ? (list as T[]) : rest.slice(0, limit);
  rest.splice(at, 0, item);
  return rest.slice(0, limit);
}

/** Chain time now: the head's timestamp plus the time since it arrived. Between
 * blocks the chain's clock is the wall clock's pace from the last block on. */
export function chainNow(state: FeedState, nowMs: number): number | null {
  const head = state.snapshot?.head;
  if (!head || state.headSeenAt === null) return null;
  return head.timestamp + Math.max(0, (nowMs - state.headSeenAt) / 1000);
}
