#!/usr/bin/env python3
"""Writes the small safetensors files tests/test_safetensors.cpp reads (tests/data/safetensors/),
with the Python safetensors package (the Rust crate behind it) as the reference writer and
ml_dtypes for BF16 and the FP8 formats. Run from the repository root:

    python3 -m venv /tmp/st-venv && /tmp/st-venv/bin/pip install safetensors numpy ml_dtypes
    /tmp/st-venv/bin/python scripts/make_safetensors_test_data.py

Files:
  numpy_all.safetensors   one tensor of every dtype lowbit reads as float (F32, F16, BF16, F64,
                          F8_E4M3, F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ, F8_E8M0), an I32 tensor
                          (listed, not convertible), a 0-d scalar, an empty tensor, and two
                          metadata entries; expected_<name>.npy holds each float tensor's values
                          as float32, converted by numpy / ml_dtypes (the test compares bits).
  numpy_order.safetensors tensors whose float32 inputs tests/test_safetensors.cpp rebuilds
                          (values chosen to round: ties, overflow to Inf, subnormals, NaN),
                          stored as F32, BF16, F16 and raw U8, with one metadata entry: lowbit's
                          writer, given the tensors in the order this library lays them out, must
                          produce the same bytes.
The script then reads each file back with safetensors.deserialize and checks the bytes.

It also writes the seed corpus of tests/fuzz/fuzz_safetensors.cpp (tests/fuzz/corpus/safetensors/):
the two files above and small hand-made images (every dtype, sub-byte dtypes, empty tensors
sharing an offset, header order unlike data order, escapes, metadata, and a few invalid ones).
"""
import json
import os

import ml_dtypes
import numpy as np
from safetensors import deserialize
from safetensors.numpy import save_file

out = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "safetensors")
os.makedirs(out, exist_ok=True)


def codes(dtype, values):
    return np.array(values, dtype=np.uint16 if np.dtype(dtype).itemsize == 2 else np.uint8).view(dtype)


# ---- numpy_all.safetensors -------------------------------------------------------------------
f32 = np.array([0.0, -0.0, 1.0, -1.5, np.finfo(np.float32).max, -np.inf, np.inf, np.nan,
                np.float32(1e-45), np.finfo(np.float32).tiny, 0.1, -65504.0],
               dtype=np.float32).reshape(3, 4)
# Half codes: the special ones, then a stride through the rest.
half_specials = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0xFBFF, 0x7C00,
                 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7D55]
half_codes = half_specials + list(range(7, 65536, 1337))[: 64 - len(half_specials)]
f16 = codes(np.float16, half_codes).reshape(8, 8)
bf16_specials = [0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x3F80, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80,
                 0x7FC0, 0xFFC0, 0x7F81]
bf16 = codes(ml_dtypes.bfloat16,
             bf16_specials + list(range(11, 65536, 1361))[: 48 - len(bf16_specials)]).reshape(6, 8)
all_bytes = list(range(256))
tensors = {
    "f32": f32,
    "f16": f16,
    "bf16": bf16,
    "f64": np.array([0.1, -1e300, 1e-50, 3.0, 1.0 + 2.0 ** -30, np.nan], dtype=np.float64),
    "f8_e4m3": codes(ml_dtypes.float8_e4m3fn, all_bytes).reshape(16, 16),
    "f8_e5m2": codes(ml_dtypes.float8_e5m2, all_bytes),
    "f8_e4m3fnuz": codes(ml_dtypes.float8_e4m3fnuz, all_bytes),
    "f8_e5m2fnuz": codes(ml_dtypes.float8_e5m2fnuz, all_bytes),
    "f8_e8m0": codes(ml_dtypes.float8_e8m0fnu, all_bytes),
    "i32": np.array([1, -2, 3, 2147483647, -2147483648], dtype=np.int32),
    "scalar": np.array(2.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
path = os.path.join(out, "numpy_all.safetensors")
with np.errstate(over="ignore", invalid="ignore"):
    save_file(tensors, path, metadata={"format": "np", "note": "lowbit test \u00e9\n"})
    for name, t in tensors.items():
        if name == "i32":
            continue
        expect = np.asarray(t).astype(np.float32)
        with open(os.path.join(out, "expected_" + name + ".npy"), "wb") as f:
            np.lib.format.write_array(f, expect)
with open(path, "rb") as f:
    back = dict(deserialize(f.read()))
for name, t in tensors.items():
    assert bytes(back[name]["data"]) == np.ascontiguousarray(t).tobytes(), name
    assert list(back[name]["shape"]) == list(t.shape), name

# ---- numpy_order.safetensors -----------------------------------------------------------------
# tests/test_safetensors.cpp builds the same float32 inputs (keep the two in step).
b_f32 = ((np.arange(6, dtype=np.float32) - np.float32(2.5)) / np.float32(3)).reshape(2, 3)
z_f32 = np.array([1.0, -2.0], dtype=np.float32)
bf16_in = np.array([1 / 3, -1 / 3, 65519.0, 1e-40, np.finfo(np.float32).max, np.nan, -0.0,
                    1.00390625, 1.01171875, -3.0e38, 2.0 ** -133, 7.0], dtype=np.float32)
f16_in = np.array([1 / 3, 65519.0, 65520.0, -70000.0, 1e-8, 3e-8, np.nan, 1.00048828125,
                   2.0 ** -25, 2.0 ** -24 * 1.5, 0.1, -6.1e-5], dtype=np.float32)
order = {
    "b_f32": b_f32,
    'z "q"\t\u00e9\x01': z_f32,
    "a_bf16": bf16_in.astype(ml_dtypes.bfloat16).reshape(3, 4),
    "c_f16": f16_in.astype(np.float16),  # 65520 and -70000 overflow to ±Inf (numpy warns)
    "d_u8": np.array([0, 1, 2, 254, 255], dtype=np.uint8),
}
path = os.path.join(out, "numpy_order.safetensors")
save_file(order, path, metadata={"format": "lowbit"})
with open(path, "rb") as f:
    data = f.read()
header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
laid_out = sorted((v["data_offsets"], k) for k, v in header.items() if k != "__metadata__")
# The crate's layout: by dtype (F32, BF16, F16, U8 here), then by name; the C++ test relies on it.
assert [k for _, k in laid_out] == ["b_f32", 'z "q"\t\u00e9\x01', "a_bf16", "c_f16", "d_u8"], laid_out
back = dict(deserialize(data))
for name, t in order.items():
    assert bytes(back[name]["data"]) == np.ascontiguousarray(t).tobytes(), name

# ---- the fuzzer's seed corpus ----------------------------------------------------------------
corpus = os.path.join(os.path.dirname(__file__), "..", "tests", "fuzz", "corpus", "safetensors")
os.makedirs(corpus, exist_ok=True)
for name in ["numpy_all.safetensors", "numpy_order.safetensors"]:
    with open(os.path.join(out, name), "rb") as f, open(os.path.join(corpus, name), "wb") as g:
        g.write(f.read())


def image(header, data=b""):
    h = header.encode("utf-8") if isinstance(header, str) else header
    return len(h).to_bytes(8, "little") + h + data


def entry(name, dtype, shape, begin, end):
    return '"%s":{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}' % (
        name, dtype, json.dumps(shape).replace(" ", ""), begin, end)


bits = {"BOOL": 8, "U8": 8, "I8": 8, "U16": 16, "I16": 16, "U32": 32, "I32": 32, "U64": 64,
        "I64": 64, "F16": 16, "BF16": 16, "F32": 32, "F64": 64, "C64": 64, "F8_E4M3": 8,
        "F8_E5M2": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6,
        "F6_E3M2": 6}
entries, at = [], 0
for dt, b in bits.items():
    n = {4: 2, 6: 4}.get(b, 1)  # whole bytes
    size = n * b // 8
    entries.append(entry(dt.lower(), dt, [n], at, at + size))
    at += size
seeds = {
    "empty": image("{}"),
    "padded": image("{}      "),
    "metadata": image('{"__metadata__":{"format":"pt","k":"v \\u00e9"}}'),
    "one_f32": image("{" + entry("w", "F32", [2], 0, 8) + "}", bytes(range(8))),
    "every_dtype": image("{" + ",".join(entries) + "}", bytes((7 * i) & 0xFF for i in range(at))),
    "unordered": image("{" + ",".join([
        entry("b", "F32", [2], 4, 12), entry("a", "F16", [2], 0, 4), entry("e1", "F32", [0], 12, 12),
        entry("e0", "BF16", [3, 0, 7], 12, 12), entry("q", "F4", [2, 3], 12, 15)]) +
        ',"__metadata__":{}}', bytes(range(0x38, 0x38 + 15))),
    "escapes": image('{"a\\u0000\\"\\n":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}', b"\x01"),
    "scalar_bf16": image("{" + entry("s", "BF16", [], 0, 2) + "}", b"\xc0\x7f"),
    "overlap": image("{" + entry("a", "F32", [2], 0, 8) + "," + entry("b", "F32", [2], 4, 12) + "}",
                     bytes(12)),
    "hole": image("{" + entry("a", "F32", [1], 0, 4) + "," + entry("b", "F32", [1], 8, 12) + "}",
                  bytes(12)),
    "bad_shape": image("{" + entry("a", "F32", [-1], 0, 4) + "}", bytes(4)),
    "bad_json": image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}', bytes(4)),
}
for name, data in seeds.items():
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data)
print("wrote", sorted(os.listdir(out)), "and", len(os.listdir(corpus)), "seeds")
