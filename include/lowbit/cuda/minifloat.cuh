// lowbit — the floating-point family on the GPU, part 1: the scaled-element engine shared with
// mx.cuh, and cuda::minifloat_quantizer (quantizers/minifloat.hpp's semantics).
//
// Every kernel equals the CPU scalar reference (backend::scalar) bit for bit: the element
// encode/decode are the very LOWBIT_HOST_DEVICE constexpr functions of formats/minifloat.hpp and
// formats/bfp.hpp, the products around them are __fmul_rn / __fdiv_rn (no FMA contraction can
// change a bit), and codes are packed as core/packing.hpp packs them (low_first: 8-bit codes one
// per byte, FP6 four codes in three bytes, FP4 two per byte, element 0 in the low nibble).
//
// The engine: a slot is a run of elements sharing one scale (the whole tensor, a row, or a group
// of G elements of a row; a row ends in a short group when G does not divide it). A scale
// policy says how a slot's largest finite magnitude (amax, an integer max over the bit patterns,
// as block_absmax does it, so any reduction order gives the same value) becomes a stored scale,
// the inverse the encoder multiplies by and the value the decoder multiplies by:
//   minifloat  s = store_scale(amax / max_finite), inverse 1/s (0 when s = 0 or 1/s overflows)
//   MX         E8M0 code of mx_scale_exponent(amax, rule), inverse 2^−E exact     (mx.cuh)
//   NVFP4      E4M3FN code of amax / 6 / g, effective scale decode(code) · g         (mx.cuh)
// Launches, all on the caller's stream with no host synchronisation (quantize_path() names the
// one a shape takes):
//   per tensor     keys (atomicMax of the amax bits) → one thread writes the scale → encode
//   groups, G | cols, G/8 a power of two ≤ 32:
//                  one fused kernel: G/8 neighbouring lanes hold a group (8 elements each),
//                  agree on amax with warp shuffles, store the scale and encode (one read)
//   other groups and rows: one thread per slot writes the scale, then the encode kernel
// Thread u always owns elements 8u … 8u+7 and bytes [u·Bits, (u+1)·Bits) of the packed stream.
// Non-finite inputs as on the CPU (docs/formats.md, "Non-finite inputs"): a minifloat slot of
// inverse 0 (s = 0, e.g. an all-Inf tensor) encodes ±Inf as ±0, never NaN (encode_slot_elem); MX,
// NVFP4 and log keep their own CPU rules. Every entry names "shape" when rows · cols overflows
// size_t.
//
//   lowbit::cuda::minifloat_quantizer<lowbit::e4m3fn> q;        // per tensor, float scale
//   lowbit::cuda::device_fp_tensor<float> t;
//   q.quantize(x, {rows, cols}, t, stream);                     // x: device float*, __half*,
//   __nv_bfloat16* q.dequantize(t.view(), y, stream);                          // y: device float*,
//   __half*, __nv_bfloat16*
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../core/rounding.hpp"
#include "../formats/bfp.hpp"
#include "../formats/minifloat.hpp"
#include "buffer.cuh"
#include "error.cuh"
#include "layout.cuh"
#include "packing.cuh"
#include "types.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// The kernels a floating-point quantize launches (quantize_path() of minifloat_quantizer,
/// mx_quantizer, nvfp4_quantizer and log_quantizer; the file comment describes each). Every path
/// gives the same bits.
enum class fp_quantize_path : std::uint8_t {
    per_tensor,    ///< amax keys, one thread writes the scale, then the encode kernel
    fused_groups,  ///< one kernel: a group's G/8 lanes agree on its amax, store the scale and
                   ///< encode
    slot_scales,   ///< one thread per slot writes its scale, then the encode kernel
};

/// Device arrays of a scaled floating-point tensor (the CPU minifloat_tensor / mx_tensor /
/// nvfp4_tensor byte for byte): packed codes, one stored scale per slot, and the FP32 tensor
/// scale (NVFP4 only; one float on the device).
template <class Stored>
struct fp_tensor_view {
    shape2d shape;
    std::uint8_t* packed = nullptr;
    Stored* scales = nullptr;
    float* global_scale = nullptr;
};

/// Owns the device arrays of an fp_tensor_view; buffers grow and are reused.
template <class Stored>
struct device_fp_tensor {
    shape2d shape;
    device_buffer<std::uint8_t> packed;
    device_buffer<Stored> scales;
    device_buffer<float> global_scale;
    [[nodiscard]] fp_tensor_view<Stored> view() noexcept {
        return {shape, packed.data(), scales.data(), global_scale.data()};
    }
};

namespace detail::fp {

constexpr int threads = 256;
inline unsigned blocks_for(std::size_t units) {
    return static_cast<unsigned>((units + threads - 1) / threads);
}

/// The amax key of one value: |x|'s bits when finite, else 0 (block_absmax's integer max).
__device__ __forceinline__ std::uint32_t abs_key(float x) {
    const std::uint32_t a = __float_as_uint(x) & 0x7FFFFFFFu;
    return a <= 0x7F7FFFFFu ? a : 0u;
}

/// 1 / s, or 0 when s is 0 or the inverse is not finite (quantizers/minifloat.hpp's safe_inverse).
__device__ __forceinline__ float safe_inverse(float s) {
    if (s == 0.0f) return 0.0f;
    const float inv = __fdiv_rn(1.0f, s);
    return isfinite(inv) ? inv : 0.0f;
}

/// x · inv with the NaN the x86 host produces (the CPU reference's platform): a NaN input comes
/// back quieted with its sign and payload, a NaN the product generates (±Inf · 0 under a zero
/// scale) is the x86 default NaN 0xFFC00000 (negative). The GPU's own NaN is 0x7FFFFFFF, and the
/// sign matters: a minifloat keeps it (E4M3FN ±NaN = 0xFF / 0x7F; FP6 / FP4 map NaN to ∓0).
__device__ __forceinline__ float mul_host_nan(float x, float inv) {
    const float p = __fmul_rn(x, inv);
    if (p == p) return p;
    return isnan(x) ? __uint_as_float(__float_as_uint(x) | 0x00400000u)
                    : __uint_as_float(0xFFC00000u);
}

/// Element encode of x · inv: reference::encode_minifloat_run (saturating) or encode_bfp_run.
template <class Elem>
__device__ __forceinline__ std::uint8_t encode_elem(float x, float inv, const rounding& r,
                                                    std::uint64_t index) {
    if constexpr (requires { Elem::encode_scaled(x, inv); }) {  // log2 elements (log.cuh)
        return Elem::encode_scaled(x, inv);
    } else if constexpr (requires { Elem::flavour; }) {
        const float y = mul_host_nan(x, inv);
        const std::uint32_t rb =
            r.mode == round_mode::stochastic ? random_bits24(r.seed, index) : 0u;
        return static_cast<std::uint8_t>(Elem::template encode<overflow::saturate>(y, r.mode, rb));
    } else {
        float z = __fmul_rn(__fmul_rn(x, inv), static_cast<float>(1 << (Elem::mantissa_bits - 1)));
        if (z != z) z = 0.0f;
        float q = round_device(z, r, index);
        q = q < -float(Elem::qmax) ? -float(Elem::qmax) : q;
        q = q > float(Elem::qmax) ? float(Elem::qmax) : q;
        return Elem::to_code(static_cast<int>(q));
    }
}

/// encode_elem under a slot's policy. A minifloat slot of inverse 0 (s = 0, or 1/s overflows) has
/// no finite magnitude to saturate ±Inf to: its ±Inf encode as ±0, never as NaN (Inf · 0) — the
/// CPU minifloat_quantizer's encode_run. Policies opt in with `zero_inverse_zeroes_inf` (MX never
/// has inverse 0; NVFP4 and log keep their CPU rule).
template <class Elem, class Policy>
__device__ __forceinline__ std::uint8_t encode_slot_elem(float x, float inv, const rounding& r,
                                                         std::uint64_t index) {
    if constexpr (requires { Policy::zero_inverse_zeroes_inf; })
        if (inv == 0.0f && isinf(x)) [[unlikely]]
            x = copysignf(0.0f, x);
    if constexpr (requires { Policy::bounds_top_levels; }) {  // MX: mx_finite_bound
        if (inv < 0x1p-100f) [[unlikely]] {  // E > 100: every element's max · 2^100 is finite
            const float L = mx_finite_bound<Elem>(-lowbit::detail::floor_log2(inv));
            if (L != 0.0f) x = x > L ? L : x < -L ? -L : x;
        }
    }
    return encode_elem<Elem>(x, inv, r, index);
}

/// Element decode: decode(code) · scale.
template <class Elem>
__device__ __forceinline__ float decode_elem(std::uint8_t c, float scale) {
    if constexpr (requires { Elem::decode_value(c, scale); })
        return Elem::decode_value(c, scale);  // log2 elements
    else
        return __fmul_rn(Elem::decode(static_cast<typename Elem::code_type>(c)), scale);
}

/// Warp-wide max of a key over aligned groups of W lanes.
template <int W>
__device__ __forceinline__ std::uint32_t group_max(std::uint32_t k) {
#pragma unroll
    for (int off = W / 2; off > 0; off /= 2) {
        const std::uint32_t o = __shfl_xor_sync(0xffffffffu, k, off);
        k = o > k ? o : k;
    }
    return k;
}

/// The minifloat scale policy: s = store_scale<ScaleT>(amax / Format::max()).
template <class Format, class ScaleT>
struct absmax_policy {
    using stored = ScaleT;
    static constexpr bool zero_inverse_zeroes_inf = true;  // encode_slot_elem
    __device__ static stored make(float amax, const float*) {
        return store_scale<ScaleT>(__fdiv_rn(amax, Format::max()));
    }
    __device__ static float inverse(stored s, const float*) { return safe_inverse(load_scale(s)); }
    __device__ static float value(stored s, const float*) { return load_scale(s); }
};

/// Per-tensor amax: grid-stride over 8-element units, combined with atomicMax (order-free).
template <class In>
__global__ void amax_kernel(const In* x, std::size_t n, std::uint32_t* key, bool vec) {
    std::uint32_t k = 0;
    const std::size_t units = (n + 7) / 8;
    for (std::size_t u = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; u < units;
         u += std::size_t(gridDim.x) * blockDim.x) {
        float v[8];
        const int m = load_unit_values(x, n, u, v, vec);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const std::uint32_t a = j < m ? abs_key(v[j]) : 0u;
            k = a > k ? a : k;
        }
    }
    k = group_max<32>(k);
    if ((threadIdx.x & 31) == 0 && k) atomicMax(key, k);
}

/// Writes the per-tensor scale from the amax key (one thread).
template <class Policy>
__global__ void tensor_scale_kernel(const std::uint32_t* key, typename Policy::stored* scales,
                                    const float* global) {
    scales[0] = Policy::make(__uint_as_float(*key), global);
}

/// One thread per slot: amax over the slot's contiguous elements, then its stored scale.
template <class Policy, class In>
__global__ void slot_scale_kernel(const In* x, int_layout L, typename Policy::stored* scales,
                                  const float* global) {
    const std::size_t s = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    if (s >= L.slots()) return;
    const slot_span sp = span_of(L, s);
    std::uint32_t k = 0;
    for (std::size_t j = 0; j < sp.count; ++j) {
        const std::uint32_t a = abs_key(to_float(x[sp.start + j]));
        k = a > k ? a : k;
    }
    scales[s] = Policy::make(__uint_as_float(k), global);
}

/// Encodes unit u of the tensor. Fused (W = G/8 lanes per group, G | cols): the lanes of a group
/// agree on amax and lane 0 stores the scale; otherwise the stored scales are read.
template <class Elem, class Policy, int W, class In>
__global__ void encode_kernel(const In* x, int_layout L, std::uint8_t* packed,
                              typename Policy::stored* scales, const float* global, rounding rnd,
                              bool vin, bool vout) {
    const std::size_t u = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    float v[8];
    const int m = load_unit_values(x, L.n, u, v, vin);
    std::uint64_t codes = 0;
    if constexpr (W > 0) {
        std::uint32_t k = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const std::uint32_t a = abs_key(v[j]);
            k = a > k ? a : k;
        }  // padding is 0
        k = group_max<W>(k);
        const auto s = Policy::make(__uint_as_float(k), global);
        if (m > 0 && (u % W) == 0) scales[u / W] = s;
        const float inv = Policy::inverse(s, global);
#pragma unroll
        for (int j = 0; j < 8; ++j)
            codes |= std::uint64_t(encode_slot_elem<Elem, Policy>(v[j], inv, rnd, u * 8 + j))
                << (8 * j);
    } else {
        if (m == 0) return;
        if (L.unit_uniform) {
            const float inv = Policy::inverse(scales[unit_slot(L, u * 8)], global);
#pragma unroll
            for (int j = 0; j < 8; ++j)
                codes |= std::uint64_t(encode_slot_elem<Elem, Policy>(v[j], inv, rnd, u * 8 + j))
                    << (8 * j);
        } else {
            slot_walker w(L, u * 8);
            for (int j = 0; j < m; ++j) {
                codes |= std::uint64_t(encode_slot_elem<Elem, Policy>(
                             v[j], Policy::inverse(scales[w.s], global), rnd, u * 8 + j))
                    << (8 * j);
                w.next(L);
            }
        }
    }
    if (m > 0) store_unit<Elem::bits>(packed, u, codes, m, nibble_order::low_first, vout);
}

/// Decodes unit u into 8 outputs.
template <class Elem, class Policy, class Out>
__global__ void decode_kernel(const std::uint8_t* packed, const typename Policy::stored* scales,
                              const float* global, int_layout L, Out* y, bool vin, bool vout) {
    const std::size_t u = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    const std::size_t i0 = u * 8;
    if (i0 >= L.n) return;
    const int m = L.n - i0 < 8 ? int(L.n - i0) : 8;
    const std::uint64_t codes = load_unit<Elem::bits>(packed, u, m, nibble_order::low_first, vin);
    float v[8];
    if (L.unit_uniform) {
        const float s = Policy::value(scales[unit_slot(L, i0)], global);
#pragma unroll
        for (int j = 0; j < 8; ++j)
            v[j] = decode_elem<Elem>(static_cast<std::uint8_t>(codes >> (8 * j)), s);
    } else {
        slot_walker w(L, i0);
        for (int j = 0; j < m; ++j) {
            v[j] = decode_elem<Elem>(static_cast<std::uint8_t>(codes >> (8 * j)),
                                     Policy::value(scales[w.s], global));
            w.next(L);
        }
    }
    if (m == 8)
        store8(y + i0, v, vout);
    else
        for (int j = 0; j < m; ++j) y[i0 + j] = from_float<Out>(v[j]);
}

/// Sizes a tensor's device arrays for `shape` with `slots` scales (and the tensor scale).
template <class Stored>
void size_tensor(device_fp_tensor<Stored>& t, shape2d shape, int bits, std::size_t slots,
                 bool global) {
    require_shape(shape.rows, shape.cols);
    t.shape = shape;
    t.packed.reserve(packed_size(shape.size(), bits) +
                     8);  // + 8: whole-word stores of the last unit stay inside
    t.scales.reserve(slots ? slots : 1);
    if (global) t.global_scale.reserve(1);
}

/// The shared quantize/dequantize launch sequences of the family (see the file comment).
/// `gran` is per tensor, rows (per_channel axis 0) or per group; NVFP4's tensor scale is written
/// by `make_global` (a kernel launch) between the amax keys and the block scales.
template <class Elem, class Policy>
struct engine {
    using stored = typename Policy::stored;

    /// The kernels quantize() launches for `shape` under `gran` (the one place where they are
    /// chosen).
    static fp_quantize_path path(shape2d shape, const granularity& gran) noexcept {
        if (gran.type == granularity::kind::per_tensor) return fp_quantize_path::per_tensor;
        const std::size_t G =
            gran.type == granularity::kind::per_group ? gran.group_size : shape.cols;
        const bool fusable = gran.type == granularity::kind::per_group && G > 0 &&
            shape.cols % G == 0 && G % 8 == 0 && G <= 256 && ((G / 8) & (G / 8 - 1)) == 0;
        return fusable ? fp_quantize_path::fused_groups : fp_quantize_path::slot_scales;
    }

    template <class In, class MakeGlobal>
    static void quantize(const In* x, shape2d shape, const granularity& gran, const rounding& rnd,
                         fp_tensor_view<stored> t, std::uint32_t* key, MakeGlobal&& make_global,
                         cudaStream_t stream) {
        require_shape(shape.rows, shape.cols);
        const std::size_t n = shape.size();
        if (n == 0) return;
        const int_layout L = int_layout::of(shape, gran);
        const bool vin = aligned16(x), vout = aligned16(t.packed);
        const unsigned grid = blocks_for((n + 7) / 8);
        const bool need_amax = gran.type == granularity::kind::per_tensor || make_global.needed;
        if (need_amax) {
            check(cudaMemsetAsync(key, 0, sizeof(std::uint32_t), stream), "cudaMemsetAsync");
            int dev = 0, sms = 0;
            check(cudaGetDevice(&dev), "cudaGetDevice");
            check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev),
                  "cudaDeviceGetAttribute");
            const unsigned amax_grid = std::min(grid, unsigned(sms) * 8);
            amax_kernel<In><<<amax_grid, threads, 0, stream>>>(x, n, key, vin);
            make_global(key, t.global_scale, stream);
        }
        const fp_quantize_path p = path(shape, gran);
        if (p == fp_quantize_path::per_tensor) {
            tensor_scale_kernel<Policy><<<1, 1, 0, stream>>>(key, t.scales, t.global_scale);
            encode_kernel<Elem, Policy, 0, In><<<grid, threads, 0, stream>>>(
                x, L, t.packed, t.scales, t.global_scale, rnd, vin, vout);
        } else {
            if (p == fp_quantize_path::fused_groups) {
                switch (gran.group_size / 8) {
                    case 1: return fused<1>(x, L, rnd, t, grid, vin, vout, stream);
                    case 2: return fused<2>(x, L, rnd, t, grid, vin, vout, stream);
                    case 4: return fused<4>(x, L, rnd, t, grid, vin, vout, stream);
                    case 8: return fused<8>(x, L, rnd, t, grid, vin, vout, stream);
                    case 16: return fused<16>(x, L, rnd, t, grid, vin, vout, stream);
                    default: return fused<32>(x, L, rnd, t, grid, vin, vout, stream);
                }
            }
            slot_scale_kernel<Policy, In>
                <<<blocks_for(L.slots()), threads, 0, stream>>>(x, L, t.scales, t.global_scale);
            encode_kernel<Elem, Policy, 0, In><<<grid, threads, 0, stream>>>(
                x, L, t.packed, t.scales, t.global_scale, rnd, vin, vout);
        }
        check(cudaGetLastError(), "quantize kernel launch");
    }

    /// The encode kernel alone, with the scales (and tensor scale) already in t: one read of x.
    template <class In>
    static void encode_with_scales(const In* x, shape2d shape, const granularity& gran,
                                   const rounding& rnd, fp_tensor_view<stored> t,
                                   cudaStream_t stream) {
        require_shape(shape.rows, shape.cols);
        const std::size_t n = shape.size();
        if (n == 0) return;
        const int_layout L = int_layout::of(shape, gran);
        encode_kernel<Elem, Policy, 0, In><<<blocks_for((n + 7) / 8), threads, 0, stream>>>(
            x, L, t.packed, t.scales, t.global_scale, rnd, aligned16(x), aligned16(t.packed));
        check(cudaGetLastError(), "quantize_with_scales kernel launch");
    }

    template <int W, class In>
    static void fused(const In* x, const int_layout& L, const rounding& rnd,
                      fp_tensor_view<stored> t, unsigned grid, bool vin, bool vout,
                      cudaStream_t stream) {
        encode_kernel<Elem, Policy, W, In><<<grid, threads, 0, stream>>>(
            x, L, t.packed, t.scales, t.global_scale, rnd, vin, vout);
        check(cudaGetLastError(), "quantize kernel launch");
    }

    template <class Out>
    static void dequantize(fp_tensor_view<stored> t, const granularity& gran, Out* y,
                           cudaStream_t stream) {
        require_shape(t.shape.rows, t.shape.cols);
        const std::size_t n = t.shape.size();
        if (n == 0) return;
        const int_layout L = int_layout::of(t.shape, gran);
        decode_kernel<Elem, Policy, Out><<<blocks_for((n + 7) / 8), threads, 0, stream>>>(
            t.packed, t.scales, t.global_scale, L, y, aligned16(t.packed), aligned16(y));
        check(cudaGetLastError(), "dequantize kernel launch");
    }
};

/// No tensor scale (minifloat, MX).
struct no_global {
    static constexpr bool needed = false;
    void operator()(const std::uint32_t*, float*, cudaStream_t) const {}
};

inline void check_gran(const granularity& g) {
    if (g.type == granularity::kind::per_group)
        lowbit::detail::require(g.group_size > 0, "options.gran.group_size", "must be > 0");
    if (g.type == granularity::kind::per_channel)
        lowbit::detail::require(g.axis == 0, "options.gran.axis",
                                "minifloat quantizers scale rows (axis 0) or groups of a row");
}

}  // namespace detail::fp

/// Quantizes on the GPU to a minifloat with absmax scaling; bit-identical to
/// lowbit::minifloat_quantizer<Format, T> (backend::scalar) where ScaleT is T's device twin.
/// Holds a 4-byte device workspace (the per-tensor amax); one instance per concurrent stream.
template <class Format, device_scale ScaleT = float>
class minifloat_quantizer {
public:
    static_assert(Format::bits <= 8,
                  "lowbit: cuda::minifloat_quantizer stores codes of at most 8 bits");
    using format = Format;
    using tensor_type = device_fp_tensor<ScaleT>;
    static constexpr int bits = Format::bits;

    struct options {
        granularity gran =
            granularity::tensor();  ///< per tensor, per row (channel(0)) or per group
        rounding round = {};
    };

    minifloat_quantizer() : minifloat_quantizer(options{}) {}
    explicit minifloat_quantizer(options o) : opt_(o), key_(1) {
        detail::fp::check_gran(opt_.gran);
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    /// The kernels quantize() launches for this shape.
    [[nodiscard]] fp_quantize_path quantize_path(shape2d shape) const noexcept {
        return engine::path(shape, opt_.gran);
    }

    /// Quantizes x (device, row-major `shape`) into t, sizing its buffers.
    template <device_element In>
    void quantize(const In* x, shape2d shape, tensor_type& t, cudaStream_t stream = 0) {
        detail::fp::size_tensor(t, shape, bits, opt_.gran.scale_count(shape), false);
        quantize(x, shape, t.view(), stream);
    }
    /// Quantizes into a view whose arrays are already large enough.
    template <device_element In>
    void quantize(const In* x, shape2d shape, fp_tensor_view<ScaleT> t, cudaStream_t stream = 0) {
        lowbit::detail::require(x != nullptr || shape.size() == 0, "x", "must be a device pointer");
        t.shape = shape;
        engine::quantize(x, shape, opt_.gran, opt_.round, t, key_.data(), detail::fp::no_global{},
                         stream);
    }
    /// Quantizes x with the scales already in t.scales (opts().gran.scale_count(shape) of them,
    /// e.g. kept from calibration or a previous step: the common inference case); one read of x,
    /// no amax pass. Codes equal the CPU's minifloat_quantizer::encode with those scales.
    template <device_element In>
    void quantize_with_scales(const In* x, shape2d shape, fp_tensor_view<ScaleT> t,
                              cudaStream_t stream = 0) const {
        lowbit::detail::require(x != nullptr || shape.size() == 0, "x", "must be a device pointer");
        lowbit::detail::require(t.packed != nullptr || shape.size() == 0, "t.packed",
                                "must be a device pointer");
        lowbit::detail::require(t.scales != nullptr || shape.size() == 0, "t.scales",
                                "must hold the scales (device)");
        t.shape = shape;
        engine::encode_with_scales(x, shape, opt_.gran, opt_.round, t, stream);
    }
    /// Dequantizes t into y (device, t.shape.size() elements).
    template <device_element Out>
    void dequantize(fp_tensor_view<ScaleT> t, Out* y, cudaStream_t stream = 0) const {
        lowbit::detail::require(y != nullptr || t.shape.size() == 0, "y",
                                "must be a device pointer");
        engine::dequantize(t, opt_.gran, y, stream);
    }

private:
    using engine = detail::fp::engine<Format, detail::fp::absmax_policy<Format, ScaleT>>;
    options opt_;
    device_buffer<std::uint32_t> key_;
};

}  // namespace cuda
LOWBIT_NAMESPACE_END
