// lowbit — size arithmetic that cannot wrap, for sizes that come from callers or from hand-built
// tensors: a product or sum beyond SIZE_MAX, or a group size that is really a negative number
// converted to size_t, is a lowbit::error naming the field, never a silently small buffer.
#pragma once
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

#include "error.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The largest group or block size an option or a tensor field may hold (2^32 elements). Larger
/// values are almost always a negative number converted to size_t; below it, every
/// `start + group` over a tensor that fits in memory stays far from SIZE_MAX.
inline constexpr std::size_t max_group_size = std::size_t{1} << 32;

namespace detail {

/// True when a · b does not fit std::size_t.
constexpr bool mul_overflows(std::size_t a, std::size_t b) noexcept {
    return b != 0 && a > std::numeric_limits<std::size_t>::max() / b;
}

/// a · b, or lowbit::error naming `what` when the product exceeds SIZE_MAX.
inline std::size_t checked_mul(std::size_t a, std::size_t b, std::string_view what) {
    std::size_t r = 0;
    require(!__builtin_mul_overflow(a, b, &r), what, "overflows size_t");
    return r;
}

/// a + b, or lowbit::error naming `what` when the sum exceeds SIZE_MAX.
inline std::size_t checked_add(std::size_t a, std::size_t b, std::string_view what) {
    std::size_t r = 0;
    require(!__builtin_add_overflow(a, b, &r), what, "overflows size_t");
    return r;
}

/// ⌈a / b⌉ for b > 0 without forming a + b − 1 (which wraps for b near SIZE_MAX).
constexpr std::size_t ceil_div(std::size_t a, std::size_t b) noexcept {
    return a / b + (a % b != 0 ? 1 : 0);
}

/// Throws lowbit::error naming `prefix`.`field` (e.g. "t.gran" + "axis") when `ok` is false; the
/// name is only assembled on failure, so a passing check never allocates.
inline void require_field(bool ok, std::string_view prefix, std::string_view field,
                          std::string_view message) {
    if (!ok) throw error(std::string(prefix) + "." + std::string(field), message);
}

/// Checks a group or block size field: 1 … max_group_size. Errors name `prefix`.`field`, or
/// `prefix` alone when `field` is empty.
inline void check_group_size(std::size_t g, std::string_view prefix, std::string_view field = {}) {
    if (g > 0 && g <= max_group_size) return;
    const std::string what =
        field.empty() ? std::string(prefix) : std::string(prefix) + "." + std::string(field);
    require(g > 0, what, "must be > 0");
    require(false, what, "must be at most 2^32 (a negative size converted to size_t lands above)");
}

/// rows · cols and the bytes of its codes at `bits` bits each, both checked for overflow;
/// returns the element count.
inline std::size_t checked_elements(std::size_t rows, std::size_t cols, int bits,
                                    std::string_view what) {
    const std::size_t n = checked_mul(rows, cols, what);
    checked_add(checked_mul(n, static_cast<std::size_t>(bits), what), 7,
                what);  // packed_size's n · bits + 7
    return n;
}

}  // namespace detail

LOWBIT_NAMESPACE_END
