// lowbit — xsimd kernels for the integer formats. Twin of formats/int.hpp's reference
// kernels, equal to them bit for bit (tests/test_int.cpp): the same operations in the same
// order, lane by lane; tails and rare cases go through the reference.
//
// The kernels work on one-byte codes (simd/primitives.hpp narrows and widens the int32 lanes);
// packing them into the bit stream is simd/packing.hpp's job.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "../core/packing.hpp"
#include "../core/unfused.hpp"
#include "packing.hpp"
#include "../formats/int.hpp"
#include "primitives.hpp"
#include "observe.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// Finite min and max of each of `ng` groups of G contiguous values: lo[g], hi[g] equal
/// minmax(x + g·G, G). (A transpose-reduce with xsimd::zip_lo/zip_hi was tried and dropped:
/// on AVX and AVX-512 those interleave within 128-bit lanes, so such a network never mixes
/// the lanes of different 128-bit quarters.)
template <class Arch = xsimd::default_arch>
inline void group_extremes(const float* x, std::size_t G, std::size_t ng, float* lo, float* hi) noexcept {
    for (std::size_t g = 0; g < ng; ++g) minmax<Arch>(x + g * G, G, lo[g], hi[g]);
}

/// SIMD encode of n values to one-byte codes; equals reference::encode_int_run.
template <class Format, class Arch = xsimd::default_arch>
inline void encode_int_run(const float* x, std::size_t n, const int_run_params& p, rounding rnd,
                           std::uint64_t index0, std::uint8_t* codes) noexcept {
    using B = fbatch<Arch>;
    using I = ibatch<Arch>;
    constexpr std::size_t W = B::size;
    const B lo(static_cast<float>(Format::qmin)), hi(static_cast<float>(Format::qmax)), zero(0.0f);
    const I mask(static_cast<std::int32_t>(code_traits<Format::bits>::mask));
    auto finish = [&](B r, std::size_t at) {
        r = xsimd::min(xsimd::max(r, lo), hi);
        store_low_bytes<Arch>(xsimd::batch_cast<std::int32_t>(r) & mask, codes + at);
    };
    std::size_t i = 0;
    if (p.stride == 0 && rnd.mode == round_mode::nearest_even && p.zero[0] == 0.0f) {
        // The common case: one scale, nearest-even, no integer zero point. Clamping before
        // rounding gives the same integer (the bounds are integers), which lets one conversion
        // round (cvtps2dq in the default environment, like std::nearbyint) and a subtraction of
        // a zero offset is skipped (x − 0 is x, −0 and NaN included).
        const B inv(p.inv[0]), off(p.offset[0]);
        const bool has_off = p.offset[0] != 0.0f;
        auto one = [&](std::size_t at) {
            const B v = B::load_unaligned(x + at);
            B y = (has_off ? v - off : v) * inv;
            y = xsimd::select(xsimd::isnan(y), zero, y);
            // The mask keeps a negative code's low `bits` bits (two's complement), as the
            // reference does, for every width including 8.
            store_low_bytes<Arch>(xsimd::nearbyint_as_int(xsimd::min(xsimd::max(y, lo), hi)) & mask, codes + at);
        };
        for (; i + 2 * W <= n; i += 2 * W) {
            one(i);
            one(i + W);
        }
        for (; i + W <= n; i += W) one(i);
    }
    for (; i + W <= n; i += W) {
        if (rnd.mode == round_mode::stochastic && !lanes_share_high_word<Arch>(index0 + i)) break;
        const std::size_t k = i * p.stride;
        const B inv = p.stride ? B::load_unaligned(p.inv + k) : B(p.inv[0]);
        const B off = p.stride ? B::load_unaligned(p.offset + k) : B(p.offset[0]);
        const B z = p.stride ? B::load_unaligned(p.zero + k) : B(p.zero[0]);
        B y = (B::load_unaligned(x + i) - off) * inv;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        finish(round_integral<Arch>(y, rnd, index0 + i) + z, i);
    }
    if (i < n) {
        int_run_params tail = p;
        if (p.stride) { tail.inv += i; tail.scale += i; tail.offset += i; tail.zero += i; }
        reference::encode_int_run<Format>(x + i, n - i, tail, rnd, index0 + i, codes + i);
    }
}

/// SIMD decode of n one-byte codes; equals reference::decode_int_run.
template <class Format, affine Form, class Arch = xsimd::default_arch>
inline void decode_int_run(const std::uint8_t* codes, std::size_t n, const int_run_params& p, float* out) noexcept {
    using B = fbatch<Arch>;
    using I = ibatch<Arch>;
    constexpr std::size_t W = B::size;
    constexpr std::int32_t half = Format::is_signed ? (1 << (Format::bits - 1)) : 0;
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        I qi = load_bytes<Arch>(codes + i);
        if constexpr (Format::is_signed) qi = (qi ^ I(half)) - I(half);  // sign-extend b bits
        const B q = xsimd::batch_cast<float>(qi);
        const std::size_t k = i * p.stride;
        const B s = p.stride ? B::load_unaligned(p.scale + k) : B(p.scale[0]);
        B v;
        if constexpr (Form == affine::none) v = q * s;
        else if constexpr (Form == affine::offset) v = mul_unfused(q, s) + (p.stride ? B::load_unaligned(p.offset + k) : B(p.offset[0]));
        else v = (q - (p.stride ? B::load_unaligned(p.zero + k) : B(p.zero[0]))) * s;
        v.store_unaligned(out + i);
    }
    if (i < n) {
        int_run_params tail = p;
        if (p.stride) { tail.inv += i; tail.scale += i; tail.offset += i; tail.zero += i; }
        reference::decode_int_run<Format, Form>(codes + i, n - i, tail, out + i);
    }
}

}  // namespace simd
LOWBIT_NAMESPACE_END
