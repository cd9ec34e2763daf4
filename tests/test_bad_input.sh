#!/usr/bin/env bash
# tests/test_bad_input.sh — bad input through the CLI: every case must exit with status 1
# (not a signal), print an error naming the file and the problem, and leave no output file.
# Needs RR_BIN and RR_MODELS_DIR (ctest sets them; scripts/setup.sh fills the models).
set -u
BIN="${RR_BIN:?}"
MINILM="${RR_MODELS_DIR:?}/all-MiniLM-L6-v2"
CE="${RR_MODELS_DIR}/test-cross-encoder"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

# expect NAME NEEDLE -- command...   (output file, if any, is $T/out)
expect() {
  local name="$1" needle="$2"; shift 3
  rm -f "$T/out"
  "$@" >"$T/stdout" 2>"$T/stderr"
  local rc=$?
  local msg; msg="$(cat "$T/stderr")"
  if [ "$rc" -ne 1 ]; then
    echo "FAIL $name: exit status $rc (want 1): $msg"; fail=$((fail + 1)); return
  fi
  if ! grep -qF -- "$needle" "$T/stderr"; then
    echo "FAIL $name: message lacks '$needle': $msg"; fail=$((fail + 1)); return
  fi
  if [ -e "$T/out" ] || ls "$T"/out.tmp.* >/dev/null 2>&1; then
    echo "FAIL $name: an output file was left behind"; fail=$((fail + 1)); return
  fi
  echo "ok   $name: $msg"; pass=$((pass + 1))
}

# a model directory whose files we can break one at a time
mkmodel() { # mkmodel DIR [skip-file]
  mkdir -p "$1"
  for f in config.json model.safetensors vocab.txt tokenizer.json tokenizer_config.json \
           modules.json sentence_bert_config.json; do
    [ "$f" = "${2:-}" ] || cp "$MINILM/$f" "$1/" 2>/dev/null || true
  done
  mkdir -p "$1/1_Pooling" && cp "$MINILM/1_Pooling/config.json" "$1/1_Pooling/"
}
printf 'a text\nanother text\n' > "$T/texts.txt"
EMBED() { "$BIN" embed --model "$1" --input "${2:-$T/texts.txt}" --output "$T/out"; }

# --- safetensors ---
mkmodel "$T/trunc"; head -c 1000000 "$MINILM/model.safetensors" > "$T/trunc/model.safetensors"
expect truncated-safetensors "model.safetensors" -- EMBED "$T/trunc"
grep -q "truncated" "$T/stderr" || { echo "FAIL truncated-safetensors: no 'truncated' in message"; fail=$((fail + 1)); }

mkmodel "$T/garbage"; head -c 4096 /dev/urandom > "$T/garbage/model.safetensors"
expect garbage-safetensors "model.safetensors" -- EMBED "$T/garbage"

# rewrite_header SRC DST 'python statement on h (the parsed header dict)': copy a safetensors
# file with its JSON header edited; the data bytes are kept as they are.
rewrite_header() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys
src, dst, edit = sys.argv[1], sys.argv[2], sys.argv[3]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
exec(edit)
hb = json.dumps(h).encode()
open(dst, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY
}

# the header lies: 385 floats in 384 floats' bytes
mkmodel "$T/lie"
rewrite_header "$MINILM/model.safetensors" "$T/lie/model.safetensors" \
  'h["embeddings.LayerNorm.bias"]["shape"] = [385]'
expect lying-header "embeddings.LayerNorm.bias" -- EMBED "$T/lie"

# [1536, 384] relabelled [384, 1536]: consistent bytes, wrong for config.json
mkmodel "$T/shape"
rewrite_header "$MINILM/model.safetensors" "$T/shape/model.safetensors" \
  'h["encoder.layer.0.intermediate.dense.weight"]["shape"] = [384, 1536]'
expect wrong-shape "encoder.layer.0.intermediate.dense.weight" -- EMBED "$T/shape"

mkmodel "$T/nan"
python3 - "$MINILM/model.safetensors" "$T/nan/model.safetensors" <<'PY'
import json, struct, sys
src, dst = sys.argv[1], sys.argv[2]
b = bytearray(open(src, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
off = 8 + n + h["embeddings.LayerNorm.weight"]["data_offsets"][0]
b[off:off + 4] = struct.pack("<f", float("nan"))
open(dst, "wb").write(b)
PY
expect nan-weight "NaN" -- EMBED "$T/nan"

mkmodel "$T/missing-tensor"
rewrite_header "$MINILM/model.safetensors" "$T/missing-tensor/model.safetensors" \
  'h["encoder.layer.3.output.dense.bias-renamed"] = h.pop("encoder.layer.3.output.dense.bias")'
expect missing-tensor "encoder.layer.3.output.dense.bias" -- EMBED "$T/missing-tensor"

# --- configuration and vocabulary ---
mkmodel "$T/novocab" vocab.txt; rm -f "$T/novocab/tokenizer.json"
expect missing-vocab "novocab" -- EMBED "$T/novocab"

mkmodel "$T/noconfig" config.json
expect missing-config "config.json" -- EMBED "$T/noconfig"

mkmodel "$T/roberta"; sed -i 's/"model_type": "bert"/"model_type": "roberta"/' "$T/roberta/config.json"
expect unsupported-architecture "roberta" -- EMBED "$T/roberta"

mkmodel "$T/badjson"; echo '{"hidden_size": 384,' > "$T/badjson/config.json"
expect malformed-config "config.json" -- EMBED "$T/badjson"

mkmodel "$T/act"; sed -i 's/"hidden_act": "gelu"/"hidden_act": "relu"/' "$T/act/config.json"
expect unsupported-activation "relu" -- EMBED "$T/act"

expect no-model-dir "no-such-dir" -- EMBED "$T/no-such-dir"

# --- text inputs ---
printf 'fine\n\xff\xfe bad bytes\n' > "$T/badutf8.txt"
expect invalid-utf8 "badutf8.txt:2" -- EMBED "$MINILM" "$T/badutf8.txt"

printf 'a query\tok passage\n\tpassage without a query\n' > "$T/emptyq.tsv"
expect empty-query "emptyq.tsv:2: empty query" -- "$BIN" score --model "$CE" --pairs "$T/emptyq.tsv" --output "$T/out"

printf 'q\tp\nq only one field\n' > "$T/fields.tsv"
expect wrong-field-count "fields.tsv:2" -- "$BIN" score --model "$CE" --pairs "$T/fields.tsv" --output "$T/out"

printf 'q\tp\t\xc3\x28\n' > "$T/utf8pair.tsv"
expect wrong-field-count-3 "utf8pair.tsv:1" -- "$BIN" score --model "$CE" --pairs "$T/utf8pair.tsv" --output "$T/out"

printf 'q\t\xc3\x28 broken\n' > "$T/utf8p.tsv"
expect invalid-utf8-pair "utf8p.tsv:1: invalid UTF-8" -- "$BIN" score --model "$CE" --pairs "$T/utf8p.tsv" --output "$T/out"

printf 'a\0b\n' > "$T/nul.txt"
expect nul-byte "nul.txt:1" -- EMBED "$MINILM" "$T/nul.txt"

expect bi-encoder-as-cross-encoder "BertForSequenceClassification" -- \
  "$BIN" score --model "$MINILM" --query q --passages "$T/texts.txt" --output "$T/out"

expect max-length-too-big "max length" -- \
  "$BIN" embed --model "$MINILM" --input "$T/texts.txt" --output "$T/out" --max-length 4096

# past max_position_embeddings: refused where a position table bounds the length (the DeBERTa
# variant has absolute positions), allowed without one (DeBERTa-v3: test_model_parity scores it
# at 2,048) up to the engine's limit
printf 'a query\ta passage\n' > "$T/pairs.tsv"
expect max-length-position-table "must be in [3, 512] (the model's max_position_embeddings)" -- \
  "$BIN" score --model "$RR_MODELS_DIR/test-deberta-variant-cross-encoder" --pairs "$T/pairs.tsv" \
  --output "$T/out" --max-length 513
expect max-length-engine-limit "must be in [3, 32768] (no position table" -- \
  "$BIN" score --model "$RR_MODELS_DIR/test-deberta-cross-encoder" --pairs "$T/pairs.tsv" \
  --output "$T/out" --max-length 32769

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
