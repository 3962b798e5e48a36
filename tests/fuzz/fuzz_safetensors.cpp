// libFuzzer target: io/safetensors.hpp's parser on arbitrary bytes. Any input must either parse
// into a consistent index or throw lowbit::error; ASan/UBSan catch everything else. When it
// parses, every tensor is checked against the buffer and read (as float where the dtype
// converts, refused with lowbit::error where not), and the file is written again from what was
// read, which must parse to the same tensors, metadata and bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <lowbit/io/safetensors.hpp>

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void check_view(const lowbit::safetensors_view& v, std::size_t size) {
    check(v.data_offset() == 8 + v.header_size());
    check(v.data_offset() <= size);
    std::size_t at = 0;
    for (const auto& t : v.tensors()) {
        // Data order, tiling the buffer.
        check(t.begin == at && t.begin <= t.end);
        at = t.end;
        check(v.data_offset() + t.end <= size);
        std::size_t n = 1;
        bool zero = false;
        for (std::size_t d : t.shape) zero |= d == 0;
        if (zero) n = 0;
        for (std::size_t d : t.shape)
            if (!zero) n *= d;  // the parser proved the product fits
        check(n == t.elements);
        check(t.byte_size() * 8 == n * lowbit::safetensors_dtype_bits(t.dtype));
        check(&v.info(t.name) == &t);
        const auto bytes = v.bytes(t);
        check(bytes.size() == t.byte_size());
        check(bytes.empty() ||
              (bytes.data() >= v.file_bytes().data() &&
               bytes.data() + bytes.size() <= v.file_bytes().data() + size));
        if (lowbit::safetensors_dtype_reads_as_float(t.dtype)) {
            const auto a = v.read_float(t);
            check(a.data.size() == t.elements);
            check(a.shape == t.shape);
            check(a.dtype == t.dtype_name());
        } else {
            bool refused = false;
            try {
                (void)v.read_float(t);
            } catch (const lowbit::error&) { refused = true; }
            check(refused);
        }
    }
    check(at + v.data_offset() == size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    lowbit::safetensors_view v;
    try {
        v = lowbit::parse_safetensors(bytes, "fuzz.safetensors");
    } catch (const lowbit::error&) { return 0; }
    check_view(v, size);

    // Written again from what was read (names and strings are valid UTF-8, sizes consistent):
    // the writer must take it, and the result must read back the same.
    std::vector<lowbit::safetensors_source> sources;
    for (const auto& t : v.tensors())
        sources.push_back(
            lowbit::safetensors_source::from_bytes(t.name, t.dtype, t.shape, v.bytes(t)));
    const auto again = lowbit::serialize_safetensors(sources, v.metadata());
    const auto w = lowbit::parse_safetensors(again, "again.safetensors");
    check_view(w, again.size());
    check(w.header_size() % 8 == 0);
    check(w.metadata() == v.metadata());
    check(w.size() == v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto& a = v.tensors()[i];
        const auto& b = w.tensors()[i];
        check(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape);
        const auto x = v.bytes(a), y = w.bytes(b);
        check(x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin()));
    }
    return 0;
}
