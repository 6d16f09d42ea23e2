// The page's view of the lottery: the feed's snapshot, then each event folded in,
// the same way the Rust side folds them (abi::state::apply_change), so the page
// shows what host-proxy holds. Pure: (state, action) -> state; unit-tested in
// reducer.test.ts.
//
// Sequence rules (abi::state): an event must carry seq = last + 1. An older one is a
// duplicate and ignored; a newer one means events were missed, and a `reorged`
// event means lists lost entries: both set `resync`, and the feed reconnects for a
// fresh snapshot (every connection starts with one).
//
// Participants (issue 14): the feed never sends the whole list. The snapshot and a
// `participants_reset` carry a summary (count, pot, the top players by stake); a bet
// is a `stake_update` (one player's new stake, the pot, the count), folded here into
// the summary. Stakes only grow within a round, so a player never leaves the top
// list until the round changes. The connected player's own stake (`me`) comes from
// the feed's `player` message (the feed is opened with `?player=`), from
// `/api/round/player/{address}` (asked again after every reset: `resets`), and from
// the stake updates naming them.

import type {
  Activity,
  Address,
  FeedMessage,
  HistoryEntry,
  ParticipantsSummary,
  ParticipantView,
  PlayerView,
  Snapshot,
  StakeDelta,
  StateChange,
} from '../api/types';
import { chanceOf } from '../format';

/** Settled rounds kept (abi::state::DEFAULT_HISTORY_LIMIT). */
export const HISTORY_LIMIT = 50;
/** Contract events kept (abi::state::DEFAULT_ACTIVITY_LIMIT). */
export const ACTIVITY_LIMIT = 500;

/** Top players the summary keeps (abi::api::FEED_TOP_PLAYERS). */
export const TOP_PLAYERS = 20;

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
  /** The connected wallet's stake in the current round, while a wallet is connected. */
  me: OwnStake | null;
  /** Participant resets seen: the page asks for its own stake again after each. */
  resets: number;
}

/** The connected player's stake. */
export interface OwnStake {
  address: Address;
  /** The round `amount` belongs to, once known. */
  roundId: number | null;
  /** The stake in wei; null while unknown (it is outside the top players and
   * `/api/round/player/{address}` has not answered yet). */
  amount: bigint | null;
}

export type FeedAction =
  | { type: 'open' }
  | { type: 'closed' }
  | { type: 'message'; message: FeedMessage; at: number }
  | { type: 'garbled' }
  /** The wallet's account (null: disconnected). */
  | { type: 'account'; address: Address | null }
  /** `/api/round/player/{address}` answered. */
  | { type: 'own'; view: PlayerView };

export const initialFeedState: FeedState = {
  link: 'connecting',
  opens: 0,
  enclaveConnected: false,
  snapshot: null,
  headSeenAt: null,
  resync: false,
  me: null,
  resets: 0,
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
    case 'account': {
      const address = action.address;
      if (!address) return state.me ? { ...state, me: null } : state;
      if (state.me && sameAddress(state.me.address, address)) return state;
      const me: OwnStake = { address, roundId: null, amount: null };
      return { ...state, me: state.snapshot ? ownFrom(state.snapshot.participants, me, false) : me };
    }
    case 'own': {
      const { me } = state;
      const view = action.view;
      if (!me || !sameAddress(me.address, view.address) || view.roundId === null) return state;
      if (me.roundId !== null && view.roundId < me.roundId) return state;
      // The answer may cross a stake update on the way: within a round stakes only
      // grow, so the larger is the newer.
      const amount =
        view.roundId === me.roundId && me.amount !== null && me.amount > view.amount ? me.amount : view.amount;
      if (me.roundId === view.roundId && me.amount === amount) return state;
      return { ...state, me: { ...me, roundId: view.roundId, amount } };
    }
  }
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** `me` as far as `summary` tells: exact when among its top players, zero in an
 * empty round; otherwise the amount kept (`keep`: a snapshot of the same round, the
 * feed's `player` message follows) or unknown (ask the REST API). */
function ownFrom(summary: ParticipantsSummary, me: OwnStake, keep: boolean): OwnStake {
  const top = summary.topPlayers.find((p) => sameAddress(p.address, me.address));
  if (top) return { ...me, roundId: summary.roundId, amount: top.amount };
  if (summary.participantCount === 0) return { ...me, roundId: summary.roundId, amount: 0n };
  if (keep && me.roundId === summary.roundId) return me;
  return { ...me, roundId: summary.roundId, amount: null };
}

/** `me` after a stake update: its new stake when it names them, zero when the
 * update starts another round they have not bet in. */
function ownAfter(me: OwnStake | null, delta: StakeDelta): OwnStake | null {
  if (!me) return me;
  if (sameAddress(me.address, delta.player)) return { ...me, roundId: delta.roundId, amount: delta.stake };
  if (me.roundId !== delta.roundId) return { ...me, roundId: delta.roundId, amount: 0n };
  return me;
}

/** The summary after one bet (abi::stakes::ParticipantList::apply, summarised): the
 * count and pot as the update says, the player inserted or moved among the top
 * players when their stake now beats the last one kept, every chance recomputed
 * from the pot. A bet of another round starts that round's summary. */
export function applyStake(summary: ParticipantsSummary, delta: StakeDelta): ParticipantsSummary {
  const sameRound = summary.roundId === delta.roundId;
  const rest = sameRound ? summary.topPlayers.filter((p) => !sameAddress(p.address, delta.player)) : [];
  const entry: ParticipantView = { address: delta.player, amount: delta.stake, winChance: 0 };
  // After every stake at least as large: equal stakes keep first-bet order, and an
  // earlier bettor's equal stake stays ahead.
  let at = rest.findIndex((p) => p.amount < delta.stake);
  if (at === -1) at = rest.length;
  const top = at < TOP_PLAYERS ? [...rest.slice(0, at), entry, ...rest.slice(at)].slice(0, TOP_PLAYERS) : rest;
  return {
    roundId: delta.roundId,
    participantCount: delta.participantCount,
    totalPot: delta.totalPot,
    topPlayers: top.map((p) => ({ ...p, winChance: chanceOf(p.amount, delta.totalPot) })),
  };
}

function reduceMessage(state: FeedState, message: FeedMessage, at: number): FeedState {
  switch (message.type) {
    case 'snapshot':
      return {
        ...state,
        snapshot: { ...message.data, seq: message.seq },
        enclaveConnected: message.connected,
        headSeenAt: message.data.head ? at : null,
        resync: false,
        me: state.me && ownFrom(message.data.participants, state.me, true),
      };
    case 'heartbeat':
      return state.enclaveConnected === message.connected
        ? state
        : { ...state, enclaveConnected: message.connected };
    case 'player': {
      // Current as of the snapshot it follows; anything else is a stale answer.
      const { me, snapshot } = state;
      const view = message.data;
      if (!me || !snapshot || message.seq !== snapshot.seq || !sameAddress(me.address, view.address)) return state;
      if (view.roundId === null) return state;
      return { ...state, me: { ...me, roundId: view.roundId, amount: view.amount } };
    }
    default: {
      const snapshot = state.snapshot;
      if (!snapshot || message.seq <= snapshot.seq) return state;
      if (message.seq !== snapshot.seq + 1) return { ...state, resync: true };
      if (message.type === 'participants_reset') {
        return {
          ...state,
          snapshot: { ...snapshot, participants: message.data, seq: message.seq },
          me: state.me && ownFrom(message.data, state.me, false),
          resets: state.resets + 1,
        };
      }
      const next = applyChange(snapshot, message);
      return {
        ...state,
        snapshot: { ...next, seq: message.seq },
        headSeenAt: message.type === 'head_update' ? at : state.headSeenAt,
        resync: state.resync || message.type === 'reorged',
        me: message.type === 'stake_update' ? ownAfter(state.me, message.data) : state.me,
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
    case 'stake_update':
      return { ...s, participants: applyStake(s.participants, change.data) };
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
