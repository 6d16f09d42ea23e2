import { describe, expect, it } from 'vitest';

import type { DiscoveredWallet } from './discovery';
import { initialWalletState, lotteryChain, reduceWallet, type WalletAction } from './wallet';

const wallet: DiscoveredWallet = {
  info: { uuid: 'u1', name: 'Test', icon: 'data:image/png;base64,', rdns: 'test' },
  provider: { request: async () => null },
};
const A = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const B = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';

const run = (...actions: WalletAction[]) => actions.reduce(reduceWallet, initialWalletState);

describe('the wallet state', () => {
  it('follows a connection, account and chain changes', () => {
    const connected = run(
      { type: 'discovered', wallets: [wallet] },
      { type: 'connecting', wallet },
      { type: 'connected', account: A, chainId: 1 },
    );
    expect(connected).toMatchObject({ active: wallet, account: A, chainId: 1, busy: false, error: null });
    expect(reduceWallet(connected, { type: 'chain', chainId: 31337 }).chainId).toBe(31337);
    expect(reduceWallet(connected, { type: 'accounts', account: B }).account).toBe(B);
    // No accounts left (the wallet locked or revoked the page): disconnected.
    const locked = reduceWallet(connected, { type: 'accounts', account: null });
    expect(locked).toMatchObject({ active: null, account: null });
    // Forgetting the wallet keeps the discovered list.
    expect(reduceWallet(connected, { type: 'disconnected' }).available).toEqual([wallet]);
  });

  it('keeps the reason a connection failed', () => {
    const failed = run(
      { type: 'connecting', wallet },
      { type: 'disconnected' },
      { type: 'failed', error: 'You rejected the request in your wallet.' },
    );
    expect(failed).toMatchObject({ active: null, busy: false, error: 'You rejected the request in your wallet.' });
  });
});

describe('the chain offered to wallets', () => {
  it('carries the configured name, public RPC and explorer', () => {
    const chain = lotteryChain(31337, {
      chainName: 'Anvil (local)',
      publicRpcUrl: 'http://127.0.0.1:8545',
      explorerUrl: 'https://explorer.example',
    });
    expect(chain).toMatchObject({
      id: 31337,
      name: 'Anvil (local)',
      rpcUrls: { default: { http: ['http://127.0.0.1:8545'] } },
      blockExplorers: { default: { url: 'https://explorer.example' } },
    });
    const bare = lotteryChain(10, null);
    expect(bare.name).toBe('Chain 10');
    expect(bare.rpcUrls.default.http).toEqual([]);
    expect(bare.blockExplorers).toBeUndefined();
  });
});
