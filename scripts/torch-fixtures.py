#!/usr/bin/env python3
"""PyTorch's own numbers for seqlab's interop tests (test/fixtures/torch/).

    python3 scripts/torch-fixtures.py                    # write the fixtures (weights, corpus, outputs)
    python3 scripts/torch-fixtures.py --check-export     # load seqlab's exports into PyTorch, write its outputs
    python3 scripts/torch-fixtures.py --train            # word_language_model's training loop, from saved weights

Needs python3-torch (run once; the outputs are committed, the tests never call Python). Seeded:
a second run writes the same bytes (CPU, one thread).

The first mode writes:
  corpus/{train,valid,test}.txt  a small made-up text (a seeded toy grammar), blank lines included
  vocab.txt                      word_language_model's Dictionary of it, one word per line in id order
  lm-<name>.safetensors          word_language_model-style RNNModels (LSTM, GRU tied, RNN_TANH, RNN_RELU),
                                 briefly trained as its main.py trains (SGD lr 20, clip 0.25, dropout)
  lm-<name>.json                 their outputs: top-layer h per step and final states on a token batch,
                                 the log-probabilities at the last step, and evaluate()'s perplexity on
                                 valid and test (eval batch size 10, bptt 35), in float32 and float64
  cell-<name>.safetensors        bare 2-layer nn.LSTM / nn.GRU / nn.RNN(tanh, relu) weights
  cell-<name>.json               inputs, outputs, and ‖∂h_T/∂h_k‖ (spectral, Frobenius; by autograd in
                                 float64) of each layer, per sequence
  cell-lstm.{f16,bf16}.safetensors and cell-lstm.{f16,bf16}-as-f32.safetensors
                                 the LSTM's weights rounded by PyTorch to half / bfloat16, and the same
                                 values widened by PyTorch to float32

The second mode reads export/<name>.safetensors + export/<name>.vocab.txt (written by seqlab:
scripts/torch-export-fixture.mjs), loads each into the RNNModel below with load_state_dict (and its
rnn.* into a bare nn.LSTM/GRU/RNN), and writes export/<name>.torch.json with the same outputs.

The third mode writes train-<name>.init.safetensors (an RNNModel before training) and train-<name>.json:
word_language_model's main.py loop on the fixture corpus from those weights (dropout 0; lr 20 ÷ 4 after
an epoch without a better validation loss, clip 0.25), each epoch's lr and validation loss, and the test
perplexity of the best epoch's weights; `seqlab train --preset word-lm --init-from …` runs the same.

The safetensors reader and writer here are small and independent of seqlab's (safetensors, the
Python package, is not required): 8-byte little-endian header length, JSON header, raw data.
"""
import argparse
import json
import math
import os
import random
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'torch')
EOS = '<eos>'
UNK = '<unk>'

# ---------------------------------------------------------------------------------------------
# safetensors

ST_DTYPES = {'F32': (torch.float32, 4), 'F64': (torch.float64, 8), 'F16': (torch.float16, 2), 'BF16': (torch.bfloat16, 2)}


def st_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == 'BF16':  # numpy has no bfloat16: write its bit pattern
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype('<i2').tobytes()
    np_type = {'F32': '<f4', 'F64': '<f8', 'F16': '<f2'}[dtype]
    return t.to(ST_DTYPES[dtype][0]).numpy().astype(np_type).tobytes()


def save_safetensors(path, tensors, metadata=None, dtype='F32'):
    """tensors: list of (name, tensor), written in that order."""
    header = {}
    if metadata:
        header['__metadata__'] = metadata
    blobs = []
    offset = 0
    for name, t in tensors:
        blob = st_bytes(t, dtype)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """→ (dict name → float tensor, metadata); checks that the tensors tile the data."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    assert 8 + n <= len(raw), f'{path}: header runs past the end'
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    metadata = header.pop('__metadata__', {})
    data = raw[8 + n:]
    spans = sorted((info['data_offsets'], name) for name, info in header.items())
    at = 0
    for (begin, end), name in spans:
        assert begin == at, f'{path}: {name} does not start where the previous tensor ends'
        at = end
    assert at == len(data), f'{path}: trailing bytes'
    out = {}
    for name, info in header.items():
        torch_dtype, size = ST_DTYPES[info['dtype']]
        begin, end = info['data_offsets']
        count = math.prod(info['shape'])
        assert count * size == end - begin, f'{path}: {name} shape does not match its bytes'
        buf = bytearray(data[begin:end])
        if info['dtype'] == 'BF16':
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype=torch_dtype) if count else torch.empty(0, dtype=torch_dtype)
        out[name] = t.reshape(info['shape']).clone()
    return out, metadata


# ---------------------------------------------------------------------------------------------
# JSON with float32 values at float32 precision (the shortest text that reads back to the same float32)

def f32(x):
    return float(str(np.float32(x)))


def tolist32(t):
    a = t.detach().to(torch.float32).numpy()
    return np.vectorize(f32, otypes=[object])(a).tolist() if a.size else a.tolist()


def tolist64(t):
    return t.detach().to(torch.float64).tolist()


def write_json(path, doc):
    with open(path, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')


# ---------------------------------------------------------------------------------------------
# The corpus and word_language_model's reading of it

NOUNS = ['cat', 'dog', 'bird', 'child', 'teacher', 'farmer', 'doctor', 'singer']
ADJS = ['old', 'young', 'happy', 'small', 'quiet']
TRANSITIVE = ['sees', 'likes', 'follows', 'helps', 'finds', 'calls']
INTRANSITIVE = ['sleeps', 'runs', 'waits', 'sings']
PLACES = [['near', 'the', 'river'], ['in', 'the', 'garden'], ['at', 'home'], ['with', 'a', 'friend']]
RARE = ['giraffe', 'violinist']  # only in valid and test: outside a vocabulary built from train


def noun_phrase(rng, nouns):
    words = [rng.choice(['the', 'a'])]
    if rng.random() < 0.4:
        words.append(rng.choice(ADJS))
    words.append(rng.choice(nouns))
    return words


def sentence(rng, nouns):
    words = noun_phrase(rng, nouns)
    if rng.random() < 0.6:
        words += [rng.choice(TRANSITIVE)] + noun_phrase(rng, nouns)
    else:
        words.append(rng.choice(INTRANSITIVE))
    if rng.random() < 0.5:
        words += rng.choice(PLACES)
    if rng.random() < 0.2:
        words += ['and'] + noun_phrase(rng, nouns) + [rng.choice(INTRANSITIVE)]
    return ' '.join(words + ['.'])


def make_split(rng, lines, nouns):
    out = []
    for i in range(lines):
        if i > 0 and i % 20 == 0:
            out.append('')  # a blank line, as WikiText has between paragraphs: word_language_model reads <eos>
        out.append(sentence(rng, nouns))
    return '\n'.join(out) + '\n'


def wlm_tokens(path):
    """word_language_model's data.py: each line's split() words, then <eos>, blank lines included."""
    out = []
    with open(path, 'r', encoding='utf8') as f:
        for line in f:
            out += line.split() + [EOS]
    return out


def dictionary(splits):
    words, seen = [], set()
    for tokens in splits:
        for w in tokens:
            if w not in seen:
                seen.add(w)
                words.append(w)
    return words


def encode(tokens, word2idx):
    unk = word2idx.get(UNK)
    ids = []
    for w in tokens:
        i = word2idx.get(w, unk)
        assert i is not None, f'{w} is not in the vocabulary, which has no {UNK}'
        ids.append(i)
    return torch.tensor(ids, dtype=torch.int64)


# ---------------------------------------------------------------------------------------------
# word_language_model's model, training and evaluation conventions (written for this script)

class WordLM(nn.Module):
    """Embedding → stacked RNN → linear read-out; parameters named as word_language_model's RNNModel."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.0, tie=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ('LSTM', 'GRU'):
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            act = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=act, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie:
            assert ninp == nhid
            self.decoder.weight = self.encoder.weight
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, tokens, hidden):
        out, hidden = self.rnn(self.drop(self.encoder(tokens)), hidden)
        logits = self.decoder(self.drop(out))
        return F.log_softmax(logits.view(-1, self.ntoken), dim=1), hidden, out

    def init_hidden(self, batch):
        p = next(self.parameters())
        z = p.new_zeros(self.nlayers, batch, self.nhid)
        return (z, z.clone()) if self.rnn_type == 'LSTM' else z


def columns(ids, batch):
    """Cut a stream into `batch` equal columns, time-major [steps, batch]; the tail is dropped."""
    steps = ids.size(0) // batch
    return ids[:steps * batch].view(batch, steps).t().contiguous()


def detach(h):
    return tuple(x.detach() for x in h) if isinstance(h, tuple) else h.detach()


def perplexity(model, ids, batch=10, bptt=35):
    """Σ len(chunk)·mean NLL(chunk) / (steps − 1), as word_language_model's evaluate()."""
    model.eval()
    data = columns(ids, batch)
    total = 0.0
    hidden = model.init_hidden(batch)
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            n = min(bptt, data.size(0) - 1 - i)
            logp, hidden, _ = model(data[i:i + n], hidden)
            hidden = detach(hidden)
            total += n * F.nll_loss(logp, data[i + 1:i + 1 + n].reshape(-1)).item()
    loss = total / (data.size(0) - 1)
    return {'loss': loss, 'perplexity': math.exp(loss)}


def train(model, ids, epochs, lr=20.0, batch=20, bptt=35, clip=0.25):
    data = columns(ids, batch)
    for _ in range(epochs):
        model.train()
        hidden = model.init_hidden(batch)
        for i in range(0, data.size(0) - 1, bptt):
            n = min(bptt, data.size(0) - 1 - i)
            hidden = detach(hidden)
            model.zero_grad()
            logp, hidden, _ = model(data[i:i + n], hidden)
            F.nll_loss(logp, data[i + 1:i + 1 + n].reshape(-1)).backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)


def lm_outputs(model, tokens, splits):
    """Forward pass on tokens [T, B] from zeros, and perplexities, in the model's dtype."""
    model.eval()
    with torch.no_grad():
        logp, hidden, top = model(tokens, model.init_hidden(tokens.size(1)))
    T, B = tokens.shape
    tolist = tolist32 if next(model.parameters()).dtype == torch.float32 else tolist64
    h_n, c_n = hidden if isinstance(hidden, tuple) else (hidden, None)
    out = {
        'top': tolist(top),  # [T][B][H]
        'h_n': tolist(h_n),  # [layers][B][H]
        'logprobs_last': tolist(logp.view(T, B, -1)[-1]),  # [B][V]
        'valid': perplexity(model, splits['valid']),
        'test': perplexity(model, splits['test']),
    }
    if c_n is not None:
        out['c_n'] = tolist(c_n)
    return out


def double_copy(model, spec):
    m = WordLM(spec['rnn_type'], spec['vocab'], spec['emb'], spec['hidden'], spec['layers'], tie=spec['tie']).double()
    m.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    return m


# ---------------------------------------------------------------------------------------------
# Bare cells and their Jacobians

CELL_CLASSES = {
    'LSTM': lambda i, h, n: nn.LSTM(i, h, n),
    'GRU': lambda i, h, n: nn.GRU(i, h, n),
    'RNN_TANH': lambda i, h, n: nn.RNN(i, h, n, nonlinearity='tanh'),
    'RNN_RELU': lambda i, h, n: nn.RNN(i, h, n, nonlinearity='relu'),
}


def single_cell(module, rnn_type, layer):
    """Layer `layer` of a stacked module as an nn.*Cell (same names, shapes and gate order), float64."""
    i = module.input_size if layer == 0 else module.hidden_size
    h = module.hidden_size
    cell = {'LSTM': nn.LSTMCell(i, h), 'GRU': nn.GRUCell(i, h), 'RNN_TANH': nn.RNNCell(i, h, nonlinearity='tanh'),
            'RNN_RELU': nn.RNNCell(i, h, nonlinearity='relu')}[rnn_type].double()
    with torch.no_grad():
        for name in ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'):
            getattr(cell, name).copy_(getattr(module, f'{name}_l{layer}').double())
    return cell


def run_cell(cell, is_lstm, xs, h, c):
    """xs [T, I] from state (h, c) → h_T (and c_T)."""
    for x in xs:
        if is_lstm:
            h, c = cell(x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
            h, c = h[0], c[0]
        else:
            h = cell(x.unsqueeze(0), h.unsqueeze(0))[0]
    return h, c


def jacobian_rows(cell, is_lstm, xs, mode):
    """For one sequence xs [T, I] from zeros: ‖∂h_T/∂h_k‖ (mode h: c_k fixed) or ‖∂s_T/∂s_k‖, s = [h; c]."""
    T, H = xs.size(0), cell.hidden_size
    h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    states = [(h, c)]
    with torch.no_grad():
        for t in range(T):
            h, c = run_cell(cell, is_lstm, xs[t:t + 1], h, c)
            states.append((h, c))
    rows = []
    for k in range(T - 1, -1, -1):
        hk, ck = states[k]
        if mode == 'state':
            f = lambda s: torch.cat(run_cell(cell, True, xs[k:], s[:H], s[H:]))
            J = torch.autograd.functional.jacobian(f, torch.cat([hk, ck]))
        else:
            f = lambda hh: run_cell(cell, is_lstm, xs[k:], hh, ck)[0]
            J = torch.autograd.functional.jacobian(f, hk)
        rows.append({'gap': T - k, 'k': k, 'spectral': torch.linalg.matrix_norm(J, ord=2).item(),
                     'frobenius': torch.linalg.matrix_norm(J, ord='fro').item()})
    return rows


def cell_fixture(name, rnn_type, seed, T=10, B=2, I=5, H=8, scale=1.0):
    torch.manual_seed(seed)
    module = CELL_CLASSES[rnn_type](I, H, 2)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(scale)
    xs = torch.randn(T, B, I)
    save_safetensors(os.path.join(OUT, f'cell-{name}.safetensors'), list(module.state_dict().items()))
    with torch.no_grad():
        out, hidden = module(xs)
    h_n, c_n = hidden if isinstance(hidden, tuple) else (hidden, None)
    is_lstm = rnn_type == 'LSTM'
    m64 = CELL_CLASSES[rnn_type](I, H, 2).double()
    m64.load_state_dict({k: v.double() for k, v in module.state_dict().items()})
    with torch.no_grad():
        layer0_out = torch.stack([torch.stack(run_seq(single_cell(m64, rnn_type, 0), is_lstm, xs[:, b].double()))
                                  for b in range(B)], 1)  # [T, B, H]
    layers = []
    for layer in (0, 1):
        cell = single_cell(m64, rnn_type, layer)
        inputs = xs.double() if layer == 0 else layer0_out
        modes = ['h', 'state'] if is_lstm else ['h']
        layers.append({mode: [jacobian_rows(cell, is_lstm, inputs[:, b], mode) for b in range(B)] for mode in modes})
    doc = {
        'rnn_type': rnn_type, 'inputSize': I, 'hiddenSize': H, 'layers': 2,
        'inputs': tolist32(xs.permute(1, 0, 2)),  # [B][T][I], the layout of seqlab probe's inputs file
        'output': tolist32(out),  # [T][B][H], top layer
        'h_n': tolist32(h_n),
        'jacobians': layers,  # [layer][mode][b] → rows by gap 1..T
    }
    if c_n is not None:
        doc['c_n'] = tolist32(c_n)
    write_json(os.path.join(OUT, f'cell-{name}.json'), doc)
    return module


def run_seq(cell, is_lstm, xs):
    H = cell.hidden_size
    h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    hs = []
    for t in range(xs.size(0)):
        h, c = run_cell(cell, is_lstm, xs[t:t + 1], h, c)
        hs.append(h)
    return hs


# ---------------------------------------------------------------------------------------------

LM_SPECS = [
    # name, rnn_type, sizes, tie, metadata written, SGD step size
    {'name': 'lstm', 'rnn_type': 'LSTM', 'emb': 6, 'hidden': 8, 'layers': 2, 'tie': False, 'meta': {}, 'lr': 20.0},
    # tied, written as safetensors.torch.save_model writes shared tensors: one name kept, the other aliased
    {'name': 'gru-tied', 'rnn_type': 'GRU', 'emb': 8, 'hidden': 8, 'layers': 2, 'tie': True, 'meta': {}, 'lr': 5.0},
    # no rnn_type metadata: a reader must assume nn.RNN's default, tanh (or be told)
    {'name': 'rnn-tanh', 'rnn_type': 'RNN_TANH', 'emb': 6, 'hidden': 8, 'layers': 2, 'tie': False, 'meta': {}, 'lr': 5.0},
    # a smaller step than main.py's 20 keeps the ReLU units alive in so small a model
    {'name': 'rnn-relu', 'rnn_type': 'RNN_RELU', 'emb': 6, 'hidden': 8, 'layers': 2, 'tie': False,
     'meta': {'rnn_type': 'RNN_RELU'}, 'lr': 1.0},
]


def probe_tokens(ids, T=12, B=2):
    """The first T·B ids as B columns, time-major [T, B]."""
    return ids[:T * B].view(B, T).t().contiguous()


def write_fixtures():
    torch.set_num_threads(1)
    os.makedirs(os.path.join(OUT, 'corpus'), exist_ok=True)
    rng = random.Random(16)
    texts = {
        'train': make_split(rng, 300, NOUNS),
        'valid': make_split(rng, 60, NOUNS + RARE),
        'test': make_split(rng, 60, NOUNS + RARE),
    }
    for split, text in texts.items():
        with open(os.path.join(OUT, 'corpus', f'{split}.txt'), 'w', encoding='utf8') as f:
            f.write(text)
    tokens = {s: wlm_tokens(os.path.join(OUT, 'corpus', f'{s}.txt')) for s in texts}
    words = dictionary([tokens['train'], tokens['valid'], tokens['test']])
    with open(os.path.join(OUT, 'vocab.txt'), 'w', encoding='utf8') as f:
        f.write(''.join(w + '\n' for w in words))
    word2idx = {w: i for i, w in enumerate(words)}
    splits = {s: encode(tokens[s], word2idx) for s in tokens}
    probe = probe_tokens(splits['valid'])
    manifest = {'vocab': len(words), 'tokens': {s: len(t) for s, t in tokens.items()},
                'probeTokens': probe.tolist(), 'evalBatchSize': 10, 'bptt': 35, 'models': []}

    for i, spec in enumerate(LM_SPECS):
        torch.manual_seed(100 + i)
        spec = {**spec, 'vocab': len(words)}
        model = WordLM(spec['rnn_type'], spec['vocab'], spec['emb'], spec['hidden'], spec['layers'],
                       dropout=0.2, tie=spec['tie'])
        train(model, splits['train'], epochs=6, lr=spec['lr'])
        sd = list(model.state_dict().items())
        meta = dict(spec['meta'])
        if spec['tie']:
            # safetensors' save_model keeps the alphabetically first name of a shared tensor
            sd = [(k, v) for k, v in sd if k != 'encoder.weight']
            meta.update({'format': 'pt', 'encoder.weight': 'decoder.weight'})
        save_safetensors(os.path.join(OUT, f'lm-{spec["name"]}.safetensors'), sd, meta or None)
        doc = {'spec': {k: spec[k] for k in ('rnn_type', 'vocab', 'emb', 'hidden', 'layers', 'tie')},
               'float32': lm_outputs(model, probe, splits), 'float64': lm_outputs(double_copy(model, spec), probe, splits)}
        write_json(os.path.join(OUT, f'lm-{spec["name"]}.json'), doc)
        manifest['models'].append(spec['name'])
        print(f'lm-{spec["name"]}: valid ppl {doc["float32"]["valid"]["perplexity"]:.3f}, '
              f'test ppl {doc["float32"]["test"]["perplexity"]:.3f}')

    lstm = None
    for i, (name, rnn_type, scale) in enumerate([('lstm', 'LSTM', 1.5), ('gru', 'GRU', 1.5),
                                                 ('rnn-tanh', 'RNN_TANH', 2.0), ('rnn-relu', 'RNN_RELU', 1.0)]):
        module = cell_fixture(name, rnn_type, 200 + i, scale=scale)
        if name == 'lstm':
            lstm = module
    # half and bfloat16: PyTorch rounds, then widens the rounded values to float32 (exactly)
    sd = list(lstm.state_dict().items())
    for dtype, torch_dtype in (('F16', torch.float16), ('BF16', torch.bfloat16)):
        tag = dtype.lower()
        save_safetensors(os.path.join(OUT, f'cell-lstm.{tag}.safetensors'), sd, dtype=dtype)
        save_safetensors(os.path.join(OUT, f'cell-lstm.{tag}-as-f32.safetensors'),
                         [(k, v.to(torch_dtype).to(torch.float32)) for k, v in sd])
    write_json(os.path.join(OUT, 'manifest.json'), manifest)


def check_export():
    """Load seqlab's exports into PyTorch unchanged and record PyTorch's outputs on them."""
    torch.set_num_threads(1)
    export = os.path.join(OUT, 'export')
    tokens = {s: wlm_tokens(os.path.join(OUT, 'corpus', f'{s}.txt')) for s in ('train', 'valid', 'test')}
    for fname in sorted(os.listdir(export)):
        if not fname.endswith('.safetensors'):
            continue
        stem = fname[:-len('.safetensors')]
        tensors, meta = load_safetensors(os.path.join(export, fname))
        with open(os.path.join(export, f'{stem}.vocab.txt'), encoding='utf8') as f:
            words = f.read().split('\n')[:-1]
        word2idx = {w: i for i, w in enumerate(words)}
        V, E = tensors['decoder.weight'].shape[0], (tensors.get('encoder.weight', tensors['decoder.weight'])).shape[1]
        H = tensors['rnn.weight_hh_l0'].shape[1]
        layers = sum(1 for k in tensors if k.startswith('rnn.weight_hh_l'))
        tie = meta.get('tie_weights') == 'true'
        model = WordLM(meta['rnn_type'], V, E, H, layers, tie=tie)
        if 'encoder.weight' in tensors:
            model.load_state_dict(tensors)  # strict: every name, every shape
        else:  # save_model's form: the tied weight under one name; load_model's rule: the alias is missing
            missing, unexpected = model.load_state_dict(tensors, strict=False)
            assert missing == ['encoder.weight'] and not unexpected and meta['encoder.weight'] == 'decoder.weight'
        assert (model.decoder.weight is model.encoder.weight) == tie
        # the rnn.* part alone loads into a bare module as well
        bare = {'LSTM': nn.LSTM, 'GRU': nn.GRU}.get(meta['rnn_type'])
        bare = bare(E, H, layers) if bare else nn.RNN(E, H, layers, nonlinearity=meta['rnn_type'][4:].lower())
        bare.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith('rnn.')})
        splits = {s: encode(t, word2idx) for s, t in tokens.items()}
        probe = probe_tokens(splits['valid'])
        doc = {'probeTokens': probe.tolist(), 'float32': lm_outputs(model, probe, splits)}
        with torch.no_grad():
            bare_out, _ = bare(model.encoder(probe))
        assert torch.equal(bare_out, torch.tensor(doc['float32']['top'], dtype=torch.float32)) or \
            torch.allclose(bare_out, torch.tensor(doc['float32']['top']), rtol=0, atol=1e-6)
        write_json(os.path.join(export, f'{stem}.torch.json'), doc)
        print(f'{stem}: loaded into {meta["rnn_type"]} (tied: {tie}); valid ppl {doc["float32"]["valid"]["perplexity"]:.4f}')


TRAIN_SPECS = [
    # word_language_model's main.py loop on the fixture corpus, dropout 0 (its masks come from torch's
    # generator): SGD lr 20, ÷ 4 after an epoch without a better validation loss, clip 0.25, batch 20,
    # bptt 35, the test set scored with the best epoch's weights
    {'name': 'lstm', 'rnn_type': 'LSTM', 'emb': 8, 'hidden': 8, 'layers': 2, 'tie': False, 'epochs': 8},
    {'name': 'gru-tied', 'rnn_type': 'GRU', 'emb': 8, 'hidden': 8, 'layers': 2, 'tie': True, 'epochs': 8},
]


def train_fixtures():
    """train-<name>.init.safetensors (the model before training) and train-<name>.json (PyTorch's run)."""
    torch.set_num_threads(1)
    tokens = {s: wlm_tokens(os.path.join(OUT, 'corpus', f'{s}.txt')) for s in ('train', 'valid', 'test')}
    with open(os.path.join(OUT, 'vocab.txt'), encoding='utf8') as f:
        words = f.read().split('\n')[:-1]
    word2idx = {w: i for i, w in enumerate(words)}
    splits = {s: encode(t, word2idx) for s, t in tokens.items()}
    for i, spec in enumerate(TRAIN_SPECS):
        torch.manual_seed(300 + i)
        model = WordLM(spec['rnn_type'], len(words), spec['emb'], spec['hidden'], spec['layers'], tie=spec['tie'])
        sd = list(model.state_dict().items())
        if spec['tie']:
            sd = [(k, v) for k, v in sd if k != 'encoder.weight']
        meta = {'format': 'pt', 'encoder.weight': 'decoder.weight'} if spec['tie'] else None
        save_safetensors(os.path.join(OUT, f'train-{spec["name"]}.init.safetensors'), sd, meta)
        lr, best, best_state, epochs = 20.0, None, None, []
        for epoch in range(1, spec['epochs'] + 1):
            train(model, splits['train'], epochs=1, lr=lr)
            val = perplexity(model, splits['valid'])['loss']
            epochs.append({'epoch': epoch, 'lr': lr, 'valid': val})
            if best is None or val < best:
                best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
            else:
                lr /= 4.0
        model.load_state_dict(best_state)
        doc = {'spec': spec, 'stepsPerEpoch': (splits['train'].size(0) // 20 - 1 + 34) // 35,
               'epochs': epochs, 'bestEpoch': min(epochs, key=lambda e: e['valid'])['epoch'],
               'test': perplexity(model, splits['test'])}
        write_json(os.path.join(OUT, f'train-{spec["name"]}.json'), doc)
        print(f'train-{spec["name"]}: valid ' + ' '.join(f'{e["valid"]:.4f}' for e in epochs) +
              f'; best epoch {doc["bestEpoch"]}, test ppl {doc["test"]["perplexity"]:.4f}')


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check-export', action='store_true', help='load seqlab exports into PyTorch')
    parser.add_argument('--train', action='store_true', help='word_language_model training runs from saved weights')
    args = parser.parse_args()
    check_export() if args.check_export else train_fixtures() if args.train else write_fixtures()
    sys.exit(0)
