// ops::gemv / ops::gemm on integer codes (ops/linear.hpp): the documented arithmetic on a worked
// example, the SIMD kernels bit for bit against the reference (every nibble order, scale type,
// odd shape and adversarial activation), the fast path taken where linear_kernel_for says so,
// thread-count independence, gemm = gemv per row, the error bound against dequantize(W)·x in
// double, and the errors.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/ops/linear.hpp>
#include <lowbit/quantizers/int.hpp>

#include "test_util.hpp"

namespace {

using namespace lowbit;
using lowbit::ops::linear_kernel;
using lowbit_test::same_or_nan;
using lowbit_test::thrown_argument;

/// W quantized with format F, scale type S, granularity `gran` and nibble order `order`.
template <class F, class S>
int_tensor<F, S> quantized(const std::vector<float>& values, granularity gran, nibble_order order,
                           std::size_t rows, std::size_t cols,
                           affine form = F::is_signed ? affine::none : affine::offset) {
    int_options<F> o;
    o.gran = gran;
    o.order = order;
    o.form = form;
    return int_quantizer<F, S>(o).quantize(values, {rows, cols});
}

/// Gaussian activations; `kind` 1 puts NaN, ±Inf, ±0, subnormal and huge values into a few
/// groups (whole groups of `g` otherwise clean), kind 2 zeroes some groups entirely.
std::vector<float> activations(std::size_t n, std::size_t g, int kind, std::uint32_t seed) {
    auto x = lowbit_test::gaussian(n, seed, 3.0f);
    if (n == 0 || g == 0) return x;
    std::mt19937 rng(seed);
    const float specials[] = {
        std::numeric_limits<float>::quiet_NaN(),  std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity(),  -0.0f,
        std::numeric_limits<float>::denorm_min(), 3e38f,
        -std::numeric_limits<float>::max(),       1e-40f};
    const std::size_t groups = (n + g - 1) / g;
    for (std::size_t k = 0; k < groups; ++k) {
        const std::size_t b = k * g, e = std::min(n, b + g);
        if (kind == 1 && rng() % 4 == 0) x[b + rng() % (e - b)] = specials[rng() % 8];
        if (kind == 2 && rng() % 3 == 0)
            for (std::size_t i = b; i < e; ++i) x[i] = 0.0f;
        if (kind == 1 && rng() % 5 == 0)  // a group of only tiny values: s_x subnormal
            for (std::size_t i = b; i < e; ++i) x[i] = 1e-41f * float(int(rng() % 200) - 100);
    }
    return x;
}

/// The kernel ops::linear_kernel_for must pick, by the rule of ops/linear.hpp's file comment.
template <int Bits>
linear_kernel expected_kernel(std::size_t cols, std::size_t len, nibble_order order,
                              bool unsigned_codes = false) {
    if (!simd::has_int_dot<xsimd::default_arch> || len < 32) return linear_kernel::scalar;
    const bool whole = cols % 32 == 0 && len % 32 == 0;
    if (Bits == 8 && unsigned_codes) return linear_kernel::simd_u8;
    if (Bits == 8) return whole ? linear_kernel::simd_i8 : linear_kernel::simd_i8_tails;
    if (Bits != 4) return linear_kernel::scalar;
    const std::size_t align = order == nibble_order::ggml_split ? 32 : 2;
    if (cols % align != 0 || len % align != 0) return linear_kernel::scalar;
    if (unsigned_codes) return linear_kernel::simd_u4;
    return whole ? linear_kernel::simd_i4 : linear_kernel::simd_i4_tails;
}

template <class F, class S>
void check_paths(granularity gran, nibble_order order, std::size_t rows, std::size_t cols,
                 int xkind, std::uint32_t seed,
                 affine form = F::is_signed ? affine::none : affine::offset) {
    const auto w = quantized<F, S>(xkind == 3 ? lowbit_test::adversarial(rows * cols, seed)
                                              : lowbit_test::gaussian(rows * cols, seed, 0.05f),
                                   gran, order, rows, cols, form);
    const std::size_t len =
        gran.type == granularity::kind::per_group ? std::min(gran.group_size, cols) : cols;
    INFO("bits " << F::bits << ", rows " << rows << ", cols " << cols << ", group " << len
                 << ", order " << int(order) << ", x kind " << xkind << ", form " << int(form));
    const linear_kernel kern = ops::linear_kernel_for(w);
    CHECK(kern == expected_kernel<F::bits>(cols, len, order, !F::is_signed));
    CHECK(ops::linear_kernel_for(w, backend::scalar) == linear_kernel::scalar);

    const std::size_t batch = 3;
    const auto x = activations(batch * cols, len ? len : 1, xkind % 3, seed + 1);
    std::vector<float> ys(batch * rows), yv(batch * rows), yt(batch * rows);
    ops::gemm(w, x, batch, ys, {.threads = 1, .path = backend::scalar});
    ops::gemm(w, x, batch, yv, {.threads = 1, .path = backend::simd});
    CHECK(same_or_nan(ys, yv));
    for (unsigned t : lowbit_test::thread_counts()) {
        ops::gemm(w, x, batch, yt, {.threads = t});
        CHECK(same_or_nan(yt, yv));
    }
    // gemm row b is gemv of activation row b.
    std::vector<float> y1(rows);
    for (std::size_t b = 0; b < batch; ++b) {
        ops::gemv(w, std::span<const float>(x).subspan(b * cols, cols), y1);
        CHECK(same_or_nan(y1,
                          std::vector<float>(yv.begin() + b * rows, yv.begin() + (b + 1) * rows)));
    }
}

}  // namespace

TEST_CASE("gemv follows the documented arithmetic on a worked example") {
    // W = [[1, −2, 3, 7], [−8, 0, 5, −1]] as int4 full-range codes, one scale per row (group 4).
    int_tensor<int_format<4, int_range::full>> w;
    w.shape = {2, 4};
    w.gran = granularity::group(4);
    const int codes[] = {1, -2, 3, 7, -8, 0, 5, -1};
    w.packed.assign(4, 0);
    for (int i = 0; i < 8; ++i)
        w.packed[i / 2] |= std::uint8_t((unsigned(codes[i]) & 0xF) << (4 * (i % 2)));
    w.scales = {0.5f, 0.25f};
    const std::vector<float> x = {1.0f, -1.0f, 0.5f, 2.0f};
    // s_x = 2/127; x/s_x = 63.5, −63.5, 31.75, 127 → q = 64, −64, 32, 127 (ties to even).
    const float sx = 2.0f / 127.0f;
    const int d0 = 1 * 64 + (-2) * (-64) + 3 * 32 + 7 * 127;  // 1177
    const int d1 = -8 * 64 + 0 + 5 * 32 + (-1) * 127;         // −479
    std::vector<float> y(2);
    for (backend b : {backend::scalar, backend::simd}) {
        ops::gemv(w, x, y, {.path = b});
        CHECK(y[0] == 0.0f + (0.5f * sx) * float(d0));
        CHECK(y[1] == 0.0f + (0.25f * sx) * float(d1));
    }
}

TEST_CASE("gemv and gemm: the SIMD kernels equal the reference bit for bit") {
    using I4 = int_format<4, int_range::full>;
    using I4r = int_format<4, int_range::restricted>;
    using I8 = int_format<8, int_range::full>;
    using I8r = int_format<8, int_range::restricted>;
    std::uint32_t seed = 100;
    const std::size_t row_set[] = {0, 1, 7, 8, 9, 17};
    const std::size_t col_set[] = {0, 2, 31, 32, 33, 64, 96, 130, 256};
    const granularity grans[] = {granularity::group(32),  granularity::group(64),
                                 granularity::group(48),  granularity::group(16),
                                 granularity::group(128), granularity::channel(0),
                                 granularity::tensor()};
    for (std::size_t rows : row_set)
        for (std::size_t cols : col_set)
            for (const granularity& g : grans) {
                const int xk = int(seed % 4);
                for (nibble_order order : {nibble_order::low_first, nibble_order::high_first,
                                           nibble_order::ggml_split}) {
                    check_paths<I4, float>(g, order, rows, cols, xk, ++seed);
                    if (order == nibble_order::low_first) {
                        check_paths<I4r, Eigen::half>(g, order, rows, cols, xk, ++seed);
                        check_paths<I4, Eigen::bfloat16>(g, order, rows, cols, xk, ++seed);
                    }
                }
                check_paths<I8, float>(g, nibble_order::low_first, rows, cols, xk, ++seed);
                check_paths<I8r, Eigen::half>(g, nibble_order::low_first, rows, cols, xk, ++seed);
                check_paths<int_format<3>, float>(g, nibble_order::low_first, rows, cols, xk,
                                                  ++seed);
                check_paths<int_format<2, int_range::full>, float>(g, nibble_order::low_first, rows,
                                                                   cols, xk, ++seed);
            }
}

TEST_CASE("gemv follows the documented arithmetic with a zero point and with a minimum") {
    // W = [[3, 0, 15, 9]] as uint4 codes, one group; x = [1, −1, 0.5, 2] → q = 64, −64, 32, 127.
    int_tensor<uint_format<4>> w;
    w.shape = {1, 4};
    w.gran = granularity::group(4);
    w.packed = {0x03, 0x9F};
    w.scales = {0.5f};
    const std::vector<float> x = {1.0f, -1.0f, 0.5f, 2.0f};
    const float sx = 2.0f / 127.0f;
    const int qsum = 64 - 64 + 32 + 127;
    std::vector<float> y(1);
    w.form = affine::zero_point;  // x̂ = s·(u − z), z = 9
    w.zero_points = {9};
    const int dz = (3 - 9) * 64 + (0 - 9) * (-64) + (15 - 9) * 32 + (9 - 9) * 127;
    for (backend b : {backend::scalar, backend::simd}) {
        ops::gemv(w, x, y, {.path = b});
        CHECK(y[0] == 0.0f + (0.5f * sx) * float(dz));
    }
    w.form = affine::offset;  // x̂ = s·u + m, m = −2.25
    w.zero_points.clear();
    w.offsets = {-2.25f};
    const int du = 3 * 64 + 0 + 15 * 32 + 9 * 127;
    for (backend b : {backend::scalar, backend::simd}) {
        ops::gemv(w, x, y, {.path = b});
        CHECK(y[0] == (0.0f + (0.5f * sx) * float(du)) + (-2.25f * sx) * float(qsum));
    }
}

TEST_CASE("gemv and gemm on asymmetric codes: the SIMD kernels equal the reference") {
    std::uint32_t seed = 3000;
    const granularity grans[] = {granularity::group(32), granularity::group(48),
                                 granularity::group(128), granularity::channel(0),
                                 granularity::tensor()};
    for (std::size_t rows : {0u, 1u, 8u, 9u, 17u})
        for (std::size_t cols : {0u, 2u, 32u, 33u, 96u, 130u})
            for (const granularity& g : grans)
                for (affine form : {affine::offset, affine::zero_point}) {
                    const int xk = int(seed % 4);
                    for (nibble_order order : {nibble_order::low_first, nibble_order::high_first,
                                               nibble_order::ggml_split})
                        check_paths<uint_format<4>, float>(g, order, rows, cols, xk, ++seed, form);
                    check_paths<uint_format<4>, Eigen::half>(g, nibble_order::low_first, rows, cols,
                                                             xk, ++seed, form);
                    check_paths<uint_format<8>, Eigen::bfloat16>(g, nibble_order::low_first, rows,
                                                                 cols, xk, ++seed, form);
                    check_paths<uint_format<3>, float>(g, nibble_order::low_first, rows, cols, xk,
                                                       ++seed, form);
                }
    const std::size_t rows = lowbit_test::scaled(200, 17), cols = 1024;
    for (int xk = 0; xk < 4; ++xk)
        for (affine form : {affine::offset, affine::zero_point}) {
            check_paths<uint_format<4>, Eigen::half>(
                granularity::group(32), nibble_order::ggml_split, rows, cols, xk, 3900 + xk, form);
            check_paths<uint_format<8>, float>(granularity::group(64), nibble_order::low_first,
                                               rows, cols, xk, 3910 + xk, form);
        }
}

TEST_CASE("gemv on asymmetric codes stays within its error bound of dequantize(W)·x") {
    const std::size_t rows = 24, cols = 256, gsize = 64, groups = cols / gsize;
    for (affine form : {affine::offset, affine::zero_point}) {
        int_options<uint_format<4>> o;
        o.gran = granularity::group(gsize);
        o.form = form;
        const int_quantizer<uint_format<4>> q(o);
        const auto w = q.quantize(lowbit_test::gaussian(rows * cols, 17, 0.02f), {rows, cols});
        std::vector<float> wd(rows * cols);
        q.dequantize(w, wd);
        const auto x = lowbit_test::gaussian(cols, 18, 1.5f);
        std::vector<float> y(rows);
        ops::gemv(w, x, y);
        const double u = std::ldexp(1.0, -24);
        for (std::size_t r = 0; r < rows; ++r) {
            double exact = 0.0, act = 0.0, l1wx = 0.0;
            for (std::size_t k = 0; k < groups; ++k) {
                double amax = 0.0;
                for (std::size_t i = k * gsize; i < (k + 1) * gsize; ++i)
                    amax = std::max(amax, double(std::fabs(x[i])));
                for (std::size_t i = k * gsize; i < (k + 1) * gsize; ++i) {
                    // dequantize(W) is the decode of x̂ = s·u + m (rounded once) or s·(u − z):
                    // the operator's ŵ within one rounding, so that is added to the bound.
                    const double wi = wd[r * cols + i];
                    exact += wi * double(x[i]);
                    l1wx += std::fabs(wi * double(x[i]));
                    act += std::fabs(wi) * (amax / 127.0) / 2.0 * (1.0 + 1e-6);
                }
            }
            // The float sum of 2·groups terms and the rounding of m + s·u in dequantize: both
            // below (2·groups + 4)·u relative to Σ|ŵ_i·x_i| plus the activations' magnitude.
            const double bound = act + double(2 * groups + 4) * u * (l1wx + act) * 4.0;
            INFO("row " << r << ", form " << int(form));
            CHECK(std::fabs(double(y[r]) - exact) <= bound);
            CHECK(bound < 0.05 * l1wx);
        }
    }
}

TEST_CASE("gemv and gemm on a layer-sized matrix, every thread count") {
    using I4 = int_format<4, int_range::full>;
    const std::size_t rows = lowbit_test::scaled(300, 17), cols = 1024;
    for (int xk = 0; xk < 4; ++xk) {
        check_paths<I4, Eigen::half>(granularity::group(32), nibble_order::ggml_split, rows, cols,
                                     xk, 900 + xk);
        check_paths<int_format<8, int_range::full>, Eigen::half>(
            granularity::group(32), nibble_order::low_first, rows, cols, xk, 910 + xk);
        check_paths<I4, float>(granularity::group(128), nibble_order::low_first, rows, cols, xk,
                               920 + xk);
    }
}

TEST_CASE("gemv stays within its stated error bound of dequantize(W)·x in double") {
    using I4 = int_format<4, int_range::full>;
    const std::size_t rows = 40, cols = 512;
    for (std::size_t gsize : {32u, 128u, 512u}) {
        int_options<I4> o;
        o.gran = granularity::group(gsize);
        const int_quantizer<I4> q(o);
        const auto w = q.quantize(lowbit_test::gaussian(rows * cols, 7, 0.02f), {rows, cols});
        const auto x = lowbit_test::gaussian(cols, 8, 1.5f);
        std::vector<float> y(rows);
        ops::gemv(w, x, y);
        const auto codes = w.codes();
        const std::size_t groups = cols / gsize;
        const double u = std::ldexp(1.0, -24);
        for (std::size_t r = 0; r < rows; ++r) {
            double exact = 0.0, act = 0.0, terms = 0.0, l1wx = 0.0;
            for (std::size_t k = 0; k < groups; ++k) {
                double amax = 0.0, l1 = 0.0, dot = 0.0;
                for (std::size_t i = k * gsize; i < (k + 1) * gsize; ++i)
                    amax = std::max(amax, double(std::fabs(x[i])));
                const double sx = amax / 127.0, sw = w.scales[r * groups + k];
                for (std::size_t i = k * gsize; i < (k + 1) * gsize; ++i) {
                    const int c = I4::to_int(codes[r * cols + i]);
                    exact += sw * c * double(x[i]);  // dequantize(W) exactly, in double
                    l1wx += std::fabs(sw * c * double(x[i]));
                    l1 += std::abs(c);
                    dot += c * std::nearbyint(double(x[i]) / sx);
                }
                act += std::fabs(sw) * l1 * sx / 2.0;
                terms += std::fabs(sw * sx * dot);
            }
            const double bound = act * (1.0 + 1e-4) + double(groups + 3) * u * terms * 1.001;
            INFO("row " << r << ", group " << gsize);
            CHECK(std::fabs(double(y[r]) - exact) <= bound);
            // The bound is not vacuous: a few percent of the products' magnitude.
            CHECK(bound < 0.05 * l1wx);
        }
    }
}

TEST_CASE("gemv: NaN or Inf activations make exactly their rows' outputs NaN; zeros give 0") {
    using I4 = int_format<4, int_range::full>;
    const int_quantizer<I4> q({.gran = granularity::group(32)});
    const auto w = q.quantize(lowbit_test::gaussian(16 * 64, 3), {16, 64});
    std::vector<float> x(64, 0.0f), y(16, 1.0f);
    ops::gemv(w, x, y);
    for (float v : y) CHECK(v == 0.0f);
    x[40] = std::numeric_limits<float>::infinity();
    ops::gemv(w, x, y);
    for (float v : y) CHECK(std::isnan(v));
}

TEST_CASE("gemv and gemm name the argument they cannot use") {
    using I4 = int_format<4, int_range::full>;
    const int_quantizer<I4> q({.gran = granularity::group(32)});
    auto w = q.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    std::vector<float> x(64), y(8);
    CHECK(thrown_argument([&] { ops::gemv(w, std::span<const float>(x).first(63), y); }) == "x");
    CHECK(thrown_argument([&] { ops::gemv(w, x, std::span<float>(y).first(7)); }) == "y");
    CHECK(thrown_argument([&] { ops::gemm(w, x, 2, y); }) == "x");
    CHECK(thrown_argument([&] { ops::gemv(w, x, y, {.path = static_cast<backend>(9)}); }) ==
          "options.path");
    const int_quantizer<I4> qc({.gran = granularity::channel(1)});
    const auto wc = qc.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    CHECK(thrown_argument([&] { ops::gemv(wc, x, y); }) == "w.gran");
    CHECK(thrown_argument([&] { (void)ops::linear_kernel_for(wc); }) == "w.gran");
    const int_quantizer<I4> qt;
    const std::size_t wide = ops::max_linear_group + 2;
    const auto wt = qt.quantize(std::vector<float>(wide, 1.0f), {1, wide});
    std::vector<float> xw(wide), y1(1);
    CHECK(thrown_argument([&] { ops::gemv(wt, xw, y1); }) == "w.gran");
    const int_quantizer<uint_format<8>> qu;  // unsigned 8-bit codes: groups up to 2^16
    const std::size_t wide_u = ops::max_linear_group / 2 + 1;
    const auto wu = qu.quantize(std::vector<float>(wide_u, 1.0f), {1, wide_u});
    std::vector<float> xu(wide_u);
    CHECK(thrown_argument([&] { ops::gemv(wu, xu, y1); }) == "w.gran");
    w.packed.pop_back();  // a tensor from outside that does not validate
    CHECK(thrown_argument([&] { ops::gemv(w, x, y); }) == "t.packed");
}

namespace {

template <int Bits, class F, class S>
void check_prepared(granularity gran, nibble_order order, std::size_t rows, std::size_t cols,
                    int xkind, std::uint32_t seed,
                    affine form = F::is_signed ? affine::none : affine::offset) {
    const auto w = quantized<F, S>(lowbit_test::gaussian(rows * cols, seed, 0.05f), gran, order,
                                   rows, cols, form);
    const ops::int_linear<Bits> lin(w);
    INFO("bits " << Bits << ", rows " << rows << ", cols " << cols << ", order " << int(order)
                 << ", x kind " << xkind);
    CHECK(lin.kernel() ==
          (simd::has_packed_dot<xsimd::default_arch>
               ? (Bits == 4 ? linear_kernel::packed_i4 : linear_kernel::packed_i8)
               : linear_kernel::scalar));
    CHECK(lin.kernel(backend::scalar) == linear_kernel::scalar);
    // Batches of 3, 11 and 21 rows: int_linear's gemm hands rows to simd::gemm8p 16 at a time,
    // which takes them 4 at a time and then the last 1 to 3 together.
    const std::size_t batch = std::size_t{3} + (seed % 3) * 8 + (seed % 3 == 2 ? 2 : 0),
                      len = gran.type == granularity::kind::per_group
        ? std::min(gran.group_size, cols)
        : cols;
    const auto x = activations(batch * cols, len ? len : 1, xkind % 3, seed + 1);
    std::vector<float> want(batch * rows), got(batch * rows);
    ops::gemm(w, x, batch, want, {.path = backend::scalar});
    for (backend b : {backend::simd, backend::scalar}) {
        lin.gemm(x, batch, got, {.path = b});
        CHECK(same_or_nan(got, want));
    }
    for (unsigned t : lowbit_test::thread_counts()) {
        lin.gemm(x, batch, got, {.threads = t});
        CHECK(same_or_nan(got, want));
    }
    std::vector<float> y1(rows);
    lin.gemv(std::span<const float>(x).first(cols), y1);
    CHECK(same_or_nan(y1, std::vector<float>(want.begin(), want.begin() + rows)));
}

}  // namespace

TEST_CASE("int_linear: the prepared layout gives ops::gemm's bits, every kernel and thread count") {
    using I4 = int_format<4, int_range::full>;
    using I8 = int_format<8, int_range::full>;
    std::uint32_t seed = 5000;
    const granularity grans[] = {granularity::group(32), granularity::group(64),
                                 granularity::group(96), granularity::channel(0),
                                 granularity::tensor()};
    for (std::size_t rows : {0u, 1u, 7u, 8u, 9u, 17u, 40u})
        for (std::size_t cols : {0u, 32u, 96u, 256u})
            for (const granularity& g : grans) {
                const std::size_t len =
                    g.type == granularity::kind::per_group ? std::min(g.group_size, cols) : cols;
                if (len % 32 != 0) continue;  // int_linear rejects it (checked below)
                const int xk = int(seed % 4);
                for (nibble_order order :
                     {nibble_order::low_first, nibble_order::high_first, nibble_order::ggml_split})
                    check_prepared<4, I4, Eigen::half>(g, order, rows, cols, xk, ++seed);
                check_prepared<4, int_format<4>, float>(g, nibble_order::low_first, rows, cols, xk,
                                                        ++seed);
                check_prepared<8, I8, Eigen::bfloat16>(g, nibble_order::low_first, rows, cols, xk,
                                                       ++seed);
                check_prepared<8, int_format<8>, float>(g, nibble_order::low_first, rows, cols, xk,
                                                        ++seed);
                for (affine form : {affine::offset, affine::zero_point}) {
                    check_prepared<4, uint_format<4>, Eigen::half>(g, nibble_order::ggml_split,
                                                                   rows, cols, xk, ++seed, form);
                    check_prepared<8, uint_format<8>, float>(g, nibble_order::low_first, rows, cols,
                                                             xk, ++seed, form);
                }
            }
    const std::size_t rows = lowbit_test::scaled(200, 17), cols = 1024;
    for (int xk = 0; xk < 3; ++xk) {
        check_prepared<4, I4, Eigen::half>(granularity::group(32), nibble_order::ggml_split, rows,
                                           cols, xk, 6000 + xk);
        check_prepared<8, I8, Eigen::half>(granularity::group(128), nibble_order::low_first, rows,
                                           cols, xk, 6010 + xk);
    }
}

TEST_CASE("int_linear names what it cannot prepare") {
    using I4 = int_format<4, int_range::full>;
    const int_quantizer<I4> q48({.gran = granularity::group(48)});
    const auto w48 = q48.quantize(lowbit_test::gaussian(8 * 96, 1), {8, 96});
    CHECK(thrown_argument([&] { ops::int_linear<4> l(w48); }) == "w.gran");
    const int_quantizer<I4> q32({.gran = granularity::group(32)});
    const auto w40 = q32.quantize(lowbit_test::gaussian(8 * 40, 1), {8, 40});
    CHECK(thrown_argument([&] { ops::int_linear<4> l(w40); }) == "w.shape");
    const auto w = q32.quantize(lowbit_test::gaussian(8 * 64, 1), {8, 64});
    const ops::int_linear<4> lin(w);
    std::vector<float> x(64), y(8);
    CHECK(thrown_argument([&] { lin.gemv(std::span<const float>(x).first(32), y); }) == "x");
    CHECK(thrown_argument([&] { lin.gemv(x, std::span<float>(y).first(4)); }) == "y");
    CHECK(thrown_argument([&] { lin.gemv(x, y, {.path = static_cast<backend>(7)}); }) ==
          "options.path");
    CHECK(lin.shape().rows == 8);
    CHECK(lin.storage_bytes() == 8 * 64 / 2 + 2 * 8 * sizeof(float));
}
