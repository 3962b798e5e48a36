// Every registered scheme, on shapes large enough to reach each family's block drivers
// (many chunks, many groups per block, rows of 1024 and 4096): the SIMD path must give the
// scalar reference's codes and dequantized values bit for bit, and threads must not change
// them. The per-family tests cover small and odd lengths; this one covers the big aligned ones
// that real tensors have.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <cstring>
#include <vector>

#include "test_util.hpp"

namespace {
void check_scheme(const lowbit::scheme_info& s, const std::vector<float>& x,
                  lowbit::shape2d shape) {
    auto a = s.make(), b = s.make(), c = s.make();
    a->quantize(x, shape, lowbit::backend::scalar);
    b->quantize(x, shape, lowbit::backend::simd);
    c->quantize_parallel(x, shape, 3);
    REQUIRE(a->codes() == b->codes());
    REQUIRE(a->codes() == c->codes());
    CHECK(a->bits_per_value() == b->bits_per_value());
    std::vector<float> ya(x.size()), yb(x.size()), yc(x.size());
    a->dequantize(ya, lowbit::backend::scalar);
    b->dequantize(yb, lowbit::backend::simd);
    c->dequantize(yc, lowbit::backend::simd);
    // NaN payloads may differ between paths (IEEE leaves them open); everything else is bitwise.
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(ya[i])) {
            REQUIRE(std::isnan(yb[i]));
            REQUIRE(std::isnan(yc[i]));
            continue;
        }
        REQUIRE(std::memcmp(&ya[i], &yb[i], 4) == 0);
        REQUIRE(std::memcmp(&ya[i], &yc[i], 4) == 0);
    }
}
}  // namespace

TEST_CASE("every scheme: SIMD equals the scalar reference on large aligned shapes") {
    const lowbit::shape2d shapes[] = {{64, 1024}, {8, 4096}};
    for (const auto& s : lowbit::all_schemes()) {
        for (auto shape : shapes)
            for (int adv = 0; adv < 2; ++adv) {
                CAPTURE(s.name);
                CAPTURE(shape.rows);
                CAPTURE(shape.cols);
                CAPTURE(adv);
                const auto x = adv ? lowbit_test::adversarial(shape.size(), 21)
                                   : lowbit_test::gaussian(shape.size(), 22);
                if (adv && s.family == "bbq") {  // no code for ±Inf / NaN, and the transform mixes
                                                 // a block: an error
                    for (auto b : {lowbit::backend::scalar, lowbit::backend::simd})
                        CHECK_THROWS_AS(s.make()->quantize(x, shape, b), lowbit::error);
                    CHECK_THROWS_AS(s.make()->quantize_parallel(x, shape, 3), lowbit::error);
                    continue;
                }
                check_scheme(s, x, shape);
            }
    }
}
