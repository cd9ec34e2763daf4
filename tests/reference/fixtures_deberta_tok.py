#!/usr/bin/env python3
"""The DeBERTa-v2/v3 tokenizer fixtures: what transformers 5.24 and tokenizers 0.23.3 make of the
test DeBERTa tokenizer (tests/fixtures/test-deberta-cross-encoder/) and of its variants.

    fixtures_deberta_tok.py [--data DIR] [--out DIR] [--verbose]   write both fixtures (below)
    fixtures_deberta_tok.py variants SRC OUT                        write the variants only

make_fixtures.py runs step(args, data) as a step of its own (args.out, args.verbose; data =
make_fixtures.Data); run alone, this file builds the same two from --data and --out. Both read
the tokenizer from OUT/test-deberta-cross-encoder (tokenizer.json.gz, tokenizer_config.json):
8002 tokens, [PAD] 0 [CLS] 1 [SEP] 2 [UNK] 3, the XLM-R test tokenizer's pieces, [MASK] 8001
(an added token only), in the form transformers' DebertaV2Converter wrote hub files.

The two readings of one directory:
  class    tokenizer_config.json's tokenizer_class DebertaV2Tokenizer: transformers 5.24's
           AutoTokenizer takes the vocabulary of tokenizer.json and nothing else of it (the
           added tokens come from tokenizer_config.json's added_tokens_decoder), and builds
           normalizer [Lowercase if do_lower_case], Replace(Regex "\\s{2,}|[\\n\\r\\t]" -> " "),
           NFC, Strip(right); pre_tokenizer [Punctuation(Isolated) if split_by_punct],
           Metaspace("▁", prepend "always", or "first" when add_prefix_space is false);
           template [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1.
  file     tokenizer_class PreTrainedTokenizerFast: the tokenizers library reading the file as it
           is (Tokenizer.from_file; AutoTokenizer agrees, checked).

Variants (variants(), standard library only, so that tests/test_tokenizer.c can run it): OUT/<v>/
(tokenizer_class DebertaV2Tokenizer) and OUT/<v>-file/ (PreTrainedTokenizerFast), each with
tokenizer.json, tokenizer_config.json:
  base      SRC as it is: normalizer Sequence[Strip(both), Precompiled, Replace(Regex " {2,}" ->
            " ")], pre_tokenizer Sequence[Metaspace("▁", "always")] (DebertaV2Converter's form)
  quotes    normalizer Sequence[Replace("``" -> "\\""), Replace("''" -> "\\""), Precompiled,
            Replace(Regex " {2,}" -> " ")], pre_tokenizer Metaspace alone (the other hub form)
  saved     what DebertaV2Tokenizer.save_pretrained writes (transformers 5.24): its own
            normalizer and pre-tokenizer written out, tokenizer_config.json with unk_id 3 and
            without added_tokens_decoder (the class then takes tokenizer.json's added_tokens)
  lower     saved, do_lower_case true (Lowercase first)
  punct     saved, split_by_punct true (Punctuation(Isolated) before Metaspace)
  noprefix  saved, add_prefix_space false (prepend_scheme "first")
  all       saved, all three
  unicode   saved, with the last pieces of the vocabulary replaced by UNICODE_PIECES (Hangul, Dives
            Akuru, combining marks, composed letters) so that NFC's details show in the ids
The saved forms are checked against save_pretrained's own output when the fixtures are made.

deberta_tokenizer_edge.jsonl: hand-picked cases (edge_cases()) for every variant, one JSON object
a line: {"variant", "name", "a", "b" (null for a single text), "max_length", "ids", "type_ids"
[, "transformers_ids", "transformers_type_ids"]}. ids/type_ids: the file reading (tokenizers:
add_special_tokens, truncation longest_first at max_length; an empty b is still a pair, [CLS] a
[SEP] [SEP]); transformers_*: the class reading (AutoTokenizer, batch form, truncation
longest_first), written only where it differs from the file reading.

deberta_tokenizer_scifact.tsv.gz: as tokenizer_scifact.tsv.gz ("kind\\tid\\tn\\thash", sorted by
(kind, id); every query and doc alone at max_length 256, every qrels/ce pair at 512
longest_first; hash = FNV-1a 64 of uint32 LE id, uint32 LE type id per token) for the base
variant's class reading (kinds query, doc, pair), plus the file reading where it differs (kinds
query@file, doc@file, pair@file), plus the "all" variant's class reading (lowercase, punctuation,
prepend "first") where it differs from the base's, for queries and pairs (kinds query@all,
pair@all; the documents alone are left out to keep the file small).
"""
import copy
import gzip
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

VARIANTS = ("base", "quotes", "saved", "lower", "punct", "noprefix", "all", "unicode")
# tokenizer_config.json flags of each saved form: (do_lower_case, split_by_punct, add_prefix_space)
FLAGS = {"saved": (False, False, True), "lower": (True, False, True), "punct": (False, True, True),
         "noprefix": (False, False, False), "all": (True, True, False)}
WS_REPLACE = {"type": "Replace", "pattern": {"Regex": "\\s{2,}|[\\n\\r\\t]"}, "content": " "}
SPACES_REPLACE = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
# The "unicode" variant's pieces, in place of the last ones (rare CJK and Greek characters): the test
# vocabulary knows no Hangul and few accented letters, and a character no piece covers is unknown
# whatever its normalization; with these, what NFC makes of the cases below shows in the ids.
UNICODE_PIECES = ("\uac00", "\u11a7", "\U00011938", "\U00011935", "\U00011930", "\u1ac0", "\u08d3",
                  "\U00010f46", "\u0301", "\u0300", "\u0327", "\u0323", "\u0302", "\u1e1d", "\u1ead", "\u00c5",
                  "\u03a9", "\u00e2", "\u093c", "\u0958", "\u8c48", "\uf900")


# ----------------------------------------------------------------------------- variants (stdlib only)

def load_src(src):
    """SRC's tokenizer.json (or .json.gz) and tokenizer_config.json."""
    path = os.path.join(src, "tokenizer.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            tok = json.load(f)
    else:
        with gzip.open(path + ".gz", "rt", encoding="utf-8") as f:
            tok = json.load(f)
    with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    return tok, cfg


def precompiled(tok):
    n = tok["normalizer"]
    for x in n["normalizers"] if n["type"] == "Sequence" else [n]:
        if x["type"] == "Precompiled":
            return x
    sys.exit("SRC's normalizer has no Precompiled step")


def metaspace(scheme):
    return {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": True}


def variant(base, cfg, name):
    """(tokenizer.json, tokenizer_config.json) of variant `name`."""
    tok, cfg = copy.deepcopy(base), copy.deepcopy(cfg)
    if name == "base":
        return tok, cfg
    if name == "quotes":
        tok["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            {"type": "Replace", "pattern": {"String": "''"}, "content": "\""},
            precompiled(base), dict(SPACES_REPLACE)]}
        tok["pre_tokenizer"] = metaspace("always")
        return tok, cfg
    if name == "unicode":
        tok, cfg = variant(base, cfg, "saved")
        vocab = tok["model"]["vocab"]
        have = {p for p, _ in vocab}
        assert not have & set(UNICODE_PIECES), have & set(UNICODE_PIECES)
        for k, piece in enumerate(UNICODE_PIECES):
            vocab[len(vocab) - len(UNICODE_PIECES) + k][0] = piece
        return tok, cfg
    lower, punct, prefix = FLAGS[name]
    scheme = "always" if prefix else "first"
    tok["normalizer"] = {"type": "Sequence", "normalizers": ([{"type": "Lowercase"}] if lower else []) + [
        dict(WS_REPLACE), {"type": "NFC"}, {"type": "Strip", "strip_left": False, "strip_right": True}]}
    tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": (
        [{"type": "Punctuation", "behavior": "Isolated"}] if punct else []) + [metaspace(scheme)]}
    tok["decoder"] = metaspace(scheme)
    cfg.update({"do_lower_case": lower, "split_by_punct": punct, "add_prefix_space": prefix, "unk_id": 3,
                "backend": "tokenizers"})
    cfg.pop("added_tokens_decoder", None)  # transformers 5 keeps the added tokens in tokenizer.json only
    return tok, cfg


def write_dir(d, tok, cfg, tokenizer_class):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(tok, indent=2, ensure_ascii=False))
    cfg = dict(cfg, tokenizer_class=tokenizer_class)
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(cfg, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def variants(src, out):
    base, cfg = load_src(src)
    for name in VARIANTS:
        tok, c = variant(base, cfg, name)
        write_dir(os.path.join(out, name), tok, c, "DebertaV2Tokenizer")
        write_dir(os.path.join(out, name + "-file"), tok, c, "PreTrainedTokenizerFast")


# ----------------------------------------------------------------------------- cases

def edge_cases(data):
    """(name, a, b, max_length); b None = a single text."""
    C = []

    def add(name, a, b=None, max_length=512):
        C.append((name, a, b, max_length))

    # whitespace: the regex "\s{2,}|[\n\r\t]" (runs of any White_Space, a lone \n \r \t), Strip
    add("empty", "")
    add("single_space", " ")
    add("many_spaces", " " * 12)
    add("leading_spaces", "   leading spaces")
    add("trailing_spaces", "trailing spaces   ")
    add("internal_space_runs", "a  b   c    d")
    add("tab_alone", "a\tb")
    add("tabs", "a\tb\t\tc\t")
    add("newline_alone", "line one\nline two")
    add("newlines", "line one\nline two\n\nline three\n")
    add("cr_alone", "a\rb")
    add("crlf", "a\r\nb\r\n\r\nc")
    add("vt_ff_alone", "a\x0bb c\x0cd")           # \s, but not [\n\r\t]: a lone one stays
    add("vt_ff_runs", "a\x0b\x0bb c\x0c d")
    add("whitespace_only_mixed", " \t\n\r \u00a0\u3000 ")
    add("whitespace_only_nbsp", "\u00a0")
    add("nbsp_alone", "non\u00a0breaking space")
    add("nbsp_runs", "a\u00a0\u00a0b c \u00a0d")
    add("nbsp_leading_trailing", "\u00a0lead and trail\u00a0")
    add("ideographic_space", "全角\u3000スペース\u3000\u3000x \u3000")
    add("line_paragraph_separators", "line\u2028sep\u2029para \u2028")
    add("nel_u0085", "a\x85b \x85 c\x85")
    add("unicode_spaces", "a\u2000b\u2005c\u200ad\u202fe\u205ff\u1680g")
    add("unicode_space_runs", "a\u2000\u2001b\u202f c\u205f\u3000d\u1680\u2028e")
    add("not_spaces", "a\u180eb\u200bc\u200cd\ufeffe\u2060f \u180e \u200b")
    add("control_chars", "x\x07y \x1bz\x7fw \x01v\x1f")
    add("control_nul", "a\x00b \x00c")  # the only case with U+0000 (JSON \u0000)
    add("trailing_whitespace_kinds", "end\u2003\t\u00a0")
    # NFC
    add("nfd_e_acute", "cafe\u0301 resume\u0301 e\u0301")
    add("nfc_already", "café résumé naïve")
    add("nfd_text", "re\u0301sume\u0301 na\u0131\u0308ve \u00c5ngstro\u0308m")
    add("nfd_two_marks", "a\u0308\u0301 xa\u0308\u0301y o\u0323\u0302")
    add("canonical_order", "a\u0302\u0323 a\u0323\u0302 q\u0307\u0323")
    add("canonical_order_composes", "e\u0301\u0327 e\u0327\u0301 x\u0301\u0327")
    add("singletons", "\u212b \u2126 \u212a \u0340 \u0341 \u0374 \u037e")
    add("cjk_compatibility", "\uf900\uf901 \ufa10 \U0002f800")
    add("composition_exclusions", "\u0958 \u0915\u093c \u2adc \u0f43")
    add("hangul_jamo", "\u1100\u1161\u11a8 \u1100\u1161 \uac00\u11a8 \u1112\u1175")
    add("hangul_lv_u11a7", "\uac00\u11a7 \u1100\u1161\u11a7")
    add("dives_akuru_11938", "\U00011935\U00011930 \U00011938")
    add("marks_newer_than_hf", "a\u1ac0\u0301 e\u08d3\u0301 o\U00010f46\u0300")
    add("combining_after_space", "a \u0301b c \u0308")
    add("combining_at_start", "\u0301abc")
    add("combining_only", "\u0301\u0308")
    add("nfkc_only_forms", "ﬁnance ① ＡＢＣ ｶﾀｶﾅ ½ x² ™ ㍿")
    add("greek_tonos", "\u03ac \u03b1\u0301 \u1f71")
    # quotes (the hub file's Replace steps)
    add("backtick_quotes", "``quoted'' text")
    add("quote_pairs_only", "`` ''")
    add("single_quotes", "'single' `tick` don't")
    add("quotes_odd", "```a'''")
    # punctuation (split_by_punct)
    add("punct_ascii", "Hello, world! (x) [y] {z} a--b ...")
    add("punct_runs", "wow!!! ?!? ,,,")
    add("punct_symbols", "$5 & 10% ~a^b `c` |d| <e> +f= @g #h")
    add("punct_unicode", "«guillemets» —em dash— ¿Qué? a、b。 x·y “curly”")
    add("punct_at_start", "!start .dot ,comma")
    add("punct_contraction", "don't U.S.A. e.g. 3.14 1,000")
    add("punct_only", "?")
    # lowercase
    add("upper_ascii", "HELLO World MiXeD")
    add("lower_special", "\u0130stanbul I\u0307 \u0130")
    add("lower_sigma", "\u03a3\u0391\u03a3 \u039f\u0394\u039f\u03a3")
    add("lower_titlecase", "\u01c5 \u01c4 \u01c6 \u1e9e \u2162 \uff21\uff22")
    add("lower_scripts", "\u1c90\u1c91 \u13a0 \u0410\u0411 \u10a0 \U00010400")
    # scripts, emoji
    add("cjk", "中文文本 日本語のテキスト 한국어 텍스트")
    add("thai", "ภาษาไทย การศึกษาพบว่า")
    add("arabic_harakat", "العِلْمُ نُورٌ البروتين")
    add("devanagari", "क्षत्रिय हिन्दी प्रोटीन")
    add("emoji_simple", "I love it 👍 😀!! 🙂🙂")
    add("emoji_zwj_family", "family 👨\u200d👩\u200d👧 ok")
    add("emoji_flags", "🇫🇷🇩🇪 flags")
    add("emoji_skin_tone", "thumbs 👍🏽 up")
    add("emoji_keycap", "1\ufe0f\u20e3 keycap #\ufe0f\u20e3")
    # unknown characters, long words
    add("unk_fusion", "龘龘龘 abc 龘")
    add("unk_inside_word", "abc龘def 龘x")
    add("long_word", "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism")
    add("word_1000_chars", "supercalifragilistic" * 50)
    # the special tokens written in text
    add("literal_cls", "[CLS]")
    add("literal_sep", "[SEP]")
    add("literal_pad", "[PAD]")
    add("literal_unk", "[UNK]")
    add("literal_mask", "[MASK]")
    add("literal_mask_lowercase", "[mask] [Mask]")
    add("mask_between_spaces", "a [MASK] b")
    add("mask_no_spaces", "a[MASK]b")
    add("mask_space_runs", "  [MASK]  x")
    add("mask_at_start", "[MASK] at start")
    add("mask_at_start_no_space", "[MASK]at start")
    add("mask_at_end", "at end [MASK]")
    add("mask_newlines", "a\n[MASK]\n\nb\t[SEP]\t")
    add("specials_in_text", "[CLS]text[SEP] x [PAD] y [UNK]z")
    add("pair_masks", "a [MASK]", "[MASK] b")
    # prepend "first": only the text's first piece gets "▁"
    add("first_word", "Hello")
    add("first_leading_space", " Hello")
    add("first_after_punct", "!Hello there")
    add("first_pair", "Hello", "World")
    add("first_pair_punct", "(a) b", "[c] d")
    # real text
    for q in data.queries:
        if sum(c.isupper() for c in q["text"]) >= 3:
            add(f"scifact_query_mixed_case_{q['_id']}", q["text"])
            break
    for d in data.doc_ids:
        if "β" in data.dtext[d] and "±" in data.dtext[d] and len(data.dtext[d]) < 1500:
            add(f"scifact_doc_greek_{d}", data.dtext[d])
            break
    # pairs and truncation
    A12 = "one two three four five six seven eight nine ten eleven twelve"
    A3 = "alpha beta gamma"
    B12 = "january february march april may june july august september october november december"
    for ml in (4, 5, 6, 7, 10, 16, 512):
        add(f"pair_both_long_max{ml}", A12 + " " + A12, B12 + " " + B12, ml)
        add(f"pair_first_long_max{ml}", A12 + " " + A12, A3, ml)
        add(f"pair_second_long_max{ml}", A3, B12 + " " + B12, ml)
        add(f"pair_neither_long_max{ml}", "cell", "dog", ml)
    for ml in (2, 3, 4, 7):
        add(f"single_max{ml}", A12, None, ml)
    add("pair_max3", "a", "b", 3)
    add("pair_empty_b", "a query about cells", "")
    add("pair_empty_a", "", "a document about cells")
    add("pair_both_empty", "", "")
    add("pair_whitespace_b", "a query", "   ")
    add("pair_newlines_b", "a query", "\n\n")
    q0 = data.test_qids_in_order()[0]
    mid = sorted(data.doc_ids, key=lambda d: len(data.dtext[d]))[int(0.97 * len(data.doc_ids))]
    add(f"scifact_pair_{q0}_{mid}_max512", data.qtext[q0], data.dtext[mid], 512)
    add(f"scifact_pair_{q0}_{mid}_max64", data.qtext[q0], data.dtext[mid], 64)
    return C


# ----------------------------------------------------------------------------- encoding

def encode_file(raw, a, b, ml):
    """The tokenizers library on the file: (ids, type_ids)."""
    raw.enable_truncation(max_length=ml, strategy="longest_first")
    r = raw.encode(a, b, add_special_tokens=True) if b is not None else raw.encode(a, add_special_tokens=True)
    return list(r.ids), list(r.type_ids)


def encode_hf(tok, a, b, ml):
    """transformers, batch form: (ids, type_ids)."""
    if b is None:
        e = tok([a], add_special_tokens=True, truncation=True, max_length=ml, return_token_type_ids=True)
    else:
        e = tok([a], [b], add_special_tokens=True, truncation="longest_first", max_length=ml,
                return_token_type_ids=True)
    return list(e["input_ids"][0]), list(e["token_type_ids"][0])


def check_saved_forms(src, vdir, log):
    """The hand-written saved forms are what DebertaV2Tokenizer.save_pretrained writes."""
    from transformers import AutoTokenizer
    keys = ("normalizer", "pre_tokenizer", "post_processor", "decoder", "model", "added_tokens")
    for name, (lower, punct, prefix) in FLAGS.items():
        tmp = tempfile.mkdtemp(prefix="rr-deberta-saved-")
        AutoTokenizer.from_pretrained(os.path.join(vdir, "base"), do_lower_case=lower, split_by_punct=punct,
                                      add_prefix_space=prefix).save_pretrained(tmp)
        with open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8") as f:
            want = json.load(f)
        with open(os.path.join(tmp, "tokenizer_config.json"), encoding="utf-8") as f:
            want_cfg = json.load(f)
        with open(os.path.join(vdir, name, "tokenizer.json"), encoding="utf-8") as f:
            got = json.load(f)
        with open(os.path.join(vdir, name, "tokenizer_config.json"), encoding="utf-8") as f:
            got_cfg = json.load(f)
        for k in keys:
            assert got[k] == want[k], (name, k, got[k] if k != "model" else "", want[k] if k != "model" else "")
        for k in ("do_lower_case", "split_by_punct", "add_prefix_space", "unk_id", "tokenizer_class", "unk_token",
                  "cls_token", "sep_token", "pad_token", "mask_token", "added_tokens_decoder"):
            assert got_cfg.get(k) == want_cfg.get(k), (name, k, got_cfg.get(k), want_cfg.get(k))
        shutil.rmtree(tmp)
    log(f"deberta-tok: the saved forms {list(FLAGS)} are what save_pretrained writes")


def edge(args, data, src, log):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    cases = edge_cases(data)
    names = [c[0] for c in cases]
    assert len(names) == len(set(names)), "duplicate edge case names"
    vdir = tempfile.mkdtemp(prefix="rr-deberta-variants-")
    variants(src, vdir)
    check_saved_forms(src, vdir, log)
    out, differ, base_class = [], {}, {}
    for v in VARIANTS:
        raw = Tokenizer.from_file(os.path.join(vdir, v + "-file", "tokenizer.json"))
        raw.no_padding()
        hf = AutoTokenizer.from_pretrained(os.path.join(vdir, v))
        hf_file = AutoTokenizer.from_pretrained(os.path.join(vdir, v + "-file"))
        assert type(hf).__name__ == "DebertaV2Tokenizer", type(hf)
        assert type(hf_file).__name__ in ("TokenizersBackend", "PreTrainedTokenizerFast"), type(hf_file)
        for name, a, b, ml in cases:
            ids, tt = encode_file(raw, a, b, ml)
            assert len(ids) <= ml
            assert encode_hf(hf_file, a, b, ml) == (ids, tt), (v, name)  # AutoTokenizer reads the file so too
            h_ids, h_tt = encode_hf(hf, a, b, ml)
            rec = {"variant": v, "name": name, "a": a, "b": b, "max_length": ml, "ids": ids, "type_ids": tt}
            if (h_ids, h_tt) != (ids, tt):
                rec["transformers_ids"] = h_ids
                rec["transformers_type_ids"] = h_tt
                differ.setdefault(v, []).append(name)
            if v in FLAGS or v == "unicode":  # a saved form: the file says what the class builds
                assert (h_ids, h_tt) == (ids, tt), (v, name, h_ids, ids)
            if v == "base":
                base_class[name] = h_ids
            elif v in ("quotes", "saved"):  # same flags: the class ignores the file
                assert h_ids == base_class[name], (v, name)
            out.append(json.dumps(rec, ensure_ascii=False))
            if args.verbose:
                log(f"  {v} {name}: {[raw.id_to_token(i) for i in ids]}" +
                    (f" / class {hf.convert_ids_to_tokens(h_ids)}" if h_ids != ids else ""))
    shutil.rmtree(vdir)
    return cases, out, differ


def scifact(args, data, src, log):
    """deberta_tokenizer_scifact.tsv.gz rows."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    sys.path.insert(0, HERE)
    from make_fixtures import choose_ce_pairs, fnv1a

    vdir = tempfile.mkdtemp(prefix="rr-deberta-variants-")
    variants(src, vdir)
    hf = AutoTokenizer.from_pretrained(os.path.join(vdir, "base"))
    hf_all = AutoTokenizer.from_pretrained(os.path.join(vdir, "all"))
    raw = Tokenizer.from_file(os.path.join(vdir, "base-file", "tokenizer.json"))
    raw.no_padding()
    shutil.rmtree(vdir)

    qs = [q["_id"] for q in data.queries]
    pairs = sorted(set([(q, d) for q, d, _ in data.qrels_test + data.qrels_train] + choose_ce_pairs(data)))
    jobs = [("query", qs, [data.qtext[q] for q in qs], None, 256),
            ("doc", data.doc_ids, [data.dtext[d] for d in data.doc_ids], None, 256),
            ("pair", [f"{q}/{d}" for q, d in pairs], [data.qtext[q] for q, _ in pairs],
             [data.dtext[d] for _, d in pairs], 512)]
    rows, counts = [], {}
    for kind, ids, a, b, ml in jobs:
        if b is None:
            enc = [hf(a, truncation=True, max_length=ml, return_token_type_ids=True),
                   hf_all(a, truncation=True, max_length=ml, return_token_type_ids=True)]
            raw.enable_truncation(max_length=ml, strategy="longest_first")
            fenc = raw.encode_batch(a, add_special_tokens=True)
        else:
            enc = [hf(a, b, truncation="longest_first", max_length=ml, return_token_type_ids=True),
                   hf_all(a, b, truncation="longest_first", max_length=ml, return_token_type_ids=True)]
            raw.enable_truncation(max_length=ml, strategy="longest_first")
            fenc = raw.encode_batch(list(zip(a, b)), add_special_tokens=True)
        for i, key in enumerate(ids):
            base = (enc[0]["input_ids"][i], enc[0]["token_type_ids"][i])
            rows.append((kind, key, len(base[0]), fnv1a(*base)))
            for suffix, other in (("@file", (fenc[i].ids, fenc[i].type_ids)),
                                  ("@all", (enc[1]["input_ids"][i], enc[1]["token_type_ids"][i]))):
                if suffix == "@all" and kind == "doc":
                    continue  # (the pairs hold the documents' first 512 tokens; half the file's size)
                if tuple(map(list, other)) != tuple(map(list, base)):
                    rows.append((kind + suffix, key, len(other[0]), fnv1a(*other)))
    rows.sort(key=lambda r: (r[0], r[1]))
    for k, *_ in rows:
        counts[k] = counts.get(k, 0) + 1
    return rows, counts


def step(args, data):
    """make_fixtures.py's step: both fixtures into args.out."""
    sys.path.insert(0, HERE)
    from make_fixtures import gzip_bytes, log, write_atomic

    src = os.path.join(args.out, "test-deberta-cross-encoder")
    cases, lines, differ = edge(args, data, src, log)
    write_atomic(os.path.join(args.out, "deberta_tokenizer_edge.jsonl"), ("\n".join(lines) + "\n").encode("utf-8"))
    log(f"deberta-tok: wrote {len(lines)} lines to deberta_tokenizer_edge.jsonl ({len(cases)} cases x "
        f"{len(VARIANTS)} variants)")
    for v in VARIANTS:
        log(f"deberta-tok:   {v}: the class reading differs from the file on {len(differ.get(v, []))}: "
            f"{differ.get(v, [])}")
    rows, counts = scifact(args, data, src, log)
    raw = "".join(f"{k}\t{i}\t{n}\t{h}\n" for k, i, n, h in rows).encode("utf-8")
    write_atomic(os.path.join(args.out, "deberta_tokenizer_scifact.tsv.gz"), gzip_bytes(raw))
    log(f"deberta-tok: wrote deberta_tokenizer_scifact.tsv.gz {counts}")
    return len(cases)


def main(argv):
    if len(argv) >= 2 and argv[1] == "variants":
        if len(argv) != 4:
            sys.exit("usage: fixtures_deberta_tok.py variants SRC OUT")
        variants(argv[2], argv[3])
        return
    import argparse
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "data", "scifact"), help="BEIR SciFact directory")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"), help="fixture directory")
    ap.add_argument("--verbose", action="store_true", help="print the tokens of each edge case")
    args = ap.parse_args(argv[1:])
    sys.path.insert(0, HERE)
    from make_fixtures import Data
    step(args, Data(args.data))


if __name__ == "__main__":
    main(sys.argv)
