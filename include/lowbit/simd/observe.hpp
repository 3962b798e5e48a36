// lowbit — SIMD observers shared by every family: the finite absmax and min/max of a run.
// Each equals its scalar twin in scale/rules.hpp exactly (a maximum or minimum does not depend
// on the order in which it is taken); callers canonicalise −0 to +0 where it matters.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "primitives.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace reference {
/// Largest |x| bit pattern of x[0 … n) (the scalar twin of simd::max_magnitude_bits).
inline std::uint32_t max_magnitude_bits(const float* x, std::size_t n) noexcept {
    std::uint32_t m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t a;
        std::memcpy(&a, x + i, sizeof a);
        a &= 0x7FFFFFFFu;
        m = a > m ? a : m;
    }
    return m;
}
}  // namespace reference

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
        const B a0 = xsimd::abs(B::load_unaligned(x + i)),
                a1 = xsimd::abs(B::load_unaligned(x + i + W));
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
    if (l > h) {
        l = 0.0f;
        h = 0.0f;
    }
    lo = l;
    hi = h;
}

/// Largest |x| bit pattern (x's bits with the sign cleared) of x[0 … n), 0 when n = 0: above
/// 0x7F7FFFFF when some x is ±Inf or NaN, and ordered like |x| otherwise. Equals
/// reference::max_magnitude_bits (an integer maximum).
template <class Arch = xsimd::default_arch>
inline std::uint32_t max_magnitude_bits(const float* x, std::size_t n) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    const I mask(0x7FFFFFFF);
    I m0(0), m1(0);
    std::size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        m0 = xsimd::max(m0, xsimd::bitwise_cast<I>(B::load_unaligned(x + i)) & mask);
        m1 = xsimd::max(m1, xsimd::bitwise_cast<I>(B::load_unaligned(x + i + W)) & mask);
    }
    for (; i + W <= n; i += W)
        m0 = xsimd::max(m0, xsimd::bitwise_cast<I>(B::load_unaligned(x + i)) & mask);
    alignas(64) std::int32_t lanes[W];
    xsimd::max(m0, m1).store_aligned(lanes);
    std::uint32_t m = 0;
    for (std::size_t l = 0; l < W; ++l)
        m = std::uint32_t(lanes[l]) > m ? std::uint32_t(lanes[l]) : m;
    if (i < n) {
        const std::uint32_t t = reference::max_magnitude_bits(x + i, n - i);
        m = t > m ? t : m;
    }
    return m;
}

}  // namespace simd
LOWBIT_NAMESPACE_END
