#!/usr/bin/env python3
"""Writes a small seed corpus for checkpoint_fuzzer: valid safetensors, .npy (C and Fortran
order, versions 1-3) and PyTorch zip / TorchScript-layout checkpoints, built byte by byte
(no numpy or torch needed)."""
import io, json, os, struct, sys, zipfile

out = sys.argv[1] if len(sys.argv) > 1 else "corpus"
os.makedirs(out, exist_ok=True)

def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

# safetensors
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data

write("st_f32.safetensors", safetensors([("w", "F32", [2, 3], struct.pack("<6f", *range(6)))]))
write("st_mixed.safetensors", safetensors([
    ("a", "F16", [2], struct.pack("<2H", 0x3C00, 0x4000)), ("b", "BF16", [1, 2], struct.pack("<2H", 0x3F80, 0xC000)),
    ("c", "I64", [2], struct.pack("<2q", -1, 1 << 40)), ("d", "BOOL", [3], b"\x00\x01\x01"), ("e", "U8", [0, 4], b""),
    ("f", "F64", [], struct.pack("<d", 2.5))], {"format": "pt"}))
write("st_empty.safetensors", safetensors([]))

# .npy
def npy(descr, shape, raw, fortran=False, version=1):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False",
                                                                  "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")")
    prefix = 10 if version == 1 else 12
    d += " " * ((64 - (prefix + len(d) + 1) % 64) % 64) + "\n"
    head = b"\x93NUMPY" + bytes([version, 0]) + (struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d)))
    return head + d.encode() + raw

write("a_c.npy", npy("<f4", [2, 3], struct.pack("<6f", *range(6))))
write("a_f.npy", npy("<f4", [2, 3], struct.pack("<6f", *range(6)), fortran=True))
write("a_v2.npy", npy("<i8", [3], struct.pack("<3q", 1, 2, 3), version=2))
write("a_v3.npy", npy("|u1", [2, 2], b"\x01\x02\x03\x04", version=3))
write("a_scalar.npy", npy("<f2", [], struct.pack("<H", 0x3C00)))

# PyTorch zip: a pickle in torch.save's shape (protocol 2), storages in data/<key>
class P:
    def __init__(self): self.b = bytearray(b"\x80\x02")
    def op(self, *c): self.b += bytes(c)
    def s(self, t): t = t.encode(); self.b += b"X" + struct.pack("<I", len(t)) + t
    def i(self, v):
        if 0 <= v < 256: self.b += b"K" + bytes([v])
        else: self.b += b"J" + struct.pack("<i", v)
    def g(self, m, n): self.b += b"c" + f"{m}\n{n}\n".encode()
    def odict(self): self.g("collections", "OrderedDict"); self.op(0x29, 0x52)
    def tensor(self, key, typ, numel, offset, shape, stride, param=False):
        if param: self.g("torch._utils", "_rebuild_parameter")
        self.g("torch._utils", "_rebuild_tensor_v2")
        self.op(0x28)
        self.op(0x28); self.s("storage"); self.g("torch", typ); self.s(key); self.s("cpu"); self.i(numel); self.op(0x74)
        self.op(0x51); self.i(offset)
        self.op(0x28); [self.i(x) for x in shape]; self.op(0x74)
        self.op(0x28); [self.i(x) for x in stride]; self.op(0x74)
        self.op(0x89); self.odict(); self.op(0x74, 0x52)
        if param: self.op(0x88); self.odict(); self.op(0x87, 0x52)

def torch_zip(pickle, storages, extra=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", bytes(pickle))
        for k, v in storages: z.writestr(f"archive/data/{k}", v)
        for k, v in extra: z.writestr(f"archive/{k}", v)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()

p = P()
p.op(0x7D); p.op(0x28)
p.s("model"); p.odict(); p.op(0x28)
p.s("a"); p.tensor("0", "FloatStorage", 6, 0, [2, 3], [3, 1], param=True)
p.s("b"); p.tensor("0", "FloatStorage", 6, 1, [2, 2], [1, 3])
p.s("c"); p.tensor("1", "HalfStorage", 4, 0, [4], [1])
p.s("z"); p.tensor("2", "LongStorage", 1, 0, [3, 3], [0, 0])
p.op(0x75); p.op(0x75); p.op(0x2E)
storages = [("0", struct.pack("<6f", *range(6))), ("1", struct.pack("<4H", 0x3C00, 0x4000, 0x4200, 0x4400)), ("2", struct.pack("<q", 7))]
write("torch_nested.pth", torch_zip(p.b, storages))
write("torch_script.pt", torch_zip(p.b, storages, [("constants.pkl", b"\x80\x02)."), ("byteorder", b"little")]))

q = P()
q.op(0x7D); q.op(0x28)
q.s("module.w"); q.tensor("0", "BFloat16Storage", 2, 0, [2], [1])
q.s("optimizer"); q.op(0x7D)
q.s("list"); q.op(0x28); q.op(0x5D); q.op(0x5D); q.op(0x61); q.op(0x6C)
q.op(0x75); q.op(0x2E)
write("torch_misc.pth", torch_zip(q.b, [("0", struct.pack("<2H", 0x3F80, 0x4000))]))

# Bare pickles for the harness's pickle mode (first byte 0xF7; second byte odd: TorchScript
# layout); the harness adds storages "0".."3" of 64 bytes each.
write("pkl_nested.bin", b"\xf7\x00" + bytes(p.b))
write("pkl_script.bin", b"\xf7\x01" + bytes(p.b))
write("pkl_misc.bin", b"\xf7\x00" + bytes(q.b))
r = P()
r.op(0x7D); r.op(0x94); r.op(0x28)  # EMPTY_DICT MEMOIZE MARK
r.s("t"); r.op(0x28); r.i(1); r.i(-5); r.op(0x47); r.b += struct.pack(">d", 1.5); r.op(0x74)  # tuple
r.s("s"); r.op(0x8F); r.op(0x28); r.i(3); r.i(4); r.op(0x90)  # set
r.s("l"); r.op(0x5D); r.op(0x28); r.s("x"); r.op(0x4E); r.op(0x88); r.op(0x65)  # list APPENDS
r.s("m"); r.op(0x68, 0)  # memo get (the dict itself)
r.s("o"); r.g("mymod", "Thing"); r.op(0x29, 0x81); r.op(0x7D); r.s("w"); r.tensor("3", "FloatStorage", 16, 0, [4, 4], [4, 1]); r.op(0x73, 0x62)
r.s("big"); r.op(0x8A, 9); r.b += b"\x01" * 9
r.op(0x75); r.op(0x2E)
write("pkl_features.bin", b"\xf7\x00" + bytes(r.b))
print(f"wrote {len(os.listdir(out))} seeds to {out}")
