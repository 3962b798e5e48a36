// lowbit — how a scale itself is stored: float, Eigen::half or Eigen::bfloat16.
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>

#include <Eigen/Core>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The scale storage types the generic quantizers accept.
template <class T>
concept scale_storage = std::is_same_v<T, float> || std::is_same_v<T, Eigen::half> ||
    std::is_same_v<T, Eigen::bfloat16>;

/// Rounds a float scale to its storage type (nearest-even). Finite scales beyond the storage
/// type's range saturate to its largest finite value (documented saturation, never Inf).
template <scale_storage T>
inline T store_scale(float s) noexcept {
    if constexpr (std::is_same_v<T, float>) {
        return s;
    } else {
        const float hi = static_cast<float>(Eigen::NumTraits<T>::highest());
        if (std::isfinite(s) && std::fabs(s) > hi) s = std::copysign(hi, s);
        return T(s);
    }
}

/// The float value of a stored scale.
template <scale_storage T>
inline float load_scale(T s) noexcept {
    return static_cast<float>(s);
}

/// Bits a stored scale occupies.
template <scale_storage T>
inline constexpr int scale_bits = static_cast<int>(sizeof(T) * 8);

LOWBIT_NAMESPACE_END
