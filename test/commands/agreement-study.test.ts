import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agreementStudy } from '../../src/commands/agreement-study.js';
import { writeReport } from '../../src/report/report.js';
import { numberDocs } from '../tasks/agreement-ud/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-agreement-study-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('agreementStudy (compare --task agreement-ud) on a small treebank', () => {
  it('trains one LM per cell on the corpus, scores them and the baselines on its items, and reports', async () => {
    const treebank = join(tmp, 'pt_numbers-ud-test.conllu');
    writeFileSync(treebank, numberDocs(120));
    const out = join(tmp, 'study');
    const { compare, study } = await agreementStudy({
      cells: ['rnn', 'gru'],
      model: { hiddenSize: 4 },
      matchParams: false,
      train: { steps: 3, evalEvery: 3, gradflowEvery: 3, seed: 1, threads: 1 },
      lm: { batchSize: 2, bptt: 4 },
      corpus: null,
      corpusOptions: { treebanks: [treebank], nonce: 1 },
      jacobian: true,
      ngramOrder: 3,
      out,
      backend: 'wasm',
    });
    expect(compare.task).toBe('agreement-ud');
    expect(study.corpus.dir).toBe(join(out, 'corpus'));
    expect(study.corpus.built).toBe(true);
    // every item's forms (entrou, entraram) are words of the train text
    expect(study.items.oov).toBe(0);
    expect(study.items.scored).toBe(2 * study.corpus.manifest.items.originals);
    expect(study.models.map((m) => m.cell)).toEqual(['rnn', 'gru']);
    for (const m of study.models) {
      expect(m.steps).toBe(3);
      expect(m.accuracy.overall.n).toBe(study.items.scored);
      expect(m.testPerplexity).toBeGreaterThan(1);
      expect(m.probe).not.toBeNull();
      expect(m.jacobian).not.toBeNull();
      expect(existsSync(join(m.runDir, 'agreement.json'))).toBe(true);
      const lines = readFileSync(join(m.runDir, 'agreement-scores.jsonl'), 'utf8').trim().split('\n');
      expect(lines).toHaveLength(study.items.total);
    }
    // sg and pl items in turn: frequency picks one form everywhere, so it passes one number's items only
    const freq = study.baselines.frequency.accuracy.byNumber;
    expect(freq.map((c) => c.accuracy).sort()).toEqual([0, 1]);
    // the Kneser–Ney model sees the subject two tokens back at most: it gets every item right
    expect(study.baselines.ngram.accuracy.overall.accuracy).toBe(1);

    const saved = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    expect(saved.task).toBe('agreement-ud');
    expect(saved.agreement.models).toHaveLength(2);
    const report = await writeReport(out, { png: false });
    const ids = report.plots.map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(['agreement-by-distance', 'agreement-original-vs-nonce']));
    expect(readFileSync(report.html, 'utf8')).toContain('Agreement accuracy by distance');
  });
});
