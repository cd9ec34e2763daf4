#!/usr/bin/env python3
"""bench/bench_cpu.py — CPU throughput of `rerank score` against PyTorch and ONNX Runtime.

Same machine, same thread count, same (query, passage) pairs, same model, in one run:

  ours   build/rerank score --timing (packed variable-length passes, no padding);
  torch  sentence-transformers CrossEncoder(...).predict(pairs, batch_size=32), raw logits;
  ort    ONNX Runtime on the model exported to ONNX (fp32, dynamic batch and sequence axes),
         HF fast tokenizer, batches of 32 padded to the batch's longest, tokenization timed.

Every engine runs in its own process, one after the other, so no thread pool of one can
steal cycles from another. For each the harness reports pairs/s, tokens/s (real tokens, as
the HF tokenizer counts them), achieved GFLOP/s (useful FLOPs of the network, see
bench/README.md, over wall time) and that as a fraction of the machine's measured OpenBLAS
sgemm rate (bench/sgemm_rate.c), plus how busy the machine was with other processes while
the engine ran. It checks that the three engines compute the same scores.

    python3 bench/bench_cpu.py                       # full run: 300 SciFact queries x 10
    python3 bench/bench_cpu.py --queries 20          # quick run
    python3 bench/bench_cpu.py --write-results       # also record it in bench/RESULTS.md

See bench/README.md for every option and for the FLOP model.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
ENGINES = ("ours", "torch", "ort")
ENGINE_NAMES = {
    "ours": "rerank (ours)",
    "torch": "PyTorch (sentence-transformers)",
    "ort": "ONNX Runtime",
}


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> None:
    print(f"bench: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def clean(text: str) -> str:
    """One line of TSV: tabs and line breaks become spaces (BERT's tokenizer splits on any
    whitespace, so this does not change the tokens); every engine gets the cleaned text."""
    return re.sub(r"[\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]", " ", text)


def cpu_stat() -> tuple[int, int, int]:
    """(busy, steal, total) jiffies over all CPUs, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return (0, 0, 0)
    user, nice, system, idle, iowait, irq, softirq = v[:7]
    steal = v[7] if len(v) > 7 else 0
    return (user + nice + system + irq + softirq, steal, sum(v[:8]))


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_measured(cmd: list[str], env: dict | None = None, cwd: str | None = None):
    """Runs cmd to completion; returns (CompletedProcess, wall_s, others_share, steal_share,
    cpu_s): the share of the machine's CPU capacity used by processes other than cmd while it
    ran, and cmd's own CPU time (user + system, all threads)."""
    hz = os.sysconf("SC_CLK_TCK")
    ncpu = os.cpu_count() or 1
    c0, s0, t0 = children_cpu_s(), cpu_stat(), time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    wall = time.perf_counter() - t0
    c1, s1 = children_cpu_s(), cpu_stat()
    ours = c1 - c0
    busy = (s1[0] - s0[0]) / hz
    steal = (s1[1] - s0[1]) / hz
    cap = wall * ncpu
    others = max(0.0, busy - ours) / cap if cap > 0 else 0.0
    return p, wall, others, (steal / cap if cap > 0 else 0.0), ours


def wait_idle(max_wait_s: float, threshold: float = 0.10) -> float:
    """Waits (up to max_wait_s) until the machine is idle: less than `threshold` of its CPU
    busy over a 3-second window. Returns the busy share of the last window."""
    t0 = time.time()
    deadline = t0 + max_wait_s
    first = True
    while True:
        s0 = cpu_stat()
        time.sleep(3.0)
        s1 = cpu_stat()
        total = s1[2] - s0[2]
        share = (s1[0] - s0[0]) / total if total > 0 else 0.0
        if share < threshold or time.time() >= deadline:
            if not first:
                log(f"waited {time.time() - t0:.0f}s; machine now {share:.0%} busy, going on")
            return share
        if first:
            log(f"machine is {share:.0%} busy with other work; waiting up to {max_wait_s:.0f}s "
                "for it to go idle")
            first = False


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        if m:
            model = m.group(1).strip()
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} logical CPUs{mem}, {platform.system()} {platform.release()}"


# ------------------------------------------------------------------------------------------
# the workload
# ------------------------------------------------------------------------------------------
def build_pairs(data_dir: Path, n_queries: int | None, per_query: int, seed: int):
    """For each SciFact test query (in qrels order): its relevant docs, then docs drawn with
    random.Random(seed) from the whole corpus until it has `per_query` pairs."""
    queries = {}
    with gzip.open(data_dir / "queries.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            queries[o["_id"]] = o["text"]
    doc_ids, doc_text = [], {}
    with gzip.open(data_dir / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            doc_ids.append(o["_id"])
            doc_text[o["_id"]] = (o.get("title") or "") + " " + (o.get("text") or "")
    rel: dict[str, list[str]] = {}
    with open(data_dir / "qrels" / "test.tsv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and parts[0] == "query-id":
                continue
            if len(parts) < 3 or int(parts[2]) <= 0:
                continue
            rel.setdefault(parts[0], [])
            if parts[1] not in rel[parts[0]]:
                rel[parts[0]].append(parts[1])
    qids = list(rel)
    if n_queries is not None:
        qids = qids[:n_queries]
    rng = random.Random(seed)
    pairs, meta = [], []
    for qid in qids:
        docs = [d for d in rel[qid] if d in doc_text][:per_query]
        chosen = set(docs)
        while len(docs) < per_query:
            d = doc_ids[rng.randrange(len(doc_ids))]
            if d not in chosen:
                chosen.add(d)
                docs.append(d)
        for d in docs:
            pairs.append((clean(queries[qid]), clean(doc_text[d])))
            meta.append((qid, d))
    return pairs, meta


def write_tsv(pairs, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for q, d in pairs:
            f.write(f"{q}\t{d}\n")


def flop_model(cfg: dict):
    """Useful FLOPs of one sequence of L real tokens (matrix products only; see README)."""
    H = cfg["hidden_size"]
    I = cfg["intermediate_size"]
    layers = cfg["num_hidden_layers"]
    labels = cfg.get("num_labels") or len(cfg.get("id2label") or {}) or 1
    # DeBERTa-v2: c2p / p2c, each q (or k) against the table rows the sequence reaches (at most
    # 2 · span; counted as min(2L − 1, 2 · span)); the table's projections are made at load
    terms, span = 0, 0
    if cfg.get("model_type") == "deberta-v2" and cfg.get("relative_attention"):
        att = cfg.get("pos_att_type") or []
        att = att.lower().split("|") if isinstance(att, str) else [a.lower() for a in att]
        terms = sum(t.strip() in ("c2p", "p2c") for t in att)
        buckets, maxrel = cfg.get("position_buckets", -1), cfg.get("max_relative_positions", -1)
        span = buckets if buckets > 0 else (maxrel if maxrel > 0 else cfg["max_position_embeddings"])

    if cfg.get("model_type") == "modernbert":
        # ModernBERT: GeGLU (up to 2I, down from I); a sliding layer's query attends the keys
        # within ±window only (useful pairs: L² minus the two corners beyond the band)
        window = cfg.get("local_attention", 128) // 2
        every = cfg.get("global_attn_every_n_layers", 3)
        types = cfg.get("layer_types") or ["sliding_attention" if i % every else "full_attention"
                                           for i in range(layers)]

        def band(L: int, w: int) -> int:
            far = max(L - w - 1, 0)
            return L * L - far * (far + 1)

        def flops_mb(L: int) -> float:
            total = 0.0
            for t in types:
                pairs = band(L, window) if t == "sliding_attention" else L * L
                total += (2 * L * H * 3 * H + 2 * 2 * pairs * H + 2 * L * H * H
                          + 2 * L * H * 2 * I + 2 * L * I * H)
            return total + 2 * H * H + 2 * H * labels  # + head dense + classifier
        return flops_mb

    def flops(L: int) -> float:
        per_layer = (2 * L * H * 3 * H      # Q, K, V projections
                     + 2 * 2 * L * L * H    # scores Q·Kᵀ and probabilities·V (all heads)
                     + 2 * L * H * H        # attention output projection
                     + 2 * 2 * L * H * I    # FFN up and down
                     + terms * 2 * L * min(2 * L - 1, 2 * span) * H)  # DeBERTa's c2p / p2c
        return layers * per_layer + 2 * H * H + 2 * H * labels  # + pooler + classifier
    return flops


def padded_tokens(lengths, order, batch: int) -> int:
    """Tokens a padded engine computes: per batch of `batch` in `order`, batch x longest."""
    total = 0
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        total += len(idx) * max(lengths[i] for i in idx)
    return total


def st_order(pairs):
    """sentence-transformers' CrossEncoder order: longest first by characters."""
    import numpy as np
    return list(np.argsort([-(len(q) + len(d)) for q, d in pairs]))


# ------------------------------------------------------------------------------------------
# workers (each runs in its own process: `bench_cpu.py --worker KIND CONFIG.json`)
# ------------------------------------------------------------------------------------------
def _read_pairs(path: str):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            q, d = line.rstrip("\n").split("\t")
            pairs.append((q, d))
    return pairs


def _set_thread_env(threads: int) -> None:
    # Before numpy/torch/onnxruntime/tokenizers start their pools.
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[k] = str(threads)


def worker_count(cfg: dict) -> dict:
    """Real token counts with the HF fast tokenizer (longest_first truncation at max_length)."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(cfg["model"], use_fast=True)
    pairs = _read_pairs(cfg["pairs"])
    enc = tok([q for q, _ in pairs], [d for _, d in pairs], truncation="longest_first",
              max_length=cfg["max_length"], padding=False)
    return {"lengths": [len(x) for x in enc["input_ids"]],
            "tokenizer": type(tok).__name__}


def worker_torch(cfg: dict) -> dict:
    import numpy as np
    import torch
    torch.set_num_threads(cfg["threads"])
    torch.set_num_interop_threads(1)
    from sentence_transformers import CrossEncoder
    pairs = _read_pairs(cfg["pairs"])
    t = time.perf_counter()
    model = CrossEncoder(cfg["model"], max_length=cfg["max_length"], device="cpu",
                         activation_fn=torch.nn.Identity())
    load = time.perf_counter() - t
    ident = torch.nn.Identity()
    warm = pairs[: min(len(pairs), cfg["batch_size"])]
    model.predict(warm, batch_size=cfg["batch_size"], activation_fn=ident, show_progress_bar=False)
    t, c = time.perf_counter(), time.process_time()
    scores = model.predict(pairs, batch_size=cfg["batch_size"], activation_fn=ident,
                           show_progress_bar=False)
    run, cpu = time.perf_counter() - t, time.process_time() - c
    np.save(cfg["scores"], np.asarray(scores, dtype=np.float32).reshape(-1))
    first = model[0]
    hf = getattr(first, "auto_model", None) or getattr(first, "model", None)
    attn = getattr(getattr(hf, "config", None), "_attn_implementation", None)
    return {"load_s": load, "run_s": run, "cores": cpu / run, "threads": torch.get_num_threads(),
            "attn": attn,
            "flatten": bool(getattr(first, "can_flatten_inputs", False))}


def worker_export(cfg: dict) -> dict:
    """Exports the model to ONNX (fp32; dynamic batch and sequence axes) with the dynamo
    exporter, then (unless --ort-graph plain) runs onnxruntime's transformer optimizer
    (model_type bert) on it. The legacy TorchScript exporter is not used: with transformers
    5 it bakes the example's attention-mask shape into the graph (wrong scores on other
    shapes)."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    torch.set_num_threads(cfg["threads"])
    model = AutoModelForSequenceClassification.from_pretrained(cfg["model"]).eval()
    tok = AutoTokenizer.from_pretrained(cfg["model"], use_fast=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Wrapped(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).logits

    enc = tok(["a short query", "another query here"], ["a passage", "a longer passage of text"],
              padding=True, return_tensors="pt")
    args = tuple(enc[k] for k in names)
    batch = torch.export.Dim("batch")
    seq = torch.export.Dim("seq", max=cfg["max_length"])
    plain = cfg["onnx"] + ".plain.onnx"
    torch.onnx.export(Wrapped(model), args, plain, dynamo=True, input_names=names,
                      output_names=["logits"], opset_version=18,
                      dynamic_shapes={k: {0: batch, 1: seq} for k in names})
    info = {"exporter": f"torch.onnx.export(dynamo=True) torch {torch.__version__}", "fused": {}}
    out = plain
    if cfg["ort_graph"] == "optimized":
        from onnxruntime.transformers import optimizer
        mc = model.config
        opt = optimizer.optimize_model(plain, model_type="bert", num_heads=mc.num_attention_heads,
                                       hidden_size=mc.hidden_size, opt_level=0)
        info["fused"] = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
        out = cfg["onnx"] + ".opt.onnx"
        opt.save_model_to_file(out)
    # Check the graph on shapes it was not exported with.
    import onnxruntime as ort
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    pairs = _read_pairs(cfg["pairs"])[:5]
    enc = tok([q for q, _ in pairs], [d for _, d in pairs], padding=True, truncation="longest_first",
              max_length=cfg["max_length"], return_tensors="np")
    got = sess.run(None, {k: enc[k].astype(np.int64) for k in names})[0].reshape(-1)
    with torch.inference_mode():
        ref = model(**{k: torch.from_numpy(enc[k]) for k in names}).logits.numpy().reshape(-1)
    info["check_max_abs_diff"] = float(np.abs(got - ref).max())
    os.replace(out, cfg["onnx"])
    return info


def worker_ort(cfg: dict) -> dict:
    import numpy as np
    import onnxruntime as ort
    from transformers import AutoTokenizer
    pairs = _read_pairs(cfg["pairs"])
    t = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(cfg["model"], use_fast=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = cfg["threads"]
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(cfg["onnx"], so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    load = time.perf_counter() - t
    bs = cfg["batch_size"]
    if cfg["ort_sort"]:
        order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
    else:
        order = list(range(len(pairs)))

    clock = {"tokenize": 0.0}

    def score(idx):
        t0 = time.perf_counter()
        enc = tok([pairs[i][0] for i in idx], [pairs[i][1] for i in idx], padding=True,
                  truncation="longest_first", max_length=cfg["max_length"], return_tensors="np")
        feed = {k: enc[k].astype(np.int64) for k in names}
        clock["tokenize"] += time.perf_counter() - t0
        return sess.run(None, feed)[0][:, 0], feed["input_ids"].size

    score(order[:bs])  # warm-up
    clock["tokenize"] = 0.0
    scores = np.zeros(len(pairs), dtype=np.float32)
    executed = 0
    t, c = time.perf_counter(), time.process_time()
    for s in range(0, len(order), bs):
        idx = order[s:s + bs]
        out, n = score(idx)
        scores[idx] = out
        executed += n
    run, cpu = time.perf_counter() - t, time.process_time() - c
    np.save(cfg["scores"], scores)
    return {"load_s": load, "run_s": run, "cores": cpu / run, "executed_tokens": executed,
            "tokenize_s": clock["tokenize"], "forward_s": run - clock["tokenize"]}


WORKERS = {"count": worker_count, "torch": worker_torch, "export": worker_export,
           "ort": worker_ort}


def worker_main(kind: str, cfg_path: str) -> None:
    with open(cfg_path) as f:
        cfg = json.load(f)
    _set_thread_env(cfg.get("threads", 1))
    res = WORKERS[kind](cfg)
    with open(cfg["result"], "w") as f:
        json.dump(res, f)


def run_worker(kind: str, cfg: dict, work: Path):
    cfg = dict(cfg)
    cfg["result"] = str(work / f"{kind}.result.json")
    cfg_path = work / f"{kind}.config.json"
    cfg_path.write_text(json.dumps(cfg))
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "ignore"
    env["TRANSFORMERS_VERBOSITY"] = "error"
    env["TOKENIZERS_PARALLELISM"] = "true"
    p, wall, others, steal, _cpu = run_measured(
        [sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(cfg_path)], env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-6000:])
        die(f"{kind} worker failed (exit {p.returncode})")
    res = json.loads(Path(cfg["result"]).read_text())
    res["process_wall_s"], res["others"], res["steal"] = wall, others, steal
    return res


# ------------------------------------------------------------------------------------------
# the measurements the harness drives
# ------------------------------------------------------------------------------------------
def run_sgemm(binary: Path, threads: int, tokens: int, cfg: dict) -> dict:
    cmd = [str(binary), "--threads", str(threads), "--tokens", str(tokens),
           "--hidden", str(cfg["hidden_size"]), "--intermediate", str(cfg["intermediate_size"])]
    p, wall, others, steal, _cpu = run_measured(cmd)
    if p.returncode != 0:
        die(f"{binary} failed: {p.stderr.strip()}")
    rates, header = {}, ""
    for line in p.stdout.splitlines():
        if line.startswith("#"):
            header = line[1:].strip()
        m = re.match(r"sgemm shape=(\S+) M=(\S+) N=(\S+) K=(\S+) .* gflops=([\d.]+)", line)
        if m:
            rates[m.group(1)] = {"M": m.group(2), "N": m.group(3), "K": m.group(4),
                                 "gflops": float(m.group(5))}
    if "square" not in rates or "network" not in rates:
        die(f"cannot parse {binary} output:\n{p.stdout}")
    return {"rates": rates, "openblas": header, "others": others, "cmd": cmd}


def run_ours(binary: Path, model: str, pairs_tsv: Path, out: Path, threads: int,
             max_length: int, token_budget: int | None) -> dict:
    cmd = [str(binary), "score", "--model", model, "--pairs", str(pairs_tsv), "--threads",
           str(threads), "--max-length", str(max_length), "--timing", "--output", str(out)]
    if token_budget:
        cmd += ["--token-budget", str(token_budget)]
    p, wall, others, steal, cpu = run_measured(cmd)
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-4000:])
        die(f"rerank score failed (exit {p.returncode}): {shlex.join(cmd)}")
    line = next((l for l in p.stderr.splitlines() if l.startswith("timing:")), None)
    if line is None:
        die(f"rerank score --timing printed no 'timing:' line; stderr:\n{p.stderr}")
    fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)

    def sec(k):
        return float(fields[k].rstrip("s")) if k in fields else None
    res = {"load_s": sec("load"), "run_s": sec("run"), "tokenize_s": sec("tokenize"),
           "forward_s": sec("forward"), "timing_line": line, "cmd": cmd,
           "process_wall_s": wall, "others": others, "steal": steal,
           # whole process (load included, ~0.2 s of one core): cores = CPU s / wall s
           "cores": cpu / wall if wall > 0 else 0.0}
    for k in ("sequences", "tokens", "passes"):
        if k in fields:
            res[k] = int(fields[k])
    if res["run_s"] is None:
        die(f"no run= field in: {line}")
    return res


def read_scores_txt(path: Path):
    import numpy as np
    return np.loadtxt(path, dtype=np.float64, ndmin=1)


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------
def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def render(ctx: dict) -> tuple[str, str]:
    """(heading, body) of the Markdown section."""
    a = ctx["args"]
    lines = []
    heading = (f"## {ctx['date']} — {ctx['cpu_model']}, {os.cpu_count()} CPUs — {a.threads} "
               f"thread(s), {ctx['n_pairs']:,} pairs ({ctx['n_queries']} SciFact queries × "
               f"{a.per_query}), max_length {a.max_length}")
    rounds = (f" (each engine's fastest of {a.repeat} interleaved rounds)" if a.repeat > 1
              else "")
    lines.append(f"Figures from **one run on one machine** ({ctx['machine']}){rounds}; "
                 "they are not averages over runs, and they move with the machine's other load "
                 "(the *others* column).")
    lines.append("")
    lines.append(f"- command: `{ctx['command']}`")
    lines.append(f"- versions: {ctx['versions']}")
    lines.append(f"- OpenBLAS: {ctx['sgemm']['openblas']}")
    lines.append(f"- model: `{ctx['model_desc']}`")
    w = ctx["workload"]
    lines.append(f"- workload: {ctx['n_pairs']:,} pairs, {w['tokens']:,} real tokens "
                 f"(HF tokenizer, longest_first at {a.max_length}; mean {w['mean']:.1f}, "
                 f"max {w['max']}, {w['truncated']} pairs truncated), "
                 f"{w['gflop']:,.1f} useful GFLOP")
    r = ctx["sgemm"]["rates"]
    lines.append(f"- sgemm ({a.threads} threads): square {r['square']['M']}³ "
                 f"**{r['square']['gflops']:.1f} GFLOP/s**; network shapes at M={r['network']['M']} "
                 f"tokens: " + ", ".join(f"{k} {r[k]['N']}×{r[k]['K']} {r[k]['gflops']:.1f}"
                                         for k in ("qkv", "attn_out", "ffn_up", "ffn_down") if k in r)
                 + f"; all four back to back **{r['network']['gflops']:.1f} GFLOP/s** "
                 f"(others {ctx['sgemm']['others']:.0%})")
    lines.append("")
    lines.append("| engine | run s | load s | pairs/s | tokens/s | GFLOP/s | of sgemm square "
                 "| of sgemm network | computed tokens | cores used | others |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for e in ctx["engines"]:
        m = ctx["results"][e]
        lines.append(
            f"| {ENGINE_NAMES[e]} | {m['run_s']:.2f} | {m['load_s']:.2f} | {fmt_rate(m['pairs_s'])} "
            f"| {fmt_rate(m['tokens_s'])} | {m['gflops']:.1f} | {m['frac_square']:.0%} "
            f"| {m['frac_network']:.0%} | {m['computed_desc']} | {m.get('cores', 0):.2f} "
            f"| {m['others']:.0%} |")
    lines.append("")
    lines.append("*run s*: scoring wall time, tokenization included, model load excluded (ours: "
                 "the CLI's `run=`; peers: timed after a one-batch warm-up). *tokens/s* counts "
                 "real tokens only; *GFLOP/s* is the useful FLOPs of the FLOP model in "
                 "bench/README.md over *run s* (padding is not useful work). *computed tokens*: "
                 "tokens the engine pushed through the network, padding included, relative to "
                 "the real tokens. *cores used*: the engine's CPU time over its wall time (ours: whole "
                 "process; peers: the timed loop). *others*: share of the machine's CPU used by "
                 "other processes while the engine ran; well above zero means the engine's time "
                 "is inflated by other work.")
    lines.append("")
    if "ours" in ctx["results"]:
        o = ctx["results"]["ours"]
        ratios = []
        for e, label in (("torch", "PyTorch"), ("ort", "ONNX Runtime")):
            if e in ctx["results"]:
                ratios.append(f"ours / {label} = **{o['pairs_s'] / ctx['results'][e]['pairs_s']:.2f}×**")
        if ratios:
            lines.append("- speed ratios (pairs/s): " + "; ".join(ratios) +
                         " (project goals: ≥ 1.5× PyTorch, ≥ 1× ONNX Runtime)")
        if o.get("tokenize_s") is not None:
            lines.append(f"- ours, where the time goes: tokenize {o['tokenize_s']:.2f} s, "
                         f"forward {o['forward_s']:.2f} s ({o.get('passes', '?')} passes); "
                         f"forward alone {ctx['workload']['gflop'] / o['forward_s']:.1f} GFLOP/s. "
                         f"`{o['timing_line']}`")
        if "tokens" in o and o["tokens"] != ctx["workload"]["tokens"]:
            lines.append(f"- **token count mismatch**: ours reports {o['tokens']:,} tokens, the HF "
                         f"tokenizer {ctx['workload']['tokens']:,}")
    if "ort" in ctx["results"] and ctx["results"]["ort"].get("tokenize_s") is not None:
        m = ctx["results"]["ort"]
        lines.append(f"- ONNX Runtime, where the time goes: tokenize (HF fast tokenizer, in the "
                     f"loop) {m['tokenize_s']:.2f} s, session.run {m['forward_s']:.2f} s")
    if ctx.get("agreement"):
        lines.append("- score agreement (max |Δ| of raw logits over all pairs): " +
                     "; ".join(f"{k} {v:.2e}" for k, v in ctx["agreement"].items()))
    for n in ctx.get("notes", []):
        lines.append(f"- {n}")
    return heading, "\n".join(lines) + "\n"


def write_results(path: Path, heading: str, body: str) -> None:
    preamble = ("# rerank CPU throughput results\n\n"
                "Written by `bench/bench_cpu.py --write-results` (see bench/README.md). Each "
                "section is **one run on one machine**, as its heading and first lines say; "
                "numbers from different sections are not comparable unless the machine is the "
                "same and was otherwise idle.\n")
    text = path.read_text(encoding="utf-8") if path.exists() else preamble
    section = f"{heading}\n\n{body}"
    # Replace the section with the same heading, if any; else append.
    pat = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(text):
        text = pat.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = path.with_name(path.name + ".tmp.bench")
    tmp.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--worker"]:
        worker_main(argv[1], argv[2])
        return 0
    default_model = Path.home() / ".cache" / "rerank" / "models" / "test-cross-encoder"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--model", default=str(default_model),
                    help="cross-encoder directory (BertForSequenceClassification) for every engine")
    ap.add_argument("--peer-model", default=None,
                    help="directory the Python peers load instead (same weights), e.g. "
                         "/tmp/rr-test-cross-encoder-full; default: --model")
    ap.add_argument("--data", default=str(REPO / "data" / "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--queries", type=int, default=None,
                    help="use only the first N test queries (default: all 300)")
    ap.add_argument("--per-query", type=int, default=10, help="pairs per query")
    ap.add_argument("--seed", type=int, default=13, help="random.Random seed for non-relevant docs")
    ap.add_argument("--threads", type=int, default=2, help="threads for every engine and for sgemm")
    ap.add_argument("--max-length", type=int, default=512, help="tokens per pair, specials included")
    ap.add_argument("--batch-size", type=int, default=32, help="peers' batch size")
    ap.add_argument("--token-budget", type=int, default=None,
                    help="ours: --token-budget (default: the CLI's)")
    ap.add_argument("--engines", default="ours,torch,ort",
                    help="comma-separated subset of ours,torch,ort")
    ap.add_argument("--build", default=str(REPO / "build"),
                    help="build directory holding rerank and rr_sgemm_rate")
    ap.add_argument("--work", default=None,
                    help="scratch directory (pairs TSV, ONNX file, scores); default BUILD/bench-cpu")
    ap.add_argument("--ort-graph", choices=("optimized", "plain"), default="optimized",
                    help="ONNX graph for ORT: after onnxruntime.transformers.optimizer (bert), "
                         "or the plain export (ORT's own session optimizations apply to both)")
    ap.add_argument("--ort-unsorted", action="store_true",
                    help="ORT batches in input order (default: longest first by characters, "
                         "as sentence-transformers does)")
    ap.add_argument("--reexport", action="store_true", help="export the ONNX model again")
    ap.add_argument("--sgemm-tokens", type=int, default=8192, help="M of the network-shape sgemm")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of all engines, interleaved; each engine's fastest run is reported")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="SEC",
                    help="before each engine, wait up to SEC seconds for the machine to go idle")
    ap.add_argument("--write-results", action="store_true",
                    help="replace or append this run's section in --results")
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"), help="results file")
    ap.add_argument("--json", default=None, help="also write the raw measurements here")
    a = ap.parse_args(argv)
    t_start = time.time()
    try:
        git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        git = ""

    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            die(f"--engines: unknown engine '{e}' (ours, torch, ort)")
    build = Path(a.build)
    work = Path(a.work) if a.work else build / "bench-cpu"
    work.mkdir(parents=True, exist_ok=True)
    peer_model = a.peer_model or a.model
    model_cfg_path = Path(a.model) / "config.json"
    if not model_cfg_path.exists():
        if "ours" in engines:
            die(f"{a.model}: no config.json (run scripts/setup.sh to build the test cross-encoder)")
        model_cfg_path = Path(peer_model) / "config.json"
    mcfg = json.loads(model_cfg_path.read_text())
    flops_of = flop_model(mcfg)

    # 1. workload
    pairs, meta = build_pairs(Path(a.data), a.queries, a.per_query, a.seed)
    n_queries = len(pairs) // a.per_query
    pairs_tsv = work / "pairs.tsv"
    write_tsv(pairs, pairs_tsv)
    log(f"{len(pairs)} pairs from {n_queries} queries -> {pairs_tsv}")
    base_cfg = {"pairs": str(pairs_tsv), "model": peer_model, "threads": a.threads,
                "max_length": a.max_length, "batch_size": a.batch_size}
    cnt = run_worker("count", base_cfg, work)
    lengths = cnt["lengths"]
    if len(lengths) != len(pairs):
        die("token count: wrong number of pairs read back (a text with an odd line break?)")
    gflop = sum(flops_of(L) for L in lengths) * 1e-9
    workload = {"tokens": sum(lengths), "mean": sum(lengths) / len(lengths), "max": max(lengths),
                "truncated": sum(1 for L in lengths if L >= a.max_length), "gflop": gflop}
    log(f"{workload['tokens']} real tokens (mean {workload['mean']:.1f}), {gflop:.1f} useful GFLOP")

    # 2. the machine's sgemm rate. The binaries are copied first, so that a rebuild of
    # build/ while the (long) run goes on does not change what is measured.
    bindir = work / "bin"
    bindir.mkdir(exist_ok=True)
    for name, needed in (("rr_sgemm_rate", True), ("rerank", "ours" in engines)):
        if not needed:
            continue
        if not (build / name).exists():
            die(f"{build / name} not found: cmake --build {build}")
        shutil.copy2(build / name, bindir / (name + ".tmp.bench"))
        os.replace(bindir / (name + ".tmp.bench"), bindir / name)
    sgemm_bin = bindir / "rr_sgemm_rate"
    if a.wait_idle:
        wait_idle(a.wait_idle)
    sg = run_sgemm(sgemm_bin, a.threads, a.sgemm_tokens, mcfg)
    log("sgemm GFLOP/s: " + ", ".join(f"{k} {v['gflops']:.1f}" for k, v in sg["rates"].items()))

    # 3. engines
    import numpy as np
    results, scores, notes = {}, {}, []
    if "ort" in engines:
        onnx_path = work / f"model.{a.ort_graph}.onnx"
        stamp = work / f"model.{a.ort_graph}.onnx.source"
        src = f"{Path(peer_model).resolve()} {a.max_length}"
        if a.reexport or not onnx_path.exists() or not stamp.exists() or stamp.read_text() != src:
            log(f"exporting ONNX ({a.ort_graph}) -> {onnx_path}")
            ex = run_worker("export", {**base_cfg, "onnx": str(onnx_path),
                                       "ort_graph": a.ort_graph}, work)
            stamp.write_text(src)
            (work / f"model.{a.ort_graph}.onnx.export.json").write_text(json.dumps(ex))
        ex = json.loads((work / f"model.{a.ort_graph}.onnx.export.json").read_text())
        notes.append(f"ONNX: {ex['exporter']}, opset 18, fp32, dynamic batch/sequence; graph "
                     f"{a.ort_graph}" + (f" (fused: {', '.join(f'{k} {v}' for k, v in ex['fused'].items())})"
                                         if ex.get("fused") else "") +
                     f"; export check max |Δ| vs transformers {ex['check_max_abs_diff']:.1e}")
    def run_engine(e: str):
        if e == "ours":
            out = work / "scores.ours.txt"
            m = run_ours(bindir / "rerank", a.model, pairs_tsv, out, a.threads, a.max_length,
                         a.token_budget)
            sc = read_scores_txt(out)
            m["computed_desc"] = "1.00× (packed)"
        elif e == "torch":
            m = run_worker("torch", {**base_cfg, "scores": str(work / "scores.torch.npy")}, work)
            sc = np.load(work / "scores.torch.npy").astype(np.float64)
            ex_tok = padded_tokens(lengths, st_order(pairs), a.batch_size)
            m["computed_desc"] = f"{ex_tok / workload['tokens']:.2f}× (batches of {a.batch_size})"
        else:
            m = run_worker("ort", {**base_cfg, "scores": str(work / "scores.ort.npy"),
                                   "onnx": str(work / f"model.{a.ort_graph}.onnx"),
                                   "ort_sort": not a.ort_unsorted}, work)
            sc = np.load(work / "scores.ort.npy").astype(np.float64)
            m["computed_desc"] = (f"{m['executed_tokens'] / workload['tokens']:.2f}× "
                                  f"(batches of {a.batch_size}, "
                                  f"{'input order' if a.ort_unsorted else 'sorted'})")
        if len(sc) != len(pairs):
            die(f"{e}: {len(sc)} scores for {len(pairs)} pairs")
        m["pairs_s"] = len(pairs) / m["run_s"]
        m["tokens_s"] = workload["tokens"] / m["run_s"]
        m["gflops"] = gflop / m["run_s"]
        m["frac_square"] = m["gflops"] / sg["rates"]["square"]["gflops"]
        m["frac_network"] = m["gflops"] / sg["rates"]["network"]["gflops"]
        return m, sc

    # Rounds are interleaved (ours, torch, ort, ours, ...) so that a change in the machine's
    # other load hits every engine alike; each engine's fastest run is reported.
    runs: dict[str, list] = {e: [] for e in engines}
    for rnd in range(a.repeat):
        for e in engines:
            if a.wait_idle:
                wait_idle(a.wait_idle)
            log(f"running {e}" + (f" (round {rnd + 1}/{a.repeat})" if a.repeat > 1 else "") + " ...")
            m, sc = run_engine(e)
            runs[e].append(m)
            if e in scores and float(np.abs(scores[e] - sc).max()) > 1e-6:
                notes.append(f"{ENGINE_NAMES[e]}: scores changed between rounds by up to "
                             f"{float(np.abs(scores[e] - sc).max()):.1e}")
            scores[e] = sc
            log(f"{e}: run {m['run_s']:.2f}s, {m['pairs_s']:.1f} pairs/s, "
                f"{m['gflops']:.1f} GFLOP/s, {m['cores']:.2f} cores, others {m['others']:.0%}")
    for e in engines:
        best = min(runs[e], key=lambda r: r["run_s"])
        best["all_runs"] = [(r["run_s"], r["others"]) for r in runs[e]]
        results[e] = best
    if "torch" in results:
        m = results["torch"]
        notes.append(f"PyTorch: CrossEncoder.predict sorts pairs by character length "
                     f"(longest first) before batching; attention implementation "
                     f"`{m.get('attn')}`; torch threads {m.get('threads')}")
    if a.repeat > 1:
        notes.append("all runs (run s, others): " + "; ".join(
            f"{e}: " + ", ".join(f"{t:.2f} ({o:.0%})" for t, o in results[e]["all_runs"])
            for e in engines) + " — the table shows each engine's fastest")

    agreement = {}
    done = [e for e in ENGINES if e in scores]
    for i, x in enumerate(done):
        for y in done[i + 1:]:
            agreement[f"{x} vs {y}"] = float(np.abs(scores[x] - scores[y]).max())
    worst = max(agreement.values(), default=0.0)
    if worst > 1e-3:
        notes.append(f"**scores disagree by up to {worst:.2e}**: the engines may not compute the "
                     "same function (tokenizer or model difference); see scores.*.* in the work "
                     "directory")

    # 4. report
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:  # only needed when "ort" is among the engines
        ort_version = "not installed"
    import sentence_transformers
    import torch
    import transformers
    versions = (f"torch {torch.__version__}, onnxruntime {ort_version}, "
                f"sentence-transformers {sentence_transformers.__version__}, transformers "
                f"{transformers.__version__}, Python {platform.python_version()}")
    if git:
        versions += f", rerank git {git} (at the start of the run)"
    cmd = "python3 bench/bench_cpu.py" + ("" if not argv else " " + shlex.join(argv))
    ctx = {"args": a, "date": _dt.date.today().isoformat(), "machine": machine_description(),
           "cpu_model": cpu_model(),
           "command": cmd, "versions": versions, "sgemm": sg, "workload": workload,
           "n_pairs": len(pairs), "n_queries": n_queries, "engines": [e for e in ENGINES if e in results],
           "results": results, "agreement": agreement, "notes": notes,
           "model_desc": f"{a.model}" + (f" (peers: {peer_model})" if peer_model != a.model else "")
                         + f", hidden {mcfg['hidden_size']}, {mcfg['num_hidden_layers']} layers, "
                           f"{mcfg['num_attention_heads']} heads, intermediate {mcfg['intermediate_size']}"}
    heading, body = render(ctx)
    print(heading + "\n\n" + body)
    if a.json:
        Path(a.json).write_text(json.dumps({"workload": workload, "sgemm": sg, "results": results,
                                            "agreement": agreement}, indent=1, default=str))
    if a.write_results:
        write_results(Path(a.results), heading, body)
        log(f"wrote {a.results}")
    log(f"done in {time.time() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
