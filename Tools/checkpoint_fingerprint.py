#!/usr/bin/env python3
"""Fingerprints of the tensors in PyTorch checkpoints, computed without PyTorch.

An independent check of FusionKit's checkpoint reader: Python's own pickle module (with
stub classes in place of torch's) rebuilds each tensor from its zip storage with numpy,
and the script prints, per file, the tensor count and a SHA-256 over every tensor's
name, dtype, shape and row-major little-endian bytes, in state-dict order.
`Tests/FusionIOTests/TorchCheckpointTests.swift` holds the printed values.

Usage: Tools/checkpoint_fingerprint.py FILE...   (needs numpy, not torch)
"""
import hashlib
import pickle
import sys
import zipfile

import numpy as np

STORAGES = {
    "DoubleStorage": ("f64", np.float64), "FloatStorage": ("f32", np.float32),
    "HalfStorage": ("f16", np.float16), "BFloat16Storage": ("bf16", np.uint16),
    "LongStorage": ("i64", np.int64), "IntStorage": ("i32", np.int32),
    "ShortStorage": ("i16", np.int16), "CharStorage": ("i8", np.int8),
    "ByteStorage": ("u8", np.uint8), "BoolStorage": ("bool", np.uint8),
}


class Stub:
    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


class OrderedDict(dict):
    """Accepts the `_metadata` attribute state dicts carry."""


def load(path):
    z = zipfile.ZipFile(path)
    pkl = next(n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1)
    prefix = pkl[: -len("data.pkl")]

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch" and name in STORAGES:
                return STORAGES[name]
            if module == "collections" and name == "OrderedDict":
                return OrderedDict
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                def rebuild(storage, offset, size, stride, *rest):
                    dtype, data = storage
                    item = data.itemsize
                    view = np.lib.stride_tricks.as_strided(
                        data[offset:], shape=size, strides=[s * item for s in stride])
                    return (dtype, np.array(view, order="C"))  # keeps 0-d tensors 0-d
                return rebuild
            if module == "torch._utils" and name == "_rebuild_parameter":
                return lambda data, *rest: data
            return type(name, (Stub,), {"module": module})

        def persistent_load(self, pid):
            _, (dtype, np_type), key, _, numel = pid
            raw = z.read(prefix + "data/" + key)
            return (dtype, np.frombuffer(raw, dtype=np_type, count=numel))

    return Unpickler(z.open(pkl)).load()


def flatten(value, path, out):
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], np.ndarray):
        out.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, Stub) and type(value).module.startswith("__torch__"):
        flatten(getattr(value, "state", {}), path, out)
    return out


def fingerprint(path):
    tensors = flatten(load(path), "", [])
    h = hashlib.sha256()
    for name, (dtype, array) in tensors:
        h.update(f"{name}|{dtype}|{','.join(map(str, array.shape))}|".encode())
        h.update(array.astype(array.dtype.newbyteorder("<")).tobytes())
    return len(tensors), h.hexdigest()


if __name__ == "__main__":
    for p in sys.argv[1:]:
        n, h = fingerprint(p)
        print(f"{p}: {n} tensors, sha256 {h}")
