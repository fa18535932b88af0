import { INITS } from '../models/init.js';
import { CELL_KINDS } from '../models/registry.js';
import { REPAIR_QUERY_SCRIPT } from './query.js';

/** The lab page's markup and style; src/lab/page.ts fills it in (element ids are its interface). */
export const LAB_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seqlab lab: watch gradients vanish</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 0; color: #222; background:
    #fafafa; }
  header { background: #263238; color: #fff; padding: 10px 20px; display: flex; align-items: baseline; gap: 16px;
    flex-wrap: wrap; }
  header h1 { font-size: 19px; margin: 0; font-weight: 600; }
  header .sub { color: #cfd8dc; }
  header .backend { margin-left: auto; }
  #backend-name { font-weight: bold; color: #ffe082; }
  main { padding: 12px 20px 40px; }
  section, .chart { contain: content; }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; margin-bottom: 12px; }
  h2 { font-size: 15px; margin: 2px 0 8px; }
  form { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: end; }
  label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
  input[type=number], input[type=text] { font: inherit; padding: 3px 5px; width: 6em; }
  select { font: inherit; padding: 3px 2px; }
  .inline-note { margin-top: 8px; color: #1b5e20; }
  fieldset { border: 1px solid #ccc; padding: 2px 8px 4px; font-size: 12px; color: #555; }
  fieldset label { display: inline; color: #222; font-size: 14px; margin-right: 6px; }
  button { font: inherit; padding: 5px 16px; border-radius: 4px; border: 1px solid #888; background: #eee; cursor:
    pointer; }
  button#start { background: #2e7d32; color: #fff; border-color: #2e7d32; }
  button:disabled { opacity: 0.45; cursor: default; }
  #message:not(:empty), .inline-message:not(:empty) { margin-top: 8px; padding: 6px 10px; border-radius: 4px;
    background: #fdecea; color: #b71c1c; border: 1px solid #f5c6cb; }
  #message.info { background: #e8f4fd; color: #0d47a1; border-color: #b6dcfb; }
  #step-counter { font-weight: bold; margin-left: 8px; }
  table { border-collapse: collapse; }
  #numbers { table-layout: fixed; width: 68em; }
  th, td { padding: 3px 9px; border-bottom: 1px solid #eee; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  thead th { font-size: 12px; color: #555; font-weight: normal; border-bottom: 1px solid #ccc; }
  .charts { display: flex; flex-wrap: wrap; gap: 12px; }
  .chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 6px; margin: 0;
    min-width: 300px; min-height: 120px; overflow-x: auto; }
  .chart figcaption { font-size: 12px; color: #555; max-width: 560px; margin: 4px 6px 2px; }
  label[hidden] { display: none; }
  .setup { display: flex; gap: 16px; align-items: end; flex-wrap: wrap; margin-top: 8px; }
  #link { width: 28em; }
  #cli-command { display: block; font-size: 12px; background: #f3f3f3; padding: 3px 6px; border-radius: 3px;
    max-width: 900px; overflow-wrap: anywhere; }
  .empty { color: #888; font-style: italic; }
  #why-list li { margin-bottom: 4px; }
  tr.subject td { background: #fff8e1; }
  .bar { display: inline-block; height: 9px; background: #90caf9; margin-right: 6px; vertical-align: middle;
    max-width: 80px; }
  #inspect-out td:nth-child(3) { text-align: left; white-space: nowrap; }
  small { color: #777; }
  .row { display: flex; gap: 16px; align-items: end; flex-wrap: wrap; }
</style>
</head>
<body>
<header>
  <h1>seqlab lab</h1><span class="sub">RNN, LSTM and GRU side by side: watch ‖∂h<sub>T</sub>/∂h<sub>k</sub>‖ while
    they train</span>
  <span class="backend">tfjs backend: <span id="backend-name">starting…</span> <span id="thread-name"></span>
    <select id="backend" title="reloads the page on another backend"><option>auto</option><option>webgl</option>
      <option>wasm</option><option>cpu</option></select></span>
</header>
<main>
<section>
  <form id="settings" onsubmit="return false">
    <label>task <select id="task">
      <option value="agreement">agreement probe (pt)</option><option value="adding">adding problem</option>
        <option value="copy">copy task</option></select></label>
    <fieldset><legend>cells</legend>
      ${CELL_KINDS.map((c) => `<label><input type="checkbox" id="cell-${c}"> ${c}</label>`).join('')}</fieldset>
    <label>hidden size <input type="number" id="hidden" min="1"></label>
    <label data-tasks="agreement">train distances <input type="text" id="train-distances"
      title="subject–verb distances of the training sentences, MIN-MAX"></label>
    <label data-tasks="agreement">test distances <input type="text" id="test-distances" style="width: 10em"
      title="distances of the test sentences, comma-separated"></label>
    <label data-tasks="adding copy" hidden>sequence length T <input type="number" id="seq-len" min="2"
      placeholder="task's" title="time steps per sequence; empty = the task's default"></label>
    <label>initializer <select id="init">${INITS.map((i) => `<option>${i}</option>`).join('')}</select></label>
    <label>clip norm <input type="text" id="clip-norm" title="global-norm clipping threshold; 0 = off"></label>
    <label>learning rate <input type="number" id="lr" step="any"></label>
    <label>steps <input type="number" id="steps" min="1"></label>
    <label>batch <input type="number" id="batch" min="1"></label>
    <label>eval every <input type="number" id="eval-every" min="1"
      title="evaluate on the test set every N steps"></label>
    <label>probe every <input type="number" id="gradflow-every" min="1"
      title="probe the gradient flow every N steps"></label>
    <label>spectrum every <input type="number" id="spectrum-every" min="0" title="with the probe every N steps:
      every singular value of the Jacobian at up to 32 gaps and the Lyapunov exponents; 0 = off"></label>
    <label>LSTM Jacobian <select id="gradflow-mode"><option value="state">state [h; c]</option>
      <option value="h">h (c fixed)</option></select></label>
    <label>seed <input type="number" id="seed"></label>
    <button type="button" id="start">Start</button>
    <button type="button" id="pause">Pause</button>
    <button type="button" id="reset">Reset</button>
    <button type="button" id="copy-link" title="a link that opens the lab with these settings">Copy link</button>
  </form>
  <div id="message" role="alert"></div>
  <div class="setup"><label>link to this setup <input type="text" id="link" readonly></label>
    <div><small>the same runs from the command line (on the cpu backend, the same numbers):</small>
    <code id="cli-command"></code></div></div>
</section>
<section>
  <h2>Numbers <span id="step-counter" data-steps="0">not started</span></h2>
  <table id="numbers"><colgroup>
    <col style="width: 4em"><col style="width: 5em"><col style="width: 4em">
    <col style="width: 7em"><col style="width: 7em"><col style="width: 9em">
    <col style="width: 8em"><col style="width: 8em"><col style="width: 10em">
    <col style="width: 6em">
  </colgroup><thead><tr><th>cell</th><th>status</th><th>step</th><th>train loss</th><th>eval loss</th><th>metric</th>
    <th>‖∂h<sub>T</sub>/∂h<sub>T−1</sub>‖</th><th>‖∂h<sub>T</sub>/∂h<sub>0</sub>‖</th><th>horizon</th>
      <th>decay/step</th></tr></thead>
    <tbody id="numbers-body"></tbody></table>
  <small>Norms: spectral, mean over the probe batch, at the last probe. Horizon: first gap with norm &lt; 1e-3. Decay:
    −slope of ln‖·‖ per step of gap.</small>
</section>
<div class="charts">
  <figure class="chart" id="chart-gradflow" data-empty="gradient flow: appears with the first probe"></figure>
  <figure class="chart" id="chart-distance"
    data-empty="accuracy by distance: agreement task, after the first evaluation"></figure>
  <figure class="chart" id="chart-loss" data-empty="loss: appears with the first step"></figure>
  <figure class="chart" id="chart-metrics" data-empty="validation metrics: after two evaluations"></figure>
  <figure class="chart" id="chart-heatmap" data-empty="(t, k) heat map: appears with the first probe"></figure>
  <figure class="chart" id="chart-lossgrad"
    data-empty="error signal ‖∂L/∂h_k‖: appears with the first probe"></figure>
  <figure class="chart" id="chart-attractors"
    data-empty="accuracy by attractors: agreement task, after the first evaluation"></figure>
  <figure class="chart" id="chart-spectrum"
    data-empty="singular values of ∂h_T/∂h_k by gap: appear with the first spectrum probe"></figure>
  <figure class="chart" id="chart-lyapunov"
    data-empty="Lyapunov spectrum λ_i: appears with the first spectrum probe"></figure>
</div>
<section>
  <h2>Why</h2>
  <ul id="why-list"></ul>
</section>
<section>
  <h2>Inspect a sentence</h2>
  <p><small>Type a Portuguese sentence in the probe's vocabulary, up to (not including) the verb. After each word the
    model says singular or plural; the last column is how much the state after the last word still depends on the
      state after that word.</small></p>
  <div class="row"><label>model <select id="inspect-model"></select></label>
  <label>sentence <input type="text" id="sentence" style="width: 32em"></label>
    <button type="button" id="inspect">Read</button></div>
  <div id="inspect-message" class="inline-message" role="alert"></div>
  <div id="inspect-out"></div>
</section>
<section>
  <h2>Load a CLI run</h2>
  <p><small>A directory written by <code>seqlab train --out DIR</code> or
    <code>seqlab compare --out DIR</code> (its log.jsonl, config.json, metrics.json; checkpoint.json for "inspect a
      sentence"), or those files picked one by one.</small></p>
  <div class="row"><label>run directory <input type="file" id="load-dir" webkitdirectory multiple></label>
  <label>or files <input type="file" id="load-files" multiple accept=".jsonl,.json"></label></div>
  <div id="load-message" class="inline-message" role="status"></div>
</section>
</main>
<script>${REPAIR_QUERY_SCRIPT}</script>
<script type="module" src="lab.js"></script>
</body>
</html>
`;
