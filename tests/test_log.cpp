// Logarithmic format log2_format<B> and log_quantizer: every code, the rounding thresholds of
// both rounding rules, zero and saturation, decode by exponent arithmetic, scalar == SIMD.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "fp_vectors.hpp"
#include "test_util.hpp"

using namespace lowbit;
using lowbit_test::as_bits;

TEST_CASE("log4 and log3 levels") {
    using L4 = log2_format<4>;
    using L3 = log2_format<3>;
    CHECK(L4::top == 7);
    CHECK(L3::top == 3);
    for (int k = 1; k <= 7; ++k) {
        CHECK(L4::decode(std::uint8_t(k)) == std::ldexp(1.0f, k - 7));
        CHECK(L4::decode(std::uint8_t(k | 8)) == -std::ldexp(1.0f, k - 7));
        CHECK(L4::encode(std::ldexp(1.0f, k - 7)) == k);
    }
    CHECK(L4::decode(0) == 0.0f);
    CHECK(as_bits(L4::decode(8)) == 0x80000000u);  // −0
    const float l3[] = {0.0f, 0.25f, 0.5f, 1.0f};
    for (int k = 0; k < 4; ++k) CHECK(L3::decode(std::uint8_t(k)) == l3[k]);
}

TEST_CASE("rounding thresholds: linear (1.5·2^j, ties up) and log (√2·2^j)") {
    using L = log2_format<4>;
    const float below = std::nextafter(0.75f, 0.0f);
    CHECK(L::encode(0.75f) == 7);  // the linear tie between 0.5 and 1 goes up
    CHECK(L::encode(below) == 6);
    CHECK(L::encode(0.7f) == 6);
    CHECK(L::encode(0.7f, log_rounding::log) == 6);  // 0.7 < √2/2 = 0.7071
    CHECK(L::encode(0.7072f, log_rounding::log) == 7);
    CHECK(L::encode(lowbit_test::as_float(0x3F3504F3u), log_rounding::log) ==
          6);  // the float just below √2 / 2
    CHECK(L::encode(lowbit_test::as_float(0x3F3504F4u), log_rounding::log) ==
          7);                      // the float just above it
    CHECK(L::encode(0.72f) == 6);  // log would round up, linear does not
    CHECK(L::encode(0.72f, log_rounding::log) == 7);
    // Zero: below half the smallest power 2^-6 → 0; from there up → 2^-6.
    CHECK(L::encode(0x1p-7f) == 1);
    CHECK(L::encode(std::nextafter(0x1p-7f, 0.0f)) == 0);
    CHECK(L::encode(-0x1p-8f) == 8);  // −0
    CHECK(L::encode(0x1.7p-7f) == 1);
    // Saturation and non-finite values.
    CHECK(L::encode(1.9f) == 7);
    CHECK(L::encode(1e30f) == 7);
    CHECK(L::encode(-std::numeric_limits<float>::infinity()) == 15);
    CHECK(L::encode(std::numeric_limits<float>::quiet_NaN()) == 0);
    // Against a brute-force nearest search on a dense sweep.
    for (float y = 0.001f; y < 1.2f; y *= 1.0013f) {
        int best = 0;
        double bd = y;
        for (int k = 1; k <= 7; ++k) {
            const double d = std::fabs(double(y) - std::ldexp(1.0, k - 7));
            if (d <= bd) {
                bd = d;
                best = k;
            }  // ties to the larger power
        }
        CAPTURE(y);
        CHECK(L::encode(y) == best);
        int lbest = 0;
        double lbd = 1e9;
        for (int k = 1; k <= 7; ++k) {
            const double d = std::fabs(std::log2(double(y)) - (k - 7));
            if (d < lbd) {
                lbd = d;
                lbest = k;
            }
        }
        if (y < 0x1p-7f) lbest = 0;
        CHECK(L::encode(y, log_rounding::log) == lbest);
    }
}

TEST_CASE("decode by exponent arithmetic equals s · 2^(k − top)") {
    using L = log2_format<4>;
    const float scales[] = {1.0f,   0.0123f,   3.5e-5f, 6.0e4f, 1e-30f,
                            1e-37f, 0x1p-120f, 1e-45f,  0.0f};
    for (float s : scales)
        for (int c = 0; c < 16; ++c) {
            CAPTURE(s);
            CAPTURE(c);
            const float want = s * L::decode(std::uint8_t(c));
            CHECK(as_bits(L::decode_scaled(std::uint8_t(c), s)) == as_bits(want));
        }
}

TEST_CASE("log quantizer: the group absmax is exact, SQNR in range, bits per value") {
    const auto x = lowbit_test::gaussian(4096, 8);
    log_quantizer<4> q;
    auto t = q.quantize(x);
    CHECK(t.bits_per_value() == 4.5);
    const auto y = q.dequantize(t);
    for (std::size_t g = 0; g < 4096 / 32; ++g) {
        float amax = 0;
        std::size_t at = 0;
        for (std::size_t i = g * 32; i < g * 32 + 32; ++i)
            if (std::fabs(x[i]) > amax) {
                amax = std::fabs(x[i]);
                at = i;
            }
        CHECK(std::fabs(y[at]) == float(Eigen::half(amax)));
    }
    // A power-of-two grid with ratio 2 has relative error up to 1/3: SQNR on N(0,1) is ~ 10–13 dB.
    const double s4 = sqnr_db(x, y);
    CHECK(s4 > 9.0);
    CHECK(s4 < 16.0);
    log_quantizer<3> q3;
    CHECK(sqnr_db(x, q3.dequantize(q3.quantize(x))) < s4);
    log_quantizer<4> ql({.round = log_rounding::log});
    CHECK(sqnr_db(x, ql.dequantize(ql.quantize(x))) > 8.0);
}

TEST_CASE_TEMPLATE("log: scalar and SIMD agree bit for bit", Q, log_quantizer<4>, log_quantizer<3>,
                   log_quantizer<5, float>) {
    for (std::size_t n : lowbit_test::lengths())
        for (int adv = 0; adv < 2; ++adv)
            for (auto r : {log_rounding::linear, log_rounding::log}) {
                const auto x = adv ? lowbit_test::adversarial(n, 700 + n, 0.01f)
                                   : lowbit_test::gaussian(n, 800 + n);
                const std::size_t cols = n > 100 && n % 2 == 0 ? n / 2 : n;
                const shape2d shape = n == 0 ? shape2d{0, 0} : shape2d{n / cols, cols};
                for (std::size_t g : {std::size_t{32}, std::size_t{7}, std::size_t{300}}) {
                    CAPTURE(n);
                    CAPTURE(adv);
                    CAPTURE(g);
                    Q q({.group = g, .round = r});
                    auto ts = q.quantize(x, shape, backend::scalar);
                    auto tv = q.quantize(x, shape, backend::simd);
                    REQUIRE(ts.packed == tv.packed);
                    REQUIRE(ts.scales.size() == tv.scales.size());
                    for (std::size_t i = 0; i < ts.scales.size(); ++i)
                        REQUIRE(float(ts.scales[i]) == float(tv.scales[i]));
                    std::vector<float> ys(n), yv(n), yp(n);
                    q.dequantize(ts, ys, backend::scalar);
                    q.dequantize(ts, yv, backend::simd);
                    REQUIRE(lowbit_test::same_bits(ys, yv));
                    auto tp = quantize_parallel(q, x, shape, 3);
                    REQUIRE(tp.packed == tv.packed);
                    dequantize_parallel(q, tv, yp, 3);
                    REQUIRE(lowbit_test::same_bits(yp, yv));
                }
            }
}

TEST_CASE("log: errors name the argument") {
    CHECK_THROWS_WITH_AS(log_quantizer<4>({.group = 0}), "lowbit: options.group: must be > 0",
                         lowbit::error);
    std::vector<float> x(5);
    CHECK_THROWS_AS((void)log_quantizer<4>().quantize(x, shape2d{2, 2}), lowbit::error);
}

TEST_CASE("log: fused SIMD path with float scales so small that decoding needs the multiply") {
    // Groups whose absmax is near float32's normal limit: s's exponent field is <= top, so
    // exponent arithmetic would leave the normal range and both paths use s · 2^(k − top).
    auto x = lowbit_test::gaussian(4096, 77, 1e-38f);
    for (std::size_t i = 0; i < 64; ++i) x[i] = 3e-45f * float(i % 7);
    log_quantizer<4, float> q;
    const shape2d shape{4, 1024};
    auto ts = q.quantize(x, shape, backend::scalar);
    auto tv = q.quantize(x, shape, backend::simd);
    REQUIRE(ts.packed == tv.packed);
    REQUIRE(ts.scales == tv.scales);
    std::vector<float> ys(x.size()), yv(x.size());
    q.dequantize(ts, ys, backend::scalar);
    q.dequantize(ts, yv, backend::simd);
    CHECK(lowbit_test::same_bits(ys, yv));
    bool some_nonzero = false;
    for (float v : ys) some_nonzero |= v != 0.0f;
    CHECK(some_nonzero);
}
