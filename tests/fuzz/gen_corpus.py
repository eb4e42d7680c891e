#!/usr/bin/python3
"""Writes the seed corpora of the fuzzers under tests/fuzz/corpus/<format>/: small valid
files and edge cases (empty, truncated, wrong magic, odd numbers). Deterministic; needs
numpy. Inputs that once crashed a fuzzer live beside them as crash-*.<ext> (written by
hand, kept when this script runs again)."""
import io
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")


def put(fmt, name, data):
    d = os.path.join(HERE, "corpus", fmt)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def csv_seeds():
    put("csv", "basic.csv", "x1,x2,y\n1,2,0\n3,4,1\n5.5,-6e-3,2\n")
    put("csv", "crlf_blank_spaces.csv", " 1 , 2 ,3\r\n\r\n\t4,5,6 \r\n   \n7,8,9")
    put("csv", "bom.csv", "\ufeff1,2\n3,4\n")
    put("csv", "numbers.csv", "1e3,-0.5,inf,-inf,nan,0x1p3,+7,.5,5.\n1,2,3,4,5,6,7,8,9\n")
    put("csv", "one_column.csv", "1\n2\n3\n")
    put("csv", "ragged.csv", "1,2,3\n4,5\n")
    put("csv", "ragged_more.csv", "1,2\n3,4,5\n")
    put("csv", "empty.csv", "")
    put("csv", "blank_lines_only.csv", "\n\r\n  \n")
    put("csv", "header_only.csv", "a,b,c\n")
    put("csv", "not_a_number.csv", "1,abc\n2,3\n")
    put("csv", "empty_cell.csv", "1,,3\n")
    put("csv", "trailing_comma.csv", "1,2,\n")
    put("csv", "long_cell.csv", "1," + "9" * 130 + "\n")
    put("csv", "huge_exponent.csv", "1e999,2\n")
    put("csv", "nul_byte.csv", b"1,2\n3,\x004\n")
    put("csv", "many_columns.csv", ",".join(str(i) for i in range(300)) + "\n")


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a, allow_pickle=False)
    else:
        np.lib.format.write_array(b, a, version=version, allow_pickle=False)
    return b.getvalue()


def npy_seeds():
    put("npy", "f4_2x3.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
    put("npy", "f8_scalar.npy", npy_bytes(np.array(3.25)))
    put("npy", "f8_big_endian.npy", npy_bytes(np.array([1.5, -2.0], dtype=">f8")))
    put("npy", "i1.npy", npy_bytes(np.array([-128, 0, 127], dtype="i1")))
    put("npy", "u2_big.npy", npy_bytes(np.array([1, 65535], dtype=">u2")))
    put("npy", "i8.npy", npy_bytes(np.array([-(2**63), 2**63 - 1], dtype="<i8")))
    put("npy", "u8.npy", npy_bytes(np.array([2**64 - 1], dtype="<u8")))
    put("npy", "bool.npy", npy_bytes(np.array([True, False])))
    put("npy", "empty_0.npy", npy_bytes(np.zeros((0,), dtype="<f4")))
    put("npy", "empty_2x0x3.npy", npy_bytes(np.zeros((2, 0, 3), dtype="<f8")))
    put("npy", "dims8.npy", npy_bytes(np.zeros((1,) * 8, dtype="<f4")))
    put("npy", "v2.npy", npy_bytes(np.arange(3, dtype="<f4"), version=(2, 0)))
    put("npy", "v3.npy", npy_bytes(np.arange(3, dtype="<f8"), version=(3, 0)))
    put("npy", "fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), dtype="<f4"))))
    good = npy_bytes(np.arange(4, dtype="<f4"))
    put("npy", "truncated.npy", good[:-3])
    put("npy", "trailing.npy", good + b"xx")
    put("npy", "bad_magic.npy", b"\x93NUMPX" + good[6:])
    # hand-written headers: shapes that do not fit, odd spellings
    for name, d in [("shape_huge", "{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (0, 4611686018427387904, 4), }"),
                    ("shape_overflow", "{'descr': '<f8', 'fortran_order': False, "
                     "'shape': (4294967296, 4294967296), }"),
                    ("dquotes", '{"descr": "|u1", "fortran_order": False, "shape": (2,)}'),
                    ("no_comma", "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }")]:
        hdr = d.encode() + b" " * ((-(10 + len(d) + 1)) % 64) + b"\n"
        put("npy", name + ".npy",
            b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b"\x01\x02")


def idx_seeds():
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + bytes([0, 1, 2, 9, 3])
    put("idx", "labels.idx1", labels)
    images = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 2, 3) + bytes(range(0, 240, 20))
    put("idx", "images.idx3", images)
    put("idx", "empty_labels.idx1", bytes([0, 0, 8, 1, 0, 0, 0, 0]))
    put("idx", "gzip.idx1.gz", b"\x1f\x8b\x08\x00" + labels)
    put("idx", "float_type.idx1", bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\0" * 4)
    put("idx", "two_dims.idx2", bytes([0, 0, 8, 2]) + struct.pack(">II", 1, 1) + b"\0")
    put("idx", "truncated.idx3", images[:-5])
    put("idx", "trailing.idx1", labels + b"\x07")
    put("idx", "short_header.idx3", images[:10])
    put("idx", "huge_dims.idx3", bytes([0, 0, 8, 3]) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2))


def st_file(tensors, meta=True, pad=True):
    """tensors: list of (name, dtype, shape, data bytes); offsets in order."""
    hdr, data, off = {}, b"", 0
    if meta:
        hdr["__metadata__"] = {"format": "pt"}
    for name, dt, shape, raw in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


def st_raw(header, data=b""):
    h = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    with open(os.path.join(FIXTURES, "linear_2_3.safetensors"), "rb") as f:
        put("safetensors", "fixture_linear_2_3.safetensors", f.read())
    w = np.arange(6, dtype="<f4").tobytes()
    b = np.array([1, 2, 3], dtype="<f4").tobytes()
    lin = [("weight", "F32", [3, 2], w), ("bias", "F32", [3], b)]
    put("safetensors", "linear.safetensors", st_file(lin))
    put("safetensors", "no_metadata.safetensors", st_file(lin, meta=False, pad=False))
    put("safetensors", "reversed.safetensors", st_file(lin[::-1]))
    put("safetensors", "extra_tensor.safetensors",
        st_file(lin + [("num_batches_tracked", "I64", [], struct.pack("<q", 7))]))
    put("safetensors", "f64_weight.safetensors",
        st_file([("weight", "F64", [3, 2], np.zeros(6).tobytes()), ("bias", "F32", [3], b)]))
    put("safetensors", "wrong_shape.safetensors",
        st_file([("weight", "F32", [2, 3], w), ("bias", "F32", [3], b)]))
    put("safetensors", "missing_bias.safetensors", st_file(lin[:1]))
    put("safetensors", "empty_object.safetensors", st_raw("{}      "))
    put("safetensors", "escapes.safetensors",
        st_raw('{"w\\u00e9\\ud83d\\ude00\\n":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
               b"\x05"))
    hdr = ('{"weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},'
           '"bias":{"dtype":"F32","shape":[3],"data_offsets":[20,32]}}')
    put("safetensors", "overlap.safetensors", st_raw(hdr, bytes(36)))
    hdr = ('{"weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]},'
           '"bias":{"dtype":"F32","shape":[3],"data_offsets":[28,40]}}')
    put("safetensors", "hole.safetensors", st_raw(hdr, bytes(40)))
    hdr = '{"weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,18446744073709551615]}}'
    put("safetensors", "offset_huge.safetensors", st_raw(hdr, bytes(24)))
    hdr = '{"x":{"dtype":"F32","shape":[0,9223372036854775807,4],"data_offsets":[0,0]}}'
    put("safetensors", "zero_times_huge.safetensors", st_raw(hdr))
    hdr = '{"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}'
    put("safetensors", "shape_overflow.safetensors", st_raw(hdr, bytes(8)))
    put("safetensors", "header_size_huge.safetensors",
        struct.pack("<Q", 2**63) + b'{"a":1}')
    put("safetensors", "short.safetensors", b"\x02\x00\x00")
    put("safetensors", "bad_utf8.safetensors", st_raw(b'{"\xff\xfe":1}'))
    # general checkpoints (tg_checkpoint_load): metadata with an rng state and counters
    rng = " ".join(["%016x" % v for v in (1, 2, 3, 4, 1, 0x3ff0000000000000)])
    meta = {"format": "pt", "step": "10", "rng": rng, "optim.kind": "Adam",
            "optim.steps": "10,10", "note": "\u00e9\n\"q\""}
    hdr, off, data = {"__metadata__": meta}, 0, b""
    for name, dt, shape, raw in lin + [("optim.state.0.exp_avg", "F32", [3, 2], w)]:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    put("safetensors", "checkpoint_meta.safetensors", st_raw(h + b" " * ((-len(h)) % 8), data))
    put("safetensors", "meta_dup_key.safetensors",
        st_raw('{"__metadata__":{"a":"1","a":"2"}}'))
    put("safetensors", "meta_number.safetensors", st_raw('{"__metadata__":{"a":1}}'))
    put("safetensors", "meta_bad_rng.safetensors",
        st_raw('{"__metadata__":{"rng":"0000000000000000 0 1 2 3 4"}}'))


def main():
    csv_seeds()
    npy_seeds()
    idx_seeds()
    safetensors_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
