// Formatting for people, and parsing what people type. Pure functions (unit-tested
// in format.test.ts); wei stays a bigint until it becomes text here.

import type { OperatorStatus, RefundReason, RoundState } from './api/types';

const WEI_PER_ETH = 10n ** 18n;
const ETH_DECIMALS = 18;

/** Wei as ETH, exact, trailing zeros trimmed: 10000000000000000n -> "0.01 ETH"
 * (the same text as the Rust side's `abi::views::format_eth`). */
export function formatEth(wei: bigint, unit = true): string {
  const negative = wei < 0n;
  const abs = negative ? -wei : wei;
  const whole = abs / WEI_PER_ETH;
  const fraction = (abs % WEI_PER_ETH).toString().padStart(ETH_DECIMALS, '0').replace(/0+$/, '');
  const text = `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
  return unit ? `${text} ETH` : text;
}

/** Wei as ETH rounded down to `decimals` places, for balances: "≈ 9999.9798 ETH"
 * (exact amounts, such as stakes and prizes, use `formatEth`). */
export function formatEthApprox(wei: bigint, decimals = 4): string {
  const step = 10n ** BigInt(ETH_DECIMALS - decimals);
  const rounded = (wei / step) * step;
  return rounded === wei ? formatEth(wei) : `≈ ${formatEth(rounded)}`;
}

/** The result of reading a bet amount. */
export type AmountInput = { ok: true; wei: bigint } | { ok: false; error: string };

/** Reads an ETH amount typed by a person ("0.01", ".5", "1"): decimal digits with
 * at most 18 after the point; no signs, exponents, spaces inside or separators. The
 * amount must be at least `minWei` and, when known, at most `maxWei`. */
export function parseEthInput(text: string, minWei: bigint, maxWei?: bigint): AmountInput {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, error: 'Enter an amount in ETH.' };
  const match = /^(\d*)(?:\.(\d*))?$/.exec(trimmed);
  if (!match || (match[1] === '' && (match[2] ?? '') === '')) {
    return { ok: false, error: 'Enter a number such as 0.01 (digits and one decimal point).' };
  }
  const fraction = match[2] ?? '';
  if (fraction.length > ETH_DECIMALS) {
    return { ok: false, error: 'At most 18 decimal places.' };
  }
  const wei = BigInt(match[1] || '0') * WEI_PER_ETH + BigInt(fraction.padEnd(ETH_DECIMALS, '0'));
  if (wei < minWei) return { ok: false, error: `The minimum bet is ${formatEth(minWei)}.` };
  if (maxWei !== undefined && wei > maxWei) {
    return { ok: false, error: `That is more than your balance (${formatEth(maxWei)}).` };
  }
  return { ok: true, wei };
}

/** Seconds as a countdown: "0:07", "2:05", "1:02:03", "2d 03:04:05". Negative (or not
 * a number) is 0. */
export function formatCountdown(seconds: number): string {
  const total = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const two = (n: number) => n.toString().padStart(2, '0');
  if (days > 0) return `${days}d ${two(hours)}:${two(minutes)}:${two(secs)}`;
  if (hours > 0) return `${hours}:${two(minutes)}:${two(secs)}`;
  return `${minutes}:${two(secs)}`;
}

/** A countdown for screen readers: "2 minutes 5 seconds". */
export function spokenCountdown(seconds: number): string {
  const total = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  const parts: string[] = [];
  const push = (n: number, unit: string) => {
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  };
  push(Math.floor(total / 86_400), 'day');
  push(Math.floor((total % 86_400) / 3600), 'hour');
  push(Math.floor((total % 3600) / 60), 'minute');
  push(total % 60, 'second');
  return parts.length ? parts.join(' ') : '0 seconds';
}

/** "0x7099…79C8": the checksummed address's first 6 and last 4 characters. */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/** "0x1234…cdef" for hashes. */
export function shortHash(hash: string): string {
  return hash.length > 14 ? `${hash.slice(0, 8)}…${hash.slice(-6)}` : hash;
}

/** A win chance (0..=1) as a percentage: "33.3%", "100%", "<0.1%", "0%". */
export function formatChance(chance: number): string {
  if (!Number.isFinite(chance) || chance <= 0) return '0%';
  if (chance >= 1) return '100%';
  if (chance < 0.001) return '<0.1%';
  const percent = Math.round(chance * 1000) / 10;
  // Rounding must not claim certainty the draw does not give.
  return percent >= 100 ? '99.9%' : `${percent}%`;
}

/** `part / total` for chances computed in the page (e.g. the player's own). */
export function chanceOf(part: bigint, total: bigint): number {
  if (total <= 0n || part <= 0n) return 0;
  return Number((part * 1_000_000_000n) / total) / 1e9;
}

/** A count with thousands separators: "10,000" (the same in every locale, like the
 * rest of the page's English text). */
export function formatCount(n: number): string {
  return new Intl.NumberFormat('en-US').format(n);
}

/** Chain time as UTC: "2026-11-23 16:05:09 UTC". */
export function formatChainTime(seconds: number): string {
  return `${new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** How long ago, from chain seconds: "just now", "42 s ago", "5 min ago", "3 h ago". */
export function formatAgo(then: number, now: number): string {
  const delta = Math.max(0, Math.floor(now - then));
  if (delta < 5) return 'just now';
  if (delta < 60) return `${delta} s ago`;
  if (delta < 3600) return `${Math.floor(delta / 60)} min ago`;
  if (delta < 86_400) return `${Math.floor(delta / 3600)} h ago`;
  return `${Math.floor(delta / 86_400)} d ago`;
}

export function roundStateText(state: RoundState): string {
  switch (state) {
    case 'WAITING':
      return 'Waiting for the first bet';
    case 'BETTING':
      return 'Betting open';
    case 'DRAWING':
      return 'Drawing';
    case 'COMPLETED':
      return 'Drawn';
    case 'REFUNDED':
      return 'Refunded';
  }
}

export function refundReasonText(reason: RefundReason): string {
  switch (reason) {
    case 'OPERATOR':
      return 'refunded by the operator';
    case 'NOT_ENOUGH_PARTICIPANTS':
      return 'refunded: not enough players';
    case 'DRAW_WINDOW_EXPIRED':
      return 'refunded: the draw window expired';
  }
}

export function operatorStatusText(status: OperatorStatus): string {
  switch (status.status) {
    case 'starting':
      return 'starting up';
    case 'readOnly':
      return `read-only: ${status.reason}`;
    case 'idle':
      return 'idle';
    case 'committing':
      return `committing the seed of round ${status.roundId}`;
    case 'waitingForDrawWindow':
      return `waiting for round ${status.roundId}'s draw window`;
    case 'drawing':
      return `drawing round ${status.roundId}`;
    case 'refunding':
      return `refunding round ${status.roundId}`;
    case 'error':
      return `error: ${status.reason}`;
    case 'awaitingAgreement':
      return `waiting for the RPC providers to agree on round ${status.roundId}: ${status.reason}`;
    case 'held':
      return `holding the ${status.action} of round ${status.roundId}: ${status.reason}`;
  }
}
