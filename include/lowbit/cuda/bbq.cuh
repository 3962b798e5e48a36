// lowbit — BBQ and QuEST on the GPU, with the blockwise Hadamard transform fused into the
// quantize and dequantize kernels; equal to the CPU's rotated_quantizer (quantizers/bbq.hpp) with
// backend::scalar bit for bit: packed codes, σ and decode steps per slot, dequantized values.
//
//   lowbit::cuda::bbq_quantizer<4> q;                   // H = 128, σ per tensor, z = 0, γ = ζ*·σ
//   lowbit::cuda::device_bbq_tensor t;                  // device buffers, reused
//   q.quantize(x_dev, {rows, cols}, t, stream);         // x_dev: float or __nv_bfloat16 (__half untested)
//   q.dequantize(t.view(), y_dev, stream);              // y_dev: float or __nv_bfloat16 (__half untested)
//
// Semantics are the CPU file comments' (formats/bbq.hpp, transform/hadamard.hpp): a row is cut into
// blocks of H, then the binary expansion of the rest, largest first; every block gets the same
// butterflies in the same order (len = 1, 2, …, h/2; x[j] = a + b, x[j + len] = a − b) and one
// multiplication by float(1/√h); σ = float(√(Σx² / #finite)) with Σx² core/reduce.hpp's fixed tree
// over the finite inputs; BBQ: v = y · float(1/σ), q_u = #{i : v ≥ t_i} (NaN as 0); QuEST:
// u = y · float(1/s), q_u = clamp(floor(u)) + 2^{B−1}. Every float operation is a round-to-nearest
// intrinsic, so --fmad cannot change a bit. H is 0 (no transform) or a power of two 2 … 128 here
// (the CPU allows up to 2^15).
//
// Launch sequences (caller's stream, no host synchronisation):
//   σ per tensor   tree_sum's levels by warps (one warp per 256-block, grid-stride; level 1 from
//                  the input with the finite count, then 256-blocks of the level below until at
//                  most 256 values remain), a one-warp kernel that forms the top and writes σ and
//                  s, then the encode kernel.
//   σ per row      one block per row (block_tree_sum) writes σ and s, then the encode kernel.
//   σ given        the encode kernel alone (its first thread also stores σ and s).
//   encode         rows a multiple of 128 with H = 128: 16 lanes per Hadamard block, 8 contiguous
//                  elements per lane (one 16-byte load of bf16), butterflies len 1 … 4 in
//                  registers and len 8 … 64 by warp shuffles, then the codes of the lane's 8
//                  elements go out as Bits whole bytes: one read of the input, one write of codes.
//                  Other shapes: one thread per Hadamard block (codes to a scratch byte per
//                  element), then a packing kernel.
//   dequantize     the same two forms, decode → inverse transform (the transform itself) → store.
#pragma once
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../formats/bbq.hpp"
#include "../transform/hadamard.hpp"
#include "buffer.cuh"
#include "error.cuh"
#include "packing.cuh"
#include "reduce.cuh"
#include "types.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// Where σ comes from (the CPU's sigma_source).
enum class bbq_sigma : std::uint8_t { per_tensor, per_row, given };

/// Options of cuda::rotated_quantizer: the CPU bbq_options' fields and defaults.
struct bbq_options {
    std::size_t hadamard = 128;                    ///< block size H: 0 (none) or a power of two 2 … 128
    bbq_sigma sigma_from = bbq_sigma::per_tensor;
    float sigma = 0.0f;                            ///< bbq_sigma::given: σ (> 0)
    float gamma = 0.0f;                            ///< BBQ: γ (> 0), or 0 for ζ*·σ
    bbq_zero zero = bbq_zero::integer;             ///< BBQ's zero point; QuEST's is −½
    bool to_input = true;                          ///< dequantize applies the inverse transform
    nibble_order order = nibble_order::low_first;  ///< low_first or (4-bit codes) high_first
};

/// Device arrays of a BBQ / QuEST tensor: the CPU bbq_tensor's packed, sigmas and scales.
struct bbq_tensor_view {
    shape2d shape;
    std::uint8_t* packed = nullptr;  ///< packed_size(size, code bits) bytes, the CPU's layout
    float* sigmas = nullptr;         ///< σ per slot (one per tensor, or one per row)
    float* scales = nullptr;         ///< decode step s per slot
    std::size_t slots = 0;
};

/// Owns the device arrays of a tensor (grown on demand, reused).
struct device_bbq_tensor {
    shape2d shape;
    device_buffer<std::uint8_t> packed;
    device_buffer<float> sigmas, scales;
    std::size_t slots = 0;
    [[nodiscard]] bbq_tensor_view view() noexcept { return {shape, packed.data(), sigmas.data(), scales.data(), slots}; }
};

namespace detail {

inline constexpr int bbq_threads = 256;

/// What the kernels need of a quantizer, by value.
template <int Bits, int CodeBits>
struct bbq_consts {
    float thr[(1 << Bits) + 1];    // BBQ thresholds NaN, t_1 … t_{2^B − 1}, NaN (NaN: no comparison holds)
    std::uint32_t e2m1;            // E2M1 codes (Bits ≤ 3): the code of q_u in bits 4·q_u … 4·q_u + 3
    float level[1 << CodeBits];    // level of every emitted code (decode table)
    double quest_step;             // QuEST: c
    float gamma;                   // BBQ: γ or 0
    bool zero_half;                // BBQ: z = −½
    float norm128;                 // hadamard_norm(128)
};

/// tanh by the hardware approximation (sm_75+): only a first guess, never part of a result.
__device__ __forceinline__ float tanh_guess(float x) {
    float y;
    asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/// q_u = #{i : v ≥ t_i} for sorted thresholds t[1 … L−1] with t[0] = t[L] = NaN (v not NaN): a
/// first guess from an approximate Φ (tanh form), then walked to the exact count with comparisons
/// against t itself (the NaN ends stop the walk), so the result is the CPU's count whatever the
/// guess; the guess is within one of it, so the common case is one comparison each way.
template <int Bits>
__device__ __forceinline__ unsigned threshold_count(float v, const float* t) {
    constexpr int L = 1 << Bits;
    const float z = v * 0.7978845608f * (1.0f + 0.044715f * v * v);
    const float p = 0.5f + 0.5f * tanh_guess(isfinite(z) ? z : (v > 0 ? 1e30f : -1e30f));
    int q = int(p * float(L));
    q = q < 0 ? 0 : q > L - 1 ? L - 1 : q;
    while (v >= t[q + 1]) ++q;
    while (v < t[q]) --q;
    return unsigned(q);
}

/// float(1/s) in double, 0 for s = 0 or an infinite result (the CPU's safe_inverse).
__device__ __forceinline__ float safe_inverse_dev(float s) {
    if (s == 0.0f) return 0.0f;
    const float r = __double2float_rn(__ddiv_rn(1.0, double(s)));
    return isfinite(r) ? r : 0.0f;
}

/// The decode step s of σ (rotated_quantizer::scale_for).
template <int Bits, bool Quest, class C>
__device__ __forceinline__ float scale_for_dev(float sigma, const C& c) {
    if constexpr (Quest) return __double2float_rn(__dmul_rn(c.quest_step, double(sigma)));
    else {
        const float gamma = c.gamma > 0.0f ? c.gamma : __double2float_rn(__dmul_rn(bbq_zeta, double(sigma)));
        return __fdiv_rn(gamma, float(1 << (Bits - 1)));
    }
}

/// σ from Σx² and the finite count.
__device__ __forceinline__ float sigma_of(double sq, unsigned long long finite) {
    return finite ? __double2float_rn(__dsqrt_rn(__ddiv_rn(sq, double(finite)))) : 0.0f;
}

/// The emitted code of a transformed value y (mult: BBQ 1/σ, QuEST 1/s).
template <int Bits, bool Quest, bbq_codes Codes, class C>
__device__ __forceinline__ std::uint8_t encode_dev(float y, float mult, const C& c, const float* thr) {
    constexpr int half = 1 << (Bits - 1);
    unsigned qu;
    float level;
    if constexpr (Quest) {
        float u = __fmul_rn(y, mult);
        if (isnan(u)) u = 0.0f;
        float k = floorf(u);
        k = k < float(-half) ? float(-half) : k;
        k = k > float(half - 1) ? float(half - 1) : k;
        qu = unsigned(int(k) + half);
        level = float(int(qu) - half) + 0.5f;
    } else {
        float v = __fmul_rn(y, mult);
        if (isnan(v)) v = 0.0f;
        qu = threshold_count<Bits>(v, thr);
        level = float(int(qu) - half) + (c.zero_half ? 0.5f : 0.0f);
    }
    if constexpr (Codes == bbq_codes::int_b) return static_cast<std::uint8_t>((qu ^ unsigned(half)) & ((1u << Bits) - 1u));
    else if constexpr (Codes == bbq_codes::index) return static_cast<std::uint8_t>(qu);
    else {
        (void)level;
        return static_cast<std::uint8_t>((c.e2m1 >> (4 * qu)) & 0xFu);
    }
}

/// One butterfly: the lower element gets a + b, the upper a − b (a the lower's old value).
__device__ __forceinline__ void butterfly(float& lo, float& hi) {
    const float a = lo, b = hi;
    lo = __fadd_rn(a, b);
    hi = __fsub_rn(a, b);
}

/// The normalised transform of a 128-block held by 16 lanes (8 contiguous values each; `lane`
/// is the lane's index 0 … 15 in the block). Every lane of the warp must call it.
__device__ __forceinline__ void hadamard128_lanes(float (&v)[8], unsigned lane, float c) {
#pragma unroll
    for (int len = 1; len < 8; len *= 2)
#pragma unroll
        for (int j = 0; j < 8; ++j)
            if ((j & len) == 0) butterfly(v[j], v[j + len]);
#pragma unroll
    for (unsigned m = 1; m < 16; m *= 2) {
        const bool upper = (lane & m) != 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            // lower: v + o (= a + b); upper: o + (−v) (= a − b exactly: IEEE defines x − y as x + (−y))
            const float o = __shfl_xor_sync(0xffffffffu, v[j], int(m));
            v[j] = __fadd_rn(o, upper ? -v[j] : v[j]);
        }
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = __fmul_rn(v[j], c);
}

/// The normalised transform of one block of h ≤ 128 values in a thread's array.
__device__ __forceinline__ void hadamard_local(float* x, unsigned h) {
    if (h <= 1) return;
    for (unsigned len = 1; len < h; len *= 2)
        for (unsigned i = 0; i < h; i += 2 * len)
            for (unsigned j = i; j < i + len; ++j) butterfly(x[j], x[j + len]);
    const float c = __double2float_rn(__ddiv_rn(1.0, __dsqrt_rn(double(h))));
    for (unsigned i = 0; i < h; ++i) x[i] = __fmul_rn(x[i], c);
}

/// Block k of a row of `cols` under H (H = 0: blocks of 1): its start and size.
__host__ __device__ __forceinline__ std::size_t blocks_per_row(std::size_t cols, std::size_t H) {
    if (H == 0) return cols;
    std::size_t k = cols / H;
    for (std::size_t rest = cols % H; rest; rest &= rest - 1) ++k;  // one block per set bit of the rest
    return k;
}
__device__ __forceinline__ void block_of(std::size_t cols, std::size_t H, std::size_t k, std::size_t& pos, unsigned& h) {
    if (H == 0) { pos = k; h = 1; return; }
    const std::size_t full = cols / H;
    if (k < full) { pos = k * H; h = unsigned(H); return; }
    std::size_t rest = cols % H, p = full * H;
    for (std::size_t j = full;; ++j) {
        const std::size_t b = std::size_t(1) << (63 - __clzll(static_cast<long long>(rest)));
        if (j == k) { pos = p; h = unsigned(b); return; }
        p += b;
        rest -= b;
    }
}

/// σ and s of a slot's arrays, and the encode multiplier.
template <int Bits, bool Quest, class C>
__device__ __forceinline__ float multiplier_dev(float sigma, float scale, const C& c) {
    (void)c;
    if constexpr (Quest) return safe_inverse_dev(scale);
    else return safe_inverse_dev(sigma);
}

// ---- σ ----

/// One butterfly block of tree_sum (core/reduce.hpp: v[i] += v[i + s], s = 128 … 1) held by one
/// warp, lane l holding terms l + 32k (k = 0 … 7): s = 128, 64, 32 inside the lane, s = 16 … 1 by
/// shuffles (lane t < s adds lane t + s's current value, as the CPU does). Lane 0 gets the sum.
__device__ __forceinline__ sum2 warp_butterfly256(sum2 (&v)[8]) {
#pragma unroll
    for (int k = 0; k < 4; ++k) v[k] = add(v[k], v[k + 4]);
#pragma unroll
    for (int k = 0; k < 2; ++k) v[k] = add(v[k], v[k + 2]);
    v[0] = add(v[0], v[1]);
#pragma unroll
    for (int s = 16; s >= 1; s /= 2) {
        const sum2 o{__shfl_down_sync(0xffffffffu, v[0].a, s), __shfl_down_sync(0xffffffffu, v[0].b, s)};
        v[0] = add(v[0], o);
    }
    return v[0];
}

/// Level 1 of tree_sum over the finite (x, x²) of n inputs, one warp per 256-block (grid-stride),
/// and the finite count (integer atomics: order-free).
template <class In>
__global__ void __launch_bounds__(bbq_threads) bbq_level1_kernel(const In* __restrict__ x, std::size_t n, sum2* level1,
                                                                 unsigned long long* finite) {
    const unsigned lane = threadIdx.x % 32;
    const std::size_t warps = std::size_t(gridDim.x) * (bbq_threads / 32), chunks = (n + tree_block - 1) / tree_block;
    unsigned long long fin = 0;
    for (std::size_t c = std::size_t(blockIdx.x) * (bbq_threads / 32) + threadIdx.x / 32; c < chunks; c += warps) {
        sum2 v[8];
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            const std::size_t i = c * tree_block + lane + 32 * k;
            const float f = i < n ? to_float(x[i]) : 0.0f;
            const bool ok = i < n && isfinite(f);
            v[k] = ok ? finite_terms(f) : sum2{};
            fin += __popc(__ballot_sync(0xffffffffu, ok));
        }
        const sum2 r = warp_butterfly256(v);
        if (lane == 0) level1[c] = r;
    }
    if (lane == 0 && fin) atomicAdd(finite, fin);
}

/// The next level of the tree: out[c] = butterfly of in[256c … 256c + 256) (zero-padded).
__global__ void __launch_bounds__(bbq_threads) bbq_level_kernel(const sum2* __restrict__ in, std::size_t m, sum2* __restrict__ out) {
    const unsigned lane = threadIdx.x % 32;
    const std::size_t warps = std::size_t(gridDim.x) * (bbq_threads / 32), chunks = (m + tree_block - 1) / tree_block;
    for (std::size_t c = std::size_t(blockIdx.x) * (bbq_threads / 32) + threadIdx.x / 32; c < chunks; c += warps) {
        sum2 v[8];
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            const std::size_t i = c * tree_block + lane + 32 * k;
            v[k] = i < m ? in[i] : sum2{};
        }
        const sum2 r = warp_butterfly256(v);
        if (lane == 0) out[c] = r;
    }
}

/// The top of the tree from a level of m ≤ 256 values (m = 1: that value), then σ and s; one warp.
template <int Bits, bool Quest, class C>
__global__ void bbq_tensor_sigma_kernel(const sum2* level, std::size_t m, const unsigned long long* finite, float* sigmas, float* scales, C c) {
    const unsigned lane = threadIdx.x % 32;
    sum2 v[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = lane + 32 * k < m ? level[lane + 32 * k] : sum2{};
    const sum2 r = m == 1 ? v[0] : warp_butterfly256(v);
    if (threadIdx.x == 0) {
        const float s = sigma_of(r.b, *finite);
        sigmas[0] = s;
        scales[0] = scale_for_dev<Bits, Quest>(s, c);
    }
}

template <int Bits, bool Quest, class In, class C>
__global__ void __launch_bounds__(bbq_threads) bbq_row_sigma_kernel(const In* __restrict__ x, std::size_t cols, float* sigmas, float* scales, C c) {
    const In* row = x + std::size_t(blockIdx.x) * cols;
    const sum2 r = block_tree_sum(cols, [&](std::size_t j) { return finite_terms(to_float(row[j])); });
    unsigned long long fin = 0;
    for (std::size_t j = threadIdx.x; j < cols; j += blockDim.x) fin += isfinite(to_float(row[j])) ? 1 : 0;
    fin = block_reduce(fin, add_op{});
    if (threadIdx.x == 0) {
        const float s = sigma_of(r.b, fin);
        sigmas[blockIdx.x] = s;
        scales[blockIdx.x] = scale_for_dev<Bits, Quest>(s, c);
    }
}

/// Where the encode kernels find σ and s: the slot arrays, or (given > 0) σ itself.
struct slot_source {
    float* sigmas;
    float* scales;
    float given;   // > 0: σ given; the kernel stores σ and s in slot 0
    bool per_row;
};

template <int Bits, bool Quest, class C>
__device__ __forceinline__ float slot_multiplier(const slot_source& src, std::size_t row, const C& c) {
    if (src.given > 0.0f) return multiplier_dev<Bits, Quest>(src.given, scale_for_dev<Bits, Quest>(src.given, c), c);
    const std::size_t s = src.per_row ? row : 0;
    return multiplier_dev<Bits, Quest>(src.sigmas[s], src.scales[s], c);
}

template <int Bits, bool Quest, class C>
__device__ __forceinline__ void store_given(const slot_source& src, const C& c) {
    if (src.given > 0.0f && blockIdx.x == 0 && threadIdx.x == 0) {
        src.sigmas[0] = src.given;
        src.scales[0] = scale_for_dev<Bits, Quest>(src.given, c);
    }
}

// ---- encode ----

/// Copies the BBQ thresholds to shared memory (≤ 32 of them sit in distinct banks: any lookup
/// pattern is conflict-free); every thread of the block must call it.
template <int Bits, class C>
__device__ __forceinline__ void load_thresholds(float* thr, const C& c) {
    for (int k = threadIdx.x; k < (1 << Bits) + 1; k += blockDim.x) thr[k] = c.thr[k];
    __syncthreads();
}

/// Rows a multiple of 128, H = 128: 16 lanes per block, codes packed straight from registers.
template <int Bits, bool Quest, bbq_codes Codes, int CodeBits, class In, class C>
__global__ void __launch_bounds__(bbq_threads) bbq_encode128_kernel(const In* __restrict__ x, std::size_t n, std::size_t cols,
                                                                    std::uint8_t* __restrict__ packed, slot_source src, C c,
                                                                    nibble_order order, bool vec, bool aligned) {
    __shared__ float thr[(1 << Bits) + 1];
    load_thresholds<Bits>(thr, c);
    store_given<Bits, Quest>(src, c);
    const unsigned lane = threadIdx.x % 16;
    const std::size_t blocks = n / 128, stride = std::size_t(gridDim.x) * (bbq_threads / 16);
    float mult = 0.0f;
    if (!src.per_row) mult = slot_multiplier<Bits, Quest>(src, 0, c);
    // Every lane runs the same number of iterations (the shuffles need the whole warp).
    const std::size_t first = std::size_t(blockIdx.x) * (bbq_threads / 16) + threadIdx.x / 16;
    const std::size_t rounds = (blocks + stride - 1) / stride;
    for (std::size_t k = 0; k < rounds; ++k) {
        const std::size_t b = first + k * stride;
        const bool live = b < blocks;
        const std::size_t i0 = (live ? b : 0) * 128 + std::size_t(lane) * 8;
        float v[8];
        if (live) load8(x + i0, v, vec);
        else {
#pragma unroll
            for (int j = 0; j < 8; ++j) v[j] = 0.0f;
        }
        hadamard128_lanes(v, lane, c.norm128);
        if (!live) continue;
        if (src.per_row) mult = slot_multiplier<Bits, Quest>(src, i0 / cols, c);
        std::uint64_t codes = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) codes |= std::uint64_t(encode_dev<Bits, Quest, Codes>(v[j], mult, c, thr)) << (8 * j);
        store_unit<CodeBits>(packed, i0 / 8, codes, 8, order, aligned);
    }
}

/// Any shape: one thread per Hadamard block, one code byte per element into `codes`.
template <int Bits, bool Quest, bbq_codes Codes, class In, class C>
__global__ void __launch_bounds__(bbq_threads) bbq_encode_any_kernel(const In* __restrict__ x, std::size_t rows, std::size_t cols, std::size_t H,
                                                                     std::uint8_t* __restrict__ codes, slot_source src, C c) {
    __shared__ float thr[(1 << Bits) + 1];
    load_thresholds<Bits>(thr, c);
    store_given<Bits, Quest>(src, c);
    const std::size_t bpr = blocks_per_row(cols, H);
    const std::size_t item = std::size_t(blockIdx.x) * bbq_threads + threadIdx.x;
    if (item >= rows * bpr) return;
    const std::size_t row = item / bpr;
    std::size_t pos;
    unsigned h;
    block_of(cols, H, item % bpr, pos, h);
    const std::size_t i0 = row * cols + pos;
    float buf[128];
    for (unsigned k = 0; k < h; ++k) buf[k] = to_float(x[i0 + k]);
    hadamard_local(buf, h);
    const float mult = slot_multiplier<Bits, Quest>(src, row, c);
    for (unsigned k = 0; k < h; ++k) codes[i0 + k] = encode_dev<Bits, Quest, Codes>(buf[k], mult, c, thr);
}

/// Packs one code byte per element into the stream, 8 codes per thread.
template <int CodeBits>
__global__ void __launch_bounds__(bbq_threads) bbq_pack_kernel(const std::uint8_t* __restrict__ codes, std::size_t n,
                                                               std::uint8_t* __restrict__ packed, nibble_order order) {
    const std::size_t u = std::size_t(blockIdx.x) * bbq_threads + threadIdx.x;
    if (u * 8 >= n) return;
    const int m = n - u * 8 < 8 ? int(n - u * 8) : 8;
    std::uint64_t c = 0;
    for (int j = 0; j < m; ++j) c |= std::uint64_t(codes[u * 8 + j]) << (8 * j);
    store_unit<CodeBits>(packed, u, c, m, order, false);
}

// ---- decode ----

/// The code of element i (low_first or high_first stream).
template <int CodeBits>
__device__ __forceinline__ unsigned code_at_dev(const std::uint8_t* packed, std::size_t i, nibble_order order) {
    if (CodeBits == 4 && order == nibble_order::high_first) return (packed[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xFu;
    unsigned c = 0;
    for (int k = 0; k < CodeBits; ++k) {
        const std::size_t bit = i * CodeBits + std::size_t(k);
        c |= unsigned((packed[bit / 8] >> (bit % 8)) & 1u) << k;
    }
    return c;
}

template <int CodeBits, class C>
__device__ __forceinline__ void load_levels(float* lv, const C& c) {
    for (int k = threadIdx.x; k < (1 << CodeBits); k += blockDim.x) lv[k] = c.level[k];
    __syncthreads();
}

template <int CodeBits, class Out, class C>
__global__ void __launch_bounds__(bbq_threads) bbq_decode128_kernel(const std::uint8_t* __restrict__ packed, std::size_t n, std::size_t cols,
                                                                    const float* __restrict__ scales, bool per_row, bool transform,
                                                                    Out* __restrict__ y, C c, nibble_order order, bool vec, bool aligned) {
    __shared__ float lv[1 << CodeBits];
    load_levels<CodeBits>(lv, c);
    const unsigned lane = threadIdx.x % 16;
    const std::size_t blocks = n / 128, stride = std::size_t(gridDim.x) * (bbq_threads / 16);
    const std::size_t first = std::size_t(blockIdx.x) * (bbq_threads / 16) + threadIdx.x / 16;
    const std::size_t rounds = (blocks + stride - 1) / stride;
    for (std::size_t k = 0; k < rounds; ++k) {
        const std::size_t b = first + k * stride;
        const bool live = b < blocks;
        const std::size_t i0 = (live ? b : 0) * 128 + std::size_t(lane) * 8;
        float v[8];
        if (live) {
            const float s = scales[per_row ? i0 / cols : 0];
            const std::uint64_t codes = load_unit<CodeBits>(packed, i0 / 8, 8, order, aligned);
#pragma unroll
            for (int j = 0; j < 8; ++j) v[j] = __fmul_rn(s, lv[(codes >> (8 * j)) & 0xffu]);
        } else {
#pragma unroll
            for (int j = 0; j < 8; ++j) v[j] = 0.0f;
        }
        if (transform) hadamard128_lanes(v, lane, c.norm128);
        if (live) store8(y + i0, v, vec);
    }
}

template <int CodeBits, class Out, class C>
__global__ void __launch_bounds__(bbq_threads) bbq_decode_any_kernel(const std::uint8_t* __restrict__ packed, std::size_t rows, std::size_t cols,
                                                                     std::size_t H, const float* __restrict__ scales, bool per_row,
                                                                     bool transform, Out* __restrict__ y, C c, nibble_order order) {
    __shared__ float lv[1 << CodeBits];
    load_levels<CodeBits>(lv, c);
    const std::size_t bpr = blocks_per_row(cols, H);
    const std::size_t item = std::size_t(blockIdx.x) * bbq_threads + threadIdx.x;
    if (item >= rows * bpr) return;
    const std::size_t row = item / bpr;
    std::size_t pos;
    unsigned h;
    block_of(cols, H, item % bpr, pos, h);
    const std::size_t i0 = row * cols + pos;
    const float s = scales[per_row ? row : 0];
    float buf[128];
    for (unsigned k = 0; k < h; ++k) buf[k] = __fmul_rn(s, lv[code_at_dev<CodeBits>(packed, i0 + k, order)]);
    if (transform) hadamard_local(buf, h);
    for (unsigned k = 0; k < h; ++k) y[i0 + k] = from_float<Out>(buf[k]);
}

inline unsigned bbq_blocks(std::size_t items) { return static_cast<unsigned>((items + bbq_threads - 1) / bbq_threads); }

}  // namespace detail

/// BBQ (Quest = false) or QuEST (Quest = true) of `Bits` bits on the GPU, codes emitted as `Codes`
/// (see formats/bbq.hpp); the CPU's rotated_quantizer<Bits, Quest, Codes>, bit for bit.
template <int Bits, bool Quest, bbq_codes Codes = bbq_codes::int_b>
class rotated_quantizer {
public:
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: BBQ / QuEST need 1 <= Bits <= 8");
    static_assert(Codes != bbq_codes::e2m1 || Bits <= 3,
                  "lowbit: E2M1 codes hold the levels exactly only for Bits <= 3 (z = 0) or Bits <= 2 (z = -1/2)");
    static constexpr int bits = Bits;
    static constexpr int code_bits = bbq_code_bits(Bits, Codes);
    using options = bbq_options;
    using consts = detail::bbq_consts<Bits, code_bits>;

    rotated_quantizer() : rotated_quantizer(options{}) {}
    explicit rotated_quantizer(options o) : opt_(o) {
        lowbit::detail::require(opt_.hadamard == 0 || (std::has_single_bit(opt_.hadamard) && opt_.hadamard >= 2 && opt_.hadamard <= 128),
                                "options.hadamard", "must be 0 or a power of two 2 … 128 on the GPU");
        if (opt_.sigma_from == bbq_sigma::given)
            lowbit::detail::require(std::isfinite(opt_.sigma) && opt_.sigma > 0.0f, "options.sigma", "must be finite and > 0 when sigma_from is given");
        lowbit::detail::require(std::isfinite(opt_.gamma) && opt_.gamma >= 0.0f, "options.gamma", "must be finite and >= 0 (0: zeta* sigma)");
        lowbit::detail::require(opt_.order == nibble_order::low_first || (code_bits == 4 && opt_.order == nibble_order::high_first),
                                "options.order", "must be low_first, or high_first for 4-bit codes");
        if (Quest) opt_.zero = bbq_zero::half;
        lowbit::detail::require(Codes != bbq_codes::e2m1 || bbq_e2m1_exact(Bits, opt_.zero), "options.zero",
                                "E2M1 codes need z = 0 at 3 bits (the levels ±2.5, ±3.5 of z = -1/2 are not in E2M1)");
        const auto& t = bbq_format<Bits>::thresholds();
        c_.thr[0] = c_.thr[t.size() + 1] = std::numeric_limits<float>::quiet_NaN();
        for (std::size_t i = 0; i < t.size(); ++i) c_.thr[i + 1] = t[i];
        c_.e2m1 = 0;
        for (auto& l : c_.level) l = 0.0f;
        for (unsigned q = 0; q < (1u << Bits); ++q) {
            const float lv = Quest ? quest_format<Bits>::level(std::uint8_t(q)) : bbq_format<Bits>::level(std::uint8_t(q), opt_.zero);
            c_.level[bbq_emit<Bits>(std::uint8_t(q), lv, Codes)] = lv;
            if (Codes == bbq_codes::e2m1 && Bits <= 3) c_.e2m1 |= std::uint32_t(bbq_emit<Bits>(std::uint8_t(q), lv, Codes)) << (4 * q);
        }
        c_.quest_step = Quest ? quest_format<Bits>::step() : 0.0;
        c_.gamma = opt_.gamma;
        c_.zero_half = opt_.zero == bbq_zero::half;
        c_.norm128 = hadamard_norm(128);
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    /// Quantizes a row-major `shape` tensor x (device float, __half or __nv_bfloat16) into t.
    template <class In>
    void quantize(const In* x, shape2d shape, device_bbq_tensor& t, cudaStream_t stream = nullptr) {
        const std::size_t n = shape.size();
        t.shape = shape;
        t.slots = opt_.sigma_from == bbq_sigma::per_row ? shape.rows : (n ? 1 : 0);
        t.packed.reserve(packed_size(n, code_bits));
        t.sigmas.reserve(t.slots);
        t.scales.reserve(t.slots);
        quantize_into(x, shape, t.view(), stream);
    }

    /// Quantizes into arrays the caller owns (sizes as device_bbq_tensor's).
    template <class In>
    void quantize_into(const In* x, shape2d shape, bbq_tensor_view t, cudaStream_t stream = nullptr) {
        const std::size_t n = shape.size();
        lowbit::detail::require(n == 0 || x != nullptr, "x", "must not be null");
        if (n == 0) return;
        const std::size_t cols = shape.cols, H = opt_.hadamard;
        detail::slot_source src{t.sigmas, t.scales, 0.0f, opt_.sigma_from == bbq_sigma::per_row};
        if (opt_.sigma_from == bbq_sigma::given) {
            src.given = opt_.sigma;
        } else if (opt_.sigma_from == bbq_sigma::per_row) {
            detail::bbq_row_sigma_kernel<Bits, Quest, In><<<unsigned(shape.rows), detail::bbq_threads, 0, stream>>>(x, cols, t.sigmas, t.scales, c_);
            check_launch("bbq quantize (row sigma)");
        } else {
            // tree_sum level by level: level 1 from the input, then levels of 256-blocks until at
            // most 256 values are left, then the top (and σ, s) by one warp.
            const std::size_t n1 = (n + tree_block - 1) / tree_block, n2 = (n1 + tree_block - 1) / tree_block;
            work_.reserve(2 * sizeof(unsigned long long) + (n1 + n2) * sizeof(sum2));  // count, pad, two levels
            auto* finite = reinterpret_cast<unsigned long long*>(work_.data());
            sum2* lv[2] = {reinterpret_cast<sum2*>(work_.data() + 2 * sizeof(unsigned long long)), nullptr};
            lv[1] = lv[0] + n1;
            check(cudaMemsetAsync(finite, 0, sizeof(unsigned long long), stream), "cudaMemsetAsync");
            const std::size_t cap = std::size_t(sms()) * 8;
            auto grid = [&](std::size_t chunks) { const std::size_t b = (chunks + 7) / 8; return unsigned(b < cap ? b : cap); };
            detail::bbq_level1_kernel<In><<<grid(n1), detail::bbq_threads, 0, stream>>>(x, n, lv[0], finite);
            check_launch("bbq quantize (tree sums)");
            std::size_t m = n1;
            int cur = 0;
            while (m > tree_block) {
                const std::size_t next = (m + tree_block - 1) / tree_block;
                detail::bbq_level_kernel<<<grid(next), detail::bbq_threads, 0, stream>>>(lv[cur], m, lv[1 - cur]);
                check_launch("bbq quantize (tree levels)");
                cur = 1 - cur;
                m = next;
            }
            detail::bbq_tensor_sigma_kernel<Bits, Quest><<<1, 32, 0, stream>>>(lv[cur], m, finite, t.sigmas, t.scales, c_);
            check_launch("bbq quantize (tensor sigma)");
        }
        if (H == 128 && cols % 128 == 0) {
            const std::size_t groups = n / 128;
            const std::size_t want = (groups + 15) / 16, cap = std::size_t(sms()) * 16;
            const bool vec = detail::aligned16(x), aligned = (reinterpret_cast<std::uintptr_t>(t.packed) & 7u) == 0;
            detail::bbq_encode128_kernel<Bits, Quest, Codes, code_bits, In><<<unsigned(want < cap ? want : cap), detail::bbq_threads, 0, stream>>>(
                x, n, cols, t.packed, src, c_, opt_.order, vec, aligned);
            check_launch("bbq quantize (fused Hadamard encode)");
            return;
        }
        scratch_.reserve(n);
        const std::size_t items = shape.rows * detail::blocks_per_row(cols, H);
        detail::bbq_encode_any_kernel<Bits, Quest, Codes, In><<<detail::bbq_blocks(items), detail::bbq_threads, 0, stream>>>(
            x, shape.rows, cols, H, scratch_.data(), src, c_);
        check_launch("bbq quantize (Hadamard encode)");
        detail::bbq_pack_kernel<code_bits><<<detail::bbq_blocks((n + 7) / 8), detail::bbq_threads, 0, stream>>>(scratch_.data(), n, t.packed, opt_.order);
        check_launch("bbq quantize (pack)");
    }

    /// Dequantizes t (made by this quantizer's options) into y (device float, __half or
    /// __nv_bfloat16): s · level, then (options.to_input) the inverse transform, in float.
    template <class Out>
    void dequantize(const bbq_tensor_view& t, Out* y, cudaStream_t stream = nullptr) const {
        const std::size_t n = t.shape.size();
        if (n == 0) return;
        lowbit::detail::require(y != nullptr && t.packed != nullptr && t.scales != nullptr, "t", "needs packed codes, scales and an output");
        const std::size_t slots = opt_.sigma_from == bbq_sigma::per_row ? t.shape.rows : 1;
        lowbit::detail::require(t.slots == slots, "t.slots", "must hold one scale per slot of this quantizer's options");
        const std::size_t cols = t.shape.cols, H = opt_.hadamard;
        const bool per_row = opt_.sigma_from == bbq_sigma::per_row, transform = opt_.to_input && H != 0;
        if (cols % 128 == 0 && (H == 128 || !transform)) {
            const std::size_t groups = n / 128;
            const std::size_t want = (groups + 15) / 16, cap = std::size_t(sms()) * 16;
            const bool vec = detail::aligned16(y), aligned = (reinterpret_cast<std::uintptr_t>(t.packed) & 7u) == 0;
            detail::bbq_decode128_kernel<code_bits, Out><<<unsigned(want < cap ? want : cap), detail::bbq_threads, 0, stream>>>(
                t.packed, n, cols, t.scales, per_row, transform, y, c_, opt_.order, vec, aligned);
            check_launch("bbq dequantize (fused inverse Hadamard)");
            return;
        }
        const std::size_t items = t.shape.rows * detail::blocks_per_row(cols, transform ? H : 0);
        detail::bbq_decode_any_kernel<code_bits, Out><<<detail::bbq_blocks(items), detail::bbq_threads, 0, stream>>>(
            t.packed, t.shape.rows, cols, transform ? H : 0, t.scales, per_row, transform, y, c_, opt_.order);
        check_launch("bbq dequantize");
    }

private:
    static int sms() {
        int dev = 0, s = 0;
        check(cudaGetDevice(&dev), "cudaGetDevice");
        check(cudaDeviceGetAttribute(&s, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
        return s;
    }

    options opt_;
    consts c_{};
    device_buffer<unsigned char> work_;
    device_buffer<std::uint8_t> scratch_;
};

/// BBQ of `Bits` bits on the GPU.
template <int Bits, bbq_codes Codes = bbq_codes::int_b>
using bbq_quantizer = rotated_quantizer<Bits, false, Codes>;
/// QuEST of `Bits` bits on the GPU.
template <int Bits, bbq_codes Codes = bbq_codes::int_b>
using quest_quantizer = rotated_quantizer<Bits, true, Codes>;

}  // namespace cuda
LOWBIT_NAMESPACE_END
