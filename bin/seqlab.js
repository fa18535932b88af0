#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm install` via the prepare script, or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('seqlab: not built yet; run `npm install` (or `npm run build`) in the seqlab directory\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
