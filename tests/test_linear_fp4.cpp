// ops::gemv / ops::gemm on block-scaled minifloat codes (ops/linear_fp4.hpp): the documented
// arithmetic on worked examples (MXFP4, NVFP4), the SIMD kernel bit for bit against the
// reference over odd shapes, adversarial activations and weights (NaN block scales, zero blocks),
// the fast path taken where linear_kernel_for says so, thread-count independence, gemm = gemv per
// row, the error bound against dequantize(W)·x in double, the errors, and simd::dot8_lut4
// against its scalar twin on every chunk count.
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/ops/linear_fp4.hpp>
#include <lowbit/ops/lut_linear.hpp>
#include <lowbit/quantizers/codebook.hpp>
#include <lowbit/quantizers/log.hpp>
#include <lowbit/quantizers/mx.hpp>

#include "test_util.hpp"

namespace {

using namespace lowbit;
using lowbit::ops::fp4_kernel;
using lowbit_test::same_or_nan;
using lowbit_test::thrown_argument;

/// Gaussian activations; `kind` 1 puts NaN, ±Inf, ±0, subnormal and huge values into a few
/// blocks of `g` and makes some blocks all tiny (s_x subnormal), kind 2 zeroes some blocks.
std::vector<float> activations(std::size_t n, std::size_t g, int kind, std::uint32_t seed) {
    auto x = lowbit_test::gaussian(n, seed, 3.0f);
    if (n == 0 || g == 0) return x;
    std::mt19937 rng(seed);
    const float specials[] = {
        std::numeric_limits<float>::quiet_NaN(),  std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity(),  -0.0f,
        std::numeric_limits<float>::denorm_min(), 3e38f,
        -std::numeric_limits<float>::max(),       1e-40f};
    for (std::size_t b = 0; b < n; b += g) {
        const std::size_t e = std::min(n, b + g);
        if (kind == 1 && rng() % 4 == 0) x[b + rng() % (e - b)] = specials[rng() % 8];
        if (kind == 2 && rng() % 3 == 0)
            for (std::size_t i = b; i < e; ++i) x[i] = 0.0f;
        if (kind == 1 && rng() % 5 == 0)
            for (std::size_t i = b; i < e; ++i) x[i] = 1e-41f * float(int(rng() % 200) - 100);
    }
    return x;
}

/// Weights: 0 Gaussian, 1 adversarial (NaN, ±Inf, huge, subnormal), 2 Gaussian with all-zero
/// blocks and rows of very different magnitudes.
std::vector<float> weights(std::size_t rows, std::size_t cols, std::size_t block, int kind,
                           std::uint32_t seed) {
    if (kind == 1) return lowbit_test::adversarial(rows * cols, seed);
    auto w = lowbit_test::gaussian(rows * cols, seed, 0.05f);
    if (kind == 2) {
        std::mt19937 rng(seed);
        for (std::size_t r = 0; r < rows; ++r) {
            const float m = std::ldexp(1.0f, int(rng() % 60) - 30);
            for (std::size_t c = 0; c < cols; ++c) w[r * cols + c] *= m;
            for (std::size_t b = 0; b < cols; b += block)
                if (rng() % 3 == 0)
                    for (std::size_t c = b; c < std::min(cols, b + block); ++c)
                        w[r * cols + c] = 0.0f;
        }
    }
    return w;
}

/// The kernel linear_kernel_for must report, by the rule of ops/linear_fp4.hpp's file comment.
fp4_kernel expected_kernel(int bits, std::size_t block, std::size_t cols) {
    if (bits != 4 || (block != 16 && block != 32) || !simd::has_lut_dot<xsimd::default_arch> ||
        cols % 2 != 0 || cols < 32)
        return fp4_kernel::scalar;
    return fp4_kernel::simd_lut4;
}

/// Every path of gemm on w against the scalar reference, gemv per row, thread counts.
template <class T>
void check_tensor(const T& w, std::size_t block, int bits, int xkind, std::uint32_t seed) {
    const std::size_t rows = w.shape.rows, cols = w.shape.cols;
    INFO("bits " << bits << ", block " << block << ", rows " << rows << ", cols " << cols
                 << ", x kind " << xkind);
    CHECK(ops::linear_kernel_for(w) == expected_kernel(bits, block, cols));
    CHECK(ops::linear_kernel_for(w, backend::scalar) == fp4_kernel::scalar);
    const std::size_t batch = 3;
    const auto x = activations(batch * cols, block, xkind, seed);
    std::vector<float> ys(batch * rows), yv(batch * rows), yt(batch * rows);
    ops::gemm(w, x, batch, ys, {.threads = 1, .path = backend::scalar});
    ops::gemm(w, x, batch, yv, {.threads = 1, .path = backend::simd});
    CHECK(same_or_nan(ys, yv));
    for (unsigned t : lowbit_test::thread_counts()) {
        ops::gemm(w, x, batch, yt, {.threads = t});
        CHECK(same_or_nan(yt, yv));
    }
    std::vector<float> y1(rows);
    for (std::size_t b = 0; b < batch; ++b) {
        ops::gemv(w, std::span<const float>(x).subspan(b * cols, cols), y1);
        CHECK(same_or_nan(y1,
                          std::vector<float>(yv.begin() + b * rows, yv.begin() + (b + 1) * rows)));
    }
}

template <class Elem, std::size_t Block>
void check_mx(std::size_t rows, std::size_t cols, int wkind, int xkind, std::uint32_t seed) {
    typename mx_quantizer<Elem, Block>::options o;
    if (wkind == 1) o.nonfinite = mx_nonfinite::nan_scale;  // NaN scales for non-finite blocks
    const mx_quantizer<Elem, Block> q(o);
    auto w = q.quantize(weights(rows, cols, Block, wkind, seed), {rows, cols});
    if (wkind == 2 && !w.scales.empty()) w.scales[seed % w.scales.size()] = e8m0::nan_code;
    check_tensor(w, Block, Elem::bits, xkind, seed + 1);
}

void check_nv(std::size_t rows, std::size_t cols, int wkind, int xkind, std::uint32_t seed) {
    const nvfp4_quantizer q;
    auto w = q.quantize(weights(rows, cols, 16, wkind, seed), {rows, cols});
    if (wkind == 2 && !w.scales.empty()) w.scales[seed % w.scales.size()] = 0x7F;  // E4M3 NaN
    check_tensor(w, 16, 4, xkind, seed + 1);
}

/// A B-bit log tensor with groups of `group`; wkind 2 also plants an fp16 Inf scale.
template <int B>
void check_log(std::size_t rows, std::size_t cols, std::size_t group, int wkind, int xkind,
               std::uint32_t seed) {
    const log_quantizer<B> q({.group = group});
    auto w = q.quantize(weights(rows, cols, group, wkind, seed), {rows, cols});
    if (wkind == 2 && !w.scales.empty())
        w.scales[seed % w.scales.size()] = Eigen::half(std::numeric_limits<float>::infinity());
    check_tensor(w, group, B, xkind, seed + 1);
}

}  // namespace

TEST_CASE("MXFP4 gemv follows the documented arithmetic on a worked example") {
    // Row 0: E2M1 codes 1.0, −1.5, 3, 6 (L = 2, −3, 6, 12), scale 2^−1 (E8M0 126).
    // Row 1: −6, 0.5, 0, 2 (L = −12, 1, 0, 4), scale 2^2 (E8M0 129). One short block per row.
    mx_tensor<e2m1, 32> w;
    w.shape = {2, 4};
    const std::uint8_t codes[] = {0x2, 0xB, 0x5, 0x7, 0xF, 0x1, 0x0, 0x4};
    w.packed.assign(4, 0);
    for (int i = 0; i < 8; ++i) w.packed[i / 2] |= std::uint8_t(codes[i] << (4 * (i % 2)));
    w.scales = {126, 129};
    const std::vector<float> x = {1.0f, -1.0f, 0.5f, 2.0f};
    // s_x = 2/127; x/s_x = 63.5, −63.5, 31.75, 127 → q = 64, −64, 32, 127 (ties to even).
    const float sx = 2.0f / 127.0f;
    const int d0 = 2 * 64 + (-3) * (-64) + 6 * 32 + 12 * 127;  // 2036
    const int d1 = -12 * 64 + 1 * (-64) + 0 + 4 * 127;         // −324
    std::vector<float> y(2);
    for (backend b : {backend::scalar, backend::simd}) {
        ops::gemv(w, x, y, {.path = b});
        CHECK(y[0] == 0.0f + (0.25f * sx) * float(d0));  // s_w = 2^−1 · 2^−1
        CHECK(y[1] == 0.0f + (2.0f * sx) * float(d1));   // s_w = 2^2 · 2^−1
    }
    w.scales[1] = e8m0::nan_code;  // a NaN block scale: the row is NaN, the other row is not
    ops::gemv(w, x, y);
    CHECK(y[0] == 0.0f + (0.25f * sx) * float(d0));
    CHECK(std::isnan(y[1]));
}

TEST_CASE("NVFP4 gemv follows the documented arithmetic on a worked example") {
    nvfp4_tensor w;
    w.shape = {1, 20};  // blocks of 16 and 4 columns
    w.packed.assign(10, 0);
    // Block 0: codes 1.0, −1.5, 3, 6 then zeros; block 1: −6, 0.5, 0, 2.
    const std::uint8_t codes[] = {0x2, 0xB, 0x5, 0x7};
    const std::uint8_t codes1[] = {0xF, 0x1, 0x0, 0x4};
    for (int i = 0; i < 4; ++i) {
        w.packed[i / 2] |= std::uint8_t(codes[i] << (4 * (i % 2)));
        w.packed[8 + i / 2] |= std::uint8_t(codes1[i] << (4 * (i % 2)));
    }
    w.scales = {0x3C, 0x40};  // E4M3FN 1.5 (0b0'0111'100) and 2.0 (0b0'1000'000)
    w.global_scale = 0.5f;
    std::vector<float> x(20, 0.0f);
    x[0] = 1.0f, x[1] = -1.0f, x[2] = 0.5f, x[3] = 2.0f;
    x[16] = 4.0f, x[17] = 1.0f, x[18] = 3.0f, x[19] = -2.0f;
    const float sx0 = 2.0f / 127.0f, sx1 = 4.0f / 127.0f;
    const int d0 = 2036;
    // x/s_x = 127, 31.75, 95.25, −63.5 → q = 127, 32, 95, −64.
    const int d1 = -12 * 127 + 1 * 32 + 0 * 95 + 4 * (-64);  // −1748
    std::vector<float> y(1);
    for (backend b : {backend::scalar, backend::simd}) {
        ops::gemv(w, x, y, {.path = b});
        // s_w = (1.5 · 0.5) · 0.5 = 0.375 and (2 · 0.5) · 0.5 = 0.5.
        const float t0 = mul_unfused(0.375f * sx0, float(d0));
        const float t1 = mul_unfused(0.5f * sx1, float(d1));
        CHECK(y[0] == (0.0f + t0) + t1);
    }
}

TEST_CASE("gemv and gemm on FP4 codes: the SIMD kernel equals the reference bit for bit") {
    std::uint32_t seed = 300;
    const std::size_t row_set[] = {0, 1, 7, 8, 9, 17};
    const std::size_t col_set[] = {0, 1, 2, 15, 16, 17, 30, 32, 33, 48, 64, 80, 96, 130, 256, 544};
    for (std::size_t rows : row_set)
        for (std::size_t cols : col_set)
            for (int wk = 0; wk < 3; ++wk) {
                const int xk = int(seed % 3);
                check_mx<e2m1, 32>(rows, cols, wk, xk, ++seed);
                check_nv(rows, cols, wk, xk, ++seed);
                if (wk == 0) {
                    check_mx<e2m1, 16>(rows, cols, wk, (xk + 1) % 3, ++seed);
                    check_mx<e2m3, 32>(rows, cols, wk, xk, ++seed);  // MXFP6: the reference
                    check_mx<e3m2, 32>(rows, cols, wk, xk, ++seed);
                    check_mx<mx_int8, 32>(rows, cols, wk, xk, ++seed);
                }
            }
}

TEST_CASE("log4 gemv follows the documented arithmetic on a worked example") {
    // Codes +1 (k = 7, L = 64), −1/2 (sign, k = 6, L = −32), +2^−6 (k = 1, L = 1), 0; scale 2,
    // so s_w = 2 · 2^−6.
    log_tensor<4> w;
    w.shape = {1, 4};
    w.group = 32;
    w.packed = {0xE7, 0x01};
    w.scales = {Eigen::half(2.0f)};
    const std::vector<float> x = {1.0f, -1.0f, 0.5f, 2.0f};
    const float sx = 2.0f / 127.0f;  // q = 64, −64, 32, 127
    const int d = 64 * 64 + (-32) * (-64) + 1 * 32 + 0 * 127;
    std::vector<float> y(1);
    for (backend b : {backend::scalar, backend::simd}) {
        ops::gemv(w, x, y, {.path = b});
        CHECK(y[0] == 0.0f + mul_unfused(0.03125f * sx, float(d)));
    }
    const log_quantizer<4> q;
    const auto wd = q.dequantize(w);
    CHECK(wd == std::vector<float>{2.0f, -1.0f, 0.03125f, 0.0f});  // the same levels
}

TEST_CASE("gemv and gemm on log codes: the SIMD kernel equals the reference bit for bit") {
    std::uint32_t seed = 700;
    const std::size_t row_set[] = {0, 1, 8, 9, 17};
    const std::size_t col_set[] = {0, 1, 2, 16, 17, 32, 33, 64, 80, 130, 256};
    for (std::size_t rows : row_set)
        for (std::size_t cols : col_set)
            for (int wk = 0; wk < 3; ++wk) {
                const int xk = int(seed % 3);
                check_log<4>(rows, cols, 32, wk, xk, ++seed);
                if (wk == 0) {
                    check_log<4>(rows, cols, 16, wk, (xk + 1) % 3, ++seed);
                    check_log<4>(rows, cols, 24, wk, xk, ++seed);  // any other group: reference
                    check_log<3>(rows, cols, 32, wk, xk, ++seed);
                    check_log<2>(rows, cols, 32, wk, xk, ++seed);
                    check_log<5>(rows, cols, 64, wk, xk, ++seed);
                }
            }
    const std::size_t rows = lowbit_test::scaled(120, 17);
    for (int xk = 0; xk < 3; ++xk) check_log<4>(rows, 1024, 32, xk, xk, 950 + xk);
}

namespace {

/// lut_linear built from w against ops::gemm on w (the reference path) for batches of 1, 6 and
/// 21 rows, both paths, thread counts, gemv.
template <class T>
void check_lut_linear(const T& w, std::uint32_t seed) {
    const std::size_t rows = w.shape.rows, cols = w.shape.cols;
    const ops::lut_linear lin(w);
    INFO("rows " << rows << ", cols " << cols << ", seed " << seed);
    if constexpr (!std::is_same_v<T, log_tensor<4>>) {
        // 4 bits per weight and a float per row and block, padded to whole tiles.
        const std::size_t padded = (rows + 7) / 8 * 8;
        CHECK(lin.storage_bytes() ==
              padded * cols / 2 + padded * (rows ? w.scales.size() / rows : 0) * sizeof(float));
    }
    CHECK(
        lin.kernel() ==
        (simd::has_packed_lut<xsimd::default_arch> ? fp4_kernel::packed_lut4 : fp4_kernel::scalar));
    CHECK(lin.kernel(backend::scalar) == fp4_kernel::scalar);
    for (std::size_t batch : {std::size_t{1}, std::size_t{6}, std::size_t{21}}) {
        const auto x = activations(batch * cols, 32, int(seed % 3), seed);
        std::vector<float> want(batch * rows), got(batch * rows);
        ops::gemm(w, x, batch, want, {.path = backend::scalar});
        for (backend b : {backend::simd, backend::scalar}) {
            lin.gemm(x, batch, got, {.path = b});
            CHECK(same_or_nan(got, want));
        }
        lin.gemm(x, batch, got, {.threads = 3});
        CHECK(same_or_nan(got, want));
        std::vector<float> y1(rows);
        lin.gemv(std::span<const float>(x).first(cols), y1);
        CHECK(same_or_nan(y1, std::vector<float>(want.begin(), want.begin() + long(rows))));
        ++seed;
    }
}

}  // namespace

TEST_CASE("lut_linear: the prepared MXFP4, NVFP4 and log4 layouts give ops::gemm's bits") {
    std::uint32_t seed = 1200;
    for (std::size_t rows : {0u, 1u, 8u, 13u, 40u})
        for (std::size_t cols : {0u, 32u, 96u, 256u})
            for (int wk = 0; wk < 3; ++wk) {
                const auto wv = weights(rows, cols, 32, wk, ++seed);
                typename mx_quantizer<e2m1>::options mo;
                if (wk == 1) mo.nonfinite = mx_nonfinite::nan_scale;
                check_lut_linear(mx_quantizer<e2m1>(mo).quantize(wv, {rows, cols}), ++seed);
                check_lut_linear(log_quantizer<4>().quantize(wv, {rows, cols}), ++seed);
                check_lut_linear(log_quantizer<4>({.group = 16}).quantize(wv, {rows, cols}),
                                 ++seed);
                auto nv = nvfp4_quantizer().quantize(wv, {rows, cols});
                if (wk == 1)  // NaN, zero and subnormal block scales, through the scale table
                    for (std::size_t i = 0; i < nv.scales.size(); i += 3)
                        nv.scales[i] = std::array<std::uint8_t, 3>{0x7F, 0x00, 0x01}[i / 3 % 3];
                check_lut_linear(nv, ++seed);
                if (cols % 64 == 0)
                    check_lut_linear(log_quantizer<4>({.group = 64}).quantize(wv, {rows, cols}),
                                     ++seed);
                check_lut_linear(log_quantizer<4>({.group = 4096}).quantize(wv, {rows, cols}),
                                 ++seed);  // one group per row
            }
    const mx_quantizer<e2m1> q;
    const auto w40 = q.quantize(lowbit_test::gaussian(8 * 40, 3), {8, 40});
    CHECK(thrown_argument([&] { ops::lut_linear l(w40); }) == "w.shape");
    const auto l48 =
        log_quantizer<4>({.group = 48}).quantize(lowbit_test::gaussian(8 * 96, 3), {8, 96});
    CHECK(thrown_argument([&] { ops::lut_linear l(l48); }) == "w.group");
    const ops::lut_linear lin(q.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64}));
    std::vector<float> x(64), y(8);
    CHECK(thrown_argument([&] { lin.gemv(std::span<const float>(x).first(63), y); }) == "x");
    CHECK(thrown_argument([&] { lin.gemv(x, std::span<float>(y).first(7)); }) == "y");
}

TEST_CASE("gemv and gemm on FP4 codes: a layer-sized matrix, every thread count") {
    const std::size_t rows = lowbit_test::scaled(300, 17), cols = 1024;
    for (int xk = 0; xk < 3; ++xk) {
        check_mx<e2m1, 32>(rows, cols, xk, xk, 900 + xk);
        check_nv(rows, cols + 16, xk, xk, 910 + xk);
    }
}

namespace {

/// |y − dequantize(W)·x| within the bound of the file comment, in double, for every row.
template <class T, class Q>
void check_bound(const Q& q, const T& w, std::size_t block, const std::vector<float>& x) {
    const std::size_t rows = w.shape.rows, cols = w.shape.cols;
    const auto wd = q.dequantize(w);
    std::vector<float> y(rows);
    ops::gemv(w, x, y);
    const double u = std::ldexp(1.0, -24);
    const std::size_t blocks = (cols + block - 1) / block;
    for (std::size_t r = 0; r < rows; ++r) {
        double exact = 0.0, act = 0.0, terms = 0.0, l1wx = 0.0;
        for (std::size_t k = 0; k < blocks; ++k) {
            const std::size_t b = k * block, e = std::min(cols, b + block);
            double amax = 0.0, t = 0.0;
            for (std::size_t i = b; i < e; ++i) amax = std::max(amax, double(std::fabs(x[i])));
            const double sx = amax / 127.0;
            for (std::size_t i = b; i < e; ++i) {
                const double wv = wd[r * cols + i];
                exact += wv * double(x[i]);
                l1wx += std::fabs(wv * double(x[i]));
                act += std::fabs(wv) * sx / 2.0;
                if (sx > 0.0) t += wv * std::nearbyint(double(x[i]) / sx) * sx;
            }
            terms += std::fabs(t);
        }
        // Per term: the scale products and the product with d (3 roundings), then the sum.
        const double bound = act * (1.0 + 1e-4) + double(blocks + 4) * u * terms * 1.001;
        INFO("row " << r << ", block " << block);
        CHECK(std::fabs(double(y[r]) - exact) <= bound);
        CHECK(bound < 0.05 * l1wx);  // not vacuous
    }
}

}  // namespace

TEST_CASE("FP4 gemv stays within its stated error bound of dequantize(W)·x in double") {
    const std::size_t rows = 40, cols = 520;
    const auto wv = lowbit_test::gaussian(rows * cols, 7, 0.02f);
    const auto x = lowbit_test::gaussian(cols, 8, 1.5f);
    const mx_quantizer<e2m1> mx;
    check_bound(mx, mx.quantize(wv, {rows, cols}), 32, x);
    const nvfp4_quantizer nv;
    check_bound(nv, nv.quantize(wv, {rows, cols}), 16, x);
    const mx_quantizer<e2m3> mx6;
    check_bound(mx6, mx6.quantize(wv, {rows, cols}), 32, x);
}

TEST_CASE("log gemv stays within its stated error bound; group limits and errors") {
    const std::size_t rows = 40, cols = 520;
    const auto wv = lowbit_test::gaussian(rows * cols, 17, 0.02f);
    const auto x = lowbit_test::gaussian(cols, 18, 1.5f);
    const log_quantizer<4> q4;
    check_bound(q4, q4.quantize(wv, {rows, cols}), 32, x);
    const log_quantizer<3> q3({.group = 64});
    check_bound(q3, q3.quantize(wv, {rows, cols}), 64, x);
    const log_quantizer<5> q5({.group = 128});
    check_bound(q5, q5.quantize(wv, {rows, cols}), 128, x);

    static_assert(ops::log_max_group<4> == ops::max_linear_group);
    static_assert(ops::log_max_group<5> == 0x7FFFFFFF / (16384 * 127));  // 1032
    static_assert(ops::has_linear<log_tensor<4>> && ops::has_linear<log_tensor<5, float>>);
    static_assert(!ops::has_linear<log_tensor<6>>);
    const log_quantizer<5> long_groups({.group = 2048});
    const auto wl = long_groups.quantize(lowbit_test::gaussian(2 * 2048, 3), {2, 2048});
    std::vector<float> xl(2048), yl(2);
    CHECK(thrown_argument([&] { ops::gemv(wl, xl, yl); }) == "t.group");
    CHECK(thrown_argument([&] { (void)ops::linear_kernel_for(wl); }) == "t.group");
    // The same group on a row shorter than the limit is accepted (the group covers the row).
    const auto ws = long_groups.quantize(lowbit_test::gaussian(2 * 1000, 3), {2, 1000});
    std::vector<float> xs(1000, 1.0f);
    ops::gemv(ws, xs, yl);
    CHECK(std::isfinite(yl[0]));

    auto w = q4.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    std::vector<float> xv(64), yv(8);
    CHECK(thrown_argument([&] { ops::gemv(w, std::span<const float>(xv).first(63), yv); }) == "x");
    CHECK(thrown_argument([&] { ops::gemm(w, xv, 2, yv); }) == "x");
    w.scales.pop_back();
    CHECK(thrown_argument([&] { ops::gemv(w, xv, yv); }) == "t.scales");
#if defined(__SSSE3__) || defined(__aarch64__)
    CHECK(ops::linear_kernel_for(q4.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64})) ==
          fp4_kernel::simd_lut4);
#endif
}

TEST_CASE("FP4 gemv: NaN or Inf activations make their rows NaN; zeros give 0") {
    const mx_quantizer<e2m1> q;
    const auto w = q.quantize(lowbit_test::gaussian(16 * 64, 3), {16, 64});
    std::vector<float> x(64, 0.0f), y(16, 1.0f);
    ops::gemv(w, x, y);
    for (float v : y) CHECK(v == 0.0f);
    x[40] = std::numeric_limits<float>::infinity();
    ops::gemv(w, x, y);
    for (float v : y) CHECK(std::isnan(v));
}

TEST_CASE("FP4 gemv and gemm name the argument they cannot use") {
    const mx_quantizer<e2m1> q;
    auto w = q.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    std::vector<float> x(64), y(8);
    CHECK(thrown_argument([&] { ops::gemv(w, std::span<const float>(x).first(63), y); }) == "x");
    CHECK(thrown_argument([&] { ops::gemv(w, x, std::span<float>(y).first(7)); }) == "y");
    CHECK(thrown_argument([&] { ops::gemm(w, x, 2, y); }) == "x");
    CHECK(thrown_argument([&] { ops::gemv(w, x, y, {.path = static_cast<backend>(9)}); }) ==
          "options.path");
    w.scales.pop_back();
    CHECK(thrown_argument([&] { ops::gemv(w, x, y); }) == "t.scales");
    CHECK(thrown_argument([&] { (void)ops::linear_kernel_for(w); }) == "t.scales");
    w.packed.pop_back();
    CHECK(thrown_argument([&] { ops::gemv(w, x, y); }) == "t.packed");
    const nvfp4_quantizer nq;
    auto nw = nq.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    CHECK(thrown_argument([&] { ops::gemv(nw, x, std::span<float>(y).first(3)); }) == "y");
    nw.global_scale = std::numeric_limits<float>::infinity();
    CHECK(thrown_argument([&] { ops::gemv(nw, x, y); }) == "t.global_scale");
}

TEST_CASE("the FP4 fast path exists where the target has a byte shuffle") {
#if defined(__SSSE3__) || defined(__aarch64__)
    CHECK(simd::has_lut_dot<xsimd::default_arch>);
    const mx_quantizer<e2m1> q;
    const auto w = q.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    CHECK(ops::linear_kernel_for(w) == fp4_kernel::simd_lut4);
    const nvfp4_quantizer nq;
    CHECK(ops::linear_kernel_for(nq.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64})) ==
          fp4_kernel::simd_lut4);
#else
    CHECK(!simd::has_lut_dot<xsimd::default_arch>);
#endif
}

namespace {

template <std::size_t Block>
void check_lut_dot(std::size_t chunks, std::size_t pad, std::uint32_t seed) {
    std::mt19937 rng(seed);
    const std::size_t stride = 16 * chunks + pad;
    std::vector<std::uint8_t> w(8 * stride + 1);
    for (auto& b : w) b = static_cast<std::uint8_t>(rng());
    std::vector<std::int8_t> q(32 * chunks + 1), table(16);
    for (auto& v : q) v = static_cast<std::int8_t>(int(rng() % 255) - 127);
    for (auto& v : table) v = static_cast<std::int8_t>(rng());
    if (seed % 3 == 0) table[rng() % 16] = -128;
    if (seed % 5 == 0)  // the extremes everywhere: the widest sums the forms must hold
        for (std::size_t i = 0; i < q.size(); ++i) q[i] = i % 2 ? -127 : 127;
    const std::size_t outs = 8 * chunks * (32 / Block);
    std::vector<std::int32_t> want(outs + 1, 7), got(outs + 1, 7);
    // Unaligned on purpose: the forms load without alignment.
    simd::scalar::dot8_lut4<Block>(w.data() + 1, stride, q.data() + 1, chunks, table.data(),
                                   want.data());
    simd::dot8_lut4<xsimd::default_arch, Block>(w.data() + 1, stride, q.data() + 1, chunks,
                                                table.data(), got.data());
    INFO("block " << Block << ", chunks " << chunks << ", pad " << pad);
    CHECK(want == got);
    CHECK(got[outs] == 7);  // nothing written past the last block
}

}  // namespace

TEST_CASE("simd::dot8_lut4 equals its scalar twin on every chunk count") {
    std::uint32_t seed = 1;
    for (std::size_t chunks = 0; chunks <= 40; ++chunks)
        for (std::size_t pad : {0u, 3u, 16u}) {
            check_lut_dot<32>(chunks, pad, ++seed);
            check_lut_dot<16>(chunks, pad, ++seed);
        }
    // The definition on a hand example: codes 0 … 15 of row i against q = 1 (lanes < 16) and 2.
    std::vector<std::uint8_t> w(8 * 16);
    for (std::size_t i = 0; i < 8; ++i)
        for (std::size_t j = 0; j < 16; ++j) w[16 * i + j] = std::uint8_t(j | ((15 - j) << 4));
    std::vector<std::int8_t> q(32), table(16);
    for (std::size_t l = 0; l < 32; ++l) q[l] = l < 16 ? 1 : 2;
    for (int c = 0; c < 16; ++c) table[c] = std::int8_t(c - 8);
    std::int32_t out[16];
    simd::dot8_lut4<xsimd::default_arch, 16>(w.data(), 16, q.data(), 1, table.data(), out);
    // Half 0: bytes 0 … 7: Σ (j − 8) + 2·Σ (7 − j) = −36 + 2·28 = 20; half 1: 28 + 2·(−36) = −44.
    for (int i = 0; i < 8; ++i) {
        CHECK(out[i] == 20);
        CHECK(out[8 + i] == -44);
    }
}

TEST_CASE("NF4 gemv follows the documented float order on a worked example") {
    // Levels (c − 8)/8; groups of 18 over 20 columns: [0, 18) and [18, 20).
    std::array<float, 16> lv{};
    for (int c = 0; c < 16; ++c) lv[c] = float(c - 8) / 8.0f;
    codebook_tensor<4> w;
    w.shape = {1, 20};
    w.group_size = 18;
    w.cb = codebook<4>::from_levels(lv);
    w.scales = {3.0f, 0.5f};
    std::vector<std::uint8_t> codes(20, 8);  // level 0
    codes[0] = 0, codes[1] = 0, codes[16] = 12, codes[17] = 12, codes[18] = 15, codes[19] = 4;
    std::vector<float> x(20, 3.0f);
    x[0] = -1e8f, x[1] = 1e8f, x[16] = 2.0f, x[17] = 0.5f, x[18] = 1.0f, x[19] = 3.0f;
    // Group 0: lane 0 = (0 + 1e8) + 0.5·2 = 1e8 (float spacing 8 there), lane 1 = −1e8 + 0.25 =
    // −1e8, the other lanes 0, so P_0 = 0 (1.25 in exact arithmetic: the order is the semantics).
    // Group 1: P_1 = 0.875·1 + (−0.5)·3 = −0.625. y = (0 + 3·0) + 0.5·(−0.625) = −0.3125.
    for (nibble_order order : {nibble_order::low_first, nibble_order::high_first}) {
        w.order = order;
        w.packed.assign(10, 0);
        pack(codes, 4, w.packed, order);
        std::vector<float> y(1);
        for (backend b : {backend::scalar, backend::simd}) {
            ops::gemv(w, x, y, {.path = b});
            CHECK(y[0] == -0.3125f);
        }
    }
}

namespace {

fp4_kernel expected_codebook_kernel(std::size_t cols, std::size_t group, nibble_order order) {
    const std::size_t len = std::min(group, cols);
    if (!simd::has_lut_dotf<xsimd::default_arch> || order == nibble_order::ggml_split ||
        cols % 2 != 0 || len % 2 != 0)
        return fp4_kernel::scalar;
    return fp4_kernel::simd_lut4f;
}

void check_codebook(std::size_t rows, std::size_t cols, std::size_t group, nibble_order order,
                    bool dq, int wkind, int xkind, std::uint32_t seed) {
    codebook_options o;
    o.group_size = group;
    o.order = order;
    o.double_quant = dq;
    const codebook_quantizer<4> q(o);
    const auto w = q.quantize(weights(rows, cols, group, wkind, seed), {rows, cols});
    INFO("rows " << rows << ", cols " << cols << ", group " << group << ", order " << int(order)
                 << ", dq " << dq << ", w kind " << wkind << ", x kind " << xkind);
    CHECK(ops::linear_kernel_for(w) == expected_codebook_kernel(cols, group, order));
    CHECK(ops::linear_kernel_for(w, backend::scalar) == fp4_kernel::scalar);
    const std::size_t batch = 3;
    const auto x = activations(batch * cols, group, xkind, seed + 1);
    std::vector<float> ys(batch * rows), yv(batch * rows), yt(batch * rows);
    ops::gemm(w, x, batch, ys, {.threads = 1, .path = backend::scalar});
    ops::gemm(w, x, batch, yv, {.threads = 1, .path = backend::simd});
    CHECK(same_or_nan(ys, yv));
    for (unsigned t : lowbit_test::thread_counts()) {
        ops::gemm(w, x, batch, yt, {.threads = t});
        CHECK(same_or_nan(yt, yv));
    }
    std::vector<float> y1(rows);
    for (std::size_t b = 0; b < batch; ++b) {
        ops::gemv(w, std::span<const float>(x).subspan(b * cols, cols), y1);
        CHECK(same_or_nan(y1,
                          std::vector<float>(yv.begin() + b * rows, yv.begin() + (b + 1) * rows)));
    }
}

}  // namespace

TEST_CASE("NF4 gemv and gemm: the SIMD kernel equals the reference bit for bit") {
    std::uint32_t seed = 700;
    for (std::size_t rows : {0u, 1u, 7u, 9u})
        for (std::size_t cols : {0u, 1u, 2u, 15u, 16u, 17u, 33u, 64u, 130u, 300u})
            for (std::size_t group : {16u, 18u, 64u, 7u, 1000u})
                for (nibble_order order : {nibble_order::low_first, nibble_order::high_first,
                                           nibble_order::ggml_split}) {
                    const int wk = int(seed % 3), xk = int((seed / 3) % 3);
                    const bool dq = seed % 4 == 0;
                    check_codebook(rows, cols, group, order, dq, wk, xk, ++seed);
                }
    const std::size_t rows = lowbit_test::scaled(100, 9);
    for (int xk = 0; xk < 3; ++xk)
        check_codebook(rows, 4096, 64, nibble_order::low_first, xk == 1, 0, xk, 800 + xk);
}

TEST_CASE("NF4 gemv stays within its stated error bound of dequantize(W)·x in double") {
    const std::size_t rows = 40, cols = 520;
    const auto x = lowbit_test::gaussian(cols, 8, 1.5f);
    for (std::size_t group : {16u, 64u, 520u}) {
        const codebook_quantizer<4> q({.group_size = group});
        const auto w = q.quantize(lowbit_test::gaussian(rows * cols, 7, 0.02f), {rows, cols});
        const auto wd = q.dequantize(w);
        std::vector<float> y(rows);
        ops::gemv(w, x, y);
        const std::size_t K = (cols + group - 1) / group, m = (std::min(group, cols) + 15) / 16;
        const double u = std::ldexp(1.0, -24);
        for (std::size_t r = 0; r < rows; ++r) {
            double exact = 0.0, l1 = 0.0;
            for (std::size_t i = 0; i < cols; ++i) {
                exact += double(wd[r * cols + i]) * double(x[i]);
                l1 += std::fabs(double(wd[r * cols + i]) * double(x[i]));
            }
            // γ_{m+K+4} of the file comment, one rounding more for dequantize's own s·level.
            const double n = double(m + K + 5), bound = n * u / (1.0 - n * u) * l1 * 1.001;
            INFO("row " << r << ", group " << group);
            CHECK(std::fabs(double(y[r]) - exact) <= bound);
        }
    }
}

TEST_CASE("NF4 gemv names the argument it cannot use") {
    const codebook_quantizer<4> q;
    auto w = q.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    std::vector<float> x(64), y(8);
    CHECK(thrown_argument([&] { ops::gemv(w, std::span<const float>(x).first(63), y); }) == "x");
    CHECK(thrown_argument([&] { ops::gemv(w, x, std::span<float>(y).first(7)); }) == "y");
    CHECK(thrown_argument([&] { ops::gemv(w, x, y, {.path = static_cast<backend>(9)}); }) ==
          "options.path");
    w.scales.pop_back();
    CHECK(thrown_argument([&] { ops::gemv(w, x, y); }) == "t.scales");
    CHECK(thrown_argument([&] { (void)ops::linear_kernel_for(w); }) == "t.scales");
#if defined(__SSE2__) || defined(__aarch64__)
    CHECK(simd::has_lut_dotf<xsimd::default_arch>);
#endif
}

namespace {

template <nibble_order Order>
void check_lut_dotf(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> p((n + 1) / 2 + 1);
    for (auto& b : p) b = static_cast<std::uint8_t>(rng());
    auto x = seed % 2 ? lowbit_test::adversarial(n + 1, seed) : lowbit_test::gaussian(n + 1, seed);
    auto t = lowbit_test::gaussian(16, seed + 7);
    if (seed % 5 == 0) t[rng() % 16] = std::numeric_limits<float>::infinity();
    if (seed % 7 == 0) t[rng() % 16] = -0.0f;
    const float want = simd::scalar::dot_lut4f<Order>(p.data(), x.data() + 1, n, t.data());
    const float got =
        simd::dot_lut4f<xsimd::default_arch, Order>(p.data(), x.data() + 1, n, t.data());
    INFO("n " << n << ", order " << int(Order) << ", seed " << seed);
    CHECK(same_or_nan({want}, {got}));
}

}  // namespace

TEST_CASE("simd::dot_lut4f equals its scalar twin on every length") {
    std::uint32_t seed = 1;
    for (std::size_t n = 0; n <= 80; ++n)
        for (int rep = 0; rep < 3; ++rep) {
            check_lut_dotf<nibble_order::low_first>(n, ++seed);
            check_lut_dotf<nibble_order::high_first>(n, ++seed);
        }
    for (std::size_t n : {255u, 256u, 1000u, 4097u}) {
        check_lut_dotf<nibble_order::low_first>(n, ++seed);
        check_lut_dotf<nibble_order::high_first>(n, ++seed);
    }
    // The tree on a hand example: lanes 0 … 15 hold 2^l (levels 1, one element per lane) and
    // lane 0 a second element 2^24: lane 0 = 1 + 2^24 = 2^24 (ties to even), the rest folds
    // exactly.
    std::vector<std::uint8_t> p(9, 0x11);  // every code 1
    std::vector<float> x(17);
    for (int l = 0; l < 16; ++l) x[l] = std::ldexp(1.0f, l);
    x[16] = std::ldexp(1.0f, 24);
    std::array<float, 16> t{};
    t[1] = 1.0f;
    const float r = simd::dot_lut4f<xsimd::default_arch, nibble_order::low_first>(
        p.data(), x.data(), 17, t.data());
    CHECK(r == std::ldexp(1.0f, 24) + 65534.0f);
}

namespace {

/// The integer form lut_linear documents for a 4-bit codebook, computed here from its
/// definition: 7-bit levels, int8 activations per group, exact integer dots, the float steps.
std::vector<float> codebook_int_form(const codebook_tensor<4>& w, std::span<const float> x,
                                     std::size_t batch) {
    const std::size_t rows = w.shape.rows, cols = w.shape.cols, len = std::min(w.group_size, cols);
    const std::size_t per_row = w.groups_per_row();
    const auto codes = w.codes();
    std::vector<float> y(batch * rows);
    for (std::size_t b = 0; b < batch; ++b) {
        const float* xb = x.data() + b * cols;
        std::vector<int> q(cols);
        std::vector<float> sx(per_row);
        for (std::size_t k = 0; k < per_row; ++k) {
            const std::size_t e = std::min(cols, (k + 1) * len);
            float a = 0.0f;
            bool finite = true;
            for (std::size_t i = k * len; i < e; ++i) {
                finite = finite && std::isfinite(xb[i]);
                a = std::max(a, std::fabs(xb[i]));
            }
            sx[k] = finite ? a / 127.0f : std::numeric_limits<float>::quiet_NaN();
            for (std::size_t i = k * len; i < e; ++i)
                q[i] = finite && sx[k] > 0.0f
                    ? int(std::clamp(std::nearbyint(xb[i] / sx[k]), -127.0f, 127.0f))
                    : 0;
        }
        for (std::size_t r = 0; r < rows; ++r) {
            float acc = 0.0f;
            for (std::size_t k = 0; k < per_row; ++k) {
                std::int32_t d = 0;
                for (std::size_t i = k * len; i < std::min(cols, (k + 1) * len); ++i)
                    d += int(std::nearbyint(w.cb.levels[codes[r * cols + i]] * 64.0f)) * q[i];
                const float sw = w.scale(r * per_row + k) * 0.015625f;
                acc = acc + lowbit::mul_unfused(sw * sx[k], float(d));
            }
            y[b * rows + r] = acc;
        }
    }
    return y;
}

}  // namespace

TEST_CASE("lut_linear on a 4-bit codebook: its integer form on every path, within its bound") {
    std::uint32_t seed = 1500;
    for (std::size_t rows : {1u, 8u, 13u, 40u})
        for (std::size_t cols : {32u, 128u, 320u})
            for (std::size_t group : {32u, 64u, 4096u})
                for (bool dq : {false, true}) {
                    ++seed;
                    codebook_options o;
                    o.group_size = group;
                    o.double_quant = dq;
                    o.order = seed % 2 ? nibble_order::high_first : nibble_order::low_first;
                    const int wk = int(seed % 3), xk = int(seed / 3 % 3);
                    const auto w = codebook_quantizer<4>(o).quantize(
                        weights(rows, cols, group, wk, seed), {rows, cols});
                    INFO("rows " << rows << ", cols " << cols << ", group " << group << ", dq "
                                 << dq << ", w kind " << wk << ", x kind " << xk);
                    const ops::lut_linear lin(w);
                    CHECK(lin.kernel() ==
                          (simd::has_packed_lut<xsimd::default_arch> ? fp4_kernel::packed_lut4
                                                                     : fp4_kernel::scalar));
                    const std::size_t batch = 5;
                    const auto x = activations(batch * cols, std::min(group, cols), xk, seed);
                    const auto want = codebook_int_form(w, x, batch);
                    std::vector<float> got(batch * rows);
                    for (backend b : {backend::simd, backend::scalar}) {
                        lin.gemm(x, batch, got, {.path = b});
                        CHECK(same_or_nan(got, want));
                    }
                    for (unsigned t : lowbit_test::thread_counts()) {
                        lin.gemm(x, batch, got, {.threads = t});
                        CHECK(same_or_nan(got, want));
                    }
                    if (wk != 0 || xk != 0) continue;
                    // The bound of the file comment against the exact product of the levels.
                    const auto codes = w.codes();
                    const std::size_t len = std::min(group, cols), per_row = w.groups_per_row();
                    for (std::size_t b = 0; b < batch; ++b)
                        for (std::size_t r = 0; r < rows; ++r) {
                            double exact = 0, bound = 0, terms = 0;
                            for (std::size_t k = 0; k < per_row; ++k) {
                                const double s = w.scale(r * per_row + k);
                                double dot = 0, xs = 0, ls = 0, a = 0;
                                for (std::size_t i = k * len; i < std::min(cols, (k + 1) * len);
                                     ++i) {
                                    const double xi = x[b * cols + i];
                                    const double l = w.cb.levels[codes[r * cols + i]];
                                    dot += l * xi;
                                    xs += std::fabs(xi);
                                    ls += std::fabs(std::nearbyint(l * 64.0));
                                    a = std::max(a, std::fabs(xi));
                                }
                                exact += s * dot;
                                // |ℓ − L/64| <= 1/128; |x − s_x·q| <= s_x/2, the division's
                                // rounding adding at most 127·u to the half.
                                const double sx = double(float(a) / 127.0f);
                                bound += std::fabs(s) *
                                    (xs / 128.0 + sx * (0.5 + 127.0 * 0x1p-24) * ls / 64.0);
                                terms += std::fabs(s) * sx * 127.0 * ls / 64.0;  // >= |t_k|
                            }
                            bound += double(per_row + 2) * 0x1p-24 * terms * 1.001;
                            CHECK(std::fabs(double(got[b * rows + r]) - exact) <= bound);
                        }
                }
    // NF4's levels land on the 7-bit grid within 1/128: the error stays near ops::gemv's.
    const codebook_quantizer<4> q;
    const std::size_t rows = 64, cols = 512;
    const auto w = q.quantize(lowbit_test::gaussian(rows * cols, 5, 0.05f), {rows, cols});
    const auto x = lowbit_test::gaussian(cols, 6, 1.0f);
    const auto deq = q.dequantize(w);
    std::vector<float> yf(rows), yi(rows);
    ops::gemv(w, x, yf);
    ops::lut_linear(w).gemv(x, yi);
    double ef = 0, ei = 0, ref2 = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        double ref = 0;
        for (std::size_t c = 0; c < cols; ++c) ref += double(deq[r * cols + c]) * x[c];
        ef += (yf[r] - ref) * (yf[r] - ref);
        ei += (yi[r] - ref) * (yi[r] - ref);
        ref2 += ref * ref;
    }
    INFO("relative error: float path " << std::sqrt(ef / ref2) << ", 7-bit levels "
                                       << std::sqrt(ei / ref2));
    CHECK(std::sqrt(ei / ref2) < 0.02);
    auto wl = w;
    wl.cb.levels[3] = std::numeric_limits<float>::quiet_NaN();
    CHECK(thrown_argument([&] { ops::lut_linear l(wl); }) == "w.cb.levels");
    const auto w48 = codebook_quantizer<4>({.group_size = 48})
                         .quantize(lowbit_test::gaussian(8 * 96, 3), {8, 96});
    CHECK(thrown_argument([&] { ops::lut_linear l(w48); }) == "w.group_size");
}
