import { usageError } from '../util/errors.js';
import type { SequenceTask } from '../training/task.js';
import { AddingTask } from './adding.js';
import { CopyTask } from './copy.js';
import { stripUndefined } from '../util/objects.js';

export const TASK_NAMES = ['adding', 'copy'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

export interface TaskOptions {
  seqLen?: number;
  evalSize?: number;
  probeSize?: number;
  seed: number;
}

/** Build a task by name; unknown names are a usage error listing the known ones. */
export function createTask(name: string, opts: TaskOptions): SequenceTask {
  switch (name) {
    case 'adding':
      return new AddingTask(stripUndefined(opts));
    case 'copy':
      return new CopyTask(stripUndefined(opts));
    default:
      throw usageError(`unknown task ${JSON.stringify(name)}; use ${TASK_NAMES.join(', ')}`);
  }
}
