// lowbit — block floating point: generic BFP, OCP Microscaling (MX) and NVFP4.
//
// Spec: OCP Microscaling Formats (MX) v1.0 (2023): a block of k = 32 elements shares one E8M0
// scale X; element i holds P_i in the element format; the value is X · P_i. §6.3's conversion:
//   X = 2^(floor(log2(amax)) − emax_elem),  P_i = quantize(V_i / X), saturating to ±max_elem.
// NVIDIA NVFP4 (Blackwell): E2M1 elements, an E4M3 scale per 16 elements and an FP32 scale per
// tensor; see nvfp4 below.
//
// Element formats: the minifloats of formats/minifloat.hpp (E4M3FN, E5M2, E3M2, E2M3, E2M1) and
// bfp_element<M> here. Bit layout of bfp_element<M> (bits = M + 1):
//   [ two's complement integer q, |q| ≤ 2^M − 1 ]   value = q · 2^(1 − M)   (emax = 0, max ≈ 2)
// so an element is a sign and M mantissa bits with no hidden bit, fixed point below the shared
// exponent. bfp_element<7> is OCP MXINT8 (int8 with 6 fraction bits, ±1.984375; −128 unused).
// Generic BFP<N, M> is bfp_element<M> in blocks of N with the OCP floor rule.
//
// Non-finite inputs: observers skip them (a block's scale comes from its finite values); NaN
// stays NaN in NaN-capable elements and becomes 0 in the others, ±Inf saturates.
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/rounding.hpp"
#include "minifloat.hpp"

LOWBIT_NAMESPACE_BEGIN

/// How the E8M0 block scale of MX is rounded; implementations disagree. E = the scale exponent,
/// X = 2^E, amax = the block's largest finite |x|, emax = the element's largest exponent.
enum class mx_scale_rounding : std::uint8_t {
    /// E = floor(log2 amax) − emax (OCP MX v1.0 §6.3; the default). amax may saturate.
    ocp_floor,
    nearest_even,  ///< E = log2 of amax rounded to the nearer power of two (linear domain, ties to
    ///< the even exponent), − emax. The "round to nearest even" variant of PyTorch's
    ///< MX recipes.
    round_up,   ///< E = ceil(log2(amax / max_elem)): the least X with amax / X ≤ max_elem, so no
                ///< element saturates (CUTLASS / cuBLAS "RCEIL").
    ml_dtypes,  ///< X = float8_e8m0fnu(amax / max_elem) by ml_dtypes' cast: nearest power of two,
                ///< ties up.
    log2f,      ///< E = floor(log2f(amax)) − emax with log2f float32's correctly rounded log2, as
                ///< ggml's MXFP4 computes it: the same as ocp_floor except for the few floats just
                ///< below a power of two whose log2 rounds up to it (then E is one larger).
};

namespace detail {
/// floor(log2 a) of a finite a > 0 (float subnormals included), from its bits.
LOWBIT_HOST_DEVICE constexpr int floor_log2(float a) noexcept {
    const std::uint32_t u = float_bits(a) & 0x7FFFFFFFu;
    if (u >= 0x800000u) return static_cast<int>(u >> 23) - 127;
    int j = 0;  // subnormal: a = u · 2^-149, floor(log2 u) = j
    for (std::uint32_t m = u; m > 1u; m >>= 1) ++j;
    return j - 149;
}
/// How many float32 values just below 2^K have a correctly rounded float32 log2 equal to K
/// (normal K − 1 binade, −125 ≤ K ≤ 128): log2 is flat near K, so the top few values of the
/// binade below lie within half a float32 spacing (at K) of K. The counts depend only on the
/// spacing of float32 values near K, so on |K|'s binade; tests/test_mx.cpp checks them against
/// log2 in double precision for every K.
LOWBIT_HOST_DEVICE constexpr int log2f_rounds_up(int K) noexcept {
    const int m = K > 0 ? K : 1 - K;  // below zero, the values under K are those of |K| + 1's
                                      // binade when |K| is a power of two
    if (K >= -1 && K <= 2) return 0;
    if (m <= 4) return 1;
    if (m <= 8) return 2;
    if (m <= 16) return 5;
    if (m <= 32) return 11;
    if (m <= 64) return 22;
    return 44;
}
/// The significand bits (23 bits below the hidden 1) of a finite a > 0, normalised.
LOWBIT_HOST_DEVICE constexpr std::uint32_t significand23(float a) noexcept {
    std::uint32_t u = float_bits(a) & 0x7FFFFFFFu;
    if (u >= 0x800000u) return u & 0x7FFFFFu;
    while (u < 0x800000u) u <<= 1;
    return u & 0x7FFFFFu;
}
}  // namespace detail

/// The shared exponent E (X = 2^E, clamped to E8M0's −127 … 127) for a block with largest finite
/// magnitude amax; amax = 0 (all zero, or nothing finite) gives −127.
template <class Elem>
LOWBIT_HOST_DEVICE constexpr int mx_scale_exponent(float amax, mx_scale_rounding rule) noexcept {
    if (!(amax > 0.0f)) return -127;
    const int k = detail::floor_log2(amax);
    int e = k - Elem::emax;
    switch (rule) {
        case mx_scale_rounding::ocp_floor: break;
        case mx_scale_rounding::nearest_even: {
            const std::uint32_t m = detail::significand23(amax);
            const bool up =
                m > 0x400000u || (m == 0x400000u && (k & 1) != 0);  // tie: to the even power
            e += up ? 1 : 0;
            break;
        }
        case mx_scale_rounding::round_up:
            // amax / 2^e has the same significand as amax, and max_elem / 2^emax its own.
            e += detail::significand23(amax) > detail::significand23(Elem::max()) ? 1 : 0;
            break;
        case mx_scale_rounding::ml_dtypes: {
            const std::uint8_t c = e8m0::encode(amax / Elem::max());
            e = c == e8m0::nan_code ? -127 : static_cast<int>(c) - 127;
            break;
        }
        case mx_scale_rounding::log2f:
            // Normal amax only: below 2^-126 every E is clamped to −127 − emax or less anyway.
            if (k >= -126 &&
                detail::significand23(amax) >=
                    (1u << 23) - unsigned(detail::log2f_rounds_up(k + 1)))
                ++e;
            break;
    }
    return e < -127 ? -127 : e > 127 ? 127 : e;
}

/// The largest |x| that a minifloat element under the block scale X = 2^E may take so that its
/// level decodes to a finite value, or 0 when every level does. Only scales near FLT_MAX /
/// max_elem reach past FLT_MAX (E2M1: 4 · 2^126 = 2^128; E4M3FN: 448 · 2^120), which the rules
/// that round the scale exponent up (nearest_even, round_up, log2f) give for amax near FLT_MAX:
/// elements beyond the bound saturate to it, the largest level that stays finite.
template <class Elem>
LOWBIT_HOST_DEVICE constexpr float mx_finite_bound(int E) noexcept {
    if constexpr (requires { Elem::flavour; }) {
        constexpr float flt_max = 0x1.fffffep127f;
        if (E < 0 || E > 127) return 0.0f;
        const float X = detail::pow2f(E);
        if (float(Elem::max()) * X <= flt_max) return 0.0f;
        const float room = flt_max * detail::pow2f(-E);  // exact: a power-of-two scaling
        return float(Elem::decode(Elem::encode(room, round_mode::toward_zero))) * X;
    } else {
        return 0.0f;
    }
}

/// Block element: a sign and M mantissa bits, no hidden bit, as an (M+1)-bit two's complement
/// integer q with value q · 2^(1 − M); see the file comment.
template <int M>
struct bfp_element {
    static_assert(
        M >= 1 && M <= 7,
        "lowbit: bfp_element<M> needs 1 <= M <= 7 mantissa bits (codes of at most 8 bits)");
    static constexpr int bits = M + 1;
    static constexpr int mantissa_bits = M;
    static constexpr int emax = 0;
    static constexpr int qmax = (1 << M) - 1;
    using code_type = std::uint8_t;
    static constexpr float unit = 1.0f / static_cast<float>(1 << (M - 1));  ///< 2^(1 − M)
    LOWBIT_HOST_DEVICE static constexpr float max() noexcept {
        return static_cast<float>(qmax) * unit;
    }
    /// Code of the integral value q (|q| ≤ qmax).
    LOWBIT_HOST_DEVICE static constexpr code_type to_code(int q) noexcept {
        return static_cast<code_type>(static_cast<unsigned>(q) & ((1u << bits) - 1u));
    }
    LOWBIT_HOST_DEVICE static constexpr int to_int(code_type c) noexcept {
        const int v = c & ((1 << bits) - 1);
        return v >= (1 << M) ? v - (1 << bits) : v;
    }
    LOWBIT_HOST_DEVICE static constexpr float decode(code_type c) noexcept {
        return static_cast<float>(to_int(c)) * unit;
    }
};

/// OCP MXINT8's element.
using mx_int8 = bfp_element<7>;

namespace reference {

/// Scalar reference encode of a run of bfp elements: q = clamp(round(x·inv·2^(M−1)), ±qmax), NaN →
/// 0, rounding as round_integral (core/rounding.hpp) with element index index0 + i.
template <class Elem>
inline void encode_bfp_run(const float* x, std::size_t n, float inv, rounding rnd,
                           std::uint64_t index0, std::uint8_t* codes) noexcept {
    const float up = static_cast<float>(1 << (Elem::mantissa_bits - 1));
    for (std::size_t i = 0; i < n; ++i) {
        float y = (x[i] * inv) * up;
        if (y != y) y = 0.0f;
        float r = round_integral(y, rnd, index0 + i);
        r = r < -float(Elem::qmax) ? -float(Elem::qmax) : r;
        r = r > float(Elem::qmax) ? float(Elem::qmax) : r;
        codes[i] = Elem::to_code(static_cast<int>(r));
    }
}

/// Scalar reference decode: out[i] = decode(codes[i]) · scale.
template <class Elem>
inline void decode_bfp_run(const std::uint8_t* codes, std::size_t n, float scale,
                           float* out) noexcept {
    for (std::size_t i = 0; i < n; ++i) out[i] = Elem::decode(codes[i]) * scale;
}

}  // namespace reference

/// Largest finite |x| of n floats, as an exact float (0 when none): an integer max over the bit
/// patterns, which orders non-negative floats, so every path (and thread) gets the same value.
inline float block_absmax(const float* x, std::size_t n) noexcept {
    std::uint32_t m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t a = detail::float_bits(x[i]) & 0x7FFFFFFFu;
        a = a <= 0x7F7FFFFFu ? a : 0u;
        m = a > m ? a : m;
    }
    return detail::bits_float(m);
}

/// NVFP4 (NVIDIA): E2M1 elements in blocks of 16 with an E4M3FN scale, and one FP32 scale per
/// tensor. Two-level scaling, in this order (every step in float32, round to nearest even):
///   g   = amax_tensor / (448 · 6)                 the per-tensor scale (0 for an all-zero tensor)
///   s_b = e4m3fn(amax_block / 6 / g), saturating  the stored block scale, in units of g
///   d_b = decode(s_b) · g                         the block's effective scale
///   q_i = e2m1(x_i · (1 / d_b)), saturating       (1 / d_b = 0 when d_b = 0: the block encodes to
///   0) x̂_i = decode(q_i) · d_b
struct nvfp4 {
    static constexpr int block = 16;
    static constexpr float global_divisor = 448.0f * 6.0f;
    /// The per-tensor scale g for a tensor of largest finite magnitude amax.
    static constexpr float global_scale(float amax) noexcept { return amax / global_divisor; }
    /// The stored E4M3FN block scale code.
    static constexpr std::uint8_t block_scale(float amax_block, float g) noexcept {
        if (!(g > 0.0f)) return 0;
        return e4m3fn::encode(amax_block / 6.0f / g);
    }
    /// The block's effective scale d_b.
    static constexpr float effective_scale(std::uint8_t s_b, float g) noexcept {
        return e4m3fn::decode(s_b) * g;
    }
};

LOWBIT_NAMESPACE_END
