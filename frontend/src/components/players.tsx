// The current round's players in brief: how many, the largest stakes, the player's
// own row, and the pot's shares as one bar. Bounded whatever the round's size: the
// feed keeps the top players (abi::api::FEED_TOP_PLAYERS), this shows the first
// TOP_SHOWN of them, and everyone else is one "others" segment. The whole list is
// `/api/round/participants`, page by page.

import type { Address, ParticipantsSummary } from '../api/types';
import { chanceOf, formatChance, formatCount, formatEth, formatEthApprox, shortAddress } from '../format';
import type { OwnStake } from '../state/reducer';
import { AddressLink, Eth } from './common';
import { playerHue } from './tickets';

/** Rows of the top-players table (the summary holds more; ten fit a phone). */
export const TOP_SHOWN = 10;

/** Width of the shares bar in SVG units. */
const WIDTH = 1000;
const HEIGHT = 28;
/** Narrowest segment drawn, in SVG units: a 1-in-10,000 share still shows. */
const MIN_SEGMENT = 3;
/** Segments narrower than this (SVG units) get no white edge, which would hide them. */
const EDGED = 8;

/** One segment of the shares bar: a player, or everyone not drawn separately. */
export interface Share {
  player: Address | null;
  amount: bigint;
  /** Players the segment stands for. */
  players: number;
  mine: boolean;
}

/** The pot's shares, in the order drawn. */
export interface PotShares {
  /** The top players shown, largest first (the player's own among them if there). */
  top: Share[];
  /** The player's own stake, when it is not among `top`. */
  own: Share | null;
  /** Everyone else, as one segment. */
  others: Share | null;
  total: bigint;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function potShares(summary: ParticipantsSummary, me: OwnStake | null): PotShares {
  const top: Share[] = summary.topPlayers.slice(0, TOP_SHOWN).map((p) => ({
    player: p.address,
    amount: p.amount,
    players: 1,
    mine: me !== null && same(p.address, me.address),
  }));
  const ownAmount = me && !top.some((s) => s.mine) && me.roundId === summary.roundId ? (me.amount ?? 0n) : 0n;
  const own = me && ownAmount > 0n ? { player: me.address, amount: ownAmount, players: 1, mine: true } : null;
  const drawn = [...top, ...(own ? [own] : [])];
  const players = summary.participantCount - drawn.length;
  const rest = summary.totalPot - drawn.reduce((s, x) => s + x.amount, 0n);
  const others = players > 0 && rest > 0n ? { player: null, amount: rest, players, mine: false } : null;
  return { top, own, others, total: summary.totalPot };
}

function percent(part: bigint, total: bigint): string {
  return formatChance(chanceOf(part, total));
}

/** The bar in words: what a screen reader hears and the caption says. */
export function sharesText(shares: PotShares): string {
  const { top, own, others, total } = shares;
  const parts: string[] = [];
  if (top.length > 0) {
    const sum = top.reduce((s, x) => s + x.amount, 0n);
    parts.push(`${top.length === 1 ? 'the top player holds' : `the top ${top.length} hold`} ${percent(sum, total)}`);
  }
  const mine = own ?? top.find((s) => s.mine);
  if (mine) parts.push(`you hold ${percent(mine.amount, total)}`);
  if (others) {
    const n = others.players;
    parts.push(`${formatCount(n)} other${n === 1 ? ' holds' : 's hold'} ${percent(others.amount, total)}`);
  }
  return `The pot’s ${formatEthApprox(total)} as shares (one ticket per wei): ${parts.join('; ')}.`;
}

/** Where `part` of `total` falls on the bar (exact in bigint, then scaled). */
function scale(part: bigint, total: bigint): number {
  if (total === 0n) return 0;
  return Number((part * BigInt(WIDTH * 1000)) / total) / 1000;
}

/** The shares as one horizontal bar: each top player a segment in their colour,
 * the player's own share outlined and marked, the rest one grey segment. */
export function SharesBar({ shares }: { shares: PotShares }) {
  const { total } = shares;
  if (total === 0n) return null;
  const segments = [...shares.top, ...(shares.own ? [shares.own] : []), ...(shares.others ? [shares.others] : [])];
  // Widths: proportional, never below MIN_SEGMENT; the others' segment gives way.
  const widths = segments.map((s) => Math.max(scale(s.amount, total), MIN_SEGMENT));
  const over = widths.reduce((a, b) => a + b, 0) - WIDTH;
  if (over > 0 && shares.others) widths[widths.length - 1] = Math.max(MIN_SEGMENT, widths.at(-1)! - over);
  let x = 0;
  let marker: number | null = null;
  const rects = segments.map((s, i) => {
    const w = widths[i]!;
    const at = x;
    x += w;
    if (s.mine) marker = at + w / 2;
    const what = s.player === null ? `${formatCount(s.players)} others` : s.mine ? `you (${shortAddress(s.player)})` : shortAddress(s.player);
    return (
      <rect
        key={s.player ?? 'others'}
        x={at}
        y={6}
        width={w}
        height={HEIGHT - 6}
        fill={s.player === null ? '#cbd5e1' : `hsl(${playerHue(s.player)} 55% ${s.mine ? 40 : 62}%)`}
        stroke={s.mine ? '#111' : w >= EDGED ? '#fff' : 'none'}
        stroke-width={s.mine ? 2 : 1}
        vector-effect="non-scaling-stroke"
        data-player={s.player ?? 'others'}
        data-mine={s.mine ? 'true' : undefined}
      >
        <title>{`${what}: ${formatEth(s.amount)}, ${percent(s.amount, total)} of the pot`}</title>
      </rect>
    );
  });
  const text = sharesText(shares);
  return (
    <figure class="tickets shares" data-testid="live-tickets">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={text}>
        {rects}
        {marker !== null && (
          <line
            x1={marker}
            x2={marker}
            y1={0}
            y2={HEIGHT}
            stroke="#111"
            stroke-width={3}
            vector-effect="non-scaling-stroke"
            data-testid="my-share"
          />
        )}
      </svg>
      <figcaption aria-hidden="true">{text}</figcaption>
    </figure>
  );
}

export function PlayersPanel({
  summary,
  me,
  explorer,
}: {
  summary: ParticipantsSummary;
  me: OwnStake | null;
  explorer: string | null;
}) {
  const count = summary.participantCount;
  const shares = potShares(summary, me);
  const rank = me ? summary.topPlayers.findIndex((p) => same(p.address, me.address)) : -1;
  return (
    <section class="card players-card" aria-labelledby="players-title" data-testid="players" data-round={summary.roundId}>
      <h2 id="players-title">
        Players{' '}
        <span class="badge" data-testid="participant-count" data-count={count}>
          {formatCount(count)}
        </span>
      </h2>
      {count === 0 ? (
        <p>No bets yet.</p>
      ) : (
        <>
          <SharesBar shares={shares} />
          <table class="players" aria-labelledby="players-title" data-testid="participants">
            <caption class="visually-hidden">
              {`The ${shares.top.length} largest stakes of ${formatCount(count)}${shares.own ? ', then yours' : ''}`}
            </caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  #
                </th>
                <th scope="col">Player</th>
                <th scope="col" class="num">
                  Stake
                </th>
                <th scope="col" class="num">
                  Chance
                </th>
              </tr>
            </thead>
            <tbody>
              {shares.top.map((p, i) => (
                <PlayerRow key={p.player} rank={i + 1} share={p} total={summary.totalPot} explorer={explorer} you={me?.address} />
              ))}
            </tbody>
            {shares.own && (
              <tbody class="own" data-testid="own-row">
                <PlayerRow
                  rank={rank >= 0 ? rank + 1 : null}
                  share={shares.own}
                  total={summary.totalPot}
                  explorer={explorer}
                  you={me?.address}
                />
              </tbody>
            )}
          </table>
          {shares.others && (
            <p class="note" data-testid="others">
              And {formatCount(shares.others.players)} more, holding {percent(shares.others.amount, shares.total)} of the
              pot.
            </p>
          )}
        </>
      )}
    </section>
  );
}

function PlayerRow({
  rank,
  share,
  total,
  explorer,
  you,
}: {
  rank: number | null;
  share: Share;
  total: bigint;
  explorer: string | null;
  you: string | undefined;
}) {
  const player = share.player!;
  return (
    <tr class={share.mine ? 'mine' : undefined} data-address={player}>
      <td class="num">{rank ?? <span title="outside the top 20">—</span>}</td>
      <td>
        <span class="who">
          <span class="swatch" aria-hidden="true">
            <svg viewBox="0 0 10 10" width="10" height="10">
              <rect width="10" height="10" rx="2" fill={`hsl(${playerHue(player)} 55% ${share.mine ? 40 : 62}%)`} />
            </svg>
          </span>
          <AddressLink address={player} explorer={explorer} you={you} />
        </span>
      </td>
      <td class="num">
        <Eth wei={share.amount} approx />
      </td>
      <td class="num">{formatChance(chanceOf(share.amount, total))}</td>
    </tr>
  );
}
