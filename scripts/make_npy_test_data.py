#!/usr/bin/env python3
"""Writes the small .npy files tests/test_npy.cpp reads (tests/data/npy/), with numpy itself
as the reference writer. Run from the repository root: python3 scripts/make_npy_test_data.py"""
import os
import numpy as np
from numpy.lib import format as npf

out = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "npy")
os.makedirs(out, exist_ok=True)

def save(name, arr, version=None):
    with open(os.path.join(out, name), "wb") as f:
        npf.write_array(f, arr, version=version)

m = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5) / 4
save("f32_3x4.npy", m)
save("f32_3x4_v2.npy", m, version=(2, 0))
save("f32_3x4_v3.npy", m, version=(3, 0))
save("f32_2x3x2.npy", m.reshape(2, 3, 2))
save("f32_1d.npy", m.reshape(-1))
save("f32_scalar.npy", np.array(2.5, dtype=np.float32))
save("f32_empty.npy", np.zeros((0, 4), dtype=np.float32))
# Every float16 code, as float16; the test compares with Eigen::half's conversion.
save("f16_all.npy", np.arange(65536, dtype=np.uint16).view(np.float16).reshape(256, 256))
save("f32_fortran.npy", np.asfortranarray(m))
save("f32_big_endian.npy", m.astype(">f4"))
save("f64_3x4.npy", m.astype(np.float64))
save("i8_3x4.npy", m.astype(np.int8))
# Raw little-endian float32 bytes of m.
m.astype("<f4").tofile(os.path.join(out, "f32_3x4.raw"))
