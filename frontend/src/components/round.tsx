// The current round: state, countdowns in chain time, pot, the count and the
// player's own stake (the players themselves are in players.tsx, below the bet form).

import type { ConfigView, RoundView } from '../api/types';
import {
  chanceOf,
  formatChance,
  formatCount,
  formatCountdown,
  formatEth,
  roundStateText,
  spokenCountdown,
} from '../format';
import type { OwnStake } from '../state/reducer';
import { Eth } from './common';

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
  me,
  now,
}: {
  round: RoundView | null;
  config: ConfigView | null;
  me: OwnStake | null;
  now: number | null;
}) {
  if (!round) {
    return (
      <section class="card round" aria-labelledby="round-title">
        <h2 id="round-title">Current round</h2>
        <p>The enclave has not read the contract yet.</p>
      </section>
    );
  }
  const phase = roundPhase(round, now);
  // Unknown until the feed or /api/round/player tells; a stake of an earlier round
  // is none in this one.
  const myStake = !me || me.roundId === null ? null : me.roundId === round.roundId ? me.amount : 0n;
  return (
    <section class="card round" aria-labelledby="round-title" data-testid="round" data-round={round.roundId} data-phase={phase}>
      <h2 id="round-title">
        Round {round.roundId} <span class={`badge phase-${phase}`} data-testid="round-state">{phaseText(phase, round)}</span>
      </h2>
      <dl class="facts">
        <div>
          <dt>Pot</dt>
          <dd class="big">
            <Eth wei={round.totalPot} testid="pot" approx />
          </dd>
        </div>
        <div>
          <dt>Players</dt>
          <dd class="big" data-testid="player-count" data-count={round.participantCount}>
            {formatCount(round.participantCount)}
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
        {me && (
          <div>
            <dt>Your stake</dt>
            <dd data-testid="my-stake">
              {myStake === null ? (
                '…'
              ) : (
                <>
                  <Eth wei={myStake} /> ({formatChance(chanceOf(myStake, round.totalPot))})
                </>
              )}
            </dd>
          </div>
        )}
      </dl>
      <p class="note">{phaseNote(phase, round, config)}</p>
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
