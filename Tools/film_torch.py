#!/usr/bin/env python3
"""IF-FILM as published, in PyTorch eager: the baseline `fusion bench --model film` is compared with.

A module-for-module rewrite of IF-FILM's `net/Film.py` and its Restormer blocks, as
../shared/models/film.md describes them (the released configuration: mid channels 32, 8
heads, FFN factor 4, no bias in the Restormer blocks, WithBias LayerNorm, text 768 -> 256,
image-to-text channels 32, the fixed 288x384 token grid), with the checkpoint's key names,
in float32 on the CPU under torch.no_grad(). Weights: `{"model": state_dict}` with the
`module.` prefix, as the released models/IVF.pth (default ../shared/golden/film.pth).

    python3 Tools/film_torch.py [--size 480x640] [--tokens 16] [--repeat 3] [--threads 2]
        [--device cpu|cuda] [--dtype fp32|fp16] [--compile] [--check GOLDEN.safetensors]

Timed: the network on ir, vis [1,1,H,W] and text features [1,L,768] (what the engine's
workload takes). Prints one JSON object (Tools/torch_bench.py's, plus "tokens" and
"peak_rss_mib"). --check first runs a golden case
(../shared/golden/film_*.safetensors) and fails unless its output matches within 1e-4,
proving this script is the published network.
"""
import argparse
import os
import resource
import sys

try:
    import numpy  # noqa: F401
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    sys.exit(f"film_torch.py needs torch and numpy ({e}); pip install torch numpy")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench as tb  # noqa: E402


# --- Restormer block (WithBias LayerNorm, transposed channel attention, gated FFN) -------

class WithBiasLayerNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))

    def forward(self, x):  # x [B, HW, C]
        mu = x.mean(-1, keepdim=True)
        sigma = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(sigma + 1e-5) * self.weight + self.bias


class LayerNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.body = WithBiasLayerNorm(dim)

    def forward(self, x):
        b, c, h, w = x.shape
        y = self.body(x.permute(0, 2, 3, 1).reshape(b, h * w, c))
        return y.reshape(b, h, w, c).permute(0, 3, 1, 2)


class FeedForward(nn.Module):
    def __init__(self, dim, factor):
        super().__init__()
        hidden = int(dim * factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=False)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, 1, 1, groups=hidden * 2, bias=False)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=False)

    def forward(self, x):
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.num_heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, 1, 1, groups=dim * 3, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.num_heads, c // self.num_heads, h * w) for t in (q, k, v))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        a = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project_out((a @ v).reshape(b, c, h, w))


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, factor):
        super().__init__()
        self.norm1, self.attn = LayerNorm(dim), Attention(dim, heads)
        self.norm2, self.ffn = LayerNorm(dim), FeedForward(dim, factor)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


# --- the cross-attention blocks and the network -----------------------------------------

GRID = (288, 384)


class CrossAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.multihead_attn = nn.MultiheadAttention(embed_dim=dim, num_heads=heads)

    def forward(self, q, k, v):  # [B, L, D], sequence-first inside
        o, _ = self.multihead_attn(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1))
        return o.transpose(0, 1)


class ImageToText(nn.Module):
    def __init__(self, channels, out, hidden):
        super().__init__()
        self.conv = nn.Conv2d(channels, out, 1)
        self.hidden = hidden

    def forward(self, x):
        x = F.interpolate(self.conv(x), list(GRID), mode="nearest")
        # The raw NCHW buffer viewed as tokens of `hidden` (mixes channels and positions).
        return x.contiguous().view(x.size(0), x.numel() // x.size(0) // self.hidden, self.hidden)


class CrossAttentionBlock(nn.Module):
    """`restormer_cablock`: each stream X in {A, B} with its own weights."""

    def __init__(self, in_channels, dim=32, heads=8, image2text=32, factor=4, hidden=256):
        super().__init__()
        for X in "AB":
            setattr(self, f"conv{X}1", nn.Conv2d(in_channels, dim, 3, 1, 1, bias=False))
            setattr(self, f"prelu{X}1", nn.PReLU())
            setattr(self, f"conv{X}2", nn.Conv2d(image2text, dim, 1))
            setattr(self, f"prelu{X}2", nn.PReLU())
            setattr(self, f"conv{X}3", nn.Conv2d(2 * dim, dim, 1))
            setattr(self, f"prelu{X}3", nn.PReLU())
            setattr(self, f"restormer{X}1", TransformerBlock(dim, heads, factor))
            setattr(self, f"imagef2textf{X}1", ImageToText(dim, image2text, hidden))
        # As published, the B stream's attention is named cross_attentionA2.
        self.cross_attentionA1 = CrossAttention(hidden, 8)
        self.cross_attentionA2 = CrossAttention(hidden, 8)
        self.image2text = image2text

    def stream(self, X, img, text, attention):
        h, w = img.shape[-2:]
        f = getattr(self, f"restormer{X}1")(getattr(self, f"prelu{X}1")(getattr(self, f"conv{X}1")(img)))
        tokens = getattr(self, f"imagef2textf{X}1")(f)
        c = attention(text, tokens, tokens)
        c = F.adaptive_avg_pool1d(c.permute(0, 2, 1), 1).permute(0, 2, 1)   # mean over the L tokens
        c = F.normalize(c, p=1, dim=2)
        c = (tokens * c).view(f.shape[0], self.image2text, *GRID)
        side = F.interpolate(f, [h, w], mode="nearest")
        c = F.interpolate(c, [h, w], mode="nearest")
        modulated = getattr(self, f"prelu{X}2")(getattr(self, f"conv{X}2")(c)) + side
        return getattr(self, f"prelu{X}3")(getattr(self, f"conv{X}3")(torch.cat((F.interpolate(f, [h, w], mode="nearest"), modulated), 1)))

    def forward(self, a, b, text):
        return self.stream("A", a, text, self.cross_attentionA1), self.stream("B", b, text, self.cross_attentionA2)


class TextProcess(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.conv = nn.Conv1d(width, hidden, 1, 1, 0)

    def forward(self, x):
        return self.conv(x.permute(0, 2, 1)).permute(0, 2, 1)


class Net(nn.Module):
    def __init__(self, mid=32, heads=8, factor=4, hidden=256, image2text=32):
        super().__init__()
        self.text_process = TextProcess(768, hidden)
        self.restormerca1 = CrossAttentionBlock(1, mid, heads, image2text, factor, hidden)
        self.restormerca2 = CrossAttentionBlock(mid, mid, heads, image2text, factor, hidden)
        self.restormerca3 = CrossAttentionBlock(mid, mid, heads, image2text, factor, hidden)
        self.restormer1 = TransformerBlock(2 * mid, heads, factor)
        self.restormer2 = TransformerBlock(mid, heads, factor)
        self.restormer3 = TransformerBlock(mid, heads, factor)
        self.conv1 = nn.Conv2d(2 * mid, mid, 1)
        self.conv2 = nn.Conv2d(mid, 1, 1)

    def forward(self, a, b, text):
        t = self.text_process(text)
        a, b = self.restormerca1(a, b, t)
        a, b = self.restormerca2(a, b, t)
        a, b = self.restormerca3(a, b, t)
        x = self.conv1(self.restormer1(torch.cat((a, b), 1)))
        x = self.restormer3(self.restormer2(x))
        return torch.sigmoid(self.conv2(x))


# --- checkpoints, goldens, timing --------------------------------------------------------

def load_network(path):
    state = torch.load(path, map_location="cpu")
    state = state.get("model", state)
    net = Net()
    net.load_state_dict({k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()})
    return net.eval()


def main():
    shared = os.environ.get("FUSIONKIT_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=os.path.join(shared, "golden", "film.pth"))
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--check", help="a film golden case to verify against first (fp32, on --device)")
    tb.add_run_options(ap, size="480x640", repeat=3)
    args = ap.parse_args()
    device = tb.setup(args)
    net = load_network(args.weights).to(device)
    with torch.no_grad():
        if args.check:
            case = tb.read_safetensors(args.check)
            ir, vis, text = (torch.from_numpy(case[k].copy()).to(device) for k in ("ir", "vis", "text_features"))
            tb.check_close(args.check, net(ir, vis, text).cpu().numpy(), case["output"])
        if args.repeat == 0:
            return
    h, w = tb.size(args)
    g = torch.Generator().manual_seed(1)
    ir, vis = torch.rand(1, 1, h, w, generator=g), torch.rand(1, 1, h, w, generator=g)
    text = torch.randn(1, args.tokens, 768, generator=g)
    dt = tb.dtype(args)
    net = net.to(dt)
    result = tb.time_network(net, [tb.moved(t, device, dt) for t in (ir, vis, text)], args, device)
    # The name Tools/bench_film_vs_torch reads (this process's peak RSS when on the CPU).
    tb.emit(result, tokens=args.tokens, peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
