import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunDir } from '../../src/runlog/rundir.js';
import { writeCheckpoint } from '../../src/training/checkpoint.js';
import { TRAIN_DEFAULTS } from '../../src/training/config.js';
import { loadWordLM } from '../../src/training/torch-checkpoint.js';

/** PyTorch's files for the interop tests (scripts/torch-fixtures.py wrote them). */
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torch');
export const fixtureJson = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

/**
 * A seqlab run directory whose checkpoint holds exactly the weights and vocabulary of a
 * word_language_model checkpoint: the same model reached by seqlab's own file.
 */
export async function checkpointOf(files: { weights: string; vocab: string }, dir: string): Promise<string> {
  const lm = loadWordLM(files);
  try {
    const ok = await writeCheckpoint(lm.model, RunDir.create(dir), 7, TRAIN_DEFAULTS, {
      vocabulary: lm.vocabulary.toJSON(),
    });
    if (!ok) throw new Error('non-finite fixture weights');
  } finally {
    lm.model.dispose();
  }
  return dir;
}
