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
  TOP_PLAYERS,
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
      participants: summary(1, [[ALICE, '10000000000000000']]),
      history: [],
      activities: [activity(5, 0)],
      operator: { status: 'waitingForDrawWindow', roundId: 1, minDrawTime: 1185 },
      ...overrides,
    },
  };
}

/** A participant summary of `round` with these `[address, wei]` top players (the
 * pot and count are theirs unless given). */
function summary(roundId: number, top: [string, string][], count?: number, pot?: string) {
  const total = pot ?? top.reduce((s, [, a]) => s + BigInt(a), 0n).toString();
  return {
    roundId,
    participantCount: count ?? top.length,
    totalPot: total,
    topPlayers: top.map(([address, amount]) => ({
      address,
      amount,
      winChance: Number(BigInt(amount)) / Number(BigInt(total)),
    })),
  };
}

function stake(roundId: number, player: string, wei: string | bigint, totalPot: string | bigint, participantCount: number) {
  return { roundId, player, stake: String(wei), totalPot: String(totalPot), participantCount };
}

/** An address for player `i` (not a valid checksum: only compared in lower case). */
const addr = (i: number) => `0x${i.toString(16).padStart(40, '0')}`;

function event(seq: number, type: string, data: unknown) {
  return { seq, type, data };
}

/** Feeds wire messages through the decoder and the reducer, as the feed does. */
function run(state: FeedState, ...items: (object | FeedAction)[]): FeedState {
  return items.reduce<FeedState>((s, item, i) => {
    if ('type' in item && ['open', 'closed', 'garbled', 'account', 'own'].includes(String(item.type)) && !('seq' in item)) {
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
    expect(s.participants.topPlayers[0]?.amount).toBe(10n ** 16n);
    expect(s.participants.totalPot).toBe(10n ** 16n);
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
      event(8, 'stake_update', stake(1, BOB, 3n * 10n ** 16n, 4n * 10n ** 16n, 2)),
      event(9, 'round_update', round({ totalPot: '40000000000000000', participantCount: 2 })),
      event(10, 'head_update', { number: 11, hash: tx(11), timestamp: 1011 }),
      event(11, 'operator_update', { status: 'drawing', roundId: 1, transactionHash: null }),
      event(12, 'config_update', { ...snapshotMessage(0).data.config, minBetAmount: '2000000000000000' }),
    );
    const s = state.snapshot!;
    expect(s.seq).toBe(12);
    expect(s.participants.topPlayers.map((p) => [p.address, p.amount, p.winChance])).toEqual([
      [BOB, 3n * 10n ** 16n, 0.75],
      [ALICE, 10n ** 16n, 0.25],
    ]);
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

describe('participants', () => {
  const E16 = 10n ** 16n;
  /** A round of `n` players holding 1..n × 0.001 ETH, the top 20 in the summary. */
  function crowded(n: number) {
    const stakes = Array.from({ length: n }, (_, i) => [addr(i + 1), BigInt(i + 1) * 10n ** 15n] as const);
    const top = [...stakes].sort((a, b) => (a[1] < b[1] ? 1 : -1)).slice(0, TOP_PLAYERS);
    const pot = stakes.reduce((s, [, a]) => s + a, 0n);
    return run(
      { ...initialFeedState },
      { type: 'open' },
      snapshotMessage(7, {
        participants: summary(
          1,
          top.map(([a, w]) => [a, w.toString()]),
          n,
          pot.toString(),
        ),
      }),
    );
  }

  it('a stake update counts a new player and their stake into the pot, with chances from it', () => {
    const s = run(live(), event(8, 'stake_update', stake(1, BOB, E16, 2n * E16, 2))).snapshot!.participants;
    expect(s.participantCount).toBe(2);
    expect(s.totalPot).toBe(2n * E16);
    // Equal stakes: the earlier bettor stays first.
    expect(s.topPlayers.map((p) => [p.address, p.winChance])).toEqual([
      [ALICE, 0.5],
      [BOB, 0.5],
    ]);
  });

  it('keeps at most the top 20: a small new stake is counted but not listed, a large one moves in', () => {
    let state = crowded(1000);
    const pot = state.snapshot!.participants.totalPot;
    const before = state.snapshot!.participants.topPlayers;
    expect(before).toHaveLength(TOP_PLAYERS);
    state = run(state, event(8, 'stake_update', stake(1, addr(5000), 10n ** 15n, pot + 10n ** 15n, 1001)));
    let s = state.snapshot!.participants;
    expect(s.participantCount).toBe(1001);
    expect(s.topPlayers.map((p) => p.address)).toEqual(before.map((p) => p.address));
    // Chances follow the new pot.
    expect(s.topPlayers[0]!.winChance).toBeCloseTo(Number(10n ** 18n) / Number(pot + 10n ** 15n), 8);
    // Player 3 bets big: first now; the 20th is pushed out.
    state = run(state, event(9, 'stake_update', stake(1, addr(3), 2n * 10n ** 18n, pot + 10n ** 15n + 2n * 10n ** 18n - 3n * 10n ** 15n, 1001)));
    s = state.snapshot!.participants;
    expect(s.topPlayers).toHaveLength(TOP_PLAYERS);
    expect(s.topPlayers[0]?.address).toBe(addr(3));
    expect(s.topPlayers.map((p) => p.address)).toEqual([addr(3), ...before.slice(0, TOP_PLAYERS - 1).map((p) => p.address)]);
    // Player 990 (already listed, 9th) raises to 995.5 × 0.001: moves up to sixth place.
    state = run(state, event(10, 'stake_update', stake(1, addr(990), 9955n * 10n ** 14n, s.totalPot + 55n * 10n ** 14n, 1001)));
    s = state.snapshot!.participants;
    expect(s.topPlayers.map((p) => p.address).slice(0, 7)).toEqual([addr(3), addr(1000), addr(999), addr(998), addr(997), addr(996), addr(990)]);
    expect(s.topPlayers.filter((p) => p.address === addr(990))).toHaveLength(1);
    expect(s.topPlayers).toHaveLength(TOP_PLAYERS);
  });

  it('a stake update of another round starts that round', () => {
    const s = run(live(), event(8, 'stake_update', stake(2, BOB, E16, E16, 1))).snapshot!.participants;
    expect(s).toEqual({ roundId: 2, participantCount: 1, totalPot: E16, topPlayers: [{ address: BOB, amount: E16, winChance: 1 }] });
  });

  it('a participants reset replaces the summary, in sequence', () => {
    const reset = { seq: 8, type: 'participants_reset', data: summary(2, []) };
    const state = run(live(), reset);
    expect(state.snapshot!.seq).toBe(8);
    expect(state.snapshot!.participants).toEqual({ roundId: 2, participantCount: 0, totalPot: 0n, topPlayers: [] });
    expect(state.resets).toBe(1);
    expect(run(live(), { ...reset, seq: 9 }).resync).toBe(true);
    expect(run(state, reset)).toBe(state);
  });
});

describe('your own stake', () => {
  const E16 = 10n ** 16n;
  const you = (state: FeedState) => state.me && { roundId: state.me.roundId, amount: state.me.amount };
  const account = (address: string | null): FeedAction => ({ type: 'account', address: address as `0x${string}` | null });
  const own = (address: string, roundId: number | null, amount: bigint): FeedAction => ({
    type: 'own',
    view: { address: address as `0x${string}`, roundId, amount, winChance: 0 },
  });

  it('comes from the top players when listed there, else from the REST API', () => {
    expect(you(run(live(), account(ALICE)))).toEqual({ roundId: 1, amount: E16 });
    let state = run(live(), account(BOB));
    expect(you(state)).toEqual({ roundId: 1, amount: null });
    state = run(state, own(BOB, 1, 5n));
    expect(you(state)).toEqual({ roundId: 1, amount: 5n });
    // Another account's answer, or an older round's, changes nothing.
    expect(run(state, own(ALICE, 1, 7n))).toBe(state);
    expect(run(state, own(BOB, 0, 7n))).toBe(state);
    expect(run(state, account(null)).me).toBeNull();
  });

  it('follows the stake updates naming you; an answer crossing one keeps the larger', () => {
    let state = run(live(), account(BOB), event(8, 'stake_update', stake(1, BOB, 3n * E16, 4n * E16, 2)));
    expect(you(state)).toEqual({ roundId: 1, amount: 3n * E16 });
    // Another player's bet: yours stays.
    state = run(state, event(9, 'stake_update', stake(1, ALICE, 2n * E16, 5n * E16, 2)));
    expect(you(state)).toEqual({ roundId: 1, amount: 3n * E16 });
    // /api/round/player answered before the bet was mined: stale, not taken.
    state = run(state, own(BOB, 1, 0n));
    expect(you(state)).toEqual({ roundId: 1, amount: 3n * E16 });
    // The next round's first bet by someone else: you have nothing in it.
    state = run(state, event(10, 'stake_update', stake(2, ALICE, E16, E16, 1)));
    expect(you(state)).toEqual({ roundId: 2, amount: 0n });
  });

  it('the feed’s player message sets it, as of the snapshot it follows', () => {
    let state = run(initialFeedState, account(BOB), { type: 'open' }, snapshotMessage(7));
    expect(you(state)).toEqual({ roundId: 1, amount: null });
    const player = (seq: number, amount: string) => ({
      seq,
      type: 'player',
      data: { address: BOB.toLowerCase(), roundId: 1, amount, winChance: 0.1 },
    });
    state = run(state, player(7, '2000'));
    expect(you(state)).toEqual({ roundId: 1, amount: 2000n });
    expect(run(state, player(6, '1'))).toBe(state);
  });

  it('a reset forgets it unless the summary tells it; a new snapshot keeps it within the round', () => {
    let state = run(live(), account(BOB), own(BOB, 1, 5n));
    state = run(state, { seq: 8, type: 'participants_reset', data: summary(1, [[ALICE, '10000000000000000']], 2) });
    expect(you(state)).toEqual({ roundId: 1, amount: null });
    state = run(state, own(BOB, 1, 4n));
    expect(you(state)).toEqual({ roundId: 1, amount: 4n });
    state = run(state, { seq: 9, type: 'participants_reset', data: summary(2, []) });
    expect(you(state)).toEqual({ roundId: 2, amount: 0n });
    state = run(state, own(BOB, 2, 9n), { type: 'closed' }, { type: 'open' }, snapshotMessage(1, { participants: summary(2, [[ALICE, '1']], 2) }));
    expect(you(state)).toEqual({ roundId: 2, amount: 9n });
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
        participants: summary(1, [
          [ALICE, '10000000000000000'],
          [BOB, '10000000000000000'],
        ]),
      }),
      event(4, 'head_update', { number: 12, hash: tx(12), timestamp: 1012 }),
    );
    expect(state.link).toBe('live');
    expect(state.opens).toBe(2);
    expect(state.resync).toBe(false);
    expect(state.snapshot!.seq).toBe(4);
    expect(state.snapshot!.participants.topPlayers).toHaveLength(2);
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
