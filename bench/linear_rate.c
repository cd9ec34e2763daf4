/* bench/linear_rate.c — the CPU backend's `linear` (our own GEMM, backend/cpu.c) against
 * OpenBLAS sgemm on the cross-encoder's shapes, same process, same inputs, same threads.
 *
 * Shapes for a pass of M tokens (MiniLM widths H=384, I=1536), as the backend calls them
 * (row-major y = x · Wᵀ): QKV M×3H×H, attention output M×H×H, FFN up M×I×H, FFN down
 * M×H×I, and "network", the four together. Each is run once untimed, then alternately ours
 * and OpenBLAS's, best of --reps. Ours includes the bias (OpenBLAS's call has none).
 * Usage: rr_linear_rate [--threads N] [--tokens M] [--reps R]
 * Output: one line per shape, "linear shape=qkv M=8192 N=1152 K=384 ours=… openblas=… ratio=…"
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "util/error.h"

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = 2, M = 8192, reps = 5;
    const int H = 384, inter = 1536;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokens"))
            M = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: rr_linear_rate [--threads N] [--tokens M] [--reps R]\n");
            return 2;
        }
    }
    if (threads < 1 || M < 1 || reps < 1) {
        fprintf(stderr, "rr_linear_rate: --threads, --tokens and --reps must be positive\n");
        return 2;
    }
    rr_backend_limits lim = {M, 1, M, H, 12, threads, RR_PRECISION_FP32, inter, 0, 0, 0};
    rr_backend *be = NULL;
    if (rr_backend_cpu_create(&lim, &be) != RR_OK) {
        fprintf(stderr, "rr_linear_rate: %s\n", rr_last_error());
        return 1;
    }
    float *x = malloc((size_t)M * inter * sizeof *x), *w = malloc((size_t)inter * inter * sizeof *w);
    float *b = calloc((size_t)inter, sizeof *b), *y = malloc((size_t)M * inter * sizeof *y);
    if (!x || !w || !b || !y) {
        fprintf(stderr, "rr_linear_rate: out of memory\n");
        return 1;
    }
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)M * inter; i++)
        x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < (size_t)inter * inter; i++)
        w[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    static const char *const names[] = {"qkv", "attn_out", "ffn_up", "ffn_down"};
    const int shapes[4][2] = {{3 * H, H}, {H, H}, {inter, H}, {H, inter}}; /* N, K */
    double ours_all = 0, blas_all = 0, flop_all = 0;
    for (int k = 0; k < 4; k++) {
        const int N = shapes[k][0], K = shapes[k][1];
        const double flop = 2.0 * M * N * K;
        double ours = 1e30, blas = 1e30;
        for (int r = 0; r <= reps; r++) { /* r == 0: warm-up */
            double t0 = seconds();
            if (be->ops->linear(be, x, M, K, w, b, N, RR_ACT_NONE, y) != RR_OK) {
                fprintf(stderr, "rr_linear_rate: %s\n", rr_last_error());
                return 1;
            }
            double t1 = seconds();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
            double t2 = seconds();
            if (r) {
                ours = t1 - t0 < ours ? t1 - t0 : ours;
                blas = t2 - t1 < blas ? t2 - t1 : blas;
            }
        }
        ours_all += ours;
        blas_all += blas;
        flop_all += flop;
        printf("linear shape=%s M=%d N=%d K=%d threads=%d ours=%.1f openblas=%.1f ratio=%.2f\n", names[k], M, N, K,
               threads, flop / ours * 1e-9, flop / blas * 1e-9, blas / ours);
    }
    printf("linear shape=network M=%d threads=%d ours=%.1f openblas=%.1f ratio=%.2f\n", M, threads,
           flop_all / ours_all * 1e-9, flop_all / blas_all * 1e-9, blas_all / ours_all);
    rr_backend_destroy(be);
    free(x);
    free(w);
    free(b);
    free(y);
    return 0;
}
