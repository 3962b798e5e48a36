// Benchmarks of the blockwise Hadamard transform: hadamard/<H>/<n>, in place over n floats
// (one row), SIMD kernel. bytes_per_second counts the n floats transformed (4n bytes per run).
#include <benchmark/benchmark.h>

#include <lowbit/simd/hadamard.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

std::vector<float> bench_data(std::size_t n) {
    std::vector<float> v(n);
    std::uint32_t s = 12345;
    for (auto& x : v) {  // uniform in [−1, 1): the transform's speed does not depend on the values
        s = s * 1664525u + 1013904223u;
        x = float(s >> 8) * 0x1p-23f - 1.0f;
    }
    return v;
}

void hadamard_bench(benchmark::State& state, std::size_t H, std::size_t n) {
    auto x = bench_data(n);
    for (auto _ : state) {
        lowbit::hadamard_transform(x, {1, n},
                                   H);  // orthonormal: repeated runs keep the values bounded
        benchmark::DoNotOptimize(x.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n * sizeof(float)));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
}

const int registered = [] {
    for (std::size_t H : {std::size_t{16}, std::size_t{64}, std::size_t{128}, std::size_t{256},
                          std::size_t{1024}, std::size_t{4096}, std::size_t{32768}})
        for (std::size_t n : {std::size_t{65536}, std::size_t{16777216}})
            benchmark::RegisterBenchmark(
                ("hadamard/" + std::to_string(H) + "/" + std::to_string(n)).c_str(),
                [H, n](benchmark::State& s) { hadamard_bench(s, H, n); });
    return 0;
}();

}  // namespace
