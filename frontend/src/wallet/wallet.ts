// The player's wallet and the contract, through viem: connecting an EIP-6963
// wallet (EIP-1193 requests), noticing a wrong chain and switching (adding the
// chain when the wallet does not know it), and the player's three transactions:
// placeBet, withdraw, refundExpiredRound. Reads (the player's pending balance and
// ETH balance, the contract's operator) go through the same wallet, so they come
// from the player's own RPC rather than from this page's server.

import {
  BaseError,
  ContractFunctionRevertedError,
  createClient,
  custom,
  http,
  type Abi,
  type Chain,
  type Client,
  type Transport,
} from 'viem';
import {
  addChain,
  getBalance,
  readContract,
  switchChain,
  waitForTransactionReceipt,
  writeContract,
} from 'viem/actions';
import { abi as lotteryAbi } from '@artifacts/Lottery.json';

import type { Address, Hex, PageConfigView } from '../api/types';
import { Store } from '../state/store';
import type { DiscoveredWallet, Eip1193Provider } from './discovery';

/** The operator and its recorded enclave measurement, as the chain has them. */
export interface OperatorRecord {
  /** `null` while the contract has no operator. */
  operator: Address | null;
  /** PCR0 as 96 lowercase hex digits; `null` when none is recorded. */
  pcr0: string | null;
}

const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000';

/** The record from `getConfig`'s `operator` and `operatorPcrs` (PCR0, PCR1, ... 48 bytes each). */
export function operatorRecordOf(operator: Address, pcrs: Hex): OperatorRecord {
  const hex = pcrs.slice(2).toLowerCase();
  return {
    operator: operator.toLowerCase() === ZERO_ADDRESS ? null : operator,
    pcr0: hex.length >= 96 ? hex.slice(0, 96) : null,
  };
}

/** The Lottery contract's ABI, from the committed artifact (abi/artifacts). */
export const LOTTERY_ABI = lotteryAbi as Abi;

/** How often viem polls the wallet for a receipt: local chains mine every second. */
const POLL_MS = 1_000;
/** How long a transaction may take to be mined before the page gives up waiting. */
const RECEIPT_TIMEOUT_MS = 180_000;

export interface WalletState {
  /** Wallets announced by EIP-6963. */
  available: DiscoveredWallet[];
  /** The wallet the player connected. */
  active: DiscoveredWallet | null;
  account: Address | null;
  chainId: number | null;
  busy: boolean;
  error: string | null;
}

export type WalletAction =
  | { type: 'discovered'; wallets: DiscoveredWallet[] }
  | { type: 'connecting'; wallet: DiscoveredWallet }
  | { type: 'connected'; account: Address | null; chainId: number | null }
  | { type: 'accounts'; account: Address | null }
  | { type: 'chain'; chainId: number | null }
  | { type: 'failed'; error: string }
  | { type: 'disconnected' };

export const initialWalletState: WalletState = {
  available: [],
  active: null,
  account: null,
  chainId: null,
  busy: false,
  error: null,
};

export function reduceWallet(state: WalletState, action: WalletAction): WalletState {
  switch (action.type) {
    case 'discovered':
      return { ...state, available: action.wallets };
    case 'connecting':
      return { ...state, active: action.wallet, busy: true, error: null };
    case 'connected':
      return { ...state, account: action.account, chainId: action.chainId, busy: false, error: null };
    case 'accounts':
      return action.account ? { ...state, account: action.account } : { ...state, active: null, account: null };
    case 'chain':
      return { ...state, chainId: action.chainId };
    case 'failed':
      return { ...state, busy: false, error: action.error };
    case 'disconnected':
      return { ...initialWalletState, available: state.available };
  }
}

/** The chain the lottery lives on, as viem and wallets want to see it. */
export function lotteryChain(chainId: number, page: PageConfigView | null): Chain {
  return {
    id: chainId,
    name: page?.chainName ?? `Chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: page?.publicRpcUrl ? [page.publicRpcUrl] : [] } },
    ...(page?.explorerUrl ? { blockExplorers: { default: { name: 'Explorer', url: page.explorerUrl } } } : {}),
  };
}

function parseChainId(value: unknown): number | null {
  if (typeof value === 'string') {
    const n = value.startsWith('0x') ? Number.parseInt(value, 16) : Number(value);
    return Number.isSafeInteger(n) ? n : null;
  }
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

function firstAccount(value: unknown): Address | null {
  const first: unknown = Array.isArray(value) ? value[0] : undefined;
  return typeof first === 'string' && /^0x[0-9a-fA-F]{40}$/.test(first) ? (first as Address) : null;
}

/** A sentence for an error from a wallet, viem or the contract. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
      return revertText(reverted.data.errorName);
    }
    const rejected = error.walk((e) => (e as { code?: unknown }).code === 4001);
    if (rejected || code === 4001) return 'You rejected the request in your wallet.';
    return error.shortMessage;
  }
  if (code === 4001) return 'You rejected the request in your wallet.';
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The contract's custom errors a player can meet, in words. */
function revertText(name: string): string {
  switch (name) {
    case 'BetTooSmall':
      return 'The bet is below the minimum.';
    case 'BettingClosed':
      return 'Betting has closed for this round.';
    case 'NoSeedCommitment':
      return 'The operator has not committed this round’s seed yet; try again in a moment.';
    case 'NothingToWithdraw':
      return 'There is nothing to withdraw.';
    case 'PotTooLarge':
      return 'The pot would exceed the contract’s limit.';
    case 'RoundNotExpired':
      return 'The draw window has not closed yet.';
    case 'WrongRoundState':
      return 'The round is not in a state that allows this.';
    default:
      return `The contract refused: ${name}.`;
  }
}

/** The connected wallet, as one object the page drives. */
export class Wallet {
  readonly store = new Store<WalletState, WalletAction>(initialWalletState, reduceWallet);
  private unsubscribe: (() => void) | null = null;

  get state(): WalletState {
    return this.store.get();
  }

  discovered(wallets: DiscoveredWallet[]): void {
    this.store.dispatch({ type: 'discovered', wallets });
  }

  /** Asks `wallet` for an account (the wallet shows its own prompt). */
  async connect(wallet: DiscoveredWallet): Promise<void> {
    this.release();
    this.store.dispatch({ type: 'connecting', wallet });
    try {
      const accounts = await wallet.provider.request({ method: 'eth_requestAccounts' });
      const chainId = parseChainId(await wallet.provider.request({ method: 'eth_chainId' }));
      this.listen(wallet.provider);
      this.store.dispatch({ type: 'connected', account: firstAccount(accounts), chainId });
    } catch (error) {
      this.release();
      this.store.dispatch({ type: 'disconnected' });
      this.store.dispatch({ type: 'failed', error: describeError(error) });
    }
  }

  /** Forgets the wallet (wallets have no standard "disconnect" request). */
  disconnect(): void {
    this.release();
    this.store.dispatch({ type: 'disconnected' });
  }

  private listen(provider: Eip1193Provider): void {
    const accounts = (list: unknown) => this.store.dispatch({ type: 'accounts', account: firstAccount(list) });
    const chain = (id: unknown) => this.store.dispatch({ type: 'chain', chainId: parseChainId(id) });
    const disconnect = () => this.store.dispatch({ type: 'disconnected' });
    provider.on?.('accountsChanged', accounts as never);
    provider.on?.('chainChanged', chain as never);
    provider.on?.('disconnect', disconnect as never);
    this.unsubscribe = () => {
      provider.removeListener?.('accountsChanged', accounts as never);
      provider.removeListener?.('chainChanged', chain as never);
      provider.removeListener?.('disconnect', disconnect as never);
    };
  }

  private release(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /**
   * A client that reads the chain itself, never this page's server: the wallet when
   * it is connected to the lottery's chain, else the site's public RPC URL.
   */
  readClient(chain: Chain, onChain: boolean): { client: Client<Transport, Chain>; source: string } {
    if (onChain && this.state.active) return { client: this.client(chain), source: 'your wallet' };
    const url = chain.rpcUrls.default.http[0];
    if (url) {
      return {
        client: createClient({ chain, transport: http(url), pollingInterval: POLL_MS }),
        source: `the public RPC ${new URL(url).host}`,
      };
    }
    throw new Error(
      'Connect your wallet to the lottery’s chain: the check reads the chain itself, never this page’s server.',
    );
  }

  private client(chain: Chain): Client<Transport, Chain> {
    const provider = this.state.active?.provider;
    if (!provider) throw new Error('Connect a wallet first.');
    return createClient({ chain, transport: custom(provider), pollingInterval: POLL_MS });
  }

  private sender(): Address {
    const account = this.state.account;
    if (!account) throw new Error('Connect a wallet first.');
    return account;
  }

  /** Switches the wallet to `chain`, adding it first when the wallet does not know
   * it (EIP-3085, with the page's public RPC URL). */
  async switchTo(chain: Chain): Promise<void> {
    const client = this.client(chain);
    try {
      await switchChain(client, { id: chain.id });
    } catch (error) {
      const unknownChain =
        error instanceof BaseError && error.walk((e) => (e as { code?: unknown }).code === 4902) !== null;
      if (!unknownChain) throw error;
      if (chain.rpcUrls.default.http.length === 0) {
        throw new Error(`Your wallet does not know chain ${chain.id}; add it in the wallet first.`);
      }
      await addChain(client, { chain });
      await switchChain(client, { id: chain.id });
    }
    this.store.dispatch({ type: 'chain', chainId: chain.id });
  }

  /** Sends a call to the contract; resolves with its hash once the wallet sent it. */
  async send(
    chain: Chain,
    contract: Address,
    functionName: 'placeBet' | 'withdraw' | 'refundExpiredRound',
    value?: bigint,
  ): Promise<Hex> {
    const client = this.client(chain);
    return writeContract(client, {
      address: contract,
      abi: LOTTERY_ABI,
      functionName,
      account: this.sender(),
      chain,
      ...(value === undefined ? {} : { value }),
    });
  }

  /** Waits until `hash` is mined; throws when it reverted. */
  async mined(chain: Chain, hash: Hex): Promise<void> {
    const receipt = await waitForTransactionReceipt(this.client(chain), {
      hash,
      pollingInterval: POLL_MS,
      timeout: RECEIPT_TIMEOUT_MS,
    });
    if (receipt.status !== 'success') throw new Error('The transaction was mined but reverted.');
  }

  /** What `withdraw` would pay the connected account now. */
  async pending(chain: Chain, contract: Address): Promise<bigint> {
    const value = await readContract(this.client(chain), {
      address: contract,
      abi: LOTTERY_ABI,
      functionName: 'pendingWithdrawal',
      args: [this.sender()],
    });
    return value as bigint;
  }

  /** The connected account's ETH balance. */
  async balance(chain: Chain): Promise<bigint> {
    return getBalance(this.client(chain), { address: this.sender() });
  }

  /** The contract's operator and the PCR0 it records for it, read on chain through the wallet. */
  async operatorRecord(chain: Chain, contract: Address): Promise<OperatorRecord> {
    const config = (await readContract(this.client(chain), {
      address: contract,
      abi: LOTTERY_ABI,
      functionName: 'getConfig',
    })) as { operator: Address; operatorPcrs: Hex };
    return operatorRecordOf(config.operator, config.operatorPcrs);
  }
}
