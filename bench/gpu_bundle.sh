#!/usr/bin/env bash
# bench/gpu_bundle.sh — runs HERE (Debian 12, after scripts/setup.sh): prepares the git-ignored
# folder .devcarry/ that travels to a rented GPU machine (the `run` tool's `carry`), where
# bench/gpu_check.sh builds and checks everything in one command. That machine has nvcc,
# cmake, gcc and python3 with torch/transformers, but no network and none of our C library
# dependencies, and it cannot reach the model registry. So .devcarry/ holds:
#
#   deps.tar.xz                  Debian packages (OpenBLAS OpenMP build, utf8proc, jansson,
#                                zlib headers, libyaml, libgfortran5, libquadmath0) unpacked
#                                with `dpkg -x` into one tree; gpu_check.sh untars it to
#                                /tmp/rr-sysroot and points CMake at it (no dpkg -i there).
#   minilm-bf16.safetensors.xz   the all-MiniLM-L6-v2 trunk with every F32 tensor rounded to
#                                BF16 (round to nearest even); other dtypes (position_ids, I64)
#                                as they are.
#   minilm/                      that model's small files (config, tokenizer, pooling).
#   faiss.tar.xz                 the FAISS 1.7.3 build with its C API (CPU only) that
#                                scripts/setup.sh made in $RR_CACHE/faiss-1.7.3-capi (lib/,
#                                include/), as the folder faiss-1.7.3-capi/; gpu_check.sh
#                                untars it to /tmp/rr-sysroot/opt and builds with FAISS ON.
#                                Its libraries need libopenblas.so.0, libgfortran.so.5 and
#                                libquadmath.so.0 (all in deps.tar.xz), libgomp.so.1 and
#                                libstdc++.so.6 (the device's own, newer than Debian 12's).
#   MANIFEST.txt                 package versions, checksums, sizes.
#
# Why BF16: the F32 trunk (91 MB, ~84 MB after xz) does not fit the 64 MiB the tool carries.
# The device therefore runs on weights slightly different from the real F32 ones. That is
# fine for what it checks: every comparison made there is between engines (ours on CUDA,
# ours on CPU, PyTorch, sentence-transformers) that all load the SAME bf16 files, so their
# agreement means the same as with the F32 weights. What it is NOT: a reproduction of the
# committed F32 fixtures (tests labelled `model` compare against references computed from
# the F32 weights, so gpu_check.sh does not run them there).
#
# Usage: bench/gpu_bundle.sh [--force]     (RR_CACHE overrides ~/.cache/rerank, as setup.sh)
#   RR_DEVCARRY  where to write the bundle (default: .devcarry/ of this checkout). The device
#                gets the .devcarry/ of the checkout the run is made from: to refresh the main
#                checkout's bundle from a worktree, RR_DEVCARRY=/path/to/main/.devcarry. The
#                size check counts the git tree of the folder above it. What is there and up
#                to date is kept (deps, BF16 trunk, FAISS: each redone only with --force or
#                when its source changed).
#   RR_FAISS_DIR the FAISS install to bundle (default: $RR_CACHE/faiss-1.7.3-capi-gpu-90-real
#                when it is there, else $RR_CACHE/faiss-1.7.3-capi, CPU only). A GPU build
#                (RR_FAISS_GPU=1 scripts/setup.sh: $RR_CACHE/faiss-1.7.3-capi-gpu) with its
#                default code for sm_90 plus PTX is 33 MiB after xz and does not fit beside the
#                BF16 trunk (bundle that one with RR_BUNDLE_RANDOM_TRUNK=1); built with
#                RR_FAISS_GPU=1 RR_FAISS_CUDA_ARCH=90-real scripts/setup.sh (machine code only,
#                enough for an H100/H200; into faiss-1.7.3-capi-gpu-90-real) it is 13.6 MiB and
#                does: 56.5 MiB in all, one call.
#   RR_BUNDLE_RANDOM_TRUNK=1  no trunk, only its safetensors header (minilm-header.json):
#                gpu_check.sh then makes a trunk of random weights with the real names and
#                shapes. Speeds and engine-against-engine agreement keep their meaning; nDCG and
#                the thresholds of test_cuda_model (written for the real weights) do not.
# Needs: apt-get (download only, no install), dpkg, xz, python3 with numpy; torch optional
# (used here only to double-check the BF16 rounding).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${RR_CACHE:-$HOME/.cache/rerank}"
MINILM="$CACHE/models/all-MiniLM-L6-v2"
DEST="${RR_DEVCARRY:-$REPO/.devcarry}"
FAISS_SRC="${RR_FAISS_DIR:-$CACHE/faiss-1.7.3-capi}"
[ -z "${RR_FAISS_DIR:-}" ] && [ -e "$CACHE/faiss-1.7.3-capi-gpu-90-real/lib/libfaiss_c.so" ] &&
  FAISS_SRC="$CACHE/faiss-1.7.3-capi-gpu-90-real"
LIMIT_MIB=60
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

log() { printf 'gpu_bundle: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cd "$REPO"
[ -f "$MINILM/model.safetensors" ] || die "$MINILM/model.safetensors missing: run scripts/setup.sh"
for f in include/faiss/c_api/Index_c.h lib/libfaiss.so lib/libfaiss_c.so; do
  [ -e "$FAISS_SRC/$f" ] || die "$FAISS_SRC/$f missing: run scripts/setup.sh (it builds FAISS with its C API)"
done
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
# The checkout whose tree travels with the bundle: the one above DEST.
TREE="$(dirname "$DEST")"
git -C "$TREE" rev-parse --git-dir >/dev/null 2>&1 || die "$TREE (above $DEST) is not a git checkout"
git -C "$TREE" check-ignore -q "$(basename "$DEST")/x" ||
  die "$DEST is not git-ignored in $TREE (add /$(basename "$DEST")/ to .gitignore)"
log "writing $DEST"

tmp="$(mktemp -d /tmp/rr-bundle.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# --- a. Debian packages -> deps.tar.xz ------------------------------------------------------
# cblas.h of the OpenMP flavour is in libopenblas-openmp-dev
# (/usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h; libopenblas-dev is only a meta
# package); the shared library is in libopenblas0-openmp. libgomp1 is deliberately NOT
# bundled: the device's gcc brings its own (newer) one, and gcc's OpenMP code must run on it.
# zlib1g (the runtime) is not bundled either: every Ubuntu image has libz.so.1.
PKGS=(libopenblas0-openmp libopenblas-openmp-dev libgfortran5 libquadmath0
      libutf8proc2 libutf8proc-dev libjansson4 libjansson-dev zlib1g-dev libyaml-0-2 libyaml-dev)
if [ "$FORCE" = 1 ] || [ ! -s "$DEST/deps.tar.xz" ]; then
  log "downloading ${PKGS[*]}"
  mkdir -p "$tmp/debs" "$tmp/root"
  chmod 777 "$tmp/debs"   # apt's _apt user writes there (else a harmless 'unsandboxed' warning)
  (cd "$tmp/debs" && apt-get download -q "${PKGS[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
    die "apt-get download failed (apt-get update first?)"
  : > "$tmp/packages.txt"
  for deb in "$tmp/debs"/*.deb; do
    dpkg -x "$deb" "$tmp/root"
    dpkg-deb -f "$deb" Package Version Architecture | paste -sd' ' >> "$tmp/packages.txt"
  done
  # Keep what a build and a run need: headers, shared libraries, their symlinks.
  rm -rf "$tmp/root/usr/share"
  find "$tmp/root" -name '*.a' -delete
  # The reference BLAS/LAPACK alternatives (7 MB): we link libopenblas.so itself.
  rm -f "$tmp/root"/usr/lib/x86_64-linux-gnu/openblas-openmp/lib{blas,lapack}.so*
  # Absolute symlinks (e.g. a -dev package's libfoo.so -> /usr/lib/...) would point at the
  # device's own /usr: make those that resolve inside the tree relative.
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    case "$target" in
      /*) if [ -e "$tmp/root$target" ]; then
            ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$tmp/root$target")" "$link"
          fi ;;
    esac
  done < <(find "$tmp/root" -type l -print0)
  dangling="$(find "$tmp/root" -type l -lname '/*' -printf '%P -> %l\n')"   # point outside the tree
  {
    echo "# Debian $(cat /etc/debian_version) packages, dpkg -x into one tree by bench/gpu_bundle.sh"
    cat "$tmp/packages.txt"
    [ -n "$dangling" ] && { echo "# symlinks pointing outside this tree (to the machine's own files):"; echo "$dangling"; }
  } > "$tmp/root/PACKAGES.txt"
  log "compressing deps ($(du -sh "$tmp/root" | cut -f1) unpacked)"
  tar -C "$tmp/root" --owner=0 --group=0 --sort=name -cf - . | nice xz -9 -T2 -c > "$DEST/deps.tar.xz.tmp"
  mv "$DEST/deps.tar.xz.tmp" "$DEST/deps.tar.xz"
  cp "$tmp/packages.txt" "$DEST/packages.txt"
  [ -n "$dangling" ] && log "symlinks left pointing outside the tree (unused): $(echo "$dangling" | paste -sd';')"
else
  log "deps.tar.xz already there (--force to redo)"
fi

# --- b. the model trunk in BF16 -------------------------------------------------------------
src_sha="$(sha256sum "$MINILM/model.safetensors" | cut -d' ' -f1)"
stamp="$DEST/minilm-bf16.source"
if [ "${RR_BUNDLE_RANDOM_TRUNK:-0}" = 1 ]; then
  rm -f "$DEST"/minilm-bf16.*
  python3 - "$MINILM/model.safetensors" "$DEST/minilm-header.json" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    hdr = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
json.dump({k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in hdr.items() if k != "__metadata__"},
          open(sys.argv[2], "w"))
PY
  log "no trunk: minilm-header.json only (gpu_check.sh makes a random trunk of that shape)"
elif [ "$FORCE" = 1 ] || [ ! -s "$DEST/minilm-bf16.safetensors.xz" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$src_sha" ]; then
  log "writing the BF16 trunk"
  python3 - "$MINILM/model.safetensors" "$tmp/minilm-bf16.safetensors" <<'PY'
# F32 -> BF16, round to nearest even (what torch's .to(torch.bfloat16) does), numpy only.
# Safetensors by hand: 8-byte little-endian header length, JSON header (dtype, shape,
# data_offsets relative to the data start), then the data; the header is padded with spaces
# so that the data starts 8-byte aligned.
import json, struct, sys
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
raw = np.memmap(src, dtype=np.uint8, mode="r")
n = struct.unpack("<Q", bytes(raw[:8]))[0]
hdr = json.loads(bytes(raw[8:8 + n]))
meta = hdr.pop("__metadata__", None)
base = 8 + n

def to_bf16(a32: np.ndarray) -> np.ndarray:
    u = a32.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)   # keep NaNs NaN (quiet)
    return r

SIZE = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "BF16": 2, "F16": 2, "I16": 2, "U8": 1, "I8": 1, "BOOL": 1}
# Wider elements first (keeps every tensor aligned to its element size), then file order.
out_size = lambda k: 2 if hdr[k]["dtype"] == "F32" else SIZE.get(hdr[k]["dtype"], 1)
names = sorted(hdr, key=lambda k: (-out_size(k), hdr[k]["data_offsets"][0]))
out_hdr, blobs, off = {}, [], 0
n_conv = 0
for k in names:
    t = hdr[k]
    b0, b1 = t["data_offsets"]
    data = raw[base + b0: base + b1]
    if t["dtype"] == "F32":
        blob = to_bf16(np.frombuffer(data, dtype="<f4")).tobytes()
        dtype = "BF16"
        n_conv += 1
    else:
        blob, dtype = bytes(data), t["dtype"]
    out_hdr[k] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [off, off + len(blob)]}
    blobs.append(blob)
    off += len(blob)
if meta is not None:
    out_hdr = {"__metadata__": meta, **out_hdr}
hj = json.dumps(out_hdr, separators=(",", ":")).encode()
hj += b" " * ((-(8 + len(hj))) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(hj)))
    f.write(hj)
    for b in blobs:
        f.write(b)
print(f"gpu_bundle: {n_conv} F32 tensors -> BF16, {len(names) - n_conv} kept; "
      f"{8 + len(hj) + off} bytes", file=sys.stderr)

# Double-check against torch's own rounding where torch is installed (not needed elsewhere).
try:
    import torch
    from safetensors.torch import load_file
except ImportError:
    sys.exit(0)
a, b = load_file(src), load_file(dst)
assert a.keys() == b.keys()
for k in a:
    want = a[k].to(torch.bfloat16) if a[k].dtype == torch.float32 else a[k]
    assert b[k].dtype == want.dtype and b[k].shape == want.shape and torch.equal(b[k], want), k
print("gpu_bundle: BF16 tensors are bit-identical to torch's .to(torch.bfloat16)", file=sys.stderr)
PY
  log "compressing the BF16 trunk (xz -9)"
  nice xz -9 -T2 -c "$tmp/minilm-bf16.safetensors" > "$DEST/minilm-bf16.safetensors.xz.tmp"
  mv "$DEST/minilm-bf16.safetensors.xz.tmp" "$DEST/minilm-bf16.safetensors.xz"
  sha256sum "$tmp/minilm-bf16.safetensors" | cut -d' ' -f1 > "$DEST/minilm-bf16.sha256"
  echo "$src_sha" > "$stamp"
else
  log "BF16 trunk already there for this model.safetensors (--force to redo)"
fi
[ "${RR_BUNDLE_RANDOM_TRUNK:-0}" = 1 ] || rm -f "$DEST/minilm-header.json"

rm -rf "$DEST/minilm"
mkdir -p "$DEST/minilm/1_Pooling"
for f in config.json tokenizer.json vocab.txt tokenizer_config.json special_tokens_map.json \
         modules.json sentence_bert_config.json config_sentence_transformers.json 1_Pooling/config.json; do
  if [ -f "$MINILM/$f" ]; then cp "$MINILM/$f" "$DEST/minilm/$f"; else log "note: $MINILM/$f missing"; fi
done

# --- c. FAISS with its C API -> faiss.tar.xz -------------------------------------------------
# lib/ (libfaiss.so, libfaiss_c.so, cmake/) and include/ as they are (the libraries byte for
# byte: the device links against the very files the tests here ran with), under
# faiss-1.7.3-capi/. Redone when the libraries or headers change.
faiss_sum="$( (cd "$FAISS_SRC" && find lib include -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)"
faiss_stamp="$DEST/faiss.source"
if [ "$FORCE" = 1 ] || [ ! -s "$DEST/faiss.tar.xz" ] || [ "$(cat "$faiss_stamp" 2>/dev/null)" != "$faiss_sum" ]; then
  log "compressing FAISS from $FAISS_SRC ($(du -sh "$FAISS_SRC" | cut -f1))"
  mkdir -p "$tmp/faiss"
  cp -a "$FAISS_SRC" "$tmp/faiss/faiss-1.7.3-capi"
  tar -C "$tmp/faiss" --owner=0 --group=0 --sort=name -cf - faiss-1.7.3-capi |
    nice xz -9 -T2 -c > "$DEST/faiss.tar.xz.tmp"
  mv "$DEST/faiss.tar.xz.tmp" "$DEST/faiss.tar.xz"
  echo "$faiss_sum" > "$faiss_stamp"
else
  log "faiss.tar.xz already there for this FAISS build (--force to redo)"
fi

# --- d. sizes -------------------------------------------------------------------------------
{
  echo "# .devcarry, written by bench/gpu_bundle.sh on $(date -u +%FT%TZ) from $(git describe --always --dirty 2>/dev/null)"
  if [ -s "$DEST/minilm-bf16.sha256" ]; then
    echo "minilm-bf16.safetensors sha256 $(cat "$DEST/minilm-bf16.sha256") (source F32 sha256 $src_sha)"
  else
    echo "no trunk: minilm-header.json (a random trunk of the shapes of F32 sha256 $src_sha)"
  fi
  echo "faiss.tar.xz: faiss-1.7.3-capi/ from $FAISS_SRC ($(head -1 "$FAISS_SRC/.rerank-built" 2>/dev/null || echo 'no .rerank-built stamp')); contents sha256 $faiss_sum"
  (cd "$FAISS_SRC" && sha256sum lib/libfaiss.so lib/libfaiss_c.so) | sed 's/^/  /'
  echo "# packages in deps.tar.xz:"
  cat "$DEST/packages.txt"
} > "$DEST/MANIFEST.txt"
carry_b=$(du -sb "$DEST" | cut -f1)
tracked_b=$(cd "$TREE" && git ls-files -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
untracked_b=$(cd "$TREE" && (git ls-files -z -o --exclude-standard | du -cb --files0-from=- 2>/dev/null || echo 0) | tail -1 | cut -f1)
total_b=$((carry_b + tracked_b + untracked_b))
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
for f in "$DEST"/deps.tar.xz "$DEST"/minilm-bf16.safetensors.xz "$DEST"/faiss.tar.xz; do
  [ -e "$f" ] || continue
  log "$(basename "$f"): $(mib "$(stat -c %s "$f")")"
done
log "$DEST: $(mib "$carry_b"); tracked tree of $TREE: $(mib "$tracked_b"); untracked, not ignored: $(mib "$untracked_b"); total $(mib "$total_b") (limit $LIMIT_MIB MiB; the tool carries 64 MiB)"
if [ "$total_b" -gt $((LIMIT_MIB * 1048576)) ]; then
  die "total $(mib "$total_b") exceeds $LIMIT_MIB MiB"
fi
log "ready: carry [\".devcarry\"] and run: bash bench/gpu_check.sh"
