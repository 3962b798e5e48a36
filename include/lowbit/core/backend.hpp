// lowbit — which kernel path runs a buffer-level operation.
#pragma once
#include <cstdint>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The scalar reference defines the semantics; the SIMD path equals it bit for bit.
enum class backend : std::uint8_t { scalar, simd };

/// Elements processed per chunk by the chunked drivers. Parallel splits fall on multiples of it,
/// so every split starts on a byte boundary of the packed stream for any code width.
inline constexpr std::size_t chunk_elements = 256;

LOWBIT_NAMESPACE_END
