// "Is the operator really the enclave?": a fresh attestation document for a random
// nonce, verified here in the browser by the project's own verifier (WebAssembly),
// its operator compared with the contract's.

import { getAddress, type Chain } from 'viem';
import { useEffect, useRef, useState } from 'preact/hooks';

import { fetchAttestation } from '../api/client';
import type { Address, Snapshot } from '../api/types';
import { loadVerifier, randomNonce, verifyWith, type Verdict } from '../attestation/verifier';
import { formatChainTime } from '../format';
import { describeError, type OperatorRecord, type Wallet } from '../wallet/wallet';

/** Oldest document accepted, seconds (the `attest` CLI's default too). */
export const MAX_AGE_SECS = 300;

/** The panel's verdict: green, amber (simulated) or red. */
export type AttestationState = 'verified' | 'simulated' | 'failed';

interface Check {
  label: string;
  ok: boolean;
  detail: string;
}

interface Outcome {
  state: AttestationState;
  verdict: Verdict;
  checks: Check[];
  /** The contract's operator (and its recorded PCR0) the document was compared with,
   * and where they came from. */
  operator: string | null;
  pcr0: string | null;
  operatorSource: string;
}

/** An address checksummed for display (as given when it is not one). */
export function checksummed(address: string): string {
  try {
    return getAddress(address);
  } catch {
    return address;
  }
}

const KEY_SOURCES: Record<string, string> = {
  generated: 'generated inside the enclave, never exported',
  injected: 'injected sealed to the enclave (HPKE)',
  file: 'read from a file (development only)',
  environment: 'read from the environment (development only)',
};

/** Compares what the document attests with what the contract says: green only when
 * every check holds for an AWS-signed document, the enclave image (PCR0) included. */
export function judge(
  verdict: Verdict,
  expected: { chainId: number; contract: string; operator: string | null; pcr0: string | null },
): { state: AttestationState; checks: Check[] } {
  if (!verdict.ok) return { state: 'failed', checks: [] };
  const same = (a: string | null | undefined, b: string | null | undefined) =>
    !!a && !!b && a.toLowerCase() === b.toLowerCase();
  const user = verdict.userData;
  const checks: Check[] = [
    {
      label: 'Signed by',
      ok: true,
      detail: verdict.simulated
        ? 'a development certificate authority (simulated enclave)'
        : 'an AWS Nitro Security Module (chain to the AWS Nitro root)',
    },
    { label: 'Fresh', ok: true, detail: `echoes this page's random nonce, under ${MAX_AGE_SECS / 60} minutes old` },
    {
      label: 'Chain',
      ok: user?.chainId === expected.chainId,
      detail: user ? `attests chain ${user.chainId}` : 'no lottery user data',
    },
    {
      label: 'Contract',
      ok: same(user?.contract, expected.contract),
      detail: user ? `attests ${checksummed(user.contract)}` : 'no lottery user data',
    },
    {
      label: 'Operator',
      ok: same(user?.operator, expected.operator),
      detail: expected.operator
        ? same(user?.operator, expected.operator)
          ? 'the attested key is the contract’s operator'
          : `the contract’s operator is ${checksummed(expected.operator)}`
        : 'the contract has no operator yet',
    },
    {
      label: 'Enclave image (PCR0)',
      ok: !!expected.pcr0 && verdict.pcr0.toLowerCase() === expected.pcr0.toLowerCase(),
      detail: !expected.pcr0
        ? 'the contract records no PCR0 for its operator'
        : verdict.pcr0.toLowerCase() === expected.pcr0.toLowerCase()
          ? 'equals the PCR0 the contract records for its operator'
          : `the contract records PCR0 ${expected.pcr0}`,
    },
  ];
  const holds = checks.every((c) => c.ok);
  return { state: !holds ? 'failed' : verdict.simulated ? 'simulated' : 'verified', checks };
}

export function AttestationPanel({
  snapshot,
  wallet,
  chain,
  onChain,
}: {
  snapshot: Snapshot;
  wallet: Wallet;
  chain: Chain;
  onChain: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const config = snapshot.config;

  const check = async () => {
    setBusy(true);
    try {
      const nonce = randomNonce();
      const [verifier, view] = await Promise.all([loadVerifier(), fetchAttestation(nonce)]);
      const verdict = verifyWith(verifier, {
        document: view.document,
        nonce,
        nowSecs: Math.floor(Date.now() / 1000),
        maxAgeSecs: MAX_AGE_SECS,
        allowSimulated: true,
      });
      // The contract's operator and its recorded PCR0: from the chain through the
      // player's wallet when connected, else as this page's server reports them.
      let record: OperatorRecord = {
        operator: config?.operator ?? null,
        pcr0: config?.operatorPcr0 ?? null,
      };
      let operatorSource = 'as this page’s server reports it (connect a wallet to read it on chain)';
      if (onChain) {
        try {
          record = await wallet.operatorRecord(chain, snapshot.contract);
          operatorSource = 'read on chain through your wallet';
        } catch {
          // Keep the server's values; the source says so.
        }
      }
      const { state, checks } = judge(verdict, {
        chainId: snapshot.chainId,
        contract: snapshot.contract,
        operator: record.operator,
        pcr0: record.pcr0,
      });
      setOutcome({ state, verdict, checks, operator: record.operator, pcr0: record.pcr0, operatorSource });
    } catch (error) {
      setOutcome({
        state: 'failed',
        verdict: { ok: false, error: describeError(error) },
        checks: [],
        operator: null,
        pcr0: null,
        operatorSource: '',
      });
    } finally {
      setBusy(false);
    }
  };

  // An operator change that lands makes an earlier verdict stale: verify again.
  const operatorNow = `${config?.operator ?? ''}/${config?.operatorPcr0 ?? ''}`;
  const seen = useRef(operatorNow);
  useEffect(() => {
    if (seen.current === operatorNow) return;
    seen.current = operatorNow;
    if (outcome && !busy) void check();
  }, [operatorNow]);

  return (
    <section class="card attestation" aria-labelledby="attestation-title">
      <h2 id="attestation-title">Is the operator the enclave?</h2>
      <p>
        The contract’s operator key should live inside an AWS Nitro Enclave running the published code. Ask the
        enclave for a fresh attestation document and verify it here, in your browser.
      </p>
      {config && <OperatorRecordNote config={config} />}
      <button type="button" onClick={check} disabled={busy} aria-describedby="attestation-result">
        {busy ? 'Verifying…' : outcome ? 'Verify again' : 'Verify the enclave'}
      </button>
      <div id="attestation-result" role="status" aria-live="polite" data-testid="attestation" data-state={outcome?.state ?? ''}>
        {outcome && <Result outcome={outcome} />}
      </div>
    </section>
  );
}

function Result({ outcome }: { outcome: Outcome }) {
  const { verdict, state, checks } = outcome;
  const title =
    state === 'verified'
      ? 'Verified: the operator is the attested enclave'
      : state === 'simulated'
        ? 'Simulated (development only): not a real enclave'
        : 'Not verified';
  return (
    <div class={`verdict verdict-${state}`}>
      <p class="verdict-title">
        <span aria-hidden="true">{state === 'verified' ? '✔' : state === 'simulated' ? '⚠' : '✖'}</span> {title}
      </p>
      {!verdict.ok ? (
        <p class="error" data-testid="attestation-error">
          {verdict.error}
        </p>
      ) : (
        <>
          <ul class="checks">
            {checks.map((c) => (
              <li key={c.label} class={c.ok ? 'ok' : 'bad'}>
                <span class="visually-hidden">{c.ok ? 'passed: ' : 'failed: '}</span>
                <span aria-hidden="true">{c.ok ? '✔' : '✖'}</span> <strong>{c.label}</strong>: {c.detail}
              </li>
            ))}
          </ul>
          <dl class="attested">
            <dt>PCR0 (enclave image)</dt>
            <dd>
              <code class="hex" data-testid="pcr0">
                {verdict.pcr0}
              </code>
            </dd>
            <dt>Attested operator</dt>
            <dd>
              <code data-testid="attested-operator">
                {verdict.userData ? checksummed(verdict.userData.operator) : 'none'}
              </code>
            </dd>
            <dt>Contract operator</dt>
            <dd>
              <code>{outcome.operator ? checksummed(outcome.operator) : 'none'}</code>, {outcome.operatorSource}
            </dd>
            {verdict.userData && (
              <>
                <dt>Operator key</dt>
                <dd>
                  {KEY_SOURCES[verdict.userData.keySource] ?? verdict.userData.keySource}
                  {verdict.userData.keyInjection ? ' (accepts one sealed key for a pinned address)' : ' (no key can be injected)'}
                </dd>
                <dt>Chain data from</dt>
                <dd data-testid="rpc-trust">
                  {verdict.userData.rpcHosts.length === 0
                    ? 'not named by this build'
                    : `${verdict.userData.rpcQuorum} of ${verdict.userData.rpcHosts.length} must agree: ${verdict.userData.rpcHosts.join(', ')}`}
                </dd>
                <dt>Enclave app</dt>
                <dd>
                  {verdict.userData.app} {verdict.userData.version}
                </dd>
              </>
            )}
            <dt>Document</dt>
            <dd>
              {verdict.moduleId}, {formatChainTime(Math.floor(verdict.timestampMs / 1000))}
            </dd>
          </dl>
          <p class="note">
            PCR0 identifies the exact code the enclave runs; it is compared with the value the contract records on chain
            for its operator, which the publisher can change only by an announcement followed by a delay.
          </p>
        </>
      )}
    </div>
  );
}

/** The contract's operator delay, and an announced operator change with the time it takes effect. */
function OperatorRecordNote({ config }: { config: NonNullable<Snapshot['config']> }) {
  const pending = config.pendingOperator;
  return (
    <>
      <p class="note" data-testid="operator-delay" data-seconds={config.operatorDelay}>
        Operator changes are announced on chain and take effect no sooner than{' '}
        {formatDelay(config.operatorDelay)} later, never while a round takes bets.
      </p>
      {pending && (
        <p class="notice" role="status" data-testid="pending-operator" data-operator={pending.operator}>
          <strong>Operator change announced:</strong> <code>{checksummed(pending.operator)}</code>
          {pending.pcr0 && (
            <>
              {' '}
              running PCR0 <code class="hex">{pending.pcr0}</code>
            </>
          )}{' '}
          takes over from {formatChainTime(pending.effectiveAt)}, once no round takes bets.
        </p>
      )}
    </>
  );
}

/** A delay in seconds for people (`86400` -> `24 hours`). */
export function formatDelay(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}
