// quantize_parallel_into: the same tensor as the single-thread quantize for any thread count,
// and its buffers are reused (what lowbit-bench's quantize_mt times), also via scheme_instance.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include "test_util.hpp"

using namespace lowbit;

TEST_CASE("quantize_parallel_into equals quantize and reuses the tensor's buffers") {
    const auto x = lowbit_test::adversarial(3 * 4099, 11);
    const shape2d shape{3, 4099};
    int_quantizer<int_format<4, int_range::full>, Eigen::half> q({.gran = granularity::group(32)});
    const auto want = q.quantize(x, shape);
    int_tensor<int_format<4, int_range::full>, Eigen::half> t;
    quantize_parallel_into(q, x, shape, t, 1);
    const auto* packed = t.packed.data();
    const auto* scales = t.scales.data();
    for (unsigned th : {1u, 2u, 3u, 7u, 0u}) {
        CAPTURE(th);
        quantize_parallel_into(q, x, shape, t, th);
        CHECK(t.packed == want.packed);
        CHECK(t.scales == want.scales);
        CHECK(t.packed.data() == packed);
        CHECK(t.scales.data() == scales);
    }
}

TEST_CASE("scheme_instance::quantize_parallel equals quantize for every scheme") {
    const auto x = lowbit_test::gaussian(64 * 300, 5);
    for (const auto& s : all_schemes()) {
        CAPTURE(s.name);
        auto a = s.make(), b = s.make();
        a->quantize(x, {64, 300});
        for (unsigned th : {1u, 3u}) {
            b->quantize_parallel(x, {64, 300}, th);
            CHECK(a->codes() == b->codes());
            std::vector<float> ya(x.size()), yb(x.size());
            a->dequantize(ya);
            b->dequantize(yb);
            CHECK(lowbit_test::same_bits(ya, yb));
        }
    }
}
