#!/usr/bin/env python3
"""The ModernBERT test cross-encoders and their PyTorch reference scores.

    HF_HUB_OFFLINE=1 python3 tests/reference/fixtures_modernbert.py [--out tests/fixtures] [--threads 1]

(also make_fixtures.py --steps modernbert). No trained ModernBERT cross-encoder is reachable here,
so the test models are seeded: tests/tools/make_modernbert.py (standard library only, run by
scripts/setup.sh) draws every tensor with random.Random(seed) and lays the RoBERTa test
tokenizer's byte-level BPE out as answerdotai/ModernBERT-base's tokenizer.json. This script

1. writes the fixture directories (small files only): test-modernbert-cross-encoder/ and
   test-modernbert-variant-cross-encoder/, each config.json, tokenizer_config.json, README.md.
   The base config.json is written as the Hub's ModernBERT checkpoints write theirs
   (global_attn_every_n_layers, global_rope_theta, local_rope_theta: transformers 4.48's keys); the
   variant's is what transformers 5.24's save_pretrained writes (layer_types, rope_parameters);
2. assembles both with make_modernbert.py into a temporary directory and loads each with
   transformers (AutoModelForSequenceClassification, float32, attn_implementation="eager", eval):
   no missing, unexpected or mismatched tensors; the layer types, half window and RoPE bases are
   the intended ones; save_pretrained writes back the very tensors make_modernbert.py wrote;
3. loads the tokenizer with AutoTokenizer and checks that it encodes every pair as the `tokenizers`
   library reading tokenizer.json does (no token type ids: model_input_names);
4. scores make_fixtures' 240 ce pairs (every 5th query of ce_pairs.tsv, as ce_roberta_pairs.tsv:
   truncation "longest_first", max_length 512, one pair per forward, no padding) and writes
   ce_modernbert_pairs.tsv and ce_modernbert_variant_pairs.tsv ("qid\\tdocid\\tlogit", %.9g);
5. scores them twice more: attn_implementation="sdpa" in padded batches of 16, and an
   independent re-implementation (manual() below: the formulas, a query at position i attending a
   key at j iff |i - j| <= local_attention // 2 in sliding layers) in float32 and float64, and
   reports the largest differences;
6. records the versions in VERSIONS.txt (the line "modernbert: ...", replaced when run again).
"""
import argparse
import datetime
import json
import os
import platform
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

import make_modernbert  # noqa: E402

MAX_LENGTH = 512
VOCAB_SIZE = 8064  # the tokenizer's 8005 rounded up to a multiple of 64, as ModernBERT pads its vocabulary

# The shapes both models share (each sets its own num_attention_heads below).
SHAPE = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=4, max_position_embeddings=512,
             norm_eps=1e-5, hidden_activation="gelu", vocab_size=VOCAB_SIZE, pad_token_id=8003,
             cls_token_id=8001, sep_token_id=8002, bos_token_id=8001, eos_token_id=8002)

# The base: ModernBERT-base's switches (no biases, CLS pooling, GELU head), a small window, 4 heads
# (head dim 16: a head dimension the CUDA backend's kernels do not take).
BASE = dict(num_attention_heads=4, global_attn_every_n_layers=3, local_attention=32,
            global_rope_theta=160000.0, local_rope_theta=10000.0, norm_bias=False,
            attention_bias=False, mlp_bias=False, classifier_bias=False, classifier_pooling="cls",
            classifier_activation="gelu")
# The variant: every bias, mean pooling, a SiLU head, global layers 0 and 2, a smaller window, 2 heads
# (head dim 32, which the CUDA backend's kernels take).
VARIANT = dict(num_attention_heads=2, global_attn_every_n_layers=2, local_attention=16,
               global_rope_theta=160000.0, local_rope_theta=10000.0, norm_bias=True,
               attention_bias=True, mlp_bias=True, classifier_bias=True, classifier_pooling="mean",
               classifier_activation="silu")

TOKENIZER_CONFIG = {
    "backend": "tokenizers",
    "clean_up_tokenization_spaces": True,
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
    "model_input_names": ["input_ids", "attention_mask"],
    "model_max_length": MAX_LENGTH,
    "pad_token": "[PAD]",
    "sep_token": "[SEP]",
    "tokenizer_class": "PreTrainedTokenizerFast",
    "unk_token": "[UNK]",
}


def hub_config(opts):
    """config.json as the Hub's ModernBERT checkpoints (transformers 4.48) write it."""
    c = {
        "architectures": ["ModernBertForSequenceClassification"],
        "attention_bias": opts["attention_bias"],
        "attention_dropout": 0.0,
        "bos_token_id": SHAPE["bos_token_id"],
        "classifier_activation": opts["classifier_activation"],
        "classifier_bias": opts["classifier_bias"],
        "classifier_dropout": 0.0,
        "classifier_pooling": opts["classifier_pooling"],
        "cls_token_id": SHAPE["cls_token_id"],
        "decoder_bias": True,
        "deterministic_flash_attn": False,
        "embedding_dropout": 0.0,
        "eos_token_id": SHAPE["eos_token_id"],
        "global_attn_every_n_layers": opts["global_attn_every_n_layers"],
        "global_rope_theta": opts["global_rope_theta"],
        "gradient_checkpointing": False,
        "hidden_activation": SHAPE["hidden_activation"],
        "hidden_size": SHAPE["hidden_size"],
        "id2label": {"0": "LABEL_0"},
        "initializer_cutoff_factor": 2.0,
        "initializer_range": 0.02,
        "intermediate_size": SHAPE["intermediate_size"],
        "label2id": {"LABEL_0": 0},
        "layer_norm_eps": 1e-05,
        "local_attention": opts["local_attention"],
        "local_rope_theta": opts["local_rope_theta"],
        "max_position_embeddings": SHAPE["max_position_embeddings"],
        "mlp_bias": opts["mlp_bias"],
        "mlp_dropout": 0.0,
        "model_type": "modernbert",
        "norm_bias": opts["norm_bias"],
        "norm_eps": SHAPE["norm_eps"],
        "num_attention_heads": opts["num_attention_heads"],
        "num_hidden_layers": SHAPE["num_hidden_layers"],
        "pad_token_id": SHAPE["pad_token_id"],
        "position_embedding_type": "absolute",
        "sep_token_id": SHAPE["sep_token_id"],
        "sparse_pred_ignore_index": -100,
        "sparse_prediction": False,
        "torch_dtype": "float32",
        "transformers_version": "4.48.0",
        "vocab_size": SHAPE["vocab_size"],
    }
    return (json.dumps(c, indent=2, sort_keys=True) + "\n").encode()


def saved_config(opts):
    """config.json as transformers' save_pretrained writes it (layer_types, rope_parameters)."""
    from transformers import ModernBertConfig

    kw = dict(SHAPE, **opts, num_labels=1, architectures=["ModernBertForSequenceClassification"])
    tmp = tempfile.mkdtemp(prefix="rr-modernbert-config-")
    ModernBertConfig(**kw).save_pretrained(tmp)
    raw = open(os.path.join(tmp, "config.json"), "rb").read()
    shutil.rmtree(tmp)
    return raw


README = """# {name} (fixture)

A **ModernBERT** cross-encoder (`ModernBertForSequenceClassification`, `num_labels=1`) with seeded
random weights, so that the tests check rerank's ModernBERT path (pre-norm layers without a
LayerNorm before layer 0's attention, fused `Wqkv`, GeGLU MLP, rotary positions with a base per layer
type, alternating global and sliding-window attention, the `head` dense + activation + LayerNorm,
{pooling} pooling) and its tokenizer against transformers. **Not a trained ranker**: no
trained ModernBERT cross-encoder ships on a registry reachable here; the same function everywhere.

- Shapes: hidden 64, {heads} heads (head dim {head_dim}), intermediate 96 (`mlp.Wi` is 192 x 64: input and gate),
  4 layers, `max_position_embeddings` 512, `norm_eps` 1e-5, `hidden_activation` gelu (exact, erf);
  `vocab_size` {vocab} (the tokenizer's 8005 rounded up to a multiple of 64, as ModernBERT pads its
  vocabulary: rows 8005..8063 are never looked up).
- Attention: `global_attn_every_n_layers` {every} (global layers {globals}, the others sliding),
  `local_attention` {window}: in a sliding layer a query at position i attends a key at j iff
  |i - j| <= {half} (transformers: `config.sliding_window` = local_attention // 2,
  masking_utils' `abs(q_idx - kv_idx) <= sliding_window`). RoPE bases: global {gtheta:g}, sliding
  {ltheta:g}; positions 0, 1, ... per sequence.
- Switches: `norm_bias` {nb}, `attention_bias` {ab}, `mlp_bias` {mb}, `classifier_bias` {cb},
  `classifier_pooling` "{pooling}", `classifier_activation` "{act}". `classifier.bias` exists either
  way (transformers' classifier is a plain `nn.Linear`); `classifier_bias` is the bias of
  `head.dense`.
- config.json: {config_note}
- Weights (tests/tools/make_modernbert.py{flag}): `random.Random({seed})`, one `gauss` per element, the
  tensors in make_modernbert.tensors' order: `tok_embeddings` ~ N(0, 0.5); every LayerNorm weight
  1 + N(0, 0.1){norm_bias_note}; `Wqkv`, `mlp.Wi`, `head.dense` ~ N(0, 0.15); `attn.Wo`, `mlp.Wo` ~
  N(0, 0.1){bias_note}; `classifier.weight` ~ N(0, 1), `classifier.bias` ~ N(0, 0.1). Logits of the
  240 ce pairs lie in [{lo:.2f}, {hi:.2f}].
- Tokenizer: the RoBERTa test tokenizer's byte-level BPE (../test-roberta-cross-encoder: 8000
  tokens, its `<s>` `<pad>` `</s>` `<unk>` `<mask>` kept as plain vocabulary entries 0..4) laid out
  as answerdotai/ModernBERT-base's tokenizer.json: `NFC` normalizer, ByteLevel pre-tokenizer
  (`add_prefix_space` false, `trim_offsets` true, `use_regex` true), TemplateProcessing
  `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1` (type ids 0, then 1 for B and its [SEP]; the
  model takes no token type ids: tokenizer_config.json's `model_input_names` leaves them out),
  added tokens `[UNK]` `[CLS]` `[SEP]` `[PAD]` `[MASK]` = 8000..8004 (special, not normalized;
  `[MASK]` with `lstrip` as ModernBERT-base's), ByteLevel decoder; tokenizer_config.json:
  `PreTrainedTokenizerFast`, `model_max_length` 512.

Committed here: `config.json`, `tokenizer_config.json`, this README. To assemble a usable model
directory (scripts/setup.sh does this; standard library only):

```
tests/tools/make_modernbert.py tests/fixtures/{name} DIR{flag}
```

which writes `DIR/config.json`, `model.safetensors` (float32, every tensor), `tokenizer.json` (from
../test-roberta-cross-encoder/tokenizer.json.gz) and `tokenizer_config.json`.
tests/reference/fixtures_modernbert.py assembles it the same way, checks that transformers 5.24
loads it with no missing or unexpected tensor and saves back the same tensors, that AutoTokenizer
encodes every pair as the `tokenizers` library does, and scores `../{tsv}` (the 240 pairs of
ce_roberta_pairs.tsv; eager attention, float32, truncation longest_first at 512 tokens, one pair per
forward), checked against sdpa attention in padded batches and against an independent
re-implementation of the forward pass.

Regenerate with `tests/reference/fixtures_modernbert.py` (or `tests/reference/make_fixtures.py
--minilm DIR --steps modernbert`).
"""


def readme(name, opts, seed, variant, lo, hi):
    L = SHAPE["num_hidden_layers"]
    every = opts["global_attn_every_n_layers"]
    return reflow(README.format(
        name=name, vocab=VOCAB_SIZE, every=every, heads=opts["num_attention_heads"],
        head_dim=SHAPE["hidden_size"] // opts["num_attention_heads"],
        globals=", ".join(str(i) for i in range(L) if i % every == 0),
        window=opts["local_attention"], half=opts["local_attention"] // 2,
        gtheta=opts["global_rope_theta"], ltheta=opts["local_rope_theta"],
        nb=str(opts["norm_bias"]).lower(), ab=str(opts["attention_bias"]).lower(),
        mb=str(opts["mlp_bias"]).lower(), cb=str(opts["classifier_bias"]).lower(),
        pooling=opts["classifier_pooling"], act=opts["classifier_activation"],
        config_note=("as transformers 5.24's `save_pretrained` writes it: `layer_types` and "
                     "`rope_parameters` (with `global_attn_every_n_layers` kept beside them), no "
                     "`global_rope_theta` / `local_rope_theta`" if variant else
                     "as the Hub's ModernBERT checkpoints (transformers 4.48) write it: "
                     "`global_attn_every_n_layers`, `global_rope_theta`, `local_rope_theta`, no "
                     "`layer_types` or `rope_parameters`"),
        flag=" --variant" if variant else "", seed=seed,
        norm_bias_note=", every LayerNorm bias N(0, 0.1)" if opts["norm_bias"] else "",
        bias_note=("; every bias of a linear (`Wqkv`, `attn.Wo`, `mlp.Wi`, `mlp.Wo`, `head.dense`) "
                   "~ N(0, 0.05), drawn right after its weight" if variant else ""),
        lo=lo, hi=hi, tsv=("ce_modernbert_variant_pairs.tsv" if variant else "ce_modernbert_pairs.tsv")))


def reflow(text, width=100):
    """Fill each paragraph and bullet of a README to width (code blocks kept as they are)."""
    import textwrap

    out, para, code = [], [], False

    def flush():
        if para:
            bullet = para[0].startswith("- ")
            words = " ".join(l.strip() for l in para)
            for op in ("+", "-", "<=", "x"):  # no line may start with "+ " or "- " (a list item)
                words = words.replace(f" {op} ", f"\0{op}\0")
            out.append(textwrap.fill(words, width, subsequent_indent="  " if bullet else "",
                                     break_on_hyphens=False, break_long_words=False).replace("\0", " "))
            para.clear()

    for line in text.split("\n"):
        if line.startswith("```"):
            flush()
            code = not code
            out.append(line)
        elif code or line.startswith("#"):
            out.append(line)
        elif not line.strip():
            flush()
            out.append("")
        elif line.startswith("- "):
            flush()
            para.append(line)
        else:
            para.append(line)
    flush()
    return "\n".join(out)


def log(*a):
    print(*a, flush=True)


def manual(sd, cfg, ids, dtype, layer_types=None):
    """The ModernBERT cross-encoder's logit for one unpadded sequence, from the formulas (not
    transformers' code): pre-norm layers, rotate-half RoPE (inv_freq = 1 / theta^(2k/d), computed in
    float32 as transformers does, then cast), sliding layers masked to |i - j| <= local_attention // 2."""
    import torch

    H, nh, L = cfg.hidden_size, cfg.num_attention_heads, cfg.num_hidden_layers
    hd, eps = H // nh, cfg.norm_eps
    layer_types = layer_types or cfg.layer_types
    half = cfg.local_attention // 2
    T = len(ids)
    t = {k: v.to(dtype) for k, v in sd.items()}

    def ln(x, p):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        y = (x - mu) / torch.sqrt(var + eps) * t[p + ".weight"]
        return y + t[p + ".bias"] if p + ".bias" in t else y

    def lin(x, p):
        y = x @ t[p + ".weight"].T
        return y + t[p + ".bias"] if p + ".bias" in t else y

    def act(x, name):
        if name == "gelu":
            return 0.5 * x * (1.0 + torch.erf(x / 2 ** 0.5))
        if name == "silu":
            return x * torch.sigmoid(x)
        raise ValueError(name)

    pos = torch.arange(T, dtype=torch.float32)
    i = torch.arange(T)
    near = (i[:, None] - i[None, :]).abs() <= half
    x = ln(t["model.embeddings.tok_embeddings.weight"][torch.tensor(ids)], "model.embeddings.norm")
    for n in range(L):
        p = f"model.layers.{n}."
        kind = layer_types[n]
        theta = cfg.rope_parameters[kind]["rope_theta"]
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        f = pos[:, None] * inv[None, :]
        emb = torch.cat([f, f], -1)
        cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
        h = x if n == 0 else ln(x, p + "attn_norm")
        qkv = lin(h, p + "attn.Wqkv").view(T, 3, nh, hd)
        q, k, v = (qkv[:, j].transpose(0, 1) for j in range(3))  # (nh, T, hd)

        def rot(a):
            return a * cos + torch.cat([-a[..., hd // 2:], a[..., :hd // 2]], -1) * sin

        s = rot(q) @ rot(k).transpose(1, 2) / hd ** 0.5
        if kind == "sliding_attention":
            s = s.masked_fill(~near, float("-inf"))
        o = (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(T, H)
        x = x + lin(o, p + "attn.Wo")
        a, g = lin(ln(x, p + "mlp_norm"), p + "mlp.Wi").chunk(2, -1)
        x = x + lin(act(a, cfg.hidden_activation) * g, p + "mlp.Wo")
    x = ln(x, "model.final_norm")
    pooled = x[0] if cfg.classifier_pooling == "cls" else x.mean(0)
    hdn = ln(act(lin(pooled, "head.dense"), cfg.classifier_activation), "head.norm")
    return float(lin(hdn, "classifier")[0])


def window_offsets(model, T):
    """The offsets j - i that transformers' own eager mask admits for a sliding layer (length T)."""
    import torch
    from transformers.masking_utils import create_bidirectional_sliding_window_mask

    emb = torch.zeros(1, T, model.config.hidden_size)
    m = create_bidirectional_sliding_window_mask(config=model.config, inputs_embeds=emb,
                                                 attention_mask=torch.ones(1, T, dtype=torch.long))
    assert m is not None, "no sliding mask materialized"
    ok = (m[0, 0] == 0) if m.dtype != torch.bool else m[0, 0]
    offs = sorted({int(j - i) for i in range(T) for j in range(T) if ok[i, j]})
    return offs


def one(args, data, pairs, name, opts, seed, variant, versions):
    import numpy as np
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from make_fixtures import CE_DOCS_PER_QUERY, write_atomic, write_mean_pooled

    tag = "modernbert-variant" if variant else "modernbert"
    d = os.path.join(args.out, name)
    os.makedirs(d, exist_ok=True)
    write_atomic(os.path.join(d, "config.json"), saved_config(opts) if variant else hub_config(opts))
    write_atomic(os.path.join(d, "tokenizer_config.json"),
                 (json.dumps(TOKENIZER_CONFIG, indent=2) + "\n").encode())

    asm = tempfile.mkdtemp(prefix=f"rr-test-{tag}-")
    bpe = os.path.join(REPO, "tests", "fixtures", "test-roberta-cross-encoder")  # the committed BPE, whatever --out is
    cmd = [sys.executable, os.path.join(TOOLS, "make_modernbert.py"), d, asm, "--bpe", bpe] + (
        ["--variant"] if variant else [])
    subprocess.run(cmd, check=True)

    # --- the model as transformers loads it
    model, info = AutoModelForSequenceClassification.from_pretrained(
        asm, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model.eval()
    assert type(model).__name__ == "ModernBertForSequenceClassification", type(model)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, bad
    cfg = model.config
    L, every = cfg.num_hidden_layers, opts["global_attn_every_n_layers"]
    want_types = ["full_attention" if i % every == 0 else "sliding_attention" for i in range(L)]
    assert cfg.layer_types == want_types, cfg.layer_types
    assert cfg.sliding_window == opts["local_attention"] // 2, cfg.sliding_window
    assert cfg.rope_parameters["full_attention"]["rope_theta"] == opts["global_rope_theta"]
    assert cfg.rope_parameters["sliding_attention"]["rope_theta"] == opts["local_rope_theta"]
    assert cfg.classifier_pooling == opts["classifier_pooling"]
    assert cfg.classifier_activation == opts["classifier_activation"]
    assert cfg.vocab_size == VOCAB_SIZE and cfg.num_labels == 1
    half = cfg.sliding_window
    offs = window_offsets(model, 3 * half + 7)
    assert offs == list(range(-half, half + 1)), offs
    log(f"{tag}: layer_types {cfg.layer_types}; transformers' sliding mask admits j - i in "
        f"[{offs[0]}, {offs[-1]}] (|i - j| <= local_attention // 2 = {half}); "
        f"attention module sliding_window (flash's) = {model.model.layers[1].attn.sliding_window}")

    # --- transformers saves back what make_modernbert.py wrote
    mine = load_file(os.path.join(asm, "model.safetensors"))
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert set(mine) == set(sd), set(mine) ^ set(sd)
    resave = tempfile.mkdtemp(prefix=f"rr-test-{tag}-saved-")
    model.save_pretrained(resave, safe_serialization=True)
    back = load_file(os.path.join(resave, "model.safetensors"))
    assert set(back) == set(mine), set(back) ^ set(mine)
    diff = [k for k in mine if mine[k].dtype != torch.float32 or not torch.equal(mine[k], back[k])
            or not torch.equal(mine[k], sd[k])]
    assert not diff, diff
    shutil.rmtree(resave)
    log(f"{tag}: transformers loads {len(mine)} tensors, none missing or unexpected, and saves back the same "
        f"{len(mine)} tensors make_modernbert.py wrote (seed {seed})")

    # --- the tokenizer
    tok = AutoTokenizer.from_pretrained(asm)
    raw = Tokenizer.from_file(os.path.join(asm, "tokenizer.json"))
    raw.no_padding()
    raw.enable_truncation(max_length=MAX_LENGTH, strategy="longest_first")
    assert (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id, tok.mask_token_id) == (
        8001, 8002, 8003, 8000, 8004)
    assert tok.model_max_length == MAX_LENGTH
    inputs = [(data.qtext[q], data.dtext[dd]) for q, dd in pairs]
    encs = []
    for a, b in inputs:
        e = tok(a, b, truncation="longest_first", max_length=MAX_LENGTH)
        assert "token_type_ids" not in e, list(e)
        r = raw.encode(a, b, add_special_tokens=True)
        assert e["input_ids"] == r.ids, (a[:40], b[:40])
        encs.append(e["input_ids"])
    lens = np.array([len(e) for e in encs])
    log(f"{tag}: {type(tok).__name__} encodes all {len(pairs)} pairs as tokenizers.Tokenizer does; lengths "
        f"{lens.min()}..{lens.max()} (median {int(np.median(lens))}), {int((lens > 2 * half + 1).sum())} longer "
        f"than the window 2*{half}+1, {int((lens == MAX_LENGTH).sum())} truncated to {MAX_LENGTH}")

    # --- the reference: eager, one pair per forward
    with torch.inference_mode():
        logits = np.array([float(model(input_ids=torch.tensor([e])).logits.reshape(-1)[0]) for e in encs],
                          dtype=np.float32)
    assert np.all(np.isfinite(logits))

    # --- second way: sdpa, padded batches of 16
    sdpa = AutoModelForSequenceClassification.from_pretrained(asm, dtype=torch.float32, attn_implementation="sdpa")
    sdpa.eval()
    got = []
    with torch.inference_mode():
        for s in range(0, len(inputs), 16):
            enc = tok([a for a, _ in inputs[s:s + 16]], [b for _, b in inputs[s:s + 16]], truncation="longest_first",
                      max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            got += sdpa(**enc).logits.reshape(-1).tolist()
    d_sdpa = float(np.max(np.abs(np.array(got) - logits)))
    # --- third way: the formulas, float32 and float64
    m32 = np.array([manual(sd, cfg, e, torch.float32) for e in encs])
    m64 = np.array([manual(sd, cfg, e, torch.float64) for e in encs])
    d32, d64 = float(np.max(np.abs(m32 - logits))), float(np.max(np.abs(m64 - logits)))
    # how much the window matters: the same formulas with every layer global
    nowin = np.array([manual(sd, cfg, e, torch.float64, ["full_attention"] * L) for e in encs[:24]])
    d_win = float(np.max(np.abs(nowin - m64[:24])))
    log(f"{tag}: max |eager - sdpa (padded batches of 16)| = {d_sdpa:.3g}; max |eager - re-implementation| "
        f"float32 {d32:.3g}, float64 {d64:.3g}; dropping the window changes the first 24 logits by up to "
        f"{d_win:.3g}")
    assert d_sdpa < 1e-4 and d32 < 1e-4 and d64 < 1e-4, (d_sdpa, d32, d64)
    assert d_win > 1e-2, d_win

    gaps = []
    for s in range(0, len(pairs), CE_DOCS_PER_QUERY):
        v = sorted(logits[s:s + CE_DOCS_PER_QUERY])
        gaps.append(min(b - a for a, b in zip(v, v[1:])))
    lo, hi = float(logits.min()), float(logits.max())
    log(f"{tag}: logits in [{lo:.4f}, {hi:.4f}], std {logits.std():.4f}; per-query min gap {min(gaps):.3g}")
    # --- the trunk as a bi-encoder (ModernBertModel: final_norm's output, mean-pooled; eager attention
    # over padded batches, as make_fixtures' other *_embed.tsv)
    write_mean_pooled(args, data, tok, model.model,
                      "modernbert_variant_embed.tsv" if variant else "modernbert_embed.tsv", tag)
    out_name = "ce_modernbert_variant_pairs.tsv" if variant else "ce_modernbert_pairs.tsv"
    body = "".join(f"{q}\t{dd}\t{float(v):.9g}\n" for (q, dd), v in zip(pairs, logits))
    write_atomic(os.path.join(args.out, out_name), body.encode("utf-8"))
    write_atomic(os.path.join(d, "README.md"), readme(name, opts, seed, variant, lo, hi).encode("utf-8"))
    shutil.rmtree(asm)
    log(f"{tag}: wrote {out_name} and {d}")
    versions.append(f"{tag} seed {seed}, logits [{lo:.3f}, {hi:.3f}], eager vs sdpa {d_sdpa:.2g}, vs "
                    f"re-implementation f32 {d32:.2g} / f64 {d64:.2g}")


def step(args, data):
    import tokenizers
    import torch
    import transformers

    from make_fixtures import deberta_pairs, write_atomic

    pairs = deberta_pairs(data)  # every ELECTRA_QUERY_STRIDE-th query of the ce pairs, with its documents
    assert len(pairs) == 240
    # the same pairs as ce_roberta_pairs.tsv
    rob = [tuple(l.split("\t")[:2]) for l in open(os.path.join(REPO, "tests", "fixtures", "ce_roberta_pairs.tsv"))]
    assert rob == pairs, "the pair choice differs from ce_roberta_pairs.tsv"

    notes = []
    one(args, data, pairs, "test-modernbert-cross-encoder", BASE, make_modernbert.SEED, False, notes)
    one(args, data, pairs, "test-modernbert-variant-cross-encoder", VARIANT, make_modernbert.VARIANT_SEED, True,
        notes)

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    line = (f"modernbert: {stamp}, tests/reference/fixtures_modernbert.py (python {platform.python_version()}, "
            f"torch {torch.__version__} CPU float32 {torch.get_num_threads()} thread(s), transformers "
            f"{transformers.__version__}, tokenizers {tokenizers.__version__}); " + "; ".join(notes))
    path = os.path.join(args.out, "VERSIONS.txt")
    old = open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []
    new = [l for l in old if not l.startswith("modernbert: ")] + [line]
    write_atomic(path, ("\n".join(new) + "\n").encode())
    log("modernbert: VERSIONS.txt: " + line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "data", "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixture directory")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from make_fixtures import Data

    step(args, Data(args.data))
    log("done")


if __name__ == "__main__":
    main()
