#!/usr/bin/env bash
# bench/bench_faiss.sh — FAISS search alone: rr_index (our C wrapper over FAISS's C API, in the
# FAISS scripts/setup.sh builds) against FAISS's own Python wrapper (faiss-cpu from PyPI, in a
# venv under the build directory), in one run, with the same threads, on the same synthetic
# vectors (bench/faiss_search.c's generator, reproduced by bench/bench_faiss.py): by default
# 1M x 384 base vectors, 10k queries, k = 100, L2, Flat and IVF1024,Flat at nprobe=16.
# The peer runs twice: as pip installs it (its AVX2 build) and with FAISS_DISABLE_CPU_FEATURES=AVX2
# (its generic build, the optimisation level of ours). For each, queries/s, the ratio to ours,
# and the overlap of the two top-k lists (mean |ours ∩ peer| / k over the queries: near-tied
# distances may order differently under other BLAS or SIMD code).
#
# Environment (all optional): BUILD_DIR (default build), BENCH_THREADS (default nproc),
# BENCH_FAISS_ARGS (passed to both, e.g. "--n 100000 --queries 1000"), BENCH_FAISS_PIP (the
# pip requirement, default faiss-cpu==1.7.3: the FAISS version we link; numpy<2 for its ABI).
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$REPO/build}"
THREADS="${BENCH_THREADS:-$(nproc)}"
PIP_REQ="${BENCH_FAISS_PIP:-faiss-cpu==1.7.3}"
ARGS=(--threads "$THREADS" ${BENCH_FAISS_ARGS:-})
OURS="$BUILD/rr_faiss_search"
VENV="$BUILD/faiss-venv"
[ -x "$OURS" ] || { echo "bench_faiss: no $OURS (cmake --build $BUILD --target rr_faiss_search)" >&2; exit 2; }
if ! [ -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import faiss" 2>/dev/null; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "$PIP_REQ" "numpy<2" ||
    { echo "bench_faiss: cannot install $PIP_REQ into $VENV" >&2; exit 77; }
fi
W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS="$THREADS"
echo "bench_faiss: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores, $THREADS threads," \
  "load $(cut -d' ' -f1-3 /proc/loadavg); peer: $("$VENV/bin/python" -c 'import faiss; print("faiss", faiss.__version__)')"
"$OURS" "${ARGS[@]}" --labels-out "$W/ours" | tee "$W/ours.txt" || exit 1
"$VENV/bin/python" "$REPO/bench/bench_faiss.py" "${ARGS[@]}" --labels-out "$W/avx2" | tee "$W/avx2.txt" || exit 1
FAISS_DISABLE_CPU_FEATURES=AVX2 "$VENV/bin/python" "$REPO/bench/bench_faiss.py" "${ARGS[@]}" --labels-out "$W/generic" |
  sed 's/^faiss_python/faiss_python_generic/' | tee "$W/generic.txt" || exit 1
"$VENV/bin/python" - "$W" <<'PY'
import re, sys
import numpy as np
w = sys.argv[1]
def rows(name):
    return [dict(re.findall(r"(\w+)=(\S*)", l)) for l in open(f"{w}/{name}.txt") if "=" in l]
ours = rows("ours")
print(f"{'factory':<14} {'params':<10} {'ours q/s':>9} {'peer':<14} {'peer q/s':>9} {'ours/peer':>9} {'top-k overlap':>13}")
for peer in ("avx2", "generic"):
    for f, (o, p) in enumerate(zip(ours, rows(peer))):
        k = int(o["k"])
        a = np.fromfile(f"{w}/ours{f}.i64", dtype=np.int64).reshape(-1, k)
        b = np.fromfile(f"{w}/{peer}{f}.i64", dtype=np.int64).reshape(-1, k)
        overlap = np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(a, b)])
        print(f"{o['factory']:<14} {o['params'] or '-':<10} {float(o['qps']):>9.1f} {'python ' + peer:<14} "
              f"{float(p['qps']):>9.1f} {float(o['qps']) / float(p['qps']):>9.2f} {overlap:>13.4f}")
PY
