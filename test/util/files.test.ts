import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SeqlabError } from '../../src/util/errors.js';
import { appendLine, ensureDir, systemIoError, writeFileAtomic, writeJsonAtomic } from '../../src/util/files.js';

// The write paths every file of seqlab goes through, failing on purpose: through the test-only
// seam (SEQLAB_TEST_WRITE_FAULT, set here in-process) and through real file-system errors.

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.SEQLAB_TEST_WRITE_FAULT;
});

/** The io error `fn` throws (exit 5), or a failed expectation. */
function ioFailure(fn: () => void): SeqlabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SeqlabError);
    expect((e as SeqlabError).code).toBe('io');
    return e as SeqlabError;
  }
  throw new Error('expected an io error');
}

describe('writes are whole or fail naming the file', () => {
  for (const code of ['ENOSPC', 'EACCES', 'EIO']) {
    it(`writeFileAtomic, ${code} half way: the old file stays, no temporary file is left`, () => {
      const dir = join(tmp, `atomic-${code}`);
      ensureDir(dir);
      const path = join(dir, 'checkpoint.json');
      writeJsonAtomic(path, { step: 100 });
      process.env.SEQLAB_TEST_WRITE_FAULT = `${code}:checkpoint.json`;
      const e = ioFailure(() => writeJsonAtomic(path, { step: 200, weights: 'x'.repeat(10_000) }));
      expect(e.message).toContain(path);
      expect(e.message).toContain(`(${code})`);
      expect(e.message.split('\n')).toHaveLength(1);
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ step: 100 });
      expect(readdirSync(dir)).toEqual(['checkpoint.json']);
    });
  }

  it('the N-th write fails (CODE:TEXT:N); other paths are untouched', () => {
    const dir = join(tmp, 'nth');
    process.env.SEQLAB_TEST_WRITE_FAULT = 'EIO:metrics.json:2';
    writeJsonAtomic(join(dir, 'metrics.json'), 1);
    writeJsonAtomic(join(dir, 'config.json'), 2); // not counted: another file
    ioFailure(() => writeJsonAtomic(join(dir, 'metrics.json'), 3));
    writeJsonAtomic(join(dir, 'metrics.json'), 4); // the fault was the second write only
    expect(readFileSync(join(dir, 'metrics.json'), 'utf8')).toBe('4\n');
  });

  it('appendLine, ENOSPC half way through a line: the log is cut back to its last whole line', () => {
    const path = join(tmp, 'log.jsonl');
    writeFileSync(path, '');
    appendLine(path, '{"type":"step","step":1}\n');
    process.env.SEQLAB_TEST_WRITE_FAULT = 'ENOSPC:log.jsonl';
    const e = ioFailure(() => appendLine(path, `{"type":"step","step":2,"pad":"${'y'.repeat(5000)}"}\n`));
    expect(e.message).toBe(`cannot write ${path}: no space left on device (ENOSPC)`);
    expect(readFileSync(path, 'utf8')).toBe('{"type":"step","step":1}\n');
  });

  it('a directory under a file (ENOTDIR): one line naming the path', () => {
    const file = join(tmp, 'plain-file');
    writeFileSync(file, 'x');
    const e = ioFailure(() => writeFileAtomic(join(file, 'sub', 'a.json'), '{}'));
    expect(e.message).toMatch(/^cannot create directory .*plain-file\/sub: a part of the path is not a directory/);
    expect(ioFailure(() => appendLine(join(file, 'log.jsonl'), 'x\n')).message).toMatch(/ENOTDIR/);
  });

  it('/proc refuses new files: one line naming the path, nothing left behind', () => {
    const e = ioFailure(() => writeFileAtomic('/proc/seqlab-test.json', '{}'));
    expect(e.message).toMatch(/^cannot write \/proc\/seqlab-test\.json: .*\((ENOENT|EACCES|EPERM)\)$/);
  });

  it("systemIoError turns Node's own file errors into io errors and leaves others alone", () => {
    let caught: unknown;
    try {
      readFileSync(join(tmp, 'missing', 'x'));
    } catch (e) {
      caught = e;
    }
    expect(systemIoError(caught)?.message).toMatch(/^cannot open .*missing\/x: no such file or directory \(ENOENT\)$/);
    expect(systemIoError(new Error('plain bug'))).toBeNull();
    expect(systemIoError('not an error')).toBeNull();
  });
});
