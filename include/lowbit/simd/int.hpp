// lowbit — xsimd kernels for the integer formats. Twin of formats/int.hpp's reference
// kernels, equal to them bit for bit (tests/test_int.cpp): the same operations in the same
// order, lane by lane; tails and rare cases go through the reference.
//
// The kernels work on one-byte codes (simd/bytes.hpp narrows and widens the int32 lanes);
// packing them into the bit stream is simd/packing.hpp's job.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "../core/packing.hpp"
#include "packing.hpp"
#include "../formats/int.hpp"
#include "bytes.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// Largest finite |x| of x[0 … n) (0 when none); equals observe_absmax.
template <class Arch = xsimd::default_arch>
inline float absmax(const float* x, std::size_t n) noexcept {
    using B = fbatch<Arch>;
    constexpr std::size_t W = B::size;
    const B big(3.4028234663852886e38f), zero(0.0f);
    B m0(0.0f), m1(0.0f);
    std::size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        const B a0 = xsimd::abs(B::load_unaligned(x + i)), a1 = xsimd::abs(B::load_unaligned(x + i + W));
        m0 = xsimd::max(m0, xsimd::select(a0 <= big, a0, zero));  // NaN and ±Inf compare false
        m1 = xsimd::max(m1, xsimd::select(a1 <= big, a1, zero));
    }
    for (; i + W <= n; i += W) {
        const B a = xsimd::abs(B::load_unaligned(x + i));
        m0 = xsimd::max(m0, xsimd::select(a <= big, a, zero));
    }
    alignas(64) float lanes[W];
    xsimd::max(m0, m1).store_aligned(lanes);
    float m = 0.0f;
    for (std::size_t l = 0; l < W; ++l) m = lanes[l] > m ? lanes[l] : m;
    for (; i < n; ++i) {
        const float a = x[i] < 0 ? -x[i] : x[i];
        m = (a > m && a <= 3.4028234663852886e38f) ? a : m;
    }
    return m;
}

/// Smallest and largest finite x of x[0 … n); {0, 0} when none. Equal to observe_extremes'
/// min / max up to the sign of zero (callers canonicalise −0 to +0).
template <class Arch = xsimd::default_arch>
inline void minmax(const float* x, std::size_t n, float& lo, float& hi) noexcept {
    using B = fbatch<Arch>;
    constexpr std::size_t W = B::size;
    constexpr float big = 3.4028234663852886e38f;
    const B pinf(INFINITY), ninf(-INFINITY), bigb(big);
    B mn0(INFINITY), mx0(-INFINITY), mn1(INFINITY), mx1(-INFINITY);
    std::size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        const B v0 = B::load_unaligned(x + i), v1 = B::load_unaligned(x + i + W);
        const auto f0 = xsimd::abs(v0) <= bigb, f1 = xsimd::abs(v1) <= bigb;  // finite
        mn0 = xsimd::min(mn0, xsimd::select(f0, v0, pinf));
        mx0 = xsimd::max(mx0, xsimd::select(f0, v0, ninf));
        mn1 = xsimd::min(mn1, xsimd::select(f1, v1, pinf));
        mx1 = xsimd::max(mx1, xsimd::select(f1, v1, ninf));
    }
    for (; i + W <= n; i += W) {
        const B v = B::load_unaligned(x + i);
        const auto f = xsimd::abs(v) <= bigb;
        mn0 = xsimd::min(mn0, xsimd::select(f, v, pinf));
        mx0 = xsimd::max(mx0, xsimd::select(f, v, ninf));
    }
    float l = hmin<Arch>(xsimd::min(mn0, mn1)), h = hmax<Arch>(xsimd::max(mx0, mx1));
    for (; i < n; ++i) {
        const float v = x[i];
        if (!(v >= -big && v <= big)) continue;
        l = v < l ? v : l;
        h = v > h ? v : h;
    }
    if (l > h) { l = 0.0f; h = 0.0f; }
    lo = l;
    hi = h;
}

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
            I q = xsimd::nearbyint_as_int(xsimd::min(xsimd::max(y, lo), hi));
            if constexpr (Format::bits < 8) q = q & mask;
            store_low_bytes<Arch>(q, codes + at);
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
        else if constexpr (Form == affine::offset) v = q * s + (p.stride ? B::load_unaligned(p.offset + k) : B(p.offset[0]));
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
