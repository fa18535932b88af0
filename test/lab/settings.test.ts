import { describe, expect, it } from 'vitest';
import { COMPARE_PRESETS } from '../../src/cli/options.js';
import { COMPARE_AGREEMENT_DEFAULTS } from '../../src/commands/compare-defaults.js';
import { CELL_KINDS } from '../../src/models/registry.js';
import { LAB_DATA, LAB_DEFAULTS, checkSettings, labRunSpec, type LabSettings } from '../../src/lab/settings.js';
import { TRAIN_DEFAULTS, isSpectrumDue } from '../../src/training/config.js';
import { SeqlabError } from '../../src/util/errors.js';

describe("the lab's defaults", () => {
  it("are seqlab compare's default experiment (one home: compare-defaults.ts), on every registered cell", () => {
    const c = COMPARE_AGREEMENT_DEFAULTS;
    expect(LAB_DEFAULTS.task).toBe('agreement');
    expect(LAB_DEFAULTS.cells).toEqual([...CELL_KINDS]);
    expect(LAB_DEFAULTS.hiddenSize).toBe(c.hiddenSize);
    expect(LAB_DEFAULTS.trainDistances).toEqual([c.trainMinDistance, c.trainMaxDistance]);
    expect(LAB_DEFAULTS.testDistances).toEqual(c.testDistances);
    expect(LAB_DEFAULTS.gradflowMode).toBe(c.gradflowMode);
    expect(LAB_DEFAULTS.lr).toBe(TRAIN_DEFAULTS.lr);
    expect(LAB_DEFAULTS.steps).toBeLessThanOrEqual(c.steps);
  });

  it('take the spectra with every probe, so a run has several to draw (the library default: step 0 only)', () => {
    const { steps, gradflowEvery, spectrumEvery } = LAB_DEFAULTS;
    expect(spectrumEvery).toBe(gradflowEvery);
    const probes = Array.from({ length: steps / gradflowEvery + 1 }, (_, i) => i * gradflowEvery);
    const spectra = (every: number) => probes.filter((step) => isSpectrumDue(step, gradflowEvery, every));
    expect(spectra(TRAIN_DEFAULTS.spectrumEvery)).toEqual([0]);
    expect(spectra(spectrumEvery)).toEqual(probes);
    expect(labRunSpec(checkSettings(LAB_DEFAULTS), 'lstm').train.spectrumEvery).toBe(LAB_DEFAULTS.spectrumEvery);
    expect(labRunSpec(checkSettings({ ...LAB_DEFAULTS, spectrumEvery: 0 }), 'lstm').train.spectrumEvery).toBe(0);
  });

  it("and the CLI's compare preset is the same numbers as option values", () => {
    const c = COMPARE_AGREEMENT_DEFAULTS;
    expect(COMPARE_PRESETS.agreement).toEqual({
      hidden: c.hiddenSize,
      steps: c.steps,
      'eval-every': c.evalEvery,
      'gradflow-every': c.gradflowEvery,
      'gradflow-mode': c.gradflowMode,
      'train-distances': `${c.trainMinDistance}-${c.trainMaxDistance}`,
      'test-distances': c.testDistances.join(','),
    });
  });

  it('become the options of one trainRun per cell', () => {
    const spec = labRunSpec(checkSettings(LAB_DEFAULTS), 'gru');
    expect(spec.task).toBe('agreement');
    expect(spec.model).toEqual({ cell: 'gru', hiddenSize: LAB_DEFAULTS.hiddenSize, init: LAB_DEFAULTS.init });
    expect(spec.taskOptions).toEqual({
      evalSize: LAB_DATA.agreementTestSize,
      agreement: {
        trainMinDistance: 8,
        trainMaxDistance: 16,
        testDistances: [8, 12, 16, 20, 24, 28],
        trainSize: LAB_DATA.agreementTrainSize,
      },
    });
    expect(spec.train.threads).toBe(1);
    // adding and copy: the task's own length unless one is set
    expect(labRunSpec({ ...LAB_DEFAULTS, task: 'adding' }, 'rnn').taskOptions).toEqual({
      evalSize: LAB_DATA.syntheticEvalSize,
    });
    expect(labRunSpec({ ...LAB_DEFAULTS, task: 'copy', seqLen: 20 }, 'rnn').taskOptions.seqLen).toBe(20);
  });
});

describe('checkSettings', () => {
  const cases: [string, Partial<LabSettings>, RegExp][] = [
    ['hidden size 0', { hiddenSize: 0 }, /hidden size must be a positive integer, got 0/],
    ['no cells', { cells: [] }, /choose at least one cell/],
    ['a cell twice', { cells: ['rnn', 'rnn'] }, /a cell is listed twice/],
    ['an unknown initializer', { init: 'zeros' as never }, /unknown initializer "zeros"/],
    ['a negative learning rate', { lr: -1 }, /learning rate must be > 0/],
    ['a fractional distance', { trainDistances: [2.5, 8] }, /shortest training distance must be a positive integer/],
    ['reversed training distances', { trainDistances: [16, 8] }, /training distances 16-8 are reversed/],
    ['no test distances', { testDistances: [] }, /list at least one test distance/],
    ['a test distance too long', { testDistances: [8, 41] }, /distance 41 is too long for the page; use at most 40/],
    ['a short copy task', { task: 'copy', seqLen: 1 }, /the copy task needs a sequence length of at least 2/],
    ['a negative spectrum interval', { spectrumEvery: -5 }, /spectrum every must be a non-negative integer, got -5/],
    ['a fractional spectrum interval', { spectrumEvery: 2.5 }, /spectrum every must be a non-negative integer/],
  ];
  for (const [name, change, message] of cases) {
    it(`refuses ${name} with one line`, () => {
      expect(() => checkSettings({ ...LAB_DEFAULTS, ...change })).toThrow(SeqlabError);
      expect(() => checkSettings({ ...LAB_DEFAULTS, ...change })).toThrow(message);
    });
  }

  it('passes the defaults, and a synthetic task ignores the distances', () => {
    expect(checkSettings(LAB_DEFAULTS)).toEqual(LAB_DEFAULTS);
    expect(() => checkSettings({ ...LAB_DEFAULTS, task: 'adding', testDistances: [] })).not.toThrow();
    expect(checkSettings({ ...LAB_DEFAULTS, spectrumEvery: 0 }).spectrumEvery).toBe(0); // 0 = no spectra
  });
});
