#!/usr/bin/env bash
# seqlab's LM training step beside PyTorch (1 and 2 threads) and tf.layers on wasm,
# for the four configurations of the speed issue. Run from the project root after
# `npm install`; PyTorch via `apt-get install -y python3-torch libopenblas0-pthread`.
#   scripts/bench-vs-peers.sh [path/to/shared/bench] [--steps N]
set -euo pipefail
bench_dir="${1:-../shared/bench}"
shift || true
args=("$@")
peers=()
[ -f "$bench_dir/torch_lstm.py" ] && [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null &&
  peers+=(--torch "$bench_dir/torch_lstm.py" --python /usr/bin/python3)
[ -f "$bench_dir/tfjs_layers_lm.mjs" ] && peers+=(--tfjs-layers "$bench_dir/tfjs_layers_lm.mjs")
for config in "lstm 128 1000" "gru 128 1000" "rnn 128 1000" "lstm 200 10000"; do
  set -- $config
  node bin/seqlab.js bench --cell "$1" --hidden "$2" --vocab "$3" --no-probe "${peers[@]}" "${args[@]}"
done
node bin/seqlab.js bench --steps 1 --warmup 0 "${args[@]}" | tail -n 1
