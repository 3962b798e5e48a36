// lowbit — moving small integers between int32 SIMD lanes and bytes.
//
// xsimd 8.1 has no narrowing or widening conversions, so this file gives the two that the
// kernels need, specialised per instruction set (the only place ISA names appear outside
// xsimd itself) with a portable fallback for every other Arch:
//   store_low_bytes(q, out)  out[l] = low byte of lane l              (AVX-512: vpmovdb; AVX2/SSE: pack)
//   load_bytes(in)           lane l = in[l] zero-extended to int32     (vpmovzxbd)
//   hmax(v), hmin(v)         horizontal extremes of a float batch
//   stream_bytes(dst, src, n) a copy by non-temporal stores (x86), for outputs larger than the caches
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../core/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

template <class Arch>
using ibatch = xsimd::batch<std::int32_t, Arch>;

/// Stores the low byte of each int32 lane to out[0 … lanes), whatever the lane holds (a
/// negative lane stores its two's-complement low byte: −1 stores 0xFF). The pack instructions
/// of SSE2/AVX2 saturate, so those paths first clear the high 24 bits of every lane: without
/// that, a negative lane would saturate to 0 and an int8 code would lose its sign.
template <class Arch>
inline void store_low_bytes(const ibatch<Arch>& q, std::uint8_t* out) noexcept {
#if XSIMD_WITH_AVX512F
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(q));
        return;
    }
#endif
#if XSIMD_WITH_AVX2
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
        const __m256i m = _mm256_and_si256(q, _mm256_set1_epi32(0xFF));  // lanes 0 … 255
        const __m256i w = _mm256_packs_epi32(m, m);   // 16-bit: [0..3 0..3 | 4..7 4..7]
        const __m256i b = _mm256_packus_epi16(w, w);  // bytes:  [0..3 ×4 | 4..7 ×4]
        const __m128i lo = _mm256_castsi256_si128(b), hi = _mm256_extracti128_si256(b, 1);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi32(lo, hi));
        return;
    }
#endif
#if XSIMD_WITH_SSE2
    if constexpr (std::is_base_of_v<xsimd::sse2, Arch> && ibatch<Arch>::size == 4) {
        const __m128i m = _mm_and_si128(q, _mm_set1_epi32(0xFF));  // lanes 0 … 255
        const __m128i w = _mm_packs_epi32(m, m);
        const int v = _mm_cvtsi128_si32(_mm_packus_epi16(w, w));
        std::memcpy(out, &v, 4);
        return;
    }
#endif
    alignas(64) std::int32_t lanes[ibatch<Arch>::size];
    q.store_aligned(lanes);
    for (std::size_t l = 0; l < ibatch<Arch>::size; ++l) out[l] = static_cast<std::uint8_t>(lanes[l]);
}

/// Loads lanes bytes and zero-extends each to an int32 lane.
template <class Arch>
inline ibatch<Arch> load_bytes(const std::uint8_t* in) noexcept {
#if XSIMD_WITH_AVX512F
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>)
        return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in)));
#endif
#if XSIMD_WITH_AVX2
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch>)
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in)));
#endif
#if XSIMD_WITH_SSE4_1
    if constexpr (std::is_base_of_v<xsimd::sse4_1, Arch> && ibatch<Arch>::size == 4) {
        int v;
        std::memcpy(&v, in, 4);
        return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
    }
#endif
    alignas(64) std::int32_t lanes[ibatch<Arch>::size];
    for (std::size_t l = 0; l < ibatch<Arch>::size; ++l) lanes[l] = in[l];
    return ibatch<Arch>::load_aligned(lanes);
}

/// Largest lane (lanes hold no NaN).
template <class Arch>
inline float hmax(const xsimd::batch<float, Arch>& v) noexcept {
#if XSIMD_WITH_AVX512F
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) return _mm512_reduce_max_ps(v);
#endif
    alignas(64) float lanes[xsimd::batch<float, Arch>::size];
    v.store_aligned(lanes);
    float m = lanes[0];
    for (std::size_t l = 1; l < xsimd::batch<float, Arch>::size; ++l) m = lanes[l] > m ? lanes[l] : m;
    return m;
}

/// Smallest lane (lanes hold no NaN).
template <class Arch>
inline float hmin(const xsimd::batch<float, Arch>& v) noexcept {
#if XSIMD_WITH_AVX512F
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) return _mm512_reduce_min_ps(v);
#endif
    alignas(64) float lanes[xsimd::batch<float, Arch>::size];
    v.store_aligned(lanes);
    float m = lanes[0];
    for (std::size_t l = 1; l < xsimd::batch<float, Arch>::size; ++l) m = lanes[l] < m ? lanes[l] : m;
    return m;
}

/// Copies n bytes from src to dst, for a large output that will not be read again soon: the
/// 64-byte lines of dst it covers whole are written with non-temporal stores where the ISA has
/// them (x86: no read-for-ownership of the line, and the line does not push the input out of
/// the caches); the partial lines at either end, and everything on other ISAs, by plain stores.
/// Call stream_fence() after the last one, before another thread may read dst.
template <class Arch>
inline void stream_bytes(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) noexcept {
#if XSIMD_WITH_SSE2
    // Every x86 Arch (xsimd's AVX and AVX-512 families do not derive from sse2, so ask each).
    constexpr bool x86 = std::is_base_of_v<xsimd::sse2, Arch>
#if XSIMD_WITH_AVX
                         || std::is_base_of_v<xsimd::avx, Arch>
#endif
#if XSIMD_WITH_AVX512F
                         || std::is_base_of_v<xsimd::avx512f, Arch>
#endif
        ;
    if constexpr (x86) {
        std::size_t i = (64 - (reinterpret_cast<std::uintptr_t>(dst) & 63u)) & 63u;
        if (i > n) i = n;
        std::memcpy(dst, src, i);
        for (; i + 64 <= n; i += 64) {
#if XSIMD_WITH_AVX512F
            if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
                _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + i), _mm512_loadu_si512(src + i));
                continue;
            }
#endif
            for (std::size_t j = 0; j < 64; j += 16)
                _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + j), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + j)));
        }
        std::memcpy(dst + i, src + i, n - i);
        return;
    }
#endif
    std::memcpy(dst, src, n);
}

/// Orders the non-temporal stores of stream_bytes before any later store (x86: sfence).
inline void stream_fence() noexcept {
#if XSIMD_WITH_SSE2
    _mm_sfence();
#endif
}

}  // namespace simd
LOWBIT_NAMESPACE_END
