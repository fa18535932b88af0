import { expect } from 'vitest';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root and the `seqlab` binary as a user runs it. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin', 'seqlab.js');

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `seqlab …` in its own node process (SEQLAB_BACKEND unset) and collect its output. */
export function runSeqlab(args: string[], cwd: string = ROOT): Promise<Result> {
  const env = { ...process.env };
  delete env.SEQLAB_BACKEND;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

/**
 * A user mistake as the CLI reports it: exit `code`, nothing on stdout, one "seqlab: …" line on stderr matching
 * `message`.
 */
export function expectOneLineError(r: Result, code: number, message: RegExp): void {
  expect(r.status).toBe(code);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^seqlab: /);
  expect(lines[0]).toMatch(message);
}
