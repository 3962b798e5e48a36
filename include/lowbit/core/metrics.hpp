// lowbit — quality metrics: MSE, SQNR, max abs error, code histogram and its entropy.
//
// All sums are taken in double in index order, so a metric is a deterministic function
// of its inputs. Pairs where the reference value is not finite are skipped (and counted).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "error.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Reconstruction error of `approx` against `ref`.
struct error_stats {
    double mse = 0;            ///< mean squared error over finite reference values
    double signal_power = 0;   ///< mean of ref² over the same values
    double sqnr_db = 0;        ///< 10·log10(signal_power / mse); +Inf when mse = 0
    double max_abs_error = 0;  ///< largest |ref − approx|
    std::size_t count = 0;     ///< values compared
    std::size_t skipped = 0;   ///< non-finite reference values left out
};

/// Computes MSE, SQNR (dB) and max abs error. Throws lowbit::error on size mismatch.
inline error_stats compare(std::span<const float> ref, std::span<const float> approx) {
    detail::require(ref.size() == approx.size(), "approx", "must have as many values as ref");
    error_stats s;
    double se = 0, sp = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(ref[i])) {
            ++s.skipped;
            continue;
        }
        const double e = static_cast<double>(ref[i]) - static_cast<double>(approx[i]);
        se += e * e;
        sp += static_cast<double>(ref[i]) * ref[i];
        const double a = std::fabs(e);
        if (!(a <= s.max_abs_error)) s.max_abs_error = a;  // NaN error propagates
        ++s.count;
    }
    if (s.count) {
        s.mse = se / double(s.count);
        s.signal_power = sp / double(s.count);
    }
    s.sqnr_db = s.mse == 0 ? std::numeric_limits<double>::infinity()
                           : 10.0 * std::log10(s.signal_power / s.mse);
    return s;
}

/// Mean squared error.
inline double mse(std::span<const float> ref, std::span<const float> approx) {
    return compare(ref, approx).mse;
}
/// Signal-to-quantisation-noise ratio in dB.
inline double sqnr_db(std::span<const float> ref, std::span<const float> approx) {
    return compare(ref, approx).sqnr_db;
}
/// Largest absolute error.
inline double max_abs_error(std::span<const float> ref, std::span<const float> approx) {
    return compare(ref, approx).max_abs_error;
}

/// Histogram of unpacked codes: counts[c] for c in 0 … 2^bits − 1.
inline std::vector<std::uint64_t> code_histogram(std::span<const std::uint8_t> codes, int bits) {
    detail::require(bits >= 1 && bits <= 8, "bits", "must be in 1 … 8");
    std::vector<std::uint64_t> h(std::size_t{1} << bits, 0);
    const unsigned mask = (1u << bits) - 1u;
    for (auto c : codes) ++h[c & mask];
    return h;
}

/// Shannon entropy of a histogram in bits: −Σ p log2 p (0 for an empty histogram).
inline double entropy_bits(std::span<const std::uint64_t> histogram) {
    std::uint64_t total = 0;
    for (auto c : histogram) total += c;
    if (total == 0) return 0;
    double h = 0;
    for (auto c : histogram)
        if (c) {
            const double p = double(c) / double(total);
            h -= p * std::log2(p);
        }
    return h;
}

/// Entropy in bits of the empirical distribution of `codes`.
inline double code_entropy_bits(std::span<const std::uint8_t> codes, int bits) {
    const auto h = code_histogram(codes, bits);
    return entropy_bits(h);
}

LOWBIT_NAMESPACE_END
