#!/usr/bin/env python3
"""Writes the GGUF / ggml block-quant reference data under tests/data/gguf/, with the official
gguf-py package (PyPI "gguf") as the reference. Generated with gguf 0.19.0 and numpy 2.4.6
(x86_64). Run from the repository root:

    python3 -m venv /tmp/gguf-venv && /tmp/gguf-venv/bin/pip install gguf numpy
    /tmp/gguf-venv/bin/python scripts/make_gguf_test_data.py

The script refuses to run with another gguf version unless GGUF_ANY_VERSION=1 is set (a different
gguf-py may quantize differently; rerun, diff the outputs, and update this docstring).

Files (<t> is q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4; every one of them is quantizable by gguf 0.19.0):
  <t>_input.npy     float32 (48, 256), C order, no NaN/Inf. Rows (blocks are 32 wide, 8 per row):
                      0-23, 44-47  N(0,1), default_rng(SEED), identical for every type
                      24-27  N(0,1) times a per-block power of two 2^U(-12,12)
                      28     all +0.0
                      29     signed zeros (-0.0 and +0.0 mixed with and without nonzero values)
                      30-31  exact rounding ties: power-of-two scale s fixed by the block's
                             max element (Q8_0 +-127s, Q4_0/Q5_0 -+8s/-+16s, Q4_1/Q5_1 min = c*s,
                             max = min + 15s/31s, MXFP4 +-6s or +-7.5s -> d = s/2), the other
                             elements at odd multiples of s/2 (MXFP4: midpoints of the grid)
                      32     largest |x| negative; +a/-a ties for the argmax; all-negative, all-positive
                      33     huge values: ~1e30, +-3e38, +-FLT_MAX (fp16 scales overflow to +-inf)
                      34     subnormals (~1e-40, 1.4e-45, 1.1754942e-38) beside a normal amax
                      35     amax an exact power of two (2^-100 ... 2^127)
                      36     amax just below a power of two (T_k and the float below it, see MXFP4)
                      37     tiny amax: the smallest scales whose reciprocal is finite (d subnormal)
                      38     large dynamic range (|x| log-uniform over 1e-30..1e30 / 1e-5..1e5)
                      39     constant blocks
                      40     saturation: +a and -a in one block (Q4_0 16 -> clip 15), outliers
                      41     fp16 boundaries of the stored scale d (65504, 65519 -> 65504,
                             65520 -> inf, 2^-14, 2^-24, 2^-25 -> 0, 3*2^-26 -> 2^-24; Q4_1/Q5_1
                             also of m: -65520 -> -inf, -65519.99609375 -> -65504); MXFP4:
                             e = 252/253 (FLT_MAX) and log2 rounding thresholds instead
                      42     values exactly on the quantization grid (round-trip exactly)
                      43     N(0,1) with one 20-sigma outlier per block
  <t>_expected.bin  gguf.quants.quantize(input, type).tobytes(): 48 rows x 8 blocks, row-major
  <t>_dequant.npy   gguf.quants.dequantize(expected, type), float32 (48, 256). It holds +-inf and
                    NaN where an fp16 scale overflowed to inf (inf*0 = NaN; Q4_1/Q5_1 also
                    inf + -inf): rows 33, 35, 38 of q8_0 and 33, 35, 36, 38, 41 of q4_0, q4_1,
                    q5_0, q5_1 (the script prints them); mxfp4 has none. Compare NaN as "both NaN",
                    not bitwise (the NaN's sign is the CPU's default NaN).
  small.gguf        gguf.GGUFWriter output, default alignment (32, no general.alignment key):
                    metadata of every value type and tensors F32 (3,5), F32 (2,3,4), F16 (4,8),
                    BF16 (2,32), Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/MXFP4 (2,64) (numpy shapes). The
                    quantized tensors are rows 0-1, columns 0-63 of <t>_input, added as bytes with
                    raw_dtype (as convert_hf_to_gguf.py does); their bytes are therefore the first
                    2 blocks of rows 0 and 1 of <t>_expected.bin.
  small_tensors.json  for small.gguf: version, alignment, data_offset (start of the data
                    section), file size, every metadata key in file order with type id, type name,
                    value (and sub-type for arrays; float32 values also as exact hex), and every
                    tensor with name, ggml type id and name, numpy shape, GGUF ne, offset in the data
                    section, absolute file offset, byte size, padded size, and the bytes as hex.
  small_align64.gguf / small_align64_tensors.json  the same with add_custom_alignment(64), which
                    writes general.alignment (UINT32 64) and pads to 64.
The script reads both files back with gguf.GGUFReader and with its own parser and checks every
field, and checks its own scalar transcription of the rules below against gguf-py byte for byte.

ggml types (id, block size, type size in bytes):
  F32 0 1 4 | F16 1 1 2 | BF16 30 1 2 | Q4_0 2 32 18 | Q4_1 3 32 20 | Q5_0 6 32 22 | Q5_1 7 32 24 |
  Q8_0 8 32 34 | MXFP4 39 32 17.

quantize_blocks as gguf-py 0.19.0 implements it (per block x[0..31] of float32; every intermediate
is float32 with IEEE round-to-nearest-even, each operation rounded separately, no FMA (build the
C++ side with -ffp-contract=off or keep the products out of contractible expressions); fp16(v) is
numpy float32->float16, round-to-nearest-even, overflow to +-inf, subnormal/zero below; all
multi-byte fields little-endian; "nibble pairs" means byte j (j=0..15) = q[j] | q[j+16] << 4):
  Q8_0  amax = max|x|; d = amax / 127f; id = d == 0 ? 0 : 1f/d;
        q[j] = (int8) roundf(x[j]*id), roundf = round half away from zero (gguf's np_roundf).
        Block: fp16(d) (2 bytes), q[0..31] as int8 (32 bytes). All-zero/-0 blocks: d = +0.
  Q4_0  imax = FIRST index of the largest |x| (numpy argmax); max = x[imax] (signed);
        d = max / -8f; id = d == 0 ? 0 : 1f/d;
        q[j] = min(15, (uint8) trunc(x[j]*id + 8.5f)), i.e. trunc of the float32 sum fl(fl(x*id)+8.5f)
        (so an exact tie x*id = k+0.5 goes UP to k+9); the only clip is 16 -> 15, hit when
        x*id >= 7.5 (x of the sign opposite to max with |x| >= 15/16 |max|, e.g. x = -max).
        Block: fp16(d), nibble pairs (16 bytes).
        -0: in an all-zero block imax = 0, so max = x[0]: x[0] = +0 gives d = -0 (fp16 0x8000),
        x[0] = -0 gives d = +0 (0x0000); q = 8 either way. (ggml's C reference starts from
        max = 0.0f and always stores 0x8000 here: gguf-py differs when x[0] is -0.0.)
  Q5_0  as Q4_0 with d = max / -16f, q = min(31, (uint8) trunc(x*id + 16.5f)) (32 -> 31 clip).
        Block: fp16(d), qh (4 bytes = uint32 LE, bit j = bit 4 of q[j], j = 0..31),
        qs nibble pairs of the low 4 bits: byte j = (q[j] & 15) | (q[j+16] & 15) << 4.
  Q4_1  min = min(x), max = max(x); d = (max - min) / 15f; id = d == 0 ? 0 : 1f/d;
        q[j] = min(15, (uint8) trunc((x[j] - min)*id + 0.5f)) (ties k+0.5 go up to k+1).
        Block: fp16(d), fp16(min), nibble pairs. Constant blocks: d = 0, q = 0, m = fp16(value).
        -0: the sign of a zero min (or max) comes from numpy's min/max reduction, which picks
        among equal +0/-0 in an implementation-defined way (here: [0,..,0,-0] -> -0 but
        [-0,0,..,0] -> +0; ggml's C keeps the first). The inputs therefore contain no block whose
        minimum is zero while holding both +0 and -0; all -0 gives d = +0, m = -0 (0x8000).
  Q5_1  as Q4_1 with d = (max - min) / 31f, q = min(31, trunc((x - min)*id + 0.5f)).
        Block: fp16(d), fp16(min), qh (as Q5_0), qs (as Q5_0).
  MXFP4 amax = max|x|; e = amax > 0 ? (uint8)(floor(log2f(amax)) - 2 + 127) : 0, where log2f
        is numpy's float32 log2 (the floor of it is exactly that of the correctly rounded
        float32 log2, checked here for every input and for 200 floats on either side of every
        power of two). Exactly: with E = floor(log2(amax)) (the binary exponent), floor(log2f) is
        E + 1 when amax >= T(E+1), else E, where T(k) = the smallest float32 >= 2^(k - h_k) and h_k
        = half the gap between k and the next float32 below k. The number of float32s below 2^k
        that reach T(k) (log2f rounds up to k): 0 for k in -1..2; 1 for -3..-2 and 3..4; 2 for
        -7..-4 and 5..8; 5 for -15..-8 and 9..16; 11 for -31..-16 and 17..32; 22 for -63..-32
        and 33..64; 44 for -125..-64 and 65..127; T(128) = 3.4028147e38 (0x7f7fffd4) < FLT_MAX,
        so FLT_MAX gives e = 253. floorf((float)log2((double)amax)) gives the same result.
        d = 2^(e - 128) as float32 (ggml_e8m0_to_fp32_half: e = 0 -> 2^-128, e = 1 -> 2^-127,
        subnormal); kvalues = {0,1,2,3,4,6,8,12,0,-1,-2,-3,-4,-6,-8,-12} (doubled e2m1);
        q[j] = the FIRST k in 0..15 minimising err_k = |fl(d*kvalues[k]) - x[j]| (float32, so
        overflowing products give err = inf), i.e. ties go to the lower index: +-0.5 step ->
        index 0 (+0), between 4 and 6 -> 4, between -4 and -6 -> -4 (index 12); index 8 (-0) is
        never produced; -0.0 -> 0.
        Block: e (1 byte), nibble pairs (16 bytes).
        Tiny amax: e < 0 is cast to uint8 by numpy's float->uint8 conversion, which on x86 wraps
        silently (1e-39 -> e = 251, 2^-126 -> e = 255, with an overflow warning later); the
        C cast is undefined and AArch64 conversions saturate to 0 instead (not tried here). Blocks with amax in (0, T(-125)) =
        (0, 2.3509825e-38) are therefore kept OUT of mxfp4_input.npy (T(-125) itself, 2^-125,
        2^-124 and 2^-123 are in row 37: e = 0, 0, 1, 2).
  All types: a block whose scale's reciprocal overflows (d < 1/FLT_MAX ~ 2.94e-39, e.g. every
  all-subnormal block, amax ~1e-39) gives id = inf, then inf*0 = NaN or inf, and a NaN/inf
  float->integer cast (undefined in C, platform-dependent in numpy, "invalid value" warning):
  such blocks are kept out of every input, as are Q4_1/Q5_1 blocks with max - min = inf. The
  smallest scales kept are d = 2^-127 (Q8_0 amax = 127*2^-127, Q4_0 2^-124, Q5_0 2^-123,
  Q4_1 range 15*2^-127, Q5_1 31*2^-127).

Dequantization (gguf-py, float32): Q8_0 q*d; Q4_0 d*(q-8); Q5_0 d*(q-16); Q4_1, Q5_1 d*q + m
(two roundings, no FMA); MXFP4 d*kvalues[q] with d = 2^(e-128) (e = 0, 1: 2^-128, 2^-127).

GGUF layout (GGUFWriter, little-endian): "GGUF" magic (u32 0x46554747), u32 version 3,
u64 tensor count, u64 kv count; then the kv pairs in insertion order: key (u64 byte length + UTF-8,
no NUL), u32 value type, value. Value types: UINT8 0, INT8 1, UINT16 2, INT16 3, UINT32 4, INT32 5,
FLOAT32 6, BOOL 7 (1 byte, 0/1), STRING 8 (u64 length + bytes), ARRAY 9 (u32 element type, u64
count, elements packed without their own type tag; string elements are u64 length + bytes), UINT64
10, INT64 11, FLOAT64 12. The writer itself adds only general.architecture (STRING, first key,
from the arch argument; skipped if empty); general.alignment (UINT32) only via
add_custom_alignment. add_string / add_array silently skip empty values; a Python list's array type
is taken from its first element (int -> INT32, float -> FLOAT32, str -> STRING, bool -> BOOL) unless
sub_type is given. Tensor infos follow in insertion order: name (u64 length + bytes), u32 n_dims,
n_dims x u64 ne with ne[0] = the innermost (last numpy) dimension, u32 ggml type, u64 offset
relative to the data section. Each offset is the previous one plus the previous tensor's byte size
rounded up to the alignment (default 32). Zero bytes pad the end of the tensor infos up to a
multiple of the alignment (absolute file offset = data section start) and each tensor's data,
including the last one, up to a multiple of the alignment. The reader uses general.alignment if
present (must be UINT32, a power of two), else 32.
"""
import hashlib
import json
import math
import os
import struct
import sys
import warnings

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT
from gguf.quants import dequantize, quantize

try:
    from importlib.metadata import version as _pkg_version
    GGUF_VERSION_STR = _pkg_version("gguf")
except Exception:  # pragma: no cover
    GGUF_VERSION_STR = "unknown"

if GGUF_VERSION_STR != "0.19.0" and os.environ.get("GGUF_ANY_VERSION") != "1":
    sys.exit(f"expected gguf 0.19.0, found {GGUF_VERSION_STR} (set GGUF_ANY_VERSION=1 to run anyway)")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "gguf")
SEED = 0x6767_5546
ROWS, COLS, QK = 48, 256, 32
NB = COLS // QK
F = np.float32
FLT_MAX = np.finfo(F).max
TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4"]
MXFP4_KVALUES = (0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12)


def p2(k):
    """2^k as float32 (k may be fractional only where the result is representable)."""
    return F(2.0 ** k)


def below(v, n=1):
    """The float32 n steps below v, towards zero."""
    v = F(v)
    for _ in range(n):
        v = np.nextafter(v, F(0), dtype=F)
    return v


def log2_threshold(k):
    """T(k): the smallest float32 whose float32 log2 rounds to >= k (see the docstring)."""
    kf = F(k)
    h = (float(kf) - float(np.nextafter(kf, F(-np.inf), dtype=F))) / 2
    thr = 2.0 ** (k - h)
    c = F(thr)
    if float(c) < thr:
        c = np.nextafter(c, F(np.inf), dtype=F)
    # float64 decides it: no float32 lies within 1e-12 relative of the threshold
    # (c may be 2^k itself, which the threshold is just below)
    p = np.nextafter(c, F(0), dtype=F)
    assert float(c) >= thr and thr - float(p) > 1e-12 * thr
    assert float(c) == 2.0 ** k or float(c) - thr > 1e-12 * thr
    return c


T = {k: log2_threshold(k) for k in range(-149, 129)}


def floor_log2f(a):
    """floor(log2f(a)) for a float32 a > 0 by the exponent-and-threshold rule of the docstring."""
    E = math.frexp(float(a))[1] - 1
    if E + 1 in T and a >= T[E + 1]:
        E += 1
    return E


# ------------------------------------------------------------------------------------------------
# inputs


def clipped_gauss(rng, n, scale, lim):
    g = rng.standard_normal(n) * float(scale)
    return np.clip(g, -float(lim), float(lim)).astype(F)


def block_with(rng, amax_value, pos=None, rel_others=0.25, rel_clip=0.9, nonneg=False):
    """A block whose largest |x| is amax_value (signed) at pos; the others are gaussian, smaller."""
    a = F(amax_value)
    others = clipped_gauss(rng, QK, abs(float(a)) * rel_others, abs(float(a)) * rel_clip)
    if nonneg:
        others = np.abs(others)
    b = others.astype(F)
    if pos is None:
        pos = int(rng.integers(QK))
    b[pos] = a
    return b


def row_of(blocks):
    r = np.concatenate([np.asarray(b, dtype=F) for b in blocks])
    assert r.shape == (COLS,), r.shape
    return r


def mixed_zeros(rng, n):
    return np.where(rng.random(n) < 0.5, F(-0.0), F(0.0)).astype(F)


def signed_zero_row(rng, qt):
    b = []
    b.append(np.full(QK, -0.0, F))                               # all -0
    if qt in ("Q4_1", "Q5_1"):
        # no block whose minimum is a zero while holding both +0 and -0 (numpy picks either)
        x = mixed_zeros(rng, QK); x[3] = F(-1.5); x[20] = F(2.5); b.append(x)
        x = mixed_zeros(rng, QK); x[0] = F(-0.25); b.append(x)    # max is +-0: d = 0.25/15 either way
        x = clipped_gauss(rng, QK, 1.0, 3.0); x[rng.choice(QK, 8, replace=False)] = F(-0.0)
        x[rng.choice(QK, 8, replace=False)] = F(0.0); x[1] = F(-3.5); b.append(x)
        x = np.full(QK, -0.0, F); x[5] = F(0.75); b.append(x)      # min -0 (no +0 present)
        x = mixed_zeros(rng, QK); x[20] = F(-3.0); b.append(x)
        x = clipped_gauss(rng, QK, 1.0, 3.0); x[0] = F(-0.0); x[16] = F(-0.0); x[2] = F(-3.25); b.append(x)
        x = np.full(QK, -0.0, F); x[31] = F(-1e-3); b.append(x)
    else:
        x = mixed_zeros(rng, QK); x[0] = F(-0.0); b.append(x)      # all zero, x[0] = -0
        x = mixed_zeros(rng, QK); x[0] = F(0.0); b.append(x)       # all zero, x[0] = +0
        x = clipped_gauss(rng, QK, 1.0, 3.0); x[rng.choice(QK, 8, replace=False)] = F(-0.0)
        x[rng.choice(QK, 8, replace=False)] = F(0.0); b.append(x)
        x = mixed_zeros(rng, QK); x[5] = F(0.75); b.append(x)
        x = mixed_zeros(rng, QK); x[20] = F(-3.0); b.append(x)
        x = clipped_gauss(rng, QK, 1.0, 3.0); x[0] = F(-0.0); x[16] = F(-0.0); b.append(x)
        x = np.zeros(QK, F); x[31] = F(-0.0); b.append(x)
    return row_of(b)


def tie_rows(rng, qt):
    """Two rows of values that land exactly on .5 after scaling (power-of-two scales, exact)."""
    rows = []
    for r in range(2):
        blocks = []
        for j in range(NB):
            s = p2(j - 3) if r == 0 else p2(-16 + 3 * j)
            if qt == "Q8_0":
                k = rng.integers(-127, 127, QK) if r == 0 else rng.integers(-4, 4, QK)
                x = ((k + 0.5) * float(s)).astype(F)
                x[int(rng.integers(QK))] = F((127 if j % 2 == 0 else -127) * float(s))  # d = s
            elif qt in ("Q4_0", "Q5_0"):
                n = 8 if qt == "Q4_0" else 16
                k = rng.integers(-n, n, QK)
                x = ((k + 0.5) * float(s)).astype(F)
                sign = -1 if j % 2 == 0 else 1              # max = -n*s: d = s; max = +n*s: d = -s
                pos = int(rng.integers(QK))
                x[pos] = F(sign * n * float(s))
                if r == 1:                                  # -max: x*id = n -> 2n -> clip 2n-1
                    x[(pos + 7) % QK] = F(-sign * n * float(s))
            elif qt in ("Q4_1", "Q5_1"):
                n = 15 if qt == "Q4_1" else 31
                c = int(rng.integers(-n, 1)) if r == 0 else int(rng.integers(1, 16))
                k = rng.integers(0, n, QK)
                x = ((c + k + 0.5) * float(s)).astype(F)
                i0, i1 = rng.choice(QK, 2, replace=False)
                x[i0] = F(c * float(s)); x[i1] = F((c + n) * float(s))   # d = s exactly
            else:  # MXFP4: amax 6s -> e = log2(s) + 127, d = s/2, grid {0,.5,1,1.5,2,3,4,6}*s
                mids = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0] + ([6.5, 7.0] if r else []))
                x = (rng.choice(mids, QK) * np.where(rng.random(QK) < 0.5, -1.0, 1.0) * float(s)).astype(F)
                a = 6.0 if r == 0 else 7.5
                x[int(rng.integers(QK))] = F((a if j % 2 == 0 else -a) * float(s))
            blocks.append(x)
        rows.append(row_of(blocks))
    return rows


def negative_max_row(rng):
    b = []
    x = clipped_gauss(rng, QK, 1.0, 3.0); x[7] = F(-5.0); b.append(x)
    x = clipped_gauss(rng, QK, 1.0, 3.0); x[31] = F(-4.0); b.append(x)
    x = clipped_gauss(rng, QK, 1.0, 3.0); x[0] = F(-3.5); b.append(x)
    x = clipped_gauss(rng, QK, 0.3, 1.9); x[3] = F(2.0); x[9] = F(-2.0); b.append(x)   # tie, + first
    x = clipped_gauss(rng, QK, 0.3, 1.9); x[3] = F(-2.0); x[9] = F(2.0); b.append(x)   # tie, - first
    x = clipped_gauss(rng, QK, 0.3, 0.9); x[16] = F(-1.0); x[17] = F(1.0); x[30] = F(-1.0); b.append(x)
    b.append((-np.abs(rng.standard_normal(QK)) - 0.1).astype(F))
    b.append((np.abs(rng.standard_normal(QK)) + 0.1).astype(F))
    return row_of(b)


def huge_row(rng):
    b = []
    b.append((rng.standard_normal(QK) * 1e30).astype(F))
    x = (rng.standard_normal(QK) * 1e30).astype(F); x[4] = F(3e38); b.append(x)
    x = (rng.standard_normal(QK) * 1e30).astype(F); x[20] = F(-3e38); b.append(x)
    b.append(rng.uniform(1e38, 3e38, QK).astype(F))
    x = (np.abs(rng.standard_normal(QK)) * 1e37).astype(F); x[0] = FLT_MAX; b.append(x)
    x = (-np.abs(rng.standard_normal(QK)) * 1e37).astype(F); x[31] = -FLT_MAX; b.append(x)
    b.append((rng.standard_normal(QK) * 1e20).astype(F))
    x = rng.uniform(-1e30, 1e30, QK).astype(F); x[0] = F(3e38); b.append(x)
    return row_of(b)


def subnormal_row(rng):
    subs = np.array([1e-40, -1e-40, 1.4e-45, -1.4e-45, 1.1754942e-38, -5e-39, 3e-42, 0.0], F)
    b = []
    for a in (1.0, -1e-3, 1e-20, 2.0 ** -100, 1e-30, -1e-35, 3.0, 1e-10):
        x = rng.choice(subs, QK).astype(F)
        x[int(rng.integers(QK))] = F(a)
        b.append(x)
    return row_of(b)


def pow2_rows(rng):
    r0 = [block_with(rng, (1 if i % 2 == 0 else -1) * p2(k)) for i, k in
          enumerate((-100, -10, -3, -1, 0, 1, 5, 127))]
    amaxes = (T[3], below(T[3]), T[10], below(T[10]), T[100], below(T[100]), below(p2(0)), below(p2(1)))
    r1 = [block_with(rng, (1 if i % 2 == 0 else -1) * a) for i, a in enumerate(amaxes)]
    return row_of(r0), row_of(r1)


def tiny_row(rng, qt):
    s = 2.0 ** -127
    if qt == "Q8_0":
        am = (127 * s, -127 * s, 4e-37, 1e-36, 127 * 2.0 ** -126, 5e-37, -2e-36, 1e-35)
    elif qt == "Q4_0":
        am = (2.0 ** -124, -(2.0 ** -124), 5e-38, 1e-37, 2.0 ** -123, 3e-38, -2.4e-38, 1e-36)
    elif qt == "Q5_0":
        am = (2.0 ** -123, -(2.0 ** -123), 5e-38, 1e-37, 2.0 ** -122, 6e-38, -4.8e-38, 1e-36)
    elif qt == "MXFP4":
        am = (T[-125], 2.0 ** -125, 1.5 * 2.0 ** -125, below(p2(-124)), 2.0 ** -124, 2.0 ** -123, 3e-38, 1e-37)
    if qt in ("Q4_1", "Q5_1"):
        n = 15 if qt == "Q4_1" else 31
        f = n / 15
        ranges = ((0.0, 15 * s), (-7 * s, 8 * s), (-15 * s, 0.0), (1e-37, 2e-37),
                  (-5e-38, 0.0), (-3e-38, 2e-38), (0.0, 1e-36), (-2e-37, 2e-37))
        b = []
        for lo, hi in ranges:
            if n == 31:
                lo, hi = ((-15 * s, 16 * s) if (lo, hi) == (-7 * s, 8 * s) else (lo * f, hi * f))
            lo, hi = F(lo), F(hi)
            x = rng.uniform(float(lo), float(hi), QK).astype(F)
            x = np.clip(x, lo, hi)
            i0, i1 = rng.choice(QK, 2, replace=False)
            x[i0] = lo; x[i1] = hi
            b.append(x)
        return row_of(b)
    return row_of([block_with(rng, a, rel_others=0.3, rel_clip=1.0) for a in am])


def dynamic_range_row(rng):
    b = []
    for j in range(NB):
        lim = 30 if j < 4 else 5
        mag = 10.0 ** rng.uniform(-lim, lim, QK)
        b.append((mag * np.where(rng.random(QK) < 0.5, -1.0, 1.0)).astype(F))
    return row_of(b)


def constant_row():
    return row_of([np.full(QK, v, F) for v in (0.5, -0.5, 3.0, -1e-3, 1000.0, -7.0, 1.0, 2.0 ** -20)])


def saturation_row(rng):
    b = []
    x = clipped_gauss(rng, QK, 0.5, 1.9); x[2] = F(2.0); x[11] = F(-2.0); b.append(x)
    x = clipped_gauss(rng, QK, 0.5, 1.9); x[2] = F(-2.0); x[11] = F(2.0); b.append(x)
    x = clipped_gauss(rng, QK, 1.0, 3.0); x[25] = F(30.0); b.append(x)
    x = clipped_gauss(rng, QK, 0.5, 1.0); x[0] = F(1.5); x[1] = F(-1.5) * (1 - F(2.0 ** -20)); b.append(x)
    for pos in ((0, 31), (15, 16), (31, 0), (8, 24)):
        x = clipped_gauss(rng, QK, 0.7, 2.9); x[pos[0]] = F(-3.0); x[pos[1]] = F(3.0); b.append(x)
    return row_of(b)


FP16_SCALE_TARGETS = (65504.0, 65519.0, 65520.0, 2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26,
                      1.0)


def fp16_boundary_row(rng, qt):
    b = []
    if qt == "MXFP4":
        for i, a in enumerate((FLT_MAX, T[128], below(T[128]), p2(127), F(1.5 * 2.0 ** 127),
                               T[-124], below(T[-124]), T[10] * F(1.0))):
            b.append(block_with(rng, (1 if i % 2 == 0 else -1) * a))
        return row_of(b)
    for i, t in enumerate(FP16_SCALE_TARGETS):
        if qt == "Q8_0":
            x = clipped_gauss(rng, QK, 127 * t * 0.3, 127 * t * 0.9)
            x[int(rng.integers(QK))] = F((1 if i % 2 == 0 else -1) * 127 * t)       # d = t exactly
        elif qt in ("Q4_0", "Q5_0"):
            n = 8 if qt == "Q4_0" else 16
            x = clipped_gauss(rng, QK, n * t * 0.3, n * t * 0.9)
            x[int(rng.integers(QK))] = F((1 if i % 2 == 0 else -1) * n * t)          # d = -+t
        else:
            n = 15 if qt == "Q4_1" else 31
            # min also on fp16 boundaries: -65520 -> -inf, -65519.99609375 -> -65504, 2^-25 -> 0
            m = (0.0, 0.0, -65520.0, -65519.99609375, 2.0 ** -25, 3 * 2.0 ** -26, -(2.0 ** -14), 0.0)[i]
            d = {1: 65520.0, 2: 1.0, 3: 1.0, 7: 65519.0}.get(i, t)
            lo, hi = F(m), F(m + n * d)
            assert float(hi) - float(lo) == n * d
            x = np.clip(rng.uniform(float(lo), float(hi), QK).astype(F), lo, hi)
            i0, i1 = rng.choice(QK, 2, replace=False)
            x[i0] = lo; x[i1] = hi
        b.append(x.astype(F))
    return row_of(b)


def exact_grid_row(rng, qt):
    b = []
    for j in range(NB):
        s = float(p2(-12 + 3 * j))
        if qt == "Q8_0":
            x = rng.integers(-127, 128, QK) * s; x[int(rng.integers(QK))] = (127 if j % 2 else -127) * s
        elif qt in ("Q4_0", "Q5_0"):
            n = 8 if qt == "Q4_0" else 16
            x = rng.integers(-n + 1, n, QK) * s; x[int(rng.integers(QK))] = (-n if j % 2 == 0 else n) * s
        elif qt in ("Q4_1", "Q5_1"):
            n = 15 if qt == "Q4_1" else 31
            c = int(rng.integers(-n, n))
            x = (c + rng.integers(0, n + 1, QK)) * s
            i0, i1 = rng.choice(QK, 2, replace=False)
            x[i0] = c * s; x[i1] = (c + n) * s
        else:
            x = rng.choice(np.array(MXFP4_KVALUES, float), QK) * s / 2
            x[int(rng.integers(QK))] = (6 if j % 2 == 0 else -6) * s
        b.append(np.asarray(x, F))
    return row_of(b)


def outlier_row(rng):
    b = []
    for _ in range(NB):
        x = rng.standard_normal(QK).astype(F)
        x[int(rng.integers(QK))] = F(20.0 if rng.random() < 0.5 else -20.0)
        b.append(x)
    return row_of(b)


def make_input(qt):
    base = np.random.default_rng(SEED)
    gauss = base.standard_normal((28, COLS)).astype(F)
    gauss2 = base.standard_normal((4, COLS)).astype(F)
    scales = (2.0 ** base.integers(-12, 13, (4, NB))).astype(F)
    rng = np.random.default_rng([SEED, int(getattr(QT, qt))])
    x = np.zeros((ROWS, COLS), F)
    x[0:24] = gauss[0:24]
    x[24:28] = (gauss[24:28].reshape(4, NB, QK) * scales[:, :, None]).reshape(4, COLS)
    x[28] = 0.0
    x[29] = signed_zero_row(rng, qt)
    x[30], x[31] = tie_rows(rng, qt)
    x[32] = negative_max_row(rng)
    x[33] = huge_row(rng)
    x[34] = subnormal_row(rng)
    x[35], x[36] = pow2_rows(rng)
    x[37] = tiny_row(rng, qt)
    x[38] = dynamic_range_row(rng)
    x[39] = constant_row()
    x[40] = saturation_row(rng)
    x[41] = fp16_boundary_row(rng, qt)
    x[42] = exact_grid_row(rng, qt)
    x[43] = outlier_row(rng)
    x[44:48] = gauss2
    return x


def check_input(qt, x):
    """Every block must have a well-defined gguf-py result (see the docstring)."""
    assert x.dtype == F and x.shape == (ROWS, COLS) and np.isfinite(x).all()
    blocks = x.reshape(-1, QK)
    amax = np.abs(blocks).max(axis=1)
    if qt == "MXFP4":
        pos = amax > 0
        assert (amax[pos] >= T[-125]).all(), "MXFP4 e would wrap"
        assert (np.floor(np.log2(amax[pos])) >= -125).all()
    if qt in ("Q4_1", "Q5_1"):
        for b in blocks:
            if b.min() == 0:
                signs = np.signbit(b[b == 0])
                assert signs.all() or not signs.any(), "ambiguous +-0 minimum"
            assert np.isfinite(F(b.max()) - F(b.min())), "max - min overflows"


# ------------------------------------------------------------------------------------------------
# a scalar transcription of the rules in the docstring, checked against gguf-py byte for byte


def fp16_bytes(v):
    return np.array([v], F).astype(np.float16).tobytes()


def roundf(v):
    r = math.floor(abs(float(v)) + 0.5)
    return -r if v < 0 else r


def ref_block(qt, x):
    x = [F(v) for v in x]
    if qt == "Q8_0":
        amax = F(0)
        for v in x:
            amax = max(amax, abs(v))
        d = F(amax / F(127))
        inv = F(F(1) / d) if d != 0 else F(0)
        return fp16_bytes(d) + bytes((roundf(F(v * inv)) & 0xFF) for v in x)
    if qt in ("Q4_0", "Q5_0"):
        n = 8 if qt == "Q4_0" else 16
        imax = 0
        for j in range(1, QK):
            if abs(x[j]) > abs(x[imax]):
                imax = j
        d = F(x[imax] / F(-n))
        inv = F(F(1) / d) if d != 0 else F(0)
        q = [min(2 * n - 1, math.trunc(float(F(F(v * inv) + F(n + 0.5))))) for v in x]
    elif qt in ("Q4_1", "Q5_1"):
        n = 15 if qt == "Q4_1" else 31
        mn = mx = x[0]
        for v in x[1:]:
            if v < mn:
                mn = v
            if v > mx:
                mx = v
        d = F(F(mx - mn) / F(n))
        inv = F(F(1) / d) if d != 0 else F(0)
        q = [min(n, math.trunc(float(F(F(F(v - mn) * inv) + F(0.5))))) for v in x]
    else:  # MXFP4
        amax = F(0)
        for v in x:
            amax = max(amax, abs(v))
        e = floor_log2f(amax) - 2 + 127 if amax > 0 else 0
        assert 0 <= e <= 255
        d = F(2.0 ** (e - 128))
        q = []
        for v in x:
            errs = [abs(F(F(d * F(k)) - v)) for k in MXFP4_KVALUES]
            q.append(errs.index(min(errs)))
        return bytes([e]) + bytes(q[j] | (q[j + 16] << 4) for j in range(16))
    out = fp16_bytes(d)
    if qt in ("Q4_1", "Q5_1"):
        out += fp16_bytes(mn)
    if qt in ("Q5_0", "Q5_1"):
        qh = 0
        for j in range(QK):
            qh |= ((q[j] >> 4) & 1) << j
        out += struct.pack("<I", qh)
    return out + bytes((q[j] & 15) | ((q[j + 16] & 15) << 4) for j in range(16))


def ref_dequant_block(qt, blk):
    if qt == "MXFP4":
        d = F(2.0 ** (blk[0] - 128))
        q = [blk[1 + (j % 16)] >> (0 if j < 16 else 4) & 15 for j in range(QK)]
        return [F(d * F(MXFP4_KVALUES[v])) for v in q]
    d = F(np.frombuffer(blk[0:2], np.float16)[0])
    if qt == "Q8_0":
        return [F(F(v) * d) for v in np.frombuffer(blk[2:34], np.int8)]
    o = 2
    m = None
    if qt in ("Q4_1", "Q5_1"):
        m = F(np.frombuffer(blk[2:4], np.float16)[0]); o = 4
    qh = 0
    if qt in ("Q5_0", "Q5_1"):
        qh = struct.unpack("<I", blk[o:o + 4])[0]; o += 4
    q = [(blk[o + (j % 16)] >> (0 if j < 16 else 4) & 15) | (((qh >> j) & 1) << 4) for j in range(QK)]
    if qt == "Q4_0":
        return [F(d * F(v - 8)) for v in q]
    if qt == "Q5_0":
        return [F(d * F(v - 16)) for v in q]
    return [F(F(d * F(v)) + m) for v in q]


def same_floats(a, b):
    a = np.asarray(a, F); b = np.asarray(b, F)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(((a.view(np.uint32) == b.view(np.uint32)) | both_nan).all())


# ------------------------------------------------------------------------------------------------
# quantized reference data


def write_quant_data():
    sizes = {}
    for qt in TYPES:
        t = getattr(QT, qt)
        bs, ts = gguf.GGML_QUANT_SIZES[t]
        assert (bs, ts) == {"Q8_0": (32, 34), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22),
                            "Q5_1": (32, 24), "MXFP4": (32, 17)}[qt]
        x = make_input(qt)
        check_input(qt, x)
        # overflow (fp16 scales -> inf, MXFP4 error terms -> inf) is expected and IEEE-exact;
        # an invalid operation (NaN, NaN -> integer cast) would make a block platform-dependent
        with np.errstate(invalid="raise", over="ignore", under="ignore"):
            qb = quantize(x, t)
            assert qb.dtype == np.uint8 and qb.shape == (ROWS, COLS // bs * ts)
            expected = qb.tobytes()
        with np.errstate(all="ignore"):   # inf scale * 0 -> NaN is gguf-py's dequantized value
            deq = np.asarray(dequantize(np.frombuffer(expected, np.uint8).reshape(ROWS, -1), t), F)
            assert deq.shape == (ROWS, COLS)
            blocks = x.reshape(-1, QK)
            for i, blk in enumerate(blocks):
                got = expected[i * ts:(i + 1) * ts]
                want = ref_block(qt, blk)
                assert got == want, (qt, i // NB, i % NB, got.hex(), want.hex(), blk)
                assert same_floats(ref_dequant_block(qt, got), deq.reshape(-1, QK)[i]), (qt, i)
            # the MXFP4 exponent rule: numpy's floor(log2f) == the threshold rule == double log2
            amax = np.abs(blocks).max(axis=1)
            amax = amax[amax > 0]
            np_floor = np.floor(np.log2(amax))
            assert all(int(a) == floor_log2f(v) for a, v in zip(np_floor, amax))
            assert (np_floor == np.floor(np.log2(amax.astype(np.float64)).astype(F))).all()
        name = qt.lower()
        nan_rows = sorted(set(np.nonzero(np.isnan(deq))[0].tolist()))
        inf_rows = sorted(set(np.nonzero(np.isinf(deq))[0].tolist()))
        print(f"{name}: dequant NaN in rows {nan_rows}, +-inf in rows {inf_rows}")
        np.save(os.path.join(OUT, f"{name}_input.npy"), x)
        with open(os.path.join(OUT, f"{name}_expected.bin"), "wb") as f:
            f.write(expected)
        np.save(os.path.join(OUT, f"{name}_dequant.npy"), deq)
        sizes[qt] = len(expected)
    return sizes


def check_log2_rule():
    """floor(np.log2(float32)) against the threshold rule for 200 floats around every 2^k."""
    vals = []
    for k in range(-149, 129):
        v = p2(k) if k < 128 else FLT_MAX
        if k == 128:
            vals.append(v)
        w = v
        for _ in range(200):
            w = np.nextafter(w, F(0), dtype=F); vals.append(w)
        if k < 128:
            w = v
            for _ in range(200):
                vals.append(w); w = np.nextafter(w, F(np.inf), dtype=F)
    a = np.unique(np.array(vals, F)); a = a[a > 0]
    with np.errstate(all="ignore"):
        np_floor = np.floor(np.log2(a))
        dbl = np.floor(np.log2(a.astype(np.float64)).astype(F))
    assert (np_floor == dbl).all()
    assert all(int(f) == floor_log2f(v) for f, v in zip(np_floor, a))


# ------------------------------------------------------------------------------------------------
# GGUF files


VT_NAMES = {int(v): v.name for v in VT}
QT_NAMES = {int(v): v.name for v in QT}


def metadata_plan():
    """(key, value type, value, array sub type) in the order they are added after the arch."""
    return [
        ("test.uint8", VT.UINT8, 200, None),
        ("test.int8", VT.INT8, -100, None),
        ("test.uint16", VT.UINT16, 65535, None),
        ("test.int16", VT.INT16, -32768, None),
        ("test.uint32", VT.UINT32, 4000000000, None),
        ("test.int32", VT.INT32, -2147483648, None),
        ("test.float32", VT.FLOAT32, 0.1, None),
        ("test.bool_true", VT.BOOL, True, None),
        ("test.bool_false", VT.BOOL, False, None),
        ("test.string", VT.STRING, "hello gguf", None),
        ("test.string_utf8", VT.STRING, "h\u00e9llo w\u00f6rld \u2013 \u65e5\u672c\u8a9e \u2713 \U0001f999", None),
        ("test.string_empty", VT.STRING, "", None),
        ("test.uint64", VT.UINT64, 2 ** 64 - 1, None),
        ("test.int64", VT.INT64, -(2 ** 63), None),
        ("test.float64", VT.FLOAT64, -1.0000000000000002e-300, None),
        ("test.array_int32", VT.ARRAY, [1, -2, 3, 2147483647, -2147483648], VT.INT32),
        ("test.array_string", VT.ARRAY, ["a", "", "\u00fcn\u00efc\u00f6d\u00e9", "x" * 40], VT.STRING),
        ("test.array_float32", VT.ARRAY, [0.5, -1.25, 3.4e38, 1e-45, -0.0], VT.FLOAT32),
        ("test.array_uint8", VT.ARRAY, [0, 1, 255], VT.UINT8),
    ]


def add_metadata(w, plan):
    for key, vt, val, sub in plan:
        if vt == VT.UINT8: w.add_uint8(key, val)
        elif vt == VT.INT8: w.add_int8(key, val)
        elif vt == VT.UINT16: w.add_uint16(key, val)
        elif vt == VT.INT16: w.add_int16(key, val)
        elif vt == VT.UINT32: w.add_uint32(key, val)
        elif vt == VT.INT32: w.add_int32(key, val)
        elif vt == VT.FLOAT32: w.add_float32(key, val)
        elif vt == VT.BOOL: w.add_bool(key, val)
        elif vt == VT.STRING:
            if val: w.add_string(key, val)
            else: w.add_key_value(key, val, VT.STRING)   # add_string skips empty strings
        elif vt == VT.UINT64: w.add_uint64(key, val)
        elif vt == VT.INT64: w.add_int64(key, val)
        elif vt == VT.FLOAT64: w.add_float64(key, val)
        elif vt == VT.ARRAY:
            if sub in (VT.INT32, VT.STRING, VT.FLOAT32):
                w.add_array(key, val)                     # type taken from the first element
            else:
                w.add_key_value(key, val, VT.ARRAY, sub_type=sub)
        else:
            raise ValueError(vt)


def json_value(vt, val, sub=None):
    if vt == VT.FLOAT32:
        f = F(val)
        return {"value": float(f), "hex": "0x%08x" % int(np.array([f]).view(np.uint32)[0])}
    if vt == VT.FLOAT64:
        return {"value": float(val), "hex": "0x%016x" % struct.unpack("<Q", struct.pack("<d", val))[0]}
    if vt == VT.ARRAY:
        if sub == VT.FLOAT32:
            fs = np.array(val, F)
            return {"value": [float(v) for v in fs], "hex": ["0x%08x" % v for v in fs.view(np.uint32)]}
        return {"value": list(val)}
    return {"value": val}


def tensor_plan():
    rng = np.random.default_rng([SEED, 1000])
    f32 = rng.standard_normal((3, 5)).astype(F)
    f32.flat[:8] = np.array([0.0, -0.0, 1.0, -1.5, FLT_MAX, np.inf, -np.inf, 1e-45], F)
    f32[2, 4] = np.float32(np.nan)
    f32_3d = np.arange(24, dtype=F).reshape(2, 3, 4) - F(11.5)
    f16 = (rng.standard_normal((4, 8)) * 100).astype(F)
    f16.flat[:6] = np.array([65504.0, 65520.0, -0.0, 2.0 ** -24, 2.0 ** -25, 1.0 + 2.0 ** -11], F)
    with np.errstate(over="ignore"):
        f16 = f16.astype(np.float16)                  # 65520 -> inf, 2^-25 -> 0, 1+2^-11 -> 1
    bf16_src = (rng.standard_normal((2, 32))).astype(F)
    bf16_src.flat[:4] = np.array([1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, -0.0, FLT_MAX], F)
    plan = [
        ("f32_3x5", QT.F32, f32, None),
        ("f32_2x3x4", QT.F32, f32_3d, None),
        ("f16_4x8", QT.F16, f16, None),
        ("bf16_2x32", QT.BF16, quantize(bf16_src, QT.BF16), QT.BF16),
    ]
    for qt in TYPES:
        x = np.load(os.path.join(OUT, f"{qt.lower()}_input.npy"))[:2, :64]
        with np.errstate(over="ignore"):
            plan.append((f"{qt.lower()}_2x64", getattr(QT, qt), quantize(x, getattr(QT, qt)), getattr(QT, qt)))
    return plan, {"bf16_source_float32_hex": ["0x%08x" % v for v in bf16_src.view(np.uint32).ravel()]}


def parse_gguf(path):
    """An independent little-endian GGUF parser (what the C++ reader must do)."""
    data = open(path, "rb").read()
    o = 0

    def rd(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, data, o)
        o += struct.calcsize("<" + fmt)
        return v[0]

    def rstr():
        nonlocal o
        n = rd("Q"); s = data[o:o + n]; o += n
        return s.decode("utf-8")

    fmt = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def rval(t):
        if t in fmt:
            return rd(fmt[t])
        if t == 8:
            return rstr()
        if t == 9:
            st = rd("I"); n = rd("Q")
            return (st, [rval(st) for _ in range(n)])
        raise ValueError(t)

    assert rd("I") == 0x46554747
    ver = rd("I"); nt = rd("Q"); nkv = rd("Q")
    kvs = []
    for _ in range(nkv):
        k = rstr(); t = rd("I"); kvs.append((k, t, rval(t)))
    tis = []
    for _ in range(nt):
        name = rstr(); nd = rd("I"); ne = [rd("Q") for _ in range(nd)]; t = rd("I"); off = rd("Q")
        tis.append((name, ne, t, off))
    align = 32
    for k, t, v in kvs:
        if k == "general.alignment":
            assert t == 4
            align = v
    end_ti = o
    data_off = (o + align - 1) // align * align
    assert data[end_ti:data_off] == bytes(data_off - end_ti)
    return data, ver, kvs, tis, align, data_off, end_ti


def write_gguf(fname, alignment=None):
    path = os.path.join(OUT, fname)
    w = gguf.GGUFWriter(path, arch="lowbit-test")
    plan = metadata_plan()
    if alignment is not None:
        add_metadata(w, plan[:5])
        w.add_custom_alignment(alignment)
        add_metadata(w, plan[5:])
    else:
        add_metadata(w, plan)
    tensors, extra = tensor_plan()
    for name, t, arr, raw in tensors:
        w.add_tensor(name, arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    align = alignment or 32
    data, ver, kvs, tis, falign, data_off, end_ti = parse_gguf(path)
    assert ver == 3 and falign == align

    # expected metadata in file order
    exp_kv = [("general.architecture", VT.STRING, "lowbit-test", None)]
    if alignment is not None:
        exp_kv += plan[:5] + [("general.alignment", VT.UINT32, alignment, None)] + plan[5:]
    else:
        exp_kv += plan
    assert [k for k, _, _ in kvs] == [k for k, _, _, _ in exp_kv]
    meta_json = []
    for (k, t, v), (ek, evt, ev, esub) in zip(kvs, exp_kv):
        assert t == int(evt), (k, t, evt)
        if evt == VT.ARRAY:
            assert v[0] == int(esub), (k, v[0], esub)
            if esub == VT.FLOAT32:
                assert np.array(v[1], F).tobytes() == np.array(ev, F).tobytes()
            else:
                assert v[1] == ev, k
        elif evt == VT.FLOAT32:
            assert np.array([v], F).tobytes() == np.array([ev], F).tobytes()
        else:
            assert v == ev and type(v) is type(ev), (k, v, ev)
        entry = {"key": k, "type": int(evt), "type_name": evt.name}
        if evt == VT.ARRAY:
            entry["sub_type"] = int(esub); entry["sub_type_name"] = esub.name
        entry.update(json_value(evt, ev, esub))
        meta_json.append(entry)

    # tensors
    tj = []
    off = 0
    assert len(tis) == len(tensors)
    for (name, ne, t, toff), (ename, et, arr, raw) in zip(tis, tensors):
        bs, ts = gguf.GGML_QUANT_SIZES[et]
        if raw is not None:
            np_shape = list(gguf.quants.quant_shape_from_byte_shape(arr.shape, et))
        else:
            np_shape = list(arr.shape)
        nbytes = arr.nbytes
        assert name == ename and t == int(et) and ne == np_shape[::-1] and toff == off, (name, ne, toff)
        assert math.prod(ne) // bs * ts == nbytes
        padded = (nbytes + align - 1) // align * align
        start = data_off + toff
        assert data[start:start + nbytes] == arr.tobytes()
        assert data[start + nbytes:start + padded] == bytes(padded - nbytes)
        tj.append({"name": name, "type": int(et), "type_name": et.name, "numpy_shape": np_shape,
                   "ne": ne, "offset": toff, "file_offset": start, "nbytes": nbytes,
                   "padded_nbytes": padded, "sha256": hashlib.sha256(arr.tobytes()).hexdigest(),
                   "data_hex": arr.tobytes().hex()})
        off += padded
    assert len(data) == data_off + off, "the last tensor is padded too"

    # quantized tensors are the first two blocks of rows 0 and 1 of <t>_expected.bin
    for e in tj:
        if e["type_name"] in TYPES:
            ts = gguf.GGML_QUANT_SIZES[getattr(QT, e["type_name"])][1]
            exp = open(os.path.join(OUT, f"{e['type_name'].lower()}_expected.bin"), "rb").read()
            row = NB * ts
            assert bytes.fromhex(e["data_hex"]) == exp[0:2 * ts] + exp[row:row + 2 * ts]

    # gguf's own reader
    r = gguf.GGUFReader(path)
    assert r.alignment == align and r.data_offset == data_off
    assert [f for f in r.fields if not f.startswith("GGUF.")] == [m["key"] for m in meta_json]
    assert r.fields["GGUF.version"].contents() == 3
    for m in meta_json:
        fld = r.fields[m["key"]]
        assert int(fld.types[0]) == m["type"]
        got = fld.contents()
        if m["type"] == VT.ARRAY:
            assert int(fld.types[-1]) == m["sub_type"]
            if m["sub_type"] == VT.FLOAT32:
                assert np.array(got, F).tobytes() == np.array(m["value"], F).tobytes()
            else:
                assert got == m["value"], (m["key"], got)
        elif m["type"] == VT.FLOAT32:
            assert np.array([got], F).tobytes() == np.array([m["value"]], F).tobytes()
        else:
            assert got == m["value"], (m["key"], got)
    assert len(r.tensors) == len(tj)
    for rt, e in zip(r.tensors, tj):
        assert rt.name == e["name"] and int(rt.tensor_type) == e["type"]
        assert rt.shape.tolist() == e["ne"] and rt.n_bytes == e["nbytes"]
        assert rt.data_offset == e["file_offset"]
        assert np.asarray(rt.data).tobytes() == bytes.fromhex(e["data_hex"])

    info = {
        "generator": f"scripts/make_gguf_test_data.py, gguf {GGUF_VERSION_STR}, numpy {np.__version__}",
        "file": fname, "file_size": len(data), "magic": "GGUF", "version": ver,
        "alignment": align, "alignment_key_present": alignment is not None,
        "n_kv": len(kvs), "n_tensors": len(tis),
        "tensor_infos_end": end_ti, "data_offset": data_off,
        "metadata": meta_json, "tensors": tj,
    }
    info.update(extra)
    with open(os.path.join(OUT, fname.replace(".gguf", "_tensors.json")), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    warnings.simplefilter("error", RuntimeWarning)   # any warning not silenced on purpose is a bug
    check_log2_rule()
    write_quant_data()
    write_gguf("small.gguf")
    write_gguf("small_align64.gguf", alignment=64)
    total = 0
    for n in sorted(os.listdir(OUT)):
        s = os.path.getsize(os.path.join(OUT, n)); total += s
        print(f"{s:8d}  tests/data/gguf/{n}")
    print(f"{total:8d}  total (gguf {GGUF_VERSION_STR}, numpy {np.__version__})")
    assert total < 1_500_000


if __name__ == "__main__":
    main()
