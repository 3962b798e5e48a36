// lowbit — exact int32 dots of 4-bit codes looked up in a 16-entry int8 table, for 8 weight
// rows at a time (the FP4 linear layers of ops/linear_fp4.hpp: E2M1 code → 2·value).
//
//   dot8_lut4<Block>(w, stride, q, chunks, table, out)
//       8 rows × `chunks` chunks of 32 codes; per chunk and row, the dot of each Block-code
//       block (Block 16 or 32) of table[code] with int8 activations, exact in int32.
//   dot_lut4f<Order>(p, x, n, table)
//       Σ table[code_i]·x_i over n 4-bit codes (a codebook group, ops/linear_fp4.hpp's NF4
//       path) in float, in one fixed order every form reproduces bit for bit: 16 lane sums
//       over i mod 16, each product rounded on its own, then a fixed tree (see the twin).
//
// Like the primitives of simd/primitives.hpp it has a scalar twin in simd::scalar (the
// definition) and hand-written forms per instruction-set family: SSSE3 pshufb (a plain SSE2
// build has no byte shuffle and runs the twin), AVX2 vpshufb on 256-bit registers with maddubs
// or, where the build has AVX-512 VNNI + VL, vpdpbusd (the AVX-512 family uses that form), NEON
// vqtbl1q with sdot where __ARM_FEATURE_DOTPROD, widening multiplies otherwise. Every form is
// exact integer arithmetic, so each equals the twin. dot_lut4f looks the 16 floats up in registers
// (AVX-512 vpermps over one register, AVX2 two vpermps and a blend, NEON vqtbl on the table's four
// byte planes, SSE2 16 scalar loads) and adds the same products in the same lanes in the same
// order as the twin, which then finishes the tail and the tree. tests/test_linear_fp4.cpp checks
// both on every length in every target of the ISA matrix.
#pragma once
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "../core/config.hpp"
#include "../core/packing.hpp"
#include "../core/unfused.hpp"
#include "arch/family.hpp"

#if XSIMD_WITH_SSE2
#include <immintrin.h>
#endif
#if XSIMD_WITH_NEON64
#include <arm_neon.h>
#endif

LOWBIT_NAMESPACE_BEGIN
namespace simd {

namespace scalar {
/// The definition. Row i's chunk c is 16 bytes at w + i·stride + 16·c; byte j holds the codes of
/// lanes j (low nibble) and j + 16 (high nibble); lane l of chunk c multiplies q[32·c + l].
/// Half h of a chunk is its bytes [8h, 8h + 8): lanes [8h, 8h + 8) and [16 + 8h, 24 + 8h).
/// Block 32: out[8·c + i] = Σ over chunk c of row i of table[code]·q.
/// Block 16: out[8·k + i], k = 2·c + h, the same sum over half h of chunk c only.
/// Every q in −127 … 127 (any int8 table entry): |table·q| ≤ 128·127, exact in int32.
template <std::size_t Block>
inline void dot8_lut4(const std::uint8_t* w, std::size_t stride, const std::int8_t* q,
                      std::size_t chunks, const std::int8_t* table, std::int32_t* out) noexcept {
    static_assert(Block == 16 || Block == 32, "lowbit: dot8_lut4 sums blocks of 16 or 32 codes");
    for (std::size_t c = 0; c < chunks; ++c)
        for (std::size_t i = 0; i < 8; ++i) {
            std::int32_t s[2] = {0, 0};
            for (std::size_t j = 0; j < 16; ++j) {
                const unsigned byte = w[i * stride + 16 * c + j];
                s[j / 8] +=
                    table[byte & 0xFu] * q[32 * c + j] + table[byte >> 4] * q[32 * c + 16 + j];
            }
            if constexpr (Block == 32) {
                out[8 * c + i] = s[0] + s[1];
            } else {
                out[16 * c + i] = s[0];
                out[16 * c + 8 + i] = s[1];
            }
        }
}

/// The code of element i of a 4-bit stream packed two per byte, element 2j in the low nibble of
/// byte j (low_first) or in its high nibble (high_first).
template <nibble_order Order>
inline unsigned nibble(const std::uint8_t* p, std::size_t i) noexcept {
    static_assert(Order == nibble_order::low_first || Order == nibble_order::high_first,
                  "lowbit: dot_lut4f reads low_first or high_first nibbles");
    const bool high = (i % 2 != 0) != (Order == nibble_order::high_first);
    return high ? p[i / 2] >> 4 : p[i / 2] & 0xFu;
}

/// dot_lut4f's tree over 16 lane sums: lanes l + 8 into l (l < 8), l + 4 into l (l < 4),
/// l + 2 into l, lane 1 into lane 0.
inline float fold16(float* acc) noexcept {
    for (std::size_t w = 8; w >= 1; w /= 2)
        for (std::size_t l = 0; l < w; ++l) acc[l] = acc[l] + acc[l + w];
    return acc[0];
}

/// The end of dot_lut4f from lane sums acc[16] holding elements [0, i0) (i0 a multiple of 16):
/// elements [i0, n) into their lanes, then the tree.
template <nibble_order Order>
inline float dot_lut4f_finish(float* acc, const std::uint8_t* p, const float* x, std::size_t i0,
                              std::size_t n, const float* table) noexcept {
    for (std::size_t i = i0; i < n; ++i)
        acc[i % 16] = acc[i % 16] + mul_unfused(table[nibble<Order>(p, i)], x[i]);
    return fold16(acc);
}

/// The definition: lane l (< 16) sums table[code_i]·x_i over i ≡ l (mod 16) in increasing i,
/// from +0, each product rounded on its own (no FMA); then the halves are folded: lanes
/// l + 8 into l (l < 8), l + 4 into l (l < 4), l + 2 into l, lane 1 into lane 0. The codes are
/// p's first n nibbles in `Order`.
template <nibble_order Order>
inline float dot_lut4f(const std::uint8_t* p, const float* x, std::size_t n,
                       const float* table) noexcept {
    float acc[16] = {};
    return dot_lut4f_finish<Order>(acc, p, x, 0, n, table);
}
}  // namespace scalar

namespace lut_arch {

using arch::isa;

/// The hand-written forms of family F (empty: the scalar twin).
template <isa F>
struct kernels {};

#if XSIMD_WITH_SSE2 && defined(__SSSE3__)
/// SSSE3: one row's chunk is one register; per row the int32 lanes are [h0, h0, h1, h1].
template <>
struct kernels<isa::sse2> {
    template <std::size_t Block>
    LOWBIT_FORCE_INLINE static void dot8_lut4(const std::uint8_t* w, std::size_t stride,
                                              const std::int8_t* q, std::size_t chunks,
                                              const std::int8_t* table,
                                              std::int32_t* out) noexcept {
        const __m128i lut = _mm_loadu_si128(reinterpret_cast<const __m128i*>(table));
        const __m128i m4 = _mm_set1_epi8(0x0F), ones = _mm_set1_epi16(1);
        for (std::size_t c = 0; c < chunks; ++c) {
            const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * c));
            const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * c + 16));
            __m128i t[4];
            for (int r = 0; r < 8; r += 2) {
                __m128i p[2];
                for (int e = 0; e < 2; ++e) {
                    const __m128i b = _mm_loadu_si128(
                        reinterpret_cast<const __m128i*>(w + (r + e) * stride + 16 * c));
                    const __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(b, m4));
                    const __m128i hi =
                        _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(b, 4), m4));
                    // |v|·(q·sign v): pairs ≤ 2·128·127, maddubs cannot saturate.
                    p[e] = _mm_add_epi32(
                        _mm_madd_epi16(_mm_maddubs_epi16(_mm_abs_epi8(lo), _mm_sign_epi8(q0, lo)),
                                       ones),
                        _mm_madd_epi16(_mm_maddubs_epi16(_mm_abs_epi8(hi), _mm_sign_epi8(q1, hi)),
                                       ones));
                }
                t[r / 2] = _mm_hadd_epi32(p[0], p[1]);  // [r h0, r h1, r+1 h0, r+1 h1]
            }
            std::int32_t* o = out + (Block == 32 ? 8 : 16) * c;
            for (int g = 0; g < 2; ++g) {  // rows 4g … 4g + 3
                const __m128 a = _mm_castsi128_ps(t[2 * g]), b = _mm_castsi128_ps(t[2 * g + 1]);
                const __m128i h0 = _mm_castps_si128(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
                const __m128i h1 = _mm_castps_si128(_mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
                if constexpr (Block == 32) {
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 4 * g), _mm_add_epi32(h0, h1));
                } else {
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 4 * g), h0);
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 8 + 4 * g), h1);
                }
            }
        }
    }
};
template <>
struct kernels<isa::sse4_1> : kernels<isa::sse2> {};
#endif

#if XSIMD_WITH_AVX2
/// AVX2: a row's chunk in one 256-bit register, low nibbles in the lower 128 bits (the lane
/// order); per row the int32 lanes are [h0, h0, h1, h1 | h0, h0, h1, h1].
template <>
struct kernels<isa::avx2> {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    static constexpr bool vnni = true;
#else
    static constexpr bool vnni = false;
#endif
    /// Σ table[code]·q of one row's chunk, as |v|·(q·sign v) in u8 × s8 products.
    LOWBIT_FORCE_INLINE static __m256i row_dot(const std::uint8_t* p, __m256i lut,
                                               __m256i qb) noexcept {
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m256i idx = _mm256_and_si256(
            _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1),
            _mm256_set1_epi8(0x0F));
        const __m256i v = _mm256_shuffle_epi8(lut, idx);
        const __m256i u = _mm256_abs_epi8(v), s = _mm256_sign_epi8(qb, v);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
        return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
        return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
    }
    template <std::size_t Block>
    LOWBIT_FORCE_INLINE static void dot8_lut4(const std::uint8_t* w, std::size_t stride,
                                              const std::int8_t* q, std::size_t chunks,
                                              const std::int8_t* table,
                                              std::int32_t* out) noexcept {
        const __m256i lut =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table)));
        for (std::size_t c = 0; c < chunks; ++c) {
            const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * c));
            __m256i t[4];
            for (int r = 0; r < 8; r += 2) {
                const __m256i a = row_dot(w + r * stride + 16 * c, lut, qb);
                const __m256i b = row_dot(w + (r + 1) * stride + 16 * c, lut, qb);
                // [r h0, r h1, r+1 h0, r+1 h1] in each 128-bit half (low and high nibbles).
                t[r / 2] = _mm256_hadd_epi32(a, b);
            }
            // Low-nibble half + high-nibble half: s[g] = [r h0, r h1, r+1 h0, r+1 h1 | r+2 …].
            __m256i s[2];
            for (int g = 0; g < 2; ++g) {
                const __m256i x = t[2 * g], y = t[2 * g + 1];
                s[g] = _mm256_add_epi32(_mm256_permute2x128_si256(x, y, 0x20),
                                        _mm256_permute2x128_si256(x, y, 0x31));
            }
            const __m256 a = _mm256_castsi256_ps(s[0]), b = _mm256_castsi256_ps(s[1]);
            // [0 h, 1 h, 4 h, 5 h | 2 h, 3 h, 6 h, 7 h] → rows in order by 64-bit lanes 0, 2, 1, 3.
            const __m256i h0 = _mm256_permute4x64_epi64(
                _mm256_castps_si256(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8);
            const __m256i h1 = _mm256_permute4x64_epi64(
                _mm256_castps_si256(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8);
            if constexpr (Block == 32) {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * c),
                                    _mm256_add_epi32(h0, h1));
            } else {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16 * c), h0);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16 * c + 8), h1);
            }
        }
    }
};
#endif

#if XSIMD_WITH_AVX512BW
/// AVX-512: the AVX2 form (vpdpbusd on 256-bit registers where the build has VNNI + VL).
template <>
struct kernels<isa::avx512> : kernels<isa::avx2> {};
#endif

#if XSIMD_WITH_NEON64
/// NEON: per row the int32 lanes are [h0, h0, h1, h1] (sdot sums four neighbouring bytes; the
/// widening form sums pairs of pairs), the rows gathered by pairwise adds and unzips.
template <>
struct kernels<isa::neon> {
    LOWBIT_FORCE_INLINE static int32x4_t row_dot(const std::uint8_t* p, int8x16_t lut, int8x16_t q0,
                                                 int8x16_t q1) noexcept {
        const uint8x16_t b = vld1q_u8(p);
        const int8x16_t lo = vqtbl1q_s8(lut, vandq_u8(b, vdupq_n_u8(0x0F)));
        const int8x16_t hi = vqtbl1q_s8(lut, vshrq_n_u8(b, 4));
#if defined(__ARM_FEATURE_DOTPROD)
        return vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, q0), hi, q1);
#else
        // |v·q| ≤ 128·127 fits 16 bits; lanes of bytes 0 … 7 (h0) and 8 … 15 (h1) kept apart.
        const int32x4_t a0 = vpadalq_s16(vpaddlq_s16(vmull_s8(vget_low_s8(lo), vget_low_s8(q0))),
                                         vmull_s8(vget_low_s8(hi), vget_low_s8(q1)));
        const int32x4_t a1 = vpadalq_s16(vpaddlq_s16(vmull_high_s8(lo, q0)), vmull_high_s8(hi, q1));
        return vpaddq_s32(a0, a1);
#endif
    }
    template <std::size_t Block>
    LOWBIT_FORCE_INLINE static void dot8_lut4(const std::uint8_t* w, std::size_t stride,
                                              const std::int8_t* q, std::size_t chunks,
                                              const std::int8_t* table,
                                              std::int32_t* out) noexcept {
        const int8x16_t lut = vld1q_s8(table);
        for (std::size_t c = 0; c < chunks; ++c) {
            const int8x16_t q0 = vld1q_s8(q + 32 * c), q1 = vld1q_s8(q + 32 * c + 16);
            int32x4_t t[4];
            for (int r = 0; r < 8; r += 2)  // [r h0, r h1, r+1 h0, r+1 h1]
                t[r / 2] = vpaddq_s32(row_dot(w + r * stride + 16 * c, lut, q0, q1),
                                      row_dot(w + (r + 1) * stride + 16 * c, lut, q0, q1));
            std::int32_t* o = out + (Block == 32 ? 8 : 16) * c;
            for (int g = 0; g < 2; ++g) {
                const int32x4_t h0 = vuzp1q_s32(t[2 * g], t[2 * g + 1]);
                const int32x4_t h1 = vuzp2q_s32(t[2 * g], t[2 * g + 1]);
                if constexpr (Block == 32) {
                    vst1q_s32(o + 4 * g, vaddq_s32(h0, h1));
                } else {
                    vst1q_s32(o + 4 * g, h0);
                    vst1q_s32(o + 8 + 4 * g, h1);
                }
            }
        }
    }
};
#endif

/// The 16 column-ordered nibbles of 8 bytes as 16 bytes (x86: the low 8 bytes of a register).
#if XSIMD_WITH_SSE2
template <nibble_order Order>
LOWBIT_FORCE_INLINE __m128i nibbles16(const std::uint8_t* p) noexcept {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_and_si128(b, m4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
    return Order == nibble_order::low_first ? _mm_unpacklo_epi8(lo, hi) : _mm_unpacklo_epi8(hi, lo);
}
#endif

/// The float forms of family F (empty: the scalar twin).
template <isa F>
struct float_kernels {};

#if XSIMD_WITH_SSE2
/// SSE2: the 16 levels fetched by scalar loads, four registers of lane sums.
template <>
struct float_kernels<isa::sse2> {
    template <nibble_order Order>
    LOWBIT_FORCE_INLINE static float dot_lut4f(const std::uint8_t* p, const float* x, std::size_t n,
                                               const float* table) noexcept {
        __m128 acc[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
        alignas(16) float v[16];
        std::size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            for (std::size_t l = 0; l < 16; ++l) v[l] = table[scalar::nibble<Order>(p + i / 2, l)];
            for (int k = 0; k < 4; ++k)
                acc[k] = _mm_add_ps(acc[k],
                                    lowbit::detail::opaque(_mm_mul_ps(
                                        _mm_load_ps(v + 4 * k), _mm_loadu_ps(x + i + 4 * k))));
        }
        alignas(16) float a[16];
        for (int k = 0; k < 4; ++k) _mm_store_ps(a + 4 * k, acc[k]);
        return scalar::dot_lut4f_finish<Order>(a, p, x, i, n, table);
    }
};
template <>
struct float_kernels<isa::sse4_1> : float_kernels<isa::sse2> {};
#endif

#if XSIMD_WITH_AVX2
/// AVX2: lanes 0 … 7 and 8 … 15 in two registers; a level is the vpermps of the table's first
/// or second half, chosen by bit 3 of the code.
template <>
struct float_kernels<isa::avx2> {
    template <nibble_order Order>
    LOWBIT_FORCE_INLINE static float dot_lut4f(const std::uint8_t* p, const float* x, std::size_t n,
                                               const float* table) noexcept {
        const __m256 t0 = _mm256_loadu_ps(table), t1 = _mm256_loadu_ps(table + 8);
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        std::size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m128i c = nibbles16<Order>(p + i / 2);
            for (int h = 0; h < 2; ++h) {
                const __m256i idx = _mm256_cvtepu8_epi32(h ? _mm_srli_si128(c, 8) : c);
                const __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, idx),
                                                  _mm256_permutevar8x32_ps(t1, idx),
                                                  _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
                acc[h] = _mm256_add_ps(
                    acc[h],
                    lowbit::detail::opaque(_mm256_mul_ps(v, _mm256_loadu_ps(x + i + 8 * h))));
            }
        }
        alignas(32) float a[16];
        _mm256_store_ps(a, acc[0]);
        _mm256_store_ps(a + 8, acc[1]);
        return scalar::dot_lut4f_finish<Order>(a, p, x, i, n, table);
    }
};
#endif

#if XSIMD_WITH_AVX512BW
/// AVX-512: the 16 lanes and the 16 levels in one register each, vpermps looks them up.
template <>
struct float_kernels<isa::avx512> {
    template <nibble_order Order>
    LOWBIT_FORCE_INLINE static float dot_lut4f(const std::uint8_t* p, const float* x, std::size_t n,
                                               const float* table) noexcept {
        const __m512 t = _mm512_loadu_ps(table);
        __m512 acc = _mm512_setzero_ps();
        std::size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m512 v =
                _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(nibbles16<Order>(p + i / 2)), t);
            acc = _mm512_add_ps(acc,
                                lowbit::detail::opaque(_mm512_mul_ps(v, _mm512_loadu_ps(x + i))));
        }
        alignas(64) float a[16];
        _mm512_store_ps(a, acc);
        return scalar::dot_lut4f_finish<Order>(a, p, x, i, n, table);
    }
};
#endif

#if XSIMD_WITH_NEON64
/// NEON: the table as four byte planes (plane b holds byte b of each level); vqtbl1q looks each
/// up by the 16 codes and zips rebuild the little-endian floats, four registers of lane sums.
template <>
struct float_kernels<isa::neon> {
    template <nibble_order Order>
    LOWBIT_FORCE_INLINE static float dot_lut4f(const std::uint8_t* p, const float* x, std::size_t n,
                                               const float* table) noexcept {
        const uint8x16x4_t planes = vld4q_u8(reinterpret_cast<const std::uint8_t*>(table));
        float32x4_t acc[4];
        for (auto& a : acc) a = vdupq_n_f32(0.0f);
        std::size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const uint8x8_t b = vld1_u8(p + i / 2);
            const uint8x8_t lo = vand_u8(b, vdup_n_u8(0x0F)), hi = vshr_n_u8(b, 4);
            const uint8x8_t first = Order == nibble_order::low_first ? lo : hi;
            const uint8x8_t second = Order == nibble_order::low_first ? hi : lo;
            const uint8x16_t idx = vcombine_u8(vzip1_u8(first, second), vzip2_u8(first, second));
            const uint8x16_t b0 = vqtbl1q_u8(planes.val[0], idx),
                             b1 = vqtbl1q_u8(planes.val[1], idx);
            const uint8x16_t b2 = vqtbl1q_u8(planes.val[2], idx),
                             b3 = vqtbl1q_u8(planes.val[3], idx);
            const uint16x8_t l01 = vreinterpretq_u16_u8(vzip1q_u8(b0, b1));
            const uint16x8_t h01 = vreinterpretq_u16_u8(vzip2q_u8(b0, b1));
            const uint16x8_t l23 = vreinterpretq_u16_u8(vzip1q_u8(b2, b3));
            const uint16x8_t h23 = vreinterpretq_u16_u8(vzip2q_u8(b2, b3));
            const float32x4_t v[4] = {vreinterpretq_f32_u16(vzip1q_u16(l01, l23)),
                                      vreinterpretq_f32_u16(vzip2q_u16(l01, l23)),
                                      vreinterpretq_f32_u16(vzip1q_u16(h01, h23)),
                                      vreinterpretq_f32_u16(vzip2q_u16(h01, h23))};
            for (int k = 0; k < 4; ++k)
                acc[k] = vaddq_f32(
                    acc[k], lowbit::detail::opaque(vmulq_f32(v[k], vld1q_f32(x + i + 4 * k))));
        }
        alignas(16) float a[16];
        for (int k = 0; k < 4; ++k) vst1q_f32(a + 4 * k, acc[k]);
        return scalar::dot_lut4f_finish<Order>(a, p, x, i, n, table);
    }
};
#endif

template <class Arch>
using hand = kernels<arch::family_of<Arch>>;
template <class Arch>
using hand_float = float_kernels<arch::family_of<Arch>>;

}  // namespace lut_arch

/// simd::scalar::dot8_lut4 (the definition) in the family's instructions, where it has them.
template <class Arch, std::size_t Block>
LOWBIT_FORCE_INLINE void dot8_lut4(const std::uint8_t* w, std::size_t stride, const std::int8_t* q,
                                   std::size_t chunks, const std::int8_t* table,
                                   std::int32_t* out) noexcept {
    using K = lut_arch::hand<Arch>;
    if constexpr (requires { K::template dot8_lut4<Block>(w, stride, q, chunks, table, out); })
        K::template dot8_lut4<Block>(w, stride, q, chunks, table, out);
    else
        scalar::dot8_lut4<Block>(w, stride, q, chunks, table, out);
}

/// Whether the family of Arch has a hand-written dot8_lut4 (the FP4 linear layers' SIMD path).
template <class Arch>
inline constexpr bool has_lut_dot = requires(const std::uint8_t* w, const std::int8_t* q,
                                             std::int32_t* o) {
    lut_arch::hand<Arch>::template dot8_lut4<32>(w, std::size_t{}, q, std::size_t{}, q, o);
};

/// simd::scalar::dot_lut4f (the definition) in the family's instructions, where it has them.
template <class Arch, nibble_order Order>
LOWBIT_FORCE_INLINE float dot_lut4f(const std::uint8_t* p, const float* x, std::size_t n,
                                    const float* table) noexcept {
    using K = lut_arch::hand_float<Arch>;
    if constexpr (requires { K::template dot_lut4f<Order>(p, x, n, table); })
        return K::template dot_lut4f<Order>(p, x, n, table);
    else
        return scalar::dot_lut4f<Order>(p, x, n, table);
}

/// Whether the family of Arch has a hand-written dot_lut4f (the codebook linear layers' SIMD
/// path).
template <class Arch>
inline constexpr bool has_lut_dotf = requires(const std::uint8_t* p, const float* x) {
    lut_arch::hand_float<Arch>::template dot_lut4f<nibble_order::low_first>(p, x, std::size_t{}, x);
};

}  // namespace simd
LOWBIT_NAMESPACE_END
