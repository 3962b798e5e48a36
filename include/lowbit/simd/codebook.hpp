// lowbit — xsimd kernels for codebook formats, and the sorted-threshold encoders BBQ shares.
// Twin of formats/codebook.hpp's reference kernels, equal to them bit for bit
// (tests/test_codebook.cpp).
//
// Two ways to count the thresholds below y, both exact:
//  * simd::count_below (simd/primitives.hpp) over the sorted thresholds, on every target;
//  * (AVX-512 with DQ, BW, VL, VBMI) a uniform bucket index: k = RN(clamp(y, ±bound) · 15/bound)
//    + 16 in 1 … 31, one fma on 1.5·2^23 whose low bits are k. k is a monotone function of y, so
//    every bucket is an interval of floats; bucket_table computes those intervals exactly when it
//    is built and, where each holds at most one threshold, stores per bucket the count of the
//    thresholds below it (base) and the one threshold inside it (or NaN: compares false), so
//      code(y) = base[k] + (y > thr[k])
//    is two 32-entry permutes (vpermt2ps / vpermt2d) and one compare. Where a bucket would hold
//    two thresholds (dense or fitted codebooks, BBQ of 5+ bits) the table is not usable and the
//    search is used.
// The decode lookups ℓ[code] are simd::lookup over a level_table.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "divide.hpp"
#include "observe.hpp"
#include "primitives.hpp"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "../formats/codebook.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {
namespace detail {

template <class Arch>
inline constexpr bool has_permute16 =
#if defined(__AVX512F__)
    std::is_base_of_v<xsimd::avx512f, Arch>;
#else
    false;
#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__) && defined(__AVX512VBMI__)
#define LOWBIT_SIMD_BUCKETS 1
#endif

/// True where the bucketed encoders (vrangeps, vpermt2ps, vpmaddubsw, vpermb) are compiled in.
template <class Arch>
inline constexpr bool has_buckets =
#if defined(LOWBIT_SIMD_BUCKETS)
    has_permute16<Arch>;
#else
    false;
#endif

/// The bucketed form of a sorted threshold list (see the file comment). Built and checked in
/// scalar code; `usable` is false where some bucket would hold two thresholds, or the
/// thresholds are not finite.
struct bucket_table {
    static constexpr int count = 32;
    static constexpr float magic =
        12582912.0f;  ///< 1.5 · 2^23: RN(w + magic) − magic = RN(w) for |w| < 2^22
    bool usable = false;
    float bound = 1.0f, scale = 15.0f;
    alignas(64) float thr[count] = {};
    alignas(64) std::int32_t base[count] = {};

    bucket_table() = default;
    /// Buckets of n sorted finite thresholds t for code(y) = #{t_i < y} (Inclusive: t_i <= y),
    /// k = RN(clamp(y, ±bound) · (15 / bound)) + 16.
    bucket_table(const float* t, std::size_t n, bool inclusive, float bnd)
        : bound(bnd), scale(15.0f / bnd) {
        for (std::size_t i = 0; i < n; ++i)
            if (!std::isfinite(t[i]) || (i && t[i] < t[i - 1])) return;
        if (!(std::isfinite(bound) && bound > 0.0f && std::isfinite(scale))) return;
        // Floats in order as integers: key(−0) = key(+0) = 0, which compare equal as floats too.
        auto key = [](float f) -> std::int64_t {
            const auto b = std::bit_cast<std::uint32_t>(f);
            return (b & 0x80000000u) ? -std::int64_t(b & 0x7FFFFFFFu) : std::int64_t(b);
        };
        auto from_key = [](std::int64_t k) -> float {
            return std::bit_cast<float>(k >= 0 ? std::uint32_t(k)
                                               : (std::uint32_t(-k) | 0x80000000u));
        };
        const std::int64_t lo = key(-INFINITY), hi = key(INFINITY);
        if (bucket(-INFINITY) < 0 || bucket(INFINITY) >= count) return;
        // first(b): the smallest key whose bucket is >= b (hi + 1 when none); bucket() is monotone.
        auto first = [&](int b) {
            std::int64_t a = lo, z = hi + 1;
            while (a < z) {
                const std::int64_t m = a + (z - a) / 2;
                if (bucket(from_key(m)) >= b)
                    z = m;
                else
                    a = m + 1;
            }
            return a;
        };
        std::int64_t L = first(0);
        for (int b = 0; b < count; ++b) {
            const std::int64_t next = first(b + 1), U = next - 1;  // bucket b holds the keys [L, U]
            thr[b] = std::numeric_limits<float>::quiet_NaN();
            base[b] = 0;
            int inside = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const std::int64_t k = key(t[i]);
                const bool always = inclusive ? k <= L : k < L, never = inclusive ? k > U : k >= U;
                if (always)
                    ++base[b];
                else if (!never) {
                    thr[b] = t[i];
                    ++inside;
                }
            }
            if (L <= U && inside > 1) return;
            L = next;
        }
        usable = true;
    }
    /// The bucket of y (not NaN): the scalar twin of the SIMD index, clamped.
    [[nodiscard]] int bucket(float y) const noexcept {
        const float u = std::copysign(std::min(std::fabs(y), bound), y);
        return int(std::fma(u, scale, magic + 16.0f) - magic);
    }
};

#if defined(LOWBIT_SIMD_BUCKETS)
/// A bucket_table in registers.
struct bucket_regs {
    __m512 thr_lo, thr_hi, bound, scale, magic;
    __m512i base_lo, base_hi;
    bucket_regs() noexcept = default;
    explicit bucket_regs(const bucket_table& b) noexcept
        : thr_lo(_mm512_load_ps(b.thr)),
          thr_hi(_mm512_load_ps(b.thr + 16)),
          bound(_mm512_set1_ps(b.bound)),
          scale(_mm512_set1_ps(b.scale)),
          magic(_mm512_set1_ps(bucket_table::magic + 16.0f)),
          base_lo(_mm512_load_si512(b.base)),
          base_hi(_mm512_load_si512(b.base + 16)) {}
};

/// The bucket index of 16 values (Clamp = false: only for |y| <= bound), in the low 5 bits of
/// each lane. vrangeps imm 0b0010: the smaller magnitude of (y, bound) with the sign of y.
template <bool Clamp>
inline __m512i bucket_index(__m512 y, const bucket_regs& r) noexcept {
    const __m512 u = Clamp ? _mm512_maskz_range_ps(0xFFFF, y, r.bound, 0x02) : y;
    return _mm512_castps_si512(_mm512_fmadd_ps(u, r.scale, r.magic));
}

/// code(y) = base[k] + (y > thr[k]) (Inclusive: y >= thr[k]) for 16 values, none NaN.
template <bool Inclusive, bool Clamp>
inline __m512i bucket_codes(__m512 y, const bucket_regs& r) noexcept {
    const __m512i k = bucket_index<Clamp>(y, r);
    const __m512 t = _mm512_permutex2var_ps(r.thr_lo, k, r.thr_hi);
    const __m512i base = _mm512_permutex2var_epi32(r.base_lo, k, r.base_hi);
    const __mmask16 m = _mm512_cmp_ps_mask(y, t, Inclusive ? _CMP_GE_OQ : _CMP_GT_OQ);
    return _mm512_mask_add_epi32(base, m, base, _mm512_set1_epi32(1));
}

/// 64 4-bit codes (int32 lanes c0 … c3, each < 16) packed two per byte, low_first: 32 bytes,
/// each XORed with `flip`.
inline void store_nibbles64(__m512i c0, __m512i c1, __m512i c2, __m512i c3, std::uint8_t* p,
                            std::uint8_t flip = 0) noexcept {
    // packs: byte 16k + 4v + e of q is code 4k + e of c_v (k the 128-bit lane);
    // pairs (lo + 16·hi) as words: word 8k + 2v + j is codes 4k + 2j, 4k + 2j + 1 of c_v;
    // that pair belongs at byte 8v + 2k + j.
    const __m512i q = _mm512_packus_epi16(_mm512_packus_epi32(c0, c1), _mm512_packus_epi32(c2, c3));
    const __m512i w = _mm512_maddubs_epi16(q, _mm512_set1_epi16(0x1001));
    alignas(64) static constexpr std::uint8_t order[64] = {
        0,  2,  16, 18, 32, 34, 48, 50, 4,  6,  20, 22, 36, 38, 52, 54, 8, 10, 24, 26, 40, 42,
        56, 58, 12, 14, 28, 30, 44, 46, 60, 62, 0,  0,  0,  0,  0,  0,  0, 0,  0,  0,  0,  0,
        0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 0,  0,  0};
    const __m512i r = _mm512_permutexvar_epi8(_mm512_load_si512(order), w);
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(p),
        _mm256_xor_si256(_mm512_castsi512_si256(r), _mm256_set1_epi8(static_cast<char>(flip))));
}

/// The bucket's count of thresholds below it, with the comparison against its one threshold in
/// m: code = base + (bit of m). bucket_codes without the final addition (store_nibbles128_masked
/// adds the 128 bits to bytes with one masked addition instead of eight).
template <bool Inclusive, bool Clamp>
inline __m512i bucket_base(__m512 y, const bucket_regs& r, __mmask16& m) noexcept {
    const __m512i k = bucket_index<Clamp>(y, r);
    m = _mm512_cmp_ps_mask(y, _mm512_permutex2var_ps(r.thr_lo, k, r.thr_hi),
                           Inclusive ? _CMP_GE_OQ : _CMP_GT_OQ);
    return _mm512_permutex2var_epi32(r.base_lo, k, r.base_hi);
}

/// 128 4-bit codes base[v] + bit l of m[v] (v = 0 … 7, lanes l; each < 16) packed two per byte,
/// low_first: 64 bytes, each XORed with `flip`.
inline void store_nibbles128_masked(const __m512i* base, const __mmask16* m, std::uint8_t* p,
                                    std::uint8_t flip = 0) noexcept {
    // packus(b0, b1): word 8k + 4s + e is code 4k + e of b_s (k the 128-bit lane). The low bytes
    // of two such, in batch order (byte 16v + e = code e of b_v), take one vpermt2b; then the 64
    // mask bits are in the same order, one masked byte addition adds them, and pairs (lo + 16·hi)
    // are words whose index is the output byte's.
    alignas(64) static constexpr std::uint8_t batch_order[64] = {
        0,  2,  4,  6,  16, 18, 20, 22, 32,  34,  36,  38,  48,  50,  52,  54,
        8,  10, 12, 14, 24, 26, 28, 30, 40,  42,  44,  46,  56,  58,  60,  62,
        64, 66, 68, 70, 80, 82, 84, 86, 96,  98,  100, 102, 112, 114, 116, 118,
        72, 74, 76, 78, 88, 90, 92, 94, 104, 106, 108, 110, 120, 122, 124, 126};
    alignas(64) static constexpr std::uint8_t low_bytes[64] = {
        0,  2,  4,   6,   8,   10,  12,  14,  16,  18,  20,  22,  24,  26,  28,  30,
        32, 34, 36,  38,  40,  42,  44,  46,  48,  50,  52,  54,  56,  58,  60,  62,
        64, 66, 68,  70,  72,  74,  76,  78,  80,  82,  84,  86,  88,  90,  92,  94,
        96, 98, 100, 102, 104, 106, 108, 110, 112, 114, 116, 118, 120, 122, 124, 126};
    const __m512i order = _mm512_load_si512(batch_order), one = _mm512_set1_epi8(1),
                  pairs = _mm512_set1_epi16(0x1001);
    __m512i w[2];
    for (int h = 0; h < 2; ++h) {
        const __m512i* b = base + 4 * h;
        const __mmask16* k = m + 4 * h;
        __m512i q = _mm512_permutex2var_epi8(_mm512_packus_epi32(b[0], b[1]), order,
                                             _mm512_packus_epi32(b[2], b[3]));
        const __mmask64 bits =
            _mm512_kunpackd(_mm512_kunpackw(k[3], k[2]), _mm512_kunpackw(k[1], k[0]));
        q = _mm512_mask_add_epi8(q, bits, q, one);
        w[h] = _mm512_maddubs_epi16(q, pairs);
    }
    const __m512i r = _mm512_permutex2var_epi8(w[0], _mm512_load_si512(low_bytes), w[1]);
    _mm512_storeu_si512(p, _mm512_xor_si512(r, _mm512_set1_epi8(static_cast<char>(flip))));
}
#endif

}  // namespace detail

/// Prepared SIMD tables of one codebook (build once, use for many runs).
template <int Bits, class Arch = xsimd::default_arch>
struct codebook_kernel {
    threshold_table<Bits> thresholds;
    level_table<Bits> levels;
    detail::bucket_table
        buckets;  ///< y > t in buckets over [−1, 1] (where has_buckets and they fit)
    /// with_buckets = false skips the bucket table (decoders do not need it).
    explicit codebook_kernel(const codebook<Bits>& cb, bool with_buckets = true) noexcept
        : thresholds(cb.thresholds.data(), cb.thresholds.size()),
          levels(cb.levels.data(), cb.levels.size()),
          buckets(
              with_buckets && detail::has_buckets<Arch>
                  ? detail::bucket_table(cb.thresholds.data(), cb.thresholds.size(), false, 1.0f)
                  : detail::bucket_table()) {}
};

/// SIMD encode; equals reference::encode_codebook_run.
template <int Bits, class Arch = xsimd::default_arch>
inline void encode_codebook_run(const float* x, std::size_t n, float inv, const codebook<Bits>& cb,
                                const codebook_kernel<Bits, Arch>& k,
                                std::uint8_t* codes) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B s(inv), zero(0.0f);
    std::size_t i = 0;
#if defined(LOWBIT_SIMD_BUCKETS)
    if constexpr (detail::has_buckets<Arch>) {
        if (k.buckets.usable) {
            const detail::bucket_regs br(k.buckets);
            for (; i + W <= n; i += W) {
                B y = B::load_unaligned(x + i) * s;
                y = xsimd::select(xsimd::isnan(y), zero, y);
                store_low_bytes<Arch>(
                    xsimd::batch<std::int32_t, Arch>(detail::bucket_codes<false, true>(y, br)),
                    codes + i);
            }
        }
    }
#endif
    for (; i + W <= n; i += W) {
        B y = B::load_unaligned(x + i) * s;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        store_low_bytes<Arch>(count_below<threshold_rule::strictly_below, Arch>(y, k.thresholds),
                              codes + i);
    }
    reference::encode_codebook_run(x + i, n - i, inv, cb, codes + i);
}

/// SIMD decode; equals reference::decode_codebook_run.
template <int Bits, class Arch = xsimd::default_arch>
inline void decode_codebook_run(const std::uint8_t* codes, std::size_t n, float scale,
                                const codebook<Bits>& cb, const codebook_kernel<Bits, Arch>& k,
                                float* out) noexcept {
    using B = xsimd::batch<float, Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    const B s(scale);
    const I mask(static_cast<std::int32_t>(code_traits<Bits>::mask));
    std::size_t i = 0;
    for (; i + W <= n; i += W)
        (lookup<Arch>(load_bytes<Arch>(codes + i) & mask, k.levels) * s).store_unaligned(out + i);
    reference::decode_codebook_run(codes + i, n - i, scale, cb, out + i);
}

/// encode_codebook_run writing 4-bit codes packed (low_first) to out[0 … n/2); n even.
template <int Bits, class Arch = xsimd::default_arch>
inline void encode_codebook_run_packed4(const float* x, std::size_t n, float inv,
                                        const codebook<Bits>& cb,
                                        const codebook_kernel<Bits, Arch>& k,
                                        std::uint8_t* out) noexcept {
    static_assert(Bits == 4, "lowbit: packed4 kernels are for 4-bit codes");
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B s(inv), zero(0.0f);
    std::size_t i = 0;
#if defined(LOWBIT_SIMD_BUCKETS)
    if constexpr (detail::has_buckets<Arch>) {
        if (k.buckets.usable) {
            const detail::bucket_regs br(k.buckets);
            for (; i + W <= n; i += W) {
                B y = B::load_unaligned(x + i) * s;
                y = xsimd::select(xsimd::isnan(y), zero, y);
                store_nibbles<Arch>(
                    xsimd::batch<std::int32_t, Arch>(detail::bucket_codes<false, true>(y, br)),
                    out + i / 2);
            }
        }
    }
#endif
    for (; i + W <= n; i += W) {
        B y = B::load_unaligned(x + i) * s;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        store_nibbles<Arch>(count_below<threshold_rule::strictly_below, Arch>(y, k.thresholds),
                            out + i / 2);
    }
    std::uint8_t c[W];
    reference::encode_codebook_run(x + i, std::min(n - i, W), inv, cb, c);
    for (std::size_t j = 0; i + j + 1 < n; j += 2)
        out[(i + j) / 2] = static_cast<std::uint8_t>(c[j] | (c[j + 1] << 4));
}

namespace detail {
/// Every lane set to the largest lane (no NaN among them).
template <class Arch>
inline xsimd::batch<float, Arch> broadcast_max(xsimd::batch<float, Arch> v) noexcept {
    using B = xsimd::batch<float, Arch>;
#if defined(__AVX512F__)
    // Zero-masked forms with an all-ones mask are the plain operations (simd/arch/x86.hpp).
    if constexpr (has_permute16<Arch>) {
        __m512 w = v;
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_shuffle_f32x4(0xFFFF, w, w, 0x4E));
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_shuffle_f32x4(0xFFFF, w, w, 0xB1));
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_permute_ps(0xFFFF, w, 0x4E));
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_permute_ps(0xFFFF, w, 0xB1));
        return B(w);
    }
#endif
    alignas(64) float lanes[B::size];
    v.store_aligned(lanes);
    float r = lanes[0];
    for (std::size_t l = 1; l < B::size; ++l) r = lanes[l] > r ? lanes[l] : r;
    return B(r);
}
}  // namespace detail

/// One whole group of NV·W values: its absmax (returned; equals absmax()) and its 4-bit codes
/// packed (low_first) to out, from one load of the group. Equals absmax + encode_codebook_run.
template <int Bits, std::size_t NV, class Arch = xsimd::default_arch>
inline float encode_codebook_group_packed4(const float* x, const codebook_kernel<Bits, Arch>& k,
                                           std::uint8_t* out) noexcept {
    static_assert(Bits == 4, "lowbit: packed4 kernels are for 4-bit codes");
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B big(3.4028234663852886e38f), zero(0.0f);
    B v[NV], m[NV];
    for (std::size_t j = 0; j < NV; ++j) {
        v[j] = B::load_unaligned(x + j * W);
        const B a = xsimd::abs(v[j]);
        m[j] = xsimd::select(a <= big, a, zero);  // NaN and ±Inf count as 0
    }
    for (std::size_t s = NV / 2; s >= 1; s /= 2)  // a maximum is exact in any order
        for (std::size_t j = 0; j < s; ++j) m[j] = xsimd::select(m[j + s] > m[j], m[j + s], m[j]);
    // The maximum broadcast to every lane, then 1/max in every lane (IEEE division, as the scalar
    // 1.0f / s): no scalar round trip on the critical path from the loads to the codes.
    const B mx = detail::broadcast_max<Arch>(m[0]);
    B s = divide(B(1.0f), mx);
    s = xsimd::select(mx == zero || xsimd::isinf(s), zero, s);
    const float r = mx.get(0);
    for (std::size_t j = 0; j < NV; ++j) {
        B y = v[j] * s;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        store_nibbles<Arch>(count_below<threshold_rule::strictly_below, Arch>(y, k.thresholds),
                            out + j * W / 2);
    }
    return r;
}

/// True when encode_codebook_16groups_packed4 runs for this kernel (AVX-512 and usable buckets).
template <int Bits, class Arch>
inline bool has_16groups(const codebook_kernel<Bits, Arch>& k) noexcept {
    return Bits == 4 && detail::has_buckets<Arch> && xsimd::batch<float, Arch>::size == 16 &&
        k.buckets.usable;
}

/// 16 whole consecutive groups of 64 values (x[0 … 1024)): their absmaxes to scales[0 … 16) and
/// their 4-bit codes packed (low_first) to out[0 … 512); equals 16 × encode_codebook_group_packed4.
/// Only where has_16groups(k). The absmax is an unsigned integer maximum of |x|'s bits (for
/// non-negative floats integer order is float order, and NaN > +Inf > every finite value), 16
/// groups reduced together by a transposing tree and inverted by one division. A group holding
/// NaN or ±Inf (its maximum is >= 0x7F800000) is handed to encode_codebook_group_packed4; every
/// other group has |x · (1/absmax)| <= 1 (1/a rounds to at most (1/a)(1 + 2^-24) and the product
/// to at most 1), so its codes need neither the NaN replacement nor the clamp.
template <int Bits, class Arch = xsimd::default_arch>
inline void encode_codebook_16groups_packed4(const float* x, const codebook_kernel<Bits, Arch>& k,
                                             float* scales, std::uint8_t* out) noexcept {
    static_assert(Bits == 4, "lowbit: packed4 kernels are for 4-bit codes");
#if defined(LOWBIT_SIMD_BUCKETS)
    if constexpr (detail::has_buckets<Arch> && xsimd::batch<float, Arch>::size == 16) {
        const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
        auto absbits = [&](const float* p) {
            return _mm512_and_si512(_mm512_loadu_si512(p), abs_mask);
        };
        __m512i m[16];
        for (int g = 0; g < 16; ++g) {
            const float* p = x + 64 * g;
            m[g] = _mm512_maskz_max_epu32(
                0xFFFF, _mm512_maskz_max_epu32(0xFFFF, absbits(p), absbits(p + 16)),
                _mm512_maskz_max_epu32(0xFFFF, absbits(p + 32), absbits(p + 48)));
        }
        // (zero-masked forms with an all-ones mask: the plain operations, simd/arch/x86.hpp)
        // Transposing reduction: 16 vectors → one whose lane g is the maximum of m[g]'s lanes.
        __m512i r[8], q[4], u[2];
        for (int p = 0; p < 8;
             ++p)  // lanes 0–7: 8 partial maxima of group 2p, lanes 8–15: of 2p + 1
            r[p] = _mm512_maskz_max_epu32(
                0xFFFF, _mm512_maskz_shuffle_i32x4(0xFFFF, m[2 * p], m[2 * p + 1], 0x44),
                _mm512_maskz_shuffle_i32x4(0xFFFF, m[2 * p], m[2 * p + 1], 0xEE));
        for (int p = 0; p < 4; ++p)  // 128-bit lane j: 4 partial maxima of group 4p + j
            q[p] = _mm512_maskz_max_epu32(
                0xFFFF, _mm512_maskz_shuffle_i32x4(0xFFFF, r[2 * p], r[2 * p + 1], 0x88),
                _mm512_maskz_shuffle_i32x4(0xFFFF, r[2 * p], r[2 * p + 1], 0xDD));
        for (int p = 0; p < 2; ++p)  // lane j: 2 of group 8p + j, then 2 of group 8p + 4 + j
            u[p] = _mm512_maskz_max_epu32(
                0xFFFF, _mm512_maskz_unpacklo_epi64(0xFF, q[2 * p], q[2 * p + 1]),
                _mm512_maskz_unpackhi_epi64(0xFF, q[2 * p], q[2 * p + 1]));
        const __m512 u0 = _mm512_castsi512_ps(u[0]), u1 = _mm512_castsi512_ps(u[1]);
        // lane 4j + t: group j + 4t; put it in lane j + 4t.
        const __m512i mx4 = _mm512_maskz_max_epu32(
            0xFFFF, _mm512_castps_si512(_mm512_maskz_shuffle_ps(0xFFFF, u0, u1, 0x88)),
            _mm512_castps_si512(_mm512_maskz_shuffle_ps(0xFFFF, u0, u1, 0xDD)));
        const __m512i mx = _mm512_maskz_permutexvar_epi32(
            0xFFFF, _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), mx4);
        const __mmask16 bad =
            _mm512_cmp_epu32_mask(mx, _mm512_set1_epi32(0x7F800000), _MM_CMPINT_NLT);
        const __m512 a = _mm512_castsi512_ps(mx);
        _mm512_storeu_ps(scales, a);
        // inverse(a): 1/a, 0 where a = 0 or 1/a overflows (as the quantizer's scalar inverse).
        __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), a);
        const __mmask16 zero = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_EQ_OQ) |
            _mm512_fpclass_ps_mask(inv, 0x18);
        alignas(64) float invs[16];
        _mm512_store_ps(invs, _mm512_maskz_mov_ps(static_cast<__mmask16>(~zero), inv));
        const detail::bucket_regs br(k.buckets);
        auto codes = [&](int g, __m512i* c) {
            const __m512 s = _mm512_set1_ps(invs[g]);
            for (int j = 0; j < 4; ++j)
                c[j] = detail::bucket_codes<false, false>(
                    _mm512_mul_ps(_mm512_loadu_ps(x + 64 * g + 16 * j), s), br);
        };
        for (int g = 0; g < 16;
             g += 2) {  // two groups per 64-byte store, unless one of them is handed on
            if (!(bad & (3u << g))) {
                __m512i c[8];
                __mmask16 m[8];
                for (int e = 0; e < 2; ++e) {
                    const __m512 s = _mm512_set1_ps(invs[g + e]);
                    for (int j = 0; j < 4; ++j)
                        c[4 * e + j] = detail::bucket_base<false, false>(
                            _mm512_mul_ps(_mm512_loadu_ps(x + 64 * (g + e) + 16 * j), s), br,
                            m[4 * e + j]);
                }
                detail::store_nibbles128_masked(c, m, out + 32 * g);
                continue;
            }
            for (int e = g; e < g + 2; ++e) {
                if (bad & (1u << e)) {
                    scales[e] =
                        encode_codebook_group_packed4<Bits, 4, Arch>(x + 64 * e, k, out + 32 * e);
                    continue;
                }
                __m512i c[4];
                codes(e, c);
                detail::store_nibbles64(c[0], c[1], c[2], c[3], out + 32 * e);
            }
        }
        return;
    }
#endif
    for (int g = 0; g < 16; ++g)
        scales[g] =
            encode_codebook_group_packed4<Bits, 1024 / 16 / xsimd::batch<float, Arch>::size, Arch>(
                x + 64 * g, k, out + 32 * g);
}

/// decode_codebook_run reading 4-bit codes packed (low_first) from in[0 … n/2); n even.
template <int Bits, class Arch = xsimd::default_arch>
inline void decode_codebook_run_packed4(const std::uint8_t* in, std::size_t n, float scale,
                                        const codebook<Bits>& cb,
                                        const codebook_kernel<Bits, Arch>& k, float* out) noexcept {
    static_assert(Bits == 4, "lowbit: packed4 kernels are for 4-bit codes");
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B s(scale);
    std::size_t i = 0;
    for (; i + W <= n; i += W)
        (lookup<Arch>(load_nibbles<Arch>(in + i / 2), k.levels) * s).store_unaligned(out + i);
    std::uint8_t c[W];
    for (std::size_t j = 0; i + j + 1 < n; j += 2) {
        c[j] = in[(i + j) / 2] & 0xF;
        c[j + 1] = in[(i + j) / 2] >> 4;
    }
    reference::decode_codebook_run(c, n - i, scale, cb, out + i);
}

}  // namespace simd
LOWBIT_NAMESPACE_END
