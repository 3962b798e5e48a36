// lowbit — scale rules: the observers that pick a group's clip range.
//
// A rule sees one group of values and returns a clip range; the quantizer turns the range into
// a scale for its format. Non-finite values are ignored by every observer (they saturate or map
// to zero when encoded, as the format documents). Observers are shared by all kernels (scalar,
// SIMD, CUDA reproduce them exactly), so scales never differ between paths.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "../core/error.hpp"
#include "../core/reduce.hpp"
#include "../core/unfused.hpp"

LOWBIT_NAMESPACE_BEGIN

/// How a group's clip range is chosen.
struct scale_rule {
    enum class kind : std::uint8_t {
        absmax,      ///< L = max |x|
        minmax,      ///< [min x, max x] (asymmetric formats); absmax for symmetric ones
        percentile,  ///< L = p · max |x| (p in (0, 1], e.g. 0.9, 0.95); range scaled by p
        mse_search,  ///< the ratio r ∈ {1, 63/64, …, 16/64} of absmax with the least squared error
        gaussian_optimal,  ///< scale = c · RMS, c optimal for the format's levels on N(0, 1)
        fixed,             ///< L (or [lo, hi]) given by the caller, the same for every group
    };
    kind type = kind::absmax;
    float ratio = 1.0f;  ///< percentile's p
    float lo = 0.0f;     ///< fixed: lower end (asymmetric formats)
    float hi = 0.0f;     ///< fixed: L, or upper end

    static constexpr scale_rule absmax() noexcept { return {kind::absmax, 1, 0, 0}; }
    static constexpr scale_rule minmax() noexcept { return {kind::minmax, 1, 0, 0}; }
    static constexpr scale_rule percentile(float p) noexcept { return {kind::percentile, p, 0, 0}; }
    static constexpr scale_rule mse_search() noexcept { return {kind::mse_search, 1, 0, 0}; }
    static constexpr scale_rule gaussian_optimal() noexcept {
        return {kind::gaussian_optimal, 1, 0, 0};
    }
    /// Symmetric clip range (−L, L).
    static constexpr scale_rule fixed(float L) noexcept { return {kind::fixed, 1, -L, L}; }
    /// Asymmetric clip range [lo, hi].
    static constexpr scale_rule fixed_range(float lo, float hi) noexcept {
        return {kind::fixed, 1, lo, hi};
    }

    /// Throws lowbit::error when a parameter is out of range.
    void validate() const {
        detail::require(type == kind::absmax || type == kind::minmax || type == kind::percentile ||
                            type == kind::mse_search || type == kind::gaussian_optimal ||
                            type == kind::fixed,
                        "scale_rule.type", "must be a scale_rule::kind value");
        if (type == kind::percentile)
            detail::require(ratio > 0.0f && ratio <= 1.0f, "scale_rule.ratio", "must be in (0, 1]");
        if (type == kind::fixed)
            detail::require(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && hi - lo > 0.0f,
                            "scale_rule", "fixed range must be finite with lo < hi");
    }
};

/// What one pass over a group tells the scale rules.
struct group_stats {
    float absmax = 0;        ///< largest finite |x|
    float extreme = 0;       ///< the finite x of largest magnitude (first one), sign kept
    float min = 0, max = 0;  ///< finite extremes (0, 0 when none)
    double sum = 0;          ///< Σ x over finite x, in tree_sum order (core/reduce.hpp)
    double sumsq = 0;        ///< Σ x² over finite x, in tree_sum order
    std::size_t finite = 0, non_finite = 0;

    [[nodiscard]] double mean() const noexcept { return finite ? sum / double(finite) : 0.0; }
    [[nodiscard]] double rms() const noexcept {
        return finite ? std::sqrt(sumsq / double(finite)) : 0.0;
    }
    [[nodiscard]] double stddev() const noexcept {
        if (!finite) return 0.0;
        const double m = mean(), v = sumsq / double(finite) - mul_unfused(m, m);
        return v > 0 ? std::sqrt(v) : 0.0;
    }
};

/// Extremes and counts in one pass, without the sums (the hot observer of min/max rules).
inline group_stats observe_extremes(std::span<const float> x) noexcept {
    group_stats s;
    bool first = true;
    for (float v : x) {
        if (!std::isfinite(v)) {
            ++s.non_finite;
            continue;
        }
        const float a = std::fabs(v);
        if (a > s.absmax) {
            s.absmax = a;
            s.extreme = v;
        }
        if (first) {
            s.min = s.max = v;
            first = false;
        } else {
            s.min = v < s.min ? v : s.min;
            s.max = v > s.max ? v : s.max;
        }
        ++s.finite;
    }
    return s;
}

/// Extremes, counts and the sums (in the fixed tree order: deterministic on every path).
inline group_stats observe(std::span<const float> x) {
    group_stats s = observe_extremes(x);
    s.sum = tree_sum_finite(x);
    s.sumsq = tree_sum_squares_finite(x);
    return s;
}

/// Absmax alone (finite values), the hot observer of per-group schemes.
inline float observe_absmax(const float* x, std::size_t n) noexcept {
    float m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        m = (a > m && a <= 3.4028234663852886e38f) ? a : m;  // skips NaN and ±Inf
    }
    return m;
}

LOWBIT_NAMESPACE_END
