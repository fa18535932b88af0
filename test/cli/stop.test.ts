import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, type Result, runSeqlab } from './run.js';

// Ctrl-C and SIGTERM as a user sends them, to the `seqlab` binary: the first signal finishes the
// step, writes a resumable checkpoint and exits 130/143 with one line saying how to go on; the
// second exits at once; `--resume` (or the same sweep again) then ends with the same metrics.json,
// byte for byte, as a run never interrupted. Each case is a few node processes, run concurrently.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-stop-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const W = ['--backend', 'wasm'];
/** A run long enough to be interrupted (copy task: every step read out, eight truncated-BPTT chunks a batch). */
const TRAIN = [
  ...['--task', 'copy', '--seq-len', '4', '--bptt', '3', '--cell', 'gru', '--hidden', '4', '--batch', '4'],
  ...['--steps', '400', '--eval-every', '100', '--eval-size', '16', '--gradflow-every', '100', '--no-report'],
];
/** Long batches (220 one-step chunks, each an update): a stop waits for the batch's end, so a second signal lands. */
const LONG_BATCHES = [
  ...['--task', 'copy', '--seq-len', '200', '--bptt', '1', '--cell', 'rnn', '--hidden', '4', '--batch', '2'],
  ...['--steps', '5000', '--eval-every', '5000', '--eval-size', '4', '--gradflow-every', '0', '--no-report'],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lines of a JSONL file that parse, and whether every line did. */
function logOf(path: string): { records: { type: string; step?: number }[]; whole: boolean } {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const lines = text.split('\n').filter((l) => l !== '');
  const records = [];
  let whole = text === '' || text.endsWith('\n');
  for (const l of lines) {
    try {
      records.push(JSON.parse(l));
    } catch {
      whole = false;
    }
  }
  return { records, whole };
}

/** Start `seqlab args`; `signal` sends signals once `ready()` holds (polled), in order, `gapMs` apart. */
function interrupted(args: string[], ready: () => boolean, signals: NodeJS.Signals[], gapMs = 0): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    let exited = false;
    child.on('close', (status) => {
      exited = true;
      done({ status, stdout, stderr });
    });
    const poll = async () => {
      while (!exited && !ready()) await sleep(10);
      for (const s of signals) {
        if (exited) return;
        child.kill(s);
        if (gapMs > 0) await sleep(gapMs);
      }
    };
    void poll();
  });
}

const steps = (dir: string) => logOf(join(dir, 'log.jsonl')).records.filter((r) => r.type === 'step').length;
const lastLine = (r: Result) => r.stderr.trim().split('\n').at(-1) ?? '';
const tmpFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));

/** Everything a stopped run left is whole: JSON files parse, the log is whole lines, no temporary file. */
function expectWholeFiles(dir: string): void {
  for (const name of ['config.json', 'checkpoint.json']) {
    if (existsSync(join(dir, name))) expect(() => JSON.parse(readFileSync(join(dir, name), 'utf8'))).not.toThrow();
  }
  expect(logOf(join(dir, 'log.jsonl')).whole).toBe(true);
  expect(tmpFiles(dir)).toEqual([]);
}

// one case at a time (each is two to four node processes, timed by signals); generous time on a busy machine
describe('stopping cleanly', { timeout: 300_000 }, () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    const resumeNote = signal === 'SIGINT' ? '; --resume = never interrupted' : '';
    const title = `train, ${signal}: checkpoint, exit ${code}, one line on how to go on${resumeNote}`;
    it(title, async () => {
      const [a, b] = [join(tmp, `train-a-${signal}`), join(tmp, `train-b-${signal}`)];
      // the run never interrupted, beside it (once: SIGTERM takes the same path after the signal)
      const full = signal === 'SIGINT';
      const [whole, stopped] = await Promise.all([
        full ? runSeqlab(['train', ...TRAIN, '--out', a, '--quiet', ...W], tmp) : null,
        interrupted(['train', ...TRAIN, '--out', b, '--quiet', ...W], () => steps(b) >= 20, [signal]),
      ]);
      if (whole) expect(whole.status, whole.stderr).toBe(0);
      expect(stopped.status, stopped.stderr).toBe(code);
      const m = new RegExp(
        `^seqlab: training stopped \\(${signal}\\) at step (\\d+) of 400; checkpoint written to ` +
          `${b}/checkpoint\\.json; continue with: seqlab train --resume ${b}$`,
      ).exec(lastLine(stopped));
      expect(m, stopped.stderr).not.toBeNull();
      expect(stopped.stderr).toContain(`seqlab: ${signal}: finishing this step and writing a checkpoint`);
      expect(stopped.stdout).toBe('');
      // a resumable checkpoint of the step it names, no metrics.json (the run is not finished)
      const at = Number(m?.[1]);
      const checkpoint = JSON.parse(readFileSync(join(b, 'checkpoint.json'), 'utf8'));
      expect(checkpoint.resume.step).toBe(at);
      expect(existsSync(join(b, 'metrics.json'))).toBe(false);
      expectWholeFiles(b);
      if (!full) return;
      const resumed = await runSeqlab(['train', '--resume', b, '--quiet', ...W], tmp);
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(readFileSync(join(b, 'metrics.json'), 'utf8')).toBe(readFileSync(join(a, 'metrics.json'), 'utf8'));
    });
  }

  it('train, a second SIGINT while the first waits for the batch to end: exits at once, 130, files whole', async () => {
    const dir = join(tmp, 'train-twice');
    const r = await new Promise<Result>((done, fail) => {
      const child = spawn(process.execPath, [BIN, 'train', ...LONG_BATCHES, '--out', dir, '--quiet', ...W], {
        cwd: tmp,
      });
      let stderr = '';
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        // the first signal was taken: send the second while the batch is still finishing
        if (stderr.includes('finishing this step')) setTimeout(() => child.kill('SIGINT'), 20);
      });
      child.on('error', fail);
      child.on('close', (status) => done({ status, stdout, stderr }));
      const first = async () => {
        while (steps(dir) < 30) await sleep(10);
        child.kill('SIGINT');
      };
      void first();
    });
    expect(r.status, r.stderr).toBe(130);
    expect(lastLine(r)).toBe('seqlab: second SIGINT: stopped at once; the last checkpoint on disk is whole');
    expectWholeFiles(dir);
  });

  it('compare, SIGINT in its first run: exit 130; compare --resume = the comparison never interrupted', async () => {
    const args = ['compare', '--task', 'adding', '--cells', 'rnn,gru', '--seq-len', '5', '--hidden', '3'];
    const rest = ['--steps', '300', '--eval-every', '100', '--eval-size', '16', '--gradflow-every', '100'];
    const common = [...args, ...rest, '--no-report', '--quiet', ...W];
    const [a, b] = [join(tmp, 'compare-a'), join(tmp, 'compare-b')];
    const [whole, stopped] = await Promise.all([
      runSeqlab([...common, '--out', a], tmp),
      interrupted([...common, '--out', b], () => steps(join(b, 'rnn')) >= 20, ['SIGINT']),
    ]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(stopped.status, stopped.stderr).toBe(130);
    expect(lastLine(stopped)).toMatch(
      new RegExp(
        `^seqlab: compare stopped \\(SIGINT\\) in run 1 of 2 \\(rnn\\), checkpoint written to ${b}/rnn/checkpoint` +
          `\\.json; continue with: seqlab compare --resume ${b}$`,
      ),
    );
    expect(JSON.parse(readFileSync(join(b, 'compare.json'), 'utf8'))).toMatchObject({ status: 'stopped', rows: [] });
    expectWholeFiles(join(b, 'rnn'));
    const resumed = await runSeqlab(['compare', '--resume', b, '--no-report', '--quiet', '--json', ...W], tmp);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).rows.map((r: { cell: string }) => r.cell)).toEqual(['rnn', 'gru']);
    for (const cell of ['rnn', 'gru'])
      expect(readFileSync(join(b, cell, 'metrics.json'), 'utf8'), cell).toBe(
        readFileSync(join(a, cell, 'metrics.json'), 'utf8'),
      );
  });

  const sweepTitle =
    'sweep, SIGINT: the runs stop with checkpoints, exit 130; the same command again = never interrupted';
  it(sweepTitle, async () => {
    const spec = join(tmp, 'sweep.json');
    const base = { task: 'adding', 'seq-len': 5, hidden: 3, steps: 900, 'eval-every': 300, 'eval-size': 16 };
    writeFileSync(
      spec,
      JSON.stringify({ name: 'stop', base: { ...base, 'gradflow-every': 300 }, grid: { cell: ['rnn', 'gru'] } }),
    );
    const [a, b] = [join(tmp, 'sweep-a'), join(tmp, 'sweep-b')];
    const running = () => ['cell-rnn', 'cell-gru'].every((d) => steps(join(b, d)) >= 10);
    const [whole, stopped] = await Promise.all([
      runSeqlab(['sweep', spec, '--out', a, '--workers', '2', '--quiet', ...W], tmp),
      interrupted(['sweep', spec, '--out', b, '--workers', '2', ...W], running, ['SIGINT']),
    ]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(stopped.status, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain('seqlab: SIGINT: asking the 2 running configuration(s) to stop');
    expect(lastLine(stopped)).toMatch(
      new RegExp(
        '^seqlab: sweep stopped \\(SIGINT\\): 2 run\\(s\\) stopped with a checkpoint, 0 finished, 0 not started; ' +
          'run the same command again to continue',
      ),
    );
    for (const d of ['cell-rnn', 'cell-gru']) {
      expect(existsSync(join(b, d, 'metrics.json'))).toBe(false);
      expect(JSON.parse(readFileSync(join(b, d, 'checkpoint.json'), 'utf8')).resume.step).toBeGreaterThan(0);
      expectWholeFiles(join(b, d));
    }
    const again = await runSeqlab(['sweep', spec, '--out', b, '--workers', '2', '--quiet', ...W], tmp);
    expect(again.status, again.stderr).toBe(0);
    for (const d of ['cell-rnn', 'cell-gru']) {
      // continued, not restarted: a second start record after the checkpoint
      expect(logOf(join(b, d, 'log.jsonl')).records.filter((r) => r.type === 'start')).toHaveLength(2);
      expect(readFileSync(join(b, d, 'metrics.json'), 'utf8'), d).toBe(
        readFileSync(join(a, d, 'metrics.json'), 'utf8'),
      );
    }
  });

  it('probe: progress on stderr, and SIGINT stops it between steps with one line; nothing written', async () => {
    let seen = '';
    const dir = join(tmp, 'probe-cwd');
    mkdirSync(dir);
    const args = ['probe', '--cell', 'rnn', '--hidden', '4', '--seq-len', '60000', ...W];
    const r = await new Promise<Result>((done) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: dir });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        seen += d;
        // interrupt once the forward pass has reported its first piece
        if (/probe forward \d+\/60000/.test(seen) && !child.killed) child.kill('SIGINT');
      });
      child.on('close', (status) => done({ status, stdout, stderr: seen }));
    });
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^\d+% probe forward \d+\/60000 steps/m);
    expect(lastLine(r)).toMatch(
      new RegExp(
        '^seqlab: probe stopped \\(SIGINT\\) in the (forward pass at step|backward sweep at gap) \\d+ of 60000; ' +
          'nothing was written$',
      ),
    );
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });
});
