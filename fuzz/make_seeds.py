#!/usr/bin/env python3
"""Writes the seed corpora (fuzz/seeds/TARGET/) from the published vectors in spec/vectors and
from files of a `cordon demo` federation (audit bundles, tlog-proofs, query files).

    fuzz/make_seeds.py [DEMO_DIR [AUDIT_DIR]]

DEMO_DIR is a folder made by `cordon demo --dir DEMO_DIR`; AUDIT_DIR holds `*.bundle` files
written by `cordon audit export` and proofs written by `cordon audit prove` (see README.md).
Without them only the vector-based seeds are written.
"""
import hashlib
import json
import pathlib
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "spec" / "vectors"
KINDS = ["phone", "email", "iban", "ip", "passport", "national-id", "bank-account",
         "ewallet", "crypto", "domain", "url", "imei", "person", "text"]
REQUESTS = {"get_descriptor", "get_filter", "get_delta", "evaluate"}


def put(target, data):
    d = ROOT / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    v = json.loads((VECTORS / "cordon.json").read_text())
    header = v["constants"]["frame_header_len"]
    for f in v["frames"]:
        b = bytes.fromhex(f["hex"])
        put("frame", b)
        put("messages", bytes([0 if f["name"] in REQUESTS else 1]) + b[header:])
        if f["name"] == "descriptor":
            descriptor_frame = b[header:]
    for f in v["filters"]:
        body = bytes.fromhex(f["bytes"])
        digest = bytes.fromhex(f["digest"])
        for desc in (b"", descriptor_frame):
            put("filter_descriptor", digest + struct.pack("<QBH", f["capacity"], f["hashes"],
                                                          len(desc)) + desc + body)
    for c in json.loads((VECTORS / "identifiers.json").read_text()):
        which = KINDS.index(c["kind"]) | (0x80 if c.get("region") == "TH" else 0)
        raw = c["input"] if isinstance(c["input"], str) else json.dumps(c["input"])
        put("ident", bytes([which]) + raw.encode())
    for c in json.loads((VECTORS / "persons.json").read_text()):
        put("ident", bytes([KINDS.index("person")]) + json.dumps(c["input"]).encode())
        put("import_rows", bytes([0x80 | 1]) + (json.dumps(c["input"]) + "\n").encode())
    put("import_rows", bytes([0x40 | 0]) + b"phone,name\n081-234-5678,A\n+66 2 123 4567,B\n")
    put("import_rows", bytes([1]) + b'{"value":"a@example.org","case":"X1"}\n')

    if len(sys.argv) > 1:
        demo = pathlib.Path(sys.argv[1])
        for f in sorted(demo.glob("*/queries/*")):
            data = f.read_bytes()[:4096]
            ext = {".csv": 0, ".jsonl": 1}.get(f.suffix, 2)
            kind = {"phones": "phone", "emails": "email", "accounts": "bank-account",
                    "wallets": "crypto", "persons": "person"}.get(f.stem, "text")
            which = ext | (KINDS.index(kind) << 2) % 64
            if kind == "person":
                which = 0x80 | ext
            put("import_rows", bytes([which]) + data)
    if len(sys.argv) > 2:
        audit = pathlib.Path(sys.argv[2])
        for f in sorted(audit.glob("*.bundle")):
            put("audit_bundle", f.read_bytes())
            for line in f.read_bytes().split(b"\n")[1:6]:
                put("notes", line + b"\n")
        for f in sorted(audit.glob("proof*")):
            if f.suffix == ".entry":
                put("notes", f.read_bytes())
                continue
            text = f.read_bytes()
            put("tlog_proof", text)
            put("notes", text.split(b"\n\n", 1)[1])


if __name__ == "__main__":
    main()
