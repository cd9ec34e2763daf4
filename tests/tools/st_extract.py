#!/usr/bin/env python3
"""Write a safetensors file holding some tensors of another one, under new names.

    st_extract.py OUT IN OLD=NEW [OLD=NEW ...]

The tensors' dtype, shape and bytes are copied unchanged; only the names differ. Standard
library only (scripts/setup.sh runs it before any Python package is installed). The setup
script uses it to build the ELECTRA test cross-encoder's head dense layer from MiniLM's
pooler (tests/fixtures/test-electra-cross-encoder/README.md); make_fixtures.py uses it the
same way to check that the assembled directory is the model it scored.
"""
import json
import os
import struct
import sys


def main(argv):
    if len(argv) < 4 or any("=" not in a for a in argv[3:]):
        sys.exit(__doc__.strip().split("\n")[2].strip())
    out, src, renames = argv[1], argv[2], [a.split("=", 1) for a in argv[3:]]
    with open(src, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
        base = 8 + hlen
        tensors, blobs, offset = {}, [], 0
        for old, new in renames:
            if old not in header or old == "__metadata__":
                sys.exit(f"{src}: no tensor {old!r}")
            t = header[old]
            start, end = t["data_offsets"]
            f.seek(base + start)
            blob = f.read(end - start)
            if len(blob) != end - start:
                sys.exit(f"{src}: tensor {old!r} runs past the end of the file")
            tensors[new] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [offset, offset + len(blob)]}
            blobs.append(blob)
            offset += len(blob)
    head = json.dumps({"__metadata__": {"format": "pt"}, **tensors}, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, out)


if __name__ == "__main__":
    main(sys.argv)
