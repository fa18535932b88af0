#!/usr/bin/env node
// Build the Portuguese LM corpus and its agreement items from the shipped UD treebanks into a
// directory (train.txt, valid.txt, test.txt, items.jsonl, manifest.json, README.md), or leave it
// as it is when it already holds a build of the same inputs and options.
//
//   npm run build && node scripts/build-ud-pt.mjs OUT_DIR [--seed 1] [--nonce 5] [--cased]
import { ensureUdCorpus } from '../dist/src/tasks/agreement-ud/corpus.js';

const args = process.argv.slice(2);
const value = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const options = {};
const seed = value('--seed');
const nonce = value('--nonce');
if (seed !== undefined) options.seed = seed;
if (nonce !== undefined) options.nonce = nonce;
const cased = args.indexOf('--cased');
if (cased >= 0) {
  options.lowercase = false;
  args.splice(cased, 1);
}
if (args.length !== 1) {
  console.error('usage: node scripts/build-ud-pt.mjs OUT_DIR [--seed N] [--nonce N] [--cased]');
  process.exit(2);
}
try {
  const t0 = performance.now();
  const { manifest, built } = ensureUdCorpus(args[0], options);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${built ? 'built' : 'already up to date'}: ${args[0]} (${secs} s)`);
  for (const [split, c] of Object.entries(manifest.counts)) {
    console.log(`${split.padEnd(5)} ${c.documents} documents, ${c.sentences} sentences, ${c.tokens} tokens`);
  }
  console.log(`items: ${manifest.items.originals} test items + ${manifest.items.twins} nonce twins`);
} catch (e) {
  if (e.name !== 'SeqlabError') throw e;
  console.error(e.message);
  process.exit(3);
}
