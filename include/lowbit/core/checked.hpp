// lowbit — size arithmetic that cannot wrap: shapes and file headers come from callers and
// files, and a product that wraps around std::size_t would size a buffer too small.
#pragma once
#include <cstddef>
#include <limits>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
/// True when a · b does not fit std::size_t.
constexpr bool mul_overflows(std::size_t a, std::size_t b) noexcept {
    return b != 0 && a > std::numeric_limits<std::size_t>::max() / b;
}
}  // namespace detail

LOWBIT_NAMESPACE_END
