import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/util/errors.js';
import { BIN, ROOT, type Result } from './run.js';

// Faults while writing, as a user meets them: every file seqlab writes, failing with ENOSPC, EACCES
// or EIO, gives exit 5 and one line naming the file; the last good checkpoint stays whole; no
// temporary file is left. Real faults where the machine gives them (a directory another user cannot
// write, a path under a file, /proc, a 32 KiB tmpfs); the rest through the test-only seam
// SEQLAB_TEST_WRITE_FAULT (src/util/files.ts says why it exists).

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-faults-'));
chmodSync(tmp, 0o755); // the unprivileged user below must reach into it
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const IO = EXIT_CODES.io;
const W = ['--backend', 'wasm', '--quiet'];
const TRAIN = [
  ...['train', '--task', 'adding', '--seq-len', '4', '--cell', 'gru', '--hidden', '3', '--batch', '4'],
  ...['--steps', '30', '--eval-every', '10', '--eval-size', '8', '--gradflow-every', '10', '--no-report'],
];

/** `seqlab args` with extra environment, optionally through a wrapper command (setpriv, unshare). */
function run(args: string[], env: Record<string, string> = {}, wrapper: string[] = []): Promise<Result> {
  const cmd = [...wrapper, process.execPath, BIN, ...args];
  return new Promise((done, fail) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd: tmp, env: { ...process.env, ...env, SEQLAB_BACKEND: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

/** Exit 5, one "seqlab: …" line naming `file` and the errno, no stack trace. */
function expectIoFailure(r: Result, file: string, code: string): void {
  expect(r.status, r.stderr).toBe(IO);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^seqlab: cannot (write|create directory|open) /);
  expect(lines[0]).toContain(file);
  expect(lines[0]).toContain(`(${code})`);
  expect(r.stderr).not.toContain('    at ');
}

const tmpLeft = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp')) : [];

function logWhole(path: string): boolean {
  const text = readFileSync(path, 'utf8');
  if (text !== '' && !text.endsWith('\n')) return false;
  return text
    .split('\n')
    .filter(Boolean)
    .every((l) => {
      try {
        JSON.parse(l);
        return true;
      } catch {
        return false;
      }
    });
}

/** The unprivileged user's command prefix (setpriv: util-linux), where we are root and it works. */
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
/**
 * Root, setpriv works, and the unprivileged user can read seqlab itself (a checkout under a private directory,
 * such as mktemp -d's, it cannot: then the test would only show that node cannot start).
 */
const canDropPrivileges =
  process.getuid?.() === 0 &&
  spawnSync(NOBODY[0], [
    ...NOBODY.slice(1),
    process.execPath,
    '-e',
    'for (const f of process.argv.slice(1)) require("fs").accessSync(f, require("fs").constants.R_OK)',
    BIN,
    join(ROOT, 'dist', 'src', 'cli', 'main.js'),
    join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'package.json'),
  ]).status === 0;
/** A tmpfs can be mounted in a private mount namespace (root, unshare: util-linux). */
const canMountTmpfs = (() => {
  const probe = join(tmp, 'mount-probe');
  mkdirSync(probe);
  return spawnSync('unshare', ['-m', 'mount', '-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', probe]).status === 0;
})();
if (!canDropPrivileges)
  console.warn(
    'faults: EACCES for real needs root, setpriv and a checkout other users can read; the injected EACCES still runs',
  );
if (!canMountTmpfs) console.warn('faults: ENOSPC for real needs a tmpfs mount (root); the injected ENOSPC still runs');

// each case is a few node processes: generous time on a busy machine
describe.concurrent('faults while writing', { timeout: 300_000 }, () => {
  // [label, args (TMP/… is a fresh directory), fault, file the line names, errno]
  const injected: [string, (dir: string) => string[], string, string, string][] = [
    ['config.json, EIO', (d) => [...TRAIN, '--out', d], 'EIO:config.json', 'config.json', 'EIO'],
    ['log.jsonl, ENOSPC on its 20th line', (d) => [...TRAIN, '--out', d], 'ENOSPC:log.jsonl:20', 'log.jsonl', 'ENOSPC'],
    [
      'checkpoint.json, EIO on the second',
      (d) => [...TRAIN, '--out', d],
      'EIO:checkpoint.json:2',
      'checkpoint.json',
      'EIO',
    ],
    ['metrics.json, EACCES', (d) => [...TRAIN, '--out', d], 'EACCES:metrics.json', 'metrics.json', 'EACCES'],
    [
      'compare.json, ENOSPC',
      (d) =>
        ['compare', '--task', 'adding', '--cells', 'rnn', '--seq-len', '3', '--hidden', '2', '--steps', '2'].concat([
          '--eval-size',
          '4',
          '--no-report',
          '--out',
          d,
        ]),
      'ENOSPC:compare.json',
      'compare.json',
      'ENOSPC',
    ],
    ['the lab site, EIO', (d) => ['lab', '--out', d], 'EIO:lab.js', 'lab.js', 'EIO'],
  ];
  for (const [label, args, fault, file, code] of injected) {
    it(`${label}: exit 5, one line naming the file, no temporary file`, async () => {
      const dir = join(tmp, label.replace(/\W+/g, '-'));
      const all = args(dir);
      const r = await run(all[0] === 'lab' ? all : [...all, ...W], { SEQLAB_TEST_WRITE_FAULT: fault });
      expectIoFailure(r, join(dir, file), code);
      expect(tmpLeft(dir)).toEqual([]);
      if (existsSync(join(dir, 'log.jsonl'))) expect(logWhole(join(dir, 'log.jsonl'))).toBe(true);
    });
  }

  it('the second checkpoint fails: the first one stays whole and resumable, no metrics.json', async () => {
    const dir = join(tmp, 'last-good');
    const r = await run([...TRAIN, '--out', dir, ...W], { SEQLAB_TEST_WRITE_FAULT: 'ENOSPC:checkpoint.json:2' });
    expectIoFailure(r, join(dir, 'checkpoint.json'), 'ENOSPC');
    const checkpoint = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'));
    expect(checkpoint.step).toBe(10);
    expect(checkpoint.resume.step).toBe(10);
    expect(existsSync(join(dir, 'metrics.json'))).toBe(false);
    // and the run goes on from it once the disk has room
    const resumed = await run(['train', '--resume', dir, ...W]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).steps).toBe(30);
  });

  it('report.html and the plots: exit 5 naming the file', async () => {
    const dir = join(tmp, 'to-report');
    expect((await run([...TRAIN, '--out', dir, ...W])).status).toBe(0);
    const report = (fault: string) => run(['report', dir], { SEQLAB_TEST_WRITE_FAULT: fault });
    expectIoFailure(await report('EIO:report.html'), 'report.html', 'EIO');
    expectIoFailure(await report('ENOSPC:plots'), 'plots', 'ENOSPC');
    expect(tmpLeft(dir)).toEqual([]);
  });

  it('sweep.json and results.csv: exit 5 naming the file', async () => {
    const spec = join(tmp, 'faults-sweep.json');
    writeFileSync(
      spec,
      JSON.stringify({ base: { task: 'adding', steps: 2, hidden: 2, 'seq-len': 3 }, grid: { cell: ['rnn'] } }),
    );
    const out = join(tmp, 'faults-sweep');
    const sweep = await run(['sweep', spec, '--out', out, ...W], { SEQLAB_TEST_WRITE_FAULT: 'EACCES:sweep.json' });
    expectIoFailure(sweep, join(out, 'sweep.json'), 'EACCES');
    // a finished sweep whose results.csv cannot be written: --collect fails naming it
    expect((await run(['sweep', spec, '--out', `${out}-ok`, ...W])).status).toBe(0);
    const collect = await run(['sweep', '--collect', `${out}-ok`, '--quiet'], {
      SEQLAB_TEST_WRITE_FAULT: 'EIO:results.csv',
    });
    expectIoFailure(collect, join(`${out}-ok`, 'results.csv'), 'EIO');
    expect(tmpLeft(`${out}-ok`)).toEqual([]);
  });

  it('a directory under a file (ENOTDIR) and /proc: exit 5, one line naming the path', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expectIoFailure(await run([...TRAIN, '--out', join(file, 'run'), ...W]), join(file, 'run'), 'ENOTDIR');
    const r = await run([...TRAIN, '--out', '/proc/seqlab-run', ...W]);
    expect(r.status, r.stderr).toBe(IO);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^seqlab: cannot create directory \/proc\/seqlab-run: .*\((ENOENT|EACCES|EPERM)\)\n$/);
  });

  const eaccesTitle =
    'EACCES for real: another user cannot create the run directory, nor continue a run it does not own';
  it.runIf(canDropPrivileges)(eaccesTitle, async () => {
    const locked = join(tmp, 'locked');
    mkdirSync(locked, { mode: 0o755 }); // root's: others may read, not write
    expectIoFailure(
      await run([...TRAIN, '--out', join(locked, 'run'), ...W], {}, NOBODY),
      join(locked, 'run'),
      'EACCES',
    );
    const owned = join(tmp, 'owned-by-root');
    expect((await run([...TRAIN, '--out', owned, ...W])).status).toBe(0);
    const before = readFileSync(join(owned, 'checkpoint.json'), 'utf8');
    const r = await run(['train', '--resume', owned, '--steps', '40', ...W], {}, NOBODY);
    expectIoFailure(r, owned, 'EACCES');
    expect(readFileSync(join(owned, 'checkpoint.json'), 'utf8')).toBe(before);
  });

  const enospcTitle =
    'ENOSPC for real: a 32 KiB tmpfs fills up; the last good checkpoint stays, no partial line, no .tmp';
  it.runIf(canMountTmpfs)(enospcTitle, async () => {
    const mount = join(tmp, 'tmpfs');
    const copy = join(tmp, 'tmpfs-copy');
    mkdirSync(mount);
    mkdirSync(copy);
    const args = [...TRAIN, '--steps', '3000', '--eval-every', '50']; // the last of a repeated option counts
    // a private mount namespace: the tmpfs goes away with the child; its files are copied out first
    const script =
      'mount -t tmpfs -o size=32k tmpfs "$1" || exit 99; shift 2; "$@" --out "$M/run"; code=$?; ' +
      'cp -a "$M/." "$C/"; exit $code';
    const r = await new Promise<Result>((done) => {
      const child = spawn(
        'unshare',
        ['-m', 'sh', '-c', script, 'sh', mount, copy, process.execPath, BIN, ...args, ...W],
        { cwd: tmp, env: { ...process.env, M: mount, C: copy } },
      );
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.on('close', (status) => done({ status, stdout: '', stderr }));
    });
    expectIoFailure(r, join(mount, 'run'), 'ENOSPC');
    const run_ = join(copy, 'run');
    expect(tmpLeft(run_)).toEqual([]);
    expect(logWhole(join(run_, 'log.jsonl'))).toBe(true);
    const checkpoint = JSON.parse(readFileSync(join(run_, 'checkpoint.json'), 'utf8'));
    expect(checkpoint.step % 50).toBe(0);
    expect(checkpoint.step).toBeGreaterThan(0);
  });
});
