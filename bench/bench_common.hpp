// lowbit-bench — shared by the bench_*.cpp files: the sizes, their 2-D shapes, the input data
// and the counters every benchmark reports.
#pragma once
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include <lowbit/core/granularity.hpp>

namespace lowbit_bench {

/// The element counts every operation is measured at.
inline constexpr std::size_t sizes[] = {65536, 16777216};

/// 65536 → 256 × 256, 16777216 → 4096 × 4096 (square, so per-row and per-group work is realistic).
inline lowbit::shape2d shape_for(std::size_t n) {
    std::size_t r = 1;
    while (r * r < n) ++r;
    return r * r == n ? lowbit::shape2d{r, r} : lowbit::shape2d{1, n};
}

/// N(0, 1) values, the same for every benchmark of a size (fixed seed; built once).
inline const std::vector<float>& gaussian(std::size_t n) {
    static std::map<std::size_t, std::vector<float>> cache;
    auto& v = cache[n];
    if (v.size() != n) {
        std::mt19937 g(20260101u + static_cast<std::uint32_t>(n));
        std::normal_distribution<float> d(0.0f, 1.0f);
        v.resize(n);
        for (auto& x : v) x = d(g);
    }
    return v;
}

/// n values uniform in [−scale, scale) from `seed` (the linear-layer benchmarks and their peers
/// draw weights and activations alike from this).
inline std::vector<float> uniform(std::size_t n, std::uint32_t seed, float scale) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

/// bytes_per_second counts the fp32 side (4 bytes per element), items_per_second elements.
inline void set_counters(benchmark::State& state, std::size_t n) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n * sizeof(float)));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
}

}  // namespace lowbit_bench
