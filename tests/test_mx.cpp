// Block floating point, OCP MX and NVFP4: scale rules (where the four E8M0 policies differ, and
// the 'ml_dtypes' rule against ml_dtypes vectors), worked blocks, element saturation, MXINT8 and
// generic BFP codes, NVFP4's two-level scale, golden packed bytes, scalar == SIMD bit for bit.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "fp_vectors.hpp"
#include "test_util.hpp"

using namespace lowbit;
using lowbit_test::as_float;

TEST_CASE("E8M0 scale rules where they differ (amax mantissa just under / over 1.5, at 1.75)") {
    using R = mx_scale_rounding;
    // E2M1: emax = 2, max = 6 = 1.5·2^2. amax = m · 2^4.
    struct row {
        float m;
        int floor_, even, up, ml;
    };
    const row rows[] = {
        // floor: 4 − 2 = 2 always. nearest_even: amax to the nearer power (1.5 ties to even 2^4).
        // round_up: least E with amax / 2^E ≤ 6. ml_dtypes: e8m0(amax / 6), nearest, ties up.
        {1.0f, 2, 2, 2, 1},        // 16/6 = 2.67 = 1.33·2^1 → 2^1
        {1.4999999f, 2, 2, 2, 2},  // 24/6 ≈ 4 − ε = 1.99·2^1 → 2^2
        {1.5f, 2, 2, 2, 2},        // 24: tie between 2^4 and 2^5 → even exponent 4; 24/4 = 6 fits
        {1.5000001f, 2, 3, 3, 2},  // just over 6 · 2^2: round_up moves to 2^3
        {1.75f, 2, 3, 3, 2},       // 28/6 = 4.67 = 1.17·2^2 → 2^2
        {1.9999999f, 2, 3, 3, 2},  // 32/6 = 5.33 = 1.33·2^2 → 2^2
    };
    for (const auto& r : rows) {
        const float amax = r.m * 16.0f;
        CAPTURE(amax);
        CHECK(mx_scale_exponent<e2m1>(amax, R::ocp_floor) == r.floor_);
        CHECK(mx_scale_exponent<e2m1>(amax, R::nearest_even) == r.even);
        CHECK(mx_scale_exponent<e2m1>(amax, R::round_up) == r.up);
        CHECK(mx_scale_exponent<e2m1>(amax, R::ml_dtypes) == r.ml);
    }
    // nearest_even's tie goes to the even exponent: 1.5·2^5 = 48 → 2^6 (k = 5 is odd).
    CHECK(mx_scale_exponent<e2m1>(48.0f, R::nearest_even) == 6 - 2);
    // E4M3 (max 448 = 1.75·2^8): 1.7·2^8 fits at floor, 1.8·2^8 needs round_up's extra power.
    CHECK(mx_scale_exponent<e4m3fn>(1.7f * 256, R::round_up) == 0);
    CHECK(mx_scale_exponent<e4m3fn>(1.8f * 256, R::round_up) == 1);
    CHECK(mx_scale_exponent<e4m3fn>(1.8f * 256, R::ocp_floor) == 0);
    // Clamping and degenerate blocks.
    CHECK(mx_scale_exponent<e2m1>(0.0f, R::ocp_floor) == -127);
    CHECK(mx_scale_exponent<e2m1>(1e-45f, R::ocp_floor) == -127);
    CHECK(mx_scale_exponent<e4m3fn>(std::numeric_limits<float>::max(), R::ocp_floor) == 127 - 8);
    CHECK(mx_scale_exponent<mx_int8>(3.0f, R::ocp_floor) == 1);  // INT8: emax 0
    CHECK(lowbit::detail::floor_log2(0x1p-149f) == -149);
    CHECK(lowbit::detail::floor_log2(0x1.8p-140f) == -140);
}

TEST_CASE("the 'ml_dtypes' scale rule equals ml_dtypes' float8_e8m0fnu cast of amax / max_elem") {
    const auto amax = lowbit_test::read_u32("mx_scale.amax.u32");
    REQUIRE(amax.size() > 500);
    auto run = [&](auto tag, const char* name) {
        using E = decltype(tag);
        const auto want =
            lowbit_test::read_bytes(std::string("mx_scale.") + name + ".ml_dtypes.e8m0");
        REQUIRE(want.size() == amax.size());
        for (std::size_t i = 0; i < amax.size(); ++i) {
            CAPTURE(name);
            CAPTURE(as_float(amax[i]));
            CHECK(mx_scale_exponent<E>(as_float(amax[i]), mx_scale_rounding::ml_dtypes) + 127 ==
                  int(want[i]));
        }
    };
    run(e4m3fn{}, "e4m3fn");
    run(e5m2{}, "e5m2");
    run(e3m2{}, "e3m2");
    run(e2m3{}, "e2m3");
    run(e2m1{}, "e2m1");
    run(mx_int8{}, "int8");
}

TEST_CASE("MXFP4 worked block: OCP floor scale, element saturation, packed bytes") {
    // amax 7: floor(log2 7) − 2 = 0, X = 1; 7 saturates to 6 (OCP: clamp to max normal).
    std::vector<float> x(32, 0.0f);
    x[0] = 7.0f;
    x[1] = -2.5f;
    x[2] = 0.25f;
    x[3] = 1.25f;
    x[4] = -0.0f;
    x[5] = 5.0f;
    mx_quantizer<e2m1> q;
    for (auto b : {backend::scalar, backend::simd}) {
        auto t = q.quantize(x, b);
        REQUIRE(t.scales.size() == 1);
        CHECK(t.scales[0] == 127);
        const auto c = t.codes();
        // 7 → 6 (0x7), −2.5 ties to −2 (0xC), 0.25 ties to 0 (0x0), 1.25 ties to 1 (0x2), −0 → 0x8,
        // 5 ties to 4 (0x6)
        CHECK(std::vector<std::uint8_t>(c.begin(), c.begin() + 6) ==
              std::vector<std::uint8_t>{0x7, 0xC, 0x0, 0x2, 0x8, 0x6});
        // FP4 golden bytes: two codes per byte, element 0 in the low nibble.
        CHECK(t.packed.size() == 16);
        CHECK(t.packed[0] == 0xC7);
        CHECK(t.packed[1] == 0x20);
        CHECK(t.packed[2] == 0x68);
        const auto y = q.dequantize(t, b);
        CHECK(y[0] == 6.0f);
        CHECK(y[1] == -2.0f);
        CHECK(y[5] == 4.0f);
        CHECK(t.bits_per_value() == 4.25);
    }
    // round_up avoids the saturation: X = 2, 7/2 = 3.5 ties to 4 → 8.
    mx_quantizer<e2m1> up({.scale_rounding = mx_scale_rounding::round_up});
    auto t = up.quantize(x);
    CHECK(t.scales[0] == 128);
    CHECK(up.dequantize(t)[0] == 8.0f);
}

TEST_CASE("MXFP6 golden bytes: four codes in three bytes") {
    // E3M2 block with amax 16: E = 4 − 4 = 0, codes are the E3M2 codes of the values themselves.
    const std::vector<float> x = {16.0f, -0.25f, 1.0f, 28.0f, 3.0f};
    mx_quantizer<e3m2> q;
    auto t = q.quantize(x);
    CHECK(t.scales[0] == 127);
    const auto c = t.codes();
    CHECK(c == std::vector<std::uint8_t>{0x1C, 0x24, 0x0C, 0x1F, 0x12});
    // stream bits: c0 | c1 << 6 | c2 << 12 | c3 << 18, then c4
    REQUIRE(t.packed.size() == 4);
    CHECK(t.packed[0] == 0x1C);  // 011100 + low 2 bits of 0x24 (00)
    CHECK(t.packed[1] == 0xC9);  // 0x24 >> 2 = 1001, low 4 bits of 0x0C (1100)
    CHECK(t.packed[2] == 0x7C);  // 0x0C >> 4 = 00, 0x1F << 2
    CHECK(t.packed[3] == 0x12);
    CHECK(q.dequantize(t) == std::vector<float>{16.0f, -0.25f, 1.0f, 28.0f, 3.0f});
}

TEST_CASE("MXINT8 and generic BFP elements") {
    // amax 3: X = 2^1; elements q = round(x / 2 · 64).
    const std::vector<float> x = {3.0f, -1.0f, 0.015625f, -3.99f, 0.0f};
    mx_quantizer<mx_int8> q;
    auto t = q.quantize(x);
    CHECK(t.scales[0] == 128);
    const auto c = t.codes();
    CHECK(mx_int8::to_int(c[0]) == 96);
    CHECK(mx_int8::to_int(c[1]) == -32);
    CHECK(mx_int8::to_int(c[2]) == 0);     // 0.5 ties to even 0
    CHECK(mx_int8::to_int(c[3]) == -127);  // −127.7 saturates to −127 (−128 unused)
    CHECK(c[3] == 0x81);
    const auto y = q.dequantize(t);
    CHECK(y[0] == 3.0f);
    CHECK(y[1] == -1.0f);
    CHECK(y[3] == -127.0f / 32.0f);
    CHECK(mx_int8::max() == 1.984375f);
    // BFP<8, 3>: 8 values share an exponent; sign + 3 mantissa bits, no hidden bit.
    bfp_quantizer<8, 3> b;
    const std::vector<float> z = {5.0f, 1.0f, -2.6f, 0.4f, 7.9f, 0, 0, 0, /* next block */ 0.1f,
                                  0.05f};
    auto tb = b.quantize(z);
    REQUIRE(tb.scales.size() == 2);
    CHECK(tb.scales[0] == 127 + 2);  // floor(log2 7.9) = 2, X = 4: values are q · 4 · 2^-2 = q
    CHECK(b.dequantize(tb)[0] == 5.0f);
    CHECK(b.dequantize(tb)[2] == -3.0f);
    CHECK(b.dequantize(tb)[3] == 0.0f);
    CHECK(b.dequantize(tb)[4] == 7.0f);            // saturates at qmax = 7
    CHECK(tb.scales[1] == 127 - 4);                // floor(log2 0.1) = −4
    CHECK(b.dequantize(tb)[8] == 0.125f * 0.75f);  // 0.1 / 2^-4 · 4 = 6.4 → 6 → 6 · 2^-2 · 2^-4
    CHECK(tb.bits_per_value() == doctest::Approx((10 * 4 + 2 * 8) / 10.0));
}

TEST_CASE("NVFP4: per-tensor FP32 scale, E4M3 block scale, E2M1 elements") {
    std::vector<float> x(32, 0.0f);
    for (int i = 0; i < 16; ++i) x[i] = 0.5f * float(i) - 3.0f;  // block 0: amax 4.5
    x[20] = 2688.0f;                                             // block 1: amax 2688 = 448 · 6
    nvfp4_quantizer q;
    for (auto b : {backend::scalar, backend::simd}) {
        auto t = q.quantize(x, b);
        CHECK(t.global_scale == 1.0f);                // 2688 / (448 · 6)
        CHECK(t.scales[1] == 0x7E);                   // 2688 / 6 / 1 = 448
        CHECK(t.scales[0] == e4m3fn::encode(0.75f));  // 4.5 / 6 = 0.75 exactly
        const auto y = q.dequantize(t, b);
        CHECK(y[20] == 2688.0f);
        CHECK(y[0] == -3.0f);   // −3 / 0.75 = −4 exactly
        CHECK(y[15] == 4.5f);   // 6 · 0.75
        CHECK(y[1] == -2.25f);  // −2.5 / 0.75 = −3.33 → −3
        CHECK(t.bits_per_value() == doctest::Approx(4.0 + 8.0 / 16 + 32.0 / 32));
    }
    // The E4M3 block scale is rounded, so d_b is not amax / 6 exactly.
    std::vector<float> z(16, 0.1f);
    z[0] = 1.0f;
    z[1] = 10.0f;  // global g = 10 / 2688; block scale 10 / 6 / g = 448
    auto t = q.quantize(z);
    CHECK(t.scales[0] == 0x7E);
    CHECK(t.global_scale == 10.0f / 2688.0f);
}

TEST_CASE(
    "non-finite inputs: scales from finite values, NaN kept in FP8, zero in FP4, Inf saturates") {
    const float nan = std::numeric_limits<float>::quiet_NaN(),
                inf = std::numeric_limits<float>::infinity();
    std::vector<float> x = {nan, inf, -inf, 1.0f, 0.5f};
    mx_quantizer<e4m3fn> q8;
    auto t = q8.quantize(x);
    CHECK(t.scales[0] == 127 - 8);
    auto y = q8.dequantize(t);
    CHECK(std::isnan(y[0]));
    CHECK(y[1] == 448.0f / 256.0f);
    CHECK(y[2] == -448.0f / 256.0f);
    CHECK(y[3] == 1.0f);
    mx_quantizer<e2m1> q4;
    auto t4 = q4.quantize(x);
    auto y4 = q4.dequantize(t4);
    CHECK(y4[0] == 0.0f);
    CHECK(y4[1] == 1.5f);  // 6 · 2^-2
    std::vector<float> zeros(40, 0.0f);
    auto tz = q4.quantize(zeros);
    CHECK(tz.scales[0] == 0);
    for (float v : q4.dequantize(tz)) CHECK(v == 0.0f);
}

namespace {
template <class Q>
void check_paths(const Q& q, const std::vector<float>& x, shape2d shape) {
    auto ts = q.quantize(x, shape, backend::scalar);
    auto tv = q.quantize(x, shape, backend::simd);
    REQUIRE(ts.packed == tv.packed);
    REQUIRE(ts.scales == tv.scales);
    std::vector<float> ys(x.size()), yv(x.size());
    q.dequantize(ts, ys, backend::scalar);
    q.dequantize(ts, yv, backend::simd);
    REQUIRE(lowbit_test::same_bits(ys, yv));
    for (unsigned th : lowbit_test::thread_counts()) {
        auto tp = quantize_parallel(q, x, shape, th);
        REQUIRE(tp.packed == tv.packed);
        REQUIRE(tp.scales == tv.scales);
        std::vector<float> yp(x.size());
        dequantize_parallel(q, tv, yp, th);
        REQUIRE(lowbit_test::same_bits(yp, yv));
    }
}
}  // namespace

TEST_CASE_TEMPLATE("MX and BFP: scalar and SIMD agree bit for bit", E, e4m3fn, e5m2, e3m2, e2m3,
                   e2m1, mx_int8, bfp_element<3>) {
    const round_mode modes[] = {round_mode::nearest_even, round_mode::stochastic,
                                round_mode::toward_zero, round_mode::nearest_zero};
    const mx_scale_rounding rules[] = {mx_scale_rounding::ocp_floor,
                                       mx_scale_rounding::nearest_even, mx_scale_rounding::round_up,
                                       mx_scale_rounding::ml_dtypes};
    for (std::size_t n : lowbit_test::lengths()) {
        for (int adv = 0; adv < 2; ++adv) {
            const auto x = adv ? lowbit_test::adversarial(n, 300 + n, 0.03125f)
                               : lowbit_test::gaussian(n, 400 + n);
            const std::size_t cols =
                n > 100 && n % 2 == 0 ? n / 2 : n;  // n/2 columns: blocks cut by row ends
            const shape2d shape = n == 0 ? shape2d{0, 0} : shape2d{n / cols, cols};
            for (auto m : modes)
                for (auto r : rules) {
                    CAPTURE(n);
                    CAPTURE(adv);
                    CAPTURE(int(m));
                    CAPTURE(int(r));
                    check_paths(mx_quantizer<E>({.scale_rounding = r, .round = {m, 99}}), x, shape);
                }
            check_paths(mx_quantizer<E, 16>(), x, shape);
        }
    }
    // Rows that are whole blocks take the fused chunk kernels (SIMD) against the scalar runs.
    for (int adv = 0; adv < 2; ++adv) {
        const auto x =
            adv ? lowbit_test::adversarial(8192, 31, 0.03125f) : lowbit_test::gaussian(8192, 32);
        for (auto r : rules) check_paths(mx_quantizer<E>({.scale_rounding = r}), x, {8, 1024});
        check_paths(mx_quantizer<E>({.round = {round_mode::stochastic, 4}}), x, {8, 1024});
        check_paths(mx_quantizer<E, 16>(), x, {16, 512});
    }
}

TEST_CASE("NVFP4: scalar and SIMD agree bit for bit") {
    for (std::size_t n : lowbit_test::lengths())
        for (int adv = 0; adv < 2; ++adv) {
            const auto x = adv ? lowbit_test::adversarial(n, 500 + n)
                               : lowbit_test::gaussian(n, 600 + n, 0.02f);
            const std::size_t cols = n > 100 && n % 2 == 0 ? n / 2 : n;
            const shape2d shape = n == 0 ? shape2d{0, 0} : shape2d{n / cols, cols};
            CAPTURE(n);
            CAPTURE(adv);
            check_paths(nvfp4_quantizer(), x, shape);
            check_paths(nvfp4_quantizer({.round = {round_mode::stochastic, 5}}), x, shape);
        }
    for (int adv = 0; adv < 2; ++adv) {
        auto x = adv ? lowbit_test::adversarial(8192, 33) : lowbit_test::gaussian(8192, 34, 3.0f);
        for (std::size_t i = 0; i < 64; ++i)
            x[i] = 1e-30f * float(i);  // blocks whose E4M3 scale underflows
        check_paths(nvfp4_quantizer(), x, {8, 1024});
        check_paths(nvfp4_quantizer({.round = {round_mode::toward_zero, 0}}), x, {4, 2048});
    }
}

TEST_CASE(
    "decoding every scale code with every element code: SIMD (register tables, flat blocks) equals "
    "scalar") {
    // Tensors built by hand, so scale codes quantize() never makes (NaN 0x7F/0xFF, subnormal and
    // the largest E4M3 scales; every E8M0 code) meet all 16 element codes, in rows of whole blocks
    // (the SIMD fast paths) and in rows that end inside a block (the general runs).
    for (std::size_t cols : {std::size_t{4096}, std::size_t{4104}}) {
        const std::size_t rows = 2;
        nvfp4_tensor t;
        t.shape = {rows, cols};
        t.packed.resize(packed_size(t.size(), 4));
        for (std::size_t i = 0; i < t.packed.size(); ++i)
            t.packed[i] = static_cast<std::uint8_t>(i * 7 + i / 8);  // all nibble pairs
        t.scales.resize(rows * ((cols + 15) / 16));
        for (std::size_t k = 0; k < t.scales.size(); ++k)
            t.scales[k] = static_cast<std::uint8_t>(k);  // every code, twice
        for (float g : {1.0f, 0.0078125f, 3.5e-3f, 0.0f}) {
            t.global_scale = g;
            nvfp4_quantizer q;
            std::vector<float> ys(t.size()), yv(t.size()), yp(t.size());
            q.dequantize(t, ys, backend::scalar);
            q.dequantize(t, yv, backend::simd);
            dequantize_parallel(q, t, yp, 3);
            CAPTURE(cols);
            CAPTURE(g);
            CHECK(lowbit_test::same_bits(ys, yv));
            CHECK(lowbit_test::same_bits(ys, yp));
        }
        mx_tensor<e2m1> m;
        m.shape = {rows, cols};
        m.packed = t.packed;
        m.scales.resize(rows * ((cols + 31) / 32));
        for (std::size_t k = 0; k < m.scales.size(); ++k)
            m.scales[k] = static_cast<std::uint8_t>(k * 3);
        mx_quantizer<e2m1> mq;
        std::vector<float> ms(m.size()), mv(m.size());
        mq.dequantize(m, ms, backend::scalar);
        mq.dequantize(m, mv, backend::simd);
        CHECK(lowbit_test::same_bits(ms, mv));
    }
}

TEST_CASE("quality ranks as expected on Gaussian data") {
    const auto x = lowbit_test::gaussian(1 << 16, 21);
    auto sq = [&](const auto& q) { return sqnr_db(x, q.dequantize(q.quantize(x))); };
    const double fp8 = sq(mx_quantizer<e4m3fn>()), fp6 = sq(mx_quantizer<e2m3>()),
                 fp4 = sq(mx_quantizer<e2m1>());
    const double nv = sq(nvfp4_quantizer()), i8 = sq(mx_quantizer<mx_int8>());
    CHECK(fp8 > 25.0);
    CHECK(i8 > fp8);  // 7 magnitude bits beat 3 mantissa bits inside a block
    CHECK(fp6 > fp4 + 5.0);
    CHECK(nv > fp4);  // finer (16, E4M3) block scales beat power-of-two scales per 32
    CHECK(fp4 > 10.0);
}

TEST_CASE("errors name the argument") {
    std::vector<float> x(10);
    mx_quantizer<e2m1> q;
    CHECK_THROWS_WITH_AS((void)q.quantize(x, shape2d{3, 3}),
                         "lowbit: x: must hold shape.rows * shape.cols values", lowbit::error);
    auto t = q.quantize(x);
    std::vector<float> small(3);
    CHECK_THROWS_AS(q.dequantize(t, small), lowbit::error);
    t.scales.clear();
    CHECK_THROWS_WITH_AS(q.dequantize(t),
                         "lowbit: t.scales: must hold one E8M0 code per block of each row",
                         lowbit::error);
}

TEST_CASE("negative_zero::positive writes +0 where an element encodes as -0 (ggml MXFP4)") {
    auto x = lowbit_test::gaussian(6 * 256, 81);
    for (std::size_t i = 0; i < x.size(); i += 7) x[i] = -0.0f;
    for (std::size_t i = 3; i < x.size(); i += 11) x[i] *= 1e-3f;  // negatives that round to 0
    const shape2d shape{6, 256};
    for (auto m : {round_mode::nearest_even, round_mode::nearest_zero}) {
        CAPTURE(int(m));
        const mx_quantizer<e2m1> keep({.round = {m, 0}});
        const mx_quantizer<e2m1> pos({.round = {m, 0}, .zero = negative_zero::positive});
        const auto a = keep.quantize(x, shape), b = pos.quantize(x, shape);
        CHECK(a.scales == b.scales);
        const auto ca = a.codes(), cb = b.codes();
        std::size_t negative_zeros = 0;
        for (std::size_t i = 0; i < ca.size(); ++i) {
            CHECK(cb[i] != e2m1::sign_mask);
            negative_zeros += ca[i] == e2m1::sign_mask;
            CHECK(cb[i] == (ca[i] == e2m1::sign_mask ? 0 : ca[i]));
        }
        CHECK(negative_zeros > 100);
        check_paths(pos, x, shape);
        check_paths(pos, std::vector<float>(x.begin(), x.begin() + 5 * 301), {5, 301});
    }
    check_paths(mx_quantizer<e4m3fn>({.zero = negative_zero::positive}), x, shape);
    CHECK_THROWS_WITH_AS(mx_quantizer<mx_int8>({.zero = negative_zero::positive}),
                         doctest::Contains("options.zero"), error);
    CHECK_THROWS_AS(mx_quantizer<e4m3fnuz>({.zero = negative_zero::positive}), error);
}

TEST_CASE_TEMPLATE(
    "mx_nonfinite::nan_scale: a block with NaN or Inf gets the NaN scale (OCP "
    "reference)",
    E, e2m1, e4m3fn, e5m2, e3m2, mx_int8) {
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (const shape2d shape : {shape2d{6, 256}, shape2d{5, 301}}) {
        CAPTURE(shape.cols);
        auto x = lowbit_test::gaussian(shape.size(), 97);
        // One non-finite value in some blocks, several in one, none in the rest.
        for (std::size_t i = 5; i < x.size(); i += 97)
            x[i] = (i / 97) % 3 == 0 ? nan : (i / 97) % 3 == 1 ? inf : -inf;
        x[shape.cols + 1] = x[shape.cols + 2] = nan;
        const mx_quantizer<E> ocp({.nonfinite = mx_nonfinite::nan_scale});
        const mx_quantizer<E> kept;
        const auto t = ocp.quantize(x, shape), k = kept.quantize(x, shape);
        const auto codes = t.codes(), kcodes = k.codes();
        const auto y = ocp.dequantize(t);
        const std::size_t per_row = (shape.cols + 31) / 32;
        std::size_t nan_blocks = 0;
        for (std::size_t r = 0; r < shape.rows; ++r) {
            for (std::size_t b = 0; b < per_row; ++b) {
                const std::size_t i0 = r * shape.cols + b * 32,
                                  i1 = r * shape.cols + std::min(shape.cols, (b + 1) * 32);
                const bool nonfinite = std::any_of(x.begin() + i0, x.begin() + i1,
                                                   [](float v) { return !std::isfinite(v); });
                const std::uint8_t scale = t.scales[r * per_row + b];
                CAPTURE(i0);
                if (nonfinite) {
                    ++nan_blocks;
                    CHECK(scale == 0xFF);
                    for (std::size_t i = i0; i < i1; ++i) {
                        CHECK(codes[i] == 0);
                        CHECK(std::isnan(y[i]));
                    }
                } else {
                    CHECK(scale == k.scales[r * per_row + b]);
                    CHECK(std::equal(codes.begin() + i0, codes.begin() + i1, kcodes.begin() + i0));
                }
            }
        }
        CHECK(nan_blocks > 10);
        check_paths(ocp, x, shape);
        check_paths(mx_quantizer<E>({.round = {round_mode::stochastic, 5},
                                     .nonfinite = mx_nonfinite::nan_scale}),
                    x, shape);
    }
    CHECK_THROWS_WITH_AS(mx_quantizer<E>({.nonfinite = static_cast<mx_nonfinite>(2)}),
                         doctest::Contains("options.nonfinite"), error);
}

TEST_CASE("mx_scale_rounding::log2f: floor of float32's correctly rounded log2 (ggml MXFP4)") {
    // log2 in double rounded to float is float32's correctly rounded log2 here: no float within
    // these ranges has a log2 near a float32 rounding boundary at double's precision.
    auto floor_log2f = [](float a) {
        return int(std::floor(static_cast<float>(std::log2(static_cast<double>(a)))));
    };
    std::size_t checked = 0, rounded_up = 0;
    for (int K = -125; K <= 128; ++K) {
        // The 300 floats below 2^K and the 300 from 2^K up (2^128 itself is not a float).
        float a = K == 128 ? std::numeric_limits<float>::max() : std::ldexp(1.0f, K);
        if (K < 128) a = std::nextafter(a, 0.0f);
        for (int j = 0; j < 300; ++j, a = std::nextafter(a, 0.0f)) {
            const int e = mx_scale_exponent<e2m1>(a, mx_scale_rounding::log2f);
            CAPTURE(a);
            CHECK(e == std::clamp(floor_log2f(a) - e2m1::emax, -127, 127));
            rounded_up += floor_log2f(a) == K;
            ++checked;
        }
        if (K == 128) continue;
        a = std::ldexp(1.0f, K);
        for (int j = 0; j < 300; ++j, a = std::nextafter(a, 1e38f))
            CHECK(mx_scale_exponent<e2m1>(a, mx_scale_rounding::log2f) ==
                  std::clamp(floor_log2f(a) - e2m1::emax, -127, 127));
    }
    CHECK(checked == 254 * 300);
    CHECK(rounded_up > 1000);  // the rule differs from ocp_floor where it should
    const auto x = lowbit_test::gaussian(4 * 256, 5);
    check_paths(mx_quantizer<e2m1>({.scale_rounding = mx_scale_rounding::log2f}), x, {4, 256});
}

TEST_CASE_TEMPLATE("blocks near FLT_MAX decode to finite values under every scale rule", E, e2m1,
                   e2m3, e3m2, e4m3fn, e5m2) {
    // Scales near FLT_MAX / max_elem put the top element levels past FLT_MAX; those elements
    // saturate to the largest level that stays finite, on the fused, block and scalar paths alike.
    std::vector<float> x = lowbit_test::gaussian(4 * 256, 9);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] *= i < 512 ? 0x1p124f : 1.0f;  // |x| up to ~2^127: scales 2^125 … 2^127
    x[3] = std::numeric_limits<float>::max();
    x[40] = -std::numeric_limits<float>::max();
    x[77] = 0x1.fffffep126f;
    for (auto r :
         {mx_scale_rounding::ocp_floor, mx_scale_rounding::nearest_even,
          mx_scale_rounding::round_up, mx_scale_rounding::ml_dtypes, mx_scale_rounding::log2f}) {
        CAPTURE(int(r));
        const mx_quantizer<E> q({.scale_rounding = r});
        for (auto b : {backend::scalar, backend::simd}) {
            const auto y = q.dequantize(q.quantize(x, {4, 256}, b), b);
            for (float v : y) REQUIRE(std::isfinite(v));
            CHECK(std::fabs(y[3]) > 0x1p126f);  // saturated to a large level, not zeroed
        }
        check_paths(q, x, {4, 256});
        check_paths(q, x, {8, 128});
    }
    CHECK(mx_finite_bound<e2m1>(125) == 0.0f);
    CHECK(mx_finite_bound<e2m1>(126) == 3.0f * 0x1p126f);
    CHECK(mx_finite_bound<e2m1>(127) == 1.5f * 0x1p127f);
}
