#!/usr/bin/env python3
"""Write a safetensors file holding some tensors of another one, under new names.

    st_extract.py OUT IN OLD=NEW [OLD=NEW ...]

The tensors' dtype, shape and bytes are copied unchanged; only the names differ. Standard
library only (scripts/setup.sh runs it before any Python package is installed). The setup
script uses it to build the ELECTRA test cross-encoder's head dense layer from MiniLM's
pooler (tests/fixtures/test-electra-cross-encoder/README.md); make_fixtures.py uses it the
same way to check that the assembled directory is the model it scored.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_min  # noqa: E402


def main(argv):
    if len(argv) < 4 or any("=" not in a for a in argv[3:]):
        sys.exit(__doc__.strip().split("\n")[2].strip())
    out, src = argv[1], argv[2]
    tensors = st_min.read(src)
    picked = {}
    for old, new in (a.split("=", 1) for a in argv[3:]):
        if old not in tensors:
            sys.exit(f"{src}: no tensor {old!r}")
        picked[new] = tensors[old]
    st_min.write(out, picked)


if __name__ == "__main__":
    main(sys.argv)
