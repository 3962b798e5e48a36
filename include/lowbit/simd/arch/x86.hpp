// lowbit — the SIMD primitives written by hand for x86 (SSE2, SSE4.1, AVX2, AVX-512 F/BW/DQ/VL).
// Each function is the x86 form of a primitive of simd/primitives.hpp, which states what it
// computes; tests/test_primitives.cpp checks it against the scalar twin in every ISA target.
// Functions take and return raw registers; xsimd batches convert to and from them.
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>

#include <xsimd/xsimd.hpp>

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
};
#endif

}  // namespace simd::arch
LOWBIT_NAMESPACE_END
#endif
