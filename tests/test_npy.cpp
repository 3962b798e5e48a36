// io/npy.hpp: files numpy wrote (scripts/make_npy_test_data.py), every float16 code, raw
// float32, directories, and malformed bytes that must give lowbit::error naming the file.
#include <doctest/doctest.h>

#include <lowbit/io/npy.hpp>

#include <Eigen/Core>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace lowbit;
namespace fs = std::filesystem;

namespace {
const fs::path dir = fs::path(LOWBIT_TEST_DATA_DIR) / "npy";

std::vector<float> expected_3x4() {
    std::vector<float> v(12);
    for (int i = 0; i < 12; ++i) v[i] = (float(i) - 5.5f) / 4.0f;
    return v;
}

/// A v1 .npy image with the given header text (padded as numpy does) and data bytes.
std::vector<std::uint8_t> npy_bytes(const std::string& header, std::size_t data_bytes,
                                    int version = 1) {
    std::vector<std::uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', std::uint8_t(version), 0};
    const std::size_t len = header.size();
    b.push_back(std::uint8_t(len & 0xFF));
    b.push_back(std::uint8_t(len >> 8));
    if (version > 1) {
        b.push_back(0);
        b.push_back(0);
    }
    b.insert(b.end(), header.begin(), header.end());
    b.resize(b.size() + data_bytes, 0);
    return b;
}

/// The error message of parse_npy on b ("" when it does not throw).
std::string parse_error(const std::vector<std::uint8_t>& b) {
    try {
        (void)parse_npy(b, "mem.npy");
    } catch (const lowbit::error& e) {
        CHECK(e.argument() == "mem.npy");
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("npy: float32 in every header version, shapes mapped to rows x cols") {
    for (const char* name : {"f32_3x4.npy", "f32_3x4_v2.npy", "f32_3x4_v3.npy"}) {
        CAPTURE(name);
        const auto a = read_npy(dir / name);
        CHECK(a.dtype == "<f4");
        CHECK(a.shape == std::vector<std::size_t>{3, 4});
        CHECK(a.data == expected_3x4());
        CHECK(a.matrix_shape() == shape2d{3, 4});
    }
    const auto a3 = read_npy(dir / "f32_2x3x2.npy");
    CHECK(a3.shape == std::vector<std::size_t>{2, 3, 2});
    CHECK(a3.matrix_shape() == shape2d{2, 6});
    CHECK(a3.data == expected_3x4());
    const auto a1 = read_npy(dir / "f32_1d.npy");
    CHECK(a1.matrix_shape() == shape2d{1, 12});
    const auto a0 = read_npy(dir / "f32_scalar.npy");
    CHECK(a0.shape.empty());
    CHECK(a0.data == std::vector<float>{2.5f});
    CHECK(a0.matrix_shape() == shape2d{1, 1});
    const auto ae = read_npy(dir / "f32_empty.npy");
    CHECK(ae.data.empty());
    CHECK(ae.matrix_shape() == shape2d{0, 0});
}

TEST_CASE("npy: every float16 code converts exactly (Eigen::half as the reference)") {
    const auto a = read_npy(dir / "f16_all.npy");
    CHECK(a.dtype == "<f2");
    REQUIRE(a.data.size() == 65536);
    for (std::uint32_t c = 0; c < 65536; ++c) {
        const float want =
            static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(std::uint16_t(c)));
        const float got = a.data[c];
        if (std::isnan(want)) {
            // Quiet NaNs keep their payload; Eigen quiets signalling ones, we keep the bits.
            CHECK(std::isnan(got));
            CHECK((std::bit_cast<std::uint32_t>(got) >> 13 & 0x3FFu) == (c & 0x3FFu));
        } else {
            CHECK(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(want));
        }
    }
}

TEST_CASE("raw float32 files and read_tensor's detection") {
    const auto r = read_raw_f32(dir / "f32_3x4.raw");
    CHECK(r.data == expected_3x4());
    CHECK(r.matrix_shape() == shape2d{1, 12});
    CHECK(read_tensor(dir / "f32_3x4.raw").dtype == "raw-f32");
    CHECK(read_tensor(dir / "f32_3x4.npy").shape == std::vector<std::size_t>{3, 4});
    const std::vector<std::uint8_t> odd(7, 0);
    CHECK_THROWS_WITH_AS(parse_raw_f32(odd, "x.raw"), doctest::Contains("x.raw"), lowbit::error);
    CHECK_THROWS_AS(read_raw_f32(dir / "no_such_file.raw"), lowbit::error);
    // A file named .npy is never read as raw data, even when its size would fit.
    const fs::path fake = fs::temp_directory_path() / "lowbit_test_fake.npy";
    fs::copy_file(dir / "f32_3x4.raw", fake, fs::copy_options::overwrite_existing);
    CHECK_THROWS_WITH_AS(read_tensor(fake), doctest::Contains("magic"), lowbit::error);
    fs::remove(fake);
}

TEST_CASE("npy: unsupported files name the file and the problem") {
    auto msg = [](const char* name) {
        try {
            (void)read_npy(dir / name);
        } catch (const lowbit::error& e) { return std::string(e.what()); }
        return std::string();
    };
    CHECK(msg("f32_fortran.npy").find("Fortran") != std::string::npos);
    CHECK(msg("f32_fortran.npy").find("f32_fortran.npy") != std::string::npos);
    CHECK(msg("f32_big_endian.npy").find("'>f4'") != std::string::npos);
    CHECK(msg("f64_3x4.npy").find("'<f8'") != std::string::npos);
    CHECK(msg("i8_3x4.npy").find("'|i1'") != std::string::npos);
    CHECK(msg("i8_3x4.npy").find("i8_3x4.npy") != std::string::npos);
}

TEST_CASE("npy: malformed headers, overflowing shapes and truncated data are errors") {
    const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
    CHECK(parse_error(npy_bytes(ok, 24)).empty());
    CHECK(parse_error(npy_bytes(ok, 24, 2)).empty());
    CHECK(parse_npy(npy_bytes("{\"shape\":(2,3),\"fortran_order\":False,\"descr\":\"<f4\"}", 24))
              .data.size() == 6);
    CHECK(parse_error(npy_bytes(ok, 23)).find("truncated") != std::string::npos);
    CHECK(parse_error(npy_bytes(ok, 25)).find("after its data") != std::string::npos);
    CHECK(parse_error(npy_bytes(ok, 24, 4)).find("version 4") != std::string::npos);
    auto bad_magic = npy_bytes(ok, 24);
    bad_magic[1] = 'X';
    CHECK(parse_error(bad_magic).find("magic") != std::string::npos);
    // Header length beyond the file.
    auto long_header = npy_bytes(ok, 0);
    long_header[8] = 0xFF;
    long_header[9] = 0xFF;
    CHECK(parse_error(long_header).find("truncated") != std::string::npos);
    CHECK(!parse_error(std::vector<std::uint8_t>(long_header.begin(), long_header.begin() + 9))
               .empty());
    CHECK(!parse_error({}).empty());
    // A v2 header cut inside its 4-byte length.
    CHECK(!parse_error({0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 1, 0, 0}).empty());

    const char* malformed[] = {
        "",  // empty
        "{",
        "{'descr': '<f4', 'fortran_order': False}",                                 // no shape
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",    // unknown key
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",  // duplicate
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",  // not a tuple
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}",  // unterminated
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}",
        // overflow: of the digits, of the element count, of the byte count
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,)}",  // truncated data
    };
    for (const char* h : malformed) {
        CAPTURE(h);
        const auto m = parse_error(npy_bytes(h, 24));
        CHECK(!m.empty());
        CHECK(m.find("mem.npy") != std::string::npos);
    }
    // A zero dimension makes an empty array even beside a huge one; no overflow.
    CHECK(parse_npy(
              npy_bytes(
                  "{'descr': '<f2', 'fortran_order': False, 'shape': (0, 18446744073709551615), }",
                  0))
              .data.empty());
}

TEST_CASE(
    "npy: shapes with a zero dimension are empty in any order; overflow is named wherever it is") {
    // Empty whatever the other dimensions and their order: no product is formed.
    for (const char* shape :
         {"(0, 18446744073709551615)", "(18446744073709551615, 0)", "(4294967296, 4294967296, 0)",
          "(134217728, 0)", "(0,)", "(3, 0, 5)"}) {
        CAPTURE(shape);
        const auto a = parse_npy(npy_bytes(
            std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + shape + ", }", 0));
        CHECK(a.data.empty());
        CHECK(a.matrix_shape().size() == 0);
    }
    const auto rows = parse_npy(
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (134217728, 0), }", 0));
    CHECK(rows.matrix_shape() == shape2d{134217728, 0});
    CHECK(rows.data.capacity() == 0);
    // Non-empty shapes: the element count, the stored bytes and the float bytes must each fit.
    const std::pair<const char*, const char*> overflowing[] = {
        {"<f4", "(4294967296, 4294967296)"},     // elements: 2^64
        {"<f4", "(2, 3, 3074457345618258603)"},  // elements: > 2^64, only with the last dimension
        {"<f4", "(4611686018427387904,)"},       // bytes: 2^62 · 4
        {"<f2", "(4611686018427387904,)"},       // 2^63 bytes stored, but 2^64 as floats
        {"<f2", "(2147483648, 2147483648)"},     // the same, from a product
    };
    for (const auto& [descr, shape] : overflowing) {
        CAPTURE(descr);
        CAPTURE(shape);
        const auto m =
            parse_error(npy_bytes(std::string("{'descr': '") + descr +
                                      "', 'fortran_order': False, 'shape': " + shape + ", }",
                                  8));
        CHECK(m.find("overflows") != std::string::npos);
        CHECK(m.find("mem.npy") != std::string::npos);
    }
}

TEST_CASE("npy directories: sorted by name, only .npy files, errors for none") {
    const fs::path d = fs::temp_directory_path() / "lowbit_test_npy_dir";
    fs::remove_all(d);
    fs::create_directories(d);
    for (const char* n : {"b.npy", "a.npy", "c.npy"}) fs::copy_file(dir / "f32_3x4.npy", d / n);
    fs::copy_file(dir / "f32_3x4.raw", d / "ignored.raw");
    const auto all = read_npy_dir(d);
    REQUIRE(all.size() == 3);
    CHECK(all[0].first == "a.npy");
    CHECK(all[1].first == "b.npy");
    CHECK(all[2].first == "c.npy");
    CHECK(all[2].second.data == expected_3x4());
    fs::copy_file(dir / "f64_3x4.npy", d / "d.npy");
    CHECK_THROWS_WITH_AS(read_npy_dir(d), doctest::Contains("d.npy"), lowbit::error);
    const fs::path empty = d / "sub";
    fs::create_directories(empty);
    CHECK_THROWS_WITH_AS(read_npy_dir(empty), doctest::Contains("no .npy"), lowbit::error);
    CHECK_THROWS_AS(read_npy_dir(d / "a.npy"), lowbit::error);
    fs::remove_all(d);
}
