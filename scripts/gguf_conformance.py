#!/usr/bin/env python3
"""GGUF conformance against gguf-py, run by CI: lowbit-quantize writes a GGUF file of every block
type lowbit makes from fresh random tensors, and gguf-py reads it back (GGUFReader) and checks
each tensor byte for byte against its own quantization of the same values
(gguf.quants.quantize), and lowbit's float32 dequantization (lowbit-quantize --dequantize)
against gguf.quants.dequantize.

    python3 scripts/gguf_conformance.py LOWBIT_QUANTIZE [--seed N]

Needs numpy, gguf and safetensors (pip). The inputs are N(0, 1) scaled per row over 2^-8 … 2^8, with no value
where lowbit and gguf-py documentedly part (fp16 scale overflow, docs/io.md): the test is that
the two implementations agree on ordinary weights. Exit status 0 when every tensor matches.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf.quants import dequantize, quantize
except ImportError as e:  # the caller installs gguf; say what is missing rather than pass
    sys.exit(f"gguf_conformance: {e} (pip install gguf numpy)")

TYPES = {"q8_0": T.Q8_0, "q4_0": T.Q4_0, "q4_1": T.Q4_1, "q5_0": T.Q5_0, "q5_1": T.Q5_1,
         "mxfp4": T.MXFP4, "f16": T.F16, "bf16": T.BF16}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe", help="the lowbit-quantize executable")
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "model")
        os.makedirs(src)
        inputs = {}
        for name in TYPES:
            x = rng.standard_normal((96, 512)).astype(np.float32)
            x *= (2.0 ** rng.uniform(-8, 8, size=(96, 1))).astype(np.float32)
            inputs[name] = x
            np.save(os.path.join(src, f"{name}.weight.npy"), x)
        out = os.path.join(tmp, "model.gguf")
        rules = [a for name in TYPES for a in ("--rule", f"{name}.*={name}")]
        subprocess.run([args.exe, src, out, "--quiet", *rules], check=True)
        back = os.path.join(tmp, "back.safetensors")
        subprocess.run([args.exe, "--dequantize", out, back, "--quiet"], check=True)
        from safetensors.numpy import load_file  # noqa: E402 (optional: only with safetensors)

        lowbit_float = load_file(back)
        reader = gguf.GGUFReader(out)
        failed = 0
        for t in reader.tensors:
            name = t.name.split(".")[0]
            want_type = TYPES[name]
            x = inputs[name]
            got = np.asarray(t.data).tobytes()
            ok_type = t.tensor_type == want_type
            want = quantize(x, want_type).tobytes()
            same = ok_type and got == want
            dq = dequantize(np.frombuffer(want, dtype=np.uint8).reshape(96, -1), want_type)
            lf = lowbit_float[t.name]
            same_dq = lf.shape == dq.shape and lf.tobytes() == dq.astype(np.float32).tobytes()
            print(f"{t.name:14s} {t.tensor_type.name:6s} bytes {'identical' if same else 'DIFFER'}"
                  f", dequantized {'identical' if same_dq else 'DIFFER'}")
            failed += (not same) + (not same_dq)
        if len(reader.tensors) != len(TYPES):
            print(f"expected {len(TYPES)} tensors, the file has {len(reader.tensors)}")
            failed += 1
    from importlib.metadata import version
    print(f"gguf_conformance: gguf {version('gguf')}, {'PASS' if failed == 0 else f'FAIL ({failed})'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
