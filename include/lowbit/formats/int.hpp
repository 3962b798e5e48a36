// lowbit — integer formats.
//
// Semantics follow the lecture notes (shared/references/lecture-dnn-quantization.md):
//   symmetric, restricted range  codes −(2^{b−1}−1) … 2^{b−1}−1, clip range (−L, L), s = 2L/(2^b−2)
//   = L/qmax symmetric, full range         codes −2^{b−1} … 2^{b−1}−1 (ggml, most hardware)
//   asymmetric (unsigned)         codes 0 … 2^b−1, s = (Lmax−Lmin)/(2^b−1), code =
//   round((x−Lmin)/s)
//
// Bit layout of a stored code: signed formats store the b-bit two's complement pattern
// (−1 is 0b1…1), unsigned formats the integer itself. Encoding works on an integral float
// (already rounded by the quantizer's rounding mode) and saturates to the code range; NaN is
// mapped to 0 before it gets here (see quantize.hpp).
#pragma once
#include <cstdint>

#include "../core/bits.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Which integer range a signed format uses.
enum class int_range : std::uint8_t {
    restricted,  ///< ±(2^{b−1} − 1): symmetric around 0 (the lecture's definition)
    full,        ///< −2^{b−1} … 2^{b−1} − 1: every code used (ggml Q4_0, hardware INT)
};

/// Signed integer format of `Bits` bits.
template <int Bits, int_range Range = int_range::restricted>
struct int_format {
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: int_format<Bits> needs 1 <= Bits <= 8");
    static_assert(!(Bits == 1 && Range == int_range::restricted),
                  "lowbit: a 1-bit restricted symmetric int format has only the code 0; use "
                  "int_range::full or a 1-bit BBQ/sign format");
    static constexpr int bits = Bits;
    static constexpr bool is_signed = true;
    static constexpr int_range range = Range;
    static constexpr int qmax = (1 << (Bits - 1)) - 1;
    static constexpr int qmin = Range == int_range::full ? -(1 << (Bits - 1)) : -qmax;
    /// The positive end of the clip range in code units: L = s · scale_span.
    static constexpr int scale_span = Range == int_range::full ? (1 << (Bits - 1)) : qmax;

    /// b-bit two's complement pattern of integer q (q already within qmin … qmax).
    LOWBIT_HOST_DEVICE static constexpr code_t<Bits> to_code(int q) noexcept {
        return static_cast<code_t<Bits>>(static_cast<unsigned>(q) & code_traits<Bits>::mask);
    }
    /// Integer value of a code (sign extension of its low Bits bits).
    LOWBIT_HOST_DEVICE static constexpr int to_int(code_t<Bits> c) noexcept {
        const int v = c & code_traits<Bits>::mask;
        return v >= (1 << (Bits - 1)) ? v - (1 << Bits) : v;
    }
};

/// Unsigned integer format of `Bits` bits (asymmetric quantization).
template <int Bits>
struct uint_format {
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: uint_format<Bits> needs 1 <= Bits <= 8");
    static constexpr int bits = Bits;
    static constexpr bool is_signed = false;
    static constexpr int_range range = int_range::full;  ///< every code is used
    static constexpr int qmin = 0;
    static constexpr int qmax = (1 << Bits) - 1;
    static constexpr int scale_span = qmax;
    LOWBIT_HOST_DEVICE static constexpr code_t<Bits> to_code(int q) noexcept {
        return static_cast<code_t<Bits>>(q);
    }
    LOWBIT_HOST_DEVICE static constexpr int to_int(code_t<Bits> c) noexcept {
        return c & code_traits<Bits>::mask;
    }
};

LOWBIT_NAMESPACE_END

#include <cmath>
#include <cstddef>

#include "../core/rounding.hpp"
#include "../core/unfused.hpp"

LOWBIT_NAMESPACE_BEGIN

/// How an integer format maps codes back to values.
enum class affine : std::uint8_t {
    none,    ///< x̂ = s · q                (symmetric formats)
    offset,  ///< x̂ = s · q + m            (asymmetric, float minimum m; ggml Q4_1, the lecture)
    zero_point,  ///< x̂ = s · (q − z)          (asymmetric, integer zero point z; ONNX, PyTorch)
};

/// Per-run parameters of the integer kernels: either one value for the run (stride 0) or one
/// per element (stride 1, per-column scales).
struct int_run_params {
    const float* inv;     ///< 1 / s (0 when s = 0)
    const float* scale;   ///< s
    const float* offset;  ///< m (offset form; else points at 0)
    const float* zero;    ///< z as an integral float (zero_point form; else points at 0)
    std::size_t stride;   ///< 0: the same for the whole run; 1: per element
};

namespace reference {

/// The rounding step of the integer formats: round_integral, except that round_mode::nearest_up
/// is computed as ggml's Q4_0 … Q5_1 compute it, ⌊y + (½ − qmin)⌋ + qmin with the sum rounded to
/// float first (so a y within half a float spacing, at the sum's magnitude, below a tie rounds up
/// too; ½ − qmin and the final addition are exact).
template <class Format>
inline float round_int(float y, rounding rnd, std::uint64_t index) noexcept {
    if (rnd.mode == round_mode::nearest_up)
        return std::floor(y + (0.5f - float(Format::qmin))) + float(Format::qmin);
    return round_integral(y, rnd, index);
}

/// Scalar reference encode of n values. Per element:
///   y = (x − m) · (1/s);  y = 0 if y is NaN;  r = round_int(y) + z;  q = clamp(r, qmin, qmax).
template <class Format>
inline void encode_int_run(const float* x, std::size_t n, const int_run_params& p, rounding rnd,
                           std::uint64_t index0, std::uint8_t* codes) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = i * p.stride;
        float y = (x[i] - p.offset[k]) * p.inv[k];
        if (std::isnan(y)) y = 0.0f;
        float r = round_int<Format>(y, rnd, index0 + i) + p.zero[k];
        r = r < float(Format::qmin) ? float(Format::qmin) : r;
        r = r > float(Format::qmax) ? float(Format::qmax) : r;
        codes[i] = Format::to_code(static_cast<int>(r));
    }
}

/// Scalar reference decode of n codes (see affine for the formula of each form).
template <class Format, affine Form>
inline void decode_int_run(const std::uint8_t* codes, std::size_t n, const int_run_params& p,
                           float* out) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = i * p.stride;
        const int q = Format::to_int(codes[i]);
        if constexpr (Form == affine::none)
            out[i] = float(q) * p.scale[k];
        else if constexpr (Form == affine::offset)
            out[i] = mul_unfused(float(q), p.scale[k]) + p.offset[k];
        else
            out[i] = (float(q) - p.zero[k]) * p.scale[k];
    }
}

}  // namespace reference

LOWBIT_NAMESPACE_END
