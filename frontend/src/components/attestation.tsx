// "Is the operator really the enclave?": a fresh attestation document for a random
// nonce, verified here in the browser by the project's own verifier (WebAssembly),
// its operator compared with the contract's.

import { getAddress, type Chain } from 'viem';
import { useState } from 'preact/hooks';

import { fetchAttestation } from '../api/client';
import type { Address, Snapshot } from '../api/types';
import { loadVerifier, randomNonce, verifyWith, type Verdict } from '../attestation/verifier';
import { formatChainTime } from '../format';
import { describeError, type Wallet } from '../wallet/wallet';

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
  /** The contract's operator the document was compared with, and where it came from. */
  operator: string | null;
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

/** Compares what the document attests with what the contract says. */
export function judge(
  verdict: Verdict,
  expected: { chainId: number; contract: string; operator: string | null },
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
      // The contract's operator: from the chain through the player's wallet when
      // connected, else as this page's server reports it.
      let operator: Address | null = snapshot.config?.operator ?? null;
      let operatorSource = 'as this page’s server reports it (connect a wallet to read it on chain)';
      if (onChain) {
        try {
          operator = await wallet.operator(chain, snapshot.contract);
          operatorSource = 'read on chain through your wallet';
        } catch {
          // Keep the server's value; the source says so.
        }
      }
      const { state, checks } = judge(verdict, {
        chainId: snapshot.chainId,
        contract: snapshot.contract,
        operator,
      });
      setOutcome({ state, verdict, checks, operator, operatorSource });
    } catch (error) {
      setOutcome({
        state: 'failed',
        verdict: { ok: false, error: describeError(error) },
        checks: [],
        operator: null,
        operatorSource: '',
      });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card attestation" aria-labelledby="attestation-title">
      <h2 id="attestation-title">Is the operator the enclave?</h2>
      <p>
        The contract’s operator key should live inside an AWS Nitro Enclave running the published code. Ask the
        enclave for a fresh attestation document and verify it here, in your browser.
      </p>
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
                <dd>{KEY_SOURCES[verdict.userData.keySource] ?? verdict.userData.keySource}</dd>
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
            Compare PCR0 with the value published for the release: it identifies the exact code the enclave runs.
          </p>
        </>
      )}
    </div>
  );
}
