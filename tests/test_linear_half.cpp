// ops::gemv / ops::gemm and int_linear with bf16 and fp16 activations: for every weight family
// (INT symmetric and asymmetric, prepared int_linear, BBQ, MXFP4, NVFP4, log4, NF4) the result
// equals, bit for bit, the float overload on the activations widened to float, on Gaussian rows
// and on rows holding NaN, ±Inf, ±0, subnormals and the format's largest values; and a wrong
// size names `x`.
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/ops/linear.hpp>
#include <lowbit/ops/linear_bbq.hpp>
#include <lowbit/ops/linear_fp4.hpp>
#include <lowbit/quantizers/bbq.hpp>
#include <lowbit/quantizers/codebook.hpp>
#include <lowbit/quantizers/int.hpp>
#include <lowbit/quantizers/log.hpp>
#include <lowbit/quantizers/mx.hpp>

#include "test_util.hpp"

namespace {

using namespace lowbit;

/// `batch` activation rows of `cols` values in H: Gaussian, with (special = true) every kind of
/// value H holds planted in some rows: NaN, ±Inf, ±0, its smallest subnormal, its largest value.
template <class H>
std::vector<H> activations(std::size_t batch, std::size_t cols, bool special, std::uint32_t seed) {
    const auto g = lowbit_test::gaussian(batch * cols, seed, 2.0f);
    std::vector<H> x(g.size());
    for (std::size_t i = 0; i < g.size(); ++i) x[i] = H(g[i]);
    if (!special || cols == 0) return x;
    const H values[] = {std::numeric_limits<H>::quiet_NaN(),
                        std::numeric_limits<H>::infinity(),
                        H(-std::numeric_limits<H>::infinity()),
                        H(-0.0f),
                        std::numeric_limits<H>::denorm_min(),
                        std::numeric_limits<H>::max(),
                        H(-static_cast<float>(std::numeric_limits<H>::max()))};
    std::mt19937 rng(seed);
    for (std::size_t b = 1; b < batch; ++b) {  // row 0 stays ordinary
        const H v = values[(b - 1) % 7];
        for (int k = 0; k < 3; ++k) x[b * cols + rng() % cols] = v;
    }
    // A row of subnormals only: its activation scale is tiny but not zero.
    if (batch > 1)
        for (std::size_t c = 0; c < cols; ++c)
            x[(batch - 1) * cols + c] = H(static_cast<float>(std::numeric_limits<H>::denorm_min()) *
                                          float(int(rng() % 9) - 4));
    return x;
}

/// gemm and gemv of `op` on H activations against the float path on the widened values.
template <class H, class Gemm, class Gemv>
void check_family(const char* name, std::size_t rows, std::size_t cols, Gemm gemm, Gemv gemv) {
    INFO(name << ", rows " << rows << ", cols " << cols);
    const std::size_t batch = 9;
    for (bool special : {false, true}) {
        const auto xh = activations<H>(batch, cols, special, std::uint32_t(rows + cols));
        std::vector<float> xf(xh.size());
        for (std::size_t i = 0; i < xh.size(); ++i) xf[i] = static_cast<float>(xh[i]);
        std::vector<float> yh(batch * rows), yf(batch * rows), y1(rows);
        gemm(xh, batch, yh);
        gemm(xf, batch, yf);
        CHECK(lowbit_test::same_or_nan(yh, yf));
        gemv(std::span<const H>(xh).first(cols), y1);
        CHECK(
            lowbit_test::same_or_nan(y1, std::vector<float>(yf.begin(), yf.begin() + long(rows))));
        if (special) {
            std::size_t nan = 0;
            for (float v : yh) nan += std::isnan(v) ? 1 : 0;
            CHECK(nan >= rows);  // the rows holding NaN or ±Inf make their outputs NaN
        }
    }
}

template <class H, class T>
void check_tensor(const char* name, const T& w) {
    const std::size_t rows = w.shape.rows, cols = w.shape.cols;
    check_family<H>(
        name, rows, cols,
        [&](const auto& x, std::size_t batch, std::vector<float>& y) {
            ops::gemm(w, x, batch, y, {.threads = 2});
        },
        [&](const auto& x, std::vector<float>& y) { ops::gemv(w, x, y); });
}

template <class H>
void check_all(std::size_t rows, std::size_t cols) {
    const auto wv = lowbit_test::gaussian(rows * cols, 11, 0.05f);
    const shape2d s{rows, cols};
    using i4 = int_format<4, int_range::full>;
    check_tensor<H>(
        "int4_g32",
        int_quantizer<i4, Eigen::half>({.gran = granularity::group(32)}).quantize(wv, s));
    const auto wa = int_quantizer<uint_format<4>, Eigen::half>(
                        {.gran = granularity::group(32), .rule = scale_rule::minmax()})
                        .quantize(wv, s);
    check_tensor<H>("uint4_g32 offset", wa);
    using i8 = int_format<8>;
    const auto w8 =
        int_quantizer<i8, Eigen::half>({.gran = granularity::group(64)}).quantize(wv, s);
    check_tensor<H>("int8_g64", w8);
    if (cols % 32 == 0) {
        const ops::int_linear<8> p(w8);
        check_family<H>(
            "int_linear<8>", rows, cols,
            [&](const auto& x, std::size_t batch, std::vector<float>& y) { p.gemm(x, batch, y); },
            [&](const auto& x, std::vector<float>& y) { p.gemv(x, y); });
    }
    if (cols % 128 == 0) check_tensor<H>("bbq4", bbq_quantizer<4>().quantize(wv, s));
    check_tensor<H>("mxfp4", mx_quantizer<e2m1>().quantize(wv, s));
    check_tensor<H>("nvfp4", nvfp4_quantizer().quantize(wv, s));
    check_tensor<H>("log4", log_quantizer<4>().quantize(wv, s));
    check_tensor<H>("nf4", codebook_quantizer<4>().quantize(wv, s));
}

}  // namespace

TEST_CASE("bf16 and fp16 activations give the float path's bits on the widened values") {
    static_assert(ops::half_activations<std::vector<Eigen::bfloat16>>);
    static_assert(ops::half_activations<std::span<const Eigen::half>>);
    static_assert(!ops::half_activations<std::vector<float>>);
    for (std::size_t cols : {std::size_t{256}, std::size_t{130}}) {
        check_all<Eigen::bfloat16>(17, cols);
        check_all<Eigen::half>(17, cols);
    }
}

TEST_CASE("bf16 and fp16 activations: a wrong size names x, an empty batch is fine") {
    using i4 = int_format<4, int_range::full>;
    const auto w = int_quantizer<i4, Eigen::half>({.gran = granularity::group(32)})
                       .quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    const std::vector<Eigen::bfloat16> x(63);
    std::vector<float> y(8);
    CHECK(lowbit_test::thrown_argument([&] { ops::gemv(w, x, y); }) == "x");
    const std::vector<Eigen::half> none;
    std::vector<float> ynone;
    ops::gemm(w, none, 0, ynone);
    CHECK(ynone.empty());
}
