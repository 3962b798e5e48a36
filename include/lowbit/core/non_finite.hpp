// lowbit — what a quantizer does with a non-finite input (±Inf, NaN) in a format that has no
// code for it and mixes it with its neighbours (docs/formats.md, "Non-finite inputs", has the
// table).
#pragma once
#include <cstdint>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Policy for ±Inf and NaN inputs where one would otherwise spread through a block.
enum class non_finite : std::uint8_t {
    error,  ///< throw lowbit::error naming "x" and the first non-finite index
    saturate,  ///< NaN → 0, ±Inf → ± the largest finite |x| of its block, then quantize as finite
};

LOWBIT_NAMESPACE_END
