// lowbit — device reductions that reproduce the CPU's exactly.
//
//   block_tree_sum   core/reduce.hpp's tree_sum, bit for bit: terms in blocks of 256 (the last
//                    padded with +0), each block butterflied (v[i] += v[i + s], s = 128 … 1), the
//                    block sums forming the next level, until a level holds one value. A block of
//                    256 threads walks the terms in order and keeps one partially filled
//                    256-buffer per level in shared memory (a base-256 counter), so any length is
//                    summed in one pass without scratch memory. Two sums travel together (Σx, Σx²).
//   tree_level1      the level-1 sums of a long sequence by many blocks (one block per 256
//                    terms), for per-tensor statistics; block_tree_sum then finishes from level 1.
//   keys             order-independent extremes with the CPU's "first element wins" tie rule,
//                    as 64-bit keys (value in the high word, index in the low word) combined with
//                    atomicMax/atomicMin: the result does not depend on block scheduling.
// Additions use __dadd_rn so no contraction or reassociation can change a bit.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/reduce.hpp"
#include "types.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// The two sums statistics need, Σx and Σx² (a single sum leaves b at 0).
struct sum2 {
    double a = 0, b = 0;
};

namespace detail {

inline constexpr int tree_threads = static_cast<int>(tree_block);  // 256: one thread per term
inline constexpr int tree_levels = 6;                              // 256^6 = 2^48 terms

__device__ __forceinline__ sum2 add(sum2 x, sum2 y) {
    return {__dadd_rn(x.a, y.a), __dadd_rn(x.b, y.b)};
}

/// Butterfly over v[0 … 256) in place (v[t] += v[t + s], s = 128 … 1); callers synchronise
/// before; returns synchronised, with the sum in v[0].
__device__ __forceinline__ void butterfly256(sum2* v) {
    const unsigned t = threadIdx.x;
#pragma unroll
    for (unsigned s = tree_threads / 2; s >= 1; s /= 2) {
        if (t < s) v[t] = add(v[t], v[t + s]);
        __syncthreads();
    }
}

}  // namespace detail

/// tree_sum (core/reduce.hpp) of term(i), i in [0, n), computed by one block of 256 or more
/// threads (threads from 256 on only synchronise); every thread must call it and every thread gets
/// the result. Returns {0, 0} for n = 0.
template <class Term>
__device__ sum2 block_tree_sum(std::size_t n, Term&& term) {
    using detail::tree_levels;
    using detail::tree_threads;
    __shared__ sum2 buf[tree_levels][tree_threads];
    const unsigned t = threadIdx.x;
    if (n == 0) return {};
    // Level sizes; `top` is the first level (≥ 1) that holds a single value: the result.
    int top = 1;
    for (std::size_t size = (n + tree_threads - 1) / tree_threads; size > 1;
         size = (size + tree_threads - 1) / tree_threads)
        ++top;
    int cnt[tree_levels] = {};
    // Appends v to level L, butterflying full buffers upwards; uniform across the block.
    auto push = [&](int L, sum2 v) {
        for (;;) {
            __syncthreads();  // every thread has read v from the buffer below
            if (t == 0) buf[L][cnt[L]] = v;
            if (++cnt[L] < tree_threads || L == top) return;
            __syncthreads();
            detail::butterfly256(buf[L]);
            v = buf[L][0];
            cnt[L] = 0;
            ++L;
        }
    };
    for (std::size_t base = 0; base < n; base += tree_threads) {
        if (t < tree_threads) buf[0][t] = base + t < n ? term(base + t) : sum2{};
        __syncthreads();
        detail::butterfly256(buf[0]);
        push(1, buf[0][0]);
    }
    // Flush partial levels (padded with +0) upwards, lowest first.
    for (int L = 1; L < top; ++L) {
        if (cnt[L] == 0) continue;
        __syncthreads();
        if (t >= unsigned(cnt[L]) && t < tree_threads) buf[L][t] = sum2{};
        __syncthreads();
        detail::butterfly256(buf[L]);
        push(L + 1, buf[L][0]);
        cnt[L] = 0;
    }
    __syncthreads();
    const sum2 r = buf[top][0];
    __syncthreads();  // buf may be reused by the caller's next call
    return r;
}

namespace detail {

/// Level 1 of tree_sum over n terms: out[b] = butterfly of terms [256b, 256b + 256). One block
/// of 256 threads per b.
template <class Term>
__device__ void tree_level1_block(std::size_t n, Term&& term, sum2* out) {
    __shared__ sum2 v[tree_threads];
    const std::size_t base = std::size_t(blockIdx.x) * tree_threads;
    v[threadIdx.x] = base + threadIdx.x < n ? term(base + threadIdx.x) : sum2{};
    __syncthreads();
    butterfly256(v);
    if (threadIdx.x == 0) out[blockIdx.x] = v[0];
}

/// Finite x as the pair (x, x²) in double (exact), non-finite as (0, 0): the terms of
/// tree_sum_finite / tree_sum_squares_finite.
__device__ __forceinline__ sum2 finite_terms(float x) {
    if (!isfinite(x)) return {};
    const double d = x;
    return {d, __dmul_rn(d, d)};
}

// ---- keys: (value, index) pairs as ordered 64-bit integers ----

/// Maps a finite float to an unsigned integer with the same order; −0 and +0 map alike.
__device__ __forceinline__ std::uint32_t ordered(float v) {
    const std::uint32_t b = __float_as_uint(v == 0.0f ? 0.0f : v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
/// Key whose maximum is the largest value, earliest index first.
__device__ __forceinline__ unsigned long long key_max_first(std::uint32_t value,
                                                            std::uint32_t index) {
    return (static_cast<unsigned long long>(value) << 32) | (0xffffffffu - index);
}
/// Key whose minimum is the smallest value, earliest index first.
__device__ __forceinline__ unsigned long long key_min_first(std::uint32_t value,
                                                            std::uint32_t index) {
    return (static_cast<unsigned long long>(value) << 32) | index;
}
__device__ __forceinline__ std::uint32_t index_of_max_key(unsigned long long k) {
    return 0xffffffffu - static_cast<std::uint32_t>(k);
}
__device__ __forceinline__ std::uint32_t index_of_min_key(unsigned long long k) {
    return static_cast<std::uint32_t>(k);
}

// ---- block-wide reductions of 256 threads (8 warps); every thread gets the result ----

template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
    for (int o = 16; o >= 1; o /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
template <class T, class Op>
__device__ T block_reduce(T v, Op op) {
    __shared__ T part[32];
    v = warp_reduce(v, op);
    const unsigned w = threadIdx.x / 32, lane = threadIdx.x % 32, warps = (blockDim.x + 31) / 32;
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    T r = part[0];
    for (unsigned k = 1; k < warps; ++k) r = op(r, part[k]);
    __syncthreads();
    return r;
}

struct max_op {
    template <class T>
    __device__ T operator()(T a, T b) const {
        return a < b ? b : a;
    }
};
struct min_op {
    template <class T>
    __device__ T operator()(T a, T b) const {
        return b < a ? b : a;
    }
};
struct add_op {
    template <class T>
    __device__ T operator()(T a, T b) const {
        return a + b;
    }
};

/// Per-thread extremes as first-index keys: absmax for signed formats, min and max for unsigned
/// ones (what their rules use), and the finite count; reduce() combines a block's 256 threads.
template <bool Signed>
struct key_acc {
    unsigned long long kabs = 0, kmin = ~0ull, kmax = 0, fin = 0;
    __device__ __forceinline__ void add(float v, std::uint32_t i) {
        if (!isfinite(v)) return;
        ++fin;
        if constexpr (Signed) {
            const unsigned long long ka = key_max_first(__float_as_uint(fabsf(v)), i);
            kabs = ka > kabs ? ka : kabs;
        } else {
            const std::uint32_t o = ordered(v);
            const unsigned long long kn = key_min_first(o, i), kx = key_max_first(o, i);
            kmin = kn < kmin ? kn : kmin;
            kmax = kx > kmax ? kx : kmax;
        }
    }
    __device__ void reduce() {
        if constexpr (Signed)
            kabs = block_reduce(kabs, max_op{});
        else {
            kmin = block_reduce(kmin, min_op{});
            kmax = block_reduce(kmax, max_op{});
        }
        fin = block_reduce(fin, add_op{});
    }
};

}  // namespace detail
}  // namespace cuda
LOWBIT_NAMESPACE_END
