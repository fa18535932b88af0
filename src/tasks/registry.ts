import { usageError } from '../util/errors.js';
import type { SequenceTask } from './task.js';
import { AddingTask } from './adding.js';
import { CopyTask } from './copy.js';
import { AgreementLMTask, AgreementTask, type AgreementConfig } from './agreement/task.js';
import { stripUndefined } from '../util/objects.js';
import { LMTask, type LMConfig } from './lm.js';

export const TASK_NAMES = ['adding', 'copy', 'agreement', 'agreement-lm', 'lm'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

export interface TaskOptions {
  seqLen?: number;
  evalSize?: number;
  probeSize?: number;
  seed: number;
  /** agreement, agreement-lm: their own settings (AGREEMENT_DEFAULTS); evalSize = test sentences per distance. */
  agreement?: Partial<AgreementConfig>;
  /** lm: corpus, vocabulary and batching (LM_DEFAULTS). */
  lm?: Partial<LMConfig>;
}

/** Build a task by name; unknown names are a usage error listing the known ones. */
export function createTask(name: string, opts: TaskOptions): SequenceTask {
  switch (name) {
    case 'adding':
    case 'copy': {
      const { seqLen, evalSize, probeSize, seed } = opts;
      const config = stripUndefined({ seqLen, evalSize, probeSize, seed });
      return name === 'adding' ? new AddingTask(config) : new CopyTask(config);
    }
    case 'agreement':
    case 'agreement-lm': {
      // sentence lengths come from the distances, not from a sequence length
      if (opts.seqLen !== undefined)
        throw usageError(
          (field) =>
            `${field('seqLen')} does not apply to the ${name} task; ` +
            'its lengths are set by the train and test distances',
        );
      const config = stripUndefined({
        ...opts.agreement,
        testSize: opts.evalSize ?? opts.agreement?.testSize,
        probeSize: opts.probeSize ?? opts.agreement?.probeSize,
        seed: opts.seed,
      });
      return name === 'agreement' ? new AgreementTask(config) : new AgreementLMTask(config);
    }
    case 'lm':
      if (opts.seqLen !== undefined)
        throw usageError(
          (field) =>
            `${field('seqLen')} does not apply to the lm task; use ${field('bptt')} for the truncated-BPTT length`,
        );
      // evalSize for a language model: evaluate on that many tokens of valid and test
      return new LMTask(
        stripUndefined({ ...opts.lm, evalTokens: opts.evalSize ?? opts.lm?.evalTokens, seed: opts.seed }),
      );
    default:
      throw usageError(`unknown task ${JSON.stringify(name)}; use ${TASK_NAMES.join(', ')}`);
  }
}
