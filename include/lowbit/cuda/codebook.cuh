// lowbit — codebook quantizers (NormalFloat NF4/NF3/NF2 and fitted codebooks) on the GPU: quantize
// and dequantize launchers equal to the CPU's codebook_quantizer<Bits> (quantizers/codebook.hpp,
// backend::scalar) bit for bit — packed level indices, fp32 group absmax scales or the
// double-quantised scales (int8 q_g per group, fp32 step per 256 groups, fp32 mean), and
// dequantized values — so a tensor quantized on one side dequantizes on the other.
//
//   lowbit::cuda::codebook_quantizer<4> nf4;                       // NF4, groups of 64, fp32
//   absmax lowbit::cuda::device_codebook_tensor t;                        // device buffers, reused
//   nf4.quantize(x, {rows, cols}, t, stream);                      // x: device float, __half,
//   __nv_bfloat16 nf4.dequantize(t.view(), y, stream);                           // y: device
//   float, __half, __nv_bfloat16 lowbit::cuda::codebook_quantizer<4>
//   fitted(lowbit::fit_codebook<4>(sample), {});   // any levels
//   lowbit::cuda::codebook_quantizer<4> nf4_dq({.double_quant = true});               // nf4_g64_dq
//
// Semantics (the CPU file comment's): a group is G consecutive elements of a row (a row's last
// group may be short); its scale a = largest finite |x| (+0 when none); inv = 1/a, 0 when a = 0 or
// 1/a overflows; code = #{i : x·inv > t_i} with NaN read as 0.0 (detail::codebook_code in
// formats/codebook.hpp, the CPU's own definition); x̂ = level[code] · a. Double quantisation: with
// m = float(tree_sum(a_g) / groups) (core/reduce.hpp's order) and per block of 256 groups
// d = max |a_g − m| / 127, q_g = clamp(rint((a_g − m) / d), ±127) (0 when d = 0), and every code
// and value uses a'_g = min(max(0, m + q_g·d), FLT_MAX). Products are __fmul_rn / __fadd_rn /
// __fdiv_rn, so no contraction into FMA can change a bit.
//
// Bit layout: core/packing.hpp's. A unit u is elements 8u … 8u+7 = Bits whole bytes of the
// stream, never shared between threads; low_first puts code j at bits [j·Bits, (j+1)·Bits) of the
// unit's little-endian word; high_first (4-bit, bitsandbytes) swaps the two nibbles of every byte.
//
// Encoding counts the thresholds below y = x·inv in one of two exact ways:
//   threshold scan  codebook_code itself over the 2^Bits − 1 thresholds (kernel parameters);
//   cell table      (the default when one exists) y goes to one of K + 1 cells by the monotone map
//                     cell(y) = bits(clamp(fma(y, K/2, 1.5·2^23 + K/2), 1.5·2^23, 1.5·2^23 + K))
//                               − bits(1.5·2^23)
//                   (floats in [2^23, 2^24) are the integers), evaluated alike on the host for the
//                   thresholds and on the device for y. Monotone: a threshold in a lower cell is
//                   < y and one in a higher cell is > y, so only y's own cell needs a comparison:
//                     code = y > t_cell ? below[cell] + w_cell : below[cell]
//                   where the cell holds w_cell thresholds, all equal to t_cell (both codes are
//                   stored). The host picks the smallest K in 16 … 1024 with at most one distinct
//                   threshold value per cell (NF4: 32) and falls back to the scan when there is
//                   none. One shared-memory load and one compare per element instead of
//                   2^Bits − 1 compares (NF4 from f32 at 16384²: 0.93 of a copy against 0.65,
//                   bench/README.md). In the fused
//                   kernel a thread whose elements are all finite skips the NaN test and the clamp:
//                   |x| ≤ a gives |fl(x · fl(1/a))| ≤ 1, where fma(…) already lies in the clamp's
//                   range [1.5·2^23, 1.5·2^23 + K].
// Decoding reads the levels from shared memory (2^Bits floats in distinct banks). For f32 output
// where no 8-element unit straddles two groups, a thread decodes four half-units (4 elements) 32
// apart, so that each warp store writes 32 consecutive half-units (512 contiguous bytes); 16-bit
// outputs decode two units 32 apart (16 contiguous bytes a lane, 512 a warp store).
//
// Launch sequences, all on the caller's stream, no host synchronisation:
//   G | cols, G/(8U) a power of two ≤ 32 (U = 8-element units a thread: 2 for 16-bit inputs,
//                   so that a thread keeps 32 bytes in flight, else 1; nf*_g64 from f32: 8 lanes a
//                   group) one fused kernel: the group's lanes agree on its absmax with shuffles,
//                   the first stores it, every lane encodes its elements (one read of the input);
//   other shapes    one thread per group writes the absmax, then the encode kernel;
//   double_quant    absmax per group into a workspace → level-1 tree sums (one block per 256
//                   groups) → one block finishes the tree and writes m → one block per 256 groups
//                   writes d and q_g → encode with a'_g. The input is read twice: every code
//                   depends on m, a mean over the whole tensor.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../formats/codebook.hpp"
#include "buffer.cuh"
#include "error.cuh"
#include "layout.cuh"
#include "minifloat.cuh"
#include "packing.cuh"
#include "types.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// Groups per block of double-quantised scales: quantizers/codebook.hpp's double_quant_block
/// (QLoRA's 256), restated so that nvcc never compiles the CPU's SIMD headers.
inline constexpr std::size_t codebook_dq_block = 256;

/// Options of cuda::codebook_quantizer: the CPU's codebook_options, plus the encoder choice.
struct codebook_options {
    std::size_t group_size = 64;
    bool double_quant = false;
    nibble_order order =
        nibble_order::low_first;  ///< low_first, or high_first for 4-bit codes (bitsandbytes)
    bool cell_table = true;       ///< encode through the cell table when the codebook allows one
};

/// The kernels codebook_quantizer::quantize launches (quantize_path(); the file comment
/// describes each sequence). Every path gives the same bits.
enum class codebook_quantize_path : std::uint8_t {
    fused,     ///< one kernel: a group's lanes agree on its absmax, store it and encode
    slots,     ///< one thread per group writes its absmax, then the encode kernel
    dq_lanes,  ///< double quantisation, the group absmax by lanes (the fused layout), then tree, d,
               ///< q_g, encode
    dq_slots,  ///< double quantisation, the group absmax by one thread per group, then tree, d,
               ///< q_g, encode
};

/// How the encode kernel counts the thresholds below x · inv (codebook_quantizer::encoder).
enum class codebook_encoder : std::uint8_t {
    cell_table,  ///< one lookup and one comparison (the file comment's cell table)
    scan,        ///< codebook_code over the 2^Bits − 1 thresholds
};

/// The decode kernel codebook_quantizer::dequantize launches (decode_path()).
enum class codebook_decode_path : std::uint8_t {
    wide,   ///< f32 output, no 8-element unit across two groups: 4 half-units a thread, 512-byte
            ///< warp stores
    units,  ///< 8-element units (U a thread), any layout
};

/// A codebook tensor in device memory (non-owning): the CPU codebook_tensor's arrays, same bytes.
/// Group size, nibble order and double quantisation are the quantizer's options.
struct codebook_tensor_view {
    shape2d shape;
    std::uint8_t* packed = nullptr;  ///< packed_size(size(), Bits) bytes of level indices
    float* scales = nullptr;         ///< absmax per group (plain scales)
    std::int8_t* qscales = nullptr;  ///< double_quant: q_g per group
    float* dq_steps = nullptr;       ///< double_quant: d per 256 groups
    float* dq_mean = nullptr;        ///< double_quant: m (one float)
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
};

/// Owns the device arrays of a codebook_tensor_view; buffers grow and are reused.
struct device_codebook_tensor {
    shape2d shape;
    device_buffer<std::uint8_t> packed;
    device_buffer<float> scales, dq_steps, dq_mean;
    device_buffer<std::int8_t> qscales;
    [[nodiscard]] codebook_tensor_view view() noexcept {
        return {shape,          packed.data(),   scales.data(),
                qscales.data(), dq_steps.data(), dq_mean.data()};
    }
};

namespace detail::cb {

constexpr int threads = 256;
inline unsigned blocks_for(std::size_t items) {
    return static_cast<unsigned>((items + threads - 1) / threads);
}

/// The codebook as kernel parameters (at most 2 KiB for 8 bits).
template <int Bits>
struct book {
    static constexpr int n = 1 << Bits;
    float levels[n];
    float thresholds[n - 1];
};

/// One cell of the table: the threshold value t it holds (+Inf when none) and codes = lo | hi << 8,
/// the code when y ≤ t (lo: the thresholds in lower cells) and when y > t (hi: lo plus the cell's
/// thresholds, all equal to t).
struct cell {
    float t;
    std::uint32_t codes;
};

/// The monotone map y → cell of the file comment; cells = 0 means no table.
struct cell_map {
    float scale = 0, offset = 0, lo = 0, hi = 0;
    std::uint32_t lo_bits = 0;
    int cells = 0;

    /// K + 1 cells (K a power of two): y in [−1, 1] maps to 0 … K.
    static cell_map of(int k) {
        constexpr float base = 12582912.0f;  // 1.5 · 2^23
        return {float(k / 2),
                base + float(k / 2),
                base,
                base + float(k),
                __builtin_bit_cast(std::uint32_t, base),
                k + 1};
    }
    /// y must not be NaN.
    __host__ __device__ std::uint32_t operator()(float y) const {
        const float z = fminf(fmaxf(fmaf(y, scale, offset), lo), hi);
        return __builtin_bit_cast(std::uint32_t, z) - lo_bits;
    }
    /// The same for |y| ≤ 1, where the clamp does nothing.
    __device__ std::uint32_t in_range(float y) const {
        return __builtin_bit_cast(std::uint32_t, fmaf(y, scale, offset)) - lo_bits;
    }
};

/// The smallest table (K + 1 cells, K = 16 … 1024) with at most one distinct threshold value per
/// cell; cells = 0 in the result when there is none.
template <int Bits>
cell_map build_cells(const codebook<Bits>& cb, std::vector<cell>& out) {
    constexpr int nt = (1 << Bits) - 1;
    for (int k = 16; k <= 1024; k *= 2) {
        const cell_map m = cell_map::of(k);
        out.assign(std::size_t(m.cells), cell{INFINITY, 0u});
        std::vector<unsigned> count(std::size_t(m.cells), 0u);
        bool ok = true;
        for (int i = 0; i < nt && ok; ++i) {
            const float t = cb.thresholds[std::size_t(i)];
            const std::uint32_t c = m(t);
            if (count[c] == 0)
                out[c].t = t;
            else
                ok = out[c].t == t;
            ++count[c];
        }
        if (!ok) continue;
        unsigned below = 0;
        for (int c = 0; c < m.cells; ++c) {
            out[std::size_t(c)].codes = below | (below + count[std::size_t(c)]) << 8;
            below += count[std::size_t(c)];
        }
        return m;
    }
    out.clear();
    return {};
}

/// Group scales read from an array (plain, or written by the absmax kernel before).
struct plain_scales {
    const float* s;
    __device__ float operator()(std::size_t g) const { return s[g]; }
};
/// Double-quantised scales a'_g = min(max(0, m + q_g · d_{g/256}), FLT_MAX) (codebook_tensor::scale
/// on the CPU).
struct dq_scales {
    const std::int8_t* q;
    const float* d;
    const float* m;
    __device__ float operator()(std::size_t g) const {
        const float a = __fadd_rn(*m, __fmul_rn(float(q[g]), d[g / codebook_dq_block]));
        return a > 0.0f ? fminf(a, 3.40282346638528859812e+38f)
                        : 0.0f;  // m + q·d may round past FLT_MAX: saturates
    }
};

/// |x|'s bits + 2^23 as a signed key: finite values keep their order as positive keys, ±Inf and
/// NaN wrap negative and never win a max (one add where abs_key needs a compare and a select).
__device__ __forceinline__ int amax_key(float x) {
    return int((__float_as_uint(x) & 0x7FFFFFFFu) + 0x00800000u);
}
constexpr int amax_key_zero = 0x00800000;  // the key of ±0, where every max starts
__device__ __forceinline__ float amax_of(int key) {
    return __uint_as_float(unsigned(key) - 0x00800000u);
}

/// Max of a key over aligned groups of W lanes (W a power of two ≤ 32, known at run time).
__device__ __forceinline__ int lanes_max(int k, unsigned W) {
    for (unsigned off = W / 2; off > 0; off /= 2) {
        const int o = __shfl_xor_sync(0xffffffffu, k, off);
        k = o > k ? o : k;
    }
    return k;
}

/// Swaps the nibbles of every byte: low_first ↔ high_first for 4-bit codes.
__device__ __forceinline__ std::uint64_t swap_nibbles(std::uint64_t w) {
    return (w & 0x0f0f0f0f0f0f0f0full) << 4 | (w >> 4 & 0x0f0f0f0f0f0f0f0full);
}

/// The code of x · inv: the cell table (Table) or the threshold scan.
template <int Bits, bool Table>
__device__ __forceinline__ unsigned encode_one(float x, float inv, const book<Bits>& b,
                                               const cell* cells, const cell_map& map) {
    float y = __fmul_rn(x, inv);
    if constexpr (Table) {
        if (y != y) y = 0.0f;
        const cell c = cells[map(y)];
        return y > c.t ? c.codes >> 8 : c.codes & 0xffu;
    } else {
        return lowbit::detail::codebook_code(y, b.thresholds, book<Bits>::n - 1);
    }
}

/// Units of 8 elements per thread: 2 for 16-bit inputs (32 bytes in flight per thread, as for
/// fp32), else 1.
template <class In>
inline constexpr int units_per_thread = sizeof(In) == 2 ? 2 : 1;

/// encode_one for finite x with |x| ≤ the group's absmax a (inv = fl(1/a) or 0): then
/// |x · inv| ≤ 1, so y is no NaN and the cell coordinate needs no clamp (file comment).
template <int Bits, bool Table>
__device__ __forceinline__ unsigned encode_in_range(float x, float inv, const book<Bits>& b,
                                                    const cell* cells, const cell_map& map) {
    const float y = __fmul_rn(x, inv);
    if constexpr (Table) {
        const cell c = cells[map.in_range(y)];
        return y > c.t ? c.codes >> 8 : c.codes & 0xffu;
    } else {
        return lowbit::detail::codebook_code(y, b.thresholds, book<Bits>::n - 1);
    }
}

/// Absmax of each group into a[g]: U units a thread, W lanes a group (fused layouts).
template <class In>
__global__ void __launch_bounds__(threads)
    group_absmax_kernel(const In* __restrict__ x, int_layout L, unsigned W, float* __restrict__ a,
                        bool vin) {
    constexpr int U = units_per_thread<In>;
    const std::size_t t = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    float v[U][8];
    int m[U];
#pragma unroll
    for (int k = 0; k < U; ++k) m[k] = load_unit_values(x, L.n, t * U + k, v[k], vin);
    int key = amax_key_zero;
#pragma unroll
    for (int k = 0; k < U; ++k)
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const int e = amax_key(v[k][j]);
            key = e > key ? e : key;
        }  // padding is 0
    key = lanes_max(key, W);
    if (m[0] > 0 && t % W == 0) a[t / W] = amax_of(key);
}

/// Absmax of each group into a[g]: one thread a group (any layout).
template <class In>
__global__ void __launch_bounds__(threads)
    slot_absmax_kernel(const In* __restrict__ x, int_layout L, float* __restrict__ a) {
    const std::size_t g = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    if (g >= L.slots()) return;
    const slot_span sp = span_of(L, g);
    std::uint32_t k = 0;
    for (std::size_t j = 0; j < sp.count; ++j) {
        const std::uint32_t e = fp::abs_key(to_float(x[sp.start + j]));
        k = e > k ? e : k;
    }
    a[g] = __uint_as_float(k);
}

/// Encodes units U·t … U·t + U − 1 (t the thread). W > 0 (fused): the group's W lanes agree on
/// its absmax and the first stores it in scales_out; W = 0: the scale comes from `sc`.
template <int Bits, bool Table, class In, class Scales>
__global__ void __launch_bounds__(threads)
    encode_kernel(const In* __restrict__ x, int_layout L, unsigned W, Scales sc,
                  float* __restrict__ scales_out, std::uint8_t* __restrict__ packed, book<Bits> b,
                  const cell* __restrict__ table, cell_map map, bool high_first, bool vin,
                  bool vout) {
    constexpr int U = units_per_thread<In>;
    extern __shared__ cell cells[];
    if constexpr (Table) {
        for (int i = int(threadIdx.x); i < map.cells; i += int(blockDim.x)) cells[i] = table[i];
        __syncthreads();
    }
    const std::size_t t = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x, u0 = t * U;
    float v[U][8];
    int m[U];
#pragma unroll
    for (int k = 0; k < U; ++k)
        m[k] = load_unit_values(x, L.n, u0 + k, v[k], vin);  // every load in flight first
    using word = std::conditional_t<(Bits <= 4), std::uint32_t, std::uint64_t>;
    word acc[U] = {};
    if (W >
        0) {  // whole groups: every m is 8 or 0, and every lane of the warp reaches the shuffles
        int key = amax_key_zero,
            low = amax_key_zero;  // low < amax_key_zero: a NaN or ±Inf is present
#pragma unroll
        for (int k = 0; k < U; ++k)
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const int e = amax_key(v[k][j]);
                key = e > key ? e : key;
                low = e < low ? e : low;
            }
        key = lanes_max(key, W);
        if (m[0] == 0) return;
        const float s = amax_of(key);
        if (t % W == 0) scales_out[t / W] = s;
        const float inv = fp::safe_inverse(s);
        if (low >= amax_key_zero) {
#pragma unroll
            for (int k = 0; k < U; ++k)
#pragma unroll
                for (int j = 0; j < 8; ++j)
                    acc[k] |= word(encode_in_range<Bits, Table>(v[k][j], inv, b, cells, map))
                        << (j * Bits);
        } else {
#pragma unroll
            for (int k = 0; k < U; ++k)
#pragma unroll
                for (int j = 0; j < 8; ++j)
                    acc[k] |= word(encode_one<Bits, Table>(v[k][j], inv, b, cells, map))
                        << (j * Bits);
        }
    } else {
        if (m[0] == 0) return;
#pragma unroll
        for (int k = 0; k < U; ++k) {
            const std::size_t i0 = (u0 + k) * 8;
            if (L.unit_uniform) {
                if (m[k] == 0) continue;
                const float inv = fp::safe_inverse(sc(unit_slot(L, i0)));
#pragma unroll
                for (int j = 0; j < 8; ++j)
                    if (j < m[k])
                        acc[k] |= word(encode_one<Bits, Table>(v[k][j], inv, b, cells, map))
                            << (j * Bits);
            } else {
                if (m[k] == 0) continue;
                slot_walker w(L, i0);
#pragma unroll
                for (int j = 0; j < 8; ++j) {  // unrolled: v stays in registers
                    if (j < m[k])
                        acc[k] |= word(encode_one<Bits, Table>(v[k][j], fp::safe_inverse(sc(w.s)),
                                                               b, cells, map))
                            << (j * Bits);
                    w.next(L);
                }
            }
        }
    }
#pragma unroll
    for (int k = 0; k < U; ++k) {
        if (m[k] == 0) continue;
        std::uint64_t out = acc[k];
        if (Bits == 4 && high_first) out = swap_nibbles(out);
        write_bytes<Bits>(packed + (u0 + k) * Bits, out, (m[k] * Bits + 7) / 8, vout);
    }
}

__device__ __forceinline__ unsigned short bits16(__half h) { return __half_as_ushort(h); }
__device__ __forceinline__ unsigned short bits16(__nv_bfloat16 h) {
    return __bfloat16_as_ushort(h);
}

/// Stores 4 floats to p[0 … 4) as T; `vec`: one 16-byte (float) or 8-byte (16-bit) store.
template <class T>
__device__ __forceinline__ void store4(T* p, const float (&v)[4], bool vec) {
    if (vec) {
        if constexpr (std::is_same_v<T, float>) {
            *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
        } else {
            unsigned w[2];
#pragma unroll
            for (int k = 0; k < 2; ++k) {
                w[k] = unsigned(bits16(from_float<T>(v[2 * k]))) |
                    unsigned(bits16(from_float<T>(v[2 * k + 1]))) << 16;
            }
            *reinterpret_cast<uint2*>(p) = make_uint2(w[0], w[1]);
        }
        return;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) p[k] = from_float<T>(v[k]);
}

/// Half-units (4 elements) a thread in decode_wide_kernel.
constexpr int wide_halves = 4;

/// Decodes, for layouts where no unit straddles two groups, the half-units (4 elements)
/// h = 128·warp + 32·k + lane, k < 4: each of a warp's 4 stores writes 32 consecutive
/// half-units (512 contiguous bytes of f32), and every load is issued before the first use.
template <int Bits, class Out, class Scales>
__global__ void __launch_bounds__(threads)
    decode_wide_kernel(const std::uint8_t* __restrict__ packed, int_layout L, Scales sc,
                       const float* __restrict__ levels, bool high_first, Out* __restrict__ y,
                       bool vin, bool vout) {
    constexpr int H = wide_halves;
    __shared__ float lv[1 << Bits];
    for (int i = int(threadIdx.x); i < (1 << Bits); i += int(blockDim.x)) lv[i] = levels[i];
    __syncthreads();
    const std::size_t warp = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / 32,
                      halves = (L.n + 3) / 4;
    const unsigned lane = threadIdx.x % 32;
    std::uint64_t w[H];
    float s[H];
#pragma unroll
    for (int k = 0; k < H; ++k) {
        const std::size_t h = warp * 32 * H + 32 * k + lane, u = h / 2;
        w[k] = 0;
        s[k] = 0;
        if (h >= halves) continue;
        const std::size_t rest = L.n - 8 * u;
        const int mu = rest < 8 ? int(rest) : 8;
        w[k] = read_bytes<Bits>(packed + u * Bits, (mu * Bits + 7) / 8, vin);
        s[k] = sc(unit_slot(L, 8 * u));
    }
    constexpr unsigned mask = (1u << Bits) - 1u;
#pragma unroll
    for (int k = 0; k < H; ++k) {
        const std::size_t h = warp * 32 * H + 32 * k + lane, i0 = 4 * h;
        if (h >= halves) continue;
        std::uint64_t c = w[k];
        if (Bits == 4 && high_first) c = swap_nibbles(c);
        c >>= (h % 2) * 4 * Bits;
        float v[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) v[j] = __fmul_rn(lv[unsigned(c >> (j * Bits)) & mask], s[k]);
        const std::size_t rest = L.n - i0;
        if (rest >= 4)
            store4(y + i0, v, vout);
        else
#pragma unroll
            for (int j = 0; j < 4; ++j)
                if (std::size_t(j) < rest) y[i0 + j] = from_float<Out>(v[j]);
    }
}

/// Decodes 8-element units (any layout): x̂ = level[code] · scale, the levels (device memory)
/// copied to shared memory. U units a thread (2 for 16-bit outputs), 32 apart, so that each warp
/// store covers 32 consecutive units and every load is issued before the first use.
template <int Bits, class Out, class Scales>
__global__ void __launch_bounds__(threads)
    decode_kernel(const std::uint8_t* __restrict__ packed, int_layout L, Scales sc,
                  const float* __restrict__ levels, bool high_first, Out* __restrict__ y, bool vin,
                  bool vout) {
    constexpr int U = units_per_thread<Out>;
    __shared__ float lv[1 << Bits];
    for (int i = int(threadIdx.x); i < (1 << Bits); i += int(blockDim.x)) lv[i] = levels[i];
    __syncthreads();
    const std::size_t warp = (blockIdx.x * std::size_t(blockDim.x) + threadIdx.x) / 32;
    const unsigned lane = threadIdx.x % 32;
    std::uint64_t w[U];
    float s[U];
    int m[U];
#pragma unroll
    for (int k = 0; k < U; ++k) {
        const std::size_t u = warp * 32 * U + 32 * k + lane, i0 = u * 8;
        m[k] = i0 >= L.n ? 0 : (L.n - i0 < 8 ? int(L.n - i0) : 8);
        w[k] = 0;
        s[k] = 0;
        if (m[k] == 0) continue;
        w[k] = read_bytes<Bits>(packed + u * Bits, (m[k] * Bits + 7) / 8, vin);
        if (L.unit_uniform) s[k] = sc(unit_slot(L, i0));
    }
    constexpr unsigned mask = (1u << Bits) - 1u;
#pragma unroll
    for (int k = 0; k < U; ++k) {
        if (m[k] == 0) continue;
        const std::size_t u = warp * 32 * U + 32 * k + lane, i0 = u * 8;
        std::uint64_t c = w[k];
        if (Bits == 4 && high_first) c = swap_nibbles(c);
        float v[8];
        if (L.unit_uniform) {
#pragma unroll
            for (int j = 0; j < 8; ++j)
                v[j] = __fmul_rn(lv[unsigned(c >> (j * Bits)) & mask], s[k]);
        } else {
            slot_walker wk(L, i0);
#pragma unroll
            for (int j = 0; j < 8; ++j) {  // unrolled: v stays in registers
                v[j] = j < m[k] ? __fmul_rn(lv[unsigned(c >> (j * Bits)) & mask], sc(wk.s)) : 0.0f;
                wk.next(L);
            }
        }
        if (m[k] == 8)
            store8(y + i0, v, vout);
        else
#pragma unroll
            for (int j = 0; j < 8; ++j)
                if (j < m[k]) y[i0 + j] = from_float<Out>(v[j]);
    }
}

/// v[0 … 256) summed in place as core/reduce.hpp's butterfly (v[t] += v[t + s], s = 128 … 1).
__device__ __forceinline__ void butterfly256(double* v) {
    const unsigned t = threadIdx.x;
#pragma unroll
    for (unsigned s = 128; s >= 1; s /= 2) {
        if (t < s) v[t] = __dadd_rn(v[t], v[t + s]);
        __syncthreads();
    }
}

/// Level 1 of tree_sum over double(a[g]), g < groups: block k butterflies groups [256k, 256k +
/// 256).
template <class = void>
__global__ void __launch_bounds__(256)
    level1_kernel(const float* __restrict__ a, std::size_t groups, double* __restrict__ level) {
    __shared__ double v[256];
    const std::size_t g = blockIdx.x * std::size_t(256) + threadIdx.x;
    v[threadIdx.x] = g < groups ? double(a[g]) : 0.0;
    __syncthreads();
    butterfly256(v);
    if (threadIdx.x == 0) level[blockIdx.x] = v[0];
}

/// One block of 256: the tree's upper levels (chunks of 256 padded with +0, until one value is
/// left; `level` is overwritten) and m = float(Σ / groups).
template <class = void>
__global__ void __launch_bounds__(256)
    mean_kernel(double* level, std::size_t n1, std::size_t groups, float* mean) {
    __shared__ double v[256];
    const unsigned t = threadIdx.x;
    for (std::size_t n = n1; n > 1; n = (n + 255) / 256) {
        for (std::size_t c = 0; c < (n + 255) / 256; ++c) {
            const std::size_t i = c * 256 + t;
            v[t] = i < n ? level[i] : 0.0;
            __syncthreads();
            butterfly256(v);
            if (t == 0) level[c] = v[0];  // chunk c has been read; later chunks start past c
            __syncthreads();
        }
    }
    if (t == 0) *mean = __double2float_rn(__ddiv_rn(level[0], double(groups)));
}

/// One block per 256 groups: d = max |a_g − m| / 127 and q_g (the CPU's prepare()).
template <class = void>
__global__ void __launch_bounds__(256)
    dq_kernel(const float* __restrict__ a, std::size_t groups, const float* __restrict__ mean,
              std::int8_t* __restrict__ q, float* __restrict__ steps) {
    __shared__ float warp_max[8];
    const unsigned t = threadIdx.x;
    const std::size_t g = blockIdx.x * std::size_t(256) + t;
    const float m = *mean;
    const float ag = g < groups ? a[g] : 0.0f;
    float dev = g < groups ? fabsf(__fsub_rn(ag, m)) : 0.0f;  // never NaN: a_g and m are finite
    for (unsigned off = 16; off > 0; off /= 2)
        dev = fmaxf(dev, __shfl_xor_sync(0xffffffffu, dev, off));
    if (t % 32 == 0) warp_max[t / 32] = dev;
    __syncthreads();
    dev = warp_max[0];
    for (int w = 1; w < 8; ++w) dev = fmaxf(dev, warp_max[w]);
    const float d = __fdiv_rn(dev, 127.0f);
    if (t == 0) steps[blockIdx.x] = d;
    if (g < groups) {
        float qv = d > 0.0f ? rintf(__fdiv_rn(__fsub_rn(ag, m), d)) : 0.0f;
        qv = fminf(fmaxf(qv, -127.0f), 127.0f);
        q[g] = static_cast<std::int8_t>(qv);
    }
}

}  // namespace detail::cb

/// Codebook quantization on the GPU; bit-identical to lowbit::codebook_quantizer<Bits>
/// (backend::scalar) with the same codebook and options. Holds the cell table and a workspace for
/// double quantisation (device memory): one instance per concurrent stream.
template <int Bits>
class codebook_quantizer {
public:
    static_assert(Bits >= 1 && Bits <= 8,
                  "lowbit: cuda::codebook_quantizer<Bits> needs 1 <= Bits <= 8");
    using options = codebook_options;
    using tensor_type = device_codebook_tensor;
    static constexpr int bits = Bits;

    /// NormalFloat of Bits bits (Bits >= 2), groups of 64.
    codebook_quantizer() : codebook_quantizer(normal_float_codebook<Bits>(), options{}) {}
    explicit codebook_quantizer(options o) : codebook_quantizer(normal_float_codebook<Bits>(), o) {}
    /// Any codebook (a fitted one, say): its levels and thresholds as the CPU computed them.
    codebook_quantizer(const codebook<Bits>& cb, options o) : cb_(cb), opt_(o) {
        lowbit::detail::require(opt_.group_size > 0, "options.group_size", "must be > 0");
        lowbit::detail::check_order(bits, opt_.order);
        lowbit::detail::require(
            opt_.order != nibble_order::ggml_split, "options.order",
            "ggml_split is not a codebook layout on the GPU: use low_first or high_first");
        for (int i = 0; i < book_type::n; ++i) book_.levels[i] = cb_.levels[std::size_t(i)];
        for (int i = 0; i + 1 < book_type::n; ++i)
            book_.thresholds[i] = cb_.thresholds[std::size_t(i)];
        levels_.resize(book_type::n);
        check(
            cudaMemcpy(levels_.data(), book_.levels, sizeof(book_.levels), cudaMemcpyHostToDevice),
            "cudaMemcpy");
        std::vector<detail::cb::cell> host;
        map_ = detail::cb::build_cells(cb_, host);
        if (map_.cells) {
            cells_.resize(host.size());
            check(cudaMemcpy(cells_.data(), host.data(), host.size() * sizeof(detail::cb::cell),
                             cudaMemcpyHostToDevice),
                  "cudaMemcpy");
        }
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }
    [[nodiscard]] const codebook<Bits>& book() const noexcept { return cb_; }
    /// Cells of the encoder's table (0: the threshold scan encodes, by choice or because no table
    /// exists).
    [[nodiscard]] int table_cells() const noexcept { return opt_.cell_table ? map_.cells : 0; }

    [[nodiscard]] std::size_t group_count(shape2d s) const noexcept {
        return s.rows * ((s.cols + opt_.group_size - 1) / opt_.group_size);
    }

    /// Quantizes x (device, row-major `shape`) into t, sizing its buffers.
    template <device_element In>
    void quantize(const In* x, shape2d shape, tensor_type& t, cudaStream_t stream = 0) {
        require_shape(shape.rows, shape.cols);
        const std::size_t groups = group_count(shape);
        t.shape = shape;
        t.packed.reserve(packed_size(shape.size(), bits) +
                         8);  // + 8: whole-word stores of the last unit stay inside
        if (opt_.double_quant) {
            t.qscales.reserve(groups ? groups : 1);
            t.dq_steps.reserve(groups ? (groups + codebook_dq_block - 1) / codebook_dq_block : 1);
            t.dq_mean.reserve(1);
        } else {
            t.scales.reserve(groups ? groups : 1);
        }
        quantize(x, shape, t.view(), stream);
    }

    /// Quantizes into a view whose arrays are large enough (packed_size bytes; a scale per group,
    /// or q per group, d per 256 groups and one m).
    template <device_element In>
    void quantize(const In* x, shape2d shape, codebook_tensor_view t, cudaStream_t stream = 0) {
        require_shape(shape.rows, shape.cols);
        const std::size_t n = shape.size();
        if (opt_.double_quant && t.dq_mean && n == 0)
            check(cudaMemsetAsync(t.dq_mean, 0, sizeof(float), stream), "cudaMemsetAsync");
        if (n == 0) return;
        lowbit::detail::require(x != nullptr, "x", "must be a device pointer");
        check_view(t);
        const detail::int_layout L =
            detail::int_layout::of(shape, granularity::group(opt_.group_size));
        const std::size_t groups = L.slots(), G = opt_.group_size;
        const bool vin = detail::aligned16(x);
        constexpr int U = detail::cb::units_per_thread<In>;
        const codebook_quantize_path path = quantize_path<In>(shape);
        const bool lanes =
            path == codebook_quantize_path::fused || path == codebook_quantize_path::dq_lanes;
        const unsigned W = lanes ? unsigned(G / 8 / U) : 0u;  // lanes a group
        if (!opt_.double_quant) {
            if (W == 0) {
                detail::cb::slot_absmax_kernel<In>
                    <<<detail::cb::blocks_for(groups), detail::cb::threads, 0, stream>>>(x, L,
                                                                                         t.scales);
                check_launch("codebook quantize (group absmax)");
            }
            encode(x, L, W, detail::cb::plain_scales{t.scales}, t, vin, stream);
            return;
        }
        const std::size_t n1 = (groups + 255) / 256;
        work_.reserve(n1 * sizeof(double) + groups * sizeof(float));
        auto* level = reinterpret_cast<double*>(work_.data());
        auto* a = reinterpret_cast<float*>(work_.data() + n1 * sizeof(double));
        if (W > 0)
            detail::cb::group_absmax_kernel<In>
                <<<detail::cb::blocks_for((n + 8 * U - 1) / (8 * U)), detail::cb::threads, 0,
                   stream>>>(x, L, W, a, vin);
        else
            detail::cb::slot_absmax_kernel<In>
                <<<detail::cb::blocks_for(groups), detail::cb::threads, 0, stream>>>(x, L, a);
        check_launch("codebook quantize (group absmax)");
        detail::cb::level1_kernel<><<<unsigned(n1), 256, 0, stream>>>(a, groups, level);
        check_launch("codebook quantize (tree sums)");
        detail::cb::mean_kernel<><<<1, 256, 0, stream>>>(level, n1, groups, t.dq_mean);
        check_launch("codebook quantize (mean)");
        detail::cb::dq_kernel<>
            <<<unsigned(n1), 256, 0, stream>>>(a, groups, t.dq_mean, t.qscales, t.dq_steps);
        check_launch("codebook quantize (double quantisation)");
        encode(x, L, 0u, detail::cb::dq_scales{t.qscales, t.dq_steps, t.dq_mean}, t, vin, stream);
    }

    /// Dequantizes t (device) into y (device, t.size() values).
    template <device_element Out>
    void dequantize(codebook_tensor_view t, Out* y, cudaStream_t stream = 0) const {
        require_shape(t.shape.rows, t.shape.cols);
        const std::size_t n = t.size();
        if (n == 0) return;
        lowbit::detail::require(y != nullptr, "y", "must be a device pointer");
        check_view(t);
        const detail::int_layout L =
            detail::int_layout::of(t.shape, granularity::group(opt_.group_size));
        const bool hf = opt_.order == nibble_order::high_first, vin = detail::aligned16(t.packed),
                   vout = detail::aligned16(y);
        const codebook_decode_path path = decode_path<Out>(t.shape);
        auto run = [&](auto sc) {
            if constexpr (std::is_same_v<Out, float>) {
                if (path ==
                    codebook_decode_path::wide) {  // coalesced 16-byte stores, 16 elements a thread
                    constexpr std::size_t per_block =
                        std::size_t(detail::cb::threads) * detail::cb::wide_halves * 4;
                    detail::cb::decode_wide_kernel<Bits, Out>
                        <<<unsigned((n + per_block - 1) / per_block), detail::cb::threads, 0,
                           stream>>>(t.packed, L, sc, levels_.data(), hf, y, vin, vout);
                    return;
                }
            }
            constexpr std::size_t per_block =
                std::size_t(detail::cb::threads) * 8 * detail::cb::units_per_thread<Out>;
            detail::cb::decode_kernel<Bits, Out>
                <<<unsigned((n + per_block - 1) / per_block), detail::cb::threads, 0, stream>>>(
                    t.packed, L, sc, levels_.data(), hf, y, vin, vout);
        };
        if (opt_.double_quant)
            run(detail::cb::dq_scales{t.qscales, t.dq_steps, t.dq_mean});
        else
            run(detail::cb::plain_scales{t.scales});
        check_launch("codebook dequantize");
    }

    /// The kernels quantize() launches for this shape and input type (the one place where they are
    /// chosen).
    template <device_element In = float>
    [[nodiscard]] codebook_quantize_path quantize_path(shape2d shape) const noexcept {
        const bool f = fused<In>(shape);
        if (opt_.double_quant)
            return f ? codebook_quantize_path::dq_lanes : codebook_quantize_path::dq_slots;
        return f ? codebook_quantize_path::fused : codebook_quantize_path::slots;
    }
    /// How the encode kernel counts thresholds (cell table unless options.cell_table is off or none
    /// fits).
    [[nodiscard]] codebook_encoder encoder() const noexcept {
        return table_cells() ? codebook_encoder::cell_table : codebook_encoder::scan;
    }
    /// The decode kernel dequantize() launches for this shape and output type.
    template <device_element Out = float>
    [[nodiscard]] codebook_decode_path decode_path(shape2d shape) const noexcept {
        if (!std::is_same_v<Out, float> || shape.size() == 0) return codebook_decode_path::units;
        return detail::int_layout::of(shape, granularity::group(opt_.group_size)).unit_uniform
            ? codebook_decode_path::wide
            : codebook_decode_path::units;
    }

    /// Whether quantize() runs the one-kernel fused path (absmax and codes) for this shape and
    /// input type: G | cols, and G / (8 · units a thread) lanes a group, a power of two ≤ 32.
    template <device_element In = float>
    [[nodiscard]] bool fused(shape2d shape) const noexcept {
        const std::size_t G = opt_.group_size, U = detail::cb::units_per_thread<In>,
                          W = G / (8 * U);
        return G % (8 * U) == 0 && W >= 1 && W <= 32 && (W & (W - 1)) == 0 && shape.cols % G == 0;
    }

private:
    using book_type = detail::cb::book<Bits>;

    void check_view(const codebook_tensor_view& t) const {
        lowbit::detail::require(t.packed != nullptr, "t.packed", "must be a device pointer");
        if (opt_.double_quant) {
            lowbit::detail::require(t.qscales != nullptr, "t.qscales",
                                    "must be a device pointer (double quantisation)");
            lowbit::detail::require(t.dq_steps != nullptr, "t.dq_steps",
                                    "must be a device pointer (double quantisation)");
            lowbit::detail::require(t.dq_mean != nullptr, "t.dq_mean",
                                    "must be a device pointer (double quantisation)");
        } else {
            lowbit::detail::require(t.scales != nullptr, "t.scales", "must be a device pointer");
        }
    }

    template <class In, class Scales>
    void encode(const In* x, const detail::int_layout& L, unsigned W, Scales sc,
                const codebook_tensor_view& t, bool vin, cudaStream_t stream) const {
        constexpr int U = detail::cb::units_per_thread<In>;
        const unsigned grid = detail::cb::blocks_for((L.n + 8 * U - 1) / (8 * U));
        const bool hf = opt_.order == nibble_order::high_first, vout = detail::aligned16(t.packed);
        if (encoder() == codebook_encoder::cell_table) {
            const std::size_t smem = std::size_t(map_.cells) * sizeof(detail::cb::cell);
            detail::cb::encode_kernel<Bits, true, In><<<grid, detail::cb::threads, smem, stream>>>(
                x, L, W, sc, t.scales, t.packed, book_, cells_.data(), map_, hf, vin, vout);
        } else {
            detail::cb::encode_kernel<Bits, false, In><<<grid, detail::cb::threads, 0, stream>>>(
                x, L, W, sc, t.scales, t.packed, book_, cells_.data(), map_, hf, vin, vout);
        }
        check_launch("codebook quantize (encode)");
    }

    codebook<Bits> cb_;
    options opt_;
    book_type book_{};
    detail::cb::cell_map map_{};
    device_buffer<float> levels_;
    device_buffer<detail::cb::cell> cells_;
    device_buffer<unsigned char> work_;
};

}  // namespace cuda
LOWBIT_NAMESPACE_END
