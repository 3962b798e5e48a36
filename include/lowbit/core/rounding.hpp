// lowbit — rounding modes and the counter-based random numbers behind stochastic rounding.
//
// Stochastic rounding draws one uniform number per element from a pure function of
// (seed, element index): no state is carried between elements, so the result does not
// depend on the thread count, the SIMD width or the order in which blocks are processed.
#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>

#include "config.hpp"
#include "error.hpp"

LOWBIT_NAMESPACE_BEGIN

/// How a value between two representable codes picks one.
enum class round_mode : std::uint8_t {
    nearest_even,  ///< to nearest, ties to even (the default; what hardware casts do)
    nearest_away,  ///< to nearest, ties away from zero (std::round)
    toward_zero,   ///< truncation
    floor,         ///< toward −∞
    stochastic,  ///< floor(y + u), u uniform in [0, 1) from (seed, index): unbiased in expectation
    nearest_up,  ///< to nearest, ties toward +∞ (integer formats: as ggml computes it, with the
                 ///< sum y + ½ − qmin rounded to float first: reference::round_int)
    nearest_zero,  ///< to nearest, ties toward zero (ggml's MXFP4: the first closest level)
};

/// Seed and element offset for stochastic rounding. `offset` is the global index of the first
/// element handed to a kernel, so that a split tensor draws the same numbers as a whole one.
struct rounding {
    round_mode mode = round_mode::nearest_even;
    std::uint64_t seed = 0;
};

namespace detail {
/// Checks that r.mode is one of the five modes; errors name `what` (e.g. "options.round.mode").
inline void check_rounding(rounding r, std::string_view what) {
    require(r.mode == round_mode::nearest_even || r.mode == round_mode::nearest_away ||
                r.mode == round_mode::toward_zero || r.mode == round_mode::floor ||
                r.mode == round_mode::stochastic || r.mode == round_mode::nearest_up ||
                r.mode == round_mode::nearest_zero,
            what, "must be a round_mode value");
}
/// A 32-bit integer hash with low bias (xor-shift / multiply, 2 multiplies and 3 shifts).
LOWBIT_HOST_DEVICE constexpr std::uint32_t mix32(std::uint32_t x) noexcept {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}
}  // namespace detail

/// 24 random bits for element `index` under `seed`; a pure function (counter-based RNG).
LOWBIT_HOST_DEVICE constexpr std::uint32_t random_bits24(std::uint64_t seed,
                                                         std::uint64_t index) noexcept {
    const auto lo = static_cast<std::uint32_t>(index);
    const auto hi = static_cast<std::uint32_t>(index >> 32);
    std::uint32_t h = detail::mix32(lo ^ static_cast<std::uint32_t>(seed));
    h = detail::mix32(h ^ (hi + static_cast<std::uint32_t>(seed >> 32) * 0x9e3779b9U));
    return h >> 8;
}

/// The uniform number in [0, 1) used to round element `index` stochastically (exact: k · 2^-24).
LOWBIT_HOST_DEVICE constexpr float random_uniform(std::uint64_t seed,
                                                  std::uint64_t index) noexcept {
    return static_cast<float>(random_bits24(seed, index)) * 0x1p-24f;
}

/// Rounds y to an integral float by `r.mode`; `index` feeds stochastic rounding only.
/// The scalar reference of every kernel's rounding step (assumes the default FP environment).
inline float round_integral(float y, rounding r, std::uint64_t index) noexcept {
    switch (r.mode) {
        case round_mode::nearest_even: return std::nearbyint(y);
        case round_mode::nearest_away: return std::round(y);
        case round_mode::toward_zero: return std::trunc(y);
        case round_mode::floor: return std::floor(y);
        case round_mode::stochastic: return std::floor(y + random_uniform(r.seed, index));
        case round_mode::nearest_up: {  // y − ⌊y⌋ is exact, so the tie test is too
            const float f = std::floor(y);
            return y - f >= 0.5f ? f + 1.0f : f;
        }
        case round_mode::nearest_zero: {
            const float t = std::trunc(y);
            return std::fabs(y - t) > 0.5f ? t + std::copysign(1.0f, y) : t;
        }
    }
    return y;
}

LOWBIT_NAMESPACE_END
