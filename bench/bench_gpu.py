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

The card's matrix rate, same run: torch.matmul (cuBLAS) of 8192² by 8192² in bf16 and fp16, best
of 10 CUDA-event timings after a warm-up; every "% of" in the report divides by the bf16 rate.

Fixed lengths (issue 3's speed goals), for each L of --fixed-lengths, 256 first: the pairs whose
untruncated length is ≥ L, truncated at L by every engine (exactly L tokens, checked), --fixed-pairs
of them for ours (bf16, fp16 at --token-budget 65536, then the other budgets), the first
--fixed-peer-pairs for PyTorch (sorted, SDPA) and CrossEncoder.predict fp16; pairs/s, TFLOP/s, % of
the bf16 rate, ours/CrossEncoder and ours/PyTorch against the goals. Deadline-aware: a run starts
only when its estimate ends --fixed-reserve s before --deadline (the checks after it keep that).

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
import inspect
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


def parse_env(items: str, default_name: str | None = None) -> list[tuple[str, str]]:
    """A comma list of NAME=VALUE settings; a bare VALUE means default_name=VALUE (when given)."""
    res = []
    for item in (x.strip() for x in items.split(",")):
        if not item:
            continue
        if "=" not in item and default_name is None:
            raise ValueError(f"{item!r} is not NAME=VALUE")
        name, value = item.split("=", 1) if "=" in item else (default_name, item)
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not an environment variable name")
        res.append((name, value))
    return res


def parse_variants(items: str) -> list[tuple[str, dict[str, str]]]:
    """--attn-variants: a comma list of variants, each one or more settings joined by '+'
    (RR_CUDA_GELU_GEMM=exact+RR_CUDA_LN=v1); a bare VALUE is RR_CUDA_ATTN=VALUE. Returns
    (label, environment) per variant."""
    res = []
    for item in (x.strip() for x in items.split(",")):
        if item:
            env = dict(parse_env(item.replace("+", ","), "RR_CUDA_ATTN"))
            res.append(("+".join(f"{k}={v}" for k, v in env.items()), env))
    return res


def variant_scores(work: Path, prec: str, vname: str) -> Path:
    """Where ours' scores of a SciFact run with variant vname go (written, then read back)."""
    return work / f"scores.ours.{prec}.{vname.replace('=', '-')}.txt"


class Ours:
    def __init__(self, a, left):
        self.a = a
        self.left = left
        self.env = dict(os.environ)
        if a.rerank_ld_path:
            old = self.env.get("LD_LIBRARY_PATH")
            self.env["LD_LIBRARY_PATH"] = a.rerank_ld_path + (f":{old}" if old else "")
        self.extra = dict(a.ours_env)        # --ours-env: every run of ours
        self.env.update(self.extra)

    def run(self, sub: str, args: list[str], precision: str | None, timeout_cap: float = 600.0,
            env: dict[str, str] | None = None) -> dict:
        """One `rerank SUB ARGS [--precision P] --timing` process, with `env` added to the
        environment (a variant). Returns a dict with rc, the parsed timing line, wall time, the
        command (extra environment first), and the error text when it failed. When --precision
        itself is refused and P is fp32, runs again without it (noted)."""
        cmd = [self.a.rerank, sub] + args + ["--timing"]
        if precision is not None:
            cmd += ["--precision", precision]
        res = self._run(cmd, timeout_cap, env or {})
        if (res["rc"] != 0 and precision == "fp32" and "precision" in res.get("error", "")
                and ("unknown" in res["error"] or "option" in res["error"])):
            res2 = self._run(cmd[:-2], timeout_cap, env or {})
            res2["note"] = "--precision refused; ran without it (fp32 is the default)"
            res2["first_error"] = res["error"]
            res = res2
        return res

    def _run(self, cmd: list[str], timeout_cap: float, env: dict[str, str]) -> dict:
        timeout = max(5.0, min(timeout_cap, self.left() - 5))   # timeout_cap is finite
        shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**self.extra, **env}.items())
        shown = (shown + " " if shown else "") + shlex.join(cmd)
        t = time.perf_counter()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**self.env, **env}, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            return {"cmd": shown, "rc": None, "error": f"timeout after {timeout:.0f}s; "
                    f"stderr tail: {err[-1500:]}", "process_wall_s": time.perf_counter() - t}
        except OSError as e:
            return {"cmd": shown, "rc": None, "error": str(e), "process_wall_s": 0.0}
        wall = time.perf_counter() - t
        res = {"cmd": shown, "rc": p.returncode, "process_wall_s": wall}
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
            for vname, venv in a.attn_variants if prec != "fp32" else []:
                if ours.left() < 20:
                    entry.setdefault("skipped", []).append(f"{vname}: deadline")
                    continue
                out = variant_scores(work, prec, vname)
                args = base + ["--pairs", str(pairs_tsv), "--output", str(out)]
                if best.get("token_budget"):
                    args += ["--token-budget", str(best["token_budget"])]
                r = ours.run("score", args, prec, env=venv)
                if r["rc"] == 0 and r.get("run_s"):
                    r["pairs_s"] = n_pairs / r["run_s"]
                    try:
                        r["max_abs_vs_default"] = float(abs(read_scores(out) - scores[prec]).max())
                    except Exception as e:  # noqa: BLE001
                        r["error"] = f"reading {out}: {e}"
                    log(f"ours {prec} {vname}: run {r['run_s']:.3f}s ({r['pairs_s']:,.0f} pairs/s)")
                else:
                    log(f"ours {prec} {vname}: FAILED: {str(r.get('error'))[-400:]}")
                entry.setdefault("variants", {})[vname] = r
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


def padded_batches(ids, tts, lens, order, batch: int, pad_id: int):
    """Yield (indices, input ids, token types, mask), numpy int64, per batch of `batch` pairs
    taken in `order` (pairs sorted by token count, longest first), each padded to its longest."""
    import numpy as np
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        L = int(lens[idx[0]])
        x = np.full((len(idx), L), pad_id, dtype=np.int64)
        tt = np.zeros((len(idx), L), dtype=np.int64)
        m = np.zeros((len(idx), L), dtype=np.int64)
        for r, i in enumerate(idx):
            li = lens[i]
            x[r, :li] = ids[i]
            tt[r, :li] = tts[i]
            m[r, :li] = 1
        yield idx, x, tt, m


def torch_score(a, prec: str, pairs, device: str, max_length: int) -> tuple[dict, object]:
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
    # ModernBERT's forward takes no token_type_ids
    use_tt = "token_type_ids" in inspect.signature(model.forward).parameters

    def run(sub):
        n = len(sub)
        t0 = time.perf_counter()
        enc = tok([q for q, _ in sub], [d for _, d in sub], truncation="longest_first",
                  max_length=max_length, padding=False, return_attention_mask=False,
                  return_token_type_ids=True)
        ids, tts = enc["input_ids"], enc["token_type_ids"]
        t_tok = time.perf_counter() - t0
        lens = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        order = np.argsort(-lens, kind="stable")      # longest first
        outs, padded = [], 0
        with torch.inference_mode():
            for idx, x, tt, m in padded_batches(ids, tts, lens, order, B, pad_id):
                padded += x.size
                xs = [torch.from_numpy(v) for v in (x, tt, m)]
                if pin:
                    xs = [v.pin_memory().to(device, non_blocking=True) for v in xs]
                kw = {"token_type_ids": xs[1]} if use_tt else {}
                logits = model(input_ids=xs[0], attention_mask=xs[2], **kw).logits
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
    if left() < 40:
        res.setdefault("skipped", []).append("CrossEncoder.predict: deadline")
        return res
    try:
        p, sc = ce_predict(a, pairs, a.max_length)
        if "fp32" in ours_scores:
            p["max_abs_vs_ours_fp32"] = float(np.abs(sc - ours_scores["fp32"]).max())
        res["CrossEncoder.predict"] = p
    except Exception:  # noqa: BLE001
        res["CrossEncoder.predict"] = {"error": traceback.format_exc()[-2000:]}
        log(traceback.format_exc())
    return res


def ce_precision(a) -> str:
    return "fp16" if a.peer_device.startswith("cuda") else "fp32"


def ce_predict(a, pairs, max_length: int) -> tuple[dict, object]:
    """sentence-transformers CrossEncoder.predict of `pairs` (fp16; fp32 on a CPU peer), truncated
    at max_length, after a two-batch warm-up; returns (metrics, logits of --label, float64)."""
    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder
    import sentence_transformers
    prec = ce_precision(a)
    t = time.perf_counter()
    kw = {"device": a.peer_device, "max_length": max_length}
    try:
        ce = CrossEncoder(a.model, model_kwargs={"dtype": torch_dtype(prec)}, **kw)
    except TypeError:
        ce = CrossEncoder(a.model, model_kwargs={"torch_dtype": torch_dtype(prec)}, **kw)
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
    n = len(pairs)
    sc = np.asarray(sc, dtype=np.float64).reshape(n, -1)[:, a.label]
    p = {"precision": prec, "batch": B, "load_s": load_s, "run_s": run_s, "pairs_s": n / run_s,
         "version": sentence_transformers.__version__}
    log(f"CrossEncoder.predict {prec} (max_length {max_length}): {run_s:.2f}s ({p['pairs_s']:,.0f} pairs/s), "
        f"batch {B}")
    del ce
    if a.peer_device.startswith("cuda"):
        torch.cuda.empty_cache()
    return p, sc


# ------------------------------------------------------------------------------------------
# the card's matrix rate: the yardstick of "% of the card"
# ------------------------------------------------------------------------------------------
def matmul_rate(prec: str, n: int, device: str, samples: int = 10, inner: int = 5) -> dict:
    """torch.matmul of two random n×n matrices into a preallocated one (cuBLAS on a GPU): one
    product untimed, ≥ 0.3 s of warm-up (clocks up), then the best of `samples` timings of
    `inner` products back to back (CUDA events; perf_counter on a CPU)."""
    import torch
    set_ieee_fp32(device)
    torch.manual_seed(0)
    x, y = (torch.randn(n, n, dtype=torch_dtype(prec), device=device) for _ in range(2))
    z = torch.empty_like(x)

    def products() -> None:
        for _ in range(inner):
            torch.matmul(x, y, out=z)

    products()
    sync(device)
    t = time.perf_counter()
    while time.perf_counter() - t < 0.3:
        products()
        sync(device)
    best = math.inf
    for _ in range(samples):
        if device.startswith("cuda"):
            ev = [torch.cuda.Event(enable_timing=True) for _ in range(2)]
            ev[0].record()
            products()
            ev[1].record()
            ev[1].synchronize()
            best = min(best, ev[0].elapsed_time(ev[1]) * 1e-3)
        else:
            t = time.perf_counter()
            products()
            best = min(best, time.perf_counter() - t)
    del x, y, z
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"precision": prec, "n": n, "device": device, "samples": samples, "inner": inner,
            "product_s": best / inner, "tflops": 2.0 * n ** 3 * inner / best * 1e-12}


def rate_ref(R: dict) -> tuple[str, float | None]:
    """The rate every '% of' divides by: bf16's, else the first one measured (CPU dry run)."""
    mm = R.get("matmul") or {}
    for prec in ("bf16", *mm):
        if (mm.get(prec) or {}).get("tflops"):
            return prec, mm[prec]["tflops"]
    return "bf16", None


# ------------------------------------------------------------------------------------------
# fixed-length pairs: issue 3's speed goals are stated for pairs of exactly 256 tokens
# ------------------------------------------------------------------------------------------
GOAL_L, GOAL_PAIRS_S, GOAL_VS_CE = 256, 50_000, 5.0


def token_lengths(tok, pairs, max_length: int | None) -> list[int]:
    """HF tokenizer lengths of `pairs`, specials included: longest_first truncation at
    max_length, or untruncated when it is None."""
    from transformers.utils import logging as hf_logging
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()   # untruncated: "longer than the specified maximum" is expected
    try:
        enc = tok([q for q, _ in pairs], [d for _, d in pairs], padding=False,
                  truncation="longest_first" if max_length else False, max_length=max_length,
                  return_attention_mask=False, return_token_type_ids=False)
    finally:
        hf_logging.set_verbosity(verbosity)
    return [len(x) for x in enc["input_ids"]]


def fixed_pairs(pairs, full: list[int], L: int, n: int) -> tuple[list, int]:
    """The first n pairs whose untruncated length is ≥ L, cycled when fewer exist, and how many
    distinct pairs that is (they come first)."""
    idx = [i for i, f in enumerate(full) if f >= L]
    if not idx:
        return [], 0
    return [pairs[idx[k % len(idx)]] for k in range(n)], min(n, len(idx))


def est_s(R: dict, engine: str, prec: str, tokens: int) -> float:
    """Rough seconds of one fixed-length run from this run's SciFact rates, 1.5× margin, defaults
    where none was measured: ours = process overhead + tokens / rate; torch = 5 s (load, warm-up)
    + tokens / rate; CrossEncoder.predict ("ce") the same at 0.7× torch's rate."""
    if engine == "ours":
        b = (R["ours"].get(prec) or {}).get("best") or {}
        over = b["process_wall_s"] - b["run_s"] if b.get("run_s") else 5.0
        return over + 1.5 * tokens / (b.get("tokens_s") or 1e6)
    t = R["torch"].get(prec) or next((v for v in R["torch"].values() if v.get("tokens_s")), {})
    return 5.0 + 1.5 * tokens / ((t.get("tokens_s") or 2e5) * (0.7 if engine == "ce" else 1.0))


class FixedLengths:
    """For each L of --fixed-lengths (GOAL_L first): the same pairs of exactly L tokens through
    ours (then, at GOAL_L, each --attn-variants setting), PyTorch (sorted, SDPA) and
    CrossEncoder.predict; first every length's main runs, then ours at the other --token-budget
    values. A run starts only when its estimate (est_s) ends
    --fixed-reserve seconds before the deadline; what does not fit is listed as skipped."""

    def __init__(self, a, ours: Ours | None, tok, pairs, full: list[int], flops_of, budgets: list[int | None],
                 R: dict, work: Path, left, save):
        self.a, self.ours, self.tok, self.pairs, self.full = a, ours, tok, pairs, full
        self.flops_of, self.R, self.work, self.left, self.save = flops_of, R, work, left, save
        self.other_budgets = [b for b in budgets if b != a.fixed_token_budget]
        self.sets: dict[int, tuple[list, Path]] = {}
        self.scores: dict[int, dict] = {}
        goal_tflops = GOAL_PAIRS_S * flops_of(GOAL_L) * 1e-12
        self.res = {"pairs": a.fixed_pairs, "peer_pairs": a.fixed_peer_pairs, "precisions": a.fixed_precisions,
                    "token_budget": a.fixed_token_budget, "reserve_s": a.fixed_reserve, "lengths": {},
                    "skipped": [] if ours else ["ours (not run in this bench)"],
                    "goal": {"L": GOAL_L, "pairs_s": GOAL_PAIRS_S, "tflops": goal_tflops, "vs_ce": GOAL_VS_CE,
                             "ce_precision": "fp16"}}

    def run(self) -> dict:
        order = sorted(self.a.fixed_lengths, key=lambda L: L != GOAL_L)
        for L in order:
            self.main_runs(L)
        for L in order:
            if L in self.sets:
                for budget in self.other_budgets:
                    for prec in self.a.fixed_precisions:
                        self.ours_run(self.res["lengths"][str(L)], prec, budget)
                self.finish(self.res["lengths"][str(L)])
                self.save()
        return self.res

    def main_runs(self, L: int) -> None:
        a = self.a
        e = self.prepare(L)
        if e is not None:
            for variant in [None] + (a.attn_variants if L == GOAL_L else []):
                for prec in a.fixed_precisions:
                    self.ours_run(e, prec, a.fixed_token_budget, variant)
            if e["peer_pairs"] > 0:
                for prec in [] if a.skip_torch else a.fixed_precisions:
                    self.peer_run(e, "torch", prec)
                self.peer_run(e, "ce", ce_precision(a))
            self.finish(e)
        self.save()

    def prepare(self, L: int) -> dict | None:
        """The pairs of L (HF-checked to be exactly L tokens after truncation), their TSV."""
        fx, distinct = fixed_pairs(self.pairs, self.full, L, self.a.fixed_pairs)
        e = {"L": L, "pairs": len(fx), "distinct": distinct, "peer_pairs": min(self.a.fixed_peer_pairs, len(fx)),
             "tokens": len(fx) * L, "gflop_per_pair": self.flops_of(L) * 1e-9,
             "goal_pairs_s": self.res["goal"]["tflops"] * 1e12 / self.flops_of(L),
             "runs": [], "max_abs": {}, "skipped": []}
        self.res["lengths"][str(L)] = e
        if not fx:
            e["skipped"].append(f"no pair of the workload has {L} tokens or more")
            return None
        lens = token_lengths(self.tok, fx[:distinct], L)
        e["hf_lengths"] = {"checked": distinct, "min": min(lens), "max": max(lens),
                           "exact": min(lens) == max(lens) == L}
        tsv = self.work / f"pairs.fixed{L}.tsv"
        bc.write_tsv(fx, tsv)
        self.sets[L], self.scores[L] = (fx, tsv), {}
        log(f"fixed L={L}: {len(fx):,} pairs ({distinct:,} distinct), HF lengths {min(lens)}..{max(lens)}")
        return e

    def fits(self, e: dict, what: str, est: float) -> bool:
        room = self.left() - self.a.fixed_reserve
        if est <= room:
            return True
        e["skipped"].append(f"{what} (needs ~{est:.0f} s, {max(room, 0.0):.0f} s left before the reserve)")
        log(f"fixed L={e['L']}: skipped {what}: deadline")
        return False

    def rates(self, row: dict, n: int, L: int) -> None:
        _, rate = rate_ref(self.R)
        row["pairs_s"] = n / row["run_s"]
        row["tokens_s"] = n * L / row["run_s"]
        row["tflops"] = n * self.flops_of(L) / row["run_s"] * 1e-12
        row["pct_of_rate"] = 100.0 * row["tflops"] / rate if rate else None

    def ours_run(self, e: dict, prec: str, budget: int | None,
                 variant: tuple[str, dict[str, str]] | None = None) -> None:
        a, L = self.a, e["L"]
        fx, tsv = self.sets[L]
        vname = variant[0] if variant else None
        what = f"ours {prec} budget {budget or 'default'}" + (f" {vname}" if vname else "")
        if self.ours is None or not self.fits(e, what, est_s(self.R, "ours", prec, e["tokens"])):
            return
        out = self.work / f"scores.fixed{L}.ours.{prec}.{budget or 'default'}{'.' + vname if vname else ''}.txt"
        args = ["--model", a.model, "--device", a.ours_device, "--max-length", str(L), "--pairs", str(tsv),
                "--output", str(out)]
        if a.ours_threads:
            args += ["--threads", str(a.ours_threads)]
        if budget:
            args += ["--token-budget", str(budget)]
        r = self.ours.run("score", args, prec, env=variant[1] if variant else None)
        self.R["commands"].append(r["cmd"])
        row = {"engine": "ours", "precision": prec, "token_budget": budget, "variant": vname, "pairs": len(fx)}
        row.update({k: r.get(k) for k in ("cmd", "rc", "error", "run_s", "forward_s", "process_wall_s", "tokens",
                                          "passes", "timing_line")})
        if r["rc"] == 0 and r.get("run_s"):
            try:
                sc = read_scores(out)
                if len(sc) != len(fx):
                    raise ValueError(f"{len(sc)} scores for {len(fx)} pairs")
            except Exception as ex:  # noqa: BLE001
                row["error"], sc = f"reading {out}: {ex}", None
            if sc is not None:
                self.rates(row, len(fx), L)
                row["tokens_exact"] = r["tokens"] == e["tokens"] if r.get("tokens") is not None else None
                default = self.scores[L].get(f"ours {prec}")
                if vname:
                    row["max_abs_vs_default"] = float(abs(sc - default).max()) if default is not None else None
                elif budget == a.fixed_token_budget:
                    self.scores[L][f"ours {prec}"] = sc
                log(f"fixed L={L} {what}: run {r['run_s']:.3f}s ({row['pairs_s']:,.0f} pairs/s, "
                    f"{fmt(row['pct_of_rate'], '.1f')}% of the matrix rate), tokens={r.get('tokens')}")
        else:
            row["error"] = row.get("error") or f"no run= in the timing line: {r.get('timing_line')}"
            log(f"fixed L={L} {what}: FAILED: {str(row['error'])[-400:]}")
        e["runs"].append(row)

    def peer_run(self, e: dict, engine: str, prec: str) -> None:
        """engine "torch" (torch_score) or "ce" (ce_predict) on the first peer_pairs pairs."""
        L, m = e["L"], e["peer_pairs"]
        what = "torch " + prec if engine == "torch" else "CrossEncoder.predict " + prec
        if not self.fits(e, what, est_s(self.R, engine, prec, m * L)):
            return
        sub = self.sets[L][0][:m]
        row = {"engine": engine, "precision": prec, "pairs": m, "batch": self.a.torch_batch}
        try:
            if engine == "torch":
                met, sc = torch_score(self.a, prec, sub, self.a.peer_device, L)
                row["padded_tokens"] = met["padded_tokens"]
            else:
                met, sc = ce_predict(self.a, sub, L)
            row.update({k: met.get(k) for k in ("run_s", "tokenize_s", "load_s")})
            self.rates(row, m, L)
            self.scores[L][f"{engine} {prec}"] = sc
            log(f"fixed L={L} {what}: run {row['run_s']:.3f}s ({row['pairs_s']:,.0f} pairs/s)")
        except Exception:  # noqa: BLE001
            row["error"] = traceback.format_exc()[-2000:]
            log(f"fixed L={L} {what}: FAILED\n{row['error']}")
        e["runs"].append(row)

    def finish(self, e: dict) -> None:
        """Ratios of every ours row, the goals, and max |Δ| of ours against each peer."""
        runs = [r for r in e["runs"] if r.get("pairs_s")]
        ce = next((r for r in runs if r["engine"] == "ce"), None)
        torch_of = {r["precision"]: r for r in runs if r["engine"] == "torch"}
        for r in runs:
            if r["engine"] == "ours":
                r["vs_ce"] = r["pairs_s"] / ce["pairs_s"] if ce else None
                t = torch_of.get(r["precision"])
                r["vs_torch"] = r["pairs_s"] / t["pairs_s"] if t else None
        e["goals"] = {}
        for prec in self.a.fixed_precisions:
            mine = [r for r in runs if r["engine"] == "ours" and r["precision"] == prec and not r["variant"]]
            if mine:
                b = max(mine, key=lambda r: r["pairs_s"])
                e["goals"][prec] = {"pairs_s": b["pairs_s"], "token_budget": b["token_budget"],
                                    "pairs_s_met": b["pairs_s"] >= e["goal_pairs_s"],
                                    "vs_ce": b["vs_ce"], "vs_ce_met": b["vs_ce"] >= GOAL_VS_CE if b["vs_ce"] else None,
                                    "vs_torch": b["vs_torch"], "vs_torch_met": b["vs_torch"] > 1 if b["vs_torch"] else None}
        sc, m = self.scores.get(e["L"], {}), e["peer_pairs"]
        for key in (k for k in sc if not k.startswith("ours ")):
            peer_prec = key.split()[1]
            if f"ours {peer_prec}" in sc:
                name = key.replace("ce ", "CrossEncoder.predict ")
                e["max_abs"][f"ours {peer_prec} vs {name}"] = float(abs(sc[f"ours {peer_prec}"][:m] - sc[key]).max())


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
         f"{fmt(w.get('gflop'), ',.0f')} useful GFLOP",
         f"- the card's matrix rate: {matmul_text(R)}", ""]
    ref, _ = rate_ref(R)
    L += ["## Throughput", "",
          f"| precision | engine | pairs/s (run) | tokens/s | TFLOP/s | % of {ref} rate | run s | tokenize s | "
          "process/load s | pairs/s (process) | ours/torch |",
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for prec in R["args"]["precisions"]:
        o = R["ours"].get(prec, {})
        t = R["torch"].get(prec, {})
        ratio = R["ratios"].get(prec, {})
        ob = o.get("best")
        if ob:
            L.append(f"| {prec} | ours (budget {ob.get('token_budget') or 'default'}) | {fmt(ob.get('pairs_s'))} | "
                     f"{fmt(ob.get('tokens_s'))} | {fmt(ob.get('tflops'), '.1f')} | {fmt(ob.get('pct_of_rate'), '.1f')} | "
                     f"{fmt(ob.get('run_s'), '.3f')} | {fmt(ob.get('tokenize_s'), '.3f')} | "
                     f"{fmt(ob.get('process_wall_s'), '.2f')} | {fmt(ob.get('pairs_s_process'))} | "
                     f"{fmt(ratio.get('run'), '.2f')}× |")
        elif o:
            L.append(f"| {prec} | ours | failed | | | | | | | | |")
        if t.get("run_s"):
            L.append(f"| {prec} | torch | {fmt(t.get('pairs_s'))} | {fmt(t.get('tokens_s'))} | "
                     f"{fmt(t.get('tflops'), '.1f')} | {fmt(t.get('pct_of_rate'), '.1f')} | {fmt(t.get('run_s'), '.3f')} | "
                     f"{fmt(t.get('tokenize_s'), '.3f')} | {fmt(t.get('load_s'), '.2f')} (load) | | |")
        elif t:
            L.append(f"| {prec} | torch | failed | | | | | | | | |")
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
    L += render_fixed(R)
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


def matmul_text(R: dict) -> str:
    mm = R.get("matmul") or {}
    if not mm:
        return "not measured"
    parts = [f"{p} {v['n']}³ **{v['tflops']:.4g} TFLOP/s**" if v.get("tflops") else
             f"{p} FAILED: `{str(v.get('error')).strip().splitlines()[-1][-200:]}`" for p, v in mm.items()]
    v = next((v for v in mm.values() if v.get("tflops")), {})
    how = (f"torch.matmul {'(cuBLAS) ' if str(v.get('device')).startswith('cuda') else ''}on {v.get('device')}, "
           f"best of {v.get('samples')} timings of {v.get('inner')} products after a warm-up") if v else ""
    return ", ".join(parts) + (f" ({how}); every '% of' divides by the {rate_ref(R)[0]} rate" if v else "")


def fixed_row(r: dict, L: int) -> str:
    """One row of a fixed-length table (ratio cells only for ours)."""
    if r["engine"] == "ours":
        name = f"ours {r['precision']} (budget {r['token_budget'] or 'default'}" + \
               (f", {r['variant']})" if r["variant"] else ")")
        if r.get("variant"):
            note = f"max \\|Δ\\| vs default {fmt(r.get('max_abs_vs_default'), '.1e')}"
        else:
            note = {True: "tokens= pairs × L", False: f"tokens={r.get('tokens')} ≠ pairs × L",
                    None: "no tokens= in the timing line"}[r.get("tokens_exact")]
    elif r["engine"] == "torch":
        name = f"torch {r['precision']} (sorted, SDPA, batch {r['batch']})"
        note = f"computed tokens {r['padded_tokens'] / (r['pairs'] * L):.2f}×" if r.get("padded_tokens") else ""
    else:
        name = f"CrossEncoder.predict {r['precision']} (batch {r['batch']})"
        note = ""
    if not r.get("pairs_s"):
        err = str(r.get("error")).strip().splitlines() or [""]
        return f"| {name} | {r['pairs']:,} | FAILED: `{err[-1][-200:]}` | | | | | | | |"
    vs_ce, vs_torch = (fmt(r.get(k), ".2f") + "×" if r.get(k) else "—" if r["engine"] == "ours" else ""
                       for k in ("vs_ce", "vs_torch"))
    return (f"| {name} | {r['pairs']:,} | {fmt(r['pairs_s'])} | {fmt(r['tokens_s'])} | {fmt(r['tflops'], '.1f')} | "
            f"{fmt(r.get('pct_of_rate'), '.1f')} | {vs_ce} | {vs_torch} | {fmt(r['run_s'], '.3f')} | {note} |")


def goal_lines(e: dict, goal: dict, gpu: str) -> list[str]:
    met = {True: "met", False: "**not met**", None: "not measured"}
    target = (f"≥ {goal['pairs_s']:,} pairs/s" if e["L"] == goal["L"] else
              f"≥ {e['goal_pairs_s']:,.0f} pairs/s (our reading of \"correspondingly\": the useful "
              f"{goal['tflops']:,.0f} TFLOP/s of {goal['pairs_s']:,} pairs/s at {goal['L']} tokens)")
    out = [f"Goals (issue 3; stated for an H100 with this shape, this card: {gpu}): {target}; "
           f"≥ {goal['vs_ce']:g}× CrossEncoder.predict {goal['ce_precision']}; faster than PyTorch sorted + SDPA."]
    for prec, g in e.get("goals", {}).items():
        out.append(f"- ours {prec} (budget {g['token_budget'] or 'default'}): {g['pairs_s']:,.0f} pairs/s "
                   f"({met[g['pairs_s_met']]}); {fmt(g['vs_ce'], '.2f')}× CrossEncoder.predict "
                   f"({met[g['vs_ce_met']]}); {fmt(g['vs_torch'], '.2f')}× PyTorch ({met[g['vs_torch_met']]})")
    return out


def render_fixed(R: dict) -> list[str]:
    fx = R.get("fixed")
    if not fx:
        return []
    ref, rate = rate_ref(R)
    L = ["## Fixed-length pairs (issue 3's speed goals)", "",
         f"For each length L: the workload's pairs whose untruncated length (HF tokenizer, specials included) "
         f"is ≥ L, truncated at L (longest_first) by every engine, so that every pair is exactly L tokens; "
         f"the first {fx['pairs']:,} (repeated in order where fewer exist) for ours, the first "
         f"{fx['peer_pairs']:,} of the same for PyTorch and CrossEncoder.predict. ours: `--max-length L "
         f"--token-budget {fx['token_budget']}` (then the other budgets, time allowing), pairs/s from `run=`; "
         f"peers: model loaded, after a warm-up. TFLOP/s from the FLOP model at exactly L; % of the "
         f"{ref} matrix rate ({fmt(rate, '.4g')} TFLOP/s). ours/CE and ours/torch: pairs/s ratios "
         f"(torch of the same precision). Runs that would end less than {fx['reserve_s']:g} s before the "
         f"deadline are skipped (listed).", ""]
    if fx.get("error"):
        L += [f"Error: ```{fx['error'][-1200:]}```", ""]
    for e in fx["lengths"].values():
        hf = e.get("hf_lengths") or {}
        L += [f"### L = {e['L']}: {e['pairs']:,} pairs"
              + (f" ({e['distinct']:,} distinct, repeated to {e['pairs']:,})" if e["distinct"] < e["pairs"] else "")
              + f", PyTorch / CrossEncoder.predict {e['peer_pairs']:,}; {e['gflop_per_pair']:.2f} GFLOP per pair", ""]
        if hf:
            L += [f"Every pair exactly {e['L']} tokens: HF tokenizer on the {hf['checked']:,} distinct pairs: "
                  + ("yes" if hf["exact"] else f"**NO** (lengths {hf['min']}..{hf['max']})")
                  + "; ours: `tokens=` of each timing line = pairs × L (noted per row).", ""]
        if e["runs"]:
            L += ["| engine | pairs | pairs/s | tokens/s | TFLOP/s | % of " + ref + " rate | ours/CE | ours/torch | "
                  "run s | note |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
            L += [fixed_row(r, e["L"]) for r in e["runs"]] + [""]
            L += goal_lines(e, fx["goal"], R["machine"].get("gpu")) + [""]
        if e["max_abs"]:
            L += ["Sanity, first " + f"{e['peer_pairs']:,} pairs: " + ", ".join(
                f"max |Δ| {k} {v:.2e}" for k, v in e["max_abs"].items()), ""]
        if e["skipped"]:
            L += ["Skipped: " + "; ".join(e["skipped"]), ""]
    if fx.get("skipped"):
        L += ["Skipped: " + "; ".join(fx["skipped"]), ""]
    return L


def short_table(R: dict) -> str:
    w = R.get("workload", {})
    rows = [f"======== bench_gpu summary: {w.get('pairs', 0):,} pairs, {w.get('tokens', 0):,} tokens, "
            f"{R['machine'].get('gpu')} ========",
            "matrix rate: " + (", ".join(f"{p} {v['tflops']:.4g} TFLOP/s" if v.get("tflops") else f"{p} FAILED"
                                         for p, v in R.get("matmul", {}).items()) or "not measured"),
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
    rows += short_fixed(R)
    if R.get("skipped"):
        rows.append("skipped: " + ", ".join(R["skipped"]))
    return "\n".join(rows)


def short_fixed(R: dict) -> list[str]:
    """Per fixed length: each engine's pairs/s, ours' share of the matrix rate and its ratios."""
    fx = R.get("fixed") or {}
    ref, _ = rate_ref(R)
    rows = []
    for e in fx.get("lengths", {}).values():
        parts = []
        for r in e["runs"]:
            if r["engine"] == "ours" and r["token_budget"] != fx["token_budget"]:
                continue
            name = {"ours": "ours", "torch": "torch", "ce": "CE"}[r["engine"]] + f" {r['precision']}" + \
                (f" {r['variant']}" if r.get("variant") else "")
            if not r.get("pairs_s"):
                parts.append(f"{name} FAILED")
            elif r["engine"] == "ours":
                parts.append(f"{name} {r['pairs_s']:,.0f} p/s ({fmt(r.get('pct_of_rate'), '.0f')}% {ref}, "
                             f"{fmt(r.get('vs_ce'), '.1f')}× CE, {fmt(r.get('vs_torch'), '.1f')}× torch)")
            else:
                parts.append(f"{name} {r['pairs_s']:,.0f} p/s")
        exact = (e.get("hf_lengths") or {}).get("exact")
        rows.append(f"fixed L={e['L']} ({e['pairs']:,} pairs, exact {'yes' if exact else 'NO' if exact is False else '—'}"
                    f", goal ≥{e['goal_pairs_s']:,.0f} p/s): " + ("; ".join(parts) or "nothing ran"))
        for prec, g in e.get("goals", {}).items():
            rows.append(f"  goals ours {prec}: pairs/s {'met' if g['pairs_s_met'] else 'NOT met'}, "
                        f"≥{GOAL_VS_CE:g}× CE {({True: 'met', False: 'NOT met'}).get(g['vs_ce_met'], '—')}, "
                        f"> torch {({True: 'met', False: 'NOT met'}).get(g['vs_torch_met'], '—')}")
        if e["skipped"]:
            rows.append(f"  skipped: {'; '.join(e['skipped'])}")
    return rows


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
                         "values (wmma, simt) or NAME=VALUE environment settings (RR_CUDA_BIAS_ACT=scalar, "
                         "RR_CUDA_FFN_ROWS=0), several joined by '+' for one variant "
                         "(RR_CUDA_GELU_GEMM=exact+RR_CUDA_LN=v1); also run in the fixed-length section "
                         "at 256 tokens")
    ap.add_argument("--ours-env", default="",
                    help="NAME=VALUE,...: environment added to every run of ours (shown in its command)")
    ap.add_argument("--matmul-size", type=int, default=8192,
                    help="the card's matrix rate: torch.matmul of N×N by N×N (0: off)")
    ap.add_argument("--matmul-precisions", default="bf16,fp16", help="precisions of the matrix rate")
    ap.add_argument("--fixed-lengths", default="128,256,512",
                    help="fixed-length workloads: pairs of exactly L tokens for each L, 256 first ('': off)")
    ap.add_argument("--fixed-pairs", type=int, default=20000,
                    help="pairs per fixed length for ours (repeated when fewer are that long)")
    ap.add_argument("--fixed-peer-pairs", type=int, default=10000,
                    help="the first N of them for PyTorch and CrossEncoder.predict (0: ours only)")
    ap.add_argument("--fixed-precisions", default="bf16,fp16", help="precisions of the fixed-length runs")
    ap.add_argument("--fixed-token-budget", type=int, default=65536,
                    help="ours' --token-budget in the fixed-length runs (the other --token-budget values "
                         "follow when time allows)")
    ap.add_argument("--fixed-reserve", type=float, default=60.0,
                    help="seconds before --deadline the fixed-length section leaves to the checks after it")
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
                         "--torch-batch 4 --warmup-pairs 4 --token-budget default --fixed-pairs 8 "
                         "--fixed-peer-pairs 4 --fixed-precisions fp32 --matmul-size 512 "
                         "--matmul-precisions fp32 (explicit options win)")
    a = ap.parse_args(argv)
    if a.dry_run:
        ap.set_defaults(pipeline="fp32", peer_device="cpu", ours_device="cpu", precisions="fp32", queries=2, per_query=5,
                        cpu_check_pairs=10, embed_docs=20, torch_batch=4, warmup_pairs=4,
                        token_budget="default", embed_precisions="fp32", ours_threads=2, cpu_threads=2,
                        fixed_pairs=8, fixed_peer_pairs=4, fixed_precisions="fp32", matmul_size=512,
                        matmul_precisions="fp32")
        a = ap.parse_args(argv)
    a.precisions = [p.strip() for p in a.precisions.split(",") if p.strip()]
    a.pipeline = [p.strip() for p in a.pipeline.split(",") if p.strip()]
    a.embed_precisions = [p.strip() for p in a.embed_precisions.split(",") if p.strip()]
    a.fixed_precisions = [p.strip() for p in a.fixed_precisions.split(",") if p.strip()]
    a.matmul_precisions = [p.strip() for p in a.matmul_precisions.split(",") if p.strip()]
    for p in a.precisions + a.embed_precisions + a.fixed_precisions + a.matmul_precisions:
        if p not in PRECISIONS:
            ap.error(f"unknown precision {p} (fp32, bf16, fp16)")
    try:
        a.fixed_lengths = list(dict.fromkeys(int(x) for x in a.fixed_lengths.split(",") if x.strip()))
        if any(L < 3 for L in a.fixed_lengths):
            raise ValueError("--fixed-lengths: every length must be at least 3 ([CLS] q [SEP] d [SEP])")
        a.attn_variants = parse_variants(a.attn_variants)
        a.ours_env = parse_env(a.ours_env)
    except ValueError as e:
        ap.error(str(e))
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
    full = token_lengths(tok, pairs, None)            # untruncated, once: the fixed-length sets need it
    lengths = [min(f, a.max_length) for f in full]    # = longest_first truncation at --max-length
    mcfg = json.loads((Path(a.model) / "config.json").read_text())
    flops_of = bc.flop_model(mcfg)
    gflop = sum(flops_of(L) for L in lengths) * 1e-9
    R["workload"] = {"pairs": len(pairs), "queries": len(groups), "per_query": a.per_query,
                     "tokens": sum(lengths), "mean": sum(lengths) / len(lengths), "max": max(lengths),
                     "truncated": sum(1 for f in full if f > a.max_length), "untruncated_max": max(full),
                     "gflop": gflop, "pairs_tsv": str(pairs_tsv)}
    real_tokens = sum(lengths)
    log(f"{len(pairs):,} pairs from {len(groups)} queries, {real_tokens:,} tokens, {gflop:,.0f} GFLOP; work {work}")
    write_report(R, out)

    # 1b. the card's matrix rate, the yardstick of every "% of" (torch.matmul: cuBLAS on a GPU)
    R["matmul"] = {}
    for prec in a.matmul_precisions if a.matmul_size > 0 else []:
        try:
            R["matmul"][prec] = matmul_rate(prec, a.matmul_size, a.peer_device)
            log(f"matmul {prec} {a.matmul_size}³ on {a.peer_device}: {R['matmul'][prec]['tflops']:.4g} TFLOP/s")
        except Exception:  # noqa: BLE001
            R["matmul"][prec] = {"error": traceback.format_exc()[-1500:]}
            log(f"matmul {prec}: FAILED\n{traceback.format_exc()}")
    _, mm_rate = rate_ref(R)
    if a.ours_env:
        notes.append("every run of ours had this environment added: "
                     + " ".join(f"{k}={v}" for k, v in a.ours_env))
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
                b["pct_of_rate"] = 100.0 * b["tflops"] / mm_rate if mm_rate else None
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
            m, sc = torch_score(a, prec, pairs, a.peer_device, a.max_length)
            m["pairs_s"] = len(pairs) / m["run_s"]
            m["tokens_s"] = real_tokens / m["run_s"]
            m["tflops"] = gflop / m["run_s"] * 1e-3
            m["pct_of_rate"] = 100.0 * m["tflops"] / mm_rate if mm_rate else None
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
    # each kernel variant (--attn-variants) held to the same checks as its precision's default
    for prec, e in R["ours"].items():
        for vname, v in (e.get("variants") or {}).items() if isinstance(e, dict) else []:
            vfile = variant_scores(work, prec, vname)
            if v.get("rc") != 0 or not vfile.exists():
                continue
            try:
                vs = read_scores(vfile)
                R["ndcg10"][f"ours {prec} {vname}"] = ndcg10(vs, meta, groups, rel)
                if "fp32" in ours_scores:
                    R["parity"][f"ours {prec} {vname} vs ours fp32"] = parity(vs, ours_scores["fp32"], groups)
            except Exception as ex:  # noqa: BLE001
                notes.append(f"variant {prec} {vname}: {ex}")
    if "fp32" in ours_scores:
        np.save(work / "scores.ours.fp32.npy", ours_scores["fp32"])
    write_report(R, out)

    # 4b. fixed-length pairs (issue 3's speed goals), before the checks below (--fixed-reserve)
    if a.fixed_lengths:
        fixed = FixedLengths(a, ours, tok, pairs, full, flops_of, budgets, R, work, left,
                             lambda: write_report(R, out))
        R["fixed"] = fixed.res
        try:
            fixed.run()
        except Exception:  # noqa: BLE001
            R["fixed"]["error"] = traceback.format_exc()[-3000:]
            log(traceback.format_exc())
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
