#!/usr/bin/env python3
"""Assemble the RoBERTa test cross-encoder's model directory from all-MiniLM-L6-v2's.

    make_roberta.py MINILM_DIR FIXTURE_DIR OUT_DIR

FIXTURE_DIR (tests/fixtures/test-roberta-cross-encoder) holds the RoBERTa tokenizer
(tokenizer.json.gz, tokenizer_config.json: a byte-level BPE trained on SciFact, as transformers
5.24's RobertaTokenizer writes it), config.json and head.safetensors (the seeded
classifier.out_proj.weight and .bias). RoBERTa's layer is XLM-R's, so the directory is put
together as make_xlmr.py puts XLM-R's (the same tensors under "roberta."), each BPE token taking
the MiniLM embedding row of the SentencePiece piece it spells (piece() below: "Ġw", a word
after a space, reads as "▁w"; a token that is not whole UTF-8 keeps what decodes of it).

Writes into OUT_DIR what make_xlmr.py writes. Standard library only (scripts/setup.sh runs it);
make_fixtures.py (--steps roberta) runs it too and checks the result against the model and
tokenizer transformers saved (tests/fixtures/test-roberta-cross-encoder/README.md).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_xlmr  # noqa: E402


def byte_decoder():
    """GPT-2's bytes_to_unicode, inverted: each of the 256 characters -> its byte."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + n)] = b
            n += 1
    return chars


DECODER = byte_decoder()


def piece(token):
    """The SentencePiece-style piece a byte-level BPE token stands for (for make_xlmr's rows)."""
    if token in make_xlmr.OWN or any(c not in DECODER for c in token):
        return token
    text = bytes(DECODER[c] for c in token).decode("utf-8", "replace")
    return make_xlmr.META + text[1:] if text.startswith(" ") else text


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.strip().split("\n")[2].strip())
    minilm, fixture, out = argv[1:]
    bert = make_xlmr.minilm_vocab(minilm)
    tok = make_xlmr.read_tokenizer_json(fixture)
    model = json.loads(tok)["model"]
    if model.get("type") != "BPE":
        sys.exit(f"{fixture}: tokenizer.json's model is not BPE")
    by_id = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        sys.exit(f"{fixture}: tokenizer.json's vocabulary ids are not 0..n-1")
    pieces = [piece(t) for t, _ in by_id]
    make_xlmr.assemble(minilm, fixture, out, bert, tok, pieces)

if __name__ == "__main__":
    main(sys.argv)
