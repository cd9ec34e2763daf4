#!/usr/bin/env python3
"""make_fixtures.py's camembert step: the CamemBERT test cross-encoder and its fixtures.

No CamemBERT cross-encoder (nor camembert-base) ships on a registry reachable here, so, as for
XLM-R, the test model is MiniLM's trunk under a tokenizer of its own:

- the tokenizer: the XLM-R step's SentencePiece Unigram (../fixtures/test-xlmr-cross-encoder/
  tokenizer.json.gz: its pieces, scores and charsmap) laid out as transformers' CamembertConverter
  lays out a SentencePiece model (tests/tools/make_camembert.py camembert()), made by transformers
  5.24's CamembertTokenizer(vocab=..., _spm_precompiled_charsmap=...) and saved by it;
- the model: CamembertForSequenceClassification with MiniLM's layers, each piece taking the MiniLM
  embedding row make_camembert.py gives it, and after torch.manual_seed(CAMEMBERT_SEED)
  classifier.out_proj ~ Normal(0, 3.0), bias ~ Normal(0, 0.1) (classifier.dense = MiniLM's
  pooler.dense).

Writes into args.out:
  test-camembert-cross-encoder/   config.json, head.safetensors, tokenizer_config.json, README.md
  camembert_tokenizer_scifact.tsv.gz  every query, doc and pair, as step_tok writes them
  camembert_tokenizer_edge.jsonl  make_fixtures' xlmr edge cases and CamemBERT's own through the
                                  base tokenizer and each variant of tests/tools/camembert_variants.py:
                                  ids and type_ids of the `tokenizers` library reading the file, and
                                  transformers' AutoTokenizer's as "transformers_ids" where they differ
                                  (never for the base form)
  ce_camembert_pairs.tsv          CrossEncoder.predict logits of the assembled model (240 pairs)

Run: tests/reference/make_fixtures.py --minilm MINILM --steps camembert
"""
import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CAMEMBERT_SEED = 20261203
VARIANTS = ("base", "legacy", "unk", "defaults", "two", "never")

README = """# test-camembert-cross-encoder (fixture)

The test cross-encoder's trunk as a **CamemBERT** cross-encoder
(`CamembertForSequenceClassification`, `num_labels=1`), so that the tests check rerank's CamemBERT
path (model_type `camembert`: XLM-R's layer, names under `roberta.`, positions from padding_idx + 1
= 2, one token type, the head dense + tanh + out_proj) and transformers' `CamembertTokenizer`
against transformers. No CamemBERT checkpoint (camembert-base, or a CamemBERT cross-encoder such as
antoinelouis/crossencoder-camembert-base-mmarcoFR) ships on a registry reachable here. **It is NOT
a trained reranker**: its scores mean nothing; it only has to be the same function everywhere.

- **The tokenizer**: the XLM-R test tokenizer's SentencePiece Unigram (../test-xlmr-cross-encoder:
  pieces, scores, charsmap) laid out as transformers' `CamembertConverter` lays out a SentencePiece
  model: `<s>NOTUSED` `<pad>` `</s>NOTUSED` `<unk>` (ids 0-3, score 0), `<unk>NOTUSED` (4, score
  -100), SentencePiece's pieces from its index 1 on (`<s>` 5, `</s>` 6, then 7-8003), `<mask>`
  (8004): vocabulary 8005. Made by transformers 5.24's `CamembertTokenizer(vocab=...,
  _spm_precompiled_charsmap=...)` and saved by it (tokenizer_config.json here: its
  `extra_special_tokens` are the class's default `<s>NOTUSED` `</s>NOTUSED` `<unk>NOTUSED`);
  tests/tools/make_camembert.py writes the same tokenizer.json from the XLM-R one (checked equal).
- **The model**: all-MiniLM-L6-v2's layers under `roberta.`; each piece takes the MiniLM embedding
  row make_xlmr.py's `minilm_token()` gives it, the three NOTUSED tokens `[UNK]`'s (as `<unk>`);
  positions [514, 384]: two zero rows, then MiniLM's; token types [1, 384]; `classifier.dense` =
  MiniLM's `pooler.dense`; after `torch.manual_seed(20261203)`, `classifier.out_proj.weight ~
  Normal(0, 3.0)`, `.bias ~ Normal(0, 0.1)`. config.json: bos 5, eos 6, pad 1.

transformers 5.24's `CamembertTokenizer` (AutoTokenizer's class for model_type `camembert`) reads a
tokenizer.json as its `XLMRobertaTokenizer` does (vocabulary, charsmap and added tokens only; its own
Precompiled normalizer, WhitespaceSplit + Metaspace pre-tokenizer, `<s> A </s> </s> B </s>`
template), except: the unknown id is the index of `unk_token` in the vocabulary (XLM-R's class
takes 3; the file's `model.unk_id` is read by neither), the template takes `bos_token` and
`eos_token`, `<mask>` is added with lstrip, and it adds its additional special tokens
(`extra_special_tokens`, else `additional_special_tokens`, else the three NOTUSED) and the named
special tokens as special tokens. tests/tools/camembert_variants.py writes files where that and the
`tokenizers` library's reading differ; `../camembert_tokenizer_edge.jsonl` holds both.

Committed here: `config.json` (as `save_pretrained` writes it), `head.safetensors` (the two seeded
tensors, float32), `tokenizer_config.json`. To assemble a usable model directory (scripts/setup.sh
does this):

```
tests/tools/make_camembert.py MINILM_DIR tests/fixtures/test-camembert-cross-encoder DIR
```

fixtures_camembert.py assembles it the same way and checks that transformers loads it with every
tensor equal to the model it scored for `../ce_camembert_pairs.tsv`, and that `AutoTokenizer`
loads it as the tokenizer that wrote `../camembert_tokenizer_scifact.tsv.gz` and
`../camembert_tokenizer_edge.jsonl`.

Regenerate with `tests/reference/make_fixtures.py --minilm MINILM --steps camembert`.
"""


def edge_cases(data):
    from make_fixtures import xlmr_edge_cases

    C = [c for c in xlmr_edge_cases(data)]
    C += [("notused_literals", "<s>NOTUSED </s>NOTUSED <unk>NOTUSED"),
          ("notused_in_words", "x<s>NOTUSEDy a</s>NOTUSEDb<unk>NOTUSEDc"),
          ("notused_lowercase", "<s>notused </s>Notused <unk>NOTUSE"),
          ("notused_and_specials", "<s><s>NOTUSED</s></s>NOTUSED<unk><unk>NOTUSED<mask><pad>"),
          ("eos_inside_text", "the cell</s>cycle </s> ends"),
          ("bos_inside_text", "a<s>b <s> c"),
          ("mask_after_spaces", "a  \t<mask>  x"),
          ("mask_in_word", "x<mask>y"),
          ("accents_french", "L'\u00e9t\u00e9 \u00e0 P\u00e2ques, na\u00efve c\u0153ur \u00c9COLE fran\u00e7ais"),
          ("accents_decomposed", "e\u0301te\u0301 franc\u0327ais"),
          ("spaces_french", "  qu'est-ce   que  c'est ?\u00a0\u00bb \u00ab "),
          ("unknown_chars", "\u9f98 \u9f98\u9f98 x\u9f98y"),
          ("pair_notused", "<s>NOTUSED a", "b <unk>NOTUSED", 512),
          ("pair_notused_truncated", "<unk>NOTUSED " * 6, "</s>NOTUSED " * 6, 9)]
    C = [c if len(c) == 4 else (c[0], c[1], None, 512) for c in C]
    assert len({c[0] for c in C}) == len(C), "duplicate edge case names"
    return C


def write_edge(args, data, src):
    """camembert_tokenizer_edge.jsonl into args.out from the assembled model directory src."""
    from make_fixtures import encode_edge, log, write_atomic
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    cases = edge_cases(data)
    vdir = tempfile.mkdtemp(prefix="rr-camembert-variants-")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "camembert_variants.py"), src, vdir],
                   check=True)
    out, differ = [], {}
    for v in VARIANTS:
        raw = Tokenizer.from_file(os.path.join(vdir, v + "-file", "tokenizer.json"))
        raw.no_padding()
        hf = AutoTokenizer.from_pretrained(src if v == "base" else os.path.join(vdir, v))
        assert type(hf).__name__ == "CamembertTokenizer", type(hf)
        for name, a, b, ml in cases:
            raw.enable_truncation(max_length=ml, strategy="longest_first")
            r = raw.encode(a, b, add_special_tokens=True) if b is not None else raw.encode(a, add_special_tokens=True)
            ids, tt = list(r.ids), list(r.type_ids)
            h_ids, h_tt = encode_edge(hf, a, b, ml)
            assert len(ids) <= ml and not any(tt) and not any(h_tt), (v, name)
            rec = {"variant": v, "name": name, "a": a, "b": b, "max_length": ml, "ids": ids, "type_ids": tt}
            if h_ids != ids:
                assert v != "base", (name, ids, h_ids)
                rec["transformers_ids"] = h_ids
                differ.setdefault(v, []).append(name)
            out.append(json.dumps(rec, ensure_ascii=False))
    shutil.rmtree(vdir)
    write_atomic(os.path.join(args.out, "camembert_tokenizer_edge.jsonl"), ("\n".join(out) + "\n").encode("utf-8"))
    log(f"camembert: wrote {len(out)} lines to camembert_tokenizer_edge.jsonl ({len(cases)} cases x {len(VARIANTS)} "
        f"variants); transformers agrees with tokenizers on the base form for all")
    for v in VARIANTS[1:]:
        log(f"camembert:   {v}: transformers differs from the file on {len(differ.get(v, []))}: {differ.get(v, [])}")
    return cases


def step(args, data):
    import torch
    from make_fixtures import (check_assembled, log, roberta_config_args, roberta_layout, save_head_fixture,
                               seeded_head, step_tok, write_ce_reference)
    from safetensors.torch import load_file
    from transformers import (AutoTokenizer, BertConfig, CamembertConfig, CamembertForSequenceClassification,
                              CamembertTokenizer)

    sys.path.insert(0, os.path.join(REPO, "tests", "tools"))
    import make_camembert
    import make_xlmr

    xlmr = json.loads(gzip.open(os.path.join(args.out, "test-xlmr-cross-encoder", "tokenizer.json.gz"), "rb").read())
    laid = make_camembert.camembert(xlmr)
    pieces = [tuple(p) for p in laid["model"]["vocab"]]
    charsmap = base64.b64decode(xlmr["normalizer"]["precompiled_charsmap"])
    tok = CamembertTokenizer(vocab=pieces, _spm_precompiled_charsmap=charsmap, model_max_length=512)
    assert len(tok) == len(pieces) == make_camembert.MASK + 1, len(tok)
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id, tok.mask_token_id) == \
        (make_camembert.BOS, make_camembert.EOS, 1, 3, make_camembert.MASK)

    bc = BertConfig.from_pretrained(args.minilm)
    bert = open(os.path.join(args.minilm, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    bert_id = {t: i for i, t in enumerate(bert)}
    rows = [bert_id[make_xlmr.minilm_token("<unk>" if p in make_camembert.NOTUSED else p, set(bert))]
            for p, _ in pieces]
    log(f"camembert: {len(pieces)} pieces take {len(set(rows))} distinct MiniLM rows; "
        f"{sum(r == bert_id['[UNK]'] for r in rows)} take [UNK]'s")
    cargs = roberta_config_args(bc, len(pieces), "CamembertForSequenceClassification")
    cargs.update(bos_token_id=make_camembert.BOS, eos_token_id=make_camembert.EOS)
    model = CamembertForSequenceClassification(CamembertConfig(**cargs)).float()
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    model.roberta.load_state_dict(roberta_layout(trunk, rows), strict=True)
    torch.manual_seed(CAMEMBERT_SEED)
    seeded_head(trunk, model.classifier.dense, model.classifier.out_proj)
    model.eval()
    full = model.state_dict()
    scratch, d, _ = save_head_fixture(args, model, "camembert",
                                      ("classifier.out_proj.weight", "classifier.out_proj.bias"), README, tok)
    shutil.copy2(os.path.join(scratch, "tokenizer_config.json"), os.path.join(d, "tokenizer_config.json"))
    os.chmod(os.path.join(d, "tokenizer_config.json"), 0o644)

    asm = tempfile.mkdtemp(prefix="rr-test-camembert-assembled-")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "make_camembert.py"), args.minilm, d, asm],
                   check=True)
    same = open(os.path.join(asm, "tokenizer.json"), "rb").read() == open(os.path.join(scratch, "tokenizer.json"),
                                                                          "rb").read()
    assert json.load(open(os.path.join(asm, "tokenizer.json"))) == json.load(open(os.path.join(scratch,
                                                                                               "tokenizer.json")))
    log(f"camembert: make_camembert.py's tokenizer.json is transformers' {'byte for byte' if same else 'as JSON'}")
    back = AutoTokenizer.from_pretrained(asm)
    assert type(back) is CamembertTokenizer, type(back)
    probe = [c[1] for c in edge_cases(data)] + [data.qtext[q["_id"]] for q in data.queries[:50]]
    assert back(probe, truncation=True, max_length=512)["input_ids"] == tok(probe, truncation=True,
                                                                            max_length=512)["input_ids"]
    a, b = tok.convert_tokens_to_ids(["\u2581a", "\u2581b"])
    assert back(["a"], ["b"])["input_ids"] == [[5, a, 6, 6, b, 6]], back(["a"], ["b"])["input_ids"]

    step_tok(args, data, back, "camembert_tokenizer_scifact.tsv.gz", "camembert")
    cases = write_edge(args, data, asm)
    write_ce_reference(args, data, asm, model, "ce_camembert_pairs.tsv", "camembert")
    check_assembled(asm, full, "CamembertForSequenceClassification", "camembert", d)
    return len(cases)
