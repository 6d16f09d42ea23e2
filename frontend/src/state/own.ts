// Which player is "you": the wallet's account, told to the feed's state, and that
// account's stake asked of `/api/round/player/{address}` whenever the feed cannot
// tell it (a new account, or after a participant reset when the account is not
// among the top players). New connections name the account in `?player=` (see
// api/feed.ts), so a reconnect needs no request.

import { fetchPlayer } from '../api/client';
import type { WalletAction, WalletState } from '../wallet/wallet';
import type { FeedAction, FeedState } from './reducer';
import type { Store } from './store';

/** The account the page treats as the player's (a wallet connected and chosen). */
export function accountOf(wallet: WalletState): `0x${string}` | null {
  return wallet.active ? wallet.account : null;
}

/** Keeps `feed`'s own stake following `wallet`'s account until the returned function
 * is called. */
export function followOwnStake(feed: Store<FeedState, FeedAction>, wallet: Store<WalletState, WalletAction>): () => void {
  let asked: string | null = null;
  const ask = () => {
    const me = feed.get().me;
    if (!me || me.amount !== null) return;
    // One request per unknown stake (the key changes with every account, reset and
    // connection).
    const { resets, opens } = feed.get();
    const key = `${me.address.toLowerCase()}:${resets}:${opens}`;
    if (asked === key) return;
    asked = key;
    fetchPlayer(me.address).then(
      (view) => feed.dispatch({ type: 'own', view }),
      // Unknown it stays ("…"); the next reset or reconnect asks again.
      () => {},
    );
  };
  const onWallet = () => {
    feed.dispatch({ type: 'account', address: accountOf(wallet.get()) });
    ask();
  };
  const stopWallet = wallet.subscribe(onWallet);
  const stopFeed = feed.subscribe(ask);
  onWallet();
  return () => {
    stopWallet();
    stopFeed();
  };
}
