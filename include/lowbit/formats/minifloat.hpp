// lowbit — minifloats: one template for every sign + E exponent + M mantissa layout, plus the
// unsigned power-of-two scale type E8M0.
//
// Specs: OCP 8-bit Floating Point (OFP8) v1.0 (E4M3FN, E5M2); OCP Microscaling (MX) v1.0 §5
// (FP6 E3M2/E2M3, FP4 E2M1, E8M0); Graphcore/AMD FNUZ (E4M3FNUZ, E5M2FNUZ); IEEE 754 for the
// ieee flavour. Semantics are those of ml_dtypes' casts, bit for bit (tests/test_minifloat.cpp
// checks every code and ~53 000 sweep points per run against ml_dtypes and PyTorch vectors).
//
// Bit layout of minifloat<E, M, F, Bias> (bits = 1 + E + M, the sign on top):
//     [ s | e e … e (E) | m m … m (M) ]
//   e = 0           subnormal: (−1)^s · m · 2^(1 − Bias − M)
//   0 < e           normal:    (−1)^s · (1 + m / 2^M) · 2^(e − Bias)
//   flavour (nan_inf) decides what the top codes mean:
//     ieee   e = all ones is Inf (m = 0) or NaN (m ≠ 0); max finite = (2 − 2^−M) · 2^(2^E − 2 −
//     Bias) fn     no Inf; only s.1111…1 is NaN; max finite one mantissa step below it (E4M3FN:
//     448) fnuz   no Inf, no −0: 0b1000…0 is the only NaN; default bias one larger (E4M3FNUZ: bias
//     8) none   every code finite (FP6, FP4): Inf saturates to ±max; NaN becomes ±0 (see encode)
//
// encode(x): float32 → code. Rounding to the nearer code with ties to even by default (any
// round_mode; stochastic takes 24 random bits, see core/rounding.hpp). A result beyond max
// finite (and ±Inf) saturates to ±max under overflow::saturate, or becomes Inf (ieee) / NaN
// (fn, fnuz) under overflow::nonsaturating, which is what ml_dtypes and PyTorch casts do;
// finite-only formats always saturate. NaN stays NaN where the format has one.
// decode(code): exact (every minifloat value is a float32).
//
// Everything here is LOWBIT_HOST_DEVICE constexpr integer arithmetic on the float's bits, so the
// CUDA backend runs the very same functions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

#include "../core/bits.hpp"
#include "../core/rounding.hpp"

LOWBIT_NAMESPACE_BEGIN

/// What the top codes of a minifloat mean; see the file comment.
enum class nan_inf : std::uint8_t {
    ieee,  ///< Inf and NaN at exponent all ones (E5M2)
    fn,    ///< finite + NaN at all ones (E4M3FN)
    fnuz,  ///< finite, unsigned zero, NaN = 0b1000…0 (E4M3FNUZ, E5M2FNUZ)
    none,  ///< finite only (E3M2, E2M3, E2M1)
};

/// What encode does with values beyond the largest finite code.
enum class overflow : std::uint8_t {
    saturate,       ///< to ±max finite
    nonsaturating,  ///< to ±Inf (ieee) or NaN (fn, fnuz), as ml_dtypes / PyTorch casts; none:
                    ///< saturates
};

namespace detail {
/// The bits of a float (device-usable, constexpr).
LOWBIT_HOST_DEVICE constexpr std::uint32_t float_bits(float f) noexcept {
    return __builtin_bit_cast(std::uint32_t, f);
}
/// The float with bits u.
LOWBIT_HOST_DEVICE constexpr float bits_float(std::uint32_t u) noexcept {
    return __builtin_bit_cast(float, u);
}
/// 2^k as a float for −149 ≤ k ≤ 127, built from bits.
LOWBIT_HOST_DEVICE constexpr float pow2f(int k) noexcept {
    return k >= -126 ? bits_float(static_cast<std::uint32_t>(k + 127) << 23)
                     : bits_float(1u << (k + 149));
}
constexpr int default_bias(int e, nan_inf f) noexcept {
    return (1 << (e - 1)) - (f == nan_inf::fnuz ? 0 : 1);
}
template <int Bits>
using uint_for = std::conditional_t<(Bits <= 8), std::uint8_t,
                                    std::conditional_t<(Bits <= 16), std::uint16_t, std::uint32_t>>;

/// Decides whether a magnitude truncated at `shift` bits rounds up. `rem` holds the dropped bits
/// (shift ≤ 25: for larger shifts the caller passes shift 25 and the whole significand, which
/// is below half), `lsb` is the kept value's low bit, `negative` the sign, `random24` the
/// stochastic draw; `frac24` = ⌊rem · 2^(24 − true_shift)⌋ (stochastic only).
LOWBIT_HOST_DEVICE constexpr bool round_up(round_mode mode, std::uint32_t rem, int shift, bool lsb,
                                           bool negative, std::uint32_t frac24,
                                           std::uint32_t random24) noexcept {
    if (shift == 0) return false;
    const std::uint32_t half = 1u << (shift - 1);
    switch (mode) {
        case round_mode::nearest_even: return rem > half || (rem == half && lsb);
        case round_mode::nearest_away: return rem >= half;
        case round_mode::toward_zero: return false;
        case round_mode::floor: return negative && rem != 0;
        case round_mode::stochastic: return frac24 + random24 >= (1u << 24);
        case round_mode::nearest_up: return rem > half || (rem == half && !negative);
        case round_mode::nearest_zero: return rem > half;
    }
    return false;
}
}  // namespace detail

/// Sign, biased exponent and mantissa fields of a code.
struct float_fields {
    unsigned sign;
    unsigned exponent;  ///< biased exponent field
    std::uint32_t mantissa;
};

/// A sign + E-bit exponent + M-bit mantissa float format; see the file comment.
template <int E, int M, nan_inf F = nan_inf::ieee, int Bias = detail::default_bias(E, F)>
struct minifloat {
    static_assert(E >= 1 && E <= 8, "lowbit: minifloat needs 1 <= E <= 8 exponent bits");
    static_assert(
        M >= 0 && M <= 23,
        "lowbit: minifloat needs 0 <= M <= 23 mantissa bits (its values must be float32s)");
    static_assert(E + M <= 7 || (E == 8 && M == 23),
                  "lowbit: minifloat codes are at most 8 bits (E + M <= 7); E8M23 is allowed to "
                  "describe float32 itself");
    static_assert(!(F == nan_inf::ieee && M == 0),
                  "lowbit: an ieee minifloat needs M >= 1 to tell NaN from Inf");
    static_assert(1 - Bias >= -126,
                  "lowbit: the exponent bias puts subnormals below float32's normal range");

    static constexpr int bits = 1 + E + M;
    static constexpr int exponent_bits = E;
    static constexpr int mantissa_bits = M;
    static constexpr int bias = Bias;
    static constexpr nan_inf flavour = F;
    static constexpr bool is_signed = true;
    using code_type = detail::uint_for<bits>;

    static constexpr std::uint32_t sign_mask = 1u << (E + M);
    static constexpr std::uint32_t magnitude_mask = sign_mask - 1u;
    static constexpr std::uint32_t exp_all_ones = (1u << E) - 1u;
    /// Magnitude bits of the largest finite value.
    static constexpr std::uint32_t max_magnitude = F == nan_inf::ieee
        ? ((exp_all_ones - 1u) << M) | ((1u << M) - 1u)
        : F == nan_inf::fn ? magnitude_mask - 1u
                           : magnitude_mask;
    static constexpr int emin = 1 - Bias;  ///< exponent of the smallest normal
    static constexpr int emax =
        static_cast<int>(max_magnitude >> M) - Bias;  ///< exponent of max finite
    static_assert(emax <= 127, "lowbit: the exponent bias puts max finite beyond float32's range");
    static constexpr bool has_inf = F == nan_inf::ieee;
    static constexpr bool has_nan = F != nan_inf::none;
    static constexpr bool has_negative_zero = F != nan_inf::fnuz;
    /// The NaN code encode produces (positive where the sign is kept); ieee: quiet NaN.
    static constexpr std::uint32_t nan_code = F == nan_inf::ieee
        ? (exp_all_ones << M) | (1u << (M - (M > 0 ? 1 : 0)))
        : F == nan_inf::fn   ? magnitude_mask
        : F == nan_inf::fnuz ? sign_mask
                             : 0u;
    static constexpr std::uint32_t inf_code = exp_all_ones << M;  ///< ieee only

    /// Exact value of a code.
    LOWBIT_HOST_DEVICE static constexpr float decode(code_type c) noexcept {
        const std::uint32_t code = c;
        const std::uint32_t s = (code >> (E + M)) & 1u, mag = code & magnitude_mask;
        const std::uint32_t sign = s << 31;
        if constexpr (F == nan_inf::fnuz) {
            if (s && mag == 0) return detail::bits_float(0xFFC00000u);
        } else if constexpr (F == nan_inf::fn) {
            if (mag == magnitude_mask) return detail::bits_float(sign | 0x7FC00000u);
        } else if constexpr (F == nan_inf::ieee) {
            if ((mag >> M) == exp_all_ones)
                return detail::bits_float(sign |
                                          ((mag & ((1u << M) - 1u)) ? 0x7FC00000u : 0x7F800000u));
        }
        const std::uint32_t e = mag >> M, m = mag & ((1u << M) - 1u);
        if (e == 0) {  // subnormal (or zero): m · 2^(emin − M), exact
            const float v = static_cast<float>(m) * detail::pow2f(emin - M);
            return detail::bits_float(detail::float_bits(v) | sign);
        }
        return detail::bits_float(
            sign | (static_cast<std::uint32_t>(static_cast<int>(e) - Bias + 127) << 23) |
            (m << (23 - M)));
    }

    /// float32 → code; see the file comment. `random24` (< 2^24) is the draw of stochastic
    /// rounding: the magnitude rounds up iff frac + random24 / 2^24 >= 1 (frac: position between
    /// the two codes).
    template <overflow O = overflow::saturate>
    LOWBIT_HOST_DEVICE static constexpr code_type encode(float x,
                                                         round_mode mode = round_mode::nearest_even,
                                                         std::uint32_t random24 = 0) noexcept {
        const std::uint32_t u = detail::float_bits(x);
        const std::uint32_t s = u >> 31, a = u & 0x7FFFFFFFu;
        const std::uint32_t sign = s << (E + M);
        if (a > 0x7F800000u) {  // NaN
            if constexpr (F == nan_inf::none)
                return static_cast<code_type>(sign ^ sign_mask);  // ml_dtypes: ∓0
            else if constexpr (F == nan_inf::fnuz)
                return static_cast<code_type>(nan_code);
            else
                return static_cast<code_type>(sign | nan_code);
        }
        // |x| = sig · 2^(ue − 23) with sig < 2^24 (float subnormals: exponent −126, no hidden bit).
        const std::uint32_t fe = a >> 23;
        const std::uint32_t sig = (a & 0x7FFFFFu) | (fe ? 0x800000u : 0u);
        const int ue = fe ? static_cast<int>(fe) - 127 : -126;
        const int t = ue > emin ? ue : emin;  // the code's exponent (emin for subnormals)
        const int shift = t - ue + 23 - M;    // low bits of sig below the code's last mantissa bit
        const int sc = shift < 25 ? shift : 25;
        const std::uint32_t trunc = sig >> sc, rem = sig & ((1u << sc) - 1u);
        std::uint32_t frac24 = 0;
        if (mode == round_mode::stochastic) {
            const int k = shift - 24;
            frac24 = k <= 0 ? rem << (-k) : (k >= 31 ? 0u : rem >> k);
        }
        const bool up = detail::round_up(mode, rem, sc, trunc & 1u, s != 0, frac24, random24);
        // Count of quanta → code: the exponent field absorbs a carry out of the mantissa.
        const std::uint64_t mag =
            (static_cast<std::uint64_t>(t - emin) << M) + trunc + (up ? 1u : 0u);
        if (fe == 0xFF || mag > max_magnitude) {  // ±Inf or overflow
            if constexpr (O == overflow::nonsaturating && F == nan_inf::ieee)
                return static_cast<code_type>(sign | inf_code);
            else if constexpr (O == overflow::nonsaturating && F == nan_inf::fn)
                return static_cast<code_type>(sign | nan_code);
            else if constexpr (O == overflow::nonsaturating && F == nan_inf::fnuz)
                return static_cast<code_type>(nan_code);
            else
                return static_cast<code_type>(sign | max_magnitude);
        }
        if constexpr (F == nan_inf::fnuz)
            if (mag == 0) return 0;  // no −0
        return static_cast<code_type>(sign | static_cast<std::uint32_t>(mag));
    }

    /// Eigen::half / Eigen::bfloat16 inputs convert to float exactly, then encode.
    template <overflow O = overflow::saturate, class T>
        requires(std::is_same_v<T, Eigen::half> || std::is_same_v<T, Eigen::bfloat16>)
    static code_type encode(T x, round_mode mode = round_mode::nearest_even,
                            std::uint32_t random24 = 0) noexcept {
        return encode<O>(static_cast<float>(x), mode, random24);
    }
    /// Decodes to float, Eigen::half or Eigen::bfloat16 (the latter two rounded to nearest-even).
    template <class T>
    static T decode_as(code_type c) noexcept {
        return static_cast<T>(decode(c));
    }

    /// The sign / biased exponent / mantissa fields of a code.
    LOWBIT_HOST_DEVICE static constexpr float_fields fields(code_type c) noexcept {
        const std::uint32_t code = c;
        return {static_cast<unsigned>((code >> (E + M)) & 1u),
                static_cast<unsigned>((code >> M) & exp_all_ones), code & ((1u << M) - 1u)};
    }
    /// Largest finite value.
    LOWBIT_HOST_DEVICE static constexpr float max() noexcept {
        return decode(static_cast<code_type>(max_magnitude));
    }
    /// Smallest positive (subnormal, or normal when M = 0) value.
    LOWBIT_HOST_DEVICE static constexpr float min_positive() noexcept { return decode(1); }
    /// Smallest positive normal value.
    LOWBIT_HOST_DEVICE static constexpr float min_normal() noexcept { return detail::pow2f(emin); }
    /// Whether a code is NaN.
    LOWBIT_HOST_DEVICE static constexpr bool is_nan(code_type c) noexcept {
        const float v = decode(c);
        return v != v;
    }
};

// The formats the field uses (ml_dtypes' names without the "float8_" prefix):
//   e4m3fn    OFP8 E4M3: bias 7, no Inf, NaN = s.1111.111, max 448, min subnormal 2^−9
//   e4m3fnuz  bias 8, NaN = 0x80, max 240
//   e5m2      OFP8 E5M2 (IEEE-like): bias 15, Inf 0x7C, NaN 0x7D–0x7F, max 57344
//   e5m2fnuz  bias 16, NaN = 0x80, max 57344
//   e3m2      MX FP6 E3M2: bias 3, finite only, max 28
//   e2m3      MX FP6 E2M3: bias 1, finite only, max 7.5
//   e2m1      MX FP4 E2M1: bias 1, finite only, values 0, 0.5, 1, 1.5, 2, 3, 4, 6
//   e4m3      IEEE-style E4M3 (Inf and NaN, max 240); e3m4 likewise (max 15.5)
//   e8m23     float32 itself, for decomposing floats into fields (the lecture's examples)
using e4m3fn = minifloat<4, 3, nan_inf::fn>;
using e4m3fnuz = minifloat<4, 3, nan_inf::fnuz>;
using e5m2 = minifloat<5, 2, nan_inf::ieee>;
using e5m2fnuz = minifloat<5, 2, nan_inf::fnuz>;
using e3m2 = minifloat<3, 2, nan_inf::none>;
using e2m3 = minifloat<2, 3, nan_inf::none>;
using e2m1 = minifloat<2, 1, nan_inf::none>;
using e4m3 = minifloat<4, 3, nan_inf::ieee>;
using e3m4 = minifloat<3, 4, nan_inf::ieee>;
using e8m23 = minifloat<8, 23, nan_inf::ieee>;

/// E8M0: an unsigned power of two 2^(c − 127), c = 0 … 254; c = 255 is NaN; no zero, no sign.
/// The MX block scale (OCP MX v1.0 §5.4.1). Layout: [ e e e e e e e e ].
/// encode follows ml_dtypes' float8_e8m0fnu cast exactly (PyTorch agrees on positive inputs):
///   NaN, ±0 and every negative value → NaN (0xFF); +Inf → NaN (nonsaturating) or 2^127.
///   normal x = 1.m · 2^k rounds to 2^k or 2^(k+1) in the linear domain, ties (m = .5) up;
///   float subnormals: x ≤ 2^−127 → code 0, x > 2^−127 → code 1.
struct e8m0 {
    static constexpr int bits = 8;
    static constexpr int bias = 127;
    static constexpr bool is_signed = false;
    using code_type = std::uint8_t;
    static constexpr std::uint8_t nan_code = 0xFF;

    LOWBIT_HOST_DEVICE static constexpr float decode(code_type c) noexcept {
        return c == 0xFF ? detail::bits_float(0x7FC00000u)
                         : detail::pow2f(static_cast<int>(c) - 127);
    }
    template <overflow O = overflow::nonsaturating>
    LOWBIT_HOST_DEVICE static constexpr code_type encode(float x) noexcept {
        const std::uint32_t u = detail::float_bits(x);
        if (u == 0x7F800000u) return O == overflow::saturate ? 0xFE : 0xFF;
        if ((u >> 31) || u == 0 || u > 0x7F800000u) return 0xFF;
        const std::uint32_t fe = u >> 23, m = u & 0x7FFFFFu;
        if (fe == 0) return u > 0x400000u ? 1 : 0;
        const std::uint32_t c = fe + (m >= 0x400000u ? 1u : 0u);
        if (c >= 0xFF) return O == overflow::saturate ? 0xFE : 0xFF;
        return static_cast<code_type>(c);
    }
    /// The code of 2^k, clamped to the representable exponents −127 … 127.
    LOWBIT_HOST_DEVICE static constexpr code_type from_exponent(int k) noexcept {
        return static_cast<code_type>((k < -127 ? -127 : k > 127 ? 127 : k) + 127);
    }
};

namespace reference {

/// Scalar reference encode of n values: codes[i] = encode<O>(x[i] · inv) with the rounding of
/// `rnd` (stochastic: draw random_bits24(seed, index0 + i)). Codes take one byte each.
template <class Format, overflow O = overflow::saturate>
inline void encode_minifloat_run(const float* x, std::size_t n, float inv, rounding rnd,
                                 std::uint64_t index0, std::uint8_t* codes) noexcept {
    static_assert(Format::bits <= 8, "lowbit: run kernels store one byte per code (bits <= 8)");
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t r =
            rnd.mode == round_mode::stochastic ? random_bits24(rnd.seed, index0 + i) : 0u;
        codes[i] = Format::template encode<O>(x[i] * inv, rnd.mode, r);
    }
}

/// Scalar reference decode of n codes: out[i] = decode(codes[i]) · scale.
template <class Format>
inline void decode_minifloat_run(const std::uint8_t* codes, std::size_t n, float scale,
                                 float* out) noexcept {
    static_assert(Format::bits <= 8, "lowbit: run kernels read one byte per code (bits <= 8)");
    for (std::size_t i = 0; i < n; ++i)
        out[i] = Format::decode(static_cast<typename Format::code_type>(codes[i])) * scale;
}

}  // namespace reference

LOWBIT_NAMESPACE_END
