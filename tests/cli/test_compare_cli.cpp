// lowbit-compare end to end: runs the built binary (LOWBIT_COMPARE_EXE) and checks exit codes,
// messages, and that JSON output parses (a strict parser below) with exactly the documented keys.
#include <doctest/doctest.h>

#include <lowbit/io/gguf.hpp>
#include <lowbit/io/safetensors.hpp>

#include <lowbit/schemes.hpp>

#include "../../examples/compare/datasets.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <memory>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <variant>
#include <vector>

#include "cli_util.hpp"

namespace fs = std::filesystem;

namespace {

// ---- a strict JSON parser (RFC 8259 subset we need: no \u surrogate handling) ----
struct json;
using json_array = std::vector<json>;
using json_object = std::vector<std::pair<std::string, json>>;  // keeps key order
struct json {
    std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<json_array>,
                 std::shared_ptr<json_object>>
        v;
    [[nodiscard]] bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
    [[nodiscard]] bool is_number() const { return std::holds_alternative<double>(v); }
    [[nodiscard]] double num() const { return std::get<double>(v); }
    [[nodiscard]] const std::string& str() const { return std::get<std::string>(v); }
    [[nodiscard]] const json_array& arr() const {
        return *std::get<std::shared_ptr<json_array>>(v);
    }
    [[nodiscard]] const json_object& obj() const {
        return *std::get<std::shared_ptr<json_object>>(v);
    }
    [[nodiscard]] const json& at(const std::string& k) const {
        for (const auto& [key, val] : obj())
            if (key == k) return val;
        throw std::runtime_error("no key " + k);
    }
};

class json_parser {
public:
    explicit json_parser(const std::string& s) : s_(s) {}
    json parse() {
        json j = value();
        ws();
        if (i_ != s_.size()) throw std::runtime_error("trailing bytes in JSON");
        return j;
    }

private:
    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
            ++i_;
    }
    char peek() {
        ws();
        if (i_ >= s_.size()) throw std::runtime_error("unexpected end of JSON");
        return s_[i_];
    }
    void expect(char c) {
        if (peek() != c) throw std::runtime_error(std::string("expected ") + c);
        ++i_;
    }
    bool literal(const char* w) {
        const std::size_t n = std::strlen(w);
        if (s_.compare(i_, n, w) != 0) return false;
        i_ += n;
        return true;
    }
    std::string string() {
        expect('"');
        std::string o;
        while (true) {
            if (i_ >= s_.size()) throw std::runtime_error("unterminated string");
            const char c = s_[i_++];
            if (c == '"') return o;
            if (static_cast<unsigned char>(c) < 0x20)
                throw std::runtime_error("control character in string");
            if (c == '\\') {
                if (i_ >= s_.size()) throw std::runtime_error("bad escape");
                const char e = s_[i_++];
                if (e == 'u') {
                    if (i_ + 4 > s_.size()) throw std::runtime_error("bad \\u");
                    i_ += 4;
                    o += '?';
                } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos)
                    throw std::runtime_error("bad escape");
                else
                    o += e;
            } else {
                o += c;
            }
        }
    }
    json value() {
        const char c = peek();
        if (c == '{') {
            ++i_;
            auto o = std::make_shared<json_object>();
            if (peek() == '}') {
                ++i_;
                return {o};
            }
            while (true) {
                std::string k = string();
                expect(':');
                o->emplace_back(std::move(k), value());
                if (peek() == ',') {
                    ++i_;
                    continue;
                }
                expect('}');
                return {o};
            }
        }
        if (c == '[') {
            ++i_;
            auto a = std::make_shared<json_array>();
            if (peek() == ']') {
                ++i_;
                return {a};
            }
            while (true) {
                a->push_back(value());
                if (peek() == ',') {
                    ++i_;
                    continue;
                }
                expect(']');
                return {a};
            }
        }
        if (c == '"') return {string()};
        if (literal("null")) return {nullptr};
        if (literal("true")) return {true};
        if (literal("false")) return {false};
        // number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        const std::size_t start = i_;
        auto digits = [&] {
            std::size_t k = i_;
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
            return i_ > k;
        };
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        if (i_ < s_.size() && s_[i_] == '0')
            ++i_;
        else if (!digits())
            throw std::runtime_error("bad JSON value at byte " + std::to_string(start));
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            if (!digits()) throw std::runtime_error("bad fraction");
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            if (!digits()) throw std::runtime_error("bad exponent");
        }
        return {std::stod(s_.substr(start, i_ - start))};
    }
    const std::string& s_;
    std::size_t i_ = 0;
};

json parse_json(const std::string& s) { return json_parser(s).parse(); }

// ---- running the binary ----
using lowbit_cli::run_result;
using lowbit_cli::slurp;

run_result run(const std::string& args) {
    return lowbit_cli::run_program(LOWBIT_COMPARE_LAUNCHER, LOWBIT_COMPARE_EXE,
                                   "lowbit_compare_cli", args);
}

const std::string data_dir = std::string(LOWBIT_TEST_DATA_DIR) + "/npy";

const std::vector<std::string> keys = {"dataset",      "scheme",        "bits_per_value",
                                       "mse",          "sqnr_db",       "max_abs_error",
                                       "entropy_bits", "quantize_gbps", "dequantize_gbps"};

/// Checks that every row has exactly the documented keys, in order, with the right types.
void check_rows(const json& j) {
    for (const auto& row : j.arr()) {
        const auto& o = row.obj();
        REQUIRE(o.size() == keys.size());
        for (std::size_t k = 0; k < keys.size(); ++k) {
            CHECK(o[k].first == keys[k]);
            if (k < 2)
                CHECK(std::holds_alternative<std::string>(o[k].second.v));
            else
                CHECK((o[k].second.is_number() || o[k].second.is_null()));
        }
    }
}

std::size_t scheme_count() { return lowbit::all_schemes().size(); }

}  // namespace

TEST_CASE("cli: --help, argument errors exit 2 with a clear message") {
    auto h = run("--help");
    CHECK(h.status == 0);
    CHECK(h.out.find("usage: lowbit-compare") != std::string::npos);

    struct bad {
        const char* args;
        const char* message;
    };
    for (const bad& b :
         {bad{"--schemes int8,nope", "unknown scheme 'nope'"},
          bad{"--schemes int8,,int4_g32", "empty name"}, bad{"--format xml", "--format must be"},
          bad{"--frobnicate", "unknown argument '--frobnicate'"},
          bad{"--input", "--input needs a value"}, bad{"--min-time abc", "--min-time"},
          bad{"--list=yes", "takes no value"}}) {
        CAPTURE(b.args);
        const auto r = run(b.args);
        CHECK(r.status == 2);
        CHECK(r.err.find(b.message) != std::string::npos);
        CHECK(r.out.empty());
    }
    const auto missing = run("--input /no/such/file.npy --min-time 0");
    CHECK(missing.status == 1);
    CHECK(missing.err.find("/no/such/file.npy") != std::string::npos);
    const auto fortran = run("--input " + data_dir + "/f32_fortran.npy --min-time 0");
    CHECK(fortran.status == 1);
    CHECK(fortran.err.find("Fortran") != std::string::npos);
}

TEST_CASE("cli: --list shows every registered scheme, in every format") {
    const auto r = run("--list --format json");
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == scheme_count());
    for (std::size_t i = 0; i < scheme_count(); ++i) {
        CHECK(j.arr()[i].at("scheme").str() == lowbit::all_schemes()[i].name);
        CHECK(j.arr()[i].at("family").str() == lowbit::all_schemes()[i].family);
        CHECK(j.arr()[i].at("bits_per_value").num() >= 1.0);
    }
    const auto t = run("--list");
    CHECK(t.status == 0);
    for (const auto& s : lowbit::all_schemes()) CHECK(t.out.find(s.name) != std::string::npos);
    const auto sel = run("--list --format csv --schemes int4_g32,int8");
    CHECK(sel.out.rfind("scheme,family,bits_per_value,description\nint4_g32,int,4.5,", 0) == 0);
}

TEST_CASE("cli: JSON on a .npy file has exactly the documented keys, one row per scheme") {
    const auto r = run("--input " + data_dir + "/f32_3x4.npy --format json --min-time 0");
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == scheme_count());
    check_rows(j);
    for (std::size_t i = 0; i < scheme_count(); ++i) {
        CHECK(j.arr()[i].at("dataset").str() == "f32_3x4.npy");
        CHECK(j.arr()[i].at("scheme").str() == lowbit::all_schemes()[i].name);
    }
    // int8 per tensor on 12 values: 8 code bits + one fp32 scale spread over 12 values.
    CHECK(j.arr()[0].at("bits_per_value").num() == doctest::Approx(8.0 + 32.0 / 12.0));

    // CSV: the same keys as header, one line per scheme.
    const auto c = run("--input " + data_dir +
                       "/f16_all.npy --format csv --min-time 0 --schemes int8,int4_g32");
    REQUIRE(c.status == 0);
    CHECK(c.out.rfind("dataset,scheme,bits_per_value,mse,sqnr_db,max_abs_error,entropy_bits,"
                      "quantize_gbps,dequantize_gbps\n",
                      0) == 0);
    CHECK(std::count(c.out.begin(), c.out.end(), '\n') == 3);
}

TEST_CASE("cli: --schemes takes spec strings beside registered names") {
    const auto r = run("--input " + data_dir +
                       "/f32_3x4.npy --format json --min-time 0 --schemes "
                       "int8,int4:g=2:scale=mse,hadamard4+nf4:g=4");
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == 3);
    check_rows(j);
    CHECK(j.arr()[1].at("scheme").str() == "int4:g=2:scale=mse");
    CHECK(j.arr()[2].at("scheme").str() == "hadamard4+nf4:g=4");
    // A bad spec: exit 2, and the message lists what the family takes.
    const auto bad = run("--schemes nf4:foo=1 --min-time 0");
    CHECK(bad.status == 2);
    CHECK(bad.err.find("unknown scheme 'nf4:foo=1'") != std::string::npos);
    CHECK(bad.err.find("valid: g, dq") != std::string::npos);
}

TEST_CASE("cli: a directory is evaluated per file and in total over its tensors of rank >= 2") {
    const fs::path d = fs::temp_directory_path() / ("lowbit_cli_dir_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    fs::copy_file(data_dir + "/f32_2x3x2.npy", d / "b_small.npy");
    fs::copy_file(data_dir + "/f32_1d.npy", d / "a_line.npy");
    // 512 gaussian-ish values in a 3-D tensor written by hand (v1 header).
    {
        std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 8, 16), }";
        while ((10 + header.size() + 1) % 64) header += ' ';
        header += '\n';
        std::ofstream f(d / "c_big.npy", std::ios::binary);
        f.write("\x93NUMPY\x01\x00", 8);
        const char len[2] = {char(header.size() & 0xFF), char(header.size() >> 8)};
        f.write(len, 2);
        f.write(header.data(), std::streamsize(header.size()));
        for (int i = 0; i < 512; ++i) {
            const float v = std::sin(float(i) * 0.7f) * float(1 + i % 7);
            f.write(reinterpret_cast<const char*>(&v), 4);
        }
    }
    const auto r = run("--input " + d.string() +
                       " --format json --min-time 0 --schemes int8,int4_g32,int4_ch");
    fs::remove_all(d);
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == 4 * 3);
    check_rows(j);
    const char* order[] = {"a_line.npy", "b_small.npy", "c_big.npy", "total"};
    for (std::size_t i = 0; i < 12; ++i) CHECK(j.arr()[i].at("dataset").str() == order[i / 3]);
    // total = value-weighted combination of the files of rank >= 2 (a_line is 1-D: left out).
    const double n[] = {12, 12, 512};
    for (std::size_t s = 0; s < 3; ++s) {
        double se = 0, bits = 0, maxe = 0;
        for (std::size_t f = 1; f < 3; ++f) {
            const auto& row = j.arr()[f * 3 + s];
            se += row.at("mse").num() * n[f];
            bits += row.at("bits_per_value").num() * n[f];
            maxe = std::max(maxe, row.at("max_abs_error").num());
        }
        const auto& tot = j.arr()[9 + s];
        CHECK(tot.at("scheme").str() == j.arr()[s].at("scheme").str());
        CHECK(tot.at("mse").num() == doctest::Approx(se / 524.0).epsilon(1e-6));
        CHECK(tot.at("bits_per_value").num() == doctest::Approx(bits / 524.0).epsilon(1e-6));
        CHECK(tot.at("max_abs_error").num() == doctest::Approx(maxe).epsilon(1e-6));
        CHECK(tot.at("quantize_gbps").num() > 0);
    }
    // int4_ch on c_big (4 rows x 128): 4 + 4·32 / 512 bits per value.
    CHECK(j.arr()[8].at("bits_per_value").num() == doctest::Approx(4.0 + 128.0 / 512.0));
}

TEST_CASE("cli: non-finite figures are JSON null (exact reconstruction has infinite SQNR)") {
    const fs::path f =
        fs::temp_directory_path() / ("lowbit_cli_zero_" + std::to_string(::getpid()) + ".raw");
    {
        std::ofstream o(f, std::ios::binary);
        const float z[8] = {};
        o.write(reinterpret_cast<const char*>(z), sizeof z);
    }
    const auto r = run("--input " + f.string() + " --format json --min-time 0 --schemes int8");
    fs::remove(f);
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == 1);
    CHECK(j.arr()[0].at("mse").num() == 0.0);
    CHECK(j.arr()[0].at("sqnr_db").is_null());
    CHECK(r.out.find("inf") == std::string::npos);
}

TEST_CASE("cli: built-in data, four datasets, int8 quality on N(0,1)") {
    const auto r = run("--format json --min-time 0 --schemes int8,int8_mse,int4_g32");
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == 12);
    check_rows(j);
    const char* names[] = {"gaussian", "laplace", "student_t4", "gaussian_outliers"};
    for (std::size_t i = 0; i < 12; ++i) CHECK(j.arr()[i].at("dataset").str() == names[i / 3]);
    // 8-bit SQNR on N(0,1): absmax over 2^20 values (max ≈ 5σ) gives ≈ 39 dB; the MSE-searched
    // clip reaches ≥ 40 dB. 6.02 dB per bit: int4 groups land near 21 dB.
    CHECK(j.arr()[0].at("sqnr_db").num() > 38.5);
    CHECK(j.arr()[1].at("sqnr_db").num() >= 40.0);
    CHECK(j.arr()[2].at("sqnr_db").num() == doctest::Approx(21.3).epsilon(0.02));
    for (std::size_t i = 0; i < 12; ++i) {
        CHECK(j.arr()[i].at("entropy_bits").num() <= (i % 3 == 2 ? 4.0 : 8.0));
        CHECK(j.arr()[i].at("quantize_gbps").num() > 0);
        CHECK(j.arr()[i].at("dequantize_gbps").num() > 0);
    }
    CHECK(j.arr()[2].at("bits_per_value").num() == doctest::Approx(4.5));
    // The table prints one block per dataset.
    const auto t = run("--min-time 0 --schemes int4_g32");
    CHECK(t.status == 0);
    for (const char* n : names)
        CHECK(t.out.find(std::string(n) + "\n  scheme") != std::string::npos);
}

TEST_CASE("cli: a directory with one file still gets its total, equal to the file's figures") {
    const fs::path d = fs::temp_directory_path() / ("lowbit_cli_one_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    fs::copy_file(data_dir + "/f32_3x4.npy", d / "only.npy");
    const auto r = run("--input " + d.string() + " --format json --min-time 0 --schemes int4_ch");
    fs::remove_all(d);
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == 2);
    CHECK(j.arr()[0].at("dataset").str() == "only.npy");
    CHECK(j.arr()[1].at("dataset").str() == "total");
    for (const char* k : {"bits_per_value", "mse", "sqnr_db", "max_abs_error", "entropy_bits"})
        CHECK(j.arr()[1].at(k).num() == doctest::Approx(j.arr()[0].at(k).num()).epsilon(1e-9));
}

TEST_CASE("built-in datasets: names, shapes, moments, and exactly 0.1 % outliers at ±20") {
    const auto d = compare::builtin_datasets();
    REQUIRE(d.size() == 4);
    const char* names[] = {"gaussian", "laplace", "student_t4", "gaussian_outliers"};
    // Expected variance: 1, 1 (b = 1/√2), ν/(ν−2) = 2; excess kurtosis 0, 3, (∞ for ν = 4: just
    // large).
    const double var[] = {1.0, 1.0, 2.0};
    for (std::size_t k = 0; k < 4; ++k) {
        CAPTURE(names[k]);
        CHECK(d[k].name == names[k]);
        CHECK(d[k].shape == lowbit::shape2d{1024, 1024});
        REQUIRE(d[k].values.size() == (1u << 20));
        double s = 0, s2 = 0, s4 = 0;
        for (float v : d[k].values) {
            s += v;
            s2 += double(v) * v;
            s4 += double(v) * v * v * v;
        }
        const double n = double(d[k].values.size()), m = s / n, v2 = s2 / n - m * m,
                     kurt = s4 / n / (v2 * v2) - 3.0;
        CHECK(std::fabs(m) < 0.01);
        if (k < 3) CHECK(v2 == doctest::Approx(var[k]).epsilon(0.03));
        if (k == 0) CHECK(std::fabs(kurt) < 0.05);
        if (k == 1) CHECK(kurt == doctest::Approx(3.0).epsilon(0.1));
        if (k == 2) CHECK(kurt > 5.0);
    }
    std::size_t outliers = 0;
    for (float v : d[3].values) outliers += std::fabs(v) == 20.0f;
    CHECK(outliers == (1u << 20) / 1000);
    // The clean part is the same N(0,1) draw as its own seed gives, not a copy of `gaussian`.
    CHECK(d[3].values != d[0].values);
}

TEST_CASE("cli: model files, one dataset per tensor, total over the weights") {
    // A safetensors model with a 1-D norm, two matrices (one BF16) and an integer tensor.
    const fs::path m = fs::temp_directory_path() /
        ("lowbit_cli_model_" + std::to_string(::getpid()) + ".safetensors");
    std::vector<float> w(64 * 96), v(32 * 64), norm(64, 1.0f);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(float(i) * 0.37f);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::cos(float(i) * 0.11f) * 3.0f;
    const std::vector<std::uint8_t> ids(16, 1);
    lowbit::write_safetensors(
        m,
        std::vector{lowbit::safetensors_source::from_floats("w", {64, 96}, w),
                    lowbit::safetensors_source::from_floats("norm", {64}, norm),
                    lowbit::safetensors_source::from_floats("v", {32, 64}, v,
                                                            lowbit::safetensors_dtype::bf16),
                    lowbit::safetensors_source::from_bytes("ids", lowbit::safetensors_dtype::i64,
                                                           {2}, ids)});
    const auto r = run("--input " + m.string() + " --format json --min-time 0 --schemes int4_g32");
    REQUIRE(r.status == 0);
    CHECK(r.err.find("ids (I64) not read as float") != std::string::npos);
    const auto j = parse_json(r.out);
    REQUIRE(j.arr().size() == 4);
    const char* order[] = {"w", "norm", "v", "total"};
    for (std::size_t i = 0; i < 4; ++i) CHECK(j.arr()[i].at("dataset").str() == order[i]);
    const double se = j.arr()[0].at("mse").num() * 6144 + j.arr()[2].at("mse").num() * 2048;
    CHECK(j.arr()[3].at("mse").num() == doctest::Approx(se / 8192).epsilon(1e-6));
    // The same model as GGUF (F32 and F16 tensors): the same tensors, by name.
    const fs::path g = fs::path(m).replace_extension(".gguf");
    {
        const auto bw = lowbit::ggml_quantize(lowbit::ggml_type::f32, w, {64, 96});
        const auto bv = lowbit::ggml_quantize(lowbit::ggml_type::f16, v, {32, 64});
        lowbit::write_gguf(
            g,
            std::vector<lowbit::gguf_source>{{"w", lowbit::ggml_type::f32, {64, 96}, bw},
                                             {"v", lowbit::ggml_type::f16, {32, 64}, bv}});
    }
    const auto rg = run("--input " + g.string() + " --format json --min-time 0 --schemes int4_g32");
    REQUIRE(rg.status == 0);
    const auto jg = parse_json(rg.out);
    REQUIRE(jg.arr().size() == 3);
    CHECK(jg.arr()[0].at("dataset").str() == "w");
    CHECK(jg.arr()[0].at("mse").num() == j.arr()[0].at("mse").num());
    CHECK(jg.arr()[2].at("dataset").str() == "total");
    fs::remove(m);
    fs::remove(g);
}

namespace {
/// The value of attribute `key` in an SVG element's text ("" when absent).
std::string attr(const std::string& element, const std::string& key) {
    const auto at = element.find(" " + key + "=\"");
    if (at == std::string::npos) return "";
    const auto begin = at + key.size() + 3;
    return element.substr(begin, element.find('"', begin) - begin);
}
/// Every element `<tag ...>` of an SVG text, as its opening tag.
std::vector<std::string> elements(const std::string& svg, const std::string& tag) {
    std::vector<std::string> out;
    for (std::size_t at = svg.find("<" + tag + " "); at != std::string::npos;
         at = svg.find("<" + tag + " ", at + 1))
        out.push_back(svg.substr(at, svg.find('>', at) - at + 1));
    return out;
}
}  // namespace

TEST_CASE("cli: --plot writes the rate-distortion SVG of the total; --worst lists weights") {
    const fs::path m = fs::temp_directory_path() /
        ("lowbit_cli_plot_" + std::to_string(::getpid()) + ".safetensors");
    const fs::path svg_path = fs::path(m).replace_extension(".svg");
    std::vector<float> w(64 * 96), v(32 * 64), norm(64);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(float(i) * 0.37f);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::cos(float(i) * 0.11f) * 3.0f;
    for (std::size_t i = 0; i < norm.size(); ++i) norm[i] = 1.0f + 0.01f * float(i);
    lowbit::write_safetensors(
        m,
        std::vector{lowbit::safetensors_source::from_floats("w", {64, 96}, w),
                    lowbit::safetensors_source::from_floats("norm", {64}, norm),
                    lowbit::safetensors_source::from_floats("v", {32, 64}, v)});
    const std::string schemes = " --schemes int8,int4_g32,int2_g32,e4m3fn,mxfp4,nf4_g64";
    const auto r = run("--input " + m.string() + " --min-time 0 --plot " + svg_path.string() +
                       " --worst 1" + schemes);
    REQUIRE(r.status == 0);
    // --worst 1: one line per scheme, a weight (never the 1-D norm).
    const auto at = r.out.find("worst tensors, int4_g32");
    REQUIRE(at != std::string::npos);
    const std::string line =
        r.out.substr(r.out.find('\n', at) + 1,
                     r.out.find('\n', r.out.find('\n', at) + 1) - r.out.find('\n', at) - 1);
    CHECK((line.find(" w") != std::string::npos || line.find(" v") != std::string::npos));
    CHECK(r.out.find("dB  norm") == std::string::npos);
    const auto j =
        parse_json(run("--input " + m.string() + " --min-time 0 --format json" + schemes).out);
    std::ifstream f(svg_path);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string svg = ss.str();
    fs::remove(m);
    fs::remove(svg_path);
    REQUIRE(svg.rfind("<svg ", 0) == 0);
    CHECK(svg.find("</svg>") != std::string::npos);
    const auto panels = elements(svg, "g");
    REQUIRE(panels.size() == 2);
    const auto circles = elements(svg, "circle");
    REQUIRE(circles.size() == 2 * 6);  // a point per scheme in each panel
    // Each point holds the total row's figures and sits where the axes put them.
    for (std::size_t k = 0; k < circles.size(); ++k) {
        const auto& c = circles[k];
        const auto& p = panels[k / 6];
        CAPTURE(c);
        const std::string scheme = attr(c, "data-scheme");
        const json* row = nullptr;
        for (const auto& x : j.arr())
            if (x.at("dataset").str() == "total" && x.at("scheme").str() == scheme) row = &x;
        REQUIRE(row);
        const double bits = std::stod(attr(c, "data-bits"));
        CHECK(bits == doctest::Approx(row->at("bits_per_value").num()).epsilon(1e-7));
        CHECK(std::stod(attr(c, "data-sqnr")) ==
              doctest::Approx(row->at("sqnr_db").num()).epsilon(1e-7));
        CHECK(std::stod(attr(c, "data-entropy")) ==
              doctest::Approx(row->at("entropy_bits").num()).epsilon(1e-7));
        const double x0 = std::stod(attr(p, "data-x0")), y0 = std::stod(attr(p, "data-y0"));
        const double W = std::stod(attr(p, "data-w")), H = std::stod(attr(p, "data-h"));
        const double ymin = std::stod(attr(p, "data-ymin")), ymax = std::stod(attr(p, "data-ymax"));
        const double yv =
            attr(p, "data-y") == "sqnr" ? row->at("sqnr_db").num() : row->at("entropy_bits").num();
        CHECK(std::stod(attr(c, "cx")) ==
              doctest::Approx(x0 + W * bits / std::stod(attr(p, "data-xmax"))).epsilon(1e-3));
        CHECK(std::stod(attr(c, "cy")) ==
              doctest::Approx(y0 - H * (yv - ymin) / (ymax - ymin)).epsilon(1e-3));
    }
    // A labelled line per family in each panel: int, float (e4m3fn, mxfp4 share one?), codebook.
    std::set<std::string> families;
    for (const auto& c : circles) families.insert(attr(c, "data-family"));
    CHECK(elements(svg, "polyline").size() == 2 * families.size());
    for (const auto& fam : families) CHECK(svg.find(">" + fam + "</text>") != std::string::npos);
}

TEST_CASE("cli: --gemv reports the linear layer's error beside its speed, schemes with one only") {
    const auto r =
        run("--gemv --format json --min-time 0 --schemes int8,int4_g32,uint4_g32,e4m3fn");
    REQUIRE(r.status == 0);
    const auto j = parse_json(r.out);
    // e4m3fn has no linear operator on its codes: left out. 3 schemes × 4 built-in datasets.
    REQUIRE(j.arr().size() == 12);
    const std::vector<std::string> gemv_keys = {
        "dataset",          "scheme",  "bits_per_value", "gemv_rel_error",
        "weight_rel_error", "gemv_us", "gemv_gbps",      "fp32_speedup"};
    for (const auto& row : j.arr()) {
        const auto& o = row.obj();
        REQUIRE(o.size() == gemv_keys.size());
        for (std::size_t k = 0; k < gemv_keys.size(); ++k) CHECK(o[k].first == gemv_keys[k]);
        CHECK(row.at("scheme").str() != "e4m3fn");
        CHECK(row.at("gemv_us").num() > 0);
        CHECK(row.at("gemv_gbps").num() > 0);
        // The int8 activations add little to the weights' own error; never remove it.
        const double g = row.at("gemv_rel_error").num(), w = row.at("weight_rel_error").num();
        CHECK(w > 0);
        CHECK(g >= 0.5 * w);
        CHECK(g <= 1.5 * w + 0.005);
    }
    // int4 groups of 32 on N(0, 1): ≈ 21 dB of SQNR, so the output error is near 10^(−21/20).
    CHECK(j.arr()[1].at("scheme").str() == "int4_g32");
    CHECK(j.arr()[1].at("weight_rel_error").num() == doctest::Approx(0.088).epsilon(0.1));
    const auto t = run("--gemv --min-time 0 --schemes int4_g32");
    CHECK(t.status == 0);
    CHECK(t.out.find("gemv_rel_error") != std::string::npos);
    const auto bad = run("--gemv --plot /tmp/x.svg");
    CHECK(bad.status == 2);
    CHECK(bad.err.find("--plot") != std::string::npos);
}
