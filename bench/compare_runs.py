#!/usr/bin/env python3
"""bench/compare_runs.py — `rerank run` output directories against a reference one.

For the GPU's 16-bit modes against its fp32 mode (issue 3: "bf16/fp16 mode keeps every query's
order with mean Kendall tau >= 0.99 against fp32 and the same nDCG@10 to three decimals"),
bench/gpu_check.sh's pipeline step runs this on its runs. For each OTHER directory, against REF:

  - whether both reranked the same candidates (first_stage.run identical, byte for byte);
  - per query, over the documents both rerank.run files hold: the pairs REF orders (scores
    apart by more than 1e-6) that OTHER orders the other way or ties, as Kendall tau
    (bench_gpu.parity, the measure of bench_gpu.py's parity table); mean, min, queries with
    none inverted;
  - nDCG@10 of both (metrics.json, i.e. `rerank eval`, checked against trec_eval) and whether
    they are the same to three decimals.

    python3 bench/compare_runs.py REF_DIR OTHER_DIR [OTHER_DIR...]

One line per OTHER on stdout, e.g.
    bf16 vs fp32: same candidates; Kendall tau mean 0.9950 (min 0.9612), 212/300 queries with no
    inversion; nDCG@10 0.6402 vs 0.6398 (same to 3 decimals: yes)
Exit status 0 when every comparison could be made (whatever it found), 1 when a directory lacks
its files, 2 on a usage error.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gpu import parity  # noqa: E402  (the same tau as bench_gpu.py's parity table)


def read_run(path):
    """{qid: {docid: score}} of a TREC run."""
    run = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 6:
                raise ValueError(f"{path}:{n}: {len(parts)} fields, a TREC run line has 6")
            run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run


def ndcg10(d):
    m = json.load(open(os.path.join(d, "metrics.json"), encoding="utf-8"))
    return float(m["rerank"]["all"]["ndcg_cut_10"])


def compare(ref_dir, other_dir):
    ref = read_run(os.path.join(ref_dir, "rerank.run"))
    oth = read_run(os.path.join(other_dir, "rerank.run"))
    with open(os.path.join(ref_dir, "first_stage.run"), "rb") as a, \
         open(os.path.join(other_dir, "first_stage.run"), "rb") as b:
        same_cand = a.read() == b.read()
    x, y, groups = [], [], []
    for q in sorted(ref):
        docs = sorted(set(ref[q]) & set(oth.get(q, {})))
        if len(docs) < 2:
            continue
        s = len(x)
        x += [oth[q][d] for d in docs]
        y += [ref[q][d] for d in docs]
        groups.append((s, len(x)))
    p = parity(x, y, groups)
    clean = 0
    for s, e in groups:  # queries with no inversion: parity over that query alone
        clean += parity(x[s:e], y[s:e], [(0, e - s)])["inverted_pairs"] == 0
    n_ref, n_oth = ndcg10(ref_dir), ndcg10(other_dir)
    same3 = round(n_ref, 3) == round(n_oth, 3)
    return (f"{'same candidates' if same_cand else 'DIFFERENT candidates (first stages differ)'}; "
            f"Kendall tau mean {p['kendall_tau_mean']:.4f} (min {p['kendall_tau_min']:.4f}), "
            f"{clean}/{len(groups)} queries with no inversion; "
            f"nDCG@10 {n_oth:.4f} vs {n_ref:.4f} (same to 3 decimals: {'yes' if same3 else 'no'})")


def main(argv):
    if len(argv) < 3:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    ref_dir, rc = argv[1], 0
    for d in argv[2:]:
        name = os.path.basename(os.path.normpath(d))
        try:
            print(f"{name} vs {os.path.basename(os.path.normpath(ref_dir))}: {compare(ref_dir, d)}")
        except (OSError, ValueError, KeyError) as e:
            print(f"{name}: cannot compare: {e}")
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
