import { afterEach, describe, expect, it, vi } from 'vitest';

import { decodeFeedMessage } from '../api/decode';
import type { Address } from '../api/types';
import { initialWalletState, reduceWallet, type WalletAction, type WalletState } from '../wallet/wallet';
import { followOwnStake } from './own';
import { initialFeedState, reduceFeed } from './reducer';
import { Store } from './store';

const BOB = '0x90F79bf6EB2c4f870365E785982E1f101E93b906' as Address;

function snapshot(seq: number, participants: object) {
  return decodeFeedMessage({
    type: 'snapshot',
    seq,
    connected: true,
    data: {
      contract: BOB,
      chainId: 31337,
      head: null,
      config: null,
      round: null,
      participants,
      history: [],
      activities: [],
      operator: { status: 'idle' },
    },
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('following your own stake', () => {
  it('asks /api/round/player once per unknown stake: a new account, then after a reset', async () => {
    const asked: string[] = [];
    vi.stubGlobal('fetch', async (path: string) => {
      asked.push(path);
      return new Response(JSON.stringify({ address: BOB, roundId: 4, amount: '700', winChance: 0.1 }), { status: 200 });
    });
    const feed = new Store(initialFeedState, reduceFeed);
    const wallet = new Store<WalletState, WalletAction>(initialWalletState, reduceWallet);
    feed.dispatch({ type: 'open' });
    feed.dispatch({
      type: 'message',
      at: 0,
      message: snapshot(1, { roundId: 4, participantCount: 9, totalPot: '9000', topPlayers: [] }),
    });
    const stop = followOwnStake(feed, wallet);
    expect(asked).toEqual([]);
    const active = { info: { uuid: 'u', name: 'W', icon: '', rdns: 'w' }, provider: {} } as unknown as WalletState['active'];
    wallet.dispatch({ type: 'connecting', wallet: active! });
    wallet.dispatch({ type: 'connected', account: BOB, chainId: 31337 });
    await vi.waitFor(() => expect(feed.get().me?.amount).toBe(700n));
    expect(asked).toEqual([`/api/round/player/${BOB.toLowerCase()}`]);
    // Another message changes nothing known: no second request.
    feed.dispatch({ type: 'message', at: 0, message: decodeFeedMessage({ type: 'heartbeat', seq: 1, connected: false }) });
    expect(asked).toHaveLength(1);
    // A reset that does not list you: asked again.
    feed.dispatch({
      type: 'message',
      at: 0,
      message: decodeFeedMessage({
        type: 'participants_reset',
        seq: 2,
        data: { roundId: 4, participantCount: 9, totalPot: '9000', topPlayers: [] },
      }),
    });
    await vi.waitFor(() => expect(asked).toHaveLength(2));
    stop();
    wallet.dispatch({ type: 'disconnected' });
    expect(feed.get().me).not.toBeNull();
  });
});
