import { BUDGET_FIELDS } from '../../src/training/budget.js';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { agreementOptions } from '../../src/cli/agreement.js';
import { benchOptions } from '../../src/cli/bench.js';
import { compareOptions } from '../../src/cli/compare.js';
import { demoOptions } from '../../src/cli/demo.js';
import { evalLMOptions } from '../../src/cli/eval-lm.js';
import { exportOptions } from '../../src/cli/export.js';
import { labOptions } from '../../src/cli/lab.js';
import { mnistOptions } from '../../src/cli/mnist.js';
import { ngramOptions } from '../../src/cli/ngram.js';
import { FIELD_FLAGS, cliMessage } from '../../src/cli/options.js';
import { probeOptions } from '../../src/cli/probe.js';
import { reportOptions } from '../../src/cli/report.js';
import { sampleOptions } from '../../src/cli/sample.js';
import { sweepOptions } from '../../src/cli/sweep.js';
import { trainOptions } from '../../src/cli/train.js';
import { parseCells } from '../../src/commands/compare.js';
import { AddingTask } from '../../src/tasks/adding.js';
import { createTask } from '../../src/tasks/registry.js';
import { EXIT_CODES, SeqlabError, positiveInt } from '../../src/util/errors.js';
import { ROOT, runSeqlab } from './run.js';

// Library messages name option fields (seqLen); the CLI prints each as its flag (--seq-len) through
// one table, FIELD_FLAGS. These tests keep the table exact: it lists every field a message in src
// (outside src/cli) names and nothing else, and each flag is one a command declares.

const SRC = join(ROOT, 'src');
const HELPERS = /\b(?:positiveInt|nonNegativeInt|finiteNumber)\(/g;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9]*$/;
/** Names the helpers get computed, not as a literal (with ${ shown as {): labels, not fields. */
const COMPUTED_LABELS = [
  'src/tasks/agreement/generator.ts: `{name} max`',
  'src/tasks/agreement/generator.ts: `{name} min`',
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** The library's sources: src outside src/cli, without errors.ts (where the helpers take `name`). */
const library = tsFiles(SRC)
  .map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, 'utf8') }))
  .filter(({ path }) => !path.startsWith('src/cli/') && path !== 'src/util/errors.ts');

/** What library messages name as option fields: ${field('…')}, and identifiers given to the helpers. */
function scanFields(): { fields: Set<string>; computed: string[]; dynamicFields: string[] } {
  const fields = new Set<string>();
  const computed: string[] = [];
  const dynamicFields: string[] = [];
  for (const { path, text } of library) {
    for (const m of text.matchAll(/\$\{field\(([^)]*)\)\}/g)) {
      const literal = /^'([^']*)'$/.exec(m[1]);
      if (literal) fields.add(literal[1]);
      else dynamicFields.push(`${path}: ${m[1]}`);
    }
    for (const m of text.matchAll(HELPERS)) {
      const rest = text.slice((m.index ?? 0) + m[0].length);
      const literal = /^\s*'([^']*)'/.exec(rest);
      if (!literal) computed.push(`${path}: ${rest.slice(0, rest.search(/[,\n]/)).replaceAll('${', '{')}`);
      else if (IDENTIFIER.test(literal[1])) fields.add(literal[1]);
    }
  }
  return { fields, computed: computed.sort(), dynamicFields };
}

function errorOf(fn: () => unknown): SeqlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    return e as SeqlabError;
  }
  throw new Error('expected a SeqlabError');
}

describe('FIELD_FLAGS', () => {
  it('lists exactly the option fields that library messages name', () => {
    const { fields, computed, dynamicFields } = scanFields();
    // a field named by a computed expression could not be checked here
    expect(dynamicFields).toEqual([]);
    expect(computed, 'a helper given a computed name: pass a literal field, or list the label above').toEqual(
      COMPUTED_LABELS,
    );
    // besides the literal ones: the fields a size check names as what to lower (training/budget.ts)
    expect(Object.keys(FIELD_FLAGS).sort()).toEqual([...new Set([...fields, ...BUDGET_FIELDS])].sort());
  });

  it('maps every field to a flag some command declares', () => {
    const builders = [
      agreementOptions,
      benchOptions,
      compareOptions,
      demoOptions,
      evalLMOptions,
      exportOptions,
      labOptions,
      mnistOptions,
      ngramOptions,
      probeOptions,
      reportOptions,
      sampleOptions,
      sweepOptions,
      trainOptions,
    ];
    // yargs keeps its declared options behind getOptions(), which its type definitions leave out
    type WithOptions = { getOptions(): { key: Record<string, unknown> } };
    const declaredBy = (build: (typeof builders)[number]) =>
      Object.keys((build(yargs([])) as unknown as WithOptions).getOptions().key);
    const declared = new Set(builders.flatMap(declaredBy));
    for (const [field, flag] of Object.entries(FIELD_FLAGS)) {
      if (flag === null) continue;
      expect(flag, field).toMatch(/^--[a-z][a-z-]*$/);
      expect(declared.has(flag.slice(2)), `${field} → ${flag}`).toBe(true);
    }
  });
});

describe('library calls name fields; the CLI names flags', () => {
  it('new AddingTask({ seqLen: 1 })', () => {
    const e = errorOf(() => new AddingTask({ seqLen: 1 }));
    expect(e.message).toBe('seqLen must be at least 2 for the adding problem (two markers), got 1');
    expect(e.fields).toEqual(['seqLen']);
    expect(cliMessage(e)).toBe('--seq-len must be at least 2 for the adding problem (two markers), got 1');
  });

  it('createTask("lm", { seqLen }) and parseCells("")', () => {
    const lm = errorOf(() => createTask('lm', { seqLen: 5, seed: 1 }));
    expect(lm.message).toBe('seqLen does not apply to the lm task; use bptt for the truncated-BPTT length');
    expect(cliMessage(lm)).toBe('--seq-len does not apply to the lm task; use --bptt for the truncated-BPTT length');
    const cells = errorOf(() => parseCells(' , '));
    expect(cells.message).toMatch(/^cells is empty; use a comma-separated list of rnn, lstm, gru/);
    expect(cliMessage(cells)).toBe(cells.message.replace(/^cells/, '--cells'));
  });

  it('names the CLI passes itself (flags) and labels outside the table stay as they are', () => {
    expect(cliMessage(errorOf(() => positiveInt('--seq-len', 0)))).toBe('--seq-len must be a positive integer, got 0');
    expect(cliMessage(errorOf(() => positiveInt('hidden size', 0)))).toBe(
      'hidden size must be a positive integer, got 0',
    );
    // an inherited property name is not an entry
    expect(cliMessage(errorOf(() => positiveInt('constructor', 0)))).toBe(
      'constructor must be a positive integer, got 0',
    );
  });

  it('seqlab train --task adding --seq-len 1 prints the flag', async () => {
    const r = await runSeqlab(['train', '--task', 'adding', '--seq-len', '1', '--backend', 'wasm', '--quiet']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('seqlab: --seq-len must be at least 2 for the adding problem (two markers), got 1\n');
    expect(r.status).toBe(EXIT_CODES.usage);
  });
});
