#!/usr/bin/env python3
"""PyTorch half of lowbit's minifloat reference vectors (see gen_fp_vectors.py).

Run once on a machine with PyTorch, next to the <fmt>.sweep.u32 files:
  python3 gen_torch_fp.py SWEEP_DIR OUT_DIR
Writes OUT_DIR/torch_fp.npz with, per format, '<fmt>.enc' (torch's code for every sweep input,
x.to(dtype)) and '<fmt>.dec' (float32 bits of every code, codes.view(dtype).float()), plus a text
log. Formats torch cannot cast are logged and left out. Split the .npz into test files with
  python3 scripts/gen_fp_vectors.py --import-torch torch_fp.npz
"""
import os
import sys

import numpy as np
import torch

FORMATS = {
    "e4m3fn": "float8_e4m3fn",
    "e5m2": "float8_e5m2",
    "e4m3fnuz": "float8_e4m3fnuz",
    "e5m2fnuz": "float8_e5m2fnuz",
    "e8m0": "float8_e8m0fnu",
    "e2m1": "float4_e2m1fn_x2",
}


def main(sweep_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    out, log = {}, [f"torch {torch.__version__}"]
    for fmt, tname in FORMATS.items():
        dt = getattr(torch, tname, None)
        if dt is None:
            log.append(f"{fmt}: torch has no {tname}")
            continue
        s = np.fromfile(os.path.join(sweep_dir, f"{fmt}.sweep.u32"), dtype="<u4")
        x = torch.from_numpy(s.view(np.float32).copy())
        try:
            if fmt == "e2m1":  # packed pairs: decode both nibbles of every byte
                codes = torch.arange(256, dtype=torch.uint8)
                f = codes.view(dt).to(torch.float32)
                out[f"{fmt}.dec"] = f.numpy().view(np.uint32).reshape(-1)[:32]
                log.append(f"{fmt}: decoded x2 bytes -> shape {tuple(f.shape)}")
            else:
                codes = torch.arange(256, dtype=torch.uint8).view(dt)
                out[f"{fmt}.dec"] = codes.to(torch.float32).numpy().view(np.uint32)
                log.append(f"{fmt}: decode ok")
        except Exception as e:  # noqa: BLE001
            log.append(f"{fmt}: decode failed: {type(e).__name__}: {e}")
        try:
            if fmt == "e2m1":
                y = x.to(dt)
            else:
                y = x.to(dt)
            out[f"{fmt}.enc"] = y.view(torch.uint8).numpy().copy()
            log.append(f"{fmt}: encode ok ({len(s)} points)")
        except Exception as e:  # noqa: BLE001
            log.append(f"{fmt}: encode failed: {type(e).__name__}: {e}")
    np.savez(os.path.join(out_dir, "torch_fp.npz"), **out)
    with open(os.path.join(out_dir, "torch_fp.log"), "w") as fh:
        fh.write("\n".join(log) + "\n")
    print("\n".join(log))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
