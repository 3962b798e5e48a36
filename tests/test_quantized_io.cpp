// io/quantized.hpp: every scheme's result saved to safetensors and loaded back gives the same
// codes, the same dequantized bits and the same storage; a file that does not describe a tensor
// its scheme can hold is refused with an error naming the tensor and the field.
#include <doctest/doctest.h>

#include <lowbit/io/quantized.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {

std::vector<float> sample(std::size_t n, std::uint32_t seed) {
    auto x = lowbit_test::gaussian(n, seed);
    const auto adv = lowbit_test::adversarial(n / 4, seed + 1);
    std::copy(adv.begin(), adv.end(), x.begin() + static_cast<std::ptrdiff_t>(n / 2));
    return x;
}

/// Quantizes x with `scheme`, saves it, loads it back and checks it is the same tensor.
void round_trip(const std::string& scheme, shape2d shape, std::uint32_t seed) {
    CAPTURE(scheme);
    CAPTURE(shape.rows);
    CAPTURE(shape.cols);
    auto x = sample(shape.size(), seed);
    auto q = resolve_scheme(scheme).make();
    try {
        q->quantize(x, shape);
    } catch (const error&) {  // BBQ and QuEST refuse non-finite input by default
        for (float& v : x)
            if (!std::isfinite(v)) v = 0.0f;
        q->quantize(x, shape);
    }
    quantized_writer w;
    w.add("layers.0.w", scheme, *q, {shape.rows, shape.cols / 2, 2});
    const std::vector<float> bias = {1.5f, -2.0f, 0.25f};
    w.add_float("layers.0.b", {3}, bias);
    w.set_metadata("producer", "test");
    const auto bytes = w.serialize();
    const auto f = parse_safetensors(bytes, "round-trip.safetensors");
    CHECK(f.metadata().at("lowbit.version") == "1");
    CHECK(f.metadata().at("producer") == "test");
    const auto infos = quantized_tensors(f);
    REQUIRE(infos.size() == 1);
    CHECK(infos[0].name == "layers.0.w");
    CHECK(infos[0].scheme == scheme);
    CHECK(infos[0].shape == shape);
    CHECK(infos[0].dims == std::vector<std::size_t>{shape.rows, shape.cols / 2, 2});
    const auto l = load_quantized(f, "layers.0.w");
    CHECK(l->shape() == shape);
    CHECK(l->codes() == q->codes());
    CHECK(l->bits_per_value() == q->bits_per_value());
    std::vector<float> a(x.size()), b(x.size());
    q->dequantize(a);
    l->dequantize(b);
    CHECK(lowbit_test::same_bits(a, b));
    const auto fa = q->fields(), fb = l->fields();
    REQUIRE(fa.size() == fb.size());
    for (std::size_t i = 0; i < fa.size(); ++i) {
        CHECK(fa[i].name == fb[i].name);
        CHECK(std::equal(fa[i].bytes.begin(), fa[i].bytes.end(), fb[i].bytes.begin(),
                         fb[i].bytes.end()));
    }
    CHECK(f.read_float("layers.0.b").data == bias);
}

/// A saved int4_g32 tensor's file with one edit applied by `edit` to its tensors and metadata.
struct saved {
    std::vector<float> x = lowbit_test::gaussian(4 * 64, 3);
    std::unique_ptr<scheme_instance> q = find_scheme("int4_g32").make();
    saved() { q->quantize(x, {4, 64}); }
    /// The file's tensors and metadata, as writer input, so a test can alter them.
    std::vector<safetensors_source> sources(safetensors_metadata& m) const {
        m["lowbit.version"] = "1";
        m["lowbit.tensor.w"] = R"({"scheme":"int4_g32","shape":[4,64],"dims":[4,64]})";
        std::vector<safetensors_source> s;
        for (const auto& fv : q->fields())
            if (fv.count)
                s.push_back(safetensors_source::from_bytes(
                    "w:" + std::string(fv.name),
                    fv.type == field_type::f16 ? safetensors_dtype::f16 : safetensors_dtype::u8,
                    {fv.count}, fv.bytes));
        return s;
    }
};

/// The message of the lowbit::error that loading `bytes` throws ("" when none).
std::string load_error(const std::vector<std::uint8_t>& bytes) {
    try {
        const auto f = parse_safetensors(bytes, "edited.safetensors");
        for (const auto& info : quantized_tensors(f)) (void)load_quantized(f, info);
    } catch (const error& e) { return e.what(); }
    return "";
}

}  // namespace

TEST_CASE("every registered scheme round-trips through a file bit for bit") {
    std::uint32_t seed = 10;
    for (const auto& s : all_schemes()) {
        round_trip(s.name, {6, 256}, ++seed);
        round_trip(s.name, {3, 130}, ++seed);  // partial groups and blocks
    }
}

TEST_CASE("spec strings round-trip: every structure a spec can give") {
    std::uint32_t seed = 100;
    for (const char* spec :
         {"int4:scale=row", "int8:gran=col", "int3:g=7:range=full:st=bf16", "uint4:form=zp:g=32",
          "uint8:scale=mse:scale=row", "e4m3fn:g=32:st=f16", "e2m1:scale=row", "e5m2:scale=mse",
          "nf4:g=64:dq", "nf4:dq=bnb", "nf3:g=32", "sf4:nu=7", "bbq4:sigma=row", "bbq2:h=0",
          "quest3", "hadamard128+nf4:g=64", "hadamard64+int4:g=32"}) {
        round_trip(spec, {4, 256}, ++seed);
        round_trip(spec, {2, 192}, ++seed);
    }
}

TEST_CASE("empty tensors and files written to disk") {
    round_trip("int4_g32", {0, 64}, 1);
    round_trip("nf4_g64", {5, 0}, 2);
    const auto x = lowbit_test::gaussian(2 * 96, 5);
    auto q = find_scheme("mxfp4").make();
    q->quantize(x, {2, 96});
    const auto path = std::filesystem::temp_directory_path() / "lowbit_test_quantized.safetensors";
    quantized_writer w;
    w.add("mx", "mxfp4", *q);
    w.write(path);
    const safetensors_file f(path);
    const auto l = load_quantized(f, "mx");
    std::vector<float> a(x.size()), b(x.size());
    q->dequantize(a);
    l->dequantize(b);
    CHECK(lowbit_test::same_bits(a, b));
    std::filesystem::remove(path);
}

TEST_CASE("the writer refuses a scheme that does not describe the tensor") {
    const auto x = lowbit_test::gaussian(4 * 64, 3);
    auto q = find_scheme("int4_g32").make();
    q->quantize(x, {4, 64});
    quantized_writer w;
    // int4_g64 has half the scales; int4:g=32 stores them as float32, not fp16; nf4 has no
    // fp16 scales; an unknown scheme is named.
    for (const char* wrong : {"int4_g64", "int4:g=32", "nf4_g64", "int9"}) {
        CAPTURE(wrong);
        bool threw = false;
        try {
            w.add("w", wrong, *q);
        } catch (const error& e) {
            threw = true;
            CHECK(std::string(e.what()).find("does not describe it") != std::string::npos);
        }
        CHECK(threw);
    }
    CHECK_THROWS_AS(w.add("w", "int4_g32", *q, {3, 64}), error);  // dims product
    CHECK_THROWS_AS(w.add("", "int4_g32", *q), error);
    w.add("w", "int4_g32", *q);
    CHECK_THROWS_AS(w.add("w", "int4_g32", *q), error);  // twice
    CHECK_THROWS_AS(w.set_metadata("lowbit.version", "2"), error);
}

TEST_CASE("the loader names what is wrong with an edited file") {
    const saved s;
    auto edited = [&](auto&& edit) {
        safetensors_metadata m;
        auto src = s.sources(m);
        edit(src, m);
        return serialize_safetensors(src, m);
    };
    auto contains = [](const std::string& msg, const char* what) {
        CAPTURE(msg);
        CHECK(msg.find(what) != std::string::npos);
    };
    CHECK(load_error(edited([](auto&, auto&) {})).empty());  // the unedited file loads
    contains(load_error(edited([](auto&, auto& m) { m["lowbit.version"] = "2"; })),
             "lowbit.version");
    contains(load_error(edited([](auto&, auto& m) { m.erase("lowbit.version"); })),
             "lowbit.version");
    contains(load_error(edited([](auto&, auto& m) {
                 m["lowbit.tensor.w"] = R"({"scheme":"int4_g32","shape":[4,64],"x":1})";
             })),
             "unknown field");
    contains(load_error(edited([](auto&, auto& m) { m["lowbit.tensor.w"] = "{"; })),
             "lowbit.tensor.w");
    contains(load_error(edited([](auto&, auto& m) {
                 m["lowbit.tensor.w"] = R"({"scheme":"int4_g32","shape":[4]})";
             })),
             "lowbit.tensor.w.shape");
    contains(load_error(edited([](auto&, auto& m) {
                 m["lowbit.tensor.w"] = R"({"scheme":"int4_g32","shape":[4,64],"dims":[5,64]})";
             })),
             "lowbit.tensor.w.dims");
    contains(load_error(edited([](auto&, auto& m) {
                 m["lowbit.tensor.w"] = R"({"scheme":"int5_g32","shape":[4,64]})";
             })),
             "lowbit.tensor.w.scheme");
    // The shape says more rows than the codes hold.
    contains(load_error(edited([](auto&, auto& m) {
                 m["lowbit.tensor.w"] = R"({"scheme":"int4_g32","shape":[5,64]})";
             })),
             "t.packed");
    contains(load_error(edited([](auto& src, auto&) { src.pop_back(); })), "w: t.scales");
    contains(load_error(edited([](auto& src, auto&) {
                 src.back().dtype = safetensors_dtype::bf16;  // fp16 bytes labelled BF16
             })),
             "w:scales");
    contains(load_error(edited([](auto& src, auto&) {
                 src.back().shape = {src.back().shape[0] / 2, 2};  // 2-D
             })),
             "must be 1-D");
    contains(load_error(edited([&](auto& src, auto&) {
                 src.back().shape[0] -= 1;
                 src.back().raw = src.back().raw.first(src.back().raw.size() - 2);
             })),
             "t.scales");
    static const std::uint8_t extra[4] = {};
    contains(load_error(edited([&](auto& src, auto&) {
                 src.push_back(safetensors_source::from_bytes("w:offsets", safetensors_dtype::f16,
                                                              {2}, extra));
             })),
             "w: t.offsets");  // a signed format has none
    contains(load_error(edited([&](auto& src, auto&) {
                 src.push_back(
                     safetensors_source::from_bytes("w:gamma", safetensors_dtype::f32, {1}, extra));
             })),
             "w:gamma: is not a field of scheme 'int4_g32'");
    // No records: a plain safetensors file has no quantized tensors.
    const std::vector<float> v = {1, 2};
    const auto plain =
        serialize_safetensors(std::vector{safetensors_source::from_floats("v", {2}, v)});
    const auto pf = parse_safetensors(plain, "plain");
    CHECK(quantized_tensors(pf).empty());
    CHECK_THROWS_AS((void)load_quantized(pf, "v"), error);
}
