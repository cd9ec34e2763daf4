/* bench/sgemm_rate.c — the machine's measured fp32 matrix-multiply rate, the yardstick the
 * throughput harness (bench/bench_cpu.py) divides achieved GFLOP/s by.
 *
 * It times OpenBLAS sgemm (the same OpenMP build rerank_core links) with a given thread
 * count on
 *   - a large square product (default 2048^3): close to the machine's peak sgemm rate;
 *   - the cross-encoder's own shapes for a pass of M tokens (default 8192, MiniLM widths
 *     H=384, I=1536): QKV  M x 3H x H,  attention output  M x H x H,  FFN up  M x I x H,
 *     FFN down  M x H x I, laid out as the CPU backend calls them (row-major x · Wᵀ);
 *     plus "network", the four run back to back once each (one layer's projections).
 *
 * Each product is run once untimed (warm-up: page faults, thread start) and then repeated
 * until at least --min-time seconds have passed; the best repetition is reported, so the
 * figure is an achievable rate, not an average over noise. Output, one line per shape:
 *   sgemm shape=square M=2048 N=2048 K=2048 threads=2 reps=12 best_s=0.0713 gflops=241.0
 * Usage: rr_sgemm_rate [--threads N] [--square S] [--tokens M] [--hidden H]
 *                      [--intermediate I] [--min-time SEC]
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int num_threads);

typedef struct {
    const char *name;
    int M, N, K;
} shape;

static float *alloc_fill(size_t n, unsigned seed) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "rr_sgemm_rate: out of memory (%zu floats)\n", n);
        exit(1);
    }
    unsigned s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((s >> 9) & 0xffff) / 65536.0f - 0.5f;
    }
    return p;
}

/* y[M,N] = x[M,K] · W[N,K]ᵀ, as backend/cpu.c's linear does. */
static void gemm(const shape *s, const float *x, const float *w, float *y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->M, s->N, s->K, 1.0f, x, s->K, w, s->K,
                0.0f, y, s->N);
}

/* Runs shapes[0..n) back to back; best time over repetitions of at least min_time total. */
static double time_shapes(const shape *shapes, int n, float *x, float *w, float *y,
                          double min_time, int *reps_out) {
    for (int i = 0; i < n; i++)
        gemm(&shapes[i], x, w, y);
    double best = 1e30, start = omp_get_wtime();
    int reps = 0;
    do {
        double t = omp_get_wtime();
        for (int i = 0; i < n; i++)
            gemm(&shapes[i], x, w, y);
        t = omp_get_wtime() - t;
        if (t < best)
            best = t;
        reps++;
    } while (omp_get_wtime() - start < min_time || reps < 3);
    *reps_out = reps;
    return best;
}

static int parse_int(const char *flag, const char *v, int lo) {
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < lo || x > 1 << 20) {
        fprintf(stderr, "rr_sgemm_rate: %s: bad value '%s'\n", flag, v);
        exit(2);
    }
    return (int)x;
}

int main(int argc, char **argv) {
    int threads = 0, square = 2048, tokens = 8192, hidden = 384, inter = 1536;
    double min_time = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: rr_sgemm_rate [--threads N] [--square S] [--tokens M] [--hidden H]\n"
                   "                     [--intermediate I] [--min-time SEC]\n");
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "rr_sgemm_rate: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--threads"))
            threads = parse_int(a, v, 1);
        else if (!strcmp(a, "--square"))
            square = parse_int(a, v, 1);
        else if (!strcmp(a, "--tokens"))
            tokens = parse_int(a, v, 1);
        else if (!strcmp(a, "--hidden"))
            hidden = parse_int(a, v, 1);
        else if (!strcmp(a, "--intermediate"))
            inter = parse_int(a, v, 1);
        else if (!strcmp(a, "--min-time")) {
            min_time = strtod(v, NULL);
            if (!(min_time >= 0.0)) {
                fprintf(stderr, "rr_sgemm_rate: --min-time: bad value '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "rr_sgemm_rate: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (threads == 0)
        threads = omp_get_max_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);

    const shape net[4] = {
        {"qkv", tokens, 3 * hidden, hidden},
        {"attn_out", tokens, hidden, hidden},
        {"ffn_up", tokens, inter, hidden},
        {"ffn_down", tokens, hidden, inter},
    };
    const shape sq = {"square", square, square, square};

    /* One set of buffers large enough for every product. */
    size_t max_x = (size_t)sq.M * (size_t)sq.K, max_w = (size_t)sq.N * (size_t)sq.K,
           max_y = (size_t)sq.M * (size_t)sq.N;
    for (int i = 0; i < 4; i++) {
        size_t mx = (size_t)net[i].M * (size_t)net[i].K, mw = (size_t)net[i].N * (size_t)net[i].K,
               my = (size_t)net[i].M * (size_t)net[i].N;
        max_x = mx > max_x ? mx : max_x;
        max_w = mw > max_w ? mw : max_w;
        max_y = my > max_y ? my : max_y;
    }
    float *x = alloc_fill(max_x, 1), *w = alloc_fill(max_w, 2), *y = alloc_fill(max_y, 3);

    printf("# %s (core %s), threads=%d\n", openblas_get_config(), openblas_get_corename(),
           threads);
    int reps;
    double t = time_shapes(&sq, 1, x, w, y, min_time, &reps);
    printf("sgemm shape=square M=%d N=%d K=%d threads=%d reps=%d best_s=%.6f gflops=%.2f\n", sq.M,
           sq.N, sq.K, threads, reps, t, 2.0 * sq.M * sq.N * (double)sq.K / t * 1e-9);
    double flops_all = 0.0;
    for (int i = 0; i < 4; i++) {
        const shape *s = &net[i];
        double f = 2.0 * s->M * s->N * (double)s->K;
        flops_all += f;
        t = time_shapes(s, 1, x, w, y, min_time / 2, &reps);
        printf("sgemm shape=%s M=%d N=%d K=%d threads=%d reps=%d best_s=%.6f gflops=%.2f\n", s->name,
               s->M, s->N, s->K, threads, reps, t, f / t * 1e-9);
    }
    t = time_shapes(net, 4, x, w, y, min_time, &reps);
    printf("sgemm shape=network M=%d N=%d+%d+%d+%d K=%d/%d threads=%d reps=%d best_s=%.6f "
           "gflops=%.2f\n",
           tokens, net[0].N, net[1].N, net[2].N, net[3].N, hidden, inter, threads, reps, t,
           flops_all / t * 1e-9);
    free(x);
    free(w);
    free(y);
    return 0;
}
