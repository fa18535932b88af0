import { inputError } from '../util/errors.js';

/**
 * The run log: log.jsonl, one JSON record per line. This module is its one definition. The trainers
 * write these records (through RunDir.log), the report and the lab read them (parseLog); both sides
 * import the types from here, so a renamed field fails to compile on both.
 *
 * Each kind is declared once, as a table of field checks; its TypeScript type is derived from that
 * table, so the checks the reader applies and the type the writer fills are the same statement.
 * JSON has no NaN or Infinity: a non-finite number is written as null, hence the `| null` fields.
 *
 *   start       a run (or a resumed run) begins
 *   step        one optimizer update: training loss on its chunk, gradient norm before clipping, lr
 *   eval        validation loss and the task's metrics
 *   test        the held-out test evaluation at the end (tasks with a test split)
 *   gradflow    ‖∂h_T/∂h_k‖ of a recurrent layer on the probe batch (docs/ARCHITECTURE.md, gradient flow)
 *   pairs       ‖∂h_t/∂h_k‖ for every k < t ≤ T (the report's heat map)
 *   spectrum    every singular value of ∂h_T/∂h_k at chosen gaps, and the Lyapunov spectrum, on the probe batch
 *   deltas      an MLP's per-layer ‖δˡ‖ = ‖∂C/∂bˡ‖ (Nielsen ch. 5), hidden layers first to last
 *   checkpoint  checkpoint.json was written at this step
 *   end         the run finished (completed or early-stopped), with its timings
 *   diverged    the loss or gradient became non-finite; the last checkpoint is the last good one
 */

/** The gradient-flow horizon: the first gap at which ‖∂h_T/∂h_k‖ falls below this. */
export const HORIZON_THRESHOLD = 1e-3;

// ---- field checks: each knows the values it accepts, and (through `T`) the type they have ----

interface Field<T> {
  readonly check: (v: unknown) => boolean;
  readonly what: string;
  readonly optional: boolean;
  /** Phantom: the TypeScript type of the field; never set. */
  readonly T?: T;
}

const field = <T>(what: string, check: (v: unknown) => boolean): Field<T> => ({ check, what, optional: false });
const isNum = (v: unknown) => typeof v === 'number';
const isNumOrNull = (v: unknown) => v === null || typeof v === 'number';

const num = field<number>('a number', isNum);
/** A number that may have been non-finite (written as null). */
const real = field<number | null>('a number or null', isNumOrNull);
const str = field<string>('a string', (v) => typeof v === 'string');
const reals = field<(number | null)[]>('an array of numbers', (v) => Array.isArray(v) && v.every(isNumOrNull));
const nums = field<number[]>('an array of numbers', (v) => Array.isArray(v) && v.every(isNum));
const matrix = field<number[][]>(
  'an array of arrays of numbers',
  (v) => Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every(isNum)),
);
const realMatrix = field<(number | null)[][]>(
  'an array of arrays of numbers',
  (v) => Array.isArray(v) && v.every((row) => Array.isArray(row) && row.every(isNumOrNull)),
);
const bool = field<boolean>('true or false', (v) => typeof v === 'boolean');
const metrics = field<Record<string, number | null>>(
  'an object of numbers',
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isNumOrNull),
);
const oneOf = <const V extends readonly string[]>(values: V) =>
  field<V[number]>(`one of ${values.join(', ')}`, (v) => values.includes(v as string));
const optional = <T>(f: Field<T>): Field<T | undefined> => ({ ...f, optional: true }) as Field<T | undefined>;

/** A curve's summary: decay per step (nats, −slope of ln‖·‖ against the gap) and the horizon (null: none within T). */
export interface CurveSummary {
  decayPerStep: number | null;
  horizon: number | null;
}
const isCurve = (v: unknown): boolean =>
  typeof v === 'object' &&
  v !== null &&
  isNumOrNull((v as CurveSummary).decayPerStep) &&
  isNumOrNull((v as CurveSummary).horizon);
const curves = field<{ spectral: CurveSummary | null; frobenius: CurveSummary }>(
  'an object {spectral, frobenius} of curve summaries',
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    isCurve((v as { frobenius: unknown }).frobenius) &&
    ((v as { spectral: unknown }).spectral === null || isCurve((v as { spectral: unknown }).spectral)),
);

// ---- the record kinds ----

const KINDS = {
  start: { backend: str, params: num },
  step: { step: num, loss: real, gradNorm: real, lr: num },
  eval: { step: num, loss: real, metrics },
  test: { step: num, loss: real, metrics },
  gradflow: {
    step: num,
    layer: num,
    /** LSTM: "h" (∂h_T/∂h_k, c_k fixed) or "state" (s = [h; c]); other cells "h". */
    mode: oneOf(['h', 'state'] as const),
    T: num,
    /** Probe sequences the norms are averaged over. */
    batch: num,
    /** gap = T − k, for k = T−1 … 0. */
    gap: nums,
    /** Batch-mean spectral norm per gap; null where not computed. */
    spectral: reals,
    frobenius: reals,
    summary: curves,
    /** ‖∂L/∂h_k‖ for k = 0..T (top layer only). */
    lossGrad: optional(reals),
  },
  pairs: {
    step: num,
    layer: num,
    mode: oneOf(['h', 'state'] as const),
    T: num,
    norm: oneOf(['frobenius', 'spectral'] as const),
    /** pairs[t−1][k] = ‖∂h_t/∂h_k‖, k < t. */
    pairs: matrix,
  },
  spectrum: {
    step: num,
    layer: num,
    /** The singular values' Jacobians: "h" (∂h_T/∂h_k) or "state" (LSTM, s = [h; c]). */
    mode: oneOf(['h', 'state'] as const),
    T: num,
    batch: num,
    /** Rows (= columns) of each Jacobian: H, or 2H in "state" mode. */
    size: num,
    /** σ ≥ this counts as a direction that survives the gap (the horizon's threshold). */
    horizonThreshold: num,
    /** The gaps T − k the singular values were taken at, ascending. */
    gap: nums,
    /** logSigma[g][i] = ln σ̄_i at gap[g], descending in i; σ̄_i the batch mean of σ_i. null: σ̄_i = 0 (or NaN). */
    logSigma: realMatrix,
    /** Batch mean of #{i : σ_i ≥ horizonThreshold}, per gap. */
    count: reals,
    /** Batch mean of (Σσ²)²/Σσ⁴, per gap. */
    participationRatio: reals,
    /** λ_1 ≥ … ≥ λ_k in nats per step (batch mean), by the QR method, on s = [h; c] for the LSTM. */
    lyapunov: reals,
    /** The state size S the exponents are of (H, or 2H for the LSTM). */
    lyapunovSize: num,
    /** Steps at the start left out of the exponents' averages. */
    burnIn: num,
    kaplanYorke: real,
    /** Every partial sum of the k < S exponents is ≥ 0: the dimension is at least kaplanYorke. */
    kaplanYorkeIsLowerBound: bool,
    /** The probe's decay per step (spectral, else Frobenius), beside λ_1: for long T, λ_1 ≈ −decay. */
    decayPerStep: real,
  },
  deltas: {
    step: num,
    /** The epoch measured after (probe), or the one in progress, from 1 (batch). */
    epoch: num,
    /** probe: on the fixed probe set, once an epoch; batch: the mean over the last `steps` training batches. */
    kind: oneOf(['probe', 'batch'] as const),
    examples: optional(num),
    steps: optional(num),
    deltaNorms: reals,
  },
  checkpoint: { step: num, file: str },
  end: {
    step: num,
    status: oneOf(['completed', 'early-stopped'] as const),
    elapsedMs: num,
    stepsPerSec: real,
    gradflowMs: num,
  },
  diverged: { step: num, loss: real, gradNorm: real },
} as const;

type Kinds = typeof KINDS;
export type LogRecordType = keyof Kinds;
export const LOG_RECORD_TYPES = Object.keys(KINDS) as LogRecordType[];

type FieldType<F> = F extends Field<infer T> ? T : never;
type Required<S> = { -readonly [K in keyof S as undefined extends FieldType<S[K]> ? never : K]: FieldType<S[K]> };
type Optional<S> = {
  -readonly [K in keyof S as undefined extends FieldType<S[K]> ? K : never]?: Exclude<FieldType<S[K]>, undefined>;
};
type Flat<T> = { [K in keyof T]: T[K] };
type RecordOf<K extends LogRecordType> = Flat<{ type: K } & Required<Kinds[K]> & Optional<Kinds[K]>>;

export type StartRecord = RecordOf<'start'>;
export type StepRecord = RecordOf<'step'>;
export type EvalRecord = RecordOf<'eval'>;
export type TestRecord = RecordOf<'test'>;
export type GradflowRecord = RecordOf<'gradflow'>;
export type PairsRecord = RecordOf<'pairs'>;
export type SpectrumRecord = RecordOf<'spectrum'>;
export type DeltasRecord = RecordOf<'deltas'>;
export type CheckpointRecord = RecordOf<'checkpoint'>;
export type EndRecord = RecordOf<'end'>;
export type DivergedRecord = RecordOf<'diverged'>;

/** One line of log.jsonl. */
export type LogRecord = { [K in LogRecordType]: RecordOf<K> }[LogRecordType];

/** What a line holds that is not one of the kinds above (a newer seqlab's record): counted, not read. */
export interface UnknownRecord {
  type: 'unknown';
  /** The line's own "type", as written. */
  kind: string;
}

/**
 * Earlier seqlab versions wrote two kinds differently; their run directories still read:
 * the test evaluation as an `eval` whose metrics carry `split`, an MLP's δ norms as `gradflow` with `deltaNorms`.
 */
function upgrade(rec: Record<string, unknown>): Record<string, unknown> {
  if (rec.type === 'eval' && typeof rec.metrics === 'object' && rec.metrics !== null && 'split' in rec.metrics) {
    const { split: _split, ...rest } = rec.metrics as Record<string, unknown>;
    return { ...rec, type: 'test', metrics: rest };
  }
  if (rec.type === 'gradflow' && 'deltaNorms' in rec) return { ...rec, type: 'deltas' };
  return rec;
}

/** Why `rec` is not a valid record of its kind, or null when it is. */
export function recordProblem(rec: Record<string, unknown>): string | null {
  const spec = KINDS[rec.type as LogRecordType] as Record<string, Field<unknown>> | undefined;
  if (!spec) return `unknown record type ${JSON.stringify(rec.type)}`;
  for (const [name, f] of Object.entries(spec)) {
    const v = rec[name];
    if (v === undefined ? !f.optional : !f.check(v)) {
      return `a "${String(rec.type)}" record needs "${name}" as ${f.what}`;
    }
  }
  return null;
}

/**
 * The records of log.jsonl text; `path` names the file in error messages. A torn last line (a run
 * killed mid-write) is ignored; any other line that is not JSON, or a record of a known kind
 * without its fields, is an input error naming the line. Unknown kinds come back as UnknownRecord.
 */
export function parseLog(text: string, path: string): (LogRecord | UnknownRecord)[] {
  const lines = text.split('\n');
  const last = lines.findLastIndex((l) => l.trim() !== '');
  const out: (LogRecord | UnknownRecord)[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (i === last) return;
      throw inputError(`${path} line ${i + 1} is not valid JSON`);
    }
    if (
      typeof value !== 'object' ||
      value === null ||
      Array.isArray(value) ||
      typeof (value as { type?: unknown }).type !== 'string'
    ) {
      throw inputError(`${path} line ${i + 1} is not a log record (an object with a "type")`);
    }
    const rec = upgrade(value as Record<string, unknown>);
    if (!(String(rec.type) in KINDS)) {
      out.push({ type: 'unknown', kind: String(rec.type) });
      return;
    }
    const problem = recordProblem(rec);
    if (problem) throw inputError(`${path} line ${i + 1}: ${problem}`);
    out.push(rec as LogRecord);
  });
  return out;
}
