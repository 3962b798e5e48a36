// The integer kernels one level below the quantizer: simd::encode_int_run and
// simd::store_low_bytes against the scalar reference, for every width 1–8 (signed and unsigned),
// every rounding mode, both signs, every tail length up to three batches, a scale per run and
// per element, with and without an offset and a zero point. Built once per ISA target of the
// matrix (scripts/test-isa.sh), so each target's narrowing to bytes is proven here.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {

using arch = xsimd::default_arch;
constexpr std::size_t W = xsimd::batch<float, arch>::size;

/// Values of both signs spread over the whole code range (and past it, to saturate), with
/// exact ties of the step 1 / inv and the specials.
std::vector<float> both_signs(std::size_t n, std::uint32_t seed, float inv) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(-300.0f, 300.0f);
    std::uniform_int_distribution<int> tie(-260, 260), pick(0, 9);
    std::vector<float> v(n);
    const auto sp = lowbit_test::adversarial(n, seed + 1);
    for (std::size_t i = 0; i < n; ++i) {
        switch (pick(g)) {
            case 0: v[i] = (float(tie(g)) + 0.5f) / inv; break;  // a tie in the code domain
            case 1: v[i] = sp[i]; break;
            default: v[i] = u(g) / inv / 2.0f; break;
        }
    }
    return v;
}

template <class F>
void check_encode_runs() {
    const round_mode modes[] = {round_mode::nearest_even, round_mode::nearest_away,
                                round_mode::toward_zero,  round_mode::floor,
                                round_mode::stochastic,   round_mode::nearest_up,
                                round_mode::nearest_zero};
    constexpr float inv = 2.0f;  // scale 0.5
    for (std::size_t n = 0; n <= 3 * W + 1; ++n) {
        const auto x = both_signs(n, 31 * std::uint32_t(n) + F::bits, inv);
        // Per element parameters (stride 1) for the per-column path.
        std::vector<float> invs(n), scales(n), offs(n), zeros(n);
        for (std::size_t i = 0; i < n; ++i) {
            invs[i] = inv * float(1 + i % 3);
            scales[i] = 1.0f / invs[i];
            offs[i] = F::is_signed ? 0.0f : -float(i % 5);
            zeros[i] = F::is_signed ? 0.0f : float(i % 4);
        }
        for (auto m : modes)
            for (int variant = 0; variant < 4; ++variant) {
                // 0: one scale, no offset (the fast path); 1: one scale with an offset;
                // 2: one scale with a zero point; 3: one scale per element.
                const float zero0 = 0.0f, off1 = F::is_signed ? 0.0f : -3.0f,
                            z2 = F::is_signed ? 0.0f : 5.0f;
                const float s0 = 1.0f / inv;
                int_run_params p{&inv, &s0, &zero0, &zero0, 0};
                if (variant == 1) p.offset = &off1;
                if (variant == 2) p.zero = &z2;
                if (variant == 3) p = {invs.data(), scales.data(), offs.data(), zeros.data(), 1};
                std::vector<std::uint8_t> want(n + 1, 0xAB), got(n + 1, 0xAB);
                const rounding rnd{m, 99};
                reference::encode_int_run<F>(x.data(), n, p, rnd, 7, want.data());
                simd::encode_int_run<F, arch>(x.data(), n, p, rnd, 7, got.data());
                CAPTURE(F::bits);
                CAPTURE(F::is_signed);
                CAPTURE(n);
                CAPTURE(int(m));
                CAPTURE(variant);
                REQUIRE(got == want);  // the byte past the end included: nothing written there
                for (std::size_t i = 0; i < n; ++i) {
                    // The decoded sign matches the input's for every value that does not round to
                    // 0.
                    const int q = F::to_int(got[i]);
                    if (F::is_signed && variant == 0 && m == round_mode::nearest_even &&
                        x[i] <= -1.0f / inv)
                        REQUIRE(q < 0);
                }
            }
    }
}

}  // namespace

TEST_CASE_TEMPLATE("simd::encode_int_run equals the reference at every width, mode, sign and tail",
                   F, int_format<8>, int_format<8, int_range::full>, int_format<7>, int_format<6>,
                   int_format<5>, int_format<4>, int_format<4, int_range::full>, int_format<3>,
                   int_format<2, int_range::full>, uint_format<8>, uint_format<7>, uint_format<5>,
                   uint_format<4>, uint_format<3>, uint_format<2>, uint_format<1>) {
    check_encode_runs<F>();
}

TEST_CASE("simd::store_low_bytes stores the two's-complement low byte of every lane") {
    using I = xsimd::batch<std::int32_t, arch>;
    const std::int32_t patterns[] = {-1,
                                     -128,
                                     -127,
                                     -2,
                                     0,
                                     1,
                                     127,
                                     128,
                                     255,
                                     256,
                                     -256,
                                     0x12345678,
                                     -0x12345678,
                                     std::numeric_limits<std::int32_t>::min(),
                                     std::numeric_limits<std::int32_t>::max()};
    constexpr std::size_t P = sizeof(patterns) / sizeof(patterns[0]);
    for (std::size_t start = 0; start < P; ++start) {
        alignas(64) std::int32_t lanes[I::size];
        for (std::size_t l = 0; l < I::size; ++l) lanes[l] = patterns[(start + l) % P];
        std::vector<std::uint8_t> out(I::size + 1, 0xCD);
        simd::store_low_bytes<arch>(I::load_aligned(lanes), out.data());
        for (std::size_t l = 0; l < I::size; ++l) {
            CAPTURE(l);
            CAPTURE(lanes[l]);
            CHECK(out[l] ==
                  static_cast<std::uint8_t>(static_cast<std::uint32_t>(lanes[l]) & 0xFFu));
        }
        CHECK(out[I::size] == 0xCD);
    }
}

TEST_CASE("int8 through every public per-run path keeps negative codes") {
    // The schemes that take the one-scale nearest-even path: per tensor (absmax, MSE, given
    // scale), per row (per token) and the Eigen per-row entry point.
    const auto x = lowbit_test::gaussian(4099, 5);
    const shape2d shape{1, x.size()};
    const granularity grans[] = {granularity::tensor(), granularity::channel(0)};
    const scale_rule rules[] = {scale_rule::absmax(), scale_rule::mse_search(),
                                scale_rule::fixed(4.0f)};
    for (auto g : grans)
        for (auto r : rules) {
            int_quantizer<int_format<8>> q({.gran = g, .rule = r});
            const auto t = q.quantize(x, shape, backend::simd);
            const auto y = q.dequantize(t, backend::simd);
            std::size_t negatives = 0, sign_errors = 0;
            for (std::size_t i = 0; i < x.size(); ++i) {
                negatives += y[i] < 0.0f;
                sign_errors += (x[i] < -0.1f && !(y[i] < 0.0f));
            }
            CAPTURE(int(g.type));
            CAPTURE(int(r.type));
            CHECK(sign_errors == 0);
            CHECK(negatives > x.size() / 3);
            CHECK(lowbit::sqnr_db(x, y) > 35.0);
        }
}
