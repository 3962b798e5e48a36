// Steady state allocates nothing: once a scheme_instance has quantized a tensor of a shape, the
// next quantize and every dequantize reuse its buffers (what lowbit-bench and lowbit-compare
// time). Counted by replacing the global operator new in this test executable.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "counting_new.hpp"
#include "test_util.hpp"

namespace {
std::atomic<long> allocations{0};
}

void lowbit_test_on_allocation(std::size_t) noexcept { ++allocations; }

TEST_CASE("the counter sees allocations") {
    // Direct calls of the allocation function: new-expressions may be elided by the optimiser
    // (C++14 [expr.new]/10), calls of ::operator new may not.
    const long before = allocations;
    void* p = ::operator new(400);
    ::operator delete(p);
    CHECK(allocations - before == 1);
    std::vector<float> v;
    v.resize(1000);
    CHECK(allocations - before >= 2);
}

TEST_CASE("scheme_instance: repeated quantize and dequantize do not allocate") {
    const auto x = lowbit_test::gaussian(64 * 1000, 3);
    const auto x2 = lowbit_test::adversarial(64 * 1000, 4);
    std::vector<float> y(x.size());
    for (const auto& s : lowbit::all_schemes()) {
        CAPTURE(s.name);
        auto q = s.make();
        q->quantize(x, {64, 1000});
        // BBQ / QuEST reject ±Inf and NaN by default: ±FLT_MAX in their place takes the guarded
        // path.
        auto x3 = x2;
        if (s.family == "bbq")
            for (auto& v : x3) v = std::isfinite(v) ? v : std::copysign(3.4028234663852886e38f, v);
        for (auto b : {lowbit::backend::simd, lowbit::backend::scalar}) {
            const long before = allocations;
            q->quantize(x3, {64, 1000}, b);
            q->quantize(x, {64, 1000}, b);
            q->dequantize(y, b);
            CHECK(allocations - before == 0);
        }
    }
}
