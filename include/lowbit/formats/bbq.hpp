// lowbit — BBQ (Bell Box Quantization) and its QuEST baseline, as formats on the
// Hadamard-rotated, σ-normalised values v.
//
// Reference: N. Yang, T. M. Aamodt, "Boosting Entropy with Bell Box Quantization", ICLR 2026
// (github.com/1733116199/bbq, class BBQV5Base); QuEST: Panferov et al. 2025.
//
// BBQ of B bits (1 … 8). With v = H·x / σ (transform/hadamard.hpp; σ the RMS):
//     q_u = clamp(floor(2^B Φ(v)), 0, 2^B − 1)  =  #{ i : v >= t_i },  t_i = Φ⁻¹(i / 2^B), i = 1 …
//     2^B − 1
// The thresholds are computed once in double (normal_quantile) and compared as floats, so no erf
// is evaluated per element; NaN encodes as v = 0 does (q_u = 2^{B−1}). Decoding is linear:
//     q = q_u − 2^{B−1} − z,   x̂ = (γ / 2^{B−1}) · q
// with the zero point z = 0 (integer levels −2^{B−1} … 2^{B−1} − 1) or z = −½ (half-integer
// levels ±½ … ±(2^{B−1} − ½), what the reference uses at 1 and 2 bits). The stored code does not
// depend on z; z only enters the decode.
//
// Code emission (bbq_codes), B bits unless noted:
//   int_b   the two's complement of q_u − 2^{B−1} (= q_u with its top bit flipped): signed
//           INT-B for integer matrix units. Bit layout for B = 4: 0x8 = −8 … 0xF = −1, 0x0 = 0 …
//           0x7 = 7.
//   index   q_u itself (unsigned, 0 … 2^B − 1), the reference code's integer.
//   e2m1    4 bits: the OCP FP4 E2M1 pattern (s.ee.m, bias 1, no Inf/NaN, max 6) of the level q.
//           Exact for z = 0 and B <= 3 (−4 … 3: 0xE 0xD 0xC 0xA 0x0 0x2 0x4 0x5) and for z = −½
//           and B <= 2 (±½ = 0x1/0x9, ±3/2 = 0x3/0xB), so the codes feed MXFP4 units directly.
//
// QuEST of B bits: the same v, then the Gaussian-MSE-optimal uniform midrise grid: with the
// step c (in σ, scale/gaussian.hpp: gaussian_optimal_step(midrise_levels(B))), s = c·σ,
//     q_u = clamp(floor(y / s), −2^{B−1}, 2^{B−1} − 1) + 2^{B−1},   x̂ = s · (q_u − 2^{B−1} + ½)
// i.e. nearest of the levels s·(k + ½), clipped at ±s·(2^{B−1} − ½) (the reference's
// OPTIMAL_GAUSSIAN_SCALES·σ). Its zero point is −½ by construction; emission as for BBQ.
#pragma once
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../core/bits.hpp"
#include "../core/error.hpp"
#include "../scale/gaussian.hpp"
#include "codebook.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The zero point of BBQ's linear decode.
enum class bbq_zero : std::uint8_t {
    integer,  ///< z = 0: levels −2^{B−1} … 2^{B−1} − 1
    half,     ///< z = −½: levels ±½ … ±(2^{B−1} − ½)
};

/// How the codes of a BBQ / QuEST tensor are emitted (see the file comment).
enum class bbq_codes : std::uint8_t { int_b, index, e2m1 };

/// ζ* = 3/√π: the γ/σ that minimises E[(v − ζ(2Φ(v) − 1))²] for v ~ N(0, 1) (the large-B MSE
/// optimum of BBQ's decode; the reference code uses 1.694).
inline constexpr double bbq_zeta = 1.6925687506432689;

namespace detail {
/// OCP E2M1 pattern of a value that E2M1 holds exactly (0xFF when it does not).
constexpr std::uint8_t e2m1_pattern(float v) noexcept {
    const float mag[] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    const float a = v < 0 ? -v : v;
    for (std::uint8_t k = 0; k < 8; ++k)
        if (a == mag[k]) return static_cast<std::uint8_t>(k | (v < 0 ? 0x8 : 0x0));
    return 0xFF;
}
/// Value of an E2M1 pattern.
constexpr float e2m1_value(std::uint8_t p) noexcept {
    const float mag[] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    return (p & 0x8) ? -mag[p & 7] : mag[p & 7];
}
}  // namespace detail

/// Width of an emitted code: 4 for E2M1, else B.
constexpr int bbq_code_bits(int bits, bbq_codes c) noexcept {
    return c == bbq_codes::e2m1 ? 4 : bits;
}

/// True when every level of (B, z) is exact in E2M1.
constexpr bool bbq_e2m1_exact(int bits, bbq_zero z) noexcept {
    return z == bbq_zero::integer ? bits <= 3 : bits <= 2;
}

/// BBQ of `Bits` bits.
template <int Bits>
struct bbq_format {
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: bbq_format<Bits> needs 1 <= Bits <= 8");
    static constexpr int bits = Bits;
    static constexpr std::size_t levels = std::size_t{1} << Bits;
    static constexpr int half = 1 << (Bits - 1);

    /// Φ⁻¹(i / 2^B), i = 1 … 2^B − 1, in double (computed once).
    static const std::array<double, levels - 1>& thresholds_double() {
        static const auto t = [] {
            std::array<double, levels - 1> a{};
            for (std::size_t i = 1; i < levels; ++i)
                a[i - 1] = normal_quantile(double(i) / double(levels));
            return a;
        }();
        return t;
    }
    /// The thresholds rounded to float: what encode compares with.
    static const std::array<float, levels - 1>& thresholds() {
        static const auto t = [] {
            std::array<float, levels - 1> a{};
            for (std::size_t i = 0; i + 1 < levels; ++i)
                a[i] = static_cast<float>(thresholds_double()[i]);
            return a;
        }();
        return t;
    }
    /// q_u of a normalised value v: #{i : v >= t_i}; NaN as 0.
    static std::uint8_t encode(float v) noexcept {
        if (std::isnan(v)) v = 0.0f;
        unsigned q = 0;
        for (float t : thresholds()) q += v >= t ? 1u : 0u;
        return static_cast<std::uint8_t>(q);
    }
    /// The level q = q_u − 2^{B−1} − z (an integer or a half-integer, exact in float).
    static constexpr float level(std::uint8_t qu, bbq_zero z) noexcept {
        return float(int(qu) - half) + (z == bbq_zero::half ? 0.5f : 0.0f);
    }
};

/// QuEST of `Bits` bits (uniform midrise grid, Gaussian-optimal clip).
template <int Bits>
struct quest_format {
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: quest_format<Bits> needs 1 <= Bits <= 8");
    static constexpr int bits = Bits;
    static constexpr int half = 1 << (Bits - 1);
    /// The optimal step c in units of σ (largest level c·(2^{B−1} − ½)), tabulated.
    static double step() { return midrise_optimal_step(Bits); }
    /// q_u of u = y / s (already multiplied): clamp(floor(u), −2^{B−1}, 2^{B−1} − 1) + 2^{B−1}; NaN
    /// as 0.
    static std::uint8_t encode(float u) noexcept {
        if (std::isnan(u)) u = 0.0f;
        float k = std::floor(u);
        k = k < float(-half) ? float(-half) : k;
        k = k > float(half - 1) ? float(half - 1) : k;
        return static_cast<std::uint8_t>(int(k) + half);
    }
    /// The level q_u − 2^{B−1} + ½.
    static constexpr float level(std::uint8_t qu) noexcept { return float(int(qu) - half) + 0.5f; }
};

/// The emitted code of q_u whose level is `level` (see bbq_codes).
template <int Bits>
constexpr std::uint8_t bbq_emit(std::uint8_t qu, float level, bbq_codes c) noexcept {
    switch (c) {
        case bbq_codes::int_b:
            return static_cast<std::uint8_t>((qu ^ (1u << (Bits - 1))) & code_traits<Bits>::mask);
        case bbq_codes::index: return qu;
        case bbq_codes::e2m1: return detail::e2m1_pattern(level);
    }
    return qu;
}

LOWBIT_NAMESPACE_END
