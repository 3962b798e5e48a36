#!/usr/bin/env python3
"""Reference data for tests/test_codebook.cpp: bitsandbytes' NF4 with compress_statistics=True.

Writes tests/data/codebook/bnb_nf4_dq.safetensors, made by bitsandbytes itself on the CPU
(bitsandbytes.functional.quantize_4bit(x, blocksize=64, compress_statistics=True,
quant_type="nf4") and dequantize_4bit), one set of tensors per case NAME:
  NAME.x         float32 input (rows, cols)
  NAME.packed    uint8, the 4-bit codes as bitsandbytes packs them (element 0 in the high nibble)
  NAME.qabsmax   uint8, each group absmax's index into the dynamic map (state.absmax)
  NAME.absmax2   float32, one per 256 groups (state.state2.absmax)
  NAME.offset    float32 [1], the mean of the group absmaxes (state.offset)
  NAME.code2     float32 [256], the map state2 holds (the CPU quantizer sets entry 0 to -1)
  NAME.y         float32, dequantize_4bit of the result
and dynamic_map: float32 [256], create_dynamic_map(signed=True) as made.

Usage: python3 -m venv v && v/bin/pip install torch bitsandbytes numpy safetensors
       v/bin/python scripts/make_bnb_nf4_vectors.py
"""
from pathlib import Path

import bitsandbytes
import bitsandbytes.functional as F
import numpy as np
import torch
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "codebook" / "bnb_nf4_dq.safetensors"


def cases():
    rng = np.random.default_rng(20261207)
    a = rng.standard_normal((40, 512)).astype(np.float32)
    a[3, 100] *= 9.0  # outliers make a few group absmaxes far from the mean
    a[17, 7] = -14.0
    a[5, 64:128] = 0.0  # an all-zero group
    a[9, 0:64] *= 1e-3  # a group far below the mean
    yield "a", a
    b = (rng.laplace(size=(8, 576)) * 0.02).astype(np.float32)
    yield "b", b


def main():
    out = {"dynamic_map": F.create_dynamic_map(signed=True).numpy().astype(np.float32)}
    for name, x in cases():
        q, st = F.quantize_4bit(torch.from_numpy(x), blocksize=64, compress_statistics=True, quant_type="nf4")
        y = F.dequantize_4bit(q, st)
        out[name + ".x"] = x
        out[name + ".packed"] = q.numpy().reshape(-1).astype(np.uint8)
        out[name + ".qabsmax"] = st.absmax.numpy().astype(np.uint8)
        out[name + ".absmax2"] = st.state2.absmax.numpy().astype(np.float32)
        out[name + ".offset"] = np.array([float(st.offset)], dtype=np.float32)
        out[name + ".code2"] = st.state2.code.numpy().astype(np.float32)
        out[name + ".y"] = y.numpy().astype(np.float32)
    save_file(out, str(OUT), metadata={"bitsandbytes": bitsandbytes.__version__, "torch": torch.__version__})
    print("wrote", OUT, "bitsandbytes", bitsandbytes.__version__, "torch", torch.__version__)


if __name__ == "__main__":
    main()
