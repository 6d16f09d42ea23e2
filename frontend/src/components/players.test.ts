import { describe, expect, it } from 'vitest';

import type { Address, ParticipantsSummary } from '../api/types';
import { potShares, sharesText, TOP_SHOWN } from './players';

const addr = (i: number) => `0x${i.toString(16).padStart(40, '0')}` as Address;
const E15 = 10n ** 15n;

/** A round of `n` players, player i holding (i + 1) × 0.001 ETH; the top 20 listed. */
function round(n: number): ParticipantsSummary {
  const top = Array.from({ length: Math.min(n, 20) }, (_, k) => {
    const i = n - 1 - k;
    return { address: addr(i), amount: BigInt(i + 1) * E15, winChance: 0 };
  });
  return { roundId: 3, participantCount: n, totalPot: (BigInt(n) * BigInt(n + 1) * E15) / 2n, topPlayers: top };
}

describe('the pot’s shares', () => {
  it('are the top players shown, then everyone else as one segment', () => {
    const shares = potShares(round(10_000), null);
    expect(shares.top).toHaveLength(TOP_SHOWN);
    expect(shares.own).toBeNull();
    expect(shares.others?.players).toBe(10_000 - TOP_SHOWN);
    const sum = [...shares.top, shares.others!].reduce((s, x) => s + x.amount, 0n);
    expect(sum).toBe(shares.total);
    expect(sharesText(shares)).toMatch(/the top 10 hold 0\.2%; 9,990 others hold 99\.8%\.$/);
  });

  it('mark your own share: among the top, or as its own segment before the others', () => {
    const inTop = potShares(round(100), { address: addr(99), roundId: 3, amount: 100n * E15 });
    expect(inTop.top[0]?.mine).toBe(true);
    expect(inTop.own).toBeNull();
    const mine = potShares(round(100), { address: addr(5), roundId: 3, amount: 6n * E15 });
    expect(mine.own).toEqual({ player: addr(5), amount: 6n * E15, players: 1, mine: true });
    expect(mine.others?.players).toBe(100 - TOP_SHOWN - 1);
    expect(mine.top.reduce((s, x) => s + x.amount, 0n) + 6n * E15 + mine.others!.amount).toBe(mine.total);
    expect(sharesText(mine)).toContain('you hold 0.1%');
    // A stake of another round, or one not known yet, is not drawn.
    expect(potShares(round(100), { address: addr(5), roundId: 2, amount: 6n * E15 }).own).toBeNull();
    expect(potShares(round(100), { address: addr(5), roundId: 3, amount: null }).own).toBeNull();
  });

  it('a small round has no others', () => {
    const shares = potShares(round(2), null);
    expect(shares.top).toHaveLength(2);
    expect(shares.others).toBeNull();
    expect(sharesText(shares)).toBe('The pot’s 0.003 ETH as shares (one ticket per wei): the top 2 hold 100%.');
  });
});
