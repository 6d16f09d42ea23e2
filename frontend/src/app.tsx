// The page: the live state from the feed, the player's wallet, and the enclave's
// attestation, laid out as cards (two columns on wide screens, one on phones). The
// round and the bet form come first at every width (a player bets without
// scrolling, whatever the round's size); on phones the players follow them
// (styles.css reorders the cards).

import { useEffect, useMemo, useState } from 'preact/hooks';

import { fetchPageConfig } from './api/client';
import type { PageConfigView } from './api/types';
import { AttestationPanel } from './components/attestation';
import { AddressLink, useNow } from './components/common';
import { DrawCheckButton } from './components/drawcheck';
import { ActivityPanel, HistoryPanel } from './components/feed';
import { PlayPanel } from './components/play';
import { PlayersPanel } from './components/players';
import { RoundPanel, roundPhase } from './components/round';
import { operatorStatusText } from './format';
import { chainNow, type FeedAction, type FeedState } from './state/reducer';
import { type Store, useStore } from './state/store';
import { lotteryChain, type Wallet } from './wallet/wallet';

/** host-proxy's page settings, fetched again after each reconnect until one answers. */
function usePageConfig(opens: number): PageConfigView | null {
  const [page, setPage] = useState<PageConfigView | null>(null);
  useEffect(() => {
    if (page || opens === 0) return;
    let current = true;
    fetchPageConfig().then(
      (value) => current && setPage(value),
      () => {},
    );
    return () => {
      current = false;
    };
  }, [opens, page]);
  return page;
}

function ConnectionStatus({ state }: { state: FeedState }) {
  const { link, enclaveConnected, snapshot } = state;
  const [text, tone] =
    link === 'live'
      ? enclaveConnected
        ? ['Live', 'ok']
        : ['Live; the enclave is unreachable, data may be stale', 'warn']
      : link === 'connecting'
        ? ['Connecting…', 'warn']
        : ['Reconnecting…', 'bad'];
  return (
    <p
      class={`status status-${tone}`}
      role="status"
      aria-live="polite"
      data-testid="connection"
      data-link={link}
      data-opens={state.opens}
      data-seq={snapshot?.seq ?? 0}
    >
      <span class="dot" aria-hidden="true" />
      {text}
    </p>
  );
}

export function App({ feed, wallet }: { feed: Store<FeedState, FeedAction>; wallet: Wallet }) {
  const state = useStore(feed);
  const walletState = useStore(wallet.store);
  const page = usePageConfig(state.opens);
  const nowMs = useNow(1000);
  const now = chainNow(state, nowMs);
  const snapshot = state.snapshot;
  const chain = useMemo(() => (snapshot ? lotteryChain(snapshot.chainId, page) : null), [snapshot?.chainId, page]);
  const explorer = page?.explorerUrl ?? null;
  const account = walletState.active ? walletState.account : null;
  const onChain = account !== null && chain !== null && walletState.chainId === chain.id;

  return (
    <>
      <a class="skip" href="#main">
        Skip to the lottery
      </a>
      <header class="top">
        <h1>Enclave Lottery</h1>
        <ConnectionStatus state={state} />
      </header>
      <main id="main" tabIndex={-1}>
        {!snapshot || !chain ? (
          <section class="card" aria-busy="true">
            <h2>Loading the lottery…</h2>
            <p>{state.link === 'live' ? 'Waiting for the enclave’s state.' : 'Connecting to the server.'}</p>
          </section>
        ) : (
          <div class="grid">
            <div class="col">
              <RoundPanel
                round={snapshot.round}
                config={snapshot.config}
                me={state.me}
                now={now}
              />
              <PlayPanel
                wallet={wallet}
                walletState={walletState}
                chain={chain}
                contract={snapshot.contract}
                round={snapshot.round}
                phase={snapshot.round ? roundPhase(snapshot.round, now) : null}
                config={snapshot.config}
                activities={snapshot.activities}
                explorer={explorer}
              />
              <PlayersPanel summary={snapshot.participants} me={state.me} explorer={explorer} />
              <AttestationPanel snapshot={snapshot} wallet={wallet} chain={chain} onChain={onChain} />
            </div>
            <div class="col">
              <HistoryPanel
                history={snapshot.history}
                account={account}
                explorer={explorer}
                check={(roundId) => (
                  <DrawCheckButton
                    roundId={roundId}
                    wallet={wallet}
                    chain={chain}
                    contract={snapshot.contract}
                    onChain={onChain}
                  />
                )}
              />
              <ActivityPanel activities={snapshot.activities} account={account} explorer={explorer} now={now} />
            </div>
          </div>
        )}
      </main>
      {snapshot && (
        <footer>
          <p>
            Contract <AddressLink address={snapshot.contract} explorer={explorer} /> on{' '}
            {page?.chainName ?? `chain ${snapshot.chainId}`}
            {snapshot.head && <> · block {snapshot.head.number}</>} · operator {operatorStatusText(snapshot.operator)}
          </p>
          <p>Everything shown here can be checked on chain.</p>
        </footer>
      )}
    </>
  );
}
