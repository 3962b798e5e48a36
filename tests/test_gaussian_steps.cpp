// The tabulated Gaussian-optimal steps (scale/gaussian.hpp) are the search's optimum: within
// 1e-6 of gaussian_optimal_step on this machine's C library, and no worse than it in expected
// error. Tabulated, they are the same on every machine; computed, they differ between C
// libraries (x86-64 and aarch64 glibc give steps that differ from the 8th digit on).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <lowbit/formats/bbq.hpp>
#include <lowbit/scale/gaussian.hpp>

using namespace lowbit;

namespace {
void check_step(double tabulated, const std::vector<double>& levels) {
    const double searched = gaussian_optimal_step(levels);
    CHECK(std::fabs(tabulated - searched) <= 1e-6 * searched);
    auto cost = [&](double c) {
        std::vector<double> l(levels);
        for (double& v : l) v *= c;
        return gaussian_expected_mse(l);
    };
    CHECK(cost(tabulated) <= cost(searched) * (1 + 1e-12));
    CHECK(cost(tabulated) < cost(tabulated * (1 + 1e-4)));  // a minimum on both sides
    CHECK(cost(tabulated) < cost(tabulated * (1 - 1e-4)));
}
}  // namespace

TEST_CASE("midrise (QuEST, unsigned int) steps, 1 ... 8 bits") {
    for (int b = 1; b <= 8; ++b) {
        INFO("bits = " << b);
        check_step(midrise_optimal_step(b), midrise_levels(b));
    }
    CHECK(quest_format<4>::step() == midrise_optimal_step(4));
}

TEST_CASE("integer steps, restricted and full ranges, 2 ... 8 bits; other ranges computed") {
    for (int b = 2; b <= 8; ++b) {
        INFO("bits = " << b);
        const int h = 1 << (b - 1);
        check_step(integer_optimal_step(-(h - 1), h - 1), integer_levels(-(h - 1), h - 1));
        check_step(integer_optimal_step(-h, h - 1), integer_levels(-h, h - 1));
    }
    CHECK(integer_optimal_step(-3, 5) == gaussian_optimal_step(integer_levels(-3, 5)));
}
