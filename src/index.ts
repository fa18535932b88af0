// seqlab as a library: everything a command does can be imported from here. The API is this list,
// named export by named export (no `export *`): a module's other exports are internal.
export { setBackend, BACKENDS, type BackendName } from './compute/backend.js';
export { SeqlabError, EXIT_CODES, type ErrorCode, type ErrorMessage, type FieldNamer } from './util/errors.js';
export { Rng } from './util/rng.js';
export {
  CELL_DEFAULTS,
  RecurrentCellBase,
  type Cell,
  type CellOptions,
  type CellSpec,
  type LayerWeights,
  type State,
  type StepGrad,
} from './models/cell.js';
export {
  CELL_KINDS,
  CELL_SPECS,
  cellSpec,
  gateCount,
  initialWeights,
  type CellKind,
} from './models/registry.js';
export { RNNCell } from './models/rnn.js';
export { LSTMCell } from './models/lstm.js';
export { GRUCell } from './models/gru.js';
export { ACTIVATIONS, NONLINEARITIES, type Nonlinearity } from './models/activations.js';
export {
  INITS,
  INIT_DEFAULTS,
  initRecurrentLayer,
  randomOrthogonal,
  type InitName,
  type InitOptions,
} from './models/init.js';
export {
  SequenceModel,
  MODEL_DEFAULTS,
  createCell,
  randomCell,
  countParams,
  modelConfigFor,
  type DataShape,
  type ModelConfig,
  type ModelOptions,
  type StateDict,
} from './models/model.js';
export { parseRecurrentWeights, type RecurrentWeights } from './models/statedict.js';
export {
  RNN_TYPES,
  RNN_TYPE_KEY,
  RECURRENT_IMPORT_DEFAULTS,
  WORD_LM_IMPORT_DEFAULTS,
  WORD_LM_EXPORT_DEFAULTS,
  rnnTypeOf,
  cellOfRnnType,
  recurrentFromTensors,
  wordLMFromTensors,
  wordLMModel,
  recurrentTensors,
  wordLMTensors,
  type NamedArray,
  type TensorDict,
  type RnnType,
  type NonlinearitySource,
  type RecurrentImportOptions,
  type ImportedRecurrent,
  type WordLMImportOptions,
  type ImportedWordLM,
  type ExportedTensor,
  type WordLMExportOptions,
} from './models/torch-statedict.js';
export {
  MAX_HEADER_BYTES,
  READ_DTYPES,
  WRITE_DTYPES,
  WRITE_DEFAULTS as SAFETENSORS_WRITE_DEFAULTS,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
  type ReadDtype,
  type WriteDtype,
  type SafeTensor,
  type SafetensorsContents,
  type TensorToWrite,
  type WriteOptions as SafetensorsWriteOptions,
} from './data/safetensors.js';
export {
  pythonSplit,
  wordLMTokens,
  readWordLMCorpus,
  wordLMDictionary,
  parseVocabFile,
  formatVocabFile,
  readVocabFile,
  writeVocabFile,
} from './data/word-lm-corpus.js';
export {
  weightsFormat,
  loadRecurrentWeights,
  readWordLMFiles,
  loadWordLM,
  loadLanguageModel,
  exportWordLM,
  type WeightsFormat,
  type LoadedRecurrentWeights,
  type WordLMFiles,
  type WordLMFileContents,
  type LoadedWordLM,
  type LanguageModelSource,
  type LoadedLanguageModel,
  type WordLMWriteOptions,
} from './training/torch-checkpoint.js';
export {
  evaluateWordLM,
  WORD_LM_EVAL_DEFAULTS,
  type WordLMEvalOptions,
  type WordLMEvalResult,
} from './training/word-lm-eval.js';
export {
  JACOBIAN_DEFAULTS,
  jacobianNorms,
  layerInputs,
  type JacobianMode,
  type JacobianOptions,
  type JacobianResult,
  type JacobianRow,
} from './training/gradflow.js';
export {
  SPECTRA_DEFAULTS,
  gradientSpectra,
  logSpacedGaps,
  selectGaps,
  sequenceSpectrum,
  type GapSelection,
  type SequenceSpectrum,
  type SingularSpectrumRow,
  type SpectraOptions,
  type SpectraResult,
} from './training/spectra.js';
export {
  LYAPUNOV_DEFAULTS,
  kaplanYorke,
  lyapunovFromTrace,
  lyapunovSpectrum,
  resolveLyapunovOptions,
  type LyapunovOptions,
  type LyapunovResult,
} from './training/lyapunov.js';
export { singularValues } from './training/svd.js';
export { forwardSequence, backwardSequence, modelLossAndGrads } from './training/bptt.js';
export {
  OPTIMIZERS,
  OPTIMIZER_DEFAULTS,
  SCHEDULES,
  SCHEDULE_DEFAULTS,
  Optimizer,
  PlateauTracker,
  clipByGlobalNorm,
  clipByValue,
  globalNorm,
  stepDecayLr,
  type Grads,
  type OptimizerConfig,
  type OptimizerName,
  type OptimizerState,
  type ScheduleConfig,
  type ScheduleName,
} from './training/optim.js';
export {
  train,
  type GradflowSummary,
  type Progress,
  type ResumeState,
  type TrainOptions,
  type TrainResult,
} from './training/trainer.js';
export { TRAIN_DEFAULTS, isSpectrumDue, type TrainConfig } from './training/config.js';
export {
  evaluate,
  probeGradientFlow,
  spectrumProbe,
  type Evaluation as TaskEvaluation,
  type GradflowProbe,
  type SpectrumProbe,
} from './training/measure.js';
export {
  CHECKPOINT_FILE,
  checkpointModel,
  loadCheckpoint,
  writeCheckpoint,
  writeMlpCheckpoint,
  type LoadedCheckpoint,
} from './training/checkpoint.js';
export { RunDir, prepareOutDir, type RunLog } from './runlog/rundir.js';
export {
  HORIZON_THRESHOLD,
  LOG_RECORD_TYPES,
  parseLog,
  recordProblem,
  type CurveSummary,
  type LogRecord,
  type LogRecordType,
  type UnknownRecord,
} from './runlog/schema.js';
export { fmt, fmtNum, table } from './util/format.js';
export type { Batch, SequenceTask, Readout, LossName } from './tasks/task.js';
export { AddingTask, ADDING_DEFAULTS, ADDING_BASELINE_MSE } from './tasks/adding.js';
export { CopyTask, COPY_DEFAULTS } from './tasks/copy.js';
export { createTask, TASK_NAMES } from './tasks/registry.js';
export { trainRun, type TrainRunOptions } from './commands/train.js';
export { probeRun, type ProbeRunOptions, type ProbeRunResult, type ProbeSpectrum } from './commands/probe.js';
export {
  evalLMRun,
  EVAL_SPLITS,
  type EvalSplit,
  type EvalLMOptions,
  type EvalLMResult,
  type EvalLMRow,
} from './commands/eval-lm.js';
export { exportRun, type ExportOptions, type ExportResult } from './commands/export.js';
export { sampleRun, type SampleOptions, type SampleResult } from './commands/sample.js';
export {
  compareRun,
  parseCells,
  seedAggregates,
  type CompareOptions,
  type CompareResult,
  type CompareRow,
} from './commands/compare.js';
export { COMPARE_AGREEMENT_DEFAULTS, type CompareAgreementDefaults } from './commands/compare-defaults.js';
export {
  aggregateSeeds,
  censoredMedian,
  groupBySeed,
  type SeedAggregate,
  type SeedGroup,
  type CensoredSummary,
} from './report/aggregate.js';
export { studentTQuantile } from './report/student-t.js';
export {
  createTokenizer,
  describeTokenizer,
  isSpecialToken,
  TOKENIZER_NAMES,
  TOKENIZER_DEFAULTS,
  type Tokenizer,
  type TokenizerName,
  type TokenizerOptions,
  type TokenizerSpec,
} from './data/tokenize.js';
export {
  Vocabulary,
  UNK,
  EOS,
  UNK_ID,
  EOS_ID,
  VOCAB_DEFAULTS,
  type VocabOptions,
  type VocabularyJSON,
} from './data/vocab.js';
export {
  resolveCorpus,
  readBrown,
  readBrownTagged,
  brownTaggedSplits,
  brownDir,
  readTextCorpus,
  readPtbDir,
  readTextFile,
  splitByWords,
  positionSplitSizes,
  buildVocabulary,
  encodeCorpus,
  corpusStats,
  describeCorpus,
  SPLITS,
  EOS_MODES,
  CORPUS_DEFAULTS,
  BENGIO_BROWN_SPLIT,
  type Corpus,
  type CorpusKind,
  type CorpusOptions,
  type BrownOptions,
  type TaggedSentence,
  type EosMode,
  type SplitName,
  type Splits,
  type SplitStats,
} from './data/corpus.js';
export {
  KneserNeyModel,
  UniformLM,
  evaluateTokenLM,
  estimateDiscounts,
  NGRAM_DEFAULTS,
  BOUNDARIES,
  MAX_ORDER,
  type Boundary,
  type Discounts,
  type NgramOptions,
  type TokenLM,
  type Evaluation as NgramEvaluation,
} from './data/ngram.js';
export {
  ngramRun,
  loadVocabulary,
  NGRAM_RUN_DEFAULTS,
  type NgramRunOptions,
  type NgramRunResult,
} from './commands/ngram.js';
export {
  loadMnist,
  readIdx,
  parseIdx,
  mnistDataDir,
  MNIST_FILES,
  type MnistData,
  type MnistOptions,
  type IdxArray,
} from './data/mnist.js';
export {
  ACTIVATIONS64,
  MLP_ACTIVATIONS,
  DEFAULT_SLOPE,
  erf,
  normalCdf,
  type MlpActivation,
  type ScalarActivation,
} from './models/activations64.js';
export { MLP_INITS, initDenseLayer, type MlpInitName } from './models/init.js';
export {
  Mlp,
  MLP_DEFAULTS,
  MLP_COSTS,
  MLP_OUTPUTS,
  parseLayers,
  validateMlpConfig,
  type MlpConfig,
  type MlpCost,
  type MlpOutput,
  type MlpParams,
} from './models/mlp.js';
export { ArrayOptimizer, globalNormArrays, clipScale } from './training/optim-array.js';
export {
  trainMlp,
  evaluateMlp,
  probeDeltaNorms,
  arrayExamples,
  MLP_TRAIN_DEFAULTS,
  type Examples,
  type MlpTrainConfig,
  type MlpTrainResult,
} from './training/mlp-trainer.js';
export {
  mnistRun,
  mnistExamples,
  MNIST_EXPERIMENTS,
  MNIST_PRESETS,
  REMEDIES,
  type MnistRunOptions,
  type MnistResult,
  type MnistRow,
} from './commands/mnist.js';
export { chainDemo, type ChainResult } from './commands/demos/chain.js';
export { xorDemo, type XorResult } from './commands/demos/xor.js';
export { activationsDemo, type ActivationsResult } from './commands/demos/activations.js';
export { approxDemo, type ApproxResult } from './commands/demos/approx.js';
export {
  writeReport,
  buildPlots,
  terminalSummary,
  REPORT_DEFAULTS,
  type ReportOptions,
  type ReportResult,
} from './report/report.js';
export { readSource, readRun, type ReportSource } from './report/rundata.js';
export type { RunData, SpectrumSnapshot } from './report/runlog.js';
export { lyapunovPlot, spectrumHeatmapPlot } from './report/spectrum-plots.js';
export { sweepResults, sweepSeeds, toCsv, type SweepResults } from './report/sweep-table.js';
export { seedsRows, seedsSummary } from './report/seeds-table.js';
export { specToSvg, svgToPng } from './report/render.js';
export {
  readSweepFile,
  expandGrid,
  parseShard,
  shardRuns,
  runConfigs,
  type SweepSpec,
  type SweepRun,
  type Shard,
} from './commands/sweep.js';
export { LabSession, type CellRun, type WhyStats } from './lab/session.js';
export {
  LAB_DEFAULTS,
  LAB_TASKS,
  LAB_DATA,
  checkSettings,
  labRunSpec,
  type LabSettings,
  type LabRunSpec,
} from './lab/settings.js';
export {
  LAB_FIELDS,
  compareCommand,
  fieldsToSettings,
  parseLabQuery,
  readQuery,
  settingsQuery,
  settingsToFields,
  type LabQuery,
} from './lab/link.js';
export { buildLabSite, writeLabSite, serveLabSite, type LabSite } from './lab/site.js';
export {
  parseConllu,
  readConllu,
  surfaceTokens,
  tokenIndexOfWords,
  childrenOf,
  parseFeats,
  featsString,
  CONLLU_DEFAULTS,
  type Sentence,
  type Word,
  type MultiwordToken,
  type SurfaceToken,
  type ConlluOptions,
} from './data/conllu.js';
export {
  extractItems,
  finiteVerbs,
  EXTRACT_DEFAULTS,
  DROP_REASONS,
  CONSTRUCTIONS,
  SUBJECT_RELATIONS,
  type ExtractOptions,
  type Extraction,
  type ItemSource,
  type DropReason,
  type Construction,
} from './tasks/agreement-ud/extract.js';
export { FormTable, wrongForm, type WrongForm, type RuleFallback } from './tasks/agreement-ud/forms.js';
export { otherNumberPt, cellName } from './tasks/agreement-ud/inflect-pt.js';
export { readItems, parseItems, formatItems, writeItems, type AgreementItem } from './tasks/agreement-ud/items.js';
export { nonceTwins, NonceVocabulary, NONCE_DEFAULTS, type NonceOptions } from './tasks/agreement-ud/nonce.js';
export {
  buildUdCorpus,
  writeUdCorpus,
  ensureUdCorpus,
  splitDocuments,
  UD_CORPUS_DEFAULTS,
  type UdCorpus,
  type UdCorpusOptions,
  type UdCorpusManifest,
} from './tasks/agreement-ud/corpus.js';
export {
  readTreebanks,
  shippedTreebanks,
  treebankName,
  lmToken,
  type Treebank,
} from './tasks/agreement-ud/treebanks.js';
export {
  scorePairs,
  subjectVerbJacobians,
  requireWordLM,
  PAIR_SCORING_DEFAULTS,
  JACOBIAN_LINK_DEFAULTS,
  type MinimalPair,
  type PairScoringOptions,
  type JacobianLinkOptions,
  type SubjectVerbJacobian,
} from './training/minimal-pairs.js';
export {
  vocabularyCoverage,
  requireCoverage,
  prefixIds,
  tokenLMScores,
  summarizeAccuracy,
  accuracyByDecade,
  distanceLabel,
  isPassed,
  UnigramLM,
  MAX_OOV_SHARE,
  NORM_FLOOR_DECADE,
  DISTANCE_BINS,
  type PairLogProbs,
  type Coverage,
  type AccuracyCell,
  type AccuracySummary,
} from './tasks/agreement-ud/score.js';
export {
  agreementExtract,
  agreementCorpus,
  agreementEval,
  agreementBaselines,
  modelOnItems,
  AGREEMENT_EXTRACT_DEFAULTS,
  AGREEMENT_EVAL_DEFAULTS,
  type AgreementExtractOptions,
  type AgreementExtractResult,
  type AgreementCorpusResult,
  type AgreementEvalOptions,
  type AgreementEvalResult,
  type Baselines,
  type JacobianLink,
  type ModelOnItems,
} from './commands/agreement.js';
export {
  agreementStudy,
  AGREEMENT_UD_TASK,
  type AgreementStudyOptions,
  type AgreementStudy,
  type AgreementStudyResult,
  type StudyModel,
} from './commands/agreement-study.js';
