import { describe, expect, it } from 'vitest';
import { TRAIN_DEFAULTS, isSpectrumDue } from '../../src/training/config.js';

// When the probe takes the spectra: step 0, then the first probe on or after each multiple of
// spectrumEvery. The expected steps are listed by hand from the schedules.

/** The probes of a run: every gradflowEvery steps, and once more at the end. */
function probeSteps(steps: number, gradflowEvery: number): number[] {
  const out: number[] = [];
  for (let s = 0; s <= steps; s += gradflowEvery) out.push(s);
  if (out.at(-1) !== steps) out.push(steps);
  return out;
}

const spectrumSteps = (steps: number, gradflowEvery: number, spectrumEvery: number) =>
  probeSteps(steps, gradflowEvery).filter((s) => isSpectrumDue(s, gradflowEvery, spectrumEvery));

describe('isSpectrumDue', () => {
  it('the defaults: every other probe (250, 500) over 1000 steps: 0, 500, 1000', () => {
    expect(spectrumSteps(1000, TRAIN_DEFAULTS.gradflowEvery, TRAIN_DEFAULTS.spectrumEvery)).toEqual([0, 500, 1000]);
  });

  it('intervals that do not divide: the first probe on or after each multiple', () => {
    // probes 0, 300, 600, 900, 1200, 1300; multiples of 500: 500 → 600, 1000 → 1200
    expect(spectrumSteps(1300, 300, 500)).toEqual([0, 600, 1200]);
    // probes 0, 3, 6, 8 (the last); multiples of 4: 4 → 6, 8 → 8
    expect(spectrumSteps(8, 3, 4)).toEqual([0, 6, 8]);
    // probes 0, 2, 4, 6, 7: 4 → 4; the end (7) passes no multiple
    expect(spectrumSteps(7, 2, 4)).toEqual([0, 4]);
  });

  it('spectrumEvery below gradflowEvery: every probe; 0 (or no probes): never', () => {
    expect(spectrumSteps(10, 5, 1)).toEqual([0, 5, 10]);
    expect(spectrumSteps(10, 5, 0)).toEqual([]);
    expect(isSpectrumDue(0, 0, 500)).toBe(false);
  });
});
