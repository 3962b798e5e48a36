// lowbit — BBQ and QuEST on the GPU, with the blockwise Hadamard transform fused into the
// quantize and dequantize kernels; equal to the CPU's rotated_quantizer (quantizers/bbq.hpp) with
// backend::scalar bit for bit: packed codes, σ and decode steps per slot, dequantized values.
//
//   lowbit::cuda::bbq_quantizer<4> q;                   // H = 128, σ per tensor, z = 0, γ = ζ*·σ
//   lowbit::cuda::device_bbq_tensor t;                  // device buffers, reused
//   q.quantize(x_dev, {rows, cols}, t, stream);         // x_dev: float or __nv_bfloat16 (__half
//   untested) q.dequantize(t.view(), y_dev, stream);              // y_dev: float or __nv_bfloat16
//   (__half untested)
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
//   σ per tensor   one kernel (bbq_sumsq_kernel): Σx² of the finite inputs in tree order, 4 lanes
//                  per 256-term tree block (cp.async into shared memory, the next round in flight),
//                  the level-2 sums per 65536-term chunk, and its last block to finish forms the
//                  top, σ and s; then the encode kernel (which reads the input a second time).
//   σ per row      one block per row (block_tree_sum) writes σ and s, then the encode kernel.
//   σ given        the encode kernel alone (its first thread also stores σ and s).
//   encode         (encode_path() names the kernel a call takes; quantize dispatches on it)
//                  rows a multiple of 128 with H = 128, a 16-byte aligned input and B ≤ 5
//                  (bbq_encode_pairs_kernel): 2 lanes per Hadamard block, 64 contiguous elements
//                  per lane from shared memory (cp.async, double-buffered tiles of 16384),
//                  butterflies len 1 … 32 in registers and len 64 by one shuffle, codes counted by
//                  a table (count_table: one lookup, one comparison) and packed in registers. With
//                  σ given the thresholds are moved back through the two multiplications
//                  (fold_threshold) so each element is compared as it leaves the butterflies
//                  (bbq_encode_path::pairs_folded; folded() says whether the table was built).
//                  Other H = 128 cases: 16 lanes per Hadamard block (bbq_encode128_kernel).
//                  Other shapes: one thread per Hadamard block (codes to a scratch byte per
//                  element), then a packing kernel.
//   dequantize     16 lanes per Hadamard block or one thread per block (decode_path()), decode →
//                  inverse transform (the transform itself) → store.
//
// Non-finite and huge inputs (docs/formats.md, "Non-finite inputs", CUDA row). Mirrored exactly:
// the decode step s is capped at FLT_MAX / 2^{B−1} (scale_for_dev, and the σ-given fold); an empty
// tensor (rows or cols 0) has no σ slot; rows · cols overflowing size_t is an error naming
// "shape". Policy instead of the CPU's guarded path: quantize runs one scan kernel
// (bbq_guard_scan_kernel, after σ, before the encode; its result comes back after the encode,
// so quantize synchronises `stream` once) and throws lowbit::error
//   - "x", with the CPU's very message, naming the first non-finite element, under
//     non_finite::error (the default) — what the CPU throws;
//   - "options.on_non_finite" when the input holds a non-finite value under non_finite::saturate
//     (the CPU saturates; the GPU does not implement it);
//   - "x" naming the first element with |x| >= 2^100 (finite): the CPU transforms such blocks
//     pre-scaled by 2^−k; the GPU does not;
//   - "t.scales" naming the first slot with 2^{B−1} · s >= 2^100 (σ computed from such data)
//     when dequantize would inverse-transform (to_input, H != 0): the CPU guards that transform.
// The constructor refuses a σ or γ given that makes such a step under the inverse transform
// ("options.sigma" / "options.gamma"). Every input the GPU accepts gives the CPU's bits; after
// an error t's contents are unspecified (as on the CPU). tests/cuda/test_bbq_cuda.cu asserts
// each error and compares every accepted case bit for bit, capped decode steps included.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "../core/granularity.hpp"
#include "../core/non_finite.hpp"
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
    std::size_t hadamard = 128;  ///< block size H: 0 (none) or a power of two 2 … 128
    bbq_sigma sigma_from = bbq_sigma::per_tensor;
    float sigma = 0.0f;                            ///< bbq_sigma::given: σ (> 0)
    float gamma = 0.0f;                            ///< BBQ: γ (> 0), or 0 for ζ*·σ
    bbq_zero zero = bbq_zero::integer;             ///< BBQ's zero point; QuEST's is −½
    bool to_input = true;                          ///< dequantize applies the inverse transform
    nibble_order order = nibble_order::low_first;  ///< low_first or (4-bit codes) high_first
    unsigned max_blocks =
        0;  ///< grid cap of the σ and fused encode kernels (0: what fits; tests set it small)
    bool fold = true;  ///< σ given: thresholds moved back through 1/√128 and 1/σ (false: multiply,
                       ///< as for σ computed)
    non_finite on_non_finite = non_finite::error;  ///< ±Inf / NaN in x: error (the CPU's default);
                                                   ///< saturate throws (file comment)
};

/// The encode kernel a quantize call launches (rotated_quantizer::encode_path; the file comment
/// describes each). Every path gives the same bits.
enum class bbq_encode_path : std::uint8_t {
    pairs_folded,  ///< 2 lanes per Hadamard block, σ given: codes counted on the butterflies'
                   ///< outputs (count_table yt)
    pairs,  ///< 2 lanes per Hadamard block, codes counted on v = y · 1/√128 · 1/σ (BBQ) or floor
            ///< (QuEST)
    lanes16,    ///< 16 lanes per Hadamard block (H = 128, rows a multiple of 128)
    per_block,  ///< one thread per Hadamard block, then a packing kernel (any shape)
};

/// The decode kernel a dequantize call launches (rotated_quantizer::decode_path).
enum class bbq_decode_path : std::uint8_t {
    lanes16,    ///< 16 lanes per 128 elements (rows a multiple of 128, H = 128 or no inverse
                ///< transform)
    per_block,  ///< one thread per Hadamard block (any shape)
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
    [[nodiscard]] bbq_tensor_view view() noexcept {
        return {shape, packed.data(), sigmas.data(), scales.data(), slots};
    }
};

namespace detail {

inline constexpr int bbq_threads = 256;

/// Codes are counted by table up to this many bits (3 · 2^Bits cells at most, built on the
/// host); wider BBQ keeps the lane-per-16 kernel and threshold_count's walk.
inline constexpr int bbq_table_bits = 5;
__host__ __device__ constexpr int bbq_cells(int bits) {
    return bits <= bbq_table_bits ? 3 << bits : 1;
}

/// One cell of a count table: its threshold (NaN: none) and the count of thresholds in lower cells.
struct alignas(8) count_cell {
    float t;
    int q;
};

/// q = #{i : v ≥ t_i} as a table: v's cell is ⌊fma(v, k, c)⌋ saturated to [−128, 127] (the
/// thresholds' cells span lo … hi; the others repeat the ends), a non-decreasing function of v, so
/// a threshold in a lower cell lies below every v of this cell and one in a higher cell above it; a
/// cell holds at most one threshold: q = cell.q + (v ≥ cell.t). NaN converts to 0 and compares
/// false, so it counts cell 0's q, which equals the count of v = 0 (checked when built: the offset
/// c puts every threshold ≤ 0 below cell 0, the rest in or above).
template <int N>
struct count_table {
    float k = 0, c = 0;
    int lo = 0, hi = 0;  // −128 ≤ lo ≤ 0 ≤ hi ≤ 127
    int total = 0;       // thresholds in all
    count_cell cell[N];
};

/// A kernel's copy of a count table in shared memory: 256 cells, index ⌊·⌋ + 128 of the
/// floor conversion saturating to int8 (cells below lo: q = 0, above hi: q = total, no threshold).
inline constexpr int count_cells_smem = 256;

/// Builds a count table for the sorted thresholds t[0 … m), trying the cell scales k0 · 2^j;
/// false when none fits N cells (or a threshold is not finite).
template <int N>
bool build_count_table(const float* t, std::size_t m, float k0, count_table<N>& out) {
    float tpos = std::numeric_limits<float>::infinity();
    int at_most_zero = 0;
    for (std::size_t j = 0; j < m; ++j) {
        if (!std::isfinite(t[j])) return false;
        if (t[j] > 0.0f && t[j] < tpos) tpos = t[j];
        if (t[j] <= 0.0f) ++at_most_zero;
    }
    for (float K = k0; std::isfinite(K) && K > 0.0f; K *= 2.0f) {
        const float C = std::isfinite(tpos) ? -0.5f * K * tpos : -0.5f;
        auto cell = [&](float v) {  // as the device: __fmaf_rn, then cvt.rmi (floor, saturating)
            const double f = std::floor(double(std::fma(v, K, C)));
            return static_cast<long long>(std::clamp(f, -2147483648.0, 2147483647.0));
        };
        const long long lo = std::min(cell(t[0]), 0LL), hi = std::max(cell(t[m - 1]), 0LL);
        if (hi - lo + 1 > N || lo < -128 || hi > 127) return false;
        count_table<N> r;
        int in_cell[N] = {};
        bool ok = true;
        for (int i = 0; i < N; ++i) r.cell[i] = {std::numeric_limits<float>::quiet_NaN(), 0};
        for (std::size_t j = 0; j < m; ++j) {
            const long long i = cell(t[j]) - lo;
            if (++in_cell[i] > 1) ok = false;
            r.cell[i].t = t[j];
        }
        for (long long i = 0, below = 0; i <= hi - lo; ++i) {
            r.cell[i].q = int(below);
            below += in_cell[i];
        }
        if (!ok || r.cell[-lo].q != at_most_zero) continue;
        r.k = K;
        r.c = C;
        r.lo = int(lo);
        r.hi = int(hi);
        r.total = int(m);
        out = r;
        return true;
    }
    return false;
}

/// The smallest float y with (y · a) · b ≥ t (rounded products, a, b > 0: non-decreasing in
/// y), +Inf at most: a threshold on the product moved to its input.
inline float fold_threshold(float t, float a, float b) {
    auto ord =
        [](float f) -> std::int64_t {  // floats → integers of the same order (−0 just below +0)
        const std::int32_t i = std::bit_cast<std::int32_t>(f);
        return i < 0 ? -std::int64_t(i & 0x7fffffff) - 1 : i;
    };
    auto unord = [](std::int64_t k) {
        return std::bit_cast<float>(k < 0 ? std::uint32_t(0x80000000u | std::uint32_t(-(k + 1)))
                                          : std::uint32_t(k));
    };
    std::int64_t lo = ord(-std::numeric_limits<float>::infinity()),
                 hi = ord(std::numeric_limits<float>::infinity());
    while (lo < hi) {  // the answer stays in [lo, hi]: (+Inf · a) · b ≥ t for finite t
        const std::int64_t mid = lo + (hi - lo) / 2;
        const float y = unord(mid), p = y * a;
        if (p * b >= t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return unord(hi);
}

/// What the kernels need of a quantizer, by value.
template <int Bits, int CodeBits>
struct bbq_consts {
    float thr[(1 << Bits) +
              1];  // BBQ thresholds NaN, t_1 … t_{2^B − 1}, NaN (NaN: no comparison holds)
    std::uint32_t e2m1;  // E2M1 codes (Bits ≤ 3): the code of q_u in bits 4·q_u … 4·q_u + 3
    float level[1 << CodeBits];       // level of every emitted code (decode table)
    double quest_step;                // QuEST: c
    float gamma;                      // BBQ: γ or 0
    bool zero_half;                   // BBQ: z = −½
    float norm128;                    // hadamard_norm(128)
    count_table<bbq_cells(Bits)> vt;  // BBQ: the thresholds on v (Bits ≤ bbq_table_bits)
    count_table<bbq_cells(Bits)>
        yt;       // σ given: the thresholds moved back to the butterflies' output y
    bool folded;  // yt is built: v = (y · norm128) · mult needs no multiplication
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
/// At most FLT_MAX / 2^{B−1}, so that every level · s is finite (std::min(s, top) as the CPU forms
/// it).
inline constexpr float bbq_max_finite = 3.40282346638528859812e+38f;
template <int Bits>
inline constexpr float bbq_scale_top = bbq_max_finite / float(1 << (Bits - 1));
template <int Bits, bool Quest, class C>
__device__ __forceinline__ float scale_for_dev(float sigma, const C& c) {
    constexpr float top = bbq_scale_top<Bits>;
    float s;
    if constexpr (Quest)
        s = __double2float_rn(__dmul_rn(c.quest_step, double(sigma)));
    else {
        const float gamma =
            c.gamma > 0.0f ? c.gamma : __double2float_rn(__dmul_rn(bbq_zeta, double(sigma)));
        s = __fdiv_rn(gamma, float(1 << (Bits - 1)));
    }
    return top < s ? top : s;
}

/// Magnitude bits from which the CPU's guarded block path is taken: |x| >= 2^100, ±Inf, NaN
/// (quantizers/bbq.hpp detail::rotated_guard_bits).
inline constexpr std::uint32_t bbq_guard_bits = 0x71800000u;

/// The non-finite / guard scan of quantize(): out[0] = first non-finite index, out[1] = first
/// index of a value the CPU transforms on its guarded path (|x| >= 2^100 or non-finite), out[2] =
/// first slot whose decode step s has 2^{B−1} · s >= 2^100 (checked when `scales` is set: the CPU
/// inverse-transforms such slots the guarded way). ULLONG_MAX where none; out is preset to it.
template <int Bits, class In>
__global__ void __launch_bounds__(bbq_threads)
    bbq_guard_scan_kernel(const In* __restrict__ x, std::size_t n, const float* scales,
                          std::size_t slots, unsigned long long* out) {
    const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
    unsigned long long bad = ~0ull, guard = ~0ull;
    for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += stride) {
        const std::uint32_t m = __float_as_uint(to_float(x[i])) & 0x7FFFFFFFu;
        if (m >= bbq_guard_bits) [[unlikely]] {
            guard = guard < i ? guard : i;
            if (m > 0x7F7FFFFFu) bad = bad < i ? bad : i;
        }
    }
    if (guard != ~0ull) atomicMin(&out[1], guard);
    if (bad != ~0ull) atomicMin(&out[0], bad);
    if (scales)
        for (std::size_t s = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; s < slots;
             s += stride)
            if (__fmul_rn(fabsf(scales[s]), float(1 << (Bits - 1))) >= 0x1p100f) [[unlikely]]
                atomicMin(&out[2], (unsigned long long)s);
}

/// σ from Σx² and the finite count.
__device__ __forceinline__ float sigma_of(double sq, unsigned long long finite) {
    return finite ? __double2float_rn(__dsqrt_rn(__ddiv_rn(sq, double(finite)))) : 0.0f;
}

/// The emitted code of a transformed value y (mult: BBQ 1/σ, QuEST 1/s).
template <int Bits, bool Quest, bbq_codes Codes, class C>
__device__ __forceinline__ std::uint8_t encode_dev(float y, float mult, const C& c,
                                                   const float* thr) {
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
    if constexpr (Codes == bbq_codes::int_b)
        return static_cast<std::uint8_t>((qu ^ unsigned(half)) & ((1u << Bits) - 1u));
    else if constexpr (Codes == bbq_codes::index)
        return static_cast<std::uint8_t>(qu);
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
            // lower: v + o (= a + b); upper: o + (−v) (= a − b exactly: IEEE defines x − y as x +
            // (−y))
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
    for (std::size_t rest = cols % H; rest; rest &= rest - 1)
        ++k;  // one block per set bit of the rest
    return k;
}
__device__ __forceinline__ void block_of(std::size_t cols, std::size_t H, std::size_t k,
                                         std::size_t& pos, unsigned& h) {
    if (H == 0) {
        pos = k;
        h = 1;
        return;
    }
    const std::size_t full = cols / H;
    if (k < full) {
        pos = k * H;
        h = unsigned(H);
        return;
    }
    std::size_t rest = cols % H, p = full * H;
    for (std::size_t j = full;; ++j) {
        const std::size_t b = std::size_t(1) << (63 - __clzll(static_cast<long long>(rest)));
        if (j == k) {
            pos = p;
            h = unsigned(b);
            return;
        }
        p += b;
        rest -= b;
    }
}

/// σ and s of a slot's arrays, and the encode multiplier.
template <int Bits, bool Quest, class C>
__device__ __forceinline__ float multiplier_dev(float sigma, float scale, const C& c) {
    (void)c;
    if constexpr (Quest)
        return safe_inverse_dev(scale);
    else
        return safe_inverse_dev(sigma);
}

// ---- σ ----

template <int Bits, bool Quest, class In, class C>
__global__ void __launch_bounds__(bbq_threads)
    bbq_row_sigma_kernel(const In* __restrict__ x, std::size_t cols, float* sigmas, float* scales,
                         C c) {
    const In* row = x + std::size_t(blockIdx.x) * cols;
    const sum2 r =
        block_tree_sum(cols, [&](std::size_t j) { return finite_terms(to_float(row[j])); });
    unsigned long long fin = 0;
    for (std::size_t j = threadIdx.x; j < cols; j += blockDim.x)
        fin += isfinite(to_float(row[j])) ? 1 : 0;
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
    float given;  // > 0: σ given; the kernel stores σ and s in slot 0
    bool per_row;
};

template <int Bits, bool Quest, class C>
__device__ __forceinline__ float slot_multiplier(const slot_source& src, std::size_t row,
                                                 const C& c) {
    if (src.given > 0.0f)
        return multiplier_dev<Bits, Quest>(src.given, scale_for_dev<Bits, Quest>(src.given, c), c);
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
__global__ void __launch_bounds__(bbq_threads)
    bbq_encode128_kernel(const In* __restrict__ x, std::size_t n, std::size_t cols,
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
        if (live)
            load8(x + i0, v, vec);
        else {
#pragma unroll
            for (int j = 0; j < 8; ++j) v[j] = 0.0f;
        }
        hadamard128_lanes(v, lane, c.norm128);
        if (!live) continue;
        if (src.per_row) mult = slot_multiplier<Bits, Quest>(src, i0 / cols, c);
        std::uint64_t codes = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j)
            codes |= std::uint64_t(encode_dev<Bits, Quest, Codes>(v[j], mult, c, thr)) << (8 * j);
        store_unit<CodeBits>(packed, i0 / 8, codes, 8, order, aligned);
    }
}

/// 16 bytes global → shared without a register stop (cp.async, sm_80+; a plain copy before).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
#if __CUDA_ARCH__ >= 800
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
#else
    *static_cast<uint4*>(smem) = __ldg(static_cast<const uint4*>(gmem));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void cp_async_wait_one() {  // all but the newest group are in
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 1;\n" ::: "memory");
#endif
}

// ---- σ per tensor: Σx² of the finite inputs in tree_sum's order, one kernel ----
//
// A chunk is 256 tree blocks (65536 terms): its 256 level-1 sums butterflied give one level-2
// value. A block takes chunks grid-stride; each warp takes 8 tree blocks at a time (a round,
// staged in shared memory), 4 lanes per tree block, lane c of a group reading the 8-element
// units c + 4k, k = 0 … 7. Term i = 32k + 8c + j is the lane's unit k,
// element j, so butterflies s = 128, 64, 32 pair units k and k + 4, k + 2, k + 1 inside the
// lane; s = 16 and 8 pair lanes c and c ^ 2, c ^ 1: each keeps half of the values and
// sends the other half (the sums are commutative, so the exchange is exact), and s = 4, 2, 1
// continue on the remaining two, one, one value. The last block to finish (a counter) forms
// the levels above 2 with block_tree_sum, then σ and s, and resets the counters. Zero padding
// at any level adds +0 to sums of non-negative terms, so it changes no bit.
inline constexpr std::size_t sq_chunk = tree_block * tree_block;

/// 8 consecutive inputs as raw bits (one 16-byte word, two for float).
template <class In>
struct unit_bits {
    uint4 q[sizeof(In) == 4 ? 2 : 1];
};

/// The unit of 8 inputs from i; past n: NaN bits (no term, not counted).
template <class In>
__device__ __forceinline__ void load_unit_bits(const In* x, std::size_t i, std::size_t n, bool vec,
                                               unit_bits<In>& u) {
    constexpr int P = sizeof(In) == 4 ? 2 : 1;
    if (vec && i + 8 <= n) {
#pragma unroll
        for (int p = 0; p < P; ++p) u.q[p] = __ldg(reinterpret_cast<const uint4*>(x + i) + p);
        return;
    }
    unsigned w[4 * P];
#pragma unroll
    for (int k = 0; k < 4 * P; ++k) w[k] = 0;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        unsigned b;
        if constexpr (sizeof(In) == 4)
            b = i + j < n ? __float_as_uint(to_float(x[i + j])) : 0x7fffffffu;
        else {
            unsigned short h = 0x7fff;  // NaN in binary16 and bfloat16
            if (i + j < n) memcpy(&h, x + i + j, 2);
            b = h;
        }
        if constexpr (sizeof(In) == 4)
            w[j] = b;
        else
            w[j / 2] |= b << (16 * (j % 2));
    }
#pragma unroll
    for (int p = 0; p < P; ++p)
        u.q[p] = make_uint4(w[4 * p], w[4 * p + 1], w[4 * p + 2], w[4 * p + 3]);
}

/// Element j (a constant) of a unit, as float.
template <class In>
__device__ __forceinline__ float unit_elem(const unit_bits<In>& u, int j) {
    if constexpr (sizeof(In) == 4) {
        const uint4 q = u.q[j / 4];
        const unsigned w[4] = {q.x, q.y, q.z, q.w};
        return __uint_as_float(w[j % 4]);
    } else {
        const uint4 q = u.q[0];
        const unsigned w[4] = {q.x, q.y, q.z, q.w}, h = j % 2 ? w[j / 2] >> 16 : w[j / 2] & 0xffffu;
        if constexpr (std::is_same_v<In, __nv_bfloat16>)
            return __uint_as_float(h << 16);
        else
            return __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
    }
}

/// The σ kernel's per-warp stage: 8 tree blocks of 256 inputs, each padded by 64 bytes.
template <class In>
struct sumsq_stage {
    static constexpr int unit_bytes = 8 * int(sizeof(In));
    static constexpr int stride = int(tree_block) * int(sizeof(In)) + 64;
    static constexpr int chunks =
        int(tree_block) * int(sizeof(In)) / 16;     // 16-byte copies per tree block
    static constexpr int copies = 8 * chunks / 32;  // per lane and round
    static constexpr int round_bytes = 8 * stride;
    static constexpr int bytes = 8 * 2 * round_bytes;  // 8 warps, two stages each
};

/// The exchange of butterfly stage s between lanes c and c ^ m (m = 2 or 1): `up` keeps the
/// upper half of its pairs; r[j] = keep[j] + the partner's sent value.
template <int N>
__device__ __forceinline__ void exchange_half(const double (&w)[2 * N], double (&r)[N], bool up,
                                              int m) {
#pragma unroll
    for (int j = 0; j < N; ++j) {
        const double send = up ? w[j] : w[j + N], keep = up ? w[j + N] : w[j];
        r[j] = __dadd_rn(keep, __shfl_xor_sync(0xffffffffu, send, m));
    }
}

template <int Bits, bool Quest, class In, class C>
__global__ void __launch_bounds__(bbq_threads, 2)
    bbq_sumsq_kernel(const In* __restrict__ x, std::size_t n, bool vec, double* level2,
                     unsigned long long* counters, float* sigmas, float* scales, C c) {
    using S = sumsq_stage<In>;
    extern __shared__ uint4 sumsq_mem[];  // per warp two stages of 8 padded tree blocks
    __shared__ double lvl1[tree_block];
    __shared__ bool last;
    const unsigned tid = threadIdx.x, lane = tid % 32, warp = tid / 32, g = lane / 4, cl = lane % 4;
    unsigned char* mine = reinterpret_cast<unsigned char*>(sumsq_mem) + warp * 2 * S::round_bytes;
    const std::size_t chunks = (n + sq_chunk - 1) / sq_chunk;
    unsigned long long fin = 0;
    // Work items: (chunk, round r of 4); a round is 8 tree blocks per warp, copied by cp.async into
    // the warp's stage (tree block b at b · S::stride, so lane (g, c)'s 16-byte reads of units
    // c + 4k hit distinct banks), the next round in flight while this one is reduced. A round that
    // reaches past n, or an unaligned input, is filled by plain loads (NaN past n).
    auto issue_round = [&](std::size_t ch, int r, int buf) {
        const std::size_t base = ((ch * 8 + warp) * 32 + r * 8) * tree_block;
        unsigned char* s = mine + buf * S::round_bytes;
        __syncwarp();  // every lane is done reading this stage
        if (vec && base + 8 * tree_block <= n) {
            const unsigned char* gp = reinterpret_cast<const unsigned char*>(x + base);
#pragma unroll
            for (int k = 0; k < S::copies; ++k) {
                const unsigned q = lane + 32 * k;
                cp_async16(s + (q / S::chunks) * S::stride + (q % S::chunks) * 16,
                           gp + std::size_t(q) * 16);
            }
        } else {
#pragma unroll
            for (int k = 0; k < 8; ++k) {  // lane (g, c) fills the units it will read
                unit_bits<In> u;
                load_unit_bits(x, base + g * tree_block + 8 * (cl + 4 * k), n, false, u);
#pragma unroll
                for (int p = 0; p < int(sizeof(u.q) / 16); ++p)
                    reinterpret_cast<uint4*>(s + g * S::stride + (cl + 4 * k) * S::unit_bytes)[p] =
                        u.q[p];
            }
        }
        cp_async_commit();
    };
    auto load_round = [&](int buf, unit_bits<In>(&u)[8]) {
        const unsigned char* s = mine + buf * S::round_bytes + g * S::stride;
#pragma unroll
        for (int k = 0; k < 8; ++k)
#pragma unroll
            for (int p = 0; p < int(sizeof(u[k].q) / 16); ++p)
                u[k].q[p] = reinterpret_cast<const uint4*>(s + (cl + 4 * k) * S::unit_bytes)[p];
    };
    auto reduce_round = [&](const unit_bits<In>(&u)[8], int r) {
        unsigned cnt = 0;
        double w[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            double t[8];
#pragma unroll
            for (int k = 0; k < 8; ++k) {
                const float f = unit_elem(u[k], j);
                const bool ok = isfinite(f);
                cnt += ok ? 1u : 0u;
                const double d = ok ? double(f) : 0.0;
                t[k] = __dmul_rn(d, d);
            }
#pragma unroll
            for (int k = 0; k < 4; ++k) t[k] = __dadd_rn(t[k], t[k + 4]);  // s = 128
#pragma unroll
            for (int k = 0; k < 2; ++k) t[k] = __dadd_rn(t[k], t[k + 2]);  // s = 64
            w[j] = __dadd_rn(t[0], t[1]);  // s = 32: w[j] = v[8c + j]
        }
        fin += cnt;
        double r1[4], r2[2], r3[1];
        exchange_half<4>(w, r1, (cl & 2u) != 0, 2);   // s = 16: now v[8(c&1) + 4(c>>1) + j]
        exchange_half<2>(r1, r2, (cl & 1u) != 0, 1);  // s = 8:  v[4(c>>1) + 2(c&1) + j]
        exchange_half<1>(r2, r3, (cl & 2u) != 0, 2);  // s = 4:  v[2(c&1) + (c>>1)]
        double s = __dadd_rn(r3[0], __shfl_xor_sync(0xffffffffu, r3[0], 1));  // s = 2: v[c>>1]
        s = __dadd_rn(s, __shfl_xor_sync(0xffffffffu, s, 2));  // s = 1: the tree block's sum
        if (cl == 0) lvl1[warp * 32 + r * 8 + g] = s;
    };
    auto finish_chunk =
        [&](std::size_t ch) {  // level 2: the butterfly of the chunk's 256 level-1 sums
            __syncthreads();
            if (warp == 0) {
                double v[8];
#pragma unroll
                for (int k = 0; k < 8; ++k) v[k] = lvl1[lane + 32 * k];
#pragma unroll
                for (int k = 0; k < 4; ++k) v[k] = __dadd_rn(v[k], v[k + 4]);
#pragma unroll
                for (int k = 0; k < 2; ++k) v[k] = __dadd_rn(v[k], v[k + 2]);
                v[0] = __dadd_rn(v[0], v[1]);
#pragma unroll
                for (int s = 16; s >= 1; s /= 2)
                    v[0] = __dadd_rn(v[0], __shfl_down_sync(0xffffffffu, v[0], s));
                if (lane == 0) level2[ch] = v[0];
            }
            __syncthreads();
        };
    std::size_t ch = blockIdx.x;
    int r = 0, buf = 0;
    if (ch < chunks) issue_round(ch, 0, 0);
    while (ch < chunks) {
        const std::size_t nch = r == 3 ? ch + gridDim.x : ch;
        const int nr = (r + 1) % 4;
        if (nch < chunks)
            issue_round(nch, nr, buf ^ 1);
        else
            cp_async_commit();  // an empty group keeps "all but the newest" meaning this round
        cp_async_wait_one();
        __syncwarp();  // the round's copies by every lane are in
        unit_bits<In> u[8];
        load_round(buf, u);
        reduce_round(u, r);
        if (r == 3) finish_chunk(ch);
        ch = nch;
        r = nr;
        buf ^= 1;
    }
    fin = block_reduce(fin, add_op{});
    if (tid == 0) {
        if (fin) atomicAdd(&counters[0], fin);
        __threadfence();
        last = atomicAdd(&counters[1], 1ull) == gridDim.x - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    const sum2 top = block_tree_sum(chunks, [&](std::size_t i) {
        return sum2{0.0, __ldcg(level2 + i)};
    });
    if (tid == 0) {
        const unsigned long long finite = atomicAdd(&counters[0], 0ull);
        const float s = sigma_of(top.b, finite);
        sigmas[0] = s;
        scales[0] = scale_for_dev<Bits, Quest>(s, c);
        counters[0] = 0;  // ready for the next launch
        counters[1] = 0;
    }
}

// ---- encode, two lanes per Hadamard block ----
//
// The tile of one block of 256 threads is 128 Hadamard blocks (16384 elements). Lane pair
// (2b, 2b + 1) owns Hadamard block b, 64 contiguous elements per lane: butterflies len 1 … 32
// stay in the lane's registers, len 64 is one shuffle with the other lane, so per element there
// is 1 shuffle instead of 4. The input reaches shared memory by cp.async (16 bytes per copy,
// coalesced, the next tile in flight while this one is computed), each half block padded by
// 16 bytes so that the lanes' 16-byte reads of their own half blocks hit distinct banks.
// BBQ's count is a table lookup (table_count) and one comparison; the codes of a lane's 64
// elements are packed in registers and leave as 16- (or 8-) byte stores.

/// q = #{i : v ≥ t_i} by a count table held in shared memory (count_table's comment).
/// ⌊f⌋ saturated to [−128, 127] (cvt.rmi.s8, sign-extended into the 32-bit register); NaN → 0.
__device__ __forceinline__ int floor_s8(float f) {
    int r;
    asm("cvt.rmi.s8.f32 %0, %1;" : "=r"(r) : "f"(f));
    return r;
}

/// v's cell of a table copied by load_count_table.
template <int N>
__device__ __forceinline__ count_cell table_cell(float v, const count_cell* tab,
                                                 const count_table<N>& t) {
    return tab[floor_s8(__fmaf_rn(v, t.k, t.c)) + 128];
}
template <int N>
__device__ __forceinline__ unsigned table_count(float v, const count_cell* tab,
                                                const count_table<N>& t) {
    const count_cell e = table_cell(v, tab, t);
    return unsigned(e.q) + (v >= e.t ? 1u : 0u);
}
/// Expands a count table into the 256 cells of shared memory; every thread of the block calls it.
template <int N>
__device__ __forceinline__ void load_count_table(count_cell* tab, const count_table<N>& t) {
    for (int k = int(threadIdx.x); k < count_cells_smem; k += int(blockDim.x)) {
        const int i = k - 128;
        tab[k] = i < t.lo ? count_cell{__int_as_float(0x7fffffff), 0}
            : i > t.hi    ? count_cell{__int_as_float(0x7fffffff), t.total}
                          : t.cell[i - t.lo];
    }
}

/// q_u of a butterfly output y (before the 1/√128). Fold: the table is on y itself (σ given,
/// count_table yt). Else y · norm128 · mult (BBQ: 1/σ, QuEST: 1/s) by table (BBQ) or floor (QuEST).
template <int Bits, bool Quest, bool Fold, class C>
__device__ __forceinline__ unsigned code_index(float y, float mult, const C& c,
                                               const count_cell* tab) {
    constexpr int half = 1 << (Bits - 1);
    if constexpr (Fold) return table_count(y, tab, c.yt);
    const float u = __fmul_rn(__fmul_rn(y, c.norm128), mult);
    if constexpr (Quest) {
        int k = __float2int_rd(u);  // NaN → 0 = floor(0); ±Inf and huge values saturate, then clamp
        k = min(max(k, -half), half - 1);
        return unsigned(k + half);
    } else {
        return table_count(u, tab, c.vt);
    }
}

/// The int_b flip (q_u ^ 2^{B−1} in every field) of word w of a lane's 64 packed codes.
template <int Bits, int CodeBits>
__host__ __device__ constexpr std::uint32_t flip_pattern(int w) {
    std::uint32_t p = 0;
    for (int e = 0; e < 64; ++e) {
        const int pos = e * CodeBits;
        const std::uint64_t f = std::uint64_t(1u << (Bits - 1)) << (pos % 32);
        if (pos / 32 == w) p |= std::uint32_t(f);
        if (pos / 32 + 1 == w) p |= std::uint32_t(f >> 32);
    }
    return p;
}

template <class In>
struct pair_tile {
    static constexpr int threads = 256;
    static constexpr int elems = threads * 64;  // 128 Hadamard blocks
    static constexpr int half_bytes = 64 * int(sizeof(In));
    static constexpr int stride =
        half_bytes + 16;  // padded: lane l's reads start in bank 4l mod 32
    static constexpr int chunks = half_bytes / 16;  // 16-byte copies per half block
    static constexpr int bytes = threads * stride;  // one stage
};

/// A lane's 64 elements from its padded half block in shared memory, as floats.
template <class In>
__device__ __forceinline__ void load_half(const unsigned char* p, float (&v)[64]) {
    const uint4* q = reinterpret_cast<const uint4*>(p);
    if constexpr (std::is_same_v<In, float>) {
#pragma unroll
        for (int k = 0; k < 16; ++k) {
            const uint4 w = q[k];
            v[4 * k] = __uint_as_float(w.x);
            v[4 * k + 1] = __uint_as_float(w.y);
            v[4 * k + 2] = __uint_as_float(w.z);
            v[4 * k + 3] = __uint_as_float(w.w);
        }
    } else {
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            const uint4 w4 = q[k];
            const unsigned w[4] = {w4.x, w4.y, w4.z, w4.w};
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                if constexpr (std::is_same_v<In, __nv_bfloat16>) {  // bf16 → f32: the bits shifted
                                                                    // up (exact)
                    v[8 * k + 2 * i] = __uint_as_float(w[i] << 16);
                    v[8 * k + 2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
                } else {
                    v[8 * k + 2 * i] =
                        __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] & 0xffffu)));
                    v[8 * k + 2 * i + 1] =
                        __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] >> 16)));
                }
            }
        }
    }
}

/// Rows a multiple of 128, H = 128, x 16-byte aligned, packed aligned to its 8- or 16-byte stores.
template <int Bits, bool Quest, bbq_codes Codes, int CodeBits, bool Fold, class In, class C>
__global__ void __launch_bounds__(256, 2)
    bbq_encode_pairs_kernel(const In* __restrict__ x, std::size_t n, std::size_t cols,
                            std::uint8_t* __restrict__ packed, slot_source src, C c,
                            nibble_order order) {
    using T = pair_tile<In>;
    extern __shared__ uint4 stage_mem[];  // two stages of T::bytes
    unsigned char* stage = reinterpret_cast<unsigned char*>(stage_mem);
    __shared__ count_cell tab[count_cells_smem];
    const unsigned tid = threadIdx.x;
    if constexpr (Fold)
        load_count_table(tab, c.yt);
    else if constexpr (!Quest)
        load_count_table(tab, c.vt);
    store_given<Bits, Quest>(src, c);
    const std::size_t tiles = (n + T::elems - 1) / T::elems;
    auto issue = [&](std::size_t tile, int buf) {
        const unsigned char* g = reinterpret_cast<const unsigned char*>(x + tile * T::elems);
        const std::size_t left =
            (n - tile * T::elems) * sizeof(In);  // bytes of the tile that exist (a multiple of 256)
        unsigned char* s = stage + buf * T::bytes;
#pragma unroll
        for (int k = 0; k < T::chunks; ++k) {
            const unsigned q = tid + T::threads * k;
            if (std::size_t(q) * 16 < left)
                cp_async16(s + (q / T::chunks) * T::stride + (q % T::chunks) * 16,
                           g + std::size_t(q) * 16);
        }
        cp_async_commit();
    };
    float mult = src.per_row ? 0.0f : slot_multiplier<Bits, Quest>(src, 0, c);
    const float sgn = (tid & 1u) ? -1.0f : 1.0f;
    std::size_t tile = blockIdx.x;
    if (tile < tiles) issue(tile, 0);
    for (int k = 0; tile < tiles; tile += gridDim.x, ++k) {
        cp_async_wait_all();
        __syncthreads();  // this tile is in; every lane is done reading the stage the next copy
                          // overwrites
        if (tile + gridDim.x < tiles) issue(tile + gridDim.x, (k + 1) & 1);
        float v[64];
        load_half<In>(stage + (k & 1) * T::bytes + tid * T::stride, v);
#pragma unroll
        for (int len = 1; len < 64; len *= 2)
#pragma unroll
            for (int j = 0; j < 64; ++j)
                if ((j & len) == 0) butterfly(v[j], v[j + len]);
                    // len 64 across the lane pair: lower a + b = fma(1, a, b), upper a − b =
                    // fma(−1, b, a), each one rounding of the exact sum (also for zeros: x − x and
                    // −0 − (−0) are +0 both ways).
#pragma unroll
        for (int j = 0; j < 64; ++j)
            v[j] = __fmaf_rn(sgn, v[j], __shfl_xor_sync(0xffffffffu, v[j], 1));
        const std::size_t e0 = tile * T::elems + std::size_t(tid) * 64;
        if (e0 >= n) continue;
        if (src.per_row) mult = slot_multiplier<Bits, Quest>(src, e0 / cols, c);
        std::uint32_t w[2 * CodeBits] = {};
#pragma unroll
        for (int e = 0; e < 64; ++e) {
            constexpr int cb = CodeBits;
            const int pos = e * cb;
            if constexpr (Codes != bbq_codes::e2m1 && (Fold || !Quest)) {
                if (pos % 32 + cb <= 32) {
                    // table count straight into the packed word: + cell.q, then + 1 where v ≥
                    // cell.t (fields are disjoint and q + 1 < 2^B where the comparison can hold: no
                    // carries)
                    const auto& tt = Fold ? c.yt : c.vt;
                    const float u = Fold ? v[e] : __fmul_rn(__fmul_rn(v[e], c.norm128), mult);
                    const count_cell ce = table_cell(u, tab, tt);
                    w[pos / 32] += unsigned(ce.q) << (pos % 32);
                    if (u >= ce.t) w[pos / 32] += 1u << (pos % 32);
                    continue;
                }
            }
            unsigned code = code_index<Bits, Quest, Fold>(v[e], mult, c, tab);
            if constexpr (Codes == bbq_codes::e2m1) code = (c.e2m1 >> (4 * code)) & 0xFu;
            w[pos / 32] += code << (pos % 32);  // fields are disjoint: + is |
            if (pos % 32 + cb > 32) w[pos / 32 + 1] += code >> (32 - pos % 32);
        }
#pragma unroll
        for (int i = 0; i < 2 * CodeBits; ++i) {
            if constexpr (Codes == bbq_codes::int_b) w[i] ^= flip_pattern<Bits, CodeBits>(i);
            if (CodeBits == 4 && order == nibble_order::high_first)
                w[i] = ((w[i] & 0x0f0f0f0fu) << 4) | ((w[i] >> 4) & 0x0f0f0f0fu);
        }
        std::uint8_t* p = packed + e0 / 8 * CodeBits;
        if constexpr (CodeBits == 4) {
            // The pair's 64 bytes are 16-byte chunks 0, 1 (lower lane) and 2, 3 (upper): swap chunk
            // 1 and 2 so that store k writes chunk 2k + (lane & 1), 512 contiguous bytes per warp
            // store.
            const bool up = (tid & 1u) != 0;
            const unsigned pair = 3u << (tid % 32 & ~1u);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const std::uint32_t got = __shfl_xor_sync(pair, up ? w[i] : w[4 + i], 1);
                if (up)
                    w[i] = got;
                else
                    w[4 + i] = got;
            }
            std::uint8_t* p0 = p - (up ? 32 : 0);
#pragma unroll
            for (int k = 0; k < 2; ++k)
                reinterpret_cast<uint4*>(p0)[2 * k + (up ? 1 : 0)] =
                    make_uint4(w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3]);
        } else if constexpr (CodeBits % 2 == 0) {
#pragma unroll
            for (int i = 0; i < CodeBits / 2; ++i)
                reinterpret_cast<uint4*>(p)[i] =
                    make_uint4(w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]);
        } else {
#pragma unroll
            for (int i = 0; i < CodeBits; ++i)
                reinterpret_cast<uint2*>(p)[i] = make_uint2(w[2 * i], w[2 * i + 1]);
        }
    }
}

/// Any shape: one thread per Hadamard block, one code byte per element into `codes`.
template <int Bits, bool Quest, bbq_codes Codes, class In, class C>
__global__ void __launch_bounds__(bbq_threads)
    bbq_encode_any_kernel(const In* __restrict__ x, std::size_t rows, std::size_t cols,
                          std::size_t H, std::uint8_t* __restrict__ codes, slot_source src, C c) {
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
    for (unsigned k = 0; k < h; ++k)
        codes[i0 + k] = encode_dev<Bits, Quest, Codes>(buf[k], mult, c, thr);
}

/// Packs one code byte per element into the stream, 8 codes per thread.
template <int CodeBits>
__global__ void __launch_bounds__(bbq_threads)
    bbq_pack_kernel(const std::uint8_t* __restrict__ codes, std::size_t n,
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
__device__ __forceinline__ unsigned code_at_dev(const std::uint8_t* packed, std::size_t i,
                                                nibble_order order) {
    if (CodeBits == 4 && order == nibble_order::high_first)
        return (packed[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xFu;
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
__global__ void __launch_bounds__(bbq_threads)
    bbq_decode128_kernel(const std::uint8_t* __restrict__ packed, std::size_t n, std::size_t cols,
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
__global__ void __launch_bounds__(bbq_threads)
    bbq_decode_any_kernel(const std::uint8_t* __restrict__ packed, std::size_t rows,
                          std::size_t cols, std::size_t H, const float* __restrict__ scales,
                          bool per_row, bool transform, Out* __restrict__ y, C c,
                          nibble_order order) {
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
    for (unsigned k = 0; k < h; ++k)
        buf[k] = __fmul_rn(s, lv[code_at_dev<CodeBits>(packed, i0 + k, order)]);
    if (transform) hadamard_local(buf, h);
    for (unsigned k = 0; k < h; ++k) y[i0 + k] = from_float<Out>(buf[k]);
}

inline unsigned bbq_blocks(std::size_t items) {
    return static_cast<unsigned>((items + bbq_threads - 1) / bbq_threads);
}

}  // namespace detail

/// BBQ (Quest = false) or QuEST (Quest = true) of `Bits` bits on the GPU, codes emitted as `Codes`
/// (see formats/bbq.hpp); the CPU's rotated_quantizer<Bits, Quest, Codes>, bit for bit.
template <int Bits, bool Quest, bbq_codes Codes = bbq_codes::int_b>
class rotated_quantizer {
public:
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: BBQ / QuEST need 1 <= Bits <= 8");
    static_assert(Codes != bbq_codes::e2m1 || Bits <= 3,
                  "lowbit: E2M1 codes hold the levels exactly only for Bits <= 3 (z = 0) or Bits "
                  "<= 2 (z = -1/2)");
    static constexpr int bits = Bits;
    static constexpr int code_bits = bbq_code_bits(Bits, Codes);
    using options = bbq_options;
    using consts = detail::bbq_consts<Bits, code_bits>;

    rotated_quantizer() : rotated_quantizer(options{}) {}
    explicit rotated_quantizer(options o) : opt_(o) {
        lowbit::detail::require(
            opt_.hadamard == 0 ||
                (std::has_single_bit(opt_.hadamard) && opt_.hadamard >= 2 && opt_.hadamard <= 128),
            "options.hadamard", "must be 0 or a power of two 2 … 128 on the GPU");
        if (opt_.sigma_from == bbq_sigma::given)
            lowbit::detail::require(std::isfinite(opt_.sigma) && opt_.sigma > 0.0f, "options.sigma",
                                    "must be finite and > 0 when sigma_from is given");
        lowbit::detail::require(std::isfinite(opt_.gamma) && opt_.gamma >= 0.0f, "options.gamma",
                                "must be finite and >= 0 (0: zeta* sigma)");
        lowbit::detail::require(opt_.order == nibble_order::low_first ||
                                    (code_bits == 4 && opt_.order == nibble_order::high_first),
                                "options.order",
                                "must be low_first, or high_first for 4-bit codes");
        if (Quest) opt_.zero = bbq_zero::half;
        lowbit::detail::require(
            Codes != bbq_codes::e2m1 || bbq_e2m1_exact(Bits, opt_.zero), "options.zero",
            "E2M1 codes need z = 0 at 3 bits (the levels ±2.5, ±3.5 of z = -1/2 are not in E2M1)");
        const auto& t = bbq_format<Bits>::thresholds();
        c_.thr[0] = c_.thr[t.size() + 1] = std::numeric_limits<float>::quiet_NaN();
        for (std::size_t i = 0; i < t.size(); ++i) c_.thr[i + 1] = t[i];
        c_.e2m1 = 0;
        for (auto& l : c_.level) l = 0.0f;
        for (unsigned q = 0; q < (1u << Bits); ++q) {
            const float lv = Quest ? quest_format<Bits>::level(std::uint8_t(q))
                                   : bbq_format<Bits>::level(std::uint8_t(q), opt_.zero);
            c_.level[bbq_emit<Bits>(std::uint8_t(q), lv, Codes)] = lv;
            if (Codes == bbq_codes::e2m1 && Bits <= 3)
                c_.e2m1 |= std::uint32_t(bbq_emit<Bits>(std::uint8_t(q), lv, Codes)) << (4 * q);
        }
        c_.quest_step = Quest ? quest_format<Bits>::step() : 0.0;
        c_.gamma = opt_.gamma;
        c_.zero_half = opt_.zero == bbq_zero::half;
        c_.norm128 = hadamard_norm(128);
        check_given_scale();
        build_tables();  // last: the folded thresholds are moved back through c_.norm128
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    /// Whether the σ-given count table on the butterflies' outputs exists (σ given, Bits ≤ 5,
    /// options.fold, and a table fits); the lane-pair kernel then needs no multiplication.
    [[nodiscard]] bool folded() const noexcept { return c_.folded; }

    /// The encode kernel quantize() launches for this input, shape and packed output (the one
    /// place where it is chosen).
    template <class In>
    [[nodiscard]] bbq_encode_path encode_path(const In* x, shape2d shape,
                                              const std::uint8_t* packed) const noexcept {
        if (opt_.hadamard != 128 || shape.cols % 128 != 0) return bbq_encode_path::per_block;
        constexpr bool even = code_bits % 2 == 0;
        const bool fits = (reinterpret_cast<std::uintptr_t>(packed) & (even ? 15u : 7u)) == 0 &&
            detail::aligned16(x);
        if (fits && Bits <= detail::bbq_table_bits)
            return c_.folded ? bbq_encode_path::pairs_folded : bbq_encode_path::pairs;
        return bbq_encode_path::lanes16;
    }

    /// The decode kernel dequantize() launches for this shape.
    [[nodiscard]] bbq_decode_path decode_path(shape2d shape) const noexcept {
        const bool transform = opt_.to_input && opt_.hadamard != 0;
        return shape.cols % 128 == 0 && (opt_.hadamard == 128 || !transform)
            ? bbq_decode_path::lanes16
            : bbq_decode_path::per_block;
    }

    /// Quantizes a row-major `shape` tensor x (device float, __half or __nv_bfloat16) into t.
    template <class In>
    void quantize(const In* x, shape2d shape, device_bbq_tensor& t, cudaStream_t stream = nullptr) {
        t.shape = shape;
        require_shape(shape.rows, shape.cols);
        const std::size_t n = shape.size();
        // No σ slot for an empty tensor (rows or cols 0: the CPU's detail::sigma_slots).
        t.slots = n == 0 ? 0 : opt_.sigma_from == bbq_sigma::per_row ? shape.rows : 1;
        t.packed.reserve(packed_size(n, code_bits));
        t.sigmas.reserve(t.slots);
        t.scales.reserve(t.slots);
        quantize_into(x, shape, t.view(), stream);
    }

    /// Quantizes into arrays the caller owns (sizes as device_bbq_tensor's).
    template <class In>
    void quantize_into(const In* x, shape2d shape, bbq_tensor_view t,
                       cudaStream_t stream = nullptr) {
        require_shape(shape.rows, shape.cols);
        const std::size_t n = shape.size();
        lowbit::detail::require(n == 0 || x != nullptr, "x", "must not be null");
        if (n == 0) return;
        const std::size_t cols = shape.cols;
        detail::slot_source src{t.sigmas, t.scales, 0.0f, opt_.sigma_from == bbq_sigma::per_row};
        if (opt_.sigma_from == bbq_sigma::given) {
            src.given = opt_.sigma;
        } else if (opt_.sigma_from == bbq_sigma::per_row) {
            detail::bbq_row_sigma_kernel<Bits, Quest, In>
                <<<unsigned(shape.rows), detail::bbq_threads, 0, stream>>>(x, cols, t.sigmas,
                                                                           t.scales, c_);
            check_launch("bbq quantize (row sigma)");
        } else {
            // Σx² in tree order and σ, s by one kernel (its last block finishes the tree).
            const std::size_t chunks = (n + detail::sq_chunk - 1) / detail::sq_chunk;
            const std::size_t need = 2 * sizeof(unsigned long long) + chunks * sizeof(double);
            if (work_.size() < need) {
                work_.reserve(need);
                check(cudaMemsetAsync(work_.data(), 0, 2 * sizeof(unsigned long long), stream),
                      "cudaMemsetAsync");  // the kernel resets them after
            }
            auto* counters = reinterpret_cast<unsigned long long*>(work_.data());
            auto* level2 = reinterpret_cast<double*>(work_.data() + 2 * sizeof(unsigned long long));
            constexpr auto kernel = detail::bbq_sumsq_kernel<Bits, Quest, In, consts>;
            constexpr std::size_t smem = detail::sumsq_stage<In>::bytes;
            const unsigned grid = grid_for<kernel>(detail::bbq_threads, smem, chunks);
            kernel<<<grid, detail::bbq_threads, smem, stream>>>(x, n, detail::aligned16(x), level2,
                                                                counters, t.sigmas, t.scales, c_);
            check_launch("bbq quantize (tensor sigma)");
        }
        // The guard scan (file comment, "Non-finite and huge inputs"): after σ and s exist, before
        // the encode; its three indices come back after the encode, one host synchronisation.
        guard_.reserve(3);
        check(cudaMemsetAsync(guard_.data(), 0xFF, 3 * sizeof(unsigned long long), stream),
              "cudaMemsetAsync");
        const bool check_scales =
            opt_.to_input && opt_.hadamard != 0 && opt_.sigma_from != bbq_sigma::given;
        const unsigned scan_grid = std::min<unsigned>(detail::bbq_blocks(n), unsigned(sms()) * 16u);
        detail::bbq_guard_scan_kernel<Bits, In><<<scan_grid, detail::bbq_threads, 0, stream>>>(
            x, n, check_scales ? t.scales : nullptr, check_scales ? t.slots : 0, guard_.data());
        check_launch("bbq quantize (guard scan)");
        switch (encode_path(x, shape, t.packed)) {
            case bbq_encode_path::pairs_folded:
                launch_pairs<true>(x, n, cols, t.packed, src, stream);
                break;
            case bbq_encode_path::pairs:
                launch_pairs<false>(x, n, cols, t.packed, src, stream);
                break;
            case bbq_encode_path::lanes16: launch_lanes16(x, n, cols, t.packed, src, stream); break;
            case bbq_encode_path::per_block: encode_blocks(x, shape, t.packed, src, stream); break;
        }
        unsigned long long g[3];
        check(cudaMemcpyAsync(g, guard_.data(), sizeof g, cudaMemcpyDeviceToHost, stream),
              "cudaMemcpyAsync");
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        throw_guarded(g);
    }

    /// Dequantizes t (made by this quantizer's options) into y (device float, __half or
    /// __nv_bfloat16): s · level, then (options.to_input) the inverse transform, in float.
    template <class Out>
    void dequantize(const bbq_tensor_view& t, Out* y, cudaStream_t stream = nullptr) const {
        const std::size_t n = t.shape.size();
        if (n == 0) return;
        require_shape(t.shape.rows, t.shape.cols);
        lowbit::detail::require(y != nullptr && t.packed != nullptr && t.scales != nullptr, "t",
                                "needs packed codes, scales and an output");
        const std::size_t slots = opt_.sigma_from == bbq_sigma::per_row ? t.shape.rows : 1;
        lowbit::detail::require(t.slots == slots, "t.slots",
                                "must hold one scale per slot of this quantizer's options");
        const std::size_t cols = t.shape.cols, H = opt_.hadamard;
        const bool per_row = opt_.sigma_from == bbq_sigma::per_row,
                   transform = opt_.to_input && H != 0;
        if (decode_path(t.shape) == bbq_decode_path::lanes16) {
            const std::size_t groups = n / 128;
            const std::size_t want = (groups + 15) / 16, cap = std::size_t(sms()) * 16;
            const bool vec = detail::aligned16(y),
                       aligned = (reinterpret_cast<std::uintptr_t>(t.packed) & 7u) == 0;
            detail::bbq_decode128_kernel<code_bits, Out>
                <<<unsigned(want < cap ? want : cap), detail::bbq_threads, 0, stream>>>(
                    t.packed, n, cols, t.scales, per_row, transform, y, c_, opt_.order, vec,
                    aligned);
            check_launch("bbq dequantize (fused inverse Hadamard)");
            return;
        }
        const std::size_t items = t.shape.rows * detail::blocks_per_row(cols, transform ? H : 0);
        detail::bbq_decode_any_kernel<code_bits, Out>
            <<<detail::bbq_blocks(items), detail::bbq_threads, 0, stream>>>(
                t.packed, t.shape.rows, cols, transform ? H : 0, t.scales, per_row, transform, y,
                c_, opt_.order);
        check_launch("bbq dequantize");
    }

private:
    static int device() {
        int dev = 0;
        check(cudaGetDevice(&dev), "cudaGetDevice");
        return dev;
    }
    static int sms() {
        int s = 0;
        check(cudaDeviceGetAttribute(&s, cudaDevAttrMultiProcessorCount, device()),
              "cudaDeviceGetAttribute");
        return s;
    }
    /// Blocks for `work` grid-stride items: all that fit on the device at once (raising the
    /// kernel's dynamic shared memory limit the first time, per device), at most `work` and
    /// options.max_blocks.
    template <auto kernel>
    unsigned grid_for(int threads, std::size_t smem, std::size_t work) const {
        static int fit[64] = {};  // per device: blocks per SM × SMs (0: not asked yet)
        const int dev = device();
        int f = dev < 64 ? fit[dev] : 0;
        if (f == 0) {
            if (smem > 48 * 1024)
                check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           int(smem)),
                      "cudaFuncSetAttribute");
            int per_sm = 0;
            check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem),
                  "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
            f = (per_sm > 0 ? per_sm : 1) * sms();
            if (dev < 64) fit[dev] = f;
        }
        std::size_t g = work < std::size_t(f) ? work : std::size_t(f);
        if (opt_.max_blocks && g > opt_.max_blocks) g = opt_.max_blocks;
        return unsigned(g ? g : 1);
    }
    /// 16 lanes per Hadamard block (H = 128, rows a multiple of 128).
    template <class In>
    void launch_lanes16(const In* x, std::size_t n, std::size_t cols, std::uint8_t* packed,
                        detail::slot_source src, cudaStream_t stream) const {
        const std::size_t groups = n / 128;
        const std::size_t want = (groups + 15) / 16, cap = std::size_t(sms()) * 16;
        const bool vec = detail::aligned16(x),
                   aligned = (reinterpret_cast<std::uintptr_t>(packed) & 7u) == 0;
        detail::bbq_encode128_kernel<Bits, Quest, Codes, code_bits, In>
            <<<unsigned(want < cap ? want : cap), detail::bbq_threads, 0, stream>>>(
                x, n, cols, packed, src, c_, opt_.order, vec, aligned);
        check_launch("bbq quantize (fused Hadamard encode)");
    }
    /// One thread per Hadamard block (codes to a scratch byte per element), then the packing
    /// kernel.
    template <class In>
    void encode_blocks(const In* x, shape2d shape, std::uint8_t* packed, detail::slot_source src,
                       cudaStream_t stream) {
        const std::size_t n = shape.size(), cols = shape.cols, H = opt_.hadamard;
        scratch_.reserve(n);
        const std::size_t items = shape.rows * detail::blocks_per_row(cols, H);
        detail::bbq_encode_any_kernel<Bits, Quest, Codes, In>
            <<<detail::bbq_blocks(items), detail::bbq_threads, 0, stream>>>(
                x, shape.rows, cols, H, scratch_.data(), src, c_);
        check_launch("bbq quantize (Hadamard encode)");
        detail::bbq_pack_kernel<code_bits>
            <<<detail::bbq_blocks((n + 7) / 8), detail::bbq_threads, 0, stream>>>(
                scratch_.data(), n, packed, opt_.order);
        check_launch("bbq quantize (pack)");
    }
    /// The lane-pair encode kernel, Fold: on the count table of y (σ given).
    template <bool Fold, class In>
    void launch_pairs(const In* x, std::size_t n, std::size_t cols, std::uint8_t* packed,
                      detail::slot_source src, cudaStream_t stream) const {
        using tile = detail::pair_tile<In>;
        constexpr auto kernel =
            detail::bbq_encode_pairs_kernel<Bits, Quest, Codes, code_bits, Fold, In, consts>;
        const unsigned grid =
            grid_for<kernel>(tile::threads, 2 * tile::bytes, (n + tile::elems - 1) / tile::elems);
        kernel<<<grid, tile::threads, 2 * tile::bytes, stream>>>(x, n, cols, packed, src, c_,
                                                                 opt_.order);
        check_launch("bbq quantize (fused Hadamard encode, lane pairs)");
    }
    /// The count tables (Bits ≤ bbq_table_bits): BBQ's thresholds on v; with σ given also the
    /// thresholds of BBQ (t_i) or QuEST (the integers −2^{B−1} + 1 … 2^{B−1} − 1 that floor
    /// crosses) moved back through v = (y · norm128) · mult, so the kernel compares y itself.
    /// Built and checked here; when none fits (or options.fold is off), the kernels multiply
    /// (c_.folded false). Reads c_.norm128, which the constructor sets first.
    void build_tables() {
        c_.folded = false;
        if constexpr (Bits <= detail::bbq_table_bits) {
            constexpr int L = 1 << Bits;
            float t[L - 1];
            if constexpr (!Quest) {
                const auto& bt = bbq_format<Bits>::thresholds();
                for (int i = 0; i < L - 1; ++i) t[i] = bt[std::size_t(i)];
                if (!detail::build_count_table(t, L - 1, 1.0f, c_.vt))
                    throw error("rotated_quantizer",
                                "no count table fits the BBQ thresholds (internal)");
            } else {
                for (int i = 0; i < L - 1; ++i) t[i] = float(i - L / 2 + 1);
            }
            if (opt_.sigma_from != bbq_sigma::given || !opt_.fold) return;
            // mult as the kernels form it (multiplier_dev), in the same IEEE operations
            auto inverse = [](float v) {
                if (v == 0.0f) return 0.0f;
                const float r = float(1.0 / double(v));
                return std::isfinite(r) ? r : 0.0f;
            };
            const float sigma = opt_.sigma;
            float mult;
            if constexpr (Quest)
                mult = inverse(std::min(float(quest_format<Bits>::step() * double(sigma)),
                                        detail::bbq_scale_top<Bits>));
            else
                mult = inverse(sigma);
            if (!(mult > 0.0f) || !std::isfinite(mult)) return;
            const float a = c_.norm128;
            for (int i = 0; i < L - 1; ++i) t[i] = detail::fold_threshold(t[i], a, mult);
            const float am = a * mult;
            const float k0 = std::exp2(std::floor(std::log2(am)));
            c_.folded =
                std::isfinite(k0) && k0 > 0.0f && detail::build_count_table(t, L - 1, k0, c_.yt);
        }
    }

    /// The CPU's error for a non-finite input under non_finite::error (same argument and text).
    [[noreturn]] static void throw_non_finite(std::size_t i) {
        throw error(
            "x",
            "element " + std::to_string(i) +
                " is not finite: BBQ and QuEST mix it into its whole Hadamard block "
                "(options.on_non_finite = "
                "non_finite::saturate maps NaN to 0 and ±Inf to ± the block's largest finite |x|)");
    }
    /// The policy of the guard scan's result g (file comment).
    void throw_guarded(const unsigned long long (&g)[3]) const {
        constexpr unsigned long long none = ~0ull;
        if (g[0] != none && opt_.on_non_finite == non_finite::error)
            throw_non_finite(std::size_t(g[0]));
        if (g[0] != none)
            throw error("options.on_non_finite",
                        "non_finite::saturate: element " + std::to_string(g[0]) +
                            " is not finite, and the CUDA backend does not saturate (the CPU's "
                            "rotated_quantizer does: quantize this tensor there)");
        if (g[1] != none)
            throw error("x",
                        "element " + std::to_string(g[1]) +
                            " has |x| >= 2^100: the guarded (pre-scaled) Hadamard transform is not "
                            "implemented on the GPU "
                            "(the CPU's rotated_quantizer handles it: quantize this tensor there)");
        if (g[2] != none)
            throw error("t.scales",
                        "slot " + std::to_string(g[2]) +
                            ": its decode step s has 2^(B-1) * s >= 2^100, whose inverse transform "
                            "the GPU does not "
                            "guard (the CPU's rotated_quantizer handles it)");
    }
    /// The σ-given or γ-given decode step must not be huge when dequantize inverse-transforms.
    void check_given_scale() const {
        if (!opt_.to_input || opt_.hadamard == 0) return;
        constexpr float top = detail::bbq_scale_top<Bits>;
        float s = -1.0f;
        if constexpr (Quest) {
            if (opt_.sigma_from == bbq_sigma::given)
                s = float(quest_format<Bits>::step() * double(opt_.sigma));
        } else if (opt_.gamma > 0.0f) {
            s = opt_.gamma / float(1 << (Bits - 1));
        } else if (opt_.sigma_from == bbq_sigma::given) {
            s = float(bbq_zeta * double(opt_.sigma)) / float(1 << (Bits - 1));
        }
        s = top < s ? top : s;
        lowbit::detail::require(!(s * float(1 << (Bits - 1)) >= 0x1p100f),
                                opt_.gamma > 0.0f && !Quest ? "options.gamma" : "options.sigma",
                                "gives a decode step s with 2^(B-1) * s >= 2^100 while to_input "
                                "inverse-transforms: the GPU does not "
                                "guard that transform (the CPU's rotated_quantizer does; or set "
                                "to_input = false / hadamard = 0)");
    }

    options opt_;
    consts c_{};
    device_buffer<unsigned long long> guard_;
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
