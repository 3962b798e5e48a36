// libFuzzer target: io/quantized.hpp's loader on arbitrary bytes. An input must parse and load or
// throw lowbit::error; ASan/UBSan catch everything else. A tensor that loads is dequantized on
// the SIMD and the scalar path (the same values; NaNs may differ in payload only), its codes are
// read, and it is saved again, which must load to the same fields.
//
// LOWBIT_FUZZ_SEEDS=DIR fuzz_quantized writes the seed corpus (one small file per family and
// layout, tests/fuzz/corpus/quantized/) and exits.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <lowbit/io/quantized.hpp>

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool same_values(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i]) && std::isnan(b[i])) continue;
        if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
    }
    return true;
}

void write_seeds(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    const char* schemes[] = {
        "int4_g32", "uint4:form=zp:g=32", "int8:gran=col",  "e4m3fn:g=32", "mxfp4",
        "nvfp4",    "nf4:g=64:dq",        "bbq4:sigma=row", "quest2",      "hadamard64+int4:g=32",
        "log4",     "nf4_g64_dq"};
    std::vector<float> x(3 * 128);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = std::sin(float(i) * 0.37f) * (1.0f + float(i % 7));
    int k = 0;
    for (const char* s : schemes) {
        lowbit::scheme_info info;
        try {
            info = lowbit::resolve_scheme(s);
        } catch (const lowbit::error&) {
            continue;  // a name this build does not have
        }
        auto q = info.make();
        q->quantize(x, {3, 128});
        lowbit::quantized_writer w;
        w.add("w", s, *q, {3, 2, 64});
        w.write(dir / ("seed" + std::to_string(k++) + ".safetensors"));
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("LOWBIT_FUZZ_SEEDS")) {
        write_seeds(dir);
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<lowbit::quantized_tensor_info> infos;
    lowbit::safetensors_view v;
    try {
        v = lowbit::parse_safetensors(std::span<const std::uint8_t>(data, size), "fuzz");
        infos = lowbit::quantized_tensors(v);
    } catch (const lowbit::error&) { return 0; }
    for (const auto& info : infos) {
        std::unique_ptr<lowbit::scheme_instance> q;
        try {
            q = lowbit::load_quantized(v, info);
        } catch (const lowbit::error&) { continue; }
        check(q->shape() == info.shape);
        std::vector<float> fast(info.shape.size()), slow(info.shape.size());
        q->dequantize(fast, lowbit::backend::simd);
        q->dequantize(slow, lowbit::backend::scalar);
        check(same_values(fast, slow));
        check(q->codes().size() == info.shape.size());
        lowbit::quantized_writer w;
        w.add(info.name, info.scheme, *q, info.dims);
        const auto bytes = w.serialize();
        const auto again = lowbit::parse_safetensors(bytes, "again");
        const auto r = lowbit::load_quantized(again, info.name);
        const auto a = q->fields(), b = r->fields();
        check(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i)
            check(a[i].name == b[i].name && a[i].bytes.size() == b[i].bytes.size() &&
                  std::equal(a[i].bytes.begin(), a[i].bytes.end(), b[i].bytes.begin()));
    }
    return 0;
}
