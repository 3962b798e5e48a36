// lowbit — xsimd kernels for BBQ and QuEST, and the fixed-order sum of squares behind σ.
// Twins of formats/bbq.hpp and core/reduce.hpp, equal to them bit for bit (tests/test_bbq.cpp,
// tests/test_threshold_buckets.cpp).
//
// BBQ's v >= t_i is counted by simd/codebook.hpp's shared encoders: the bucket tables where they
// fit (up to 4 bits), else the sorted search. Whole runs of Hadamard blocks under one r = 1/σ
// compare the raw butterflies z with thresholds moved in front of the normalisation (z_buckets),
// so the two multiplications by c_h and r disappear; NaN becomes 0 by one vfixupimmps.
#pragma once
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../core/reduce.hpp"
#include "../core/walk.hpp"
#include "../formats/bbq.hpp"
#include "codebook.hpp"
#include "hadamard.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace reference {

/// Scalar reference BBQ encode: v = y·r, q_u = bbq_format<Bits>::encode(v), emitted as `c`.
template <int Bits>
inline void bbq_encode_run(const float* y, std::size_t n, float r, bbq_zero z, bbq_codes c,
                           std::uint8_t* codes) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t qu = bbq_format<Bits>::encode(y[i] * r);
        codes[i] = bbq_emit<Bits>(qu, bbq_format<Bits>::level(qu, z), c);
    }
}
/// Scalar reference QuEST encode: u = y·a (a = 1/s), q_u = quest_format<Bits>::encode(u).
template <int Bits>
inline void quest_encode_run(const float* y, std::size_t n, float a, bbq_codes c,
                             std::uint8_t* codes) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t qu = quest_format<Bits>::encode(y[i] * a);
        codes[i] = bbq_emit<Bits>(qu, quest_format<Bits>::level(qu), c);
    }
}
/// Scalar reference linear decode: out = s · level_of_code[code].
inline void level_decode_run(const std::uint8_t* codes, std::size_t n, float s,
                             const float* level_of_code, float* out) noexcept {
    for (std::size_t i = 0; i < n; ++i) out[i] = s * level_of_code[codes[i]];
}

}  // namespace reference

namespace simd {

namespace detail {
/// tree_sum_squares_finite reads a long input as this many ascending streams of leaves.
inline constexpr std::size_t leaf_streams = 4;
}  // namespace detail

/// Σ x² over finite x in tree_sum order; equals lowbit::tree_sum_squares_finite bit for bit.
/// When `finite` is given it receives the number of finite values.
/// Leaves of 256 are butterflied in double batches (distances >= the batch width pair batches,
/// the last few pair lanes through memory, exactly core/reduce.hpp's order); higher levels are
/// reduce.hpp's own code.
template <class Arch = xsimd::default_arch>
inline double tree_sum_squares_finite(std::span<const float> x, std::size_t* finite = nullptr) {
    using D = xsimd::batch<double, Arch>;
    constexpr std::size_t WD = D::size, NV = tree_block / WD;
    const std::size_t n = x.size();
    std::size_t count = 0;
    if (finite) *finite = 0;
    if (n == 0) return 0.0;
    const std::size_t leaves = (n + tree_block - 1) / tree_block;
    thread_local std::vector<double> level;  // reused: no allocation once large enough
    level.resize(leaves);
    alignas(64) double buf[tree_block];
    // Leaf b's sum into level[b] (every leaf is independent: the order of the leaves changes
    // nothing).
    auto leaf = [&](std::size_t b) LOWBIT_LAMBDA_INLINE {
        const std::size_t base = b * tree_block, m = std::min(tree_block, n - base);
#if defined(__AVX512F__)
        if constexpr (detail::has_permute16<Arch> && WD == 8) {
            if (m == tree_block) {
                // Squares in double of 8 floats at a time, unmasked: the leaf's sum is finite
                // exactly when all its 256 values are (a finite float's square is < 2^256 and
                // 256 of them cannot overflow a double; ±Inf or NaN makes the sum ±Inf or NaN).
                // Only a leaf whose sum is not finite is summed again with non-finite terms as 0.
                // Batch j holds terms 8j … 8j + 7, read in order: the first 16 kept, the next 16
                // added to them (distance 16), then distances 8, 4, 2, 1 (in batches).
                auto sq = [&](std::size_t j) {
                    const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(x.data() + base + j * 8));
                    return _mm512_mul_pd(d, d);
                };
                static_assert(NV == 32, "a leaf of 256 is 32 batches of 8 doubles");
                __m512d v[16];
                for (std::size_t j = 0; j < 16; ++j) v[j] = sq(j);
                for (std::size_t j = 0; j < 16; ++j) v[j] = _mm512_add_pd(v[j], sq(j + 16));
                for (std::size_t s = 8; s >= 1; s /= 2)
                    for (std::size_t j = 0; j < s; ++j) v[j] = _mm512_add_pd(v[j], v[j + s]);
                // The last three distances (4, 2, 1) in the register: lane i += lane i + s.
                __m512d w = _mm512_add_pd(v[0], _mm512_maskz_shuffle_f64x2(0xFF, v[0], v[0], 0x4E));
                w = _mm512_add_pd(w, _mm512_maskz_permutex_pd(0xFF, w, 0x4E));
                w = _mm512_add_pd(w, _mm512_maskz_permute_pd(0xFF, w, 0x55));
                const double sum = _mm512_cvtsd_f64(w);
                if (std::isfinite(sum)) {
                    count += tree_block;
                    level[b] = sum;
                    return;
                }
            }
        }
#endif
        for (std::size_t i = 0; i < m; ++i) {
            const float v = x[base + i];
            buf[i] = std::isfinite(v) ? double(v) * double(v) : 0.0;
            count += std::isfinite(v) ? 1 : 0;
        }
        for (std::size_t i = m; i < tree_block; ++i) buf[i] = 0.0;
        D v[NV];
        for (std::size_t j = 0; j < NV; ++j) v[j] = D::load_aligned(buf + j * WD);
        for (std::size_t s = NV / 2; s >= 1; s /= 2)
            for (std::size_t j = 0; j < s; ++j) v[j] = v[j] + v[j + s];
        v[0].store_aligned(buf);
        for (std::size_t s = WD / 2; s >= 1; s /= 2)
            for (std::size_t i = 0; i < s; ++i) buf[i] += buf[i + s];
        level[b] = buf[0];
    };
    // Long inputs are read as detail::leaf_streams ascending streams at once (one leaf of each in
    // turn): one core keeps more misses in flight over a few streams than over one, while many
    // streams of whole leaves overrun the prefetchers. The leaf order does not change the sum.
    std::size_t b = 0;
    if (leaves >= 256) {
        const std::size_t part = leaves / detail::leaf_streams;
        for (std::size_t j = 0; j < part; ++j)
            for (std::size_t s = 0; s < detail::leaf_streams; ++s) leaf(s * part + j);
        b = detail::leaf_streams * part;
    }
    for (; b < leaves; ++b) leaf(b);
    if (finite) *finite = count;
    // The upper levels exactly as tree_sum forms them, reduced in place.
    std::size_t size = leaves;
    while (size > 1) {
        const std::size_t next = (size + tree_block - 1) / tree_block;
        for (std::size_t b = 0; b < next; ++b) {
            for (std::size_t i = 0; i < tree_block; ++i)
                buf[i] = b * tree_block + i < size ? level[b * tree_block + i] : 0.0;
            level[b] = lowbit::detail::butterfly256(buf);
        }
        size = next;
    }
    return level[0];
}

namespace detail {
/// NaN lanes replaced by +0, every other lane unchanged (AVX-512: one vfixupimmps).
template <class Arch>
inline xsimd::batch<float, Arch> nan_to_zero(xsimd::batch<float, Arch> v) noexcept {
#if defined(__AVX512F__)
    if constexpr (has_permute16<Arch>)
        return _mm512_fixupimm_ps(v, v, _mm512_set1_epi32(0x88), 0);  // QNaN, SNaN → +0
#endif
    return xsimd::select(xsimd::isnan(v), xsimd::batch<float, Arch>(0.0f), v);
}

template <class Arch, int Bits>
inline xsimd::batch<std::int32_t, Arch> emit(xsimd::batch<std::int32_t, Arch> qu, bbq_codes c,
                                             const level_table<Bits>& e2m1) noexcept {
    using I = xsimd::batch<std::int32_t, Arch>;
    if (c == bbq_codes::int_b) return (qu ^ I(1 << (Bits - 1))) & I((1 << Bits) - 1);
    if (c == bbq_codes::e2m1) return xsimd::batch_cast<std::int32_t>(lookup<Arch>(qu, e2m1));
    return qu;
}
}  // namespace detail

/// Prepared tables of BBQ / QuEST encoding (build once per quantizer).
template <int Bits, class Arch = xsimd::default_arch>
struct bbq_kernel {
    threshold_table<Bits> thresholds;
    level_table<Bits> e2m1_bbq, e2m1_quest;  ///< E2M1 pattern of each q_u, as floats
    /// v >= t_i in buckets clamped at ±max(1, 1.125 · max |t_i|) (where has_buckets and they fit:
    /// BBQ of up to 4 bits).
    detail::bucket_table buckets;
    explicit bbq_kernel(bbq_zero z)
        : thresholds(bbq_format<Bits>::thresholds().data(), bbq_format<Bits>::levels - 1),
          e2m1_bbq(patterns([&](std::uint8_t q) { return bbq_format<Bits>::level(q, z); }).data(),
                   std::size_t{1} << Bits),
          e2m1_quest(patterns([](std::uint8_t q) { return quest_format<Bits>::level(q); }).data(),
                     std::size_t{1} << Bits),
          buckets(detail::has_buckets<Arch> ? make_buckets() : detail::bucket_table()) {}

private:
    static detail::bucket_table make_buckets() {
        const auto& t = bbq_format<Bits>::thresholds();
        float m = 1.0f;
        for (float v : t) m = std::max(m, 1.125f * std::fabs(v));
        return detail::bucket_table(t.data(), t.size(), true, m);
    }
    template <class F>
    static std::array<float, (std::size_t{1} << Bits)> patterns(F level) {
        std::array<float, (std::size_t{1} << Bits)> p{};
        for (std::size_t q = 0; q < p.size(); ++q)
            p[q] = float(lowbit::detail::e2m1_pattern(level(static_cast<std::uint8_t>(q))));
        return p;
    }
};

/// SIMD BBQ encode; equals reference::bbq_encode_run.
template <int Bits, class Arch = xsimd::default_arch>
inline void bbq_encode_run(const float* y, std::size_t n, float r, bbq_zero z, bbq_codes c,
                           const bbq_kernel<Bits, Arch>& k, std::uint8_t* codes) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B rb(r), zero(0.0f);
    std::size_t i = 0;
#if defined(LOWBIT_SIMD_BUCKETS)
    if constexpr (detail::has_buckets<Arch>) {
        if (k.buckets.usable) {
            const detail::bucket_regs br(k.buckets);
            for (; i + W <= n; i += W) {
                const B v = detail::nan_to_zero(B::load_unaligned(y + i) * rb);
                const xsimd::batch<std::int32_t, Arch> qu(detail::bucket_codes<true, true>(v, br));
                store_low_bytes<Arch>(detail::emit<Arch, Bits>(qu, c, k.e2m1_bbq), codes + i);
            }
        }
    }
#endif
    for (; i + W <= n; i += W) {
        B v = B::load_unaligned(y + i) * rb;
        v = xsimd::select(xsimd::isnan(v), zero, v);
        const auto qu = count_below<threshold_rule::at_or_below, Arch>(v, k.thresholds);
        store_low_bytes<Arch>(detail::emit<Arch, Bits>(qu, c, k.e2m1_bbq), codes + i);
    }
    reference::bbq_encode_run<Bits>(y + i, n - i, r, z, c, codes + i);
}

/// bbq_encode_run writing 4-bit codes packed (low_first) to out[0 … n/2); n even.
template <int Bits, class Arch = xsimd::default_arch>
inline void bbq_encode_run_packed4(const float* y, std::size_t n, float r, bbq_zero z, bbq_codes c,
                                   const bbq_kernel<Bits, Arch>& k, std::uint8_t* out) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B rb(r), zero(0.0f);
    std::size_t i = 0;
#if defined(LOWBIT_SIMD_BUCKETS)
    if constexpr (detail::has_buckets<Arch>) {
        if (k.buckets.usable) {
            const detail::bucket_regs br(k.buckets);
            for (; i + W <= n; i += W) {
                const B v = detail::nan_to_zero(B::load_unaligned(y + i) * rb);
                const xsimd::batch<std::int32_t, Arch> qu(detail::bucket_codes<true, true>(v, br));
                store_nibbles<Arch>(detail::emit<Arch, Bits>(qu, c, k.e2m1_bbq), out + i / 2);
            }
        }
    }
#endif
    for (; i + W <= n; i += W) {
        B v = B::load_unaligned(y + i) * rb;
        v = xsimd::select(xsimd::isnan(v), zero, v);
        const auto qu = count_below<threshold_rule::at_or_below, Arch>(v, k.thresholds);
        store_nibbles<Arch>(detail::emit<Arch, Bits>(qu, c, k.e2m1_bbq), out + i / 2);
    }
    std::uint8_t cs[W];
    reference::bbq_encode_run<Bits>(y + i, std::min(n - i, W), r, z, c, cs);
    for (std::size_t j = 0; i + j + 1 < n; j += 2)
        out[(i + j) / 2] = static_cast<std::uint8_t>(cs[j] | (cs[j + 1] << 4));
}

/// Transform of one whole block of h = NV·W values of x and its BBQ codes, packed (low_first)
/// to out[0 … h/2), without leaving registers; equals hadamard_block then bbq_encode_run.
template <int Bits, std::size_t NV, class Arch = xsimd::default_arch>
inline void bbq_block_encode_packed4(const float* x, float r, bbq_codes c,
                                     const bbq_kernel<Bits, Arch>& k, std::uint8_t* out) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    B v[NV];
    hadamard_block_load<Arch, NV>(x, v);
    const B rb(r), zero(0.0f);
#if defined(LOWBIT_SIMD_BUCKETS)
    if constexpr (detail::has_buckets<Arch> && NV % 4 == 0 && W == 16) {
        if (k.buckets.usable &&
            c != bbq_codes::e2m1) {  // 64 codes per store; int_b flips bit 3 of every nibble
            const detail::bucket_regs br(k.buckets);
            const std::uint8_t flip = c == bbq_codes::int_b ? 0x88 : 0x00;
            for (std::size_t j = 0; j < NV; j += 4) {
                __m512i q[4];
                for (std::size_t l = 0; l < 4; ++l)
                    q[l] = detail::bucket_codes<true, true>(detail::nan_to_zero(v[j + l] * rb), br);
                detail::store_nibbles64(q[0], q[1], q[2], q[3], out + j * W / 2, flip);
            }
            return;
        }
    }
#endif
    for (std::size_t j = 0; j < NV; ++j) {
        B u = v[j] * rb;
        u = xsimd::select(xsimd::isnan(u), zero, u);
        const auto qu = count_below<threshold_rule::at_or_below, Arch>(u, k.thresholds);
        store_nibbles<Arch>(detail::emit<Arch, Bits>(qu, c, k.e2m1_bbq), out + j * W / 2);
    }
}

namespace detail {
/// BBQ's thresholds moved in front of the normalisation of a block of h values: with c = c_h and
/// r = 1/σ > 0 the map F(z) = RN(RN(z · c) · r) (NaN as 0) from the unnormalised butterfly
/// output z to v is non-decreasing, so v >= t_i exactly when z >= z_i, z_i the smallest float
/// whose F reaches t_i (bisection over the floats in order). Buckets of the z_i then encode z
/// without the two multiplications. Not usable (the caller multiplies) where r is not a finite
/// positive number, some z_i is ±Inf, or two z_i share a bucket. Cached per thread for the last
/// (h, r): a tensor's blocks share them.
template <int Bits>
inline const bucket_table& z_buckets(std::size_t h, float r) {
    struct entry {
        std::size_t h = 0;
        float r = 0.0f;
        bucket_table table;
    };
    thread_local entry last;
    if (last.h == h && std::bit_cast<std::uint32_t>(last.r) == std::bit_cast<std::uint32_t>(r))
        return last.table;
    last.h = h;
    last.r = r;
    last.table = bucket_table();
    if (!(std::isfinite(r) && r > 0.0f)) return last.table;
    const float c = hadamard_norm(h);
    auto F = [&](float z) {
        const float v = (z * c) * r;
        return std::isnan(v) ? 0.0f : v;
    };
    auto key = [](float f) -> std::int64_t {
        const auto b = std::bit_cast<std::uint32_t>(f);
        return (b & 0x80000000u) ? -std::int64_t(b & 0x7FFFFFFFu) : std::int64_t(b);
    };
    auto from_key = [](std::int64_t k) -> float {
        return std::bit_cast<float>(k >= 0 ? std::uint32_t(k) : (std::uint32_t(-k) | 0x80000000u));
    };
    const auto& t = bbq_format<Bits>::thresholds();
    std::array<float, bbq_format<Bits>::levels - 1> zt{};
    float bound = 0.0f;
    for (std::size_t i = 0; i < t.size(); ++i) {
        std::int64_t a = key(-INFINITY), z = key(INFINITY);  // F(+Inf) = +Inf >= t_i: z qualifies
        while (a < z) {
            const std::int64_t m = a + (z - a) / 2;
            if (F(from_key(m)) >= t[i])
                z = m;
            else
                a = m + 1;
        }
        zt[i] = from_key(a);
        if (!std::isfinite(zt[i])) return last.table;
        bound = std::max(bound, std::fabs(zt[i]));
    }
    bound = 1.125f * bound;
    if (!(bound > 0.0f)) bound = 1.0f;  // BBQ1: the one threshold is 0
    last.table = bucket_table(zt.data(), zt.size(), true, bound);
    return last.table;
}
}  // namespace detail

namespace detail {
/// f(blk) for blk in [0, blocks) of h elements each, in the order that meets what σ's pass
/// (leaf_streams streams) left in the last-level cache: lowbit::detail::for_each_step_backward.
/// The order changes no result.
template <class F>
inline void tail_first(std::size_t blocks, std::size_t h, F&& f) {
    lowbit::detail::for_each_step_backward<leaf_streams>(
        0, blocks * h, h, [&](std::size_t c0, std::size_t) { f(c0 / h); });
}
}  // namespace detail

/// `blocks` consecutive whole blocks of h = NV·W values (x[0 … blocks·h)), each transformed and
/// encoded as bbq_block_encode_packed4 does, codes to out[0 … blocks·h/2), with the tables'
/// registers loaded once; blocks visited detail::tail_first.
template <int Bits, std::size_t NV, class Arch = xsimd::default_arch>
inline void bbq_blocks_encode_packed4(const float* x, std::size_t blocks, float r, bbq_codes c,
                                      const bbq_kernel<Bits, Arch>& k, std::uint8_t* out) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size, h = NV * W;
#if defined(LOWBIT_SIMD_BUCKETS)
    if constexpr (detail::has_buckets<Arch> && NV % 4 == 0 && W == 16) {
        if (k.buckets.usable && c != bbq_codes::e2m1) {  // the registers of the tables loaded once
            const std::uint8_t flip = c == bbq_codes::int_b ? 0x88 : 0x00;
            if (const auto& zb = detail::z_buckets<Bits>(h, r);
                zb.usable) {  // no normalisation, no multiplication
                const detail::bucket_regs br(zb);
                detail::tail_first(blocks, h, [&](std::size_t blk) {
                    B v[NV];
                    hadamard_block_load<Arch, NV, false>(x + blk * h, v);
                    __m512i q[NV];
                    if constexpr (NV % 8 == 0) {
                        __mmask16 m[NV];
                        for (std::size_t j = 0; j < NV; ++j)
                            q[j] = detail::bucket_base<true, true>(detail::nan_to_zero(v[j]), br,
                                                                   m[j]);
                        for (std::size_t j = 0; j < NV; j += 8)
                            detail::store_nibbles128_masked(q + j, m + j,
                                                            out + (blk * h + j * W) / 2, flip);
                    } else {
                        for (std::size_t j = 0; j < NV; ++j)
                            q[j] = detail::bucket_codes<true, true>(detail::nan_to_zero(v[j]), br);
                        detail::store_nibbles64(q[0], q[1], q[2], q[3], out + blk * h / 2, flip);
                    }
                });
                return;
            }
            const detail::bucket_regs br(k.buckets);
            const B rb(r);
            detail::tail_first(blocks, h, [&](std::size_t blk) {
                B v[NV];
                hadamard_block_load<Arch, NV>(x + blk * h, v);
                for (std::size_t j = 0; j < NV; j += 4) {
                    __m512i q[4];
                    for (std::size_t l = 0; l < 4; ++l)
                        q[l] = detail::bucket_codes<true, true>(detail::nan_to_zero(v[j + l] * rb),
                                                                br);
                    detail::store_nibbles64(q[0], q[1], q[2], q[3], out + (blk * h + j * W) / 2,
                                            flip);
                }
            });
            return;
        }
    }
#endif
    for (std::size_t blk = 0; blk < blocks; ++blk)
        bbq_block_encode_packed4<Bits, NV, Arch>(x + blk * h, r, c, k, out + blk * h / 2);
}

/// Linear decode of one whole block of h = NV·W packed 4-bit codes (low_first) and its inverse
/// transform, in registers; equals level_decode_run then hadamard_block.
template <std::size_t NV, class Arch = xsimd::default_arch>
inline void level_decode_block_packed4(const std::uint8_t* in, float s, const level_table<4>& table,
                                       float* out) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B sb(s);
    B v[NV];
    for (std::size_t j = 0; j < NV; ++j)
        v[j] = sb * lookup<Arch>(load_nibbles<Arch>(in + j * W / 2), table);
    hadamard_regs<Arch, NV>(v);
    for (std::size_t j = 0; j < NV; ++j) v[j].store_unaligned(out + j * W);
}

/// SIMD QuEST encode; equals reference::quest_encode_run.
template <int Bits, class Arch = xsimd::default_arch>
inline void quest_encode_run(const float* y, std::size_t n, float a, bbq_codes c,
                             const bbq_kernel<Bits, Arch>& k, std::uint8_t* codes) noexcept {
    using B = xsimd::batch<float, Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    constexpr int half = 1 << (Bits - 1);
    const B ab(a), zero(0.0f), lo(float(-half)), hi(float(half - 1));
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        B u = B::load_unaligned(y + i) * ab;
        u = xsimd::select(xsimd::isnan(u), zero, u);
        const B kf = xsimd::min(xsimd::max(xsimd::floor(u), lo), hi);
        const I qu = xsimd::batch_cast<std::int32_t>(kf) + I(half);
        store_low_bytes<Arch>(detail::emit<Arch, Bits>(qu, c, k.e2m1_quest), codes + i);
    }
    reference::quest_encode_run<Bits>(y + i, n - i, a, c, codes + i);
}

/// SIMD linear decode through a level table of 2^CodeBits entries; equals
/// reference::level_decode_run.
template <int CodeBits, class Arch = xsimd::default_arch>
inline void level_decode_run(const std::uint8_t* codes, std::size_t n, float s,
                             const float* level_of_code, const level_table<CodeBits>& table,
                             float* out) noexcept {
    using B = xsimd::batch<float, Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    const B sb(s);
    const I mask((1 << CodeBits) - 1);
    std::size_t i = 0;
    for (; i + W <= n; i += W)
        (sb * lookup<Arch>(load_bytes<Arch>(codes + i) & mask, table)).store_unaligned(out + i);
    reference::level_decode_run(codes + i, n - i, s, level_of_code, out + i);
}

}  // namespace simd
LOWBIT_NAMESPACE_END
