// Benchmarks of the linear operators on FP4-like codes (ops/linear_fp4.hpp), with the int4 ones
// of ops/linear.hpp as the baseline, in one run:
//   linear_fp4/gemv/<scheme>/<R>x<C>/t<T>   ops::gemv on T threads
//   linear_fp4/gemm/<scheme>/<R>x<C>/b<B>   ops::gemm, batch B, one thread
//   linear_fp4/gemv_prepared/<scheme>/<R>x<C>/t<T>, linear_fp4/gemm_prepared/<scheme>/<R>x<C>/b<B>
//                                           ops::lut_linear, prepared once (mxfp4, nvfp4,
//                                           log4_g32; nf4_g64 at 7-bit levels)
// schemes: mxfp4 (E2M1, E8M0 per 32), nvfp4 (E2M1, E4M3 per 16, FP32 per tensor), log4_g32
// (log2 4-bit, fp16 absmax per 32), nf4_g64 (codebook, fp32 absmax per 64), int4_g32
// (ops/linear.hpp, fp16 scale per 32).
// bytes_per_second counts the weight bytes one product reads (packed codes + scales);
// items_per_second the multiply-adds (R·C per row of the batch).
#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <Eigen/Core>

#include <lowbit/ops/linear.hpp>
#include <lowbit/ops/linear_fp4.hpp>
#include <lowbit/ops/lut_linear.hpp>
#include <lowbit/quantizers/codebook.hpp>
#include <lowbit/quantizers/int.hpp>
#include <lowbit/quantizers/log.hpp>
#include <lowbit/quantizers/mx.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace lowbit;

struct shape_case {
    std::size_t rows, cols;
};
constexpr shape_case shapes[] = {{4096, 4096}, {14336, 4096}};

std::string dims(shape_case s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }

using lowbit_bench::uniform;

std::vector<float> values(shape_case s) { return uniform(s.rows * s.cols, 1, 0.05f); }

struct mxfp4 {
    static auto make(shape_case s) {
        return mx_quantizer<e2m1>().quantize(values(s), {s.rows, s.cols});
    }
    template <class T>
    static std::size_t bytes(const T& w) {
        return w.packed.size() + w.scales.size();
    }
};
struct nvfp4 {
    static auto make(shape_case s) {
        return nvfp4_quantizer().quantize(values(s), {s.rows, s.cols});
    }
    template <class T>
    static std::size_t bytes(const T& w) {
        return w.packed.size() + w.scales.size() + sizeof(float);
    }
};
struct log4_g32 {
    static auto make(shape_case s) {
        return log_quantizer<4>().quantize(values(s), {s.rows, s.cols});
    }
    template <class T>
    static std::size_t bytes(const T& w) {
        return w.packed.size() + w.scales.size() * sizeof(w.scales[0]);
    }
};
struct nf4_g64 {
    static auto make(shape_case s) {
        return codebook_quantizer<4>().quantize(values(s), {s.rows, s.cols});
    }
    template <class T>
    static std::size_t bytes(const T& w) {
        return w.packed.size() + w.scales.size() * sizeof(float);
    }
};
struct int4_g32 {
    static auto make(shape_case s) {
        int_options<int_format<4, int_range::full>> o;
        o.gran = granularity::group(32);
        return int_quantizer<int_format<4, int_range::full>, Eigen::half>(o).quantize(
            values(s), {s.rows, s.cols});
    }
    template <class T>
    static std::size_t bytes(const T& w) {
        return w.packed.size() + w.scales.size() * sizeof(w.scales[0]);
    }
};

void counters(benchmark::State& st, std::size_t bytes, std::size_t macs) {
    st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(bytes));
    st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(macs));
}

template <class S>
void gemv(benchmark::State& st, shape_case s, unsigned threads) {
    const auto w = S::make(s);
    const auto x = uniform(s.cols, 2, 1.0f);
    std::vector<float> y(s.rows);
    for (auto _ : st) {
        ops::gemv(w, x, y, {.threads = threads});
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, S::bytes(w), s.rows * s.cols);
}

template <class S>
void gemm(benchmark::State& st, shape_case s, std::size_t batch) {
    const auto w = S::make(s);
    const auto x = uniform(batch * s.cols, 2, 1.0f);
    std::vector<float> y(batch * s.rows);
    for (auto _ : st) {
        ops::gemm(w, x, batch, y);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, S::bytes(w), batch * s.rows * s.cols);
}

template <class S>
void gemv_prepared(benchmark::State& st, shape_case s, unsigned threads) {
    const auto w = S::make(s);
    const ops::lut_linear lin(w);
    const auto x = uniform(s.cols, 2, 1.0f);
    std::vector<float> y(s.rows);
    for (auto _ : st) {
        lin.gemv(x, y, {.threads = threads});
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, S::bytes(w), s.rows * s.cols);
}

template <class S>
void gemm_prepared(benchmark::State& st, shape_case s, std::size_t batch) {
    const auto w = S::make(s);
    const ops::lut_linear lin(w);
    const auto x = uniform(batch * s.cols, 2, 1.0f);
    std::vector<float> y(batch * s.rows);
    for (auto _ : st) {
        lin.gemm(x, batch, y);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, S::bytes(w), batch * s.rows * s.cols);
}

template <class S>
void register_prepared(const std::string& name) {
    for (shape_case s : shapes) {
        const std::string d = dims(s);
        for (unsigned t : {1u, 2u})
            benchmark::RegisterBenchmark(
                ("linear_fp4/gemv_prepared/" + name + "/" + d + "/t" + std::to_string(t)).c_str(),
                [s, t](benchmark::State& st) { gemv_prepared<S>(st, s, t); })
                ->UseRealTime();
        for (std::size_t b : {std::size_t{8}, std::size_t{64}})
            benchmark::RegisterBenchmark(
                ("linear_fp4/gemm_prepared/" + name + "/" + d + "/b" + std::to_string(b)).c_str(),
                [s, b](benchmark::State& st) { gemm_prepared<S>(st, s, b); });
    }
}

template <class S>
void register_scheme(const std::string& name) {
    for (shape_case s : shapes) {
        const std::string d = dims(s);
        for (unsigned t : {1u, 2u})
            benchmark::RegisterBenchmark(
                ("linear_fp4/gemv/" + name + "/" + d + "/t" + std::to_string(t)).c_str(),
                [s, t](benchmark::State& st) { gemv<S>(st, s, t); })
                ->UseRealTime();
        benchmark::RegisterBenchmark(("linear_fp4/gemm/" + name + "/" + d + "/b8").c_str(),
                                     [s](benchmark::State& st) { gemm<S>(st, s, 8); });
    }
}

const int registered = [] {
    register_scheme<mxfp4>("mxfp4");
    register_scheme<nvfp4>("nvfp4");
    register_scheme<log4_g32>("log4_g32");
    register_scheme<nf4_g64>("nf4_g64");
    register_scheme<int4_g32>("int4_g32");
    register_prepared<mxfp4>("mxfp4");
    register_prepared<nvfp4>("nvfp4");
    register_prepared<nf4_g64>("nf4_g64");
    register_prepared<log4_g32>("log4_g32");
    return 0;
}();

}  // namespace
