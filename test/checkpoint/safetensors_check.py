#!/usr/bin/env python3
"""An independent reader of the safetensors format (huggingface/safetensors README), stdlib only.

Usage: safetensors_check.py FILE
Validates FILE against the specification and prints one JSON object on stdout:
{"metadata": {...}, "tensors": {name: {"dtype", "shape", "values"}}}, or exits 1 with the reason on
stderr. Written from the specification alone, to check the TypeScript writer's bytes.
"""
import json
import struct
import sys

BITS = {"BOOL": 8, "U8": 8, "I8": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
        "F32": 32, "F64": 64, "I64": 64, "U64": 64}
UNPACK = {"BOOL": "?", "U8": "B", "I8": "b", "I16": "h", "U16": "H", "I32": "i", "U32": "I", "F32": "f",
          "F64": "d", "I64": "q", "U64": "Q"}
# The reference writer's order: descending alignment, then name.
ORDER = ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]


def fail(why):
    sys.stderr.write(why + "\n")
    sys.exit(1)


def no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            fail("duplicate key %r" % k)
        out[k] = v
    return out


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        fail("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000 or 8 + n > len(data):
        fail("bad header length %d" % n)
    raw = data[8:8 + n]
    if raw[:1] != b"{":
        fail("header does not start with {")
    if n % 8 != 0:
        fail("header not padded to a multiple of 8 (the reference writer pads)")
    text = raw.decode("utf-8")
    body = text.rstrip(" ")
    if json.loads(body, object_pairs_hook=no_duplicates) is None:
        fail("empty header")
    header = json.loads(body, object_pairs_hook=no_duplicates)
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        fail("__metadata__ must map strings to strings")
    buf = data[8 + n:]
    spans = []
    tensors = {}
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("tensor %r has fields %r" % (name, sorted(info)))
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in BITS:
            fail("unknown dtype %r" % dtype)
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                fail("bad shape %r" % shape)
            count *= d
        if count * BITS[dtype] // 8 != end - begin or not 0 <= begin <= end <= len(buf):
            fail("tensor %r: size does not match its offsets" % name)
        spans.append((begin, end, name))
        fmt = "<%d%s" % (count, UNPACK[dtype])
        tensors[name] = {"dtype": dtype, "shape": shape,
                         "values": [v if v == v and abs(v) != float("inf") else repr(v) for v in struct.unpack(fmt, buf[begin:end])]}
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            fail("hole or overlap at tensor %r" % name)
        at = end
    if at != len(buf):
        fail("the data buffer is not entirely covered")
    by_offset = [name for _, _, name in sorted(spans)]
    expected = sorted(header, key=lambda k: (-ORDER.index(header[k]["dtype"]), k.encode("utf-8")))
    if by_offset != expected:
        fail("tensors are not in the reference writer's order")
    json.dump({"metadata": metadata, "tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
