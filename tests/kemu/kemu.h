/* tests/kemu/kemu.h — the device side of kemu, an emulator that runs this project's CUDA
 * kernels on the CPU (tests/kemu/kemu.cpp has the runtime and README-level notes).
 *
 * Force-included (-include) into every source of the emulated CUDA module, which is compiled
 * as C++ by the host compiler after tests/kemu/transform.cmake has rewritten the two pieces of
 * CUDA syntax C++ cannot parse: `k<<<grid, block, smem, stream>>>(args)` becomes
 * `kemu::launch("k", k, grid, block, smem, stream)(args)`, and `extern __shared__ T s[];`
 * becomes a pointer to the launch's dynamic shared memory.
 *
 * Every CUDA thread of a block is a fiber; the block's fibers run one at a time until each
 * finishes or reaches __syncthreads or a warp-synchronous operation (shuffle, __syncwarp,
 * mma.sync, ldmatrix, wmma), where it waits for the others (kemu.cpp's run_block says in
 * which order). A warp-synchronous operation is carried out once every lane of its mask has
 * arrived, for all of them at once, before any goes on; a lane of the mask that has exited,
 * lanes that wait at different operations, or a lane waiting for one that waits at
 * __syncthreads stop the process with a message (the hardware would hang or give undefined
 * results). Blocks run one after another, so `__shared__` is a static variable.
 */
#ifndef RR_KEMU_H
#define RR_KEMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __shared__ static
#define __launch_bounds__(...)
#ifndef __restrict__
#define __restrict__ __restrict
#endif

namespace kemu {

struct dim3u {
    unsigned x, y, z;
};

/* the fiber that runs now (one CUDA thread) */
struct Fiber;
extern Fiber *g_cur;
extern dim3u g_tid, g_block, g_bdim, g_gdim; /* g_tid: the running fiber's threadIdx */
extern unsigned char *g_dyn_smem;
inline unsigned char *dynamic_shared() { return g_dyn_smem; }

void syncthreads();
/* the running thread's lane in its warp */
inline unsigned lane_id() { return (g_tid.x + g_bdim.x * (g_tid.y + g_bdim.y * g_tid.z)) & 31u; }
[[noreturn]] void trap(const char *why);

/* A warp-synchronous operation: every lane of `mask` calls warp_op with the same `run`; when
 * the last arrives, run(ins, outs, mask, ctx) is called once with each lane's in/out pointers
 * (NULL for lanes outside the mask) before any of them goes on. */
typedef void (*warp_fn)(const void *const ins[32], void *const outs[32], unsigned mask, const void *ctx);
void warp_op(unsigned mask, warp_fn run, const void *in, void *out, const void *ctx, size_t ctx_size,
             const char *what);

struct ShflCtx {
    int lane_mask, width;
};
template <typename T> void shfl_xor_run(const void *const ins[32], void *const outs[32], unsigned mask, const void *ctx) {
    const ShflCtx *c = (const ShflCtx *)ctx;
    for (int l = 0; l < 32; l++) {
        if (!(mask >> l & 1u))
            continue;
        int src = l ^ c->lane_mask;
        /* a source outside the lane's segment of `width` lanes: the lane's own value */
        if ((src & ~(c->width - 1)) != (l & ~(c->width - 1)))
            src = l;
        if (!(mask >> src & 1u))
            trap("__shfl_xor_sync reads a lane outside its mask");
        memcpy(outs[l], ins[src], sizeof(T));
    }
}
/* every lane of one warp must pass the same lane_mask and width; checked per call site */
template <typename T> T shfl_xor(unsigned mask, T v, int lane_mask, int width) {
    static_assert(std::is_trivially_copyable<T>::value, "shuffle of a trivially copyable value");
    T out;
    const ShflCtx c{lane_mask, width}; /* warp_op checks that every lane passed the same */
    warp_op(mask, shfl_xor_run<T>, &v, &out, &c, sizeof c, "__shfl_xor_sync");
    return out;
}
void syncwarp(unsigned mask);

/* What a warp operation reads or writes in memory for the calling lane, declared to
 * ThreadSanitizer in a build with RR_TSAN (kemu.cpp, "ThreadSanitizer"): the operation itself
 * is carried out by the emulator, outside the lane, where TSan does not look. */
#ifdef KEMU_TSAN
extern "C" void __tsan_read_range(void *addr, unsigned long size);
extern "C" void __tsan_write_range(void *addr, unsigned long size);
inline void tsan_read(const void *p, size_t n) { __tsan_read_range((void *)p, n); }
inline void tsan_write(void *p, size_t n) { __tsan_write_range(p, n); }
#else
inline void tsan_read(const void *, size_t) {}
inline void tsan_write(void *, size_t) {}
#endif

/* ---- launches ---- */
struct LaunchCfg {
    const char *name;
    dim3u grid, block;
    size_t smem;
    cudaStream_t stream;
};
/* validates, then queues body on the stream; the launch's error goes to cudaGetLastError */
void enqueue_kernel(const LaunchCfg &cfg, void (*call)(void *), void *args, void (*free_args)(void *));

template <typename... P> struct Launcher {
    LaunchCfg cfg;
    void (*kernel)(P...);
    template <typename... A> void operator()(A &&...a) const {
        static_assert(sizeof...(A) == sizeof...(P), "kernel argument count");
        typedef std::tuple<void (*)(P...), typename std::decay<P>::type...> Args;
        Args *args = new Args(kernel, std::forward<A>(a)...);
        enqueue_kernel(
            cfg,
            [](void *p) {
                Args *t = (Args *)p;
                call_with(*t, std::index_sequence_for<P...>{});
            },
            args, [](void *p) { delete (Args *)p; });
    }
    template <typename Args, size_t... I> static void call_with(Args &t, std::index_sequence<I...>) {
        std::get<0>(t)(std::get<I + 1>(t)...);
    }
};

inline dim3u to_dim(const dim3 &d) { return dim3u{d.x, d.y, d.z}; }
template <typename... P>
Launcher<P...> launch(const char *name, void (*k)(P...), dim3 grid, dim3 block, size_t smem = 0,
                      cudaStream_t stream = 0) {
    return Launcher<P...>{LaunchCfg{name, to_dim(grid), to_dim(block), smem, stream}, k};
}

} // namespace kemu

#define threadIdx (kemu::g_tid)
#define blockIdx (kemu::g_block)
#define blockDim (kemu::g_bdim)
#define gridDim (kemu::g_gdim)
#define __align__(n) __attribute__((aligned(n)))

inline void __syncthreads() { kemu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { kemu::syncwarp(mask); }
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    return kemu::shfl_xor(mask, v, lane_mask, width);
}
[[noreturn]] inline void __trap() { kemu::trap("__trap()"); }

template <typename T> inline T __ldg(const T *p) { return *p; }
inline float __uint_as_float(unsigned u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
inline unsigned __float_as_uint(float f) {
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
}
/* CUDA's min/max overloads */
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

#endif
