// lowbit-bench — main, the baselines (memcpy, readsum) and every scheme of all_schemes():
//   quantize/<scheme>/<n>     scheme_instance::quantize on one thread (the tensor is reused: no
//   allocation) dequantize/<scheme>/<n>   scheme_instance::dequantize into a preallocated buffer
//   pack/<scheme>/<n>         lowbit::pack of the scheme's codes at its code width
//   unpack/<scheme>/<n>       lowbit::unpack of them
//   quantize_mt/<scheme>/<n>  scheme_instance::quantize_parallel over all hardware threads
//   (wall-clock rates)
// Other bench_*.cpp files register their own benchmarks; this file owns main().
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <lowbit/core/packing.hpp>
#include <lowbit/schemes.hpp>
#include <lowbit/simd/packing.hpp>

#include "bench_common.hpp"

namespace {
using lowbit_bench::gaussian;
using lowbit_bench::set_counters;
using lowbit_bench::shape_for;

void bench_memcpy(benchmark::State& state, std::size_t n) {
    const auto& x = gaussian(n);
    std::vector<float> y(n);
    for (auto _ : state) {
        std::memcpy(y.data(), x.data(), n * sizeof(float));
        benchmark::ClobberMemory();
    }
    set_counters(state, n);
}

/// Reads every value once (four SIMD accumulators): the read-bandwidth ceiling of a quantizer.
void bench_readsum(benchmark::State& state, std::size_t n) {
    using batch = xsimd::batch<float>;
    constexpr std::size_t W = batch::size;
    const auto& x = gaussian(n);
    for (auto _ : state) {
        batch a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
        std::size_t i = 0;
        for (; i + 4 * W <= n; i += 4 * W) {
            a0 += batch::load_unaligned(x.data() + i);
            a1 += batch::load_unaligned(x.data() + i + W);
            a2 += batch::load_unaligned(x.data() + i + 2 * W);
            a3 += batch::load_unaligned(x.data() + i + 3 * W);
        }
        float s = xsimd::hadd((a0 + a1) + (a2 + a3));
        for (; i < n; ++i) s += x[i];
        benchmark::DoNotOptimize(s);
    }
    set_counters(state, n);
}

void bench_quantize(benchmark::State& state, const lowbit::scheme_info* s, std::size_t n) {
    const auto& x = gaussian(n);
    auto q = s->make();
    q->quantize(x, shape_for(n));  // sizes the instance's buffers once
    for (auto _ : state) {
        q->quantize(x, shape_for(n));
        benchmark::ClobberMemory();
    }
    set_counters(state, n);
}

/// Wall-clock rates: Google Benchmark's UseRealTime() would rename the benchmark ("…/real_time"),
/// so the counters are computed here from the wall time of the loop. The Time column of this row
/// is the main thread's CPU time.
void bench_quantize_mt(benchmark::State& state, const lowbit::scheme_info* s, std::size_t n) {
    const auto& x = gaussian(n);
    auto q = s->make();
    q->quantize_parallel(x, shape_for(n), 0);
    double wall = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        q->quantize_parallel(x, shape_for(n), 0);
        benchmark::ClobberMemory();
        wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const double it = double(state.iterations());
    if (wall > 0) {
        state.counters["bytes_per_second"] =
            benchmark::Counter(it * double(n * sizeof(float)) / wall);
        state.counters["items_per_second"] = benchmark::Counter(it * double(n) / wall);
    }
}

void bench_dequantize(benchmark::State& state, const lowbit::scheme_info* s, std::size_t n) {
    const auto& x = gaussian(n);
    auto q = s->make();
    q->quantize(x, shape_for(n));
    std::vector<float> y(n);
    for (auto _ : state) {
        q->dequantize(y);
        benchmark::ClobberMemory();
    }
    set_counters(state, n);
}

void bench_pack(benchmark::State& state, const lowbit::scheme_info* s, std::size_t n) {
    auto q = s->make();
    q->quantize(gaussian(n), shape_for(n));
    const auto codes = q->codes();
    const int bits = q->code_bits();
    std::vector<std::uint8_t> packed(lowbit::packed_size(n, bits));
    for (auto _ : state) {
        lowbit::pack(codes, bits, packed);
        benchmark::ClobberMemory();
    }
    set_counters(state, n);
}

void bench_unpack(benchmark::State& state, const lowbit::scheme_info* s, std::size_t n) {
    auto q = s->make();
    q->quantize(gaussian(n), shape_for(n));
    std::vector<std::uint8_t> codes = q->codes();
    const int bits = q->code_bits();
    std::vector<std::uint8_t> packed(lowbit::packed_size(n, bits));
    lowbit::pack(codes, bits, packed);
    for (auto _ : state) {
        lowbit::unpack(packed, bits, codes);
        benchmark::ClobberMemory();
    }
    set_counters(state, n);
}

void register_all() {
    for (std::size_t n : lowbit_bench::sizes) {
        benchmark::RegisterBenchmark(("memcpy/" + std::to_string(n)).c_str(), bench_memcpy, n);
        benchmark::RegisterBenchmark(("readsum/" + std::to_string(n)).c_str(), bench_readsum, n);
    }
    using fn = void (*)(benchmark::State&, const lowbit::scheme_info*, std::size_t);
    const std::pair<const char*, fn> ops[] = {{"quantize", bench_quantize},
                                              {"dequantize", bench_dequantize},
                                              {"pack", bench_pack},
                                              {"unpack", bench_unpack}};
    for (const auto& [op, f] : ops)
        for (const auto& s : lowbit::all_schemes())
            for (std::size_t n : lowbit_bench::sizes)
                benchmark::RegisterBenchmark(
                    (std::string(op) + "/" + s.name + "/" + std::to_string(n)).c_str(), f, &s, n);
    for (const auto& s : lowbit::all_schemes())
        for (std::size_t n : lowbit_bench::sizes)
            benchmark::RegisterBenchmark(
                ("quantize_mt/" + s.name + "/" + std::to_string(n)).c_str(), bench_quantize_mt, &s,
                n);
}
}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
