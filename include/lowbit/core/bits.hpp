// lowbit — code types for 1 … 8-bit codes.
#pragma once
#include <cstdint>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Compile-time facts about a Bits-wide code. Codes are held unpacked in one byte each;
/// `packing.hpp` lays them densely into bytes.
template <int Bits>
struct code_traits {
    static_assert(Bits >= 1, "lowbit: a code needs at least 1 bit (Bits = 0 is not a format)");
    static_assert(Bits <= 8, "lowbit: codes are at most 8 bits wide (Bits > 8 is not supported)");
    static constexpr int bits = Bits;
    static constexpr unsigned levels = 1u << Bits;  ///< number of distinct codes
    static constexpr std::uint8_t mask = static_cast<std::uint8_t>(levels - 1u);
    using type = std::uint8_t;
};

/// The storage type of one unpacked Bits-wide code (always std::uint8_t).
template <int Bits>
using code_t = typename code_traits<Bits>::type;

LOWBIT_NAMESPACE_END
