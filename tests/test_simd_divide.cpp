// simd::divide equals the scalar division in every lane (xsimd 8.1's NEON float division is a
// reciprocal estimate, an ulp or two off; the ISA matrix runs this on aarch64).
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <lowbit/simd/divide.hpp>

#include "test_util.hpp"

TEST_CASE("simd::divide is the correctly rounded quotient in every lane") {
    using B = xsimd::batch<float>;
    constexpr std::size_t W = B::size;
    const auto a = lowbit_test::adversarial(4096 * W, 1), b = lowbit_test::adversarial(4096 * W, 2);
    const auto g = lowbit_test::gaussian(4096 * W, 3), h = lowbit_test::gaussian(4096 * W, 4);
    std::size_t bad = 0;
    for (const auto* pair : {&a, &g}) {
        const auto& num = *pair;
        const auto& den = pair == &a ? b : h;
        for (std::size_t i = 0; i + W <= num.size(); i += W) {
            alignas(64) float got[W];
            lowbit::simd::divide(B::load_unaligned(num.data() + i),
                                 B::load_unaligned(den.data() + i))
                .store_aligned(got);
            for (std::size_t l = 0; l < W; ++l) {
                const float want = num[i + l] / den[i + l];
                bad += std::memcmp(&want, &got[l], sizeof want) != 0;
            }
        }
    }
    CHECK(bad == 0);
    // 1/3 and 2/3 ... in lanes: the estimate-and-refine division is off on such quotients.
    std::vector<float> n(W), d(W, 15.0f);
    for (std::size_t l = 0; l < W; ++l) n[l] = 0.1f * float(l + 1);
    alignas(64) float q[W];
    lowbit::simd::divide(B::load_unaligned(n.data()), B::load_unaligned(d.data())).store_aligned(q);
    for (std::size_t l = 0; l < W; ++l) CHECK(q[l] == n[l] / 15.0f);
}
