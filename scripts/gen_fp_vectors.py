#!/usr/bin/env python3
"""Reference vectors for lowbit's floating-point family (tests/test_minifloat.cpp, test_mx.cpp).

For every minifloat format, writes under tests/data/fp/:
  <fmt>.sweep.u32          the float32 encode inputs (raw little-endian uint32 bit patterns)
  <fmt>.ml_dtypes.enc      ml_dtypes' code (one byte) for each sweep input  (x.astype(dtype))
  <fmt>.ml_dtypes.dec      ml_dtypes' float32 bits (uint32) for every code 0 … 2^bits − 1
  mx_scale.ml_dtypes.*     the 'ml_dtypes' MX scale rule: e8m0 cast of amax / elem_max
The sweep: every representable value and its float32 neighbours (±1 ulp), every midpoint
between adjacent codes (the ties) and its neighbours, the subnormal boundaries, ±max, the
overflow tie above max and its neighbours, huge values, float32 subnormals, ±0, ±Inf, NaN
(both signs), plus fixed-seed random float32 patterns in and around the format's range.

  python3 scripts/gen_fp_vectors.py                    # ml_dtypes vectors (runs here)
  python3 scripts/gen_fp_vectors.py --import-torch F   # split gen_torch_fp.py's .npz into
                                                       # <fmt>.torch.enc / .torch.dec files
The PyTorch half is scripts/gen_torch_fp.py, run once on the GPU machine on the same sweeps.
"""
import os
import sys

import ml_dtypes as md
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "fp")

# lowbit name -> (ml_dtypes type, bits)
FORMATS = {
    "e4m3fn": (md.float8_e4m3fn, 8),
    "e4m3fnuz": (md.float8_e4m3fnuz, 8),
    "e5m2": (md.float8_e5m2, 8),
    "e5m2fnuz": (md.float8_e5m2fnuz, 8),
    "e4m3": (md.float8_e4m3, 8),  # IEEE-style E4M3 (Inf and NaN): exercises the ieee flavour
    "e3m4": (md.float8_e3m4, 8),
    "e3m2": (md.float6_e3m2fn, 6),
    "e2m3": (md.float6_e2m3fn, 6),
    "e2m1": (md.float4_e2m1fn, 4),
    "e8m0": (md.float8_e8m0fnu, 8),
}

f32 = np.float32


def decode_all(dt, bits):
    codes = np.arange(1 << bits, dtype=np.uint8)
    return codes.view(dt).astype(np.float32)


def up(v):
    return np.nextafter(f32(v), f32(np.inf), dtype=np.float32)


def down(v):
    return np.nextafter(f32(v), f32(-np.inf), dtype=np.float32)


def sweep(dt, bits, seed):
    dec = decode_all(dt, bits)
    vals = np.unique(dec[np.isfinite(dec)].astype(np.float64))
    vals = vals[vals >= 0]
    pts = []
    for v in vals:
        pts += [f32(v), up(v), down(v)]
    for a, b in zip(vals[:-1], vals[1:]):
        m = (a + b) / 2  # exact in float64; exact in float32 as well (one more mantissa bit)
        assert float(f32(m)) == m
        pts += [f32(m), up(m), down(m)]
    lo = vals[vals > 0].min()
    hi = vals.max()
    pts += [f32(lo / 2), up(lo / 2), down(lo / 2), f32(lo / 4), f32(lo * 0.75)]
    # Overflow: the tie between max and the next (absent) code 2^e·(1 + …) above it.
    e = np.floor(np.log2(hi))
    ulp = hi - vals[-2] if len(vals) > 1 else hi
    # the would-be next value's spacing at max's binade
    binade_ulp = ulp if np.floor(np.log2(vals[-2])) == e else ulp
    over = hi + binade_ulp / 2
    pts += [f32(over), up(over), down(over), f32(hi + binade_ulp), f32(2 * hi), f32(hi * 1.0001)]
    pts += [f32(1e30), f32(3.0e38), np.finfo(np.float32).max, f32(1e-45), f32(1e-40), f32(1.1754942e-38),
            f32(1.1754944e-38), f32(0.0), f32(np.inf)]
    pts = np.array(pts, dtype=np.float32)
    pts = pts[np.isfinite(pts) | np.isinf(pts)]
    both = np.concatenate([pts, -pts])
    nan = np.array([np.nan], dtype=np.float32)
    specials = np.concatenate([nan, -nan]).view(np.uint32)
    rng = np.random.default_rng(seed)
    # random float32 patterns with exponents around the format's range, and fully random ones
    emin = int(np.floor(np.log2(lo))) - 4 + 127
    emax = min(int(e) + 3 + 127, 254)
    emin = max(emin, 0)
    ex = rng.integers(emin, emax + 1, size=3000).astype(np.uint32)
    man = rng.integers(0, 1 << 23, size=3000).astype(np.uint32)
    sg = rng.integers(0, 2, size=3000).astype(np.uint32)
    rnd = (sg << 31) | (ex << 23) | man
    full = rng.integers(0, 1 << 32, size=1000, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([both.view(np.uint32), specials, rnd, full]).astype("<u4")


def write(name, arr):
    path = os.path.join(OUT, name)
    arr.tofile(path)
    return path


def ml_dtypes_vectors():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for k, (name, (dt, bits)) in enumerate(FORMATS.items()):
        s = sweep(dt, bits, 1000 + k)
        write(f"{name}.sweep.u32", s)
        enc = s.view(np.float32).astype(dt).view(np.uint8)
        write(f"{name}.ml_dtypes.enc", enc.astype(np.uint8))
        write(f"{name}.ml_dtypes.dec", decode_all(dt, bits).view("<u4"))
        print(f"{name}: {1 << bits} codes, {len(s)} sweep points")
        total += len(s)
    # MX scale rule 'ml_dtypes': X = e8m0(amax / elem_max) by ml_dtypes' cast (nearest, ties even).
    rng = np.random.default_rng(7)
    amax = []
    for k in range(-20, 21):
        for m in [1.0, 1.25, 1.4999999, 1.5, 1.5000001, 1.75, 1.9999999]:
            amax.append(m * 2.0 ** k)
    amax = np.concatenate([np.array(amax, dtype=np.float32),
                           (rng.lognormal(0, 4, 500)).astype(np.float32)])
    write("mx_scale.amax.u32", amax.view("<u4"))
    for elem, mx in [("e4m3fn", 448.0), ("e5m2", 57344.0), ("e3m2", 28.0), ("e2m3", 7.5), ("e2m1", 6.0),
                     ("int8", 127.0 / 64.0)]:
        q = (amax / f32(mx)).astype(np.float32).astype(md.float8_e8m0fnu).view(np.uint8)
        write(f"mx_scale.{elem}.ml_dtypes.e8m0", q)
    print("total sweep points:", total)


def import_torch(npz):
    d = np.load(npz)
    for key in d.files:  # <fmt>.enc / <fmt>.dec / <fmt>.error
        fmt, kind = key.rsplit(".", 1)
        a = d[key]
        if kind == "enc":
            write(f"{fmt}.torch.enc", a.astype(np.uint8))
        elif kind == "dec":
            write(f"{fmt}.torch.dec", a.astype("<u4"))
        print(key, a.shape, a.dtype)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--import-torch":
        import_torch(sys.argv[2])
    else:
        ml_dtypes_vectors()
