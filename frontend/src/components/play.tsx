// The player's side: connect a wallet (EIP-6963), get onto the right chain, bet,
// follow the transaction until the round shows it, and withdraw what is owed.

import type { ComponentChildren } from 'preact';
import type { Chain } from 'viem';
import { useEffect, useRef, useState } from 'preact/hooks';

import type { Activity, Address, ConfigView, Hex, RoundView } from '../api/types';
import { formatEth, parseEthInput, shortAddress } from '../format';
import { safeIcon } from '../wallet/discovery';
import { describeError, type Wallet, type WalletState } from '../wallet/wallet';
import { Eth, TxLink } from './common';
import type { RoundPhase } from './round';

type TxAction = 'bet' | 'withdraw' | 'refund';

/** A transaction's life on this page: the wallet asks the player, then it waits to
 * be mined, then for the lottery's feed to show its event. */
export type TxPhase = 'signing' | 'pending' | 'mined' | 'reflected' | 'failed';

interface Tx {
  action: TxAction;
  phase: TxPhase;
  hash?: Hex;
  amount?: bigint;
  /** The round the lottery recorded it in (from its event), once reflected. */
  roundId?: number;
  error?: string;
}

export function PlayPanel({
  wallet,
  walletState,
  chain,
  contract,
  round,
  phase,
  config,
  activities,
  explorer,
}: {
  wallet: Wallet;
  walletState: WalletState;
  chain: Chain;
  contract: Address;
  round: RoundView | null;
  phase: RoundPhase | null;
  config: ConfigView | null;
  activities: Activity[];
  explorer: string | null;
}) {
  const { active, account, chainId, available } = walletState;
  const onChain = active !== null && account !== null && chainId === chain.id;
  const [tx, setTx] = useState<Tx | null>(null);
  const [pending, setPending] = useState<bigint | null>(null);
  const [balance, setBalance] = useState<bigint | null>(null);
  const [switching, setSwitching] = useState<string | null>(null);

  // The feed shows the transaction's event: the round (or balance) reflects it.
  useEffect(() => {
    if (tx?.phase !== 'mined' || !tx.hash) return;
    const hash = tx.hash.toLowerCase();
    const event = activities.find((a) => a.transactionHash.toLowerCase() === hash);
    if (event) {
      setTx({ ...tx, phase: 'reflected', ...(event.roundId > 0 ? { roundId: event.roundId } : {}) });
    }
  }, [tx, activities]);

  // The player's balances, read through their wallet: again whenever the lottery
  // records an event (a bet, a draw, a refund, a withdrawal may change them).
  const latest = activities[0]?.transactionHash ?? '';
  useEffect(() => {
    if (!onChain) {
      setPending(null);
      setBalance(null);
      return;
    }
    let current = true;
    wallet.pending(chain, contract).then(
      (value) => current && setPending(value),
      () => current && setPending(null),
    );
    wallet.balance(chain).then(
      (value) => current && setBalance(value),
      () => current && setBalance(null),
    );
    return () => {
      current = false;
    };
  }, [onChain, account, chain, contract, latest, tx?.phase]);

  const run = async (action: TxAction, functionName: 'placeBet' | 'withdraw' | 'refundExpiredRound', amount?: bigint) => {
    const base: Tx = { action, phase: 'signing', ...(amount === undefined ? {} : { amount }) };
    setTx(base);
    let hash: Hex | undefined;
    try {
      hash = await wallet.send(chain, contract, functionName, amount);
      setTx({ ...base, phase: 'pending', hash });
      await wallet.mined(chain, hash);
      setTx({ ...base, phase: 'mined', hash });
    } catch (error) {
      setTx({ ...base, phase: 'failed', error: describeError(error), ...(hash ? { hash } : {}) });
    }
  };

  const busy = tx !== null && (tx.phase === 'signing' || tx.phase === 'pending');

  return (
    <section class="card play" aria-labelledby="play-title">
      <h2 id="play-title">Play</h2>
      {!active || !account ? (
        <Connect wallet={wallet} available={available} state={walletState} />
      ) : (
        <>
          <p class="account" data-testid="account" data-address={account}>
            Connected with {active.info.name}: <code title={account}>{shortAddress(account)}</code>
            {onChain && balance !== null && (
              <>
                {' '}
                · balance <Eth wei={balance} testid="balance" approx />
              </>
            )}{' '}
            <button type="button" class="link" onClick={() => wallet.disconnect()}>
              Disconnect
            </button>
          </p>
          {chainId !== chain.id ? (
            <div class="alert warn" role="alert" data-testid="wrong-chain">
              <p>
                Your wallet is on chain {chainId ?? 'unknown'}; the lottery runs on {chain.name} (chain {chain.id}).
              </p>
              <button
                type="button"
                disabled={switching === 'busy'}
                onClick={async () => {
                  setSwitching('busy');
                  try {
                    await wallet.switchTo(chain);
                    setSwitching(null);
                  } catch (error) {
                    setSwitching(describeError(error));
                  }
                }}
              >
                Switch to {chain.name}
              </button>
              {switching && switching !== 'busy' && <p class="error">{switching}</p>}
            </div>
          ) : (
            <>
              <BetForm
                round={round}
                phase={phase}
                config={config}
                balance={balance}
                busy={busy}
                onBet={(wei) => run('bet', 'placeBet', wei)}
              />
              <div class="withdraw">
                <p>
                  Owed to you (refunds, prizes that could not be sent):{' '}
                  {pending === null ? '…' : <Eth wei={pending} testid="pending" />}
                </p>
                <button
                  type="button"
                  disabled={busy || pending === null || pending === 0n}
                  onClick={() => run('withdraw', 'withdraw')}
                >
                  Withdraw
                </button>
              </div>
              {phase === 'expired' && (
                <div class="withdraw">
                  <p>The draw window passed without a draw. Anyone may refund the round.</p>
                  <button type="button" disabled={busy} onClick={() => run('refund', 'refundExpiredRound')}>
                    Refund round {round?.roundId}
                  </button>
                </div>
              )}
            </>
          )}
        </>
      )}
      <TxStatus tx={tx} explorer={explorer} />
    </section>
  );
}

function Connect({ wallet, available, state }: { wallet: Wallet; available: WalletState['available']; state: WalletState }) {
  return (
    <div class="connect">
      {available.length === 0 ? (
        <p>
          No browser wallet found. Install an Ethereum wallet extension (one that supports EIP-6963), then reload
          this page.
        </p>
      ) : (
        <>
          <p>Bet from your own wallet: the page never holds your keys.</p>
          <ul class="wallets">
            {available.map((w) => {
              const icon = safeIcon(w.info.icon);
              return (
                <li key={w.info.uuid}>
                  <button type="button" disabled={state.busy} onClick={() => wallet.connect(w)}>
                    {icon && <img src={icon} alt="" width={20} height={20} />}
                    Connect {w.info.name}
                  </button>
                </li>
              );
            })}
          </ul>
        </>
      )}
      {state.error && (
        <p class="error" role="alert">
          {state.error}
        </p>
      )}
    </div>
  );
}

function BetForm({
  round,
  phase,
  config,
  balance,
  busy,
  onBet,
}: {
  round: RoundView | null;
  phase: RoundPhase | null;
  config: ConfigView | null;
  balance: bigint | null;
  busy: boolean;
  onBet: (wei: bigint) => void;
}) {
  const [text, setText] = useState('');
  const [touched, setTouched] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const min = config?.minBetAmount ?? 1n;
  const parsed = parseEthInput(text, min, balance ?? undefined);
  const open = phase === 'waiting' || phase === 'betting';
  const closedReason =
    phase === 'awaiting-commitment'
      ? 'Bets open once the operator has committed this round’s seed.'
      : !open && round
        ? 'Betting is closed for this round; the next round opens after the draw.'
        : null;
  const showError = touched && !parsed.ok;
  return (
    <form
      class="bet"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        setTouched(true);
        if (!parsed.ok) {
          input.current?.focus();
          return;
        }
        onBet(parsed.wei);
      }}
    >
      <label for="bet-amount">Bet amount (ETH)</label>
      <div class="row">
        <input
          id="bet-amount"
          ref={input}
          type="text"
          inputMode="decimal"
          autoComplete="off"
          spellcheck={false}
          placeholder={formatEth(min, false)}
          value={text}
          aria-invalid={showError}
          aria-describedby="bet-hint bet-error"
          onInput={(event) => setText((event.target as HTMLInputElement).value)}
          onBlur={() => text !== '' && setTouched(true)}
        />
        <button type="submit" disabled={busy || !open}>
          Place bet
        </button>
      </div>
      <p id="bet-hint" class="hint">
        Minimum {formatEth(min)}. Repeated bets add up.
      </p>
      <p id="bet-error" class="error" aria-live="polite">
        {showError && !parsed.ok ? parsed.error : ''}
      </p>
      {closedReason && <p class="note">{closedReason}</p>}
    </form>
  );
}

function TxStatus({ tx, explorer }: { tx: Tx | null; explorer: string | null }) {
  const what = (t: Tx) =>
    t.action === 'bet' ? `Bet of ${formatEth(t.amount ?? 0n)}` : t.action === 'withdraw' ? 'Withdrawal' : 'Refund';
  let text: ComponentChildren = null;
  if (tx) {
    switch (tx.phase) {
      case 'signing':
        text = `${what(tx)}: confirm it in your wallet…`;
        break;
      case 'pending':
        text = <>{what(tx)} sent; waiting for it to be mined…</>;
        break;
      case 'mined':
        text = <>{what(tx)} mined; waiting for the lottery to show it…</>;
        break;
      case 'reflected':
        text =
          tx.action === 'bet' ? (
            <>Your bet of {formatEth(tx.amount ?? 0n)} is in{tx.roundId ? ` round ${tx.roundId}` : ' the round'}.</>
          ) : tx.action === 'withdraw' ? (
            <>Withdrawn to your wallet.</>
          ) : (
            <>The round was refunded; your stake is withdrawable.</>
          );
        break;
      case 'failed':
        text = <>{what(tx)} failed: {tx.error}</>;
        break;
    }
  }
  return (
    <div
      class={`tx ${tx ? `tx-${tx.phase}` : ''}`}
      role="status"
      aria-live="polite"
      data-testid="tx-status"
      data-phase={tx?.phase ?? 'idle'}
      data-action={tx?.action ?? ''}
    >
      {text}
      {tx?.hash && (
        <>
          {' '}
          <TxLink hash={tx.hash} explorer={explorer} />
        </>
      )}
    </div>
  );
}
