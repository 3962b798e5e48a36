// io/safetensors.hpp and the .npy writer of io/npy.hpp: files the Python safetensors package
// wrote (scripts/make_safetensors_test_data.py) read bit for bit against numpy / ml_dtypes, our
// writer's bytes against the Python library's, round trips of every dtype written, the float →
// F16 / BF16 roundings against Eigen's, and a long list of malformed images, each refused with a
// lowbit::error that names the byte offset and the field.
#include <doctest/doctest.h>

#include <lowbit/io/npy.hpp>
#include <lowbit/io/safetensors.hpp>

#include <Eigen/Core>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__)
#include <sys/resource.h>

#include <csignal>
#endif

using namespace lowbit;
namespace fs = std::filesystem;

namespace {
const fs::path data_dir = fs::path(LOWBIT_TEST_DATA_DIR) / "safetensors";
const fs::path npy_dir = fs::path(LOWBIT_TEST_DATA_DIR) / "npy";

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

std::vector<std::uint8_t> file_bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    REQUIRE(bool(f));
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// A fresh directory of this test process under the system's temporary directory, removed
/// with what is left in it when the process exits.
const fs::path& scratch() {
    struct dir {
        fs::path path;
        dir() {
            std::random_device rd;
            path = fs::temp_directory_path() /
                ("lowbit_test_safetensors_" + std::to_string(rd()) + std::to_string(rd()));
            fs::create_directories(path);
        }
        ~dir() {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    };
    static const dir d;
    return d.path;
}

/// The files in a directory (to check that no temporary is left behind).
std::vector<std::string> listing(const fs::path& d) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(d)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

/// A safetensors image: the 8-byte length, `header` as given, then `data` zero bytes.
std::vector<std::uint8_t> image(const std::string& header, std::size_t data = 0) {
    std::vector<std::uint8_t> b;
    b.reserve(8 + header.size() + data);
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    for (char c : header) b.push_back(static_cast<std::uint8_t>(c));
    b.resize(b.size() + data, 0);
    return b;
}

/// The message of parse_safetensors on b ("" when it parses).
std::string parse_error(const std::vector<std::uint8_t>& b) {
    try {
        (void)parse_safetensors(b, "mem.safetensors");
    } catch (const lowbit::error& e) {
        CHECK(e.argument() == "mem.safetensors");
        return e.what();
    }
    return "";
}

/// One tensor entry of a header.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
        ",\"data_offsets\":" + offsets + "}";
}

/// Both floats NaN, or the same bits.
bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || bits(a) == bits(b); }
}  // namespace

TEST_CASE("safetensors: a file the Python library wrote, every float dtype bit for bit") {
    const safetensors_file f(data_dir / "numpy_all.safetensors");
#if defined(__unix__)
    CHECK(f.memory_mapped());
#endif
    // Data order: the crate lays tensors out by dtype, descending, then by name.
    CHECK(f.names() ==
          std::vector<std::string>{"f64", "empty", "f32", "scalar", "i32", "bf16", "f16",
                                   "f8_e5m2fnuz", "f8_e4m3fnuz", "f8_e8m0", "f8_e4m3", "f8_e5m2"});
    CHECK(f.metadata() ==
          safetensors_metadata{{"format", "np"}, {"note", "lowbit test \xC3\xA9\n"}});
    CHECK(f.data_offset() == 8 + f.header_size());
    CHECK(f.header_size() % 8 == 0);

    const std::pair<const char*, const char*> float_tensors[] = {{"f32", "F32"},
                                                                 {"f16", "F16"},
                                                                 {"bf16", "BF16"},
                                                                 {"f64", "F64"},
                                                                 {"f8_e4m3", "F8_E4M3"},
                                                                 {"f8_e5m2", "F8_E5M2"},
                                                                 {"f8_e4m3fnuz", "F8_E4M3FNUZ"},
                                                                 {"f8_e5m2fnuz", "F8_E5M2FNUZ"},
                                                                 {"f8_e8m0", "F8_E8M0"},
                                                                 {"scalar", "F32"},
                                                                 {"empty", "F32"}};
    for (const auto& [name, dtype] : float_tensors) {
        CAPTURE(name);
        const auto want = read_npy(data_dir / (std::string("expected_") + name + ".npy"));
        const auto got = f.read_float(name);
        CHECK(got.dtype == dtype);
        CHECK(f.info(name).dtype_name() == dtype);
        CHECK(got.shape == want.shape);
        REQUIRE(got.data.size() == want.data.size());
        std::size_t differ = 0, nans = 0;
        for (std::size_t i = 0; i < got.data.size(); ++i) {
            differ += !same_float(got.data[i], want.data[i]);
            nans += std::isnan(want.data[i]);
            // Every NaN code keeps its sign (ml_dtypes writes the float NaN with it too).
            if (std::isnan(want.data[i]))
                CHECK(std::signbit(got.data[i]) == std::signbit(want.data[i]));
        }
        CHECK(differ == 0);
        if (std::string(name).starts_with("f8_e4m3") || std::string(name) == "f8_e5m2")
            CHECK(nans > 0);  // the all-codes tensors do reach the NaN codes
    }
    CHECK(f.read_float("scalar").shape.empty());
    CHECK(f.read_float("scalar").data == std::vector<float>{2.5f});
    CHECK(f.read_float("empty").shape == std::vector<std::size_t>{0, 3});
    CHECK(f.info("empty").byte_size() == 0);
    CHECK(f.info("f8_e4m3").shape == std::vector<std::size_t>{16, 16});
    CHECK(f.info("f8_e4m3").elements == 256);
    CHECK(f.bytes("f8_e4m3").size() == 256);
    CHECK(f.bytes("f8_e4m3")[0x38] == 0x38);  // the codes as stored, 0 … 255

    // I32: listed with its bytes, not converted.
    const auto& i32 = f.info("i32");
    CHECK(i32.dtype == safetensors_dtype::i32);
    CHECK(i32.shape == std::vector<std::size_t>{5});
    const auto raw = f.bytes("i32");
    REQUIRE(raw.size() == 20);
    std::vector<std::int32_t> ints(5);
    std::memcpy(ints.data(), raw.data(), 20);  // little-endian host
    CHECK(ints == std::vector<std::int32_t>{1, -2, 3, 2147483647, -2147483647 - 1});
    CHECK_THROWS_WITH_AS((void)f.read_float("i32"), doctest::Contains("tensor 'i32' has dtype I32"),
                         lowbit::error);
    CHECK_THROWS_WITH_AS((void)f.info("nope"), doctest::Contains("no tensor named 'nope'"),
                         lowbit::error);
    CHECK(!f.contains("nope"));
    CHECK(f.contains("i32"));

    // The same bytes parsed from memory give the same index.
    const auto bytes = file_bytes(data_dir / "numpy_all.safetensors");
    const auto v = parse_safetensors(bytes, "copy");
    CHECK(v.names() == f.names());
    CHECK(v.read_float("bf16").data.size() == 48);
    CHECK(v.file_bytes().data() == bytes.data());
}

TEST_CASE("safetensors: float to F16 and BF16 round to nearest even (Eigen as the reference)") {
    std::size_t f16_bad = 0, bf16_bad = 0, checked = 0;
    std::uint32_t first_f16 = 0, first_bf16 = 0;
    auto check = [&](float x) {
        ++checked;
        const std::uint16_t h = detail::float_to_half_bits(x);
        const std::uint16_t b = detail::float_to_bf16_bits(x);
        if (std::isnan(x)) {
            // NaN stays NaN, quiet, with its sign.
            const bool h_ok =
                (h & 0x7C00) == 0x7C00 && (h & 0x0200) && (h >> 15) == (bits(x) >> 31);
            const bool b_ok =
                (b & 0x7F80) == 0x7F80 && (b & 0x0040) && (b >> 15) == (bits(x) >> 31);
            if (!h_ok && !f16_bad++) first_f16 = bits(x);
            if (!b_ok && !bf16_bad++) first_bf16 = bits(x);
            return;
        }
        if (h != Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(x)) && !f16_bad++)
            first_f16 = bits(x);
        if (b != Eigen::numext::bit_cast<std::uint16_t>(Eigen::bfloat16(x)) && !bf16_bad++)
            first_bf16 = bits(x);
    };
    // A stride through every float bit pattern, both signs.
    for (std::uint64_t u = 0; u <= 0xFFFFFFFFull; u += 40009)
        check(std::bit_cast<float>(std::uint32_t(u)));
    // Each half code's neighbourhood: the exact midpoint to the next code and the floats
    // beside it (ties go to the even code), for both signs; the same for bfloat16.
    for (std::uint32_t c = 0; c < 0x7C00; ++c) {
        const double lo = detail::half_bits_to_float(std::uint16_t(c));
        const double hi = c == 0x7BFF ? 65536.0 : detail::half_bits_to_float(std::uint16_t(c + 1));
        const float mid = static_cast<float>((lo + hi) / 2);  // exact: 12 significant bits
        for (float m : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f)}) {
            check(m);
            check(-m);
        }
    }
    for (std::uint32_t c = 0; c < 0x7F80; c += 3) {
        const double lo = std::bit_cast<float>(c << 16), hi = std::bit_cast<float>((c + 1) << 16);
        const float mid = static_cast<float>((lo + hi) / 2);
        for (float m : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f)}) {
            check(m);
            check(-m);
        }
    }
    for (float x : {65504.0f, 65519.99f, 65520.0f, 1e30f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                    std::numeric_limits<float>::quiet_NaN(), std::bit_cast<float>(0xFF812345u)})
        check(x);
    CAPTURE(first_f16);
    CAPTURE(first_bf16);
    CHECK(checked > 300000);
    CHECK(f16_bad == 0);
    CHECK(bf16_bad == 0);
    // Every half that is not NaN survives half → float → half.
    std::size_t round_trip_bad = 0;
    for (std::uint32_t c = 0; c < 65536; ++c) {
        if ((c & 0x7C00) == 0x7C00 && (c & 0x3FF)) continue;
        round_trip_bad +=
            detail::float_to_half_bits(detail::half_bits_to_float(std::uint16_t(c))) != c;
    }
    CHECK(round_trip_bad == 0);
    // Documented cases.
    CHECK(detail::float_to_half_bits(65519.0f) == 0x7BFF);
    CHECK(detail::float_to_half_bits(65520.0f) == 0x7C00);
    CHECK(detail::float_to_half_bits(-1e10f) == 0xFC00);
    CHECK(detail::float_to_half_bits(std::numeric_limits<float>::quiet_NaN()) == 0x7E00);
    CHECK(detail::float_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()) == 0x7FC0);
    CHECK(detail::float_to_bf16_bits(std::numeric_limits<float>::max()) == 0x7F80);
    CHECK(detail::float_to_bf16_bits(1.00390625f) == 0x3F80);  // tie to even: 1.0
}

TEST_CASE("safetensors: our writer's bytes are the Python library's") {
    // The float32 inputs of scripts/make_safetensors_test_data.py's numpy_order.safetensors.
    std::vector<float> b_f32(6);
    for (int i = 0; i < 6; ++i) b_f32[i] = (float(i) - 2.5f) / 3.0f;
    const std::vector<float> z_f32 = {1.0f, -2.0f};
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> bf16_in = {float(1.0 / 3),
                                        float(-1.0 / 3),
                                        65519.0f,
                                        float(1e-40),
                                        std::numeric_limits<float>::max(),
                                        nan,
                                        -0.0f,
                                        1.00390625f,
                                        1.01171875f,
                                        float(-3.0e38),
                                        std::ldexp(1.0f, -133),
                                        7.0f};
    const std::vector<float> f16_in = {float(1.0 / 3),
                                       65519.0f,
                                       65520.0f,
                                       -70000.0f,
                                       float(1e-8),
                                       float(3e-8),
                                       nan,
                                       1.00048828125f,
                                       std::ldexp(1.0f, -25),
                                       std::ldexp(1.5f, -24),
                                       float(0.1),
                                       float(-6.1e-5)};
    const std::vector<std::uint8_t> u8 = {0, 1, 2, 254, 255};
    // In the crate's layout order (F32, BF16, F16, U8; by name within a dtype); the second name
    // needs JSON escapes (quote, tab, a control character) and holds UTF-8.
    const std::vector<safetensors_source> tensors = {
        safetensors_source::from_floats("b_f32", {2, 3}, b_f32),
        safetensors_source::from_floats("z \"q\"\t\xC3\xA9\x01", {2}, z_f32),
        safetensors_source::from_floats("a_bf16", {3, 4}, bf16_in, safetensors_dtype::bf16),
        safetensors_source::from_floats("c_f16", {12}, f16_in, safetensors_dtype::f16),
        safetensors_source::from_bytes("d_u8", "U8", {5}, u8),
    };
    const safetensors_metadata meta = {{"format", "lowbit"}};
    const auto want = file_bytes(data_dir / "numpy_order.safetensors");
    const auto got = serialize_safetensors(tensors, meta);
    CHECK(got.size() == want.size());
    CHECK(got == want);
    if (got != want) {
        for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i)
            if (got[i] != want[i]) {
                CAPTURE(i);
                FAIL("first differing byte");
                break;
            }
    }
    const fs::path p = scratch() / "order.safetensors";
    write_safetensors(p, tensors, meta);
    CHECK(file_bytes(p) == want);
    fs::remove(p);
}

TEST_CASE("safetensors: round trip of every dtype the writer takes") {
    std::vector<float> f(24);
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = std::ldexp(float(i) - 11.3f, int(i) - 12);
    f[3] = std::numeric_limits<float>::infinity();
    f[4] = -0.0f;
    f[5] = std::numeric_limits<float>::quiet_NaN();
    f[6] = 1e-41f;    // subnormal in float; 0 in half
    f[7] = 70000.0f;  // Inf in half
    std::vector<std::uint8_t> codes(7), i32(12), f8(10), f4(3), flags = {1, 0, 1};
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = std::uint8_t(37 * i + 1);
    const std::int32_t ints[3] = {-5, 0, 123456789};
    std::memcpy(i32.data(), ints, 12);
    for (std::size_t i = 0; i < f8.size(); ++i) f8[i] = std::uint8_t(0x31 * i);
    for (std::size_t i = 0; i < f4.size(); ++i) f4[i] = std::uint8_t(0x5A + i);
    const float scalar = -3.25f;
    const std::vector<safetensors_source> tensors = {
        safetensors_source::from_floats("w.f32", {4, 6}, f),
        safetensors_source::from_floats("w.f16", {2, 12}, f, safetensors_dtype::f16),
        safetensors_source::from_floats("w.bf16", {24}, f, safetensors_dtype::bf16),
        safetensors_source::from_bytes("codes", "U8", {7}, codes),
        safetensors_source::from_bytes("ints", safetensors_dtype::i32, {3}, i32),
        safetensors_source::from_bytes("fp8", "F8_E4M3", {2, 5}, f8),
        safetensors_source::from_bytes("fp4", "F4", {6}, f4),
        safetensors_source::from_bytes("flags", "BOOL", {3}, flags),
        safetensors_source::from_floats("scalar", {}, std::span<const float>(&scalar, 1)),
        safetensors_source::from_floats("empty", {0, 5}, {}),
        safetensors_source::from_floats("empty16", {5, 0}, {}, safetensors_dtype::f16),
    };
    const safetensors_metadata meta = {{"b", "2"}, {"a", "1 \"quoted\" \xE2\x82\xAC"}, {"", ""}};
    const fs::path p = scratch() / "round.safetensors";
    write_safetensors(p, tensors, meta);
    CHECK(listing(scratch()) == std::vector<std::string>{"round.safetensors"});
    const auto bytes = file_bytes(p);
    CHECK(bytes == serialize_safetensors(tensors, meta));

    safetensors_file file(p);
    CHECK(file.header_size() % 8 == 0);
    CHECK(file.metadata() == meta);
    std::vector<std::string> names;
    for (const auto& t : tensors) names.push_back(t.name);
    CHECK(file.names() == names);  // laid out in the order given

    const auto a32 = file.read_float("w.f32");
    CHECK(a32.shape == std::vector<std::size_t>{4, 6});
    REQUIRE(a32.data.size() == f.size());
    const auto a16 = file.read_float("w.f16");
    const auto ab16 = file.read_float("w.bf16");
    for (std::size_t i = 0; i < f.size(); ++i) {
        CAPTURE(i);
        CHECK(same_float(a32.data[i], f[i]));
        CHECK(bits(a16.data[i]) ==
              bits(detail::half_bits_to_float(detail::float_to_half_bits(f[i]))));
        CHECK(bits(ab16.data[i]) == std::uint32_t(detail::float_to_bf16_bits(f[i])) << 16);
        if (std::abs(f[i]) < 65504.0f)  // finite and in half's range: within half an ulp
            CHECK(std::abs(a16.data[i] - f[i]) <= std::abs(f[i]) * 0x1p-11f + 0x1p-25f);
    }
    CHECK(std::isinf(a16.data[7]));
    CHECK(a16.data[6] == 0.0f);
    CHECK(std::isnan(a16.data[5]));
    CHECK(std::isnan(ab16.data[5]));
    CHECK(std::signbit(ab16.data[4]));
    const auto raw = [&](const char* n) {
        const auto s = file.bytes(n);
        return std::vector<std::uint8_t>(s.begin(), s.end());
    };
    CHECK(raw("codes") == codes);
    CHECK(raw("ints") == i32);
    CHECK(raw("fp8") == f8);
    CHECK(raw("fp4") == f4);
    CHECK(raw("flags") == flags);
    CHECK(file.info("fp4").elements == 6);
    CHECK(file.info("fp4").dtype == safetensors_dtype::f4);
    // F8_E4M3 written raw reads back through the library's E4M3FN decode.
    const auto a8 = file.read_float("fp8");
    for (std::size_t i = 0; i < f8.size(); ++i)
        CHECK(same_float(a8.data[i], e4m3fn::decode(f8[i])));
    CHECK(file.read_float("scalar").shape.empty());
    CHECK(file.read_float("scalar").data == std::vector<float>{-3.25f});
    CHECK(file.read_float("empty").data.empty());
    CHECK(file.read_float("empty16").shape == std::vector<std::size_t>{5, 0});
    CHECK_THROWS_WITH_AS((void)file.read_float("fp4"), doctest::Contains("dtype F4"),
                         lowbit::error);
    CHECK_THROWS_WITH_AS((void)file.read_float("codes"), doctest::Contains("dtype U8"),
                         lowbit::error);

    // Movable: the moved-to object keeps the mapping, the moved-from one is empty.
    safetensors_file moved(std::move(file));
    CHECK(moved.read_float("w.f32").data.size() == 24);
    CHECK(file.size() == 0);  // NOLINT(bugprone-use-after-move): documented as empty
    safetensors_file other(data_dir / "numpy_all.safetensors");
    other = std::move(moved);
    CHECK(other.names() == names);
    CHECK(other.path() == p);

    // Rewriting a file that is open keeps the open one intact (the writer renames a new file in).
    const std::vector<float> one = {42.0f};
    write_safetensors(p, std::vector{safetensors_source::from_floats("x", {1}, one)});
    CHECK(other.read_float("w.f32").data.size() == 24);
    CHECK(safetensors_file(p).names() == std::vector<std::string>{"x"});
    fs::remove(p);
}

TEST_CASE("safetensors: the writer refuses inconsistent tensors, naming them") {
    const std::vector<float> six(6, 1.0f);
    const std::vector<std::uint8_t> four(4, 0);
    auto err = [](std::vector<safetensors_source> t, const safetensors_metadata& m = {}) {
        try {
            (void)serialize_safetensors(t, m);
        } catch (const lowbit::error& e) { return std::string(e.what()); }
        return std::string();
    };
    using S = safetensors_source;
    CHECK(err({S::from_floats("a", {2, 3}, six)}).empty());
    CHECK(err({S::from_floats("a", {2, 3}, six), S::from_floats("a", {6}, six)})
              .find("tensors[1] ('a')") != std::string::npos);
    CHECK(err({S::from_floats("__metadata__", {6}, six)}).find("__metadata__") !=
          std::string::npos);
    CHECK(err({S::from_floats("a", {2, 2}, six)}).find("tensors[0] ('a').values") !=
          std::string::npos);
    CHECK(err({S::from_floats("a", {6}, six, safetensors_dtype::i32)}).find(".dtype") !=
          std::string::npos);
    CHECK(err({S::from_floats("a", {6}, six, safetensors_dtype::f8_e4m3)}).find("F8_E4M3") !=
          std::string::npos);
    CHECK(err({S::from_bytes("a", "U8", {5}, four)}).find("tensors[0] ('a').raw") !=
          std::string::npos);
    CHECK(err({S::from_bytes("a", "F4", {3}, four)}).find("whole bytes") != std::string::npos);
    CHECK(err({S::from_bytes("a", "I32", {std::size_t(1) << 62, 8}, four)}).find("overflows") !=
          std::string::npos);
    CHECK(err({S::from_floats("bad\xFF", {6}, six)}).find("UTF-8") != std::string::npos);
    CHECK(err({S::from_floats("a", {6}, six)}, {{"k", "bad\xC3"}}).find("metadata['k']") !=
          std::string::npos);
    CHECK(err({S::from_floats("a", {6}, six)}, {{"\xFE", "v"}}).find("metadata key") !=
          std::string::npos);
    CHECK_THROWS_WITH_AS(S::from_bytes("a", "F33", {4}, four), doctest::Contains("'F33'"),
                         lowbit::error);

    // Files: nothing is created when the tensors are wrong; a path that cannot be written is
    // named; no temporary is left behind.
    const fs::path p = scratch() / "refused.safetensors";
    CHECK_THROWS_AS(write_safetensors(p, std::vector{S::from_floats("a", {5}, six)}),
                    lowbit::error);
    CHECK(!fs::exists(p));
    const fs::path nodir = scratch() / "no_such_dir" / "x.safetensors";
    CHECK_THROWS_WITH_AS(write_safetensors(nodir, std::vector{S::from_floats("a", {6}, six)}),
                         doctest::Contains(nodir.string().c_str()), lowbit::error);
    CHECK(listing(scratch()).empty());
}

#if defined(__unix__)
TEST_CASE("safetensors: a write that fails midway throws, leaves the old file and no temporary") {
    const fs::path p = scratch() / "full.safetensors";
    const std::vector<float> small = {1.0f, 2.0f};
    write_safetensors(p, std::vector{safetensors_source::from_floats("old", {2}, small)});
    const auto old_bytes = file_bytes(p);
    // A file size limit makes writes past 64 KiB fail with EFBIG, as a full disk fails them.
    rlimit saved{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = 65536;
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &low) == 0);
    const std::vector<float> big(1 << 20, 0.5f);
    std::string msg;
    try {
        write_safetensors(p, std::vector{safetensors_source::from_floats("big", {1 << 20}, big)});
    } catch (const lowbit::error& e) { msg = e.what(); }
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("cannot be written") != std::string::npos);
    CHECK(file_bytes(p) == old_bytes);
    CHECK(listing(scratch()) == std::vector<std::string>{"full.safetensors"});
    // write_npy goes through the same path.
    REQUIRE(setrlimit(RLIMIT_FSIZE, &low) == 0);
    std::signal(SIGXFSZ, SIG_IGN);
    const std::vector<std::size_t> shape = {big.size()};
    CHECK_THROWS_WITH_AS(write_npy(scratch() / "big.npy", shape, big), doctest::Contains("big.npy"),
                         lowbit::error);
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    CHECK(listing(scratch()) == std::vector<std::string>{"full.safetensors"});
    fs::remove(p);
}
#endif

TEST_CASE("safetensors: valid layouts beyond the writer's") {
    // Header order differs from data order (writers before the crate's sorted layout): the
    // index is in data order; empty tensors may share an offset; sub-byte dtypes fill bytes.
    const std::string h = "{" + entry("b", "F32", "[2]", "[4,12]") + "," +
        entry("a", "F16", "[2]", "[0,4]") + "," + entry("e1", "F32", "[0]", "[12,12]") + "," +
        entry("e0", "BF16", "[3,0,7]", "[12,12]") + "," + entry("q", "F4", "[2,3]", "[12,15]") +
        ",\"__metadata__\":{}}   ";
    auto b = image(h, 15);
    for (int i = 0; i < 8; ++i) b[8 + h.size() + 4 + i] = std::uint8_t(0x40 + i);
    const auto v = parse_safetensors(b, "mem");
    CHECK(v.names() == std::vector<std::string>{"a", "b", "e1", "e0", "q"});
    CHECK(v.metadata().empty());
    CHECK(v.read_float("b").data.size() == 2);
    CHECK(v.read_float("e0").data.empty());
    CHECK(v.read_float("e0").shape == std::vector<std::size_t>{3, 0, 7});
    CHECK(v.bytes("q").size() == 3);
    CHECK(v.bytes("b").data() == b.data() + v.data_offset() + 4);
    // A header that is only "{}" and no data; whitespace around the object.
    CHECK(parse_safetensors(image("{}"), "m").size() == 0);
    CHECK(parse_safetensors(image(" \n\t{ } \r\n"), "m").size() == 0);
    // Huge dimensions beside a zero one: empty, no overflow.
    CHECK(parse_safetensors(
              image("{" + entry("z", "F32", "[18446744073709551615,0]", "[0,0]") + "}"), "m")
              .info("z")
              .elements == 0);
    // Escapes in names and metadata decode.
    const auto esc = parse_safetensors(image("{\"__metadata__\":{\"k\\n\":\"\\u00e9\\\"\"}," +
                                                 entry("a\\u0000b", "U8", "[1]", "[0,1]") + "}",
                                             1),
                                       "m");
    CHECK(esc.contains(std::string("a\0b", 3)));
    CHECK(esc.metadata().at("k\n") == "\xC3\xA9\"");
}

TEST_CASE("safetensors: malformed images are refused, naming the byte offset and the field") {
    const std::string f32_ok = entry("a", "F32", "[2]", "[0,8]");
    struct bad_case {
        std::string header;
        std::size_t data;
        const char* field;
    };
    const std::string big = std::to_string(std::size_t(1) << 61);
    const bad_case cases[] = {
        // JSON syntax and encoding.
        {"", 0, "invalid JSON"},
        {"{", 0, "invalid JSON"},
        {"{\"a\":}", 0, "invalid JSON"},
        {"{} x", 0, "invalid JSON"},
        {"{}{}", 0, "invalid JSON"},
        {"{\"a\" " + f32_ok.substr(4) + "}", 8, "invalid JSON"},  // no ':'

        {"{" + f32_ok + ",}", 8, "invalid JSON"},
        {"{'a':1}", 0, "invalid JSON"},
        {"{\"\xFF\":1}", 0, "invalid JSON"},
        {"{\"\xC3\":1}", 0, "invalid JSON"},
        {"{\"\\ud800\":1}", 0, "invalid JSON"},
        {"{\"a\x01\":1}", 0, "invalid JSON"},
        {"{/*c*/}", 0, "invalid JSON"},
        {std::string("{}\0garbage", 10), 0, "NUL byte"},
        {std::string("{\"a\0\":1}", 8), 0, "NUL byte"},
        {"\xEF\xBB\xBF{}", 0, "byte order mark"},
        // Not an object.
        {"[]", 0, "header: is an array"},
        {"1", 0, "header: is a number"},
        {"\"s\"", 0, "header: is a string"},
        {"null", 0, "header: is null"},
        {"true", 0, "header: is a boolean"},
        // Tensor entries.
        {"{\"a\":1}", 0, "tensor 'a'"},
        {"{\"a\":[]}", 0, "tensor 'a'"},
        {"{\"a\":\"F32\"}", 0, "tensor 'a'"},
        {"{\"a\":null}", 0, "tensor 'a'"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "field 'dtype': is missing"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "field 'shape': is missing"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "field 'data_offsets': is missing"},
        {"{\"a\":{}}", 0, "field 'dtype': is missing"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8,
         "field 'extra'"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         "field 'dtype': appears twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         "field 'shape': appears twice"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"data_offsets\":[0,8]}}",
         8, "field 'data_offsets': appears twice"},
        {"{" + f32_ok + "," + f32_ok + "}", 16, "tensor 'a': appears twice"},
        // dtype.
        {"{" + entry("a", "F12", "[2]", "[0,8]") + "}", 8, "field 'dtype'"},
        {"{" + entry("a", "f32", "[2]", "[0,8]") + "}", 8, "field 'dtype'"},
        {"{" + entry("a", "", "[2]", "[0,8]") + "}", 8, "field 'dtype'"},
        {"{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "field 'dtype'"},
        {"{\"a\":{\"dtype\":[\"F32\"],\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "field 'dtype'"},
        {"{\"a\":{\"dtype\":null,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "field 'dtype'"},
        // shape.
        {"{" + entry("a", "F32", "\"2\"", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "2", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "{}", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[2.0]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[2e0]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[-2]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[true]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[null]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[\"2\"]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[[2]]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[{}]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[18446744073709551616]", "[0,8]") + "}", 8, "field 'shape'"},
        {"{" + entry("a", "F32", "[4294967296,4294967296]", "[0,0]") + "}", 0,
         "field 'shape': has an element count that overflows"},
        {"{" + entry("a", "F32", "[" + big + "]", "[0,0]") + "}", 0,
         "field 'shape': has a size in bits that overflows"},
        {"{" + entry("a", "F4", "[3]", "[0,2]") + "}", 2, "field 'shape'"},
        {"{" + entry("a", "F6_E2M3", "[2]", "[0,2]") + "}", 2, "field 'shape'"},
        // data_offsets, within a tensor.
        {"{" + entry("a", "F32", "[2]", "\"0,8\"") + "}", 8, "field 'data_offsets'"},
        {"{" + entry("a", "F32", "[2]", "[0]") + "}", 8, "field 'data_offsets': has 1 entries"},
        {"{" + entry("a", "F32", "[2]", "[]") + "}", 8, "field 'data_offsets': has 0 entries"},
        {"{" + entry("a", "F32", "[2]", "[0,8,8]") + "}", 8, "field 'data_offsets'"},
        {"{" + entry("a", "F32", "[2]", "[-1,8]") + "}", 8, "field 'data_offsets'"},
        {"{" + entry("a", "F32", "[2]", "[0,8.0]") + "}", 8, "field 'data_offsets'"},
        {"{" + entry("a", "F32", "[2]", "[[0],8]") + "}", 8, "field 'data_offsets'"},
        {"{" + entry("a", "F32", "[0]", "[8,0]") + "}", 8, "field 'data_offsets': begin 8 is past"},
        {"{" + entry("a", "F32", "[2,3]", "[0,20]") + "}", 20, "field 'data_offsets': [0, 20]"},
        {"{" + entry("a", "F16", "[2]", "[0,8]") + "}", 8, "field 'data_offsets'"},
        {"{" + entry("a", "F32", "[2]", "[18446744073709551615,7]") + "}", 8,
         "field 'data_offsets'"},
        {"{" + entry("a", "F32", "[2]", "[18446744073709551608,18446744073709551615]") + "}", 8,
         "field 'data_offsets'"},
        // data_offsets against the buffer and each other.
        {"{" + f32_ok + "}", 4, "field 'data_offsets': ends at 8, past"},
        {"{" + f32_ok + "}", 0, "field 'data_offsets': ends at 8, past"},
        {"{" + f32_ok + "," + entry("b", "F32", "[2]", "[4,12]") + "}", 12,
         "tensor 'b' field 'data_offsets': [4, 12] overlaps tensor 'a'"},
        {"{" + f32_ok + "," + entry("b", "F32", "[2]", "[0,8]") + "}", 8, "overlaps tensor 'a'"},
        {"{" + f32_ok + "," + entry("b", "F32", "[1]", "[12,16]") + "}", 16,
         "tensor 'b' field 'data_offsets': begins at 12, leaving data bytes 8 to 12 unused"},
        {"{" + entry("a", "F32", "[2]", "[4,12]") + "}", 12, "leaving data bytes 0 to 4 unused"},
        {"{" + f32_ok + "}", 9, "data_offsets: the tensors end at 8"},
        {"{}", 1, "data_offsets: the tensors end at 0"},
        {"{" + entry("a", "F32", "[0]", "[0,0]") + "}", 3, "data_offsets"},
        // __metadata__.
        {"{\"__metadata__\":1}", 0, "'__metadata__'"},
        {"{\"__metadata__\":null}", 0, "'__metadata__'"},
        {"{\"__metadata__\":[]}", 0, "'__metadata__'"},
        {"{\"__metadata__\":\"x\"}", 0, "'__metadata__'"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "'__metadata__' key 'k': is a number"},
        {"{\"__metadata__\":{\"k\":null}}", 0, "'__metadata__' key 'k': is null"},
        {"{\"__metadata__\":{\"k\":true}}", 0, "'__metadata__' key 'k'"},
        {"{\"__metadata__\":{\"k\":{}}}", 0, "'__metadata__' key 'k': is an object"},
        {"{\"__metadata__\":{\"k\":[\"v\"]}}", 0, "'__metadata__' key 'k': is an array"},
        {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0,
         "'__metadata__' key 'k': appears twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "'__metadata__': appears twice"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.header);
        const auto m = parse_error(image(c.header, c.data));
        CHECK(m.find(c.field) != std::string::npos);
        CHECK(m.find("mem.safetensors: byte ") != std::string::npos);
    }

    // The header length.
    auto length_error = [](std::vector<std::uint8_t> b) { return parse_error(b); };
    for (std::size_t n = 0; n < 8; ++n) {
        CAPTURE(n);
        CHECK(length_error(std::vector<std::uint8_t>(n, 0)).find("byte 0, header length") !=
              std::string::npos);
    }
    auto b = image("{}");
    b[0] = 3;  // one byte past the file
    CHECK(length_error(b).find("past the end of the file") != std::string::npos);
    b[0] = 0;
    b[3] = 0x10;  // 2^28 > 100 MB
    CHECK(length_error(b).find("above the limit") != std::string::npos);
    for (int i = 0; i < 8; ++i) b[i] = 0xFF;
    CHECK(length_error(b).find("header length") != std::string::npos);
    b = image("{}");
    b[0] = 1;  // "{" alone, then a stray byte of data
    CHECK(length_error(b).find("invalid JSON") != std::string::npos);
    // Where the byte offset points: the JSON error at the 'x' of "{} x" is file byte 11.
    CHECK(parse_error(image("{} x")).find("byte 11,") != std::string::npos);
}

TEST_CASE("safetensors_file: files that cannot be opened are named") {
    const fs::path missing = scratch() / "missing.safetensors";
    CHECK_THROWS_WITH_AS(safetensors_file{missing}, doctest::Contains(missing.string().c_str()),
                         lowbit::error);
    CHECK_THROWS_WITH_AS(safetensors_file{scratch()}, doctest::Contains("regular file"),
                         lowbit::error);
    const fs::path tiny = scratch() / "tiny.safetensors";
    { std::ofstream(tiny, std::ios::binary) << "abc"; }
    CHECK_THROWS_WITH_AS(safetensors_file{tiny}, doctest::Contains("header length"), lowbit::error);
    const fs::path truncated = scratch() / "truncated.safetensors";
    {
        const auto all = file_bytes(data_dir / "numpy_all.safetensors");
        std::ofstream(truncated, std::ios::binary)
            .write(reinterpret_cast<const char*>(all.data()), std::streamsize(all.size() - 1));
    }
    CHECK_THROWS_WITH_AS(safetensors_file{truncated}, doctest::Contains("truncated.safetensors"),
                         lowbit::error);
    fs::remove(tiny);
    fs::remove(truncated);
}

TEST_CASE("npy writer: numpy's bytes, read back by read_npy") {
    std::vector<float> m(12);
    for (int i = 0; i < 12; ++i) m[i] = (float(i) - 5.5f) / 4.0f;
    struct npy_case {
        const char* file;
        std::vector<std::size_t> shape;
        std::vector<float> values;
    };
    const npy_case cases[] = {{"f32_3x4.npy", {3, 4}, m},
                              {"f32_2x3x2.npy", {2, 3, 2}, m},
                              {"f32_1d.npy", {12}, m},
                              {"f32_scalar.npy", {}, {2.5f}},
                              {"f32_empty.npy", {0, 4}, {}}};
    for (const auto& c : cases) {
        CAPTURE(c.file);
        const fs::path p = scratch() / c.file;
        write_npy(p, c.shape, c.values);
        CHECK(file_bytes(p) == file_bytes(npy_dir / c.file));
        const auto back = read_npy(p);
        CHECK(back.shape == c.shape);
        CHECK(back.data == c.values);
        fs::remove(p);
    }
    // Header lengths that land exactly on 64 (numpy then pads a full 64 more) and past 128.
    for (std::size_t dims = 1; dims <= 32; ++dims) {
        CAPTURE(dims);
        std::vector<std::size_t> shape(dims, 1);
        shape[0] = 1000000007;
        const fs::path p = scratch() / "dims.npy";
        const std::vector<float> none;
        shape.back() = 0;
        write_npy(p, shape, none);
        const auto b = file_bytes(p);
        const std::size_t header = std::size_t(b[8]) | std::size_t(b[9]) << 8;
        CHECK((10 + header) % 64 == 0);
        CHECK(b.size() == 10 + header);
        CHECK(read_npy(p).shape == shape);
        fs::remove(p);
    }

    // '<f2': every non-NaN half code as numpy wrote it; NaNs stay NaN with their sign.
    const auto all = read_npy(npy_dir / "f16_all.npy");
    const fs::path p = scratch() / "f16_all.npy";
    write_npy_f16(p, all.shape, all.data);
    const auto got = file_bytes(p), want = file_bytes(npy_dir / "f16_all.npy");
    REQUIRE(got.size() == want.size());
    CHECK(std::equal(got.begin(), got.begin() + 128, want.begin()));
    std::size_t differ = 0;
    for (std::size_t c = 0; c < 65536; ++c) {
        const std::uint16_t g = std::uint16_t(got[128 + 2 * c] | got[129 + 2 * c] << 8);
        const bool nan = (c & 0x7C00) == 0x7C00 && (c & 0x3FF);
        differ +=
            nan ? !((g & 0x7C00) == 0x7C00 && (g & 0x3FF) && (g & 0x8000) == (c & 0x8000)) : g != c;
    }
    CHECK(differ == 0);
    CHECK(read_npy(p).dtype == "<f2");
    fs::remove(p);

    // Errors name the path.
    const std::vector<std::size_t> wrong = {5};
    CHECK_THROWS_WITH_AS(write_npy(scratch() / "w.npy", wrong, m), doctest::Contains("w.npy"),
                         lowbit::error);
    const std::vector<std::size_t> many(33, 1);
    const std::vector<float> one = {1.0f};
    CHECK_THROWS_WITH_AS(write_npy(scratch() / "w.npy", many, one),
                         doctest::Contains("32 dimensions"), lowbit::error);
    const std::vector<std::size_t> huge = {std::size_t(1) << 40, std::size_t(1) << 40};
    CHECK_THROWS_WITH_AS(write_npy(scratch() / "w.npy", huge, one), doctest::Contains("overflows"),
                         lowbit::error);
    const std::vector<std::size_t> twelve = {12};
    CHECK_THROWS_WITH_AS(write_npy(scratch() / "no" / "w.npy", twelve, m),
                         doctest::Contains("cannot be written"), lowbit::error);
    CHECK(listing(scratch()).empty());
}

TEST_CASE("safetensors: dtype names and sizes") {
    CHECK(parse_safetensors_dtype("F8_E4M3") == safetensors_dtype::f8_e4m3);
    CHECK(!parse_safetensors_dtype("F8_E4M3FN"));
    CHECK(safetensors_dtype_bits(safetensors_dtype::f4) == 4);
    CHECK(safetensors_dtype_bits(safetensors_dtype::c64) == 64);
    CHECK(safetensors_dtype_name(safetensors_dtype::boolean) == "BOOL");
    std::size_t n = 0;
    for (const auto& r : detail::safetensors_dtypes) {
        CAPTURE(r.name);
        CHECK(safetensors_dtype_name(r.dtype) == r.name);  // the table is in enum order
        CHECK(parse_safetensors_dtype(r.name) == r.dtype);
        ++n;
    }
    CHECK(n == 22);
}
