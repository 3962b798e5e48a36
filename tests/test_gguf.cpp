// io/gguf.hpp against gguf-py 0.19.0 (tests/data/gguf/, scripts/make_gguf_test_data.py): the block
// encoders byte for byte on 48 rows of random and adversarial values per type, the block decoders
// against gguf-py's dequantization, the reader against the files GGUFWriter wrote (every field),
// the writer reproducing those files byte for byte, and every malformed file refused with a
// lowbit::error.
#include <doctest/doctest.h>

#include <lowbit/io/gguf.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {

const std::string dir = std::string(LOWBIT_TEST_DATA_DIR) + "/gguf/";

std::vector<std::uint8_t> file_bytes(const std::string& name) {
    return detail::read_file_bytes(dir + name);
}

struct type_case {
    const char* file;
    ggml_type type;
};
const type_case block_types[] = {{"q8_0", ggml_type::q8_0}, {"q4_0", ggml_type::q4_0},
                                 {"q4_1", ggml_type::q4_1}, {"q5_0", ggml_type::q5_0},
                                 {"q5_1", ggml_type::q5_1}, {"mxfp4", ggml_type::mxfp4}};

bool fp16_inf(const std::uint8_t* p) { return (detail::get_u16(p) & 0x7FFFu) == 0x7C00u; }

}  // namespace

TEST_CASE("ggml block encoders: byte for byte with gguf-py, but where documented") {
    for (const auto& [name, type] : block_types) {
        const std::string type_name = name;
        CAPTURE(type_name);
        const npy_array in = read_npy(dir + name + std::string("_input.npy"));
        const auto expected = file_bytes(name + std::string("_expected.bin"));
        const shape2d shape = in.matrix_shape();
        REQUIRE(shape.rows == 48);
        const std::size_t ts = ggml_traits(type).type_size, per_row = shape.cols / 32;
        for (unsigned threads : {1u, 3u}) {
            const auto got = ggml_quantize(type, in.data, shape, threads);
            REQUIRE(got.size() == expected.size());
            std::set<std::size_t> overflow_rows, zero_sign_rows;
            for (std::size_t b = 0; b < got.size() / ts; ++b) {
                const std::uint8_t *g = got.data() + b * ts, *e = expected.data() + b * ts;
                if (std::memcmp(g, e, ts) == 0) continue;
                CAPTURE(b);
                const bool affine = type == ggml_type::q4_1 || type == ggml_type::q5_1;
                if (type != ggml_type::mxfp4 && (fp16_inf(e) || (affine && fp16_inf(e + 2)))) {
                    // gguf-py's fp16 scale (or minimum) overflowed to ±Inf: lowbit saturates it at
                    // ±65504 (a finite scale, finite values).
                    CHECK(!fp16_inf(g));
                    overflow_rows.insert(b / per_row);
                    continue;
                }
                // Q4_1 / Q5_1: a zero minimum is stored as +0 by lowbit; gguf-py keeps numpy's −0.
                REQUIRE(affine);
                CHECK(detail::get_u16(e + 2) == 0x8000u);
                CHECK(detail::get_u16(g + 2) == 0x0000u);
                CHECK(std::memcmp(g, e, 2) == 0);
                CHECK(std::memcmp(g + 4, e + 4, ts - 4) == 0);
                zero_sign_rows.insert(b / per_row);
            }
            // The script's rows of fp16 overflow and of signed zeros, and no other.
            if (type != ggml_type::mxfp4) CHECK(overflow_rows.size() >= 4);
            for (std::size_t r : overflow_rows)
                CHECK((r == 33 || r == 35 || r == 36 || r == 38 || r == 41));
            CHECK(zero_sign_rows.size() <= 1);
            for (std::size_t r : zero_sign_rows) CHECK(r == 29);
            if (type == ggml_type::mxfp4) CHECK(overflow_rows.empty());
        }
    }
}

TEST_CASE("ggml block decoders: gguf-py's dequantization bit for bit") {
    for (const auto& [name, type] : block_types) {
        const std::string type_name = name;
        CAPTURE(type_name);
        const npy_array want = read_npy(dir + name + std::string("_dequant.npy"));
        const auto bytes = file_bytes(name + std::string("_expected.bin"));
        const auto y = ggml_dequantize(type, bytes, want.matrix_shape());
        REQUIRE(y.size() == want.data.size());
        std::size_t nan = 0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            CAPTURE(i);
            if (std::isnan(want.data[i])) {  // Inf · 0 from an overflowed scale
                CHECK(std::isnan(y[i]));
                ++nan;
                continue;
            }
            CHECK(std::memcmp(&y[i], &want.data[i], sizeof(float)) == 0);
        }
        if (type == ggml_type::mxfp4) CHECK(nan == 0);
    }
}

TEST_CASE("files written by gguf-py: every field read, written again byte for byte") {
    for (const char* stem : {"small", "small_align64"}) {
        CAPTURE(stem);
        const auto bytes = file_bytes(stem + std::string(".gguf"));
        std::ifstream jf(dir + stem + "_tensors.json");
        const auto j = nlohmann::json::parse(jf);
        const gguf_file f(dir + stem + ".gguf");
        CHECK(f.version() == j["version"].get<std::uint32_t>());
        CHECK(f.alignment() == j["alignment"].get<std::size_t>());
        CHECK(f.data_offset() == j["data_offset"].get<std::size_t>());
        REQUIRE(f.metadata().size() == j["metadata"].size());
        for (std::size_t i = 0; i < f.metadata().size(); ++i) {
            const auto& [key, v] = f.metadata()[i];
            const auto& m = j["metadata"][i];
            CAPTURE(key);
            CHECK(key == m["key"].get<std::string>());
            CHECK(std::uint32_t(v.type) == m["type"].get<std::uint32_t>());
            const auto& jv = m["value"];
            if (v.is_array()) {
                REQUIRE(v.items.size() == jv.size());
                for (std::size_t k = 0; k < v.items.size(); ++k) {
                    CHECK(std::uint32_t(v.items[k].type) == m["sub_type"].get<std::uint32_t>());
                    if (jv[k].is_string())
                        CHECK(v.items[k].as_string() == jv[k].get<std::string>());
                    else if (jv[k].is_number_float())
                        CHECK(v.items[k].as_double() == jv[k].get<double>());
                    else if (jv[k].is_boolean())
                        CHECK(v.items[k].as_unsigned() == std::uint64_t(jv[k].get<bool>()));
                    else if (jv[k].get<double>() < 0)
                        CHECK(std::get<std::int64_t>(v.items[k].scalar) ==
                              jv[k].get<std::int64_t>());
                    else
                        CHECK(v.items[k].as_unsigned() == jv[k].get<std::uint64_t>());
                }
            } else if (jv.is_string()) {
                CHECK(v.as_string() == jv.get<std::string>());
            } else if (jv.is_boolean()) {
                CHECK(v.as_unsigned() == std::uint64_t(jv.get<bool>()));
            } else if (jv.is_number_float()) {
                CHECK(v.as_double() == jv.get<double>());
            } else if (jv.get<double>() < 0) {
                CHECK(std::get<std::int64_t>(v.scalar) == jv.get<std::int64_t>());
            } else {
                CHECK(v.as_unsigned() == jv.get<std::uint64_t>());
            }
        }
        REQUIRE(f.tensors().size() == j["tensors"].size());
        std::vector<gguf_source> again;
        for (std::size_t i = 0; i < f.tensors().size(); ++i) {
            const auto& t = f.tensors()[i];
            const auto& jt = j["tensors"][i];
            CAPTURE(t.name);
            CHECK(t.name == jt["name"].get<std::string>());
            CHECK(std::uint32_t(t.type) == jt["type"].get<std::uint32_t>());
            CHECK(t.ne == jt["ne"].get<std::vector<std::uint64_t>>());
            CHECK(t.shape() == jt["numpy_shape"].get<std::vector<std::size_t>>());
            CHECK(t.offset == jt["offset"].get<std::size_t>());
            CHECK(t.bytes == jt["nbytes"].get<std::size_t>());
            const auto hex = jt["data_hex"].get<std::string>();
            const auto b = f.bytes(t);
            REQUIRE(hex.size() == 2 * b.size());
            for (std::size_t k = 0; k < b.size(); ++k)
                CHECK(std::stoul(hex.substr(2 * k, 2), nullptr, 16) == b[k]);
            again.push_back({t.name, t.type, t.shape(), b});
        }
        // The writer lays the same tensors and metadata out as GGUFWriter did.
        CHECK(serialize_gguf(again, f.metadata()) == bytes);
    }
}

TEST_CASE("read_float and ggml_quantize agree with the tensors gguf-py stored") {
    const gguf_file f(dir + "small.gguf");
    for (const auto& [name, type] : block_types) {
        const std::string type_name = name;
        CAPTURE(type_name);
        const gguf_tensor* t = nullptr;
        for (const auto& x : f.tensors())
            if (x.type == type) t = &x;
        REQUIRE(t);
        CHECK(t->shape() == std::vector<std::size_t>{2, 64});
        // Rows 0 and 1, columns 0 … 63 of the type's input.
        const npy_array in = read_npy(dir + name + std::string("_input.npy"));
        const npy_array dq = read_npy(dir + name + std::string("_dequant.npy"));
        std::vector<float> x, want;
        for (std::size_t r = 0; r < 2; ++r)
            for (std::size_t c = 0; c < 64; ++c) {
                x.push_back(in.data[r * 256 + c]);
                want.push_back(dq.data[r * 256 + c]);
            }
        const auto q = ggml_quantize(type, x, {2, 64});
        CHECK(std::equal(q.begin(), q.end(), f.bytes(*t).begin(), f.bytes(*t).end()));
        const npy_array a = f.read_float(*t);
        CHECK(a.shape == std::vector<std::size_t>{2, 64});
        CHECK(a.dtype == std::string(ggml_traits(type).name));
        CHECK(lowbit_test::same_bits(a.data, want));
    }
    const npy_array f16 = f.read_float(f.tensors()[2]);
    CHECK(f16.dtype == "F16");
    for (const auto& t : f.tensors())
        if (t.type == ggml_type::f32 || t.type == ggml_type::f16 || t.type == ggml_type::bf16) {
            const auto a = f.read_float(t);
            const auto back = ggml_quantize(t.type, a.data, {a.data.size() / t.ne[0], t.ne[0]});
            CHECK(std::equal(back.begin(), back.end(), f.bytes(t).begin(), f.bytes(t).end()));
        }
}

TEST_CASE("write_gguf and gguf_file: metadata and tensors round-trip") {
    const auto x = lowbit_test::gaussian(6 * 128, 3);
    std::vector<std::vector<std::uint8_t>> data;
    std::vector<gguf_source> tensors;
    for (ggml_type t :
         {ggml_type::f32, ggml_type::f16, ggml_type::bf16, ggml_type::q8_0, ggml_type::q4_0,
          ggml_type::q4_1, ggml_type::q5_0, ggml_type::q5_1, ggml_type::mxfp4}) {
        data.push_back(ggml_quantize(t, x, {6, 128}));
        tensors.push_back({"w." + std::string(ggml_traits(t).name), t, {3, 2, 128}, data.back()});
    }
    const gguf_metadata meta = {
        {"general.architecture", gguf_value::string("test")},
        {"general.alignment", gguf_value::u32(64)},
        {"x.f", gguf_value::f32(0.1f)},
        {"x.i", gguf_value::i32(-7)},
        {"x.b", gguf_value::boolean(true)},
        {"x.a",
         gguf_value::array(gguf_value_type::string,
                           {gguf_value::string("a"), gguf_value::string("é")})},
        {"x.n",
         gguf_value::array(gguf_value_type::array,
                           {gguf_value::array(gguf_value_type::u32, {gguf_value::u32(1)})})},
        {"x.u64", gguf_value::of(gguf_value_type::u64, std::uint64_t{1} << 63)},
        {"x.d", gguf_value::of(gguf_value_type::f64, 1e300)}};
    const auto path = std::filesystem::temp_directory_path() / "lowbit_test.gguf";
    write_gguf(path, tensors, meta);
    const gguf_file f(path);
    CHECK(f.alignment() == 64);
    CHECK(f.metadata() == meta);
    REQUIRE(f.tensors().size() == tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = f.tensors()[i];
        CHECK(t.offset % 64 == 0);
        CHECK(t.shape() == tensors[i].shape);
        CHECK(std::equal(data[i].begin(), data[i].end(), f.bytes(t).begin(), f.bytes(t).end()));
        CHECK(lowbit_test::same_bits(f.read_float(t).data,
                                     ggml_dequantize(t.type, data[i], {6, 128})));
    }
    std::filesystem::remove(path);
}

TEST_CASE("the writer refuses what it cannot write, naming it") {
    const std::vector<std::uint8_t> b(18);
    auto refused = [](const std::vector<gguf_source>& t, const gguf_metadata& m, const char* says) {
        CAPTURE(says);
        try {
            (void)serialize_gguf(t, m);
            FAIL("no error");
        } catch (const error& e) { CHECK(std::string(e.what()).find(says) != std::string::npos); }
    };
    refused({{"a", ggml_type::q4_0, {1, 32}, b}, {"a", ggml_type::q4_0, {1, 32}, b}}, {},
            "appears twice");
    refused({{"a", ggml_type::q4_0, {1, 31}, b}}, {}, "whole Q4_0 blocks");
    refused({{"a", ggml_type::q4_0, {2, 32}, b}}, {}, "has 18 bytes");
    refused({{"a", ggml_type::f32, {}, {}}}, {}, "1 … 4 dimensions");
    refused({{"a", ggml_type::f32, {1, 1, 1, 1, 1}, {}}}, {}, "1 … 4 dimensions");
    refused({}, {{"k", gguf_value::u32(1)}, {"k", gguf_value::u32(2)}}, "appears twice");
    refused({}, {{"k", gguf_value::of(gguf_value_type::u8, std::uint64_t{256})}}, "unsigned");
    refused({}, {{"k", gguf_value::of(gguf_value_type::i8, std::int64_t{-129})}}, "signed");
    refused({}, {{"general.alignment", gguf_value::u32(48)}}, "power of two");
    refused({}, {{"general.alignment", gguf_value::i32(64)}}, "uint32");
    refused({}, {{"k", gguf_value::array(gguf_value_type::u32, {gguf_value::i32(1)})}},
            "item type");
    CHECK_THROWS_AS((void)ggml_quantize(ggml_type::q4_k, std::vector<float>(256), {1, 256}), error);
    CHECK_THROWS_AS((void)ggml_quantize(ggml_type::q8_0, std::vector<float>(48), {1, 48}), error);
    CHECK_THROWS_AS((void)ggml_dequantize(ggml_type::q8_0, b, {1, 32}), error);
}

TEST_CASE("the reader refuses malformed files with the byte and field") {
    const auto good = file_bytes("small.gguf");
    auto message = [](std::vector<std::uint8_t> bytes) -> std::string {
        try {
            (void)parse_gguf(bytes, "edited.gguf");
        } catch (const error& e) { return e.what(); }
        return "";
    };
    CHECK(message(good).empty());
    // Every truncation is refused (the tensors' bytes run past the end, or a field is cut).
    for (std::size_t n = 0; n < good.size(); n += n < 1400 ? 1 : 97) {
        CAPTURE(n);
        CHECK(!message(std::vector<std::uint8_t>(good.begin(), good.begin() + n)).empty());
    }
    auto edited = [&](std::size_t at, std::vector<std::uint8_t> with) {
        auto b = good;
        std::copy(with.begin(), with.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
        return message(b);
    };
    CHECK(edited(0, {'G', 'G', 'U', 'G'}).find("magic") != std::string::npos);
    CHECK(edited(4, {1, 0, 0, 0}).find("version") != std::string::npos);
    CHECK(edited(8, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0}).find("tensor_count") !=
          std::string::npos);
    CHECK(edited(16, {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}).find("metadata_kv_count") !=
          std::string::npos);
    // The first key's length, then its value type.
    CHECK(edited(24, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}).find("exceeds") !=
          std::string::npos);
    const std::size_t type_at = 24 + 8 + std::string("general.architecture").size();
    CHECK(edited(type_at, {13, 0, 0, 0}).find("value type 13") != std::string::npos);
    // Fields of the first tensor info: find it by its name.
    const std::string first = "f32_3x5";
    const auto it = std::search(good.begin(), good.end(), first.begin(), first.end());
    REQUIRE(it != good.end());
    const std::size_t info = std::size_t(it - good.begin()) + first.size();  // n_dims
    CHECK(edited(info, {5, 0, 0, 0}).find("n_dims") != std::string::npos);
    CHECK(edited(info + 4 + 16, {99, 0, 0, 0}).find("not a ggml type") != std::string::npos);
    CHECK(edited(info + 4 + 16 + 4, {8, 0, 0, 0, 0, 0, 0, 0}).find("alignment") !=
          std::string::npos);
    CHECK(edited(info + 4 + 16 + 4, {64, 0, 0, 0, 0, 0, 0, 0}).find("overlap") !=
          std::string::npos);
    CHECK(edited(info + 4 + 16, {8, 0, 0, 0}).find("block of 32") != std::string::npos);  // Q8_0
    CHECK(edited(info + 4 + 16 + 4, {0, 0, 0, 0, 1, 0, 0, 0}).find("end of the file") !=
          std::string::npos);
}

TEST_CASE("float32 metadata keeps its bits: NaN payloads and signalling NaNs included") {
    std::vector<gguf_value> items;
    for (std::uint32_t u : {0x7F800001u, 0xFFC00123u, 0x80000000u, 0x00000001u, 0x7F7FFFFFu})
        items.push_back(gguf_value::f32(std::bit_cast<float>(u)));
    const gguf_metadata meta = {{"f", gguf_value::array(gguf_value_type::f32, items)},
                                {"s", gguf_value::f32(std::bit_cast<float>(0x7FA00000u))}};
    const auto bytes = serialize_gguf({}, meta);
    const auto v = parse_gguf(bytes, "nan.gguf");
    CHECK(v.metadata() == meta);  // bitwise: NaN equals the same NaN
    // The file holds the original bits.
    const std::uint32_t want[] = {0x7F800001u, 0xFFC00123u, 0x80000000u, 0x00000001u, 0x7F7FFFFFu};
    for (std::size_t i = 0; i < 5; ++i)
        CHECK(detail::f32_bits(v.metadata()[0].second.items[i].as_double()) == want[i]);
    const auto again = serialize_gguf({}, v.metadata());
    CHECK(again == bytes);
    CHECK(!(gguf_value::f32(std::bit_cast<float>(0x7FC00000u)) ==
            gguf_value::f32(std::bit_cast<float>(0x7FC00001u))));
}
