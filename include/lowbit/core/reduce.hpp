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
/// Streams the tree level by level with one 256-slot buffer per level on the stack, so it never
/// allocates (8 levels cover 2^64 terms).
template <class Term>
inline double tree_sum(std::size_t n, Term&& term) {
    if (n == 0) return 0.0;
    constexpr int max_levels = 8;
    double buf[max_levels][tree_block];
    std::size_t fill[max_levels] = {}, total[max_levels] = {};
    auto push = [&](int level, double v, auto&& self) -> void {
        buf[level][fill[level]++] = v;
        ++total[level];
        if (fill[level] == tree_block) {
            fill[level] = 0;
            self(level + 1, detail::butterfly256(buf[level]), self);
        }
    };
    for (std::size_t i = 0; i < n; ++i) push(0, term(i), push);
    // Flush: pad each level's last block with zeros and reduce it into the next level, until a
    // level (above the leaves) has received a single value: that value is the sum.
    for (int level = 0;; ++level) {
        if (level > 0 && total[level] == 1) return buf[level][0];
        if (fill[level] != 0) {
            for (std::size_t k = fill[level]; k < tree_block; ++k) buf[level][k] = 0.0;
            fill[level] = 0;
            push(level + 1, detail::butterfly256(buf[level]), push);
        }
    }
}

/// Σ x over finite x, in tree order.
inline double tree_sum_finite(std::span<const float> x) {
    return tree_sum(x.size(),
                    [&](std::size_t i) { return std::isfinite(x[i]) ? double(x[i]) : 0.0; });
}
/// Σ x² over finite x, in tree order.
inline double tree_sum_squares_finite(std::span<const float> x) {
    return tree_sum(x.size(), [&](std::size_t i) {
        return std::isfinite(x[i]) ? double(x[i]) * double(x[i]) : 0.0;
    });
}

LOWBIT_NAMESPACE_END
