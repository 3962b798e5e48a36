// Inputs at the edges of float: huge finite values (near ±FLT_MAX, mixed with ordinary ones),
// ±Inf and NaN, subnormals and all-zero groups, through every registered scheme and, where a
// scheme does not reach an option, through the quantizers themselves. What must hold
// (docs/formats.md, "Non-finite inputs"): codes, scales and outputs stay finite for finite input; a
// non-finite value affects only its own element (or is rejected, naming its index); the SIMD path
// gives the scalar reference's bits.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {

constexpr float flt_max = FLT_MAX;
const shape2d shape{8, 512};  // groups of 16 … 64, Hadamard blocks of 128, several rows

/// Schemes whose element format has a NaN code: NaN in, NaN out.
bool nan_capable(const std::string& name) {
    static const std::set<std::string> s = {"e4m3fn", "e5m2", "e4m3fnuz", "mxfp8_e4m3",
                                            "mxfp8_e5m2"};
    return s.count(name) != 0;
}

struct result {
    std::vector<std::uint8_t> codes;
    std::vector<float> y;
};

/// Quantizes and dequantizes on both backends; requires equal codes and equal output bits
/// (NaN payloads aside, which IEEE leaves open); returns the scalar result.
result run(const scheme_info& s, const std::vector<float>& x, shape2d sh = shape) {
    auto a = s.make(), b = s.make();
    a->quantize(x, sh, backend::scalar);
    b->quantize(x, sh, backend::simd);
    result r{a->codes(), std::vector<float>(x.size())};
    std::vector<float> yb(x.size());
    a->dequantize(r.y, backend::scalar);
    b->dequantize(yb, backend::simd);
    REQUIRE(r.codes == b->codes());
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(r.y[i])) {
            REQUIRE(std::isnan(yb[i]));
            continue;
        }
        REQUIRE(std::memcmp(&r.y[i], &yb[i], 4) == 0);
    }
    return r;
}

std::size_t count_non_finite(const std::vector<float>& v) {
    std::size_t n = 0;
    for (float f : v) n += std::isfinite(f) ? 0 : 1;
    return n;
}

/// The huge-value patterns: sparse ±FLT_MAX in N(0, 1); one group spanning −FLT_MAX … FLT_MAX
/// (an asymmetric range of 2·FLT_MAX); every value huge; one FLT_MAX among small values.
std::vector<std::vector<float>> huge_inputs() {
    std::vector<std::vector<float>> v;
    auto g = lowbit_test::gaussian(shape.size(), 7);
    auto a = g;
    for (std::size_t i = 0; i < a.size(); i += 37) a[i] = (i % 2 ? -1.0f : 1.0f) * flt_max;
    v.push_back(a);
    auto b = g;
    b[40] = flt_max;
    b[41] = -flt_max;
    v.push_back(b);
    auto c = g;
    for (auto& x : c)
        x = (x < 0 ? -1.0f : 1.0f) * flt_max *
            (0.5f + std::fabs(x) / 8.0f > 1.0f ? 1.0f : 0.5f + std::fabs(x) / 8.0f);
    v.push_back(c);
    auto d = lowbit_test::gaussian(shape.size(), 8, 1e-3f);
    d[700] = flt_max;
    v.push_back(d);
    return v;
}

}  // namespace

TEST_CASE(
    "huge finite inputs: finite, sign-keeping outputs in every scheme, SIMD equal to scalar") {
    const auto inputs = huge_inputs();
    for (const auto& s : all_schemes()) {
        for (std::size_t k = 0; k < inputs.size(); ++k) {
            CAPTURE(s.name);
            CAPTURE(k);
            const auto& x = inputs[k];
            const auto r = run(s, x);
            CHECK(count_non_finite(r.y) == 0);
            if (s.family == "bbq") continue;  // the transform mixes a block: no per-element sign
            for (std::size_t i = 0; i < x.size(); ++i)
                if (std::fabs(x[i]) == flt_max) {
                    CAPTURE(i);
                    REQUIRE(std::signbit(r.y[i]) == std::signbit(x[i]));
                    REQUIRE(r.y[i] != 0.0f);
                }
        }
    }
}

TEST_CASE(
    "huge finite inputs: the scales themselves are finite (int, codebook with double quantisation, "
    "BBQ, QuEST)") {
    const auto inputs = huge_inputs();
    for (const auto& x : inputs) {
        for (auto b : {backend::scalar, backend::simd}) {
            const auto t8 = int_quantizer<int_format<8>>().quantize(x, shape, b);
            CHECK(std::isfinite(t8.scales[0]));
            CHECK(std::isfinite(t8.scales[0] * 127.0f));
            const int_quantizer<uint_format<8>> zp(
                {.gran = granularity::group(32), .form = affine::zero_point});
            const auto tz = zp.quantize(x, shape, b);
            for (float s : tz.scales) CHECK(std::isfinite(s * 255.0f));
            CHECK(count_non_finite(zp.dequantize(tz, b)) == 0);
            const int_quantizer<int_format<2, int_range::full>> go(
                {.gran = granularity::channel(0), .rule = scale_rule::gaussian_optimal()});
            const auto tg = go.quantize(x, shape, b);
            for (float s : tg.scales) CHECK(std::isfinite(s * 2.0f));
            CHECK(count_non_finite(go.dequantize(tg, b)) == 0);
            const auto tq = codebook_quantizer<4>({.double_quant = true}).quantize(x, shape, b);
            for (std::size_t g = 0; g < tq.group_count(); ++g) REQUIRE(std::isfinite(tq.scale(g)));
            for (float s : bbq_quantizer<4>().quantize(x, shape, b).scales)
                CHECK(std::isfinite(s * 8.0f));
            for (float s : quest_quantizer<2>().quantize(x, shape, b).scales)
                CHECK(std::isfinite(s * 2.0f));
        }
    }
}

TEST_CASE(
    "double-quantised NF4: absmaxes near FLT_MAX among small ones give finite scales and outputs") {
    // Two groups of 64 per row; one absmax of FLT_MAX and 255 tiny ones: m + q·d sits at FLT_MAX.
    for (std::size_t groups : {2u, 3u, 256u, 300u}) {
        std::vector<float> x(groups * 64, 1e-3f);
        for (std::size_t g = 0; g < groups; g += 2)
            x[g * 64 + 5] = flt_max * (g % 4 == 0 ? 1.0f : 0.75f);
        const codebook_quantizer<4> q({.double_quant = true});
        for (auto b : {backend::scalar, backend::simd}) {
            CAPTURE(groups);
            const auto t = q.quantize(x, {1, x.size()}, b);
            for (std::size_t g = 0; g < t.group_count(); ++g) REQUIRE(std::isfinite(t.scale(g)));
            const auto y = q.dequantize(t, b);
            CHECK(count_non_finite(y) == 0);
            CHECK(y[5] > 0.5f * flt_max);
        }
    }
}

TEST_CASE(
    "BBQ / QuEST on huge values: guarded blocks, every sigma source, H = 0 … 1024, SIMD equal to "
    "scalar") {
    for (const auto& x : huge_inputs())
        for (std::size_t H :
             {std::size_t{0}, std::size_t{16}, std::size_t{128}, std::size_t{1024}}) {
            CAPTURE(H);
            auto check = [&](const auto& q) {
                const auto a = q.quantize(x, shape, backend::scalar),
                           b = q.quantize(x, shape, backend::simd);
                REQUIRE(a.packed == b.packed);
                REQUIRE(lowbit_test::same_bits(a.scales, b.scales));
                const auto ya = q.dequantize(a, backend::scalar),
                           yb = q.dequantize(a, backend::simd);
                CHECK(count_non_finite(ya) == 0);
                CHECK(lowbit_test::same_bits(ya, yb));
            };
            check(bbq_quantizer<4>({.hadamard = H}));
            check(bbq_quantizer<3>({.hadamard = H, .sigma_from = sigma_source::per_row}));
            check(bbq_quantizer<4>(
                {.hadamard = H, .sigma_from = sigma_source::given, .sigma = 1.0f}));
            check(bbq_quantizer<2>({.hadamard = H, .gamma = flt_max}));
            check(quest_quantizer<4>({.hadamard = H}));
            check(quest_quantizer<2>(
                {.hadamard = H, .sigma_from = sigma_source::given, .sigma = flt_max}));
        }
}

TEST_CASE(
    "all-Inf and all-NaN tensors: finite outputs (NaN kept where the format has a NaN code); BBQ "
    "rejects them") {
    std::vector<float> inf(shape.size()), nan(shape.size(), NAN);
    for (std::size_t i = 0; i < inf.size(); ++i) inf[i] = i % 3 ? INFINITY : -INFINITY;
    for (const auto& s : all_schemes()) {
        CAPTURE(s.name);
        if (s.family == "bbq") {
            for (const auto* x : {&inf, &nan})
                for (auto b : {backend::scalar, backend::simd}) {
                    try {
                        s.make()->quantize(*x, shape, b);
                        FAIL("no error");
                    } catch (const error& e) {
                        CHECK(e.argument() == "x");
                        CHECK(std::string(e.what()).find("element 0 ") != std::string::npos);
                    }
                }
            continue;
        }
        const auto ri = run(s, inf);
        CHECK(count_non_finite(ri.y) == 0);
        for (std::size_t i = 0; i < inf.size(); ++i)
            REQUIRE(!(ri.y[i] > 0.0f && inf[i] < 0));  // never the wrong sign
        const auto rn = run(s, nan);
        for (float v : rn.y) REQUIRE((nan_capable(s.name) ? std::isnan(v) : v == 0.0f));
    }
}

TEST_CASE("one NaN or Inf in a normal tensor changes no other element (element-wise schemes)") {
    const auto base = lowbit_test::gaussian(shape.size(), 3);
    for (const auto& s : all_schemes()) {
        if (s.family == "bbq") continue;  // below
        for (float special : {NAN, INFINITY, -INFINITY})
            for (std::size_t p :
                 {std::size_t{0}, std::size_t{70}, std::size_t{1000}, shape.size() - 1}) {
                CAPTURE(s.name);
                CAPTURE(special);
                CAPTURE(p);
                // The value 0 lies inside every group's finite range and adds nothing to an absmax,
                // a min/max or an MSE search: the tensor with 0 at p is the one the policy reads.
                auto x = base, x0 = base;
                x[p] = special;
                x0[p] = 0.0f;
                const auto r = run(s, x), r0 = run(s, x0);
                for (std::size_t i = 0; i < x.size(); ++i)
                    if (i != p) REQUIRE(std::memcmp(&r.y[i], &r0.y[i], 4) == 0);
                if (std::isnan(special)) {
                    CHECK((nan_capable(s.name) ? std::isnan(r.y[p]) : std::isfinite(r.y[p])));
                } else {  // ±Inf saturates to the end code of its sign: finite, beyond its
                          // neighbour
                    CHECK(std::isfinite(r.y[p]));
                    CHECK(std::signbit(r.y[p]) == std::signbit(special));
                    CHECK((special > 0 ? r.y[p] >= r.y[p ^ 1] : r.y[p] <= r.y[p ^ 1]));
                }
            }
    }
}

TEST_CASE(
    "BBQ / QuEST: a non-finite value is an error naming its index, or (saturate) the tensor with "
    "its policy value") {
    const auto base = lowbit_test::gaussian(shape.size(), 4);
    for (float special : {NAN, INFINITY, -INFINITY})
        for (std::size_t p : {std::size_t{0}, std::size_t{70}, std::size_t{1000}, shape.size() - 1})
            for (std::size_t H : {std::size_t{0}, std::size_t{128}, std::size_t{1024}}) {
                CAPTURE(special);
                CAPTURE(p);
                CAPTURE(H);
                auto x = base;
                x[p] = special;
                // The policy's value: NaN → 0, ±Inf → ± the largest finite |x| of its block (the
                // row when H = 0).
                const std::size_t cols = shape.cols, r = p / cols, c = p % cols;
                std::size_t b0 = 0, b1 = cols;
                if (H != 0)
                    for (std::size_t pos = 0; pos < cols;) {
                        const std::size_t h = hadamard_block_at(cols - pos, H);
                        if (c >= pos && c < pos + h) {
                            b0 = pos;
                            b1 = pos + h;
                            break;
                        }
                        pos += h;
                    }
                float m = 0.0f;
                for (std::size_t k = b0; k < b1; ++k)
                    if (k != c) m = std::max(m, std::fabs(base[r * cols + k]));
                auto xs = base;
                xs[p] = std::isnan(special) ? 0.0f : std::copysign(m, special);
                auto check = [&](auto make) {
                    for (auto b : {backend::scalar, backend::simd}) {
                        try {
                            (void)make(non_finite::error).quantize(x, shape, b);
                            FAIL("no error");
                        } catch (const error& e) {
                            CHECK(e.argument() == "x");
                            CHECK(std::string(e.what()).find("element " + std::to_string(p) +
                                                             " ") != std::string::npos);
                        }
                        const auto q = make(non_finite::saturate);
                        const auto a = q.quantize(x, shape, b), want = q.quantize(xs, shape, b);
                        REQUIRE(a.packed == want.packed);
                        REQUIRE(lowbit_test::same_bits(a.scales, want.scales));
                        REQUIRE(a.packed == q.quantize(x, shape, backend::scalar).packed);
                        CHECK(count_non_finite(q.dequantize(a, b)) == 0);
                    }
                };
                check([&](non_finite nf) {
                    return bbq_quantizer<4>({.hadamard = H, .on_non_finite = nf});
                });
                check([&](non_finite nf) {
                    return bbq_quantizer<2>({.hadamard = H,
                                             .sigma_from = sigma_source::per_row,
                                             .zero = bbq_zero::half,
                                             .on_non_finite = nf});
                });
                check([&](non_finite nf) {
                    return quest_quantizer<3>({.hadamard = H,
                                               .sigma_from = sigma_source::given,
                                               .sigma = 0.8f,
                                               .on_non_finite = nf});
                });
            }
}

TEST_CASE(
    "BBQ under non_finite::saturate: one NaN or Inf leaves the other blocks' codes as they were") {
    // With σ given, the policy's value changes nothing outside the element's own Hadamard block.
    const auto base = lowbit_test::gaussian(shape.size(), 5);
    const bbq_quantizer<4> q(
        {.sigma_from = sigma_source::given, .sigma = 1.0f, .on_non_finite = non_finite::saturate});
    const auto want = q.quantize(base, shape).codes();
    for (float special : {NAN, INFINITY, -INFINITY}) {
        auto x = base;
        x[300] = special;  // block [256, 384) of row 0
        for (auto b : {backend::scalar, backend::simd}) {
            const auto got = q.quantize(x, shape, b).codes();
            for (std::size_t i = 0; i < got.size(); ++i)
                if (i < 256 || i >= 384) REQUIRE(got[i] == want[i]);
        }
    }
}

TEST_CASE(
    "subnormal inputs and all-zero groups: finite, zero groups decode to zero (element-wise "
    "schemes)") {
    auto sub = lowbit_test::gaussian(shape.size(), 9);
    for (auto& v : sub) v *= 1e-39f;
    sub[3] = FLT_TRUE_MIN;
    sub[4] = -FLT_TRUE_MIN;
    auto zero = lowbit_test::gaussian(shape.size(), 10);
    for (std::size_t i = 512; i < 1024; ++i) zero[i] = i % 2 ? 0.0f : -0.0f;  // row 1
    for (const auto& s : all_schemes()) {
        CAPTURE(s.name);
        CHECK(count_non_finite(run(s, sub).y) == 0);
        const auto r = run(s, zero);
        CHECK(count_non_finite(r.y) == 0);
        if (s.family == "bbq") continue;  // a midrise or z = −½ grid has no zero level
        for (std::size_t i = 512; i < 1024; ++i) REQUIRE(r.y[i] == 0.0f);
    }
}

TEST_CASE(
    "minifloat slots of scale 0 encode ±Inf as ±0, on the fused group path as on the scalar one") {
    std::vector<float> x = lowbit_test::gaussian(4 * 256, 11);
    for (std::size_t i = 64; i < 96; ++i)
        x[i] = i % 2 ? INFINITY : -INFINITY;  // one group of 32, no finite value
    x[96 + 3] = NAN;
    auto check = [&](const auto& q) {
        const auto a = q.quantize(x, {4, 256}, backend::scalar),
                   b = q.quantize(x, {4, 256}, backend::simd);
        REQUIRE(a.packed == b.packed);
        const auto y = q.dequantize(a, backend::scalar);
        for (std::size_t i = 64; i < 96; ++i) {
            REQUIRE(y[i] == 0.0f);
            REQUIRE(std::signbit(y[i]) == std::signbit(x[i]));
        }
    };
    check(minifloat_quantizer<e4m3fn, Eigen::half>({.gran = granularity::group(32)}));
    check(minifloat_quantizer<e5m2, Eigen::half>({.gran = granularity::group(32)}));
    check(minifloat_quantizer<e2m1, Eigen::half>({.gran = granularity::group(32)}));
    check(minifloat_quantizer<e3m2>({.gran = granularity::group(32)}));
    // Per tensor: an all-Inf tensor has s = 0.
    std::vector<float> inf(3000, INFINITY);
    inf[7] = -INFINITY;
    for (auto b : {backend::scalar, backend::simd}) {
        const minifloat_quantizer<e4m3fn> q;
        const auto y = q.dequantize(q.quantize(inf, {1, inf.size()}, b), b);
        CHECK(count_non_finite(y) == 0);
        CHECK(std::signbit(y[7]));
    }
}
