#!/usr/bin/env python3
"""Pairs past 512 tokens: the ModernBERT variant test cross-encoder at 8,192 positions, and the
DeBERTa-v3 test cross-encoder at max length 2,048, scored by transformers, for
tests/test_model_parity.c and tests/test_cuda_model.c.

    HF_HUB_OFFLINE=1 python3 tests/reference/fixtures_long.py [--out tests/fixtures] [--threads 1]
        [--minilm ~/.cache/rerank/models/all-MiniLM-L6-v2]

Real ModernBERT checkpoints (and the rerankers built on them) take 8,192 tokens; every other
fixture stops at 512. ModernBERT has no position table (rotary positions), so the seeded variant
test model (tests/tools/make_modernbert.py --variant, fixtures_modernbert.py) with
max_position_embeddings raised from 512 to 8,192 in config.json (make_modernbert.py --positions 8192)
is the same network at real ModernBERT's length: test-modernbert-long-cross-encoder, which
scripts/setup.sh assembles the same way.

Pairs: for each of 4 targets (700, 1,500, 3,000 and 5,000 tokens), a SciFact test query (the
k-th in qrels order) and a document made of its first relevant document followed by the corpus'
documents in file order, joined by a space, until the pair reaches the target; no truncation.
Each scored by ModernBertForSequenceClassification (float32, eager attention, one pair per forward)
and checked against SDPA and fixtures_modernbert.manual() (float64) within 1e-4. Writes
ce_long_pairs.tsv: "model\\tquery\\tdocument\\tlogit" (%.9g), the form of ce_pad_pairs.tsv.

DeBERTa-v3 has no position table either (position_biased_input false: relative positions only,
the far ones in the last log bucket), so transformers runs it past max_position_embeddings (512,
still its default length) when asked. The test DeBERTa cross-encoder (the MiniLM trunk,
tests/tools/make_deberta.py over MINILM, the F32 all-MiniLM-L6-v2 that scripts/setup.sh caches)
scores the same 4 pairs with truncation longest_first at max length 2,048 (the first two whole,
the others cut to 2,048), float32, one pair per forward, checked against the same model in
float64 within 1e-4. Writes ce_long_deberta_pairs.tsv, the same form; the tests score it with
--max-length 2048 (DEBERTA_MAX_LENGTH).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tests", "tools")
sys.path.insert(0, HERE)
sys.path.insert(0, TOOLS)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL = "test-modernbert-long-cross-encoder"
POSITIONS = 8192
TARGETS = (700, 1500, 3000, 5000)
DEBERTA = "test-deberta-cross-encoder"
DEBERTA_MAX_LENGTH = 2048


def long_model(out):
    """The variant at max_position_embeddings 8,192 into out (as scripts/setup.sh assembles it)."""
    fixture = os.path.join(REPO, "tests", "fixtures", "test-modernbert-variant-cross-encoder")
    bpe = os.path.join(REPO, "tests", "fixtures", "test-roberta-cross-encoder")
    subprocess.run([sys.executable, os.path.join(TOOLS, "make_modernbert.py"), fixture, out, "--bpe", bpe,
                    "--variant", "--positions", str(POSITIONS)], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "data", "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixture directory")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--minilm", default=os.path.join(os.environ.get("RR_CACHE", os.path.expanduser("~/.cache/rerank")),
                                                     "models", "all-MiniLM-L6-v2"),
                    help="the F32 all-MiniLM-L6-v2 directory (the DeBERTa test model's trunk)")
    args = ap.parse_args()
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from fixtures_modernbert import manual
    from make_fixtures import Data, log, write_atomic

    torch.set_num_threads(args.threads)
    data = Data(args.data)
    asm = tempfile.mkdtemp(prefix="rr-test-modernbert-long-")
    long_model(asm)
    tok = AutoTokenizer.from_pretrained(asm)
    model = AutoModelForSequenceClassification.from_pretrained(asm, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    assert model.config.max_position_embeddings == POSITIONS
    sdpa = AutoModelForSequenceClassification.from_pretrained(asm, dtype=torch.float32, attn_implementation="sdpa")
    sdpa.eval()
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    rel = {}
    for q, d, _ in data.qrels_test:
        rel.setdefault(q, d)
    qids = data.test_qids_in_order()
    lines, logits, worst = [], [], 0.0
    for k, target in enumerate(TARGETS):
        q = qids[k]
        parts, i = [data.dtext[rel[q]]], 0
        while True:
            doc = " ".join(parts)
            n = len(tok(data.qtext[q], doc, truncation=False)["input_ids"])
            if n >= target:
                break
            if data.doc_ids[i] != rel[q]:
                parts.append(data.dtext[data.doc_ids[i]])
            i += 1
        assert "\t" not in doc and "\n" not in doc and "\t" not in data.qtext[q]
        ids = tok(data.qtext[q], doc, truncation=False)["input_ids"]
        with torch.inference_mode():
            eager = float(model(input_ids=torch.tensor([ids])).logits.reshape(-1)[0])
            other = float(sdpa(input_ids=torch.tensor([ids])).logits.reshape(-1)[0])
        m64 = float(manual(sd, model.config, ids, torch.float64))
        d = max(abs(other - eager), abs(m64 - eager))
        worst = max(worst, d)
        assert np.isfinite(eager) and d < 1e-4, (target, eager, other, m64)
        log(f"long: query {q}, {len(parts)} documents, {len(ids)} tokens: logit {eager:.6f} "
            f"(sdpa {other - eager:+.2g}, float64 formulas {m64 - eager:+.2g})")
        lines.append(f"{MODEL}\t{data.qtext[q]}\t{doc}\t{eager:.9g}\n")
        logits.append(eager)
    write_atomic(os.path.join(args.out, "ce_long_pairs.tsv"), "".join(lines).encode("utf-8"))
    shutil.rmtree(asm)
    log(f"long: wrote ce_long_pairs.tsv ({len(lines)} pairs; eager against sdpa and the formulas: {worst:.2g}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s))")

    # ---- DeBERTa-v3 at max length 2,048: the same pairs
    asm = tempfile.mkdtemp(prefix="rr-test-deberta-long-")
    subprocess.run([sys.executable, os.path.join(TOOLS, "make_deberta.py"), args.minilm,
                    os.path.join(REPO, "tests", "fixtures", DEBERTA), asm], check=True)
    tok = AutoTokenizer.from_pretrained(asm)
    model = AutoModelForSequenceClassification.from_pretrained(asm, dtype=torch.float32)
    model.eval()
    assert not model.config.position_biased_input and model.config.max_position_embeddings < DEBERTA_MAX_LENGTH
    f64 = AutoModelForSequenceClassification.from_pretrained(asm, dtype=torch.float64)
    f64.eval()
    out, worst = [], 0.0
    for line in lines:
        _, q, doc, _ = line.rstrip("\n").split("\t")
        whole = len(tok(q, doc, truncation=False)["input_ids"])
        enc = tok(q, doc, truncation="longest_first", max_length=DEBERTA_MAX_LENGTH, return_tensors="pt")
        with torch.inference_mode():
            y = float(model(**enc).logits.reshape(-1)[0])
            y64 = float(f64(**enc).logits.reshape(-1)[0])
        worst = max(worst, abs(y64 - y))
        assert np.isfinite(y) and abs(y64 - y) < 1e-4, (whole, y, y64)
        log(f"long deberta: {whole} tokens, {enc['input_ids'].shape[1]} scored: logit {y:.6f} "
            f"(float64 {y64 - y:+.2g})")
        out.append(f"{DEBERTA}\t{q}\t{doc}\t{y:.9g}\n")
    write_atomic(os.path.join(args.out, "ce_long_deberta_pairs.tsv"), "".join(out).encode("utf-8"))
    shutil.rmtree(asm)
    log(f"long deberta: wrote ce_long_deberta_pairs.tsv ({len(out)} pairs at max length {DEBERTA_MAX_LENGTH}; "
        f"float32 against float64: {worst:.2g})")


if __name__ == "__main__":
    main()
