import type { Argv } from 'yargs';
import { AGREEMENT_UD_TASK, type AgreementStudyResult, agreementStudy } from '../commands/agreement-study.js';
import { parseCells } from '../commands/compare.js';
import { NGRAM_DEFAULTS } from '../data/ngram.js';
import { TRAIN_DEFAULTS } from '../training/config.js';
import { usageError } from '../util/errors.js';
import { fmt, table } from '../util/format.js';
import { renderAccuracy, renderJacobianLink } from './agreement.js';
import { noteBackend, printJson, startBackend } from './common.js';
import { COMPARE_PRESETS, parseTrainArgs, resolveOptions, timestamp } from './options.js';
import { ProgressReporter } from './progress.js';
import { reportAfterRun } from './report.js';

/**
 * `seqlab compare --task agreement-ud`: the compare command's flags, read as a word LM on the
 * Portuguese corpus (its own defaults: COMPARE_PRESETS['agreement-ud']); `--corpus DIR` is where
 * the corpus is built or found (default <out>/corpus).
 */
export async function agreementStudyCommand(argv: Awaited<Argv['argv']>): Promise<void> {
  const a = argv as Record<string, unknown>;
  if (a['seq-len'] !== undefined)
    throw usageError('--seq-len does not apply to --task agreement-ud; use --bptt for the truncated-BPTT length');
  if (a.seeds !== undefined)
    throw usageError('--seeds does not apply to --task agreement-ud; run the study once per --seed N');
  const merged = resolveOptions(a, { seed: TRAIN_DEFAULTS.seed, ...COMPARE_PRESETS[AGREEMENT_UD_TASK] });
  const base = parseTrainArgs({ ...merged, task: 'lm' });
  // as train: --epochs sets the length (a --steps given caps it), and evaluation comes once an epoch
  if (base.epochs !== undefined && a.steps === undefined) (base.train as { steps?: number }).steps = undefined;
  if (a['eval-every'] === undefined) (base.train as { evalEvery?: number }).evalEvery = undefined;
  const cells = parseCells(String(a.cells));
  const out = (a.out as string | undefined) ?? `runs/compare-${AGREEMENT_UD_TASK}-${timestamp()}`;
  const { corpus: _corpus, ...lm } = base.taskOptions.lm;
  const quiet = Boolean(a.quiet);
  const wantsReport = Boolean(merged.report);
  const backend = await startBackend(String(a.backend));
  let progress: ProgressReporter | null = null;
  let current = -1;
  const result = await agreementStudy({
    cells,
    model: base.model,
    matchParams: Boolean(a['match-params']),
    train: base.train,
    epochs: base.epochs,
    decayUnit: base.decayUnit,
    lm,
    evalSize: base.taskOptions.evalSize,
    corpus: (a.corpus as string | undefined) ?? null,
    corpusOptions: {},
    jacobian: true,
    ngramOrder: NGRAM_DEFAULTS.order,
    out,
    overwrite: base.overwrite,
    backend,
    pairs: wantsReport,
    onMessage: (m) => {
      progress?.done();
      if (!quiet) process.stderr.write(`seqlab: ${m}\n`);
    },
    onProgress: (run, p) => {
      noteBackend(backend, quiet);
      if (run.index !== current) {
        progress?.done();
        current = run.index;
        const tokens = (base.train.batchSize ?? 0) * lm.bptt;
        progress = new ProgressReporter(
          `[${run.index + 1}/${run.total}] ${run.cell}`,
          p.steps,
          process.stderr,
          !quiet,
          tokens,
        );
      }
      if (Number.isFinite(p.loss)) progress?.update(p.step, `loss ${fmt(p.loss)}`);
    },
  });
  (progress as ProgressReporter | null)?.done();
  const report = wantsReport ? await reportAfterRun(out) : null;
  if (a.json) {
    printJson({ backend, ...result, report: report?.html ?? null });
    return;
  }
  const lines = [renderStudy(result, backend)];
  if (report) lines.push(...report.sparklines, `report: ${report.html}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

/** The study as plain-text tables: the models and baselines, the breakdowns, the gradient-flow link. */
export function renderStudy(r: AgreementStudyResult, backend: string): string {
  const { study } = r;
  const { manifest } = study.corpus;
  const n = study.items;
  const b = study.baselines;
  const horizon = (m: (typeof study.models)[number]) =>
    m.probe === null ? '-' : m.probe.horizon === null ? `>${m.probe.T}` : String(m.probe.horizon);
  const acc = (x: number | null) => fmt(x, 3);
  const accOf = (s: (typeof study.models)[number]['accuracy'], label: string) =>
    acc(s.byVariant.find((c) => c.label === label)?.accuracy ?? null);
  const rows = study.models.map((m) => [
    m.cell,
    String(m.hiddenSize),
    String(m.params),
    String(m.steps),
    fmt(m.validPerplexity),
    fmt(m.testPerplexity),
    acc(m.accuracy.overall.accuracy),
    accOf(m.accuracy, 'original'),
    accOf(m.accuracy, 'nonce'),
    acc(m.accuracy.balanced),
    horizon(m),
    fmt(m.probe?.decayPerStep ?? null, 3),
    seconds(m.elapsedMs.train),
  ]);
  const baselineRow = (name: string, s: typeof b.frequency.accuracy, ppl: number | null) => [
    name,
    '-',
    '-',
    '-',
    '-',
    fmt(ppl),
    acc(s.overall.accuracy),
    accOf(s, 'original'),
    accOf(s, 'nonce'),
    acc(s.balanced),
    '-',
    '-',
    '-',
  ];
  const header = ['model', 'H', 'params', 'steps', 'valid ppl', 'test ppl', 'accuracy', 'original', 'nonce', 'sg/pl'];
  const models = [
    ...study.models.map((m) => ({ name: m.cell, accuracy: m.accuracy })),
    { name: `KN ${b.ngram.order}-gram`, accuracy: b.ngram.accuracy },
    { name: 'frequency', accuracy: b.frequency.accuracy },
  ];
  const links = study.models.flatMap((m) => (m.jacobian ? [{ name: m.cell, link: m.jacobian }] : []));
  return [
    `${AGREEMENT_UD_TASK}: ${study.models.map((m) => m.cell).join(' vs ')} word LMs on Portuguese ` +
      `(UD Bosque, GSD, PetroGold, Porttinari) · backend ${backend}`,
    `corpus ${study.corpus.dir} (${study.corpus.built ? 'built' : 'reused'}): train ${manifest.counts.train.tokens}, ` +
      `valid ${manifest.counts.valid.tokens}, test ${manifest.counts.test.tokens} tokens · ` +
      `vocabulary ${study.vocabulary.size}`,
    `items: ${n.total} (test documents' items and their nonce twins); ` +
      `scored ${n.scored} = ${n.originals} originals + ` +
      `${n.nonce} nonce; left out ${n.oov} (${(100 * n.oovShare).toFixed(1)} %): a verb form outside the vocabulary`,
    table(
      [...header, 'horizon', 'decay/step', 'train'],
      [...rows, baselineRow(`KN ${b.ngram.order}-gram`, b.ngram.accuracy, b.ngram.testPerplexity)].concat([
        baselineRow('frequency', b.frequency.accuracy, null),
      ]),
    ),
    renderAccuracy(models),
    ...(links.length > 0 ? [renderJacobianLink(links)] : []),
    'horizon: first gap at which ‖∂h_T/∂h_k‖ (spectral, the training probes on 8 validation streams) falls below ' +
      '1e-3 at the end of training; decay/step: −slope of ln‖·‖ per step. Baselines: counted on the same train ' +
      'text with the same vocabulary; KN test perplexity over the whole test text.',
    `time: corpus ${seconds(study.elapsedMs.corpus)}, training ${seconds(study.elapsedMs.train)}, ` +
      `items ${seconds(study.elapsedMs.eval)}, baselines ${seconds(study.elapsedMs.baselines)}; ` +
      `total ${seconds(study.elapsedMs.total)}`,
    `runs, compare.json and agreement.json per run in ${r.compare.outDir}`,
  ].join('\n');
}
