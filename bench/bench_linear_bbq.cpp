// Benchmarks of the quantized linear operators on BBQ / QuEST codes (ops/linear_bbq.hpp):
//   linear_bbq/gemv/<scheme>/<R>x<C>/t<T>   ops::gemv on T threads (the activation row's
//                                           Hadamard transform and int8 groups included)
//   linear_bbq/gemm/<scheme>/<R>x<C>/b<B>   ops::gemm, batch B, one thread
//   linear_bbq/gemv_prepared/<scheme>/<R>x<C>/t<T>, …/gemm_prepared/…/b<B>
//                                           ops::lut_linear built once from the tensor
//                                           (4-bit codes: bbq4, quest4, bbq4_index_half)
// Schemes: bbq4 (INT4 codes, z = 0, H = 128: the codes read in place, fused over the row),
// bbq4_index_half (index codes, z = −½: XORed per tile, group sums folded in), quest4, bbq8
// (INT8 codes) and bbq3 (3-bit codes unpacked per tile). bench_linear.cpp's int4_g32 /
// int8_g32 rows are the INT baselines on the same shapes.
// bytes_per_second counts the weight bytes one product reads (packed codes + scales);
// items_per_second the multiply-adds (R·C per row of the batch).
#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <lowbit/ops/linear_bbq.hpp>
#include <lowbit/ops/lut_linear.hpp>
#include <lowbit/quantizers/bbq.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace lowbit;

struct shape_case {
    std::size_t rows, cols;
};
constexpr shape_case shapes[] = {{4096, 4096}, {14336, 4096}};

std::string dims(shape_case s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }

using lowbit_bench::uniform;

/// W of one scheme and shape, quantized once for every benchmark that reads it.
template <class Q>
const typename Q::tensor_type& weights(shape_case s, const bbq_options& o) {
    static std::map<std::pair<std::size_t, std::size_t>, typename Q::tensor_type> cache;
    auto& w = cache[{s.rows, s.cols}];
    if (w.size() == 0) w = Q(o).quantize(uniform(s.rows * s.cols, 1, 0.05f), {s.rows, s.cols});
    return w;
}

template <class T>
std::size_t weight_bytes(const T& w) {
    return w.packed.size() + w.scales.size() * sizeof(w.scales[0]);
}

void counters(benchmark::State& st, std::size_t bytes, std::size_t macs) {
    st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(bytes));
    st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(macs));
}

template <class Q>
void gemv(benchmark::State& st, shape_case s, const bbq_options& o, unsigned threads) {
    const auto& w = weights<Q>(s, o);
    const auto x = uniform(s.cols, 2, 1.0f);
    std::vector<float> y(s.rows);
    for (auto _ : st) {
        ops::gemv(w, x, y, {.threads = threads});
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), s.rows * s.cols);
}

template <class Q>
void gemm(benchmark::State& st, shape_case s, const bbq_options& o, std::size_t batch) {
    const auto& w = weights<Q>(s, o);
    const auto x = uniform(batch * s.cols, 2, 1.0f);
    std::vector<float> y(batch * s.rows);
    for (auto _ : st) {
        ops::gemm(w, x, batch, y);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), batch * s.rows * s.cols);
}

template <class Q>
void gemv_prepared(benchmark::State& st, shape_case s, const bbq_options& o, unsigned threads) {
    const auto& w = weights<Q>(s, o);
    const ops::lut_linear lin(w);
    const auto x = uniform(s.cols, 2, 1.0f);
    std::vector<float> y(s.rows);
    for (auto _ : st) {
        lin.gemv(x, y, {.threads = threads});
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), s.rows * s.cols);
}

template <class Q>
void gemm_prepared(benchmark::State& st, shape_case s, const bbq_options& o, std::size_t batch) {
    const auto& w = weights<Q>(s, o);
    const ops::lut_linear lin(w);
    const auto x = uniform(batch * s.cols, 2, 1.0f);
    std::vector<float> y(batch * s.rows);
    for (auto _ : st) {
        lin.gemm(x, batch, y);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), batch * s.rows * s.cols);
}

template <class Q>
void register_prepared(const std::string& name, const bbq_options& o) {
    for (shape_case s : shapes) {
        const std::string d = dims(s);
        for (unsigned t : {1u, 2u})
            benchmark::RegisterBenchmark(
                ("linear_bbq/gemv_prepared/" + name + "/" + d + "/t" + std::to_string(t)).c_str(),
                [s, o, t](benchmark::State& st) { gemv_prepared<Q>(st, s, o, t); })
                ->UseRealTime();
        for (std::size_t b : {std::size_t{8}, std::size_t{64}})
            benchmark::RegisterBenchmark(
                ("linear_bbq/gemm_prepared/" + name + "/" + d + "/b" + std::to_string(b)).c_str(),
                [s, o, b](benchmark::State& st) { gemm_prepared<Q>(st, s, o, b); });
    }
}

template <class Q>
void register_scheme(const std::string& name, const bbq_options& o) {
    for (shape_case s : shapes) {
        const std::string d = dims(s);
        for (unsigned t : {1u, 2u})
            benchmark::RegisterBenchmark(
                ("linear_bbq/gemv/" + name + "/" + d + "/t" + std::to_string(t)).c_str(),
                [s, o, t](benchmark::State& st) { gemv<Q>(st, s, o, t); })
                ->UseRealTime();
        benchmark::RegisterBenchmark(("linear_bbq/gemm/" + name + "/" + d + "/b8").c_str(),
                                     [s, o](benchmark::State& st) { gemm<Q>(st, s, o, 8); });
    }
}

const int registered = [] {
    bbq_options o;
    register_scheme<bbq_quantizer<4>>("bbq4", o);
    register_scheme<bbq_quantizer<8>>("bbq8", o);
    register_scheme<bbq_quantizer<3>>("bbq3", o);
    register_scheme<quest_quantizer<4>>("quest4", o);
    register_prepared<bbq_quantizer<4>>("bbq4", o);
    register_prepared<quest_quantizer<4>>("quest4", o);
    o.zero = bbq_zero::half;
    register_scheme<bbq_quantizer<4, bbq_codes::index>>("bbq4_index_half", o);
    register_prepared<bbq_quantizer<4, bbq_codes::index>>("bbq4_index_half", o);
    return 0;
}();

}  // namespace
