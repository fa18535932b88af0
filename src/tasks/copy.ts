import { Rng } from '../util/rng.js';
import { positiveInt } from '../util/errors.js';
import type { Batch, SequenceTask } from './task.js';

/**
 * The copy (memory) task of Arjovsky, Shah & Bengio (2016): ten symbols drawn from
 * an alphabet of 8, then T − 1 blanks, a delimiter, and ten more blanks; the
 * model must output blanks until the delimiter and then the ten symbols. Sequences
 * are T + 20 long. A memoryless strategy (blanks, then uniform guesses over the 8
 * symbols) scores cross-entropy 10·log(8)/(T + 20), the baseline to beat.
 * Classes: 0 = blank, 1..8 = symbols, 9 = delimiter; inputs are their one-hot codes.
 */
export interface CopyConfig {
  /** T: the blank stretch between the symbols and the recall cue. Default 50. */
  seqLen: number;
  /** Symbols to remember. Default 10. */
  symbols: number;
  evalSize: number;
  probeSize: number;
  seed: number;
}

export const COPY_DEFAULTS: Readonly<CopyConfig> = { seqLen: 50, symbols: 10, evalSize: 500, probeSize: 8, seed: 1 };

const ALPHABET = 8;
const CLASSES = ALPHABET + 2; // blank, 8 symbols, delimiter
const DELIMITER = ALPHABET + 1;

export function copyBatch(rng: Rng, batchSize: number, seqLen: number, symbols: number): Batch {
  const L = seqLen + 2 * symbols; // total length
  const B = batchSize;
  const inputs = new Float32Array(L * B * CLASSES);
  const targets = new Int32Array(L * B); // blank (0) by default
  for (let b = 0; b < B; b++) {
    const seq = Array.from({ length: symbols }, () => 1 + rng.int(ALPHABET));
    for (let t = 0; t < L; t++) {
      let symbol = 0;
      if (t < symbols) symbol = seq[t];
      else if (t === symbols + seqLen - 1) symbol = DELIMITER;
      inputs[(t * B + b) * CLASSES + symbol] = 1;
    }
    for (let i = 0; i < symbols; i++) targets[(L - symbols + i) * B + b] = seq[i];
  }
  return { seqLen: L, batchSize: B, inputs, targets };
}

export class CopyTask implements SequenceTask {
  readonly name = 'copy';
  readonly inputSize = CLASSES;
  readonly outputSize = CLASSES;
  readonly readout = 'every' as const;
  readonly loss = 'xent' as const;
  readonly target = { metric: 'copyAccuracy', goal: 'max' as const, value: 0.9 };
  readonly config: Readonly<CopyConfig>;
  private readonly evalSet: Batch[];
  private readonly probe: Batch;

  constructor(config: Partial<CopyConfig> = {}) {
    this.config = { ...COPY_DEFAULTS, ...config };
    positiveInt('seqLen', this.config.seqLen);
    positiveInt('evalSize', this.config.evalSize);
    const { seqLen, symbols, evalSize } = this.config;
    const rng = new Rng(`${this.config.seed}/copy-eval`);
    this.evalSet = [];
    for (let i = 0; i < evalSize; i += 100)
      this.evalSet.push(copyBatch(rng, Math.min(100, evalSize - i), seqLen, symbols));
    this.probe = copyBatch(new Rng(`${this.config.seed}/copy-probe`), this.config.probeSize, seqLen, symbols);
  }

  /** 10·log(8)/(T + 20): the cross-entropy of remembering nothing. */
  get baseline(): number {
    const { seqLen, symbols } = this.config;
    return (symbols * Math.log(ALPHABET)) / (seqLen + 2 * symbols);
  }

  trainBatch(rng: Rng, batchSize: number): Batch {
    return copyBatch(rng, batchSize, this.config.seqLen, this.config.symbols);
  }

  evalBatches(): Batch[] {
    return this.evalSet;
  }

  probeBatch(): Batch {
    return this.probe;
  }

  evaluate(outputs: Float32Array[], loss: number): Record<string, number | null> {
    const { symbols } = this.config;
    let right = 0;
    let n = 0;
    outputs.forEach((out, i) => {
      const { seqLen: L, batchSize: B, targets } = this.evalSet[i];
      for (let t = L - symbols; t < L; t++) {
        for (let b = 0; b < B; b++) {
          const row = (t * B + b) * CLASSES;
          let best = 0;
          for (let c = 1; c < CLASSES; c++) if (out[row + c] > out[row + best]) best = c;
          if (best === targets[t * B + b]) right++;
          n++;
        }
      }
    });
    return { xent: loss, baselineXent: this.baseline, copyAccuracy: right / n };
  }

  describe(): Record<string, unknown> {
    return { task: this.name, ...this.config };
  }
}
