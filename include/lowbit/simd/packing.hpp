// lowbit — fast packing: eight codes at a time through one 64-bit word.
//
// Eight b-bit codes are exactly b bytes of the stream, so the stream is built word by word:
// w = Σ c_k << (k·b), then the low b bytes of w are stored (little-endian hosts; others take
// the reference path). The compiler vectorises the inner loops. Must equal
// pack_reference / unpack_reference byte for byte (tests/test_packing.cpp).
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "../core/packing.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {

template <int Bits>
inline void pack_stream(const std::uint8_t* codes, std::size_t n, std::uint8_t* out) noexcept {
    constexpr std::uint64_t mask = (1u << Bits) - 1u;
    const std::size_t full = n / 8;
    if constexpr (Bits == 8) {
        std::memcpy(out, codes, n);
        return;
    }
    if constexpr (Bits == 4) {
        // Eight codes c0..c7 in the bytes of b: b | b >> 4 puts c_{2k} | c_{2k+1} << 4 in byte 2k;
        // gather the even bytes (about 1.5 operations a code).
        for (std::size_t c = 0; c < full; ++c) {
            std::uint64_t b;
            std::memcpy(&b, codes + c * 8, 8);
            b &= 0x0F0F0F0F0F0F0F0FULL;
            b = (b | (b >> 4)) & 0x00FF00FF00FF00FFULL;
            b = (b | (b >> 8)) & 0x0000FFFF0000FFFFULL;
            b = (b | (b >> 16));
            const auto w = static_cast<std::uint32_t>(b);
            std::memcpy(out + c * 4, &w, 4);
        }
    } else {
        for (std::size_t c = 0; c < full; ++c) {
            std::uint64_t w = 0;
            for (int k = 0; k < 8; ++k) w |= (codes[c * 8 + k] & mask) << (k * Bits);
            std::memcpy(out + c * Bits, &w, Bits);
        }
    }
    const std::size_t rest = n - full * 8;
    if (rest != 0) {
        std::uint64_t w = 0;
        for (std::size_t k = 0; k < rest; ++k) w |= (codes[full * 8 + k] & mask) << (k * Bits);
        std::memcpy(out + full * Bits, &w, (rest * Bits + 7) / 8);
    }
}

template <int Bits>
inline void unpack_stream(const std::uint8_t* in, std::size_t n, std::uint8_t* codes) noexcept {
    constexpr std::uint64_t mask = (1u << Bits) - 1u;
    const std::size_t full = n / 8;
    if constexpr (Bits == 8) {
        std::memcpy(codes, in, n);
        return;
    }
    if constexpr (Bits == 4) {
        // The inverse spread: four bytes → eight, nibble k of the word into byte k.
        for (std::size_t c = 0; c < full; ++c) {
            std::uint32_t w;
            std::memcpy(&w, in + c * 4, 4);
            std::uint64_t b = w;
            b = (b | (b << 16)) & 0x0000FFFF0000FFFFULL;
            b = (b | (b << 8)) & 0x00FF00FF00FF00FFULL;
            b = (b | (b << 4)) & 0x0F0F0F0F0F0F0F0FULL;
            std::memcpy(codes + c * 8, &b, 8);
        }
    } else {
        // Read whole 8-byte words while they lie inside the stream (a Bits-byte read into a
        // zeroed word would stall on store forwarding), then mask to the Bits bytes of the group.
        const std::size_t bytes = (n * Bits + 7) / 8;
        constexpr std::uint64_t group_mask = Bits == 8 ? ~0ULL : (1ULL << (8 * Bits)) - 1;
        std::size_t c = 0;
        for (; c < full && c * Bits + 8 <= bytes; ++c) {
            std::uint64_t w;
            std::memcpy(&w, in + c * Bits, 8);
            w &= group_mask;
            for (int k = 0; k < 8; ++k)
                codes[c * 8 + k] = static_cast<std::uint8_t>((w >> (k * Bits)) & mask);
        }
        for (; c < full; ++c) {
            std::uint64_t w = 0;
            std::memcpy(&w, in + c * Bits, Bits);
            for (int k = 0; k < 8; ++k)
                codes[c * 8 + k] = static_cast<std::uint8_t>((w >> (k * Bits)) & mask);
        }
    }
    const std::size_t rest = n - full * 8;
    if (rest != 0) {
        std::uint64_t w = 0;
        std::memcpy(&w, in + full * Bits, (rest * Bits + 7) / 8);
        for (std::size_t k = 0; k < rest; ++k)
            codes[full * 8 + k] = static_cast<std::uint8_t>((w >> (k * Bits)) & mask);
    }
}

inline void pack_nibbles_high_first(const std::uint8_t* codes, std::size_t n,
                                    std::uint8_t* out) noexcept {
    for (std::size_t j = 0; j < n / 2; ++j)
        out[j] =
            static_cast<std::uint8_t>(((codes[2 * j] & 0xFu) << 4) | (codes[2 * j + 1] & 0xFu));
    if (n % 2) out[n / 2] = static_cast<std::uint8_t>((codes[n - 1] & 0xFu) << 4);
}

inline void unpack_nibbles_high_first(const std::uint8_t* in, std::size_t n,
                                      std::uint8_t* codes) noexcept {
    for (std::size_t j = 0; j < n / 2; ++j) {
        codes[2 * j] = static_cast<std::uint8_t>(in[j] >> 4);
        codes[2 * j + 1] = static_cast<std::uint8_t>(in[j] & 0xFu);
    }
    if (n % 2) codes[n - 1] = static_cast<std::uint8_t>(in[n / 2] >> 4);
}

inline void pack_nibbles_split(const std::uint8_t* codes, std::size_t n,
                               std::uint8_t* out) noexcept {
    for (std::size_t start = 0; start < n; start += 32) {
        const std::size_t m = n - start < 32 ? n - start : 32, h = (m + 1) / 2;
        std::uint8_t* o = out + start / 2;
        for (std::size_t j = 0; j < h; ++j) {
            const unsigned hi = j + h < m ? (codes[start + j + h] & 0xFu) : 0u;
            o[j] = static_cast<std::uint8_t>((codes[start + j] & 0xFu) | (hi << 4));
        }
    }
}

inline void unpack_nibbles_split(const std::uint8_t* in, std::size_t n,
                                 std::uint8_t* codes) noexcept {
    for (std::size_t start = 0; start < n; start += 32) {
        const std::size_t m = n - start < 32 ? n - start : 32, h = (m + 1) / 2;
        const std::uint8_t* b = in + start / 2;
        for (std::size_t j = 0; j < h; ++j) {
            codes[start + j] = static_cast<std::uint8_t>(b[j] & 0xFu);
            if (j + h < m) codes[start + j + h] = static_cast<std::uint8_t>(b[j] >> 4);
        }
    }
}

template <class F>
inline decltype(auto) with_bits(int bits, F&& f) {
    switch (bits) {
        case 1: return f(std::integral_constant<int, 1>{});
        case 2: return f(std::integral_constant<int, 2>{});
        case 3: return f(std::integral_constant<int, 3>{});
        case 4: return f(std::integral_constant<int, 4>{});
        case 5: return f(std::integral_constant<int, 5>{});
        case 6: return f(std::integral_constant<int, 6>{});
        case 7: return f(std::integral_constant<int, 7>{});
        default: return f(std::integral_constant<int, 8>{});
    }
}

}  // namespace detail

/// Packs codes into `out` (packed_size(codes.size(), bits) bytes, overwritten). Fast path;
/// byte-identical to pack_reference.
inline void pack(std::span<const std::uint8_t> codes, int bits, std::span<std::uint8_t> out,
                 nibble_order order = nibble_order::low_first) {
    detail::check_bits(bits);
    detail::check_order(bits, order);
    const std::size_t n = codes.size();
    detail::require(out.size() >= packed_size(n, bits), "out",
                    "is smaller than packed_size(n, bits)");
    if (n == 0) return;
    if (order == nibble_order::high_first)
        return detail::pack_nibbles_high_first(codes.data(), n, out.data());
    if (order == nibble_order::ggml_split)
        return detail::pack_nibbles_split(codes.data(), n, out.data());
    if constexpr (std::endian::native != std::endian::little) {
        return pack_reference(codes, bits, out, order);
    } else {
        detail::with_bits(bits, [&](auto b) {
            detail::pack_stream<decltype(b)::value>(codes.data(), n, out.data());
        });
    }
}

/// Unpacks codes.size() codes from `in`. Fast path; identical to unpack_reference.
inline void unpack(std::span<const std::uint8_t> in, int bits, std::span<std::uint8_t> codes,
                   nibble_order order = nibble_order::low_first) {
    detail::check_bits(bits);
    detail::check_order(bits, order);
    const std::size_t n = codes.size();
    detail::require(in.size() >= packed_size(n, bits), "in",
                    "holds fewer than packed_size(n, bits) bytes");
    if (n == 0) return;
    if (order == nibble_order::high_first)
        return detail::unpack_nibbles_high_first(in.data(), n, codes.data());
    if (order == nibble_order::ggml_split)
        return detail::unpack_nibbles_split(in.data(), n, codes.data());
    if constexpr (std::endian::native != std::endian::little) {
        return unpack_reference(in, bits, codes, order);
    } else {
        detail::with_bits(bits, [&](auto b) {
            detail::unpack_stream<decltype(b)::value>(in.data(), n, codes.data());
        });
    }
}

LOWBIT_NAMESPACE_END
