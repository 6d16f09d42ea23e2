// Settled rounds and the live activity feed.

import type { Activity, Address, HistoryEntry } from '../api/types';
import { formatAgo, formatChainTime, formatEth, refundReasonText, shortAddress } from '../format';
import { AddressLink, Eth, TxLink } from './common';

/** How many events the activity feed shows (the state keeps more). */
const ACTIVITY_SHOWN = 25;
/** How many settled rounds the history shows. */
const HISTORY_SHOWN = 20;

export function HistoryPanel({
  history,
  account,
  explorer,
  check,
}: {
  history: HistoryEntry[];
  account: Address | null;
  explorer: string | null;
  /** Renders the "check this draw" control of a round. */
  check?: (roundId: number) => preact.ComponentChildren;
}) {
  return (
    <section class="card" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {history.length === 0 ? (
        <p>No round has been settled yet.</p>
      ) : (
        <ol class="history" data-testid="history">
          {history.slice(0, HISTORY_SHOWN).map((h) => (
            <li key={h.roundId} data-round={h.roundId} data-outcome={h.outcome}>
              <div class="line">
                <strong>Round {h.roundId}</strong>
                {h.outcome === 'completed' ? (
                  <span>
                    won by <AddressLink address={h.winner} explorer={explorer} you={account} />: prize{' '}
                    <Eth wei={h.prize} />
                  </span>
                ) : (
                  <span>{refundReasonText(h.reason)}</span>
                )}
              </div>
              <div class="meta">
                pot {formatEth(h.totalPot)} · {h.participantCount} player{h.participantCount === 1 ? '' : 's'} ·{' '}
                <time dateTime={new Date(h.settledAt * 1000).toISOString()}>{formatChainTime(h.settledAt)}</time> ·{' '}
                <TxLink hash={h.transactionHash} explorer={explorer} />
              </div>
              {check?.(h.roundId)}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** Operator events in words; other settings by name. */
const SETTING_NEWS: Record<string, string> = {
  operator: 'A new operator took effect',
  operatorAnnounced: 'An operator change was announced',
  operatorCancelled: 'An operator change was withdrawn',
};

function describe(a: Activity, account: Address | null): string {
  const who = (address: string) =>
    account && account.toLowerCase() === address.toLowerCase() ? 'You' : shortAddress(address);
  switch (a.kind) {
    case 'roundCreated':
      return `Round ${a.roundId} opened`;
    case 'seedCommitted':
      return `The operator committed round ${a.roundId}’s seed`;
    case 'bettingStarted':
      return `Betting started in round ${a.roundId}`;
    case 'bet':
      return `${who(a.player)} bet ${formatEth(a.amount)} (stake ${formatEth(a.newTotal)})`;
    case 'endTimeExtended':
      return `Round ${a.roundId}’s betting was extended`;
    case 'roundCompleted':
      return `${who(a.winner)} won round ${a.roundId}: ${formatEth(a.prize)}`;
    case 'roundRefunded':
      return `Round ${a.roundId} ${refundReasonText(a.reason)}`;
    case 'withdrawn':
      return `${who(a.account)} withdrew ${formatEth(a.amount)}`;
    case 'configChanged':
      return SETTING_NEWS[a.setting] ?? `Setting changed: ${a.setting}`;
  }
}

export function ActivityPanel({
  activities,
  account,
  explorer,
  now,
}: {
  activities: Activity[];
  account: Address | null;
  explorer: string | null;
  now: number | null;
}) {
  const shown = activities.slice(0, ACTIVITY_SHOWN);
  return (
    <section class="card" aria-labelledby="activity-title">
      <h2 id="activity-title">Activity</h2>
      {/* role=log: screen readers announce new entries politely, not the whole list. */}
      <ol class="activity" role="log" aria-live="polite" aria-relevant="additions" data-testid="activity">
        {shown.map((a) => (
          <li key={`${a.transactionHash}:${a.logIndex}`} data-kind={a.kind} data-tx={a.transactionHash}>
            <span>{describe(a, account)}</span>
            <span class="meta">
              {now !== null ? formatAgo(a.timestamp, now) : formatChainTime(a.timestamp)} ·{' '}
              <TxLink hash={a.transactionHash} explorer={explorer} />
            </span>
          </li>
        ))}
      </ol>
      {shown.length === 0 && <p>Nothing has happened yet.</p>}
    </section>
  );
}
