// lowbit — SIMD rounding, equal bit for bit to round_integral() in core/rounding.hpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "../core/rounding.hpp"
#include "primitives.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// The uniforms random_uniform(seed, index0 + lane) for every lane. Precondition: the low
/// 32 bits of index0 + lane do not wrap (callers take the scalar path when they would).
template <class Arch>
inline fbatch<Arch> random_uniform_batch(std::uint64_t seed, std::uint64_t index0) noexcept {
    using ubatch = xsimd::batch<std::uint32_t, Arch>;
    alignas(64) std::uint32_t lanes[ubatch::size];
    for (std::size_t l = 0; l < ubatch::size; ++l) lanes[l] = static_cast<std::uint32_t>(l);
    const ubatch lo = ubatch(static_cast<std::uint32_t>(index0)) + ubatch::load_aligned(lanes);
    const auto hi = static_cast<std::uint32_t>(index0 >> 32);
    auto mix = [](ubatch x) {
        x ^= x >> 16;
        x *= ubatch(0x7feb352dU);
        x ^= x >> 15;
        x *= ubatch(0x846ca68bU);
        x ^= x >> 16;
        return x;
    };
    ubatch h = mix(lo ^ ubatch(static_cast<std::uint32_t>(seed)));
    h = mix(h ^ ubatch(hi + static_cast<std::uint32_t>(seed >> 32) * 0x9e3779b9U));
    h = h >> 8;
    return xsimd::batch_cast<float>(xsimd::bitwise_cast<xsimd::batch<std::int32_t, Arch>>(h)) *
        fbatch<Arch>(0x1p-24f);
}

/// True when index0 … index0 + lanes − 1 share their high 32 bits (random_uniform_batch's
/// precondition).
template <class Arch>
constexpr bool lanes_share_high_word(std::uint64_t index0) noexcept {
    return (index0 >> 32) == ((index0 + fbatch<Arch>::size - 1) >> 32);
}

/// Rounds every lane as round_integral(y, r, index0 + lane) does.
template <class Arch>
inline fbatch<Arch> round_integral(fbatch<Arch> y, rounding r, std::uint64_t index0) noexcept {
    switch (r.mode) {
        case round_mode::nearest_even: return xsimd::nearbyint(y);
        case round_mode::nearest_away: return xsimd::round(y);
        case round_mode::toward_zero: return xsimd::trunc(y);
        case round_mode::floor: return xsimd::floor(y);
        case round_mode::stochastic:
            return xsimd::floor(y + random_uniform_batch<Arch>(r.seed, index0));
        case round_mode::nearest_up: {
            using B = fbatch<Arch>;
            const B f = xsimd::floor(y);
            return xsimd::select(y - f >= B(0.5f), f + B(1.0f), f);
        }
        case round_mode::nearest_zero: {
            using B = fbatch<Arch>;
            const B t = xsimd::trunc(y);
            return xsimd::select(xsimd::abs(y - t) > B(0.5f), t + xsimd::copysign(B(1.0f), y), t);
        }
    }
    return y;
}

}  // namespace simd
LOWBIT_NAMESPACE_END
