// libFuzzer target: io/npy.hpp's parsers on arbitrary bytes. Any input must either parse into
// a consistent array or throw lowbit::error; ASan/UBSan catch everything else.
#include <cstddef>
#include <cstdint>
#include <span>

#include <lowbit/io/npy.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    try {
        const auto a = lowbit::parse_npy(bytes, "fuzz.npy");
        std::size_t count = 1;
        for (std::size_t d : a.shape) count *= d;  // parse_npy proved this cannot overflow
        if (count != a.data.size()) __builtin_trap();
        if (a.matrix_shape().size() != a.data.size()) __builtin_trap();
        if (a.dtype != "<f4" && a.dtype != "<f2") __builtin_trap();
    } catch (const lowbit::error&) {}
    try {
        const auto r = lowbit::parse_raw_f32(bytes, "fuzz.raw");
        if (r.data.size() * 4 != size) __builtin_trap();
    } catch (const lowbit::error&) {
        if (size % 4 == 0) __builtin_trap();
    }
    return 0;
}
