import type { JacobianMode } from '../training/gradflow.js';

/**
 * `seqlab compare`'s default experiment, the agreement probe, as library values: the one
 * home of these numbers. The CLI turns them into its per-task option defaults
 * (COMPARE_PRESETS in cli/options.ts) and the browser lab starts from them (LAB_DEFAULTS in
 * lab/session.ts). This file imports no runtime code, so the lab's bundle can take it.
 *
 * Trained only on distances 8–16 (no short sentences to learn the memory from), tested up to 28.
 * With this budget the vanilla RNN never gets the subject's number across (its error signal at
 * the subject is ~1e-8 of that at the verb when training starts); LSTM and GRU learn it by step
 * 300–400. The Jacobians use "state" mode: an LSTM keeps its memory in c.
 */
export interface CompareAgreementDefaults {
  hiddenSize: number;
  steps: number;
  evalEvery: number;
  gradflowEvery: number;
  gradflowMode: JacobianMode;
  trainMinDistance: number;
  trainMaxDistance: number;
  testDistances: readonly number[];
}

export const COMPARE_AGREEMENT_DEFAULTS: Readonly<CompareAgreementDefaults> = Object.freeze({
  hiddenSize: 32,
  steps: 500,
  evalEvery: 100,
  gradflowEvery: 100,
  gradflowMode: 'state',
  trainMinDistance: 8,
  trainMaxDistance: 16,
  testDistances: Object.freeze([8, 12, 16, 20, 24, 28]),
});
