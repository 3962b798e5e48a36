// lowbit — reading tensors: NumPy .npy files, raw little-endian float32 files, and
// directories of .npy files; writing .npy files ('<f4' or '<f2', C order).
//
// Spec: numpy/lib/format.py ("NPY format", versions 1.0, 2.0 and 3.0). A file is
//   bytes 0–5   magic "\x93NUMPY"
//   byte  6     major version (1, 2 or 3), byte 7 minor version (0)
//   v1: bytes 8–9  header length H, uint16 little-endian;  v2/v3: bytes 8–11, uint32 LE
//   then H bytes of header: a Python dict literal, ASCII (v3: UTF-8), padded with spaces and
//   ended by '\n', e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//   then the data: prod(shape) items of `descr`, C order.
// We accept descr '<f4' and '<f2' (and '|'/'=' spellings are refused: numpy writes '<' on
// little-endian machines), fortran_order False, and a shape of non-negative integers. Anything
// else — Fortran order, another dtype, a malformed or truncated header, a size that overflows,
// missing or trailing data bytes — throws lowbit::error naming the file and what is wrong.
// The parser reads untrusted bytes: every index is bounds-checked and every product checked
// for overflow before it is used (tests/fuzz/fuzz_npy.cpp runs it under ASan/UBSan).
//
// The writer produces what numpy.save writes for the same array, byte for byte: version 1.0,
// the header's keys in sorted order, 21 spare spaces minus the digits of the first dimension
// (numpy's room to grow the array in place), padded with spaces and '\n' so that the data
// starts at a multiple of 64 bytes.
#pragma once
#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/checked.hpp"
#include "../core/error.hpp"
#include "../core/granularity.hpp"

LOWBIT_NAMESPACE_BEGIN

/// A tensor read from a file: its shape (as stored; empty for a 0-d scalar) and its values
/// converted to float.
struct npy_array {
    std::vector<std::size_t> shape;
    std::vector<float> data;
    /// As stored: "<f4" or "<f2" for .npy files, "raw-f32" for raw files, the safetensors dtype
    /// ("F32", "BF16", "F8_E4M3", …) for a tensor of a safetensors file.
    std::string dtype;

    /// The 2-D view lowbit uses: first dimension rows, the rest flattened into columns; a 1-D
    /// array is one row, a 0-d scalar is 1 × 1.
    [[nodiscard]] shape2d matrix_shape() const noexcept {
        if (shape.empty()) return {1, 1};
        if (shape.size() == 1) return {1, shape[0]};
        return {shape[0], shape[0] == 0 ? 0 : data.size() / shape[0]};
    }
};

namespace detail {

/// IEEE binary16 bits to float, exact for every code (subnormals, ±Inf, NaN payloads kept).
inline float half_bits_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);  // rebias 15 → 127
    } else if (man == 0) {
        bits = sign;
    } else {  // subnormal: normalise the mantissa
        int e = -1;
        do {
            man <<= 1;
            ++e;
        } while ((man & 0x400u) == 0);
        bits = sign | (std::uint32_t(112 - e) << 23) | ((man & 0x3FFu) << 13);
    }
    return std::bit_cast<float>(bits);
}

/// float to bfloat16 bits, rounded to nearest, ties to even (values beyond the largest bf16
/// round to ±Inf, as the exponent range is float's). NaN stays NaN: quiet, sign and the top 6
/// bits of its payload kept (a quiet float NaN gives 0x7FC0).
inline std::uint16_t float_to_bf16_bits(float f) noexcept {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
    return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/// float to IEEE binary16 bits, rounded to nearest, ties to even. Magnitudes from 65520 up
/// (halfway between the largest half, 65504, and the next power of two) become ±Inf; below
/// 2^-14 the result is subnormal, and at or below 2^-25 it is ±0. NaN stays NaN: quiet, its
/// sign and the top 9 bits of its payload kept (a quiet float NaN gives 0x7E00, as numpy,
/// PyTorch and Eigen write it).
inline std::uint16_t float_to_half_bits(float f) noexcept {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t x = u & 0x7FFFFFFFu;
    if (x > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((x >> 13) & 0x3FFu));
    if (x >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // 65520 and up
    if (x >= 0x38800000u) {  // normal half: rebias 127 → 15, keep 10 mantissa bits
        std::uint32_t h = (x - 0x38000000u) >> 13;
        const std::uint32_t rest = x & 0x1FFFu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry may reach 0x7C00
        return static_cast<std::uint16_t>(sign | h);
    }
    if (x <= 0x33000000u) return sign;  // at most half the smallest subnormal 2^-24: ties to 0
    // Subnormal half: the value in units of 2^-24 is the 24-bit significand shifted right by
    // 126 − e (14 … 24 for the exponents 112 … 102 that reach here).
    const std::uint32_t e = x >> 23, mant = (x & 0x7FFFFFu) | 0x800000u, shift = 126u - e;
    std::uint32_t h = mant >> shift;
    const std::uint32_t rest = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (h & 1u))) ++h;  // 0x400 is the smallest normal
    return static_cast<std::uint16_t>(sign | h);
}

inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
        std::uint32_t(p[3]) << 24;
}

/// A strict reader of the Python literal subset numpy writes in .npy headers.
class npy_header_parser {
public:
    npy_header_parser(std::string_view text, std::string_view file) : s_(text), file_(file) {}

    void parse(std::string& descr, bool& fortran, std::vector<std::size_t>& shape) {
        bool have_descr = false, have_fortran = false, have_shape = false;
        skip_ws();
        expect('{');
        for (;;) {
            skip_ws();
            if (peek() == '}') {
                ++i_;
                break;
            }
            const std::string key = string_literal();
            skip_ws();
            expect(':');
            skip_ws();
            if (key == "descr") {
                fail_if(have_descr, "the header names 'descr' twice");
                descr = string_literal();
                have_descr = true;
            } else if (key == "fortran_order") {
                fail_if(have_fortran, "the header names 'fortran_order' twice");
                fortran = boolean();
                have_fortran = true;
            } else if (key == "shape") {
                fail_if(have_shape, "the header names 'shape' twice");
                shape = tuple();
                have_shape = true;
            } else {
                fail("the header has an unknown key '" + printable(key) + "'");
            }
            skip_ws();
            if (peek() == ',') {
                ++i_;
                continue;
            }
            skip_ws();
            expect('}');
            break;
        }
        skip_ws();
        fail_if(i_ != s_.size(), "the header has bytes after its closing '}'");
        fail_if(!have_descr || !have_fortran || !have_shape,
                "the header lacks one of 'descr', 'fortran_order', 'shape'");
    }

private:
    [[noreturn]] void fail(const std::string& what) const { throw error(file_, what); }
    void fail_if(bool bad, const char* what) const {
        if (bad) fail(what);
    }
    [[nodiscard]] char peek() const noexcept { return i_ < s_.size() ? s_[i_] : '\0'; }
    void skip_ws() noexcept {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
    }
    void expect(char c) {
        if (peek() != c || i_ >= s_.size())
            fail(std::string("malformed header: expected '") + c + "' at header byte " +
                 std::to_string(i_));
        ++i_;
    }
    static std::string printable(std::string_view v) {
        std::string out;
        for (char c : v.substr(0, 32)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
        return out;
    }
    std::string string_literal() {
        const char q = peek();
        if (q != '\'' && q != '"')
            fail("malformed header: expected a quoted string at header byte " + std::to_string(i_));
        ++i_;
        std::string out;
        while (i_ < s_.size() && s_[i_] != q) {
            fail_if(s_[i_] == '\\' || s_[i_] == '\n',
                    "malformed header: escapes and newlines in strings are not supported");
            out += s_[i_++];
        }
        fail_if(i_ >= s_.size(), "malformed header: unterminated string");
        ++i_;
        return out;
    }
    bool boolean() {
        if (s_.substr(i_, 4) == "True") {
            i_ += 4;
            return true;
        }
        if (s_.substr(i_, 5) == "False") {
            i_ += 5;
            return false;
        }
        fail("malformed header: 'fortran_order' must be True or False");
    }
    std::vector<std::size_t> tuple() {
        expect('(');
        std::vector<std::size_t> dims;
        bool comma_after_last = false;
        for (;;) {
            skip_ws();
            if (peek() == ')') {
                ++i_;
                break;
            }
            fail_if(peek() < '0' || peek() > '9',
                    "malformed header: 'shape' must be a tuple of non-negative integers");
            std::size_t v = 0;
            while (peek() >= '0' && peek() <= '9') {
                const std::size_t d = std::size_t(peek() - '0');
                fail_if(v > (std::numeric_limits<std::size_t>::max() - d) / 10,
                        "a dimension of 'shape' overflows");
                v = v * 10 + d;
                ++i_;
            }
            skip_ws();
            // numpy writes a trailing 'L' on Python 2 longs; accept it as the format allows.
            if (peek() == 'L') {
                ++i_;
                skip_ws();
            }
            dims.push_back(v);
            fail_if(dims.size() > 32, "'shape' has more than 32 dimensions");
            comma_after_last = false;
            if (peek() == ',') {
                ++i_;
                comma_after_last = true;
                continue;
            }
            expect(')');
            break;
        }
        // Python needs "(n,)" for a 1-tuple; "(n)" is an int, not a tuple.
        fail_if(dims.size() == 1 && !comma_after_last,
                "malformed header: a 1-D 'shape' is written '(n,)'");
        return dims;
    }

    std::string_view s_;
    std::string file_;
    std::size_t i_ = 0;
};

inline std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw error(path.string(), "cannot be read: " + ec.message());
    require(size <= std::uintmax_t(std::numeric_limits<std::ptrdiff_t>::max()), path.string(),
            "is too large");
    std::ifstream f(path, std::ios::binary);
    require(bool(f), path.string(), "cannot be opened");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (size) f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    require(f.gcount() == static_cast<std::streamsize>(size), path.string(),
            "was truncated while reading");
    return bytes;
}

/// Writes a file through a sibling temporary that is renamed over `path` once complete, so that
/// `path` never holds a partial file and a reader that has it open or mapped keeps the old
/// contents. `write(std::ostream&)` emits the bytes. Any failure (the directory cannot be
/// written, the disk is full, the rename fails) removes the temporary and throws lowbit::error
/// naming `path`. The file is not fsync'ed: a crash of the machine may lose it, never mix it.
template <class Writer>
void write_file_atomically(const std::filesystem::path& path, Writer&& write) {
    static std::atomic<unsigned> counter{0};
    const auto stamp = static_cast<unsigned long long>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    std::filesystem::path tmp = path;
    tmp += ".tmp-" + std::to_string(stamp) + "-" + std::to_string(counter++);
    const std::string name = path.string();
    std::error_code ignored;
    try {
        errno = 0;  // what the stream leaves in errno names the cause; clear what came before
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) {
            const int err = errno;
            throw error(name,
                        "cannot be written: cannot create " + tmp.string() +
                            (err ? std::string(": ") + std::strerror(err) : std::string()));
        }
        errno = 0;
        write(static_cast<std::ostream&>(f));
        f.flush();
        const bool wrote = bool(f);
        f.close();
        if (!wrote || f.fail()) {
            const int err = errno;
            throw error(name,
                        "cannot be written: writing " + tmp.string() + " failed" +
                            (err ? std::string(" (") + std::strerror(err) + ")"
                                 : std::string(" (disk full?)")));
        }
        std::error_code ec;
        std::filesystem::rename(tmp, path, ec);
        if (ec)
            throw error(
                name,
                "cannot be written: renaming " + tmp.string() + " over it failed: " + ec.message());
    } catch (...) {
        std::filesystem::remove(tmp, ignored);
        throw;
    }
}

/// The .npy image header (magic, version, length, dict, padding) numpy writes for a C-order
/// array of `descr` and `shape`.
inline std::string npy_header(std::string_view descr, std::span<const std::size_t> shape) {
    std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) dict += ", ";
        dict += std::to_string(shape[i]);
    }
    dict += shape.size() == 1 ? ",), }" : "), }";
    // numpy's spare room to rewrite the header in place when the array grows along axis 0.
    if (!shape.empty()) {
        const std::size_t digits = std::to_string(shape[0]).size();
        if (digits < 21) dict.append(21 - digits, ' ');
    }
    // numpy pads with 64 − (prefix + dict + '\n') % 64 spaces: a full 64 when already aligned.
    // With at most 32 dimensions the header stays far below version 1.0's 65535 bytes.
    dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
    dict += '\n';
    const std::size_t len = dict.size();
    std::string out = "\x93NUMPY\x01";
    out += '\0';
    out += static_cast<char>(len & 0xFF);
    out += static_cast<char>((len >> 8) & 0xFF);
    return out + dict;
}

/// Checks that `shape` has `count` elements (without overflow), naming `path` otherwise.
inline void check_npy_write_shape(const std::filesystem::path& path,
                                  std::span<const std::size_t> shape, std::size_t count) {
    const bool empty = std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end();
    std::size_t n = empty ? 0 : 1;
    for (std::size_t d : shape) {
        if (n == 0) break;
        require(!mul_overflows(n, d), path.string(), "shape's element count overflows");
        n *= d;
    }
    require(n == count, path.string(),
            "shape holds " + std::to_string(n) + " elements, the data " + std::to_string(count));
    require(shape.size() <= 32, path.string(), "shape has more than 32 dimensions");
}

/// Streams `count` values through `convert` into little-endian items of `Item` bytes.
template <std::size_t Item, class Convert>
void write_le_items(std::ostream& out, std::span<const float> values, Convert&& convert) {
    std::uint8_t buf[4096 * Item];
    std::size_t at = 0;
    for (float v : values) {
        const auto bits = convert(v);
        for (std::size_t b = 0; b < Item; ++b)
            buf[at++] = static_cast<std::uint8_t>(bits >> (8 * b));
        if (at == sizeof buf) {
            out.write(reinterpret_cast<const char*>(buf), static_cast<std::streamsize>(at));
            at = 0;
        }
    }
    if (at) out.write(reinterpret_cast<const char*>(buf), static_cast<std::streamsize>(at));
}

}  // namespace detail

/// Parses the bytes of a .npy file; `name` labels errors (the file name). Throws lowbit::error.
inline npy_array parse_npy(std::span<const std::uint8_t> b, std::string_view name = "<npy>") {
    const std::string file(name);
    static constexpr std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    detail::require(b.size() >= 10 && std::memcmp(b.data(), magic, 6) == 0, file,
                    "is not a .npy file (bad magic bytes)");
    const unsigned major = b[6];
    detail::require(major >= 1 && major <= 3, file,
                    "has .npy format version " + std::to_string(major) + ", not 1, 2 or 3");
    std::size_t header_len = 0, header_at = 0;
    if (major == 1) {
        header_len = std::size_t(b[8]) | std::size_t(b[9]) << 8;
        header_at = 10;
    } else {
        detail::require(b.size() >= 12, file, "is truncated inside its header length");
        header_len = detail::load_le32(b.data() + 8);
        header_at = 12;
    }
    detail::require(header_len <= b.size() - header_at, file, "is truncated inside its header");
    const std::string_view header(reinterpret_cast<const char*>(b.data() + header_at), header_len);

    npy_array a;
    bool fortran = false;
    detail::npy_header_parser(header, file).parse(a.dtype, fortran, a.shape);
    detail::require(!fortran, file,
                    "is stored in Fortran order (fortran_order: True); save it C-contiguous");
    std::size_t item = 0;
    if (a.dtype == "<f4")
        item = 4;
    else if (a.dtype == "<f2")
        item = 2;
    else {
        std::string d;
        for (char c : a.dtype.substr(0, 32)) d += (c >= 0x20 && c < 0x7F) ? c : '?';
        throw error(file,
                    "has dtype '" + d +
                        "'; lowbit reads little-endian float32 ('<f4') and float16 ('<f2')");
    }
    // A zero dimension makes the array empty whatever the others are (the element count is 0,
    // in any order of the dimensions). Otherwise the element count must fit, and its bytes both
    // as stored and as the floats it is read into.
    const bool empty = std::find(a.shape.begin(), a.shape.end(), std::size_t{0}) != a.shape.end();
    std::size_t count = empty ? 0 : 1;
    for (std::size_t d : a.shape) {
        if (count == 0) break;
        detail::require(!detail::mul_overflows(count, d), file,
                        "has a shape whose element count overflows");
        count *= d;
    }
    detail::require(!detail::mul_overflows(count, std::max(item, sizeof(float))), file,
                    "has a shape whose byte size overflows");
    const std::size_t data_at = header_at + header_len, have = b.size() - data_at;
    detail::require(have >= count * item, file,
                    "is truncated: the shape needs " + std::to_string(count * item) +
                        " data bytes, the file has " + std::to_string(have));
    detail::require(have == count * item, file,
                    "has " + std::to_string(have - count * item) + " bytes after its data");
    a.data.resize(count);
    const std::uint8_t* p = b.data() + data_at;
    if (item == 4) {
        for (std::size_t i = 0; i < count; ++i)
            a.data[i] = std::bit_cast<float>(detail::load_le32(p + 4 * i));
    } else {
        for (std::size_t i = 0; i < count; ++i)
            a.data[i] = detail::half_bits_to_float(std::uint16_t(p[2 * i] | p[2 * i + 1] << 8));
    }
    return a;
}

/// Parses raw little-endian float32 bytes (a 1-D array). Throws when the size is not a multiple
/// of 4.
inline npy_array parse_raw_f32(std::span<const std::uint8_t> b, std::string_view name = "<raw>") {
    detail::require(
        b.size() % 4 == 0, name,
        "is not raw float32: its size " + std::to_string(b.size()) + " is not a multiple of 4");
    npy_array a;
    a.dtype = "raw-f32";
    a.shape = {b.size() / 4};
    a.data.resize(b.size() / 4);
    for (std::size_t i = 0; i < a.data.size(); ++i)
        a.data[i] = std::bit_cast<float>(detail::load_le32(b.data() + 4 * i));
    return a;
}

/// Reads a .npy file.
inline npy_array read_npy(const std::filesystem::path& path) {
    const auto bytes = detail::read_file_bytes(path);
    return parse_npy(bytes, path.string());
}

/// Reads raw little-endian float32 values.
inline npy_array read_raw_f32(const std::filesystem::path& path) {
    const auto bytes = detail::read_file_bytes(path);
    return parse_raw_f32(bytes, path.string());
}

/// Reads a tensor file: .npy when it is named *.npy or starts with the .npy magic (then it must
/// be a valid .npy file), raw float32 otherwise.
inline npy_array read_tensor(const std::filesystem::path& path) {
    const auto bytes = detail::read_file_bytes(path);
    const bool magic =
        bytes.size() >= 6 && bytes[0] == 0x93 && std::memcmp(bytes.data() + 1, "NUMPY", 5) == 0;
    if (magic || path.extension() == ".npy") return parse_npy(bytes, path.string());
    return parse_raw_f32(bytes, path.string());
}

/// Reads every *.npy file of a directory (not recursive), sorted by file name; the first of
/// each pair is the file name. Throws when the directory has none.
inline std::vector<std::pair<std::string, npy_array>> read_npy_dir(
    const std::filesystem::path& dir) {
    std::error_code ec;
    detail::require(std::filesystem::is_directory(dir, ec), dir.string(), "is not a directory");
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (e.path().extension() == ".npy" && !e.is_directory()) files.push_back(e.path());
    if (ec) throw error(dir.string(), "cannot be listed: " + ec.message());
    detail::require(!files.empty(), dir.string(), "holds no .npy files");
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a.filename() < b.filename(); });
    std::vector<std::pair<std::string, npy_array>> out;
    out.reserve(files.size());
    for (const auto& f : files) out.emplace_back(f.filename().string(), read_npy(f));
    return out;
}

/// Writes `values` as a .npy file of dtype '<f4' (version 1.0, C order) with the given shape
/// (empty: a 0-d scalar), exactly as numpy.save writes it. The shape must hold values.size()
/// elements (at most 32 dimensions, as numpy allows). The file is written through a temporary
/// and renamed into place; failures throw lowbit::error naming `path`.
inline void write_npy(const std::filesystem::path& path, std::span<const std::size_t> shape,
                      std::span<const float> values) {
    detail::check_npy_write_shape(path, shape, values.size());
    const std::string header = detail::npy_header("<f4", shape);
    detail::write_file_atomically(path, [&](std::ostream& out) {
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        detail::write_le_items<4>(out, values,
                                  [](float v) { return std::bit_cast<std::uint32_t>(v); });
    });
}

/// Writes `values` as a .npy file of dtype '<f2' (IEEE binary16), each rounded to nearest, ties
/// to even; magnitudes of 65520 and above become ±Inf, NaN stays NaN (detail::float_to_half_bits).
/// Otherwise as write_npy.
inline void write_npy_f16(const std::filesystem::path& path, std::span<const std::size_t> shape,
                          std::span<const float> values) {
    detail::check_npy_write_shape(path, shape, values.size());
    const std::string header = detail::npy_header("<f2", shape);
    detail::write_file_atomically(path, [&](std::ostream& out) {
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        detail::write_le_items<2>(out, values,
                                  [](float v) { return detail::float_to_half_bits(v); });
    });
}

LOWBIT_NAMESPACE_END
