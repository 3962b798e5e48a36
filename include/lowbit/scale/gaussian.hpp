// lowbit — Gaussian-optimal scales: the step c (in units of σ) that minimises the expected
// squared error of a nearest-level quantizer with levels c·ℓ_k on x ~ N(0, 1).
//
// The expected error is exact, not sampled: for the cell [a, b) that maps to level y,
//   ∫_a^b (x − y)² φ(x) dx = (1 + y²)(Φ(b) − Φ(a)) − (bφ(b) − aφ(a)) + 2y(φ(b) − φ(a)),
// summed over cells whose edges are the midpoints between neighbouring levels. A coarse scan
// followed by golden-section refinement finds the minimum; computed in double precision.
#pragma once
#include <cmath>
#include <span>
#include <vector>
#include <algorithm>

#include "../core/error.hpp"
#include "../core/unfused.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
inline double normal_pdf(double x) {
    return std::isinf(x) ? 0.0 : 0.3989422804014327 * std::exp(-0.5 * x * x);
}
inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / 1.4142135623730951); }
}  // namespace detail

/// E[(x − Q(x))²] for x ~ N(0,1) and the nearest-level quantizer over `levels` (sorted ascending).
inline double gaussian_expected_mse(std::span<const double> levels) {
    double total = 0;
    const std::size_t k = levels.size();
    for (std::size_t i = 0; i < k; ++i) {
        const double a = i == 0 ? -INFINITY : 0.5 * (levels[i - 1] + levels[i]);
        const double b = i + 1 == k ? INFINITY : 0.5 * (levels[i] + levels[i + 1]);
        const double y = levels[i];
        const double pa = detail::normal_pdf(a), pb = detail::normal_pdf(b);
        const double apa = std::isinf(a) ? 0.0 : mul_unfused(a, pa),
                     bpb = std::isinf(b) ? 0.0 : mul_unfused(b, pb);
        total += mul_unfused(1 + mul_unfused(y, y), detail::normal_cdf(b) - detail::normal_cdf(a)) -
            (bpb - apa) + mul_unfused(2 * y, pb - pa);
    }
    return total;
}

/// The step c > 0 minimising gaussian_expected_mse(c · unit_levels): scale = c · σ.
/// `unit_levels` must be sorted ascending with at least two distinct values.
inline double gaussian_optimal_step(std::span<const double> unit_levels) {
    detail::require(unit_levels.size() >= 2, "unit_levels", "needs at least two levels");
    double span = 0;
    for (double l : unit_levels) span = std::max(span, std::fabs(l));
    detail::require(span > 0, "unit_levels", "must not all be zero");
    std::vector<double> buf(unit_levels.size());
    auto cost = [&](double c) {
        for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = c * unit_levels[i];
        return gaussian_expected_mse(buf);
    };
    // Coarse scan of the largest level over (0, 8σ], then golden-section around the best.
    const int steps = 400;
    double best_c = 0, best = INFINITY;
    for (int s = 1; s <= steps; ++s) {
        const double c = 8.0 * s / steps / span;
        const double v = cost(c);
        if (v < best) {
            best = v;
            best_c = c;
        }
    }
    double lo = best_c - 8.0 / steps / span, hi = best_c + 8.0 / steps / span;
    if (lo <= 0) lo = 1e-9;
    const double g = 0.6180339887498949;
    double x1 = hi - mul_unfused(g, hi - lo), x2 = lo + mul_unfused(g, hi - lo), f1 = cost(x1),
           f2 = cost(x2);
    for (int it = 0; it < 200 && hi - lo > 1e-15; ++it) {
        if (f1 < f2) {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - mul_unfused(g, hi - lo);
            f1 = cost(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + mul_unfused(g, hi - lo);
            f2 = cost(x2);
        }
    }
    return 0.5 * (lo + hi);
}

/// The optimal step of the grids the library uses, tabulated. gaussian_optimal_step's result
/// depends on the last bits of std::erfc and std::exp, which differ between C libraries (glibc's
/// erfc on x86-64 and on aarch64 differ by one ulp at some arguments; x86-64 glibc picks an FMA
/// or a plain exp at run time), and the flat minimum magnifies an ulp of the cost to the 8th
/// digit of the step: computed at run time, the scales would differ between machines. The
/// values are gaussian_optimal_step's on x86-64 glibc 2.36; tests/test_gaussian_steps.cpp checks
/// each against the search.
namespace detail {
inline constexpr double midrise_steps[9] = {0.0,  // index: bits
                                            0x1.988453cff0071p+0,
                                            0x1.fdcaa4d268f08p-1,
                                            0x1.2c0abd9f5a3cp-1,
                                            0x1.573ed34a30edap-2,
                                            0x1.814eea414974cp-3,
                                            0x1.aa3dfb6c6bfb8p-4,
                                            0x1.d1dc2a138084ep-5,
                                            0x1.f802cd0905168p-6};
inline constexpr double restricted_steps[9] = {0.0,
                                               0.0,  // −(2^{b−1} − 1) … 2^{b−1} − 1, index: bits
                                               0x1.39587b68ddb16p+0,
                                               0x1.4d31af8bb0c08p-1,
                                               0x1.69e4a7e2cc982p-2,
                                               0x1.8bc5e1ad2c88ep-3,
                                               0x1.b013c1af478d5p-4,
                                               0x1.d5159e98367bap-5,
                                               0x1.f9c68774b14c8p-6};
inline constexpr double full_steps[9] = {0.0,
                                         0.0,  // −2^{b−1} … 2^{b−1} − 1, index: bits
                                         0x1.0c62f9bdff936p+0,
                                         0x1.34224e8c8430ep-1,
                                         0x1.5abc09cbdd6cep-2,
                                         0x1.82a5804bb8ed8p-3,
                                         0x1.aab81128bee0ap-4,
                                         0x1.d20569083f61p-5,
                                         0x1.f81030558ef08p-6};
}  // namespace detail

/// Unit levels of the 2^b-level midrise grid: k + ½ for k = −2^{b−1} … 2^{b−1} − 1.
inline std::vector<double> midrise_levels(int bits) {
    detail::require(bits >= 1 && bits <= 8, "bits", "must be in 1 … 8");
    std::vector<double> l;
    const int half = 1 << (bits - 1);
    for (int k = -half; k < half; ++k) l.push_back(k + 0.5);
    return l;
}

/// Unit levels of the integers qmin … qmax.
inline std::vector<double> integer_levels(int qmin, int qmax) {
    std::vector<double> l;
    for (int q = qmin; q <= qmax; ++q) l.push_back(q);
    return l;
}

/// gaussian_optimal_step(midrise_levels(bits)), the same on every machine (tabulated).
inline double midrise_optimal_step(int bits) {
    detail::require(bits >= 1 && bits <= 8, "bits", "must be in 1 … 8");
    return detail::midrise_steps[bits];
}

/// gaussian_optimal_step(integer_levels(qmin, qmax)): tabulated (the same on every machine) for
/// the symmetric restricted and full ranges of 2 … 8 bits, computed for any other range.
inline double integer_optimal_step(int qmin, int qmax) {
    for (int b = 2; b <= 8; ++b) {
        const int h = 1 << (b - 1);
        if (qmax == h - 1 && qmin == -(h - 1)) return detail::restricted_steps[b];
        if (qmax == h - 1 && qmin == -h) return detail::full_steps[b];
    }
    return gaussian_optimal_step(integer_levels(qmin, qmax));
}

LOWBIT_NAMESPACE_END
