#!/usr/bin/env python3
"""Writes the seed corpus of the libFuzzer targets (tests/fuzz/corpus/). Run from the repository
root after scripts/make_npy_test_data.py."""
import os, random, shutil
import numpy as np
from numpy.lib import format as npf

root = os.path.join(os.path.dirname(__file__), "..")
npy = os.path.join(root, "tests", "fuzz", "corpus", "npy")
unpack = os.path.join(root, "tests", "fuzz", "corpus", "unpack")
os.makedirs(npy, exist_ok=True)
os.makedirs(unpack, exist_ok=True)
for f in ["f32_3x4.npy", "f32_3x4_v2.npy", "f32_3x4_v3.npy", "f32_2x3x2.npy", "f32_scalar.npy",
          "f32_empty.npy", "f32_fortran.npy", "i8_3x4.npy"]:
    shutil.copy(os.path.join(root, "tests", "data", "npy", f), npy)
with open(os.path.join(npy, "f16_4x4.npy"), "wb") as f:
    npf.write_array(f, (np.arange(16, dtype=np.float16) - 8).reshape(4, 4))

# fuzz_unpack inputs: 6 header bytes (selector, rows, cols lo, cols hi, kind bit, group) + bytes.
random.seed(7)
for k in range(16):
    head = bytes([(k * 37) & 0xFF, 1 + k % 8, 16 + k * 9, 0, k & 1, 31])
    body = bytes(random.randrange(256) for _ in range(400))
    with open(os.path.join(unpack, f"seed{k:02d}"), "wb") as f:
        f.write(head + body)

# fuzz_validate inputs: byte 0 the tensor type (0 … 14), byte 1 the mode bits (4: exact vector
# lengths, 8: parallel and Eigen decode too), then field bytes. One consistent-ish seed and one
# wild-size seed per type; the fuzzer grows the rest.
validate = os.path.join(root, "tests", "fuzz", "corpus", "validate")
os.makedirs(validate, exist_ok=True)
random.seed(11)
for kind in range(15):
    for mode in (4 | 8, 1 | 2):
        # shape 3 × 37, granularity per group (kind byte 2) of 16, enums 0, then payload bytes
        head = bytes([kind, mode, 3, 37, 2, 0, 16, 0, 0])
        body = bytes(random.randrange(256) for _ in range(300))
        with open(os.path.join(validate, f"seed{kind:02d}_{mode:02d}"), "wb") as f:
            f.write(head + body)
