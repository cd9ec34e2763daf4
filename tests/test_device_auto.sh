#!/usr/bin/env bash
# tests/test_device_auto.sh — what --device and --precision do when no GPU is usable:
#   cpu + bf16           refused (exit 1, the reason, no output file)
#   auto + bf16          computes fp32 on the CPU — the same bytes as --device cpu — and says so
#                        on stderr ("note: no usable GPU for --device auto"); with a GPU (or
#                        kemu's emulated one, RR_EMU_MODULE) it computes bf16 and says nothing
#   auto + fp32          no note
#   cuda                 without a GPU: refused with the reason, no output file
#   auto, a GPU, a model its kernels do not take (kemu's GPU and the tiny model, head dimension
#                        16): computes on the CPU — the same bytes — and says why on stderr;
#                        cuda on the same: refused, no output file; likewise the base test
#                        ModernBERT (head dimension 16; the variant, 32, runs: test_cuda_model)
# `rerank score` with the test cross-encoder (MiniLM's shapes, which the CUDA kernels take, so
# that the test means the same on a machine with a GPU). Needs RR_BIN, RR_MODELS_DIR (ctest sets
# them).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN="${RR_BIN:?}"
CE="${RR_MODELS_DIR:?}/test-cross-encoder"
[ -f "$CE/config.json" ] || { echo "SKIPPED: no $CE (run scripts/setup.sh)"; exit 77; }
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
unset RR_CUDA_MODULE
NOTE="note: no usable GPU for --device auto"
printf '%s\t%s\n' "what is a cross-encoder" "a model that reads the query and the passage together" \
  "does aspirin prevent cancer" "low-dose aspirin and colorectal adenomas" \
  "x" "a single short passage" >"$T/pairs.tsv"
S=("$BIN" score --model "$CE" --pairs "$T/pairs.tsv" --max-length 32 --quiet)
timing_field() { sed -n "s/^timing:.* $1=\([a-z0-9]*\).*/\1/p" "$2"; }

"${S[@]}" --output "$T/cpu.txt" 2>"$T/err" && [ -s "$T/cpu.txt" ] || bad "cpu fp32 run: $(cat "$T/err")"

"${S[@]}" --device cpu --precision bf16 --output "$T/x" 2>"$T/err"
if [ $? -eq 1 ] && grep -q "computes in fp32 only" "$T/err" && [ ! -e "$T/x" ]; then ok "cpu + bf16 refused"
else bad "cpu + bf16: $(cat "$T/err")"; fi

"${S[@]}" --device auto --precision fp32 --timing --output "$T/auto32.txt" 2>"$T/err" || bad "auto fp32 run: $(cat "$T/err")"
if grep -q "$NOTE" "$T/err"; then bad "auto + fp32 printed the note"; else ok "auto + fp32: no note"; fi

"${S[@]}" --device auto --precision bf16 --timing --output "$T/auto.txt" 2>"$T/err" || bad "auto bf16 run: $(cat "$T/err")"
prec=$(timing_field precision "$T/err")
case "$prec" in
fp32)
  if grep -q "rerank score: $NOTE: computing in fp32 on the CPU (--precision bf16 not applied)" "$T/err"; then
    ok "auto + bf16 without a GPU: the note"
  else bad "auto + bf16 without a GPU: no note in: $(cat "$T/err")"; fi
  if cmp -s "$T/cpu.txt" "$T/auto.txt"; then ok "auto + bf16 without a GPU: the CPU's fp32 scores, byte for byte"
  else bad "auto + bf16 without a GPU: scores differ from --device cpu"; fi
  "${S[@]}" --device cuda --output "$T/x" 2>"$T/err"
  if [ $? -eq 1 ] && grep -q 'device "cuda"' "$T/err" && [ ! -e "$T/x" ]; then ok "cuda without a GPU refused"
  else bad "cuda without a GPU: $(cat "$T/err")"; fi
  ;;
bf16)
  if grep -q "$NOTE" "$T/err"; then bad "auto + bf16 on a GPU printed the note"; else ok "auto + bf16 on a GPU: no note"; fi ;;
*) bad "auto + bf16: no precision in the timing line: $(cat "$T/err")" ;;
esac

# kemu's emulated GPU (the CUDA module built for the CPU): auto finds it and computes fp16
if [ -n "${RR_EMU_MODULE:-}" ]; then
  RR_CUDA_MODULE="$RR_EMU_MODULE" RR_WARMUP=0 "${S[@]}" --device auto --precision fp16 --timing \
    --output "$T/emu.txt" 2>"$T/err" || bad "auto fp16 on kemu: $(cat "$T/err")"
  if [ "$(timing_field device "$T/err") $(timing_field precision "$T/err")" = "cuda fp16" ] && ! grep -q "$NOTE" "$T/err"
  then ok "auto + fp16 on kemu: cuda fp16, no note"
  else bad "auto + fp16 on kemu: $(cat "$T/err")"; fi
  # a model the CUDA backend does not take (NAME, DIR, WHY: the start of the backend's reason):
  # auto on kemu's GPU computes on the CPU, the same bytes, and says why; cuda refuses it
  not_taken() {
    local name="$1" dir="$2" why="$3"
    local M=("$BIN" score --model "$dir" --pairs "$T/pairs.tsv" --max-length 32 --quiet)
    "${M[@]}" --device cpu --output "$T/nt-cpu.txt" 2>"$T/err" || bad "$name on the CPU: $(cat "$T/err")"
    RR_CUDA_MODULE="$RR_EMU_MODULE" "${M[@]}" --device auto --precision bf16 --timing --output "$T/nt-auto.txt" \
      2>"$T/err" || bad "auto, $name on kemu: $(cat "$T/err")"
    if grep -q "rerank score: note: --device auto: computing in fp32 on the CPU (cuda backend: $why" "$T/err" &&
      [ "$(timing_field device "$T/err")" = cpu ] && cmp -s "$T/nt-cpu.txt" "$T/nt-auto.txt"
    then ok "auto, a GPU and $name: the CPU's bytes, and why"
    else bad "auto, $name on kemu: $(cat "$T/err")"; fi
    RR_CUDA_MODULE="$RR_EMU_MODULE" "${M[@]}" --device cuda --output "$T/x" 2>"$T/err"
    if [ $? -eq 1 ] && grep -q "cuda backend: $why" "$T/err" && [ ! -e "$T/x" ]; then ok "cuda, $name on kemu: refused"
    else bad "cuda, $name on kemu: $(cat "$T/err")"; fi
  }
  tiny_model "$T/tiny" >/dev/null || bad "cannot build the tiny model"
  not_taken "the tiny model (head dimension 16)" "$T/tiny" "head dimension 16"
  # a ModernBERT: the base test checkpoint's head dimension 16 (the variant's 32 runs on CUDA)
  MB="$RR_MODELS_DIR/test-modernbert-cross-encoder"
  if [ -f "$MB/config.json" ]; then not_taken "ModernBERT (head dimension 16)" "$MB" "head dimension 16"
  else bad "no $MB (run scripts/setup.sh)"; fi
else
  echo "(no RR_EMU_MODULE: kemu not built, the emulated-GPU case not run)"
fi
finish
