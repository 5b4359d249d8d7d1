#!/usr/bin/env python3
"""The GPU check's sequence (run by Tools/gpu-check): every step on one device, in one run.

Steps, each with its own time limit inside one overall budget (a step that would start past
the budget is recorded as skipped, never silently dropped):
  devices                 `fusion devices`
  parity-ops              `fusion parity --ops` with both kernel sets (tiled, direct) in fp32 and fp16
  parity-model            `fusion parity --model M --summary` for every model, fp32 and fp16
  tune                    `fusion tune --model M --size S` for every model (when the binary has it)
  peak                    `fusion bench --peak`
  ops                     `fusion bench --op all` in fp32 and fp16
  models                  `fusion bench --model all` in fp32 and fp16
  dataset                 `fusion fuse` over a folder of generated pairs: pairs/s per model, fp32 and fp16
  torch                   the original networks in PyTorch (Tools/*_torch.py, each first reproducing a
                          golden case): eager and torch.compile, fp32 and fp16, on the same device
Writes OUT/gpu-check.json (every step's command, status, seconds and parsed result) and
OUT/gpu-check.md (the tables), and exits 1 if a correctness step (parity, a golden check)
failed. Python's standard library only; PyTorch only for the torch step (skipped with a
message when the interpreter lacks it, as on CI's lavapipe run).

    Tools/gpu_check.py --fusion BIN --data DIR --out DIR [--size 480x640] [--parity-size 64x96]
        [--pairs 16] [--backend vulkan] [--python PY] [--torch-device cuda] [--budget-s 540] [--local]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

# The image-fusion models the PyTorch scripts (Tools/<model>_torch.py) and the dataset step cover.
IMAGE_MODELS = ["textfusion", "textif", "film"]
HERE = os.path.dirname(os.path.abspath(__file__))


# --- steps ---------------------------------------------------------------------------------

class Sequence:
    """Runs commands with time limits inside one budget and records each as a step."""

    def __init__(self, args):
        self.args = args
        self.start = time.monotonic()
        self.steps = []
        self.failed = []

    def left(self):
        return self.args.budget_s - (time.monotonic() - self.start)

    def run(self, group, name, argv, limit, env=None, correctness=False, parse=None):
        step = {"group": group, "name": name, "command": " ".join(argv)}
        self.steps.append(step)
        limit = min(limit, self.left())
        if limit < 5:
            step.update(status="skipped", why="over the run's time budget")
            print(f"[gpu-check] {group}/{name}: skipped (time budget spent)", flush=True)
            return None
        print(f"[gpu-check] {group}/{name}: {step['command']}", flush=True)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=limit,
                               env={**os.environ, **(env or {})})
            status = "ok" if p.returncode == 0 else f"exit {p.returncode}"
            out, err = p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            status = f"timed out after {limit:.0f} s"
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        except OSError as e:
            status, out, err = f"could not start: {e}", "", ""
        # Validation-layer messages (FUSIONKIT_VALIDATION=1) fail the step, and go to this log,
        # where CI looks for them.
        validation = [line for line in err.splitlines() if "[vulkan validation]" in line]
        if validation:
            print("\n".join(validation[:20]), flush=True)
            if status == "ok":
                status = f"{len(validation)} validation messages"
        step.update(status=status, seconds=round(time.monotonic() - t0, 2), stderr_tail=err[-2000:])
        if parse is not None and status == "ok":
            try:
                step["result"] = parse(out)
            except (ValueError, KeyError, IndexError) as e:
                step.update(status=f"unreadable output: {e}", stdout_tail=out[-2000:])
        else:
            step["stdout_tail"] = out[-4000:]
        if status != "ok" or step["status"] != "ok":
            print(f"[gpu-check] {group}/{name}: {step['status']}\n{err[-1500:]}", flush=True)
            # A wrong result always fails the check; in the CI form (--local) so does any step
            # that breaks (a crash, an error exit), only a slow one does not.
            if correctness or (self.args.local and not status.startswith("timed out")):
                self.failed.append(f"{group}/{name}")
        return step.get("result")


def catalogue_models(fusion):
    """The binary's model catalogue, as `fusion bench --help` lists it ("Models: a, b, c (or all).")."""
    text = subprocess.run([fusion, "bench", "--help"], capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    i = flat.find("Models: ")
    if i < 0:
        sys.exit(f"gpu_check.py: `{fusion} bench --help` lists no models")
    return [m.strip(" .") for m in flat[i + len("Models: "):].split("(or all)")[0].split(",") if m.strip(" .")]


def last_json(text):
    """The last JSON object a command printed (some print a line of text before it)."""
    i = text.find("{")
    return json.loads(text[i:]) if i >= 0 else json.loads(text)


# --- generated dataset ---------------------------------------------------------------------

def write_png(path, width, height, channels, seed):
    """A smooth random-looking 8-bit image (no dependency: zlib + struct)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            for c in range(channels):
                row.append((x * (3 + c) + y * (5 + seed) + ((x * y + seed * 97 + c * 31) % 53)) & 255)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 6)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    colour = {1: 0, 3: 2}[channels]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
                + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def make_dataset(root, pairs, height, width):
    ir, vis = os.path.join(root, "ir"), os.path.join(root, "vis")
    os.makedirs(ir), os.makedirs(vis)
    for i in range(pairs):
        write_png(os.path.join(ir, f"{i:04d}.png"), width, height, 1, i)
        write_png(os.path.join(vis, f"{i:04d}.png"), width, height, 3, i + 1000)
    return ir, vis


# --- the sequence ----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fusion", required=True, help="the fusion binary")
    ap.add_argument("--data", required=True, help="test data root (golden/, weights/), as FUSIONKIT_TEST_DATA")
    ap.add_argument("--out", required=True, help="folder for gpu-check.json and gpu-check.md")
    ap.add_argument("--size", default="480x640", help="HxW of benchmarks, tuning and the dataset")
    ap.add_argument("--parity-size", default="64x96", help="HxW of parity --model")
    ap.add_argument("--pairs", type=int, default=16, help="pairs in the generated dataset")
    ap.add_argument("--repeat", type=int, default=10, help="timed runs per benchmark")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs before each benchmark")
    ap.add_argument("--backend", default="vulkan")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch for the PyTorch side")
    ap.add_argument("--torch-device", default="cuda")
    ap.add_argument("--budget-s", type=float, default=540, help="the whole sequence's time budget")
    ap.add_argument("--local", action="store_true", help="CI form: lavapipe, small sizes, few repeats")
    args = ap.parse_args()
    for path, what in ((args.fusion, "--fusion"), (args.data, "--data")):
        if not os.path.exists(path):
            sys.exit(f"gpu_check.py: {what} {path} does not exist")
    os.makedirs(args.out, exist_ok=True)
    h, w = (int(v) for v in args.size.lower().split("x"))
    f, data, size, psize = args.fusion, args.data, args.size, args.parity_size
    env = {"FUSIONKIT_TEST_DATA": data}
    seq = Sequence(args)
    models = catalogue_models(f)
    results = {"models": models, "size": size, "parity_size": psize, "local": args.local, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}

    seq.run("devices", "devices", [f, "devices"], 60, env, parse=lambda out: out.strip())
    precisions = ["fp32", "fp16"]
    for kernels in ("tiled", "direct"):
        for p in precisions:
            seq.run("parity-ops", f"{kernels}-{p}", [f, "parity", "--ops", "--precision", p], 240 if args.local else 120,
                    {**env, "FUSIONKIT_KERNELS": kernels}, correctness=True, parse=lambda out: out.strip()[-3000:])
    for m in models:
        for p in precisions:
            seq.run("parity-model", f"{m}-{p}", [f, "parity", "--model", m, "--size", psize, "--precision", p,
                                                 "--summary", "--json"], 180 if args.local else 90, env,
                    correctness=True, parse=last_json)
    tune_help = subprocess.run([f, "tune", "--help"], capture_output=True, text=True)
    has_tune = tune_help.returncode == 0 and "fusion tune" in tune_help.stdout
    # On lavapipe a tuning run of Text-IF or IF-FILM takes minutes: the local form tunes TextFusion.
    for m in (IMAGE_MODELS[:1] if args.local else IMAGE_MODELS) if has_tune else []:
        for p in precisions:
            seq.run("tune", f"{m}-{p}", [f, "tune", "--model", m, "--size", size, "--precision", p, "--json"],
                    120, env, parse=last_json)
    if not has_tune:
        seq.steps.append({"group": "tune", "name": "tune", "status": "skipped", "why": "this binary has no `fusion tune`"})
    peak = seq.run("peak", "peak", [f, "bench", "--peak", "--backend", args.backend, "--json"], 120, env, parse=last_json)
    results["peak"] = peak
    bench = ["--backend", args.backend, "--size", size, "--json", "--no-peak", "--repeat", str(args.repeat),
             "--warmup", str(args.warmup)]
    for p in precisions:
        seq.run("ops", p, [f, "bench", "--op", "all", "--precision", p] + bench, 150, env, parse=last_json)
    for m in models:
        for p in precisions:
            seq.run("models", f"{m}-{p}", [f, "bench", "--model", m, "--precision", p] + bench, 240, env, parse=last_json)

    work = tempfile.mkdtemp(prefix="gpu-check-")
    try:
        ir, vis = make_dataset(work, args.pairs, h, w)
        features = os.path.join(data, "golden", "textfusion_64x64.safetensors")
        film_features = os.path.join(data, "golden", "film_64x80.safetensors")
        rfc_files = [os.path.join(data, "golden", n) for n in ("rfc_model.pth", "clipseg_rd64_tiny.pth", "clip_vitb16_tiny.pt")]
        model_args = {"textfusion": ["--text-features", features],
                      "textif": ["--random-weights", "1", "--text-features", features],
                      "film": ["--random-weights", "1", "--text-features", film_features],
                      "rfc": ["--weights", rfc_files[0], "--clipseg", rfc_files[1], "--clip", rfc_files[2],
                              "--text", "enhance the light of the car"]}
        for m in IMAGE_MODELS + (["rfc"] if all(map(os.path.exists, rfc_files)) else []):
            for p in precisions:
                out = os.path.join(work, f"out-{m}-{p}")
                seq.run("dataset", f"{m}-{p}", [f, "fuse", "--model", m, *model_args[m], "--ir", ir, "--vis", vis,
                                                "-o", out, "--backend", args.backend, "--precision", p, "--json"],
                        180, env, parse=last_json)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    has_torch = subprocess.run([args.python, "-c", "import torch, numpy"], capture_output=True).returncode == 0
    if not has_torch:
        seq.steps.append({"group": "torch", "name": "torch", "status": "skipped",
                          "why": f"{args.python} has no torch: PyTorch rows missing"})
        print(f"[gpu-check] torch: skipped ({args.python} has no torch)", flush=True)
    else:
        golden = os.path.join(data, "golden")
        checks = {"textfusion": ["--check", os.path.join(golden, "textfusion_64x64.safetensors")],
                  "textif": ["--check", os.path.join(golden, "textif_check.safetensors"),
                             "--weights", os.path.join(golden, "textif_check.pth")]
                  if os.path.exists(os.path.join(golden, "textif_check.pth")) else
                  ["--check", os.path.join(golden, "textif_dim8_32x48.safetensors"),
                   "--weights", os.path.join(golden, "textif_dim8.pth")],
                  "film": ["--check", os.path.join(golden, "film_64x80.safetensors"),
                           "--weights", os.path.join(golden, "film.pth")]}
        rfc_case = os.path.join(golden, "rfc_64x80_enhance_the_light_of_the_car.safetensors")
        if os.path.exists(rfc_case):
            checks["rfc"] = ["--check", rfc_case]
        else:
            seq.steps.append({"group": "torch", "name": "rfc", "status": "skipped",
                              "why": "RFC's golden files are not in this data (they do not fit a device call's carry)"})
        device = "cpu" if args.local else args.torch_device
        for m in checks:
            script = os.path.join(HERE, f"{m}_torch.py")
            seq.run("torch", f"{m}-check", [args.python, script, "--device", device, "--repeat", "0", *checks[m]],
                    120, env, correctness=True)
            for compiled in (False, True):
                for p in precisions:
                    if args.local and (compiled or p == "fp16"):
                        continue  # CI: eager fp32 on the CPU proves the wiring; the rest is GPU work
                    if m == "rfc" and p == "fp16":
                        continue  # the original runs RFC in fp32 only
                    name = f"{m}-{'compile' if compiled else 'eager'}-{p}"
                    seq.run("torch", name, [args.python, script, "--device", device, "--size", size, "--dtype", p,
                                            "--repeat", str(args.repeat if not args.local else 1)]
                            + (["--compile"] if compiled else []) + (["--released-shapes"] if m == "rfc" else []),
                            240, env, parse=last_json)

    results["steps"] = seq.steps
    results["failed"] = seq.failed
    results["seconds"] = round(time.monotonic() - seq.start, 1)
    with open(os.path.join(args.out, "gpu-check.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    markdown = report(results)
    with open(os.path.join(args.out, "gpu-check.md"), "w") as fh:
        fh.write(markdown)
    print(markdown)
    if seq.failed:
        print(f"[gpu-check] FAILED: {', '.join(seq.failed)}", file=sys.stderr)
        sys.exit(1)


# --- the report -------------------------------------------------------------------------------

def step(results, group, name):
    for s in results["steps"]:
        if s["group"] == group and s["name"] == name:
            return s
    return None


def roofline_share(row, peak):
    """Share of the roofline bound: max(FLOP / peak FLOP/s, bytes / peak bandwidth) / time."""
    if not row or not peak.get("gflops") or not peak.get("gbps"):
        return None
    return max(row.get("gflops", 0) / peak["gflops"], row.get("gbps", 0) / peak["gbps"])


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def report(results):
    size = results["size"]
    lines = [f"# GPU check ({results['started']}, {results['seconds']} s{', local form' if results['local'] else ''})", ""]
    peak = results.get("peak") or {}
    dev = (peak.get("device") or {})
    if dev:
        pk = dev.get("peak") or {}
        lines += [f"Device: {dev.get('name')}; measured peak {fmt(pk.get('gflops', 0) / 1000)} TFLOP/s fp32, "
                  f"{fmt(pk.get('gbps'), 0)} GB/s.", ""]
    lines += ["## Steps", "", "| step | status | s |", "|---|---|---|"]
    for s in results["steps"]:
        lines.append(f"| {s['group']}/{s['name']} | {s['status']}{' (' + s['why'] + ')' if 'why' in s else ''} "
                     f"| {s.get('seconds', '-')} |")
    pk = dev.get("peak") or {}
    lines += ["", f"## Models at {size} (ms per pair; pairs/s from the dataset run)", "",
              "| model | precision | FusionKit ms | TFLOP/s | roofline share | GB moved | dataset pairs/s "
              "| PyTorch eager ms | PyTorch compile ms | eager / FusionKit |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in results["models"]:
        for p in ("fp32", "fp16"):
            bench = step(results, "models", f"{m}-{p}")
            rows = ((bench or {}).get("result") or {}).get("results", [])
            row = rows[0] if rows else None
            ds = ((step(results, "dataset", f"{m}-{p}") or {}).get("result") or {})
            eager = ((step(results, "torch", f"{m}-eager-{p}") or {}).get("result") or {}).get("median_s")
            comp = ((step(results, "torch", f"{m}-compile-{p}") or {}).get("result") or {}).get("median_s")
            if row is None and not ds and eager is None:
                continue
            ms = row.get("median_ms") if row else None
            tflops = row.get("gflops", 0) / 1000 if row else None
            share = roofline_share(row, pk)
            ratio = (eager * 1000 / ms) if eager and ms else None
            lines.append(f"| {m} | {p} | {fmt(ms)} | {fmt(tflops, 3)} | {fmt(share * 100 if share is not None else None, 1)}% "
                         f"| {fmt(row.get('gbytes') if row else None, 3)} | {fmt(ds.get('pairs_per_second'))} "
                         f"| {fmt(eager * 1000 if eager else None)} | {fmt(comp * 1000 if comp else None)} | {fmt(ratio)}x |")
    lines += ["", f"## Ops at {size}", "", "| op | precision | ms | GFLOP/s | GB/s | roofline share |", "|---|---|---|---|---|---|"]
    for p in ("fp32", "fp16"):
        for r in (((step(results, "ops", p) or {}).get("result") or {}).get("results", [])):
            lines.append(f"| {r.get('name')} | {p} | {fmt(r.get('median_ms'), 3)} | {fmt(r.get('gflops'), 1)} "
                         f"| {fmt(r.get('gbps'), 1)} | {fmt((roofline_share(r, pk) or 0) * 100, 1)}% |")
    if results["failed"]:
        lines += ["", "FAILED: " + ", ".join(results["failed"])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
