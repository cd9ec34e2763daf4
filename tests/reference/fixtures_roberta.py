#!/usr/bin/env python3
"""make_fixtures.py's roberta step: the RoBERTa test cross-encoder and its fixtures.

No trained RoBERTa cross-encoder ships on a registry reachable here, so, as for XLM-R, the test
model is MiniLM's trunk under a tokenizer of its own:

- the tokenizer: a byte-level BPE (vocabulary 8000: <s> <pad> </s> <unk> <mask>, the 256 byte
  characters, then merges) trained by the `tokenizers` library on make_fixtures'
  xlmr_training_lines (SciFact's queries and docs plus the multilingual lines), written by
  transformers 5.24's RobertaTokenizer (save_pretrained). Trained only with --retrain or when
  tests/fixtures/test-roberta-cross-encoder/tokenizer.json.gz is missing: otherwise the committed
  file is the source of truth;
- the model: RobertaForSequenceClassification with MiniLM's layers, each token taking the MiniLM
  embedding row tests/tools/make_roberta.py gives it, and after torch.manual_seed(ROBERTA_SEED)
  classifier.out_proj ~ Normal(0, 3.0), bias ~ Normal(0, 0.1) (classifier.dense = MiniLM's
  pooler.dense).

Writes into args.out:
  test-roberta-cross-encoder/   config.json, head.safetensors, tokenizer.json.gz,
                                tokenizer_config.json, README.md
  roberta_tokenizer_scifact.tsv.gz   every query, doc and pair, as step_tok writes them
  roberta_tokenizer_edge.jsonl  make_fixtures' xlmr edge cases through the base tokenizer and each
                                variant of tests/tools/roberta_variants.py: ids and type_ids of the
                                `tokenizers` library reading the file (Tokenizer.from_file), and
                                transformers' AutoTokenizer's as "transformers_ids" where they differ
                                (for the base form and the nfc forms, ModernBERT's: nfc, nfcseq and
                                neox, they must not)
  ce_roberta_pairs.tsv          CrossEncoder.predict logits of the assembled model (240 pairs)

The edge fixture alone (no MiniLM, no torch model) from the assembled model directory:

  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python3 tests/reference/fixtures_roberta.py \\
      --edge-only ~/.cache/rerank/models/test-roberta-cross-encoder
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ROBERTA_SEED = 20261202
ROBERTA_VOCAB = 8000
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
VARIANTS = ("base", "prefix", "mask", "unk", "decoder", "files", "nfc", "nfcseq", "neox")
# ModernBERT's form: PreTrainedTokenizerFast, BERT's template (neox: with GPT-NeoX's added tokens)
NFC_VARIANTS = ("nfc", "nfcseq", "neox")

README = """# test-roberta-cross-encoder (fixture)

The test cross-encoder's trunk as a **RoBERTa** cross-encoder (`RobertaForSequenceClassification`,
`num_labels=1`), so that the tests check rerank's byte-level BPE tokenizer and its RoBERTa path
against transformers. No trained RoBERTa cross-encoder ships on a registry reachable here.

- Tokenizer: a byte-level BPE, vocabulary 8000 (`<s>` `<pad>` `</s>` `<unk>` `<mask>` = 0..4, the
  256 byte characters, then one token per merge), trained by `tokenizers` 0.23.3 on SciFact's
  queries and docs and make_fixtures' multilingual lines, written by transformers 5.24's
  `RobertaTokenizer` (`add_prefix_space` false, as roberta-base).
- Model: all-MiniLM-L6-v2's layers under `roberta.`; each token takes the MiniLM embedding row of
  the piece it spells (tests/tools/make_roberta.py); positions start at 2 (two zero rows first);
  `classifier.dense` = MiniLM's `pooler.dense`; after `torch.manual_seed(20261202)`,
  `classifier.out_proj.weight ~ Normal(0, 3.0)`, `.bias ~ Normal(0, 0.1)`. Not a useful ranker;
  the same function everywhere.

Committed here: `config.json` (as `save_pretrained` writes it), `head.safetensors` (the two seeded
tensors, float32), `tokenizer.json.gz`, `tokenizer_config.json`. To assemble a usable model
directory (scripts/setup.sh does this):

```
tests/tools/make_roberta.py MINILM_DIR tests/fixtures/test-roberta-cross-encoder DIR
```

make_fixtures.py assembles it the same way and checks that transformers loads it with every
tensor equal to the model it scored for `../ce_roberta_pairs.tsv`, and that `AutoTokenizer` loads
it as the tokenizer that wrote `../roberta_tokenizer_scifact.tsv.gz` and
`../roberta_tokenizer_edge.jsonl`. transformers 5's `RobertaTokenizer` keeps only the vocabulary
and merges of tokenizer.json (ByteLevel with tokenizer_config.json's `add_prefix_space`, no unknown
token, RobertaProcessing, the added tokens of tokenizer_config.json), so for the variants of
tests/tools/roberta_variants.py it and the `tokenizers` library can disagree; the edge fixture
holds both.

Regenerate with `tests/reference/make_fixtures.py --steps roberta` (`--retrain` trains the BPE
again).
"""


def train(data, path):
    """A byte-level BPE trained on xlmr_training_lines, saved by RobertaTokenizer into path."""
    from make_fixtures import xlmr_training_lines
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import RobertaTokenizer

    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=ROBERTA_VOCAB, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    t.train_from_iterator(xlmr_training_lines(data), trainer)
    model = json.loads(t.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tok = RobertaTokenizer(vocab=model["vocab"], merges=merges, model_max_length=512)
    tok.save_pretrained(path)


def tokenizer(args, data, d):
    from make_fixtures import log, write_atomic
    from transformers import RobertaTokenizer

    tmp = tempfile.mkdtemp(prefix="rr-roberta-tok-")
    committed = None
    if os.path.exists(os.path.join(d, "tokenizer.json.gz")):
        committed = gzip.open(os.path.join(d, "tokenizer.json.gz"), "rb").read()
    if args.retrain or committed is None:
        train(data, tmp)
        log("roberta: trained a byte-level BPE")
    else:
        write_atomic(os.path.join(tmp, "tokenizer.json"), committed)
        shutil.copy2(os.path.join(d, "tokenizer_config.json"), tmp)
        log("roberta: the tokenizer from the committed tokenizer.json.gz (--retrain trains a new one)")
    tok = RobertaTokenizer.from_pretrained(tmp)
    shutil.rmtree(tmp)
    assert len(tok) == ROBERTA_VOCAB and tok.convert_tokens_to_ids(SPECIALS) == [0, 1, 2, 3, 4], len(tok)
    return tok, committed


def neox_edge_cases():
    """Cases for the neox variant's added tokens (GPT-NeoX-20B's runs of 2..24 spaces, OLMo's
    |||...||| placeholders, <|endoftext|> <|padding|>; non-special ones matched leftmost-longest
    in the NFC text before ByteLevel), run through every variant like the others."""
    C = [(f"neox_run_{k:02d}", "a" + " " * k + "b") for k in range(1, 31)]
    C += [("neox_run_25_words", "word" + " " * 25 + "word"), ("neox_run_48", "x" + " " * 48 + "y"),
          ("neox_run_49_alone", " " * 49), ("neox_run_24_alone", " " * 24), ("neox_run_2_alone", "  "),
          ("neox_runs_at_ends", "  lead and trail   "), ("neox_run_start_7", "       seven"),
          ("neox_run_end_9", "nine" + " " * 9), ("neox_run_end_1", "one "),
          ("neox_tab_between", "a \t  b"), ("neox_newline_indent", "a\n    b"),
          ("neox_code", "    def f():\n        return 1"),
          ("neox_code_nested", "class A:\n    def f(self):\n        if x:\n            return  [1,  2]\n"),
          ("neox_tabs_and_runs", "\t\t  x  \t\ty\r\n   z\n\n\n    "),
          ("neox_other_spaces", "a \u00a0  b\u3000  c\u2000\u2000d \u2001  e"),
          # NFC next to runs: marks after spaces stay (nothing composes with a space), marks
          # before them compose with the letter; the normalized added naïf next to runs
          ("neox_marks_after_run", "a  \u0301b   \u0308\u0301c \u0301"),
          ("neox_marks_before_run", "e\u0301  e\u0301\u0301   o\u0308\u0304    x"),
          ("neox_naif_in_runs", "  nai\u0308f  nai\u0308f   na\u00eff"),
          ("neox_pii", "host|||IP_ADDRESS|||port a  |||IP_ADDRESS|||  b |||EMAIL_ADDRESS||||||PHONE_NUMBER|||"),
          ("neox_pii_near_misses", "||||IP_ADDRESS|||| |||ip_address||| ||| IP_ADDRESS||| |||PHONE_NUMBER||"),
          ("neox_pii_marks", "|||IP_ADDRESS|||\u0301 e\u0301|||EMAIL_ADDRESS|||"),
          ("neox_specials_in_runs", "a  <|endoftext|>  b<|padding|>   c [SEP]  [CLS]  d  <mask>  e"),
          ("neox_pair_runs", "a   b    c\n      d", "    x  \n  y\t  z", 512),
          ("neox_pair_truncated", "a   b    c      d        e  f", "x  y   z    w     v      u", 12),
          ("neox_truncated", "    " + "  b" * 20, None, 10)]
    return [c if len(c) == 4 else (c[0], c[1], None, 512) for c in C]


def edge_cases(data):
    """The cases of roberta_tokenizer_edge.jsonl (also fixtures_real_bpe.py's): make_fixtures' xlmr
    cases, byte-level BPE and NFC ones, neox_edge_cases(); each (name, a, b, max_length)."""
    from make_fixtures import xlmr_edge_cases

    cases = xlmr_edge_cases(data)
    cases += [("mask_after_space", "a <mask> b"), ("mask_after_spaces", "a  \t<mask>"),
              ("specials_inside", "x<s>y</s>z<pad><unk>"), ("contractions", "it's we're I'VE they'll 'd 'x ''s"),
              ("accents", "caf\u00e9 \u00e9t\u00e9 na\u00efve \u00c9COLE"),
              ("digits_and_letters", "abc123def 4.5e-3 \u0661\u0662\u0663 \u00b2\u00bd"),
              ("space_runs_before_word", "a   b\t\t c \n\nd  "),
              # what NFC (the nfc variants') changes, and what it leaves
              ("nfc_decomposed_e", "cafe\u0301 e\u0301te\u0301 caf\u00e9 E\u0301COLE"),
              ("nfc_hangul_jamo", "\u1112\u1161\u11ab\u1100\u1173\u11af \u1100\u1161 \uac00\u11a8 \u1100\u1161\u11a7 "
                                  "\ud55c\uae00 \u1100\u1100\u1161"),
              ("nfc_marks_order", "a\u0323\u0301 a\u0301\u0323 \u1ea1\u0301 q\u0307\u0323 o\u031b\u0303\u0323 "
                                  "\u0301start"),
              ("nfc_singletons_exclusions", "\u212b \u2126 \u212a \u0344 \u0958 \u0915\u093c \u2adc \u0f73"),
              ("nfc_ascii_only", "plain ascii text, nothing to compose: 123 !? <>"),
              ("nfc_added_next_to_decomposed", "e\u0301[SEP]\u0301x [CLS]e\u0301<mask>\u0301 e\u0301</s>"),
              ("nfc_normalized_added", "nai\u0308f na\u00eff xnai\u0308fy nai\u0308 f"),
              ("nfc_pair", "cafe\u0301 [SEP] a\u0323\u0301", "\u1100\u1161\u11a8 nai\u0308f", 512)]
    cases += neox_edge_cases()
    assert len({c[0] for c in cases}) == len(cases), "duplicate edge case names"
    return [c if len(c) == 4 else (c[0], c[1], None, 512) for c in cases]


def edge(args, data, src):
    """roberta_tokenizer_edge.jsonl lines for every case x variant."""
    from make_fixtures import encode_edge
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    cases = edge_cases(data)
    vdir = tempfile.mkdtemp(prefix="rr-roberta-variants-")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "roberta_variants.py"), src, vdir],
                   check=True)
    out, differ = [], {}
    for v in VARIANTS:
        vd = src if v == "base" else os.path.join(vdir, v)
        raw = Tokenizer.from_file(os.path.join(vdir, v + "-file", "tokenizer.json"))
        raw.no_padding()
        hf = AutoTokenizer.from_pretrained(vd)
        assert type(hf).__name__ == ("TokenizersBackend" if v in NFC_VARIANTS else "RobertaTokenizer"), type(hf)
        for name, a, b, ml in cases:
            raw.enable_truncation(max_length=ml, strategy="longest_first")
            r = raw.encode(a, b, add_special_tokens=True) if b is not None else raw.encode(a, add_special_tokens=True)
            ids, tt = list(r.ids), list(r.type_ids)
            h_ids, h_tt = encode_edge(hf, a, b, ml)
            assert (not any(tt) and not any(h_tt)) or (v in NFC_VARIANTS and b is not None and h_tt == tt)
            rec = {"variant": v, "name": name, "a": a, "b": b, "max_length": ml, "ids": ids, "type_ids": tt}
            if h_ids != ids:
                assert v not in ("base", "files") + NFC_VARIANTS, (v, name, ids, h_ids)
                rec["transformers_ids"] = h_ids
                differ.setdefault(v, []).append(name)
            out.append(json.dumps(rec, ensure_ascii=False))
    shutil.rmtree(vdir)
    return cases, out, differ


def write_edge(args, data, src):
    """roberta_tokenizer_edge.jsonl into args.out from the assembled model directory src."""
    from make_fixtures import log, write_atomic

    cases, lines, differ = edge(args, data, src)
    write_atomic(os.path.join(args.out, "roberta_tokenizer_edge.jsonl"), ("\n".join(lines) + "\n").encode("utf-8"))
    log(f"roberta: wrote {len(lines)} lines to roberta_tokenizer_edge.jsonl ({len(cases)} cases x {len(VARIANTS)} "
        f"variants); transformers agrees with tokenizers on the base form and the nfc forms "
        f"{NFC_VARIANTS}")
    for v in VARIANTS[1:]:
        log(f"roberta:   {v}: transformers differs from the file on {len(differ.get(v, []))}: {differ.get(v, [])}")
    return cases


def step(args, data):
    import torch
    from make_fixtures import (check_assembled, gzip_bytes, log, roberta_config_args, roberta_layout,
                               save_head_fixture, seeded_head, step_tok, write_atomic, write_ce_reference)
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig, RobertaConfig, RobertaForSequenceClassification

    sys.path.insert(0, os.path.join(REPO, "tests", "tools"))
    import make_roberta
    import make_xlmr

    d = os.path.join(args.out, "test-roberta-cross-encoder")
    os.makedirs(d, exist_ok=True)
    tok, committed = tokenizer(args, data, d)
    tokens = [tok.convert_ids_to_tokens(i) for i in range(len(tok))]

    bc = BertConfig.from_pretrained(args.minilm)
    bert = open(os.path.join(args.minilm, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    bert_id = {t: i for i, t in enumerate(bert)}
    rows = [bert_id[make_xlmr.minilm_token(make_roberta.piece(t), set(bert))] for t in tokens]
    log(f"roberta: {len(tokens)} tokens take {len(set(rows))} distinct MiniLM rows; "
        f"{sum(r == bert_id['[UNK]'] for r in rows)} take [UNK]'s")
    config = RobertaConfig(**roberta_config_args(bc, len(tokens), "RobertaForSequenceClassification"))
    model = RobertaForSequenceClassification(config).float()
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    model.roberta.load_state_dict(roberta_layout(trunk, rows), strict=True)
    torch.manual_seed(ROBERTA_SEED)
    seeded_head(trunk, model.classifier.dense, model.classifier.out_proj)
    model.eval()
    full = model.state_dict()
    scratch, d, _ = save_head_fixture(args, model, "roberta",
                                      ("classifier.out_proj.weight", "classifier.out_proj.bias"), README, tok)
    tj = open(os.path.join(scratch, "tokenizer.json"), "rb").read()
    if committed is not None and tj != committed:
        log("roberta: NOTE: the tokenizer.json written now differs from the committed one; replacing it")
    write_atomic(os.path.join(d, "tokenizer.json.gz"), gzip_bytes(tj))
    shutil.copy2(os.path.join(scratch, "tokenizer_config.json"), os.path.join(d, "tokenizer_config.json"))
    os.chmod(os.path.join(d, "tokenizer_config.json"), 0o644)
    j = json.loads(tj)
    log("roberta: tokenizer.json: " + json.dumps({k: j[k] for k in ("added_tokens", "normalizer", "pre_tokenizer",
                                                                      "post_processor")}, ensure_ascii=False))

    asm = tempfile.mkdtemp(prefix="rr-test-roberta-assembled-")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "make_roberta.py"), args.minilm, d, asm],
                   check=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        assert open(os.path.join(asm, f), "rb").read() == open(os.path.join(scratch, f), "rb").read(), f
    back = AutoTokenizer.from_pretrained(asm)
    assert type(back).__name__ == "RobertaTokenizer"
    assert back(["a"], ["b"])["input_ids"] == [[0, tok.convert_tokens_to_ids("a"), 2, 2,
                                                tok.convert_tokens_to_ids("b"), 2]]

    step_tok(args, data, back, "roberta_tokenizer_scifact.tsv.gz", "roberta")
    cases = write_edge(args, data, asm)
    write_ce_reference(args, data, asm, model, "ce_roberta_pairs.tsv", "roberta")
    check_assembled(asm, full, "RobertaForSequenceClassification", "roberta", d)
    return len(cases)


def main():
    """Only roberta_tokenizer_edge.jsonl, from an assembled test RoBERTa model (what the roberta
    step assembles, and scripts/setup.sh into the model cache): the step without the model."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--edge-only", required=True, metavar="MODEL_DIR",
                    help="the assembled test-roberta-cross-encoder directory")
    ap.add_argument("--data", default=os.path.join(REPO, "data", "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixture directory")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    from make_fixtures import Data

    write_edge(args, Data(args.data), args.edge_only)


if __name__ == "__main__":
    main()
