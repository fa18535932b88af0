import { existsSync } from 'node:fs';
import { CORPUS_DEFAULTS, encodeCorpus, resolveCorpus, type CorpusOptions } from '../data/corpus.js';
import { KneserNeyModel, NGRAM_DEFAULTS } from '../data/ngram.js';
import type { Vocabulary } from '../data/vocab.js';
import type { SequenceModel } from '../models/model.js';
import {
  CONSTRUCTIONS,
  DROP_REASONS,
  extractItems,
  finiteVerbs,
  requireNumber,
  type Extraction,
} from '../tasks/agreement-ud/extract.js';
import { ensureUdCorpus, type UdCorpusManifest, type UdCorpusOptions } from '../tasks/agreement-ud/corpus.js';
import { FormTable, type RuleFallback } from '../tasks/agreement-ud/forms.js';
import { type AgreementItem, readItems, writeItems } from '../tasks/agreement-ud/items.js';
import {
  ATTRACTOR_LABELS,
  type AccuracyCell,
  type AccuracySummary,
  type Coverage,
  DISTANCE_LABELS,
  type PairLogProbs,
  UnigramLM,
  accuracyByDecade,
  distanceLabel,
  isPassed,
  requireCoverage,
  summarizeAccuracy,
  tokenLMScores,
  vocabularyCoverage,
} from '../tasks/agreement-ud/score.js';
import { readTreebanks, shippedTreebanks, treebankName } from '../tasks/agreement-ud/treebanks.js';
import { type LanguageModelSource, loadLanguageModel } from '../training/torch-checkpoint.js';
import type { JacobianMode } from '../training/gradflow.js';
import { type SubjectVerbJacobian, scorePairs, subjectVerbJacobians } from '../training/minimal-pairs.js';
import { positiveInt, usageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/files.js';
import { stripUndefined } from '../util/objects.js';

/**
 * `seqlab agreement extract` and `seqlab agreement eval`: agreement items from UD treebanks,
 * and a word LM's accuracy on them beside two baselines and the gradient-flow link.
 */

// ---------------------------------------------------------------------------------------------
// extract

/** Which rule fallback extract uses: 'auto' = Portuguese rules when every treebank is Portuguese (pt_*). */
export type RulesChoice = 'auto' | 'pt' | 'none';
export const RULES_CHOICES: readonly RulesChoice[] = ['auto', 'pt', 'none'];

export interface AgreementExtractOptions {
  /** CoNLL-U files (.conllu or .conllu.gz); null: the shipped Portuguese treebanks. */
  treebanks: string[] | null;
  /** Write the items here (JSONL); null: count only. */
  out: string | null;
  /** Lower-case the tokens. Default true. */
  lowercase: boolean;
  /** Rule fallback for wrong forms the treebanks' table lacks. Default 'auto'. */
  rules: RulesChoice;
  onProgress?: (message: string) => void;
}

export const AGREEMENT_EXTRACT_DEFAULTS: Readonly<Omit<AgreementExtractOptions, 'onProgress'>> = {
  treebanks: null,
  out: null,
  lowercase: true,
  rules: 'auto',
};

/** A count per label, in a fixed order. */
export interface CountRow {
  label: string;
  items: number;
}

export interface AgreementExtractResult {
  treebanks: { name: string; path: string; sentences: number; words: number }[];
  rules: RuleFallback;
  /** Nominal subjects seen (nsubj, nsubj:pass). */
  candidates: number;
  items: number;
  byDistance: CountRow[];
  byAttractors: CountRow[];
  /** An item with several constructions counts in each. */
  byConstruction: CountRow[];
  byNumber: CountRow[];
  wrongForms: CountRow[];
  /** Subjects left out, by the first check they failed. */
  dropped: CountRow[];
  out: string | null;
  elapsedMs: { read: number; extract: number; total: number };
}

function countRows(labels: readonly string[], keysOf: (item: AgreementItem) => string[], items: AgreementItem[]) {
  const counts = new Map(labels.map((l) => [l, 0]));
  for (const item of items) for (const k of keysOf(item)) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([label, n]) => ({ label, items: n }));
}

/** The counts `extract` prints, from an extraction. */
export function extractionCounts(
  ex: Extraction,
): Pick<
  AgreementExtractResult,
  'byDistance' | 'byAttractors' | 'byConstruction' | 'byNumber' | 'wrongForms' | 'dropped'
> {
  const items = ex.items;
  const known = <T>(v: T | null): T[] => (v === null ? [] : [v]);
  return {
    byDistance: countRows(DISTANCE_LABELS, (i) => known(i.distance).map(distanceLabel), items),
    byAttractors: countRows(ATTRACTOR_LABELS, (i) => known(i.attractors).map((a) => (a >= 3 ? '3+' : `${a}`)), items),
    byConstruction: countRows(CONSTRUCTIONS, (i) => i.constructions, items),
    byNumber: countRows(['sg', 'pl'], (i) => known(i.number), items),
    wrongForms: countRows(['table', 'rule'], (i) => known(i.wrongSource), items),
    dropped: DROP_REASONS.map((r) => ({ label: r, items: ex.dropped[r] })),
  };
}

/**
 * Items from UD treebanks (extract.ts): read, extract, count, and write them as JSONL. The
 * rule fallback is Portuguese-only; other languages get their wrong forms from the treebanks'
 * own form table alone.
 */
export function agreementExtract(options: Partial<AgreementExtractOptions> = {}): AgreementExtractResult {
  const opts = { ...AGREEMENT_EXTRACT_DEFAULTS, ...stripUndefined(options) };
  if (!RULES_CHOICES.includes(opts.rules))
    throw usageError(
      (field) => `unknown ${field('rules')} ${JSON.stringify(opts.rules)}; use ${RULES_CHOICES.join(', ')}`,
    );
  const paths = opts.treebanks ?? shippedTreebanks();
  if (paths.length === 0) throw usageError((field) => `${field('treebanks')} is empty; give at least one CoNLL-U file`);
  const t0 = performance.now();
  const treebanks = readTreebanks(paths);
  const t1 = performance.now();
  const isPortuguese = treebanks.every((tb) => treebankName(tb.path).startsWith('pt_'));
  const rules: RuleFallback = opts.rules === 'pt' || (opts.rules === 'auto' && isPortuguese) ? 'pt' : null;
  // bad input gets its one line alone: check before saying anything
  for (const tb of treebanks) requireNumber(tb);
  opts.onProgress?.(`extracting items from ${treebanks.length} file(s)${rules ? ' (Portuguese rule fallback)' : ''}`);
  const ex = extractItems(treebanks, { lowercase: opts.lowercase, rules }, FormTable.build(finiteVerbs(treebanks)));
  if (opts.out !== null) writeItems(opts.out, ex.items);
  const t2 = performance.now();
  return {
    treebanks: treebanks.map((tb) => ({
      name: tb.name,
      path: tb.path,
      sentences: tb.sentences.length,
      words: tb.sentences.reduce((n, s) => n + s.words.length, 0),
    })),
    rules,
    candidates: ex.candidates,
    items: ex.items.length,
    ...extractionCounts(ex),
    out: opts.out,
    elapsedMs: { read: t1 - t0, extract: t2 - t1, total: t2 - t0 },
  };
}

// ---------------------------------------------------------------------------------------------
// corpus

export interface AgreementCorpusResult {
  dir: string;
  /** False when the directory already held this build (same inputs, options and builder). */
  built: boolean;
  manifest: UdCorpusManifest;
  elapsedMs: number;
}

/**
 * The LM corpus and its test items (tasks/agreement-ud/corpus.ts) as a directory that `--corpus DIR`
 * reads: built from the treebanks (default: the shipped ones), or left alone when up to date.
 */
export function agreementCorpus(dir: string, options: Partial<UdCorpusOptions> = {}): AgreementCorpusResult {
  const t0 = performance.now();
  const { manifest, built } = ensureUdCorpus(dir, stripUndefined(options));
  return { dir, built, manifest, elapsedMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// eval

export interface AgreementEvalOptions {
  /**
   * The word LM: a seqlab lm run (`{ checkpoint }`: its directory or checkpoint.json), or PyTorch's
   * word_language_model files (`{ weights, vocab }`), as loadLanguageModel reads them.
   */
  model: LanguageModelSource;
  /** An items file (JSONL, docs/agreement-items.md). */
  items: string;
  /**
   * The LM's corpus, for the baselines' train text (as the lm task's corpus): null = the one a
   * seqlab checkpoint was trained on (PyTorch's files name none: no baselines then). Default null.
   */
  corpus: string | null;
  /** Score the Kneser–Ney and frequency baselines. Default true. */
  baselines: boolean;
  /** n of the Kneser–Ney baseline. Default 5. */
  ngramOrder: number;
  /** Compute ‖∂h_verb/∂h_subject‖ per item. Default true. */
  jacobian: boolean;
  /** LSTM Jacobian mode. Default 'h'. */
  jacobianMode: JacobianMode;
  /** Prefixes per forward pass. Default 128. */
  batchSize: number;
  /** Write one JSON line per item (its scores) here; null: none. */
  scoresOut: string | null;
  onProgress?: (message: string) => void;
  /** Stop between batches once aborted: the promise rejects with Interrupted (nothing is written). */
  signal?: AbortSignal;
}

export const AGREEMENT_EVAL_DEFAULTS: Readonly<
  Omit<AgreementEvalOptions, 'model' | 'items' | 'onProgress' | 'signal'>
> = {
  corpus: null,
  baselines: true,
  ngramOrder: NGRAM_DEFAULTS.order,
  jacobian: true,
  jacobianMode: 'h',
  batchSize: 128,
  scoresOut: null,
};

export interface ItemCounts {
  total: number;
  scored: number;
  /** Left out: a verb form outside the model's vocabulary. */
  oov: number;
  oovShare: number;
  /** Of oov: left out for a word of the prefix (a vocabulary with no <unk>). */
  unknownPrefix: number;
  originals: number;
  nonce: number;
}

export interface JacobianLink {
  mode: JacobianMode;
  /** Which norm the bins use: spectral when computed. */
  norm: 'spectral' | 'frobenius';
  /** LM accuracy by the decade of ‖∂h_verb/∂h_subject‖, items at distance ≥ 1 (distance 0 is the identity). */
  byNorm: AccuracyCell[];
  /** Geometric mean of the norm per distance bin (items at distance ≥ 1). */
  byDistance: { label: string; n: number; geometricMean: number | null }[];
}

export interface Baselines {
  /** Interpolated modified Kneser–Ney on the LM's train text and vocabulary. */
  ngram: { order: number; accuracy: AccuracySummary; testPerplexity: number };
  /** The more frequent of the two forms in the LM's train text. */
  frequency: { accuracy: AccuracySummary };
  /** The corpus their counts come from. */
  corpus: string;
  trainTokens: number;
}

/** A word LM on agreement items: the numbers `agreement eval` prints, for one model. */
export interface ModelOnItems {
  accuracy: AccuracySummary;
  jacobian: JacobianLink | null;
  /** Per scored item, in `coverage.scored` order. */
  scores: PairLogProbs[];
  jacobians: SubjectVerbJacobian[] | null;
}

export interface AgreementEvalResult {
  model: {
    /** The checkpoint or weights file read. */
    source: string;
    cell: string;
    hiddenSize: number;
    numLayers: number;
    vocabSize: number;
    /** The training step of a seqlab checkpoint; null for PyTorch's files. */
    step: number | null;
  };
  itemsFile: string;
  items: ItemCounts;
  lm: { accuracy: AccuracySummary; jacobian: JacobianLink | null };
  baselines: Baselines | null;
  /** Why the baselines were left out, when they were. */
  baselinesSkipped: string | null;
  elapsedMs: { load: number; score: number; jacobian: number; baselines: number; total: number };
}

export function itemCounts(items: readonly AgreementItem[], coverage: Coverage): ItemCounts {
  const originals = coverage.scored.filter((i) => items[i].variant === 0).length;
  return {
    total: items.length,
    scored: coverage.scored.length,
    oov: coverage.oov.length,
    oovShare: coverage.oovShare,
    unknownPrefix: coverage.unknownPrefix,
    originals,
    nonce: coverage.scored.length - originals,
  };
}

function jacobianLink(
  scores: readonly PairLogProbs[],
  jacobians: readonly SubjectVerbJacobian[],
  mode: JacobianMode,
): JacobianLink {
  const spectral = jacobians.every((j) => j.spectral !== null);
  const norm = (j: SubjectVerbJacobian) => (j.gap === 0 ? null : spectral ? j.spectral : j.frobenius);
  const byBin = new Map(DISTANCE_LABELS.map((l) => [l, [] as number[]]));
  jacobians.forEach((j) => {
    const x = norm(j);
    if (x !== null && x > 0) byBin.get(distanceLabel(j.gap))!.push(Math.log(x));
  });
  return {
    mode,
    norm: spectral ? 'spectral' : 'frobenius',
    byNorm: accuracyByDecade(jacobians.map(norm), scores),
    byDistance: [...byBin]
      .filter(([label]) => label !== '0')
      .map(([label, logs]) => ({
        label,
        n: logs.length,
        geometricMean: logs.length === 0 ? null : Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length),
      })),
  };
}

/**
 * A word LM's scores on the covered items (scorePairs), its accuracy, and with `jacobian` the
 * gradient-flow link of every item that names its subject. Shared by eval and the study.
 */
export async function modelOnItems(
  model: SequenceModel,
  vocab: Vocabulary,
  items: readonly AgreementItem[],
  coverage: Coverage,
  opts: Pick<AgreementEvalOptions, 'jacobian' | 'jacobianMode' | 'batchSize' | 'onProgress' | 'signal'>,
): Promise<ModelOnItems & { elapsedMs: { score: number; jacobian: number } }> {
  const t0 = performance.now();
  const scored = coverage.scored.map((i) => items[i]);
  const scores = await scorePairs(model, vocab, scored, { batchSize: opts.batchSize, signal: opts.signal });
  const t1 = performance.now();
  let jacobians: SubjectVerbJacobian[] | null = null;
  let jacobian: JacobianLink | null = null;
  const withSubject = scored.every((item) => item.subjectIndex !== null);
  if (opts.jacobian && withSubject && scored.length > 0) {
    opts.onProgress?.(`‖∂h_verb/∂h_subject‖ for ${scored.length} items`);
    jacobians = await subjectVerbJacobians(
      model,
      vocab,
      scored.map((item) => ({ prefix: item.prefix, subjectIndex: item.subjectIndex as number })),
      { mode: opts.jacobianMode, signal: opts.signal },
    );
    jacobian = jacobianLink(scores, jacobians, opts.jacobianMode);
  }
  const t2 = performance.now();
  return {
    accuracy: summarizeAccuracy(items, coverage.scored, scores),
    jacobian,
    scores,
    jacobians,
    elapsedMs: { score: t1 - t0, jacobian: t2 - t1 },
  };
}

/** The LM's text as the checkpoint's task read it (its corpus and settings), or why it cannot be found. */
function checkpointCorpus(task: Record<string, unknown> | null): { corpus: string; options: CorpusOptions } | string {
  if (task === null || typeof task.corpus !== 'string')
    return 'the model does not name the corpus it was trained on (give the corpus to count the baselines on)';
  const corpus = task.corpus;
  if (corpus !== 'brown' && !existsSync(corpus)) return `the checkpoint's corpus ${corpus} is not there`;
  const options: CorpusOptions = {
    lowercase: typeof task.lowercase === 'boolean' ? task.lowercase : CORPUS_DEFAULTS.lowercase,
    tokenizer: (task.tokenizer as CorpusOptions['tokenizer']) ?? CORPUS_DEFAULTS.tokenizer,
    eos: (task.eos as CorpusOptions['eos']) ?? CORPUS_DEFAULTS.eos,
  };
  return { corpus, options };
}

/**
 * The baselines on the covered items: Kneser–Ney and unigram frequencies counted on the train
 * split of `corpus` encoded with the LM's vocabulary (the same ids, the same <unk>s).
 */
export function agreementBaselines(
  corpus: string,
  corpusOptions: Partial<CorpusOptions>,
  vocab: Vocabulary,
  items: readonly AgreementItem[],
  coverage: Coverage,
  order: number = NGRAM_DEFAULTS.order,
): Baselines {
  const ids = encodeCorpus(resolveCorpus(corpus, corpusOptions), vocab);
  const scored = coverage.scored.map((i) => items[i]);
  const kn = KneserNeyModel.train(ids.train, { order, vocabSize: vocab.size });
  const unigram = new UnigramLM(ids.train, vocab.size);
  return {
    ngram: {
      order,
      accuracy: summarizeAccuracy(items, coverage.scored, tokenLMScores(kn, vocab, scored)),
      testPerplexity: kn.evaluate(ids.test).perplexity,
    },
    frequency: { accuracy: summarizeAccuracy(items, coverage.scored, tokenLMScores(unigram, vocab, scored)) },
    corpus,
    trainTokens: ids.train.length,
  };
}

/** One JSON line per item: its scores under the LM, and its Jacobian norm (null when left out). */
export function itemScoreLines(
  items: readonly AgreementItem[],
  coverage: Coverage,
  onItems: Pick<ModelOnItems, 'scores' | 'jacobians'>,
): string {
  const at = new Map(coverage.scored.map((i, j) => [i, j]));
  return `${items
    .map((item, i) => {
      const j = at.get(i);
      const s = j === undefined ? null : onItems.scores[j];
      const jac = j === undefined ? null : (onItems.jacobians?.[j] ?? null);
      return JSON.stringify({
        id: item.id,
        variant: item.variant,
        distance: item.distance,
        attractors: item.attractors,
        oov: j === undefined,
        logpCorrect: s?.correct ?? null,
        logpWrong: s?.wrong ?? null,
        passed: s === null ? null : isPassed(s),
        jacobianSpectral: jac?.spectral ?? null,
        jacobianFrobenius: jac?.frobenius ?? null,
      });
    })
    .join('\n')}\n`;
}

/**
 * `seqlab agreement eval`: load the checkpoint and the items, leave out the items whose forms
 * the vocabulary lacks (refusing when most are), score the rest, the gradient-flow link and
 * the baselines.
 */
export async function agreementEval(
  options: Partial<AgreementEvalOptions> & Pick<AgreementEvalOptions, 'model' | 'items'>,
): Promise<AgreementEvalResult> {
  const opts: AgreementEvalOptions = {
    ...AGREEMENT_EVAL_DEFAULTS,
    ...stripUndefined(options),
    model: options.model,
    items: options.items,
  };
  positiveInt('batchSize', opts.batchSize);
  const t0 = performance.now();
  const items = readItems(opts.items);
  const lm = loadLanguageModel(opts.model);
  try {
    const vocab = lm.vocabulary;
    const coverage = vocabularyCoverage(items, vocab);
    requireCoverage(coverage, items.length, vocab, lm.source);
    const t1 = performance.now();
    opts.onProgress?.(`scoring ${coverage.scored.length} items (${coverage.oov.length} out of vocabulary)`);
    const onItems = await modelOnItems(lm.model, vocab, items, coverage, opts);
    if (opts.scoresOut !== null) writeFileAtomic(opts.scoresOut, itemScoreLines(items, coverage, onItems));
    const t2 = performance.now();
    let baselines: Baselines | null = null;
    let baselinesSkipped: string | null = opts.baselines ? null : 'not asked for';
    if (opts.baselines) {
      const source = opts.corpus !== null ? { corpus: opts.corpus, options: {} } : checkpointCorpus(lm.taskConfig);
      if (typeof source === 'string') baselinesSkipped = source;
      else {
        opts.onProgress?.(`baselines: Kneser–Ney ${opts.ngramOrder}-gram and frequencies on ${source.corpus}`);
        baselines = agreementBaselines(source.corpus, source.options, vocab, items, coverage, opts.ngramOrder);
      }
    }
    const t3 = performance.now();
    const { config } = lm.model;
    return {
      model: {
        source: lm.source,
        cell: config.cell,
        hiddenSize: config.hiddenSize,
        numLayers: config.numLayers,
        vocabSize: vocab.size,
        step: lm.step,
      },
      itemsFile: opts.items,
      items: itemCounts(items, coverage),
      lm: { accuracy: onItems.accuracy, jacobian: onItems.jacobian },
      baselines,
      baselinesSkipped,
      elapsedMs: {
        load: t1 - t0,
        score: onItems.elapsedMs.score,
        jacobian: onItems.elapsedMs.jacobian,
        baselines: t3 - t2,
        total: t3 - t0,
      },
    };
  } finally {
    lm.model.dispose();
  }
}
