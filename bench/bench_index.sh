#!/usr/bin/env bash
# bench/bench_index.sh — `rerank index` speed and peak memory, `rerank retrieve` speed (issue 4:
# "peak memory for indexing must be bounded by the batch size plus the index, not by the
# corpus text").
#
# 1. SciFact (data/scifact, 5,183 documents): `rerank index` (Flat, inner product) under
#    /usr/bin/time -v: docs/s over the whole process and peak RSS; then `rerank retrieve` of
#    all 1,109 queries, top 100: queries/s over the whole process (model load included) and
#    the command's own embed / search rates. With BENCH_OLD_BIN the old binary builds its own
#    index and run the same way, and the two indexes (docids.txt, meta.json, index.faiss) and
#    the two runs are compared byte for byte.
#    Then the corpus changes under RR_BIN's index (BENCH_SYNC=1, the default): 1% of the
#    documents edited, 0.5% dropped, 0.5% new. Timed, each a whole process: `retrieve --corpus`
#    of the unchanged corpus (the check `rerank run` makes before reusing an index) beside the
#    plain retrieve above; `index --update --corpus` of the changed corpus (only the new and
#    changed documents embedded) beside the whole build above (the same model and settings,
#    a corpus of the same size); the same update again, with nothing left to do.
# 2. Synthetic corpora: SciFact's documents repeated under new ids ("<id>~r<k>") to each size
#    of BENCH_SYNTH_DOCS, indexed (Flat) at --max-length BENCH_SYNTH_MAXLEN: peak RSS per size,
#    and its growth in bytes per added document between the first and the last size. The
#    index itself grows by the vector (4 x dim bytes) and the id; the corpus text by ~1.5 KB a
#    SciFact document, which is what an indexer that reads the corpus whole adds on top.
#
# Environment (all optional):
#   RR_BIN              the binary (default: build/rerank)
#   BENCH_OLD_BIN       a second binary to compare against (e.g. one built from an older commit)
#   RR_MODELS_DIR       models (default: ~/.cache/rerank/models)
#   BENCH_MODEL         a bi-encoder directory (default: $RR_MODELS_DIR/all-MiniLM-L6-v2), or
#                       tiny (tests/tools/make_tiny_model.py's seeded hidden-32 model)
#   BENCH_THREADS       --threads (default: nproc)
#   BENCH_SCIFACT       0 skips part 1 (default 1)
#   BENCH_SYNC          0 skips part 1's changed corpus (default 1)
#   BENCH_SYNTH_DOCS    sizes of part 2 (default "25000 50000"; "" skips it)
#   BENCH_SYNTH_MAXLEN  --max-length of part 2 (default 128)
#   BENCH_SYNTH_MODEL   the model of part 2 (default: BENCH_MODEL; tiny as there)
#   BENCH_SYNTH_MODE    build (default): each synthetic corpus indexed with --corpus; update:
#                       added with --update --add to a 500-document index built first
#   BENCH_MAX_GROWTH    exit 1 when RR_BIN's peak RSS grows by more than this many
#                       bytes per added synthetic document (for the test)
#   BENCH_WORK          scratch directory (default: a new one, removed at the end)
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RR_BIN:-$REPO/build/rerank}"
OLD="${BENCH_OLD_BIN:-}"
MODELS="${RR_MODELS_DIR:-$HOME/.cache/rerank/models}"
MODEL="${BENCH_MODEL:-$MODELS/all-MiniLM-L6-v2}"
THREADS="${BENCH_THREADS:-$(nproc)}"
SYNTH="${BENCH_SYNTH_DOCS-25000 50000}"
SYNTH_MAXLEN="${BENCH_SYNTH_MAXLEN:-128}"
DATA="$REPO/data/scifact"
[ -x "$BIN" ] || { echo "bench_index: no $BIN (build first)" >&2; exit 2; }
[ -z "$OLD" ] || [ -x "$OLD" ] || { echo "bench_index: no $OLD" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_index: needs /usr/bin/time (GNU time)" >&2; exit 2; }
if [ -n "${BENCH_WORK:-}" ]; then W="$BENCH_WORK"; mkdir -p "$W"; CLEAN=0; else W="$(mktemp -d)"; CLEAN=1; fi
trap '[ "$CLEAN" = 1 ] && rm -rf "$W"' EXIT

SYNTH_MODEL="${BENCH_SYNTH_MODEL:-$MODEL}"
if [ "$MODEL" = tiny ] || [ "$SYNTH_MODEL" = tiny ]; then
  [ -f "$MODELS/all-MiniLM-L6-v2/vocab.txt" ] || { echo "bench_index: no $MODELS/all-MiniLM-L6-v2 (scripts/setup.sh)" >&2; exit 77; }
  python3 "$REPO/tests/tools/make_tiny_model.py" "$W/tiny" "$MODELS/all-MiniLM-L6-v2" >/dev/null || exit 1
  [ "$MODEL" = tiny ] && MODEL="$W/tiny"
  [ "$SYNTH_MODEL" = tiny ] && SYNTH_MODEL="$W/tiny"
fi
for m in "$MODEL" "$SYNTH_MODEL"; do
  [ -f "$m/config.json" ] || { echo "bench_index: no model at $m (scripts/setup.sh)" >&2; exit 77; }
done
if ! "$BIN" index --help >/dev/null 2>&1 || [ "$("$BIN" index --corpus /dev/null --model "$MODEL" --out "$W/probe" 2>&1 |
     grep -c 'built without FAISS')" != 0 ]; then
  echo "bench_index: $BIN was built without FAISS" >&2; exit 77
fi

BINS=("$BIN"); NAMES=(bin)
[ -n "$OLD" ] && BINS=("$OLD" "$BIN") && NAMES=(old new)

# run NAME LOG CMD...: the command under /usr/bin/time -v; sets KB (peak RSS) and WALL (s)
run() {
  local log="$1"; shift
  /usr/bin/time -v "$@" >"$log" 2>&1
  local rc=$?
  KB=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$log")
  WALL=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" |
         awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  if [ $rc != 0 ] || [ -z "$KB" ]; then echo "bench_index: failed (exit $rc): $*"; tail -5 "$log"; exit 1; fi
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "bench_index: model $MODEL (synthetic corpora: $SYNTH_MODEL), $THREADS thread(s), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!BINS[@]}"; do echo "  ${NAMES[$i]}: ${BINS[$i]} ($("${BINS[$i]}" --version 2>/dev/null | head -1))"; done

if [ "${BENCH_SCIFACT:-1}" = 1 ]; then
  docs=$(zcat "$DATA/corpus.jsonl.gz" | grep -c .)
  nq=$(zcat "$DATA/queries.jsonl.gz" | grep -c .)
  echo
  echo "SciFact: $docs documents (Flat, ip), then $nq queries top 100"
  printf '%-4s %9s %8s %12s | %9s %10s %12s %14s %12s\n' bin "index s" "docs/s" "peak RSS MB" \
    "retr. s" "queries/s" "peak RSS MB" "embed q/s" "search q/s"
  for i in "${!BINS[@]}"; do
    b="${BINS[$i]}" n="${NAMES[$i]}"
    rm -rf "$W/scifact-$n"
    run "$W/index-$n.log" "$b" index --corpus "$DATA/corpus.jsonl.gz" --model "$MODEL" --out "$W/scifact-$n" \
      --factory Flat --metric ip --threads "$THREADS" --quiet
    ikb=$KB iwall=$WALL
    run "$W/retrieve-$n.log" "$b" retrieve --index "$W/scifact-$n" --queries "$DATA/queries.jsonl.gz" --k 100 \
      --output "$W/run-$n.trec" --threads "$THREADS"
    rates=$(sed -n 's/.*embed [0-9.]*s, \([0-9.]*\) queries\/s; search[^0-9]* [0-9.]*s, \([0-9.]*\) queries\/s.*/\1 \2/p' \
            "$W/retrieve-$n.log")
    printf '%-4s %9s %8.1f %12s | %9s %10.1f %12s %14s %12s\n' "$n" "$iwall" \
      "$(awk -v d="$docs" -v s="$iwall" 'BEGIN { print d / s }')" "$(mb "$ikb")" "$WALL" \
      "$(awk -v q="$nq" -v s="$WALL" 'BEGIN { print q / s }')" "$(mb "$KB")" ${rates:-"-" "-"}
  done
  if [ -n "$OLD" ]; then
    same=1
    for f in docids.txt meta.json index.faiss; do
      cmp -s "$W/scifact-old/$f" "$W/scifact-new/$f" || { echo "DIFFER: $f"; same=0; }
    done
    cmp -s "$W/run-old.trec" "$W/run-new.trec" || { echo "DIFFER: the retrieve runs"; same=0; }
    [ $same = 1 ] && echo "old and new: docids.txt, meta.json, index.faiss and the $nq-query runs byte-identical"
    [ $same = 1 ] || exit 1
  fi
  if [ "${BENCH_SYNC:-1}" = 1 ]; then
    n="${NAMES[$((${#NAMES[@]} - 1))]}"
    build_s=$iwall retr_s=$(sed -n 's/^[[:space:]]*Elapsed (wall clock).*: //p' "$W/retrieve-$n.log" |
                            awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
    python3 - "$DATA" "$W" <<'PY' || exit 1
import gzip, json, sys
data, w = sys.argv[1:]
docs = [json.loads(l) for l in gzip.open(f"{data}/corpus.jsonl.gz", "rt", encoding="utf-8")]
out = []
for i, d in enumerate(docs):
    if i % 200 == 101:
        continue                                  # dropped
    if i % 100 == 7:
        d = dict(d, text=d["text"] + " (revised)")  # edited
    out.append(d)
out += [dict(d, _id="new-" + d["_id"]) for d in docs[::200]]  # new
with open(f"{w}/changed.jsonl", "w", encoding="utf-8") as f:
    f.writelines(json.dumps(d) + "\n" for d in out)
PY
    echo
    echo "SciFact changed under $n's index (1% edited, 0.5% dropped, 0.5% new), each a whole process:"
    run "$W/check.log" "$BIN" retrieve --index "$W/scifact-$n" --queries "$DATA/queries.jsonl.gz" --k 100 \
      --output "$W/run-check.trec" --threads "$THREADS" --corpus "$DATA/corpus.jsonl.gz"
    cmp -s "$W/run-check.trec" "$W/run-$n.trec" || { echo "DIFFER: retrieve --corpus and retrieve"; exit 1; }
    printf '  retrieve --corpus (unchanged corpus)  %8.2f s   plain retrieve above  %8.2f s   the check: %+.2f s\n' \
      "$WALL" "$retr_s" "$(awk -v a="$WALL" -v b="$retr_s" 'BEGIN { print a - b }')"
    run "$W/sync.log" "$BIN" index --update "$W/scifact-$n" --corpus "$W/changed.jsonl" --threads "$THREADS" --quiet
    printf '  index --update --corpus               %8.2f s   whole build above     %8.2f s   %.1fx faster (%s)\n' \
      "$WALL" "$build_s" "$(awk -v a="$WALL" -v b="$build_s" 'BEGIN { print b / a }')" \
      "$(sed -n 's/.*updated [^:]*: //p' "$W/sync.log")"
    run "$W/sync2.log" "$BIN" index --update "$W/scifact-$n" --corpus "$W/changed.jsonl" --threads "$THREADS" --quiet
    grep -q "nothing to do" "$W/sync2.log" || { echo "the second update did something"; exit 1; }
    printf '  the same update again (nothing to do) %8.2f s\n' "$WALL"
  fi
fi

status=0
if [ -n "$SYNTH" ]; then
  python3 - "$DATA" "$W" $SYNTH <<'PY' || exit 1
import gzip, json, sys
data, w, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
docs = [json.loads(l) for l in gzip.open(f"{data}/corpus.jsonl.gz", "rt", encoding="utf-8")]
for size in sizes:
    with open(f"{w}/synth-{size}.jsonl", "w", encoding="utf-8") as f:
        for i in range(size):
            d = docs[i % len(docs)]
            f.write(json.dumps({"_id": f"{d['_id']}~r{i // len(docs)}", "title": d["title"], "text": d["text"]}) + "\n")
with open(f"{w}/base.jsonl", "w", encoding="utf-8") as f:  # the index an update starts from
    for d in docs[:500]:
        f.write(json.dumps({"_id": f"base-{d['_id']}", "title": d["title"], "text": d["text"]}) + "\n")
PY
  MODE="${BENCH_SYNTH_MODE:-build}"
  case "$MODE" in build|update) ;; *) echo "bench_index: BENCH_SYNTH_MODE must be build or update"; exit 2 ;; esac
  echo
  if [ "$MODE" = update ]; then
    echo "Synthetic corpora (SciFact's documents under new ids) added with --update --add to a 500-document index, Flat, --max-length $SYNTH_MAXLEN:"
  else
    echo "Synthetic corpora (SciFact's documents under new ids), Flat, --max-length $SYNTH_MAXLEN:"
  fi
  printf '%-4s %8s %10s %12s %9s %8s\n' bin docs "text MB" "peak RSS MB" "wall s" "docs/s"
  for i in "${!BINS[@]}"; do
    b="${BINS[$i]}" n="${NAMES[$i]}" first="" last="" fdocs="" ldocs=""
    if [ "$MODE" = update ]; then
      rm -rf "$W/base-index"
      "$b" index --corpus "$W/base.jsonl" --model "$SYNTH_MODEL" --out "$W/base-index" --factory Flat --metric ip \
        --max-length "$SYNTH_MAXLEN" --threads "$THREADS" --quiet 2>/dev/null || { echo "bench_index: building the base index failed"; exit 1; }
    fi
    for size in $SYNTH; do
      rm -rf "$W/synth-index"
      if [ "$MODE" = update ]; then
        run "$W/synth-$n-$size.log" "$b" index --update "$W/base-index" --add "$W/synth-$size.jsonl" --out "$W/synth-index" \
          --max-length "$SYNTH_MAXLEN" --threads "$THREADS" --quiet
      else
        run "$W/synth-$n-$size.log" "$b" index --corpus "$W/synth-$size.jsonl" --model "$SYNTH_MODEL" --out "$W/synth-index" \
          --factory Flat --metric ip --max-length "$SYNTH_MAXLEN" --threads "$THREADS" --quiet
      fi
      printf '%-4s %8s %10.1f %12s %9s %8.1f\n' "$n" "$size" "$(stat -c %s "$W/synth-$size.jsonl" |
        awk '{ print $1 / 1048576 }')" "$(mb "$KB")" "$WALL" "$(awk -v d="$size" -v s="$WALL" 'BEGIN { print d / s }')"
      [ -z "$first" ] && first=$KB fdocs=$size
      last=$KB ldocs=$size
    done
    rm -rf "$W/synth-index"
    if [ "$ldocs" != "$fdocs" ]; then
      growth=$(awk -v a="$first" -v b="$last" -v p="$fdocs" -v q="$ldocs" 'BEGIN { printf "%.0f", (b - a) * 1024 / (q - p) }')
      echo "$n: peak RSS $(mb "$first") -> $(mb "$last") MB, growth $growth bytes per added document"
      if [ "$b" = "$BIN" ] && [ -n "${BENCH_MAX_GROWTH:-}" ] &&
         awk -v g="$growth" -v m="$BENCH_MAX_GROWTH" 'BEGIN { exit !(g > m) }'; then
        echo "bench_index: growth $growth bytes per document exceeds $BENCH_MAX_GROWTH"; status=1
      fi
    fi
  done
fi
exit $status
