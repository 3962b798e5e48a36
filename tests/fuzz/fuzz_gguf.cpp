// libFuzzer target: io/gguf.hpp's reader on arbitrary bytes. Any input must parse into a
// consistent index or throw lowbit::error; ASan/UBSan catch everything else. When it parses,
// every tensor lies inside the data section, every tensor lowbit converts is read as float
// (others refused with lowbit::error), and the file written again from what was read parses to
// the same metadata and tensors.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <lowbit/io/gguf.hpp>

namespace {
void check(bool ok) {
    if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    lowbit::gguf_view v;
    try {
        v = lowbit::parse_gguf(std::span<const std::uint8_t>(data, size), "fuzz");
    } catch (const lowbit::error&) { return 0; }
    check(v.data_offset() % v.alignment() == 0);
    std::vector<lowbit::gguf_source> again;
    for (const auto& t : v.tensors()) {
        const auto b = v.bytes(t);
        check(b.size() == t.bytes);
        check(t.bytes == 0 || (b.data() >= data && b.data() + b.size() <= data + size));
        check(t.ne.size() >= 1 && t.ne.size() <= 4);
        try {
            const auto a = v.read_float(t);
            check(a.data.size() == t.elements);
        } catch (const lowbit::error&) {}
        again.push_back({t.name, t.type, t.shape(), b});
    }
    // Whatever the reader accepts, the writer writes (a throw here is a bug: trap).
    std::vector<std::uint8_t> bytes;
    try {
        bytes = lowbit::serialize_gguf(again, v.metadata());
    } catch (const lowbit::error&) { check(false); }
    const auto w = lowbit::parse_gguf(bytes, "again");
    check(w.metadata() == v.metadata());
    check(w.tensors().size() == v.tensors().size());
    for (std::size_t i = 0; i < w.tensors().size(); ++i) {
        const auto &a = v.tensors()[i], &b = w.tensors()[i];
        check(a.name == b.name && a.type == b.type && a.ne == b.ne);
        const auto x = v.bytes(a), y = w.bytes(b);
        check(std::equal(x.begin(), x.end(), y.begin(), y.end()));
    }
    return 0;
}
