// lowbit — the SIMD primitives written by hand for AArch64 NEON (xsimd's neon64: 4 lanes).
// Each function is the NEON form of a primitive of simd/primitives.hpp, which states what it
// computes; tests/test_primitives.cpp checks it against the scalar twin (under qemu-aarch64 in
// the ISA matrix). Functions take and return raw registers; xsimd batches convert to them.
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>

#include <xsimd/xsimd.hpp>

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
};

}  // namespace simd::arch
LOWBIT_NAMESPACE_END
#endif
