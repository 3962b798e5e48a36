// Shared helpers for the tests: deterministic data and adversarial values.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <lowbit/core/error.hpp>

namespace lowbit_test {

/// The factor LOWBIT_TEST_SCALE (in (0, 1], default 1) by which the heavy tests shrink their
/// large inputs: the ISA matrix (scripts/test-isa.sh) runs the suite six times, once under qemu.
/// Only sizes far above every SIMD width and chunk size are scaled; tail and boundary lengths
/// are never touched, so every target still walks every kernel path.
inline double test_scale() {
    static const double s = [] {
        const char* e = std::getenv("LOWBIT_TEST_SCALE");
        const double v = e ? std::strtod(e, nullptr) : 1.0;
        return v > 0.0 && v <= 1.0 ? v : 1.0;
    }();
    return s;
}

/// n scaled by test_scale(), rounded down to a multiple of `multiple`, and at least `at_least`.
inline std::size_t scaled(std::size_t n, std::size_t at_least = 1, std::size_t multiple = 1) {
    auto m = static_cast<std::size_t>(static_cast<double>(n) * test_scale());
    m -= m % multiple;
    return std::max(m, at_least);
}

/// The thread counts a path is checked under against its single-thread result: 2, 3 and 7 (an
/// even split, uneven ones, more threads than some tensors have chunks). Under a reduced
/// LOWBIT_TEST_SCALE only 3 (uneven, split points inside rows): the split logic is the same on
/// every instruction set and the default build checks all three, while under qemu the thread
/// start-ups of the full set cost more than every kernel the test runs.
inline std::vector<unsigned> thread_counts() {
    return test_scale() < 1.0 ? std::vector<unsigned>{3u} : std::vector<unsigned>{2u, 3u, 7u};
}

/// Lengths every kernel is run on: empty, tiny, around SIMD widths and chunk boundaries, large odd.
inline const std::vector<std::size_t>& lengths() {
    static const std::vector<std::size_t> v = {0,   1,   2,   3,   7,    8,    15,   16,
                                               17,  31,  32,  33,  47,   63,   64,   65,
                                               255, 256, 257, 511, 1000, 4097, 65537};
    return v;
}

inline std::vector<float> gaussian(std::size_t n, std::uint32_t seed, float sigma = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

/// Values that break careless kernels: NaN, ±Inf, ±0, subnormals, huge values, exact ties
/// (k + 0.5 in units of `tie_unit`), interleaved with ordinary data so groups mix them.
inline std::vector<float> adversarial(std::size_t n, std::uint32_t seed, float tie_unit = 1.0f) {
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              0.0f,
                              -0.0f,
                              std::numeric_limits<float>::denorm_min(),
                              -1e-40f,
                              1e38f,
                              -1e38f,
                              std::numeric_limits<float>::max(),
                              -std::numeric_limits<float>::max(),
                              0.5f * tie_unit,
                              1.5f * tie_unit,
                              -2.5f * tie_unit,
                              3.5f * tie_unit,
                              -0.5f * tie_unit};
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, 2.0f);
    std::uniform_int_distribution<int> pick(0, 15), coin(0, 3);
    std::vector<float> v(n);
    for (auto& x : v) x = coin(g) == 0 ? specials[pick(g)] : d(g);
    return v;
}

/// Bitwise equality of float vectors (NaN == NaN with the same payload; +0 != −0).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() &&
        (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

/// Bitwise equality of float vectors where any NaN equals any NaN (+0 != −0): the linear layers'
/// SIMD paths against their references (a NaN's payload is not part of their contract).
inline bool same_or_nan(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::uint32_t x, y;
        std::memcpy(&x, &a[i], sizeof x);
        std::memcpy(&y, &b[i], sizeof y);
        if (!(std::isnan(a[i]) && std::isnan(b[i])) && x != y) return false;
    }
    return true;
}

/// The argument named by the lowbit::error f() throws ("(nothing thrown)" when it does not).
template <class Fn>
std::string thrown_argument(Fn&& f) {
    try {
        f();
    } catch (const lowbit::error& e) { return e.argument(); }
    return "(nothing thrown)";
}

}  // namespace lowbit_test
