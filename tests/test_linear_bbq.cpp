// ops::gemv / ops::gemm on BBQ / QuEST codes (ops/linear_bbq.hpp): the documented arithmetic on
// worked examples, the SIMD kernels bit for bit against the reference (every width, emission,
// zero point, σ source, Hadamard block, odd shape and adversarial activation), the fast path
// taken where linear_kernel_for says so, thread-count independence, gemm = gemv per row, the
// error bound against dequantize(W)·x in double, and the errors.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/ops/linear_bbq.hpp>
#include <lowbit/ops/lut_linear.hpp>
#include <lowbit/quantizers/bbq.hpp>

#include "test_util.hpp"

namespace {

using namespace lowbit;
using lowbit::ops::linear_kernel;
using lowbit_test::same_or_nan;
using lowbit_test::thrown_argument;

/// Gaussian activations; kind 1 puts NaN, ±Inf, ±0, subnormal and huge values into a few
/// groups of 32 and makes some groups all tiny, kind 2 zeroes some groups entirely, kind 3 is
/// lowbit_test::adversarial (specials everywhere).
std::vector<float> activations(std::size_t n, int kind, std::uint32_t seed) {
    if (kind == 3) return lowbit_test::adversarial(n, seed);
    auto x = lowbit_test::gaussian(n, seed, 3.0f);
    std::mt19937 rng(seed);
    const float specials[] = {
        std::numeric_limits<float>::quiet_NaN(),  std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity(),  -0.0f,
        std::numeric_limits<float>::denorm_min(), 3e38f,
        -std::numeric_limits<float>::max(),       1e-40f};
    for (std::size_t b = 0; b < n; b += 32) {
        const std::size_t e = std::min(n, b + 32);
        if (kind == 1 && rng() % 6 == 0) x[b + rng() % (e - b)] = specials[rng() % 8];
        if (kind == 2 && rng() % 3 == 0)
            for (std::size_t i = b; i < e; ++i) x[i] = 0.0f;
        if (kind == 1 && rng() % 5 == 0)  // only tiny values: s_x subnormal
            for (std::size_t i = b; i < e; ++i) x[i] = 1e-41f * float(int(rng() % 200) - 100);
    }
    return x;
}

/// The kernel ops::linear_kernel_for must pick for a tensor the quantizer made, by the rule of
/// ops/linear_bbq.hpp's file comment.
linear_kernel expected_kernel(int code_bits, std::size_t cols, bool half) {
    if (!simd::has_int_dot<xsimd::default_arch> || cols < 32) return linear_kernel::scalar;
    const bool whole = cols % 32 == 0 && !half;
    if (code_bits == 4 && cols % 2 == 0)
        return whole ? linear_kernel::simd_i4 : linear_kernel::simd_i4_tails;
    return whole ? linear_kernel::simd_i8 : linear_kernel::simd_i8_tails;
}

/// SIMD = scalar bit for bit, every thread count the same, gemm row b = gemv of row b.
template <int CB>
void check_tensor(const bbq_tensor<CB>& w, int xkind, std::uint32_t seed) {
    const std::size_t rows = w.shape.rows, cols = w.shape.cols;
    const bool half = w.opt.zero == bbq_zero::half;
    CHECK(ops::linear_kernel_for(w) == expected_kernel(CB, cols, half));
    CHECK(ops::linear_kernel_for(w, backend::scalar) == linear_kernel::scalar);
    const std::size_t batch = 3;
    const auto x = activations(batch * cols, xkind, seed + 1);
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

template <int Bits, bool Quest, bbq_codes Codes>
void check_paths(const bbq_options& o, std::size_t rows, std::size_t cols, int xkind,
                 std::uint32_t seed) {
    using Q = rotated_quantizer<Bits, Quest, Codes>;
    INFO("bits " << Bits << (Quest ? " QuEST" : " BBQ") << ", codes " << int(Codes) << ", rows "
                 << rows << ", cols " << cols << ", H " << o.hadamard << ", sigma "
                 << int(o.sigma_from) << ", zero " << int(o.zero) << ", order " << int(o.order)
                 << ", x kind " << xkind);
    bbq_options opt = o;
    std::vector<float> values = lowbit_test::gaussian(rows * cols, seed, 0.05f);
    if (xkind == 3) {  // adversarial weights too: huge scales, saturated specials
        opt.on_non_finite = non_finite::saturate;
        values = lowbit_test::adversarial(rows * cols, seed);
    }
    const Q q(opt);
    check_tensor(q.quantize(values, {rows, cols}), xkind, seed);
}

template <int Bits, bool Quest, bbq_codes Codes>
void check_format(std::uint32_t& seed) {
    constexpr int code_bits = bbq_code_bits(Bits, Codes);
    const std::size_t row_set[] = {0, 1, 7, 8, 9, 17};
    const std::size_t col_set[] = {0, 1, 31, 32, 33, 64, 96, 130, 256};
    const std::size_t hs[] = {0, 16, 128, 2};
    const sigma_source sig[] = {sigma_source::per_tensor, sigma_source::per_row,
                                sigma_source::given};
    for (std::size_t rows : row_set)
        for (std::size_t cols : col_set)
            for (bbq_zero z : {bbq_zero::integer, bbq_zero::half}) {
                if (Quest && z == bbq_zero::integer) continue;  // QuEST's zero point is −½
                if (Codes == bbq_codes::e2m1 && !bbq_e2m1_exact(Bits, z)) continue;
                ++seed;
                bbq_options o;
                o.hadamard = hs[seed % 4];
                o.sigma_from = sig[seed / 4 % 3];
                o.sigma = 0.05f;
                o.zero = z;
                o.order =
                    code_bits == 4 && seed % 2 ? nibble_order::high_first : nibble_order::low_first;
                check_paths<Bits, Quest, Codes>(o, rows, cols, int(seed % 4), seed);
            }
}

/// A hand-made 1 × 4 tensor of INT4 codes `levels` (z = 0) with decode step s and block H.
bbq_tensor<4> hand_tensor(const int (&levels)[4], float s, std::size_t H, bbq_zero z) {
    bbq_tensor<4> w;
    w.shape = {1, 4};
    w.opt.hadamard = H;
    w.opt.zero = z;
    w.packed.assign(2, 0);
    for (int i = 0; i < 4; ++i)
        w.packed[i / 2] |= std::uint8_t((unsigned(levels[i]) & 0xF) << (4 * (i % 2)));
    w.sigmas = {1.0f};
    w.scales = {s};
    for (int c = 0; c < 16; ++c)
        w.level_of_code[c] = float((c ^ 8) - 8) + (z == bbq_zero::half ? 0.5f : 0.0f);
    return w;
}

}  // namespace

TEST_CASE("BBQ gemv follows the documented arithmetic on worked examples") {
    // x = (1, 2, 3, 4), H = 4: butterflies (3, −1, 7, −1) then (10, −2, −4, 0), times 1/2:
    // x' = (5, −1, −2, 0). s_x = 5/127; x'/s_x = 127, −25.4, −50.8, 0 → a = 127, −25, −51, 0.
    const std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f};
    const int levels[4] = {3, -1, 2, 7};
    const float sx = 5.0f / 127.0f;
    const int d = 3 * 127 + (-1) * (-25) + 2 * (-51) + 7 * 0;  // 304
    const int asum = 127 - 25 - 51 + 0;                        // 51
    std::vector<float> y(1);
    for (backend b : {backend::scalar, backend::simd}) {
        // z = 0: y = (s·s_x)·d.
        ops::gemv(hand_tensor(levels, 0.25f, 4, bbq_zero::integer), x, y, {.path = b});
        CHECK(y[0] == 0.0f + (0.25f * sx) * float(d));
        // z = −½: levels 3.5, −0.5, 2.5, 7.5; D = 2·304 + 51 = 659, y = ((s/2)·s_x)·D.
        ops::gemv(hand_tensor(levels, 0.25f, 4, bbq_zero::half), x, y, {.path = b});
        CHECK(y[0] == 0.0f + (0.125f * sx) * float(2 * d + asum));
        // No transform: s_x = 4/127, a = round(31.75, 63.5, 95.25, 127) = 32, 64, 95, 127.
        ops::gemv(hand_tensor(levels, 0.25f, 0, bbq_zero::integer), x, y, {.path = b});
        CHECK(y[0] == 0.0f + (0.25f * (4.0f / 127.0f)) * float(3 * 32 - 64 + 2 * 95 + 7 * 127));
    }
    // The value itself: ŵ = Ĥ·(0.25·ℓ) = (1.375, −0.125, −0.875, 1.125), ŵ·x = 3 = (0.25·ℓ)·x';
    // y = 0.25·(5/127)·304 ≈ 2.992 (the activation rounding).
    ops::gemv(hand_tensor(levels, 0.25f, 4, bbq_zero::integer), x, y);
    const double exact = 3.0;
    CHECK(std::fabs(y[0] - exact) < 0.02);
}

TEST_CASE("BBQ / QuEST gemv and gemm: the SIMD kernels equal the reference bit for bit") {
    std::uint32_t seed = 100;
    check_format<4, false, bbq_codes::int_b>(seed);
    check_format<4, false, bbq_codes::index>(seed);
    check_format<8, false, bbq_codes::int_b>(seed);
    check_format<8, false, bbq_codes::index>(seed);
    check_format<4, true, bbq_codes::int_b>(seed);
    check_format<8, true, bbq_codes::index>(seed);
    check_format<3, false, bbq_codes::e2m1>(seed);
    check_format<2, false, bbq_codes::e2m1>(seed);
    check_format<1, true, bbq_codes::e2m1>(seed);
    check_format<1, false, bbq_codes::int_b>(seed);
    check_format<2, false, bbq_codes::index>(seed);
    check_format<3, true, bbq_codes::int_b>(seed);
    check_format<5, false, bbq_codes::int_b>(seed);
    check_format<6, true, bbq_codes::index>(seed);
    check_format<7, false, bbq_codes::int_b>(seed);
}

TEST_CASE("BBQ gemv and gemm on a layer-sized matrix, every thread count") {
    const std::size_t rows = lowbit_test::scaled(300, 17), cols = 1024;
    for (int xk = 0; xk < 4; ++xk) {
        bbq_options o;
        check_paths<4, false, bbq_codes::int_b>(o, rows, cols, xk, 900 + xk);
        o.zero = bbq_zero::half;
        o.sigma_from = sigma_source::per_row;
        check_paths<4, false, bbq_codes::index>(o, rows, cols, xk, 910 + xk);
        o.hadamard = 1024;
        check_paths<8, true, bbq_codes::int_b>(o, rows, cols + 64, xk, 920 + xk);
        o.hadamard = 64;
        check_paths<3, false, bbq_codes::int_b>(o, rows, cols - 2, xk, 930 + xk);
    }
}

TEST_CASE("BBQ gemv: a decode table other than the quantizer's goes through the byte tables") {
    bbq_quantizer<4> q;
    const std::size_t rows = 19, cols = 96;
    auto w = q.quantize(lowbit_test::gaussian(rows * cols, 41, 0.05f), {rows, cols});
    // A permutation of the INT4 levels: table4.
    for (int c = 0; c < 16; ++c) w.level_of_code[c] = float(7 - ((c ^ 8) - 8) - 8);
    check_tensor(w, 0, 41);
    // A level outside −8 … 7: the codes unpacked to bytes, the 8-bit dots.
    w.level_of_code[3] = 100.0f;
    CHECK(
        ops::linear_kernel_for(w) ==
        (simd::has_int_dot<xsimd::default_arch> ? linear_kernel::simd_i8 : linear_kernel::scalar));
    std::vector<float> x = lowbit_test::gaussian(cols, 42), ys(rows), yv(rows);
    ops::gemv(w, x, ys, {.path = backend::scalar});
    ops::gemv(w, x, yv);
    CHECK(same_or_nan(ys, yv));
    // 8-bit codes through a table.
    bbq_quantizer<8> q8;
    auto w8 = q8.quantize(lowbit_test::gaussian(rows * cols, 43, 0.05f), {rows, cols});
    for (int c = 0; c < 256; ++c) w8.level_of_code[c] = float(c % 200 - 100);
    check_tensor(w8, 1, 43);
}

namespace {

/// |y − dequantize(W)·x| against the bound of ops/linear_bbq.hpp's file comment, row by row.
template <int Bits, bool Quest, bbq_codes Codes>
void check_bound(const bbq_options& o, std::size_t rows, std::size_t cols, double slack_share) {
    const rotated_quantizer<Bits, Quest, Codes> q(o);
    const auto w = q.quantize(lowbit_test::gaussian(rows * cols, 7, 0.02f), {rows, cols});
    const auto deq = q.dequantize(w);
    const auto x = lowbit_test::gaussian(cols, 8, 1.5f);
    std::vector<float> y(rows);
    ops::gemv(w, x, y);
    std::vector<float> xr = x;
    if (w.opt.hadamard) reference::hadamard_rows(xr.data(), {1, cols}, w.opt.hadamard);
    const auto codes = w.codes();
    const double u = std::ldexp(1.0, -24);
    const std::size_t h = w.opt.hadamard ? std::min(w.opt.hadamard, std::bit_floor(cols)) : 1;
    const std::size_t K = (cols + 31) / 32;
    double xnorm = 0.0;
    for (float v : x) xnorm += double(v) * v;
    xnorm = std::sqrt(xnorm);
    for (std::size_t r = 0; r < rows; ++r) {
        const double s = w.scales[o.sigma_from == sigma_source::per_row ? r : 0];
        double exact = 0.0, l1wx = 0.0, act = 0.0, terms = 0.0, lnorm = 0.0;
        for (std::size_t i = 0; i < cols; ++i) {
            exact += double(deq[r * cols + i]) * x[i];
            l1wx += std::fabs(double(deq[r * cols + i]) * x[i]);
        }
        for (std::size_t k = 0; k < K; ++k) {
            const std::size_t b = 32 * k, e = std::min(cols, b + 32);
            float amax = 0.0f;
            for (std::size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(xr[i]));
            const double sx = amax / 127.0f;
            double l1 = 0.0, dot = 0.0;
            for (std::size_t i = b; i < e; ++i) {
                const double lv = w.level_of_code[codes[r * cols + i]];
                l1 += std::fabs(lv);
                lnorm += lv * lv;
                dot += sx > 0 ? lv * std::clamp(std::nearbyint(xr[i] / sx), -127.0, 127.0) : 0.0;
            }
            act += std::fabs(s) * sx * l1 / 2.0;
            terms += std::fabs(s * sx * dot);
        }
        const double transform =
            2.0 * (std::log2(double(h)) + 2.0) * u * std::fabs(s) * std::sqrt(lnorm) * xnorm;
        const double bound = (act + transform + double(K + 2) * u * terms) * 1.001;
        INFO("bits " << Bits << ", row " << r << ", H " << o.hadamard << ", zero " << int(o.zero));
        CHECK(std::fabs(double(y[r]) - exact) <= bound);
        // The bound is not vacuous: a small share of the products' magnitude.
        CHECK(bound < slack_share * l1wx);
    }
}

}  // namespace

TEST_CASE("BBQ gemv stays within its stated error bound of dequantize(W)·x in double") {
    for (std::size_t H : {0u, 16u, 128u}) {
        bbq_options o;
        o.hadamard = H;
        check_bound<4, false, bbq_codes::int_b>(o, 24, 512, 0.05);
        check_bound<8, false, bbq_codes::index>(o, 24, 200, 0.05);
        check_bound<4, true, bbq_codes::int_b>(o, 24, 200, 0.05);
        o.sigma_from = sigma_source::per_row;
        o.zero = bbq_zero::half;
        check_bound<4, false, bbq_codes::index>(o, 24, 512, 0.05);
        check_bound<2, false, bbq_codes::e2m1>(o, 24, 96, 0.1);
        o.zero = bbq_zero::integer;
        check_bound<3, false, bbq_codes::e2m1>(o, 24, 130, 0.1);
    }
}

TEST_CASE("BBQ gemv: NaN or Inf activations make every output NaN; zeros give 0") {
    const bbq_quantizer<4> q;
    const auto w = q.quantize(lowbit_test::gaussian(16 * 256, 3), {16, 256});
    for (backend b : {backend::scalar, backend::simd}) {
        std::vector<float> x(256, 0.0f), y(16, 1.0f);
        ops::gemv(w, x, y, {.path = b});
        for (float v : y) CHECK(v == 0.0f);
        x[200] = std::numeric_limits<float>::infinity();
        ops::gemv(w, x, y, {.path = b});
        for (float v : y) CHECK(std::isnan(v));
        x[200] = std::numeric_limits<float>::quiet_NaN();
        ops::gemv(w, x, y, {.path = b});
        for (float v : y) CHECK(std::isnan(v));
    }
    // Empty shapes: nothing to read, y all 0 when cols = 0.
    const auto w0 = q.quantize({}, {5, 0});
    std::vector<float> y0(5, 1.0f);
    ops::gemv(w0, {}, y0);
    for (float v : y0) CHECK(v == 0.0f);
    const auto wr = q.quantize({}, {0, 40});
    std::vector<float> x40(40), none;
    ops::gemv(wr, x40, none);
    ops::gemm(w, {}, 0, none);
}

TEST_CASE("BBQ gemv and gemm name the argument they cannot use") {
    const bbq_quantizer<4> q;
    auto w = q.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64});
    std::vector<float> x(64), y(8);
    CHECK(thrown_argument([&] { ops::gemv(w, std::span<const float>(x).first(63), y); }) == "x");
    CHECK(thrown_argument([&] { ops::gemv(w, x, std::span<float>(y).first(7)); }) == "y");
    CHECK(thrown_argument([&] { ops::gemm(w, x, 2, y); }) == "x");
    CHECK(thrown_argument([&] { ops::gemv(w, x, y, {.path = static_cast<backend>(9)}); }) ==
          "options.path");
    auto wl = w;
    wl.level_of_code[5] = std::numeric_limits<float>::quiet_NaN();
    CHECK(thrown_argument([&] { ops::gemv(wl, x, y); }) == "w.level_of_code");
    CHECK(thrown_argument([&] { (void)ops::linear_kernel_for(wl); }) == "w.level_of_code");
    wl.level_of_code[5] = 300.0f;
    CHECK(thrown_argument([&] { ops::gemv(wl, x, y); }) == "w.level_of_code");
    auto ws = w;
    ws.scales.push_back(1.0f);
    CHECK(thrown_argument([&] { ops::gemv(ws, x, y); }) == "t.scales");
    w.packed.pop_back();  // a tensor from outside that does not validate
    CHECK(thrown_argument([&] { ops::gemv(w, x, y); }) == "t.packed");
}

namespace {

/// ops::lut_linear built from w against ops::gemm on w (the reference path): batches of 1, 5
/// and 21 rows, both paths, thread counts, gemv.
void check_lut(const bbq_tensor<4>& w, int xkind, std::uint32_t seed) {
    const std::size_t rows = w.shape.rows, cols = w.shape.cols;
    INFO("rows " << rows << ", cols " << cols << ", H " << w.opt.hadamard << ", zero "
                 << int(w.opt.zero) << ", order " << int(w.opt.order) << ", x kind " << xkind);
    const ops::lut_linear lin(w);
    CHECK(lin.kernel() ==
          (simd::has_packed_lut<xsimd::default_arch> ? ops::fp4_kernel::packed_lut4
                                                     : ops::fp4_kernel::scalar));
    CHECK(lin.kernel(backend::scalar) == ops::fp4_kernel::scalar);
    // One scale per row, so the prepared weights hold 4 bits per weight and a float per row.
    CHECK(lin.storage_bytes() == (rows + 7) / 8 * 8 * (cols / 2 + sizeof(float)));
    for (std::size_t batch : {std::size_t{1}, std::size_t{5}, std::size_t{21}}) {
        const auto x = activations(batch * cols, xkind, seed + std::uint32_t(batch));
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
        CHECK(same_or_nan(y1, std::vector<float>(want.begin(), want.begin() + long(rows))));
    }
}

template <bool Quest, bbq_codes Codes, int Bits>
void check_lut_format(std::uint32_t& seed) {
    const sigma_source sig[] = {sigma_source::per_tensor, sigma_source::per_row,
                                sigma_source::given};
    const std::size_t hs[] = {128, 0, 32, 16};
    for (std::size_t rows : {0u, 1u, 8u, 13u, 40u})
        for (std::size_t cols : {32u, 96u, 256u})
            for (bbq_zero z : {bbq_zero::integer, bbq_zero::half}) {
                if (Quest && z == bbq_zero::integer) continue;
                if (Codes == bbq_codes::e2m1 && !bbq_e2m1_exact(Bits, z)) continue;
                ++seed;
                bbq_options o;
                o.hadamard = hs[seed % 4];
                o.sigma_from = sig[seed / 4 % 3];
                o.sigma = 0.05f;
                o.zero = z;
                o.order = seed % 2 ? nibble_order::high_first : nibble_order::low_first;
                std::vector<float> values = lowbit_test::gaussian(rows * cols, seed, 0.05f);
                const int xkind = int(seed % 4);
                if (xkind == 3) {
                    o.on_non_finite = non_finite::saturate;
                    values = lowbit_test::adversarial(rows * cols, seed);
                }
                check_lut(rotated_quantizer<Bits, Quest, Codes>(o).quantize(values, {rows, cols}),
                          xkind, seed);
            }
}

}  // namespace

TEST_CASE("lut_linear on BBQ / QuEST 4-bit codes gives ops::gemm's bits") {
    std::uint32_t seed = 3100;
    check_lut_format<false, bbq_codes::int_b, 4>(seed);
    check_lut_format<false, bbq_codes::index, 4>(seed);
    check_lut_format<true, bbq_codes::int_b, 4>(seed);
    check_lut_format<true, bbq_codes::index, 4>(seed);
    check_lut_format<false, bbq_codes::e2m1, 3>(seed);  // E2M1 patterns: a table of levels
    // A table of levels from elsewhere, up to the ±64 the kernel takes.
    bbq_quantizer<4> q;
    auto w = q.quantize(lowbit_test::gaussian(19 * 96, 44, 0.05f), {19, 96});
    for (int c = 0; c < 16; ++c) w.level_of_code[c] = float(c * 9 - 64 - (c == 15 ? 7 : 0));
    check_lut(w, 1, 45);
    w.level_of_code[4] = 65.0f;
    CHECK(thrown_argument([&] { ops::lut_linear l(w); }) == "w.level_of_code");
    w.opt.zero = bbq_zero::half;  // 2·q + 1 within ±64: |q + ½| <= 32
    for (int c = 0; c < 16; ++c) w.level_of_code[c] = float(c * 4 - 31) + 0.5f;
    check_lut(w, 2, 46);
    w.level_of_code[0] = -32.5f;  // 2·(−33) + 1 = −65
    CHECK(thrown_argument([&] { ops::lut_linear l(w); }) == "w.level_of_code");
    const auto w40 = q.quantize(lowbit_test::gaussian(8 * 40, 3), {8, 40});
    CHECK(thrown_argument([&] { ops::lut_linear l(w40); }) == "w.shape");
    const ops::lut_linear lin(q.quantize(lowbit_test::gaussian(8 * 64, 3), {8, 64}));
    std::vector<float> x(64), y(8);
    CHECK(thrown_argument([&] { lin.gemv(std::span<const float>(x).first(63), y); }) == "x");
    CHECK(thrown_argument([&] { lin.gemv(x, std::span<float>(y).first(7)); }) == "y");
    CHECK(thrown_argument([&] { lin.gemv(x, y, {.path = static_cast<backend>(9)}); }) ==
          "options.path");
}
