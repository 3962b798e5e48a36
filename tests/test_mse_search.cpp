// The MSE-searched scale rule (scale_rule::mse_search) against its definition in
// scale/mse.hpp, transcribed independently below: the chosen clip is the first candidate of
// least error, the error summed in chunks of 1024 (16 float partials, folded), superblocks of
// 65 536 (double) and the superblocks' total (double, saturated). Scalar and SIMD choose the
// same candidate, on every length around the chunk and superblock edges, with non-finite values
// mixed in, for symmetric, full-range and offset/zero-point formats; quantize_parallel gives the
// same scales for any thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>
#include <lowbit/parallel.hpp>

#include "test_util.hpp"

namespace {

using namespace lowbit;

/// Σ (x − x̂)² as scale/mse.hpp defines it, for a reconstruction x̂ given in full.
float defined_reconstruction_error(const std::vector<float>& x, const std::vector<float>& xhat) {
    double total = 0.0;
    for (std::size_t sb = 0; sb < x.size(); sb += 65536) {
        double sum = 0.0;
        for (std::size_t c0 = sb; c0 < std::min(sb + 65536, x.size()); c0 += 1024) {
            float p[16] = {};
            for (std::size_t j = c0; j < std::min({c0 + 1024, sb + 65536, x.size()}); ++j) {
                if (!std::isfinite(x[j])) continue;
                volatile float d = x[j] - xhat[j];
                volatile float d2 = d * d;
                p[(j - c0) % 16] += d2;
            }
            for (int w = 8; w >= 1; w /= 2)
                for (int i = 0; i < w; ++i) p[i] += p[i + w];
            sum += double(p[0]);
        }
        total += sum;
    }
    return float(std::min(total, double(std::numeric_limits<float>::max())));
}

/// The error of candidate (s, m) as scale/mse.hpp defines it: x̂ = clamp(RNE((x − m) · (1/s))) · s
/// + m, each operation rounded on its own, then the defined sum.
float defined_error(const std::vector<float>& x, float s, float m, float qmin, float qmax) {
    const float inv = s == 0.0f || !std::isfinite(1.0f / s) ? 0.0f : 1.0f / s;
    std::vector<float> xhat(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
        if (!std::isfinite(x[j])) continue;   // skipped by the sum
        volatile float y = (x[j] - m) * inv;  // volatile: each operation rounded on its own
        const float q = std::min(std::max(std::nearbyint(float(y)), qmin), qmax);
        volatile float qs = q * s;
        xhat[j] = qs + m;
    }
    return defined_reconstruction_error(x, xhat);
}

float finite_absmax(const std::vector<float>& x) {
    float a = 0.0f;
    for (float v : x)
        if (std::isfinite(v)) a = std::max(a, std::fabs(v));
    return a;
}

/// Gaussian values with outliers, and (adv) NaN / ±Inf mixed in.
std::vector<float> data(std::size_t n, unsigned seed, bool adv) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(n);
    for (auto& v : x) v = g(rng) + (rng() % 97 == 0 ? 8.0f * g(rng) : 0.0f);
    if (adv)
        for (std::size_t i = 0; i < n; i += 1 + rng() % 300)
            x[i] = (rng() % 3 == 0) ? NAN : (rng() % 2 ? INFINITY : -INFINITY);
    return x;
}

template <class Format>
void check_signed(const std::vector<float>& x) {
    constexpr float qmin = float(Format::qmin), qmax = float(Format::qmax),
                    span = float(Format::scale_span);
    const float amax = finite_absmax(x);
    int best = 0;
    float best_err = INFINITY;
    for (int c = 0; c < 49; ++c) {
        const float e = defined_error(x, float(64 - c) / 64.0f * amax / span, 0.0f, qmin, qmax);
        if (e < best_err) {
            best_err = e;
            best = c;
        }
    }
    const float L = float(64 - best) / 64.0f * amax;
    int_quantizer<Format> searched({.rule = scale_rule::mse_search()});
    const shape2d shape{1, x.size()};
    const auto ts = searched.quantize(x, shape, backend::scalar),
               tv = searched.quantize(x, shape, backend::simd);
    CHECK(tv.packed == ts.packed);
    CHECK(std::memcmp(&tv.scales[0], &ts.scales[0], sizeof(float)) == 0);
    if (L == 0.0f) return;  // no finite nonzero value: no clip range for fixed() to compare with
    int_quantizer<Format> fixed({.rule = scale_rule::fixed(L)});
    const auto tf = fixed.quantize(x, shape, backend::scalar);
    CAPTURE(best);
    CHECK(std::memcmp(&ts.scales[0], &tf.scales[0], sizeof(float)) == 0);
}

template <class Format>
void check_unsigned(const std::vector<float>& x, affine form) {
    constexpr float qmax = float(Format::qmax);
    float lo = INFINITY, hi = -INFINITY;
    for (float v : x)
        if (std::isfinite(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    if (lo > hi) lo = hi = 0.0f;
    int best = 0;
    float best_err = INFINITY;
    for (int c = 0; c < 49; ++c) {
        const float r = float(64 - c) / 64.0f, l = r * lo, h = r * hi;
        const float e = defined_error(x, (h - l) / qmax, l, 0.0f, qmax);
        if (e < best_err) {
            best_err = e;
            best = c;
        }
    }
    const float r = float(64 - best) / 64.0f;
    int_quantizer<Format> searched({.rule = scale_rule::mse_search(), .form = form});
    const shape2d shape{1, x.size()};
    const auto ts = searched.quantize(x, shape, backend::scalar),
               tv = searched.quantize(x, shape, backend::simd);
    CHECK(tv.packed == ts.packed);
    CHECK(std::memcmp(&tv.scales[0], &ts.scales[0], sizeof(float)) == 0);
    if (!(r * lo < r * hi)) return;  // one distinct value: no range for fixed_range to compare with
    int_quantizer<Format> fixed({.rule = scale_rule::fixed_range(r * lo, r * hi), .form = form});
    const auto tf = fixed.quantize(x, shape, backend::scalar);
    CAPTURE(best);
    CHECK(std::memcmp(&ts.scales[0], &tf.scales[0], sizeof(float)) == 0);
    CHECK(std::memcmp(&tv.scales[0], &tf.scales[0], sizeof(float)) == 0);
    CHECK(ts.offsets == tf.offsets);
    CHECK(ts.zero_points == tf.zero_points);
}

}  // namespace

TEST_CASE("the MSE search picks the first candidate of least defined error, on every path") {
    const std::size_t lengths[] = {1,    2,    15,   16,    17,    31,    1023,  1024,
                                   1025, 2047, 3000, 65535, 65536, 65537, 140001};
    unsigned seed = 1;
    for (std::size_t n : lengths)
        for (bool adv : {false, true}) {
            CAPTURE(n);
            CAPTURE(adv);
            const auto x = data(n, seed++, adv);
            check_signed<int_format<8>>(x);                   // symmetric: the magnitude kernel
            check_signed<int_format<4, int_range::full>>(x);  // qmin = −qmax − 1: both clamps
            check_unsigned<uint_format<8>>(x, affine::offset);
            check_unsigned<uint_format<4>>(x, affine::zero_point);
        }
}

TEST_CASE(
    "MSE search: huge values saturate the error sums, and the widest candidate wins the tie") {
    const float big = std::numeric_limits<float>::max();
    std::vector<float> x(3000);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i % 3 == 0 ? big : -big / float(1 + i % 7));
    int_quantizer<int_format<8>> q({.rule = scale_rule::mse_search()});
    for (backend b : {backend::scalar, backend::simd}) {
        const auto t = q.quantize(x, {1, x.size()}, b);
        const auto y = q.dequantize(t);
        for (float v : y) REQUIRE(std::isfinite(v));
        CHECK(t.scales[0] ==
              int_quantizer<int_format<8>>()
                  .quantize(x, {1, x.size()}, b)
                  .scales[0]);  // candidate 0 = absmax
    }
}

TEST_CASE("MSE search: the scales do not depend on the thread count") {
    const auto x = data(3 * 65536 + 12345, 77, true);
    int_quantizer<int_format<8>> tensor({.rule = scale_rule::mse_search()});
    int_quantizer<uint_format<4>> rows({.gran = granularity::channel(0),
                                        .rule = scale_rule::mse_search(),
                                        .form = affine::zero_point});
    int_quantizer<int_format<4>> groups(
        {.gran = granularity::group(64), .rule = scale_rule::mse_search()});
    const shape2d one{1, x.size()}, many{3, x.size() / 3};
    const auto t1 = tensor.quantize(x, one);
    const auto r1 = rows.quantize(x, many);
    const auto g1 = groups.quantize(x, many);
    for (unsigned threads : {2u, 3u, 5u}) {
        CAPTURE(threads);
        const auto t = quantize_parallel(tensor, x, one, threads);
        CHECK(std::memcmp(t.scales.data(), t1.scales.data(), sizeof(float)) == 0);
        CHECK(t.packed == t1.packed);
        const auto r = quantize_parallel(rows, x, many, threads);
        CHECK(r.zero_points == r1.zero_points);
        CHECK(std::memcmp(r.scales.data(), r1.scales.data(),
                          r.scales.size() * sizeof(r.scales[0])) == 0);
        CHECK(r.packed == r1.packed);
        const auto g = quantize_parallel(groups, x, many, threads);
        CHECK(std::memcmp(g.scales.data(), g1.scales.data(),
                          g.scales.size() * sizeof(g.scales[0])) == 0);
        CHECK(g.packed == g1.packed);
    }
}

TEST_CASE("MSE search per group and per channel: scalar and SIMD choose the same scales") {
    for (std::size_t g :
         {std::size_t{1}, std::size_t{7}, std::size_t{16}, std::size_t{32}, std::size_t{33},
          std::size_t{100}, std::size_t{255}, std::size_t{256}, std::size_t{300}}) {
        for (bool adv : {false, true}) {
            CAPTURE(g);
            CAPTURE(adv);
            const shape2d shape{5, 3 * g + 11};
            const auto x = data(shape.size(), unsigned(g) + (adv ? 100u : 0u), adv);
            auto same = [&](const auto& q) {
                const auto a = q.quantize(x, shape, backend::scalar),
                           b = q.quantize(x, shape, backend::simd);
                CHECK(a.packed == b.packed);
                CHECK(std::memcmp(a.scales.data(), b.scales.data(),
                                  a.scales.size() * sizeof(a.scales[0])) == 0);
                CHECK(a.offsets == b.offsets);
                CHECK(a.zero_points == b.zero_points);
            };
            same(int_quantizer<int_format<4>>(
                {.gran = granularity::group(g), .rule = scale_rule::mse_search()}));
            same(int_quantizer<int_format<3, int_range::full>, Eigen::half>(
                {.gran = granularity::group(g), .rule = scale_rule::mse_search()}));
            same(int_quantizer<uint_format<4>>(
                {.gran = granularity::group(g), .rule = scale_rule::mse_search()}));
            same(int_quantizer<uint_format<8>, Eigen::bfloat16>({.gran = granularity::group(g),
                                                                 .rule = scale_rule::mse_search(),
                                                                 .form = affine::zero_point}));
            same(int_quantizer<int_format<8>>(
                {.gran = granularity::channel(1), .rule = scale_rule::mse_search()}));
        }
    }
}

namespace {
/// The scale the definition picks for one slot quantized per tensor: candidate by candidate,
/// the scalar reference's own codes and values, the first of least error.
template <class Format>
float defined_minifloat_scale(const std::vector<float>& x) {
    const float amax = finite_absmax(x);
    if (amax == 0.0f) return 0.0f;
    minifloat_quantizer<Format> absmax_q;
    float best = 0.0f, best_err = 0.0f;
    for (int c = 0; c < 49; ++c) {
        const float s = (float(64 - c) / 64.0f * amax) / Format::max();
        const auto t = absmax_q.quantize_with_scales(
            x, {1, x.size()}, std::span<const float>(&s, 1), backend::scalar);
        const float e = defined_reconstruction_error(x, absmax_q.dequantize(t, backend::scalar));
        if (c == 0 || e < best_err) best = s, best_err = e;
    }
    return best;
}
}  // namespace

TEST_CASE_TEMPLATE("minifloat MSE scale: the defined candidate, on every path and thread count", F,
                   e4m3fn, e5m2, e2m1, e3m2) {
    const minifloat_quantizer<F> q({.rule = scale_rule::mse_search()});
    // Slots past one superblock (65 536 values) for one format: the summation across superblocks
    // does not depend on the element format, and each length costs 49 reference passes.
    std::vector<std::size_t> lengths = {1, 1023, 4097};
    if (std::is_same_v<F, e4m3fn>) lengths.insert(lengths.end(), {65536 + 1000, 2 * 65536 + 17});
    for (std::size_t n : lengths)
        for (bool adv : {false, true}) {
            CAPTURE(n);
            CAPTURE(adv);
            const auto x = data(n, unsigned(n) + 3, adv);
            const auto a = q.quantize(x, {1, n}, backend::scalar);
            const auto b = q.quantize(x, {1, n}, backend::simd);
            const auto p = quantize_parallel(q, x, {1, n}, 3);
            const float want = defined_minifloat_scale<F>(x);
            CHECK(a.scales[0] == want);
            CHECK(b.scales[0] == want);
            CHECK(p.scales[0] == want);
            CHECK(a.packed == b.packed);
            CHECK(p.packed == b.packed);
        }
}

TEST_CASE("FP8 / FP4 with per-channel and per-group MSE scales: never worse than absmax") {
    const std::size_t rows = 7, cols = 3000;
    const auto x = data(rows * cols, 91, false);
    const auto adv = data(rows * cols, 92, true);
    const granularity grans[] = {granularity::channel(0), granularity::group(32)};
    for (const granularity& g : grans) {
        CAPTURE(int(g.type));
        const minifloat_quantizer<e4m3fn> fp8({.gran = g}),
            fp8_mse({.gran = g, .rule = scale_rule::mse_search()});
        const minifloat_quantizer<e2m1> fp4({.gran = g}),
            fp4_mse({.gran = g, .rule = scale_rule::mse_search()});
        const auto err = [&](const auto& q) {
            return defined_reconstruction_error(x, q.dequantize(q.quantize(x, {rows, cols})));
        };
        CHECK(err(fp8_mse) <= err(fp8));
        // Clipping outliers pays at 4 bits: by more than 10 % for whole rows, less for groups
        // of 32.
        const float gain = g.type == granularity::kind::per_channel ? 0.9f : 1.0f;
        CHECK(err(fp4_mse) < gain * err(fp4));
        // Each slot's scale is the one its own row or group would get alone (per tensor).
        const auto t = fp4_mse.quantize(x, {rows, cols});
        const std::size_t G = g.type == granularity::kind::per_group ? 32 : cols;
        for (std::size_t s : {std::size_t{0}, std::size_t{5}, t.scales.size() - 1}) {
            const std::size_t per_row = (cols + G - 1) / G, r = s / per_row, c0 = (s % per_row) * G;
            const std::vector<float> slot(x.begin() + long(r * cols + c0),
                                          x.begin() + long(r * cols + std::min(c0 + G, cols)));
            CHECK(t.scales[s] == defined_minifloat_scale<e2m1>(slot));
        }
        // Scalar, SIMD and threads agree, non-finite values mixed in.
        const auto a = fp8_mse.quantize(adv, {rows, cols}, backend::scalar);
        const auto b = fp8_mse.quantize(adv, {rows, cols}, backend::simd);
        const auto p = quantize_parallel(fp8_mse, adv, {rows, cols}, 2);
        CHECK(a.scales == b.scales);
        CHECK(p.scales == b.scales);
        CHECK(a.packed == b.packed);
        for (float s : b.scales) CHECK(std::isfinite(s));
    }
    CHECK_THROWS_AS(minifloat_quantizer<e4m3fn>({.rule = scale_rule::gaussian_optimal()}), error);
}
