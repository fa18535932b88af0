import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every `npx seqlab …` line in the README's sh blocks runs here, so the README cannot rot.
// Training commands get a short schedule appended (a repeated option: the last one wins;
// for a language model --steps caps --epochs and --eval-size caps the evaluated tokens);
// everything else runs exactly as written, on the wasm backend (ngram uses no tfjs; lab only writes the page).
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1].split('\n'))
  .map((l) => l.trim())
  .filter((l) => l.startsWith('npx seqlab '));

/** Split a command line into words, honoring double quotes (as a shell would for these examples). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

// one working directory for all, in README order: a later command may use an earlier one's run
const cwd = mkdtempSync(join(tmpdir(), 'seqlab-readme-'));

describe('README commands', () => {
  it('has the main command, the test command and a tour', () => {
    expect(commands).toContain('npx seqlab compare');
    expect(readme).toContain('npm test');
    expect(commands.length).toBeGreaterThanOrEqual(5);
  });

  for (const command of commands) {
    it(command, () => {
      const args = words(command.replace(/^npx seqlab /, ''));
      const short = ['train', 'compare'].includes(args[0])
        ? ['--steps', '4', '--eval-every', '2', '--eval-size', '16']
        : [];
      const r = spawnSync(
        process.execPath,
        [
          join(root, 'bin', 'seqlab.js'),
          ...args,
          ...short,
          ...(['ngram', 'report', 'lab'].includes(args[0]) ? [] : ['--backend', 'wasm']),
        ],
        { cwd, encoding: 'utf8', timeout: 300_000 },
      );
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.status, r.stderr).toBe(0);
      if (args.includes('--json')) expect(() => JSON.parse(r.stdout)).not.toThrow();
      else expect(r.stdout.length).toBeGreaterThan(0);
    });
  }
});
