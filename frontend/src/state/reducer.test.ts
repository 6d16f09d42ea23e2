import { describe, expect, it } from 'vitest';

import { DecodeError, decodeFeedMessage } from '../api/decode';
import type { FeedMessage } from '../api/types';
import {
  ACTIVITY_LIMIT,
  HISTORY_LIMIT,
  chainNow,
  type FeedAction,
  type FeedState,
  initialFeedState,
  reduceFeed,
} from './reducer';

// Wire JSON exactly as host-proxy sends it (abi::api::FeedMessage), decoded at the
// edge as the page does.
const CONTRACT = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const ALICE = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const BOB = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
const tx = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;

function round(overrides: Record<string, unknown> = {}) {
  return {
    roundId: 1,
    state: 'BETTING',
    startTime: 1000,
    endTime: 1180,
    minDrawTime: 1185,
    maxDrawTime: 1360,
    totalPot: '10000000000000000',
    participantCount: 1,
    winner: null,
    prize: '0',
    commission: '0',
    seedCommitment: tx(99),
    revealedSeed: null,
    ...overrides,
  };
}

function activity(block: number, logIndex: number, extra: Record<string, unknown> = {}) {
  return {
    roundId: 1,
    kind: 'bet',
    player: ALICE,
    amount: '10000000000000000',
    newTotal: '10000000000000000',
    timestamp: 1000 + block,
    blockNumber: block,
    transactionHash: tx(block),
    logIndex,
    ...extra,
  };
}

function history(roundId: number, block: number, extra: Record<string, unknown> = {}) {
  return {
    roundId,
    totalPot: '30000000000000000',
    participantCount: 2,
    outcome: 'completed',
    winner: BOB,
    prize: '28500000000000000',
    commission: '1500000000000000',
    seed: tx(7),
    settledAt: 2000 + roundId,
    blockNumber: block,
    transactionHash: tx(1000 + roundId),
    ...extra,
  };
}

function snapshotMessage(seq: number, overrides: Record<string, unknown> = {}) {
  return {
    type: 'snapshot',
    seq,
    connected: true,
    data: {
      seq,
      contract: CONTRACT,
      chainId: 31337,
      head: { number: 10, hash: tx(10), timestamp: 1010 },
      config: {
        publisher: ALICE,
        operator: BOB,
        commissionBps: 500,
        minBetAmount: '1000000000000000',
        bettingDuration: 180,
        minDrawDelayAfterEnd: 5,
        maxDrawDelayAfterEnd: 180,
        minEndTimeExtension: 60,
        minParticipants: 2,
      },
      round: round(),
      participants: [{ address: ALICE, amount: '10000000000000000', winChance: 1 }],
      history: [],
      activities: [activity(5, 0)],
      operator: { status: 'waitingForDrawWindow', roundId: 1, minDrawTime: 1185 },
      ...overrides,
    },
  };
}

function event(seq: number, type: string, data: unknown) {
  return { seq, type, data };
}

/** Feeds wire messages through the decoder and the reducer, as the feed does. */
function run(state: FeedState, ...items: (object | FeedAction)[]): FeedState {
  return items.reduce<FeedState>((s, item, i) => {
    if ('type' in item && ['open', 'closed', 'garbled'].includes(String(item.type)) && !('seq' in item)) {
      return reduceFeed(s, item as FeedAction);
    }
    const message: FeedMessage = decodeFeedMessage(JSON.parse(JSON.stringify(item)));
    return reduceFeed(s, { type: 'message', message, at: 1_000_000 + i });
  }, state);
}

const live = () => run(initialFeedState, { type: 'open' }, snapshotMessage(7));

describe('the snapshot', () => {
  it('replaces the state, with wei as bigint', () => {
    const state = live();
    expect(state.link).toBe('live');
    expect(state.opens).toBe(1);
    expect(state.enclaveConnected).toBe(true);
    const s = state.snapshot!;
    expect(s.seq).toBe(7);
    expect(s.round?.totalPot).toBe(10n ** 16n);
    expect(s.config?.minBetAmount).toBe(10n ** 15n);
    expect(s.participants[0]?.amount).toBe(10n ** 16n);
    const first = s.activities[0];
    expect(first?.kind === 'bet' && first.newTotal).toBe(10n ** 16n);
    expect(state.headSeenAt).toBe(1_000_001);
  });

  it('a heartbeat before any state changes nothing but the enclave flag', () => {
    const state = run(initialFeedState, { type: 'open' }, { type: 'heartbeat', seq: 0, connected: false });
    expect(state.snapshot).toBeNull();
    expect(state.enclaveConnected).toBe(false);
    const later = run(live(), { type: 'heartbeat', seq: 7, connected: false });
    expect(later.enclaveConnected).toBe(false);
    expect(later.snapshot?.seq).toBe(7);
  });

  it('events before the first snapshot are ignored', () => {
    const state = run(initialFeedState, event(1, 'head_update', { number: 1, hash: tx(1), timestamp: 1 }));
    expect(state.snapshot).toBeNull();
    expect(state.resync).toBe(false);
  });
});

describe('incremental events', () => {
  it('replace the round, participants, config, operator and head', () => {
    const state = run(
      live(),
      event(8, 'participants_update', [
        { address: ALICE, amount: '10000000000000000', winChance: 0.25 },
        { address: BOB, amount: '30000000000000000', winChance: 0.75 },
      ]),
      event(9, 'round_update', round({ totalPot: '40000000000000000', participantCount: 2 })),
      event(10, 'head_update', { number: 11, hash: tx(11), timestamp: 1011 }),
      event(11, 'operator_update', { status: 'drawing', roundId: 1, transactionHash: null }),
      event(12, 'config_update', { ...snapshotMessage(0).data.config, minBetAmount: '2000000000000000' }),
    );
    const s = state.snapshot!;
    expect(s.seq).toBe(12);
    expect(s.participants.map((p) => p.amount)).toEqual([10n ** 16n, 3n * 10n ** 16n]);
    expect(s.round?.totalPot).toBe(4n * 10n ** 16n);
    expect(s.head?.number).toBe(11);
    expect(state.headSeenAt).toBe(1_000_002); // the third message of this run
    expect(s.operator).toEqual({ status: 'drawing', roundId: 1, transactionHash: null });
    expect(s.config?.minBetAmount).toBe(2n * 10n ** 15n);
    expect(state.resync).toBe(false);
  });

  it('keep activities newest first, once each, bounded', () => {
    let state = run(
      live(),
      event(8, 'activity', activity(7, 1)),
      event(9, 'activity', activity(7, 0)),
      event(10, 'activity', activity(6, 3)),
      // The same event again (a replay after a reconnect's overlap): no duplicate.
      event(11, 'activity', activity(7, 1)),
    );
    expect(state.snapshot!.activities.map((a) => [a.blockNumber, a.logIndex])).toEqual([
      [7, 1],
      [7, 0],
      [6, 3],
      [5, 0],
    ]);
    let seq = 11;
    for (let block = 100; block < 100 + ACTIVITY_LIMIT + 5; block++) {
      seq += 1;
      state = run(state, event(seq, 'activity', activity(block, 0)));
    }
    expect(state.snapshot!.activities).toHaveLength(ACTIVITY_LIMIT);
    expect(state.snapshot!.activities[0]?.blockNumber).toBe(100 + ACTIVITY_LIMIT + 4);
    // Older than everything kept in a full list: not added.
    const before = state.snapshot!.activities;
    state = run(state, event(seq + 1, 'activity', activity(1, 0)));
    expect(state.snapshot!.activities).toBe(before);
    expect(state.snapshot!.seq).toBe(seq + 1);
  });

  it('keep one history entry per round, newest first, bounded', () => {
    let state = run(
      live(),
      event(8, 'history_update', history(1, 20)),
      event(9, 'history_update', history(2, 30, { outcome: 'refunded', reason: 'NOT_ENOUGH_PARTICIPANTS' })),
      // Round 1 again, as re-read after a reorg: replaces the old entry.
      event(10, 'history_update', history(1, 21)),
    );
    const h = state.snapshot!.history;
    expect(h.map((e) => [e.roundId, e.blockNumber])).toEqual([
      [2, 30],
      [1, 21],
    ]);
    expect(h[1]?.outcome === 'completed' && h[1].prize).toBe(285n * 10n ** 14n);
    expect(h[0]?.outcome === 'refunded' && h[0].reason).toBe('NOT_ENOUGH_PARTICIPANTS');
    let seq = 10;
    for (let id = 3; id < 3 + HISTORY_LIMIT; id++) {
      seq += 1;
      state = run(state, event(seq, 'history_update', history(id, 100 + id)));
    }
    expect(state.snapshot!.history).toHaveLength(HISTORY_LIMIT);
    expect(state.snapshot!.history[0]?.roundId).toBe(2 + HISTORY_LIMIT);
  });
});

describe('sequence numbers', () => {
  it('ignore duplicates and ask for a resync after a gap', () => {
    const state = live();
    const dup = run(state, event(7, 'head_update', { number: 99, hash: tx(99), timestamp: 9 }));
    expect(dup).toBe(state);
    const gap = run(state, event(9, 'head_update', { number: 99, hash: tx(99), timestamp: 9 }));
    expect(gap.resync).toBe(true);
    expect(gap.snapshot).toBe(state.snapshot);
  });

  it('a reorg drops what it undid and asks for a resync', () => {
    const state = run(
      live(),
      event(8, 'history_update', history(1, 20)),
      event(9, 'activity', activity(21, 0)),
      event(10, 'reorged', { fromBlock: 20 }),
    );
    expect(state.snapshot!.history).toEqual([]);
    expect(state.snapshot!.activities.map((a) => a.blockNumber)).toEqual([5]);
    expect(state.resync).toBe(true);
  });

  it('an unreadable message asks for a resync', () => {
    expect(() => decodeFeedMessage({ seq: 8, type: 'round_update', data: round({ totalPot: '1e18' }) })).toThrow(
      DecodeError,
    );
    expect(() => decodeFeedMessage({ seq: 8, type: 'mystery', data: {} })).toThrow(DecodeError);
    expect(() => decodeFeedMessage({ type: 'heartbeat' })).toThrow(DecodeError);
    expect(run(live(), { type: 'garbled' }).resync).toBe(true);
  });
});

describe('reconnecting', () => {
  it('resyncs from the new connection’s snapshot', () => {
    let state = run(live(), event(8, 'activity', activity(7, 0)));
    state = run(state, { type: 'closed' });
    expect(state.link).toBe('reconnecting');
    // Stale data stays on screen while reconnecting.
    expect(state.snapshot?.seq).toBe(8);
    // host-proxy restarted: its sequence numbers start over, and the snapshot says
    // what is true now (a bet made while the page was away included).
    state = run(
      state,
      { type: 'open' },
      snapshotMessage(3, {
        participants: [
          { address: ALICE, amount: '10000000000000000', winChance: 0.5 },
          { address: BOB, amount: '10000000000000000', winChance: 0.5 },
        ],
      }),
      event(4, 'head_update', { number: 12, hash: tx(12), timestamp: 1012 }),
    );
    expect(state.link).toBe('live');
    expect(state.opens).toBe(2);
    expect(state.resync).toBe(false);
    expect(state.snapshot!.seq).toBe(4);
    expect(state.snapshot!.participants).toHaveLength(2);
    expect(state.snapshot!.head?.number).toBe(12);
  });

  it('a resync request is cleared by the next snapshot', () => {
    const gap = run(live(), event(20, 'head_update', { number: 1, hash: tx(1), timestamp: 1 }));
    expect(gap.resync).toBe(true);
    const fresh = run(gap, { type: 'closed' }, { type: 'open' }, snapshotMessage(20));
    expect(fresh.resync).toBe(false);
    expect(fresh.snapshot!.seq).toBe(20);
  });
});

describe('chain time', () => {
  it('runs on from the last head at the page clock’s pace', () => {
    const state = live();
    expect(chainNow(state, state.headSeenAt!)).toBe(1010);
    expect(chainNow(state, state.headSeenAt! + 2500)).toBe(1012.5);
    // A page clock that jumps back never moves chain time backwards.
    expect(chainNow(state, state.headSeenAt! - 5000)).toBe(1010);
    expect(chainNow(initialFeedState, 0)).toBeNull();
  });
});
