import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IJob, Job } from 'kubernetes-models/batch/v1/Job';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT } from '../cli/run.js';

// The job scripts a user submits as they are: the Kubernetes indexed Job against the
// Job schema (kubernetes-models ships the API's JSON schemas compiled to validators, so
// this runs offline), and the Slurm array against the sweep it shards. The Slurm array
// itself runs on a real one-node cluster in scripts/slurm-check.sh (a CI step of its own).

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const manifest = (): IJob => parseYaml(read('scripts/sweep-job.yaml'));
const validate = (doc: unknown) => new Job(doc as IJob).validate();

/** Set (or, with undefined, delete) the field at a dotted path of a parsed document. */
function spoil(doc: unknown, path: string, value: unknown) {
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce((o, k) => (o as Record<string, unknown>)[k], doc) as Record<string, unknown>;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
}

/** The number of configurations of a sweep file: the product of its grid's list lengths. */
const gridSize = (path: string) =>
  Object.values(parseYaml(read(path)).grid as Record<string, unknown[]>).reduce((n, v) => n * v.length, 1);

describe('scripts/sweep-job.yaml', () => {
  it('is a valid batch/v1 Job', () => {
    const doc = manifest();
    expect(doc.kind).toBe('Job');
    expect(() => validate(doc)).not.toThrow();
  });

  // the validator is real: each of these mistakes is caught, and named by its path
  const broken: [string, string, unknown, RegExp][] = [
    ['completions as a word', 'spec.completions', 'six', /spec\/completions must be integer/],
    ['a lower-case completion mode', 'spec.completionMode', 'indexed', /completionMode must be equal to one/],
    [
      'no containers',
      'spec.template.spec.containers',
      undefined,
      /spec\/template\/spec must have required property containers/,
    ],
    [
      'a memory request of "2 GB"',
      'spec.template.spec.containers.0.resources.requests.memory',
      '2 GB',
      /requests\/memory must match format "quantity"/,
    ],
    [
      'a volume mount without a path',
      'spec.template.spec.containers.0.volumeMounts.0.mountPath',
      undefined,
      /volumeMounts\/0 must have required property mountPath/,
    ],
  ];
  for (const [name, path, value, message] of broken)
    it(`rejects ${name}`, () => {
      const doc = manifest();
      spoil(doc, path, value);
      expect(() => validate(doc)).toThrow(message);
    });

  it('runs one shard per completion index, of a sweep that has a configuration for each', () => {
    const spec = manifest().spec!;
    expect(spec.completionMode).toBe('Indexed');
    expect(spec.parallelism).toBe(spec.completions);
    const container = spec.template.spec!.containers[0];
    const command = container.args!.join(' ');
    // node on the built checkout, not npx (which may fetch a package of that name when it finds no local one)
    const m = /^exec node bin\/seqlab\.js sweep (\S+) --out (\S+) --shard "\$JOB_COMPLETION_INDEX\/(\d+)"$/.exec(
      command,
    );
    expect(m, command).not.toBeNull();
    expect(Number(m![3])).toBe(spec.completions);
    expect(existsSync(join(ROOT, m![1]))).toBe(true);
    expect(gridSize(m![1])).toBeGreaterThanOrEqual(spec.completions!);
    // the checkout sits on the shared volume, under the mount
    expect(container.workingDir!.startsWith(`${container.volumeMounts![0].mountPath}/`)).toBe(true);
  });
});

describe('scripts/sweep-array.sbatch', () => {
  const text = read('scripts/sweep-array.sbatch');
  it('fixes the shard count to the size of its array, and shards a sweep that exists', () => {
    const array = /^#SBATCH --array=0-(\d+)$/m.exec(text);
    const shards = /^shards="\$\{SHARDS:-(\d+)\}"$/m.exec(text);
    const sweep = /^sweep="\$\{SWEEP:-(\S+)\}"$/m.exec(text);
    expect(array && shards && sweep, text).toBeTruthy();
    expect(Number(shards![1])).toBe(Number(array![1]) + 1);
    expect(gridSize(sweep![1])).toBeGreaterThanOrEqual(Number(shards![1]));
    // not SLURM_ARRAY_TASK_COUNT: a task resubmitted alone (--array=3) must still run shard 3 of 6
    expect(text).not.toMatch(/^[^#]*SLURM_ARRAY_TASK_COUNT/m);
    expect(text).toMatch(/--shard "\$SLURM_ARRAY_TASK_ID\/\$shards"/);
  });

  it('is quoted whole in the README, which submits it and its collect job as the Slurm check does', () => {
    const readme = read('README.md');
    expect(readme).toContain(`\`\`\`text\n${text}\`\`\`\n`);
    expect(readme).toMatch(/sbatch --dependency=afterok:\$jobid --kill-on-invalid-dep=yes/);
    expect(read('scripts/slurm-check.sh')).toMatch(/--dependency=afterok:"\$array" --kill-on-invalid-dep=yes/);
    expect(readme).not.toMatch(/^[^`\n]*npx seqlab.*--shard/m);
    expect(readme).toContain('`scripts/sweep-job.yaml` is an indexed Job');
  });

  it('and the Slurm check are valid bash', () => {
    for (const f of ['scripts/sweep-array.sbatch', 'scripts/slurm-check.sh'])
      expect(() => execFileSync('bash', ['-n', join(ROOT, f)], { stdio: 'pipe' }), f).not.toThrow();
  });
});
