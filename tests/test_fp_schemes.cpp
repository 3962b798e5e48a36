// The floating-point family's named schemes through the registry: present, bits per value with
// scale overhead, scalar == SIMD == threads bit for bit, and quantize_into reusing its buffers.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {
struct expect {
    const char* name;
    int code_bits;
    double bpv_4096;
};
// bits per value of a 64×64 tensor: codes + scales (fp32 per tensor 32/4096; fp16 per 32 = 0.5;
// E8M0 per 32 = 0.25; NVFP4: E4M3 per 16 = 0.5 plus fp32 per tensor).
const expect fp_schemes[] = {
    {"e4m3fn", 8, 8 + 32.0 / 4096},
    {"e5m2", 8, 8 + 32.0 / 4096},
    {"e4m3fnuz", 8, 8 + 32.0 / 4096},
    {"e3m2_g32", 6, 6.5},
    {"e2m3_g32", 6, 6.5},
    {"e2m1_g32", 4, 4.5},
    {"mxfp8_e4m3", 8, 8.25},
    {"mxfp8_e5m2", 8, 8.25},
    {"mxfp6_e3m2", 6, 6.25},
    {"mxfp6_e2m3", 6, 6.25},
    {"mxfp4", 4, 4.25},
    {"mxint8", 8, 8.25},
    {"nvfp4", 4, 4.5 + 32.0 / 4096},
    {"log4", 4, 4.5},
    {"log3", 3, 3.5},
};
}  // namespace

TEST_CASE("every floating-point scheme is registered with its storage cost") {
    const auto x = lowbit_test::gaussian(4096, 1);
    for (const auto& e : fp_schemes) {
        CAPTURE(e.name);
        const auto& s = find_scheme(e.name);
        CHECK(s.family == "float");
        auto q = s.make();
        q->quantize(x, {64, 64});
        CHECK(q->code_bits() == e.code_bits);
        CHECK(q->bits_per_value() == doctest::Approx(e.bpv_4096));
        std::vector<float> y(x.size());
        q->dequantize(y);
        CHECK(sqnr_db(x, y) > 5.0);
    }
}

TEST_CASE(
    "every floating-point scheme: scalar, SIMD and threads agree bit for bit; buffers are reused") {
    for (const auto& e : fp_schemes) {
        for (std::size_t n : {std::size_t{1}, std::size_t{33}, std::size_t{1000}, std::size_t{4097},
                              std::size_t{20000}}) {
            for (int adv = 0; adv < 2; ++adv) {
                CAPTURE(e.name);
                CAPTURE(n);
                CAPTURE(adv);
                const auto x = adv ? lowbit_test::adversarial(n, 90 + n, 0.0625f)
                                   : lowbit_test::gaussian(n, 80 + n, 0.05f);
                const shape2d shape = n % 2 == 0 ? shape2d{2, n / 2} : shape2d{1, n};
                auto a = find_scheme(e.name).make(), b = find_scheme(e.name).make(),
                     c = find_scheme(e.name).make();
                a->quantize(x, shape, backend::scalar);
                b->quantize(x, shape, backend::simd);
                c->quantize_parallel(x, shape, 3);
                REQUIRE(a->codes() == b->codes());
                REQUIRE(c->codes() == b->codes());
                std::vector<float> ya(n), yb(n), yc(n);
                a->dequantize(ya, backend::scalar);
                b->dequantize(yb, backend::simd);
                c->dequantize(yc, backend::simd);
                REQUIRE(lowbit_test::same_bits(ya, yb));
                REQUIRE(lowbit_test::same_bits(yc, yb));
            }
        }
    }
}

TEST_CASE("quantize_into reuses the tensor's buffers") {
    const auto x = lowbit_test::gaussian(8192, 3);
    auto check = [&](auto q) {
        auto t = q.quantize(x);
        const auto* p = t.packed.data();
        const auto* s = t.scales.data();
        q.quantize_into(x, {1, x.size()}, t);
        CHECK(t.packed.data() == p);
        CHECK(t.scales.data() == s);
    };
    check(minifloat_quantizer<e4m3fn>());
    check(mx_quantizer<e2m1>());
    check(nvfp4_quantizer());
    check(log_quantizer<4>());
}

TEST_CASE_TEMPLATE(
    "minifloat quantizer: scalar and SIMD agree for every length, granularity and rounding", F,
    e4m3fn, e5m2, e3m2, e2m1) {
    const granularity grans[] = {granularity::tensor(), granularity::group(32),
                                 granularity::group(7), granularity::group(300),
                                 granularity::channel(0)};
    const round_mode modes[] = {round_mode::nearest_even, round_mode::stochastic,
                                round_mode::nearest_away, round_mode::nearest_up};
    for (std::size_t n : lowbit_test::lengths())
        for (int adv = 0; adv < 2; ++adv) {
            const auto x =
                adv ? lowbit_test::adversarial(n, 10 + n, 0.01f) : lowbit_test::gaussian(n, 20 + n);
            const std::size_t cols = n > 100 && n % 2 == 0 ? n / 2 : n;
            const shape2d shape = n == 0 ? shape2d{0, 0} : shape2d{n / cols, cols};
            for (auto g : grans)
                for (auto m : modes) {
                    CAPTURE(n);
                    CAPTURE(adv);
                    CAPTURE(int(g.type));
                    CAPTURE(g.group_size);
                    CAPTURE(int(m));
                    minifloat_quantizer<F, Eigen::half> q({.gran = g, .round = {m, 8}});
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

TEST_CASE("minifloat quantizer: absmax maps to max finite, all-zero tensors, errors") {
    std::vector<float> x = {0.5f, -3.0f, 1.0f, 0.0f};
    minifloat_quantizer<e4m3fn> q;
    auto t = q.quantize(x);
    CHECK(t.scales[0] == 3.0f / 448.0f);
    const auto y = q.dequantize(t);
    CHECK(y[1] == -3.0f);  // −448 · s
    CHECK(t.codes()[1] == 0xFE);
    std::vector<float> z(10, 0.0f);
    auto tz = q.quantize(z);
    for (float v : q.dequantize(tz)) CHECK(v == 0.0f);
    CHECK_THROWS_WITH_AS(
        minifloat_quantizer<e4m3fn>({.gran = granularity::channel(1)}),
        "lowbit: options.gran.axis: minifloat quantizers scale rows (axis 0) or groups of a row",
        lowbit::error);
    CHECK_THROWS_AS(minifloat_quantizer<e4m3fn>({.gran = granularity::group(0)}), lowbit::error);
}

TEST_CASE(
    "scales given beforehand: quantize_with_scales and quantize_with_global_scale equal encode "
    "under them") {
    const auto x = lowbit_test::adversarial(64 * 96 + 0, 41);  // NaN, ±Inf, subnormals, huge values
    const shape2d shape{64, 96};
    // Minifloat, per tensor and per group of 32, under the scales quantize() computes, their
    // quarter (values saturate) and three times them; SIMD and scalar paths.
    for (const granularity& gran :
         {granularity::tensor(), granularity::group(32), granularity::channel(0)}) {
        minifloat_quantizer<e4m3fn> q({.gran = gran});
        const auto own = q.quantize(x, shape, backend::scalar);
        for (float k : {1.0f, 0.25f, 3.0f}) {
            std::vector<float> s = own.scales;
            for (float& v : s) v *= k;
            auto want = q.prepare(x, shape);  // sized; then encode under the given scales
            want.scales = s;
            q.encode(x, want, 0, x.size(), backend::scalar);
            for (backend b : {backend::scalar, backend::simd}) {
                const auto got = q.quantize_with_scales(x, shape, std::span<const float>(s), b);
                CAPTURE(k);
                CHECK(got.packed == want.packed);
                CHECK(got.scales == s);
                if (k == 1.0f)
                    CHECK(got.packed == own.packed);  // its own scales: quantize()'s codes
            }
        }
    }
    // A zero scale makes every finite value 0 (NaN and ±Inf times 0 are NaN); bad scales and sizes
    // are refused, naming the argument.
    auto zero_where_finite = [&](const std::vector<float>& y) {
        bool ok = true;
        for (std::size_t i = 0; i < x.size(); ++i)
            ok = ok && (!std::isfinite(x[i]) || y[i] == 0.0f);
        return ok;
    };
    minifloat_quantizer<e5m2> q5;
    const std::vector<float> zero = {0.0f};
    const auto tz = q5.quantize_with_scales(x, shape, std::span<const float>(zero));
    CHECK(zero_where_finite(q5.dequantize(tz)));
    const std::vector<float> two = {1.0f, 1.0f}, neg = {-1.0f}, nan = {NAN}, inf = {INFINITY};
    CHECK_THROWS_WITH_AS((void)q5.quantize_with_scales(x, shape, std::span<const float>(two)),
                         "lowbit: scales: must hold opts().gran.scale_count(shape) values",
                         lowbit::error);
    for (const auto* bad : {&neg, &nan, &inf})
        CHECK_THROWS_WITH_AS((void)q5.quantize_with_scales(x, shape, std::span<const float>(*bad)),
                             "lowbit: scales: must be finite and >= 0", lowbit::error);
    CHECK_THROWS_AS((void)q5.quantize_with_scales(std::span<const float>(x).first(10), shape,
                                                  std::span<const float>(zero)),
                    lowbit::error);

    // NVFP4 under its own tensor scale, ×4 and ×1/8 (block scales saturate at 448).
    nvfp4_quantizer nv;
    const auto own = nv.quantize(x, shape, backend::scalar);
    for (float k : {1.0f, 4.0f, 0.125f}) {
        const float g = own.global_scale * k;
        nvfp4_tensor want = nv.prepare(x, shape);
        want.global_scale = g;
        nv.encode(x, want, 0, x.size(), backend::scalar);
        for (backend b : {backend::scalar, backend::simd}) {
            const auto got = nv.quantize_with_global_scale(x, shape, g, b);
            CAPTURE(k);
            CHECK(got.packed == want.packed);
            CHECK(got.scales == want.scales);
            CHECK(got.global_scale == g);
            if (k == 1.0f) CHECK(got.packed == own.packed);
        }
    }
    const auto g0 = nv.quantize_with_global_scale(x, shape, 0.0f);
    CHECK(zero_where_finite(nv.dequantize(g0)));
    CHECK(std::all_of(g0.scales.begin(), g0.scales.end(), [](std::uint8_t c) { return c == 0; }));
    for (float bad : {-1.0f, NAN, INFINITY})
        CHECK_THROWS_WITH_AS((void)nv.quantize_with_global_scale(x, shape, bad),
                             "lowbit: global_scale: must be finite and >= 0", lowbit::error);
}
