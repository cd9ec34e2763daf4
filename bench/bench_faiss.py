#!/usr/bin/env python3
"""bench/bench_faiss.py — the peer of bench/faiss_search.c: the same synthetic vectors (the
counter-based splitmix64 generator, reproduced here with numpy's wrapping uint64 arithmetic),
the same factories, training sample, add blocks and timed search, through FAISS's own Python
wrapper (`pip install faiss-cpu`). Prints lines in rr_faiss_search's format, labels_fnv
included, so equal hashes mean the same results.

usage: bench_faiss.py [--n N] [--queries Q] [--dim D] [--k K] [--threads T] [--train N]
                      [--labels-out PREFIX] [--factory STR [--params STR]]...
FAISS_DISABLE_CPU_FEATURES=AVX2 in the environment makes faiss 1.7.3 load its generic (non-AVX2)
build, the optimisation level of the FAISS rerank links (scripts/setup.sh: -DFAISS_OPT_LEVEL=generic).
"""
import argparse
import sys
import time

import numpy as np
import faiss

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def fill(count, seed, dim):
    """element i = (splitmix64(seed + i + 1) >> 40) / 2^24, as float32, shaped [count/dim, dim]"""
    out = np.empty(count, dtype=np.float32)
    block = 1 << 24
    with np.errstate(over="ignore"):
        for first in range(0, count, block):
            x = np.arange(first, min(count, first + block), dtype=np.uint64) + np.uint64(seed + 1)
            z = x * np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            out[first:first + len(x)] = (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    return out.reshape(-1, dim)


def fnv_labels(labels):
    h = 1469598103934665603
    for b in labels.astype("<i8").tobytes():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--train", type=int, default=262144)
    ap.add_argument("--labels-out", default="")
    ap.add_argument("--factory", action="append", default=[])
    ap.add_argument("--params", action="append", default=[])
    a = ap.parse_args()
    # --params belongs to the --factory before it, as in rr_faiss_search
    factories, params = [], []
    for i, arg in enumerate(sys.argv):
        if arg == "--factory" and i + 1 < len(sys.argv):
            factories.append(sys.argv[i + 1])
            params.append("")
        elif arg == "--params" and i + 1 < len(sys.argv) and factories:
            params[-1] = sys.argv[i + 1]
    if not factories:
        factories, params = ["Flat", "IVF1024,Flat"], ["", "nprobe=16"]
    if a.threads > 0:
        faiss.omp_set_num_threads(a.threads)
    x = fill(a.n * a.dim, 1, a.dim)
    q = fill(a.queries * a.dim, 2, a.dim)
    for f, (fac, par) in enumerate(zip(factories, params)):
        ix = faiss.index_factory(a.dim, fac, faiss.METRIC_L2)
        t0 = time.perf_counter()
        if not ix.is_trained:
            ix.train(x[:min(a.n, a.train)])
        t1 = time.perf_counter()
        for first in range(0, a.n, 65536):
            ix.add(x[first:first + 65536])
        t2 = time.perf_counter()
        if par:
            faiss.ParameterSpace().set_index_parameters(ix, par)
        ix.search(q[:min(a.queries, 100)], a.k)
        t3 = time.perf_counter()
        _, labels = ix.search(q, a.k)
        t4 = time.perf_counter()
        print(f"faiss_python factory={fac} params={par} n={a.n} q={a.queries} d={a.dim} k={a.k} "
              f"threads={faiss.omp_get_max_threads()} train_s={t1 - t0:.2f} add_s={t2 - t1:.2f} "
              f"search_s={t4 - t3:.3f} qps={a.queries / (t4 - t3):.1f} "
              f"labels_fnv={fnv_labels(labels[:min(a.queries, 100)]):016x}", flush=True)
        if a.labels_out:
            labels.astype(np.int64).tofile(f"{a.labels_out}{f}.i64")
        del ix


if __name__ == "__main__":
    sys.exit(main())
