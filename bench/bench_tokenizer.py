#!/usr/bin/env python3
"""bench/bench_tokenizer.py — our tokenizer against Hugging Face's, one thread each, same texts.

For each model directory: the SciFact corpus (each document's title and text joined by a
space, line breaks made spaces, one per line in a temporary file) is encoded text by text as a
document ([CLS] text [SEP]), by build/rr_tokenize_rate (bench/tokenize_rate.c) and by the
`tokenizers` library as transformers' AutoTokenizer builds it from the same directory (the fast
tokenizer's backend, `Tokenizer.encode_batch` with RAYON_NUM_THREADS=1, so without Python's
per-call overhead and on one thread). Best of --reps passes each. Both hash every text's ids
(FNV-1a over int32 little-endian), so "same ids" says the two did the same work.

usage: bench_tokenizer.py [--build build] [--cache ~/.cache/rerank] [--models a,b,...]
                          [--corpus data/scifact/corpus.jsonl.gz] [--docs N] [--max-length N]
                          [--reps 3]
needs: pip install transformers tokenizers (no torch)
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402


def fnv_ids(encodings):
    h = 1469598103934665603
    for e in encodings:
        for i in e.ids:
            for b in (i & 0xFFFFFFFF).to_bytes(4, "little"):
                h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def peer(model_dir, texts, max_length, reps):
    tok = AutoTokenizer.from_pretrained(model_dir)
    backend = tok.backend_tokenizer
    backend.no_padding()  # all-MiniLM-L6-v2's tokenizer.json pads to 128; rerank's encodings are unpadded
    if max_length:
        backend.enable_truncation(max_length)
    else:
        backend.no_truncation()
    best, enc = 1e30, None
    for _ in range(reps):
        t0 = time.perf_counter()
        enc = backend.encode_batch(texts, add_special_tokens=True)
        best = min(best, time.perf_counter() - t0)
    tokens = sum(len(e.ids) for e in enc)
    return {"seconds": best, "tokens": tokens, "ids_fnv": "%016x" % fnv_ids(enc), "class": type(tok).__name__}


def ours(build, model_dir, path, max_length, reps):
    cmd = [os.path.join(build, "rr_tokenize_rate"), "--model", model_dir, "--texts", path, "--reps", str(reps)]
    if max_length:
        cmd += ["--max-length", str(max_length)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    f = dict(kv.split("=", 1) for kv in out.split()[1:])
    return {"seconds": float(f["seconds"]), "tokens": int(f["tokens"]), "ids_fnv": f["ids_fnv"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/rerank"))
    ap.add_argument("--models", default="all-MiniLM-L6-v2,test-xlmr-cross-encoder,test-deberta-cross-encoder,"
                                         "test-roberta-cross-encoder")
    ap.add_argument("--corpus", default="data/scifact/corpus.jsonl.gz")
    ap.add_argument("--docs", type=int, default=0, help="the first N documents (0: all)")
    ap.add_argument("--max-length", type=int, default=0, help="truncate to N tokens (0: no truncation)")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()

    texts = []
    with gzip.open(a.corpus, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            t = (d.get("title", "") + " " + d.get("text", "")).strip()
            texts.append(re.sub(r"[\r\n]", " ", t))
            if a.docs and len(texts) == a.docs:
                break
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    print(f"# {len(texts)} texts, {nbytes / 1e6:.2f} MB; max_length {a.max_length or 'none'}; best of {a.reps}; "
          f"one thread each; tokenizers {tokenizers.__version__}, transformers {transformers.__version__}")
    print("| model | tokenizer (transformers) | ours M tokens/s | tokenizers M tokens/s | ours / tokenizers | same ids |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as tf:
        tf.write("\n".join(texts) + "\n")
        path = tf.name
    try:
        for m in a.models.split(","):
            d = os.path.join(a.cache, "models", m)
            o = ours(a.build, d, path, a.max_length, a.reps)
            p = peer(d, texts, a.max_length, a.reps)
            ro, rp = o["tokens"] / o["seconds"], p["tokens"] / p["seconds"]
            same = "yes" if o["ids_fnv"] == p["ids_fnv"] else "NO (%s vs %s)" % (o["ids_fnv"], p["ids_fnv"])
            print(f"| {m} | {p['class']} | {ro / 1e6:.2f} | {rp / 1e6:.2f} | {ro / rp:.2f}x | {same} |", flush=True)
    finally:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
