import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { commitment, winner, winningTicket, type Bet } from './rule';

const A = '0x000000000000000000000000000000000000000A' as const;
const B = '0x000000000000000000000000000000000000000b' as const;

describe('the draw rule', () => {
  it('binds every input into the commitment', () => {
    const seed = `0x${'01'.repeat(32)}` as const;
    const contract = `0x${'02'.repeat(20)}` as const;
    expect(commitment(1n, contract, 1n, seed)).toMatch(/^0x[0-9a-f]{64}$/);
    // Every input is bound.
    const base = commitment(1n, contract, 1n, seed);
    expect(commitment(2n, contract, 1n, seed)).not.toBe(base);
    expect(commitment(1n, contract, 2n, seed)).not.toBe(base);
    expect(commitment(1n, `0x${'03'.repeat(20)}`, 1n, seed)).not.toBe(base);
  });

  it('walks cumulative stakes, and both sides of a boundary win for some seed', () => {
    const bets: Bet[] = [
      { player: A, amount: 10n },
      { player: B, amount: 20n },
    ];
    const seen = new Set<string>();
    for (let i = 0; i < 256; i++) {
      const seed = `0x${i.toString(16).padStart(2, '0').repeat(32)}` as const;
      const ticket = winningTicket(seed, 30n)!;
      const draw = winner(bets, seed)!;
      expect(draw.winner).toBe(ticket < 10n ? A : B);
      expect(draw.index).toBe(ticket < 10n ? 0 : 1);
      seen.add(draw.winner);
    }
    expect(seen.size).toBe(2);
  });

  it('has no winner without bets', () => {
    expect(winner([], `0x${'00'.repeat(32)}`)).toBeNull();
    expect(winningTicket(`0x${'00'.repeat(32)}`, 0n)).toBeNull();
  });

  // The property test's cases (tests/tests/it/processes/verify_round.rs writes them after
  // playing each round on anvil and asking the Rust rule): every winner must agree.
  const cases = process.env.DRAW_CASES_FILE;
  it.runIf(!!cases)('picks the winner the Rust rule and the contract picked', () => {
    const list = JSON.parse(readFileSync(cases!, 'utf8')) as {
      seed: `0x${string}`;
      bets: { player: `0x${string}`; amount: string }[];
      winner: string;
      chainId: string;
      contract: `0x${string}`;
      roundId: string;
      commitment: string;
    }[];
    expect(list.length).toBeGreaterThan(0);
    for (const c of list) {
      const bets = c.bets.map((b) => ({ player: b.player, amount: BigInt(b.amount) }));
      expect(winner(bets, c.seed)?.winner.toLowerCase()).toBe(c.winner.toLowerCase());
      expect(commitment(BigInt(c.chainId), c.contract, BigInt(c.roundId), c.seed)).toBe(c.commitment);
    }
    console.log(`DRAW_CASES_CHECKED ${list.length}`);
  });
});
