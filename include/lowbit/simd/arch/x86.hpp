// lowbit — the SIMD primitives written by hand for x86 (SSE2, SSE4.1, AVX2, AVX-512 F/BW/DQ/VL).
// Each function is the x86 form of a primitive of simd/primitives.hpp, which states what it
// computes; tests/test_primitives.cpp checks it against the scalar twin in every ISA target.
// Functions take and return raw registers; xsimd batches convert to and from them.
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "../../core/unfused.hpp"
#include "family.hpp"

#if XSIMD_WITH_SSE2
#include <immintrin.h>

LOWBIT_NAMESPACE_BEGIN
namespace simd::arch {

/// SSE2: 4 lanes.
template <>
struct kernels<isa::sse2> {
    /// Lanes reduced to 0 … 255 first: the packs saturate, and a negative lane would become 0.
    LOWBIT_FORCE_INLINE static void store_low_bytes(__m128i q, std::uint8_t* p) noexcept {
        const __m128i w =
            _mm_packs_epi32(_mm_and_si128(q, _mm_set1_epi32(0xFF)), _mm_setzero_si128());
        const int four = _mm_cvtsi128_si32(_mm_packus_epi16(w, w));
        std::memcpy(p, &four, 4);
    }
    LOWBIT_FORCE_INLINE static __m128i load_bytes(const std::uint8_t* p) noexcept {
        int four;
        std::memcpy(&four, p, 4);
        const __m128i z = _mm_setzero_si128();
        return _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(four), z), z);
    }
    /// 2 bytes → 4 lanes: the low and high nibbles interleaved as bytes, then widened.
    LOWBIT_FORCE_INLINE static __m128i load_nibbles(const std::uint8_t* p) noexcept {
        std::uint16_t two;
        std::memcpy(&two, p, 2);
        const __m128i b = _mm_cvtsi32_si128(two), m = _mm_set1_epi8(0x0F);
        const __m128i n =
            _mm_unpacklo_epi8(_mm_and_si128(b, m), _mm_and_si128(_mm_srli_epi16(b, 4), m));
        const __m128i z = _mm_setzero_si128();
        return _mm_unpacklo_epi16(_mm_unpacklo_epi8(n, z), z);
    }
    /// As 64-bit lanes a pair (c0, c1) is c0 | c1 << 32, so the low byte of w | w >> 28 is
    /// c0 | c1 << 4; the two bytes are gathered by a shuffle and the packs.
    LOWBIT_FORCE_INLINE static void store_nibbles(__m128i q, std::uint8_t* p) noexcept {
        const __m128i w =
            _mm_and_si128(_mm_or_si128(q, _mm_srli_epi64(q, 28)), _mm_set_epi32(0, 0xFF, 0, 0xFF));
        const __m128i b =
            _mm_shuffle_epi32(w, _MM_SHUFFLE(3, 1, 2, 0));  // lanes [byte0, byte1, 0, 0]
        const __m128i h = _mm_packs_epi32(b, b);
        const int two = _mm_cvtsi128_si32(_mm_packus_epi16(h, h));
        std::memcpy(p, &two, 2);
    }
    LOWBIT_FORCE_INLINE static float hmax(__m128 v) noexcept {
        const __m128 m = _mm_max_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
    }
    LOWBIT_FORCE_INLINE static float hmin(__m128 v) noexcept {
        const __m128 m = _mm_min_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
    }
    /// A true compare is −1 as an integer lane: subtracting the masks counts them.
    template <bool Inclusive, int N>
    LOWBIT_FORCE_INLINE static __m128i count_linear(__m128 y, const float* t) noexcept {
        __m128i c = _mm_setzero_si128();
        [&]<int... K>(std::integer_sequence<int, K...>)
            LOWBIT_LAMBDA_INLINE {  // unrolled: two instructions per threshold
            ((c = _mm_sub_epi32(c,
                                _mm_castps_si128(Inclusive ? _mm_cmple_ps(_mm_set1_ps(t[K]), y)
                                                           : _mm_cmplt_ps(_mm_set1_ps(t[K]), y)))),
             ...);
        }
        (std::make_integer_sequence<int, N>{});
        return c;
    }
    LOWBIT_FORCE_INLINE static void stream_line(std::uint8_t* dst,
                                                const std::uint8_t* src) noexcept {
        for (int j = 0; j < 64; j += 16)
            _mm_stream_si128(reinterpret_cast<__m128i*>(dst + j),
                             _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j)));
    }
    /// 8 rows × 32-code blocks (see simd::scalar::dot8_i4). Nibbles offset to u = c + 8 (an XOR
    /// with 8) and zero-extended to 16 bits; _mm_madd_epi16 sums pairs of u·q exactly; the offset
    /// is removed at the end as 8·Σq.
    LOWBIT_FORCE_INLINE static void dot8_i4(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        const __m128i z = _mm_setzero_si128(), m4 = _mm_set1_epi8(0x0F);
        __m128i acc[8], qsum = z;
        for (auto& a : acc) a = z;
        for (std::size_t b = 0; b < blocks; ++b) {
            __m128i qs[4];  // q sign-extended to 16 bits: lanes 0-7, 8-15, 16-23, 24-31
            for (int h = 0; h < 2; ++h) {
                const __m128i v =
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * b + 16 * h));
                const __m128i s = _mm_cmpgt_epi8(z, v);
                qs[2 * h] = _mm_unpacklo_epi8(v, s);
                qs[2 * h + 1] = _mm_unpackhi_epi8(v, s);
            }
            const __m128i one = _mm_set1_epi16(1);
            qsum = _mm_add_epi32(
                qsum,
                _mm_add_epi32(
                    _mm_add_epi32(_mm_madd_epi16(qs[0], one), _mm_madd_epi16(qs[1], one)),
                    _mm_add_epi32(_mm_madd_epi16(qs[2], one), _mm_madd_epi16(qs[3], one))));
            for (int r = 0; r < 8; ++r) {
                const __m128i raw = _mm_xor_si128(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + r * stride + 16 * b)),
                    _mm_set1_epi8(static_cast<char>(0x88)));
                const __m128i lo = _mm_and_si128(raw, m4),
                              hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m4);
                const __m128i s0 = _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(lo, z), qs[0]),
                                                 _mm_madd_epi16(_mm_unpackhi_epi8(lo, z), qs[1]));
                const __m128i s1 = _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(hi, z), qs[2]),
                                                 _mm_madd_epi16(_mm_unpackhi_epi8(hi, z), qs[3]));
                acc[r] = _mm_add_epi32(acc[r], _mm_add_epi32(s0, s1));
            }
        }
        finish8(acc, 8 * hsum_i32(qsum), out);
    }
    /// 8 rows × 32 signed bytes per block: bytes and q sign-extended to 16 bits, _mm_madd_epi16.
    LOWBIT_FORCE_INLINE static void dot8_i8(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        const __m128i z = _mm_setzero_si128();
        __m128i acc[8];
        for (auto& a : acc) a = z;
        for (std::size_t b = 0; b < blocks; ++b) {
            __m128i qs[4];
            for (int h = 0; h < 2; ++h) {
                const __m128i v =
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * b + 16 * h));
                const __m128i s = _mm_cmpgt_epi8(z, v);
                qs[2 * h] = _mm_unpacklo_epi8(v, s);
                qs[2 * h + 1] = _mm_unpackhi_epi8(v, s);
            }
            for (int r = 0; r < 8; ++r) {
                __m128i sum = z;
                for (int h = 0; h < 2; ++h) {
                    const __m128i v = _mm_loadu_si128(
                        reinterpret_cast<const __m128i*>(w + r * stride + 32 * b + 16 * h));
                    const __m128i s = _mm_cmpgt_epi8(z, v);
                    sum = _mm_add_epi32(
                        sum,
                        _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(v, s), qs[2 * h]),
                                      _mm_madd_epi16(_mm_unpackhi_epi8(v, s), qs[2 * h + 1])));
                }
                acc[r] = _mm_add_epi32(acc[r], sum);
            }
        }
        finish8(acc, 0, out);
    }
    /// acc[i] = acc[i] + f[i]·float(d[i]), the product rounded on its own, i < 8.
    LOWBIT_FORCE_INLINE static void scale_add8(float* acc, const float* f,
                                               const std::int32_t* d) noexcept {
        for (int h = 0; h < 8; h += 4) {
            const __m128 p = detail::opaque(_mm_mul_ps(
                _mm_loadu_ps(f + h),
                _mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + h)))));
            _mm_storeu_ps(acc + h, _mm_add_ps(_mm_loadu_ps(acc + h), p));
        }
    }
    LOWBIT_FORCE_INLINE static std::int32_t hsum_i32(__m128i v) noexcept {
        v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
        v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
        return _mm_cvtsi128_si32(v);
    }
    /// out[r] = (the lane sum of acc[r]) − minus: a 4 × 4 transpose by unpacks, twice.
    LOWBIT_FORCE_INLINE static void finish8(const __m128i* acc, std::int32_t minus,
                                            std::int32_t* out) noexcept {
        for (int g = 0; g < 8; g += 4) {
            const __m128i t0 = _mm_unpacklo_epi32(acc[g], acc[g + 1]),
                          t1 = _mm_unpackhi_epi32(acc[g], acc[g + 1]),
                          t2 = _mm_unpacklo_epi32(acc[g + 2], acc[g + 3]),
                          t3 = _mm_unpackhi_epi32(acc[g + 2], acc[g + 3]);
            const __m128i s = _mm_add_epi32(
                _mm_add_epi32(_mm_unpacklo_epi64(t0, t2), _mm_unpackhi_epi64(t0, t2)),
                _mm_add_epi32(_mm_unpacklo_epi64(t1, t3), _mm_unpackhi_epi64(t1, t3)));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + g),
                             _mm_sub_epi32(s, _mm_set1_epi32(minus)));
        }
    }
    LOWBIT_FORCE_INLINE static void fence() noexcept { _mm_sfence(); }
};

#if XSIMD_WITH_SSE4_1
/// SSE4.1: SSE2 with the zero-extending loads.
template <>
struct kernels<isa::sse4_1> : kernels<isa::sse2> {
    LOWBIT_FORCE_INLINE static __m128i load_bytes(const std::uint8_t* p) noexcept {
        int four;
        std::memcpy(&four, p, 4);
        return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
    }
    LOWBIT_FORCE_INLINE static __m128i load_nibbles(const std::uint8_t* p) noexcept {
        std::uint16_t two;
        std::memcpy(&two, p, 2);
        const __m128i b = _mm_cvtsi32_si128(two), m = _mm_set1_epi8(0x0F);
        return _mm_cvtepu8_epi32(
            _mm_unpacklo_epi8(_mm_and_si128(b, m), _mm_and_si128(_mm_srli_epi16(b, 4), m)));
    }
};
#endif

#if XSIMD_WITH_AVX2
/// AVX2: 8 lanes.
template <>
struct kernels<isa::avx2> {
    /// Whether the build has vpdpbusd on 256-bit registers (AVX-512 VNNI + VL): the Vnni forms.
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    static constexpr bool has_vnni = true;
#else
    static constexpr bool has_vnni = false;
#endif
    /// Lanes reduced to 0 … 255 first: the packs saturate, and a negative lane would become 0.
    LOWBIT_FORCE_INLINE static void store_low_bytes(__m256i q, std::uint8_t* p) noexcept {
        const __m256i m = _mm256_and_si256(q, _mm256_set1_epi32(0xFF));
        const __m256i w = _mm256_packs_epi32(m, m);   // 16-bit: [0..3 0..3 | 4..7 4..7]
        const __m256i b = _mm256_packus_epi16(w, w);  // bytes:  [0..3 ×4 | 4..7 ×4]
        const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_unpacklo_epi32(lo, hi));
    }
    LOWBIT_FORCE_INLINE static __m256i load_bytes(const std::uint8_t* p) noexcept {
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    }
    LOWBIT_FORCE_INLINE static __m256i load_nibbles(const std::uint8_t* p) noexcept {
        int four;
        std::memcpy(&four, p, 4);
        const __m128i b = _mm_cvtsi32_si128(four), m = _mm_set1_epi8(0x0F);
        return _mm256_cvtepu8_epi32(
            _mm_unpacklo_epi8(_mm_and_si128(b, m), _mm_and_si128(_mm_srli_epi16(b, 4), m)));
    }
    /// The low byte of w | w >> 28 of each 64-bit lane is a packed pair (see kernels<sse2>);
    /// bytes 0 and 8 of each 128-bit half are gathered by a byte shuffle.
    LOWBIT_FORCE_INLINE static void store_nibbles(__m256i q, std::uint8_t* p) noexcept {
        const __m256i w = _mm256_or_si256(q, _mm256_srli_epi64(q, 28));
        const __m256i pick =
            _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 8, -1,
                             -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
        const __m256i b = _mm256_shuffle_epi8(w, pick);
        const std::uint32_t four =
            (std::uint32_t(_mm_cvtsi128_si32(_mm256_castsi256_si128(b))) & 0xFFFFu) |
            (std::uint32_t(_mm_cvtsi128_si32(_mm256_extracti128_si256(b, 1))) << 16);
        std::memcpy(p, &four, 4);
    }
    LOWBIT_FORCE_INLINE static float hmax(__m256 v) noexcept {
        return kernels<isa::sse2>::hmax(
            _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
    }
    LOWBIT_FORCE_INLINE static float hmin(__m256 v) noexcept {
        return kernels<isa::sse2>::hmin(
            _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
    }
    /// Two 8-entry permutes; bit 3 of the index (moved to the sign bit) picks the upper one.
    LOWBIT_FORCE_INLINE static __m256 lookup16(__m256i idx, const float* v) noexcept {
        const __m256 lo = _mm256_permutevar8x32_ps(_mm256_load_ps(v), idx);
        const __m256 hi = _mm256_permutevar8x32_ps(_mm256_load_ps(v + 8), idx);
        return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
    }
    /// A true compare is −1 as an integer lane: subtracting the masks counts them.
    template <bool Inclusive, int N>
    LOWBIT_FORCE_INLINE static __m256i count_linear(__m256 y, const float* t) noexcept {
        __m256i c = _mm256_setzero_si256();
        [&]<int... K>(std::integer_sequence<int, K...>)
            LOWBIT_LAMBDA_INLINE {  // unrolled: two instructions per threshold
            ((c = _mm256_sub_epi32(
                  c,
                  _mm256_castps_si256(_mm256_cmp_ps(_mm256_broadcast_ss(t + K), y,
                                                    Inclusive ? _CMP_LE_OQ : _CMP_LT_OQ)))),
             ...);
        }
        (std::make_integer_sequence<int, N>{});
        return c;
    }
    LOWBIT_FORCE_INLINE static void stream_line(std::uint8_t* dst,
                                                const std::uint8_t* src) noexcept {
        for (int j = 0; j < 64; j += 32)
            _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + j),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + j)));
    }
    /// One 32-code block of 8 rows into acc (see simd::scalar::dot8_i4 / dot8_i8).
    ///   4-bit: the 16 bytes XOR 0x88 give u = c + 8 in each nibble; low nibbles in the lower
    ///          128 bits, high nibbles in the upper (the block's lane order), u·q summed by
    ///          dot_u8i8 (the caller removes 8·Σq).
    ///   8-bit: Vnni: u = w XOR 0x80 = w + 128 into vpdpbusd (the caller removes 128·Σq); else
    ///          maddubs(|w|, q·sign(w)) (pairs ≤ 2·128·127, no saturation; q ≠ −128, so the
    ///          sign flip cannot overflow), no offset.
    template <int Bits, bool Vnni>
    LOWBIT_FORCE_INLINE static __m256i block_dot(__m256i acc, const std::uint8_t* p,
                                                 __m256i qb) noexcept {
        if constexpr (Bits == 4) {
            const __m128i raw = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)),
                                              _mm_set1_epi8(static_cast<char>(0x88)));
            const __m256i u = _mm256_and_si256(
                _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1),
                _mm256_set1_epi8(0x0F));
            return dot_u8i8<Vnni>(acc, u, qb);
        } else {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
            if constexpr (Vnni)
                return dot_u8i8<true>(
                    acc, _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))), qb);
            return _mm256_add_epi32(
                acc,
                _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(qb, v)),
                                  _mm256_set1_epi16(1)));
        }
    }
    /// The exact dots of 8 rows over `blocks` 32-code blocks (row i at w + i·stride), one lane
    /// per row: block_dot per block, the lanes of each row summed, the codes' offset removed.
    template <int Bits, bool Vnni>
    LOWBIT_FORCE_INLINE static __m256i dots8(const std::uint8_t* w, std::size_t stride,
                                             const std::int8_t* q, std::size_t blocks) noexcept {
        constexpr int offset = Bits == 4 ? 8 : (Vnni ? 128 : 0);
        __m256i acc[8], qs = _mm256_setzero_si256();
        for (auto& a : acc) a = _mm256_setzero_si256();
        for (std::size_t b = 0; b < blocks; ++b) {
            const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * b));
            if constexpr (offset != 0) qs = dot_u8i8<Vnni>(qs, _mm256_set1_epi8(1), qb);
            const std::uint8_t* p = w + b * 4 * Bits;  // 32 codes of Bits bits
            for (int r = 0; r < 8; ++r) acc[r] = block_dot<Bits, Vnni>(acc[r], p + r * stride, qb);
        }
        return sum8(acc, offset * hsum_i32(qs));
    }
    /// 8 rows × 32-code blocks (see simd::scalar::dot8_i4), maddubs or (Vnni) vpdpbusd.
    template <bool Vnni = false>
        requires(!Vnni || has_vnni)
    LOWBIT_FORCE_INLINE static void dot8_i4(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), dots8<4, Vnni>(w, stride, q, blocks));
    }
    /// 8 rows × 32 signed bytes per block (see simd::scalar::dot8_i8).
    template <bool Vnni = false>
        requires(!Vnni || has_vnni)
    LOWBIT_FORCE_INLINE static void dot8_i8(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), dots8<8, Vnni>(w, stride, q, blocks));
    }
    /// acc[i] = acc[i] + f[i]·float(d[i]), the product rounded on its own, i < 8.
    LOWBIT_FORCE_INLINE static void scale_add8(float* acc, const float* f,
                                               const std::int32_t* d) noexcept {
        const __m256 p = detail::opaque(_mm256_mul_ps(
            _mm256_loadu_ps(f),
            _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d)))));
        _mm256_storeu_ps(acc, _mm256_add_ps(_mm256_loadu_ps(acc), p));
    }
    LOWBIT_FORCE_INLINE static std::int32_t hsum_i32(__m256i v) noexcept {
        return kernels<isa::sse2>::hsum_i32(
            _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
    }
    /// Lane r = (the lane sum of acc[r]) − minus: two rounds of hadd leave rows 0-3 and 4-7 as
    /// halves of two registers, which a cross-lane permute pairs up.
    LOWBIT_FORCE_INLINE static __m256i sum8(const __m256i* acc, std::int32_t minus) noexcept {
        const __m256i a =
            _mm256_hadd_epi32(_mm256_hadd_epi32(acc[0], acc[1]), _mm256_hadd_epi32(acc[2], acc[3]));
        const __m256i b =
            _mm256_hadd_epi32(_mm256_hadd_epi32(acc[4], acc[5]), _mm256_hadd_epi32(acc[6], acc[7]));
        const __m256i s = _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                                           _mm256_permute2x128_si256(a, b, 0x31));
        return _mm256_sub_epi32(s, _mm256_set1_epi32(minus));
    }
    /// simd::scalar::gemv8 with the group's dots, scales and sum in registers.
    template <int Bits, bool Vnni = false>
        requires(!Vnni || has_vnni)
    LOWBIT_FORCE_INLINE static void gemv8(const std::uint8_t* w, std::size_t stride,
                                          const std::int8_t* q, const float* sx, const float* sw,
                                          std::size_t cols, std::size_t glen, float* out) noexcept {
        __m256 acc = _mm256_loadu_ps(out);
        for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
            const __m256i d = dots8<Bits, Vnni>(w + c0 * Bits / 8, stride, q + c0,
                                                std::min(glen, cols - c0) / 32);
            const __m256 f = _mm256_mul_ps(_mm256_loadu_ps(sw + 8 * g), _mm256_set1_ps(sx[g]));
            acc = _mm256_add_ps(acc, detail::opaque(_mm256_mul_ps(f, _mm256_cvtepi32_ps(d))));
        }
        _mm256_storeu_ps(out, acc);
    }
    /// a + Σ over each 4-byte lane of u·q (u unsigned < 128 or 4-bit, q signed): vpdpbusd with
    /// VNNI, else maddubs (pairs ≤ 2·127·127, no saturation) and madd.
    template <bool Vnni>
    LOWBIT_FORCE_INLINE static __m256i dot_u8i8(__m256i a, __m256i u, __m256i q) noexcept {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
        if constexpr (Vnni) return _mm256_dpbusd_epi32(a, u, q);
#endif
        return _mm256_add_epi32(
            a, _mm256_madd_epi16(_mm256_maddubs_epi16(u, q), _mm256_set1_epi16(1)));
    }
    LOWBIT_FORCE_INLINE static __m256i bcast4(const std::int8_t* p) noexcept {
        std::int32_t v;
        std::memcpy(&v, p, 4);
        return _mm256_set1_epi32(v);
    }
    /// simd::scalar::gemv8p: per chunk one load holds 4 codes of each row (a lane each), the 4
    /// activations are broadcast, and the lanes accumulate the rows' dots directly.
    template <int Bits, bool Vnni = false>
        requires(!Vnni || has_vnni)
    LOWBIT_FORCE_INLINE static void gemv8p(const std::uint8_t* t, const std::int8_t* q,
                                           const std::int32_t* qsum, const float* sx,
                                           const float* sw, std::size_t cols, std::size_t glen,
                                           float* out, const gemv8p_affine* aff) noexcept {
        // 4-bit codes carry +8; 8-bit ones +128 on the VNNI form (XOR 0x80), none with maddubs.
        constexpr int offset = Bits == 4 ? 8 : (Vnni ? 128 : 0);
        constexpr std::size_t block = Bits == 4 ? 128 : 256;
        // Lines this far ahead are requested before they are needed: the tiles are one
        // sequential stream, and the dots alone do not keep enough loads in flight for DRAM.
        // A prefetch past the end of the buffer is a hint and never faults.
        constexpr std::size_t prefetch_distance = 32 * block;
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        __m256 acc = _mm256_loadu_ps(out);
        for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
            const std::size_t end = std::min(c0 + glen, cols);
            // Four accumulators: short dependency chains, so blocks of a group overlap.
            __m256i a[4];
            for (auto& v : a) v = _mm256_setzero_si256();
            for (std::size_t c = c0; c < end; c += 32) {
                const std::uint8_t* p = t + c / 32 * block;
                for (std::size_t l = 0; l < block; l += 64)
                    _mm_prefetch(reinterpret_cast<const char*>(p + prefetch_distance + l),
                                 _MM_HINT_T0);
                const std::int8_t* qc = q + c;
                if constexpr (Bits == 4) {
                    for (int k = 0; k < 4; ++k) {
                        const __m256i v =
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
                        a[k & 1] =
                            dot_u8i8<Vnni>(a[k & 1], _mm256_and_si256(v, m4), bcast4(qc + 4 * k));
                        a[2 + (k & 1)] = dot_u8i8<Vnni>(
                            a[2 + (k & 1)], _mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
                            bcast4(qc + 16 + 4 * k));
                    }
                } else {
                    for (int k = 0; k < 8; ++k) {
                        const __m256i v =
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
                        const __m256i qk = bcast4(qc + 4 * k);
                        if constexpr (Vnni)
                            a[k & 3] = dot_u8i8<true>(
                                a[k & 3],
                                _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))), qk);
                        else
                            a[k & 3] = _mm256_add_epi32(
                                a[k & 3],
                                _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(v),
                                                                       _mm256_sign_epi8(qk, v)),
                                                  _mm256_set1_epi16(1)));
                    }
                }
            }
            __m256i d =
                _mm256_add_epi32(_mm256_add_epi32(a[0], a[1]), _mm256_add_epi32(a[2], a[3]));
            if constexpr (offset != 0) d = _mm256_sub_epi32(d, _mm256_set1_epi32(offset * qsum[g]));
            if (aff) {
                const __m256i z = aff->zc
                    ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aff->zc + 8 * g))
                    : _mm256_set1_epi32(aff->zc_all);
                d = _mm256_add_epi32(d, _mm256_mullo_epi32(z, _mm256_set1_epi32(qsum[g])));
            }
            const __m256 f = _mm256_mul_ps(_mm256_loadu_ps(sw + 8 * g), _mm256_set1_ps(sx[g]));
            acc = _mm256_add_ps(acc, detail::opaque(_mm256_mul_ps(f, _mm256_cvtepi32_ps(d))));
            if (aff && aff->mw) {
                const __m256 fm =
                    _mm256_mul_ps(_mm256_loadu_ps(aff->mw + 8 * g), _mm256_set1_ps(sx[g]));
                acc = _mm256_add_ps(
                    acc,
                    detail::opaque(_mm256_mul_ps(fm, _mm256_set1_ps(static_cast<float>(qsum[g])))));
            }
        }
        _mm256_storeu_ps(out, acc);
    }
    /// gemv8p for M activation rows at once: each 32-byte load of the tile (and its nibble
    /// split) serves all M rows, so a GEMM's instructions per weight byte fall by about half.
    /// Integer sums are exact, so splitting them over accumulators does not change d; the float
    /// steps per row are gemv8p's.
    /// How gemm8p_m reads a 4-bit tile's nibbles: offset8, the INT codes c + 8; table, codes
    /// looked up in 16 unsigned levels L + 64 (gemm8p_lut).
    enum class nibble_decode : std::uint8_t { offset8, table };
    template <int Bits, bool Vnni, int M, nibble_decode Dec = nibble_decode::offset8>
        requires(!Vnni || has_vnni)
    LOWBIT_FORCE_INLINE static void gemm8p_m(const std::uint8_t* t, const gemv8p_row* rows,
                                             const tile_scales& sc, std::size_t cols,
                                             std::size_t glen, const gemv8p_affine* aff,
                                             const std::uint8_t* lut = nullptr) noexcept {
        constexpr bool table = Dec == nibble_decode::table;
        constexpr int offset = Bits == 4 ? (table ? 64 : 8) : (Vnni ? 128 : 0);
        constexpr std::size_t block = Bits == 4 ? 128 : 256;
        constexpr std::size_t prefetch_distance = 32 * block;
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        __m256i tbl = _mm256_setzero_si256();
        if constexpr (table)
            tbl =
                _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lut)));
        __m256 acc[M];
        for (int j = 0; j < M; ++j) acc[j] = _mm256_loadu_ps(rows[j].out);
        // a[j][0] sums the low nibbles of each block (its columns 0-15), a[j][1] the high ones
        // (16-31); 8-bit blocks alternate between the two.
        __m256i a[M][2];
        const auto clear = [&]() LOWBIT_LAMBDA_INLINE {
            for (int j = 0; j < M; ++j) a[j][0] = a[j][1] = _mm256_setzero_si256();
        };
        const auto add_block = [&](std::size_t c) LOWBIT_LAMBDA_INLINE {
            const std::uint8_t* p = t + c / 32 * block;
            for (std::size_t l = 0; l < block; l += 64)
                _mm_prefetch(reinterpret_cast<const char*>(p + prefetch_distance + l), _MM_HINT_T0);
            if constexpr (Bits == 4) {
                for (int k = 0; k < 4; ++k) {
                    const __m256i v =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
                    __m256i lo = _mm256_and_si256(v, m4),
                            hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                    if constexpr (table) {
                        lo = _mm256_shuffle_epi8(tbl, lo);
                        hi = _mm256_shuffle_epi8(tbl, hi);
                    }
                    for (int j = 0; j < M; ++j) {
                        const std::int8_t* qc = rows[j].q + c;
                        a[j][0] = dot_u8i8<Vnni>(a[j][0], lo, bcast4(qc + 4 * k));
                        a[j][1] = dot_u8i8<Vnni>(a[j][1], hi, bcast4(qc + 16 + 4 * k));
                    }
                }
            } else {
                for (int k = 0; k < 8; ++k) {
                    const __m256i v =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
                    const __m256i u = Vnni
                        ? _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80)))
                        : _mm256_abs_epi8(v);
                    for (int j = 0; j < M; ++j) {
                        const __m256i qk = bcast4(rows[j].q + c + 4 * k);
                        if constexpr (Vnni)
                            a[j][k & 1] = dot_u8i8<true>(a[j][k & 1], u, qk);
                        else
                            a[j][k & 1] = _mm256_add_epi32(
                                a[j][k & 1],
                                _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(qk, v)),
                                                  _mm256_set1_epi16(1)));
                    }
                }
            }
        };
        // Group g's float steps for every row j on its integer sums (offset not yet removed):
        // a[j][half], or a[j][0] + a[j][1] for half = 2.
        const auto finish = [&](std::size_t g, int half) LOWBIT_LAMBDA_INLINE {
            const __m256 swg = _mm256_loadu_ps(sc.sw + sc.step * g);
            for (int j = 0; j < M; ++j) {
                const std::int32_t qs = rows[j].qsum[g];
                __m256i d = half == 2 ? _mm256_add_epi32(a[j][0], a[j][1]) : a[j][half];
                if constexpr (offset != 0) d = _mm256_sub_epi32(d, _mm256_set1_epi32(offset * qs));
                if (aff) {
                    const __m256i z = aff->zc
                        ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aff->zc + 8 * g))
                        : _mm256_set1_epi32(aff->zc_all);
                    d = _mm256_add_epi32(d, _mm256_mullo_epi32(z, _mm256_set1_epi32(qs)));
                }
                const __m256 sx = _mm256_set1_ps(rows[j].sx[g]);
                const __m256 f = _mm256_mul_ps(swg, sx);
                acc[j] =
                    _mm256_add_ps(acc[j], detail::opaque(_mm256_mul_ps(f, _mm256_cvtepi32_ps(d))));
                if (aff && aff->mw) {
                    const __m256 fm = _mm256_mul_ps(_mm256_loadu_ps(aff->mw + 8 * g), sx);
                    acc[j] = _mm256_add_ps(
                        acc[j],
                        detail::opaque(_mm256_mul_ps(fm, _mm256_set1_ps(static_cast<float>(qs)))));
                }
            }
        };
        if (Bits == 4 && glen == 16) {  // each block is two groups: its low and high nibbles
            for (std::size_t c = 0, g = 0; c < cols; c += 32, g += 2) {
                clear();
                add_block(c);
                finish(g, 0);
                finish(g + 1, 1);
            }
        } else {
            for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
                const std::size_t end = std::min(c0 + glen, cols);
                clear();
                for (std::size_t c = c0; c < end; c += 32) add_block(c);
                finish(g, 2);
            }
        }
        for (int j = 0; j < M; ++j) _mm256_storeu_ps(rows[j].out, acc[j]);
    }
    /// simd::scalar::gemm8p: four rows at a time, then the last one to three together.
    template <int Bits, bool Vnni = false>
        requires(!Vnni || has_vnni)
    LOWBIT_FORCE_INLINE static void gemm8p(const std::uint8_t* t, const gemv8p_row* rows,
                                           std::size_t m, const float* sw, std::size_t cols,
                                           std::size_t glen, const gemv8p_affine* aff) noexcept {
        const tile_scales sc{sw};
        std::size_t j = 0;
        for (; j + 4 <= m; j += 4) gemm8p_m<Bits, Vnni, 4>(t, rows + j, sc, cols, glen, aff);
        switch (m - j) {
            case 3: gemm8p_m<Bits, Vnni, 3>(t, rows + j, sc, cols, glen, aff); break;
            case 2: gemm8p_m<Bits, Vnni, 2>(t, rows + j, sc, cols, glen, aff); break;
            case 1: gemm8p_m<Bits, Vnni, 1>(t, rows + j, sc, cols, glen, aff); break;
            default: break;
        }
    }
    /// simd::scalar::gemm8p_lut: gemm8p_m reading the nibbles through the table; levels
    /// L + 64 ≤ 128, so maddubs pairs stay below 2^15 and vpdpbusd takes them as unsigned.
    template <bool Vnni = false>
        requires(!Vnni || has_vnni)
    LOWBIT_FORCE_INLINE static void gemm8p_lut(const std::uint8_t* t, const std::uint8_t* lut,
                                               const gemv8p_row* rows, std::size_t m,
                                               const tile_scales& sc, std::size_t cols,
                                               std::size_t glen) noexcept {
        constexpr auto T = nibble_decode::table;
        std::size_t j = 0;
        for (; j + 4 <= m; j += 4)
            gemm8p_m<4, Vnni, 4, T>(t, rows + j, sc, cols, glen, nullptr, lut);
        switch (m - j) {
            case 3: gemm8p_m<4, Vnni, 3, T>(t, rows + j, sc, cols, glen, nullptr, lut); break;
            case 2: gemm8p_m<4, Vnni, 2, T>(t, rows + j, sc, cols, glen, nullptr, lut); break;
            case 1: gemm8p_m<4, Vnni, 1, T>(t, rows + j, sc, cols, glen, nullptr, lut); break;
            default: break;
        }
    }
};
#endif

#if XSIMD_WITH_AVX512BW
/// AVX-512 F/BW/DQ/VL: 16 lanes. Zero-masked forms with an all-ones mask stand for the plain
/// ones: the same result, and no read of an undefined source register.
template <>
struct kernels<isa::avx512> {
    LOWBIT_FORCE_INLINE static void store_low_bytes(__m512i q, std::uint8_t* p) noexcept {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(q));
    }
    LOWBIT_FORCE_INLINE static __m512i load_bytes(const std::uint8_t* p) noexcept {
        return _mm512_maskz_cvtepu8_epi32(0xFFFF,
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    LOWBIT_FORCE_INLINE static __m512i load_nibbles(const std::uint8_t* p) noexcept {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)),
                      m = _mm_set1_epi8(0x0F);
        const __m128i lo = _mm_and_si128(b, m), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
        return _mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_unpacklo_epi8(lo, hi));
    }
    /// Each 64-bit lane (c0, c1) becomes the byte c0 | c1 << 4 (see kernels<sse2>), narrowed by
    /// vpmovqb.
    LOWBIT_FORCE_INLINE static void store_nibbles(__m512i q, std::uint8_t* p) noexcept {
        const __m512i w = _mm512_or_si512(q, _mm512_maskz_srli_epi64(0xFF, q, 28));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm512_maskz_cvtepi64_epi8(0xFF, w));
    }
    LOWBIT_FORCE_INLINE static float hmax(__m512 v) noexcept { return _mm512_reduce_max_ps(v); }
    LOWBIT_FORCE_INLINE static float hmin(__m512 v) noexcept { return _mm512_reduce_min_ps(v); }
    LOWBIT_FORCE_INLINE static __m512 lookup16(__m512i idx, const float* v) noexcept {
        return _mm512_maskz_permutexvar_ps(0xFFFF, idx, _mm512_load_ps(v));
    }
    /// The binary search of threshold_table on k-masks: compare with t[2^{Bits−1} − 1], then for
    /// each smaller step 2^k with step[k][idx] (one permute), adding 2^k where y passes.
    template <bool Inclusive, int Bits>
    LOWBIT_FORCE_INLINE static __m512i search16(__m512 y, const float* t,
                                                const float (*step)[16]) noexcept {
        constexpr int cmp = Inclusive ? _CMP_GE_OQ : _CMP_GT_OQ;
        const __mmask16 k0 = _mm512_cmp_ps_mask(y, _mm512_set1_ps(t[(1 << (Bits - 1)) - 1]), cmp);
        __m512i idx = _mm512_maskz_mov_epi32(k0, _mm512_set1_epi32(1 << (Bits - 1)));
        for (int k = Bits - 2; k >= 0; --k) {
            const __m512 tk = _mm512_maskz_permutexvar_ps(0xFFFF, idx, _mm512_load_ps(step[k]));
            idx = _mm512_mask_add_epi32(idx, _mm512_cmp_ps_mask(y, tk, cmp), idx,
                                        _mm512_set1_epi32(1 << k));
        }
        return idx;
    }
    LOWBIT_FORCE_INLINE static void stream_line(std::uint8_t* dst,
                                                const std::uint8_t* src) noexcept {
        _mm512_stream_si512(reinterpret_cast<__m512i*>(dst), _mm512_loadu_si512(src));
    }
    /// The AVX2 forms on 256-bit registers, with vpdpbusd where the build has AVX-512 VNNI.
    LOWBIT_FORCE_INLINE static void dot8_i4(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        kernels<isa::avx2>::dot8_i4<kernels<isa::avx2>::has_vnni>(w, stride, q, blocks, out);
    }
    LOWBIT_FORCE_INLINE static void dot8_i8(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        kernels<isa::avx2>::dot8_i8<kernels<isa::avx2>::has_vnni>(w, stride, q, blocks, out);
    }
    LOWBIT_FORCE_INLINE static void scale_add8(float* acc, const float* f,
                                               const std::int32_t* d) noexcept {
        kernels<isa::avx2>::scale_add8(acc, f, d);
    }
    template <int Bits>
    LOWBIT_FORCE_INLINE static void gemv8(const std::uint8_t* w, std::size_t stride,
                                          const std::int8_t* q, const float* sx, const float* sw,
                                          std::size_t cols, std::size_t glen, float* out) noexcept {
        kernels<isa::avx2>::gemv8<Bits, kernels<isa::avx2>::has_vnni>(w, stride, q, sx, sw, cols,
                                                                      glen, out);
    }
    template <int Bits>
    LOWBIT_FORCE_INLINE static void gemv8p(const std::uint8_t* t, const std::int8_t* q,
                                           const std::int32_t* qsum, const float* sx,
                                           const float* sw, std::size_t cols, std::size_t glen,
                                           float* out, const gemv8p_affine* aff) noexcept {
        kernels<isa::avx2>::gemv8p<Bits, kernels<isa::avx2>::has_vnni>(t, q, qsum, sx, sw, cols,
                                                                       glen, out, aff);
    }
    template <int Bits>
    LOWBIT_FORCE_INLINE static void gemm8p(const std::uint8_t* t, const gemv8p_row* rows,
                                           std::size_t m, const float* sw, std::size_t cols,
                                           std::size_t glen, const gemv8p_affine* aff) noexcept {
        kernels<isa::avx2>::gemm8p<Bits, kernels<isa::avx2>::has_vnni>(t, rows, m, sw, cols, glen,
                                                                       aff);
    }
    LOWBIT_FORCE_INLINE static void gemm8p_lut(const std::uint8_t* t, const std::uint8_t* lut,
                                               const gemv8p_row* rows, std::size_t m,
                                               const tile_scales& sc, std::size_t cols,
                                               std::size_t glen) noexcept {
        kernels<isa::avx2>::gemm8p_lut<kernels<isa::avx2>::has_vnni>(t, lut, rows, m, sc, cols,
                                                                     glen);
    }
};
#endif

}  // namespace simd::arch
LOWBIT_NAMESPACE_END
#endif
