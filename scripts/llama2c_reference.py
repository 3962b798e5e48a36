#!/usr/bin/env python3
"""Reference logits for tests/test_llama2c.cpp: a numpy port of llama2.c's model.py forward
(whole sequence at once, causal attention, repeat_kv for GQA, RoPE on adjacent pairs, RMSNorm
eps 1e-5, SwiGLU), in float64, on a fixed token sequence. It reads the legacy llama2.c
checkpoint itself (7 int32 header, then the float32 arrays in run.c's order) and writes the
logits [tokens, vocab] as float32 to tests/data/llama2c/reference_logits.npy, and the token ids
to tests/data/llama2c/reference_tokens.npy (as float32: the values are small integers).

Run from the repository root (needs numpy):
    python3 scripts/llama2c_reference.py [../shared/data/stories260K/llama2c/stories260K.bin]

With --corpus it writes the seed corpus of tests/fuzz/fuzz_llama2c.cpp instead
(tests/fuzz/corpus/llama2c/): tiny checkpoints (dim 8, hidden 16, 1 layer), tied and untied,
a few broken ones, a tiny tokenizer and the shipped tok512.bin.
"""
import os
import struct
import sys

import numpy as np

# BOS, " Once", " upon", " a", " time", " there", " was", " a", " little", " Lily", "."
TOKENS = [1, 403, 407, 261, 378, 383, 286, 261, 376, 317, 426]

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..")


def write_corpus():
    out = os.path.join(root, "tests", "fuzz", "corpus", "llama2c")
    os.makedirs(out, exist_ok=True)

    def ckpt(h, floats=None):
        dim, hidden, layers, heads, kv_heads, vocab, seq = h
        hs = dim // heads
        if floats is None:
            kv = hs * kv_heads
            floats = (abs(vocab) * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * dim
                                                   + 3 * hidden * dim)
                      + dim + seq * hs + (abs(vocab) * dim if vocab < 0 else 0))
        w = (np.sin(np.arange(floats) * 0.37) * 0.5).astype("<f4")
        return struct.pack("<7i", *h) + w.tobytes()

    seeds = {
        "tiny_tied.bin": ckpt((8, 16, 1, 2, 1, 4, 4)),
        "tiny_untied.bin": ckpt((8, 16, 1, 2, 2, -4, 4)),
        "two_layers.bin": ckpt((4, 8, 2, 1, 1, 3, 2)),
        "truncated.bin": ckpt((8, 16, 1, 2, 1, 4, 4))[:600],
        "wrong_sign.bin": ckpt((8, 16, 1, 2, 1, -4, 4), floats=648),
        "bad_heads.bin": ckpt((8, 16, 1, 3, 1, 4, 4), floats=16),
        "overflow.bin": struct.pack("<7i", 1 << 24, 1 << 24, 1 << 24, 2, 1, 4, 4),
        "header_only.bin": struct.pack("<7i", 8, 16, 1, 2, 1, 4, 4),
    }
    pieces = [b"<unk>", b"\n<s>\n", b" a", b"<0x0A>"]
    tok = struct.pack("<i", 6)
    for i, p in enumerate(pieces):
        tok += struct.pack("<fi", -float(i), len(p)) + p
    seeds["tiny_tok.bin"] = tok
    seeds["tiny_tok_counted.bin"] = struct.pack("<H", 4) + tok  # count in the first two bytes
    seeds["tok_truncated.bin"] = tok[:-3]
    shared_tok = os.path.join(os.path.dirname(path), "tok512.bin")
    seeds["tok512.bin"] = open(shared_tok, "rb").read()
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes in {out}")


corpus = "--corpus" in sys.argv
args = [a for a in sys.argv[1:] if a != "--corpus"]
path = args[0] if args else os.path.join(
    root, "..", "shared", "data", "stories260K", "llama2c", "stories260K.bin")
if corpus:
    write_corpus()
    sys.exit(0)
out_dir = os.path.join(root, "tests", "data", "llama2c")

raw = open(path, "rb").read()
dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = struct.unpack_from("<7i", raw, 0)
shared = vocab > 0
vocab = abs(vocab)
hs = dim // n_heads
kv_dim = hs * n_kv_heads
data = np.frombuffer(raw, dtype="<f4", offset=28).astype(np.float64)
at = 0


def take(*shape):
    global at
    n = int(np.prod(shape))
    a = data[at:at + n].reshape(shape)
    at += n
    return a


emb = take(vocab, dim)
rms_att = take(n_layers, dim)
wq = take(n_layers, dim, dim)
wk = take(n_layers, kv_dim, dim)
wv = take(n_layers, kv_dim, dim)
wo = take(n_layers, dim, dim)
rms_ffn = take(n_layers, dim)
w1 = take(n_layers, hidden, dim)
w2 = take(n_layers, dim, hidden)
w3 = take(n_layers, hidden, dim)
rms_final = take(dim)
take(seq_len, hs // 2)  # freq_cis_real: computed below instead
take(seq_len, hs // 2)  # freq_cis_imag
wcls = emb if shared else take(vocab, dim)
assert at == data.size, "file length does not match the header"


def rmsnorm(x, w):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w


def rope(x, pos):
    # x: [T, heads, hs]; pairs (2j, 2j + 1) rotate by pos * 10000^(-2j / hs).
    freqs = 1.0 / 10000.0 ** (np.arange(0, hs, 2) / hs)
    ang = np.outer(pos, freqs)[:, None, :]
    c, s = np.cos(ang), np.sin(ang)
    xr, xi = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = xr * c - xi * s
    out[..., 1::2] = xr * s + xi * c
    return out


T = len(TOKENS)
x = emb[TOKENS]  # [T, dim]
pos = np.arange(T)
mask = np.triu(np.full((T, T), -np.inf), k=1)
for l in range(n_layers):
    h = rmsnorm(x, rms_att[l])
    q = rope((h @ wq[l].T).reshape(T, n_heads, hs), pos)
    k = rope((h @ wk[l].T).reshape(T, n_kv_heads, hs), pos)
    v = (h @ wv[l].T).reshape(T, n_kv_heads, hs)
    rep = n_heads // n_kv_heads
    k = np.repeat(k, rep, axis=1)  # query head i reads kv head i // rep
    v = np.repeat(v, rep, axis=1)
    att = np.einsum("thd,shd->hts", q, k) / np.sqrt(hs) + mask
    att = np.exp(att - att.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    o = np.einsum("hts,shd->thd", att, v).reshape(T, dim)
    x = x + o @ wo[l].T
    h = rmsnorm(x, rms_ffn[l])
    a = h @ w1[l].T
    x = x + ((a / (1.0 + np.exp(-a))) * (h @ w3[l].T)) @ w2[l].T
logits = rmsnorm(x, rms_final) @ wcls.T

os.makedirs(out_dir, exist_ok=True)
np.save(os.path.join(out_dir, "reference_logits.npy"), logits.astype(np.float32))
np.save(os.path.join(out_dir, "reference_tokens.npy"), np.array(TOKENS, dtype=np.float32))
print(f"{path}: dim={dim} hidden={hidden} layers={n_layers} heads={n_heads} kv={n_kv_heads} "
      f"vocab={vocab} seq={seq_len} shared={shared}; logits {logits.shape}, "
      f"max |logit| {np.abs(logits).max():.4f}")
