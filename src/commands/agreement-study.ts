import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LMConfig } from '../tasks/lm.js';
import { ensureUdCorpus, type UdCorpusManifest, type UdCorpusOptions } from '../tasks/agreement-ud/corpus.js';
import { readItems } from '../tasks/agreement-ud/items.js';
import { type AccuracySummary, requireCoverage, vocabularyCoverage } from '../tasks/agreement-ud/score.js';
import { loadLanguageModel } from '../training/torch-checkpoint.js';
import type { JacobianMode } from '../training/gradflow.js';
import { prepareOutDir } from '../runlog/rundir.js';
import { usageError } from '../util/errors.js';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from '../util/files.js';
import {
  type Baselines,
  type ItemCounts,
  type JacobianLink,
  agreementBaselines,
  itemCounts,
  itemScoreLines,
  modelOnItems,
} from './agreement.js';
import { type CompareOptions, type CompareResult, compareRun } from './compare.js';

/**
 * `seqlab compare --task agreement-ud`: the Portuguese agreement study in one command.
 *
 *   1. the LM corpus and its items from the shipped UD treebanks (tasks/agreement-ud/corpus.ts),
 *      built into `corpus` (default <out>/corpus) or reused when that directory holds the same build;
 *   2. one word LM per cell on its train text (compareRun: same data, seed and schedule);
 *   3. each LM on the test items and their nonce twins (agreement.ts: accuracy by distance,
 *      attractors, construction, originals vs nonce; ‖∂h_verb/∂h_subject‖ per item), written
 *      to the run directory as agreement.json and agreement-scores.jsonl;
 *   4. the baselines on the same items: Kneser–Ney and unigram frequencies counted on the
 *      same train text with the same vocabulary;
 *   5. compare.json with an `agreement` section, which the report reads.
 */
export const AGREEMENT_UD_TASK = 'agreement-ud';

export interface AgreementStudyOptions extends Omit<CompareOptions, 'task' | 'taskOptions' | 'seqLens'> {
  /** The LM task's settings (vocabulary, batching); its corpus is the study's. */
  lm: Partial<Omit<LMConfig, 'corpus' | 'vocabulary'>>;
  /** Evaluate valid/test on their first N tokens only (the LM task's evalTokens). */
  evalSize?: number;
  /** Where the corpus is built or found; null = <out>/corpus. */
  corpus: string | null;
  corpusOptions: Partial<UdCorpusOptions>;
  /** ‖∂h_verb/∂h_subject‖ per item. Default true. */
  jacobian: boolean;
  /** LSTM mode of the per-item Jacobians; default: the training probes' (train.gradflowMode, else 'h'). */
  jacobianMode?: JacobianMode;
  ngramOrder: number;
  /** Study progress (corpus, evaluations), one message at a time. */
  onMessage?: (message: string) => void;
}

export interface StudyModel {
  cell: string;
  hiddenSize: number;
  params: number;
  steps: number;
  validPerplexity: number | null;
  testPerplexity: number | null;
  /** The training probes' last Jacobian summary (T = the probe's length). */
  probe: { T: number; horizon: number | null; decayPerStep: number | null } | null;
  accuracy: AccuracySummary;
  jacobian: JacobianLink | null;
  runDir: string;
  elapsedMs: { train: number; score: number; jacobian: number };
}

export interface AgreementStudy {
  corpus: { dir: string; built: boolean; manifest: UdCorpusManifest };
  vocabulary: { size: number; fingerprint: string };
  items: ItemCounts;
  models: StudyModel[];
  baselines: Baselines;
  elapsedMs: { corpus: number; train: number; eval: number; baselines: number; total: number };
}

export interface AgreementStudyResult {
  compare: CompareResult;
  study: AgreementStudy;
}

const testPerplexity = (runDir: string): number | null => {
  const path = join(runDir, 'metrics.json');
  if (!existsSync(path)) return null;
  const m = readJsonFile(path, 'run metrics') as { test?: { metrics?: { perplexity?: unknown } } };
  const p = m.test?.metrics?.perplexity;
  return typeof p === 'number' ? p : null;
};

export async function agreementStudy(opts: AgreementStudyOptions): Promise<AgreementStudyResult> {
  const t0 = performance.now();
  const out = opts.out;
  if (out === undefined) throw usageError((field) => `the agreement study needs an output directory (${field('out')})`);
  prepareOutDir(out, opts.overwrite);
  const dir = opts.corpus ?? join(out, 'corpus');
  const { manifest, built } = ensureUdCorpus(dir, opts.corpusOptions);
  const t1 = performance.now();
  opts.onMessage?.(`Portuguese LM corpus and agreement items in ${dir} (${built ? 'built' : 'up to date'})`);

  const compare = await compareRun({
    ...opts,
    task: 'lm',
    taskOptions: { lm: { ...opts.lm, corpus: dir }, evalSize: opts.evalSize },
    seqLens: [undefined],
    // the corpus directory may live in `out`: the runs go beside it
    overwrite: true,
  });
  const t2 = performance.now();

  const items = readItems(join(dir, 'items.jsonl'));
  const models: StudyModel[] = [];
  let baselines: Baselines | null = null;
  let vocabulary: AgreementStudy['vocabulary'] | null = null;
  let counts: ItemCounts | null = null;
  let baselineMs = 0;
  const jacobianMode = opts.jacobianMode ?? opts.train.gradflowMode ?? 'h';
  for (const row of compare.rows) {
    const runDir = row.runDir!;
    const ck = loadLanguageModel({ checkpoint: runDir });
    try {
      const vocab = ck.vocabulary;
      const coverage = vocabularyCoverage(items, vocab);
      requireCoverage(coverage, items.length, vocab, ck.source);
      if (vocabulary === null) {
        vocabulary = { size: vocab.size, fingerprint: vocab.fingerprint };
        counts = itemCounts(items, coverage);
        opts.onMessage?.(`baselines: Kneser–Ney ${opts.ngramOrder}-gram and frequencies on ${dir}/train.txt`);
        const tb = performance.now();
        baselines = agreementBaselines(dir, {}, vocab, items, coverage, opts.ngramOrder);
        baselineMs = performance.now() - tb;
      } else if (vocab.fingerprint !== vocabulary.fingerprint) {
        throw new Error(`${row.cell}'s vocabulary differs from the first run's: the runs did not share their data`);
      }
      opts.onMessage?.(`${row.cell}: ${coverage.scored.length} items (${coverage.oov.length} out of vocabulary)`);
      const onItems = await modelOnItems(ck.model, vocab, items, coverage, {
        jacobian: opts.jacobian,
        jacobianMode,
        batchSize: 128,
      });
      writeFileAtomic(join(runDir, 'agreement-scores.jsonl'), itemScoreLines(items, coverage, onItems));
      const g = row.gradflow;
      const model: StudyModel = {
        cell: row.cell,
        hiddenSize: row.hiddenSize,
        params: row.params,
        steps: row.steps,
        validPerplexity: row.metrics.perplexity ?? null,
        testPerplexity: testPerplexity(runDir),
        probe: g ? { T: g.T, horizon: g.horizon, decayPerStep: g.decayPerStep } : null,
        accuracy: onItems.accuracy,
        jacobian: onItems.jacobian,
        runDir,
        elapsedMs: { train: row.elapsedMs, score: onItems.elapsedMs.score, jacobian: onItems.elapsedMs.jacobian },
      };
      writeJsonAtomic(join(runDir, 'agreement.json'), { items: counts, ...model });
      models.push(model);
    } finally {
      ck.model.dispose();
    }
  }
  const t3 = performance.now();
  const study: AgreementStudy = {
    corpus: { dir, built, manifest },
    vocabulary: vocabulary!,
    items: counts!,
    models,
    baselines: baselines!,
    elapsedMs: {
      corpus: t1 - t0,
      train: t2 - t1,
      eval: t3 - t2 - baselineMs,
      baselines: baselineMs,
      total: t3 - t0,
    },
  };
  // compare.json gains the study, for `seqlab report`
  const comparePath = join(out, 'compare.json');
  const saved = readJsonFile(comparePath, 'comparison') as Record<string, unknown>;
  writeJsonAtomic(comparePath, { ...saved, task: AGREEMENT_UD_TASK, agreement: study });
  return { compare: { ...compare, task: AGREEMENT_UD_TASK }, study };
}
