// Benchmarks of quantization under a scale known beforehand (calibration, or the amax history of
// earlier steps as FP8 training's delayed scaling keeps it): quantize_given/<scheme>/<n>, one
// thread. The per-tensor schemes e4m3fn and nvfp4 then read x once instead of twice (no absmax
// pass); the scale used is the one quantize() computes, so the codes are the same as
// quantize/<scheme>/<n>'s.
#include <benchmark/benchmark.h>

#include <lowbit/quantizers/minifloat.hpp>
#include <lowbit/quantizers/mx.hpp>

#include <string>

#include "bench_common.hpp"

namespace {
using lowbit_bench::gaussian;
using lowbit_bench::set_counters;
using lowbit_bench::shape_for;

void given_e4m3fn(benchmark::State& state, std::size_t n) {
    const auto& x = gaussian(n);
    const lowbit::minifloat_quantizer<lowbit::e4m3fn> q;
    auto t = q.quantize(x, shape_for(n));
    const std::vector<float> scales = t.scales;
    for (auto _ : state) {
        q.quantize_with_scales(x, shape_for(n), scales, t);
        benchmark::DoNotOptimize(t.packed.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, n);
}

void given_nvfp4(benchmark::State& state, std::size_t n) {
    const auto& x = gaussian(n);
    const lowbit::nvfp4_quantizer q;
    auto t = q.quantize(x, shape_for(n));
    const float g = t.global_scale;
    for (auto _ : state) {
        q.quantize_with_global_scale(x, shape_for(n), g, t);
        benchmark::DoNotOptimize(t.packed.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, n);
}

const int registered = [] {
    for (std::size_t n : lowbit_bench::sizes) {
        benchmark::RegisterBenchmark(("quantize_given/e4m3fn/" + std::to_string(n)).c_str(),
                                     [n](benchmark::State& s) { given_e4m3fn(s, n); });
        benchmark::RegisterBenchmark(("quantize_given/nvfp4/" + std::to_string(n)).c_str(),
                                     [n](benchmark::State& s) { given_nvfp4(s, n); });
    }
    return 0;
}();

}  // namespace
