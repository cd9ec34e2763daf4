#!/usr/bin/env bash
# tests/test_eval_golden.sh — `rerank eval` against trec_eval's own test outputs
# (tests/fixtures/trec_eval, see its README.md): each expected file is the output of the
# trec_eval command line its name encodes (trec_eval's `make quicktest`), run here with
# "trec_eval" replaced by "rerank eval". Every line of every measure we implement must be
# identical, in the same order; lines of other measures are counted as skipped. When nothing
# is skipped the whole output must be byte-identical.
# Needs RR_BIN and RR_REPO_DIR (ctest sets them).
set -u
BIN="${RR_BIN:?}"
FX="${RR_REPO_DIR:?}/tests/fixtures/trec_eval"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fail=0

# the measures `rerank eval` implements (roots of the printed names)
IMPLEMENTED="runid num_q num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank
  iprec_at_recall P relstring recall infAP gm_bpref Rprec_mult utility 11pt_avg binG G ndcg
  ndcg_rel Rndcg ndcg_cut map_cut relative_P success set_P set_relative_P set_recall set_map
  set_F num_nonrel_judged_ret rbp rbp_resid unj"
# the measures the comparison must cover, over all files together
REQUIRED="num_q num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank iprec_at_recall
  P recall ndcg ndcg_cut map_cut success runid"

filter() { # filter IN OUT [REPORT]: lines of implemented measures of IN into OUT
  : > "$2"
  awk -v impl="$IMPLEMENTED" -v out="$2" -v report="${3:-}" '
    BEGIN { n = split(impl, list, /[ \n]+/); for (i = 1; i <= n; i++) if (list[i] != "") known[list[i]] = 1 }
    function root(name,    best, r) {
      best = ""
      for (r in known)
        if ((name == r || index(name, r "_") == 1) && length(r) > length(best)) best = r
      return best
    }
    {
      line = $0; name = line; sub(/\t.*/, "", name); sub(/ +$/, "", name)
      r = root(name)
      if (r == "") { skipped++; skipped_names[name] = 1; next }
      kept++; roots[r] = 1
      print line > out
    }
    END {
      if (report != "") {
        s = ""; for (r in roots) s = s " " r
        printf "%d %d%s\n", kept, skipped + 0, s > report
        k = ""; for (x in skipped_names) k = k " " x
        printf "%s\n", k > report
      }
    }' "$1"
}

covered=""
total_compared=0 total_skipped=0

# golden NAME EXPECTED -- ARGS...   (QRELS/RUN paths inside ARGS)
golden() {
  local name="$1" expected="$FX/$2"; shift 3
  "$BIN" eval "$@" > "$T/ours" 2> "$T/err"
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL $name: exit status $rc: $(cat "$T/err")"; fail=$((fail + 1)); return
  fi
  filter "$expected" "$T/exp.kept" "$T/report"
  filter "$T/ours" "$T/ours.kept"
  local compared skipped roots skipped_names
  read -r compared skipped roots < <(head -n 1 "$T/report")
  skipped_names="$(sed -n 2p "$T/report")"
  total_compared=$((total_compared + compared)); total_skipped=$((total_skipped + skipped))
  covered="$covered $roots"
  if ! diff -u "$T/exp.kept" "$T/ours.kept" > "$T/diff"; then
    echo "FAIL $name: output differs from $(basename "$expected"):"; head -n 40 "$T/diff"
    fail=$((fail + 1)); return
  fi
  if [ "$skipped" -eq 0 ] && ! cmp -s "$expected" "$T/ours"; then
    echo "FAIL $name: not byte-identical to $(basename "$expected")"; fail=$((fail + 1)); return
  fi
  local shown; shown="$(printf '%s' "$*" | sed "s|$FX/||g; s|$T/||g")"
  echo "ok   $name: rerank eval $shown -> $compared lines compared, $skipped skipped${skipped_names:+ (not implemented:$skipped_names)}"
}

Q="$FX/qrels.test.gz" QL="$FX/qrels.rel_level.gz" R="$FX/results.test.gz" RT="$FX/results.trunc.gz"
golden default out.test -- "$Q" "$R"
golden all_trec out.test.a -- -m all_trec "$Q" "$R"
golden all_trec-q out.test.aq -- -m all_trec -q "$Q" "$R"
golden all_trec-q-c out.test.aqc -- -m all_trec -q -c "$Q" "$RT"
golden all_trec-q-c-M100 out.test.aqcM -- -m all_trec -q -c -M100 "$Q" "$RT"
golden all_trec-relstring20-q-l2 out.test.aql -- -m all_trec -mrelstring.20 -q -l2 "$QL" "$R"
golden meas_params out.test.meas_params -- -q -miprec_at_recall..10,.20,.25,.75,.50 -m P.5,7,3 \
  -m recall.20,2000 -m Rprec_mult.5.0,0.2,0.35 -mutility.2,-1,0,0 -m 11pt_avg..25,.5,.75 \
  -mndcg.1=3,2=9,4=4.5 -mndcg_cut.10,20,23.4 -msuccess.2,5,20 "$Q" "$R"

# the same through plain (uncompressed) files, long option names and options after the files
gzip -dc "$Q" > "$T/qrels.test"; gzip -dc "$RT" > "$T/results.trunc"
golden plain-files-long-options out.test.aqcM -- "$T/qrels.test" "$T/results.trunc" \
  --measure=all_trec --query_eval_wanted --complete_rel_info_wanted --Max_retrieved_per_topic 100

# every required measure was compared somewhere
for m in $REQUIRED; do
  case " $covered " in
    *" $m "*) ;;
    *) echo "FAIL coverage: measure $m was never compared"; fail=$((fail + 1)) ;;
  esac
done

# --json carries the same values (full precision; they print as the text does)
if command -v python3 > /dev/null; then
  "$BIN" eval --json -q -m all_trec -c "$Q" "$RT" > "$T/json" &&
  "$BIN" eval -q -m all_trec -c "$Q" "$RT" > "$T/text" &&
  python3 - "$T/json" "$T/text" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
rows = dict(data["queries"]); rows["all"] = data["all"]
n = 0
for line in open(sys.argv[2]):
    name, qid, value = line.rstrip("\n").split("\t")
    name = name.rstrip(" ")
    v = rows[qid][name]
    if isinstance(v, str):
        got = v if name == "runid" else "'" + v + "'"
    elif isinstance(v, int):
        got = "%d" % v
    else:
        got = "%6.4f" % v
    if got != value:
        sys.exit("json %s %s: %s, text says %s" % (qid, name, got, value))
    n += 1
print("ok   json: %d values agree with the text output" % n)
PY
  [ $? -eq 0 ] || { echo "FAIL json"; fail=$((fail + 1)); }
else
  echo "skip json check: no python3"
fi

echo "total: $total_compared lines compared, $total_skipped skipped; $fail failure(s)"
[ $fail -eq 0 ]
