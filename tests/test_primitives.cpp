// The SIMD primitives (simd/primitives.hpp) against their scalar twins, for every xsimd Arch the
// build supports (an AVX-512 build checks the AVX-512, AVX2, SSE4.1, SSE2 and portable forms; an
// aarch64 build the NEON and portable ones), over every run length 0 … 4W − 1 and on adversarial
// values: negative and out-of-range lanes for the narrowing store, ±0, ±Inf, subnormals and NaN
// for the searches, thresholds with repeats, values on, just below and just above every
// threshold. Guard bytes after every output catch a store that writes too far.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/simd/primitives.hpp>

namespace {

using namespace lowbit;
namespace sp = lowbit::simd;

constexpr std::uint8_t guard = 0xA5;

template <class Arch>
std::string arch_label() {
    const char* fam[] = {"generic", "sse2", "sse4_1", "avx2", "avx512", "neon"};
    return std::string(Arch::name()) + " (family " + fam[int(sp::arch::family_of<Arch>)] + ")";
}

/// Random int32 lanes, with the extremes and the byte boundaries mixed in.
std::vector<std::int32_t> adversarial_ints(std::mt19937& rng, std::size_t n) {
    const std::int32_t special[] = {0,          1,          -1,  127,  128,        -128,
                                    -129,       255,        256, -256, 0x7FFFFFFF, -0x7FFFFFFF - 1,
                                    0x12345678, -0x12345678};
    std::uniform_int_distribution<std::int32_t> any(std::numeric_limits<std::int32_t>::min(),
                                                    std::numeric_limits<std::int32_t>::max());
    std::vector<std::int32_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = (rng() % 3 == 0) ? special[rng() % std::size(special)] : any(rng);
    return v;
}

template <class Arch>
void check_bytes(std::mt19937& rng) {
    using I = sp::ibatch<Arch>;
    constexpr std::size_t W = I::size;
    for (std::size_t n = 0; n < 4 * W; ++n) {
        const auto q = adversarial_ints(rng, n);
        // store_low_bytes over whole batches, the twin for the tail; the twin over everything.
        std::vector<std::uint8_t> got(n + 16, guard), want(n + 16, guard);
        std::size_t i = 0;
        for (; i + W <= n; i += W)
            sp::store_low_bytes<Arch>(I::load_unaligned(q.data() + i), got.data() + i);
        sp::scalar::store_low_bytes(q.data() + i, n - i, got.data() + i);
        sp::scalar::store_low_bytes(q.data(), n, want.data());
        CHECK(got == want);
        // load_bytes of every byte value
        std::vector<std::uint8_t> bytes(n + 16);
        for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
        std::vector<std::int32_t> wide(n + 1, -7), wide_ref(n + 1, -7);
        for (i = 0; i + W <= n; i += W)
            sp::load_bytes<Arch>(bytes.data() + i).store_unaligned(wide.data() + i);
        sp::scalar::load_bytes(bytes.data() + i, n - i, wide.data() + i);
        sp::scalar::load_bytes(bytes.data(), n, wide_ref.data());
        CHECK(wide == wide_ref);
    }
}

template <class Arch>
void check_nibbles(std::mt19937& rng) {
    using I = sp::ibatch<Arch>;
    constexpr std::size_t W = I::size;
    for (std::size_t n = 0; n < 4 * W; n += 2) {
        std::vector<std::int32_t> q(n);
        for (auto& c : q) c = static_cast<std::int32_t>(rng() % 16);
        std::vector<std::uint8_t> got(n / 2 + 16, guard), want(n / 2 + 16, guard);
        std::size_t i = 0;
        for (; i + W <= n; i += W)
            sp::store_nibbles<Arch>(I::load_unaligned(q.data() + i), got.data() + i / 2);
        sp::scalar::store_nibbles(q.data() + i, n - i, got.data() + i / 2);
        sp::scalar::store_nibbles(q.data(), n, want.data());
        CHECK(got == want);
        std::vector<std::int32_t> back(n + 1, -7), back_ref(n + 1, -7);
        for (i = 0; i + W <= n; i += W)
            sp::load_nibbles<Arch>(want.data() + i / 2).store_unaligned(back.data() + i);
        sp::scalar::load_nibbles(want.data() + i / 2, n - i, back.data() + i);
        sp::scalar::load_nibbles(want.data(), n, back_ref.data());
        CHECK(back == back_ref);
        CHECK(std::equal(q.begin(), q.end(), back_ref.begin()));  // the twins are inverses
    }
    // Every byte value unpacks to its two nibbles.
    std::vector<std::uint8_t> all(256 + W);
    for (int b = 0; b < 256; ++b) all[b] = static_cast<std::uint8_t>(b);
    for (std::size_t i = 0; i + W / 2 <= 256; i += W / 2) {
        alignas(64) std::int32_t lanes[I::size];
        sp::load_nibbles<Arch>(all.data() + i).store_aligned(lanes);
        for (std::size_t l = 0; l < W; ++l)
            CHECK(lanes[l] == ((all[i + l / 2] >> (4 * (l % 2))) & 0xF));
    }
}

/// Finite and infinite floats of every kind, no NaN.
std::vector<float> adversarial_floats(std::mt19937& rng, std::size_t n) {
    const float special[] = {0.0f,
                             -0.0f,
                             INFINITY,
                             -INFINITY,
                             std::numeric_limits<float>::denorm_min(),
                             -std::numeric_limits<float>::denorm_min(),
                             std::numeric_limits<float>::min(),
                             std::numeric_limits<float>::max(),
                             -std::numeric_limits<float>::max(),
                             1.0f,
                             -1.0f,
                             0.5f};
    std::normal_distribution<float> g(0.0f, 2.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = (rng() % 4 == 0) ? special[rng() % std::size(special)] : g(rng);
    return v;
}

template <class Arch>
void check_extremes(std::mt19937& rng) {
    using B = sp::fbatch<Arch>;
    constexpr std::size_t W = B::size;
    for (int rep = 0; rep < 200; ++rep) {
        const auto v = adversarial_floats(rng, W);
        const B b = B::load_unaligned(v.data());
        // Which zero a maximum of +0 and −0 returns is left open; the value is not.
        CHECK(sp::hmax<Arch>(b) == sp::scalar::hmax(v.data(), W));
        CHECK(sp::hmin<Arch>(b) == sp::scalar::hmin(v.data(), W));
    }
}

template <int Bits, class Arch>
void check_lookup(std::mt19937& rng) {
    using I = sp::ibatch<Arch>;
    constexpr std::size_t W = I::size, N = std::size_t{1} << Bits;
    std::vector<float> levels(N);
    for (std::size_t k = 0; k < N; ++k)
        levels[k] =
            std::bit_cast<float>(static_cast<std::uint32_t>(rng()));  // any bits, NaNs included
    const sp::level_table<Bits> table(levels.data(), N);
    for (std::size_t n = 0; n < 4 * W; ++n) {
        std::vector<std::int32_t> idx(n);
        for (std::size_t i = 0; i < n; ++i)
            idx[i] = static_cast<std::int32_t>(i < N ? i : rng() % N);
        std::vector<std::uint32_t> got(n), want(n);
        std::size_t i = 0;
        for (; i + W <= n; i += W) {
            alignas(64) float lanes[W];
            sp::lookup<Arch>(I::load_unaligned(idx.data() + i), table).store_aligned(lanes);
            for (std::size_t l = 0; l < W; ++l) got[i + l] = std::bit_cast<std::uint32_t>(lanes[l]);
        }
        for (; i < n; ++i) got[i] = std::bit_cast<std::uint32_t>(sp::scalar::lookup(idx[i], table));
        for (std::size_t j = 0; j < n; ++j)
            want[j] = std::bit_cast<std::uint32_t>(levels[static_cast<std::size_t>(idx[j])]);
        CHECK(got == want);
    }
}

/// Sorted thresholds with repeats, signed zeros, subnormals and (at the ends) infinities.
template <int Bits>
std::vector<float> sorted_thresholds(std::mt19937& rng, int variant) {
    constexpr std::size_t N = (std::size_t{1} << Bits) - 1;
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> t(N);
    for (auto& x : t) x = g(rng);
    if (variant >= 1 && N >= 3) {
        t[0] = -0.0f;
        t[1] = 0.0f;
        t[2] = std::numeric_limits<float>::denorm_min();
    }
    if (variant >= 2 && N >= 2) { t[N - 1] = t[N - 2]; }  // a repeat
    if (variant >= 3) {
        t.front() = -INFINITY;
        t.back() = INFINITY;
    }
    std::sort(t.begin(), t.end(), [](float a, float b) { return a < b; });
    return t;
}

template <int Bits, class Arch>
void check_count_below(std::mt19937& rng) {
    using B = sp::fbatch<Arch>;
    using I = sp::ibatch<Arch>;
    constexpr std::size_t W = B::size;
    for (int variant = 0; variant < 4; ++variant) {
        const auto t = sorted_thresholds<Bits>(rng, variant);
        const sp::threshold_table<Bits> table(t.data(), t.size());
        // Values on, one ulp either side of, and between the thresholds, and the specials.
        std::vector<float> y;
        for (float v : t) {
            y.push_back(v);
            y.push_back(std::nextafter(v, -INFINITY));
            y.push_back(std::nextafter(v, INFINITY));
        }
        for (float v : adversarial_floats(rng, 64)) y.push_back(v);
        for (float v : {NAN, -NAN, 0.0f, -0.0f, INFINITY, -INFINITY}) y.push_back(v);
        std::shuffle(y.begin(), y.end(), rng);
        for (std::size_t n :
             {std::size_t{0}, std::size_t{1}, W - 1, W, W + 1, 3 * W + W - 1, y.size()}) {
            if (n > y.size()) continue;
            for (auto rule :
                 {sp::threshold_rule::strictly_below, sp::threshold_rule::at_or_below}) {
                std::vector<std::int32_t> got(n), want(n);
                std::size_t i = 0;
                for (; i + W <= n; i += W) {
                    const I c = rule == sp::threshold_rule::strictly_below
                        ? sp::count_below<sp::threshold_rule::strictly_below, Arch>(
                              B::load_unaligned(y.data() + i), table)
                        : sp::count_below<sp::threshold_rule::at_or_below, Arch>(
                              B::load_unaligned(y.data() + i), table);
                    c.store_unaligned(got.data() + i);
                }
                for (std::size_t j = 0; j < n; ++j) {
                    want[j] = rule == sp::threshold_rule::strictly_below
                        ? sp::scalar::count_below<sp::threshold_rule::strictly_below>(y[j], table)
                        : sp::scalar::count_below<sp::threshold_rule::at_or_below>(y[j], table);
                    if (j >= i) got[j] = want[j];
                }
                CHECK(got == want);
                // The twin is the definition: #{t_k < y} (<= for at_or_below), NaN counting 0.
                for (std::size_t j = 0; j < n; ++j) {
                    std::int32_t c = 0;
                    for (float v : t)
                        c += rule == sp::threshold_rule::strictly_below ? (v < y[j]) : (v <= y[j]);
                    CHECK(want[j] == c);
                }
            }
        }
    }
}

template <class Arch>
void check_stream(std::mt19937& rng) {
    std::vector<std::uint8_t> src(400);
    for (auto& b : src) b = static_cast<std::uint8_t>(rng());
    alignas(64) std::uint8_t dst[600];
    for (std::size_t offset : {0, 1, 17, 63}) {
        for (std::size_t n = 0; n <= 300; n += (n < 140 ? 1 : 37)) {
            std::fill(std::begin(dst), std::end(dst), guard);
            sp::stream_bytes<Arch>(dst + offset, src.data(), n);
            sp::stream_fence<Arch>();
            CHECK(std::equal(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(n),
                             dst + offset));
            CHECK(std::all_of(dst, dst + offset, [](std::uint8_t b) { return b == guard; }));
            CHECK(std::all_of(dst + offset + n, std::end(dst),
                              [](std::uint8_t b) { return b == guard; }));
        }
    }
}

/// f(arch) for one xsimd arch of each family the build supports (and the portable form at two
/// widths): every hand-written form and the generic code, without instantiating the checks for
/// each of xsimd's many equivalent tags.
template <class F>
void for_each_arch(F&& f) {
    auto one = [&](auto arch) {
        using Arch = decltype(arch);
        if constexpr (xsimd::supported_architectures::contains<Arch>()) {
            INFO("arch " << arch_label<Arch>());
            f(arch);
        }
    };
#if XSIMD_WITH_SSE2
    one(xsimd::sse2{});
#endif
#if XSIMD_WITH_SSE4_1
    one(xsimd::sse4_1{});
#endif
#if XSIMD_WITH_AVX
    one(xsimd::avx{});  // 8 lanes, portable forms
#endif
#if XSIMD_WITH_AVX2
    one(xsimd::avx2{});
#endif
#if XSIMD_WITH_AVX512BW
    one(xsimd::avx512bw{});
#endif
#if XSIMD_WITH_NEON
    one(xsimd::neon{});  // 4 lanes, portable forms
#endif
#if XSIMD_WITH_NEON64
    one(xsimd::neon64{});
#endif
    if constexpr (!std::is_same_v<xsimd::default_arch, xsimd::unavailable>)
        one(xsimd::default_arch{});
}

}  // namespace

TEST_CASE("the default Arch has hand-written primitives on every target of the matrix") {
    // A target that silently fell back to the portable forms would still pass the checks below;
    // this names the family the library's kernels use on this target.
    const auto f = sp::arch::family_of<xsimd::default_arch>;
    MESSAGE("default arch: " << arch_label<xsimd::default_arch>());
#if defined(__x86_64__) || defined(__aarch64__)
    CHECK(f != sp::arch::isa::generic);
#endif
#if defined(__AVX512BW__)
    CHECK(f == sp::arch::isa::avx512);
#elif defined(__AVX2__)
    CHECK(f == sp::arch::isa::avx2);
#elif defined(__SSE4_1__)
    CHECK(f == sp::arch::isa::sse4_1);
#elif defined(__SSE2__)
    CHECK(f == sp::arch::isa::sse2);
#elif defined(__aarch64__)
    CHECK(f == sp::arch::isa::neon);
#endif
}

TEST_CASE("store_low_bytes and load_bytes equal their twins, every length, every Arch") {
    std::mt19937 rng(11);
    for_each_arch([&](auto arch) { check_bytes<decltype(arch)>(rng); });
}

TEST_CASE("store_nibbles and load_nibbles equal their twins, every even length, every Arch") {
    std::mt19937 rng(12);
    for_each_arch([&](auto arch) { check_nibbles<decltype(arch)>(rng); });
}

TEST_CASE("hmax and hmin equal their twins on ±0, ±Inf and subnormals") {
    std::mt19937 rng(13);
    for_each_arch([&](auto arch) { check_extremes<decltype(arch)>(rng); });
}

TEST_CASE("lookup returns the table's bits for 1- to 8-bit indices") {
    std::mt19937 rng(14);
    for_each_arch([&](auto arch) {
        using Arch = decltype(arch);
        check_lookup<1, Arch>(rng);
        check_lookup<2, Arch>(rng);
        check_lookup<3, Arch>(rng);
        check_lookup<4, Arch>(rng);
        check_lookup<5, Arch>(rng);
        check_lookup<8, Arch>(rng);
    });
}

TEST_CASE("count_below equals #{t < y} (and #{t <= y}) for 1- to 8-bit threshold tables") {
    std::mt19937 rng(15);
    for_each_arch([&](auto arch) {
        using Arch = decltype(arch);
        check_count_below<1, Arch>(rng);
        check_count_below<2, Arch>(rng);
        check_count_below<3, Arch>(rng);
        check_count_below<4, Arch>(rng);
        check_count_below<5, Arch>(rng);
        check_count_below<6, Arch>(rng);
        check_count_below<8, Arch>(rng);
    });
}

TEST_CASE("stream_bytes copies exactly n bytes at any alignment") {
    std::mt19937 rng(16);
    for_each_arch([&](auto arch) { check_stream<decltype(arch)>(rng); });
}

/// dot8_i4 / dot8_i8 against their twins: every byte value, activations at ±127 and 0, 0 … 5
/// blocks, a row stride with padding; exact integers, so equal.
template <class Arch>
void check_dots(std::mt19937& rng) {
    std::uniform_int_distribution<int> qd(-127, 127);
    for (std::size_t blocks = 0; blocks <= 5; ++blocks)
        for (int bits : {4, 8}) {
            const std::size_t block_bytes = bits == 4 ? 16 : 32;
            const std::size_t stride = block_bytes * blocks + rng() % 7;
            std::vector<std::uint8_t> w(8 * stride + 1);
            for (auto& b : w) b = static_cast<std::uint8_t>(rng());
            std::vector<std::int8_t> q(32 * blocks + 1);
            for (auto& v : q) {
                const int pick = int(rng() % 5);
                v = static_cast<std::int8_t>(pick == 0 ? 127 : pick == 1 ? -127 : qd(rng));
            }
            if (blocks == 2)  // the extremes everywhere: the largest sums, both signs
                for (std::size_t i = 0; i < w.size(); ++i) {
                    w[i] = bits == 4 ? 0x88 : 0x80;
                    if (i < q.size()) q[i] = -127;
                }
            std::int32_t got[8], want[8];
            if (bits == 4) {
                sp::dot8_i4<Arch>(w.data(), stride, q.data(), blocks, got);
                sp::scalar::dot8_i4(w.data(), stride, q.data(), blocks, want);
            } else {
                sp::dot8_i8<Arch>(w.data(), stride, q.data(), blocks, got);
                sp::scalar::dot8_i8(w.data(), stride, q.data(), blocks, want);
            }
            INFO("bits " << bits << ", blocks " << blocks);
            CHECK(std::vector<std::int32_t>(got, got + 8) ==
                  std::vector<std::int32_t>(want, want + 8));
        }
}

/// scale_add8 against its twin, bit for bit: ±0, ±Inf, NaN, subnormal and huge factors, int32
/// values that float cannot hold exactly (the conversion's rounding), sums that cancel.
template <class Arch>
void check_scale_add(std::mt19937& rng) {
    const float special[] = {0.0f,
                             -0.0f,
                             1.0f,
                             -1.0f,
                             1e-45f,
                             -3e-39f,
                             3.4e38f,
                             -3.4e38f,
                             std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity(),
                             std::numeric_limits<float>::quiet_NaN(),
                             0.1f,
                             1.0f / 3.0f};
    std::uniform_real_distribution<float> u(-1e4f, 1e4f);
    auto pick = [&] { return rng() % 3 == 0 ? special[rng() % std::size(special)] : u(rng); };
    for (int trial = 0; trial < 500; ++trial) {
        float acc1[8], acc2[8], f[8];
        std::int32_t d[8];
        const auto ints = adversarial_ints(rng, 8);
        for (int i = 0; i < 8; ++i) {
            acc1[i] = acc2[i] = pick();
            f[i] = pick();
            d[i] = ints[i];
        }
        sp::scale_add8<Arch>(acc1, f, d);
        sp::scalar::scale_add8(acc2, f, d);
        for (int i = 0; i < 8; ++i) {
            INFO("acc " << acc2[i] << ", f " << f[i] << ", d " << d[i]);
            CHECK((std::isnan(acc1[i]) ? std::isnan(acc2[i])
                                       : std::bit_cast<std::uint32_t>(acc1[i]) ==
                           std::bit_cast<std::uint32_t>(acc2[i])));
        }
    }
}

/// gemv8 against its twin: group lengths of 1 … 4 blocks, a short last group, scales with
/// ±0, ±Inf, NaN, subnormals; the products and sums in float, so bit for bit.
template <class Arch, int Bits>
void check_gemv8(std::mt19937& rng) {
    std::uniform_int_distribution<int> qd(-127, 127);
    std::uniform_real_distribution<float> sd(-0.1f, 0.1f);
    const float special[] = {0.0f,
                             -0.0f,
                             std::numeric_limits<float>::infinity(),
                             std::numeric_limits<float>::quiet_NaN(),
                             1e-41f,
                             3e38f};
    for (std::size_t glen : {32u, 64u, 96u, 128u})
        for (std::size_t cols : {0u, 32u, 64u, 160u, 256u}) {
            const std::size_t stride = cols * Bits / 8 + rng() % 5,
                              groups = (cols + glen - 1) / glen;
            std::vector<std::uint8_t> w(8 * stride + 1);
            for (auto& b : w) b = static_cast<std::uint8_t>(rng());
            std::vector<std::int8_t> q(cols + 1);
            for (auto& v : q) v = static_cast<std::int8_t>(qd(rng));
            std::vector<float> sx(groups + 1), sw(8 * groups + 1);
            for (auto& v : sx) v = rng() % 7 == 0 ? special[rng() % 6] : sd(rng);
            for (auto& v : sw) v = rng() % 7 == 0 ? special[rng() % 6] : sd(rng);
            float got[8], want[8];
            for (int i = 0; i < 8; ++i) got[i] = want[i] = float(i) - 3.5f;
            sp::gemv8<Arch, Bits>(w.data(), stride, q.data(), sx.data(), sw.data(), cols, glen,
                                  got);
            sp::scalar::gemv8<Bits>(w.data(), stride, q.data(), sx.data(), sw.data(), cols, glen,
                                    want);
            for (int i = 0; i < 8; ++i) {
                INFO("bits " << Bits << ", cols " << cols << ", group " << glen << ", row " << i);
                CHECK((std::isnan(got[i]) ? std::isnan(want[i])
                                          : std::bit_cast<std::uint32_t>(got[i]) ==
                               std::bit_cast<std::uint32_t>(want[i])));
            }
        }
}

/// gemv8p against its twin, and the twin against gemv8 on the same codes in the plain layout
/// (which pins tile8p's definition).
template <class Arch, int Bits>
void check_gemv8p(std::mt19937& rng) {
    using T = sp::scalar::tile8p<Bits>;
    std::uniform_int_distribution<int> qd(-127, 127);
    std::uniform_real_distribution<float> sd(-0.1f, 0.1f);
    for (std::size_t glen : {32u, 64u, 96u})
        for (std::size_t cols : {0u, 32u, 64u, 160u, 256u}) {
            const std::size_t blocks = cols / 32, groups = (cols + glen - 1) / glen;
            std::vector<std::uint8_t> t(blocks * T::bytes);
            for (auto& b : t) b = static_cast<std::uint8_t>(rng());
            // The plain layout of gemv8 holding the same codes.
            const std::size_t stride = cols * Bits / 8;
            std::vector<std::uint8_t> plain(8 * stride + 1, 0);
            for (std::size_t i = 0; i < 8; ++i)
                for (std::size_t c = 0; c < cols; ++c) {
                    const int v = T::code(t.data() + c / 32 * T::bytes, i, c % 32);
                    std::uint8_t* row = plain.data() + i * stride;
                    if (Bits == 8)
                        row[c] = static_cast<std::uint8_t>(v);
                    else  // dot8_i4's block order: byte j holds lanes j and j + 16
                        row[c / 32 * 16 + c % 16] |= static_cast<std::uint8_t>(
                            (unsigned(v) & 0xFu) << (c % 32 < 16 ? 0 : 4));
                }
            std::vector<std::int8_t> q(cols + 1);
            for (auto& v : q) v = static_cast<std::int8_t>(rng() % 4 == 0 ? -127 : qd(rng));
            std::vector<std::int32_t> qsum(groups + 1, 0);
            for (std::size_t c = 0; c < cols; ++c) qsum[c / glen] += q[c];
            std::vector<float> sx(groups + 1), sw(8 * groups + 1);
            for (auto& v : sx)
                v = rng() % 9 == 0 ? std::numeric_limits<float>::quiet_NaN() : sd(rng);
            for (auto& v : sw) v = rng() % 9 == 0 ? -0.0f : sd(rng);
            float got[8], want[8], plain_out[8];
            for (int i = 0; i < 8; ++i) got[i] = want[i] = plain_out[i] = float(i) * 0.25f;
            sp::gemv8p<Arch, Bits>(t.data(), q.data(), qsum.data(), sx.data(), sw.data(), cols,
                                   glen, got);
            sp::scalar::gemv8p<Bits>(t.data(), q.data(), qsum.data(), sx.data(), sw.data(), cols,
                                     glen, want);
            sp::scalar::gemv8<Bits>(plain.data(), stride, q.data(), sx.data(), sw.data(), cols,
                                    glen, plain_out);
            for (int i = 0; i < 8; ++i) {
                INFO("bits " << Bits << ", cols " << cols << ", group " << glen << ", row " << i);
                const auto bits = [](float v) { return std::bit_cast<std::uint32_t>(v); };
                CHECK((std::isnan(got[i]) ? std::isnan(want[i]) : bits(got[i]) == bits(want[i])));
                CHECK((std::isnan(plain_out[i]) ? std::isnan(want[i])
                                                : bits(plain_out[i]) == bits(want[i])));
            }
            // The affine terms: per-row zero points, one offset for all, float minima.
            std::uniform_int_distribution<int> zd(-128, 128);
            std::vector<std::int32_t> zc(8 * groups + 1);
            std::vector<float> mw(8 * groups + 1);
            for (auto& v : zc) v = zd(rng);
            for (auto& v : mw) v = rng() % 11 == 0 ? -0.0f : sd(rng);
            const sp::gemv8p_affine affs[] = {{zc.data(), 0, nullptr},
                                              {nullptr, Bits == 4 ? 8 : 128, mw.data()},
                                              {zc.data(), 0, mw.data()}};
            for (const auto& aff : affs) {
                for (int i = 0; i < 8; ++i) got[i] = want[i] = float(i) * 0.5f;
                sp::gemv8p<Arch, Bits>(t.data(), q.data(), qsum.data(), sx.data(), sw.data(), cols,
                                       glen, got, &aff);
                sp::scalar::gemv8p<Bits>(t.data(), q.data(), qsum.data(), sx.data(), sw.data(),
                                         cols, glen, want, &aff);
                // The twin's definition: d + z·qsum, then (mw·sx)·qsum after each group's term.
                float def[8];
                for (int i = 0; i < 8; ++i) def[i] = float(i) * 0.5f;
                for (std::size_t g = 0; g < groups; ++g) {
                    const std::size_t c1 = std::min(cols, (g + 1) * glen);
                    for (int i = 0; i < 8; ++i) {
                        std::int32_t d = 0;
                        for (std::size_t c = g * glen; c < c1; ++c)
                            d += T::code(t.data() + c / 32 * T::bytes, std::size_t(i), c % 32) *
                                q[c];
                        d += (aff.zc ? aff.zc[8 * g + i] : aff.zc_all) * qsum[g];
                        def[i] = def[i] + lowbit::mul_unfused(sw[8 * g + i] * sx[g], float(d));
                        if (aff.mw)
                            def[i] = def[i] +
                                lowbit::mul_unfused(aff.mw[8 * g + i] * sx[g], float(qsum[g]));
                    }
                }
                for (int i = 0; i < 8; ++i) {
                    INFO("affine: bits " << Bits << ", cols " << cols << ", group " << glen
                                         << ", row " << i << ", zc " << (aff.zc != nullptr)
                                         << ", mw " << (aff.mw != nullptr));
                    const auto bits = [](float v) { return std::bit_cast<std::uint32_t>(v); };
                    CHECK(
                        (std::isnan(got[i]) ? std::isnan(want[i]) : bits(got[i]) == bits(want[i])));
                    CHECK(
                        (std::isnan(def[i]) ? std::isnan(want[i]) : bits(def[i]) == bits(want[i])));
                }
            }
        }
}

/// gemm8p on m activation rows (1 … 9: the 4-row steps and every remainder) equals the twin's
/// gemv8p row by row, with and without the affine terms.
template <class Arch, int Bits>
void check_gemm8p(std::mt19937& rng) {
    using T = sp::scalar::tile8p<Bits>;
    std::uniform_int_distribution<int> qd(-127, 127), zd(-128, 128);
    std::uniform_real_distribution<float> sd(-0.1f, 0.1f);
    for (std::size_t glen : {32u, 96u})
        for (std::size_t cols : {0u, 32u, 192u}) {
            const std::size_t groups = (cols + glen - 1) / glen;
            std::vector<std::uint8_t> t(cols / 32 * T::bytes);
            for (auto& b : t) b = static_cast<std::uint8_t>(rng());
            std::vector<float> sw(8 * groups + 1), mw(8 * groups + 1);
            for (auto& v : sw) v = rng() % 9 == 0 ? -0.0f : sd(rng);
            for (auto& v : mw) v = sd(rng);
            std::vector<std::int32_t> zc(8 * groups + 1);
            for (auto& v : zc) v = zd(rng);
            constexpr std::size_t max_m = 9;
            std::vector<std::vector<std::int8_t>> q(max_m, std::vector<std::int8_t>(cols + 1));
            std::vector<std::vector<std::int32_t>> qsum(max_m,
                                                        std::vector<std::int32_t>(groups + 1));
            std::vector<std::vector<float>> sx(max_m, std::vector<float>(groups + 1));
            for (std::size_t j = 0; j < max_m; ++j) {
                for (auto& v : q[j]) v = static_cast<std::int8_t>(rng() % 4 == 0 ? 127 : qd(rng));
                for (std::size_t c = 0; c < cols; ++c) qsum[j][c / glen] += q[j][c];
                for (auto& v : sx[j])
                    v = rng() % 9 == 0 ? std::numeric_limits<float>::quiet_NaN() : sd(rng);
            }
            const sp::gemv8p_affine affs[] = {
                {}, {zc.data(), 0, nullptr}, {nullptr, Bits == 4 ? 8 : 128, mw.data()}};
            for (std::size_t m = 1; m <= max_m; ++m)
                for (std::size_t a = 0; a < 3; ++a) {
                    const sp::gemv8p_affine* ap = a == 0 ? nullptr : &affs[a];
                    std::vector<std::array<float, 8>> got(m), want(m);
                    std::vector<sp::gemv8p_row> rows(m);
                    for (std::size_t j = 0; j < m; ++j) {
                        for (int i = 0; i < 8; ++i) got[j][i] = want[j][i] = float(i + j) * 0.25f;
                        rows[j] = {q[j].data(), qsum[j].data(), sx[j].data(), got[j].data()};
                        sp::scalar::gemv8p<Bits>(t.data(), q[j].data(), qsum[j].data(),
                                                 sx[j].data(), sw.data(), cols, glen,
                                                 want[j].data(), ap);
                    }
                    sp::gemm8p<Arch, Bits>(t.data(), rows.data(), m, sw.data(), cols, glen, ap);
                    for (std::size_t j = 0; j < m; ++j)
                        for (int i = 0; i < 8; ++i) {
                            INFO("bits " << Bits << ", cols " << cols << ", group " << glen
                                         << ", m " << m << ", affine " << a << ", row " << j
                                         << ", lane " << i);
                            const float g = got[j][i], w = want[j][i];
                            CHECK((std::isnan(g) ? std::isnan(w)
                                                 : std::bit_cast<std::uint32_t>(g) ==
                                           std::bit_cast<std::uint32_t>(w)));
                        }
                }
        }
}

/// gemm8p_lut against its twin, and the twin against its definition through tile8p<4>::code,
/// with the weight scales as floats per group (step 8) and per row (step 0).
template <class Arch>
void check_gemm8p_lut(std::mt19937& rng) {
    using T = sp::scalar::tile8p<4>;
    std::uniform_int_distribution<int> qd(-127, 127), ld(-64, 64);
    std::uniform_real_distribution<float> sd(-0.1f, 0.1f);
    for (int mode = 0; mode < 2; ++mode)
        for (std::size_t glen : {16u, 32u, 64u, 160u})
            for (std::size_t cols : {0u, 32u, 96u, 320u}) {
                const std::size_t groups = (cols + glen - 1) / glen;
                std::vector<std::uint8_t> t(cols / 32 * T::bytes);
                for (auto& b : t) b = static_cast<std::uint8_t>(rng());
                std::array<std::uint8_t, 16> lut{};
                for (auto& v : lut) v = static_cast<std::uint8_t>(64 + ld(rng));
                lut[rng() % 16] = 0;  // the extremes, L = ±64
                lut[rng() % 16] = 128;
                std::vector<float> sw(8 * groups + 1);
                for (auto& v : sw)
                    v = rng() % 9 == 0    ? -0.0f
                        : rng() % 13 == 0 ? std::numeric_limits<float>::denorm_min()
                                          : sd(rng);
                const sp::tile_scales sc{sw.data(), mode == 0 ? 8u : 0u};
                const auto s_w = [&](std::size_t g, int i) {
                    return sw[(mode == 0 ? 8 * g : 0) + std::size_t(i)];
                };
                constexpr std::size_t max_m = 6;
                std::vector<std::vector<std::int8_t>> q(max_m, std::vector<std::int8_t>(cols + 1));
                std::vector<std::vector<std::int32_t>> qsum(max_m,
                                                            std::vector<std::int32_t>(groups + 1));
                std::vector<std::vector<float>> sx(max_m, std::vector<float>(groups + 1));
                for (std::size_t j = 0; j < max_m; ++j) {
                    for (auto& v : q[j])
                        v = static_cast<std::int8_t>(rng() % 4 == 0 ? -127 : qd(rng));
                    for (std::size_t c = 0; c < cols; ++c) qsum[j][c / glen] += q[j][c];
                    for (auto& v : sx[j])
                        v = rng() % 9 == 0 ? std::numeric_limits<float>::quiet_NaN() : sd(rng);
                }
                for (std::size_t m = 1; m <= max_m; ++m) {
                    std::vector<std::array<float, 8>> got(m), want(m), def(m);
                    std::vector<sp::gemv8p_row> rg(m), rw(m);
                    for (std::size_t j = 0; j < m; ++j) {
                        for (int i = 0; i < 8; ++i)
                            got[j][i] = want[j][i] = def[j][i] = float(i + 2 * j) * 0.5f;
                        rg[j] = {q[j].data(), qsum[j].data(), sx[j].data(), got[j].data()};
                        rw[j] = {q[j].data(), qsum[j].data(), sx[j].data(), want[j].data()};
                        for (std::size_t g = 0; g < groups; ++g)
                            for (int i = 0; i < 8; ++i) {
                                std::int32_t d = 0;
                                for (std::size_t c = g * glen; c < std::min(cols, (g + 1) * glen);
                                     ++c)
                                    d += (int(lut[std::size_t(T::code(t.data() + c / 32 * T::bytes,
                                                                      std::size_t(i), c % 32) +
                                                              8)]) -
                                          64) *
                                        q[j][c];
                                def[j][i] =
                                    def[j][i] + lowbit::mul_unfused(s_w(g, i) * sx[j][g], float(d));
                            }
                    }
                    sp::gemm8p_lut<Arch>(t.data(), lut.data(), rg.data(), m, sc, cols, glen);
                    sp::scalar::gemm8p_lut(t.data(), lut.data(), rw.data(), m, sc, cols, glen);
                    const auto bits = [](float v) { return std::bit_cast<std::uint32_t>(v); };
                    for (std::size_t j = 0; j < m; ++j)
                        for (int i = 0; i < 8; ++i) {
                            INFO("scales " << mode << ", cols " << cols << ", group " << glen
                                           << ", m " << m << ", row " << j << ", lane " << i);
                            const float g = got[j][i], w = want[j][i], e = def[j][i];
                            CHECK((std::isnan(g) ? std::isnan(w) : bits(g) == bits(w)));
                            CHECK((std::isnan(e) ? std::isnan(w) : bits(e) == bits(w)));
                        }
                }
            }
}

TEST_CASE("gemm8p_lut equals its twin, and the twin its definition, every Arch") {
    std::mt19937 rng(76);
    for_each_arch([&](auto arch) { check_gemm8p_lut<decltype(arch)>(rng); });
#if defined(__AVX2__)
    CHECK(sp::has_packed_lut<xsimd::default_arch>);
#endif
}

TEST_CASE("gemm8p equals gemv8p's twin row by row, every Arch and row count") {
    std::mt19937 rng(75);
    for_each_arch([&](auto arch) {
        check_gemm8p<decltype(arch), 4>(rng);
        check_gemm8p<decltype(arch), 8>(rng);
    });
#if defined(__AVX2__)
    CHECK(sp::has_packed_gemm<xsimd::default_arch>);
#endif
}

TEST_CASE("gemv8p equals its twin, and the twin equals gemv8 on the plain layout, every Arch") {
    std::mt19937 rng(74);
    for_each_arch([&](auto arch) {
        check_gemv8p<decltype(arch), 4>(rng);
        check_gemv8p<decltype(arch), 8>(rng);
    });
}

TEST_CASE("the prepared-layout kernel is hand-written where the ISA has a 4-byte dot") {
#if defined(__AVX2__) || (defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD))
    CHECK(sp::has_packed_dot<xsimd::default_arch>);
#else
    CHECK(!sp::has_packed_dot<xsimd::default_arch>);
#endif
}

TEST_CASE("gemv8 equals its twin bit for bit, every Arch") {
    std::mt19937 rng(73);
    for_each_arch([&](auto arch) {
        check_gemv8<decltype(arch), 4>(rng);
        check_gemv8<decltype(arch), 8>(rng);
    });
}

TEST_CASE("dot8_i4 and dot8_i8 equal their twins, every Arch") {
    std::mt19937 rng(71);
    for_each_arch([&](auto arch) { check_dots<decltype(arch)>(rng); });
}

TEST_CASE("scale_add8 equals its twin bit for bit, every Arch") {
    std::mt19937 rng(72);
    for_each_arch([&](auto arch) { check_scale_add<decltype(arch)>(rng); });
}

TEST_CASE("the integer dots are hand-written on every x86 and AArch64 target") {
    // ops::gemv's fast path exists only where the family has them (see linear_kernel_for).
#if defined(__x86_64__) || defined(__aarch64__)
    CHECK(sp::has_int_dot<xsimd::default_arch>);
#else
    CHECK(!sp::has_int_dot<xsimd::default_arch>);
#endif
}
