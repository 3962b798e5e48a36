// lowbit — laying Bits-wide codes into bytes, and back.
//
// Layout (frozen by tests/test_packing.cpp's golden bytes):
//   a dense little-endian bit stream, low bits first. Element i occupies stream bits
//   [i·b, (i+1)·b); stream bit k is bit (k mod 8) of byte k / 8. So for b = 4 element 0 is
//   the low nibble of byte 0; for b = 3, 5, 6, 7 codes span byte boundaries (6-bit: 4 codes
//   in 3 bytes). n codes take ceil(n·b / 8) bytes; the unused high bits of the last byte are 0.
//
// The 4-bit layout is a parameter because the ecosystem disagrees (nibble_order):
//   low_first   element 2j in the low nibble of byte j   (default; PyTorch float4_e2m1fn_x2, ONNX)
//   high_first  element 2j in the high nibble of byte j  (bitsandbytes)
//   ggml_split  blocks of 32 elements in 16 bytes: byte j holds element j (low nibble) and
//               j + 16 (high nibble) (ggml Q4_0/Q4_1/MXFP4). A short last block of m < 32
//               elements uses h = ceil(m / 2) bytes: byte j holds j and j + h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "error.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Where the two 4-bit codes of a byte go; see the file comment.
enum class nibble_order : std::uint8_t { low_first, high_first, ggml_split };

/// Bytes needed to hold n codes of `bits` bits.
constexpr std::size_t packed_size(std::size_t n, int bits) noexcept {
    return (n * static_cast<std::size_t>(bits) + 7) / 8;
}

namespace detail {
inline void check_bits(int bits) { require(bits >= 1 && bits <= 8, "bits", "must be in 1 … 8"); }
/// Checks that `order` is one of the three orders and exists for `bits`-bit codes; errors name
/// `what`.
inline void check_order(int bits, nibble_order order, std::string_view what = "order") {
    require(order == nibble_order::low_first || order == nibble_order::high_first ||
                order == nibble_order::ggml_split,
            what, "must be low_first, high_first or ggml_split");
    require(order == nibble_order::low_first || bits == 4, what,
            "high_first and ggml_split nibble orders exist only for 4-bit codes");
}
/// ggml_split position: byte and nibble (0 low, 1 high) of element i among n.
constexpr void split_position(std::size_t i, std::size_t n, std::size_t& byte, int& high) noexcept {
    const std::size_t block = i / 32, start = block * 32;
    const std::size_t m = (n - start) < 32 ? (n - start) : 32;
    const std::size_t h = (m + 1) / 2, j = i - start;
    byte = start / 2 + (j < h ? j : j - h);
    high = j < h ? 0 : 1;
}
}  // namespace detail

/// Scalar reference: packs codes[0 … n) (each < 2^bits; higher bits are ignored) into `out`,
/// which must hold packed_size(n, bits) bytes. Overwrites those bytes completely.
inline void pack_reference(std::span<const std::uint8_t> codes, int bits,
                           std::span<std::uint8_t> out,
                           nibble_order order = nibble_order::low_first) {
    detail::check_bits(bits);
    detail::check_order(bits, order);
    const std::size_t n = codes.size();
    detail::require(out.size() >= packed_size(n, bits), "out",
                    "is smaller than packed_size(n, bits)");
    if (n != 0) std::memset(out.data(), 0, packed_size(n, bits));  // memset(nullptr, 0, 0) is UB
    const unsigned mask = (1u << bits) - 1u;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned c = codes[i] & mask;
        if (order == nibble_order::ggml_split) {
            std::size_t byte = 0;
            int high = 0;
            detail::split_position(i, n, byte, high);
            out[byte] = static_cast<std::uint8_t>(out[byte] | (c << (4 * high)));
            continue;
        }
        if (order == nibble_order::high_first) {
            out[i / 2] = static_cast<std::uint8_t>(out[i / 2] | (c << (i % 2 == 0 ? 4 : 0)));
            continue;
        }
        for (int k = 0; k < bits; ++k) {  // one stream bit at a time: the definition
            const std::size_t bit =
                i * static_cast<std::size_t>(bits) + static_cast<std::size_t>(k);
            out[bit / 8] = static_cast<std::uint8_t>(out[bit / 8] | (((c >> k) & 1u) << (bit % 8)));
        }
    }
}

/// Scalar reference: unpacks n = codes.size() codes from `in` (packed_size(n, bits) bytes).
inline void unpack_reference(std::span<const std::uint8_t> in, int bits,
                             std::span<std::uint8_t> codes,
                             nibble_order order = nibble_order::low_first) {
    detail::check_bits(bits);
    detail::check_order(bits, order);
    const std::size_t n = codes.size();
    detail::require(in.size() >= packed_size(n, bits), "in",
                    "holds fewer than packed_size(n, bits) bytes");
    for (std::size_t i = 0; i < n; ++i) {
        if (order == nibble_order::ggml_split) {
            std::size_t byte = 0;
            int high = 0;
            detail::split_position(i, n, byte, high);
            codes[i] = static_cast<std::uint8_t>((in[byte] >> (4 * high)) & 0xFu);
            continue;
        }
        if (order == nibble_order::high_first) {
            codes[i] = static_cast<std::uint8_t>((in[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xFu);
            continue;
        }
        unsigned c = 0;
        for (int k = 0; k < bits; ++k) {
            const std::size_t bit =
                i * static_cast<std::size_t>(bits) + static_cast<std::size_t>(k);
            c |= ((in[bit / 8] >> (bit % 8)) & 1u) << k;
        }
        codes[i] = static_cast<std::uint8_t>(c);
    }
}

LOWBIT_NAMESPACE_END
