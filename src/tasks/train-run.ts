import { SequenceModel, MODEL_DEFAULTS, type ModelConfig } from '../models/model.js';
import { RunDir } from '../training/rundir.js';
import { TRAIN_DEFAULTS, train, type Progress, type TrainConfig, type TrainResult } from '../training/trainer.js';
import { SeqlabError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { stripUndefined } from '../util/objects.js';
import { createTask, type TaskOptions } from './registry.js';

export interface TrainRunOptions {
  task: string;
  taskOptions: Omit<TaskOptions, 'seed'>;
  model: Partial<Omit<ModelConfig, 'inputSize' | 'outputSize'>>;
  train: Partial<TrainConfig>;
  /** Run directory; none = nothing written. */
  out?: string;
  overwrite?: boolean;
  backend: string;
  onProgress?: (p: Progress) => void;
}

export interface TrainRunResult {
  runDir: string | null;
  config: Record<string, unknown>;
  metrics: Record<string, unknown>;
  result: TrainResult;
}

/**
 * `seqlab train`: resolve the config, build task and model from the seed, train,
 * and write the run directory (config.json, log.jsonl, metrics.json, checkpoint.json).
 * metrics.json holds no timings, so the same seed on the same backend gives the same file.
 */
export async function trainRun(opts: TrainRunOptions): Promise<TrainRunResult> {
  // stripUndefined: an option passed as undefined keeps its default instead of erasing it
  const trainConfig: Readonly<TrainConfig> = Object.freeze({ ...TRAIN_DEFAULTS, ...stripUndefined(opts.train) });
  const task = createTask(opts.task, { ...opts.taskOptions, seed: trainConfig.seed });
  const modelConfig: Readonly<ModelConfig> = Object.freeze({
    ...MODEL_DEFAULTS,
    ...stripUndefined(opts.model),
    inputSize: task.inputSize,
    outputSize: task.outputSize,
  });
  const runDir = opts.out ? RunDir.create(opts.out, opts.overwrite) : undefined;
  const model = SequenceModel.random(modelConfig, new Rng(`${trainConfig.seed}/init`));
  const config = { backend: opts.backend, task: task.describe(), model: modelConfig, train: trainConfig, params: model.numParams() };
  runDir?.writeJson('config.json', config);
  runDir?.log({ type: 'start', backend: opts.backend, params: model.numParams() });
  try {
    const result = await train(model, task, trainConfig, { runDir, onProgress: opts.onProgress });
    const last = result.gradflow.filter((g) => g.layer === modelConfig.numLayers - 1).at(-1) ?? null;
    const metrics = {
      task: task.name,
      cell: modelConfig.cell,
      backend: opts.backend,
      status: result.status,
      steps: result.steps,
      params: model.numParams(),
      eval: result.finalEval,
      best: result.bestEval,
      gradflow: last,
    };
    runDir?.writeJson('metrics.json', metrics);
    return { runDir: runDir?.path ?? null, config, metrics, result };
  } catch (e) {
    if (e instanceof SeqlabError && e.code === 'diverged') {
      runDir?.writeJson('metrics.json', { task: task.name, cell: modelConfig.cell, backend: opts.backend, status: 'diverged', error: e.message });
    }
    throw e;
  } finally {
    model.dispose();
  }
}
