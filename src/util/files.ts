import { readFileSync, renameSync, writeFileSync, existsSync, statSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SeqlabError, inputError } from './errors.js';

/** Write `name.tmp` then rename over `name`: readers see the old file or the new one, never half of one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Read a JSON file, turning every way it can be wrong into one clear line. */
export function readJsonFile(path: string, what: string): unknown {
  if (!existsSync(path)) throw inputError(`${what} file not found: ${path}`);
  if (statSync(path).isDirectory()) throw inputError(`${what} path is a directory, not a file: ${path}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SeqlabError('io', `cannot read ${what} file ${path}: ${(e as Error).message}`);
  }
  if (text.trim() === '') throw inputError(`${what} file is empty: ${path}`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw inputError(`${what} file is not valid JSON: ${path} (${(e as Error).message.split('\n')[0]})`);
  }
}
