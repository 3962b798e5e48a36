// lowbit — which elements share a scale.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "checked.hpp"
#include "error.hpp"

LOWBIT_NAMESPACE_BEGIN

/// A row-major 2-D shape. A 1-D tensor of n values is {1, n}.
struct shape2d {
    std::size_t rows = 0;
    std::size_t cols = 0;
    [[nodiscard]] constexpr std::size_t size() const noexcept { return rows * cols; }
    friend constexpr bool operator==(shape2d, shape2d) = default;
};

namespace detail {
/// Throws lowbit::error naming "shape" when rows · cols does not fit std::size_t (size() would
/// wrap), and naming "x" when x does not hold rows · cols values.
inline void require_shape(std::size_t values, shape2d shape) {
    if (mul_overflows(shape.rows,
                      shape.cols))  // the message only then: the check runs on every quantize
        throw error("shape",
                    "rows * cols = " + std::to_string(shape.rows) + " * " +
                        std::to_string(shape.cols) + " overflows std::size_t");
    require(values == shape.size(), "x", "must hold shape.rows * shape.cols values");
}
}  // namespace detail

/// Granularity of the scale: one for the tensor, one per channel (row: axis 0, column: axis 1),
/// or one per group of `group_size` contiguous elements *within a row* (a row whose length is
/// not a multiple of the group size ends in a short group; groups never span two rows).
/// Legal values: `type` one of the three kinds; per_channel `axis` 0 or 1 (a quantizer may
/// allow only 0); per_group `group_size` in 1 … max_group_size (2^32). A group longer than a
/// row is legal and covers the whole row (one scale per row).
struct granularity {
    enum class kind : std::uint8_t { per_tensor, per_channel, per_group };
    kind type = kind::per_tensor;
    int axis = 0;
    std::size_t group_size = 0;

    static constexpr granularity tensor() noexcept { return {kind::per_tensor, 0, 0}; }
    static constexpr granularity channel(int axis = 0) noexcept {
        return {kind::per_channel, axis, 0};
    }
    static constexpr granularity group(std::size_t g) noexcept { return {kind::per_group, 0, g}; }

    /// Throws lowbit::error naming `name`'s field (e.g. "options.gran.group_size") when a field is
    /// outside the legal values above.
    void validate(std::string_view name = "gran") const {
        detail::require_field(
            type == kind::per_tensor || type == kind::per_channel || type == kind::per_group, name,
            "type", "must be per_tensor, per_channel or per_group");
        if (type == kind::per_group) detail::check_group_size(group_size, name, "group_size");
        if (type == kind::per_channel)
            detail::require_field(axis == 0 || axis == 1, name, "axis",
                                  "must be 0 (rows) or 1 (columns)");
    }
    /// The options' check before quantizing a tensor of `shape` (every legal granularity fits every
    /// shape).
    void validate(shape2d shape) const {
        (void)shape;
        validate("options.gran");
    }
    /// Groups per row (per_group only).
    [[nodiscard]] constexpr std::size_t groups_per_row(shape2d s) const noexcept {
        return group_size == 0 ? 0 : detail::ceil_div(s.cols, group_size);
    }
    /// Number of scales this granularity gives a tensor of `shape`: none for an empty tensor,
    /// whatever its other dimension (a {2^27, 0} tensor costs no per-row scales).
    [[nodiscard]] constexpr std::size_t scale_count(shape2d s) const noexcept {
        if (s.rows == 0 || s.cols == 0) return 0;
        switch (type) {
            case kind::per_tensor: return 1;
            case kind::per_channel: return axis == 0 ? s.rows : s.cols;
            case kind::per_group: return s.rows * groups_per_row(s);
        }
        return 0;
    }
    /// Index of the scale that element (r, c) uses.
    [[nodiscard]] constexpr std::size_t scale_index(shape2d s, std::size_t r,
                                                    std::size_t c) const noexcept {
        switch (type) {
            case kind::per_tensor: return 0;
            case kind::per_channel: return axis == 0 ? r : c;
            case kind::per_group: return r * groups_per_row(s) + c / group_size;
        }
        return 0;
    }
};

LOWBIT_NAMESPACE_END
