#!/usr/bin/env bash
# bench/bench_faiss.sh — FAISS search alone: rr_index (our C wrapper over FAISS's C API, in the
# FAISS scripts/setup.sh builds) against FAISS's own Python wrapper (faiss-cpu from PyPI, in a
# venv under the build directory), in one run, with the same threads, on the same synthetic
# vectors (bench/faiss_search.c's generator, reproduced by bench/bench_faiss.py): by default
# 1M x 384 base vectors, 10k queries, k = 100, L2, Flat and IVF1024,Flat at nprobe=16.
# The peer runs twice: as pip installs it (its AVX2 build) and with FAISS_DISABLE_CPU_FEATURES=AVX2
# (its generic build; ours is FAISS's AVX2 code where the CPU has it, scripts/setup.sh's
# RR_FAISS_SIMD). For each, queries/s, the ratio to ours,
# the overlap of the two top-k lists (mean |ours ∩ peer| / k over the queries: near-tied
# distances may order differently under other BLAS or SIMD code, and k-means, BLAS-bound,
# may train other IVF centroids), and each side's recall@k against our Flat result (exact).
#
# Environment (all optional): BUILD_DIR (default build), BENCH_THREADS (default nproc),
# BENCH_FAISS_ARGS (passed to both, e.g. "--n 100000 --queries 1000 --train 65536"),
# BENCH_FAISS_FACTORIES (default "--factory Flat --factory IVF1024,Flat --params nprobe=16"),
# BENCH_FAISS_PEER_FACTORIES (the peer's, default the same; e.g. its IVF alone, to save its
# Flat run: rows are matched by factory, and recall is against our Flat),
# BENCH_FAISS_PIP (the pip requirement, default faiss-cpu==1.7.3: the FAISS version we link;
# numpy<2 for its ABI).
set -u
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$REPO/build}"
THREADS="${BENCH_THREADS:-$(nproc)}"
PIP_REQ="${BENCH_FAISS_PIP:-faiss-cpu==1.7.3}"
FACTORIES="${BENCH_FAISS_FACTORIES:---factory Flat --factory IVF1024,Flat --params nprobe=16}"
ARGS=(--threads "$THREADS" ${BENCH_FAISS_ARGS:-} $FACTORIES)
PEER_ARGS=(--threads "$THREADS" ${BENCH_FAISS_ARGS:-} ${BENCH_FAISS_PEER_FACTORIES:-$FACTORIES})
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
"$VENV/bin/python" "$REPO/bench/bench_faiss.py" "${PEER_ARGS[@]}" --labels-out "$W/avx2" | tee "$W/avx2.txt" || exit 1
FAISS_DISABLE_CPU_FEATURES=AVX2 "$VENV/bin/python" "$REPO/bench/bench_faiss.py" "${PEER_ARGS[@]}" --labels-out "$W/generic" |
  sed 's/^faiss_python/faiss_python_generic/' | tee "$W/generic.txt" || exit 1
"$VENV/bin/python" - "$W" <<'PY'
import re, sys
import numpy as np
w = sys.argv[1]
def rows(name):  # each line's fields, with the index of its labels file
    return [dict(re.findall(r"(\w+)=(\S*)", l), file=f"{w}/{name}{i}.i64")
            for i, l in enumerate(l for l in open(f"{w}/{name}.txt") if "=" in l)]
def labels(row):
    return np.fromfile(row["file"], dtype=np.int64).reshape(-1, int(row["k"]))
def overlap(a, b):
    return np.mean([len(np.intersect1d(x, y)) / a.shape[1] for x, y in zip(a, b)])
ours = {r["factory"]: r for r in rows("ours")}
exact = labels(ours["Flat"]) if "Flat" in ours else None
print(f"{'factory':<14} {'params':<10} {'ours q/s':>9} {'peer':<14} {'peer q/s':>9} {'ours/peer':>9} "
      f"{'top-k overlap':>13} {'recall ours':>11} {'recall peer':>11}")
for peer in ("avx2", "generic"):
    for p in rows(peer):
        o = ours.get(p["factory"])
        if not o:
            continue
        a, b = labels(o), labels(p)
        rec = (f"{overlap(exact, a):>11.4f} {overlap(exact, b):>11.4f}" if exact is not None
               else f"{'-':>11} {'-':>11}")
        print(f"{o['factory']:<14} {o['params'] or '-':<10} {float(o['qps']):>9.1f} {'python ' + peer:<14} "
              f"{float(p['qps']):>9.1f} {float(o['qps']) / float(p['qps']):>9.2f} {overlap(a, b):>13.4f} {rec}")
PY
