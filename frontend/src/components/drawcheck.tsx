// "Check this draw", for one settled round of the history: the same checks as
// `lottery verify-round`, run here from the chain (the player's wallet, or the
// site's public RPC URL; never this page's server), with the ticket line and the
// seed -> ticket arithmetic in plain numbers.

import { useState } from 'preact/hooks';
import type { Chain } from 'viem';

import { checkDraw, type DrawCheck } from '../draw/audit';
import { seedHash } from '../draw/rule';
import { formatEth, shortAddress } from '../format';
import { describeError, type Wallet } from '../wallet/wallet';
import { TicketLine } from './tickets';

export function DrawCheckButton({
  roundId,
  wallet,
  chain,
  contract,
  onChain,
}: {
  roundId: number;
  wallet: Wallet;
  chain: Chain;
  contract: `0x${string}`;
  onChain: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ check: DrawCheck; source: string } | { error: string } | null>(null);
  const run = async () => {
    setBusy(true);
    try {
      const { client, source } = wallet.readClient(chain, onChain);
      const check = await checkDraw(client, chain.id, contract, roundId);
      setResult({ check, source });
    } catch (error) {
      setResult({ error: describeError(error) });
    } finally {
      setBusy(false);
    }
  };
  const state = !result ? '' : 'error' in result ? 'error' : result.check.checks.every((c) => c.ok) ? 'passed' : 'failed';
  return (
    <div class="draw-check" data-testid="draw-check" data-round={roundId} data-state={state}>
      <button type="button" class="link" onClick={run} disabled={busy} aria-expanded={result !== null}>
        {busy ? 'Checking…' : result ? 'Check again' : 'Check this draw'}
      </button>
      {result && 'error' in result && (
        <p class="error" role="alert">
          {result.error}
        </p>
      )}
      {result && 'check' in result && <DrawCheckResult check={result.check} source={result.source} />}
    </div>
  );
}

function DrawCheckResult({ check, source }: { check: DrawCheck; source: string }) {
  const passed = check.checks.every((c) => c.ok);
  const { draw, seed } = check;
  return (
    <div class={`verdict verdict-${passed ? 'verified' : 'failed'}`} role="status">
      <p class="verdict-title">
        <span aria-hidden="true">{passed ? '✔' : '✖'}</span>{' '}
        {passed ? `Every check passed for round ${check.roundId}` : `Round ${check.roundId} failed a check`}
        <span class="meta"> (read from the chain through {source})</span>
      </p>
      <ul class="checks">
        {check.checks.map((c) => (
          <li key={c.name} class={c.ok ? 'ok' : 'bad'}>
            <span class="visually-hidden">{c.ok ? 'passed: ' : 'failed: '}</span>
            <span aria-hidden="true">{c.ok ? '✔' : '✖'}</span> <strong>{c.name}</strong>: {c.detail}
          </li>
        ))}
      </ul>
      {check.bets.length > 0 && (
        <TicketLine
          segments={check.bets}
          ticket={draw?.ticket ?? null}
          winnerIndex={draw?.index ?? null}
          testid="draw-tickets"
          label={
            draw
              ? `${check.bets.length} bets laid end to end, ${draw.pot} tickets; ticket ${draw.ticket} falls in bet ${draw.index + 1}, ${shortAddress(draw.winner)}`
              : `${check.bets.length} bets laid end to end (refunded: no ticket was drawn)`
          }
        />
      )}
      {draw && seed && (
        <dl class="arithmetic" data-testid="draw-arithmetic">
          <dt>Seed (revealed by the draw)</dt>
          <dd>
            <code class="hex">{seed}</code>
          </dd>
          <dt>keccak256(seed) as a number</dt>
          <dd>
            <code class="hex">{seedHash(seed).toString()}</code>
          </dd>
          <dt>Pot in wei (one ticket each)</dt>
          <dd>
            <code>{draw.pot.toString()}</code> ({formatEth(draw.pot)})
          </dd>
          <dt>Winning ticket = keccak256(seed) mod pot</dt>
          <dd>
            <code data-testid="winning-ticket-number">{draw.ticket.toString()}</code>
          </dd>
          <dt>It falls in</dt>
          <dd>
            bet {draw.index + 1} of {check.bets.length}, by <code>{draw.winner}</code>
          </dd>
        </dl>
      )}
    </div>
  );
}
