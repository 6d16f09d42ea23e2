// Compiles the Solidity sources under abi/contracts with the pinned solc-js and
// writes one artifact per contract under abi/artifacts: ABI, creation and runtime
// bytecode, compiler version and settings, and the SHA-256 of the source. The
// output is deterministic, so `--check` can fail CI when a committed artifact is
// stale.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, '.tools', 'node_modules', 'noop.js'));
const solc = require('solc');

// Every contract we build: source file -> contract name -> artifact path.
const CONTRACTS = [
  { source: 'abi/contracts/Lottery.sol', name: 'Lottery', out: 'abi/artifacts/Lottery.json' },
  { source: 'abi/contracts/test/HostilePlayer.sol', name: 'HostilePlayer', out: 'abi/artifacts/test/HostilePlayer.json' },
];

// Cancun: transient storage (the reentrancy lock) and PUSH0, available on mainnet
// and the major L2s. The optimizer runs are tuned for call cost, not deploy cost.
const SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 10000 },
  metadata: { bytecodeHash: 'ipfs' },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

const check = process.argv.includes('--check');
const sources = {};
for (const c of CONTRACTS) sources[c.source] = { content: readFileSync(join(root, c.source), 'utf8') };

const output = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings: SETTINGS })));
const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
for (const e of output.errors ?? []) process.stderr.write(e.formattedMessage + '\n');
if (errors.length > 0) process.exit(1);
if ((output.errors ?? []).length > 0) {
  console.error('error: the compiler reported warnings; fix them (artifacts must build cleanly)');
  process.exit(1);
}

let stale = 0;
for (const c of CONTRACTS) {
  const compiled = output.contracts[c.source][c.name];
  const artifact = {
    contractName: c.name,
    sourceName: c.source,
    sourceSha256: createHash('sha256').update(sources[c.source].content).digest('hex'),
    compiler: { name: 'solc', version: solc.version(), settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata } },
    abi: compiled.abi,
    bytecode: '0x' + compiled.evm.bytecode.object,
    deployedBytecode: '0x' + compiled.evm.deployedBytecode.object,
  };
  const text = JSON.stringify(artifact, null, 2) + '\n';
  const path = join(root, c.out);
  if (check) {
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
      console.error(`stale: ${c.out} does not match ${c.source}; run scripts/build-contract and commit the result`);
      stale += 1;
    } else {
      console.error(`up to date: ${c.out}`);
    }
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    const size = (compiled.evm.deployedBytecode.object.length / 2) | 0;
    console.error(`wrote ${relative(root, path)} (runtime ${size} bytes, solc ${solc.version()})`);
  }
}
process.exit(stale > 0 ? 1 : 0);
