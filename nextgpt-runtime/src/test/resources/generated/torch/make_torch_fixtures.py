#!/usr/bin/env python3
"""Generates the small torch checkpoint fixtures used by TorchCheckpointFileTest (our own script).

Real torch.save files need torch (Debian's python3-torch 1.13: `/usr/bin/python3 make_torch_fixtures.py`);
the hostile/corrupt files are hand-written pickles zipped with the standard library.
Writes into the folder of this script. Each *.pt has an *.expected.json: flattened name -> dtype, shape, hex of the
contiguous little-endian bytes (what TensorStore.rawBytes must return), plus the non-tensor entries.
"""
import collections
import json
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPE_NAMES = {}


def tensor_bytes(t):
    import torch
    t = t.detach().contiguous().reshape(-1)
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return bytes(t.view(torch.uint8).tolist())


def expected(obj, prefix=""):
    import torch
    out, other = {}, {}

    def walk(p, v):
        if isinstance(v, torch.Tensor):
            out[p] = {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "hex": tensor_bytes(v).hex()}
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{p}.{k}" if p else str(k), x)
        elif isinstance(v, (list, tuple)) and any(isinstance(x, (torch.Tensor, dict, list, tuple)) for x in v):
            for i, x in enumerate(v):
                walk(f"{p}.{i}" if p else str(i), x)
        else:
            other[p] = v
    walk(prefix, obj)
    return {"tensors": out, "non_tensor_keys": sorted(other)}


def write_json(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def torch_fixtures():
    import torch
    DTYPE_NAMES.update({torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                        torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                        torch.uint8: "U8", torch.bool: "BOOL"})
    g = torch.Generator().manual_seed(1234)
    # 1. every storage dtype; fp16/bf16 values chosen to be exact in both (so float32 values are known)
    vals = torch.tensor([[0.5, -1.25, 3.0], [1024.0, -0.0078125, 0.0]])
    dtypes = collections.OrderedDict()
    dtypes["f32"] = torch.randn(2, 3, generator=g)
    dtypes["f16"] = vals.half()
    dtypes["bf16"] = vals.bfloat16()
    dtypes["f64"] = torch.randn(3, generator=g).double()
    dtypes["i64"] = torch.tensor([-(2 ** 40), 7, 2 ** 62])
    dtypes["i32"] = torch.tensor([-5, 0, 2 ** 30], dtype=torch.int32)
    dtypes["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    dtypes["i8"] = torch.tensor([-128, 127, 3], dtype=torch.int8)
    dtypes["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    dtypes["bool"] = torch.tensor([True, False, True])
    dtypes["scalar"] = torch.tensor(3.5)
    dtypes["empty"] = torch.zeros(0, 4)
    torch.save(dtypes, os.path.join(HERE, "dtypes.pt"))
    e = expected(dtypes)
    e["float_values"] = {k: v.float().reshape(-1).tolist() for k, v in dtypes.items() if v.is_floating_point()}
    write_json("dtypes.expected.json", e)

    # 2. views, shared storages, parameters, nesting and non-tensor values (a training checkpoint)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    half_base = (torch.arange(12, dtype=torch.float32) / 4).reshape(3, 4).to(torch.bfloat16)
    w = torch.nn.Parameter(torch.randn(3, 2, generator=g))
    model = collections.OrderedDict()
    model["base"] = base
    model["transposed"] = base.t()
    model["row"] = base[1]
    model["col"] = base[:, 2]
    model["block"] = base[1:3, 2:5]
    model["stepped"] = base[::2, ::3]
    model["expanded"] = torch.arange(3, dtype=torch.float32)[None, :].expand(4, 3)
    model["bf16_t"] = half_base.t()
    model["long_view"] = torch.arange(10)[3:8]
    model["tied_a"] = w
    model["tied_b"] = w
    model["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    ckpt = {"model": model, "step": 100, "epoch": 3, "name": "tiny", "lr": 1e-3, "flags": [1, 2],
            "optimizer": {"state": {0: {"exp_avg": torch.ones(2) * 0.25}},
                          "param_groups": [{"lr": 0.1, "params": [0]}]},
            "layers": [torch.full((2,), 7.0), torch.full((1,), 8.0)]}
    torch.save(ckpt, os.path.join(HERE, "views.pt"))
    write_json("views.expected.json", expected(ckpt))
    # the same object in the legacy (non-zip) format of torch < 1.6
    torch.save(ckpt, os.path.join(HERE, "views_legacy.pt"), _use_new_zipfile_serialization=False)
    # pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL)
    torch.save(ckpt, os.path.join(HERE, "views_protocol4.pt"), pickle_protocol=4)
    # and re-zipped with DEFLATE (torch itself writes STORED records)
    with zipfile.ZipFile(os.path.join(HERE, "views.pt")) as src, \
            zipfile.ZipFile(os.path.join(HERE, "views_deflated.pt"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    # 3. a sharded HF-style pytorch_model-0000x-of-00002.bin set and the same tensors as one file
    full = collections.OrderedDict()
    full["model.embed.weight"] = torch.randn(5, 4, generator=g)
    full["model.layers.0.weight"] = torch.randn(4, 4, generator=g)
    full["model.layers.0.bias"] = torch.randn(4, generator=g).half()
    full["model.layers.1.weight"] = torch.randn(4, 4, generator=g).bfloat16()
    full["model.norm.weight"] = torch.ones(4)
    full["lm_head.weight"] = torch.randn(5, 4, generator=g)
    os.makedirs(os.path.join(HERE, "sharded"), exist_ok=True)
    torch.save(full, os.path.join(HERE, "sharded", "single.bin"))
    keys = list(full)
    shards = [keys[:3], keys[3:]]
    weight_map = {}
    for i, ks in enumerate(shards):
        fname = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save(collections.OrderedDict((k, full[k]) for k in ks), os.path.join(HERE, "sharded", fname))
        weight_map.update({k: fname for k in ks})
    total = sum(v.numel() * v.element_size() for v in full.values())
    with open(os.path.join(HERE, "sharded", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# ---- hand-written pickles (stdlib only) -------------------------------------------------------------------------

def s(text):
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def i(v):
    return b"J" + struct.pack("<i", v)


def tup(items):
    return b"(" + b"".join(items) + b"t"


def tensor(storage_type, key, numel, offset, shape, stride):
    return (b"ctorch._utils\n_rebuild_tensor_v2\n" + b"(" +
            tup([s("storage"), b"ctorch\n" + storage_type.encode() + b"\n", s(key), s("cpu"), i(numel)]) + b"Q" +
            i(offset) + tup([i(x) for x in shape]) + tup([i(x) for x in stride]) + b"\x89" +
            b"ccollections\nOrderedDict\n)R" + b"tR")


def state_dict(entries):
    return b"\x80\x02}(" + b"".join(s(k) + v for k, v in entries) + b"u."


def write_zip(name, pickle_bytes, records):
    with zipfile.ZipFile(os.path.join(HERE, name), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        for k, data in records.items():
            z.writestr("archive/data/" + k, data)
        z.writestr("archive/version", "3\n")


def zip64_copy(src_name, dst_name, extra_records=None):
    """Rewrites a torch zip with zip64 central directory entries and end records (as torch writes for files over
    4 GiB) and 64-byte aligned STORED data (torch's "FB" padding extra field)."""
    import zlib
    with zipfile.ZipFile(os.path.join(HERE, src_name)) as z:
        records = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    records += list((extra_records or {}).items())
    out = bytearray()
    central = bytearray()
    for name, data in records:
        nb = name.encode()
        offset = len(out)
        pad = (64 - (offset + 30 + len(nb) + 4) % 64) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, crc, len(data), len(data), len(nb),
                           len(extra)) + nb + extra
        out += data
        z64 = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(z64), 0, 0, 0, 0, 0xFFFFFFFF) + nb + z64
    cd_offset = len(out)
    out += central
    z64_eocd = len(out)
    n = len(records)
    out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064b50, 0, z64_eocd, 1)
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(os.path.join(HERE, dst_name), "wb") as f:
        f.write(out)


def hostile_fixtures():
    floats = struct.pack("<8f", *range(8))
    # a pickle that calls os.system: must be refused before anything runs
    evil = b"\x80\x02cos\nsystem\n" + s("echo pwned") + b"\x85R."
    write_zip("hostile_os_system.pt", evil, {})
    # the same hidden inside a state dict value, via STACK_GLOBAL and builtins.eval
    evil2 = (b"\x80\x02}(" + s("w") + tensor("FloatStorage", "0", 8, 0, [8], [1]) + s("x") +
             b"\x8c\x08builtins\x8c\x04eval\x93" + s("1+1") + b"\x85R" + b"u.")
    write_zip("hostile_eval.pt", evil2, {"0": floats})
    # a list that contains itself, as a value and as a dict key
    cyclic = b"]q\x00h\x00a"
    write_zip("hostile_cycle.pt", b"\x80\x02}(" + s("a") + cyclic + b"u.", {})
    write_zip("hostile_cycle_key.pt", b"\x80\x02}(" + cyclic + b"K\x01u.", {})
    # a view larger than its storage: shape [4, 4] on 8 floats
    write_zip("bad_shape.pt", state_dict([("w", tensor("FloatStorage", "0", 8, 0, [4, 4], [4, 1]))]), {"0": floats})
    # the pickle says 16 elements, the record holds 8
    write_zip("bad_storage_size.pt", state_dict([("w", tensor("FloatStorage", "0", 16, 0, [16], [1]))]),
              {"0": floats})
    # a storage record that is missing
    write_zip("missing_record.pt", state_dict([("w", tensor("FloatStorage", "7", 8, 0, [8], [1]))]), {"0": floats})
    # _rebuild_tensor_v3 on an untyped (byte) storage, as a dtype global gives the element type: a bf16 [2, 2]
    # view at element offset 1 of 16 bytes holding bf16 values 0..7
    bf16 = b"".join(struct.pack("<H", struct.unpack("<I", struct.pack("<f", float(v)))[0] >> 16) for v in range(8))
    v3 = (b"\x80\x02}(" + s("w") + b"ctorch._utils\n_rebuild_tensor_v3\n(" +
          tup([s("storage"), b"ctorch\nUntypedStorage\n", s("0"), s("cpu"), i(16)]) + b"Q" + i(1) +
          tup([i(2), i(2)]) + tup([i(2), i(1)]) + b"\x89" + b"ccollections\nOrderedDict\n)R" +
          b"ctorch\nbfloat16\n" + b"N" + b"tR" + b"u.")
    write_zip("handwritten_v3.pt", v3, {"0": bf16})
    # a valid hand-written file (checks the hand-written pickles are otherwise right)
    write_zip("handwritten_ok.pt", state_dict([("w", tensor("FloatStorage", "0", 8, 2, [2, 3], [1, 2]))]),
              {"0": floats})


if __name__ == "__main__":
    hostile_fixtures()
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not available: only the hand-written fixtures were written")
    else:
        torch_fixtures()
        zip64_copy("views.pt", "views_zip64.pt")
        # torch >= 2 writes a byteorder record; a big-endian one must be refused
        zip64_copy("views.pt", "views_bigendian.pt", {"views/byteorder": b"big"})
