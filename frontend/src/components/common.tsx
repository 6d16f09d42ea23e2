// Small shared pieces: explorer links, amounts, the ticking clock.

import { useEffect, useState } from 'preact/hooks';

import { formatEth, formatEthApprox, shortAddress, shortHash } from '../format';

/** The page's clock in ms, re-rendering every `intervalMs`. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** A transaction hash, linked to the explorer when one is configured. */
export function TxLink({ hash, explorer }: { hash: string; explorer: string | null }) {
  const text = <code>{shortHash(hash)}</code>;
  if (!explorer) return <span title={hash}>{text}</span>;
  return (
    <a href={`${explorer}/tx/${hash}`} target="_blank" rel="noopener noreferrer" title={hash}>
      {text}
      <span class="visually-hidden"> (transaction on the block explorer, opens in a new tab)</span>
    </a>
  );
}

/** An address, shortened, linked to the explorer when one is configured. */
export function AddressLink({
  address,
  explorer,
  you,
}: {
  address: string;
  explorer: string | null;
  you?: string | null | undefined;
}) {
  const mine = !!you && you.toLowerCase() === address.toLowerCase();
  const text = (
    <>
      <code>{shortAddress(address)}</code>
      {mine && <strong class="you"> (you)</strong>}
    </>
  );
  if (!explorer) return <span title={address}>{text}</span>;
  return (
    <a href={`${explorer}/address/${address}`} target="_blank" rel="noopener noreferrer" title={address}>
      {text}
    </a>
  );
}

/** Wei as ETH (exact, or rounded down to 4 places with `approx`), with the exact
 * wei in a data attribute for tests and tools. */
export function Eth({ wei, testid, approx }: { wei: bigint; testid?: string; approx?: boolean }) {
  return (
    <span class="eth" data-wei={wei.toString()} data-testid={testid} title={approx ? formatEth(wei) : undefined}>
      {approx ? formatEthApprox(wei) : formatEth(wei)}
    </span>
  );
}
