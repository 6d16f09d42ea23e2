// Wallet discovery by EIP-6963: every installed wallet announces itself with its
// own EIP-1193 provider, so several wallets never fight over `window.ethereum`.

/** EIP-1193: the one method a wallet provider must have, and its events. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
  on?(event: string, listener: (...args: never[]) => void): void;
  removeListener?(event: string, listener: (...args: never[]) => void): void;
}

/** EIP-6963 `EIP6963ProviderInfo`. */
export interface WalletInfo {
  uuid: string;
  name: string;
  /** A data URI (RFC 2397) image. */
  icon: string;
  /** Reverse-DNS id, e.g. `io.metamask`. */
  rdns: string;
}

export interface DiscoveredWallet {
  info: WalletInfo;
  provider: Eip1193Provider;
}

function isWallet(detail: unknown): detail is DiscoveredWallet {
  const d = detail as Partial<DiscoveredWallet> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.info?.uuid === 'string' &&
    typeof d.info.name === 'string' &&
    typeof d.provider?.request === 'function'
  );
}

/** Only images as data URIs are shown as icons (never a remote or script URL). */
export function safeIcon(icon: string): string | null {
  return /^data:image\/(png|svg\+xml|webp|jpeg|gif);/i.test(icon) ? icon : null;
}

/** Calls `onChange` with every wallet announced so far (one per uuid, in order of
 * arrival), now and whenever another announces itself. Returns the unsubscribe. */
export function discoverWallets(onChange: (wallets: DiscoveredWallet[]) => void): () => void {
  const wallets = new Map<string, DiscoveredWallet>();
  const announced = (event: Event) => {
    const detail = (event as CustomEvent<unknown>).detail;
    if (!isWallet(detail) || wallets.has(detail.info.uuid)) return;
    wallets.set(detail.info.uuid, { info: detail.info, provider: detail.provider });
    onChange([...wallets.values()]);
  };
  window.addEventListener('eip6963:announceProvider', announced);
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  return () => window.removeEventListener('eip6963:announceProvider', announced);
}
