// The FP family's fast CPU paths against the scalar reference, bit for bit: the lean
// round-to-nearest-even encode (every format, dense float32 bit-pattern sweeps with every tie),
// the multi-stream absmax, the vectorised OCP-floor MX scales, the fused block kernels' redo of
// blocks holding a non-finite value, stream_bytes and the streamed encode at every alignment, and
// the quantizers' long paths (back-to-front pieces, streamed codes) on tensors past their
// thresholds.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>
#include <lowbit/simd/primitives.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {

float bits_to_float(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
std::uint32_t float_to_bits(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

/// Every float32 pattern (hi << 12) | lo for all 2^20 hi and lo in {0, 1, 0x7FF, 0x800, 0xFFF}: for
/// every format here (rounding at bit 23 − M >= 16) that holds every tie between adjacent codes
/// and the patterns just below and above it, every exponent, both signs, ±Inf and NaNs.
/// Under LOWBIT_TEST_SCALE < 1 only the hi whose four low bits (float bits 12..15) are all equal
/// are kept: an eighth of the patterns, still every tie (rounding bit 22 − M set, the bits below
/// it zero) and every pattern just below one (those bits all ones), since M <= 4 here puts bits
/// 12..15 below the rounding bit.
std::vector<float> pattern_sweep() {
    const bool thin = lowbit_test::test_scale() < 1.0;
    std::vector<float> v;
    v.reserve((std::size_t{1} << 20) * 5);
    for (std::uint32_t hi = 0; hi < (1u << 20); ++hi) {
        if (thin && (hi & 15u) != 0u && (hi & 15u) != 15u) continue;
        for (std::uint32_t lo : {0u, 1u, 0x7FFu, 0x800u, 0xFFFu})
            v.push_back(bits_to_float((hi << 12) | lo));
    }
    return v;
}

/// Sparse specials in Gaussian data: most blocks are ordinary, some hold one NaN, ±Inf, a huge
/// value, a subnormal or a tie.
std::vector<float> sparse_adversarial(std::size_t n, std::uint32_t seed) {
    auto x = lowbit_test::gaussian(n, seed, 2.0f);
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              3e38f,
                              -1e-40f,
                              0.0f,
                              -0.0f,
                              2.5f,
                              -0.25f};
    std::mt19937 g(seed);
    std::uniform_int_distribution<std::size_t> where(0, n ? n - 1 : 0);
    std::uniform_int_distribution<int> pick(0, 8);
    for (std::size_t k = 0; k < n / 97; ++k) x[where(g)] = specials[pick(g)];
    return x;
}

template <class F>
void check_rne_sweep(const std::vector<float>& x, float inv) {
    std::vector<std::uint8_t> a(x.size()), b(x.size());
    reference::encode_minifloat_run<F, overflow::saturate>(x.data(), x.size(), inv, {}, 0,
                                                           a.data());
    simd::encode_minifloat_run<F, overflow::saturate>(x.data(), x.size(), inv, {}, 0, b.data());
    std::size_t bad = 0, first = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (a[i] != b[i] && bad++ == 0) first = i;
    CAPTURE(first);
    CAPTURE(float_to_bits(x[first]));
    CHECK(bad == 0);
}

template <class Q>
void check_backends(const Q& q, const std::vector<float>& x, shape2d shape) {
    auto ts = q.quantize(x, shape, backend::scalar);
    auto tv = q.quantize(x, shape, backend::simd);
    REQUIRE(ts.packed == tv.packed);
    REQUIRE(ts.scales == tv.scales);
    if constexpr (requires { ts.global_scale; })
        REQUIRE(float_to_bits(ts.global_scale) == float_to_bits(tv.global_scale));
    auto tp = quantize_parallel(q, x, shape, 2);
    REQUIRE(tp.packed == tv.packed);
    REQUIRE(tp.scales == tv.scales);
}

}  // namespace

TEST_CASE_TEMPLATE("lean nearest-even encode equals the reference on every tie of every binade", F,
                   e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e3m2, e2m3, e2m1, e4m3, e3m4) {
    static_assert(F::mantissa_bits <= 4, "pattern_sweep's thinned form needs M <= 4");
    static const std::vector<float> sweep = pattern_sweep();
    check_rne_sweep<F>(sweep, 1.0f);
    check_rne_sweep<F>(sweep, 0.75f);      // products rounded by the multiply first
    check_rne_sweep<F>(sweep, 0x1p-100f);  // everything tiny: subnormal codes and zeros
    check_rne_sweep<F>(sweep, 0x1p100f);   // everything huge: saturation
}

TEST_CASE_TEMPLATE(
    "streamed nearest-even encode writes what encode_minifloat_run writes: every alignment, every "
    "NaN lane",
    F, e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e4m3, e3m4) {
    auto same = [](const std::vector<float>& x, std::size_t n, std::size_t off, float inv) {
        std::vector<std::uint8_t> want(n + 128, 0xA5), got(n + 128, 0xA5);
        simd::encode_minifloat_run<F, overflow::saturate>(x.data(), n, inv, {}, 0,
                                                          want.data() + off);
        simd::encode_minifloat_rne_stream<F>(x.data(), n, inv, got.data() + off);
        simd::stream_fence();
        return want == got;  // the bytes around the output untouched too
    };
    // Every destination alignment and lengths around the 64-code lines.
    const auto x = sparse_adversarial(4096, 5);
    bool ok = true;
    for (std::size_t off = 0; off < 64; ++off)
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64},
                              std::size_t{65}, std::size_t{127}, std::size_t{200}, 1000 + off})
            ok = ok && same(x, n, off, 0.75f);
    CHECK(ok);
    // One NaN (then ±Inf) at every position of a 64-code line: its line is redone with NaN
    // handling.
    for (float special :
         {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}) {
        bool all = true;
        for (std::size_t p = 0; p < 192; ++p) {
            auto y = lowbit_test::gaussian(256, unsigned(p));
            y[p] = special;
            all = all && same(y, 256, 0, 3.0f);
        }
        CAPTURE(special);
        CHECK(all);
    }
    // Every tie of every binade, and saturation, through the streamed lines.
    static_assert(F::mantissa_bits <= 4, "pattern_sweep's thinned form needs M <= 4");
    static const std::vector<float> sweep = pattern_sweep();
    for (float inv : {1.0f, 0x1p-100f, 0x1p100f}) {
        std::vector<std::uint8_t> a(sweep.size());
        std::vector<std::uint8_t> b(sweep.size());
        reference::encode_minifloat_run<F, overflow::saturate>(sweep.data(), sweep.size(), inv, {},
                                                               0, a.data());
        simd::encode_minifloat_rne_stream<F>(sweep.data(), sweep.size(), inv, b.data());
        simd::stream_fence();
        CAPTURE(inv);
        CHECK(a == b);
    }
}

TEST_CASE(
    "multi-stream block_absmax equals the scalar one, wherever the extremes and non-finite values "
    "sit") {
    for (std::size_t n : {std::size_t{65535}, std::size_t{65536}, std::size_t{65537},
                          std::size_t{3 * 65536 + 5}, (std::size_t{1} << 20) + 17}) {
        auto x = lowbit_test::gaussian(n, 7 + std::uint32_t(n));
        CAPTURE(n);
        CHECK(float_to_bits(simd::block_absmax(x.data(), n)) ==
              float_to_bits(block_absmax(x.data(), n)));
        // Specials and the largest finite value in each eighth, and in the tail after the streams.
        for (std::size_t s = 0; s <= 8; ++s) {
            auto y = x;
            const std::size_t at = std::min(n - 1, s * (n / 8) + 3);
            y[at] = std::numeric_limits<float>::quiet_NaN();
            y[std::min(n - 1, at + 1)] = -std::numeric_limits<float>::infinity();
            y[std::min(n - 1, at + 2)] = -1e30f * float(s + 1);
            y[n - 1 - s] = std::numeric_limits<float>::infinity();
            CAPTURE(s);
            CHECK(float_to_bits(simd::block_absmax(y.data(), n)) ==
                  float_to_bits(block_absmax(y.data(), n)));
        }
        std::vector<float> z(n, -0.0f);  // all zero (negative zeros): +0
        CHECK(float_to_bits(simd::block_absmax(z.data(), n)) == 0u);
    }
}

TEST_CASE_TEMPLATE("vectorised OCP-floor MX scales equal mx_scale_exponent", E, e4m3fn, e5m2, e3m2,
                   e2m3, e2m1) {
    std::vector<float> amax = {0.0f,
                               std::numeric_limits<float>::denorm_min(),
                               1e-40f,
                               0x1p-126f,
                               0x1.fffffep-127f,
                               std::numeric_limits<float>::max()};
    for (int e = -149; e <= 127; ++e)
        for (float m : {1.0f, 1.25f, 1.4999999f, 1.5f, 1.5000001f, 1.75f, 1.9999999f}) {
            const float v = std::ldexp(m, e);
            if (std::isfinite(v)) amax.push_back(v);
        }
    for (auto rule : {mx_scale_rounding::ocp_floor, mx_scale_rounding::nearest_even,
                      mx_scale_rounding::round_up, mx_scale_rounding::ml_dtypes}) {
        std::vector<std::uint8_t> codes(amax.size());
        std::vector<float> inv(amax.size());
        simd::mx_scales<E>(amax.data(), amax.size(), rule, codes.data(), inv.data());
        for (std::size_t k = 0; k < amax.size(); ++k) {
            CAPTURE(int(rule));
            CAPTURE(amax[k]);
            const int c = mx_scale_exponent<E>(amax[k], rule) + 127;
            REQUIRE(int(codes[k]) == c);
            REQUIRE(float_to_bits(inv[k]) == float_to_bits(detail::pow2f(127 - c)));
        }
    }
}

TEST_CASE(
    "fused block kernels: blocks holding NaN or ±Inf take their scale from the finite values") {
    for (int sparse = 0; sparse < 2; ++sparse) {
        auto x = sparse ? sparse_adversarial(16384, 71) : lowbit_test::gaussian(16384, 72);
        // Whole blocks of specials, a block of Inf and one huge value, a block of NaN and zeros.
        for (std::size_t i = 0; i < 32; ++i) x[i] = std::numeric_limits<float>::infinity();
        for (std::size_t i = 32; i < 64; ++i)
            x[i] = i == 40 ? 1e30f : -std::numeric_limits<float>::infinity();
        for (std::size_t i = 64; i < 96; ++i)
            x[i] = i % 2 ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
        CAPTURE(sparse);
        check_backends(mx_quantizer<e4m3fn>(), x, {16, 1024});
        check_backends(mx_quantizer<e2m1>(), x, {16, 1024});
        check_backends(mx_quantizer<e5m2>(), x, {8, 2048});
        check_backends(mx_quantizer<e3m2>(), x, {32, 512});
        check_backends(mx_quantizer<e2m1, 16>(), x, {16, 1024});
        check_backends(nvfp4_quantizer(), x, {16, 1024});
    }
    // A last chunk of fewer than W blocks (the per-block path) holding NaN and Inf, after chunks of
    // finite values only (the NaN-free encode); also Inf in blocks whose NVFP4 scale is 0 (Inf ·
    // 0).
    auto y = lowbit_test::gaussian(16384 + 96, 73);
    y[16384 + 5] = std::numeric_limits<float>::quiet_NaN();
    y[16384 + 40] = -std::numeric_limits<float>::infinity();
    check_backends(mx_quantizer<e4m3fn>(), y, {1, y.size()});
    check_backends(mx_quantizer<e2m1>(), y, {1, y.size()});
    check_backends(nvfp4_quantizer(), y, {1, y.size()});
    for (std::size_t i = 0; i < 1024; ++i)
        y[i] = 1e-30f;  // blocks whose E4M3 scale underflows to 0
    y[3] = std::numeric_limits<float>::infinity();
    y[1000] = -std::numeric_limits<float>::infinity();
    check_backends(nvfp4_quantizer(), y, {1, y.size()});
}

TEST_CASE("stream_bytes copies every length at every destination alignment") {
    std::vector<std::uint8_t> src(700), dst(800);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = std::uint8_t(i * 37 + 11);
    for (std::size_t off = 0; off < 64; ++off)
        for (std::size_t n : {0, 1, 15, 63, 64, 65, 127, 128, 129, 200, 640, 700}) {
            std::fill(dst.begin(), dst.end(), std::uint8_t(0xA5));
            simd::stream_bytes<xsimd::default_arch>(dst.data() + off, src.data(), n);
            simd::stream_fence();
            CAPTURE(off);
            CAPTURE(n);
            REQUIRE(std::memcmp(dst.data() + off, src.data(), n) == 0);
            for (std::size_t i = 0; i < dst.size(); ++i)
                if (i < off || i >= off + n) REQUIRE(dst[i] == 0xA5);
        }
}

TEST_CASE("long tensors: back-to-front pieces of the per-tensor encode equal the reference") {
    // Past one piece (2^18 elements) and not a multiple of it, nor of the SIMD widths.
    const std::size_t n = 3 * (std::size_t{1} << 18) + 333;
    const auto x = sparse_adversarial(n, 81);
    check_backends(minifloat_quantizer<e4m3fn>(), x, {1, n});
    check_backends(minifloat_quantizer<e5m2>({.round = {round_mode::stochastic, 17}}), x, {1, n});
    check_backends(nvfp4_quantizer(), std::vector<float>(x.begin(), x.begin() + (n - 333 + 16)),
                   {1, n - 333 + 16});
}

TEST_CASE(
    "tensors past the streaming threshold: codes written by non-temporal stores equal the "
    "reference") {
    const std::size_t n = detail::stream_min_elements + 4096;
    const auto x = sparse_adversarial(n, 91);
    const shape2d shape{n / 4096, 4096};
    check_backends(minifloat_quantizer<e4m3fn>(), x, shape);
    check_backends(minifloat_quantizer<e4m3fn>({.round = {round_mode::stochastic, 3}}), x, shape);
    check_backends(mx_quantizer<e4m3fn>(), x, shape);
    check_backends(mx_quantizer<e2m1>(), x, shape);
    check_backends(nvfp4_quantizer(), x, shape);
}

TEST_CASE(
    "fused block kernels narrow 64 codes in registers: every chunk tail, both roundings, blocks "
    "with specials") {
    // Chunk tails of 0, 16, 32 and 48 values past the last whole 64 (cols = 16·k, 32·k), the
    // register path and the buffered tail in one chunk, stochastic rounding, NaN/Inf blocks.
    for (std::size_t k = 1; k <= 9; ++k)
        for (std::size_t rows : {std::size_t{1}, std::size_t{3}, std::size_t{37}}) {
            CAPTURE(k);
            CAPTURE(rows);
            const shape2d s32{rows, 32 * k}, s16{rows, 16 * k};
            const auto x = sparse_adversarial(s32.size(), unsigned(100 * k + rows));
            const std::vector<float> x16(x.begin(), x.begin() + std::ptrdiff_t(s16.size()));
            check_backends(mx_quantizer<e2m1>(), x, s32);
            check_backends(mx_quantizer<e4m3fn>(), x, s32);
            check_backends(mx_quantizer<e5m2>({.round = {round_mode::stochastic, 9}}), x, s32);
            check_backends(mx_quantizer<e2m1>({.round = {round_mode::stochastic, 5}}), x, s32);
            check_backends(minifloat_quantizer<e4m3fn>({.gran = granularity::group(32)}), x, s32);
            check_backends(nvfp4_quantizer(), x16, s16);
            check_backends(nvfp4_quantizer({.round = {round_mode::stochastic, 7}}), x16, s16);
        }
}
