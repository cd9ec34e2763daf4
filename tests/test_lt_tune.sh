#!/usr/bin/env bash
# tests/test_lt_tune.sh — RR_CUDA_LT_TUNE=1 (src/backend/cuda/cuda_backend.cu, lt_tuned_pick):
# the first call of each cuBLASLt product times the heuristic's candidates and keeps the
# fastest whose output has the same bits as the first choice's. On kemu (label emu) with
# KEMU_LT_ALGOS=3 the heuristic offers three algorithms (tests/kemu/kemu.cpp, lt_algos): 0
# the first choice (slowest), 1 the same bytes and faster, 2 the fastest but rounding one
# value differently. So, on 24 and 96 pairs in bf16 (a few passes, then four times as many):
#   - without tuning every product runs algorithm 0 (the heuristic's first choice);
#   - with tuning the scores are the same bytes as without;
#   - algorithm 2 ran only while tuning (the same count for 24 and 96 pairs), and so did 0;
#   - algorithm 1 ran the passes (its count grows with the pairs);
#   - cuBLASLt's heuristic is asked once per product and pass size, not per call (at most 4
#     products × (passes + the warm-up); the algorithm cache's earlier hash put three of a
#     layer's four products in one slot: 302 questions for these 15 passes, now 52).
# Taking the fastest without the bit check picks algorithm 2 and changes the scores (shown by
# hand: bench/RESULTS.md, twelfth session).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
emu_test_setup

score() { # name npairs [env...]
  local name="$1" n="$2"
  shift 2
  env KEMU_LT_ALGOS=3 KEMU_STATS="$T/stats-$name" "$@" "$BIN" score --model "$MODEL" --pairs "$T/pairs$n.tsv" \
    --device cuda --precision bf16 --max-length 64 --token-budget 256 --quiet --timing --output "$T/scores-$name" \
    2> "$T/err-$name" || bad "$name: $(tail -3 "$T/err-$name")"
}
count() { awk -v k="$2" '$1 == k { print $2 }' "$T/stats-$1"; }

word_pairs 24 > "$T/pairs24.tsv"
word_pairs 96 > "$T/pairs96.tsv"
score plain24 24
score plain96 96
score tuned24 24 RR_CUDA_LT_TUNE=1
score tuned96 96 RR_CUDA_LT_TUNE=1

a0="$(count plain96 lt_algo0)" a1="$(count plain96 lt_algo1)" a2="$(count plain96 lt_algo2)"
[ "${a0:-0}" -gt 0 ] && [ "$a1" = 0 ] && [ "$a2" = 0 ] && ok "without tuning: the first choice only ($a0 products)" ||
  bad "without tuning: algorithms 0/1/2 ran ${a0:-?}/${a1:-?}/${a2:-?} times (want n/0/0)"
for n in 24 96; do
  [ "$(wc -l < "$T/scores-tuned$n")" = "$n" ] && cmp -s "$T/scores-plain$n" "$T/scores-tuned$n" &&
    ok "$n pairs: tuned scores are the untuned bytes" || bad "$n pairs: tuning changed the scores"
done
t0a="$(count tuned24 lt_algo0)" t0b="$(count tuned96 lt_algo0)"
t1a="$(count tuned24 lt_algo1)" t1b="$(count tuned96 lt_algo1)"
t2a="$(count tuned24 lt_algo2)" t2b="$(count tuned96 lt_algo2)"
[ "${t2a:-0}" -gt 0 ] && [ "$t2a" = "$t2b" ] && ok "algorithm 2 (other bits) only tried while tuning: $t2a runs with 24 and 96 pairs" ||
  bad "algorithm 2: ${t2a:-?} runs with 24 pairs, ${t2b:-?} with 96 (want the same, > 0)"
[ "${t0a:-0}" -gt 0 ] && [ "$t0a" = "$t0b" ] && ok "algorithm 0 only while tuning: $t0a runs with 24 and 96 pairs" ||
  bad "algorithm 0: ${t0a:-?} runs with 24 pairs, ${t0b:-?} with 96 (want the same, > 0)"
[ "${t1b:-0}" -gt "${t1a:-0}" ] && [ "${t1a:-0}" -gt "$t2a" ] && ok "algorithm 1 ran the passes: $t1a -> $t1b runs" ||
  bad "algorithm 1: ${t1a:-?} -> ${t1b:-?} runs (want growing with the pairs)"
p="$(grep -o 'passes=[0-9]*' "$T/err-plain96" | cut -d= -f2)" h="$(count plain96 lt_heuristic)"
[ -n "$p" ] && [ "${h:-0}" -gt 0 ] && [ "$h" -le $((4 * (p + 1))) ] &&
  ok "heuristic asked $h times for $p passes (+ the warm-up), 4 products each" ||
  bad "heuristic asked ${h:-?} times for ${p:-?} passes (want at most 4 per pass)"
finish
