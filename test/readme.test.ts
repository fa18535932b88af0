import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every `npx seqlab …` line in the README's sh blocks runs here, so the README cannot rot.
// Training commands get a short schedule appended (a repeated option: the last one wins);
// everything else runs exactly as written.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1].split('\n'))
  .map((l) => l.trim())
  .filter((l) => l.startsWith('npx seqlab '));

describe('README commands', () => {
  it('has the main command, the test command and a tour', () => {
    expect(commands).toContain('npx seqlab compare');
    expect(readme).toContain('npm test');
    expect(commands.length).toBeGreaterThanOrEqual(5);
  });

  for (const command of commands) {
    it(command, () => {
      const args = command.replace(/^npx seqlab /, '').split(/\s+/);
      const short = ['train', 'compare'].includes(args[0]) ? ['--steps', '4', '--eval-every', '2', '--eval-size', '16'] : [];
      const cwd = mkdtempSync(join(tmpdir(), 'seqlab-readme-'));
      const r = spawnSync(process.execPath, [join(root, 'bin', 'seqlab.js'), ...args, ...short, '--backend', 'wasm'], { cwd, encoding: 'utf8', timeout: 120_000 });
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.status, r.stderr).toBe(0);
      if (args.includes('--json')) expect(() => JSON.parse(r.stdout)).not.toThrow();
      else expect(r.stdout.length).toBeGreaterThan(0);
    });
  }
});
