// Results that do not depend on FP contraction: the spots whose semantics is an unfused
// a·b + c give the same bits under -ffp-contract=fast (the ISA matrix's fp-contract-fast target
// builds this file with it). Each expectation is computed so that contraction cannot touch it:
// the product goes through a volatile float, which no later addition can fuse with.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <lowbit/core/unfused.hpp>
#include <lowbit/formats/codebook.hpp>
#include <lowbit/quantizers/int.hpp>

#include "test_util.hpp"

using namespace lowbit;

namespace {
float product(float a, float b) {
    volatile float p = a * b;
    return p;
}
}  // namespace

TEST_CASE("mul_unfused rounds the product on its own") {
    // 1 + 2^-12 squared is 1 + 2^-11 + 2^-24: the float product drops 2^-24, an FMA keeps it.
    const float a = 1.0f + 0x1p-12f, c = -(1.0f + 0x1p-11f);
    CHECK(mul_unfused(a, a) + c == 0.0f);
    CHECK(product(a, a) + c == 0.0f);
    const double ad = 1.0 + 0x1p-27, cd = -(1.0 + 0x1p-26);
    CHECK(mul_unfused(ad, ad) + cd == 0.0);
}

TEST_CASE("asymmetric int decode with fp32 scales is q·s rounded, then + m (scalar and SIMD)") {
    // fp32 scale and minimum: q·s is not exact in float, so a fused q·s + m would differ.
    const auto x = lowbit_test::gaussian(32 * 97, 5, 3.0f);
    const shape2d shape{97, 32};
    int_quantizer<uint_format<4>> q({.gran = granularity::group(32), .rule = scale_rule::minmax()});
    const auto t = q.quantize(x, shape);
    REQUIRE(t.form == affine::offset);
    const auto codes = t.codes();
    std::vector<float> want(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        want[i] = product(float(codes[i]), t.scales[i / 32]) + t.offsets[i / 32];
    for (backend b : {backend::scalar, backend::simd}) {
        std::vector<float> got(x.size());
        q.dequantize(t, got, b);
        CHECK(lowbit_test::same_bits(got, want));
    }
}

TEST_CASE("linspace_f32 is torch.linspace in float32: a + step·i with the product rounded") {
    for (std::size_t steps : {std::size_t{5}, std::size_t{9}, std::size_t{17}, std::size_t{129}}) {
        for (float a : {0.9677083f, 0.9452f, 0.8535534f}) {
            const float b = 0.5f;
            const auto v = detail::linspace_f32(a, b, steps);
            const float step = (b - a) / static_cast<float>(steps - 1);
            for (std::size_t i = 0; i < steps; ++i) {
                const float want = i < steps / 2 ? a + product(step, float(i))
                                                 : b - product(step, float(steps - i - 1));
                CHECK(v[i] == want);
            }
        }
    }
}
