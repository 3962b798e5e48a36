// Reading the floating-point reference vectors of tests/data/fp (scripts/gen_fp_vectors.py,
// scripts/gen_torch_fp.py): raw little-endian arrays, one file per format and reference.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace lowbit_test {

inline std::vector<std::uint8_t> read_bytes(const std::string& name) {
    std::ifstream f(std::string(LOWBIT_TEST_DATA_DIR) + "/fp/" + name, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline std::vector<std::uint32_t> read_u32(const std::string& name) {
    const auto b = read_bytes(name);
    std::vector<std::uint32_t> v(b.size() / 4);
    if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * 4);  // little-endian host
    return v;
}

inline float as_float(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline std::uint32_t as_bits(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

}  // namespace lowbit_test
