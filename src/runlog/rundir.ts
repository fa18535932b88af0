import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SeqlabError } from '../util/errors.js';
import { appendLine, ensureDir, writeFileAtomic, writeJsonAtomic } from '../util/files.js';
import type { LogRecord } from './schema.js';

/** Where a trainer's records go: a run directory's log.jsonl, or (the browser lab) memory. */
export interface RunLog {
  log(record: LogRecord): void;
}

/** The files a run writes. */
export const RUN_FILES = ['config.json', 'log.jsonl', 'metrics.json', 'checkpoint.json'] as const;

/**
 * A run directory: config.json (fully resolved), log.jsonl, metrics.json and
 * checkpoint.json. JSON files are replaced atomically; the log grows by whole lines.
 */
export class RunDir implements RunLog {
  constructor(readonly path: string) {}

  /** Create the directory; refuse a non-empty one unless `overwrite`. */
  static create(path: string, overwrite = false): RunDir {
    prepareOutDir(path, overwrite);
    const dir = new RunDir(path);
    // an overwritten run must not keep files of the previous one
    for (const name of RUN_FILES) rmSync(dir.file(name), { force: true });
    writeFileAtomic(dir.file('log.jsonl'), ''); // a fresh log for a fresh run
    return dir;
  }

  /**
   * An existing run directory, to continue (its log grows; nothing is cleared but the temporary
   * files of a process that was killed while writing: `name.<pid>.tmp`).
   */
  static open(path: string): RunDir {
    if (!existsSync(join(path, 'log.jsonl')))
      throw new SeqlabError('input', `${path} is not a seqlab run directory (no log.jsonl)`);
    for (const name of readdirSync(path)) if (/\.\d+\.tmp$/.test(name)) rmSync(join(path, name), { force: true });
    const dir = new RunDir(path);
    dropTornLine(dir.file('log.jsonl'));
    return dir;
  }

  file(name: string): string {
    return join(this.path, name);
  }

  writeJson(name: string, value: unknown): void {
    writeJsonAtomic(this.file(name), value);
  }

  log(record: LogRecord): void {
    appendLine(this.file('log.jsonl'), `${JSON.stringify(record)}\n`);
  }
}

/**
 * A log that ends in half a line (a process killed mid-write) is cut back to its last whole line,
 * so the next record starts a line of its own (readers already skip a torn last line).
 */
function dropTornLine(path: string): void {
  const text = readFileSync(path, 'utf8');
  if (text === '' || text.endsWith('\n')) return;
  writeFileAtomic(path, text.slice(0, text.lastIndexOf('\n') + 1));
}

/** Make sure `path` is a directory we may write into: created if missing, refused if non-empty unless `overwrite`. */
export function prepareOutDir(path: string, overwrite = false): void {
  if (existsSync(path)) {
    if (!statSync(path).isDirectory()) throw new SeqlabError('io', `output path is a file, not a directory: ${path}`);
    if (readdirSync(path).length > 0 && !overwrite) {
      throw new SeqlabError(
        'usage',
        (field) =>
          `output directory ${path} is not empty; pass ${field('overwrite')} or choose another ${field('out')}`,
      );
    }
  }
  ensureDir(path);
}
