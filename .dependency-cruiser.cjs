/**
 * The layer rules of docs/ARCHITECTURE.md, checked by `npm test` (npm run lint:deps).
 * Imports point down:  cli → commands → {training, report, lab} → {tasks, data, runlog} → models → util,
 * with compute beside models (the kernels the training code dispatches to).
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycles, type-only ones included', from: {}, to: { circular: true } },
    {
      name: 'models-standalone',
      severity: 'error',
      comment: 'models (cells, initializers, the MLP) import nothing of seqlab but util (errors, rng, objects)',
      from: { path: '^src/models/' },
      to: { path: '^src/', pathNot: ['^src/models/', '^src/util/'] },
    },
    {
      name: 'util-is-the-floor',
      severity: 'error',
      comment: 'util imports nothing of seqlab',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'report-reads-runs-only',
      severity: 'error',
      comment: 'the report reads run directories and the run-log schema; it never imports training, commands, cli or lab',
      from: { path: '^src/report/' },
      to: { path: '^src/(training|commands|cli|lab|tasks|data|compute)/' },
    },
    {
      name: 'runlog-below-training',
      severity: 'error',
      comment: 'the run-log schema and run directories are read by the report: they import only util',
      from: { path: '^src/runlog/' },
      to: { path: '^src/', pathNot: ['^src/runlog/', '^src/util/'] },
    },
    {
      name: 'data-and-tasks-below-training',
      severity: 'error',
      comment: 'data and tasks make batches as plain arrays: no training, commands, cli, lab, report or compute',
      from: { path: '^src/(data|tasks)/' },
      to: { path: '^src/(training|commands|cli|lab|report|compute|runlog)/' },
    },
    {
      name: 'compute-below-training',
      severity: 'error',
      comment: 'the compute backend (kernels) knows tensors, not models, tasks or training',
      from: { path: '^src/compute/' },
      to: { path: '^src/', pathNot: ['^src/compute/', '^src/util/'] },
    },
    {
      name: 'training-below-commands',
      severity: 'error',
      comment: 'training is a library layer: it never imports commands, cli, lab or report',
      from: { path: '^src/training/' },
      to: { path: '^src/(commands|cli|lab|report)/' },
    },
    {
      name: 'commands-below-cli',
      severity: 'error',
      comment: 'commands are library functions: they never import the cli or the lab',
      from: { path: '^src/commands/' },
      to: { path: '^src/(cli|lab)/' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'the cli sits on top: only the cli imports the cli',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    enhancedResolveOptions: { conditionNames: ['import', 'require', 'node', 'default'], exportsFields: ['exports'] },
  },
};
