#!/usr/bin/env node
// Write test/fixtures/torch/export/: seqlab word LMs (seeded random weights, a vocabulary built by
// seqlab from the fixture corpus's train split) exported under word_language_model's names, for
// `python3 scripts/torch-fixtures.py --check-export` to load into PyTorch and record its outputs.
//
//   npm run build && node scripts/torch-export-fixture.mjs && python3 scripts/torch-fixtures.py --check-export
//
// The tests never run this: they check that the committed files load, that PyTorch's outputs on
// them are seqlab's, and that re-exporting the loaded models gives the same bytes.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const seqlab = await import(new URL('../dist/src/index.js', import.meta.url).href);
const { setBackend, SequenceModel, MODEL_DEFAULTS, Rng, Vocabulary, readWordLMCorpus, exportWordLM } = seqlab;

const fixtures = fileURLToPath(new URL('../test/fixtures/torch/', import.meta.url));
const out = join(fixtures, 'export');

// name, cell, sizes, tie, and whether a tie is written once (safetensors' save_model form)
const RECIPES = [
  {
    name: 'lstm-tied',
    cell: 'lstm',
    nonlinearity: 'tanh',
    emb: 8,
    hidden: 8,
    layers: 2,
    tie: true,
    dedupeTied: false,
    seed: 1601,
  },
  {
    name: 'gru-tied-once',
    cell: 'gru',
    nonlinearity: 'tanh',
    emb: 8,
    hidden: 8,
    layers: 1,
    tie: true,
    dedupeTied: true,
    seed: 1602,
  },
  {
    name: 'rnn-relu',
    cell: 'rnn',
    nonlinearity: 'relu',
    emb: 6,
    hidden: 8,
    layers: 2,
    tie: false,
    dedupeTied: false,
    seed: 1603,
  },
];

await setBackend('wasm');
mkdirSync(out, { recursive: true });
const vocabulary = Vocabulary.build(readWordLMCorpus(join(fixtures, 'corpus')).train);
for (const r of RECIPES) {
  const config = {
    ...MODEL_DEFAULTS,
    cell: r.cell,
    nonlinearity: r.nonlinearity,
    inputSize: r.emb,
    hiddenSize: r.hidden,
    numLayers: r.layers,
    vocabSize: vocabulary.size,
    outputSize: vocabulary.size,
    tieWeights: r.tie,
  };
  const model = SequenceModel.random(config, new Rng(r.seed));
  const files = { weights: join(out, `${r.name}.safetensors`), vocab: join(out, `${r.name}.vocab.txt`) };
  await exportWordLM(model, vocabulary, files, { dedupeTied: r.dedupeTied });
  model.dispose();
  console.log(`${r.name}: ${files.weights}`);
}
