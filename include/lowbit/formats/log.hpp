// lowbit — logarithmic (power-of-two) format log2_format<B>.
//
// Bit layout (B bits): [ s | k (B − 1 bits) ]
//   k = 0        ±0 (the code reserved for zero)
//   k = 1 … top  ±2^(k − top) in the format's unit domain, top = 2^(B−1) − 1
// so with a scale s the values are ±s, ±s/2, …, ±s·2^(1 − top), 0: log4 has 7 magnitudes spanning
// 2^6, log3 three spanning 2^2. The scale rule picks s (the quantizer uses s = group absmax, so the
// window of exponents ends at the group's largest value).
//
// Rounding (of y = x / s, in the unit domain):
//   log_rounding::linear (default)  to the nearer power of two by distance: between 2^j and 2^(j+1)
//                                   the threshold is 1.5·2^j (mantissa ≥ .5 rounds up; the tie goes
//                                   up)
//   log_rounding::log               to the nearer power in log2: threshold √2·2^j (no ties in
//   float) both: |y| < 2^(−top) (half the smallest power) → ±0, below-window values between that
//   and the smallest power → the smallest power, |y| above 1 (and ±Inf) saturates to ±1; NaN → +0.
// Decoding is exponent arithmetic, no multiply: bits(s) + ((k − top) << 23) is s·2^(k − top) for
// a normal s whose exponent field exceeds top − k (always true of fp16 and wider normal scales
// down to 2^−100); otherwise it falls back to s · 2^(k − top).
#pragma once
#include <cstddef>
#include <cstdint>

#include "minifloat.hpp"

LOWBIT_NAMESPACE_BEGIN

/// How a log2 format rounds between two powers of two.
enum class log_rounding : std::uint8_t {
    linear,  ///< nearer by distance (threshold 1.5·2^j)
    log,     ///< nearer in log2 (threshold √2·2^j)
};

/// Sign + exponent code power-of-two format; see the file comment.
template <int B>
struct log2_format {
    static_assert(
        B >= 2 && B <= 8,
        "lowbit: log2_format<B> needs 2 <= B <= 8 bits (a sign and at least one exponent bit)");
    static constexpr int bits = B;
    static constexpr int top = (1 << (B - 1)) - 1;  ///< k of the largest magnitude (value 1)
    static constexpr std::uint32_t sign_mask = 1u << (B - 1);
    using code_type = std::uint8_t;
    /// Mantissa field at and above which a value rounds up to the next power.
    LOWBIT_HOST_DEVICE static constexpr std::uint32_t threshold(log_rounding r) noexcept {
        return r == log_rounding::linear ? 0x400000u : 0x3504F4u;
    }
    /// Bits of 2^(−top), half the smallest power: below it a value becomes 0.
    static constexpr std::uint32_t zero_below = static_cast<std::uint32_t>(127 - top) << 23;

    /// Unit-domain value of a code: ±2^(k − top) or ±0.
    LOWBIT_HOST_DEVICE static constexpr float decode(code_type c) noexcept {
        const std::uint32_t k = c & (sign_mask - 1u),
                            sign = static_cast<std::uint32_t>((c >> (B - 1)) & 1u) << 31;
        return detail::bits_float(
            sign | (k ? static_cast<std::uint32_t>(static_cast<int>(k) - top + 127) << 23 : 0u));
    }
    /// s · decode(c) by exponent arithmetic (see the file comment); s > 0 finite.
    LOWBIT_HOST_DEVICE static constexpr float decode_scaled(code_type c, float s) noexcept {
        const std::uint32_t k = c & (sign_mask - 1u),
                            sign = static_cast<std::uint32_t>((c >> (B - 1)) & 1u) << 31;
        if (k == 0) return detail::bits_float(sign);
        const std::uint32_t sb = detail::float_bits(s);
        if ((sb >> 23) > static_cast<std::uint32_t>(top))
            return detail::bits_float(
                sign | (sb - (static_cast<std::uint32_t>(top - static_cast<int>(k)) << 23)));
        return detail::bits_float(sign |
                                  detail::float_bits(s * detail::pow2f(static_cast<int>(k) - top)));
    }
    /// Unit-domain value → code.
    LOWBIT_HOST_DEVICE static constexpr code_type encode(
        float y, log_rounding r = log_rounding::linear) noexcept {
        const std::uint32_t u = detail::float_bits(y), a = u & 0x7FFFFFFFu;
        if (a > 0x7F800000u) return 0;  // NaN → +0
        const std::uint32_t sign = (u >> 31) << (B - 1);
        if (a < zero_below) return static_cast<code_type>(sign);
        const int j = static_cast<int>(a >> 23) - 127;
        int k = j + ((a & 0x7FFFFFu) >= threshold(r) ? 1 : 0) + top;
        k = k < 1 ? 1 : k > top ? top : k;
        return static_cast<code_type>(sign | static_cast<std::uint32_t>(k));
    }
};

namespace reference {

/// Scalar reference encode: codes[i] = encode(x[i] · inv, r).
template <class Format>
inline void encode_log_run(const float* x, std::size_t n, float inv, log_rounding r,
                           std::uint8_t* codes) noexcept {
    for (std::size_t i = 0; i < n; ++i) codes[i] = Format::encode(x[i] * inv, r);
}

/// Scalar reference decode: out[i] = decode_scaled(codes[i], s).
template <class Format>
inline void decode_log_run(const std::uint8_t* codes, std::size_t n, float s, float* out) noexcept {
    for (std::size_t i = 0; i < n; ++i) out[i] = Format::decode_scaled(codes[i], s);
}

}  // namespace reference

LOWBIT_NAMESPACE_END
