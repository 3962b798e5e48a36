// Benchmarks of the quantized linear operators (ops/linear.hpp) beside their baselines, in one
// run:
//   linear/readsum/<R>x<C>/<scheme>        one pass over a buffer of the scheme's packed bytes
//                                          (codes + scales): the read ceiling of a GEMV
//   linear/gemv/<scheme>/<R>x<C>/t<T>       ops::gemv on T threads
//   linear/gemm/<scheme>/<R>x<C>/b<B>       ops::gemm, batch B, one thread
//   linear/gemv_prepared/…, gemm_prepared/…  the same through ops::int_linear (prepared once,
//                                          outside the timing; bytes counted as the tensor's)
//   linear/eigen_f32_gemv/<R>x<C>           Eigen's fp32 matrix–vector product (row-major W)
//   linear/eigen_f32_gemm/<R>x<C>/b<B>      Eigen's fp32 X·Wᵀ
//   linear/dequant_eigen_gemv/<scheme>/<R>x<C>  dequantize W, then Eigen's fp32 GEMV
// bytes_per_second counts the weight bytes one product reads (packed codes + scales for the
// quantized forms, 4 per weight for fp32); items_per_second the multiply-adds (R·C per row of
// the batch), the axis on which every form compares.
#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <Eigen/Core>
#include <xsimd/xsimd.hpp>

#include <lowbit/ops/linear.hpp>
#include <lowbit/quantizers/int.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace lowbit;
using I4 = int_format<4, int_range::full>;
using I8 = int_format<8, int_range::full>;

struct shape_case {
    std::size_t rows, cols;
};
constexpr shape_case shapes[] = {{4096, 4096}, {14336, 4096}};

std::string dims(shape_case s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }

using lowbit_bench::uniform;

template <class F>
int_tensor<F, Eigen::half> weights(shape_case s) {
    int_options<F> o;
    o.gran = granularity::group(32);
    return int_quantizer<F, Eigen::half>(o).quantize(uniform(s.rows * s.cols, 1, 0.05f),
                                                     {s.rows, s.cols});
}

/// Packed codes plus scales, and the minima or zero points of asymmetric formats.
template <class T>
std::size_t weight_bytes(const T& w) {
    return w.packed.size() + w.scales.size() * sizeof(w.scales[0]) +
        w.offsets.size() * sizeof(w.scales[0]) + w.zero_points.size();
}

void counters(benchmark::State& st, std::size_t bytes, std::size_t macs) {
    st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(bytes));
    st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(macs));
}

/// Sums n bytes as 32-bit words in four SIMD accumulators.
void readsum(benchmark::State& st, std::size_t n) {
    using B = xsimd::batch<std::uint32_t>;
    std::vector<std::uint32_t> v((n + 3) / 4, 0x01020304u);
    const std::size_t words = v.size();
    for (auto _ : st) {
        B a0(0u), a1(0u), a2(0u), a3(0u);
        std::size_t i = 0;
        for (; i + 4 * B::size <= words; i += 4 * B::size) {
            a0 += B::load_unaligned(v.data() + i);
            a1 += B::load_unaligned(v.data() + i + B::size);
            a2 += B::load_unaligned(v.data() + i + 2 * B::size);
            a3 += B::load_unaligned(v.data() + i + 3 * B::size);
        }
        std::uint32_t s = xsimd::hadd((a0 + a1) + (a2 + a3));
        for (; i < words; ++i) s += v[i];
        benchmark::DoNotOptimize(s);
    }
    counters(st, n, 0);
}

template <class F>
void gemv(benchmark::State& st, shape_case s, unsigned threads) {
    const auto w = weights<F>(s);
    const auto x = uniform(s.cols, 2, 1.0f);
    std::vector<float> y(s.rows);
    for (auto _ : st) {
        ops::gemv(w, x, y, {.threads = threads});
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), s.rows * s.cols);
}

template <class F>
void gemv_prepared(benchmark::State& st, shape_case s, unsigned threads) {
    const auto w = weights<F>(s);
    const ops::int_linear<F::bits> lin(w);
    const auto x = uniform(s.cols, 2, 1.0f);
    std::vector<float> y(s.rows);
    for (auto _ : st) {
        lin.gemv(x, y, {.threads = threads});
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), s.rows * s.cols);
}

template <class F>
void gemm_prepared(benchmark::State& st, shape_case s, std::size_t batch) {
    const auto w = weights<F>(s);
    const ops::int_linear<F::bits> lin(w);
    const auto x = uniform(batch * s.cols, 2, 1.0f);
    std::vector<float> y(batch * s.rows);
    for (auto _ : st) {
        lin.gemm(x, batch, y);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), batch * s.rows * s.cols);
}

template <class F>
void gemm(benchmark::State& st, shape_case s, std::size_t batch) {
    const auto w = weights<F>(s);
    const auto x = uniform(batch * s.cols, 2, 1.0f);
    std::vector<float> y(batch * s.rows);
    for (auto _ : st) {
        ops::gemm(w, x, batch, y);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), batch * s.rows * s.cols);
}

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void eigen_gemv(benchmark::State& st, shape_case s) {
    const auto wv = uniform(s.rows * s.cols, 1, 0.05f);
    const Eigen::Map<const RowMajor> w(wv.data(), Eigen::Index(s.rows), Eigen::Index(s.cols));
    const Eigen::VectorXf x =
        Eigen::Map<const Eigen::VectorXf>(uniform(s.cols, 2, 1.0f).data(), Eigen::Index(s.cols));
    Eigen::VectorXf y(Eigen::Index(s.rows));
    for (auto _ : st) {
        y.noalias() = w * x;
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, s.rows * s.cols * sizeof(float), s.rows * s.cols);
}

void eigen_gemm(benchmark::State& st, shape_case s, std::size_t batch) {
    const auto wv = uniform(s.rows * s.cols, 1, 0.05f);
    const Eigen::Map<const RowMajor> w(wv.data(), Eigen::Index(s.rows), Eigen::Index(s.cols));
    const auto xv = uniform(batch * s.cols, 2, 1.0f);
    const Eigen::Map<const RowMajor> x(xv.data(), Eigen::Index(batch), Eigen::Index(s.cols));
    RowMajor y(Eigen::Index(batch), Eigen::Index(s.rows));
    for (auto _ : st) {
        y.noalias() = x * w.transpose();
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, s.rows * s.cols * sizeof(float), batch * s.rows * s.cols);
}

template <class F>
void dequant_eigen_gemv(benchmark::State& st, shape_case s) {
    const auto w = weights<F>(s);
    const int_quantizer<F, Eigen::half> q({.gran = granularity::group(32)});
    const auto xv = uniform(s.cols, 2, 1.0f);
    const Eigen::Map<const Eigen::VectorXf> x(xv.data(), Eigen::Index(s.cols));
    std::vector<float> wd(s.rows * s.cols);
    Eigen::VectorXf y(Eigen::Index(s.rows));
    for (auto _ : st) {
        q.dequantize(w, wd);
        y.noalias() =
            Eigen::Map<const RowMajor>(wd.data(), Eigen::Index(s.rows), Eigen::Index(s.cols)) * x;
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, weight_bytes(w), s.rows * s.cols);
}

constexpr std::size_t batches[] = {8, 64, 512};

template <class F>
void register_scheme(const std::string& name) {
    for (shape_case s : shapes) {
        const std::string d = dims(s);
        benchmark::RegisterBenchmark(
            ("linear/readsum/" + d + "/" + name).c_str(),
            [s](benchmark::State& st) { readsum(st, weight_bytes(weights<F>(s))); });
        for (unsigned t : {1u, 2u})
            benchmark::RegisterBenchmark(
                ("linear/gemv/" + name + "/" + d + "/t" + std::to_string(t)).c_str(),
                [s, t](benchmark::State& st) { gemv<F>(st, s, t); })
                ->UseRealTime();
        for (unsigned t : {1u, 2u})
            benchmark::RegisterBenchmark(
                ("linear/gemv_prepared/" + name + "/" + d + "/t" + std::to_string(t)).c_str(),
                [s, t](benchmark::State& st) { gemv_prepared<F>(st, s, t); })
                ->UseRealTime();
        for (std::size_t b : batches)
            benchmark::RegisterBenchmark(
                ("linear/gemm_prepared/" + name + "/" + d + "/b" + std::to_string(b)).c_str(),
                [s, b](benchmark::State& st) { gemm_prepared<F>(st, s, b); });
        for (std::size_t b : {std::size_t{8}, std::size_t{64}})
            benchmark::RegisterBenchmark(
                ("linear/gemm/" + name + "/" + d + "/b" + std::to_string(b)).c_str(),
                [s, b](benchmark::State& st) { gemm<F>(st, s, b); });
        benchmark::RegisterBenchmark(("linear/dequant_eigen_gemv/" + name + "/" + d).c_str(),
                                     [s](benchmark::State& st) { dequant_eigen_gemv<F>(st, s); });
    }
}

const int registered = [] {
    register_scheme<I4>("int4_g32");
    register_scheme<I8>("int8_g32");
    register_scheme<uint_format<4>>("uint4_g32");
    for (shape_case s : shapes) {
        benchmark::RegisterBenchmark(("linear/eigen_f32_gemv/" + dims(s)).c_str(),
                                     [s](benchmark::State& st) { eigen_gemv(st, s); });
        for (std::size_t b : batches)
            benchmark::RegisterBenchmark(
                ("linear/eigen_f32_gemm/" + dims(s) + "/b" + std::to_string(b)).c_str(),
                [s, b](benchmark::State& st) { eigen_gemm(st, s, b); });
    }
    return 0;
}();

}  // namespace
