// lowbit — the integer quantizer on the GPU: quantize and dequantize launchers that equal the CPU's
// int_quantizer (quantizers/int.hpp) bit for bit: packed codes, stored scales, offsets, zero
// points and dequantized values.
//
//   lowbit::cuda::int_quantizer<lowbit::int_format<4, lowbit::int_range::full>, __half> q(
//       {.gran = lowbit::granularity::group(32)});
//   lowbit::cuda::device_int_tensor<__half> t;                 // device buffers, reused
//   q.quantize(x_dev, {rows, cols}, t, stream);                 // x_dev: float, __half or
//   __nv_bfloat16 q.dequantize(t.view(), y_dev, stream);                      // y_dev: float,
//   __half or __nv_bfloat16
//
// The semantics are the CPU file comment's: scales are rounded to their storage type first and the
// codes use the stored value; a zero scale gives inverse 0; NaN encodes as code-domain 0; ±Inf
// saturates; the full-range absmax scale is x_extreme / qmin with the first element of largest
// magnitude; non-finite values are ignored by every observer. Huge finite inputs saturate as on
// the CPU (docs/formats.md, "Non-finite inputs"): an asymmetric range wider than FLT_MAX is
// narrowed to [max(lo, −FLT_MAX/2), min(hi, FLT_MAX/2)] (affine_step), a scale whose end code would
// decode past FLT_MAX steps down to the largest that keeps it finite (finish_slot), and the MSE
// search's error sums saturate at FLT_MAX (trial_error). Every quantize / dequantize names "shape"
// when rows · cols overflows size_t.
//
// Launch sequences (all on the caller's stream, no host synchronisation; quantize_path() names
// the one a shape takes):
//   per group (G ≤ 256, G % 8 = 0, G / 8 a power of two, cols % G = 0; rules absmax, minmax,
//     percentile, fixed)      one fused kernel: G/8 neighbouring lanes hold a group, agree on its
//                             scale with warp shuffles, and encode it: one read of the input.
//   per tensor                keys kernel (absmax / min / max with first-index ties through 64-bit
//                             atomics; level-1 tree sums for the Gaussian rule), a one-block
//                             finalize kernel that writes the scale, then the encode kernel.
//   otherwise                 a stats kernel (one block per scale slot, exact CPU observers
//                             including tree sums and the MSE search) that also encodes its slot
//                             when the slot is whole 8-element units (rows, groups: one DRAM read);
//                             else a separate encode kernel follows.
//   quantize_with_scales      the encode kernel alone, with scales the caller stored (the common
//                             inference case: a calibrated or previously computed scale).
// Every thread works on a unit of 8 elements = Bits whole bytes (packing.cuh).
//
// Arithmetic uses the round-to-nearest intrinsics (__fmul_rn, __fadd_rn, …) so no contraction into
// FMA can change a bit, whatever --fmad says. The MSE search's per-candidate error is a sequential
// double sum on the CPU; here one thread per candidate walks the slot in the same order (exact,
// but a slow path for large slots).
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../core/rounding.hpp"
#include "../formats/int.hpp"
#include "../scale/gaussian.hpp"
#include "../scale/mse.hpp"
#include "../scale/rules.hpp"
#include "buffer.cuh"
#include "error.cuh"
#include "layout.cuh"
#include "packing.cuh"
#include "reduce.cuh"
#include "types.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// Options of cuda::int_quantizer: the same fields and defaults as the CPU's int_options.
template <class Format>
struct int_options {
    granularity gran = granularity::tensor();
    scale_rule rule = scale_rule::absmax();
    rounding round = {};
    affine form = Format::is_signed ? affine::none : affine::offset;
    nibble_order order = nibble_order::low_first;
};

/// The kernels int_quantizer::quantize launches for a shape (int_quantizer::quantize_path; the
/// file comment describes each sequence). Every path gives the same bits.
enum class int_quantize_path : std::uint8_t {
    fused_groups,     ///< one kernel: a group's lanes agree on its scale and encode it
    per_tensor,       ///< tensor keys (and tree sums), a one-block finalize, then the encode kernel
    slot_encode,      ///< one block per slot finds its scale and encodes the slot
    row_encode_1024,  ///< slot_encode with 1024 threads a block: rows of ≥ 48 KiB of input, two
                      ///< resident per SM
    slot_then_encode,  ///< one block per slot finds its scale, then the encode kernel
};

/// A quantized integer tensor in device memory (non-owning): the CPU int_tensor's arrays, same
/// bytes.
template <device_scale ScaleT>
struct int_tensor_view {
    std::uint8_t* packed = nullptr;       ///< packed_size(size(), bits) bytes
    ScaleT* scales = nullptr;             ///< one per granularity slot
    ScaleT* offsets = nullptr;            ///< affine::offset only
    std::uint8_t* zero_points = nullptr;  ///< affine::zero_point only
    shape2d shape;
    granularity gran;
    nibble_order order = nibble_order::low_first;
    affine form = affine::none;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
};

/// Owning device storage for an int_tensor_view; buffers grow and are reused (no allocation in
/// steady state).
template <device_scale ScaleT>
class device_int_tensor {
public:
    /// Sizes the buffers for `shape` and records the layout.
    void allocate(shape2d shape, granularity gran, int bits, affine form, nibble_order order) {
        const std::size_t slots = gran.scale_count(shape);
        packed_.reserve(packed_size(shape.size(), bits));
        scales_.reserve(slots);
        if (form == affine::offset) offsets_.reserve(slots);
        if (form == affine::zero_point) zero_points_.reserve(slots);
        v_ = {packed_.data(),
              scales_.data(),
              form == affine::offset ? offsets_.data() : nullptr,
              form == affine::zero_point ? zero_points_.data() : nullptr,
              shape,
              gran,
              order,
              form};
    }
    [[nodiscard]] int_tensor_view<ScaleT>& view() noexcept { return v_; }
    [[nodiscard]] const int_tensor_view<ScaleT>& view() const noexcept { return v_; }

private:
    device_buffer<std::uint8_t> packed_, zero_points_;
    device_buffer<ScaleT> scales_, offsets_;
    int_tensor_view<ScaleT> v_;
};

namespace detail {

// ---- scale slots: the CPU's slot_for, on the device ----

/// The device arrays of a tensor.
template <class ScaleT>
struct int_arrays {
    std::uint8_t* packed;
    ScaleT* scales;
    ScaleT* offsets;
    std::uint8_t* zero_points;
};

/// Encode/decode parameters of one slot, from its stored values.
struct int_param {
    float scale = 0, inv = 0, offset = 0, zero = 0;
};

/// 1 / s, 0 when s = 0 or the inverse overflows (the CPU's inverse()).
__device__ __forceinline__ float inverse(float s) {
    if (s == 0.0f) return 0.0f;
    const float inv = __frcp_rn(s);  // IEEE 1/s, round to nearest even: the same bits as 1.0f / s
    return isfinite(inv) ? inv : 0.0f;
}

template <affine Form, class ScaleT, bool Inverse = true>
__device__ __forceinline__ int_param load_param(const ScaleT* scales, const ScaleT* offsets,
                                                const std::uint8_t* zps, std::size_t s) {
    int_param p;
    p.scale = load_scale(scales[s]);
    if constexpr (Inverse) p.inv = inverse(p.scale);
    if constexpr (Form == affine::offset) p.offset = load_scale(offsets[s]);
    if constexpr (Form == affine::zero_point) p.zero = float(zps[s]);
    return p;
}

/// What the observers report about one slot (scale/rules.hpp's group_stats, plus the first
/// element of largest magnitude that the full-range absmax rule needs).
struct slot_stats {
    float absmax = 0;   ///< largest finite |x|
    float extreme = 0;  ///< first x with |x| == absmax (±0 included), +0 when none is finite
    float min = 0, max = 0;
    double sum = 0, sumsq = 0;
    unsigned long long finite = 0;

    __device__ double mean() const { return finite ? __ddiv_rn(sum, double(finite)) : 0.0; }
    __device__ double rms() const {
        return finite ? __dsqrt_rn(__ddiv_rn(sumsq, double(finite))) : 0.0;
    }
    __device__ double stddev() const {
        if (!finite) return 0.0;
        const double m = mean(), v = __dsub_rn(__ddiv_rn(sumsq, double(finite)), __dmul_rn(m, m));
        return v > 0 ? __dsqrt_rn(v) : 0.0;
    }
};

/// A slot's stored values and the parameters derived from them.
template <class ScaleT>
struct slot_out {
    ScaleT s{}, m{};
    std::uint8_t z = 0;
    int_param p;
};

inline constexpr float max_finite_f = 3.40282346638528859812e+38f;
/// The largest |code| a decode multiplies by s (the CPU's code_magnitude).
template <class Format>
__host__ __device__ constexpr float code_magnitude() {
    return float(Format::is_signed ? (-Format::qmin > Format::qmax ? -Format::qmin : Format::qmax)
                                   : Format::qmax);
}

/// s = (hi − lo) / qmax; a range wider than FLT_MAX (hi − lo overflows) is first narrowed to
/// [max(lo, −FLT_MAX/2), min(hi, FLT_MAX/2)] (the CPU's affine_step).
template <class Format>
__device__ __forceinline__ float affine_step(float& lo, float& hi) {
    const float s = __fdiv_rn(__fsub_rn(hi, lo), float(Format::qmax));
    if (isfinite(s)) [[likely]]
        return s;
    lo = lo < -max_finite_f / 2 ? -max_finite_f / 2 : lo;  // std::max(lo, −FLT_MAX/2)
    hi = max_finite_f / 2 < hi ? max_finite_f / 2 : hi;    // std::min(hi, FLT_MAX/2)
    return __fdiv_rn(__fsub_rn(hi, lo), float(Format::qmax));
}

/// Everything after the rule: store the scale (and offset / zero point), derive the parameters.
/// `lo` is the (widened, for zero_point) lower end of an unsigned format's range.
template <class Format, affine Form, class ScaleT>
__device__ slot_out<ScaleT> finish_slot(float s, float lo) {
    slot_out<ScaleT> o;
    o.s = store_scale<ScaleT>(s);
    o.p.scale = load_scale(o.s);
    o.p.inv = inverse(o.p.scale);
    if constexpr (Form == affine::offset) {
        o.m = store_scale<ScaleT>(lo);
        o.p.offset = load_scale(o.m);
    }
    // Saturation (the CPU's finish_slot / saturate_scale): every decoded value code · s (+ m) must
    // stay finite; a scale whose end code would decode past FLT_MAX steps down to the largest
    // value that keeps it finite. Not for fp16 scales, exactly as the CPU skips them (a finite
    // fp16 scale cannot reach it; an infinite one, e.g. the Gaussian rule's s = float(step · rms)
    // of a group holding ±FLT_MAX, stays +Inf there too).
    if constexpr (!std::is_same_v<ScaleT, __half>)
        if (!isfinite(__fadd_rn(__fmul_rn(o.p.scale, code_magnitude<Format>()), o.p.offset)))
            [[unlikely]] {
            // The CPU steps a = nextafter(min(a, FLT_MAX), 0) until a · |code|max + m is finite:
            // the largest float below min(|s|, FLT_MAX) for which it is. That test is monotone in
            // a, so a binary search over the bit patterns finds the same float in 32 steps (the
            // CPU's walk can take millions of ulps when s is +Inf, e.g. the Gaussian rule on
            // ±FLT_MAX).
            const float a0 = fabsf(o.p.scale);
            auto ok = [&](std::uint32_t b) {
                return isfinite(
                    __fadd_rn(__fmul_rn(__uint_as_float(b), code_magnitude<Format>()), o.p.offset));
            };
            std::uint32_t lo = 0,
                          hi = __float_as_uint(
                              a0 < max_finite_f ? a0
                                                : max_finite_f);  // ok(lo); the answer is below hi
            while (hi - lo > 1) {
                const std::uint32_t mid = lo + (hi - lo) / 2;
                if (ok(mid))
                    lo = mid;
                else
                    hi = mid;
            }
            const float m = __uint_as_float(lo);
            o.s = store_scale<ScaleT>(copysignf(m, s));
            o.p.scale = load_scale(o.s);
            o.p.inv = inverse(o.p.scale);
        }
    if constexpr (Form == affine::zero_point) {
        float z = o.p.inv == 0.0f ? 0.0f : rintf(__fmul_rn(-lo, o.p.inv));
        z = z < 0.0f ? 0.0f : (float(Format::qmax) < z ? float(Format::qmax) : z);  // std::clamp
        o.z = static_cast<std::uint8_t>(z);
        o.p.zero = float(o.z);
    }
    return o;
}

/// An unsigned format's scale from its range [lo, hi], then finish_slot.
template <class Format, affine Form, class ScaleT>
__device__ slot_out<ScaleT> finish_range(float lo, float hi) {
    lo = __fadd_rn(lo, 0.0f);  // −0 → +0, as the CPU's slot_for does (stored offsets agree)
    hi = __fadd_rn(hi, 0.0f);
    if constexpr (Form == affine::zero_point) {
        lo = 0.0f < lo ? 0.0f : lo;  // std::min(lo, 0.0f)
        hi = hi < 0.0f ? 0.0f : hi;  // std::max(hi, 0.0f)
    }
    const float s = affine_step<Format>(lo, hi);
    return finish_slot<Format, Form, ScaleT>(s, lo);
}

/// The slot for every rule but mse_search (slot_for in quantizers/int.hpp).
template <class Format, affine Form, class ScaleT>
__device__ slot_out<ScaleT> make_slot(const slot_stats& st, const scale_rule& rule, double gstep) {
    using K = scale_rule::kind;
    if constexpr (Format::is_signed) {
        const float span = float(Format::scale_span);
        float s = 0;
        switch (rule.type) {
            case K::absmax:
            case K::minmax:
                // qmin = −2^{b−1}: dividing by it equals multiplying by its exact reciprocal.
                s = Format::range == int_range::full
                    ? __fmul_rn(st.extreme, 1.0f / float(Format::qmin))
                    : __fdiv_rn(st.absmax, span);
                break;
            case K::percentile: s = __fdiv_rn(__fmul_rn(rule.ratio, st.absmax), span); break;
            case K::gaussian_optimal: s = __double2float_rn(__dmul_rn(gstep, st.rms())); break;
            case K::fixed: {
                const float a = fabsf(rule.lo), b = fabsf(rule.hi);
                s = __fdiv_rn(a < b ? b : a, span);
                break;
            }
            case K::mse_search: break;  // handled by the callers (needs the values)
        }
        return finish_slot<Format, Form, ScaleT>(s, 0.0f);
    } else {
        float lo = 0, hi = 0;
        switch (rule.type) {
            case K::absmax:
            case K::minmax:
                lo = st.min;
                hi = st.max;
                break;
            case K::percentile:
                lo = __fmul_rn(rule.ratio, st.min);
                hi = __fmul_rn(rule.ratio, st.max);
                break;
            case K::fixed:
                lo = rule.lo;
                hi = rule.hi;
                break;
            case K::gaussian_optimal: {
                const double step = __dmul_rn(gstep, st.stddev());
                const double half_range = __ddiv_rn(__dmul_rn(step, double(Format::qmax)), 2.0);
                lo = __double2float_rn(__dsub_rn(st.mean(), half_range));
                hi = __double2float_rn(__dadd_rn(st.mean(), half_range));
                break;
            }
            case K::mse_search: break;
        }
        return finish_range<Format, Form, ScaleT>(lo, hi);
    }
}

/// Squared error of a slot under scale s and offset m, summed in scale/mse.hpp's order (chunks
/// of 1024 in 16 float partials folded, superblocks of 65 536 in double, their total in double,
/// saturated at FLT_MAX), every operation rounded on its own; values are read through `at`.
template <class Format, class At>
__device__ float trial_error(std::size_t count, At&& at, float s, float m) {
    const float inv = inverse(s);
    const float qmin = float(Format::qmin), qmax = float(Format::qmax);
    double total = 0;
    for (std::size_t sb = 0; sb < count; sb += mse_search::superblock) {
        const std::size_t sb_end =
            count - sb < mse_search::superblock ? count : sb + mse_search::superblock;
        double sum = 0;
        for (std::size_t c0 = sb; c0 < sb_end; c0 += mse_search::chunk) {
            const std::size_t c1 =
                sb_end - c0 < mse_search::chunk ? sb_end : c0 + mse_search::chunk;
            float p[mse_search::partials] = {};
            for (std::size_t j = c0; j < c1; ++j) {
                const float x = at(j);
                if (!isfinite(x)) continue;
                float q = rintf(__fmul_rn(__fsub_rn(x, m), inv));
                q = q < qmin ? qmin : (qmax < q ? qmax : q);
                const float d = __fsub_rn(x, __fadd_rn(__fmul_rn(q, s), m));
                p[(j - c0) % mse_search::partials] =
                    __fadd_rn(p[(j - c0) % mse_search::partials], __fmul_rn(d, d));
            }
            for (std::size_t w = mse_search::partials / 2; w >= 1; w /= 2)
                for (std::size_t i = 0; i < w; ++i) p[i] = __fadd_rn(p[i], p[i + w]);
            sum = __dadd_rn(sum, double(p[0]));
        }
        total = __dadd_rn(total, sum);
    }
    // Saturated at FLT_MAX (the CPU's mse_search::saturate): huge groups still choose a candidate.
    return __double2float_rn(double(max_finite_f) < total ? double(max_finite_f)
                                                          : total);  // std::min(total, FLT_MAX)
}

/// The MSE search (49 candidates, k = 64 … 16) by one block; thread j < 49 evaluates k = 64 − j.
/// Returns the slot in every thread.
template <class Format, affine Form, class ScaleT, class At>
__device__ slot_out<ScaleT> mse_slot(const slot_stats& st, std::size_t count, At&& at) {
    __shared__ float err[49];
    __shared__ float cand_s[49], cand_lo[49], cand_hi[49];
    const unsigned j = threadIdx.x;
    if (j < 49) {
        const float ratio = __fdiv_rn(float(64 - int(j)), 64.0f);
        if constexpr (Format::is_signed) {
            const float c = load_scale(store_scale<ScaleT>(
                __fdiv_rn(__fmul_rn(ratio, st.absmax), float(Format::scale_span))));
            cand_s[j] = c;
            err[j] = trial_error<Format>(count, at, c, 0.0f);
        } else {
            const float l = __fmul_rn(ratio, st.min), h = __fmul_rn(ratio, st.max);
            const float cs =
                load_scale(store_scale<ScaleT>(__fdiv_rn(__fsub_rn(h, l), float(Format::qmax))));
            const float cm = load_scale(store_scale<ScaleT>(l));
            cand_lo[j] = l;
            cand_hi[j] = h;
            err[j] = trial_error<Format>(count, at, cs, cm);
        }
    }
    __syncthreads();
    float best = INFINITY, s = 0, lo = 0, hi = 0;
    for (int k = 0; k < 49; ++k) {
        if (err[k] < best) {
            best = err[k];
            if constexpr (Format::is_signed)
                s = cand_s[k];
            else {
                lo = cand_lo[k];
                hi = cand_hi[k];
            }
        }
    }
    __syncthreads();
    if constexpr (Format::is_signed)
        return finish_slot<Format, Form, ScaleT>(s, 0.0f);
    else
        return finish_range<Format, Form, ScaleT>(lo, hi);
}

template <class ScaleT>
__device__ __forceinline__ void store_slot(const int_arrays<ScaleT>& a, std::size_t s,
                                           const slot_out<ScaleT>& o, affine form) {
    a.scales[s] = o.s;
    if (form == affine::offset) a.offsets[s] = o.m;
    if (form == affine::zero_point) a.zero_points[s] = o.z;
}

// ---- element encode / decode ----

/// reference::encode_int_run for one element (formats/int.hpp).
template <class Format, affine Form, bool RNE = false>
__device__ __forceinline__ std::uint8_t encode_one(float x, const int_param& p, const rounding& rnd,
                                                   std::uint64_t index) {
    float y = Form == affine::none ? __fmul_rn(x, p.inv) : __fmul_rn(__fsub_rn(x, p.offset), p.inv);
    if (isnan(y)) y = 0.0f;
    float r = RNE ? rintf(y)
        : rnd.mode == round_mode::nearest_up
        ? floorf(__fadd_rn(y, 0.5f - float(Format::qmin))) + float(Format::qmin)
        : round_device(y, rnd, index);
    if constexpr (Form == affine::zero_point) r = __fadd_rn(r, p.zero);
    r = fminf(fmaxf(r, float(Format::qmin)),
              float(Format::qmax));  // r is never NaN here: the CPU's clamp
    return Format::to_code(static_cast<int>(r));
}

/// Encodes v[0 … m) of the unit starting at element i0 with one slot's parameters; codes64 out.
/// RNE: the default rounding, resolved at compile time (the rounding switch costs per element).
template <class Format, affine Form, bool RNE>
__device__ __forceinline__ std::uint64_t encode8(const float (&v)[8], int m, const int_param& p,
                                                 const rounding& rnd, std::size_t i0) {
    std::uint64_t codes = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k)
        if (k < m)
            codes |= std::uint64_t(encode_one<Format, Form, RNE>(v[k], p, rnd, i0 + k)) << (8 * k);
    return codes;
}
template <class Format, affine Form>
__device__ __forceinline__ std::uint64_t encode8(const float (&v)[8], int m, const int_param& p,
                                                 const rounding& rnd, std::size_t i0) {
    return rnd.mode == round_mode::nearest_even ? encode8<Format, Form, true>(v, m, p, rnd, i0)
                                                : encode8<Format, Form, false>(v, m, p, rnd, i0);
}

/// reference::decode_int_run for one code.
template <class Format, affine Form>
__device__ __forceinline__ float decode_one(std::uint8_t code, const int_param& p) {
    const float q = float(Format::to_int(code));
    if constexpr (Form == affine::none)
        return __fmul_rn(q, p.scale);
    else if constexpr (Form == affine::offset)
        return __fadd_rn(__fmul_rn(q, p.scale), p.offset);
    else
        return __fmul_rn(__fsub_rn(q, p.zero), p.scale);
}

// ---- kernels ----

inline constexpr int threads = 256;

/// Encode with stored scales (quantize_with_scales, and the second step of the unfused paths).
template <class Format, affine Form, class In, class ScaleT>
__global__ void __launch_bounds__(threads)
    encode_kernel(const In* __restrict__ x, int_layout L, int_arrays<ScaleT> a, rounding rnd,
                  nibble_order order, bool vec_in, bool vec_out) {
    const std::size_t u = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    float v[8];
    const int m = load_unit_values(x, L.n, u, v, vec_in);
    std::uint64_t codes = 0;
    if (m > 0 && L.unit_uniform) {
        codes = encode8<Format, Form>(
            v, m, load_param<Form>(a.scales, a.offsets, a.zero_points, unit_slot(L, u * 8)), rnd,
            u * 8);
    } else if (m > 0) {
        slot_walker w(L, u * 8);
        std::size_t cur = ~std::size_t(0);
        int_param p;
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            if (k < m) {
                if (w.s != cur) {
                    p = load_param<Form>(a.scales, a.offsets, a.zero_points, w.s);
                    cur = w.s;
                }
                codes |= std::uint64_t(encode_one<Format, Form>(v[k], p, rnd, u * 8 + k))
                    << (8 * k);
                w.next(L);
            }
        }
    }
    write_codes<Format::bits>(a.packed, L.n, u, codes, m, order, vec_out, [&](std::size_t i) {
        slot_walker w(L, i);
        const int_param p = load_param<Form>(a.scales, a.offsets, a.zero_points, w.s);
        return encode_one<Format, Form>(to_float(x[i]), p, rnd, i);
    });
}

/// Decode: unit u's codes → 8 values.
template <class Format, affine Form, class Out, class ScaleT>
__global__ void __launch_bounds__(threads)
    decode_kernel(const std::uint8_t* __restrict__ packed, const ScaleT* __restrict__ scales,
                  const ScaleT* __restrict__ offsets, const std::uint8_t* __restrict__ zps,
                  int_layout L, Out* __restrict__ y, nibble_order order, bool vec_in,
                  bool vec_out) {
    constexpr int Bits = Format::bits;
    const std::size_t u = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x, i0 = u * 8;
    if (i0 >= L.n) return;
    const int m = L.n - i0 < 8 ? int(L.n - i0) : 8;
    std::uint64_t codes = 0;
    if (Bits == 4 && order == nibble_order::ggml_split) {
        const std::size_t start = u / 4 * 32, q = u % 4;
        if (L.n - start >= 32) {
            const std::uint64_t b = read_bytes<8>(packed + start / 2 + (q & 1) * 8, 8, vec_in);
            codes = (q < 2 ? b : b >> 4) & 0x0f0f0f0f0f0f0f0full;
        } else {
            for (int k = 0; k < m; ++k)
                codes |= std::uint64_t(split_load(packed, i0 + k, L.n)) << (8 * k);
        }
    } else {
        codes = load_unit<Bits>(packed, u, m, order, vec_in);
    }
    float v[8];
    if (L.unit_uniform) {
        const int_param p = load_param<Form, ScaleT, false>(scales, offsets, zps, unit_slot(L, i0));
#pragma unroll
        for (int k = 0; k < 8; ++k)
            v[k] = decode_one<Format, Form>(static_cast<std::uint8_t>(codes >> (8 * k)), p);
    } else {
        slot_walker w(L, i0);
        std::size_t cur = ~std::size_t(0);
        int_param p;
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            v[k] = 0.0f;
            if (k < m) {
                if (w.s != cur) {
                    p = load_param<Form, ScaleT, false>(scales, offsets, zps, w.s);
                    cur = w.s;
                }
                v[k] = decode_one<Format, Form>(static_cast<std::uint8_t>(codes >> (8 * k)), p);
                w.next(L);
            }
        }
    }
    if (m == 8)
        store8(y + i0, v, vec_out);
    else
        for (int k = 0; k < m; ++k) y[i0 + k] = from_float<Out>(v[k]);
}

/// One block per slot: the CPU's observers (and MSE search) over the slot, then the stored scale.
/// The extremes travel as first-index keys (reduce.cuh), so the statistics take one pass over the
/// slot. With `encode` set (contiguous slots that start and end on whole units, see
/// int_quantizer::encode_in_slot_kernel) the block then encodes its slot, whose values it has just
/// read and which L2 still holds: one read of the input from DRAM.
template <class Format, affine Form, class In, class ScaleT>
__global__ void __launch_bounds__(1024)
    slot_stats_kernel(const In* __restrict__ x, int_layout L, int_arrays<ScaleT> a, scale_rule rule,
                      double gstep, bool need_sums, bool encode, rounding rnd, nibble_order order,
                      bool vec_in, bool vec_out) {
    const std::size_t slots = L.slots();
    for (std::size_t s = blockIdx.x; s < slots; s += gridDim.x) {
        const slot_span sp = span_of(L, s);
        auto at = [&](std::size_t j) { return to_float(x[sp.start + j * sp.stride]); };
        slot_stats st;
        if (rule.type != scale_rule::kind::fixed) {
            key_acc<Format::is_signed> acc;
            if (encode) {  // contiguous whole units: 16-byte loads
                for (std::size_t j = threadIdx.x; j < sp.count / 8; j += blockDim.x) {
                    float v[8];
                    load8(x + sp.start + j * 8, v, vec_in);
#pragma unroll
                    for (int k = 0; k < 8; ++k)
                        acc.add(v[k], static_cast<std::uint32_t>(j * 8 + k));
                }
            } else {
                for (std::size_t j = threadIdx.x; j < sp.count; j += blockDim.x)
                    acc.add(at(j), static_cast<std::uint32_t>(j));
            }
            acc.reduce();
            st.finite = acc.fin;
            // The first element of each extreme, read back: this keeps the sign of a zero.
            if (Format::is_signed && acc.kabs) {
                st.extreme = at(index_of_max_key(acc.kabs));
                st.absmax = fabsf(st.extreme);
            }
            if (!Format::is_signed && st.finite) {
                st.min = at(index_of_min_key(acc.kmin));
                st.max = at(index_of_max_key(acc.kmax));
            }
            if (need_sums) {
                const sum2 r =
                    block_tree_sum(sp.count, [&](std::size_t j) { return finite_terms(at(j)); });
                st.sum = r.a;
                st.sumsq = r.b;
            }
        }
        slot_out<ScaleT> o;
        if (rule.type == scale_rule::kind::mse_search)
            o = mse_slot<Format, Form, ScaleT>(st, sp.count, at);
        else
            o = make_slot<Format, Form, ScaleT>(st, rule, gstep);
        if (threadIdx.x == 0) store_slot(a, s, o, Form);
        if (encode) {  // uniform across the block; every lane reaches write_codes (ggml shuffles)
            const std::size_t u0 = sp.start / 8, units = sp.count / 8;
            for (std::size_t base = 0; base < units; base += blockDim.x) {
                const std::size_t j = base + threadIdx.x, u = u0 + j;
                float v[8];
                int m = 0;
                std::uint64_t codes = 0;
                if (j < units) {
                    load8(x + u * 8, v, vec_in);
                    m = 8;
                    codes = encode8<Format, Form>(v, 8, o.p, rnd, u * 8);
                }
                write_codes<Format::bits>(a.packed, L.n, u, codes, m, order, vec_out,
                                          [](std::size_t) { return std::uint8_t(0); });
            }
        }
        __syncthreads();
    }
}

/// Per-tensor keys: [0] absmax (first index), [1] min, [2] max, [3] finite count.
template <bool Signed, class In>
__global__ void __launch_bounds__(threads)
    tensor_keys_kernel(const In* __restrict__ x, std::size_t n, unsigned long long* keys,
                       bool vec) {
    key_acc<Signed> acc;
    const std::size_t units = (n + 7) / 8;
    for (std::size_t u = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; u < units;
         u += std::size_t(gridDim.x) * blockDim.x) {
        float v[8];
        const int m = load_unit_values(x, n, u, v, vec);
#pragma unroll
        for (int k = 0; k < 8; ++k)
            if (k < m) acc.add(v[k], static_cast<std::uint32_t>(u * 8 + k));
    }
    acc.reduce();
    if (threadIdx.x == 0 && acc.fin) {
        if constexpr (Signed)
            atomicMax(&keys[0], acc.kabs);
        else {
            atomicMin(&keys[1], acc.kmin);
            atomicMax(&keys[2], acc.kmax);
        }
        atomicAdd(&keys[3], acc.fin);
    }
}

__global__ void init_keys_kernel(unsigned long long* keys) {
    keys[0] = 0;
    keys[1] = ~0ull;
    keys[2] = 0;
    keys[3] = 0;
}

template <class In>
__global__ void __launch_bounds__(threads)
    tensor_level1_kernel(const In* __restrict__ x, std::size_t n, sum2* level1) {
    tree_level1_block(
        n, [&](std::size_t i) { return finite_terms(to_float(x[i])); }, level1);
}

/// Per-tensor scale from the keys (and level-1 sums), by one block.
template <class Format, affine Form, class In, class ScaleT>
__global__ void __launch_bounds__(threads)
    tensor_finalize_kernel(const In* __restrict__ x, std::size_t n, const unsigned long long* keys,
                           const sum2* level1, int_arrays<ScaleT> a, scale_rule rule,
                           double gstep) {
    slot_stats st;
    if (rule.type != scale_rule::kind::fixed) {
        st.finite = keys[3];
        if (Format::is_signed && keys[0]) {
            st.extreme = to_float(x[index_of_max_key(keys[0])]);
            st.absmax = fabsf(st.extreme);
        }
        if (!Format::is_signed && st.finite) {
            st.min = to_float(x[index_of_min_key(keys[1])]);
            st.max = to_float(x[index_of_max_key(keys[2])]);
        }
        if (level1) {
            const std::size_t n1 = (n + tree_block - 1) / tree_block;
            const sum2 r =
                n1 == 1 ? level1[0] : block_tree_sum(n1, [&](std::size_t i) { return level1[i]; });
            st.sum = r.a;
            st.sumsq = r.b;
        }
    }
    slot_out<ScaleT> o;
    if (rule.type == scale_rule::kind::mse_search)
        o = mse_slot<Format, Form, ScaleT>(st, n, [&](std::size_t j) { return to_float(x[j]); });
    else
        o = make_slot<Format, Form, ScaleT>(st, rule, gstep);
    if (threadIdx.x == 0) store_slot(a, 0, o, Form);
}

/// Fused per-group quantize: W = G/8 neighbouring lanes own one group (see the file comment).
template <class Format, affine Form, class In, class ScaleT>
__global__ void __launch_bounds__(threads)
    group_fused_kernel(const In* __restrict__ x, int_layout L, int_arrays<ScaleT> a,
                       scale_rule rule, rounding rnd, nibble_order order, bool vec_in,
                       bool vec_out) {
    const std::size_t u = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const unsigned W = unsigned(L.group / 8), lane = threadIdx.x % 32;
    const unsigned group_lanes = (W == 32 ? 0xffffffffu : ((1u << W) - 1u)) << (lane & ~(W - 1));
    float v[8];
    const int m = load_unit_values(x, L.n, u, v, vec_in);  // 8 or 0: groups are whole here
    // Observers over the group's lanes: finite absmax, min, max (min > max means none finite).
    // Signed formats' rules need absmax only, unsigned ones min and max only.
    float amax = 0, mn = INFINITY, mx = -INFINITY;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
        if constexpr (Format::is_signed) {
            const float av = fabsf(v[k]);
            amax = av > amax && av <= 3.4028234663852886e38f ? av : amax;  // skips NaN and ±Inf
        } else if (isfinite(v[k])) {
            mn = v[k] < mn ? v[k] : mn;
            mx = v[k] > mx ? v[k] : mx;
        }
    }
    for (unsigned o = 1; o < W; o *= 2) {
        if constexpr (Format::is_signed) {
            const float oa = __shfl_xor_sync(0xffffffffu, amax, o);
            amax = oa > amax ? oa : amax;
        } else {
            const float on = __shfl_xor_sync(0xffffffffu, mn, o),
                        ox = __shfl_xor_sync(0xffffffffu, mx, o);
            mn = on < mn ? on : mn;
            mx = ox > mx ? ox : mx;
        }
    }
    // The first element (lane order, then element order) equal to a target value.
    auto first_equal = [&](float target, bool magnitude) {
        float hit = 0.0f;
        bool has = false;
#pragma unroll
        for (int k = 7; k >= 0; --k) {
            const float c = magnitude ? fabsf(v[k]) : v[k];
            if (c == target) {
                hit = v[k];
                has = true;
            }
        }
        const unsigned hits = __ballot_sync(0xffffffffu, has) & group_lanes;
        const float r = __shfl_sync(0xffffffffu, hit, hits ? __ffs(hits) - 1 : 0);
        return hits ? r : 0.0f;
    };
    slot_stats st;
    st.absmax = amax;
    const bool finite = mn <= mx;
    if constexpr (Format::is_signed) {
        st.extreme = first_equal(amax, true);
    } else {
        const float fmn = first_equal(mn, false), fmx = first_equal(mx, false);
        if (finite) {
            st.min = fmn;
            st.max = fmx;
        }
    }
    const slot_out<ScaleT> o = make_slot<Format, Form, ScaleT>(st, rule, 0.0);
    const std::size_t s = u * 8 / L.group;  // whole groups: slot = element / G
    std::uint64_t codes = 0;
    if (m > 0) {
        if ((lane & (W - 1)) == 0) store_slot(a, s, o, Form);
        codes = encode8<Format, Form>(v, 8, o.p, rnd, u * 8);
    }
    write_codes<Format::bits>(a.packed, L.n, u, codes, m, order, vec_out,
                              [](std::size_t) { return std::uint8_t(0); });
}

inline unsigned blocks_for(std::size_t units) {
    return static_cast<unsigned>((units + threads - 1) / threads);
}

}  // namespace detail

/// Quantizes on the GPU with an integer format; bit-identical to lowbit::int_quantizer<Format, T>
/// where ScaleT is T's device twin (float, __half for Eigen::half, __nv_bfloat16 for
/// Eigen::bfloat16). Holds a small device workspace (per-tensor reductions); one instance per
/// concurrent stream.
template <class Format, device_scale ScaleT = float>
class int_quantizer {
public:
    using format = Format;
    using options = int_options<Format>;
    static constexpr int bits = Format::bits;

    int_quantizer() : int_quantizer(options{}) {}
    explicit int_quantizer(options o) : opt_(o) {
        opt_.rule.validate();
        lowbit::detail::require(
            Format::is_signed ? opt_.form == affine::none : opt_.form != affine::none,
            "options.form",
            "signed formats take affine::none, unsigned ones affine::offset or affine::zero_point");
        lowbit::detail::check_order(bits, opt_.order);
        if (opt_.gran.type == granularity::kind::per_group)
            lowbit::detail::require(opt_.gran.group_size > 0, "options.gran.group_size",
                                    "must be > 0");
        if (opt_.rule.type == scale_rule::kind::gaussian_optimal) gstep_ = gaussian_step();
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    /// The CPU's int_quantizer<Format>::gaussian_step(), computed the same way on the host.
    static double gaussian_step() {
        static const double c = [] {
            const auto levels = Format::is_signed ? integer_levels(Format::qmin, Format::qmax)
                                                  : midrise_levels(bits);
            return gaussian_optimal_step(levels);
        }();
        return c;
    }

    /// Quantizes x (device, row-major `shape`) into t's device arrays, computing the scales.
    template <device_element In>
    void quantize(const In* x, shape2d shape, int_tensor_view<ScaleT>& t, cudaStream_t stream = 0) {
        require_shape(shape.rows, shape.cols);
        set_layout(shape, t);
        check_view(t, x);
        const std::size_t n = shape.size();
        if (n == 0) return;
        const auto L = detail::int_layout::of(shape, opt_.gran);
        const detail::int_arrays<ScaleT> a{t.packed, t.scales, t.offsets, t.zero_points};
        const bool vin = detail::aligned16(x), vout = detail::aligned16(t.packed);
        const int_quantize_path path = quantize_path<In>(shape);
        dispatch_form([&](auto form) {
            constexpr affine F = decltype(form)::value;
            if (path == int_quantize_path::fused_groups) {
                detail::group_fused_kernel<Format, F, In, ScaleT>
                    <<<detail::blocks_for((n + 7) / 8), detail::threads, 0, stream>>>(
                        x, L, a, opt_.rule, opt_.round, opt_.order, vin, vout);
                check_launch("int quantize (fused groups)");
                return;
            }
            if (path == int_quantize_path::per_tensor)
                tensor_scale<F>(x, n, a, vin, stream);
            else {
                const bool sums = opt_.rule.type == scale_rule::kind::gaussian_optimal,
                           rows = path == int_quantize_path::row_encode_1024;
                const bool enc = rows || path == int_quantize_path::slot_encode;
                const std::size_t slots = L.slots();
                lowbit::detail::require(shape.rows < 0xffffffffull && shape.cols < 0xffffffffull,
                                        "shape", "rows and columns must be below 2^32 on the GPU");
                const unsigned grid =
                    static_cast<unsigned>(slots < 65535u * 16u ? slots : 65535u * 16u);
                detail::slot_stats_kernel<Format, F, In, ScaleT>
                    <<<grid, rows ? 1024 : detail::threads, 0, stream>>>(
                        x, L, a, opt_.rule, gstep_, sums, enc, opt_.round, opt_.order, vin, vout);
                check_launch("int quantize (scale slots)");
                if (enc) return;
            }
            detail::encode_kernel<Format, F, In, ScaleT>
                <<<detail::blocks_for((n + 7) / 8), detail::threads, 0, stream>>>(
                    x, L, a, opt_.round, opt_.order, vin, vout);
            check_launch("int quantize (encode)");
        });
    }
    /// Owning-tensor convenience: sizes t for `shape` and quantizes into it.
    template <device_element In>
    void quantize(const In* x, shape2d shape, device_int_tensor<ScaleT>& t,
                  cudaStream_t stream = 0) {
        require_shape(shape.rows, shape.cols);
        t.allocate(shape, opt_.gran, bits, opt_.form, opt_.order);
        quantize(x, shape, t.view(), stream);
    }

    /// Quantizes x with the scales (offsets, zero points) already stored in t: no reduction, one
    /// kernel. t's layout fields must match these options and `shape`.
    template <device_element In>
    void quantize_with_scales(const In* x, shape2d shape, const int_tensor_view<ScaleT>& t,
                              cudaStream_t stream = 0) const {
        require_shape(shape.rows, shape.cols);
        lowbit::detail::require(
            t.shape == shape && t.gran.type == opt_.gran.type && t.gran.axis == opt_.gran.axis &&
                t.gran.group_size == opt_.gran.group_size && t.form == opt_.form &&
                t.order == opt_.order,
            "t",
            "layout (shape, granularity, form, nibble order) must match the quantizer and shape");
        check_view(t, x);
        const std::size_t n = shape.size();
        if (n == 0) return;
        const auto L = detail::int_layout::of(shape, opt_.gran);
        const detail::int_arrays<ScaleT> a{t.packed, t.scales, t.offsets, t.zero_points};
        dispatch_form([&](auto form) {
            constexpr affine F = decltype(form)::value;
            detail::encode_kernel<Format, F, In, ScaleT>
                <<<detail::blocks_for((n + 7) / 8), detail::threads, 0, stream>>>(
                    x, L, a, opt_.round, opt_.order, detail::aligned16(x),
                    detail::aligned16(t.packed));
            check_launch("int quantize_with_scales");
        });
    }

    /// Dequantizes t (device) into y (device, t.size() values). Uses t's own layout.
    template <device_element Out>
    static void dequantize(const int_tensor_view<ScaleT>& t, Out* y, cudaStream_t stream = 0) {
        require_shape(t.shape.rows, t.shape.cols);
        check_view(t, y);
        const std::size_t n = t.size();
        if (n == 0) return;
        const auto L = detail::int_layout::of(t.shape, t.gran);
        auto run = [&](auto form) {
            constexpr affine F = decltype(form)::value;
            detail::decode_kernel<Format, F, Out, ScaleT>
                <<<detail::blocks_for((n + 7) / 8), detail::threads, 0, stream>>>(
                    t.packed, t.scales, t.offsets, t.zero_points, L, y, t.order,
                    detail::aligned16(t.packed), detail::aligned16(y));
            check_launch("int dequantize");
        };
        switch (t.form) {
            case affine::none: run(std::integral_constant<affine, affine::none>{}); break;
            case affine::offset: run(std::integral_constant<affine, affine::offset>{}); break;
            case affine::zero_point:
                run(std::integral_constant<affine, affine::zero_point>{});
                break;
        }
    }

    /// The kernels quantize() launches for this shape and input type (the one place where they
    /// are chosen). Long rows encoded in-block get 1024 threads: two resident rows per SM keep
    /// every row in L2 between the statistics pass and the encode pass.
    template <device_element In = float>
    [[nodiscard]] int_quantize_path quantize_path(shape2d shape) const noexcept {
        if (fusable(shape)) return int_quantize_path::fused_groups;
        if (opt_.gran.type == granularity::kind::per_tensor) return int_quantize_path::per_tensor;
        if (!encode_in_slot_kernel(shape)) return int_quantize_path::slot_then_encode;
        const bool long_rows =
            opt_.gran.type == granularity::kind::per_channel && shape.cols * sizeof(In) >= 49152;
        return long_rows ? int_quantize_path::row_encode_1024 : int_quantize_path::slot_encode;
    }

    /// Whether quantize() runs the one-kernel fused per-group path for this shape.
    [[nodiscard]] bool fusable(shape2d shape) const noexcept {
        const auto& g = opt_.gran;
        using K = scale_rule::kind;
        const std::size_t G = g.group_size, W = G / 8;
        const bool rule_ok = opt_.rule.type == K::absmax || opt_.rule.type == K::minmax ||
            opt_.rule.type == K::percentile || opt_.rule.type == K::fixed;
        return g.type == granularity::kind::per_group && rule_ok && G % 8 == 0 && W >= 1 &&
            W <= 32 && (W & (W - 1)) == 0 && shape.cols % G == 0 &&
            (opt_.order != nibble_order::ggml_split || shape.size() % 32 == 0);
    }

    /// Whether the per-slot kernel also encodes (rows and groups that start and end on whole
    /// 8-element units, 32 for ggml_split), saving the separate encode pass.
    [[nodiscard]] bool encode_in_slot_kernel(shape2d shape) const noexcept {
        const auto& g = opt_.gran;
        const std::size_t A = opt_.order == nibble_order::ggml_split ? 32 : 8;
        if (g.type == granularity::kind::per_channel) return g.axis == 0 && shape.cols % A == 0;
        return g.type == granularity::kind::per_group && shape.cols % A == 0 &&
            g.group_size % A == 0;
    }

private:
    void set_layout(shape2d shape, int_tensor_view<ScaleT>& t) const {
        opt_.gran.validate(shape);
        t.shape = shape;
        t.gran = opt_.gran;
        t.order = opt_.order;
        t.form = opt_.form;
    }
    static void check_view(const int_tensor_view<ScaleT>& t, const void* data) {
        const std::size_t n = t.size();
        if (n == 0) return;
        lowbit::detail::require(data != nullptr, "x", "device pointer must not be null");
        lowbit::detail::require(t.packed != nullptr, "t.packed", "device pointer must not be null");
        lowbit::detail::require(t.scales != nullptr, "t.scales", "device pointer must not be null");
        lowbit::detail::require(t.form != affine::offset || t.offsets != nullptr, "t.offsets",
                                "is needed by affine::offset");
        lowbit::detail::require(t.form != affine::zero_point || t.zero_points != nullptr,
                                "t.zero_points", "is needed by affine::zero_point");
        lowbit::detail::require(
            t.gran.type != granularity::kind::per_group || t.gran.group_size > 0,
            "t.gran.group_size", "must be > 0");
        lowbit::detail::check_order(bits, t.order);
    }
    template <class F>
    void dispatch_form(F&& f) const {
        if constexpr (Format::is_signed)
            f(std::integral_constant<affine, affine::none>{});
        else if (opt_.form == affine::offset)
            f(std::integral_constant<affine, affine::offset>{});
        else
            f(std::integral_constant<affine, affine::zero_point>{});
    }
    template <affine F, class In>
    void tensor_scale(const In* x, std::size_t n, const detail::int_arrays<ScaleT>& a, bool vin,
                      cudaStream_t stream) {
        lowbit::detail::require(n <= 0xffffffffull, "shape",
                                "a per-tensor scale on the GPU needs fewer than 2^32 elements");
        const bool sums = opt_.rule.type == scale_rule::kind::gaussian_optimal;
        const std::size_t n1 = (n + tree_block - 1) / tree_block;
        const std::size_t bytes = 4 * sizeof(unsigned long long) + (sums ? n1 * sizeof(sum2) : 0);
        work_.reserve(bytes);
        auto* keys = reinterpret_cast<unsigned long long*>(work_.data());
        auto* level1 =
            sums ? reinterpret_cast<sum2*>(work_.data() + 4 * sizeof(unsigned long long)) : nullptr;
        if (opt_.rule.type != scale_rule::kind::fixed) {
            detail::init_keys_kernel<<<1, 1, 0, stream>>>(keys);
            check_launch("int quantize (init keys)");
            int dev = 0, sms = 0;
            check(cudaGetDevice(&dev), "cudaGetDevice");
            check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev),
                  "cudaDeviceGetAttribute");
            const std::size_t want = detail::blocks_for((n + 7) / 8), cap = std::size_t(sms) * 8;
            detail::tensor_keys_kernel<Format::is_signed, In>
                <<<unsigned(want < cap ? want : cap), detail::threads, 0, stream>>>(x, n, keys,
                                                                                    vin);
            check_launch("int quantize (tensor keys)");
            if (sums) {
                detail::tensor_level1_kernel<In>
                    <<<unsigned(n1), detail::threads, 0, stream>>>(x, n, level1);
                check_launch("int quantize (tree sums)");
            }
        }
        detail::tensor_finalize_kernel<Format, F, In, ScaleT>
            <<<1, detail::threads, 0, stream>>>(x, n, keys, level1, a, opt_.rule, gstep_);
        check_launch("int quantize (tensor scale)");
    }

    options opt_;
    double gstep_ = 0;
    device_buffer<unsigned char> work_;
};

}  // namespace cuda
LOWBIT_NAMESPACE_END
