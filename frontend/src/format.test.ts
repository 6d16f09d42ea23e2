import { describe, expect, it } from 'vitest';

import {
  chanceOf,
  formatAgo,
  formatChainTime,
  formatChance,
  formatCountdown,
  formatEth,
  formatEthApprox,
  parseEthInput,
  shortAddress,
  shortHash,
  spokenCountdown,
} from './format';

const ETH = 10n ** 18n;

describe('formatEth', () => {
  it('is exact and trims trailing zeros, like abi::views::format_eth', () => {
    expect(formatEth(10_000_000_000_000_000n)).toBe('0.01 ETH');
    expect(formatEth(2n * ETH)).toBe('2 ETH');
    expect(formatEth(0n)).toBe('0 ETH');
    expect(formatEth(1n)).toBe('0.000000000000000001 ETH');
    expect(formatEth(1_234_500_000_000_000_000n)).toBe('1.2345 ETH');
    expect(formatEth(10n ** 30n + 7n)).toBe('1000000000000.000000000000000007 ETH');
    expect(formatEth(-5n * 10n ** 17n)).toBe('-0.5 ETH');
    expect(formatEth(ETH / 1000n, false)).toBe('0.001');
  });
});

describe('formatEthApprox', () => {
  it('rounds balances down to four places and says so', () => {
    expect(formatEthApprox(9_999_979_851_561_905_916_875n)).toBe('≈ 9999.9798 ETH');
    expect(formatEthApprox(ETH / 100n)).toBe('0.01 ETH');
    expect(formatEthApprox(1n)).toBe('≈ 0 ETH');
    expect(formatEthApprox(15n * 10n ** 17n, 0)).toBe('≈ 1 ETH');
  });
});

describe('parseEthInput', () => {
  const min = ETH / 1000n;

  it('reads what people type', () => {
    expect(parseEthInput('0.01', min)).toEqual({ ok: true, wei: 10n ** 16n });
    expect(parseEthInput(' 1 ', min)).toEqual({ ok: true, wei: ETH });
    expect(parseEthInput('.5', min)).toEqual({ ok: true, wei: ETH / 2n });
    expect(parseEthInput('2.', min)).toEqual({ ok: true, wei: 2n * ETH });
    expect(parseEthInput('0.001', min)).toEqual({ ok: true, wei: min });
    expect(parseEthInput('0.000000000000000001', 1n)).toEqual({ ok: true, wei: 1n });
  });

  it('refuses what is not an amount, with a reason', () => {
    const error = (text: string, max?: bigint) => {
      const result = parseEthInput(text, min, max);
      expect(result.ok).toBe(false);
      return result.ok ? '' : result.error;
    };
    expect(error('')).toMatch(/Enter an amount/);
    expect(error('   ')).toMatch(/Enter an amount/);
    for (const bad of ['.', 'abc', '1e18', '-1', '+1', '0x10', '1,5', '1.2.3', '1 000', 'Infinity', 'NaN']) {
      expect(error(bad), bad).toMatch(/Enter a number/);
    }
    expect(error('0.0000000000000000001')).toMatch(/18 decimal places/);
    expect(error('0.0009')).toBe('The minimum bet is 0.001 ETH.');
    expect(error('0')).toBe('The minimum bet is 0.001 ETH.');
    expect(error('2', ETH)).toBe('That is more than your balance (1 ETH).');
  });
});

describe('countdowns', () => {
  it('formats minutes, hours and days', () => {
    expect(formatCountdown(0)).toBe('0:00');
    expect(formatCountdown(7)).toBe('0:07');
    expect(formatCountdown(125)).toBe('2:05');
    expect(formatCountdown(180)).toBe('3:00');
    expect(formatCountdown(3723)).toBe('1:02:03');
    expect(formatCountdown(2 * 86_400 + 3 * 3600 + 4 * 60 + 5)).toBe('2d 03:04:05');
  });

  it('never goes negative and drops fractions', () => {
    expect(formatCountdown(-30)).toBe('0:00');
    expect(formatCountdown(59.99)).toBe('0:59');
    expect(formatCountdown(Number.NaN)).toBe('0:00');
  });

  it('speaks in words', () => {
    expect(spokenCountdown(125)).toBe('2 minutes 5 seconds');
    expect(spokenCountdown(3601)).toBe('1 hour 1 second');
    expect(spokenCountdown(-1)).toBe('0 seconds');
  });
});

describe('addresses and hashes', () => {
  it('keeps the checksummed ends', () => {
    expect(shortAddress('0x70997970C51812dc3A010C7d01b50e0d17dc79C8')).toBe('0x7099…79C8');
    expect(shortAddress('0x1234')).toBe('0x1234');
    expect(shortHash(`0x${'ab'.repeat(32)}`)).toBe('0xababab…ababab');
  });
});

describe('win chances', () => {
  it('formats a probability as a percentage without false certainty', () => {
    expect(formatChance(0.25)).toBe('25%');
    expect(formatChance(1 / 3)).toBe('33.3%');
    expect(formatChance(2 / 3)).toBe('66.7%');
    expect(formatChance(1)).toBe('100%');
    expect(formatChance(0.99999)).toBe('99.9%');
    expect(formatChance(0.0004)).toBe('<0.1%');
    expect(formatChance(0)).toBe('0%');
    expect(formatChance(Number.NaN)).toBe('0%');
  });

  it('computes a stake over a pot in bigint, like abi::views::chance', () => {
    expect(chanceOf(10n, 30n)).toBeCloseTo(1 / 3, 9);
    expect(chanceOf(3n, 4n)).toBe(0.75);
    expect(chanceOf(0n, 0n)).toBe(0);
    expect(chanceOf(5n, 0n)).toBe(0);
    expect(chanceOf(10n ** 25n, 4n * 10n ** 25n)).toBe(0.25);
  });
});

describe('times', () => {
  it('shows chain time in UTC and ages in words', () => {
    expect(formatChainTime(1_800_000_000)).toBe('2027-01-15 08:00:00 UTC');
    expect(formatAgo(100, 102)).toBe('just now');
    expect(formatAgo(100, 142)).toBe('42 s ago');
    expect(formatAgo(0, 301)).toBe('5 min ago');
    expect(formatAgo(0, 3 * 3600 + 5)).toBe('3 h ago');
    expect(formatAgo(0, 2 * 86_400)).toBe('2 d ago');
    expect(formatAgo(200, 100)).toBe('just now');
  });
});
