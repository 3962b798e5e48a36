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
// The same construction takes any quantile function (quantile_construction): Student Float
// (student_float_codebook; SF4 = 4 bits, Student's t with ν = 5, Dotzel et al. 2024) and
// quantile_codebook for a user-given inverse CDF, whose lower levels are Q(1 − p).
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
#include <type_traits>
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
/// I_x(a, b), the regularised incomplete beta function, for a, b > 0 and x in [0, 1] given with
/// y = 1 − x (each computed without cancellation by the caller), in double:
/// its continued fraction (evaluated by the modified Lentz recurrence) where it converges fast,
/// x < (a + 1) / (a + b + 2), and the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) elsewhere. Γ by
/// std::tgamma (a + b <= 171, so that it stays finite; std::lgamma writes the global signgam).
inline double incomplete_beta(double a, double b, double x, double y) noexcept {
    if (x <= 0.0) return 0.0;
    if (y <= 0.0) return 1.0;
    if (x > (a + 1.0) / (a + b + 2.0)) return 1.0 - incomplete_beta(b, a, y, x);
    const double front = std::exp(a * std::log(x) + b * std::log(y)) * std::tgamma(a + b) /
        (std::tgamma(a) * std::tgamma(b)) / a;
    // 1 / (1 + d1 / (1 + d2 / (1 + …))), d_{2m+1} = −(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
    // d_{2m} = m (b − m) x / ((a + 2m − 1)(a + 2m)); num / den kept away from 0 by `floor`.
    constexpr double floor = 1e-300;
    const auto away = [](double v) { return std::fabs(v) < floor ? floor : v; };
    double num = 1.0, den = 1.0 / away(1.0 - (a + b) * x / (a + 1.0)), frac = den;
    for (int m = 1; m <= 400; ++m) {
        const double even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        den = 1.0 / away(1.0 + even * den);
        num = away(1.0 + even / num);
        frac *= den * num;
        const double odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
        den = 1.0 / away(1.0 + odd * den);
        num = away(1.0 + odd / num);
        const double step = den * num;
        frac *= step;
        if (std::fabs(step - 1.0) < 1e-16) break;
    }
    return front * frac;
}
}  // namespace detail

/// P(T > t) for Student's t with ν degrees of freedom, t >= 0: ½ · I_{ν/(ν+t²)}(ν/2, ½), and
/// the central mass P(0 < T <= t) = ½ · I_{t²/(ν+t²)}(½, ν/2) = ½ − P(T > t), each without
/// cancellation where it is small.
inline double student_t_upper_tail(double t, double nu) noexcept {
    const double t2 = t * t;
    return 0.5 * detail::incomplete_beta(nu / 2, 0.5, nu / (nu + t2), t2 / (nu + t2));
}
inline double student_t_central(double t, double nu) noexcept {
    const double t2 = t * t;
    return 0.5 * detail::incomplete_beta(0.5, nu / 2, t2 / (nu + t2), nu / (nu + t2));
}

/// The quantile of Student's t distribution with ν degrees of freedom (0 < ν <= 340), in double:
/// the root of P(T > t) = 1 − p found by bisection to the last bit of t (the tail is
/// monotone), odd about p = ½. ±Inf at p = 0, 1.
inline double student_t_quantile(double p, double nu) {
    detail::require(p >= 0.0 && p <= 1.0, "p", "must be in [0, 1]");
    detail::require(nu > 0.0 && nu <= 340.0, "nu", "must be in (0, 340] (above, use the normal)");
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    if (p == 0.5) return 0.0;
    // Solve P(0 < T <= t) = |p − ½| near the centre and P(T > t) = min(p, 1 − p) in the tails:
    // each target is exact in double there and each side is computed without cancellation.
    const bool centre = p > 0.25 && p < 0.75;
    const double target = centre ? std::fabs(p - 0.5) : (p > 0.5 ? 1.0 - p : p);
    // below(t): t lies below the root (the function that is solved is monotone in t).
    const auto below = [&](double t) {
        return centre ? student_t_central(t, nu) < target : student_t_upper_tail(t, nu) > target;
    };
    double lo = 0.0, hi = 1.0;
    while (below(hi) && std::isfinite(hi)) {
        lo = hi;
        hi *= 2.0;
    }
    for (;;) {  // bisection until lo and hi are adjacent doubles
        const double mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi) break;
        (below(mid) ? lo : hi) = mid;
    }
    const double t = hi;
    return p > 0.5 ? t : -t;
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

namespace detail {
/// NormalFloat's construction for any quantile function (the file comment): with n = 2^Bits, the
/// n/2 upper levels upper(p) at the points of linspace_f32(offset, ½, n/2 + 1) and the n/2 − 1
/// lower levels lower(p) at those of linspace_f32(offset, ½, n/2), ½ dropped from each, an exact
/// 0, all divided by the largest |level| in float. `what` names the function in errors.
template <int Bits, class Upper, class Lower>
codebook<Bits> quantile_construction(float offset, Upper upper, Lower lower, const char* what) {
    detail::require(offset > 0.5f && offset < 1.0f, "offset", "must lie in (0.5, 1)");
    constexpr std::size_t n = std::size_t{1} << Bits;
    std::vector<float> v;
    const auto pos = linspace_f32(offset, 0.5f, n / 2 + 1);
    const auto neg = linspace_f32(offset, 0.5f, n / 2);
    const char* sign =
        "must give finite levels, > 0 above p = 1/2 and < 0 below (a distribution "
        "centred at 0)";
    const char* order = "must be non-decreasing in p";
    for (std::size_t i = 0; i + 1 < pos.size(); ++i) {  // p falls towards ½: levels fall to 0
        v.push_back(static_cast<float>(upper(double(pos[i]))));
        detail::require(std::isfinite(v.back()) && v.back() > 0.0f, what, sign);
        if (i) detail::require(v.back() <= v[v.size() - 2], what, order);
    }
    for (std::size_t i = 0; i + 1 < neg.size(); ++i) {  // and the lower ones rise to 0
        v.push_back(static_cast<float>(lower(double(neg[i]))));
        detail::require(std::isfinite(v.back()) && v.back() < 0.0f, what, sign);
        if (i) detail::require(v.back() >= v[v.size() - 2], what, order);
    }
    v.push_back(0.0f);
    std::sort(v.begin(), v.end());
    const float mx = std::max(v.back(), -v.front());
    for (auto& x : v) x = x / mx;
    return codebook<Bits>::from_levels(v);
}
}  // namespace detail

/// The NormalFloat codebook of `Bits` bits (NF4 = bitsandbytes' table exactly). Bits >= 2.
template <int Bits>
inline codebook<Bits> normal_float_codebook(float offset = normal_float_offset(Bits)) {
    static_assert(Bits >= 2,
                  "lowbit: a NormalFloat codebook needs at least 2 bits (one negative level, zero, "
                  "one positive)");
    return detail::quantile_construction<Bits>(
        offset, [](double p) { return normal_quantile(p); },
        [](double p) { return -normal_quantile(p); }, "normal_quantile");
}

/// Student Float (SF4 for Bits = 4; Dotzel et al. 2024): NormalFloat's construction with the
/// quantiles of Student's t distribution of ν degrees of freedom (5 by default: heavier tails
/// than the normal, closer to LLM weight distributions), NF's offsets. Bits >= 2.
template <int Bits>
inline codebook<Bits> student_float_codebook(double nu = 5.0,
                                             float offset = normal_float_offset(Bits)) {
    static_assert(Bits >= 2,
                  "lowbit: a Student Float codebook needs at least 2 bits (one negative level, "
                  "zero, one positive)");
    detail::require(nu > 0.0 && nu <= 340.0, "nu", "must be in (0, 340]");
    return detail::quantile_construction<Bits>(
        offset, [nu](double p) { return student_t_quantile(p, nu); },
        [nu](double p) { return -student_t_quantile(p, nu); }, "student_t_quantile");
}

/// The codebook of any distribution centred at 0, given its quantile function (inverse CDF)
/// `inverse_cdf(p)` for p in (0, 1), by NormalFloat's construction: upper levels Q(p), lower
/// levels Q(1 − p) (so an asymmetric distribution keeps its shape), an exact 0, scaled into
/// [−1, 1]. Q must be finite, > 0 above ½ and < 0 below, and non-decreasing (an error names
/// "inverse_cdf" otherwise). With normal_quantile it gives normal_float_codebook up to the last
/// bit of each level (Q(1 − p) against −Q(p)). Bits >= 2.
template <int Bits, class InverseCdf>
inline codebook<Bits> quantile_codebook(InverseCdf&& inverse_cdf,
                                        float offset = normal_float_offset(Bits)) {
    static_assert(Bits >= 2,
                  "lowbit: a quantile codebook needs at least 2 bits (one negative level, zero, "
                  "one positive)");
    static_assert(std::is_invocable_r_v<double, InverseCdf&, double>,
                  "lowbit: quantile_codebook needs a callable double(double), the inverse CDF");
    return detail::quantile_construction<Bits>(
        offset, [&](double p) { return double(inverse_cdf(p)); },
        [&](double p) { return double(inverse_cdf(1.0 - p)); }, "inverse_cdf");
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
