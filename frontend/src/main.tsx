// Boot: the feed, wallet discovery, and the page.

import { render } from 'preact';

import { App } from './app';
import { connectFeed, feedUrl } from './api/feed';
import { initialFeedState, reduceFeed } from './state/reducer';
import { accountOf, followOwnStake } from './state/own';
import { Store } from './state/store';
import { discoverWallets } from './wallet/discovery';
import { Wallet } from './wallet/wallet';
import './styles.css';

const feed = new Store(initialFeedState, reduceFeed);
const wallet = new Wallet();
connectFeed(() => feedUrl(window.location, accountOf(wallet.state)), feed);
followOwnStake(feed, wallet.store);
discoverWallets((wallets) => wallet.discovered(wallets));

const root = document.getElementById('app');
if (root) render(<App feed={feed} wallet={wallet} />, root);
