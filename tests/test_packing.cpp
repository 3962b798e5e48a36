// Packing: golden bytes freeze the layout; fast paths equal the reference for every width,
// every length and every nibble order; bad arguments throw.
#include <doctest/doctest.h>

#include <lowbit/simd/packing.hpp>

#include <random>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

TEST_CASE("golden bytes: 4-bit nibble orders") {
    const std::vector<std::uint8_t> c = {1, 2, 3, 4, 5};
    std::vector<std::uint8_t> out(3);
    pack(c, 4, out);
    CHECK(out == std::vector<std::uint8_t>{0x21, 0x43, 0x05});
    pack(c, 4, out, nibble_order::high_first);
    CHECK(out == std::vector<std::uint8_t>{0x12, 0x34, 0x50});
    // ggml split: a short block of 5 elements uses h = 3 bytes: byte j holds j and j + 3.
    pack(c, 4, out, nibble_order::ggml_split);
    CHECK(out == std::vector<std::uint8_t>{0x41, 0x52, 0x03});
    // A full ggml block of 32: byte j = element j | element j+16 << 4.
    std::vector<std::uint8_t> c32(32), o32(16);
    for (int i = 0; i < 32; ++i) c32[i] = static_cast<std::uint8_t>(i % 16);
    pack(c32, 4, o32, nibble_order::ggml_split);
    for (int j = 0; j < 16; ++j) CHECK(o32[j] == static_cast<std::uint8_t>(j | (j << 4)));
}

TEST_CASE("golden bytes: widths that span bytes") {
    // 3-bit codes 1..8 (8 masks to 0): stream bits 001 010 011 100 101 110 111 000, low first.
    const std::vector<std::uint8_t> c = {1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<std::uint8_t> out(3);
    pack(c, 3, out);
    CHECK(out == std::vector<std::uint8_t>{0xD1, 0x58, 0x1F});
    // 6-bit: four codes in three bytes.
    const std::vector<std::uint8_t> c6 = {0x3F, 0x00, 0x15, 0x2A};
    std::vector<std::uint8_t> o6(3);
    pack(c6, 6, o6);
    CHECK(o6 == std::vector<std::uint8_t>{0x3F, 0x50, 0xA9});
    // 1-bit: element 0 is bit 0; tail byte zero-padded.
    const std::vector<std::uint8_t> c1 = {1, 0, 1, 1, 0, 0, 0, 1, 1, 1};
    std::vector<std::uint8_t> o1(2);
    pack(c1, 1, o1);
    CHECK(o1 == std::vector<std::uint8_t>{0x8D, 0x03});
    // 5- and 7-bit, checked against the reference definition in the round-trip test below.
    CHECK(packed_size(10, 5) == 7);
    CHECK(packed_size(3, 7) == 3);
    CHECK(packed_size(0, 7) == 0);
}

TEST_CASE("fast pack/unpack equal the reference for every width, length and order") {
    std::mt19937 g(7);
    for (int bits = 1; bits <= 8; ++bits) {
        for (std::size_t n : lowbit_test::lengths()) {
            std::vector<std::uint8_t> c(n);
            for (auto& v : c) v = static_cast<std::uint8_t>(g());  // high bits must be ignored
            const nibble_order orders[] = {nibble_order::low_first, nibble_order::high_first,
                                           nibble_order::ggml_split};
            for (auto order : orders) {
                if (bits != 4 && order != nibble_order::low_first) continue;
                CAPTURE(bits);
                CAPTURE(n);
                CAPTURE(int(order));
                std::vector<std::uint8_t> a(packed_size(n, bits), 0xAA),
                    b(packed_size(n, bits), 0x55);
                pack_reference(c, bits, a, order);
                pack(c, bits, b, order);
                REQUIRE(a == b);
                std::vector<std::uint8_t> u1(n, 0xEE), u2(n, 0xDD);
                unpack_reference(a, bits, u1, order);
                unpack(a, bits, u2, order);
                REQUIRE(u1 == u2);
                for (std::size_t i = 0; i < n; ++i) REQUIRE(u1[i] == (c[i] & ((1u << bits) - 1)));
            }
        }
    }
}

TEST_CASE("packing errors name the argument") {
    std::vector<std::uint8_t> c(5), small(2);
    CHECK_THROWS_WITH_AS(pack(c, 4, small), "lowbit: out: is smaller than packed_size(n, bits)",
                         lowbit::error);
    CHECK_THROWS_WITH_AS(pack(c, 0, small), "lowbit: bits: must be in 1 … 8", lowbit::error);
    CHECK_THROWS_WITH_AS(pack(c, 9, small), "lowbit: bits: must be in 1 … 8", lowbit::error);
    CHECK_THROWS_AS(pack(c, 3, small, nibble_order::high_first), lowbit::error);
    CHECK_THROWS_AS(unpack(small, 4, c), lowbit::error);
}
