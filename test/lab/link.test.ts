import { describe, expect, it } from 'vitest';
import {
  LAB_FIELDS,
  compareCommand,
  fieldsQuery,
  fieldsToSettings,
  readQuery,
  settingsQuery,
  settingsToFields,
} from '../../src/lab/link.js';
import { LAB_DEFAULTS, checkSettings, type LabSettings } from '../../src/lab/settings.js';

// A setup as a link: every setting out to the query string and back, unchanged.

const EVERY_SETTING_CHANGED: LabSettings = {
  task: 'copy',
  cells: ['gru', 'rnn'],
  hiddenSize: 7,
  trainDistances: [3, 11],
  testDistances: [4, 9, 30],
  seqLen: 23,
  init: 'orthogonal',
  clipNorm: 2.5,
  lr: 0.0042,
  seed: -3,
  steps: 77,
  batchSize: 5,
  evalEvery: 11,
  gradflowEvery: 13,
  spectrumEvery: 39,
  gradflowMode: 'h',
};

describe('settings in a link', () => {
  it('has one field per setting (every LabSettings key is written)', () => {
    const written = fieldsToSettings(settingsToFields(EVERY_SETTING_CHANGED), LAB_DEFAULTS);
    for (const key of Object.keys(LAB_DEFAULTS) as (keyof LabSettings)[])
      expect(written[key], key).toEqual(EVERY_SETTING_CHANGED[key]);
    expect(new Set(LAB_FIELDS.map((f) => f.key)).size).toBe(LAB_FIELDS.length);
  });

  for (const [name, s] of [
    ['the defaults', LAB_DEFAULTS],
    ['every setting changed', EVERY_SETTING_CHANGED],
    ['clipping off, the task’s own length', { ...EVERY_SETTING_CHANGED, clipNorm: null, seqLen: null }],
    ['no spectra', { ...EVERY_SETTING_CHANGED, spectrumEvery: 0 }],
  ] as const) {
    it(`round-trips ${name} through the query string`, () => {
      const query = settingsQuery(s, { backend: 'cpu', worker: false });
      const back = readQuery(`?${query}`);
      expect(back.unknown).toEqual([]);
      expect(back.page).toEqual({ backend: 'cpu', worker: false });
      const settings = fieldsToSettings(back.fields, LAB_DEFAULTS);
      expect(settings).toEqual(s);
      expect(settingsQuery(settings, back.page)).toBe(query);
    });
  }

  it('leaves the page options out of a link when they are the defaults', () => {
    const query = settingsQuery(LAB_DEFAULTS);
    expect(query).not.toMatch(/backend=|worker=/);
    expect(readQuery(query).page).toEqual({ backend: 'auto', worker: true });
    expect(query).toContain('train-distances=8-16');
    expect(query).toContain('test-distances=8%2C12%2C16%2C20%2C24%2C28');
  });

  it('keeps a short link short: settings it does not give stay at the defaults', () => {
    const { fields } = readQuery('?hidden=8&steps=40');
    expect(fieldsToSettings(fields, LAB_DEFAULTS)).toEqual({ ...LAB_DEFAULTS, hiddenSize: 8, steps: 40 });
  });

  it('names what it does not know, and keeps text that does not parse yet as typed', () => {
    expect(readQuery('?hiden=8&steps=40&worker=0').unknown).toEqual(['hiden']);
    expect(readQuery('?worker=0').page.worker).toBe(false);
    const fields = { ...settingsToFields(LAB_DEFAULTS), hidden: 'thirty' };
    expect(readQuery(fieldsQuery(fields, { backend: 'auto', worker: true })).fields.hidden).toBe('thirty');
  });

  const bad: [string, string, RegExp][] = [
    ['hidden', 'thirty', /hidden size must be a number, got "thirty"/],
    ['train-distances', '8 to 16', /training distances must be MIN-MAX, e.g. 8-16, got "8 to 16"/],
    ['test-distances', '8,x', /test distances must be a number, got "x"/],
    ['cells', 'rnn,lsmt', /unknown cell "lsmt"; use rnn, lstm or gru/],
    ['task', 'sorting', /unknown task "sorting"; use agreement, adding, copy/],
    ['spectrum-every', 'often', /spectrum every must be a number, got "often"/],
  ];
  for (const [key, text, message] of bad) {
    it(`says which field is wrong: ${key}=${text}`, () => {
      expect(() => fieldsToSettings({ [key]: text }, LAB_DEFAULTS)).toThrow(message);
    });
  }

  it('reads "8-16", "12" and "8, 12 16" as distances; "off", "" and 0 as no clipping', () => {
    const s = fieldsToSettings(
      { 'train-distances': ' 8 – 16 ', 'test-distances': '8, 12 16', 'clip-norm': 'off' },
      LAB_DEFAULTS,
    );
    expect(s.trainDistances).toEqual([8, 16]);
    expect(s.testDistances).toEqual([8, 12, 16]);
    expect(s.clipNorm).toBeNull();
    expect(fieldsToSettings({ 'train-distances': '12', 'clip-norm': '0' }, LAB_DEFAULTS)).toMatchObject({
      trainDistances: [12, 12],
      clipNorm: null,
    });
  });
});

describe('the CLI command of a setup', () => {
  it("is seqlab compare with every setting the task uses, the page's data sizes and one thread", () => {
    expect(compareCommand(checkSettings(LAB_DEFAULTS), 'cpu')).toBe(
      'npx seqlab compare --task agreement --cells rnn,lstm,gru --hidden 32 --train-distances 8-16 ' +
        '--test-distances 8,12,16,20,24,28 --init pytorch --clip-norm 1 --lr 0.001 --steps 300 --batch 32 ' +
        '--eval-every 25 --gradflow-every 25 --spectrum-every 25 --gradflow-mode state --seed 1 --train-size 10000 ' +
        '--eval-size 100 --threads 1 --backend cpu',
    );
  });

  it('leaves out the distances on a synthetic task, and the length when it is the task’s own', () => {
    const cmd = compareCommand({ ...EVERY_SETTING_CHANGED, seqLen: null }, 'wasm');
    expect(cmd).not.toMatch(/distances|--seq-len/);
    expect(cmd).toContain('--task copy --cells gru,rnn');
    expect(cmd).toMatch(/--eval-size 200 --threads 1 --backend wasm$/);
    expect(compareCommand(EVERY_SETTING_CHANGED, 'webgl')).toMatch(/--seq-len 23 .* --backend cpu$/);
  });
});
