// lowbit — what every CUDA quantizer shares beyond the format: where an element's scale slot is
// (granularity.hpp flattened for kernels), the 8-element unit's loads and packed stores, and the
// device twin of round_integral.
//
// Units: thread u owns elements 8u … 8u+7, which fill Bits whole bytes of the packed stream
// (packing.cuh); a unit is "uniform" when it never straddles two scale slots, and then the kernels
// look its slot up once (unit_slot) instead of walking element by element (slot_walker).
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../core/rounding.hpp"
#include "packing.cuh"
#include "types.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda::detail {

// ---- element → scale slot ----

/// What the kernels need to find an element's slot (granularity.hpp, flattened).
struct int_layout {
    std::size_t n = 0, rows = 0, cols = 0, group = 0, groups_per_row = 0;
    granularity::kind kind = granularity::kind::per_tensor;
    int axis = 0;
    bool unit_uniform = false;  ///< no 8-element unit straddles two slots: one slot lookup per unit

    static int_layout of(shape2d s, const granularity& g) {
        const bool uniform = g.type == granularity::kind::per_tensor ||
            (g.type == granularity::kind::per_channel && g.axis == 0 && s.cols % 8 == 0) ||
            (g.type == granularity::kind::per_group && g.group_size % 8 == 0 && s.cols % 8 == 0);
        return {s.size(), s.rows, s.cols, g.group_size, g.groups_per_row(s),
                g.type,   g.axis, uniform};
    }
    /// Number of slots.
    [[nodiscard]] __host__ __device__ std::size_t slots() const {
        switch (kind) {
            case granularity::kind::per_tensor: return n ? 1 : 0;
            case granularity::kind::per_channel: return axis == 0 ? rows : cols;
            case granularity::kind::per_group: return rows * groups_per_row;
        }
        return 0;
    }
};

/// Walks consecutive elements and keeps track of their slot with one division at the start.
struct slot_walker {
    std::size_t r = 0, c = 0, s = 0, cg = 0;
    __device__ slot_walker(const int_layout& L, std::size_t i) {
        if (L.kind == granularity::kind::per_tensor) return;
        r = i / L.cols;
        c = i - r * L.cols;
        if (L.kind == granularity::kind::per_channel)
            s = L.axis == 0 ? r : c;
        else {
            cg = c % L.group;
            s = r * L.groups_per_row + c / L.group;
        }
    }
    __device__ void next(const int_layout& L) {
        switch (L.kind) {
            case granularity::kind::per_tensor: return;
            case granularity::kind::per_channel:
                if (++c == L.cols) {
                    c = 0;
                    ++r;
                }
                s = L.axis == 0 ? r : c;
                return;
            case granularity::kind::per_group:
                ++c;
                ++cg;
                if (c == L.cols) {
                    c = 0;
                    cg = 0;
                    ++r;
                    ++s;
                } else if (cg == L.group) {
                    cg = 0;
                    ++s;
                }
                return;
        }
    }
};

/// Elements of slot s: x[start + j·stride], j < count.
struct slot_span {
    std::size_t start, count, stride;
};
__device__ __forceinline__ slot_span span_of(const int_layout& L, std::size_t s) {
    switch (L.kind) {
        case granularity::kind::per_tensor: return {0, L.n, 1};
        case granularity::kind::per_channel:
            return L.axis == 0 ? slot_span{s * L.cols, L.cols, 1} : slot_span{s, L.rows, L.cols};
        case granularity::kind::per_group: {
            const std::size_t r = s / L.groups_per_row, g = s % L.groups_per_row;
            const std::size_t c0 = g * L.group, c1 = c0 + L.group < L.cols ? c0 + L.group : L.cols;
            return {r * L.cols + c0, c1 - c0, 1};
        }
    }
    return {0, 0, 1};
}

/// a / b: a shift for powers of two, else 32-bit arithmetic when both fit (a 64-bit division
/// costs several times more).
__device__ __forceinline__ std::size_t divide(std::size_t a, std::size_t b) {
    if ((b & (b - 1)) == 0) return a >> (__ffsll(static_cast<long long>(b)) - 1);
    if ((a | b) >> 32 == 0) return static_cast<std::uint32_t>(a) / static_cast<std::uint32_t>(b);
    return a / b;
}

/// The slot of element i when a unit never straddles two slots (see unit_uniform).
__device__ __forceinline__ std::size_t unit_slot(const int_layout& L, std::size_t i) {
    switch (L.kind) {
        case granularity::kind::per_tensor: return 0;
        case granularity::kind::per_channel: return divide(i, L.cols);  // rows (axis 0)
        case granularity::kind::per_group: {
            if (L.cols % L.group == 0) return divide(i, L.group);
            const std::size_t r = divide(i, L.cols);
            return r * L.groups_per_row + divide(i - r * L.cols, L.group);
        }
    }
    return 0;
}

/// round_integral (core/rounding.hpp) on the device.
__device__ __forceinline__ float round_device(float y, const rounding& r, std::uint64_t index) {
    switch (r.mode) {
        case round_mode::nearest_even: return rintf(y);
        case round_mode::nearest_away: return roundf(y);
        case round_mode::toward_zero: return truncf(y);
        case round_mode::floor: return floorf(y);
        case round_mode::stochastic: return floorf(__fadd_rn(y, random_uniform(r.seed, index)));
        case round_mode::nearest_up: {
            const float f = floorf(y);
            return __fsub_rn(y, f) >= 0.5f ? __fadd_rn(f, 1.0f) : f;
        }
        case round_mode::nearest_zero: {
            const float t = truncf(y);
            return fabsf(__fsub_rn(y, t)) > 0.5f ? __fadd_rn(t, copysignf(1.0f, y)) : t;
        }
    }
    return y;
}

template <class In>
__device__ __forceinline__ int load_unit_values(const In* x, std::size_t n, std::size_t u,
                                                float (&v)[8], bool vec) {
    const std::size_t i0 = u * 8;
    if (i0 + 8 <= n) {
        load8(x + i0, v, vec);
        return 8;
    }
    const int m = i0 < n ? int(n - i0) : 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = k < m ? to_float(x[i0 + k]) : 0.0f;
    return m;
}

/// Writes the codes of unit u (m valid) in the tensor's layout. ggml_split passes codes from lane
/// u + 2 to lane u with a shuffle, so every lane of the warp must call this (m = 0 past the end);
/// `code_at(i)` recomputes one element's code for a short last 32-block.
template <int Bits, class CodeAt>
__device__ __forceinline__ void write_codes(std::uint8_t* packed, std::size_t n, std::size_t u,
                                            std::uint64_t codes, int m, nibble_order order,
                                            bool aligned, CodeAt&& code_at) {
    if (Bits == 4 && order == nibble_order::ggml_split) {
        const std::uint64_t partner = __shfl_down_sync(0xffffffffu, codes, 2);
        if (m == 0) return;
        const std::size_t start = u / 4 * 32, q = u % 4;
        if (n - start >= 32) {
            if (q < 2)
                write_bytes<8>(packed + start / 2 + q * 8, pack_split8(codes, partner), 8, aligned);
        } else if (q == 0) {  // short last block: h = ceil(m/2) bytes, byte j holds j and j + h
            const std::size_t mb = n - start, h = (mb + 1) / 2;
            for (std::size_t j = 0; j < h; ++j) {
                unsigned b = code_at(start + j) & 0xfu;
                if (j + h < mb) b |= unsigned(code_at(start + j + h) & 0xfu) << 4;
                packed[start / 2 + j] = static_cast<std::uint8_t>(b);
            }
        }
        return;
    }
    if (m > 0) store_unit<Bits>(packed, u, codes, m, order, aligned);
}

}  // namespace cuda::detail
LOWBIT_NAMESPACE_END
