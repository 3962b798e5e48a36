// lowbit — sums with a fixed evaluation order, so that every path (scalar, SIMD, threads, CUDA)
// can reproduce them bit for bit.
//
// tree_sum(f, n) sums f(i) for i in [0, n) in double as a fixed binary tree:
//   the terms are cut into blocks of 256 (the last one padded with zeros); inside a block the
//   sum is the butterfly v[i] += v[i + s] for s = 128, 64, …, 1 (the classic shared-memory /
//   warp-shuffle reduction); the block sums form a new sequence, reduced the same way, until one
//   value is left. A CUDA block of 256 threads (or 8 warps with shuffles in the same pattern)
//   computes exactly this, and so does a SIMD loop; terms are exact doubles of floats (x and x²
//   of a float are exact in double), so only the order matters, and the order is this one.
#pragma once
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Width of one reduction block of tree_sum.
inline constexpr std::size_t tree_block = 256;

namespace detail {
/// Butterfly-sums v[0 … 256) in place; returns v[0].
inline double butterfly256(double* v) noexcept {
    for (std::size_t s = tree_block / 2; s >= 1; s /= 2)
        for (std::size_t i = 0; i < s; ++i) v[i] += v[i + s];
    return v[0];
}
}  // namespace detail

/// Σ term(i), i in [0, n), in the fixed tree order described above (0 for n = 0).
template <class Term>
inline double tree_sum(std::size_t n, Term&& term) {
    if (n == 0) return 0.0;
    double v[tree_block];
    if (n <= tree_block) {  // one block (every group scale): same tree, no heap allocation
        for (std::size_t i = 0; i < tree_block; ++i) v[i] = i < n ? term(i) : 0.0;
        return detail::butterfly256(v);
    }
    std::vector<double> level((n + tree_block - 1) / tree_block);
    for (std::size_t b = 0; b < level.size(); ++b) {
        const std::size_t base = b * tree_block;
        for (std::size_t i = 0; i < tree_block; ++i) v[i] = base + i < n ? term(base + i) : 0.0;
        level[b] = detail::butterfly256(v);
    }
    while (level.size() > 1) {
        std::vector<double> next((level.size() + tree_block - 1) / tree_block);
        for (std::size_t b = 0; b < next.size(); ++b) {
            const std::size_t base = b * tree_block;
            for (std::size_t i = 0; i < tree_block; ++i) v[i] = base + i < level.size() ? level[base + i] : 0.0;
            next[b] = detail::butterfly256(v);
        }
        level.swap(next);
    }
    return level[0];
}

/// Σ x over finite x, in tree order.
inline double tree_sum_finite(std::span<const float> x) {
    return tree_sum(x.size(), [&](std::size_t i) { return std::isfinite(x[i]) ? double(x[i]) : 0.0; });
}
/// Σ x² over finite x, in tree order.
inline double tree_sum_squares_finite(std::span<const float> x) {
    return tree_sum(x.size(), [&](std::size_t i) { return std::isfinite(x[i]) ? double(x[i]) * double(x[i]) : 0.0; });
}

LOWBIT_NAMESPACE_END
