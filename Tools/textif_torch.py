#!/usr/bin/env python3
"""Text-IF as published, in PyTorch eager: the baseline `fusion bench --model textif` is compared with.

A faithful functional rewrite of Text-IF's `model/Text_IF_model.py` (Restormer encoders with
the full 3x3 FFN conv, the cross attention and spatial attention at 1/8, FiLM prompt
guidance, decoder and refinement), as described in ../shared/models/textif.md, in float32 on
the CPU under torch.no_grad(), with PyTorch's own ops (oneDNN convolutions) as the original
runs them. Weights: a state dict with the released key names, either a checkpoint
(`{"model": state_dict}`, e.g. ../shared/golden/textif_dim8.pth) or random weights of the
released configuration (dim 48, blocks [2,2,2,2], 4 refinement blocks, heads [1,2,4,8], FFN
factor 2, no conv bias); time does not depend on the values.

    python3 Tools/textif_torch.py [--dim 48] [--size 480x640] [--repeat 5] [--threads 2]
        [--device cpu|cuda] [--dtype fp32|fp16] [--compile]
        [--check GOLDEN.safetensors [--weights textif_dim8.pth]]

Timed: the fusion network on vis, ir [1,3,H,W] and a text feature [1,512] (what the engine's
workload takes; the CLIP text encoder runs once per prompt and is not timed on either side).
Prints one JSON object (Tools/torch_bench.py's, plus "dim").
--check first runs a golden case (../shared/golden/textif_dim8_*.safetensors: tokens ->
CLIP text tower of the checkpoint -> network) and fails unless the output matches within
1e-4, proving this script is the published network.
"""
import argparse
import os
import sys

try:
    import numpy  # noqa: F401
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    sys.exit(f"textif_torch.py needs torch and numpy ({e}); pip install torch numpy")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench as tb  # noqa: E402


# --- building blocks -------------------------------------------------------------------------

def conv(x, w, padding=0, bias=None):
    return F.conv2d(x, w, bias, padding=padding)


def layer_norm(x, sd, name):
    # WithBias_LayerNorm over channels, per pixel: to_3d, biased variance, eps 1e-5.
    b, c, h, w = x.shape
    x3 = x.flatten(2).transpose(1, 2)                                   # b, hw, c
    mu = x3.mean(-1, keepdim=True)
    sigma = x3.var(-1, keepdim=True, unbiased=False)
    y = (x3 - mu) / torch.sqrt(sigma + 1e-5) * sd[name + ".body.weight"] + sd[name + ".body.bias"]
    return y.transpose(1, 2).reshape(b, c, h, w)


def channel_attention(x, sd, name):
    # Restormer's transposed attention (MDTA).
    b, c, h, w = x.shape
    temperature = sd[name + ".temperature"]
    heads = temperature.shape[0]
    qkv = F.conv2d(conv(x, sd[name + ".qkv.weight"]), sd[name + ".qkv_dwconv.weight"], padding=1, groups=3 * c)
    q, k, v = qkv.chunk(3, dim=1)
    q = F.normalize(q.reshape(b, heads, c // heads, h * w), dim=-1)
    k = F.normalize(k.reshape(b, heads, c // heads, h * w), dim=-1)
    v = v.reshape(b, heads, c // heads, h * w)
    attn = ((q @ k.transpose(-2, -1)) * temperature).softmax(dim=-1)
    out = (attn @ v).reshape(b, c, h, w)
    return conv(out, sd[name + ".project_out.weight"])


def ffn(x, sd, name):
    h = conv(x, sd[name + ".project_in.weight"])
    h = F.gelu(conv(h, sd[name + ".dwconv.weight"], padding=1))        # full 3x3 conv, not grouped
    return conv(h, sd[name + ".project_out.weight"])


def block(x, sd, name):
    x = x + channel_attention(layer_norm(x, sd, name + ".norm1"), sd, name + ".attn")
    return x + ffn(layer_norm(x, sd, name + ".norm2"), sd, name + ".ffn")


def level(x, sd, name):
    i = 0
    while f"{name}.{i}.norm1.body.weight" in sd:
        x = block(x, sd, f"{name}.{i}")
        i += 1
    return x


def encoder(x, sd, name):
    x = conv(x, sd[name + ".patch_embed.proj.weight"], padding=1)
    feats = []
    for k in range(4):
        if k > 0:
            down = ["down1_2", "down2_3", "down3_4"][k - 1]
            x = F.pixel_unshuffle(conv(x, sd[f"{name}.{down}.body.0.weight"], padding=1), 2)
        x = level(x, sd, f"{name}.encoder_level{k + 1}")
        feats.append(x)
    return feats


def fusion_embed(a, b, sd, k):
    return conv(torch.cat([a, b], dim=1), sd[f"feature_fusion_{k}.fusion_proj.weight"])


def guidance(x, t, sd, k):
    p = f"prompt_guidance_{k}.MLP."
    gb = F.linear(F.leaky_relu(F.linear(t, sd[p + "0.weight"], sd[p + "0.bias"]), 0.01), sd[p + "2.weight"], sd[p + "2.bias"])
    gamma, beta = gb.view(x.shape[0], -1, 1, 1).chunk(2, dim=1)
    return (1 + gamma) * x + beta


def tokens(x):
    b, c, h, w = x.shape
    return x.reshape(b, c, h * w).transpose(1, 2)                       # b, n, c


def image(t, like):
    return t.transpose(1, 2).reshape(like.shape)


def attend(q, k, v):
    return ((q @ k.transpose(-2, -1)) / q.shape[-1] ** 0.5).softmax(dim=-1) @ v


def textif(sd, vis, ir, text):
    ea, eb = encoder(vis, sd, "encoder_A"), encoder(ir, sd, "encoder_B")
    a4, b4 = ea[3], eb[3]
    # Cross attention: A' takes its queries from B, keys and values from A (and vice versa).
    p = "cross_attention."
    na = F.group_norm(a4, 16, sd[p + "norm_A.weight"], sd[p + "norm_A.bias"], 1e-5)
    nb = F.group_norm(b4, 16, sd[p + "norm_B.weight"], sd[p + "norm_B.bias"], 1e-5)
    qa, ka, va = (tokens(t) for t in conv(na, sd[p + "qkv_A.weight"]).chunk(3, dim=1))
    qb, kb, vb = (tokens(t) for t in conv(nb, sd[p + "qkv_B.weight"]).chunk(3, dim=1))
    a_ = conv(image(attend(qb, ka, va), a4), sd[p + "out_A.weight"], bias=sd[p + "out_A.bias"]) + na
    b_ = conv(image(attend(qa, kb, vb), b4), sd[p + "out_B.weight"], bias=sd[p + "out_B.bias"]) + nb
    x = fusion_embed(a_, b_, sd, 4)
    p = "attention_spatial."
    n = F.group_norm(x, 16, sd[p + "norm.weight"], sd[p + "norm.bias"], 1e-5)
    q, k, v = (tokens(t) for t in conv(n, sd[p + "qkv.weight"]).chunk(3, dim=1))
    x = conv(image(attend(q, k, v), x), sd[p + "out.weight"], bias=sd[p + "out.bias"]) + x
    x = level(guidance(x, text, sd, 4), sd, "decoder_level4")

    x = guidance(F.pixel_shuffle(conv(x, sd["up4_3.body.0.weight"], padding=1), 2), text, sd, 3)
    x = conv(torch.cat([x, fusion_embed(ea[2], eb[2], sd, 3)], dim=1), sd["reduce_chan_level3.weight"])
    x = level(x, sd, "decoder_level3")
    x = guidance(F.pixel_shuffle(conv(x, sd["up3_2.body.0.weight"], padding=1), 2), text, sd, 2)
    x = conv(torch.cat([x, fusion_embed(ea[1], eb[1], sd, 2)], dim=1), sd["reduce_chan_level2.weight"])
    x = level(x, sd, "decoder_level2")
    x = guidance(F.pixel_shuffle(conv(x, sd["up2_1.body.0.weight"], padding=1), 2), text, sd, 1)
    x = torch.cat([x, fusion_embed(ea[0], eb[0], sd, 1)], dim=1)
    x = level(level(x, sd, "decoder_level1"), sd, "refinement")
    return conv(x, sd["output.weight"], padding=1)


# --- CLIP text tower (OpenAI CLIP encode_text), for the golden check -----------------------------

def clip_encode_text(sd, ids):
    p = "model_clip."
    x = sd[p + "token_embedding.weight"][ids.long()] + sd[p + "positional_embedding"]
    n, t, width = x.shape
    heads = width // 64
    mask = torch.full((t, t), float("-inf")).triu(1)
    i = 0
    while f"{p}transformer.resblocks.{i}.ln_1.weight" in sd:
        r = f"{p}transformer.resblocks.{i}."
        h = F.layer_norm(x, (width,), sd[r + "ln_1.weight"], sd[r + "ln_1.bias"], 1e-5)
        q, k, v = F.linear(h, sd[r + "attn.in_proj_weight"], sd[r + "attn.in_proj_bias"]).chunk(3, dim=-1)
        q, k, v = (z.reshape(n, t, heads, width // heads).transpose(1, 2) for z in (q, k, v))
        a = (((q @ k.transpose(-2, -1)) / (width // heads) ** 0.5 + mask).softmax(dim=-1) @ v)
        a = a.transpose(1, 2).reshape(n, t, width)
        x = x + F.linear(a, sd[r + "attn.out_proj.weight"], sd[r + "attn.out_proj.bias"])
        h = F.layer_norm(x, (width,), sd[r + "ln_2.weight"], sd[r + "ln_2.bias"], 1e-5)
        h = F.linear(h, sd[r + "mlp.c_fc.weight"], sd[r + "mlp.c_fc.bias"])
        h = h * torch.sigmoid(1.702 * h)
        x = x + F.linear(h, sd[r + "mlp.c_proj.weight"], sd[r + "mlp.c_proj.bias"])
        i += 1
    x = F.layer_norm(x, (width,), sd[p + "ln_final.weight"], sd[p + "ln_final.bias"], 1e-5)
    return x[torch.arange(n), ids.long().argmax(dim=-1)] @ sd[p + "text_projection"]


# --- weights -------------------------------------------------------------------------------------

def random_weights(dim, seed=1, blocks=(2, 2, 2, 2), refinement=4, heads=(1, 2, 4, 8), text=512):
    """The released configuration's fusion tensors (no CLIP), random (scaled like PyTorch's init)."""
    g = torch.Generator().manual_seed(seed)
    sd = {}

    def t(name, *shape):
        fan_in = 1
        for s in shape[1:]:
            fan_in *= s
        sd[name] = (torch.rand(*shape, generator=g) * 2 - 1) / max(1, fan_in) ** 0.5

    def ones(name, n, value=1.0):
        sd[name] = torch.full((n,), value)

    def blk(name, c, nh):
        ones(name + ".norm1.body.weight", c); ones(name + ".norm1.body.bias", c, 0.0)
        sd[name + ".attn.temperature"] = torch.ones(nh, 1, 1)
        t(name + ".attn.qkv.weight", 3 * c, c, 1, 1)
        t(name + ".attn.qkv_dwconv.weight", 3 * c, 1, 3, 3)
        t(name + ".attn.project_out.weight", c, c, 1, 1)
        ones(name + ".norm2.body.weight", c); ones(name + ".norm2.body.bias", c, 0.0)
        t(name + ".ffn.project_in.weight", 2 * c, c, 1, 1)
        t(name + ".ffn.dwconv.weight", 2 * c, 2 * c, 3, 3)
        t(name + ".ffn.project_out.weight", c, 2 * c, 1, 1)

    ch = [dim, 2 * dim, 4 * dim, 8 * dim]
    for e in ("encoder_A", "encoder_B"):
        t(e + ".patch_embed.proj.weight", dim, 3, 3, 3)
        for k in range(4):
            for i in range(blocks[k]):
                blk(f"{e}.encoder_level{k + 1}.{i}", ch[k], heads[k])
        for k, down in enumerate(["down1_2", "down2_3", "down3_4"]):
            t(f"{e}.{down}.body.0.weight", ch[k] // 2, ch[k], 3, 3)
    c4 = ch[3]
    for s in ("A", "B"):
        ones(f"cross_attention.norm_{s}.weight", c4); ones(f"cross_attention.norm_{s}.bias", c4, 0.0)
        t(f"cross_attention.qkv_{s}.weight", 3 * c4, c4, 1, 1)
        t(f"cross_attention.out_{s}.weight", c4, c4, 1, 1); ones(f"cross_attention.out_{s}.bias", c4, 0.0)
    ones("attention_spatial.norm.weight", c4); ones("attention_spatial.norm.bias", c4, 0.0)
    t("attention_spatial.qkv.weight", 3 * c4, c4, 1, 1)
    t("attention_spatial.out.weight", c4, c4, 1, 1); ones("attention_spatial.out.bias", c4, 0.0)
    for k in range(4):
        t(f"feature_fusion_{k + 1}.fusion_proj.weight", ch[k], 2 * ch[k], 1, 1)
        t(f"prompt_guidance_{k + 1}.MLP.0.weight", 1024, text); ones(f"prompt_guidance_{k + 1}.MLP.0.bias", 1024, 0.0)
        t(f"prompt_guidance_{k + 1}.MLP.2.weight", 2 * ch[k], 1024); ones(f"prompt_guidance_{k + 1}.MLP.2.bias", 2 * ch[k], 0.0)
    for name, c, nb, nh in [("decoder_level4", c4, blocks[3], heads[3]), ("decoder_level3", ch[2], blocks[2], heads[2]),
                            ("decoder_level2", ch[1], blocks[1], heads[1]), ("decoder_level1", ch[1], blocks[0], heads[0]),
                            ("refinement", ch[1], refinement, heads[0])]:
        for i in range(nb):
            blk(f"{name}.{i}", c, nh)
    t("up4_3.body.0.weight", 2 * c4, c4, 3, 3)
    t("up3_2.body.0.weight", 2 * ch[2], ch[2], 3, 3)
    t("up2_1.body.0.weight", 2 * ch[1], ch[1], 3, 3)
    t("reduce_chan_level3.weight", ch[2], ch[3], 1, 1)
    t("reduce_chan_level2.weight", ch[1], ch[2], 1, 1)
    t("output.weight", 3, ch[1], 3, 3)
    return sd


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu", weights_only=False)
    sd = ck.get("model", ck) if isinstance(ck, dict) else ck
    return {k.removeprefix("module."): v.float() for k, v in sd.items() if torch.is_tensor(v)}


def main():
    shared = os.environ.get("FUSIONKIT_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dim", type=int, default=48, help="width of the random network timed (48: released)")
    ap.add_argument("--check", help="a textif golden case to verify against first (fp32, on --device)")
    ap.add_argument("--weights", default=os.path.join(shared, "golden", "textif_dim8.pth"), help="checkpoint for --check")
    tb.add_run_options(ap, size="480x640", repeat=5)
    args = ap.parse_args()
    device = tb.setup(args)
    with torch.no_grad():
        if args.check:
            sd = tb.moved(load_checkpoint(args.weights), device)
            case = {k: torch.from_numpy(v.copy()).to(device) for k, v in tb.read_safetensors(args.check).items()}
            # A case holds the prompt's tokens (encoded by the checkpoint's CLIP text tower) or,
            # as Tools/gpu-check packs it, the features that tower gives.
            text = case["text_features"] if "text_features" in case else clip_encode_text(sd, case["tokens"].long())
            out = textif(sd, case["vis"], case["ir"], text)
            tb.check_close(args.check, out.cpu().numpy(), case["output"].cpu().numpy())
        if args.repeat == 0:
            return
    h, w = tb.size(args)
    dt = tb.dtype(args)
    sd = tb.moved(random_weights(args.dim), device, dt)
    g = torch.Generator().manual_seed(2)
    vis, ir = torch.rand(1, 3, h, w, generator=g), torch.rand(1, 3, h, w, generator=g)
    text = torch.randn(1, 512, generator=g) * 0.1
    inputs = [sd] + [tb.moved(t, device, dt) for t in (vis, ir, text)]
    tb.emit(tb.time_network(textif, inputs, args, device), dim=args.dim)


if __name__ == "__main__":
    main()
