// Vite builds the page into dist/ (served by host-proxy --frontend-dir); Vitest runs
// the unit tests (src/**/*.test.ts) in Node.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The contract's ABI comes from the committed artifact, never a hand copy.
const artifacts = fileURLToPath(new URL('../abi/artifacts', import.meta.url));
// `npm run dev` talks to a local host-proxy (scripts/demo serves one on :6080).
const api = process.env.HOST_PROXY_URL ?? 'http://127.0.0.1:6080';

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { alias: { '@artifacts': artifacts } },
  json: { namedExports: true, stringify: false },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // One small bundle: report its gzip size, warn well before it gets heavy.
    reportCompressedSize: true,
    chunkSizeWarningLimit: 250,
  },
  server: {
    fs: { allow: ['.', artifacts] },
    proxy: {
      '/api': api,
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
