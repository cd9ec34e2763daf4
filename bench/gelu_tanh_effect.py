#!/usr/bin/env python3
"""bench/gelu_tanh_effect.py — how much does the tanh GELU move cross-encoder scores and rankings?

The CUDA backend may replace BERT's exact GELU, 0.5·x·(1 + erf(x/√2)) (HF hidden_act "gelu"),
by cuBLASLt's GELU epilogue, the tanh approximation (HF "gelu_pytorch_tanh", PyTorch
F.gelu(approximate="tanh")), in bf16/fp16 modes. This script measures, with PyTorch on the CPU,
the effect of that function change next to the effect of bf16 rounding alone.

Four configurations score the same (query, passage) pairs (logit --label):
  a  fp32, exact GELU         (the reference)
  b  fp32, tanh GELU          (from_pretrained(..., hidden_act="gelu_pytorch_tanh"))
  c  bf16, exact GELU         (model.to(torch.bfloat16): weights and activations)
  d  bf16, tanh GELU
and b, c, d are compared with a, and d with c (tanh's effect inside bf16): max/mean |Δ| of the
logits, pairs whose order within their query flips (bench_gpu.parity: pairs the reference orders
by ≥ 1e-6 and the other does not order the same way, a new tie counting as a flip; the new ties
are also counted on their own), per-query Kendall tau (mean, min), top-10 set identical, and
nDCG@10 of each configuration against the SciFact test qrels.

Workload: bench_cpu.build_pairs (as bench_gpu.py uses it): the first --queries SciFact test
queries in qrels order, each with its relevant documents then random.Random(--seed) draws up to
--per-query passages; HF fast tokenizer, longest_first truncation at --max-length. Pairs are
sorted by token count and scored in batches of --batch padded to the batch's longest (the same
batches for every configuration); attn_implementation "sdpa", torch.inference_mode,
torch.set_num_threads(--threads).

    python3 bench/gelu_tanh_effect.py                       # 100 queries x 30, max_length 256
    python3 bench/gelu_tanh_effect.py --queries 10 --per-query 10   # quick smoke test

Writes --json (default build/gelu-tanh/effect.json) and prints a markdown table on stdout
(progress goes to stderr).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import bench_gpu  # noqa: E402  (parity, query_groups, read_relevant, ndcg10; bench_gpu.bc = bench_cpu)

T0 = time.time()
EXACT, TANH = "gelu", "gelu_pytorch_tanh"
CONFIGS = {  # name: (dtype, hidden_act, description)
    "a": ("fp32", EXACT, "fp32, exact GELU"),
    "b": ("fp32", TANH, "fp32, tanh GELU"),
    "c": ("bf16", EXACT, "bf16, exact GELU"),
    "d": ("bf16", TANH, "bf16, tanh GELU"),
}
COMPARISONS = [("b", "a"), ("c", "a"), ("d", "a"), ("d", "c")]  # (config, reference)


def log(msg: str) -> None:
    print(f"gelu_tanh_effect [{time.time() - T0:6.1f}s]: {msg}", file=sys.stderr, flush=True)


def cpu_info() -> dict:
    """CPU model and the flags that matter for bf16, from /proc/cpuinfo."""
    info = {"cpu_model": None, "logical_cpus": os.cpu_count(), "bf16_flags": []}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "model name" and info["cpu_model"] is None:
                    info["cpu_model"] = v.strip()
                elif k == "flags" and not info["bf16_flags"]:
                    fl = v.split()
                    info["bf16_flags"] = [x for x in fl if "bf16" in x or x.startswith("amx")
                                          or x in ("avx512f", "avx2", "avx512_vnni")]
    except OSError as e:
        info["error"] = str(e)
    return info


def machine() -> dict:
    import numpy
    import tokenizers
    import torch
    import transformers
    m = cpu_info()
    m.update({"python": platform.python_version(), "os": f"{platform.system()} {platform.release()}",
              "torch": torch.__version__, "transformers": transformers.__version__,
              "tokenizers": tokenizers.__version__, "numpy": numpy.__version__,
              "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "torch_threads": torch.get_num_threads(),
              "torch_interop_threads": torch.get_num_interop_threads()})
    return m


def load_model(path: str, prec: str, act: str):
    """AutoModelForSequenceClassification in fp32 (hidden_act overridden when not the file's),
    then .to(bfloat16) for bf16; checks every layer's activation module is the one asked for."""
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.activations import GELUActivation, GELUTanh
    kw = {} if act == EXACT else {"hidden_act": act}
    model = AutoModelForSequenceClassification.from_pretrained(
        path, dtype=torch.float32, attn_implementation="sdpa", **kw).eval()
    if prec == "bf16":
        model = model.to(torch.bfloat16)
    want = GELUActivation if act == EXACT else GELUTanh
    fns = [lay.intermediate.intermediate_act_fn for lay in model.bert.encoder.layer]
    names = sorted({type(f).__name__ for f in fns})
    if model.config.hidden_act != act or not all(type(f) is want for f in fns):
        raise SystemExit(f"activation override failed: config.hidden_act={model.config.hidden_act!r}, "
                         f"modules {names}, wanted {want.__name__}")
    # numeric check too: the module computes erf-GELU or tanh-GELU, not something else
    x = torch.linspace(-6, 6, 2001, dtype=torch.float32)
    with torch.inference_mode():
        y = fns[0](x)
    ref = torch.nn.functional.gelu(x, approximate="none" if act == EXACT else "tanh")
    other = torch.nn.functional.gelu(x, approximate="tanh" if act == EXACT else "none")
    fn_err, fn_vs_other = float((y - ref).abs().max()), float((y - other).abs().max())
    if fn_err != 0.0 or fn_vs_other == 0.0:
        raise SystemExit(f"activation check failed: |fn - {act}| = {fn_err}, |fn - other| = {fn_vs_other}")
    dtypes = sorted({str(p.dtype) for p in model.parameters()})
    return model, {"config_hidden_act": model.config.hidden_act, "act_modules": names,
                   "layers": len(fns), "param_dtypes": dtypes,
                   "act_fn_max_abs_vs_other_gelu_on_[-6,6]": fn_vs_other,
                   "attn": getattr(model.config, "_attn_implementation", None)}


def make_batches(ids, tts, batch: int, pad_id: int):
    """Pairs sorted by token count (longest first), batches padded to their longest."""
    import numpy as np
    import torch
    lens = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    order = np.argsort(-lens, kind="stable")
    out, padded = [], 0
    for idx, x, tt, m in bench_gpu.padded_batches(ids, tts, lens, order, batch, pad_id):
        padded += x.size
        out.append((idx, torch.from_numpy(x), torch.from_numpy(tt), torch.from_numpy(m)))
    return out, int(lens.sum()), padded


def score(model, batches, n: int, label: int):
    import numpy as np
    import torch
    sc = np.empty(n, dtype=np.float64)
    with torch.inference_mode():
        for idx, x, tt, m in batches:
            lg = model(input_ids=x, token_type_ids=tt, attention_mask=m).logits
            sc[idx] = lg[:, label].float().numpy().astype(np.float64)
    return sc


def flips_detail(x, ref, groups, tie: float = 1e-6) -> dict:
    """bench_gpu.parity's flipped pairs split: strictly reversed vs tied in x (|Δx| < tie)."""
    import numpy as np
    rev = tied = 0
    for s, e in groups:
        iu = np.triu_indices(e - s, 1)
        dr = (ref[s:e, None] - ref[None, s:e])[iu]
        dy = (x[s:e, None] - x[None, s:e])[iu]
        m = np.abs(dr) >= tie
        rev += int(((dr * dy < 0) & m & (np.abs(dy) >= tie)).sum())
        tied += int((m & (np.abs(dy) < tie)).sum())
    return {"reversed_pairs": rev, "new_tie_pairs": tied}


def compare(x, ref, groups) -> dict:
    import numpy as np
    p = bench_gpu.parity(x, ref, groups)
    p["mean_abs"] = float(np.abs(np.asarray(x) - np.asarray(ref)).mean())
    p.update(flips_detail(np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64), groups))
    return p


def render(R: dict) -> str:
    a = R["args"]
    lines = [f"GELU exact vs tanh, PyTorch CPU: {R['workload']['queries']} SciFact test queries x "
             f"{a['per_query']} candidates = {R['workload']['pairs']} pairs, max_length {a['max_length']}, "
             f"{a['threads']} threads; {R['machine']['cpu_model']}, torch {R['machine']['torch']}, "
             f"transformers {R['machine']['transformers']}",
             "",
             "| config | vs | max \\|Δ\\| | mean \\|Δ\\| | flipped pairs | share | of which new ties | "
             "τ mean | τ min | top-10 set same | nDCG@10 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    c = R["configs"]
    lines.append(f"| a: {c['a']['desc']} | — | — | — | — | — | — | — | — | — | {c['a']['ndcg10']:.4f} |")
    for k, ref in COMPARISONS:
        p = R["comparisons"][f"{k}_vs_{ref}"]
        lines.append(
            f"| {k}: {c[k]['desc']} | {ref} | {p['max_abs']:.4g} | {p['mean_abs']:.4g} | "
            f"{p['inverted_pairs']:,} / {p['compared_pairs']:,} | {p['inverted_frac']:.4%} | "
            f"{p['new_tie_pairs']:,} | {p['kendall_tau_mean']:.5f} | {p['kendall_tau_min']:.4f} | "
            f"{p['top10_identical_frac']:.1%} | {c[k]['ndcg10']:.4f} |")
    lines += ["", "| config | load s | warm-up s | score s | pairs/s |", "| --- | ---: | ---: | ---: | ---: |"]
    for k, v in c.items():
        t = v["timing"]
        lines.append(f"| {k}: {v['desc']} | {t['load_s']:.1f} | {t['warmup_s']:.1f} | {t['score_s']:.1f} | "
                     f"{R['workload']['pairs'] / t['score_s']:.1f} |")
    w = R["workload"]
    lines += ["", f"logit range (a): [{w['ref_min']:.3f}, {w['ref_max']:.3f}]; tokens {w['tokens']:,}, "
              f"padded {w['padded_tokens']:,} in batches of {a['batch']}; tokenize {w['tokenize_s']:.1f}s; "
              f"(a) rescored first batch max |Δ| {R['configs']['a']['rescore_first_batch_max_abs']:.3g} "
              "(run-to-run noise)",
              "flipped = pairs of one query that (a) orders by >= 1e-6 and the config does not order the "
              "same way (bench_gpu.parity; a new tie counts as a flip and is also shown on its own)"]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/rerank/models/test-cross-encoder"))
    ap.add_argument("--data", default=str(REPO / "data" / "scifact"))
    ap.add_argument("--queries", type=int, default=100, help="first N SciFact test queries")
    ap.add_argument("--per-query", type=int, default=30, help="candidates per query")
    ap.add_argument("--max-length", type=int, default=256, help="tokens per pair, specials included")
    ap.add_argument("--seed", type=int, default=13, help="random.Random seed (as bench_cpu/bench_gpu)")
    ap.add_argument("--label", type=int, default=0, help="which logit")
    ap.add_argument("--batch", type=int, default=32, help="pairs per forward pass")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--configs", default="abcd", help="subset of abcd to run (a is always run)")
    ap.add_argument("--json", default=str(REPO / "build" / "gelu-tanh" / "effect.json"))
    a = ap.parse_args(argv)

    import numpy as np
    import torch
    from transformers import AutoTokenizer
    torch.set_num_threads(a.threads)

    R: dict = {"command": shlex.join([sys.executable] + sys.argv), "args": vars(a),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine(), "configs": {},
               "comparisons": {}}
    log(f"{R['machine']['cpu_model']}, torch {R['machine']['torch']} ({R['machine']['torch_cpu_capability']}), "
        f"transformers {R['machine']['transformers']}, {a.threads} threads")

    pairs, meta = bench_gpu.bc.build_pairs(Path(a.data), a.queries, a.per_query, a.seed)
    groups = bench_gpu.query_groups(meta)
    rel = bench_gpu.read_relevant(Path(a.data))
    tok = AutoTokenizer.from_pretrained(a.model, use_fast=True)
    t = time.perf_counter()
    enc = tok([q for q, _ in pairs], [d for _, d in pairs], truncation="longest_first",
              max_length=a.max_length, padding=False, return_attention_mask=False,
              return_token_type_ids=True)
    tok_s = time.perf_counter() - t
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    batches, tokens, padded = make_batches(enc["input_ids"], enc["token_type_ids"], a.batch, pad_id)
    R["workload"] = {"queries": len(groups), "pairs": len(pairs), "tokens": tokens,
                     "padded_tokens": padded, "batches": len(batches), "tokenize_s": tok_s,
                     "max_tokens": max(len(x) for x in enc["input_ids"])}
    log(f"{len(pairs)} pairs, {len(groups)} queries, {tokens:,} tokens ({padded:,} padded), {len(batches)} batches")

    run = ["a"] + [k for k in "bcd" if k in a.configs]
    scores = {}
    for k in run:
        prec, act, desc = CONFIGS[k]
        t = time.perf_counter()
        model, minfo = load_model(a.model, prec, act)
        load_s = time.perf_counter() - t
        log(f"{k}: {desc}: loaded in {load_s:.1f}s; act {minfo['act_modules']}, params {minfo['param_dtypes']}")
        t = time.perf_counter()
        score(model, batches[-1:] + batches[:1], len(pairs), a.label)  # warm-up: shortest + longest batch
        warm_s = time.perf_counter() - t
        t = time.perf_counter()
        sc = score(model, batches, len(pairs), a.label)
        score_s = time.perf_counter() - t
        entry = {"desc": desc, "dtype": prec, "hidden_act": act, "model": minfo,
                 "timing": {"load_s": load_s, "warmup_s": warm_s, "score_s": score_s,
                            "pairs_per_s": len(pairs) / score_s},
                 "ndcg10": bench_gpu.ndcg10(sc, meta, groups, rel)}
        if k == "a":
            again = score(model, batches[:1], len(pairs), a.label)
            idx = batches[0][0]
            entry["rescore_first_batch_max_abs"] = float(np.abs(again[idx] - sc[idx]).max())
        R["configs"][k] = entry
        scores[k] = sc
        log(f"{k}: scored in {score_s:.1f}s ({len(pairs) / score_s:.1f} pairs/s), nDCG@10 {entry['ndcg10']:.4f}")
        del model
    R["workload"]["ref_min"], R["workload"]["ref_max"] = float(scores["a"].min()), float(scores["a"].max())
    for k, ref in COMPARISONS:
        if k in scores and ref in scores:
            R["comparisons"][f"{k}_vs_{ref}"] = compare(scores[k], scores[ref], groups)
    R["scores"] = {"meta": [list(m) for m in meta], **{k: v.tolist() for k, v in scores.items()}}

    out = Path(a.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(R, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {out}")
    if set(run) == set("abcd"):
        print(render(R))
    else:
        print(json.dumps(R["comparisons"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
