#!/usr/bin/env node
// Agreement items from the shipped UD Portuguese treebanks (or the CoNLL-U files given): counts
// by distance, attractors, construction, verb role, cell, wrong-form source and treebank; the
// drop reasons; the time taken. With --sample N it also prints N items drawn with a fixed seed
// (--seed, default 1: the N items whose sha256 of "seed/id" sorts first) as a markdown table for
// a hand check (docs/agreement-ud-handcheck.md).
//
//   npm run build && node scripts/agreement-ud-stats.mjs [--sample 100 --seed 1] [FILE.conllu.gz …]
import { extractItems, DROP_REASONS, CONSTRUCTIONS } from '../dist/src/tasks/agreement-ud/extract.js';
import { readTreebanks, shippedTreebanks } from '../dist/src/tasks/agreement-ud/treebanks.js';
import { createHash } from 'node:crypto';
import { surfaceTokens } from '../dist/src/data/conllu.js';
import { DISTANCE_LABELS, distanceLabel } from '../dist/src/tasks/agreement-ud/score.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = args[i + 1];
  args.splice(i, 2);
  return Number(value);
};
const sample = option('--sample', 0);
const seed = option('--seed', 1);
const files = args.length > 0 ? args : shippedTreebanks();

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const t0 = performance.now();
const c0 = cpuMs();
const treebanks = readTreebanks(files);
const t1 = performance.now();
const c1 = cpuMs();
const ex = extractItems(treebanks);
const t2 = performance.now();
const c2 = cpuMs();

const words = treebanks.reduce((n, tb) => n + tb.sentences.reduce((m, s) => m + s.words.length, 0), 0);
const sentences = treebanks.reduce((n, tb) => n + tb.sentences.length, 0);
console.log(`# Agreement items from ${files.length} files (${sentences} sentences, ${words} words)\n`);
console.log(
  `read ${(t1 - t0).toFixed(0)} ms (cpu ${(c1 - c0).toFixed(0)} ms), ` +
    `extract ${(t2 - t1).toFixed(0)} ms (cpu ${(c2 - c1).toFixed(0)} ms)\n`,
);
console.log(`items: ${ex.items.length} of ${ex.candidates} nominal subjects (nsubj, nsubj:pass)\n`);

const table = (title, counts) => {
  const total = ex.items.length;
  console.log(`| ${title} | items | share |\n|---|---:|---:|`);
  for (const [k, n] of counts) console.log(`| ${k} | ${n} | ${((100 * n) / total).toFixed(1)} % |`);
  console.log('');
};
const countBy = (key, order) => {
  const m = new Map(order ? order.map((o) => [o, 0]) : []);
  for (const item of ex.items) for (const k of [].concat(key(item))) m.set(k, (m.get(k) ?? 0) + 1);
  return order ? [...m] : [...m].sort((a, b) => b[1] - a[1]);
};
table(
  'distance (tokens between)',
  countBy((i) => distanceLabel(i.distance), [...DISTANCE_LABELS]),
);
table(
  'attractors',
  countBy((i) => (i.attractors >= 3 ? '3+' : String(i.attractors)), ['0', '1', '2', '3+']),
);
table(
  'construction (an item may have several)',
  countBy((i) => i.constructions, [...CONSTRUCTIONS]),
);
table(
  'verb role',
  countBy((i) => i.verbRole),
);
table(
  'number',
  countBy((i) => i.number),
);
table(
  'cell',
  countBy((i) => i.cell),
);
table(
  'wrong form from',
  countBy((i) => i.wrongSource),
);
table(
  'treebank',
  countBy((i) => i.treebank),
);

console.log('| dropped | subjects |\n|---|---:|');
for (const r of DROP_REASONS) console.log(`| ${r} | ${ex.dropped[r]} |`);
console.log('');

if (sample > 0) {
  // the items whose sha256(seed/id) come first: a fixed draw that an extraction change disturbs
  // only where it adds or removes items
  const rank = (i) => createHash('sha256').update(`${seed}/${ex.items[i].id}`).digest('hex');
  const order = ex.items
    .map((_, i) => [rank(i), i])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([, i]) => i);
  console.log(`## ${sample} items drawn with seed ${seed}\n`);
  console.log('| # | id | sentence (subject head in [ ], verb in **…**) | correct → wrong |');
  console.log('|---:|---|---|---|');
  order.slice(0, sample).forEach((i, k) => {
    const item = ex.items[i];
    const { sentence, subject, verb } = ex.sources[i];
    const text = surfaceTokens(sentence)
      .map((t) => {
        if (t.first <= verb.id && verb.id <= t.last) return `**${t.form}**`;
        if (t.first <= subject.id && subject.id <= t.last) return `[${t.form}]`;
        return t.form;
      })
      .join(' ')
      .replace(/\|/g, '\\|');
    console.log(`| ${k + 1} | ${item.id} | ${text} | ${item.correct} → ${item.wrong} |`);
  });
}
