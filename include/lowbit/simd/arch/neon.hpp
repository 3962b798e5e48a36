// lowbit — the SIMD primitives written by hand for AArch64 NEON (xsimd's neon64: 4 lanes).
// Each function is the NEON form of a primitive of simd/primitives.hpp, which states what it
// computes; tests/test_primitives.cpp checks it against the scalar twin (under qemu-aarch64 in
// the ISA matrix). Functions take and return raw registers; xsimd batches convert to them.
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "../../core/unfused.hpp"
#include "family.hpp"

#if XSIMD_WITH_NEON64
#include <arm_neon.h>

LOWBIT_NAMESPACE_BEGIN
namespace simd::arch {

template <>
struct kernels<isa::neon> {
    /// Narrowing moves keep the low half of each lane: no saturation.
    LOWBIT_FORCE_INLINE static void store_low_bytes(int32x4_t q, std::uint8_t* p) noexcept {
        const uint16x4_t h = vmovn_u32(vreinterpretq_u32_s32(q));
        const uint8x8_t b = vmovn_u16(vcombine_u16(h, h));
        vst1_lane_u32(reinterpret_cast<std::uint32_t*>(static_cast<void*>(p)),
                      vreinterpret_u32_u8(b), 0);
    }
    LOWBIT_FORCE_INLINE static int32x4_t load_bytes(const std::uint8_t* p) noexcept {
        std::uint32_t four;
        std::memcpy(&four, p, 4);
        const uint16x8_t h = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(four)));
        return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(h)));
    }
    /// 2 bytes → 4 lanes: the 16-bit word shifted right by 0, 4, 8, 12 in the four lanes.
    LOWBIT_FORCE_INLINE static int32x4_t load_nibbles(const std::uint8_t* p) noexcept {
        std::uint16_t two;
        std::memcpy(&two, p, 2);
        const int32x4_t right = {0, -4, -8, -12};
        return vreinterpretq_s32_u32(
            vandq_u32(vshlq_u32(vdupq_n_u32(two), right), vdupq_n_u32(0xF)));
    }
    /// Lanes shifted left by 0, 4, 8, 12 and summed: the 16-bit word of two bytes.
    LOWBIT_FORCE_INLINE static void store_nibbles(int32x4_t q, std::uint8_t* p) noexcept {
        const int32x4_t left = {0, 4, 8, 12};
        const auto two =
            static_cast<std::uint16_t>(vaddvq_u32(vshlq_u32(vreinterpretq_u32_s32(q), left)));
        std::memcpy(p, &two, 2);
    }
    LOWBIT_FORCE_INLINE static float hmax(float32x4_t v) noexcept { return vmaxvq_f32(v); }
    LOWBIT_FORCE_INLINE static float hmin(float32x4_t v) noexcept { return vminvq_f32(v); }
    /// A 64-byte table lookup (tbl with four registers): lane l reads the bytes 4·idx … 4·idx + 3.
    LOWBIT_FORCE_INLINE static float32x4_t lookup16(int32x4_t idx, const float* v) noexcept {
        uint8x16x4_t tab;
        tab.val[0] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(v));
        tab.val[1] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(v + 4));
        tab.val[2] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(v + 8));
        tab.val[3] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(v + 12));
        const uint32x4_t bytes =
            vmlaq_n_u32(vdupq_n_u32(0x03020100u), vreinterpretq_u32_s32(idx), 0x04040404u);
        return vreinterpretq_f32_u8(vqtbl4q_u8(tab, vreinterpretq_u8_u32(bytes)));
    }
    /// A true compare is all ones (−1): subtracting the masks counts them.
    template <bool Inclusive, int N>
    LOWBIT_FORCE_INLINE static int32x4_t count_linear(float32x4_t y, const float* t) noexcept {
        uint32x4_t c = vdupq_n_u32(0);
        [&]<int... K>(std::integer_sequence<int, K...>)
            LOWBIT_LAMBDA_INLINE {  // unrolled: two instructions per threshold
            ((c = vsubq_u32(
                  c,
                  Inclusive ? vcleq_f32(vdupq_n_f32(t[K]), y) : vcltq_f32(vdupq_n_f32(t[K]), y))),
             ...);
        }
        (std::make_integer_sequence<int, N>{});
        return vreinterpretq_s32_u32(c);
    }
    /// 8 rows × 32-code blocks (see simd::scalar::dot8_i4): nibbles XOR 8 minus 8 are the signed
    /// codes; with the dot-product extension sdot sums four products per lane, otherwise
    /// widening multiplies (|c·q| ≤ 8·127 fits 16 bits) are pairwise added into 32 bits.
    LOWBIT_FORCE_INLINE static void dot8_i4(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        int32x4_t acc[8];
        for (auto& a : acc) a = vdupq_n_s32(0);
        const uint8x16_t m4 = vdupq_n_u8(0x0F), x88 = vdupq_n_u8(0x88);
        const int8x16_t eight = vdupq_n_s8(8);
        for (std::size_t b = 0; b < blocks; ++b) {
            const int8x16_t q0 = vld1q_s8(q + 32 * b), q1 = vld1q_s8(q + 32 * b + 16);
            for (int r = 0; r < 8; ++r) {
                const uint8x16_t raw = veorq_u8(vld1q_u8(w + r * stride + 16 * b), x88);
                const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, m4)), eight);
                const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
                acc[r] = dot16(dot16(acc[r], lo, q0), hi, q1);
            }
        }
        for (int r = 0; r < 8; ++r) out[r] = vaddvq_s32(acc[r]);
    }
    /// 8 rows × 32 signed bytes per block, as dot8_i4 without the nibble split.
    LOWBIT_FORCE_INLINE static void dot8_i8(const std::uint8_t* w, std::size_t stride,
                                            const std::int8_t* q, std::size_t blocks,
                                            std::int32_t* out) noexcept {
        int32x4_t acc[8];
        for (auto& a : acc) a = vdupq_n_s32(0);
        for (std::size_t b = 0; b < blocks; ++b) {
            const int8x16_t q0 = vld1q_s8(q + 32 * b), q1 = vld1q_s8(q + 32 * b + 16);
            for (int r = 0; r < 8; ++r) {
                const std::int8_t* p =
                    reinterpret_cast<const std::int8_t*>(w + r * stride + 32 * b);
                acc[r] = dot16(dot16(acc[r], vld1q_s8(p), q0), vld1q_s8(p + 16), q1);
            }
        }
        for (int r = 0; r < 8; ++r) out[r] = vaddvq_s32(acc[r]);
    }
    /// acc + Σ a·b over 16 signed bytes into 4 lanes (|a·b| ≤ 128·127 fits 16 bits).
    LOWBIT_FORCE_INLINE static int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) noexcept {
#if defined(__ARM_FEATURE_DOTPROD)
        return vdotq_s32(acc, a, b);
#else
        return vpadalq_s16(vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b))),
                           vmull_high_s8(a, b));
#endif
    }
    /// acc[i] = acc[i] + f[i]·float(d[i]), the product rounded on its own, i < 8.
    LOWBIT_FORCE_INLINE static void scale_add8(float* acc, const float* f,
                                               const std::int32_t* d) noexcept {
        for (int h = 0; h < 8; h += 4) {
            const float32x4_t p =
                detail::opaque(vmulq_f32(vld1q_f32(f + h), vcvtq_f32_s32(vld1q_s32(d + h))));
            vst1q_f32(acc + h, vaddq_f32(vld1q_f32(acc + h), p));
        }
    }
#if defined(__ARM_FEATURE_DOTPROD)
    /// Chunk K of a 4-bit tile8p block: rows 0-3 in its first 16 bytes, 4-7 in the next; low
    /// nibbles are columns 4K … 4K + 3 (lane K of qa), high ones 16 + 4K … (lane K of qb).
    template <int K>
    LOWBIT_FORCE_INLINE static void chunk4(const std::uint8_t* p, int8x16_t qa, int8x16_t qb,
                                           uint8x16_t m4, int32x4_t& a0, int32x4_t& a1) noexcept {
        const uint8x16_t v0 = vld1q_u8(p + 32 * K), v1 = vld1q_u8(p + 32 * K + 16);
        a0 = vdotq_laneq_s32(a0, vreinterpretq_s8_u8(vandq_u8(v0, m4)), qa, K);
        a1 = vdotq_laneq_s32(a1, vreinterpretq_s8_u8(vandq_u8(v1, m4)), qa, K);
        a0 = vdotq_laneq_s32(a0, vreinterpretq_s8_u8(vshrq_n_u8(v0, 4)), qb, K);
        a1 = vdotq_laneq_s32(a1, vreinterpretq_s8_u8(vshrq_n_u8(v1, 4)), qb, K);
    }
    /// Chunk K of an 8-bit tile8p block: columns 4K … 4K + 3, lane K mod 4 of q.
    template <int K>
    LOWBIT_FORCE_INLINE static void chunk8(const std::uint8_t* p, int8x16_t q, int32x4_t& a0,
                                           int32x4_t& a1) noexcept {
        const auto* b = reinterpret_cast<const std::int8_t*>(p + 32 * K);
        a0 = vdotq_laneq_s32(a0, vld1q_s8(b), q, K % 4);
        a1 = vdotq_laneq_s32(a1, vld1q_s8(b + 16), q, K % 4);
    }
    /// simd::scalar::gemv8p with sdot by lane: a 16-byte load holds 4 codes of 4 rows, the
    /// activations' 4-byte group k is lane k of one q register. Only with the dot-product
    /// extension (else the twin runs).
    template <int Bits>
    LOWBIT_FORCE_INLINE static void gemv8p(const std::uint8_t* t, const std::int8_t* q,
                                           const std::int32_t* qsum, const float* sx,
                                           const float* sw, std::size_t cols, std::size_t glen,
                                           float* out, const gemv8p_affine* aff) noexcept {
        constexpr std::size_t block = Bits == 4 ? 128 : 256;
        float32x4_t acc0 = vld1q_f32(out), acc1 = vld1q_f32(out + 4);
        const uint8x16_t m4 = vdupq_n_u8(0x0F);
        for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
            const std::size_t end = std::min(c0 + glen, cols);
            int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0);
            for (std::size_t c = c0; c < end; c += 32) {
                const std::uint8_t* p = t + c / 32 * block;
                const int8x16_t qa = vld1q_s8(q + c), qb = vld1q_s8(q + c + 16);
                if constexpr (Bits == 4) {
                    chunk4<0>(p, qa, qb, m4, a0, a1);
                    chunk4<1>(p, qa, qb, m4, a0, a1);
                    chunk4<2>(p, qa, qb, m4, a0, a1);
                    chunk4<3>(p, qa, qb, m4, a0, a1);
                } else {
                    chunk8<0>(p, qa, a0, a1);
                    chunk8<1>(p, qa, a0, a1);
                    chunk8<2>(p, qa, a0, a1);
                    chunk8<3>(p, qa, a0, a1);
                    chunk8<4>(p, qb, a0, a1);
                    chunk8<5>(p, qb, a0, a1);
                    chunk8<6>(p, qb, a0, a1);
                    chunk8<7>(p, qb, a0, a1);
                }
            }
            if constexpr (Bits == 4) {  // the codes carried +8
                const int32_t off = 8 * qsum[g];
                a0 = vsubq_s32(a0, vdupq_n_s32(off));
                a1 = vsubq_s32(a1, vdupq_n_s32(off));
            }
            if (aff) {
                const int32x4_t n = vdupq_n_s32(qsum[g]);
                const int32x4_t z0 =
                                    aff->zc ? vld1q_s32(aff->zc + 8 * g) : vdupq_n_s32(aff->zc_all),
                                z1 = aff->zc ? vld1q_s32(aff->zc + 8 * g + 4)
                                             : vdupq_n_s32(aff->zc_all);
                a0 = vaddq_s32(a0, vmulq_s32(z0, n));
                a1 = vaddq_s32(a1, vmulq_s32(z1, n));
            }
            const float32x4_t s = vdupq_n_f32(sx[g]);
            const float32x4_t f0 = vmulq_f32(vld1q_f32(sw + 8 * g), s),
                              f1 = vmulq_f32(vld1q_f32(sw + 8 * g + 4), s);
            acc0 = vaddq_f32(acc0, detail::opaque(vmulq_f32(f0, vcvtq_f32_s32(a0))));
            acc1 = vaddq_f32(acc1, detail::opaque(vmulq_f32(f1, vcvtq_f32_s32(a1))));
            if (aff && aff->mw) {
                const float32x4_t n = vdupq_n_f32(static_cast<float>(qsum[g]));
                const float32x4_t m0 = vmulq_f32(vld1q_f32(aff->mw + 8 * g), s),
                                  m1 = vmulq_f32(vld1q_f32(aff->mw + 8 * g + 4), s);
                acc0 = vaddq_f32(acc0, detail::opaque(vmulq_f32(m0, n)));
                acc1 = vaddq_f32(acc1, detail::opaque(vmulq_f32(m1, n)));
            }
        }
        vst1q_f32(out, acc0);
        vst1q_f32(out + 4, acc1);
    }
#endif
};

}  // namespace simd::arch
LOWBIT_NAMESPACE_END
#endif
