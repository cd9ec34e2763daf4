#!/usr/bin/env python3
"""bench/bench_gpu.py — GPU throughput of `rerank score --device cuda` against PyTorch, same card.

One run, same (query, passage) pairs, same model files, for each precision (fp32, bf16, fp16):

  ours   rerank score --device cuda --precision P --token-budget B --timing (a warm-up
         process on a subset first, then the timed process); pairs/s from the timing line's
         run= (tokenize + forward; model load excluded) and from the process's wall time.
  torch  transformers AutoModelForSequenceClassification (dtype P, attn_implementation="sdpa")
         on the same card, HF fast tokenizer (longest_first truncation), pairs sorted by token
         length, batches of --torch-batch padded to the batch's longest, inference_mode, one
         warm-up pass; tokenization inside the timed region (also reported on its own).
         fp32 runs with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False), so "fp32"
         means IEEE fp32 matrix products for both engines.

Parity: reference = PyTorch fp32 logits (label 0). For each engine and precision: max |Δ|,
‖a−b‖/‖b‖, inverted pairs within each query (ordered differently than the reference, pairs
whose reference scores differ by < 1e-6 ignored) and the share of queries whose top-10 set is
identical. Also ours on the CPU (first --cpu-check-pairs pairs) against ours-cuda fp32, and an
embedding check: `rerank embed` (cuda, fp32 and bf16) against sentence-transformers (fp32).

Workload: bench_cpu.py's pairs (SciFact test queries in qrels order: relevant documents, then
random.Random(seed) draws), here 300 queries x 100 passages = 30,000 pairs by default.

On the GPU machine the models are bench/gpu_bundle.sh's BF16-rounded MiniLM trunk: every
engine loads the SAME files, so the comparisons hold (they are not against the F32 weights).

    python3 bench/bench_gpu.py --rerank build-dev/rerank --model DIR --out OUTDIR
    python3 bench/bench_gpu.py --dry-run          # CPU-only smoke test of every code path

Writes report.json and report.md into --out (nothing else); scratch goes to --work.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import bench_cpu as bc  # noqa: E402  (pairs, TSV, text cleaning, FLOP model: shared with the CPU bench)

PRECISIONS = ("fp32", "bf16", "fp16")
# The HF tokenizer runs in parallel before we fork `rerank`; without this, tokenizers prints a
# fork warning into the child's stderr (the child execs at once, so there is no deadlock risk).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
T0 = time.time()


def log(msg: str) -> None:
    print(f"bench_gpu [{time.time() - T0:6.1f}s]: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# machine
# ------------------------------------------------------------------------------------------
def machine_info(peer_device: str) -> dict:
    info = {"python": platform.python_version(), "cpus": os.cpu_count(),
            "os": f"{platform.system()} {platform.release()}"}
    for mod in ("torch", "transformers", "sentence_transformers", "tokenizers", "numpy"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001
            info[mod] = f"not importable: {e}"
    try:
        import torch
        info["torch_cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            info["gpu"] = p.name
            info["gpu_sms"] = p.multi_processor_count
            info["gpu_mem_gib"] = round(p.total_memory / 2**30, 1)
    except Exception as e:  # noqa: BLE001
        info["torch_error"] = str(e)
    try:
        q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,power.limit",
                            "--format=csv,noheader"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, timeout=30).stdout.strip().splitlines()
        if q:
            parts = [x.strip() for x in q[0].split(",")]
            info["nvidia_smi"] = q[0]
            info.setdefault("gpu", parts[0])
            info["driver"] = parts[1] if len(parts) > 1 else None
    except (OSError, subprocess.SubprocessError):
        pass
    info.setdefault("gpu", "none" if peer_device == "cpu" else "unknown")
    info["cpu_model"] = bc.cpu_model()
    return info


# ------------------------------------------------------------------------------------------
# ours
# ------------------------------------------------------------------------------------------
def parse_timing(stderr: str) -> dict | None:
    line = next((l for l in stderr.splitlines() if l.startswith("timing:")), None)
    if line is None:
        return None
    fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    res = {"timing_line": line}
    for k in ("load", "run", "tokenize", "forward"):
        if k in fields:
            try:
                res[f"{k}_s"] = float(fields[k].rstrip("s"))
            except ValueError:
                pass
    for k in ("sequences", "tokens", "passes", "threads"):
        if k in fields:
            try:
                res[k] = int(fields[k])
            except ValueError:
                pass
    for k in ("precision", "device"):
        if k in fields:
            res[k] = fields[k]
    return res


class Ours:
    def __init__(self, a, left):
        self.a = a
        self.left = left
        self.env = dict(os.environ)
        if a.rerank_ld_path:
            old = self.env.get("LD_LIBRARY_PATH")
            self.env["LD_LIBRARY_PATH"] = a.rerank_ld_path + (f":{old}" if old else "")

    def run(self, sub: str, args: list[str], precision: str | None, timeout_cap: float = 600.0) -> dict:
        """One `rerank SUB ARGS [--precision P] --timing` process. Returns a dict with rc, the
        parsed timing line, wall time, the command, and the error text when it failed. When
        --precision itself is refused and P is fp32, runs again without it (noted)."""
        cmd = [self.a.rerank, sub] + args + ["--timing"]
        if precision is not None:
            cmd += ["--precision", precision]
        res = self._run(cmd, timeout_cap)
        if (res["rc"] != 0 and precision == "fp32" and "precision" in res.get("error", "")
                and ("unknown" in res["error"] or "option" in res["error"])):
            res2 = self._run(cmd[:-2], timeout_cap)
            res2["note"] = "--precision refused; ran without it (fp32 is the default)"
            res2["first_error"] = res["error"]
            res = res2
        return res

    def _run(self, cmd: list[str], timeout_cap: float) -> dict:
        timeout = max(5.0, min(timeout_cap, self.left() - 5))   # timeout_cap is finite
        t = time.perf_counter()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=self.env, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            return {"cmd": shlex.join(cmd), "rc": None, "error": f"timeout after {timeout:.0f}s; "
                    f"stderr tail: {err[-1500:]}", "process_wall_s": time.perf_counter() - t}
        except OSError as e:
            return {"cmd": shlex.join(cmd), "rc": None, "error": str(e), "process_wall_s": 0.0}
        wall = time.perf_counter() - t
        res = {"cmd": shlex.join(cmd), "rc": p.returncode, "process_wall_s": wall}
        if p.returncode != 0:
            res["error"] = p.stderr.strip()[-3000:] or f"exit {p.returncode}, no stderr"
            return res
        tm = parse_timing(p.stderr)
        if tm is None:
            res["rc"] = -1
            res["error"] = "no 'timing:' line on stderr: " + p.stderr.strip()[-1500:]
            return res
        res.update(tm)
        return res


def read_scores(path: Path):
    import numpy as np
    return np.loadtxt(path, dtype=np.float64, ndmin=1)


def run_ours_score(ours: Ours, a, pairs_tsv: Path, warm_tsv: Path, n_pairs: int, real_tokens: int,
                   work: Path, results: dict, scores: dict, notes: list, budgets: list[int | None]):
    for prec in a.precisions:
        entry = results.setdefault(prec, {"runs": []})
        if ours.left() < 20:
            entry["error"] = "skipped: deadline"
            continue
        base = ["--model", a.model, "--device", a.ours_device, "--max-length", str(a.max_length)]
        if a.ours_threads:
            base += ["--threads", str(a.ours_threads)]
        # warm-up: a subset, first budget; the timed runs are separate processes
        wb = base + ["--pairs", str(warm_tsv), "--output", str(work / "warm.txt")]
        if budgets[0]:
            wb += ["--token-budget", str(budgets[0])]
        log(f"ours {prec}: warm-up ({a.warmup_pairs} pairs)")
        w = ours.run("score", wb, prec, timeout_cap=120)
        entry["warmup"] = {k: w.get(k) for k in ("cmd", "rc", "error", "run_s", "process_wall_s")}
        if w["rc"] != 0:
            entry["error"] = w.get("error")
            log(f"ours {prec}: FAILED: {str(w.get('error'))[-400:]}")
            continue
        best = None
        for budget in budgets:
            for rep in range(a.repeat):
                if ours.left() < 15:
                    entry.setdefault("skipped", []).append(f"budget {budget} rep {rep}: deadline")
                    continue
                out = work / f"scores.ours.{prec}.{budget or 'default'}.txt"
                args = base + ["--pairs", str(pairs_tsv), "--output", str(out)]
                if budget:
                    args += ["--token-budget", str(budget)]
                r = ours.run("score", args, prec)
                r["token_budget"] = budget
                if r["rc"] == 0 and not r.get("run_s"):
                    r["rc"], r["error"] = -1, f"no run= in the timing line: {r.get('timing_line')}"
                if r["rc"] == 0:
                    try:
                        sc = read_scores(out)
                    except Exception as e:  # noqa: BLE001
                        r["rc"], r["error"] = -1, f"reading {out}: {e}"
                        sc = None
                    if sc is not None and len(sc) != n_pairs:
                        r["rc"], r["error"] = -1, f"{len(sc)} scores for {n_pairs} pairs"
                if r["rc"] == 0:
                    r["pairs_s"] = n_pairs / r["run_s"] if r.get("run_s") else None
                    r["tokens_s"] = real_tokens / r["run_s"] if r.get("run_s") else None
                    r["pairs_s_process"] = n_pairs / r["process_wall_s"]
                    if r.get("device") and not str(r["device"]).startswith(a.ours_device.split(":")[0]):
                        notes.append(f"ours {prec}: asked for --device {a.ours_device}, the timing line "
                                     f"says device={r['device']}")
                    if r.get("precision") and r["precision"] != prec:
                        notes.append(f"ours {prec}: the timing line says precision={r['precision']}")
                    if r.get("tokens") is not None and r["tokens"] != real_tokens:
                        notes.append(f"ours {prec}: tokens={r['tokens']:,} but the HF tokenizer "
                                     f"counts {real_tokens:,}")
                    if prec in scores and best is not None:
                        r["max_abs_vs_other_runs"] = float(abs(sc - scores[prec]).max())
                    if best is None or r["run_s"] < best["run_s"]:
                        best = r
                        scores[prec] = sc
                    log(f"ours {prec} budget {budget or 'default'}: run {r['run_s']:.3f}s "
                        f"({r['pairs_s']:,.0f} pairs/s), process {r['process_wall_s']:.2f}s")
                else:
                    log(f"ours {prec} budget {budget}: FAILED: {str(r.get('error'))[-400:]}")
                    entry.setdefault("errors", []).append(r.get("error"))
                entry["runs"].append({k: v for k, v in r.items()})
        if best is not None:
            entry["best"] = best
            scores.setdefault("_best_budget", {})[prec] = best.get("token_budget")
            # the other attention kernels, same budget (RR_CUDA_ATTN; bf16/fp16 only)
            for var in [v for v in (a.attn_variants or "").split(",") if v] if prec != "fp32" else []:
                if ours.left() < 20:
                    entry.setdefault("skipped", []).append(f"attn={var}: deadline")
                    continue
                ename, evalue = var.split("=", 1) if "=" in var else ("RR_CUDA_ATTN", var)
                out = work / f"scores.ours.{prec}.{ename}-{evalue}.txt"
                args = base + ["--pairs", str(pairs_tsv), "--output", str(out)]
                if best.get("token_budget"):
                    args += ["--token-budget", str(best["token_budget"])]
                ours.env[ename] = evalue
                try:
                    r = ours.run("score", args, prec)
                finally:
                    del ours.env[ename]
                if r["rc"] == 0 and r.get("run_s"):
                    r["pairs_s"] = n_pairs / r["run_s"]
                    try:
                        r["max_abs_vs_default"] = float(abs(read_scores(out) - scores[prec]).max())
                    except Exception as e:  # noqa: BLE001
                        r["error"] = f"reading {out}: {e}"
                    log(f"ours {prec} {ename}={evalue}: run {r['run_s']:.3f}s ({r['pairs_s']:,.0f} pairs/s)")
                else:
                    log(f"ours {prec} {ename}={evalue}: FAILED: {str(r.get('error'))[-400:]}")
                entry.setdefault("variants", {})[f"{ename}={evalue}"] = r
        elif "error" not in entry:
            entry["error"] = (entry.get("errors") or ["no successful run"])[0]


# ------------------------------------------------------------------------------------------
# PyTorch peer
# ------------------------------------------------------------------------------------------
def torch_dtype(prec: str):
    import torch
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]


def set_ieee_fp32(device: str) -> str:
    """TF32 off for fp32 matrix products (both the old flag and the newer precision knob)."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    except Exception:  # noqa: BLE001  (older/newer torch without the knob)
        pass
    torch.set_float32_matmul_precision("highest")
    return "allow_tf32=False, float32_matmul_precision=highest"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def torch_score(a, prec: str, pairs, device: str) -> tuple[dict, object]:
    """PyTorch's best shot at scoring `pairs`; returns (metrics, scores[n] float64)."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    set_ieee_fp32(device)
    t = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(a.model, use_fast=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        a.model, dtype=torch_dtype(prec), attn_implementation="sdpa").to(device).eval()
    sync(device)
    load_s = time.perf_counter() - t
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    label = a.label
    B = a.torch_batch
    pin = device.startswith("cuda")

    def run(sub):
        n = len(sub)
        t0 = time.perf_counter()
        enc = tok([q for q, _ in sub], [d for _, d in sub], truncation="longest_first",
                  max_length=a.max_length, padding=False, return_attention_mask=False,
                  return_token_type_ids=True)
        ids, tts = enc["input_ids"], enc["token_type_ids"]
        t_tok = time.perf_counter() - t0
        lens = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        order = np.argsort(-lens, kind="stable")      # longest first
        outs, padded = [], 0
        with torch.inference_mode():
            for s in range(0, n, B):
                idx = order[s:s + B]
                L = int(lens[idx[0]])
                x = np.full((len(idx), L), pad_id, dtype=np.int64)
                tt = np.zeros((len(idx), L), dtype=np.int64)
                m = np.zeros((len(idx), L), dtype=np.int64)
                for r, i in enumerate(idx):
                    li = lens[i]
                    x[r, :li] = ids[i]
                    tt[r, :li] = tts[i]
                    m[r, :li] = 1
                padded += len(idx) * L
                xs = [torch.from_numpy(v) for v in (x, tt, m)]
                if pin:
                    xs = [v.pin_memory().to(device, non_blocking=True) for v in xs]
                logits = model(input_ids=xs[0], token_type_ids=xs[1], attention_mask=xs[2]).logits
                outs.append(logits[:, label].float())
            res = torch.cat(outs).cpu().numpy().astype(np.float64)   # synchronises
        sync(device)
        total = time.perf_counter() - t0
        sc = np.empty(n, dtype=np.float64)
        sc[order] = res
        return sc, t_tok, total, padded

    # warm-up: one pass over two batches (the longest and the shortest pairs by characters)
    by_chars = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
    warm_idx = by_chars if a.torch_full_warmup else by_chars[:B] + by_chars[-B:]
    t = time.perf_counter()
    run([pairs[i] for i in warm_idx])
    warm_s = time.perf_counter() - t
    best = None
    for _ in range(a.repeat):
        sc, t_tok, total, padded = run(pairs)
        if best is None or total < best[2]:
            best = (sc, t_tok, total, padded)
    sc, t_tok, total, padded = best
    m = {"load_s": load_s, "warmup_s": warm_s, "run_s": total, "tokenize_s": t_tok,
         "forward_s": total - t_tok, "padded_tokens": padded, "batch": B,
         "attn": getattr(model.config, "_attn_implementation", None), "dtype": str(torch_dtype(prec)),
         "device": device}
    if device.startswith("cuda"):
        m["max_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return m, sc


# ------------------------------------------------------------------------------------------
# parity
# ------------------------------------------------------------------------------------------
def query_groups(meta):
    """Contiguous index ranges of each query (bench_cpu.build_pairs emits query by query)."""
    groups, start = [], 0
    for i in range(1, len(meta) + 1):
        if i == len(meta) or meta[i][0] != meta[start][0]:
            groups.append((start, i))
            start = i
    return groups


def parity(x, ref, groups, k: int = 10, tie: float = 1e-6) -> dict:
    import numpy as np
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    d = x - ref
    inv = cmp = same_top = 0
    worst_q = 0
    taus = []
    for s, e in groups:
        r, y = ref[s:e], x[s:e]
        iu = np.triu_indices(e - s, 1)
        dr = (r[:, None] - r[None, :])[iu]
        dy = (y[:, None] - y[None, :])[iu]
        m = np.abs(dr) >= tie
        n_inv = int(((dr * dy <= 0) & m).sum())
        inv += n_inv
        cmp += int(m.sum())
        if m.sum():
            taus.append(1.0 - 2.0 * n_inv / int(m.sum()))  # Kendall tau over the pairs ref orders
        worst_q = max(worst_q, n_inv)
        kk = min(k, e - s)
        if set(np.argsort(-r, kind="stable")[:kk]) == set(np.argsort(-y, kind="stable")[:kk]):
            same_top += 1
    return {"max_abs": float(np.abs(d).max()) if len(d) else 0.0,
            "rel_l2": float(np.linalg.norm(d) / max(np.linalg.norm(ref), 1e-300)),
            "inverted_pairs": inv, "compared_pairs": cmp,
            "inverted_frac": inv / cmp if cmp else 0.0, "worst_query_inversions": worst_q,
            f"top{k}_identical_frac": same_top / len(groups) if groups else 1.0,
            "kendall_tau_mean": float(np.mean(taus)) if taus else 1.0,
            "kendall_tau_min": float(np.min(taus)) if taus else 1.0,
            "queries": len(groups)}


def read_relevant(data_dir: Path) -> dict:
    """SciFact test qrels: query id -> set of doc ids with relevance > 0."""
    rel: dict = {}
    with open(data_dir / "qrels" / "test.tsv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if (i == 0 and parts[0] == "query-id") or len(parts) < 3 or int(parts[2]) <= 0:
                continue
            rel.setdefault(parts[0], set()).add(parts[1])
    return rel


def ndcg10(x, meta, groups, rel) -> float:
    """Mean nDCG@10 over the queries, trec_eval's conventions: ranked by score, ties by doc id
    descending; gain = relevance (SciFact: 1), discount log2(rank + 1); ideal from the qrels."""
    import math
    tot = 0.0
    for s, e in groups:
        q = meta[s][0]
        ranked = sorted(range(s, e), key=lambda i: meta[i][1], reverse=True)
        ranked.sort(key=lambda i: -float(x[i]))  # stable: equal scores keep doc id descending
        dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(ranked[:10]) if meta[i][1] in rel.get(q, ()))
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(10, len(rel.get(q, ())))))
        tot += dcg / ideal if ideal else 0.0
    return tot / len(groups) if groups else 0.0


# ------------------------------------------------------------------------------------------
# the rerank stage: rerank rerank vs sentence-transformers CrossEncoder.predict
# ------------------------------------------------------------------------------------------
def pipeline_check(a, ours: Ours, work: Path, meta, pairs, ours_scores: dict, left) -> dict:
    import numpy as np
    import torch
    run_path = work / "candidates.run"
    with open(run_path, "w", encoding="utf-8") as f:
        rank = {}
        for q, d in meta:
            rank[q] = rank.get(q, 0) + 1
            f.write(f"{q} Q0 {d} {rank[q]} {1000 - rank[q]} cands\n")
    n = len(meta)
    res: dict = {"pairs": n, "candidates": str(run_path)}
    data = Path(a.data)
    for prec in a.pipeline:
        if left() < 30:
            res.setdefault("skipped", []).append(f"ours {prec}: deadline")
            continue
        outp = work / f"reranked.{prec}.run"
        args = ["--model", a.model, "--run", str(run_path), "--corpus", str(data / "corpus.jsonl.gz"),
                "--queries", str(data / "queries.jsonl.gz"), "--output", str(outp), "--top-n", "0",
                "--device", a.ours_device, "--max-length", str(a.max_length)]
        if a.ours_threads:
            args += ["--threads", str(a.ours_threads)]
        budget = ((ours_scores.get("_best_budget") or {}).get(prec)) or 65536
        args += ["--token-budget", str(budget)]
        r = ours.run("rerank", args, prec)
        e = {k: r.get(k) for k in ("cmd", "rc", "error", "run_s", "load_s", "forward_s", "tokenize_s",
                                    "process_wall_s", "timing_line")}
        if r["rc"] == 0:
            got = {}
            for line in open(outp, encoding="utf-8"):
                q, _, d, _, sc, _ = line.split()
                got[(q, d)] = float(sc)
            sc = np.array([got.get(m, np.nan) for m in meta])
            e["pairs_s_process"] = n / r["process_wall_s"]
            e["pairs_s_run"] = n / r["run_s"] if r.get("run_s") else None
            e["model_share"] = r["forward_s"] / r["process_wall_s"] if r.get("forward_s") else None
            if prec in ours_scores:
                e["max_abs_vs_score"] = float(np.nanmax(np.abs(sc - ours_scores[prec])))
            e["missing"] = int(np.isnan(sc).sum())
            log(f"rerank rerank {prec}: process {r['process_wall_s']:.2f}s ({e['pairs_s_process']:,.0f} pairs/s), "
                f"run {r.get('run_s')}s, forward {r.get('forward_s')}s")
        else:
            log(f"rerank rerank {prec}: FAILED: {str(r.get('error'))[-400:]}")
        res[f"ours {prec}"] = e
    # the peer: CrossEncoder.predict in fp16 (fp32 on a CPU dry run), logits (identity activation)
    peer_prec = "fp16" if a.peer_device.startswith("cuda") else "fp32"
    if left() < 40:
        res.setdefault("skipped", []).append("CrossEncoder.predict: deadline")
        return res
    try:
        from sentence_transformers import CrossEncoder
        import sentence_transformers
        t = time.perf_counter()
        kw = {"device": a.peer_device, "max_length": a.max_length}
        try:
            ce = CrossEncoder(a.model, model_kwargs={"dtype": torch_dtype(peer_prec)}, **kw)
        except TypeError:
            ce = CrossEncoder(a.model, model_kwargs={"torch_dtype": torch_dtype(peer_prec)}, **kw)
        sync(a.peer_device)
        load_s = time.perf_counter() - t
        ident = torch.nn.Identity()
        B = a.torch_batch
        ce.predict(pairs[: 2 * B], batch_size=B, activation_fn=ident, show_progress_bar=False)  # warm-up
        sync(a.peer_device)
        t = time.perf_counter()
        sc = ce.predict(pairs, batch_size=B, activation_fn=ident, show_progress_bar=False, convert_to_numpy=True)
        sync(a.peer_device)
        run_s = time.perf_counter() - t
        sc = np.asarray(sc, dtype=np.float64).reshape(n, -1)[:, a.label]
        p = {"precision": peer_prec, "batch": B, "load_s": load_s, "run_s": run_s, "pairs_s": n / run_s,
             "version": sentence_transformers.__version__}
        if "fp32" in ours_scores:
            p["max_abs_vs_ours_fp32"] = float(np.abs(sc - ours_scores["fp32"]).max())
        res["CrossEncoder.predict"] = p
        log(f"CrossEncoder.predict {peer_prec}: {run_s:.2f}s ({p['pairs_s']:,.0f} pairs/s), batch {B}")
        del ce
        if a.peer_device.startswith("cuda"):
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        res["CrossEncoder.predict"] = {"error": traceback.format_exc()[-2000:]}
        log(traceback.format_exc())
    return res


# ------------------------------------------------------------------------------------------
# embedding check
# ------------------------------------------------------------------------------------------
def read_docs(data_dir: Path, n: int) -> list[str]:
    docs = []
    with gzip.open(data_dir / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            docs.append(bc.clean((o.get("title") or "") + " " + (o.get("text") or "")).strip())
            if len(docs) >= n:
                break
    return [d if d else "." for d in docs]


def embed_check(a, ours: Ours | None, work: Path, device: str, left) -> dict:
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    res = {"model": a.embed_model, "docs": a.embed_docs}
    docs = read_docs(Path(a.data), a.embed_docs)
    res["docs"] = len(docs)
    txt = work / "embed_docs.txt"
    txt.write_text("".join(d + "\n" for d in docs), encoding="utf-8")
    set_ieee_fp32(device)
    # model_kwargs dtype: sentence-transformers otherwise keeps the checkpoint's dtype (BF16 for
    # the bundled trunk), and the reference must be computed in fp32.
    st = SentenceTransformer(a.embed_model, device=device, model_kwargs={"dtype": torch.float32})
    st.encode(docs[:64], batch_size=64, show_progress_bar=False)
    sync(device)
    t = time.perf_counter()
    ref = st.encode(docs, batch_size=256, convert_to_numpy=True, show_progress_bar=False)
    sync(device)
    res["st_fp32"] = {"run_s": time.perf_counter() - t, "max_seq_length": st.max_seq_length,
                      "modules": [type(m).__name__ for m in st],
                      "dtype": str(next(st.parameters()).dtype)}
    del st
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    ref = ref.astype(np.float64)
    refn = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    if ours is None:
        return res
    for prec in a.embed_precisions:
        if left() < 10:
            res[f"ours_{prec}"] = {"error": "skipped: deadline"}
            continue
        out = work / f"embed.ours.{prec}.npy"
        r = ours.run("embed", ["--model", a.embed_model, "--input", str(txt), "--output", str(out),
                               "--device", a.ours_device], prec, timeout_cap=120)
        entry = {k: r.get(k) for k in ("cmd", "rc", "error", "note", "run_s", "load_s", "precision",
                                       "process_wall_s")}
        if r["rc"] == 0:
            try:
                e = np.load(out).astype(np.float64)
                if e.shape != ref.shape:
                    raise ValueError(f"shape {e.shape}, sentence-transformers {ref.shape}")
                en = e / np.linalg.norm(e, axis=1, keepdims=True)
                cos = (en * refn).sum(axis=1)
                entry.update({"cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
                              "max_abs": float(np.abs(e - ref).max())})
                log(f"embed ours {prec}: cosine vs sentence-transformers fp32 min {cos.min():.6f} "
                    f"mean {cos.mean():.6f}")
            except Exception as ex:  # noqa: BLE001
                entry["error"] = f"comparing: {ex}"
        else:
            log(f"embed ours {prec}: FAILED: {str(r.get('error'))[-300:]}")
        res[f"ours_{prec}"] = entry
    return res


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def fmt(x, spec=",.0f", none="—"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return none
    return format(x, spec)


def render_md(R: dict) -> str:
    m = R["machine"]
    w = R.get("workload", {})
    L = [f"# GPU benchmark: rerank vs PyTorch — {R['date']}", "",
         f"- machine: {m.get('gpu')} (driver {m.get('driver')}), {m.get('cpus')} CPUs ({m.get('cpu_model')}); "
         f"torch {m.get('torch')} (CUDA {m.get('torch_cuda')}), transformers {m.get('transformers')}, "
         f"sentence-transformers {m.get('sentence_transformers')}, Python {m.get('python')}",
         f"- command: `{R['command']}`",
         f"- model: {R['args']['model']} (every engine loads the same files; on the GPU machine "
         f"the trunk is BF16-rounded, see bench/gpu_bundle.sh)",
         f"- workload: {w.get('pairs', 0):,} pairs ({w.get('queries')} SciFact queries × "
         f"{w.get('per_query')}), {w.get('tokens', 0):,} real tokens (mean {fmt(w.get('mean'), '.1f')}, "
         f"max length {R['args']['max_length']}, {w.get('truncated', 0):,} truncated), "
         f"{fmt(w.get('gflop'), ',.0f')} useful GFLOP", ""]
    L += ["## Throughput", "",
          "| precision | engine | pairs/s (run) | tokens/s | TFLOP/s | run s | tokenize s | "
          "process/load s | pairs/s (process) | ours/torch |",
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for prec in R["args"]["precisions"]:
        o = R["ours"].get(prec, {})
        t = R["torch"].get(prec, {})
        ratio = R["ratios"].get(prec, {})
        ob = o.get("best")
        if ob:
            L.append(f"| {prec} | ours (budget {ob.get('token_budget') or 'default'}) | {fmt(ob.get('pairs_s'))} | "
                     f"{fmt(ob.get('tokens_s'))} | {fmt(ob.get('tflops'), '.1f')} | {fmt(ob.get('run_s'), '.3f')} | "
                     f"{fmt(ob.get('tokenize_s'), '.3f')} | {fmt(ob.get('process_wall_s'), '.2f')} | "
                     f"{fmt(ob.get('pairs_s_process'))} | {fmt(ratio.get('run'), '.2f')}× |")
        elif o:
            L.append(f"| {prec} | ours | failed | | | | | | | |")
        if t.get("run_s"):
            L.append(f"| {prec} | torch | {fmt(t.get('pairs_s'))} | {fmt(t.get('tokens_s'))} | "
                     f"{fmt(t.get('tflops'), '.1f')} | {fmt(t.get('run_s'), '.3f')} | {fmt(t.get('tokenize_s'), '.3f')} | "
                     f"{fmt(t.get('load_s'), '.2f')} (load) | | |")
        elif t:
            L.append(f"| {prec} | torch | failed | | | | | | | |")
    L += ["", "ours: `run=` of the timing line (tokenize + forward, model load excluded); "
          "process = the whole `rerank score` process (CUDA init and load included). torch: "
          "tokenize + batching + forward, synchronised, after a warm-up pass; load excluded. "
          f"TFLOP/s counts useful matrix FLOPs only (bench/README.md). torch pads each batch of "
          f"{R['args']['torch_batch']} to its longest pair: computed tokens "
          + ", ".join(f"{p} {fmt(R['torch'][p].get('padded_ratio'), '.2f')}×" for p in R["torch"]
                      if R["torch"][p].get("padded_ratio")) + "; ours packs sequences (1.00×).", ""]
    # every ours run
    runs = [(p, r) for p in R["args"]["precisions"] for r in R["ours"].get(p, {}).get("runs", [])]
    if runs:
        L += ["All runs of ours:", ""]
        for p, r in runs:
            if r.get("rc") == 0:
                L.append(f"- {p}, budget {r.get('token_budget') or 'default'}: run {fmt(r.get('run_s'), '.3f')} s, "
                         f"load {fmt(r.get('load_s'), '.3f')} s, passes {r.get('passes')}, `{r.get('timing_line')}`")
            else:
                L.append(f"- {p}, budget {r.get('token_budget') or 'default'}: FAILED (rc {r.get('rc')}): "
                         f"`{str(r.get('error'))[-300:]}`")
        L.append("")
    errs = [(p, R["ours"][p]["error"]) for p in R["ours"] if R["ours"][p].get("error")]
    errs += [(f"torch {p}", R["torch"][p]["error"]) for p in R["torch"] if R["torch"][p].get("error")]
    if errs:
        L += ["Errors:", ""] + [f"- {p}: ```{str(e)[-1200:]}```" for p, e in errs] + [""]
    L += ["## Parity (reference: PyTorch fp32 logits, unless the row names another)", "",
          "| engine | max abs diff | ‖a−b‖/‖b‖ | inverted pairs | worst query | top-10 identical | "
          "Kendall tau mean (min) |",
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k, p in R["parity"].items():
        L.append(f"| {k} | {p['max_abs']:.2e} | {p['rel_l2']:.2e} | {p['inverted_pairs']:,} / "
                 f"{p['compared_pairs']:,} ({p['inverted_frac']:.2e}) | {p['worst_query_inversions']} | "
                 f"{p['top10_identical_frac']:.1%} | {p.get('kendall_tau_mean', float('nan')):.4f} "
                 f"({p.get('kendall_tau_min', float('nan')):.4f}) |")
    if R.get("ndcg10"):
        L += ["", "nDCG@10 on the SciFact test qrels (each query's candidates: its relevant documents + "
              "random ones; trec_eval's tie order): " +
              ", ".join(f"{k} {v:.4f}" for k, v in R["ndcg10"].items())]
    for prec, e in R["ours"].items():
        for vname, v in (e.get("variants") or {}).items() if isinstance(e, dict) else []:
            L.append(f"- variant {prec} {vname}: " + (
                f"run {v['run_s']:.3f} s, {v['pairs_s']:,.0f} pairs/s (default kernel in the same run: "
                f"{fmt((e.get('best') or {}).get('pairs_s'))} pairs/s), max |Δ| vs default "
                f"{v.get('max_abs_vs_default', float('nan')):.2e}" if v.get("run_s") else
                f"FAILED: {str(v.get('error'))[-300:]}"))
    pl = R.get("pipeline") or {}
    if pl:
        ce = pl.get("CrossEncoder.predict") or {}
        L += ["", f"## The rerank stage: `rerank rerank` vs sentence-transformers CrossEncoder.predict "
              f"({pl.get('pairs', 0):,} pairs)", "",
              "| engine | pairs/s (whole process) | pairs/s (run) | model share of the process | "
              "max abs vs `rerank score` | vs CrossEncoder.predict |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for k, v in pl.items():
            if k.startswith("ours ") and isinstance(v, dict):
                if v.get("rc") == 0:
                    ratio = v["pairs_s_process"] / ce["pairs_s"] if ce.get("pairs_s") else None
                    L.append(f"| rerank rerank {k[5:]} | {fmt(v.get('pairs_s_process'))} | {fmt(v.get('pairs_s_run'))} | "
                             f"{fmt(v.get('model_share'), '.1%')} | {fmt(v.get('max_abs_vs_score'), '.1e')} | "
                             f"{fmt(ratio, '.2f')}× |")
                else:
                    L.append(f"| rerank rerank {k[5:]} | FAILED: `{str(v.get('error'))[-200:]}` | | | | |")
        if ce.get("pairs_s"):
            L.append(f"| CrossEncoder.predict {ce['precision']} (batch {ce['batch']}, sentence-transformers "
                     f"{ce.get('version')}) | | {fmt(ce['pairs_s'])} | | max abs vs ours fp32 "
                     f"{fmt(ce.get('max_abs_vs_ours_fp32'), '.1e')} | 1.00× |")
        elif ce.get("error"):
            L.append(f"| CrossEncoder.predict | FAILED: `{str(ce['error']).strip().splitlines()[-1][-200:]}` | | | | |")
        L.append("")
        L.append("`rerank rerank` process = reading the BEIR corpus and queries and the candidate run, "
                 "loading the model, CUDA start-up, tokenizing, scoring, sorting and writing the run; "
                 "CrossEncoder.predict = tokenize + forward of the same pairs, model already loaded.")
    c = R.get("cpu_check")
    if c:
        L += ["", f"**ours-cpu vs ours-cuda fp32** (first {c.get('pairs')} pairs, `--device cpu "
              f"--threads {c.get('threads')}`): " +
              ("; ".join(f"{k}: max |Δ| {v['max_abs']:.2e}, rel {v['rel_l2']:.2e}, inverted "
                         f"{v['inverted_pairs']}, top-10 identical {v['top10_identical_frac']:.0%}"
                         for k, v in c.get("vs", {}).items()) or f"error: {c.get('error')}")
              + (f"; cpu run {fmt(c.get('run_s'), '.2f')} s ({fmt(c.get('pairs_s'), '.1f')} pairs/s)" if c.get("run_s") else "")]
    e = R.get("embed")
    if e:
        L += ["", f"**Embeddings** ({e.get('docs')} SciFact docs, {e.get('model')}), cosine vs "
              f"sentence-transformers fp32 on {R['args']['peer_device']}"
              f" ({fmt(e.get('st_fp32', {}).get('run_s'), '.2f')} s):"]
        for k, v in e.items():
            if k.startswith("ours_"):
                if v.get("cos_min") is not None:
                    L.append(f"- {k}: min {v['cos_min']:.6f}, mean {v['cos_mean']:.6f}, max |Δ| "
                             f"{v['max_abs']:.2e}, run {fmt(v.get('run_s'), '.3f')} s")
                else:
                    L.append(f"- {k}: {str(v.get('error'))[-400:]}")
        if e.get("error"):
            L.append(f"- error: {e['error'][-600:]}")
    L += ["", "## Notes", ""] + [f"- {n}" for n in R["notes"]]
    if R.get("skipped"):
        L += [f"- skipped: {', '.join(R['skipped'])}"]
    L += ["", "## Commands", ""] + [f"- `{c}`" for c in R.get("commands", [])]
    return "\n".join(L) + "\n"


def short_table(R: dict) -> str:
    w = R.get("workload", {})
    rows = [f"======== bench_gpu summary: {w.get('pairs', 0):,} pairs, {w.get('tokens', 0):,} tokens, "
            f"{R['machine'].get('gpu')} ========",
            f"{'prec':5} {'ours p/s':>10} {'torch p/s':>10} {'ours/torch':>10} {'ours maxΔ':>10} "
            f"{'ours inv':>9} {'top10':>6} {'torch maxΔ':>10} {'torch inv':>9}"]
    for prec in R["args"]["precisions"]:
        ob = R["ours"].get(prec, {}).get("best") or {}
        t = R["torch"].get(prec, {})
        po = R["parity"].get(f"ours {prec}", {})
        pt = R["parity"].get(f"torch {prec}", {})
        oerr = "FAILED" if R["ours"].get(prec, {}).get("error") and not ob else "—"
        rows.append(f"{prec:5} {fmt(ob.get('pairs_s'), ',.0f', oerr):>10} {fmt(t.get('pairs_s'), ',.0f'):>10} "
                    f"{fmt(R['ratios'].get(prec, {}).get('run'), '.2f'):>10} {fmt(po.get('max_abs'), '.1e'):>10} "
                    f"{fmt(po.get('inverted_frac'), '.1e'):>9} {fmt(po.get('top10_identical_frac'), '.0%'):>6} "
                    f"{fmt(pt.get('max_abs'), '.1e'):>10} {fmt(pt.get('inverted_frac'), '.1e'):>9}")
    c = R.get("cpu_check") or {}
    if c.get("vs"):
        v = c["vs"].get("ours-cpu vs ours-cuda fp32") or next(iter(c["vs"].values()))
        rows.append(f"ours-cpu vs ours-cuda fp32 ({c.get('pairs')} pairs): max |Δ| {v['max_abs']:.1e}, "
                    f"inverted {v['inverted_pairs']}")
    elif c.get("error"):
        rows.append(f"ours-cpu check: {str(c['error'])[-150:]}")
    e = R.get("embed") or {}
    for k, v in e.items():
        if k.startswith("ours_"):
            rows.append(f"embed {k[5:]}: " + (f"cos min {v['cos_min']:.6f} mean {v['cos_mean']:.6f}"
                                              if v.get("cos_min") is not None else str(v.get("error"))[-150:].replace("\n", " ")))
    for p in R["args"]["precisions"]:
        err = R["ours"].get(p, {}).get("error")
        if err and not R["ours"][p].get("best"):
            rows.append(f"ours {p} error: " + str(err).strip().splitlines()[-1][-200:])
    for prec, e in R["ours"].items():
        for vname, v in (e.get("variants") or {}).items() if isinstance(e, dict) else []:
            rows.append(f"{prec} {vname}: " + (f"{v['pairs_s']:,.0f} pairs/s, max |Δ| vs default "
                                                f"{fmt(v.get('max_abs_vs_default'), '.1e')}" if v.get("pairs_s") else "FAILED"))
    for k, v in (R.get("parity") or {}).items():
        if "vs ours fp32" in k:
            rows.append(f"{k}: Kendall tau mean {v['kendall_tau_mean']:.4f} min {v['kendall_tau_min']:.4f}")
    if R.get("ndcg10"):
        rows.append("nDCG@10: " + ", ".join(f"{k} {v:.4f}" for k, v in R["ndcg10"].items()))
    pl = R.get("pipeline") or {}
    for k, v in pl.items():
        if k.startswith("ours ") and isinstance(v, dict):
            rows.append(f"rerank rerank {k[5:]}: {fmt(v.get('pairs_s_process'))} pairs/s (process), "
                        f"model share {fmt(v.get('model_share'), '.1%')}" if v.get("rc") == 0 else f"rerank rerank {k[5:]}: FAILED")
    if (pl.get("CrossEncoder.predict") or {}).get("pairs_s"):
        rows.append(f"CrossEncoder.predict {pl['CrossEncoder.predict']['precision']}: "
                    f"{pl['CrossEncoder.predict']['pairs_s']:,.0f} pairs/s")
    if R.get("skipped"):
        rows.append("skipped: " + ", ".join(R["skipped"]))
    return "\n".join(rows)


def write_report(R: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    R["elapsed_s"] = round(time.time() - T0, 1)
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(R, indent=1, default=str))
    os.replace(tmp, out / "report.json")
    tmp = out / "report.md.tmp"
    tmp.write_text(render_md(R))
    os.replace(tmp, out / "report.md")


# ------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cache = Path.home() / ".cache" / "rerank" / "models"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--rerank", default=str(REPO / "build" / "rerank"), help="our binary")
    ap.add_argument("--model", default=str(cache / "test-cross-encoder"), help="cross-encoder directory")
    ap.add_argument("--embed-model", default=None,
                    help="bi-encoder for the embedding check (default: all-MiniLM-L6-v2 beside --model)")
    ap.add_argument("--data", default=str(REPO / "data" / "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--out", default=str(REPO / "build" / "bench-gpu"), help="report.json and report.md go here")
    ap.add_argument("--work", default=None, help="scratch (pairs, scores); default: a temporary directory")
    ap.add_argument("--queries", type=int, default=None, help="first N SciFact test queries (default all 300)")
    ap.add_argument("--per-query", type=int, default=100, help="passages per query")
    ap.add_argument("--seed", type=int, default=13, help="random.Random seed (as bench_cpu.py)")
    ap.add_argument("--max-length", type=int, default=512, help="tokens per pair, specials included")
    ap.add_argument("--label", type=int, default=0, help="which logit")
    ap.add_argument("--precisions", default="fp32,bf16,fp16", help="comma list of fp32,bf16,fp16")
    ap.add_argument("--token-budget", default="16384,65536",
                    help="ours: comma list of --token-budget values to try (the best run counts; "
                         "'default' = the CLI's)")
    ap.add_argument("--pipeline", default="bf16,fp16",
                    help="precisions for the rerank-stage check (rerank rerank vs CrossEncoder.predict); '' = off")
    ap.add_argument("--attn-variants", default="",
                    help="ours bf16/fp16: also time these kernel variants, a comma list of RR_CUDA_ATTN "
                         "values (wmma, simt) or NAME=VALUE environment settings (RR_CUDA_BIAS_ACT=scalar)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per engine/setting (best counts)")
    ap.add_argument("--warmup-pairs", type=int, default=2000, help="ours: pairs of the warm-up process")
    ap.add_argument("--torch-batch", type=int, default=256, help="PyTorch batch size")
    ap.add_argument("--torch-full-warmup", action="store_true",
                    help="PyTorch warm-up over all pairs (default: the longest and the shortest batch)")
    ap.add_argument("--peer-device", default="cuda", help="device of PyTorch / sentence-transformers")
    ap.add_argument("--ours-device", default="cuda", help="--device for rerank score / embed")
    ap.add_argument("--ours-threads", type=int, default=None, help="--threads for ours on --ours-device")
    ap.add_argument("--skip-ours", action="store_true", help="PyTorch side only")
    ap.add_argument("--skip-torch", action="store_true",
                    help="ours only (no PyTorch timing; the fp32 reference is still computed)")
    ap.add_argument("--cpu-check-pairs", type=int, default=2000, help="ours-cpu vs ours-cuda fp32 (0: off)")
    ap.add_argument("--cpu-threads", type=int, default=16, help="threads for the ours-cpu check")
    ap.add_argument("--embed-docs", type=int, default=2000, help="embedding check: SciFact docs (0: off)")
    ap.add_argument("--embed-precisions", default="fp32,bf16", help="ours embed precisions")
    ap.add_argument("--rerank-ld-path", default=os.environ.get("RR_LD_LIBRARY_PATH"),
                    help="prepended to LD_LIBRARY_PATH for our processes only")
    ap.add_argument("--deadline", type=float, default=None,
                    help="seconds: skip what would start after this, write the report in time")
    ap.add_argument("--dry-run", action="store_true",
                    help="CPU-only smoke test: --peer-device cpu --ours-device cpu --precisions fp32 "
                         "--queries 2 --per-query 5 --cpu-check-pairs 10 --embed-docs 20 "
                         "--torch-batch 4 --warmup-pairs 4 --token-budget default (explicit options win)")
    a = ap.parse_args(argv)
    if a.dry_run:
        ap.set_defaults(pipeline="fp32", peer_device="cpu", ours_device="cpu", precisions="fp32", queries=2, per_query=5,
                        cpu_check_pairs=10, embed_docs=20, torch_batch=4, warmup_pairs=4,
                        token_budget="default", embed_precisions="fp32", ours_threads=2, cpu_threads=2)
        a = ap.parse_args(argv)
    a.precisions = [p.strip() for p in a.precisions.split(",") if p.strip()]
    a.pipeline = [p.strip() for p in a.pipeline.split(",") if p.strip()]
    a.embed_precisions = [p.strip() for p in a.embed_precisions.split(",") if p.strip()]
    for p in a.precisions + a.embed_precisions:
        if p not in PRECISIONS:
            ap.error(f"unknown precision {p} (fp32, bf16, fp16)")
    budgets = [None if b.strip() in ("default", "0", "") else int(b) for b in a.token_budget.split(",")]
    if a.embed_model is None:
        a.embed_model = str(Path(a.model).parent / "all-MiniLM-L6-v2")
    a.rerank = str(Path(a.rerank).resolve()) if Path(a.rerank).exists() else a.rerank
    deadline = T0 + a.deadline if a.deadline else math.inf

    def left() -> float:
        return deadline - time.time()

    try:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001
        pass
    out = Path(a.out)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="rr-bench-gpu."))
    work.mkdir(parents=True, exist_ok=True)
    import numpy as np

    R = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
         "command": "python3 bench/bench_gpu.py " + shlex.join(argv),
         "args": {k: v for k, v in vars(a).items()}, "machine": machine_info(a.peer_device),
         "ours": {}, "torch": {}, "ratios": {}, "parity": {}, "notes": [], "skipped": [],
         "commands": []}
    notes = R["notes"]
    if a.peer_device.startswith("cuda"):
        notes.append("PyTorch fp32 runs with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False, "
                     "float32_matmul_precision 'highest'): IEEE fp32 products, as ours at fp32")
    notes.append(f"PyTorch peer: AutoModelForSequenceClassification(dtype=…, attn_implementation='sdpa'), "
                 f"HF fast tokenizer over all pairs at once (inside the timed region), sorted by token "
                 f"length, batches of {a.torch_batch} padded to their longest, torch.inference_mode, "
                 f"pinned host→device copies; no torch.compile / CUDA graphs")
    log(f"machine: {R['machine'].get('gpu')}, torch {R['machine'].get('torch')}")

    # 1. workload
    pairs, meta = bc.build_pairs(Path(a.data), a.queries, a.per_query, a.seed)
    groups = query_groups(meta)
    pairs_tsv = work / "pairs.tsv"
    bc.write_tsv(pairs, pairs_tsv)
    warm_tsv = work / "pairs.warm.tsv"
    bc.write_tsv(pairs[: max(1, min(a.warmup_pairs, len(pairs)))], warm_tsv)
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(a.model, use_fast=True)
    enc = tok([q for q, _ in pairs], [d for _, d in pairs], truncation="longest_first",
              max_length=a.max_length, padding=False, return_attention_mask=False)
    lengths = [len(x) for x in enc["input_ids"]]
    del enc, tok
    mcfg = json.loads((Path(a.model) / "config.json").read_text())
    flops_of = bc.flop_model(mcfg)
    gflop = sum(flops_of(L) for L in lengths) * 1e-9
    R["workload"] = {"pairs": len(pairs), "queries": len(groups), "per_query": a.per_query,
                     "tokens": sum(lengths), "mean": sum(lengths) / len(lengths), "max": max(lengths),
                     "truncated": sum(1 for L in lengths if L >= a.max_length), "gflop": gflop,
                     "pairs_tsv": str(pairs_tsv)}
    real_tokens = sum(lengths)
    log(f"{len(pairs):,} pairs from {len(groups)} queries, {real_tokens:,} tokens, {gflop:,.0f} GFLOP; work {work}")
    write_report(R, out)

    # 2. ours, every precision
    ours = None
    ours_scores: dict = {}
    if a.skip_ours:
        R["skipped"].append("ours (--skip-ours)")
    elif not Path(a.rerank).exists():
        R["skipped"].append(f"ours ({a.rerank} not found)")
    else:
        ours = Ours(a, left)
        try:
            run_ours_score(ours, a, pairs_tsv, warm_tsv, len(pairs), real_tokens, work, R["ours"],
                           ours_scores, notes, budgets)
        except Exception:  # noqa: BLE001
            R["ours"]["exception"] = {"error": traceback.format_exc()}
            log(traceback.format_exc())
        for prec, e in R["ours"].items():
            b = e.get("best") if isinstance(e, dict) else None
            if b and b.get("run_s"):
                b["tflops"] = gflop / b["run_s"] * 1e-3
            for r in e.get("runs", []) if isinstance(e, dict) else []:
                R["commands"].append(r["cmd"])
        write_report(R, out)

    # 3. PyTorch: fp32 first (the reference), then the others
    torch_scores: dict = {}
    order = ["fp32"] + [p for p in a.precisions if p != "fp32"]
    for prec in order:
        if prec != "fp32" and a.skip_torch:
            continue
        if left() < (30 if prec == "fp32" else 20):
            R["skipped"].append(f"torch {prec} (deadline)")
            continue
        log(f"torch {prec} on {a.peer_device} ...")
        try:
            m, sc = torch_score(a, prec, pairs, a.peer_device)
            m["pairs_s"] = len(pairs) / m["run_s"]
            m["tokens_s"] = real_tokens / m["run_s"]
            m["tflops"] = gflop / m["run_s"] * 1e-3
            m["padded_ratio"] = m["padded_tokens"] / real_tokens
            torch_scores[prec] = sc
            if prec in a.precisions and not a.skip_torch:
                R["torch"][prec] = m
            else:
                R["notes"].append(f"torch fp32 ran as the reference only ({m['run_s']:.2f} s)")
            log(f"torch {prec}: run {m['run_s']:.3f}s ({m['pairs_s']:,.0f} pairs/s; tokenize "
                f"{m['tokenize_s']:.2f}s), load {m['load_s']:.1f}s")
        except Exception:  # noqa: BLE001
            R["torch"][prec] = {"error": traceback.format_exc()[-3000:]}
            log(f"torch {prec}: FAILED\n{traceback.format_exc()}")
        write_report(R, out)

    # 4. ratios and parity
    for prec in a.precisions:
        ob = (R["ours"].get(prec) or {}).get("best")
        t = R["torch"].get(prec) or {}
        if ob and t.get("pairs_s") and ob.get("pairs_s"):
            R["ratios"][prec] = {"run": ob["pairs_s"] / t["pairs_s"],
                                 "process": ob["pairs_s_process"] / t["pairs_s"]}
    ref = torch_scores.get("fp32")
    if ref is not None:
        for prec in a.precisions:
            if prec in ours_scores:
                R["parity"][f"ours {prec}"] = parity(ours_scores[prec], ref, groups)
            if prec in torch_scores and prec != "fp32":
                R["parity"][f"torch {prec}"] = parity(torch_scores[prec], ref, groups)
    else:
        notes.append("no PyTorch fp32 reference: parity not computed")
    # reduced precisions against ours fp32 (issue 3: every query's order, Kendall tau >= 0.99,
    # nDCG@10 equal to three decimals); nDCG@10 of every score set on the SciFact qrels
    rel = read_relevant(Path(a.data))
    R["ndcg10"] = {}
    for name, sc in [(f"ours {p}", ours_scores.get(p)) for p in a.precisions] + \
                    [(f"torch {p}", torch_scores.get(p)) for p in order]:
        if sc is not None:
            R["ndcg10"][name] = ndcg10(sc, meta, groups, rel)
    if "fp32" in ours_scores:
        for prec in a.precisions:
            if prec != "fp32" and prec in ours_scores:
                R["parity"][f"ours {prec} vs ours fp32"] = parity(ours_scores[prec], ours_scores["fp32"], groups)
    if "fp32" in ours_scores:
        np.save(work / "scores.ours.fp32.npy", ours_scores["fp32"])
    write_report(R, out)

    # 5. ours on the CPU vs ours on CUDA (fp32), first --cpu-check-pairs pairs
    if ours is not None and a.cpu_check_pairs > 0:
        n = min(a.cpu_check_pairs, len(pairs))
        if left() < 40:
            R["skipped"].append("ours-cpu check (deadline)")
        else:
            sub_tsv = work / "pairs.cpu.tsv"
            bc.write_tsv(pairs[:n], sub_tsv)
            outp = work / "scores.ours.cpu.txt"
            log(f"ours-cpu: {n} pairs, {a.cpu_threads} threads")
            r = ours.run("score", ["--model", a.model, "--pairs", str(sub_tsv), "--device", "cpu",
                                   "--threads", str(a.cpu_threads), "--max-length", str(a.max_length),
                                   "--output", str(outp)], None, timeout_cap=max(30.0, min(600.0, left() - 30)))
            R["commands"].append(r["cmd"])
            c = {"pairs": n, "threads": a.cpu_threads, "cmd": r["cmd"], "rc": r["rc"], "vs": {}}
            if r["rc"] == 0:
                c["run_s"] = r.get("run_s")
                c["pairs_s"] = n / r["run_s"] if r.get("run_s") else None
                cpu = read_scores(outp)
                g = query_groups(meta[:n])
                if "fp32" in ours_scores:
                    c["vs"]["ours-cpu vs ours-cuda fp32"] = parity(cpu, ours_scores["fp32"][:n], g)
                if ref is not None:
                    c["vs"]["ours-cpu vs torch fp32"] = parity(cpu, ref[:n], g)
                log("ours-cpu: " + "; ".join(f"{k} max |Δ| {v['max_abs']:.2e}" for k, v in c["vs"].items()))
            else:
                c["error"] = r.get("error")
                log(f"ours-cpu: FAILED: {str(r.get('error'))[-300:]}")
            R["cpu_check"] = c
        write_report(R, out)

    # 6. embeddings
    if a.embed_docs > 0:
        if not (Path(a.embed_model) / "config.json").exists():
            R["skipped"].append(f"embedding check ({a.embed_model} not found)")
        elif left() < 30:
            R["skipped"].append("embedding check (deadline)")
        else:
            log(f"embedding check: {a.embed_docs} docs, {a.embed_model}")
            try:
                R["embed"] = embed_check(a, ours, work, a.peer_device, left)
            except Exception:  # noqa: BLE001
                R["embed"] = {"error": traceback.format_exc()[-3000:]}
                log(traceback.format_exc())
            for k, v in R.get("embed", {}).items():
                if k.startswith("ours_") and v.get("cmd"):
                    R["commands"].append(v["cmd"])
        write_report(R, out)

    # 7. the rerank stage as users run it: `rerank rerank` over a TREC run of the same candidates
    #    (BEIR corpus + queries read, pairs built, scored, sorted, run written: the whole process)
    #    against sentence-transformers CrossEncoder.predict on the same pairs
    if a.pipeline and ours is not None:
        try:
            R["pipeline"] = pipeline_check(a, ours, work, meta, pairs, ours_scores, left)
        except Exception:  # noqa: BLE001
            R["pipeline"] = {"error": traceback.format_exc()[-3000:]}
            log(traceback.format_exc())
        for k, v in (R.get("pipeline") or {}).items():
            if isinstance(v, dict) and v.get("cmd"):
                R["commands"].append(v["cmd"])
        write_report(R, out)

    write_report(R, out)
    log(f"wrote {out / 'report.json'} and {out / 'report.md'} ({time.time() - T0:.0f}s)")
    print(short_table(R), flush=True)
    failed = any(isinstance(e, dict) and e.get("error") and not e.get("best") for e in R["ours"].values())
    failed = failed or any(t.get("error") for t in R["torch"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
