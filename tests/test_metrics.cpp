// Metrics: MSE, SQNR, max abs error, histogram and entropy on values worked out by hand.
#include <doctest/doctest.h>

#include <lowbit/core/metrics.hpp>

#include <cmath>
#include <limits>
#include <vector>

using namespace lowbit;

TEST_CASE("compare: MSE, SQNR and max abs error by hand") {
    const std::vector<float> ref = {1.0f, -2.0f, 3.0f, 0.0f};
    const std::vector<float> app = {1.5f, -2.0f, 2.0f, 0.0f};
    const auto s = compare(ref, app);
    CHECK(s.mse == doctest::Approx((0.25 + 0.0 + 1.0 + 0.0) / 4));
    CHECK(s.signal_power == doctest::Approx((1.0 + 4.0 + 9.0) / 4));
    CHECK(s.sqnr_db == doctest::Approx(10.0 * std::log10(14.0 / 1.25)));
    CHECK(s.max_abs_error == 1.0);
    CHECK(s.count == 4);
    CHECK(mse(ref, ref) == 0.0);
    CHECK(std::isinf(sqnr_db(ref, ref)));
}

TEST_CASE("compare skips non-finite references and counts them; a NaN approximation shows") {
    const float inf = std::numeric_limits<float>::infinity(),
                nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> ref = {inf, 1.0f, nan};
    const std::vector<float> app = {0.0f, 1.0f, 0.0f};
    const auto s = compare(ref, app);
    CHECK(s.count == 1);
    CHECK(s.skipped == 2);
    CHECK(s.mse == 0.0);
    const std::vector<float> bad = {0.0f, nan, 0.0f};
    CHECK(std::isnan(compare(ref, bad).max_abs_error));
    CHECK_THROWS_AS(compare(ref, std::vector<float>(2)), lowbit::error);
}

TEST_CASE("histogram and entropy") {
    std::vector<std::uint8_t> codes;
    for (int i = 0; i < 1024; ++i) codes.push_back(static_cast<std::uint8_t>(i % 16));
    CHECK(code_entropy_bits(codes, 4) == doctest::Approx(4.0));
    const auto h = code_histogram(codes, 4);
    CHECK(h.size() == 16);
    for (auto c : h) CHECK(c == 64);
    // p = (1/2, 1/4, 1/4): H = 1.5 bits.
    const std::vector<std::uint8_t> c2 = {0, 0, 1, 2};
    CHECK(code_entropy_bits(c2, 2) == doctest::Approx(1.5));
    CHECK(code_entropy_bits(std::vector<std::uint8_t>(10, 3), 2) == 0.0);
    CHECK(code_entropy_bits(std::vector<std::uint8_t>{}, 3) == 0.0);
    CHECK_THROWS_AS(code_histogram(codes, 0), lowbit::error);
}
