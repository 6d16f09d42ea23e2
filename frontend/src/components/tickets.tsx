// The ticket line: every wei of the pot is a ticket, bets laid end to end in the
// order they were placed; the winning ticket keccak256(seed) mod pot falls in one
// bet's segment. Drawn for a checked draw (with the winning ticket marked) and for
// the live round (growing as bets arrive).

import { formatEth, shortAddress } from '../format';

/** One segment: a bet (or a player's stake) on the line. */
export interface Segment {
  player: string;
  amount: bigint;
}

/** Width of the drawing in SVG units; segments narrower than a unit still show. */
const WIDTH = 1000;
const HEIGHT = 36;

/** A stable colour per player, so one player's bets share it. */
export function playerHue(address: string): number {
  let h = 0;
  for (const c of address.toLowerCase().slice(2, 10)) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

/** Where `part` of `total` falls on the drawing (exact in bigint, then scaled). */
function scale(part: bigint, total: bigint): number {
  if (total === 0n) return 0;
  return Number((part * BigInt(WIDTH * 1000)) / total) / 1000;
}

export function TicketLine({
  segments,
  ticket,
  winnerIndex,
  label,
  testid,
}: {
  segments: readonly Segment[];
  /** The winning ticket, when the round was drawn. */
  ticket?: bigint | null;
  /** The segment holding it. */
  winnerIndex?: number | null;
  label: string;
  testid: string;
}) {
  const total = segments.reduce((s, x) => s + x.amount, 0n);
  if (total === 0n) return null;
  let start = 0n;
  const rects = segments.map((s, i) => {
    const x = scale(start, total);
    start += s.amount;
    const w = Math.max(scale(start, total) - x, 0.5);
    const hue = playerHue(s.player);
    return (
      <rect
        key={i}
        x={x}
        y={4}
        width={w}
        height={HEIGHT - 8}
        fill={`hsl(${hue} 55% ${i === winnerIndex ? 38 : 62}%)`}
        stroke="#fff"
        stroke-width={segments.length > 200 ? 0 : 1}
        data-player={s.player}
      >
        <title>
          {`bet ${i + 1}: ${shortAddress(s.player)}, ${formatEth(s.amount)} (tickets ${start - s.amount} to ${start - 1n})`}
        </title>
      </rect>
    );
  });
  const marker = ticket !== undefined && ticket !== null ? scale(ticket, total) : null;
  return (
    <figure class="tickets" data-testid={testid}>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={label}>
        {rects}
        {marker !== null && (
          <line
            x1={marker}
            x2={marker}
            y1={0}
            y2={HEIGHT}
            stroke="#111"
            stroke-width={3}
            data-testid="winning-ticket"
            data-ticket={ticket!.toString()}
            data-bet={winnerIndex ?? ''}
          />
        )}
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}
