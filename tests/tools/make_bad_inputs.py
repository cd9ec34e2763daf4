#!/usr/bin/env python3
"""tests/tools/make_bad_inputs.py [DIR] — (re)writes the catalogue of bad inputs, tests/bad_inputs/.

One sub-directory per case: the bad file(s), `cmd` (the rerank arguments, one line, with the
placeholders tests/test_bad_inputs.sh substitutes: @CASE @DATA @TINY @MINILM @MODEL @INDEX
@OUT @SCRATCH) and `expect` (line 1 the exit status, line 2 a fixed substring of stderr).
A `model/` sub-directory is laid over a copy of the tiny test model (@MODEL); an `index/`
sub-directory over a copy of a small FAISS index built at test time (@INDEX); a file named
DELETE in either lists the files to remove from the copy. YAML configs read the directories
from the environment: ${RR_BAD_DATA}, ${RR_BAD_SCRATCH}, ${RR_BAD_TINY}.

The files are committed; this script documents how they were made and rewrites them when a
case changes (it removes the case directories it does not define, so run it on a clean tree).
Only the Python standard library.
"""
import gzip
import json
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "bad_inputs"

CORPUS = ('{"_id": "d1", "title": "Alpha", "text": "alpha beta"}\n'
          '{"_id": "d2", "title": "Gamma", "text": "gamma delta"}\n'
          '{"_id": "d3", "text": "epsilon"}\n')
QUERIES = '{"_id": "q1", "text": "what is alpha"}\n{"_id": "q2", "text": "gamma?"}\n'
RUN = "q1 Q0 d1 1 3.5 bm25\nq1 Q0 d2 2 2.5 bm25\nq2 Q0 d3 1 1.0 bm25\n"
QRELS = "q1 0 d1 1\nq1 0 d2 0\nq2 0 d3 2\n"
PAIRS = "what is alpha\talpha beta\n"
RERANK = ("rerank --model @TINY --run @CASE/run.trec --corpus @CASE/corpus.jsonl "
          "--queries @CASE/queries.jsonl --output @OUT")
SCORE_MODEL = "score --model @MODEL --pairs @CASE/pairs.tsv --output @OUT"
RETRIEVE = "retrieve --index @INDEX --queries @CASE/queries.jsonl --output @OUT --k 2"

TINY_CONFIG = {
    "architectures": ["BertForSequenceClassification"], "model_type": "bert",
    "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 64, "max_position_embeddings": 512, "type_vocab_size": 2,
    "vocab_size": 30522, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
}

CASES = []


def case(name, cmd, status, needle, files=None, model=None, index=None, why=""):
    CASES.append(dict(name=name, cmd=cmd, status=status, needle=needle, files=files or {},
                      model=model, index=index, why=why))


def b(s):
    return s if isinstance(s, bytes) else s.encode()


def st_file(header, data=b"", hlen=None):
    """A safetensors file: 8-byte little-endian header length, the header, the data."""
    hb = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(hb) if hlen is None else hlen) + hb + data


def config(**changes):
    c = dict(TINY_CONFIG)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, indent=1) + "\n"


def rerank_case(name, needle, corpus=CORPUS, queries=QUERIES, run=RUN, status=1, why="",
                corpus_name="corpus.jsonl"):
    cmd = RERANK.replace("@CASE/corpus.jsonl", "@CASE/" + corpus_name)
    case(name, cmd, status, needle, {corpus_name: corpus, "queries.jsonl": queries, "run.trec": run}, why=why)


# ---- BEIR corpus / queries JSONL (rerank rerank reads both) -----------------------------------
rerank_case("jsonl-malformed-json", "corpus.jsonl:2:",
            corpus=CORPUS.splitlines()[0] + '\n{"_id": "d2", "text": "gamma delta"\n' + CORPUS.splitlines()[2] + "\n")
rerank_case("jsonl-not-an-object", "corpus.jsonl:2:1: expected a JSON object",
            corpus=CORPUS.splitlines()[0] + '\n["d2", "gamma delta"]\n')
rerank_case("jsonl-missing-id", 'corpus.jsonl:3: field "_id" missing',
            corpus=CORPUS.replace('{"_id": "d3", ', "{"))
rerank_case("jsonl-empty-id", 'corpus.jsonl:2: field "_id"', corpus=CORPUS.replace('"d2"', '""'))
rerank_case("jsonl-id-not-string", 'corpus.jsonl:1: field "_id" is not a string',
            corpus=CORPUS.replace('"d1"', '["d1"]'))
rerank_case("jsonl-duplicate-id", 'corpus.jsonl:3: duplicate _id "d1" (first at line 1)',
            corpus=CORPUS.replace('"d3"', '"d1"'))
rerank_case("jsonl-duplicate-key", "corpus.jsonl:1:",
            corpus=CORPUS.replace('"title": "Alpha"', '"_id": "d9"'))
rerank_case("jsonl-text-not-string", 'corpus.jsonl:2: field "text" missing or not a string',
            corpus=CORPUS.replace('"gamma delta"', "42"))
rerank_case("jsonl-title-not-string", 'corpus.jsonl:1: field "title" is not a string',
            corpus=CORPUS.replace('"Alpha"', '{"t": 1}'))
rerank_case("jsonl-nul-byte", "corpus.jsonl:2: NUL byte", corpus=CORPUS.replace("gamma delta", "gamma\0delta"))
rerank_case("jsonl-escaped-nul", "corpus.jsonl:3:", corpus=CORPUS.replace('"epsilon"', '"eps\\u0000ilon"'))
rerank_case("jsonl-invalid-utf8", "corpus.jsonl:1:", corpus=b(CORPUS).replace(b"beta", b"b\xffta"))
rerank_case("jsonl-lone-surrogate", "corpus.jsonl:2:", corpus=CORPUS.replace("gamma delta", "gamma \\ud800 delta"))
rerank_case("jsonl-nesting-bomb", "corpus.jsonl:2:",
            corpus=CORPUS.splitlines()[0] + '\n{"_id": "d2", "text": "x", "deep": ' + "[" * 100000 + "]" * 100000 + "}\n")
rerank_case("jsonl-empty-corpus", "corpus.jsonl: no documents", corpus="\n\n")
rerank_case("jsonl-id-with-space", 'corpus.jsonl:2: _id "d 2" contains whitespace',
            corpus=CORPUS.replace('"d2"', '"d 2"'), run=RUN.replace("d2", "d3 ").replace("d3  2", "d2 2"))
rerank_case("queries-duplicate-id", 'queries.jsonl:2: duplicate _id "q1" (first at line 1)',
            queries=QUERIES.replace('"q2"', '"q1"'))
rerank_case("queries-malformed-json", "queries.jsonl:1:", queries='{"_id": "q1", "text": }\n')
# gzip: a corpus whose compressed stream stops half way
full = gzip.compress(b(CORPUS * 40), mtime=0)
rerank_case("gzip-truncated", "corpus.jsonl.gz: truncated gzip file: the compressed data ends early", corpus=full[: len(full) // 2], corpus_name="corpus.jsonl.gz",
            why="the stream ends in the middle of a deflate block")
bad = bytearray(full)
bad[len(bad) // 2] ^= 0xFF
rerank_case("gzip-corrupt", "corpus.jsonl.gz: corrupt gzip data after", corpus=bytes(bad), corpus_name="corpus.jsonl.gz",
            why="one byte of the deflate stream flipped")

case("index-corpus-empty", "index --corpus @CASE/corpus.jsonl --model @MINILM --out @OUT", 1,
     "corpus.jsonl: empty corpus", {"corpus.jsonl": "\n", "needs-faiss": ""})
case("input-is-directory", "score --model @TINY --pairs @CASE --output @OUT", 1, "Is a directory")

# ---- TSV pairs (rerank score --pairs) ------------------------------------------------------------
SCORE_PAIRS = "score --model @TINY --pairs @CASE/pairs.tsv --output @OUT"
case("pairs-one-field", SCORE_PAIRS, 1, "pairs.tsv:2: expected 2 tab-separated fields (query, passage), found 1",
     {"pairs.tsv": PAIRS + "a query without a passage\n"})
case("pairs-three-fields", SCORE_PAIRS, 1, "pairs.tsv:1: expected 2 tab-separated fields (query, passage), found 3",
     {"pairs.tsv": "q\tp\textra\n"})
case("pairs-empty-query", SCORE_PAIRS, 1, "pairs.tsv:2: empty query", {"pairs.tsv": PAIRS + "\tpassage\n"})
case("pairs-invalid-utf8", SCORE_PAIRS, 1, "pairs.tsv:1: invalid UTF-8 at byte 5",
     {"pairs.tsv": b"q\tp \xc3\x28 broken\n"})
case("pairs-nul-byte", SCORE_PAIRS, 1, "pairs.tsv:2: NUL byte in a text line", {"pairs.tsv": PAIRS + "q\tp\0p\n"})
case("pairs-empty-file", SCORE_PAIRS, 1, "pairs.tsv: no pairs", {"pairs.tsv": ""})

# ---- TREC run: rerank rerank --run ----------------------------------------------------------------
rerank_case("run-five-fields", "run.trec:2: 5 fields", run=RUN.replace("q1 Q0 d2 2 2.5 bm25", "q1 Q0 d2 2 2.5"))
rerank_case("run-score-not-number", 'run.trec:1: score "high" is not a finite number', run=RUN.replace("3.5", "high"))
rerank_case("run-score-nan", 'run.trec:3: score "nan" is not a finite number', run=RUN.replace("1.0", "nan"))
rerank_case("run-score-inf", 'run.trec:3: score "-inf" is not a finite number', run=RUN.replace("1.0", "-inf"))
rerank_case("run-duplicate-doc", 'run.trec:3: document "d1" listed again for query "q1" (first on line 1)',
            run=RUN.replace("q2 Q0 d3 1", "q1 Q0 d1 3"))
rerank_case("run-unknown-doc", 'run.trec:2: document "d9" is not in', run=RUN.replace("d2", "d9"))
rerank_case("run-unknown-query", 'run.trec:3: query "q9" is not in', run=RUN.replace("q2", "q9"))
rerank_case("run-empty", "run.trec: no candidates", run="")

# ---- TREC run and qrels: rerank eval -------------------------------------------------------------
EVAL = "eval @CASE/qrels @CASE/run --output @OUT"
case("eval-run-five-fields", EVAL, 1, "run:2: expected 6 fields (qid Q0 docid rank score tag), found 5",
     {"qrels": QRELS, "run": RUN.replace("2.5 bm25", "2.5")})
case("eval-run-score-not-number", EVAL, 1, "run:1: score '3.5x' is not a number",
     {"qrels": QRELS, "run": RUN.replace("3.5", "3.5x")})
case("eval-run-score-nan", EVAL, 1, "run:2: score 'NaN' is not a number",
     {"qrels": QRELS, "run": RUN.replace("2.5", "NaN")})
case("eval-run-duplicate-doc", EVAL, 1, "run:3: docid 'd1' retrieved twice for query 'q1' (also at line 1)",
     {"qrels": QRELS, "run": RUN.replace("q2 Q0 d3", "q1 Q0 d1")})
case("eval-run-unknown-queries", EVAL, 1, "no queries with both results and relevance judgements",
     {"qrels": QRELS, "run": RUN.replace("q1", "q7").replace("q2", "q8")})
case("eval-run-empty", EVAL, 1, "run: no results", {"qrels": QRELS, "run": ""})
case("qrels-three-fields", EVAL, 1, "qrels:2: expected 4 fields (qid iter docid rel), found 3",
     {"qrels": QRELS.replace("q1 0 d2 0", "q1 0 d2"), "run": RUN})
case("qrels-relevance-not-integer", EVAL, 1, "qrels:3: relevance 'high' is not an integer",
     {"qrels": QRELS.replace("d3 2", "d3 high"), "run": RUN})
case("qrels-relevance-fraction", EVAL, 1, "qrels:1: relevance '0.5' is not an integer",
     {"qrels": QRELS.replace("d1 1", "d1 0.5"), "run": RUN})
case("qrels-relevance-overflow", EVAL, 1, "qrels:1: relevance",
     {"qrels": QRELS.replace("d1 1", "d1 99999999999999999999999"), "run": RUN})
case("qrels-beir-two-fields", EVAL, 1, "qrels:3: expected 3 fields (query-id corpus-id score)",
     {"qrels": "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\n", "run": RUN})
qz = gzip.compress(b(QRELS * 200), mtime=0)
case("qrels-gzip-truncated", "eval @CASE/qrels.gz @CASE/run --output @OUT", 1,
     "qrels.gz: truncated gzip file: the compressed data ends early", {"qrels.gz": qz[:len(qz) - 9], "run": RUN},
     why="the last deflate bytes and the gzip trailer cut off")
case("qrels-empty", EVAL, 1, "qrels: no judgements", {"qrels": "", "run": RUN})

# ---- YAML config: rerank run CONFIG --------------------------------------------------------------
RUNCFG = "run @CASE/config.yaml"
YBASE = ("dataset:\n  path: ${RR_BAD_DATA}\nfirst_stage:\n  run: run.trec\n"
         "rerank:\n  model: ${RR_BAD_TINY}\n")
YOUT = "output_dir: ${RR_BAD_SCRATCH}/out\n"
case("yaml-syntax-error", RUNCFG, 1, "config.yaml:3:2: YAML syntax error",
     {"config.yaml": "dataset:\n  path: ${RR_BAD_DATA}\n first_stage: x\n"})
case("yaml-tab-indent", RUNCFG, 1, "config.yaml:2:1: YAML syntax error",
     {"config.yaml": "dataset:\n\tpath: ${RR_BAD_DATA}\n"})
case("yaml-unknown-key", RUNCFG, 1, 'config.yaml:7:3: unknown key "rerank.topn"',
     {"config.yaml": YBASE + "  topn: 5\n" + YOUT, "run.trec": RUN})
case("yaml-wrong-type", RUNCFG, 1, 'config.yaml:7:10: rerank.top_n: expected an integer, got "lots"',
     {"config.yaml": YBASE + "  top_n: lots\n" + YOUT, "run.trec": RUN})
case("yaml-list-for-scalar", RUNCFG, 1, "config.yaml:7:10: rerank.top_n",
     {"config.yaml": YBASE + "  top_n: [1, 2]\n" + YOUT, "run.trec": RUN})
case("yaml-integer-overflow", RUNCFG, 1, "config.yaml:7:10: rerank.top_n",
     {"config.yaml": YBASE + "  top_n: 99999999999999999999999\n" + YOUT, "run.trec": RUN})
case("yaml-duplicate-key", RUNCFG, 1, 'config.yaml:8:3: duplicate key "rerank.top_n" (first on line 7)',
     {"config.yaml": YBASE + "  top_n: 5\n  top_n: 6\n" + YOUT, "run.trec": RUN})
case("yaml-empty", RUNCFG, 1, "config.yaml:1:1: the file is empty", {"config.yaml": ""})
case("yaml-not-text", RUNCFG, 1, "config.yaml:1:", {"config.yaml": b"\x00\x01\xfe\xff binary \x80\n"})
case("yaml-nesting-bomb", RUNCFG, 1, "config.yaml:1:33: nested more than 32 levels deep",
     {"config.yaml": "[" * 100000 + "]" * 100000 + "\n"})
case("yaml-alias-bomb", RUNCFG, 1, "config.yaml:",
     {"config.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                     + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
                               for p, c in zip("abcdefgh", "bcdefghi"))
                     + YBASE + YOUT,
      "run.trec": RUN},
     why="a billion laughs: 10^9 scalars if aliases were expanded")

# ---- safetensors (model/model.safetensors) -------------------------------------------------------
def st_case(name, needle, content, why="", status=1):
    case(name, SCORE_MODEL, status, needle, {"pairs.tsv": PAIRS}, model={"model.safetensors": content}, why=why)


T1 = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
st_case("st-too-short", "model.safetensors: 4 bytes: too short for a safetensors header", b"\x10\0\0\0")
st_case("st-header-longer-than-file", "model.safetensors: header length 1000 does not fit the file",
        st_file({"w": T1}, b"\0" * 16, hlen=1000))
st_case("st-header-length-2-63", "model.safetensors: header length 9223372036854775808 does not fit",
        st_file({"w": T1}, b"\0" * 16, hlen=1 << 63))
st_case("st-header-not-json", "model.safetensors: header is not a JSON object: 1:4 (header byte 4)", st_file(b"this is not json", b""))
st_case("st-header-array", "model.safetensors: header is not a JSON object", st_file(b"[1, 2, 3]", b""))
st_case("st-header-nesting-bomb", "model.safetensors: header is not a JSON object",
        st_file(b'{"w": ' + b"[" * 100000 + b"]" * 100000 + b"}", b""))
st_case("st-duplicate-tensor", "model.safetensors: header is not a JSON object",
        st_file(b'{"w": ' + json.dumps(T1).encode() + b', "w": ' + json.dumps(T1).encode() + b"}", b"\0" * 16))
st_case("st-offsets-past-end", 'tensor "w": data ends at byte 4096 but the file holds only 16 bytes',
        st_file({"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}}, b"\0" * 16))
st_case("st-offsets-reversed", 'tensor "w": bad data_offsets',
        st_file({"w": {"dtype": "F32", "shape": [0], "data_offsets": [16, 8]}}, b"\0" * 16))
st_case("st-offsets-negative", 'tensor "w": bad data_offsets',
        st_file({"w": {"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]}}, b"\0" * 16))
st_case("st-overlapping-tensors", 'tensors "a" and "b" overlap',
        st_file({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                 "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24))
st_case("st-size-mismatch", 'tensor "w": 16 bytes of data but shape and dtype F32 need 24',
        st_file({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}}, b"\0" * 16))
st_case("st-shape-overflow", 'tensor "w": shape overflows',
        st_file({"w": {"dtype": "F32", "shape": [1 << 32, 1 << 32, 16], "data_offsets": [0, 16]}}, b"\0" * 16),
        why="2^68 elements: the product wraps to 0 in 64 bits")
st_case("st-bytes-overflow", 'model.safetensors: header 1:7: tensor "w": shape overflows',
        st_file({"w": {"dtype": "F32", "shape": [1 << 31, 1 << 31], "data_offsets": [0, 16]}}, b"\0" * 16),
        why="2^62 elements fit, 2^64 bytes do not")
st_case("st-negative-dim", 'tensor "w": shape[1] is not a non-negative integer',
        st_file({"w": {"dtype": "F32", "shape": [4, -1], "data_offsets": [0, 16]}}, b"\0" * 16))
st_case("st-unknown-dtype", 'tensor "w": dtype "F128" is not supported',
        st_file({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16))
st_case("st-too-many-dims", 'tensor "w": 9 dimensions',
        st_file({"w": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}, b"\0" * 4))
st_case("st-entry-not-object", 'model.safetensors: header 1:7: tensor "w": entry is not an object', st_file({"w": [0, 16]}, b"\0" * 16))
case("st-missing", SCORE_MODEL, 1, "no model.safetensors or model.safetensors.index.json", {"pairs.tsv": PAIRS},
     model={"DELETE": "model.safetensors\n"})
case("st-shard-path-escape", SCORE_MODEL, 1,
     'model.safetensors.index.json: shard name "../../etc/passwd" is not a plain file name', {"pairs.tsv": PAIRS},
     model={"DELETE": "model.safetensors\n",
            "model.safetensors.index.json": json.dumps({"weight_map": {"w": "../../etc/passwd"}}) + "\n"})

# ---- config.json -----------------------------------------------------------------------------------
def cfg_case(name, needle, content, status=1, why=""):
    case(name, SCORE_MODEL, status, needle, {"pairs.tsv": PAIRS}, model={"config.json": content}, why=why)


cfg_case("config-malformed", "config.json:3:", '{\n "model_type": "bert",\n "hidden_size": ,\n}\n')
cfg_case("config-not-object", "config.json:1:1: top level is not a JSON object", "[]\n")
cfg_case("config-unsupported-architecture", 'architecture "BertForMaskedLM" is not supported',
         config(architectures=["BertForMaskedLM"]))
cfg_case("config-unsupported-model-type", 'model_type "gpt2"', config(model_type="gpt2"))
cfg_case("config-roberta-bert-architecture", 'architecture "BertForSequenceClassification" is not supported '
         '(RobertaModel for bi-encoders, RobertaForSequenceClassification for cross-encoders)',
         config(model_type="roberta"), why="model_type and architectures must name the same family")
ELECTRA_CLS = ["ElectraForSequenceClassification"]
cfg_case("config-electra-pretraining", 'architecture "ElectraForPreTraining" is not supported (ElectraModel for '
         'bi-encoders, ElectraForSequenceClassification for cross-encoders)',
         config(model_type="electra", architectures=["ElectraForPreTraining"]))
cfg_case("config-electra-embedding-projection", "config.json:21:20: embedding_size 16 differs from hidden_size 32: "
         "ELECTRA's embeddings projection is not supported",
         config(model_type="electra", architectures=ELECTRA_CLS, embedding_size=16),
         why="ELECTRA-small style: embeddings in a smaller width, projected up; not implemented")
cfg_case("config-electra-over-bert-weights", 'tensor "embeddings.word_embeddings.weight" (with or without '
         '"electra.") is missing', config(model_type="electra", architectures=ELECTRA_CLS),
         why="config.json says ELECTRA, the weights are the tiny BERT model's (bert.-prefixed)")
DISTIL = {"architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert", "dim": 32,
          "n_layers": 2, "n_heads": 2, "hidden_dim": 64, "max_position_embeddings": 512, "vocab_size": 30522,
          "activation": "relu"}
cfg_case("config-distilbert-relu", 'config.json:12:16: activation "relu" is not supported (only "gelu"',
         json.dumps(DISTIL, indent=1) + "\n", why="DistilBERT's config keys; only the GELU activation is implemented")
MPNET_CLS = ["MPNetForSequenceClassification"]
cfg_case("config-mpnet-few-buckets", 'field "relative_attention_num_buckets" = 16 is outside [32, 65536]',
         config(model_type="mpnet", architectures=MPNET_CLS, relative_attention_num_buckets=16),
         why="transformers' MPNet looks up 32 relative position buckets whatever the table's size")
cfg_case("config-mpnet-over-bert-weights", 'tensor "embeddings.word_embeddings.weight" (with or without '
         '"mpnet.") is missing', config(model_type="mpnet", architectures=MPNET_CLS),
         why="config.json says MPNet, the weights are the tiny BERT model's (bert.-prefixed)")
cfg_case("config-missing-hidden-size", 'config.json: required field "hidden_size" is missing',
         config(hidden_size=None))
cfg_case("config-hidden-size-string", 'config.json:6:17: field "hidden_size" must be an integer', config(hidden_size="32"))
cfg_case("config-heads-not-dividing", "config.json:8:25: hidden_size 32 is not a multiple of num_attention_heads 3",
         config(num_attention_heads=3))
cfg_case("config-hidden-size-2-40", 'config.json:6:17: field "hidden_size" = 1099511627776 is outside',
         config(hidden_size=1 << 40))
cfg_case("config-absurd-in-range", 'has shape [30522, 32], config.json implies [16777216, 65536]',
         config(hidden_size=65536, num_attention_heads=1024, num_hidden_layers=1024, intermediate_size=262144,
                max_position_embeddings=65536, vocab_size=1 << 24),
         why="every size inside its limit, the whole model 10^14 bytes: refused by shape before any allocation")
cfg_case("config-bad-eps", "config.json:13:20: layer_norm_eps must be a positive number", config(layer_norm_eps=-1))

cfg_case("config-xlmr-over-bert-weights", 'tensor "embeddings.word_embeddings.weight" (with or without '
         '"roberta.") is missing', config(model_type="xlm-roberta", architectures=["XLMRobertaForSequenceClassification"]),
         why="config.json says XLM-RoBERTa, the weights are the tiny BERT model's (bert.-prefixed)")

DEBERTA = {"model_type": "deberta-v2", "architectures": ["DebertaV2ForSequenceClassification"],
           "relative_attention": True, "position_buckets": 256, "pos_att_type": ["p2c", "c2p"]}
cfg_case("config-deberta-conv-layer", "config.json:27:22: conv_kernel_size 3: DeBERTa-v2's convolution layer (the xlarge/xxlarge checkpoints) is not supported", config(**DEBERTA, conv_kernel_size=3),
         why="DeBERTa-v2 xlarge/xxlarge's convolution after the first layer is not implemented")
cfg_case("config-deberta-p2p", 'config.json:23:18: pos_att_type "p2p" is not supported (only "c2p" and "p2c", DeBERTa-v2\'s)', config(**dict(DEBERTA, pos_att_type=["c2p", "p2p"])),
         why="p2p is DeBERTa v1's position-to-position term; DeBERTa-v2 never computes it")
cfg_case("config-deberta-norm-batch", 'config.json:27:18: norm_rel_ebd "batch_norm" is not supported ("layer_norm" or "none")', config(**DEBERTA, norm_rel_ebd="batch_norm"))
cfg_case("config-deberta-norm-not-string", 'config.json:27:18: field "norm_rel_ebd" must be a string', config(**DEBERTA, norm_rel_ebd=["layer_norm"]))
cfg_case("config-deberta-relative-not-boolean", 'config.json:21:24: field "relative_attention" must be true or false', config(**dict(DEBERTA, relative_attention="yes")),
         why="transformers would take any non-empty string as true; rerank asks for a JSON boolean")
cfg_case("config-deberta-pooler-swish", 'config.json:27:23: pooler_hidden_act "swish" is not supported ("gelu", "tanh" or "relu")', config(**DEBERTA, pooler_hidden_act="swish"))
cfg_case("config-deberta-pooler-act-number", 'config.json:27:23: field "pooler_hidden_act" must be a string', config(**DEBERTA, pooler_hidden_act=1))
cfg_case("config-deberta-few-buckets", 'config.json:22:22: position_buckets 2 is too small (at least 4)', config(**dict(DEBERTA, position_buckets=2)),
         why="log buckets need a linear range of position_buckets / 2 >= 2")
cfg_case("config-deberta-embedding-projection", "config.json:27:20: embedding_size 16 differs from hidden_size 32: DeBERTa's embeddings projection is not supported", config(**DEBERTA, embedding_size=16))
cfg_case("config-deberta-v1", 'config.json:5:16: model_type "deberta" (architecture "DebertaForSequenceClassification") is not supported', config(model_type="deberta", architectures=["DebertaForSequenceClassification"]),
         why="DeBERTa v1 (microsoft/deberta-base): p2p attention, another relative-position layout")
cfg_case("config-deberta-over-bert-weights", 'tensor "embeddings.word_embeddings.weight" (with or without "deberta.") is missing', config(**DEBERTA),
         why="config.json says DeBERTa-v2 (without max_relative_positions, which defaults to "
             "max_position_embeddings, as transformers reads it), the weights are the tiny BERT model's")

MODERNBERT = {"model_type": "modernbert", "architectures": ["ModernBertForSequenceClassification"]}
cfg_case("config-modernbert-rope-yarn", 'rope_parameters.full_attention: rope_type "yarn" is not supported',
         config(**MODERNBERT, rope_parameters={"full_attention": {"rope_type": "yarn", "rope_theta": 160000.0},
                                               "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
         why="only ModernBERT's plain RoPE is implemented")
cfg_case("config-modernbert-rope-scaling", "rope_scaling is set: only ModernBERT's plain RoPE is supported",
         config(**MODERNBERT, rope_scaling={"rope_type": "linear", "factor": 2.0}))
cfg_case("config-modernbert-activation", 'hidden_activation "silu" is not supported (only "gelu"',
         config(**MODERNBERT, hidden_activation="silu"))
cfg_case("config-modernbert-pooling", 'classifier_pooling "max" is not supported ("cls" or "mean")',
         config(**MODERNBERT, classifier_pooling="max"))
cfg_case("config-modernbert-layer-types", "layer_types must list one type per layer (2)",
         config(**MODERNBERT, layer_types=["full_attention"]))
cfg_case("config-modernbert-odd-head-dim", "the head dimension 1 is odd: rotary positions need an even one",
         config(**MODERNBERT, num_attention_heads=32))
cfg_case("config-modernbert-over-bert-weights", 'tensor "embeddings.tok_embeddings.weight" (with or without '
         '"model.") is missing', config(**MODERNBERT),
         why="config.json says ModernBERT, the weights are the tiny BERT model's (bert.-prefixed)")

# ---- vocab.txt (tokenizer.json removed so that vocab.txt is read) -------------------------------
def vocab_case(name, needle, content, why=""):
    case(name, SCORE_MODEL, 1, needle, {"pairs.tsv": PAIRS},
         model={"vocab.txt": content, "DELETE": "tokenizer.json\n"}, why=why)


vocab_case("vocab-empty", "vocab.txt: empty vocabulary", "")
vocab_case("vocab-missing-unk", "[UNK]", "[PAD]\n[CLS]\n[SEP]\n[MASK]\nalpha\n")
vocab_case("vocab-missing-cls", "[CLS]", "[PAD]\n[UNK]\n[SEP]\n[MASK]\nalpha\n")
vocab_case("vocab-invalid-utf8", "vocab.txt:3: invalid UTF-8", b"[PAD]\n[UNK]\n\xff\xfe\n[CLS]\n[SEP]\n")
case("vocab-and-tokenizer-missing", SCORE_MODEL, 1, "no tokenizer.json, vocab.txt, or vocab.json + merges.txt", {"pairs.tsv": PAIRS},
     model={"DELETE": "tokenizer.json\nvocab.txt\n"})

# ---- tokenizer.json ---------------------------------------------------------------------------------
def tok_case(name, needle, content, why=""):
    case(name, SCORE_MODEL, 1, needle, {"pairs.tsv": PAIRS}, model={"tokenizer.json": content}, why=why)


tok_case("tokjson-malformed", "tokenizer.json:2:", '{"model": {"type": "WordPiece",\n "vocab": {"a": 0,, }}}\n')
tok_case("tokjson-unsupported-model", 'model type "WordLevel" is not supported (WordPiece, as BERT',
         json.dumps({"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}}) + "\n")
tok_case("tokjson-no-model", 'tokenizer.json: no "model" object', json.dumps({"version": "1.0"}) + "\n")
tok_case("tokjson-bad-token-id", 'model.vocab: token "b" has no valid id',
         json.dumps({"model": {"type": "WordPiece", "vocab": {"a": 0, "b": -5}}}) + "\n")


# byte-level BPE (RoBERTa's form), read as the file says: each file below differs from a valid one in one place
def bpe_json(model=None, pre=None, normalizer=None):
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "a": 4, "l": 5, "p": 6, "h": 7, "\u0120": 8,
             "al": 9, "\u0120a": 10}
    m = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
         "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
         "vocab": vocab, "merges": [["a", "l"], ["\u0120", "a"]]}
    m.update(model or {})
    doc = {"normalizer": normalizer, "model": m,
           "pre_tokenizer": pre or {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                    "use_regex": True},
           "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                              "trim_offsets": True, "add_prefix_space": False}}
    return json.dumps(doc) + "\n"


tok_case("tokjson-bpe-merge-not-in-vocab", 'model.merges[1]: "\u0120al" is not in the vocabulary',
         bpe_json({"merges": [["a", "l"], ["\u0120", "al"]]}),
         why="tokenizers refuses a merge whose halves or result the vocabulary lacks")
tok_case("tokjson-bpe-merge-one-token", 'model.merges[0] is not two tokens', bpe_json({"merges": ["al"]}))
tok_case("tokjson-bpe-vocab-list", 'model.vocab is missing, empty or not an object',
         bpe_json({"vocab": [["a", 0.0]]}))
tok_case("tokjson-bpe-byte-fallback", "model.byte_fallback is true: not supported",
         bpe_json({"byte_fallback": True}), why="Llama-style byte fallback: not a BERT-family tokenizer")
tok_case("tokjson-bpe-dropout", "model.dropout is set: BPE dropout is not supported", bpe_json({"dropout": 0.1}),
         why="dropout makes encoding random")
tok_case("tokjson-bpe-suffix", "model.end_of_word_suffix is set", bpe_json({"end_of_word_suffix": "</w>"}))
tok_case("tokjson-bpe-unk-missing", 'model.unk_token "<oops>" is not in the vocabulary',
         bpe_json({"unk_token": "<oops>"}))
tok_case("tokjson-bpe-normalizer", 'normalizer "NFKC" with a BPE model is not supported',
         bpe_json(normalizer={"type": "NFKC"}), why="only NFC (ModernBERT's) is implemented for BPE")
tok_case("tokjson-bpe-normalizer-sequence", 'normalizer "Lowercase" inside the Sequence',
         bpe_json(normalizer={"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}))
tok_case("tokjson-bpe-pretokenizer", 'pre_tokenizer "Whitespace" with a BPE model is not supported',
         bpe_json(pre={"type": "Whitespace"}), why="only ByteLevel (GPT-2's regex and byte map) is implemented")


# vocab.json + merges.txt (older RoBERTa checkpoints, no tokenizer.json)
BPE_VOCAB = json.dumps({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "a": 4, "l": 5, "\u0120": 6, "al": 7}) + "\n"
ROBERTA_TOKCFG = json.dumps({"tokenizer_class": "RobertaTokenizer"}) + "\n"


def merges_case(name, needle, merges, tokcfg=ROBERTA_TOKCFG, why=""):
    case(name, SCORE_MODEL, 1, needle, {"pairs.tsv": PAIRS},
         model={"vocab.json": BPE_VOCAB, "merges.txt": merges, "tokenizer_config.json": tokcfg,
                "DELETE": "tokenizer.json\nvocab.txt\n"}, why=why)


merges_case("merges-three-tokens", "merges.txt:3: expected two tokens separated by one space",
            "#version: 0.2\na l\na l x\n")
merges_case("merges-not-in-vocab", 'model.merges[1]: "\u0120al" is not in the vocabulary', "#version: 0.2\na l\n\u0120 al\n")
merges_case("merges-not-roberta", "vocab.json + merges.txt without a tokenizer.json are read only for RoBERTa",
            "a l\n", tokcfg=json.dumps({"tokenizer_class": "GPT2Tokenizer"}) + "\n",
            why="GPT-2's own pipeline (no RobertaProcessing) is not implemented")


# SentencePiece Unigram (XLM-RoBERTa's form): each file below differs from a valid one in one place
def unigram_json(model=None, normalizer=None, pre=None):
    m = {"type": "Unigram", "unk_id": 1, "vocab": [["<s>", 0.0], ["<unk>", 0.0], ["</s>", 0.0], ["<pad>", 0.0],
                                                  ["\u2581alpha", -2.0], ["\u2581", -3.0], ["a", -4.0]],
         "byte_fallback": False}
    m.update(model or {})
    tpl = [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
           {"SpecialToken": {"id": "</s>", "type_id": 0}}]
    doc = {"normalizer": normalizer, "model": m,
           "pre_tokenizer": pre or {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                                    "split": True},
           "post_processor": {"type": "TemplateProcessing", "single": tpl, "pair": tpl[:2] + tpl[2:] * 2 + [
               {"Sequence": {"id": "B", "type_id": 0}}] + tpl[2:]}}
    return json.dumps(doc) + "\n"


def precompiled(charsmap):
    return {"type": "Precompiled", "precompiled_charsmap": charsmap}


tok_case("tokjson-unigram-charsmap-not-base64", "precompiled_charsmap is not base64 (character 2)",
         unigram_json(normalizer=precompiled("AA*A")))
tok_case("tokjson-unigram-charsmap-truncated", "precompiled_charsmap is malformed (8 bytes, trie of 4096)",
         unigram_json(normalizer=precompiled("ABAAAAAAAAA=")),
         why="the charsmap announces a 4096-byte trie and holds 4 bytes after the size")
tok_case("tokjson-unigram-byte-fallback", "Unigram byte_fallback is not supported",
         unigram_json(model={"byte_fallback": True}))
tok_case("tokjson-unigram-bad-unk-id", "model.unk_id must be the id of a piece (0 to 6)",
         unigram_json(model={"unk_id": 7}))
tok_case("tokjson-unigram-bad-piece", "model.vocab[2] is not [piece, score]",
         unigram_json(model={"vocab": [["<s>", 0.0], ["<unk>", 0.0], ["</s>", "high"]]}))
tok_case("tokjson-unigram-regex", 'Replace pattern [0-9]+ is not supported',
         unigram_json(normalizer={"type": "Sequence", "normalizers": [
             {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "0"}]}),
         why="of regular expressions only runs of spaces (\" {2,}\") and DeBERTa's \"\\s{2,}|[\\n\\r\\t]\" are understood")
tok_case("tokjson-unigram-bytelevel", 'pre_tokenizer "ByteLevel" is not supported with a Unigram model',
         unigram_json(pre={"type": "ByteLevel", "add_prefix_space": False}))
tok_case("tokjson-unigram-bert-normalizer", 'normalizer "BertNormalizer" is not supported with a Unigram model',
         unigram_json(normalizer={"type": "BertNormalizer", "lowercase": True}))
# DeBERTa-v2/v3: the forms its tokenizer.json files take, read as the file says (tokenizers' reading)
METASPACE = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
tok_case("tokjson-unigram-regex-near-deberta", "Replace pattern \\s{2,}|[\\n\\r] is not supported",
         unigram_json(normalizer={"type": "Sequence", "normalizers": [
             {"type": "Replace", "pattern": {"Regex": "\\s{2,}|[\\n\\r]"}, "content": " "}]}),
         why="DeBERTa's regex is understood only as transformers writes it, \"\\s{2,}|[\\n\\r\\t]\"")
tok_case("tokjson-unigram-nfkd-in-sequence", 'normalizer "NFKD" inside the Sequence is not supported',
         unigram_json(normalizer={"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "NFKD"}]}))
tok_case("tokjson-unigram-punctuation-removed", "Punctuation with behavior Removed is not supported (Isolated only)",
         unigram_json(pre={"type": "Sequence", "pretokenizers": [
             {"type": "Punctuation", "behavior": "Removed"}, METASPACE]}))
tok_case("tokjson-unigram-whitespace-in-sequence", 'pre_tokenizer "Whitespace" inside the Sequence is not supported',
         unigram_json(pre={"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, METASPACE]}))


# DeBERTa-v2/v3 under tokenizer_class DebertaV2Tokenizer (transformers 5 reads only the vocabulary of
# tokenizer.json and the rest from tokenizer_config.json): each case differs from a valid pair of files
# in one place
def deberta_json(unk_score=0.0, byte_fallback=False):
    tpl = [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}]
    pair = tpl + [{"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}]
    return json.dumps({
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Strip", "strip_left": True, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [METASPACE]},
        "model": {"type": "Unigram", "unk_id": 3, "byte_fallback": byte_fallback, "vocab": [
            ["[PAD]", 0.0], ["[CLS]", 0.0], ["[SEP]", 0.0], ["[UNK]", unk_score], ["\u2581alpha", -2.0],
            ["\u2581", -3.0], ["a", -4.0]]},
        "post_processor": {"type": "TemplateProcessing", "single": tpl, "pair": pair, "special_tokens": {
            "[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
            "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}}}) + "\n"


def deberta_config(**changes):
    c = {"tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": False, "split_by_punct": False,
         "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
         "mask_token": "[MASK]", "model_max_length": 512}
    c.update(changes)
    return json.dumps(c, indent=1) + "\n"


def deberta_case(name, needle, tokenizer_json=None, why="", **config_changes):
    case(name, SCORE_MODEL, 1, needle, {"pairs.tsv": PAIRS},
         model={"tokenizer.json": tokenizer_json or deberta_json(),
                "tokenizer_config.json": deberta_config(**config_changes)}, why=why)


deberta_case("tokconfig-deberta-unk-id-out-of-range", "its fallback unknown id 99 is not a piece (0 to 6)",
             deberta_json(unk_score=-1.0), unk_id=99,
             why="no [\"[UNK]\", 0.0] piece, so DebertaV2Tokenizer takes unk_id, which names no piece")
deberta_case("tokconfig-deberta-cls-missing", '[CLS] token "<cls>" is not in the vocabulary', cls_token="<cls>")
deberta_case("tokconfig-deberta-flag-not-boolean", '"split_by_punct" must be true, false or null',
             split_by_punct="yes")
deberta_case("tokconfig-deberta-decoder-bad-id", 'added_tokens_decoder: bad id "mask"',
             added_tokens_decoder={"mask": {"content": "[MASK]", "special": True}})
deberta_case("tokjson-deberta-file-byte-fallback", "Unigram byte_fallback is not supported",
             deberta_json(byte_fallback=True), tokenizer_class="PreTrainedTokenizerFast",
             why="read as the file says; under DebertaV2Tokenizer transformers sets byte_fallback false, and so "
                 "does rerank")


# CamemBERT under tokenizer_class CamembertTokenizer (transformers 5 adds its additional special tokens and
# takes the template from bos_token / eos_token): each tokenizer_config.json differs from a valid one in one place
def camembert_case(name, needle, why="", **config_changes):
    c = {"tokenizer_class": "CamembertTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
         "pad_token": "<pad>", "extra_special_tokens": ["<s>NOTUSED", "</s>NOTUSED", "<unk>NOTUSED"]}
    c.update(config_changes)
    case(name, SCORE_MODEL, 1, needle, {"pairs.tsv": PAIRS},
         model={"tokenizer.json": unigram_json(), "tokenizer_config.json": json.dumps(c, indent=1) + "\n"}, why=why)


camembert_case("tokconfig-camembert-extra-not-list",
               '"extra_special_tokens" / "additional_special_tokens" is not a list',
               extra_special_tokens="<s>NOTUSED")
camembert_case("tokconfig-camembert-extra-not-string", "an additional special token that is not a string",
               extra_special_tokens=None, additional_special_tokens=["<s>NOTUSED", 5])
case("tokconfig-malformed", SCORE_MODEL, 1, "tokenizer_config.json:1:", {"pairs.tsv": PAIRS},
     model={"tokenizer_config.json": '{"do_lower_case": tru}\n'})

# ---- FAISS index directory (rerank retrieve --index) -------------------------------------------------
def idx_case(name, needle, index, why=""):
    case(name, RETRIEVE, 1, needle, {"queries.jsonl": QUERIES}, index=index, why=why)


META = {"format": "rerank-index/1", "model": "/nonexistent/model", "model_sha256": "0" * 64,
        "corpus": "corpus.jsonl", "corpus_sha256": "0" * 64, "factory": "Flat", "metric": "ip",
        "dim": 384, "num_docs": 3}


def meta(**changes):
    m = dict(META)
    for k, v in changes.items():
        if v is None:
            m.pop(k)
        else:
            m[k] = v
    return json.dumps(m, indent=1) + "\n"


idx_case("index-meta-missing", "is not an index directory (no meta.json)", {"DELETE": "meta.json\n"})
idx_case("index-meta-malformed", "meta.json:2:", {"meta.json": '{\n "format": rerank\n}\n'})
idx_case("index-meta-no-dim", 'meta.json: field "dim" missing or out of range', {"meta.json": meta(dim=None)})
idx_case("index-meta-wrong-format", 'meta.json:2:12: index format "rerank-index/99"',
         {"meta.json": meta(format="rerank-index/99")})
idx_case("index-docids-truncated", "docids.txt: 2 document ids, meta.json says 3", {"docids.txt": "d1\nd2\n"})
idx_case("index-docids-duplicate", 'docids.txt:3: duplicate document id "d1"', {"docids.txt": "d1\nd2\nd1\n"})
idx_case("index-faiss-missing", "index.faiss: missing", {"DELETE": "index.faiss\n"})
idx_case("index-faiss-garbage", "index.faiss", {"index.faiss": b"this is not a FAISS index at all\n" * 4})
idx_case("index-faiss-truncated", "index.faiss",
         {"index.faiss": b"IxFI" + struct.pack("<iqqq?i", 384, 3, 1 << 20, 1 << 20, True, 0)
                         + struct.pack("<Q", 3 * 384) + b"\0" * 100},
         why="an IndexFlatIP header announcing 3 x 384 floats, followed by 100 bytes")
idx_case("index-faiss-meta-mismatch", "does not match meta.json", {"meta.json": meta(dim=385)})


def write_all():
    names = {c["name"] for c in CASES}
    assert len(names) == len(CASES), "duplicate case names"
    ROOT.mkdir(parents=True, exist_ok=True)
    for d in ROOT.iterdir():
        if d.is_dir() and d.name not in names:
            shutil.rmtree(d)
    for c in CASES:
        d = ROOT / c["name"]
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        for fname, content in c["files"].items():
            (d / fname).write_bytes(b(content))
        for sub in ("model", "index"):
            if c[sub]:
                (d / sub).mkdir()
                for fname, content in c[sub].items():
                    (d / sub / fname).write_bytes(b(content))
        (d / "cmd").write_text(c["cmd"] + "\n")
        (d / "expect").write_text(f"{c['status']}\n{c['needle']}\n" + (f"# {c['why']}\n" if c["why"] else ""))
    print(f"{len(CASES)} cases in {ROOT}")


if __name__ == "__main__":
    write_all()
