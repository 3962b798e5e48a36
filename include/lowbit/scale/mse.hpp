// lowbit — the squared error that the MSE-searched scale rule minimises, in a summation order
// that SIMD kernels of any width, threads and the GPU reproduce exactly.
//
// The error of a candidate (scale s, offset m; m = 0 for signed formats) over the slot's values
// x_0 … x_{n−1}, in float arithmetic, each operation rounded on its own (no FMA):
//     q_j = clamp(RNE((x_j − m) · (1/s)), qmin, qmax),   d_j = x_j − (q_j · s + m)
// where a non-finite x_j contributes nothing, summed as
//   * chunks of 1024 consecutive values (the last may be short): 16 float partial sums, d_j²
//     added to partial j mod 16 in order of j, then folded p_i += p_{i+w} for w = 8, 4, 2, 1
//     into the chunk's (float) sum;
//   * superblocks of 65 536 values (64 chunks): the chunk sums added in order in double;
//   * the superblock sums added in order in double, and the total saturated at FLT_MAX (a sum
//     past it, or an infinite d², counts as FLT_MAX, so that some candidate always wins).
// A W-lane kernel (W dividing 16) keeps the 16 float partials in 16/W registers, batch i of a
// chunk going to register i mod (16/W), and folds them in registers: the same additions in the
// same order as the scalar loop. Superblocks are independent, so threads may compute them in any
// order, and the result does not depend on the thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "../core/config.hpp"
#include "../core/unfused.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace mse_search {

inline constexpr std::size_t chunk = 1024;        ///< values per float chunk sum
inline constexpr std::size_t partials = 16;       ///< float partial sums per chunk
inline constexpr std::size_t superblock = 65536;  ///< values per double superblock sum
inline constexpr int candidates = 49;             ///< clip ratios k/64, k = 64 … 16

/// The clip ratio of candidate c (0 … 48): (64 − c) / 64, widest first.
inline constexpr float ratio(int c) noexcept { return float(64 - c) / 64.0f; }

/// Adds d_j² of x[j0 … n) to the float partials p (value j to p[j mod 16]), skipping the
/// non-finite values: the scalar definition, and the tail of the SIMD kernels.
inline void add_chunk_partials(const float* x, std::size_t j0, std::size_t n, float inv, float s,
                               float m, float qmin, float qmax, float* p) noexcept {
    for (std::size_t j = j0; j < n; ++j) {
        if (!std::isfinite(x[j])) continue;
        const float y = (x[j] - m) * inv;
        const float q = std::min(std::max(std::nearbyint(y), qmin), qmax);
        const float d = x[j] - (mul_unfused(q, s) + m);
        p[j % partials] += mul_unfused(d, d);
    }
}

/// Folds 16 float partials (p_i += p_{i+w} for w = 8, 4, 2, 1) and returns the sum.
inline float fold(float* p) noexcept {
    for (std::size_t w = partials / 2; w >= 1; w /= 2)
        for (std::size_t i = 0; i < w; ++i) p[i] += p[i + w];
    return p[0];
}

/// The float sum of one chunk (n <= 1024 values), scalar.
inline float chunk_sum(const float* x, std::size_t n, float inv, float s, float m, float qmin,
                       float qmax) noexcept {
    float p[partials] = {};
    add_chunk_partials(x, 0, n, inv, s, m, qmin, qmax, p);
    return fold(p);
}

/// The error of a reconstruction: Σ (x_j − x̂_j)² over n values (any length), non-finite x_j
/// skipped, in the order of the file comment (chunks of 1024 into 16 float partials, chunk sums
/// added in double per superblock, superblock sums in double), not yet saturated. For formats
/// whose x̂ is not an affine function of a clamped integer (minifloats), computed from x̂.
inline double reconstruction_error(const float* x, const float* xhat, std::size_t n) noexcept {
    double total = 0.0;
    for (std::size_t b0 = 0; b0 < n; b0 += superblock) {
        const std::size_t b1 = std::min(n, b0 + superblock);
        double block = 0.0;
        for (std::size_t c0 = b0; c0 < b1; c0 += chunk) {
            const std::size_t c1 = std::min(b1, c0 + chunk);
            float p[partials] = {};
            for (std::size_t j = c0; j < c1; ++j) {
                if (!std::isfinite(x[j])) continue;
                const float d = x[j] - xhat[j];
                p[(j - c0) % partials] += mul_unfused(d, d);
            }
            block += fold(p);
        }
        total += block;
    }
    return total;
}

/// The total of superblock sums, saturated at FLT_MAX.
inline float saturate(double total) noexcept {
    return float(std::min(total, double(std::numeric_limits<float>::max())));
}

}  // namespace mse_search
LOWBIT_NAMESPACE_END
