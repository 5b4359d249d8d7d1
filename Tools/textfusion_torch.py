#!/usr/bin/env python3
"""TextFusion as published, in PyTorch eager: the baseline `fusion bench` is compared with.

Builds the network of TextFusion's `net.py` from the released checkpoint, unfolded: the two
24->48->512 text projections and the 512->1 3x3 head run as published (the engine folds them
into one 96->1 conv), in float32 on the CPU under torch.no_grad(). See
../shared/models/textfusion.md for the network.

    python3 Tools/textfusion_torch.py [--weights W] [--size 512x640] [--repeat 5] [--threads 2]
        [--device cpu|cuda] [--dtype fp32|fp16] [--compile] [--check GOLDEN.safetensors]

Prints one JSON object (Tools/torch_bench.py): {"median_s", "min_s", "max_s", "times_s", "size",
"threads", "device", "dtype", "compiled", "compile_s", "peak_mem_mib", "torch"}.
--check first runs a golden case (../shared/golden/textfusion_*.safetensors) and fails unless
the output matches within 1e-4, proving this script is the published network.
Needs torch and numpy (`pip install torch numpy`).
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench as tb  # noqa: E402

P = "layer1.blocks.0."


def conv(x, sd, name, padding=0, mode="zeros", groups=1, bias=True):
    w = sd[name + ".weight"]
    b = sd[name + ".bias"] if bias else None
    if padding and mode == "reflect":
        x = F.pad(x, (padding,) * 4, mode="reflect")
        padding = 0
    return F.conv2d(x, w, b, padding=padding, groups=groups)


def rln(x, sd, name):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = torch.sqrt(((x - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True) + 1e-5)
    normed = (x - mean) / std * sd[name + ".weight"] + sd[name + ".bias"]
    rescale = F.conv2d(std, sd[name + ".meta1.weight"], sd[name + ".meta1.bias"])
    rebias = F.conv2d(mean, sd[name + ".meta2.weight"], sd[name + ".meta2.bias"])
    return normed, rescale, rebias


def relative_bias(sd):
    idx = torch.arange(8)
    rows, cols = torch.meshgrid(idx, idx, indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()], dim=-1).float()  # 64 x 2
    d = coords[:, None, :] - coords[None, :, :]                              # 64 x 64 x 2
    r = torch.sign(d) * torch.log1p(d.abs())
    h = F.relu(F.linear(r, sd[P + "attn.attn.meta.0.weight"], sd[P + "attn.attn.meta.0.bias"]))
    b = F.linear(h, sd[P + "attn.attn.meta.2.weight"], sd[P + "attn.attn.meta.2.bias"])  # 64 x 64 x 2
    return b.permute(2, 0, 1).contiguous()                                   # heads x 64 x 64


def window_attention(qkv, bias, heads=2, window=8):
    _, c3, hp, wp = qkv.shape
    h8, w8 = math.ceil(hp / window) * window, math.ceil(wp / window) * window
    if (h8, w8) != (hp, wp):
        qkv = F.pad(qkv, (0, w8 - wp, 0, h8 - hp), mode="reflect")
    c = c3 // 3
    d = c // heads
    # [1, 3, heads, d, h8/8, 8, w8/8, 8] -> [windows, 3, heads, 64, d]
    t = qkv.view(1, 3, heads, d, h8 // window, window, w8 // window, window)
    t = t.permute(0, 4, 6, 1, 2, 5, 7, 3).reshape(-1, 3, heads, window * window, d)
    q, k, v = t[:, 0], t[:, 1], t[:, 2]
    scores = (q * d ** -0.5) @ k.transpose(-1, -2) + bias
    out = scores.softmax(dim=-1) @ v                                         # windows, heads, 64, d
    nh, nw = h8 // window, w8 // window
    out = out.view(nh, nw, heads, window, window, d).permute(2, 5, 0, 3, 1, 4).reshape(1, c, h8, w8)
    return out[:, :, :hp, :wp]


def textfusion(sd, bias, vis, ir, text):
    _, _, h, w = vis.shape
    hp, wp = math.ceil(h / 4) * 4, math.ceil(w / 4) * 4
    if (hp, wp) != (h, w):
        vis = F.pad(vis, (0, wp - w, 0, hp - h), mode="reflect")
        ir = F.pad(ir, (0, wp - w, 0, hp - h), mode="reflect")
    a = conv(vis, sd, "patch_embed.proj", 1, "reflect")
    b = conv(ir, sd, "patch_embed2.proj", 1, "reflect")
    an, rescale, rebias = rln(a, sd, P + "norm1")
    bn, ass_rescale, ass_rebias = rln(b, sd, P + "ass_norm1")
    v = conv(an, sd, P + "attn.V")
    qk = conv(an, sd, P + "attn.QK")
    av = conv(bn, sd, P + "attn.ass_V")
    attn = window_attention(torch.cat([qk, v], dim=1), bias)
    o = conv(conv(v, sd, P + "attn.conv", 2, "reflect", groups=24) + attn, sd, P + "attn.proj")
    ob = conv(conv(av, sd, P + "attn.conv_ass", 2, "reflect", groups=24) + attn, sd, P + "attn.proj_ass")
    a = a + o * rescale + rebias
    b = b + ob * ass_rescale + ass_rebias
    a = a + conv(F.relu(conv(a, sd, P + "mlp.mlp.0")), sd, P + "mlp.mlp.2")
    b = b + conv(F.relu(conv(b, sd, P + "mlp_ass.mlp.0")), sd, P + "mlp_ass.mlp.2")
    xv = conv(F.relu(conv(a, sd, "fuse_text_image.mlp_vis.0", bias=False)), sd, "fuse_text_image.mlp_vis.2", bias=False)
    xi = conv(F.relu(conv(b, sd, "fuse_text_image.mlp_ir.0", bias=False)), sd, "fuse_text_image.mlp_ir.2", bias=False)
    x = xv + text.view(1, -1, 1, 1) * xi                                     # the 512-channel map
    y = torch.tanh(conv(x, sd, "patch_unembed1.proj.0", 1, "reflect")) / 2 + 0.5
    return y[:, :, :h, :w]


def main():
    shared = os.environ.get("FUSIONKIT_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=os.path.join(shared, "weights", "textfusion_llvip.model"))
    ap.add_argument("--check", help="a textfusion golden case to verify against first (fp32, on --device)")
    tb.add_run_options(ap, size="512x640", repeat=5)
    args = ap.parse_args()
    device = tb.setup(args)
    sd = tb.moved(torch.load(args.weights, map_location="cpu"), device)
    with torch.no_grad():
        bias = relative_bias(sd)
        if args.check:
            case = {k: torch.from_numpy(v.copy()).to(device) for k, v in tb.read_safetensors(args.check).items()}
            out = textfusion(sd, bias, case["vis"], case["ir"], case["text_features"])
            tb.check_close(args.check, out.cpu().numpy(), case["output"].cpu().numpy())
        if args.repeat == 0:
            return
    h, w = tb.size(args)
    g = torch.Generator().manual_seed(1)
    vis, ir = torch.rand(1, 1, h, w, generator=g), torch.rand(1, 1, h, w, generator=g)
    text = torch.randn(1, 512, generator=g) * 0.1
    dt = tb.dtype(args)
    sd, bias = tb.moved(sd, device, dt), bias.to(dt)
    inputs = [sd, bias] + [tb.moved(t, device, dt) for t in (vis, ir, text)]
    tb.emit(tb.time_network(textfusion, inputs, args, device))


if __name__ == "__main__":
    main()
