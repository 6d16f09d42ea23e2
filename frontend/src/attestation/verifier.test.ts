// The WebAssembly verifier through the page's own glue, on the real AWS vectors
// (../shared/vectors beside the repository). Runs when scripts/build-frontend has
// put the module in public/; skipped otherwise (the Rust crate's own tests cover the
// verdicts natively).

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { formatDelay, judge } from '../components/attestation';
import { operatorRecordOf } from '../wallet/wallet';
import { instantiateVerifier, randomNonce, verifyWith } from './verifier';

const wasm = new URL('../../public/attestation.wasm', import.meta.url);
const vectors = new URL('../../../../shared/vectors/attestation/', import.meta.url);
const ready = existsSync(wasm) && existsSync(vectors);

/** The production vector and its time (from its .txt description). */
const PROD = 'evervault-beta-prod-pcr8-2022-10-13.cbor';
const PROD_TIME_SECS = Math.ceil(Date.parse('2022-10-13T08:58:02.136Z') / 1000);

describe.skipIf(!ready)('the WebAssembly verifier', () => {
  it('has no imports and verifies the production vector at its own time', async () => {
    const bytes = readFileSync(wasm);
    expect(WebAssembly.Module.imports(new WebAssembly.Module(bytes))).toEqual([]);
    const verifier = await instantiateVerifier(bytes);
    const doc = readFileSync(new URL(PROD, vectors));
    const request = {
      document: doc.toString('base64'),
      nonce: randomNonce(),
      nowSecs: PROD_TIME_SECS,
      maxAgeSecs: 300,
      allowSimulated: false,
    };
    // A fresh random nonce is not the one the document echoes: refused, and the
    // verifier's message names the document's nonce (256 bytes) ...
    const wrong = verifyWith(verifier, request);
    expect(wrong.ok).toBe(false);
    const nonce = !wrong.ok ? /document nonce ([0-9a-f]+) differs/.exec(wrong.error)?.[1] : undefined;
    expect(nonce).toHaveLength(512);
    // ... with which it verifies, chained to AWS's root.
    const verdict = verifyWith(verifier, { ...request, nonce: nonce! });
    expect(verdict).toMatchObject({
      ok: true,
      simulated: false,
      moduleId: 'i-020b6af9246d90e92-enc0183d09086c24190',
      rootSha256: '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b',
      userData: null,
    });
    // Past its five minutes it is stale.
    const stale = verifyWith(verifier, { ...request, nonce: nonce!, nowSecs: PROD_TIME_SECS + 400 });
    expect(!stale.ok && stale.error).toMatch(/old/);
  });

  it('answers garbage with a verdict, not an exception, and keeps working', async () => {
    const verifier = await instantiateVerifier(readFileSync(wasm));
    for (let i = 0; i < 50; i++) {
      const verdict = verifyWith(verifier, {
        document: Buffer.from(crypto.getRandomValues(new Uint8Array(64 * i))).toString('base64'),
        nonce: randomNonce(),
        nowSecs: 1_800_000_000,
        maxAgeSecs: 300,
        allowSimulated: true,
      });
      expect(verdict.ok).toBe(false);
    }
  });
});

describe('judging a verdict against the contract', () => {
  const expected = {
    chainId: 31337,
    contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    operator: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    pcr0: 'ab'.repeat(48),
  };
  const verdict = (simulated: boolean, operator = expected.operator.toLowerCase()) => ({
    ok: true as const,
    simulated,
    pcr0: 'ab'.repeat(48),
    moduleId: 'i-test',
    timestampMs: 0,
    rootSha256: '',
    userData: {
      app: 'enclave-lottery',
      version: '0.1.0',
      chainId: 31337,
      contract: expected.contract.toLowerCase(),
      operator,
      keySource: 'generated' as const,
      keyInjection: false,
      rpcHosts: ['rpc.example.org:443'],
      rpcQuorum: 1,
    },
  });

  it('is green only for a real enclave whose operator is the contract’s', () => {
    expect(judge(verdict(false), expected).state).toBe('verified');
    // A simulated document never turns green, even when everything matches.
    expect(judge(verdict(true), expected).state).toBe('simulated');
    expect(judge(verdict(false, `0x${'11'.repeat(20)}`), expected).state).toBe('failed');
    expect(judge(verdict(false), { ...expected, operator: null }).state).toBe('failed');
    expect(judge(verdict(false), { ...expected, chainId: 1 }).state).toBe('failed');
    expect(judge({ ok: false, error: 'nope' }, expected).state).toBe('failed');
    expect(judge({ ...verdict(false), userData: null }, expected).state).toBe('failed');
  });

  it('is green only when the document’s PCR0 is the one the contract records', () => {
    // Another image with the right operator key: red, and the check says what the chain records.
    const other = judge({ ...verdict(false), pcr0: 'cd'.repeat(48) }, expected);
    expect(other.state).toBe('failed');
    const pcr = other.checks.find((c) => c.label === 'Enclave image (PCR0)');
    expect(pcr?.ok).toBe(false);
    expect(pcr?.detail).toBe(`the contract records PCR0 ${'ab'.repeat(48)}`);
    // No PCR0 on chain: nothing to compare with, so never green.
    expect(judge(verdict(false), { ...expected, pcr0: null }).state).toBe('failed');
    // Case does not matter; a simulated document with the right PCR0 stays amber.
    expect(judge(verdict(false), { ...expected, pcr0: 'AB'.repeat(48) }).state).toBe('verified');
    expect(judge(verdict(true), expected).state).toBe('simulated');
    expect(judge({ ...verdict(true), pcr0: 'cd'.repeat(48) }, expected).state).toBe('failed');
  });
});

describe('operator records from getConfig', () => {
  it('takes PCR0 from the first 48 bytes and a zero operator as none', () => {
    const pcrs = `0x${'AB'.repeat(48)}${'cd'.repeat(48)}` as const;
    expect(operatorRecordOf('0x70997970C51812dc3A010C7d01b50e0d17dc79C8', pcrs)).toEqual({
      operator: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      pcr0: 'ab'.repeat(48),
    });
    expect(operatorRecordOf('0x0000000000000000000000000000000000000000', '0x')).toEqual({ operator: null, pcr0: null });
  });

  it('names delays for people', () => {
    expect(formatDelay(86_400)).toBe('1 day');
    expect(formatDelay(172_800)).toBe('2 days');
    expect(formatDelay(3600)).toBe('1 hour');
    expect(formatDelay(300)).toBe('5 minutes');
    expect(formatDelay(3)).toBe('3 seconds');
    expect(formatDelay(1)).toBe('1 second');
  });
});
