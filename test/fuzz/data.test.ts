import * as fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProbeArgs } from '../../src/cli/probe.js';
import { agreementExtract } from '../../src/commands/agreement.js';
import { loadProbeSetup } from '../../src/commands/probe.js';
import { Vocabulary } from '../../src/data/vocab.js';
import { createCell } from '../../src/models/model.js';
import { ITEM_FIELDS, readItems } from '../../src/tasks/agreement-ud/items.js';
import { vocabularyCoverage } from '../../src/tasks/agreement-ud/score.js';
import { loadLanguageModel } from '../../src/training/torch-checkpoint.js';
import { CASES, anyJson, fuzzInput } from './harness.js';

// The data files a user hands seqlab, fuzzed in-process as test/fuzz/inputs.test.ts does the
// rest: safetensors weights (probe --weights, eval-lm --weights --vocab), CoNLL-U treebanks
// (agreement extract) and agreement items files (agreement eval --items). Each valid file is
// built here, then changed at random at the level of its structure and of its bytes.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-fuzz-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Pick from `list` by a number fast-check drew (shrinks toward the first). */
const pick = <T>(list: readonly T[], n: number): T => list[n % list.length];

// ---------------------------------------------------------------------------------------------
// safetensors

const DTYPE_SIZE: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2 };

interface TensorSpec {
  name: string;
  dtype: unknown;
  shape: unknown;
  /** The tensor's data bytes as the (valid) file holds them. */
  bytes: Uint8Array;
}

/** `count` values of `dtype` as little-endian bytes: small numbers from a seed, every kind of half/bfloat16 bit. */
function tensorBytes(dtype: string, count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count * DTYPE_SIZE[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < count; i++) {
    const x = Math.sin(seed * 7.31 + i * 1.7) * 0.5;
    if (dtype === 'F32') view.setFloat32(4 * i, x, true);
    else if (dtype === 'F64') view.setFloat64(8 * i, x, true);
    else if (dtype === 'BF16') view.setUint16(2 * i, new Uint32Array(Float32Array.of(x).buffer)[0] >>> 16, true);
    else view.setUint16(2 * i, (Math.abs(Math.round(x * 1e4)) & 0x83ff) | 0x3800, true); // F16 in [0.5, 1)
  }
  return out;
}

/** A size in [min, max], or now and then 0 (an empty tensor is a valid one). */
const sizeOrZero = (min: number, max: number) =>
  fc.oneof({ weight: 12, arbitrary: fc.integer({ min, max }) }, { weight: 1, arbitrary: fc.constant(0) });

/** A PyTorch module's state dict: nn.RNN/LSTM/GRU (any prefix), or word_language_model's RNNModel. */
const stateDict = fc
  .record({
    cell: fc.constantFrom('rnn', 'lstm', 'gru'),
    H: sizeOrZero(1, 3),
    I: sizeOrZero(1, 3),
    L: fc.integer({ min: 1, max: 2 }),
    V: sizeOrZero(2, 5),
    lm: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 2, arbitrary: fc.constant(false) }),
    prefix: fc.constantFrom('', '', 'lstm.', 'rnn.'),
    bias: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    tied: fc.boolean(),
    dtype: fc.constantFrom('F32', 'F32', 'F64', 'F16', 'BF16'),
    seed: fc.nat({ max: 1000 }),
    metadata: fc.option(
      fc.dictionary(
        fc.constantFrom('format', 'rnn_type', 'tie_weights', 'encoder.weight', 'decoder.weight'),
        fc.oneof(
          fc.constantFrom('pt', 'LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU', 'true', 'false', 'decoder.weight'),
          fc.string({ maxLength: 4 }),
        ),
        { maxKeys: 3 },
      ),
      { freq: 2 },
    ),
  })
  .map(({ cell, H, I, L, V, lm, prefix, bias, tied, dtype, seed, metadata }) => {
    const G = { rnn: 1, lstm: 4, gru: 3 }[cell] * H;
    const E = lm && tied ? H : I;
    const shapes: [string, number[]][] = [];
    const p = lm ? 'rnn.' : prefix;
    if (lm) shapes.push(['encoder.weight', [V, E]]);
    for (let l = 0; l < L; l++) {
      shapes.push([`${p}weight_ih_l${l}`, [G, l === 0 ? E : H]], [`${p}weight_hh_l${l}`, [G, H]]);
      if (bias) shapes.push([`${p}bias_ih_l${l}`, [G]], [`${p}bias_hh_l${l}`, [G]]);
    }
    if (lm) shapes.push(['decoder.weight', [V, H]], ['decoder.bias', [V]]);
    const tensors: TensorSpec[] = shapes.map(([name, shape], k) => {
      const count = shape.reduce((a, b) => a * b, 1);
      // a tied model's decoder holds the encoder's values
      const s = tied && name === 'decoder.weight' ? 0 : seed + k + 1;
      return { name, dtype, shape, bytes: tensorBytes(dtype, count, s) };
    });
    return { tensors, metadata: metadata as Record<string, unknown> | null, vocabSize: lm ? V : 2 };
  });

/** Changes to the header's entries: the file stays well formed bytewise unless an offset or size is changed. */
const headerChange = fc.tuple(
  fc.constantFrom('dtype', 'shape', 'offsets', 'drop-entry', 'drop-tensor', 'rename', 'entry', 'extra', 'metadata'),
  fc.nat(),
  fc.nat(),
  anyJson,
);

const BAD_DTYPES = ['F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'U8', 'BOOL', 'F8_E4M3', 'f32', '', 7, null];
const NAMES = [
  'weight_hh_l0',
  'rnn.weight_hh_l0',
  'lstm.weight_hh_l0',
  'rnn.weight_hh_l3',
  'rnn.bias_ih_l2',
  'weight_hh_l0_reverse',
  'rnn.weight_hr_l0',
  'encoder.weight',
  'decoder.weight',
  'decoder.bias',
  'head.weight',
  '__metadata__',
  '',
  'é',
];

interface Entry {
  name: string;
  value: unknown;
}

/** The header entries and data of a file, after the header changes. */
function applyHeaderChanges(
  spec: { tensors: TensorSpec[]; metadata: Record<string, unknown> | null },
  changes: [string, number, number, unknown][],
): { entries: Entry[]; data: Uint8Array } {
  const tensors = spec.tensors.map((t) => ({ ...t }));
  let metadata: unknown = spec.metadata;
  const dropped = new Set<number>(); // in the data, not in the header
  const offsetChanges: [number, number, number][] = [];
  const entryChanges = new Map<number, unknown>();
  for (const [op, a, b, value] of changes) {
    const i = a % tensors.length;
    const t = tensors[i];
    const shape = Array.isArray(t.shape) ? (t.shape as unknown[]) : [];
    if (op === 'dtype') t.dtype = pick(BAD_DTYPES, b);
    else if (op === 'shape') {
      const options: unknown[] = [
        shape.slice(0, -1),
        [...shape, 1],
        [...shape].reverse(),
        shape.map((d, k) => (k === b % Math.max(1, shape.length) ? (d as number) * 2 : d)),
        [0],
        [],
        [2 ** 53, 0],
        [2 ** 60],
        [-1, ...shape],
        [1.5],
        ['3'],
        null,
        value,
      ];
      t.shape = pick(options, b);
    } else if (op === 'offsets') offsetChanges.push([i, b, typeof value === 'number' ? value : b]);
    else if (op === 'drop-entry') dropped.add(i);
    else if (op === 'drop-tensor') tensors.splice(i, 1);
    else if (op === 'rename') t.name = b % 3 === 0 ? tensors[b % tensors.length].name : pick(NAMES, b);
    else if (op === 'entry') entryChanges.set(i, value);
    else if (op === 'extra') {
      const [name, shape2] = pick(
        [
          ['extra.weight', [1]],
          ['rnn.weight_ih_l7', [2, 2]],
          ['weight_hh_l0', [1, 1]],
          ['decoder.bias', [3]],
        ] as const,
        b,
      );
      tensors.push({
        name,
        dtype: 'F32',
        shape: [...shape2],
        bytes: tensorBytes('F32', shape2[0] * (shape2[1] ?? 1), b),
      });
    } else if (op === 'metadata') metadata = b % 2 === 0 ? value : { ...(metadata as object), rnn_type: value };
    if (tensors.length === 0) break;
  }
  const entries: Entry[] = [];
  if (metadata !== null && metadata !== undefined) entries.push({ name: '__metadata__', value: metadata });
  const parts: Uint8Array[] = [];
  let at = 0;
  tensors.forEach((t, i) => {
    const offsets: unknown[] = [at, at + t.bytes.length];
    parts.push(t.bytes);
    at += t.bytes.length;
    if (dropped.has(i)) return;
    let value: unknown = { dtype: t.dtype, shape: t.shape, data_offsets: offsets };
    for (const [j, how, x] of offsetChanges) {
      if (j !== i) continue;
      const [begin, end] = offsets as number[];
      value = {
        ...(value as object),
        data_offsets: pick(
          [
            [begin, end + 1],
            [Math.max(0, begin - 1), end],
            [end, begin],
            [begin, 1e12],
            [0, end - begin],
            [begin],
            [begin, end, 0],
            [-1, end],
            [begin + 0.5, end],
            `${begin},${end}`,
            [begin, x],
            [x, end],
          ],
          how,
        ),
      };
    }
    if (entryChanges.has(i)) value = entryChanges.get(i);
    entries.push({ name: t.name, value });
  });
  const data = new Uint8Array(at);
  let k = 0;
  for (const p of parts) {
    data.set(p, k);
    k += p.length;
  }
  return { entries, data };
}

/** Changes to the bytes of the file: the header's length, its text, the data. */
const byteChange = fc.tuple(
  fc.constantFrom('length', 'length-huge', 'header-byte', 'header-text', 'truncate', 'trailing', 'nan', 'flip'),
  fc.nat(),
  fc.integer({ min: 0, max: 255 }),
);

function fileBytes(entries: Entry[], data: Uint8Array, pad: boolean, changes: [string, number, number][]): Uint8Array {
  // written by hand so that a renamed entry can repeat a key
  let text = `{${entries.map((e) => `${JSON.stringify(e.name)}:${JSON.stringify(e.value)}`).join(',')}}`;
  for (const [op, at] of changes) {
    if (op !== 'header-text') continue;
    text = pick(
      [
        `\ufeff${text}`,
        ` ${text}`,
        `[${text}]`,
        'null',
        '{}',
        text.slice(0, at % (text.length + 1)),
        `${text}x`,
        `${text}\t`,
        text.replace('"data_offsets"', '"data_offset"'),
        text.replace(/"F32"/, '"F33"'),
      ],
      at,
    );
  }
  let header = new TextEncoder().encode(text);
  if (pad) {
    const padded = new Uint8Array(Math.ceil(header.length / 8) * 8).fill(0x20);
    padded.set(header);
    header = padded;
  }
  let bytes = new Uint8Array(8 + header.length + data.length);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  bytes.set(data, 8 + header.length);
  for (const [op, at, byte] of changes) {
    const n = bytes.length;
    if (op === 'length') view.setBigUint64(0, BigInt(Math.max(0, header.length + (at % 9) - 4)), true);
    else if (op === 'length-huge')
      view.setBigUint64(0, pick([2n ** 64n - 1n, 2n ** 63n, 100_000_001n, BigInt(n), BigInt(at)], byte), true);
    else if (op === 'header-byte' && header.length > 0) bytes[8 + (at % header.length)] = byte;
    else if (op === 'truncate') bytes = bytes.slice(0, at % n);
    else if (op === 'trailing')
      bytes = Uint8Array.from([...bytes, ...Array.from({ length: 1 + (at % 9) }, () => byte)]);
    else if (op === 'nan' && data.length >= 4)
      bytes.set([0xff, 0xff, 0xc0, 0x7f], n - data.length + (at % (data.length - 3)));
    else if (op === 'flip') bytes[at % n] ^= 1 << (byte % 8);
    if (bytes.length < 8) break;
  }
  return bytes;
}

/** No change (weight `none`), or one or two (weight `some`). */
const someOf = <T>(change: fc.Arbitrary<T>, none: number, some: number): fc.Arbitrary<T[]> =>
  fc.oneof(
    { weight: none, arbitrary: fc.constant([] as T[]) },
    { weight: some, arbitrary: fc.array(change, { minLength: 1, maxLength: 2 }) },
  );

const safetensorsFile = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .tuple(stateDict, someOf(headerChange, 2, 3), someOf(byteChange, 3, 1), fc.boolean())
      .map(([spec, header, bytes, pad]) => {
        const { entries, data } = applyHeaderChanges(spec, header);
        const changes = header.length + bytes.length;
        return { bytes: fileBytes(entries, data, pad, bytes), vocabSize: spec.vocabSize, changes };
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }).map((bytes) => ({ bytes, vocabSize: 2, changes: 1 })) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.nat({ max: 40 }), fc.uint8Array({ maxLength: 40 })).map(([n, rest]) => {
      const bytes = new Uint8Array(8 + rest.length);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
      bytes.set(rest, 8);
      return { bytes, vocabSize: 2, changes: 1 };
    }),
  },
);

// ---------------------------------------------------------------------------------------------
// CoNLL-U

const NOUNS: [string, string, string][] = [
  ['homem', 'homens', 'Masc'],
  ['casa', 'casas', 'Fem'],
  ['peruca', 'perucas', 'Fem'],
  ['Juiz', 'JUÍZES', 'Masc'],
];
// [lemma, sg, pl, Tense]: regular, irregular, capitalised, clitic-ready, and forms as short as a rule's ending
const VERBS: [string, string, string, string][] = [
  ['entrar', 'entrou', 'entraram', 'Past'],
  ['ser', 'é', 'são', 'Pres'],
  ['ter', 'tem', 'têm', 'Pres'],
  ['tornar', 'Tornou', 'Tornaram', 'Past'],
  ['xar', 'a', 'am', 'Pres'],
  ['ver', 'vê', 'veem', 'Pres'],
  ['fazer', 'faz', 'fazem', 'Pres'],
];

interface Row {
  form: string;
  lemma: string;
  upos: string;
  feats: string;
  head: number;
  deprel: string;
}

/**
 * A sentence as extract looks for them: det + noun (nsubj), maybe "de + as" (a contraction, a
 * multiword token) and an attractor noun, maybe an adverb between commas, the verb (or
 * auxiliary + participle), maybe an enclitic "-se", a full stop; comments, maybe an empty node.
 */
const sentence = fc
  .record({
    noun: fc.nat(),
    verb: fc.nat(),
    sg: fc.boolean(),
    agree: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    attractor: fc.option(fc.tuple(fc.nat(), fc.boolean(), fc.boolean())),
    adverb: fc.boolean(),
    aux: fc.boolean(),
    clitic: fc.boolean(),
    emptyNode: fc.boolean(),
    newdoc: fc.boolean(),
    id: fc.nat({ max: 9999 }),
  })
  .map((o) => {
    const [nsg, npl, gender] = pick(NOUNS, o.noun);
    const [lemma, vsg, vpl, tense] = pick(VERBS, o.verb);
    const num = o.sg ? 'Sing' : 'Plur';
    const vnum = o.agree === o.sg ? 'Sing' : 'Plur';
    const rows: Row[] = [];
    const mwt: [number, number, string][] = [];
    const add = (r: Row) => rows.push(r); // the new word's id
    add({
      form: o.sg ? 'O' : 'Os',
      lemma: 'o',
      upos: 'DET',
      feats: `Gender=${gender}|Number=${num}`,
      head: 2,
      deprel: 'det',
    });
    add({
      form: o.sg ? nsg : npl,
      lemma: nsg,
      upos: 'NOUN',
      feats: `Gender=${gender}|Number=${num}`,
      head: -1,
      deprel: 'nsubj',
    });
    if (o.attractor) {
      const [n, asg, contract] = o.attractor;
      const [a1, a2, ag] = pick(NOUNS, n);
      const anum = asg ? 'Sing' : 'Plur';
      const de = add({ form: 'de', lemma: 'de', upos: 'ADP', feats: '_', head: rows.length + 3, deprel: 'case' });
      add({
        form: asg ? 'a' : 'as',
        lemma: 'o',
        upos: 'DET',
        feats: `Number=${anum}`,
        head: rows.length + 2,
        deprel: 'det',
      });
      if (contract) mwt.push([de, de + 1, asg ? 'da' : 'das']);
      add({
        form: asg ? a1 : a2,
        lemma: a1,
        upos: 'NOUN',
        feats: `Gender=${ag}|Number=${anum}`,
        head: 2,
        deprel: 'nmod',
      });
    }
    if (o.adverb) {
      const adv = rows.length + 2;
      add({ form: ',', lemma: ',', upos: 'PUNCT', feats: '_', head: adv, deprel: 'punct' });
      add({ form: 'ontem', lemma: 'ontem', upos: 'ADV', feats: '_', head: -1, deprel: 'advmod' });
      add({ form: ',', lemma: ',', upos: 'PUNCT', feats: '_', head: adv, deprel: 'punct' });
    }
    const fin = `Mood=Ind|Number=${vnum}|Person=3|Tense=${tense}|VerbForm=Fin`;
    const verbForm = vnum === 'Sing' ? vsg : vpl;
    let root: number;
    if (o.aux) {
      add({
        form: vnum === 'Sing' ? 'foi' : 'foram',
        lemma: 'ser',
        upos: 'AUX',
        feats: fin,
        head: rows.length + 2,
        deprel: 'aux:pass',
      });
      root = add({ form: 'visto', lemma: 'ver', upos: 'VERB', feats: 'VerbForm=Part', head: 0, deprel: 'root' });
    } else {
      root = add({ form: verbForm, lemma, upos: 'VERB', feats: fin, head: 0, deprel: 'root' });
      if (o.clitic) {
        add({ form: 'se', lemma: 'se', upos: 'PRON', feats: 'Person=3', head: root, deprel: 'expl' });
        mwt.push([root, root + 1, `${verbForm}-se`]);
      }
    }
    add({ form: '.', lemma: '.', upos: 'PUNCT', feats: '_', head: root, deprel: 'punct' });
    for (const r of rows) if (r.head === -1) r.head = root;
    const lines = [`# sent_id = s${o.id}`, `# text = ${rows.map((r) => r.form).join(' ')}`];
    if (o.newdoc) lines.unshift(`# newdoc id = d${o.id}`);
    rows.forEach((r, i) => {
      const range = mwt.find(([first]) => first === i + 1);
      if (range) lines.push(`${range[0]}-${range[1]}\t${range[2]}\t_\t_\t_\t_\t_\t_\t_\t_`);
      lines.push([i + 1, r.form, r.lemma, r.upos, '_', r.feats, r.head, r.deprel, '_', '_'].join('\t'));
      if (o.emptyNode && i === 1) lines.push(`2.1\tpro\tele\tPRON\t_\t_\t_\t_\t${root}:nsubj\t_`);
    });
    return lines;
  });

/** Changes to a treebank's lines (c: which column or line, v: which bad value). */
const conlluChange = fc.tuple(
  fc.constantFrom(
    'columns',
    'id',
    'head',
    'cycle',
    'range',
    'feats',
    'empty-column',
    'comment-inside',
    'drop-line',
    'repeat-line',
    'swap-lines',
    'join-sentences',
    'spaces',
    'binary',
    'form',
    'lemma',
    'verb-feats',
  ),
  fc.nat(),
  fc.nat(),
);

// forms a verb or noun may have: spaces, special tokens, decomposed accents, capitals, a lone surrogate
const ODD_FORMS = [
  ' ',
  'a b',
  '\u00a0',
  '<unk>',
  '<eos>x',
  'E\u0301',
  'É',
  'SÃO',
  'x'.repeat(300),
  '\ud800',
  '-',
  'a-se',
];
const ODD_LEMMAS = ['_', 'SER', 'ser ', 'ter', 'pôr', 'ir', '\u0000', 'a_b'];
const ODD_VERB_FEATS = [
  'Mood=Sub|Number=Sing|Person=3|Tense=Fut|VerbForm=Fin',
  'Mood=Cnd|Number=Plur|Person=3|VerbForm=Fin',
  'Mood=Ind|Number=Plur|Person=3|VerbForm=Fin',
  'Mood=Ind|Number=Sing|Person=1|Tense=Pres|VerbForm=Fin',
  'Number=Dual|Person=3|VerbForm=Fin',
  'Mood=Ind|Number=Sing|Person=3|Tense=Pres|Typo=Yes|VerbForm=Fin',
  'VerbForm=Fin',
];

const BAD_IDS = ['x', '0', '01', '1.5', '3-2', '2-2', '2-9', '1-2-3', '-1', '', ' 1', '99999999999999999999', '٣'];
const BAD_HEADS = ['99', '-1', 'x', '', '1.0', '0', '00', '2', '3', '99999999999999999999'];
const BAD_FEATS = ['Number', '=Sing', 'Number=Sing|', '|', 'Number=', 'Number=Sing||Person=3', '__proto__=x', ' '];

function changeConllu(sentences: string[][], changes: [string, number, number][]): string[] {
  const blocks = sentences.map((s) => [...s]);
  for (const [op, c, v] of changes) {
    const b = blocks[c % blocks.length];
    const words = b.map((l, i) => [l, i] as const).filter(([l]) => !l.startsWith('#'));
    if (words.length === 0) continue;
    const [line, at] = words[v % words.length];
    const cols = line.split('\t');
    const set = (k: number, value: string) => {
      cols[k] = value;
      b[at] = cols.join('\t');
    };
    if (op === 'columns') b[at] = (c % 2 === 0 ? cols.slice(0, c % 10) : [...cols, 'extra']).join('\t');
    else if (op === 'id') set(0, pick(BAD_IDS, c));
    else if (op === 'head') set(6, pick(BAD_HEADS, c));
    else if (op === 'cycle') {
      // a word and its head point at each other (both in range): no root on that path
      const head = Number(cols[6]);
      const target = b.findIndex((l) => l.startsWith(`${head}\t`));
      if (head > 0 && target >= 0) {
        set(6, String(head));
        const tcols = b[target].split('\t');
        tcols[6] = cols[0];
        b[target] = tcols.join('\t');
      }
    } else if (op === 'range')
      b.splice(at, 0, `${pick(['1-2', '2-3', '5-6', '3-3', '9-10', '1-99'], c)}\tx\t_\t_\t_\t_\t_\t_\t_\t_`);
    else if (op === 'feats') set(5, pick(BAD_FEATS, c));
    else if (op === 'empty-column') set(pick([1, 3, 7], c), '');
    else if (op === 'comment-inside') b.splice(at + 1, 0, '# a comment');
    else if (op === 'drop-line') b.splice(at, 1);
    else if (op === 'repeat-line') b.splice(at, 0, line);
    else if (op === 'swap-lines' && at + 1 < b.length) [b[at], b[at + 1]] = [b[at + 1], b[at]];
    else if (op === 'join-sentences' && blocks.length > 1) {
      const i = c % blocks.length;
      const next = blocks.splice((i + 1) % blocks.length, 1)[0];
      if (next !== b) b.push(...next);
    } else if (op === 'spaces') b[at] = line.replaceAll('\t', '  ');
    else if (op === 'form') set(1, pick(ODD_FORMS, c));
    else if (op === 'lemma') set(2, pick(ODD_LEMMAS, c));
    else if (op === 'verb-feats') set(5, pick(ODD_VERB_FEATS, c));
    else if (op === 'binary')
      b[at] = `${line.slice(0, c % (line.length + 1))}\u0000\u00ff\ufffe${line.slice(c % (line.length + 1))}`;
  }
  return blocks.map((s) => s.join('\n'));
}

const treebankText = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(
        fc.array(sentence, { minLength: 1, maxLength: 6 }),
        someOf(conlluChange, 1, 2),
        fc.constantFrom('\n', '\n', '\r\n'),
        fc.constantFrom('', '', '\ufeff'),
        fc.constantFrom('\n', '\n\n', ''),
      )
      .map(([sentences, changes, eol, bom, end]) => {
        const blocks = changeConllu(sentences, changes);
        return { text: bom + blocks.join('\n\n').replaceAll('\n', eol) + end, changes: changes.length };
      }),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }).map((text) => ({ text, changes: 1 })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((text) => ({ text, changes: 1 })) },
);

// ---------------------------------------------------------------------------------------------
// items files

const WORDS = [
  'o',
  'homem',
  'que',
  'usava',
  'as',
  'perucas',
  ',',
  'ontem',
  'Ünïcödé',
  '‹unk›',
  '<unk>',
  'x'.repeat(40),
];

/** An item as extract writes them (every field), or with the four required fields only. */
const item = fc
  .record({
    prefix: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 8 }),
    pair: fc.constantFrom(['entrou', 'entraram'], ['é', 'são'], ['tornou-se', 'tornaram-se'], ['zz', 'zzz']),
    sg: fc.boolean(),
    subject: fc.nat(),
    full: fc.boolean(),
    variant: fc.nat({ max: 3 }),
  })
  .map(({ prefix, pair, sg, subject, full, variant }) => {
    const [correct, wrong] = sg ? pair : [pair[1], pair[0]];
    const required = { prefix, correct, wrong };
    if (!full) return required;
    const subjectIndex = subject % prefix.length;
    return {
      ...required,
      number: sg ? 'sg' : 'pl',
      subjectIndex,
      distance: prefix.length - subjectIndex - 1,
      attractors: 0,
      constructions: ['nmod', 'parenthetical'],
      verbRole: 'main',
      lemma: 'entrar',
      cell: 'Ind.Past',
      wrongSource: 'table',
      treebank: 'pt_bosque',
      sentId: 'CF1-3',
      docId: 'CF1',
      variant,
    };
  });

const BAD_VALUES: unknown[] = [null, '', ' ', 'a b', -1, 1.5, 2 ** 53, 1e308, [], [''], ['a b'], {}, true, '\ud800'];

/** Changes to an items file: a field of a line, or the lines themselves. */
const itemsChange = fc.tuple(
  fc.constantFrom('delete', 'bad-value', 'any-value', 'subject-past', 'twin', 'same-id', 'line', 'blank', 'raw-number'),
  fc.nat(),
  fc.nat(),
  anyJson,
);

function itemsText(items: Record<string, unknown>[], changes: [string, number, number, unknown][]): string[] {
  const docs: Record<string, unknown>[] = items.map((it, i) => ({ id: `pt_bosque/CF${i}/7`, ...it }));
  const extra: [number, string][] = []; // lines to insert (at, text)
  const raw = new Map<number, [string, string]>(); // a field's value written as raw JSON text
  for (const [op, a, b, value] of changes) {
    const i = a % docs.length;
    const doc = docs[i];
    const field = pick(ITEM_FIELDS, b);
    if (op === 'delete') delete doc[field];
    else if (op === 'bad-value') doc[field] = pick(BAD_VALUES, a);
    else if (op === 'any-value') doc[field] = value;
    else if (op === 'subject-past') doc.subjectIndex = (Array.isArray(doc.prefix) ? doc.prefix.length : 0) + (b % 3);
    else if (op === 'twin') doc.twinOf = b % 2 === 0 ? docs[b % docs.length].id : 'no/such/item';
    else if (op === 'same-id') doc.id = docs[b % docs.length].id;
    else if (op === 'line')
      extra.push([a, pick(['{', 'not json', '[]', 'null', '"x"', '{"id": 1} {}', '\u0000', '{}'], b)]);
    else if (op === 'blank') extra.push([a, pick(['', '   ', '\t', '\r'], b)]);
    else if (op === 'raw-number') raw.set(i, [field, pick(['1e400', '-0', '1E2', '0.0', '12345678901234567890'], b)]);
  }
  const lines = docs.map((d, i) => {
    const r = raw.get(i);
    if (!r) return JSON.stringify(d);
    const rest = JSON.stringify({ ...d, [r[0]]: undefined });
    return `{${JSON.stringify(r[0])}:${r[1]}${rest === '{}' ? '}' : `,${rest.slice(1)}`}`;
  });
  for (const [at, text] of extra) lines.splice(at % (lines.length + 1), 0, text);
  return lines;
}

const itemsFile = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(
        fc.array(item, { minLength: 1, maxLength: 6 }),
        someOf(itemsChange, 1, 2),
        fc.constantFrom('\n', '\n', '\r\n'),
        fc.constantFrom('', '', '\ufeff'),
        fc.constantFrom('\n', '', '\n\n'),
      )
      .map(([items, changes, eol, bom, end]) => ({
        text: bom + itemsText(items as Record<string, unknown>[], changes).join(eol) + end,
        changes: changes.length,
      })),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }).map((text) => ({ text, changes: 1 })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((text) => ({ text, changes: 1 })) },
);

describe(`fuzzing the data files users hand seqlab (${CASES} cases each, in-process)`, () => {
  it('safetensors weights: the reader and the state dict → model step of probe --weights and eval-lm', async () => {
    const weights = join(tmp, 'w.safetensors');
    const sniffed = join(tmp, 'w.bin'); // no extension to go by: probe tells JSON from safetensors by the bytes
    const vocab = join(tmp, 'vocab.txt');
    const probeDefaults = {
      hidden: '2',
      'input-size': '2',
      'seq-len': '2',
      batch: '1',
      init: 'pytorch',
      'init-std': '0.1',
    };
    const input = fc.tuple(
      safetensorsFile,
      fc.constantFrom('probe', 'probe', 'probe-sniffed', 'eval-lm', 'eval-lm'),
      fc.constantFrom(0, 0, 0, 0, 1, -1),
      fc.constantFrom(undefined, undefined, undefined, undefined, 'rnn', 'lstm', 'gru'),
    );
    let cleanOk = 0; // files left as built, read without a complaint
    const counts = await fuzzInput(input, ([file, consumer, vocabDelta, cell]) => {
      if (consumer === 'eval-lm') {
        writeFileSync(weights, file.bytes);
        const words = Array.from({ length: Math.max(1, file.vocabSize + vocabDelta) }, (_, i) => `w${i}`);
        writeFileSync(vocab, `${words.join('\n')}\n`);
        loadLanguageModel({ weights, vocab }, { cell: cell ?? null }).model.dispose();
      } else {
        const path = consumer === 'probe' ? weights : sniffed;
        writeFileSync(path, file.bytes);
        const args = { ...probeDefaults, cell, weights: path, layer: '0', mode: 'h', seed: '1', 'max-hours': '1' };
        const { weights: w } = loadProbeSetup({ ...parseProbeArgs(args), backend: 'wasm' });
        // the cell probeRun builds from what the file held
        createCell(w.cell, w.inputSize, w.hiddenSize, w.layers[0], { nonlinearity: w.nonlinearity }).dispose();
      }
      if (file.changes === 0) cleanOk++;
    });
    expect(counts.ok).toBeGreaterThan(80);
    expect(counts.input).toBeGreaterThan(500);
    expect(cleanOk).toBeGreaterThan(60);
  });

  it('CoNLL-U treebanks: the reader and the extraction of agreement extract (its items read back)', async () => {
    const plain = join(tmp, 'pt_fuzz-ud-train.conllu');
    const gz = join(tmp, 'pt_fuzz-ud-test.conllu.gz');
    const out = join(tmp, 'extracted.jsonl');
    const input = fc.tuple(treebankText, fc.constantFrom('plain', 'plain', 'plain', 'gz', 'broken-gz'));
    let items = 0;
    const counts = await fuzzInput(input, ([{ text }, how]) => {
      const path = how === 'plain' ? plain : gz;
      const bytes = Buffer.from(text);
      writeFileSync(path, how === 'plain' ? bytes : how === 'gz' ? gzipSync(bytes) : gzipSync(bytes).subarray(0, 12));
      const r = agreementExtract({ treebanks: [path], out });
      if (r.items === 0) return;
      items += r.items;
      try {
        readItems(out);
      } catch (e) {
        throw new Error(`extract wrote an items file it cannot read: ${(e as Error).message}`);
      }
    });
    expect(counts.ok).toBeGreaterThan(200);
    expect(counts.input).toBeGreaterThan(400);
    expect(items).toBeGreaterThan(400);
  });

  it('items files (JSONL) for agreement eval --items: the reader and the vocabulary check', async () => {
    const path = join(tmp, 'items.jsonl');
    const words = [...WORDS, 'entrou', 'entraram', 'é', 'são', 'tornou-se', 'tornaram-se'];
    const vocab = Vocabulary.fromWordList(['<eos>', '<unk>', ...words.filter((w) => !/^<|\s/.test(w))], 'fuzz');
    const counts = await fuzzInput(itemsFile, ({ text }) => {
      writeFileSync(path, text);
      vocabularyCoverage(readItems(path), vocab);
    });
    expect(counts.ok).toBeGreaterThan(250);
    expect(counts.input).toBeGreaterThan(400);
  });
});
