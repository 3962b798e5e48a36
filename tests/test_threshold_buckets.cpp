// The fast encoders of codebooks and BBQ against their references: the bucket tables (exact on
// every threshold's neighbours, on every bucket edge, on specials; refused where two thresholds
// share a bucket), NF4's 16-group kernel, BBQ's whole-run block kernel and σ's unmasked leaves,
// on random and adversarial data, odd shapes and thread splits.
#include <doctest/doctest.h>

#include <lowbit/parallel.hpp>
#include <lowbit/quantizers/bbq.hpp>
#include <lowbit/quantizers/codebook.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {
constexpr float flt_max = std::numeric_limits<float>::max();
constexpr float denorm = std::numeric_limits<float>::denorm_min();

float step(float v, int k) {  // k ulps up (k > 0) or down
    for (; k > 0; --k) v = std::nextafter(v, INFINITY);
    for (; k < 0; ++k) v = std::nextafter(v, -INFINITY);
    return v;
}

/// Values that probe a table: every threshold and level ± 3 ulps, every bucket edge ± 3 ulps,
/// the clamp bound ± 3 ulps, specials, and random values.
std::vector<float> probes(const float* t, std::size_t n, const simd::detail::bucket_table& b,
                          unsigned seed) {
    std::vector<float> v = {0.0f,    -0.0f,  denorm, -denorm, 1e-40f,   -1e-40f,  1e-30f,
                            -1e-30f, 1.0f,   -1.0f,  flt_max, -flt_max, INFINITY, -INFINITY,
                            1e30f,   -1e30f, 2.0f,   -2.0f,   0.5f,     -0.5f};
    auto around = [&](float c) {
        for (int k = -3; k <= 3; ++k) v.push_back(step(c, k));
    };
    for (std::size_t i = 0; i < n; ++i) around(t[i]);
    for (int k = -16; k <= 16; ++k)
        around((float(k) + 0.5f) / b.scale);  // where RN(y · scale) changes
    around(b.bound);
    around(-b.bound);
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(-2.5f * b.bound, 2.5f * b.bound);
    for (int i = 0; i < 20000; ++i) v.push_back(u(g));
    return v;
}

/// The table's own scalar model, code = base[k] + (y > thr[k]) (or >=), against the direct
/// count; and, where compiled in, the AVX-512 index and codes against both.
void check_table(const float* t, std::size_t n, bool inclusive, const simd::detail::bucket_table& b,
                 unsigned seed) {
    REQUIRE(b.usable);
    const auto ys = probes(t, n, b, seed);
    auto direct = [&](float y) {
        int c = 0;
        for (std::size_t i = 0; i < n; ++i) c += inclusive ? (y >= t[i]) : (y > t[i]);
        return c;
    };
    std::size_t bad = 0;
    for (float y : ys) {
        const int k = b.bucket(y);
        REQUIRE(k >= 0);
        REQUIRE(k < simd::detail::bucket_table::count);
        const int model = b.base[k] + (inclusive ? (y >= b.thr[k]) : (y > b.thr[k]));
        bad += model != direct(y);
    }
    CHECK(bad == 0);
#if defined(LOWBIT_SIMD_BUCKETS)
    const simd::detail::bucket_regs r(b);
    std::size_t bad_index = 0, bad_code = 0;
    for (std::size_t i = 0; i + 16 <= ys.size(); i += 16) {
        const __m512 y = _mm512_loadu_ps(ys.data() + i);
        alignas(64) std::int32_t idx[16], code[16];
        _mm512_store_si512(idx, simd::detail::bucket_index<true>(y, r));
        _mm512_store_si512(code,
                           inclusive ? simd::detail::bucket_codes<true, true>(y, r)
                                     : simd::detail::bucket_codes<false, true>(y, r));
        for (int l = 0; l < 16; ++l) {
            bad_index += (idx[l] & 31) != b.bucket(ys[i + l]);
            bad_code += code[l] != direct(ys[i + l]);
        }
    }
    CHECK(bad_index == 0);
    CHECK(bad_code == 0);
    // Unclamped (the NF4 16-group kernel): only values within ±bound.
    std::size_t bad_inner = 0;
    for (std::size_t i = 0; i + 16 <= ys.size(); i += 16) {
        alignas(64) float in[16];
        for (int l = 0; l < 16; ++l) in[l] = std::fabs(ys[i + l]) <= b.bound ? ys[i + l] : 0.0f;
        alignas(64) std::int32_t code[16];
        const __m512 y = _mm512_load_ps(in);
        _mm512_store_si512(code,
                           inclusive ? simd::detail::bucket_codes<true, false>(y, r)
                                     : simd::detail::bucket_codes<false, false>(y, r));
        for (int l = 0; l < 16; ++l) bad_inner += code[l] != direct(in[l]);
    }
    CHECK(bad_inner == 0);
#endif
}
}  // namespace

TEST_CASE(
    "bucket tables are exact on every threshold's and bucket edge's neighbours and on specials") {
    SUBCASE("NormalFloat codebooks, y > t, bound 1") {
        const auto nf2 = normal_float_codebook<2>();
        const auto nf3 = normal_float_codebook<3>();
        const auto nf4 = normal_float_codebook<4>();
        check_table(nf2.thresholds.data(), 3, false,
                    simd::detail::bucket_table(nf2.thresholds.data(), 3, false, 1.0f), 1);
        check_table(nf3.thresholds.data(), 7, false,
                    simd::detail::bucket_table(nf3.thresholds.data(), 7, false, 1.0f), 2);
        check_table(nf4.thresholds.data(), 15, false,
                    simd::detail::bucket_table(nf4.thresholds.data(), 15, false, 1.0f), 3);
    }
    SUBCASE("BBQ thresholds, v >= t, the kernel's bound") {
        auto bbq = [](auto fmt, unsigned seed) {
            using F = decltype(fmt);
            const auto& t = F::thresholds();
            const simd::bbq_kernel<F::bits, xsimd::default_arch> k(bbq_zero::integer);
            const auto b = simd::detail::has_buckets<xsimd::default_arch>
                ? k.buckets
                : simd::detail::bucket_table(t.data(), t.size(), true, 1.75f);
            check_table(t.data(), t.size(), true, b, seed);
        };
        bbq(bbq_format<1>{}, 4);
        bbq(bbq_format<2>{}, 5);
        bbq(bbq_format<3>{}, 6);
        bbq(bbq_format<4>{}, 7);
    }
    SUBCASE("a table is refused where two thresholds share a bucket, or one is not finite") {
        const auto& t5 = bbq_format<5>::thresholds();
        CHECK_FALSE(simd::detail::bucket_table(t5.data(), t5.size(), true, 2.2f).usable);
        const auto& t8 = bbq_format<8>::thresholds();
        CHECK_FALSE(simd::detail::bucket_table(t8.data(), t8.size(), true, 3.0f).usable);
        const float twins[] = {-0.5f, 0.25f, 0.25f};  // equal thresholds: one bucket, two of them
        CHECK_FALSE(simd::detail::bucket_table(twins, 3, false, 1.0f).usable);
        const float close[] = {-0.5f, 0.01f, 0.02f};
        CHECK_FALSE(simd::detail::bucket_table(close, 3, false, 1.0f).usable);
        const float inf[] = {-0.5f, 0.0f, INFINITY};
        CHECK_FALSE(simd::detail::bucket_table(inf, 3, false, 1.0f).usable);
        const float fine[] = {-0.5f, 0.0f, 0.5f};
        CHECK(simd::detail::bucket_table(fine, 3, false, 1.0f).usable);
    }
}

TEST_CASE(
    "codebooks whose buckets do not fit fall back to the search, still equal to the reference") {
    const std::vector<float> lv = {-1.0f, -0.3f, 0.0f,  0.0f,
                                   0.0f,  0.01f, 0.02f, 1.0f};  // thresholds 0, 0 and 0.005 …
    const auto cb = codebook<3>::from_levels(lv);
    CHECK_FALSE(simd::codebook_kernel<3>(cb).buckets.usable);
    codebook_quantizer<3> q(cb, {.group_size = 64});
    for (int kind = 0; kind < 2; ++kind) {
        const auto x =
            kind ? lowbit_test::adversarial(7 * 333, 9) : lowbit_test::gaussian(7 * 333, 9);
        CHECK(q.quantize(x, {7, 333}, backend::scalar).packed ==
              q.quantize(x, {7, 333}, backend::simd).packed);
    }
}

namespace {
/// Groups of 64 that stress the 16-group kernel, cycled over the tensor.
std::vector<float> nf4_groups(std::size_t n, unsigned seed) {
    auto x = lowbit_test::gaussian(n, seed);
    const auto nf4 = normal_float_codebook<4>();
    std::mt19937 g(seed);
    for (std::size_t g0 = 0; g0 + 64 <= n; g0 += 64) {
        float* p = x.data() + g0;
        switch ((g0 / 64) % 13) {
            case 0:
                for (int i = 0; i < 64; ++i) p[i] = 0.0f;
                break;  // all zero
            case 1:
                for (int i = 0; i < 64; ++i) p[i] = (i % 2 ? -1.0f : 1.0f) * denorm * float(i + 1);
                break;                         // 1/absmax overflows
            case 2: p[g() % 64] = NAN; break;  // to the group kernel
            case 3: p[g() % 64] = -INFINITY; break;
            case 4:
                p[0] = flt_max;
                p[1] = -flt_max;
                break;  // huge but finite
            case 5:     // absmax 1: values on every threshold and one ulp either side
                p[0] = 1.0f;
                for (int i = 0; i < 15; ++i) {
                    p[1 + 3 * i] = nf4.thresholds[i];
                    p[2 + 3 * i] = std::nextafter(nf4.thresholds[i], 2.0f);
                    p[3 + 3 * i] = std::nextafter(nf4.thresholds[i], -2.0f);
                }
                break;
            case 6:
                for (int i = 0; i < 64; ++i) p[i] = -0.0f;
                break;
            case 7:
                for (int i = 0; i < 64; ++i) p[i] *= 1e-38f;
                break;  // subnormal products
            case 8:
                p[5] = NAN;
                p[6] = INFINITY;
                for (int i = 7; i < 64; ++i) p[i] = 0.0f;
                break;  // absmax 0 and an Inf
            case 9:
                for (int i = 0; i < 64; ++i) p[i] = nf4.levels[i % 16] * 3.0f;
                break;  // exact levels
            default: break;
        }
    }
    return x;
}
}  // namespace

TEST_CASE(
    "NF4 in 16-group steps equals the reference: across rows, inside rows, ranges and threads") {
    codebook_quantizer<4> q;
    for (const shape2d s :
         {shape2d{5, 320}, shape2d{2, 1088}, shape2d{1, 4096}, shape2d{3, 2080}, shape2d{2, 1000},
          shape2d{1, 1024}, shape2d{17, 64}, shape2d{1, 1023}, shape2d{6, 4096 + 66}}) {
        for (int kind = 0; kind < 3; ++kind) {
            const std::vector<float> x = kind == 0
                ? lowbit_test::gaussian(s.size(), unsigned(s.cols))
                : kind == 1 ? lowbit_test::adversarial(s.size(), unsigned(s.cols))
                            : nf4_groups(s.size(), unsigned(s.cols));
            INFO("rows " << s.rows << " cols " << s.cols << " kind " << kind);
            const auto a = q.quantize(x, s, backend::scalar), b = q.quantize(x, s, backend::simd);
            CHECK(a.packed == b.packed);
            CHECK(lowbit_test::same_bits(a.scales, b.scales));
            const auto c = quantize_parallel(q, x, s, 3);
            CHECK(c.packed == a.packed);
            CHECK(lowbit_test::same_bits(c.scales, a.scales));
        }
    }
}

TEST_CASE(
    "BBQ in whole runs of blocks equals the reference: H 64, 128, 256; sigma per tensor, per row, "
    "given") {
    constexpr auto sat = non_finite::saturate;  // adversarial data holds ±Inf and NaN
    auto check = [](const auto& q, const std::vector<float>& x, shape2d s) {
        const auto a = q.quantize(x, s, backend::scalar), b = q.quantize(x, s, backend::simd);
        CHECK(a.packed == b.packed);
        CHECK(lowbit_test::same_bits(a.sigmas, b.sigmas));
        CHECK(quantize_parallel(q, x, s, 3).packed == a.packed);
        CHECK(quantize_parallel(q, x, s, 7).packed == a.packed);
    };
    for (const shape2d s : {shape2d{16, 256}, shape2d{3, 1024}, shape2d{5, 384},
                            shape2d{2, 128 * 3 + 64 + 2}, shape2d{1, 4096}}) {
        for (int kind = 0; kind < 3; ++kind) {
            std::vector<float> x = kind == 1 ? lowbit_test::adversarial(s.size(), unsigned(s.cols))
                                             : lowbit_test::gaussian(s.size(), unsigned(s.cols));
            if (kind == 2) {  // huge values: unguarded sums of a block would overflow; a zero row
                for (std::size_t i = 0; i < x.size(); i += 3)
                    x[i] = (i % 2 ? -1.0f : 1.0f) * flt_max;
                for (std::size_t i = 0; i < s.cols; ++i) x[i] = 0.0f;
            }
            INFO("rows " << s.rows << " cols " << s.cols << " kind " << kind);
            for (std::size_t H : {std::size_t{64}, std::size_t{128}, std::size_t{256}}) {
                check(bbq_quantizer<4>({.hadamard = H, .on_non_finite = sat}), x, s);
                check(
                    bbq_quantizer<4, bbq_codes::index>(
                        {.hadamard = H, .sigma_from = sigma_source::per_row, .on_non_finite = sat}),
                    x, s);
                check(bbq_quantizer<4>({.hadamard = H,
                                        .sigma_from = sigma_source::given,
                                        .sigma = 0.37f,
                                        .on_non_finite = sat}),
                      x, s);
                check(bbq_quantizer<3, bbq_codes::e2m1>({.hadamard = H, .on_non_finite = sat}), x,
                      s);
            }
        }
    }
    // The thresholds moved in front of the normalisation, for scales from tiny to huge (and past
    // where they stay finite, which falls back to multiplying).
    for (float sigma : {1e-38f, 1e-30f, 3e-7f, 0.37f, 1.0f, 5.5f, 1e20f, 1e36f, 3e38f}) {
        for (int kind = 0; kind < 2; ++kind) {
            auto x =
                kind ? lowbit_test::adversarial(8 * 512, 77) : lowbit_test::gaussian(8 * 512, 78);
            for (auto& v : x) v *= sigma > 1.0f ? 1.0f : sigma;
            INFO("sigma " << sigma << " kind " << kind);
            check(bbq_quantizer<4>(
                      {.sigma_from = sigma_source::given, .sigma = sigma, .on_non_finite = sat}),
                  x, {8, 512});
            check(bbq_quantizer<4, bbq_codes::index>({.hadamard = 64,
                                                      .sigma_from = sigma_source::given,
                                                      .sigma = sigma,
                                                      .on_non_finite = sat}),
                  x, {8, 512});
            check(bbq_quantizer<2>({.hadamard = 256,
                                    .sigma_from = sigma_source::given,
                                    .sigma = sigma,
                                    .on_non_finite = sat}),
                  x, {8, 512});
            check(bbq_quantizer<4>({.on_non_finite = sat}), x, {8, 512});
        }
    }
    // σ = 0 (all zeros): r = 0, every code is that of v = 0.
    const std::vector<float> zeros(4 * 256, 0.0f);
    const auto t = bbq_quantizer<4>().quantize(zeros, {4, 256});
    for (auto c : t.codes()) CHECK(c == 0);  // INT4 of q_u = 8
}

TEST_CASE(
    "sigma's unmasked leaves: huge finite values, one non-finite value at every position of a "
    "leaf") {
    std::vector<float> x(256 * 4, flt_max);
    for (std::size_t i = 0; i < x.size(); i += 2) x[i] = -flt_max;
    std::size_t finite = 0;
    double a = tree_sum_squares_finite(x), b = simd::tree_sum_squares_finite(x, &finite);
    CHECK(std::memcmp(&a, &b, sizeof a) == 0);
    CHECK(std::isfinite(b));
    CHECK(finite == x.size());
    const float specials[] = {NAN, INFINITY, -INFINITY};
    for (std::size_t pos = 0; pos < 256; pos += 5) {
        auto y = lowbit_test::gaussian(256 * 3 + 17, unsigned(pos));
        y[256 + pos] = specials[pos % 3];
        a = tree_sum_squares_finite(y);
        b = simd::tree_sum_squares_finite(y, &finite);
        CHECK(std::memcmp(&a, &b, sizeof a) == 0);
        CHECK(finite == y.size() - 1);
    }
}

TEST_CASE(
    "sigma's leaves read as streams: every leaf once, the parts' edges, a partial last leaf") {
    // From 256 leaves on, the SIMD sum reads its leaves as simd::detail::leaf_streams streams; the
    // first and last leaf of every part and the leftover leaves each hold one non-finite value.
    constexpr std::size_t S = simd::detail::leaf_streams;
    for (std::size_t leaves : {255, 256, 257, 258, 259, 1027})
        for (std::size_t tail : {1, 100, 256}) {
            const std::size_t n = (leaves - 1) * 256 + tail;
            auto x = lowbit_test::gaussian(n, unsigned(leaves * 7 + tail));
            const std::size_t part = leaves / S;
            std::vector<std::size_t> marked;
            for (std::size_t s = 0; s < S; ++s) {
                marked.push_back(s * part);
                marked.push_back(s * part + part - 1);
            }
            for (std::size_t b = S * part; b < leaves; ++b) marked.push_back(b);
            std::size_t k = 0, bad = 0;
            for (std::size_t b : marked) {
                const std::size_t i = std::min(b * 256 + (k * 37) % 256, n - 1);
                if (std::isfinite(x[i])) ++bad;
                x[i] = k % 3 == 0 ? NAN : k % 3 == 1 ? INFINITY : -INFINITY;
                ++k;
            }
            std::size_t finite = 0;
            const double a = tree_sum_squares_finite(x),
                         b = simd::tree_sum_squares_finite(x, &finite);
            CAPTURE(leaves);
            CAPTURE(tail);
            CHECK(std::memcmp(&a, &b, sizeof a) == 0);
            CHECK(finite == n - bad);
        }
}

TEST_CASE("for_each_step_backward visits every step of [begin, end) once, parts' tails first") {
    auto check = [](auto streams, std::size_t begin, std::size_t end, std::size_t step) {
        constexpr std::size_t S = decltype(streams)::value;
        std::vector<int> seen(end - begin, 0);
        std::vector<std::size_t> starts;
        bool aligned = true;
        detail::for_each_step_backward<S>(begin, end, step, [&](std::size_t c0, std::size_t c1) {
            aligned =
                aligned && (c0 - begin) % step == 0 && c1 > c0 && c1 - c0 <= step && c1 <= end;
            for (std::size_t i = c0; i < c1; ++i) ++seen[i - begin];
            starts.push_back(c0);
        });
        CAPTURE(S);
        CAPTURE(end - begin);
        CHECK(aligned);
        CHECK(std::all_of(seen.begin(), seen.end(), [](int v) { return v == 1; }));
        if (end - begin >
            detail::backward_piece * S) {  // the first piece visited is the last of part 0
            const std::size_t pieces =
                (end - begin + detail::backward_piece - 1) / detail::backward_piece;
            CHECK(starts.front() == begin + ((pieces + S - 1) / S - 1) * detail::backward_piece);
        }
    };
    const std::size_t P = detail::backward_piece;
    for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{64}, P - 1, P, P + 1,
                            5 * P + 64, 9 * P - 128, 17 * P}) {
        check(std::integral_constant<std::size_t, 1>{}, 0, len, 64);
        check(std::integral_constant<std::size_t, 4>{}, 4096, 4096 + len, 128);
        check(std::integral_constant<std::size_t, 8>{}, 64, 64 + len, P);
    }
}

TEST_CASE(
    "quantize_into a reused tensor leaves no stale byte or scale (prepare does not clear them)") {
    auto reuse = [](const auto& q, shape2d s) {
        const auto x = lowbit_test::gaussian(s.size(), 5),
                   y = lowbit_test::adversarial(s.size(), 6);
        for (auto b : {backend::scalar, backend::simd}) {
            auto t = q.quantize(x, s, b);
            q.quantize_into(y, s, t, b);
            const auto fresh = q.quantize(y, s, b);
            CHECK(t.packed == fresh.packed);
            CHECK(lowbit_test::same_bits(t.scales, fresh.scales));
            auto u = quantize_parallel(q, x, s, 3);
            q.quantize_into(y, s, u, b);
            CHECK(u.packed == fresh.packed);
        }
    };
    for (const shape2d s : {shape2d{3, 1000}, shape2d{5, 333}, shape2d{2, 4096}, shape2d{7, 27}}) {
        INFO("rows " << s.rows << " cols " << s.cols);
        reuse(codebook_quantizer<4>(), s);
        reuse(codebook_quantizer<3>(), s);
        reuse(codebook_quantizer<4>({.group_size = 7, .order = nibble_order::high_first}), s);
        constexpr auto sat = non_finite::saturate;  // y holds ±Inf and NaN
        reuse(bbq_quantizer<4>({.on_non_finite = sat}), s);
        reuse(bbq_quantizer<3>({.sigma_from = sigma_source::per_row, .on_non_finite = sat}), s);
        reuse(bbq_quantizer<4>(
                  {.hadamard = 0, .order = nibble_order::high_first, .on_non_finite = sat}),
              s);
        reuse(quest_quantizer<2>({.on_non_finite = sat}), s);
    }
}

TEST_CASE("BBQ over many 1 MiB pieces in four parts (tail first) equals the reference") {
    const shape2d s{
        1024, 2112};  // 16896 blocks of 128: 9 pieces of 2048 blocks (the last 512), parts of 3
    auto x = lowbit_test::gaussian(s.size(), 99);
    x[12345] = NAN;
    x[s.size() - 7] = INFINITY;
    bbq_quantizer<4> q({.on_non_finite = non_finite::saturate});
    const auto a = q.quantize(x, s, backend::scalar), b = q.quantize(x, s, backend::simd);
    CHECK(a.packed == b.packed);
    CHECK(lowbit_test::same_bits(a.sigmas, b.sigmas));
    bbq_quantizer<4> g(
        {.sigma_from = sigma_source::given, .sigma = 1.25f, .on_non_finite = non_finite::saturate});
    CHECK(g.quantize(x, s, backend::scalar).packed == g.quantize(x, s, backend::simd).packed);
}
