import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { SeqlabError, inputError, oneLine } from './errors.js';

/**
 * Every file seqlab writes goes through here, so a write either happens whole or fails as one
 * SeqlabError('io') naming the file (exit 5), leaving nothing half-written behind:
 *
 *   writeFileAtomic   write `name.<pid>.tmp`, then rename over `name`; on failure the
 *                     temporary file is removed and the old `name` (the last good checkpoint)
 *                     is untouched
 *   appendLine        one whole line at the end of a log; on failure the file is cut back to
 *                     where it ended, so a JSONL log never ends in half a record
 *   ensureDir         mkdir -p
 *
 * Each is one synchronous call: a signal handler (cli/signals.ts) never runs in the middle of one.
 */

/** What an errno code means, for the one line a user reads. */
const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  ENOENT: 'no such file or directory',
  EEXIST: 'a file is in the way',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many symbolic links',
};

type SystemError = Error & { code?: string; path?: string; syscall?: string };

function reasonOf(e: SystemError): string {
  const code = e.code ?? '';
  return `${REASONS[code] ?? e.message.replace(/^[A-Z]+: /, '').split(',')[0]}${code ? ` (${code})` : ''}`;
}

function ioError(verb: string, path: string, e: unknown): SeqlabError {
  if (e instanceof SeqlabError) return e;
  return new SeqlabError('io', `cannot ${verb} ${path}: ${reasonOf(e as SystemError)}`);
}

/**
 * A file-system error that escaped its caller (Node's own, with an errno code and a path) as the
 * one-line io error it is; null for anything else.
 */
export function systemIoError(e: unknown): SeqlabError | null {
  const err = e as SystemError;
  if (!(e instanceof Error) || typeof err.code !== 'string' || !(err.code in REASONS) || !err.path) return null;
  const verb = err.syscall === 'open' || err.syscall === 'scandir' ? 'open' : err.syscall === 'read' ? 'read' : 'write';
  return ioError(verb, err.path, e);
}

/**
 * The test-only fault seam. With SEQLAB_TEST_WRITE_FAULT=CODE:TEXT[:N] in the environment, the
 * N-th write (default the first) to a path containing TEXT fails with errno CODE after writing half
 * its bytes, exactly where a full disk or a failing device would stop it. ENOSPC and EACCES are also
 * tested for real (a tiny tmpfs, a directory another user cannot write); EIO has no safe real
 * source, and a real fault cannot be aimed at one chosen file (metrics.json, the report) at one
 * chosen moment. Without the variable this is one comparison per write.
 */
const FAULT_VAR = 'SEQLAB_TEST_WRITE_FAULT';
let faultWrites = 0;
let faultSpec: string | undefined;

function injectedFault(path: string): SystemError | null {
  const spec = typeof process === 'undefined' ? undefined : process.env?.[FAULT_VAR];
  if (spec !== faultSpec) {
    faultSpec = spec; // a new setting counts its writes afresh
    faultWrites = 0;
  }
  if (!spec) return null;
  const [code, text, nth] = spec.split(':');
  if (!code || !text || !path.includes(text)) return null;
  faultWrites++;
  if (faultWrites !== Number(nth ?? 1)) return null;
  return Object.assign(new Error(`${code}: ${REASONS[code] ?? 'injected fault'}, write`), {
    code,
    syscall: 'write',
    path,
  });
}

/** Write all of `data` at the file position, or throw; an injected fault writes half first. */
function writeAll(fd: number, data: Uint8Array, path: string): void {
  const fault = injectedFault(path);
  const end = fault ? data.length >> 1 : data.length;
  for (let off = 0; off < end; ) off += writeSync(fd, data, off, end - off);
  if (fault) throw fault;
}

const bytesOf = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? Buffer.from(data) : data);

/**
 * mkdir -p, or an io error naming the directory. One level at a time from the deepest existing
 * ancestor: Node's own recursive mkdir never returns where mkdir answers ENOENT for a parent that
 * exists (in /proc it retries forever).
 */
export function ensureDir(path: string): void {
  try {
    const fault = injectedFault(path);
    if (fault) throw fault;
    const missing: string[] = [];
    for (let p = path; !existsSync(p); p = dirname(p)) {
      if (dirname(p) === p) break;
      missing.push(p);
    }
    for (const p of missing.reverse()) {
      try {
        mkdirSync(p);
      } catch (e) {
        if ((e as SystemError).code !== 'EEXIST') throw e; // another process (a sweep's shard) made it meanwhile
      }
    }
    if (!statSync(path).isDirectory())
      throw Object.assign(new Error('ENOTDIR: not a directory'), { code: 'ENOTDIR', path });
  } catch (e) {
    throw ioError('create directory', path, e);
  }
}

/** Write `name.<pid>.tmp` then rename over `name`: readers see the old file or the new one, never half of one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  ensureDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, bytesOf(data), path);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError('write', path, e);
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Append one line (`line` ends with "\n") whole, or leave the file as it was and throw an io error naming it. */
export function appendLine(path: string, line: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'a');
  } catch (e) {
    throw ioError('write', path, e);
  }
  let size = -1;
  try {
    size = fstatSync(fd).size;
    writeAll(fd, Buffer.from(line), path);
  } catch (e) {
    if (size >= 0) {
      try {
        ftruncateSync(fd, size);
      } catch {
        // the file system refuses even that: the error below still names the file
      }
    }
    throw ioError('write', path, e);
  } finally {
    closeSync(fd);
  }
}

/** The longest text read whole: V8's longest string (2^29 − 24 characters). */
const MAX_TEXT_BYTES = 2 ** 29 - 24;

/** Read a JSON file, turning every way it can be wrong into one clear line. */
export function readJsonFile(path: string, what: string): unknown {
  if (!existsSync(path)) throw inputError(`${what} file not found: ${path}`);
  const stat = statSync(path);
  if (stat.isDirectory()) throw inputError(`${what} path is a directory, not a file: ${path}`);
  if (stat.size > MAX_TEXT_BYTES)
    throw inputError(
      `${what} file ${path} is too large to read as JSON (${stat.size} bytes; at most ${MAX_TEXT_BYTES})`,
    );
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SeqlabError('io', `cannot read ${what} file ${path}: ${reasonOf(e as SystemError)}`);
  }
  if (text.trim() === '') throw inputError(`${what} file is empty: ${path}`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw inputError(`${what} file is not valid JSON: ${path} (${oneLine((e as Error).message)})`);
  }
}
