// Minifloats: every code and dense float32 sweeps against ml_dtypes and PyTorch casts
// (tests/data/fp, made by scripts/gen_fp_vectors.py and scripts/gen_torch_fp.py), the lecture's
// float32 decompositions, rounding modes, Eigen inputs, and SIMD == scalar bit for bit.
//
// Where PyTorch (2.11) and ml_dtypes (0.6) disagree we follow ml_dtypes; the disagreements
// found on these sweeps are exactly:
//   e5m2   NaN input: ml_dtypes 0x7E / 0xFE (quiet NaN, mantissa 10), torch 0x7F / 0xFF.
//   e8m0   +0.0: ml_dtypes NaN (0xFF), torch 0x00 (2^-127); negative inputs: ml_dtypes NaN,
//          torch encodes |x| (e.g. −1.5·2^−127 → 0x01).
//   decode of NaN codes: NaN payloads differ (torch 0x7FF00000 / 0x7F800001 …); both are NaN.
//   e2m1   torch 2.11 cannot cast float4_e2m1fn_x2 ("copy_kernel not implemented"), so e2m1,
//          e3m2 and e2m3 are checked against ml_dtypes only.
#include <doctest/doctest.h>

#include <lowbit/formats/minifloat.hpp>
#include <lowbit/simd/minifloat.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fp_vectors.hpp"
#include "test_util.hpp"

using namespace lowbit;
using lowbit_test::as_bits;
using lowbit_test::as_float;

namespace {

template <class F>
bool is_nan_bits(std::uint32_t u) {
    return std::isnan(as_float(u));
}

/// Decode of every code equals the reference's float (NaN codes: both NaN).
template <class F>
int check_decode(const std::string& fmt, const std::string& ref) {
    const auto want = lowbit_test::read_u32(fmt + "." + ref + ".dec");
    const std::size_t ncodes = std::size_t{1} << F::bits;
    REQUIRE(want.size() == ncodes);
    for (std::size_t c = 0; c < ncodes; ++c) {
        const float got = F::decode(static_cast<typename F::code_type>(c));
        CAPTURE(fmt);
        CAPTURE(ref);
        CAPTURE(c);
        if (std::isnan(as_float(want[c])))
            CHECK(std::isnan(got));
        else
            CHECK(as_bits(got) == want[c]);
    }
    return int(ncodes);
}

/// Nonsaturating encode of every sweep point equals the reference's code, except where `skip`
/// says the reference is one we do not follow (documented above).
template <class F, class Skip>
int check_encode(const std::string& fmt, const std::string& ref, Skip skip) {
    const auto x = lowbit_test::read_u32(fmt + ".sweep.u32");
    const auto want = lowbit_test::read_bytes(fmt + "." + ref + ".enc");
    REQUIRE(x.size() > 1000);
    REQUIRE(want.size() == x.size());
    int checked = 0, mismatches = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (skip(x[i])) continue;
        const auto got = F::template encode<overflow::nonsaturating>(as_float(x[i]));
        if (got != want[i]) {
            if (++mismatches < 10) {
                CAPTURE(fmt);
                CAPTURE(ref);
                CAPTURE(as_float(x[i]));
                CAPTURE(x[i]);
                CHECK(int(got) == int(want[i]));
            }
        }
        ++checked;
    }
    CHECK(mismatches == 0);
    return checked;
}

auto no_skip = [](std::uint32_t) { return false; };

template <class F>
void check_format_ml_dtypes(const std::string& fmt) {
    const int codes = check_decode<F>(fmt, "ml_dtypes");
    const int points = check_encode<F>(fmt, "ml_dtypes", no_skip);
    MESSAGE(fmt << " vs ml_dtypes: " << codes << " codes decoded, " << points
                << " sweep points encoded");
}

}  // namespace

TEST_CASE("every code and sweep point equals ml_dtypes") {
    check_format_ml_dtypes<e4m3fn>("e4m3fn");
    check_format_ml_dtypes<e4m3fnuz>("e4m3fnuz");
    check_format_ml_dtypes<e5m2>("e5m2");
    check_format_ml_dtypes<e5m2fnuz>("e5m2fnuz");
    check_format_ml_dtypes<e4m3>("e4m3");
    check_format_ml_dtypes<e3m4>("e3m4");
    check_format_ml_dtypes<e3m2>("e3m2");
    check_format_ml_dtypes<e2m3>("e2m3");
    check_format_ml_dtypes<e2m1>("e2m1");
    check_format_ml_dtypes<e8m0>("e8m0");
}

TEST_CASE("every code and sweep point equals PyTorch, except the documented disagreements") {
    auto nan = [](std::uint32_t u) { return std::isnan(as_float(u)); };
    auto e8m0_skip = [](std::uint32_t u) {
        return (u >> 31) != 0 || u == 0;
    };  // torch: 0 → 2^-127, |x| of negatives
    int c = 0, p = 0;
    c += check_decode<e4m3fn>("e4m3fn", "torch");
    p += check_encode<e4m3fn>("e4m3fn", "torch", no_skip);
    c += check_decode<e4m3fnuz>("e4m3fnuz", "torch");
    p += check_encode<e4m3fnuz>("e4m3fnuz", "torch", no_skip);
    c += check_decode<e5m2>("e5m2", "torch");
    p += check_encode<e5m2>("e5m2", "torch", nan);
    c += check_decode<e5m2fnuz>("e5m2fnuz", "torch");
    p += check_encode<e5m2fnuz>("e5m2fnuz", "torch", no_skip);
    c += check_decode<e8m0>("e8m0", "torch");
    p += check_encode<e8m0>("e8m0", "torch", e8m0_skip);
    MESSAGE("vs PyTorch: " << c << " codes decoded, " << p << " sweep points encoded");
    // The disagreements themselves, pinned so a change on either side is noticed.
    const auto x = lowbit_test::read_u32("e5m2.sweep.u32");
    const auto t = lowbit_test::read_bytes("e5m2.torch.enc");
    for (std::size_t i = 0; i < x.size(); ++i)
        if (nan(x[i])) {
            CHECK((t[i] & 0x7F) == 0x7F);
            CHECK((e5m2::encode<overflow::nonsaturating>(as_float(x[i])) & 0x7F) == 0x7E);
        }
    CHECK(e8m0::encode(0.0f) == 0xFF);
    CHECK(e8m0::encode(-1.0f) == 0xFF);
}

TEST_CASE("saturating encode: overflow and Inf go to ±max, everything else as nonsaturating") {
    auto run = [](auto tag, const std::string& fmt) {
        using F = decltype(tag);
        const auto x = lowbit_test::read_u32(fmt + ".sweep.u32");
        for (std::uint32_t u : x) {
            const float v = as_float(u);
            const auto ns = F::template encode<overflow::nonsaturating>(v);
            const auto sat = F::template encode<overflow::saturate>(v);
            const bool overflowed =
                !std::isnan(v) && (std::isinf(F::decode(ns)) || std::isnan(F::decode(ns)));
            CAPTURE(fmt);
            CAPTURE(v);
            if (overflowed)
                CHECK(sat == ((std::signbit(v) ? F::sign_mask : 0u) | F::max_magnitude));
            else
                CHECK(sat == ns);
        }
    };
    run(e4m3fn{}, "e4m3fn");
    run(e4m3fnuz{}, "e4m3fnuz");
    run(e5m2{}, "e5m2");
    run(e5m2fnuz{}, "e5m2fnuz");
    run(e3m2{}, "e3m2");
    run(e2m1{}, "e2m1");
    CHECK(e4m3fn::encode(1e9f) == 0x7E);
    CHECK(e4m3fn::encode(-INFINITY) == 0xFE);
    CHECK(e4m3fn::encode<overflow::nonsaturating>(464.0f) ==
          0x7E);  // the tie above 448 goes to 448 (even)
    CHECK(e4m3fn::encode<overflow::nonsaturating>(464.00003f) == 0x7F);  // just above: NaN
    CHECK(e5m2::encode<overflow::nonsaturating>(61440.0f) ==
          0x7C);  // tie above 57344 rounds to even: Inf
    CHECK(e5m2fnuz::encode<overflow::nonsaturating>(-1e6f) == 0x80);
}

TEST_CASE("format constants") {
    CHECK(e4m3fn::max() == 448.0f);
    CHECK(e4m3fnuz::max() == 240.0f);
    CHECK(e5m2::max() == 57344.0f);
    CHECK(e5m2fnuz::max() == 57344.0f);
    CHECK(e3m2::max() == 28.0f);
    CHECK(e2m3::max() == 7.5f);
    CHECK(e2m1::max() == 6.0f);
    CHECK(e4m3fn::min_positive() == 0x1p-9f);
    CHECK(e5m2::min_positive() == 0x1p-16f);
    CHECK(e4m3fnuz::bias == 8);
    CHECK(e5m2fnuz::bias == 16);
    CHECK(e8m0::decode(127) == 1.0f);
    CHECK(e8m0::decode(0) == 0x1p-127f);
    CHECK(e8m0::decode(254) == 0x1p127f);
    static_assert(e4m3fn::decode(0x7E) == 448.0f, "constexpr decode");
    static_assert(e2m1::encode(2.5f) == 0x4, "constexpr encode: 2.5 ties to 2 (even)");
    // The eight E2M1 magnitudes.
    const float e2m1_vals[] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
    for (int c = 0; c < 8; ++c) {
        CHECK(e2m1::decode(std::uint8_t(c)) == e2m1_vals[c]);
        CHECK(e2m1::decode(std::uint8_t(c | 8)) == -e2m1_vals[c]);
    }
}

TEST_CASE("lecture: float32 decomposed by the same template as E8M23") {
    struct row {
        float x;
        unsigned sign, exponent;
        std::uint32_t mantissa;
    };
    // 5.5 = 1.375·2^2, −71 = −1.109375·2^6, 0.34375 = 1.375·2^−2, −13.24 = −1.655·2^3.
    const row rows[] = {{5.5f, 0, 129, 0x300000},
                        {-71.0f, 1, 133, 0x0E0000},
                        {0.34375f, 0, 125, 0x300000},
                        {-13.24f, 1, 130, 0x53D70A}};
    for (const auto& r : rows) {
        const auto c = e8m23::encode(r.x);
        const auto f = e8m23::fields(c);
        CAPTURE(r.x);
        CHECK(c == as_bits(r.x));  // E8M23 encode is the identity on float32 bits
        CHECK(f.sign == r.sign);
        CHECK(f.exponent == r.exponent);
        CHECK(f.mantissa == r.mantissa);
        CHECK(e8m23::decode(c) == r.x);
        // value = (−1)^s (1 + m / 2^23) 2^(e − 127)
        const double v = (f.sign ? -1.0 : 1.0) * (1.0 + f.mantissa / 8388608.0) *
            std::ldexp(1.0, int(f.exponent) - 127);
        CHECK(v == double(r.x));
    }
    // −13.24 is not exact in float32: its mantissa field is the rounded 0.655 · 2^23.
    CHECK(e8m23::decode(e8m23::encode(-13.24f)) == doctest::Approx(-13.24).epsilon(1e-7));
}

TEST_CASE("decode then encode is the identity; values increase with the code") {
    auto run = [](auto tag) {
        using F = decltype(tag);
        float prev = -1.0f;
        for (unsigned c = 0; c <= F::max_magnitude; ++c) {
            const float v = F::decode(typename F::code_type(c));
            CHECK(v > prev);
            prev = v;
            CHECK(F::encode(v) == c);
            if (c != 0 || F::has_negative_zero) CHECK(F::encode(-v) == (c | F::sign_mask));
        }
    };
    run(e4m3fn{});
    run(e4m3fnuz{});
    run(e5m2{});
    run(e5m2fnuz{});
    run(e3m2{});
    run(e2m3{});
    run(e2m1{});
    run(e3m4{});
    run(minifloat<3, 3, nan_inf::fn>{});
    run(minifloat<2, 5, nan_inf::none, 2>{});
    run(minifloat<1, 6, nan_inf::none>{});
}

TEST_CASE("rounding modes against a double-precision oracle") {
    using F = e4m3fn;
    std::vector<double> vals;
    for (unsigned c = 0; c <= F::max_magnitude; ++c) vals.push_back(F::decode(std::uint8_t(c)));
    const auto x = lowbit_test::gaussian(20000, 9, 40.0f);
    for (float v : x) {
        const double a = std::fabs(double(v));
        if (a >= F::max()) continue;
        std::size_t k = 0;
        while (k + 1 < vals.size() && vals[k + 1] <= a) ++k;  // vals[k] <= a < vals[k+1]
        const bool exact = vals[k] == a;
        const unsigned lo = unsigned(k), hi = exact ? lo : lo + 1;
        const unsigned s = std::signbit(v) ? 0x80u : 0u;
        CAPTURE(v);
        CHECK(F::encode(v, round_mode::toward_zero) == (s | lo));
        CHECK(F::encode(v, round_mode::floor) == (s | (s ? hi : lo)));
        const double dlo = a - vals[lo], dhi = vals[hi] - a;
        const unsigned away = dhi <= dlo ? hi : lo;
        CHECK(F::encode(v, round_mode::nearest_away) == (s | away));
        const unsigned even = dhi < dlo ? hi : dlo < dhi ? lo : (lo % 2 == 0 ? lo : hi);
        CHECK(F::encode(v) == (s | even));
        // stochastic: a draw of 0 truncates, the largest draw rounds up any nonzero remainder
        CHECK(F::encode(v, round_mode::stochastic, 0) == (s | lo));
        if (!exact && dlo / (vals[hi] - vals[lo]) > 1e-7)
            CHECK(F::encode(v, round_mode::stochastic, (1u << 24) - 1) == (s | hi));
    }
}

TEST_CASE("stochastic rounding is unbiased") {
    // 0.3 sits between E2M1 codes 0 and 0.5: expect 0.5 with probability 0.6.
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; ++i)
        sum += e2m1::decode(e2m1::encode(0.3f, round_mode::stochastic, random_bits24(5, i)));
    CHECK(sum / n == doctest::Approx(0.3).epsilon(0.01));
    // Far below the smallest subnormal (2^-9) the remainder scaled to 24 bits still decides:
    // up iff frac + r / 2^24 >= 1.
    CHECK(e4m3fn::encode(0x1p-34f, round_mode::stochastic, (1u << 24) - 1) ==
          0);  // 2^-25 + 1 − 2^-24 < 1
    CHECK(e4m3fn::encode(0x1p-30f, round_mode::stochastic, (1u << 24) - 1) ==
          1);  // 2^-21 + 1 − 2^-24 >= 1
    CHECK(e4m3fn::encode(0x1p-20f, round_mode::stochastic, (1u << 24) - (1u << 13)) ==
          1);  // exactly 1
    CHECK(e4m3fn::encode(0x1p-20f, round_mode::stochastic, (1u << 24) - (1u << 13) - 1) == 0);
}

TEST_CASE("Eigen::half and Eigen::bfloat16 inputs") {
    for (unsigned c = 0; c < 256; ++c) {
        if (e4m3fn::is_nan(std::uint8_t(c))) continue;
        const float v = e4m3fn::decode(std::uint8_t(c));
        CHECK(e4m3fn::encode(Eigen::half(v)) == c);  // every E4M3 value is an fp16 and a bf16 value
        CHECK(e4m3fn::encode(Eigen::bfloat16(v)) == c);
        CHECK(float(e4m3fn::decode_as<Eigen::half>(std::uint8_t(c))) == v);
    }
    CHECK(e5m2::encode(Eigen::half(65504.0f)) == 0x7B);  // fp16 max saturates to E5M2 max (57344)
    CHECK(e5m2::encode<overflow::nonsaturating>(Eigen::half(65504.0f)) == 0x7C);
    CHECK(e2m1::encode(Eigen::bfloat16(5.0f)) == 0x6);  // 5 ties between 4 and 6: even mantissa → 4
}

namespace {
template <class F>
void check_simd(const std::vector<float>& x, float inv, rounding r) {
    std::vector<std::uint8_t> a(x.size()), b(x.size());
    reference::encode_minifloat_run<F, overflow::saturate>(x.data(), x.size(), inv, r, 77,
                                                           a.data());
    simd::encode_minifloat_run<F, overflow::saturate>(x.data(), x.size(), inv, r, 77, b.data());
    REQUIRE(a == b);
    reference::encode_minifloat_run<F, overflow::nonsaturating>(x.data(), x.size(), inv, r, 77,
                                                                a.data());
    simd::encode_minifloat_run<F, overflow::nonsaturating>(x.data(), x.size(), inv, r, 77,
                                                           b.data());
    REQUIRE(a == b);
    std::vector<float> ya(x.size()), yb(x.size());
    reference::decode_minifloat_run<F>(a.data(), a.size(), 1.0f / inv, ya.data());
    simd::decode_minifloat_run<F>(a.data(), a.size(), 1.0f / inv, yb.data());
    REQUIRE(lowbit_test::same_bits(ya, yb));
}
}  // namespace

TEST_CASE_TEMPLATE(
    "SIMD equals scalar: sweeps, every code, random and adversarial data, every length", F, e4m3fn,
    e4m3fnuz, e5m2, e5m2fnuz, e3m2, e2m3, e2m1, e4m3, e3m4) {
    const round_mode modes[] = {round_mode::nearest_even, round_mode::nearest_away,
                                round_mode::toward_zero,  round_mode::floor,
                                round_mode::stochastic,   round_mode::nearest_up,
                                round_mode::nearest_zero};
    std::vector<float> sweep;
    for (const char* f : {"e4m3fn", "e5m2", "e3m2", "e2m1", "e2m3", "e4m3fnuz"})
        for (auto u : lowbit_test::read_u32(std::string(f) + ".sweep.u32"))
            sweep.push_back(as_float(u));
    for (auto m : modes) {
        CAPTURE(int(m));
        check_simd<F>(sweep, 1.0f, {m, 3});
        for (std::size_t n : lowbit_test::lengths()) {
            CAPTURE(n);
            check_simd<F>(lowbit_test::gaussian(n, 40 + n, 3.0f), 1.0f, {m, 11});
            check_simd<F>(lowbit_test::adversarial(n, 50 + n, F::min_positive()), 0.75f, {m, 12});
        }
    }
    // Every code decodes the same on both paths.
    std::vector<std::uint8_t> all(1u << F::bits);
    for (std::size_t c = 0; c < all.size(); ++c) all[c] = std::uint8_t(c);
    std::vector<float> ya(all.size()), yb(all.size());
    reference::decode_minifloat_run<F>(all.data(), all.size(), 1.0f, ya.data());
    simd::decode_minifloat_run<F>(all.data(), all.size(), 1.0f, yb.data());
    CHECK(lowbit_test::same_bits(ya, yb));
}

TEST_CASE("ties toward +inf and toward zero: integers and minifloats") {
    const rounding up{round_mode::nearest_up}, zero{round_mode::nearest_zero};
    CHECK(round_integral(2.5f, up, 0) == 3.0f);
    CHECK(round_integral(-2.5f, up, 0) == -2.0f);
    CHECK(round_integral(2.4999998f, up, 0) == 2.0f);
    CHECK(round_integral(0x1.fffffep-2f, up, 0) == 0.0f);  // 0.5 − 2^-25: no float sum rounds it
    CHECK(round_integral(-0.5f, up, 0) == 0.0f);
    CHECK(round_integral(2.5f, zero, 0) == 2.0f);
    CHECK(round_integral(-2.5f, zero, 0) == -2.0f);
    CHECK(round_integral(2.5000002f, zero, 0) == 3.0f);
    CHECK(round_integral(-2.5000002f, zero, 0) == -3.0f);
    CHECK(std::signbit(round_integral(-0.5f, zero, 0)));
    CHECK(round_integral(0x1p30f, up, 0) == 0x1p30f);
    // E2M1 levels 0, 0.5, 1, 1.5, 2, 3, 4, 6.
    CHECK(e2m1::decode(e2m1::encode(0.25f, round_mode::nearest_up)) == 0.5f);
    CHECK(e2m1::decode(e2m1::encode(-0.25f, round_mode::nearest_up)) == 0.0f);
    CHECK(e2m1::decode(e2m1::encode(5.0f, round_mode::nearest_up)) == 6.0f);
    CHECK(e2m1::decode(e2m1::encode(-5.0f, round_mode::nearest_up)) == -4.0f);
    CHECK(e2m1::decode(e2m1::encode(0.25f, round_mode::nearest_zero)) == 0.0f);
    CHECK(e2m1::decode(e2m1::encode(1.25f, round_mode::nearest_zero)) == 1.0f);
    CHECK(e2m1::decode(e2m1::encode(-5.0f, round_mode::nearest_zero)) == -4.0f);
    CHECK(e2m1::decode(e2m1::encode(5.0001f, round_mode::nearest_zero)) == 6.0f);
    CHECK(e2m1::encode(-0.25f, round_mode::nearest_zero) == 0x8);  // −0: the sign is kept
}
