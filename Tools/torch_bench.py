"""What the PyTorch baseline scripts share (textfusion_torch.py, textif_torch.py, film_torch.py):
the options that say where and how the network runs, golden-case reading, and the timing loop.

Options (`add_run_options`): --size, --repeat, --warmup, --threads, --device cpu|cuda,
--dtype fp32|fp16, --compile (torch.compile, default mode; the first call's time is reported
apart as compile_s), --tf32 (CUDA: let cuDNN and cuBLAS use TF32 for fp32; off by default, so
fp32 means the strict fp32 the engine computes).

`time_network` prints nothing; `emit` prints the one JSON object every script prints:
{"median_s", "min_s", "max_s", "times_s", "size", "threads", "device", "device_name", "dtype",
"compiled", "compile_s", "peak_mem_mib", "torch", ...}. peak_mem_mib is the CUDA allocator's
peak on a GPU and the process's peak RSS on the CPU.
"""
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch


def add_run_options(ap, size, repeat):
    ap.add_argument("--size", default=size, help="HxW of the timed run")
    ap.add_argument("--repeat", type=int, default=repeat, help="timed runs (0: only --check)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (after compiling)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (or cuda:N)")
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32", help="weights and activations of the timed run")
    ap.add_argument("--compile", action="store_true", help="torch.compile the network before timing")
    ap.add_argument("--tf32", action="store_true", help="CUDA: allow TF32 in fp32 convolutions and GEMMs")


def setup(args):
    """Threads, the device (a clear exit when CUDA is asked for and absent) and the TF32 policy."""
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit(f"--device {args.device}: this PyTorch ({torch.__version__}) sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True
    return torch.device(args.device)


def dtype(args):
    return torch.float16 if args.dtype == "fp16" else torch.float32


def size(args):
    try:
        h, w = (int(s) for s in args.size.lower().split("x"))
        return h, w
    except ValueError:
        sys.exit(f"--size {args.size!r}: expected HxW, e.g. 480x640")


def moved(tensors, device, dt=torch.float32):
    """A dict (or one tensor) of tensors on `device`, floating ones in `dt`."""
    def one(t):
        t = t.to(device)
        return t.to(dt) if t.is_floating_point() else t
    if isinstance(tensors, dict):
        return {k: one(v) for k, v in tensors.items()}
    return one(tensors)


def read_safetensors(path):
    """A safetensors file as numpy arrays (no safetensors package needed)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    types = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        if v["dtype"] not in types:
            sys.exit(f"{path}: tensor {name} has dtype {v['dtype']}, which this reader does not handle")
        a, b = v["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=types[v["dtype"]]).reshape(v["shape"])
    return out


def safetensors_metadata(path):
    """A safetensors file's `__metadata__` (string to string)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def check_close(name, got, want, tolerance=1e-4):
    """Exit unless max |got - want| <= tolerance: the script must be the published network."""
    err = float(np.abs(np.asarray(got, dtype=np.float64) - np.asarray(want, dtype=np.float64)).max())
    print(f"check {os.path.basename(name)}: max |err| {err:.2e}", file=sys.stderr)
    if not err <= tolerance:
        sys.exit(f"check failed on {name}: max |err| {err} > {tolerance}")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_network(fn, inputs, args, device):
    """Times fn(*inputs) under no_grad: compile (if asked) and warm up, then --repeat runs."""
    compile_s = None
    if args.compile:
        fn = torch.compile(fn)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.no_grad():
        if args.compile:
            start = time.perf_counter()
            fn(*inputs)
            _sync(device)
            compile_s = time.perf_counter() - start
        for _ in range(args.warmup):
            fn(*inputs)
        _sync(device)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fn(*inputs)
            _sync(device)
            times.append(time.perf_counter() - start)
    times.sort()
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        name = torch.cuda.get_device_name(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        name = "cpu"
    return {"median_s": times[len(times) // 2] if times else None, "min_s": times[0] if times else None,
            "max_s": times[-1] if times else None, "times_s": times, "size": args.size, "threads": args.threads,
            "device": str(device), "device_name": name, "dtype": args.dtype, "compiled": args.compile,
            "compile_s": compile_s, "tf32": args.tf32, "peak_mem_mib": peak, "torch": torch.__version__}


def emit(result, **extra):
    result.update(extra)
    print(json.dumps(result))
