// lowbit — the blockwise normalised fast Walsh–Hadamard transform (FWHT).
//
// H_h is the Sylvester–Hadamard matrix of order h (h a power of two), H_1 = [1],
// H_2h = [[H_h, H_h], [H_h, −H_h]], scaled by 1/√h so that it is orthonormal and symmetric,
// hence its own inverse. It is applied in place along the last axis of a row-major matrix.
//
// Covering a row (the decision the BBQ issue asks for): a row of n values is cut, left to
// right, into blocks of H while at least H values remain; the rest r < H is cut into the
// powers of two of its binary expansion, largest first (172 = 128 + 32 + 8 + 4 with H = 128,
// 96 = 64 + 32, 27 = 16 + 8 + 2 + 1; a block of 1 is the identity). Every block is
// transformed by its own H_h / √h. The whole map is block-diagonal and orthonormal, needs no
// padding (the codes of a tensor stay one per value) and never mixes two rows, so for
// y = W·x the same map applied to the rows of W and to x gives (W·Hᵀ)(H·x) = W·x: an integer
// matrix product on the codes stays correct on every row length.
//
// Arithmetic (what the SIMD and CUDA kernels must reproduce bit for bit): in float, stages in
// order of increasing distance len = 1, 2, 4, …, h/2; in each stage, for every pair (j, j + len)
// with bit len of j clear: a = x[j], b = x[j + len]; x[j] = a + b; x[j + len] = a − b. Then every
// value is multiplied once by c_h = float(1 / √h) (exact for h a power of four). Non-finite
// inputs spread through their block (Inf − Inf is NaN); which NaN an addition of two NaNs
// returns is left open by IEEE 754 and by compilers, so NaN payloads and signs are not part of
// this contract — every other bit is.
#pragma once
#include <bit>
#include <cmath>
#include <cstddef>

#include "../core/error.hpp"
#include "../core/granularity.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Largest Hadamard block the library supports (2^15).
inline constexpr std::size_t hadamard_max_block = std::size_t{1} << 15;

/// True when h is a supported block size: a power of two in 2 … 2^15.
constexpr bool is_hadamard_size(std::size_t h) noexcept {
    return h >= 2 && h <= hadamard_max_block && std::has_single_bit(h);
}

/// The size of the block that starts `remaining` values before the end of a row, for blocks of
/// at most H: H while remaining >= H, else the largest power of two <= remaining.
constexpr std::size_t hadamard_block_at(std::size_t remaining, std::size_t H) noexcept {
    return remaining >= H ? H : std::bit_floor(remaining);
}

/// The normalisation c_h = float(1/√h) of a block of h values.
inline float hadamard_norm(std::size_t h) noexcept {
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(h)));
}

namespace detail {
inline void check_hadamard(std::size_t H) {
    require(is_hadamard_size(H), "H", "must be a power of two in 2 … 32768");
}
}  // namespace detail

namespace reference {

/// Unnormalised butterflies of one block of h values (h a power of two, 1 allowed).
inline void fwht_unnormalized(float* x, std::size_t h) noexcept {
    for (std::size_t len = 1; len < h; len *= 2)
        for (std::size_t i = 0; i < h; i += 2 * len)
            for (std::size_t j = i; j < i + len; ++j) {
                const float a = x[j], b = x[j + len];
                x[j] = a + b;
                x[j + len] = a - b;
            }
}

/// Normalised transform of one block of h values in place: x ← (H_h / √h) · x.
inline void hadamard_block(float* x, std::size_t h) noexcept {
    if (h <= 1) return;
    fwht_unnormalized(x, h);
    const float c = hadamard_norm(h);
    for (std::size_t i = 0; i < h; ++i) x[i] *= c;
}

/// Scalar reference: transforms every row of a row-major `shape` matrix in place with blocks
/// of at most H (see the file comment for how a row that is not a multiple of H is covered).
inline void hadamard_rows(float* x, shape2d shape, std::size_t H) {
    detail::check_hadamard(H);
    for (std::size_t r = 0; r < shape.rows; ++r) {
        float* row = x + r * shape.cols;
        for (std::size_t pos = 0; pos < shape.cols;) {
            const std::size_t h = hadamard_block_at(shape.cols - pos, H);
            hadamard_block(row + pos, h);
            pos += h;
        }
    }
}

}  // namespace reference

LOWBIT_NAMESPACE_END
