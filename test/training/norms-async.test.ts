import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { CELL_DEFAULTS } from '../../src/models/cell.js';
import { randomCell } from '../../src/models/model.js';
import { jacobianNorms } from '../../src/training/gradflow.js';
import { Rng } from '../../src/util/rng.js';

// The norms computed on the norm thread while the sweep runs are the ones computed
// in line: same solver, same warm starts, same order.
describe('jacobianNorms with the norm thread', () => {
  for (const [kind, mode] of [
    ['lstm', 'state'],
    ['gru', 'h'],
  ] as const) {
    it(`${kind} (${mode}): threaded = in line, across several read-back chunks`, async () => {
      const rng = new Rng(`norm-thread-${kind}`);
      const cell = randomCell(kind, 3, 6, CELL_DEFAULTS, rng);
      const [T, B] = [70, 2];
      const xs = tf.tensor3d(
        Float32Array.from({ length: T * B * 3 }, () => rng.normal()),
        [T, B, 3],
      );
      const inline = await jacobianNorms(cell, xs, undefined, { mode, normThread: false });
      const threaded = await jacobianNorms(cell, xs, undefined, { mode, normThread: true });
      expect(threaded.rows.map((r) => r.gap)).toEqual(inline.rows.map((r) => r.gap));
      threaded.rows.forEach((r, i) => {
        expect(r.frobeniusPerSeq).toEqual(inline.rows[i].frobeniusPerSeq);
        expect(r.spectralPerSeq).toEqual(inline.rows[i].spectralPerSeq);
      });
      expect(threaded.summary).toEqual(inline.summary);
      xs.dispose();
      cell.dispose();
    });
  }
});
