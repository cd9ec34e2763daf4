#!/usr/bin/env python3
"""bench/pipeline_tokens.py — how the SciFact pipeline's work splits between its stages, in tokens.

Issue 3 asks for the first stage under 10% of the whole pipeline's time on a GPU. Both the index
stage and the rerank stage run the same kind of network (a MiniLM-L6 trunk), so the share of
tokens each one feeds it bounds the share of time each can take at equal efficiency. This counts
them with Hugging Face's tokenizers (not our tokenizer):

  index    every corpus document, title + " " + text as the engine joins them, truncated to the
           bi-encoder's max length (256 for all-MiniLM-L6-v2)
  retrieve every query (up to 256 tokens)
  rerank   every (query, document) pair of the first-stage run's top N, [CLS] q [SEP] d [SEP]
           truncated longest-first to the reranker's max length (512 in bench/gpu_pipeline.yaml)

    python3 bench/pipeline_tokens.py --run runs/x/first_stage.run [--top-n 100] [--data data/scifact]
        [--tokenizer ~/.cache/rerank/models/all-MiniLM-L6-v2/tokenizer.json]

It prints the three counts and the index and retrieve stages' share of the total, in tokens and
in the network's FLOPs (bench_cpu.flop_model, the FLOP model of bench/README.md, with the
config.json beside the tokenizer: the products, QK^T and PV, pooler and classifier).
"""
import argparse
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cpu import flop_model  # noqa: E402  (the FLOP model of bench/README.md)

def read_jsonl(path):
    out = {}
    with gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                title = d.get("title") or ""
                out[str(d["_id"])] = (title + " " + d["text"]) if title else d["text"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="the first stage's TREC run")
    ap.add_argument("--top-n", type=int, default=100)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "data", "scifact"))
    ap.add_argument("--tokenizer",
                    default=os.path.expanduser("~/.cache/rerank/models/all-MiniLM-L6-v2/tokenizer.json"))
    ap.add_argument("--index-max-length", type=int, default=256)
    ap.add_argument("--rerank-max-length", type=int, default=512)
    a = ap.parse_args()
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(a.tokenizer)
    tok.no_padding()
    docs = read_jsonl(os.path.join(a.data, "corpus.jsonl.gz"))
    queries = read_jsonl(os.path.join(a.data, "queries.jsonl.gz"))
    cand = {}
    with open(a.run) as f:
        for line in f:
            qid, _, did, rank, *_ = line.split()
            if int(rank) <= a.top_n:
                cand.setdefault(qid, []).append(did)

    tok.enable_truncation(a.index_max_length)
    index_len = [len(e.ids) for e in tok.encode_batch(list(docs.values()))]
    query_len = [len(e.ids) for e in tok.encode_batch([queries[q] for q in cand])]
    index_tokens, query_tokens = sum(index_len), sum(query_len)
    tok.enable_truncation(a.rerank_max_length, strategy="longest_first")
    pairs = [(queries[q], docs[d]) for q, ds in cand.items() for d in ds]
    rerank_len = [len(e.ids) for e in tok.encode_batch(pairs)]
    rerank_tokens = sum(rerank_len)
    total = index_tokens + query_tokens + rerank_tokens
    print(f"index:    {len(docs)} documents, {index_tokens} tokens (max {a.index_max_length})")
    print(f"retrieve: {len(cand)} queries, {query_tokens} tokens")
    print(f"rerank:   {len(pairs)} pairs, {rerank_tokens} tokens (max {a.rerank_max_length}), "
          f"{rerank_tokens / len(pairs):.1f} a pair")
    print(f"share of the tokens: index {index_tokens / total:.1%}, retrieve {query_tokens / total:.2%}, "
          f"index+retrieve {(index_tokens + query_tokens) / total:.1%}")
    with open(os.path.join(os.path.dirname(a.tokenizer), "config.json"), encoding="utf-8") as f:
        per_seq = flop_model(json.load(f))
    fi, fq, fr = (sum(per_seq(n) for n in lens) for lens in (index_len, query_len, rerank_len))
    ft = fi + fq + fr
    print(f"FLOPs: index {fi / 1e12:.2f} T, retrieve {fq / 1e12:.3f} T, rerank {fr / 1e12:.2f} T; share: "
          f"index {fi / ft:.1%}, retrieve {fq / ft:.2%}, index+retrieve {(fi + fq) / ft:.1%}")


if __name__ == "__main__":
    main()
