// Errors inside parallel work: an exception thrown by a quantizer in any worker thread reaches
// the caller of quantize_parallel / quantize_parallel_into / dequantize_parallel (never
// std::terminate), whatever the thread count and whichever range throws; a thread that cannot
// be started leaves its range to the calling thread, with the same result.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <lowbit/lowbit.hpp>

#include "test_util.hpp"

using namespace lowbit;

namespace {

constexpr std::size_t no_element = ~std::size_t{0};

/// A splittable quantizer (codes are the values truncated to bytes) whose encode and decode
/// throw lowbit::error when their range holds element `bad`.
struct throwing_quantizer {
    struct tensor_type {
        shape2d shape;
        std::vector<std::uint8_t> codes;
        [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    };
    std::size_t bad_encode = no_element;
    std::size_t bad_decode = no_element;

    tensor_type prepare(std::span<const float> x, shape2d s) const {
        detail::require(x.size() == s.size(), "x", "must hold shape.size() values");
        return {s, std::vector<std::uint8_t>(s.size())};
    }
    void encode(std::span<const float> x, tensor_type& t, std::size_t a, std::size_t e,
                backend) const {
        if (a <= bad_encode && bad_encode < e)
            throw error("x", "element " + std::to_string(bad_encode) + " refused");
        for (std::size_t i = a; i < e; ++i) t.codes[i] = static_cast<std::uint8_t>(x[i]);
    }
    void decode(const tensor_type& t, std::span<float> y, std::size_t a, std::size_t e,
                backend) const {
        if (a <= bad_decode && bad_decode < e)
            throw error("t", "element " + std::to_string(bad_decode) + " refused");
        for (std::size_t i = a; i < e; ++i) y[i] = t.codes[i];
    }
};
static_assert(splittable_quantizer<throwing_quantizer>);

/// A real quantizer whose encode throws for the range holding element `bad` (then forwards).
template <class Q>
struct failing_encode : Q {
    using Q::Q;
    std::size_t bad = no_element;
    void encode(std::span<const float> x, typename Q::tensor_type& t, std::size_t a, std::size_t e,
                backend b) const {
        if (a <= bad && bad < e)
            throw std::runtime_error("worker failed at " + std::to_string(bad));
        Q::encode(x, t, a, e, b);
    }
    // quantize_into through this encode (the facade's calls the base class's).
    void quantize_into(std::span<const float> x, shape2d s, typename Q::tensor_type& t,
                       backend b) const {
        detail::prepare_into(static_cast<const Q&>(*this), x, s, t, b);
        encode(x, t, 0, x.size(), b);
    }
};

std::vector<float> ramp(std::size_t n) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 200);
    return x;
}

}  // namespace

TEST_CASE(
    "an exception in any worker of quantize_parallel reaches the caller, for 1 to 8 threads") {
    const std::size_t n =
        8 * chunk_elements + 77;  // 9 chunks: every thread count up to 8 gets >= 1 chunk each
    const auto x = ramp(n);
    const shape2d shape{1, n};
    // The first and last element, and one inside every chunk: each range of every split throws.
    std::vector<std::size_t> bads = {0, n - 1};
    for (std::size_t c = 0; c < n; c += chunk_elements) bads.push_back(c + 13);
    for (unsigned th = 1; th <= 8; ++th) {
        for (std::size_t bad : bads) {
            CAPTURE(th);
            CAPTURE(bad);
            throwing_quantizer q{bad, no_element};
            const std::string msg = "lowbit: x: element " + std::to_string(bad) + " refused";
            CHECK_THROWS_WITH_AS((void)quantize_parallel(q, x, shape, th), msg.c_str(),
                                 lowbit::error);
            throwing_quantizer::tensor_type t;
            CHECK_THROWS_WITH_AS(quantize_parallel_into(q, x, shape, t, th), msg.c_str(),
                                 lowbit::error);
        }
        // The same quantizer without a bad element gives the values back afterwards.
        throwing_quantizer ok;
        const auto t = quantize_parallel(ok, x, shape, th);
        std::vector<float> y(n);
        dequantize_parallel(ok, t, y, th);
        CHECK(lowbit_test::same_bits(x, y));
    }
}

TEST_CASE("an exception in any worker of dequantize_parallel reaches the caller") {
    const std::size_t n = 8 * chunk_elements + 3;
    const auto x = ramp(n);
    for (unsigned th = 1; th <= 8; ++th) {
        for (std::size_t bad : {std::size_t{0}, chunk_elements + 1, 4 * chunk_elements, n - 1}) {
            CAPTURE(th);
            CAPTURE(bad);
            throwing_quantizer q{no_element, bad};
            const auto t = quantize_parallel(q, x, {1, n}, th);
            std::vector<float> y(n);
            const std::string msg = "lowbit: t: element " + std::to_string(bad) + " refused";
            CHECK_THROWS_WITH_AS(dequantize_parallel(q, t, y, th), msg.c_str(), lowbit::error);
        }
    }
}

TEST_CASE("when every range throws, one of their exceptions reaches the caller") {
    const std::size_t n = 8 * chunk_elements;
    std::atomic<int> calls{0};
    for (unsigned th = 1; th <= 8; ++th) {
        calls = 0;
        CHECK_THROWS_AS(detail::split_run(n, th,
                                          [&](std::size_t, std::size_t) {
                                              ++calls;
                                              throw 42;
                                          }),
                        int);
        CHECK(calls == int(th));  // every range ran although the others threw
    }
}

TEST_CASE("a thread that cannot be started leaves its range to the caller") {
    const std::size_t n = 8 * chunk_elements + 100;
    for (unsigned th = 2; th <= 8; ++th) {
        for (unsigned fail_at = 0; fail_at < th - 1; ++fail_at) {
            CAPTURE(th);
            CAPTURE(fail_at);
            unsigned spawned = 0;
            auto spawn = [&](auto&& fn) {
                if (spawned == fail_at)
                    throw std::system_error(
                        std::make_error_code(std::errc::resource_unavailable_try_again));
                ++spawned;
                return std::thread(std::forward<decltype(fn)>(fn));
            };
            std::vector<std::atomic<int>> seen(n);
            detail::split_run(
                n, th,
                [&](std::size_t a, std::size_t e) {
                    for (std::size_t i = a; i < e; ++i) ++seen[i];
                },
                spawn);
            bool once = true;
            for (auto& s : seen) once = once && s == 1;
            CHECK(once);  // every element exactly once
            CHECK(spawned == fail_at);
            // And an exception in a range still comes through when threads are missing.
            spawned = 0;
            CHECK_THROWS_AS(detail::split_run(
                                n, th,
                                [&](std::size_t a, std::size_t) {
                                    if (a == 0) throw std::logic_error("range 0");
                                },
                                spawn),
                            std::logic_error);
        }
    }
}

TEST_CASE(
    "a real quantizer's failing worker reaches the caller of quantize_parallel and of "
    "scheme_instance") {
    using base = int_quantizer<int_format<4, int_range::full>, Eigen::half>;
    const std::size_t rows = 9, cols = 300;  // 2700 values: 11 chunks
    const auto x = lowbit_test::gaussian(rows * cols, 3);
    const auto want = base({.gran = granularity::group(32)}).quantize(x, {rows, cols});
    for (unsigned th = 1; th <= 8; ++th) {
        for (std::size_t bad : {std::size_t{5}, 3 * chunk_elements + 7, rows * cols - 1}) {
            CAPTURE(th);
            CAPTURE(bad);
            failing_encode<base> q({.gran = granularity::group(32)});
            q.bad = bad;
            const std::string msg = "worker failed at " + std::to_string(bad);
            CHECK_THROWS_WITH_AS((void)quantize_parallel(q, x, {rows, cols}, th), msg.c_str(),
                                 std::runtime_error);
            quantizer_instance<failing_encode<base>> inst(q);
            CHECK_THROWS_WITH_AS(inst.quantize_parallel(x, {rows, cols}, th), msg.c_str(),
                                 std::runtime_error);
            // The instance stays usable: the same call without the fault gives the one-thread
            // tensor.
            failing_encode<base> good({.gran = granularity::group(32)});
            quantizer_instance<failing_encode<base>> inst2(good);
            inst2.quantize_parallel(x, {rows, cols}, th);
            CHECK(inst2.tensor().packed == want.packed);
            CHECK(inst2.tensor().scales == want.scales);
        }
    }
}
