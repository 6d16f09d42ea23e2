// The current round: state, countdowns in chain time, pot, players and their odds.

import type { Address, ConfigView, ParticipantView, RoundView } from '../api/types';
import {
  chanceOf,
  formatChance,
  formatCountdown,
  formatEth,
  roundStateText,
  spokenCountdown,
} from '../format';
import { AddressLink, Eth } from './common';
import { TicketLine } from './tickets';

/** Where the round is in its life, by chain time. */
export type RoundPhase =
  | 'awaiting-commitment'
  | 'waiting'
  | 'betting'
  | 'closed'
  | 'draw-window'
  | 'expired'
  | 'settled';

export function roundPhase(round: RoundView, now: number | null): RoundPhase {
  if (round.state === 'COMPLETED' || round.state === 'REFUNDED') return 'settled';
  if (round.state === 'WAITING') return round.seedCommitment ? 'waiting' : 'awaiting-commitment';
  if (now === null || now <= round.endTime) return 'betting';
  if (now < round.minDrawTime) return 'closed';
  if (now <= round.maxDrawTime) return 'draw-window';
  return 'expired';
}

function Countdown({ label, until, now, testid }: { label: string; until: number; now: number; testid: string }) {
  const left = Math.max(0, until - now);
  return (
    <div class="countdown">
      <dt>{label}</dt>
      <dd>
        <span role="timer" aria-label={spokenCountdown(left)} data-testid={testid} data-seconds={Math.floor(left)}>
          {formatCountdown(left)}
        </span>
      </dd>
    </div>
  );
}

export function RoundPanel({
  round,
  config,
  participants,
  now,
  account,
  explorer,
}: {
  round: RoundView | null;
  config: ConfigView | null;
  participants: ParticipantView[];
  now: number | null;
  account: Address | null;
  explorer: string | null;
}) {
  if (!round) {
    return (
      <section class="card" aria-labelledby="round-title">
        <h2 id="round-title">Current round</h2>
        <p>The enclave has not read the contract yet.</p>
      </section>
    );
  }
  const phase = roundPhase(round, now);
  const mine = account ? participants.find((p) => p.address.toLowerCase() === account.toLowerCase()) : undefined;
  const myStake = mine?.amount ?? 0n;
  return (
    <section class="card round" aria-labelledby="round-title" data-testid="round" data-round={round.roundId} data-phase={phase}>
      <h2 id="round-title">
        Round {round.roundId} <span class={`badge phase-${phase}`} data-testid="round-state">{phaseText(phase, round)}</span>
      </h2>
      <dl class="facts">
        <div>
          <dt>Pot</dt>
          <dd class="big">
            <Eth wei={round.totalPot} testid="pot" />
          </dd>
        </div>
        <div>
          <dt>Players</dt>
          <dd class="big" data-testid="player-count">
            {round.participantCount}
          </dd>
        </div>
        {now !== null && (phase === 'betting' || phase === 'closed') && round.state === 'BETTING' && (
          <Countdown label="Betting ends in" until={round.endTime} now={now} testid="betting-countdown" />
        )}
        {now !== null && (phase === 'betting' || phase === 'closed') && round.state === 'BETTING' && (
          <Countdown label="Draw window opens in" until={round.minDrawTime} now={now} testid="draw-countdown" />
        )}
        {now !== null && phase === 'draw-window' && (
          <Countdown label="Draw window closes in" until={round.maxDrawTime} now={now} testid="draw-close-countdown" />
        )}
        {account && (
          <div>
            <dt>Your stake</dt>
            <dd data-testid="my-stake">
              <Eth wei={myStake} /> ({formatChance(chanceOf(myStake, round.totalPot))})
            </dd>
          </div>
        )}
      </dl>
      <p class="note">{phaseNote(phase, round, config)}</p>
      {participants.length > 0 && (
        <TicketLine
          segments={participants.map((p) => ({ player: p.address, amount: p.amount }))}
          testid="live-tickets"
          label={`The ticket line: ${round.totalPot} tickets (one per wei) held by ${participants.length} player${
            participants.length === 1 ? '' : 's'
          } in the order they first bet; the draw picks one ticket.`}
        />
      )}
      <h3 id="players-title">Players</h3>
      {participants.length === 0 ? (
        <p>No bets yet.</p>
      ) : (
        <table class="players" aria-labelledby="players-title" data-testid="participants">
          <thead>
            <tr>
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
            {participants.map((p) => (
              <tr key={p.address} class={p === mine ? 'mine' : undefined} data-address={p.address}>
                <td>
                  <AddressLink address={p.address} explorer={explorer} you={account} />
                </td>
                <td class="num">
                  <Eth wei={p.amount} />
                </td>
                <td class="num">{formatChance(p.winChance)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function phaseText(phase: RoundPhase, round: RoundView): string {
  switch (phase) {
    case 'awaiting-commitment':
      return 'Preparing';
    case 'waiting':
      return 'Open';
    case 'betting':
      return 'Betting open';
    case 'closed':
      return 'Betting closed';
    case 'draw-window':
      return 'Drawing';
    case 'expired':
      return 'Expired';
    case 'settled':
      return roundStateText(round.state);
  }
}

function phaseNote(phase: RoundPhase, round: RoundView, config: ConfigView | null): string {
  const duration = config ? `${spokenCountdown(config.bettingDuration)} of betting` : 'betting';
  switch (phase) {
    case 'awaiting-commitment':
      return 'The operator is committing to this round’s secret seed; bets open in a moment.';
    case 'waiting':
      return `The first bet opens ${duration}.${config ? ` Minimum bet ${formatEth(config.minBetAmount)}.` : ''}`;
    case 'betting':
      return `Bets accepted until betting ends. The winner is drawn with probability proportional to stake${
        config ? ` once ${config.minParticipants} or more players have bet; otherwise every stake is refunded` : ''
      }.`;
    case 'closed':
      return 'Betting has closed; the enclave’s operator draws as soon as the draw window opens.';
    case 'draw-window':
      return 'The draw window is open: the enclave’s operator is drawing the winner.';
    case 'expired':
      return 'Nobody drew the round in its window: anyone may refund it, and every stake becomes withdrawable.';
    case 'settled':
      return `Round ${round.roundId} is settled.`;
  }
}
