// transformed_quantizer: any quantizer behind the blockwise Hadamard transform (HIGGS-style
// Hadamard + NF4, QuaRot-style Hadamard + INT4). Its codes are the inner quantizer's codes of
// the rotated input, bit for bit, on both paths; dequantize is the inner dequantize followed by
// the inverse rotation; on heavy-tailed rows the rotation lowers the error; non-finite inputs
// follow the stated policy; bad options and tensors are errors naming the field.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>
#include <lowbit/quantizers/transformed.hpp>

#include "test_util.hpp"

namespace {

using namespace lowbit;

/// Rows with a few large outliers each: what rotations are for.
std::vector<float> heavy_tailed(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(n);
    for (auto& v : x) v = g(rng);
    for (std::size_t i = 0; i < n; i += 97) x[i] *= 25.0f;
    return x;
}

template <class Q>
void check_composition(const Q& inner, const std::vector<float>& x, shape2d shape, std::size_t H) {
    const transformed_quantizer<Q> q(inner, {.hadamard = H});
    std::vector<float> rotated = x;
    hadamard_transform(rotated, shape, H, backend::scalar);
    const auto direct = inner.quantize(rotated, shape, backend::scalar);
    for (backend b : {backend::scalar, backend::simd}) {
        const auto t = q.quantize(x, shape, b);
        CHECK(t.hadamard == H);
        CHECK(t.codes() == direct.codes());
        CHECK(t.bits_per_value() == direct.bits_per_value());
        // Dequantize: the inner values, rotated back.
        std::vector<float> want = inner.dequantize(direct, backend::scalar);
        hadamard_transform(want, shape, H, backend::scalar);
        const auto got = q.dequantize(t, b);
        REQUIRE(got.size() == want.size());
        CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    }
}

}  // namespace

TEST_CASE(
    "Hadamard + NF4 and Hadamard + INT4: the inner codes of the rotated input, on both paths") {
    for (shape2d shape : {shape2d{4, 256}, shape2d{3, 200}, shape2d{1, 1024}}) {
        CAPTURE(shape.rows);
        CAPTURE(shape.cols);
        const auto x = heavy_tailed(shape.size(), 3);
        check_composition(codebook_quantizer<4>(), x, shape, 128);
        check_composition(codebook_quantizer<4>(), x, shape, 64);
        check_composition(int_quantizer<int_format<4, int_range::full>, Eigen::half>(
                              {.gran = granularity::group(32)}),
                          x, shape, 128);
        check_composition(int_quantizer<int_format<8>>(), x, shape, 32);
    }
}

TEST_CASE(
    "the rotation spreads outliers: lower error than the plain quantizer on heavy-tailed rows") {
    const shape2d shape{16, 1024};
    const auto x = heavy_tailed(shape.size(), 5);
    const codebook_quantizer<4> nf4;
    const transformed_quantizer<codebook_quantizer<4>> higgs(nf4);
    const double plain = mse(x, nf4.dequantize(nf4.quantize(x, shape)));
    const double rotated = mse(x, higgs.dequantize(higgs.quantize(x, shape)));
    MESSAGE("NF4 g64 MSE " << plain << ", Hadamard 128 + NF4 g64 MSE " << rotated);
    CHECK(rotated < 0.8 * plain);
    using int4 = int_quantizer<int_format<4, int_range::full>, Eigen::half>;
    const int4 rtn({.gran = granularity::group(32)});
    const transformed_quantizer<int4> quarot(rtn);
    CHECK(mse(x, quarot.dequantize(quarot.quantize(x, shape))) <
          0.8 * mse(x, rtn.dequantize(rtn.quantize(x, shape))));
}

TEST_CASE("transformed_quantizer: non-finite inputs and bad arguments") {
    std::vector<float> x = heavy_tailed(256, 7);
    x[70] = NAN;
    x[200] = -INFINITY;
    const shape2d shape{2, 128};
    const transformed_quantizer<codebook_quantizer<4>> strict(codebook_quantizer<4>{});
    CHECK_THROWS_WITH_AS(strict.quantize(x, shape), doctest::Contains("element 70"), error);
    // saturate: NaN → 0 and ±Inf → ± the row's largest finite |x|, then as if given that input.
    const transformed_quantizer<codebook_quantizer<4>> lenient(
        codebook_quantizer<4>{}, {.on_non_finite = non_finite::saturate});
    std::vector<float> fixed = x;
    float big = 0.0f;
    for (std::size_t i = 128; i < 256; ++i)
        if (std::isfinite(x[i])) big = std::max(big, std::fabs(x[i]));
    fixed[70] = 0.0f;
    fixed[200] = -big;
    for (backend b : {backend::scalar, backend::simd}) {
        const auto t = lenient.quantize(x, shape, b);
        CHECK(t.codes() == lenient.quantize(fixed, shape, b).codes());
        for (float v : lenient.dequantize(t, b)) CHECK(std::isfinite(v));
    }
    CHECK_THROWS_WITH_AS(
        transformed_quantizer<codebook_quantizer<4>>(codebook_quantizer<4>{}, {.hadamard = 96}),
        doctest::Contains("options.hadamard"), error);
    CHECK_THROWS_AS(strict.quantize(std::vector<float>(10), shape), error);  // size mismatch
    auto t = lenient.quantize(fixed, shape);
    t.hadamard = 3;
    CHECK_THROWS_WITH_AS((void)lenient.dequantize(t), doctest::Contains("t.hadamard"), error);
    std::vector<float> small_out(5);
    t.hadamard = 128;
    CHECK_THROWS_WITH_AS(lenient.dequantize(t, small_out), doctest::Contains("out"), error);
}
