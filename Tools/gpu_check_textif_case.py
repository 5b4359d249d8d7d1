#!/usr/bin/env python3
"""Text-IF's golden case without its 41 MB CLIP tower, for Tools/gpu-check's pack.

textif_dim8.pth holds the dim-8 fusion network and a CLIP text tower; the golden case holds the
prompt's tokens. A device call carries at most 64 MiB, so the pack keeps the fusion network
(`{"model": ...}` without `model_clip.*`) and a case whose `text_features` are what the
checkpoint's own tower gives for the tokens (Tools/textif_torch.py's CLIP rewrite, which the
full golden check covers). `textif_torch.py --check CASE --weights NET` then checks the network.

    python3 Tools/gpu_check_textif_case.py textif_dim8.pth textif_dim8_32x48.safetensors NET.pth CASE.safetensors
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import textif_torch  # noqa: E402
import torch_bench as tb  # noqa: E402


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    checkpoint, golden, net_out, case_out = sys.argv[1:]
    sd = textif_torch.load_checkpoint(checkpoint)
    case = tb.read_safetensors(golden)
    with torch.no_grad():
        text = textif_torch.clip_encode_text(sd, torch.from_numpy(case["tokens"].astype(np.int64)))
        out = textif_torch.textif(sd, torch.from_numpy(case["vis"].copy()), torch.from_numpy(case["ir"].copy()), text)
    tb.check_close(golden, out.numpy(), case["output"])
    torch.save({"model": {k: v for k, v in sd.items() if not k.startswith("model_clip.")}}, net_out)
    write_safetensors(case_out, {"vis": case["vis"], "ir": case["ir"], "output": case["output"],
                                 "text_features": text.numpy()})


if __name__ == "__main__":
    main()
