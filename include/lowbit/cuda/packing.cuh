// lowbit — device packing of 8 codes at a time, the unit every CUDA kernel works in.
//
// The layouts are core/packing.hpp's (the CPU reference defines them). Eight Bits-wide codes
// fill exactly Bits bytes of the little-endian stream, so unit u (elements 8u … 8u+7) owns
// bytes [u·Bits, (u+1)·Bits) and no two threads ever share a byte:
//   low_first    stream bit k of the unit = bit k mod 8 of byte k / 8; code j at bits [j·Bits,
//   (j+1)·Bits) high_first   (4-bit) byte j = code 2j << 4 | code 2j+1 ggml_split   (4-bit) a
//   32-block is 4 units q = 0…3 sharing 16 bytes: byte j holds element j
//                (low nibble) and j + 16 (high); units q and q + 2 meet in bytes 8q … 8q+7, so the
//                encoders pass codes between neighbouring lanes (a warp shuffle). A short last
//                block (m < 32 elements) has its own h = ceil(m/2) split and is done element-wise.
// Codes travel as a uint64 with code j in byte j ("codes64").
#pragma once
#include <cstddef>
#include <cstdint>

#include "../core/packing.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace cuda::detail {

/// Packs the low Bits bits of 8 codes into the low 8·Bits bits of the result (low_first).
template <int Bits>
__device__ __forceinline__ std::uint64_t pack_stream8(std::uint64_t codes) {
    constexpr std::uint64_t mask = (1u << Bits) - 1u;
    std::uint64_t acc = 0;
#pragma unroll
    for (int j = 0; j < 8; ++j) acc |= ((codes >> (8 * j)) & mask) << (j * Bits);
    return acc;
}
/// The inverse of pack_stream8.
template <int Bits>
__device__ __forceinline__ std::uint64_t unpack_stream8(std::uint64_t packed) {
    constexpr std::uint64_t mask = (1u << Bits) - 1u;
    std::uint64_t codes = 0;
#pragma unroll
    for (int j = 0; j < 8; ++j) codes |= ((packed >> (j * Bits)) & mask) << (8 * j);
    return codes;
}
/// 4-bit high_first: byte j = code 2j << 4 | code 2j+1, as the low 32 bits of the result.
__device__ __forceinline__ std::uint64_t pack_high_first8(std::uint64_t codes) {
    std::uint64_t acc = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j)
        acc |= (((codes >> (16 * j)) & 0xfu) << 4 | ((codes >> (16 * j + 8)) & 0xfu)) << (8 * j);
    return acc;
}
__device__ __forceinline__ std::uint64_t unpack_high_first8(std::uint64_t packed) {
    std::uint64_t codes = 0;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const std::uint64_t b = (packed >> (8 * j)) & 0xffu;
        codes |= (b >> 4) << (16 * j) | (b & 0xfu) << (16 * j + 8);
    }
    return codes;
}
/// ggml_split: byte j = lo code j | hi code j << 4, for 8 bytes.
__device__ __forceinline__ std::uint64_t pack_split8(std::uint64_t lo, std::uint64_t hi) {
    return (lo & 0x0f0f0f0f0f0f0f0full) | (hi & 0x0f0f0f0f0f0f0f0full) << 4;
}

/// Writes the low `nbytes` bytes of v to p; one wide store when the unit is whole and aligned.
template <int Bytes>
__device__ __forceinline__ void write_bytes(std::uint8_t* p, std::uint64_t v, int nbytes,
                                            bool aligned) {
    if (nbytes == Bytes && aligned) {
        if constexpr (Bytes == 8) {
            *reinterpret_cast<std::uint64_t*>(p) = v;
            return;
        }
        if constexpr (Bytes == 4) {
            *reinterpret_cast<std::uint32_t*>(p) = static_cast<std::uint32_t>(v);
            return;
        }
        if constexpr (Bytes == 2) {
            *reinterpret_cast<std::uint16_t*>(p) = static_cast<std::uint16_t>(v);
            return;
        }
    }
    for (int k = 0; k < nbytes; ++k) p[k] = static_cast<std::uint8_t>(v >> (8 * k));
}
/// Reads `nbytes` bytes from p into the low bytes of the result (the rest 0).
template <int Bytes>
__device__ __forceinline__ std::uint64_t read_bytes(const std::uint8_t* p, int nbytes,
                                                    bool aligned) {
    if (nbytes == Bytes && aligned) {
        if constexpr (Bytes == 8) return __ldg(reinterpret_cast<const unsigned long long*>(p));
        if constexpr (Bytes == 4) return __ldg(reinterpret_cast<const unsigned int*>(p));
        if constexpr (Bytes == 2) return __ldg(reinterpret_cast<const unsigned short*>(p));
    }
    std::uint64_t v = 0;
    for (int k = 0; k < nbytes; ++k) v |= std::uint64_t(p[k]) << (8 * k);
    return v;
}

/// Stores the codes of unit u (m ≤ 8 valid codes) in a low_first or high_first stream; a
/// short unit writes packed_size(m, Bits) bytes, its unused high bits 0.
template <int Bits>
__device__ __forceinline__ void store_unit(std::uint8_t* packed, std::size_t u, std::uint64_t codes,
                                           int m, nibble_order order, bool aligned) {
    std::uint8_t* p = packed + u * Bits;
    const int nbytes = (m * Bits + 7) / 8;
    if (Bits == 4 && order == nibble_order::high_first)
        write_bytes<4>(p, pack_high_first8(codes), nbytes, aligned);
    else
        write_bytes<Bits>(p, pack_stream8<Bits>(codes), nbytes, aligned);
}
/// Loads the codes of unit u (m ≤ 8 valid) from a low_first or high_first stream.
template <int Bits>
__device__ __forceinline__ std::uint64_t load_unit(const std::uint8_t* packed, std::size_t u, int m,
                                                   nibble_order order, bool aligned) {
    const std::uint8_t* p = packed + u * Bits;
    const int nbytes = (m * Bits + 7) / 8;
    if (Bits == 4 && order == nibble_order::high_first)
        return unpack_high_first8(read_bytes<4>(p, nbytes, aligned));
    return unpack_stream8<Bits>(read_bytes<Bits>(p, nbytes, aligned));
}

/// Device twin of lowbit::detail::split_position: byte and nibble (0 low, 1 high) of element i
/// among n under ggml_split.
__device__ __forceinline__ void split_position(std::size_t i, std::size_t n, std::size_t& byte,
                                               int& high) {
    const std::size_t start = i / 32 * 32, m = (n - start) < 32 ? (n - start) : 32;
    const std::size_t h = (m + 1) / 2, j = i - start;
    byte = start / 2 + (j < h ? j : j - h);
    high = j < h ? 0 : 1;
}

/// The code of element i of n under ggml_split (for the short last block).
__device__ __forceinline__ std::uint8_t split_load(const std::uint8_t* packed, std::size_t i,
                                                   std::size_t n) {
    std::size_t byte = 0;
    int high = 0;
    split_position(i, n, byte, high);
    return static_cast<std::uint8_t>((packed[byte] >> (4 * high)) & 0xfu);
}

}  // namespace cuda::detail
LOWBIT_NAMESPACE_END
