// INT formats: the lecture's worked examples exactly, scale rules, every granularity, scalar
// reference vs SIMD bit for bit on random and adversarial data, stochastic rounding, errors.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <cmath>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

TEST_CASE("lecture example: symmetric INT3, L = 2") {
    const std::vector<float> x = {1.1f, 2.4f, -0.3f, 0.8f};
    int_quantizer<int_format<3>> q({.rule = scale_rule::fixed(2.0f)});
    for (auto b : {backend::scalar, backend::simd}) {
        auto t = q.quantize(x, b);
        CHECK(t.scales[0] == doctest::Approx(2.0 / 3.0));
        std::vector<int> ints;
        for (auto c : t.codes()) ints.push_back(int_format<3>::to_int(c));
        CHECK(ints == std::vector<int>{2, 3, 0, 1});
        const auto y = q.dequantize(t, b);
        const float want[] = {1.33f, 2.0f, 0.0f, 0.67f};
        for (int i = 0; i < 4; ++i) CHECK(std::fabs(y[i] - want[i]) <= 0.005f);
    }
}

TEST_CASE("lecture example: asymmetric INT3, Lmin = -0.5, Lmax = 2") {
    const std::vector<float> x = {1.1f, 2.4f, -0.3f, 0.8f};
    int_quantizer<uint_format<3>> q({.rule = scale_rule::fixed_range(-0.5f, 2.0f)});
    for (auto b : {backend::scalar, backend::simd}) {
        auto t = q.quantize(x, b);
        CHECK(t.scales[0] == doctest::Approx(2.5 / 7.0));
        CHECK(t.codes() == std::vector<std::uint8_t>{4, 7, 1, 4});
        const auto y = q.dequantize(t, b);
        const float want[] = {0.93f, 2.0f, -0.14f, 0.93f};
        for (int i = 0; i < 4; ++i) CHECK(std::fabs(y[i] - want[i]) <= 0.005f);
    }
}

TEST_CASE("integer zero point form") {
    // s = 2.5/7, z = round(0.5 / s) = 1: x̂ = s (q − z).
    const std::vector<float> x = {1.1f, 2.4f, -0.3f, 0.8f, 0.0f};
    int_quantizer<uint_format<3>> q(
        {.rule = scale_rule::fixed_range(-0.5f, 2.0f), .form = affine::zero_point});
    auto t = q.quantize(x);
    CHECK(t.zero_points[0] == 1);
    const auto y = q.dequantize(t);
    CHECK(y[4] == 0.0f);  // zero is exact with an integer zero point
    CHECK(std::fabs(y[0] - 1.1f) <= 0.18f);
}

TEST_CASE("format code layout") {
    using F = int_format<4, int_range::full>;
    CHECK(F::qmin == -8);
    CHECK(F::qmax == 7);
    CHECK(F::to_code(-1) == 0xF);
    CHECK(F::to_int(0x8) == -8);
    CHECK(F::to_int(0x7) == 7);
    using R = int_format<3>;
    CHECK(R::qmin == -3);
    CHECK(R::qmax == 3);
    for (int q = F::qmin; q <= F::qmax; ++q) CHECK(F::to_int(F::to_code(q)) == q);
}

TEST_CASE("full-range absmax maps the extreme element to qmin exactly (Q4_0 rule)") {
    std::vector<float> x = lowbit_test::gaussian(64, 3);
    x[5] = 9.0f;  // the extreme is positive: the scale comes out negative
    int_quantizer<int_format<4, int_range::full>> q({.gran = granularity::group(32)});
    auto t = q.quantize(x);
    CHECK(t.scales[0] == doctest::Approx(9.0 / -8.0));
    CHECK(int_format<4, int_range::full>::to_int(t.codes()[5]) == -8);
    CHECK(q.dequantize(t)[5] == 9.0f);
}

TEST_CASE("Gaussian-optimal clip of the 2^b-level midrise grid (largest level, in sigma)") {
    // The table: 0.798, 1.494, 2.051, 2.514, 2.916, 3.277, 3.601, 3.885. For b <= 5 we
    // reproduce it to ±0.0005. For b >= 6 the error surface is flat and the table sits slightly
    // left of the true minimum: 40-digit quadrature (mpmath) gives E[MSE] = 1.0400465e-3 at
    // 3.277 vs 1.0400454e-3 at 3.278 (b = 6), 3.0436633e-4 at 3.601 vs 3.0433277e-4 at 3.611
    // (b = 7), 8.7821159e-5 at 3.885 vs 8.7686190e-5 at 3.922 (b = 8). So for those we pin our
    // optimum and check that it beats the table's value.
    const double table[] = {0.798, 1.494, 2.051, 2.514, 2.916, 3.277, 3.601, 3.885};
    const double ours[] = {0.798, 1.494, 2.051, 2.514, 2.916, 3.278, 3.611, 3.922};
    for (int b = 1; b <= 8; ++b) {
        const auto levels = midrise_levels(b);
        const double c = gaussian_optimal_step(levels);
        CAPTURE(b);
        CHECK(c * levels.back() == doctest::Approx(ours[b - 1]).epsilon(0.0005 / ours[b - 1]));
        if (b >= 6) {
            std::vector<double> at_table(levels.size()), at_ours(levels.size());
            for (std::size_t i = 0; i < levels.size(); ++i) {
                at_table[i] = levels[i] * table[b - 1] / levels.back();
                at_ours[i] = levels[i] * c;
            }
            CHECK(gaussian_expected_mse(at_ours) < gaussian_expected_mse(at_table));
        }
    }
}

TEST_CASE("int8 per-tensor SQNR on N(0,1)") {
    // 2^20 samples of N(0,1) have absmax ≈ 4.9σ, so plain absmax gives s ≈ 4.9/127 and
    // SQNR ≈ 10·log10(12/s²) ≈ 39.1 dB: just under 40 by arithmetic, not by a defect. A clip
    // chosen by MSE search (or a given L = 4σ) clears 40 dB.
    const auto x = lowbit_test::gaussian(1 << 20, 11);
    int_quantizer<int_format<8>> absmax;
    const double s_absmax = sqnr_db(x, absmax.dequantize(absmax.quantize(x)));
    CHECK(s_absmax > 38.5);
    CHECK(s_absmax < 40.0);
    int_quantizer<int_format<8>> searched({.rule = scale_rule::mse_search()});
    CHECK(sqnr_db(x, searched.dequantize(searched.quantize(x))) > 40.0);
    int_quantizer<int_format<8>> fixed({.rule = scale_rule::fixed(4.0f)});
    CHECK(sqnr_db(x, fixed.dequantize(fixed.quantize(x))) > 40.0);
}

template <class Q>
void check_paths_agree(const Q& q, const std::vector<float>& x, shape2d shape) {
    auto ts = q.quantize(x, shape, backend::scalar);
    auto tv = q.quantize(x, shape, backend::simd);
    REQUIRE(ts.packed == tv.packed);
    REQUIRE(ts.scales.size() == tv.scales.size());
    for (std::size_t i = 0; i < ts.scales.size(); ++i)
        REQUIRE(std::memcmp(&ts.scales[i], &tv.scales[i], sizeof(ts.scales[i])) == 0);
    REQUIRE(ts.zero_points == tv.zero_points);
    std::vector<float> ys(x.size()), yv(x.size());
    q.dequantize(ts, ys, backend::scalar);
    q.dequantize(ts, yv, backend::simd);
    REQUIRE(lowbit_test::same_bits(ys, yv));
    // Threads: bit-identical to the single-thread result whatever the count.
    for (unsigned th : lowbit_test::thread_counts()) {
        auto tp = quantize_parallel(q, x, shape, th);
        REQUIRE(tp.packed == tv.packed);
        std::vector<float> yp(x.size());
        dequantize_parallel(q, tv, yp, th);
        REQUIRE(lowbit_test::same_bits(yp, yv));
    }
}

TEST_CASE_TEMPLATE("scalar and SIMD agree bit for bit", F, int_format<8>,
                   int_format<4, int_range::full>, int_format<3>, int_format<2, int_range::full>,
                   uint_format<4>, uint_format<5>, int_format<7>) {
    const round_mode modes[] = {round_mode::nearest_even, round_mode::nearest_away,
                                round_mode::toward_zero,  round_mode::floor,
                                round_mode::stochastic,   round_mode::nearest_up,
                                round_mode::nearest_zero};
    const granularity grans[] = {granularity::tensor(),   granularity::group(32),
                                 granularity::group(7),   granularity::group(300),
                                 granularity::channel(0), granularity::channel(1)};
    for (std::size_t n : lowbit_test::lengths()) {
        if (n > 5000) continue;
        for (int adv = 0; adv < 2; ++adv) {
            const auto x =
                adv ? lowbit_test::adversarial(n, 100 + n) : lowbit_test::gaussian(n, 200 + n);
            const std::size_t cols = n % 2 == 0 && n > 2 ? n / 2 : n;
            const shape2d shape{n / (cols ? cols : 1), cols};
            for (auto m : modes)
                for (auto g : grans) {
                    CAPTURE(n);
                    CAPTURE(adv);
                    CAPTURE(int(m));
                    CAPTURE(int(g.type));
                    CAPTURE(g.group_size);
                    typename int_quantizer<F>::options o;
                    o.gran = g;
                    o.round = {m, 1234};
                    check_paths_agree(int_quantizer<F>(o), x, n == 0 ? shape2d{0, 0} : shape);
                    check_paths_agree(int_quantizer<F, Eigen::half>(o), x,
                                      n == 0 ? shape2d{0, 0} : shape);
                }
        }
    }
}

TEST_CASE_TEMPLATE("scalar and SIMD agree on large aligned shapes (block drivers)", F,
                   int_format<8>, int_format<4, int_range::full>, int_format<4>,
                   int_format<3, int_range::full>, int_format<2, int_range::full>, uint_format<4>,
                   uint_format<8>) {
    // Rows of whole groups, many chunks and blocks: the paths the small-length test above
    // does not reach (per-group blocks of >= 16 groups, per-channel runs across chunks).
    // LOWBIT_TEST_SCALE shrinks the largest two (never below 4 rows or 4 chunks of a row).
    const shape2d shapes[] = {{lowbit_test::scaled(64, 4), 1024},
                              {3, lowbit_test::scaled(4096, 1024, 256)},
                              {17, 512},
                              {1, lowbit_test::scaled(65536, 4096, 256)}};
    const granularity grans[] = {granularity::tensor(),   granularity::group(32),
                                 granularity::group(16),  granularity::group(64),
                                 granularity::group(128), granularity::channel(0),
                                 granularity::channel(1)};
    for (auto shape : shapes)
        for (int adv = 0; adv < 2; ++adv) {
            const auto x = adv ? lowbit_test::adversarial(shape.size(), 7)
                               : lowbit_test::gaussian(shape.size(), 8);
            for (auto g : grans) {
                CAPTURE(shape.rows);
                CAPTURE(shape.cols);
                CAPTURE(adv);
                CAPTURE(g.group_size);
                CAPTURE(int(g.type));
                typename int_quantizer<F>::options o;
                o.gran = g;
                check_paths_agree(int_quantizer<F>(o), x, shape);
                check_paths_agree(int_quantizer<F, Eigen::half>(o), x, shape);
                check_paths_agree(int_quantizer<F, Eigen::bfloat16>(o), x, shape);
                for (auto order : {nibble_order::high_first, nibble_order::ggml_split}) {
                    if (F::bits != 4) break;
                    o.order = order;
                    check_paths_agree(int_quantizer<F, Eigen::half>(o), x, shape);
                }
            }
        }
}

TEST_CASE("scale storage: values round to the storage type and saturate") {
    const std::vector<float> x = {1.0f, -3.0f, 70000.0f * 127.0f};
    int_quantizer<int_format<8>, Eigen::bfloat16> qb({.gran = granularity::group(2)});
    auto t = qb.quantize(x);
    CHECK(float(t.scales[0]) ==
          float(Eigen::bfloat16(3.0f / 127.0f)));  // the stored scale is the rounded one
    int_quantizer<int_format<8>, Eigen::half> qh({.gran = granularity::group(2)});
    auto th = qh.quantize(x);
    CHECK(float(th.scales[1]) == 65504.0f);  // 70000 > fp16 max: saturates, never Inf
    CHECK(scale_bits<Eigen::bfloat16> == 16);
}

TEST_CASE("every scale rule runs on every path and the rules rank as they should") {
    const auto x = lowbit_test::gaussian(4096, 5);
    const scale_rule rules[] = {scale_rule::absmax(),         scale_rule::minmax(),
                                scale_rule::percentile(0.9f), scale_rule::percentile(0.95f),
                                scale_rule::mse_search(),     scale_rule::gaussian_optimal(),
                                scale_rule::fixed(3.0f)};
    double err[7];
    for (int k = 0; k < 7; ++k) {
        int_quantizer<int_format<4>> q({.gran = granularity::tensor(), .rule = rules[k]});
        check_paths_agree(q, x, {64, 64});
        err[k] = mse(x, q.dequantize(q.quantize(x)));
        check_paths_agree(int_quantizer<uint_format<4>>({.rule = rules[k]}), x, {64, 64});
    }
    CHECK(err[4] <= err[0]);  // the MSE search never does worse than plain absmax
    CHECK(err[5] < err[0]);   // on Gaussian data the Gaussian-optimal clip beats absmax at 4 bits
}

TEST_CASE("stochastic rounding is unbiased and reproducible") {
    std::vector<float> x(1 << 16, 0.3f);
    int_quantizer<int_format<8>> q(
        {.rule = scale_rule::fixed(127.0f), .round = {round_mode::stochastic, 42}});
    const auto y = q.dequantize(q.quantize(x));
    double mean = 0;
    for (float v : y) mean += v;
    mean /= double(y.size());
    CHECK(mean == doctest::Approx(0.3).epsilon(0.02));
    CHECK(q.quantize(x).packed == q.quantize(x).packed);
    int_quantizer<int_format<8>> q2(
        {.rule = scale_rule::fixed(127.0f), .round = {round_mode::stochastic, 43}});
    CHECK(q2.quantize(x).packed != q.quantize(x).packed);
}

TEST_CASE("adversarial values: documented saturation and NaN handling") {
    const float inf = std::numeric_limits<float>::infinity(),
                nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> x = {nan, inf, -inf, 1.0f, -1.0f, 0.0f, -0.0f, 1e-42f};
    int_quantizer<int_format<8>> q;
    auto t = q.quantize(x);
    CHECK(t.scales[0] == doctest::Approx(1.0f / 127.0f));  // non-finite values ignored by absmax
    const auto y = q.dequantize(t);
    CHECK(y[0] == 0.0f);
    CHECK(y[1] == 1.0f);
    CHECK(y[2] == -1.0f);
    // An all-zero group: scale 0, all codes 0, all values 0.
    std::vector<float> z(64, 0.0f);
    int_quantizer<int_format<4, int_range::full>, Eigen::half> qg({.gran = granularity::group(32)});
    auto tz = qg.quantize(z);
    for (auto c : tz.codes()) CHECK(c == 0);
    for (float v : qg.dequantize(tz)) CHECK(v == 0.0f);
    // Huge values: the fp16 scale saturates instead of becoming Inf.
    std::vector<float> h = {1e38f, -1e38f, 1.0f};
    auto th = qg.quantize(h);
    CHECK(std::isfinite(float(th.scales[0])));
}

TEST_CASE("errors name the argument") {
    std::vector<float> x(10);
    int_quantizer<int_format<4>> q;
    CHECK_THROWS_WITH_AS((void)q.quantize(x, shape2d{3, 3}),
                         "lowbit: x: must hold shape.rows * shape.cols values", lowbit::error);
    CHECK_THROWS_WITH_AS(int_quantizer<int_format<4>>({.gran = granularity::group(0)}),
                         "lowbit: options.gran.group_size: must be > 0", lowbit::error);
    CHECK_THROWS_WITH_AS(int_quantizer<int_format<4>>({.rule = scale_rule::percentile(1.5f)}),
                         "lowbit: scale_rule.ratio: must be in (0, 1]", lowbit::error);
    CHECK_THROWS_AS(int_quantizer<int_format<4>>({.form = affine::offset}), lowbit::error);
    CHECK_THROWS_AS(
        int_quantizer<int_format<4>>({.gran = granularity::channel(2)}).quantize(x, shape2d{2, 5}),
        lowbit::error);
    auto t = q.quantize(x);
    std::vector<float> small(3);
    CHECK_THROWS_AS(q.dequantize(t, small), lowbit::error);
}

TEST_CASE_TEMPLATE(
    "codes from the unrounded scale (ggml): the float scale's codes, rounded storage", F,
    int_format<8>, int_format<4, int_range::full>, int_format<5, int_range::full>, uint_format<4>,
    uint_format<5>) {
    for (int adv = 0; adv < 2; ++adv) {
        const shape2d shape{7, 320};
        const auto x = adv ? lowbit_test::adversarial(shape.size(), 71)
                           : lowbit_test::gaussian(shape.size(), 72);
        for (auto m : {round_mode::nearest_up, round_mode::nearest_away}) {
            CAPTURE(adv);
            CAPTURE(int(m));
            typename int_quantizer<F>::options o;
            o.gran = granularity::group(32);
            o.round = {m, 0};
            o.order = F::bits == 4 ? nibble_order::ggml_split : nibble_order::low_first;
            const auto exact = int_quantizer<F>(o).quantize(x, shape);  // float scales
            o.codes_from = code_scale::unrounded;
            // Adversarial groups reach float's range, where the float-scale quantizer saturates
            // its scales and fp16 storage saturates differently: the paths must still agree.
            for (auto b : {backend::scalar, backend::simd}) {
                if (adv) break;
                const auto t = int_quantizer<F, Eigen::half>(o).quantize(x, shape, b);
                CHECK(t.packed == exact.packed);
                REQUIRE(t.scales.size() == exact.scales.size());
                for (std::size_t i = 0; i < t.scales.size(); ++i) {
                    CHECK(lowbit_test::same_bits(
                        std::vector<float>{float(t.scales[i])},
                        std::vector<float>{float(store_scale<Eigen::half>(exact.scales[i]))}));
                }
                for (std::size_t i = 0; i < t.offsets.size(); ++i)
                    CHECK(float(t.offsets[i]) == float(store_scale<Eigen::half>(exact.offsets[i])));
            }
            check_paths_agree(int_quantizer<F, Eigen::half>(o), x, shape);
            check_paths_agree(int_quantizer<F, Eigen::half>(o),
                              std::vector<float>(x.begin(), x.begin() + 5 * 301),
                              {5, 301});  // partial groups
        }
    }
    typename int_quantizer<F>::options o;
    o.codes_from = code_scale::unrounded;  // per tensor: encode reads the stored scale back
    CHECK_THROWS_WITH_AS(int_quantizer<F>{o}, doctest::Contains("options.codes_from"), error);
    o.gran = granularity::group(512);
    CHECK_THROWS_AS(int_quantizer<F>{o}, error);
    o.codes_from = static_cast<code_scale>(7);
    o.gran = granularity::group(32);
    CHECK_THROWS_AS(int_quantizer<F>{o}, error);
}
