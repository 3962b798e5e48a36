// lowbit — codebook (quantile / NormalFloat) formats.
//
// A codebook of b bits is 2^b sorted levels ℓ_0 <= … <= ℓ_{2^b−1} in [−1, 1]; a value y (already
// divided by its group's absmax) encodes to the nearest level, found by comparing y with the
// 2^b − 1 midpoints t_i = float((ℓ_i + ℓ_{i+1}) / 2) evaluated in double:
//     code(y) = #{ i : y > t_i }        (a tie y = t_i goes to the lower level, as bitsandbytes)
// and decodes by table: x̂ = ℓ_code · absmax. NaN encodes as 0.0 does.
//
// Bit layout: the code is the level's index, 0 … 2^b − 1 (unsigned, b bits, packed by
// core/packing.hpp). NF4 index 7 is the exact zero; index 15 is +1, index 0 is −1.
//
// NormalFloat (QLoRA, Dettmers et al. 2023; bitsandbytes create_normal_map): with n = 2^b and an
// offset δ, the n/2 positive levels are Φ⁻¹ of n/2 + 1 points evenly spaced from δ down to ½
// (the ½ dropped), the n/2 − 1 negative ones minus Φ⁻¹ of n/2 points from δ to ½ (½ dropped),
// plus an exact 0; all divided by the largest. bitsandbytes evaluates the spacing in float32
// (torch.linspace) and the division in float32, and so do we, which reproduces its NF4 table bit
// for bit. δ = 0.9677083 for b = 4 (bitsandbytes' constant); for other b the same rule
// δ_b = 1 − ½·(1/(2(n − 1)) + 1/(2n)) (which gives 0.96770833… for n = 16).
//
// A codebook can also be fitted to data (fit_codebook): sort the finite sample, cut it into 2^b
// equal-count bins (empirical quantiles) and take each bin's *mean* (the centroid, which
// minimises the squared error within the bin; level_statistic::median is offered too and
// minimises the absolute error), clamped to [−1, 1].
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/bits.hpp"
#include "../core/error.hpp"
#include "../core/unfused.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
/// Φ(x) in double.
inline double std_normal_cdf(double x) noexcept { return 0.5 * std::erfc(-x / 1.4142135623730951); }
/// c[0]·x^(N−1) + … + c[N−1] by Horner's rule, every product rounded on its own (no FMA).
template <std::size_t N>
double horner(double x, const double (&c)[N]) noexcept {
    double r = c[0];
    for (std::size_t i = 1; i < N; ++i) r = mul_unfused(r, x) + c[i];
    return r;
}
}  // namespace detail

/// Φ⁻¹(p), the standard normal quantile, in double (relative error ~1e-15): Acklam's rational
/// approximation refined by one Halley step on Φ evaluated with erfc. ±Inf at p = 0, 1.
inline double normal_quantile(double p) {
    detail::require(p >= 0.0 && p <= 1.0, "p", "must be in [0, 1]");
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                   -2.759285104469687e+02, 1.383577518672690e+02,
                                   -3.066479806614716e+01, 2.506628277459239e+00};
    static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                   -1.556989798598866e+02, 6.680131188771972e+01,
                                   -1.328068155288572e+01};
    static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                   -2.400758277161838e+00, -2.549732539343734e+00,
                                   4.374664141464968e+00,  2.938163982698783e+00};
    static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                   2.445134137142996e+00, 3.754408661907416e+00};
    const double lo = 0.02425;
    double x;
    if (p < lo) {
        const double q = std::sqrt(-2 * std::log(p));
        x = detail::horner(q, c) / (mul_unfused(detail::horner(q, d), q) + 1);
    } else if (p <= 1 - lo) {
        const double q = p - 0.5, r = q * q;
        x = detail::horner(r, a) * q / (mul_unfused(detail::horner(r, b), r) + 1);
    } else {
        const double q = std::sqrt(-2 * std::log1p(-p));
        x = -detail::horner(q, c) / (mul_unfused(detail::horner(q, d), q) + 1);
    }
    for (int it = 0; it < 2; ++it) {  // Halley: the second step only polishes the last bits
        const double e = (p < 0.5 ? detail::std_normal_cdf(x) - p
                                  : (1 - p) - 0.5 * std::erfc(x / 1.4142135623730951));
        const double u = e * 2.5066282746310002 * std::exp(0.5 * x * x);
        x = x - u / (1 + mul_unfused(0.5 * x, u));
    }
    return x;
}

namespace detail {
/// code(y) = #{i < n : y > t[i]}, NaN read as 0.0: codebook::encode's definition, written once
/// for the CPU and the CUDA kernels (cuda/codebook.cuh).
LOWBIT_HOST_DEVICE constexpr unsigned codebook_code(float y, const float* t, int n) noexcept {
    if (y != y) y = 0.0f;
    unsigned c = 0;
    for (int i = 0; i < n; ++i) c += y > t[i] ? 1u : 0u;
    return c;
}
}  // namespace detail

/// A codebook of 2^Bits sorted levels in [−1, 1] and its 2^Bits − 1 midpoint thresholds.
template <int Bits>
struct codebook {
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: codebook<Bits> needs 1 <= Bits <= 8");
    static constexpr int bits = Bits;
    static constexpr std::size_t size = std::size_t{1} << Bits;
    std::array<float, size> levels{};
    std::array<float, size - 1> thresholds{};

    /// Builds a codebook from 2^Bits levels (non-decreasing, within [−1, 1]).
    static codebook from_levels(std::span<const float> lv) {
        detail::require(lv.size() == size, "levels", "must hold exactly 2^Bits values");
        codebook cb;
        for (std::size_t i = 0; i < size; ++i) {
            detail::require(lv[i] >= -1.0f && lv[i] <= 1.0f, "levels",
                            "must lie in [-1, 1] (NaN is not a level)");
            if (i) detail::require(lv[i - 1] <= lv[i], "levels", "must be sorted ascending");
            cb.levels[i] = lv[i];
        }
        for (std::size_t i = 0; i + 1 < size; ++i)
            cb.thresholds[i] = static_cast<float>((double(lv[i]) + double(lv[i + 1])) / 2.0);
        return cb;
    }
    /// code(y) = #{i : y > t_i}; NaN as 0. The reference definition.
    [[nodiscard]] std::uint8_t encode(float y) const noexcept {
        return static_cast<std::uint8_t>(
            detail::codebook_code(y, thresholds.data(), static_cast<int>(size - 1)));
    }
    [[nodiscard]] float decode(std::uint8_t c) const noexcept {
        return levels[c & code_traits<Bits>::mask];
    }
    /// Index of the level 0.0 when there is one (NormalFloat), else of the level nearest 0.
    [[nodiscard]] std::uint8_t zero_code() const noexcept { return encode(0.0f); }
};

/// The NormalFloat offset δ for b bits (see the file comment).
inline float normal_float_offset(int bits) {
    detail::require(bits >= 1 && bits <= 8, "bits", "must be in 1 … 8");
    if (bits == 4) return 0.9677083f;  // bitsandbytes' literal
    const double n = double(1 << bits);
    return static_cast<float>(1.0 - 0.5 * (1.0 / (2.0 * (n - 1.0)) + 1.0 / (2.0 * n)));
}

namespace detail {
/// torch.linspace(a, b, steps) in float32: step = (b − a)/(steps − 1); the first half counts up
/// from a, the second half down from b.
inline std::vector<float> linspace_f32(float a, float b, std::size_t steps) {
    std::vector<float> v(steps);
    const float step = (b - a) / static_cast<float>(steps - 1);
    const std::size_t half = steps / 2;
    for (std::size_t i = 0; i < steps; ++i)
        v[i] = i < half ? a + mul_unfused(step, static_cast<float>(i))
                        : b - mul_unfused(step, static_cast<float>(steps - i - 1));
    return v;
}
}  // namespace detail

/// The NormalFloat codebook of `Bits` bits (NF4 = bitsandbytes' table exactly). Bits >= 2.
template <int Bits>
inline codebook<Bits> normal_float_codebook(float offset = normal_float_offset(Bits)) {
    static_assert(Bits >= 2,
                  "lowbit: a NormalFloat codebook needs at least 2 bits (one negative level, zero, "
                  "one positive)");
    detail::require(offset > 0.5f && offset < 1.0f, "offset", "must lie in (0.5, 1)");
    constexpr std::size_t n = std::size_t{1} << Bits;
    std::vector<float> v;
    const auto pos = detail::linspace_f32(offset, 0.5f, n / 2 + 1);
    const auto neg = detail::linspace_f32(offset, 0.5f, n / 2);
    for (std::size_t i = 0; i + 1 < pos.size(); ++i)
        v.push_back(static_cast<float>(normal_quantile(pos[i])));
    for (std::size_t i = 0; i + 1 < neg.size(); ++i)
        v.push_back(static_cast<float>(-normal_quantile(neg[i])));
    v.push_back(0.0f);
    std::sort(v.begin(), v.end());
    const float mx = v.back();
    for (auto& x : v) x = x / mx;
    return codebook<Bits>::from_levels(v);
}

/// Which statistic of an equal-count bin becomes its level.
enum class level_statistic : std::uint8_t {
    mean,    ///< the bin's centroid (least squared error within the bin; the default)
    median,  ///< the bin's middle element (least absolute error)
};

/// A codebook fitted to a sample of values in [−1, 1] (e.g. values divided by their group's
/// absmax): 2^Bits equal-count bins of the sorted finite sample, level = bin mean or median.
/// Needs at least 2^Bits finite values.
template <int Bits>
inline codebook<Bits> fit_codebook(std::span<const float> sample,
                                   level_statistic stat = level_statistic::mean) {
    constexpr std::size_t n = std::size_t{1} << Bits;
    std::vector<float> s;
    s.reserve(sample.size());
    for (float x : sample)
        if (std::isfinite(x)) s.push_back(std::clamp(x, -1.0f, 1.0f));
    detail::require(s.size() >= n, "sample", "needs at least 2^Bits finite values");
    std::sort(s.begin(), s.end());
    std::vector<float> lv(n);
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t a = k * s.size() / n, b = (k + 1) * s.size() / n;
        if (stat == level_statistic::median) {
            lv[k] = s[a + (b - a - 1) / 2];
            continue;
        }
        double sum = 0;
        for (std::size_t i = a; i < b; ++i) sum += s[i];
        lv[k] = std::clamp(static_cast<float>(sum / double(b - a)), -1.0f, 1.0f);
    }
    for (std::size_t k = 1; k < n; ++k)
        lv[k] = std::max(lv[k], lv[k - 1]);  // float rounding of means
    return codebook<Bits>::from_levels(lv);
}

namespace reference {

/// Scalar reference encode of n values with one inverse scale: code = cb.encode(x · inv).
template <int Bits>
inline void encode_codebook_run(const float* x, std::size_t n, float inv, const codebook<Bits>& cb,
                                std::uint8_t* codes) noexcept {
    for (std::size_t i = 0; i < n; ++i) codes[i] = cb.encode(x[i] * inv);
}

/// Scalar reference decode: out = level[code] · scale.
template <int Bits>
inline void decode_codebook_run(const std::uint8_t* codes, std::size_t n, float scale,
                                const codebook<Bits>& cb, float* out) noexcept {
    for (std::size_t i = 0; i < n; ++i) out[i] = cb.decode(codes[i]) * scale;
}

}  // namespace reference

LOWBIT_NAMESPACE_END
