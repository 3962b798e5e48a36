// lowbit — safetensors files: a validating, memory-mapped reader and a writer.
//
// Format (huggingface/safetensors, docs and safetensors/src/tensor.rs):
//   bytes 0–7     N, the header length, uint64 little-endian
//   bytes 8…8+N   the header: a JSON object, UTF-8, possibly padded with trailing spaces
//                   {"__metadata__": {"key": "value", …},               (optional, strings only)
//                    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …}
//   the rest      the data buffer; [begin, end) of each tensor is relative to its first byte,
//                 the tensor's elements in C order, little-endian.
//
// The reader takes untrusted bytes and checks what the Rust crate checks, and more, before any
// byte of a tensor is touched; every failure is a lowbit::error whose argument is the file name
// and whose message names the byte offset in the file and the field ("byte 57, tensor 'w' field
// 'shape': …"; in the header the offset is that of the last byte parsed when the problem showed:
// the offending token's last byte, or the byte after a number):
//   - the header length: 8 bytes present, N ≤ 100 000 000 (the crate's limit), N ≤ the bytes
//     after it;
//   - the JSON (nlohmann-json's SAX parser: a syntax error or ill-formed UTF-8 is named with its
//     byte offset; a byte order mark or a NUL byte, which nlohmann would skip or stop at, are
//     refused before it runs); the header is an object; a tensor is an object with exactly the keys
//     "dtype", "shape", "data_offsets", each once; "dtype" a known safetensors dtype string;
//     "shape" an array of non-negative integers; "data_offsets" an array of two non-negative
//     integers, begin ≤ end; "__metadata__" an object of string values; no name twice, at any
//     level (nlohmann keeps the last of duplicate keys; we refuse them, they make a file mean
//     two things);
//   - the element count (a zero dimension makes it 0 whatever the others are, as in npy.hpp),
//     and its size in bits, do not overflow; the bits are whole bytes (F4, F6: sub-byte dtypes);
//     end − begin is exactly that many bytes;
//   - the tensors, taken by (begin, end), tile the data buffer: the first begins at 0, each
//     begins where the one before ends (no overlap, no hole) and the last ends at the end of
//     the file (no trailing bytes). Empty tensors may share an offset.
// Everything a parse returns is then consistent: every span is inside the buffer and holds
// exactly the bytes its dtype and shape need (tests/fuzz/fuzz_safetensors.cpp checks this
// under ASan/UBSan).
//
// read_float converts F32, F16, BF16 (exact), F8_E4M3 (OFP8 E4M3FN), F8_E5M2, F8_E4M3FNUZ,
// F8_E5M2FNUZ, F8_E8M0 (exact, through formats/minifloat.hpp) and F64 (rounded to nearest) to
// float; the other dtypes (integers, BOOL, C64, F4, F6) are listed and their bytes available,
// but read_float refuses them naming the tensor and the dtype.
//
// The writer lays tensors out in the order given and writes the header the way the Python
// library (the Rust crate behind it) does: compact JSON, "__metadata__" first when there is any
// (its keys sorted; the crate writes a hash map's order), then the tensors in data order, each
// {"dtype","shape","data_offsets"} in that order, padded with spaces to a multiple of 8 bytes.
// safetensors.numpy.save_file sorts the tensors by dtype (F64, I64, …, F32, …, BF16, F16, …,
// U8, BOOL: the crate's Dtype order, descending), then by name; given in that order, with at
// most one metadata entry, our file is byte for byte the one it writes.
#pragma once
#include "../core/config.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/checked.hpp"
#include "../core/error.hpp"
#include "../formats/minifloat.hpp"
#include "mapped_file.hpp"
#include "npy.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The dtypes of the safetensors format (the Rust crate's Dtype).
enum class safetensors_dtype : std::uint8_t {
    boolean,      ///< BOOL
    u8,           ///< U8
    i8,           ///< I8
    u16,          ///< U16
    i16,          ///< I16
    u32,          ///< U32
    i32,          ///< I32
    u64,          ///< U64
    i64,          ///< I64
    f16,          ///< F16, IEEE binary16
    bf16,         ///< BF16
    f32,          ///< F32
    f64,          ///< F64
    c64,          ///< C64, two F32
    f8_e4m3,      ///< F8_E4M3, OFP8 E4M3FN (lowbit::e4m3fn)
    f8_e5m2,      ///< F8_E5M2, OFP8 E5M2 (lowbit::e5m2)
    f8_e4m3fnuz,  ///< F8_E4M3FNUZ (lowbit::e4m3fnuz)
    f8_e5m2fnuz,  ///< F8_E5M2FNUZ (lowbit::e5m2fnuz)
    f8_e8m0,      ///< F8_E8M0, the MX scale (lowbit::e8m0)
    f4,           ///< F4, MX FP4 E2M1, 4 bits
    f6_e2m3,      ///< F6_E2M3, 6 bits
    f6_e3m2,      ///< F6_E3M2, 6 bits
};

namespace detail {
struct safetensors_dtype_row {
    safetensors_dtype dtype;
    std::string_view name;
    std::size_t bits;
    bool reads_as_float;
};
inline constexpr std::array<safetensors_dtype_row, 22> safetensors_dtypes = {{
    {safetensors_dtype::boolean, "BOOL", 8, false},
    {safetensors_dtype::u8, "U8", 8, false},
    {safetensors_dtype::i8, "I8", 8, false},
    {safetensors_dtype::u16, "U16", 16, false},
    {safetensors_dtype::i16, "I16", 16, false},
    {safetensors_dtype::u32, "U32", 32, false},
    {safetensors_dtype::i32, "I32", 32, false},
    {safetensors_dtype::u64, "U64", 64, false},
    {safetensors_dtype::i64, "I64", 64, false},
    {safetensors_dtype::f16, "F16", 16, true},
    {safetensors_dtype::bf16, "BF16", 16, true},
    {safetensors_dtype::f32, "F32", 32, true},
    {safetensors_dtype::f64, "F64", 64, true},
    {safetensors_dtype::c64, "C64", 64, false},
    {safetensors_dtype::f8_e4m3, "F8_E4M3", 8, true},
    {safetensors_dtype::f8_e5m2, "F8_E5M2", 8, true},
    {safetensors_dtype::f8_e4m3fnuz, "F8_E4M3FNUZ", 8, true},
    {safetensors_dtype::f8_e5m2fnuz, "F8_E5M2FNUZ", 8, true},
    {safetensors_dtype::f8_e8m0, "F8_E8M0", 8, true},
    {safetensors_dtype::f4, "F4", 4, false},
    {safetensors_dtype::f6_e2m3, "F6_E2M3", 6, false},
    {safetensors_dtype::f6_e3m2, "F6_E3M2", 6, false},
}};
constexpr const safetensors_dtype_row& safetensors_row(safetensors_dtype d) noexcept {
    return safetensors_dtypes[static_cast<std::size_t>(d)];
}
}  // namespace detail

/// The dtype's name as a header spells it: "F32", "BF16", "F8_E4M3", …
constexpr std::string_view safetensors_dtype_name(safetensors_dtype d) noexcept {
    return detail::safetensors_row(d).name;
}
/// Bits per element: 4 (F4), 6 (F6_*), 8, 16, 32 or 64.
constexpr std::size_t safetensors_dtype_bits(safetensors_dtype d) noexcept {
    return detail::safetensors_row(d).bits;
}
/// Whether read_float converts this dtype.
constexpr bool safetensors_dtype_reads_as_float(safetensors_dtype d) noexcept {
    return detail::safetensors_row(d).reads_as_float;
}
/// The dtype a header's "dtype" string names; nullopt for a string the format does not define.
constexpr std::optional<safetensors_dtype> parse_safetensors_dtype(std::string_view s) noexcept {
    for (const auto& r : detail::safetensors_dtypes)
        if (r.name == s) return r.dtype;
    return std::nullopt;
}

/// One tensor of a parsed file: what its header entry says, validated.
struct safetensors_tensor {
    std::string name;
    safetensors_dtype dtype = safetensors_dtype::f32;
    std::vector<std::size_t> shape;  ///< empty for a 0-d scalar
    std::size_t begin = 0;           ///< byte offsets of the data, relative to the data buffer
    std::size_t end = 0;             ///< (the byte after the header); end − begin = byte_size()
    std::size_t elements = 0;        ///< product of shape (0 when a dimension is 0)

    [[nodiscard]] std::string_view dtype_name() const noexcept {
        return safetensors_dtype_name(dtype);
    }
    [[nodiscard]] std::size_t byte_size() const noexcept { return end - begin; }
};

/// String metadata of a file ("__metadata__"), sorted by key.
using safetensors_metadata = std::map<std::string, std::string, std::less<>>;

/// The largest header the reader accepts and the writer produces (the Rust crate's limit).
inline constexpr std::size_t safetensors_max_header = 100'000'000;

class safetensors_view;
inline safetensors_view parse_safetensors(std::span<const std::uint8_t> file,
                                          std::string_view name);

/// A validated safetensors image in memory that it does not own: the tensors' index, the
/// metadata, and their bytes. Made by parse_safetensors; valid while the bytes are.
class safetensors_view {
public:
    safetensors_view() = default;

    /// The tensors in data order (by begin, then end; empty tensors at one offset in header
    /// order).
    [[nodiscard]] const std::vector<safetensors_tensor>& tensors() const noexcept {
        return tensors_;
    }
    /// The tensors' names in data order.
    [[nodiscard]] std::vector<std::string> names() const {
        std::vector<std::string> out;
        out.reserve(tensors_.size());
        for (const auto& t : tensors_) out.push_back(t.name);
        return out;
    }
    [[nodiscard]] std::size_t size() const noexcept { return tensors_.size(); }
    [[nodiscard]] bool contains(std::string_view name) const { return index_.count(name) != 0; }
    /// The tensor called `name`; lowbit::error naming the file and the name when there is none.
    [[nodiscard]] const safetensors_tensor& info(std::string_view name) const {
        const auto it = index_.find(name);
        if (it == index_.end())
            throw error(file_name_, "has no tensor named '" + printable(name) + "'");
        return tensors_[it->second];
    }
    [[nodiscard]] const safetensors_metadata& metadata() const noexcept { return metadata_; }
    /// The bytes of a tensor as stored (little-endian, C order).
    [[nodiscard]] std::span<const std::uint8_t> bytes(std::string_view name) const {
        return bytes(info(name));
    }
    [[nodiscard]] std::span<const std::uint8_t> bytes(const safetensors_tensor& t) const noexcept {
        return file_.subspan(data_offset() + t.begin, t.byte_size());
    }
    /// A tensor converted to float: shape, values, dtype ("F32", "BF16", …). Throws
    /// lowbit::error naming the tensor and its dtype for a dtype read_float does not convert.
    [[nodiscard]] npy_array read_float(std::string_view name) const {
        return read_float(info(name));
    }
    [[nodiscard]] npy_array read_float(const safetensors_tensor& t) const;

    /// N, the header's length in bytes.
    [[nodiscard]] std::size_t header_size() const noexcept { return header_size_; }
    /// Where the data buffer starts in the file: 8 + N.
    [[nodiscard]] std::size_t data_offset() const noexcept { return 8 + header_size_; }
    /// The whole file.
    [[nodiscard]] std::span<const std::uint8_t> file_bytes() const noexcept { return file_; }
    /// The name errors give (the file's path, or the name passed to parse_safetensors).
    [[nodiscard]] const std::string& file_name() const noexcept { return file_name_; }

private:
    friend safetensors_view parse_safetensors(std::span<const std::uint8_t>, std::string_view);
    static std::string printable(std::string_view v) {
        std::string out;
        for (char c : v.substr(0, 64)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
        if (v.size() > 64) out += "...";
        return out;
    }

    std::span<const std::uint8_t> file_;
    std::size_t header_size_ = 0;
    std::vector<safetensors_tensor> tensors_;
    std::map<std::string, std::size_t, std::less<>> index_;
    safetensors_metadata metadata_;
    std::string file_name_;
};

namespace detail {

/// Where nlohmann's lexer is: a char iterator that records, in a counter shared by its copies,
/// how many bytes have been read. A SAX callback fires right after its token, so the count
/// then is the token's end (one byte past it for a number, whose end the lexer finds by reading
/// the next byte).
class counting_char_iterator {
public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;

    counting_char_iterator() = default;
    counting_char_iterator(const char* base, const char* p, std::size_t* read) noexcept
        : base_(base), p_(p), read_(read) {}
    reference operator*() const noexcept { return *p_; }
    counting_char_iterator& operator++() noexcept {
        ++p_;
        *read_ = static_cast<std::size_t>(p_ - base_);
        return *this;
    }
    counting_char_iterator operator++(int) noexcept {
        auto old = *this;
        ++*this;
        return old;
    }
    friend bool operator==(const counting_char_iterator& a,
                           const counting_char_iterator& b) noexcept {
        return a.p_ == b.p_;
    }

private:
    const char* base_ = nullptr;
    const char* p_ = nullptr;
    std::size_t* read_ = nullptr;
};

/// What the header parse collects about one tensor before it is checked as a whole.
struct safetensors_entry {
    safetensors_tensor t;
    bool have_dtype = false, have_shape = false, have_offsets = false;
    std::vector<std::size_t> offsets;
    std::size_t header_end = 0;  ///< file offset of the entry's closing '}'
};

/// The SAX handler: a state machine over the one shape a header may have. It throws
/// lowbit::error at the first event that does not fit; nlohmann's parser holds nothing that a
/// throw through it could leak.
class safetensors_sax {
public:
    using json = nlohmann::json;
    using number_integer_t = json::number_integer_t;
    using number_unsigned_t = json::number_unsigned_t;
    using number_float_t = json::number_float_t;
    using string_t = json::string_t;
    using binary_t = json::binary_t;

    safetensors_sax(const std::string& file, const std::size_t* read) : file_(file), read_(read) {}

    std::vector<safetensors_entry> entries;
    safetensors_metadata metadata;
    std::map<std::string, std::size_t, std::less<>> index;  ///< name → position in entries

    bool null() { return value("null"); }
    bool boolean(bool) { return value("a boolean"); }
    bool number_integer(number_integer_t v) {
        if (state_ == state::shape || state_ == state::offsets) {
            if (v < 0)
                fail(field(),
                     "holds a negative number (" + std::to_string(v) +
                         "); sizes and offsets are non-negative integers");
            return push_dim(static_cast<std::uint64_t>(v));
        }
        return value("a number");
    }
    bool number_unsigned(number_unsigned_t v) {
        if (state_ == state::shape || state_ == state::offsets) return push_dim(v);
        return value("a number");
    }
    bool number_float(number_float_t, const string_t& text) {
        if (state_ == state::shape || state_ == state::offsets)
            fail(field(),
                 "holds " + printable(text) +
                     ", not an integer from 0 to 2^64 − 1; sizes and offsets are "
                     "non-negative integers");
        return value("a number");
    }
    bool string(string_t& s) {
        if (state_ == state::metadata_value) {
            metadata.emplace(std::move(key_), std::move(s));
            state_ = state::metadata;
            return true;
        }
        if (state_ == state::tensor_value && member_ == member::dtype) {
            const auto d = parse_safetensors_dtype(s);
            if (!d)
                fail(field(),
                     "is '" + printable(s) +
                         "', not a safetensors dtype (F32, F16, BF16, F8_E4M3, I32, U8, "
                         "…)");
            entry().t.dtype = *d;
            state_ = state::tensor;
            return true;
        }
        return value("a string");
    }
    bool binary(binary_t&) { return value("binary data"); }

    bool start_object(std::size_t) {
        switch (state_) {
            case state::start: state_ = state::top; return true;
            case state::metadata_object: state_ = state::metadata; return true;
            case state::tensor_object: state_ = state::tensor; return true;
            default: return value("an object");
        }
    }
    bool end_object() {
        if (state_ == state::metadata) {
            state_ = state::top;
            return true;
        }
        if (state_ == state::tensor) {
            finish_tensor();
            state_ = state::top;
            return true;
        }
        state_ = state::done;  // the top object; the parser refuses anything after it
        return true;
    }
    bool start_array(std::size_t) {
        if (state_ == state::tensor_value && member_ != member::dtype) {
            state_ = member_ == member::shape ? state::shape : state::offsets;
            return true;
        }
        return value("an array");
    }
    bool end_array() {
        if (state_ == state::offsets && entry().offsets.size() != 2)
            fail(field(),
                 "has " + std::to_string(entry().offsets.size()) +
                     " entries, not two: [begin, end]");
        state_ = state::tensor;
        return true;
    }
    bool key(string_t& k) {
        if (state_ == state::top) {
            if (k == "__metadata__") {
                if (have_metadata_) fail("'__metadata__'", "appears twice");
                have_metadata_ = true;
                state_ = state::metadata_object;
                return true;
            }
            if (index.count(k)) fail(tensor_field(k, ""), "appears twice: names are unique");
            index.emplace(k, entries.size());
            entries.emplace_back();
            entries.back().t.name = std::move(k);
            state_ = state::tensor_object;
            return true;
        }
        if (state_ == state::metadata) {
            if (metadata.count(k))
                fail("'__metadata__' key '" + printable(k) + "'", "appears twice");
            key_ = std::move(k);
            state_ = state::metadata_value;
            return true;
        }
        // state::tensor
        auto& e = entry();
        bool* seen = nullptr;
        if (k == "dtype") {
            member_ = member::dtype;
            seen = &e.have_dtype;
        } else if (k == "shape") {
            member_ = member::shape;
            seen = &e.have_shape;
        } else if (k == "data_offsets") {
            member_ = member::offsets;
            seen = &e.have_offsets;
        } else {
            fail(tensor_field(e.t.name, printable(k)),
                 "is not a field of a tensor (they are 'dtype', 'shape', 'data_offsets')");
        }
        if (*seen) fail(field(), "appears twice");
        *seen = true;
        state_ = state::tensor_value;
        return true;
    }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& ex) {
        // nlohmann counts bytes from 1 and names the byte at which it stopped.
        const std::size_t at = 8 + (position ? position - 1 : 0);
        throw error(file_,
                    "byte " + std::to_string(at) +
                        ", header: invalid JSON: " + printable_message(ex.what()));
    }

    static std::string printable(std::string_view v) {
        std::string out;
        for (char c : v.substr(0, 64)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
        if (v.size() > 64) out += "...";
        return out;
    }

private:
    enum class state {
        start,            // before the top '{'
        top,              // in the top object, expecting a key
        metadata_object,  // after "__metadata__":
        metadata,         // in it, expecting a key
        metadata_value,   // after a metadata key
        tensor_object,    // after a tensor name
        tensor,           // in a tensor entry, expecting a key
        tensor_value,     // after a tensor entry's key
        shape,            // in "shape": [...]
        offsets,          // in "data_offsets": [...]
        done,
    };
    enum class member { dtype, shape, offsets };

    [[noreturn]] void fail(const std::string& what, const std::string& msg) const {
        throw error(file_, "byte " + std::to_string(at()) + ", " + what + ": " + msg);
    }
    static std::string printable_message(std::string_view m) {
        std::string out;
        for (char c : m.substr(0, 300)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
        return out;
    }
    /// The file offset of the last header byte the lexer read: the last byte of the token just
    /// parsed (of a string, the closing quote), or the byte after a number.
    [[nodiscard]] std::size_t at() const noexcept { return 8 + (*read_ ? *read_ - 1 : 0); }
    safetensors_entry& entry() { return entries.back(); }
    static std::string tensor_field(std::string_view tensor, std::string_view member) {
        std::string s = "tensor '" + printable(tensor) + "'";
        if (!member.empty()) s += " field '" + std::string(member) + "'";
        return s;
    }
    [[nodiscard]] std::string field() {
        return tensor_field(entry().t.name,
                            member_ == member::dtype       ? "dtype"
                                : member_ == member::shape ? "shape"
                                                           : "data_offsets");
    }
    /// A value where the header's shape has no room for it.
    bool value(const char* what) {
        switch (state_) {
            case state::start: fail("header", std::string("is ") + what + ", not a JSON object");
            case state::metadata_object:
                fail(
                    "'__metadata__'",
                    std::string("is ") + what + ", not an object of strings: {\"key\": \"value\"}");
            case state::metadata_value:
                fail("'__metadata__' key '" + printable(key_) + "'",
                     std::string("is ") + what + ", not a string");
            case state::tensor_object:
                fail(tensor_field(entries.back().t.name, ""),
                     std::string("is ") + what +
                         ", not an object {\"dtype\", \"shape\", \"data_offsets\"}");
            case state::tensor_value:
                fail(field(),
                     std::string("is ") + what +
                         (member_ == member::dtype ? ", not a string"
                                                   : ", not an array of integers"));
            case state::shape:
            case state::offsets:
                fail(field(), std::string("holds ") + what + ", not a non-negative integer");
            default: fail("header", std::string("has ") + what + " where none may be");
        }
    }
    bool push_dim(std::uint64_t v) {
        if (v > std::numeric_limits<std::size_t>::max())
            fail(field(), "holds " + std::to_string(v) + ", beyond size_t");
        auto& e = entry();
        if (state_ == state::offsets) {
            if (e.offsets.size() == 2) fail(field(), "has more than two entries: [begin, end]");
            e.offsets.push_back(static_cast<std::size_t>(v));
        } else {
            e.t.shape.push_back(static_cast<std::size_t>(v));
        }
        return true;
    }
    /// A tensor entry is complete: every field there, the offsets ordered, and the byte count
    /// that dtype × shape needs equal to end − begin.
    void finish_tensor() {
        auto& e = entry();
        e.header_end = at();
        const std::string name = e.t.name;
        if (!e.have_dtype) fail(tensor_field(name, "dtype"), "is missing");
        if (!e.have_shape) fail(tensor_field(name, "shape"), "is missing");
        if (!e.have_offsets) fail(tensor_field(name, "data_offsets"), "is missing");
        e.t.begin = e.offsets[0];
        e.t.end = e.offsets[1];
        if (e.t.begin > e.t.end)
            fail(tensor_field(name, "data_offsets"),
                 "begin " + std::to_string(e.t.begin) + " is past end " + std::to_string(e.t.end));
        const bool empty =
            std::find(e.t.shape.begin(), e.t.shape.end(), std::size_t{0}) != e.t.shape.end();
        std::size_t n = empty ? 0 : 1;
        for (std::size_t d : e.t.shape) {
            if (n == 0) break;
            if (mul_overflows(n, d))
                fail(tensor_field(name, "shape"), "has an element count that overflows size_t");
            n *= d;
        }
        const std::size_t bits = safetensors_dtype_bits(e.t.dtype);
        if (mul_overflows(n, bits))
            fail(tensor_field(name, "shape"),
                 "has a size in bits that overflows size_t (dtype " +
                     std::string(safetensors_dtype_name(e.t.dtype)) + ")");
        if (n * bits % 8 != 0)
            fail(tensor_field(name, "shape"),
                 std::to_string(n) + " elements of " +
                     std::string(safetensors_dtype_name(e.t.dtype)) + " (" + std::to_string(bits) +
                     " bits) do not fill whole bytes");
        e.t.elements = n;
        const std::size_t need = n * bits / 8;
        if (e.t.end - e.t.begin != need)
            fail(tensor_field(name, "data_offsets"),
                 "[" + std::to_string(e.t.begin) + ", " + std::to_string(e.t.end) + "] spans " +
                     std::to_string(e.t.end - e.t.begin) + " bytes; dtype " +
                     std::string(safetensors_dtype_name(e.t.dtype)) + " × " + std::to_string(n) +
                     " elements needs " + std::to_string(need));
    }

    std::string file_;
    const std::size_t* read_;
    state state_ = state::start;
    member member_ = member::dtype;
    bool have_metadata_ = false;
    std::string key_;
};

}  // namespace detail

/// Parses and validates a safetensors image (see the file comment for what is checked); `name`
/// labels errors. The view refers to `file`, which must outlive it. Throws lowbit::error.
inline safetensors_view parse_safetensors(std::span<const std::uint8_t> file,
                                          std::string_view name = "<safetensors>") {
    const std::string label(name);
    detail::require(file.size() >= 8, label,
                    "byte 0, header length: the file has " + std::to_string(file.size()) +
                        " bytes, fewer than the 8 of the header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | file[static_cast<std::size_t>(i)];
    detail::require(
        n <= safetensors_max_header, label,
        "byte 0, header length: " + std::to_string(n) + " is above the limit of 100000000 bytes");
    detail::require(n <= file.size() - 8, label,
                    "byte 0, header length: " + std::to_string(n) +
                        " is past the end of the file (" + std::to_string(file.size() - 8) +
                        " bytes follow the length)");
    const auto header_len = static_cast<std::size_t>(n);

    const char* h = reinterpret_cast<const char*>(file.data() + 8);
    // nlohmann skips a byte order mark; JSON texts (RFC 8259) and the crate's parser have none.
    detail::require(!(header_len >= 3 && std::memcmp(h, "\xEF\xBB\xBF", 3) == 0), label,
                    "byte 8, header: starts with a UTF-8 byte order mark, which JSON forbids");
    // nlohmann's lexer takes a NUL byte for the end of the input and would ignore what follows;
    // JSON has no raw NUL (inside a string it is written \u0000).
    if (const void* nul = std::memchr(h, 0, header_len))
        throw error(label,
                    "byte " + std::to_string(8 + (static_cast<const char*>(nul) - h)) +
                        ", header: holds a NUL byte, which JSON allows nowhere");
    std::size_t read = 0;
    detail::safetensors_sax sax(label, &read);
    try {
        const bool ok = nlohmann::json::sax_parse(
            detail::counting_char_iterator(h, h, &read),
            detail::counting_char_iterator(h, h + header_len, &read), &sax,
            nlohmann::json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false);
        detail::require(ok, label, "header: the JSON parser stopped");  // sax never returns false
    } catch (const nlohmann::json::exception& e) {
        throw error(label,
                    "byte " + std::to_string(8 + read) +
                        ", header: invalid JSON: " + detail::safetensors_sax::printable(e.what()));
    }

    // The tensors must tile the data buffer [0, size) in (begin, end) order.
    auto& entries = sax.entries;
    std::vector<std::size_t> order(entries.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const auto& x = entries[a].t;
        const auto& y = entries[b].t;
        return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
    });
    const std::size_t data_at = 8 + header_len, data_size = file.size() - data_at;
    std::size_t at = 0;
    const safetensors_tensor* prev = nullptr;
    for (std::size_t i : order) {
        const auto& t = entries[i].t;
        const std::string where = "byte " + std::to_string(entries[i].header_end) + ", tensor '" +
            detail::safetensors_sax::printable(t.name) + "' field 'data_offsets'";
        if (t.begin < at)
            throw error(label,
                        where + ": [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                            "] overlaps tensor '" + detail::safetensors_sax::printable(prev->name) +
                            "' [" + std::to_string(prev->begin) + ", " + std::to_string(prev->end) +
                            "]");
        if (t.begin > at)
            throw error(label,
                        where + ": begins at " + std::to_string(t.begin) + ", leaving data bytes " +
                            std::to_string(at) + " to " + std::to_string(t.begin) +
                            " unused (tensors must cover the data without holes)");
        if (t.end > data_size)
            throw error(label,
                        where + ": ends at " + std::to_string(t.end) + ", past the data buffer's " +
                            std::to_string(data_size) + " bytes (file byte " +
                            std::to_string(data_at + t.end) + ")");
        at = t.end;
        prev = &t;
    }
    detail::require(at == data_size, label,
                    "byte " + std::to_string(data_at + at) + ", data_offsets: the tensors end at " +
                        std::to_string(at) + " but the data buffer has " +
                        std::to_string(data_size) + " bytes (no tensor covers the rest)");

    safetensors_view v;
    v.file_ = file;
    v.header_size_ = header_len;
    v.file_name_ = label;
    v.metadata_ = std::move(sax.metadata);
    v.tensors_.reserve(entries.size());
    for (std::size_t i : order) {
        v.index_.emplace(entries[i].t.name, v.tensors_.size());
        v.tensors_.push_back(std::move(entries[i].t));
    }
    return v;
}

inline npy_array safetensors_view::read_float(const safetensors_tensor& t) const {
    if (!safetensors_dtype_reads_as_float(t.dtype))
        throw error(file_name_,
                    "tensor '" + printable(t.name) + "' has dtype " + std::string(t.dtype_name()) +
                        ", which read_float does not convert (it reads F32, F16, BF16, F64, "
                        "F8_E4M3, F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ, F8_E8M0); bytes() gives "
                        "its raw bytes");
    detail::require(!detail::mul_overflows(t.elements, sizeof(float)), file_name_,
                    "tensor '" + printable(t.name) + "' is too large to convert to float");
    npy_array a;
    a.shape = t.shape;
    a.dtype = std::string(t.dtype_name());
    a.data.resize(t.elements);
    const std::uint8_t* p = bytes(t).data();
    float* out = a.data.data();
    const std::size_t n = t.elements;
    switch (t.dtype) {
        case safetensors_dtype::f32:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = std::bit_cast<float>(detail::load_le32(p + 4 * i));
            break;
        case safetensors_dtype::f16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = detail::half_bits_to_float(
                    static_cast<std::uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
            break;
        case safetensors_dtype::bf16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = std::bit_cast<float>(std::uint32_t(p[2 * i]) << 16 |
                                              std::uint32_t(p[2 * i + 1]) << 24);
            break;
        case safetensors_dtype::f64:
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t lo = detail::load_le32(p + 8 * i),
                                    hi = detail::load_le32(p + 8 * i + 4);
                out[i] = static_cast<float>(std::bit_cast<double>(hi << 32 | lo));
            }
            break;
        case safetensors_dtype::f8_e4m3:
            for (std::size_t i = 0; i < n; ++i) out[i] = e4m3fn::decode(p[i]);
            break;
        case safetensors_dtype::f8_e5m2:
            for (std::size_t i = 0; i < n; ++i) out[i] = e5m2::decode(p[i]);
            break;
        case safetensors_dtype::f8_e4m3fnuz:
            for (std::size_t i = 0; i < n; ++i) out[i] = e4m3fnuz::decode(p[i]);
            break;
        case safetensors_dtype::f8_e5m2fnuz:
            for (std::size_t i = 0; i < n; ++i) out[i] = e5m2fnuz::decode(p[i]);
            break;
        case safetensors_dtype::f8_e8m0:
            for (std::size_t i = 0; i < n; ++i) out[i] = e8m0::decode(p[i]);
            break;
        default: break;  // refused above
    }
    return a;
}

/// A safetensors file opened for reading: memory-mapped read-only where the platform has mmap
/// (nothing is copied; a tensor's bytes are read when it is), read into memory otherwise, and
/// validated in full on opening. Movable, not copyable; every view and span it hands out is
/// valid while it lives. If another process truncates the file while it is mapped, touching
/// the lost pages raises SIGBUS: safetensors files are written once and replaced by rename,
/// as write_safetensors does, which leaves a mapping of the old file intact.
class safetensors_file : public safetensors_view {
public:
    /// Opens, maps and validates `path`. Throws lowbit::error naming the path.
    explicit safetensors_file(const std::filesystem::path& path) : file_(path) {
        static_cast<safetensors_view&>(*this) = parse_safetensors(file_.bytes(), path.string());
    }
    safetensors_file(const safetensors_file&) = delete;
    safetensors_file& operator=(const safetensors_file&) = delete;
    // The view's spans point into the mapping (or the read buffer), which a move does not move.
    safetensors_file(safetensors_file&& o) noexcept
        : safetensors_view(std::exchange(static_cast<safetensors_view&>(o), safetensors_view{})),
          file_(std::move(o.file_)) {}
    safetensors_file& operator=(safetensors_file&& o) noexcept {
        if (this != &o) {
            static_cast<safetensors_view&>(*this) =
                std::exchange(static_cast<safetensors_view&>(o), safetensors_view{});
            file_ = std::move(o.file_);
        }
        return *this;
    }

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return file_.path(); }
    /// True when the bytes are a memory mapping of the file, false when they were read in.
    [[nodiscard]] bool memory_mapped() const noexcept { return file_.memory_mapped(); }

private:
    mapped_file file_;
};

// ---- writing -------------------------------------------------------------------------------

/// One tensor to write: float values converted to F32, F16 or BF16, or bytes written as they
/// are under any dtype. Refers to the caller's data, which must live until the write returns.
struct safetensors_source {
    std::string name;
    safetensors_dtype dtype = safetensors_dtype::f32;
    std::vector<std::size_t> shape;     ///< empty for a 0-d scalar
    std::span<const float> values;      ///< the data of a float tensor
    std::span<const std::uint8_t> raw;  ///< the data of a raw tensor
    bool is_raw = false;

    /// Float values stored as `as`: F32 (exact), F16 or BF16 (rounded to nearest, ties to even;
    /// F16 overflows from 65520 up to ±Inf; NaN stays NaN).
    static safetensors_source from_floats(std::string name, std::vector<std::size_t> shape,
                                          std::span<const float> values,
                                          safetensors_dtype as = safetensors_dtype::f32) {
        safetensors_source s;
        s.name = std::move(name);
        s.dtype = as;
        s.shape = std::move(shape);
        s.values = values;
        return s;
    }
    /// Bytes stored as they are, e.g. packed codes as "U8": little-endian, C order, exactly
    /// elements × bits / 8 of them.
    static safetensors_source from_bytes(std::string name, safetensors_dtype dtype,
                                         std::vector<std::size_t> shape,
                                         std::span<const std::uint8_t> bytes) {
        safetensors_source s;
        s.name = std::move(name);
        s.dtype = dtype;
        s.shape = std::move(shape);
        s.raw = bytes;
        s.is_raw = true;
        return s;
    }
    /// The same with the dtype as a header spells it ("U8", "I32", "F8_E4M3", …); lowbit::error
    /// for a string that is not a safetensors dtype.
    static safetensors_source from_bytes(std::string name, std::string_view dtype,
                                         std::vector<std::size_t> shape,
                                         std::span<const std::uint8_t> bytes) {
        const auto d = parse_safetensors_dtype(dtype);
        if (!d) {
            std::string shown;
            for (char c : dtype.substr(0, 32)) shown += (c >= 0x20 && c < 0x7F) ? c : '?';
            throw error("dtype", "'" + shown + "' is not a safetensors dtype");
        }
        return from_bytes(std::move(name), *d, std::move(shape), bytes);
    }
};

namespace detail {

/// A JSON string literal as serde_json writes it (and nlohmann's dump does: the same escapes,
/// UTF-8 kept as is); lowbit::error naming `what` for ill-formed UTF-8.
inline std::string json_quote(const std::string& s, const std::string& what) {
    try {
        return nlohmann::json(s).dump();
    } catch (const nlohmann::json::exception&) { throw error(what, "is not valid UTF-8"); }
}

/// Checks every tensor and the metadata, and returns the header padded to a multiple of 8
/// bytes; `sizes` gets each tensor's byte count.
inline std::string safetensors_header(std::span<const safetensors_source> tensors,
                                      const safetensors_metadata& metadata,
                                      std::vector<std::size_t>& sizes) {
    std::string h = "{";
    if (!metadata.empty()) {
        h += "\"__metadata__\":{";
        bool first = true;
        for (const auto& [k, v] : metadata) {
            if (!first) h += ',';
            first = false;
            h += json_quote(k, "metadata key");
            h += ':';
            h += json_quote(v, "metadata['" + safetensors_sax::printable(k) + "']");
        }
        h += '}';
    }
    std::map<std::string_view, std::size_t> seen;
    std::size_t offset = 0;
    sizes.clear();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        const std::string what =
            "tensors[" + std::to_string(i) + "] ('" + safetensors_sax::printable(t.name) + "')";
        require(t.name != "__metadata__", what, "the name '__metadata__' is the header's own");
        const auto [at, fresh] = seen.emplace(t.name, i);
        if (!fresh)
            throw error(
                what,
                "has the name of tensors[" + std::to_string(at->second) + "]: names are unique");
        require(static_cast<std::size_t>(t.dtype) < safetensors_dtypes.size(), what + ".dtype",
                "is not a safetensors_dtype");
        if (!t.is_raw)
            require(t.dtype == safetensors_dtype::f32 || t.dtype == safetensors_dtype::f16 ||
                        t.dtype == safetensors_dtype::bf16,
                    what + ".dtype",
                    "float values are written as F32, F16 or BF16, not " +
                        std::string(safetensors_dtype_name(t.dtype)) +
                        " (encode them and write the bytes with from_bytes)");
        const bool empty =
            std::find(t.shape.begin(), t.shape.end(), std::size_t{0}) != t.shape.end();
        std::size_t n = empty ? 0 : 1;
        for (std::size_t d : t.shape) {
            if (n == 0) break;
            n = checked_mul(n, d, what + ".shape");
        }
        const std::size_t bits = checked_mul(n, safetensors_dtype_bits(t.dtype), what + ".shape");
        require(bits % 8 == 0, what + ".shape",
                "its elements of " + std::string(safetensors_dtype_name(t.dtype)) +
                    " do not fill whole bytes");
        const std::size_t bytes = bits / 8;
        if (t.is_raw)
            require(t.raw.size() == bytes, what + ".raw",
                    "has " + std::to_string(t.raw.size()) + " bytes; the shape and dtype need " +
                        std::to_string(bytes));
        else
            require(t.values.size() == n, what + ".values",
                    "has " + std::to_string(t.values.size()) + " values; the shape holds " +
                        std::to_string(n));
        const std::size_t end = checked_add(offset, bytes, what + ": the data size");
        if (h.size() > 1) h += ',';
        h += json_quote(t.name, what + ".name");
        h += ":{\"dtype\":\"";
        h += safetensors_dtype_name(t.dtype);
        h += "\",\"shape\":[";
        for (std::size_t d = 0; d < t.shape.size(); ++d) {
            if (d) h += ',';
            h += std::to_string(t.shape[d]);
        }
        h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
        offset = end;
        sizes.push_back(bytes);
        require(h.size() <= safetensors_max_header, "tensors", "the header passes 100000000 bytes");
    }
    h += '}';
    h.append((8 - h.size() % 8) % 8, ' ');  // the crate pads with spaces to a multiple of 8
    require(h.size() <= safetensors_max_header, "tensors", "the header passes 100000000 bytes");
    return h;
}

/// Emits the file: length, header, then each tensor's bytes; `out(ptr, n)` takes them.
template <class Out>
void emit_safetensors(std::span<const safetensors_source> tensors,
                      const safetensors_metadata& metadata, Out&& out) {
    std::vector<std::size_t> sizes;
    const std::string header = safetensors_header(tensors, metadata, sizes);
    std::uint8_t len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<std::uint8_t>(std::uint64_t(header.size()) >> (8 * i));
    out(len, 8);
    out(reinterpret_cast<const std::uint8_t*>(header.data()), header.size());
    std::vector<std::uint8_t> buf;
    for (const auto& t : tensors) {
        if (t.is_raw) {
            if (!t.raw.empty()) out(t.raw.data(), t.raw.size());
            continue;
        }
        const std::size_t item = t.dtype == safetensors_dtype::f32 ? 4 : 2;
        constexpr std::size_t chunk = 16384;
        buf.resize(chunk * item);
        for (std::size_t at = 0; at < t.values.size(); at += chunk) {
            const std::size_t m = std::min(chunk, t.values.size() - at);
            for (std::size_t i = 0; i < m; ++i) {
                const float v = t.values[at + i];
                std::uint32_t bits = t.dtype == safetensors_dtype::f32
                    ? std::bit_cast<std::uint32_t>(v)
                    : t.dtype == safetensors_dtype::f16 ? float_to_half_bits(v)
                                                        : float_to_bf16_bits(v);
                for (std::size_t b = 0; b < item; ++b)
                    buf[i * item + b] = static_cast<std::uint8_t>(bits >> (8 * b));
            }
            out(buf.data(), m * item);
        }
    }
}

}  // namespace detail

/// The bytes of a safetensors file holding `tensors` (laid out in the order given) and
/// `metadata` (written only when not empty). Throws lowbit::error naming the offending tensor
/// (a repeated name, values or bytes that do not match the shape, a name or string that is not
/// UTF-8, a float tensor asked for a dtype other than F32, F16, BF16).
inline std::vector<std::uint8_t> serialize_safetensors(std::span<const safetensors_source> tensors,
                                                       const safetensors_metadata& metadata = {}) {
    std::vector<std::uint8_t> out;
    detail::emit_safetensors(tensors, metadata, [&](const std::uint8_t* p, std::size_t n) {
        out.insert(out.end(), p, p + n);
    });
    return out;
}

/// Writes a safetensors file as serialize_safetensors lays it out, streaming each tensor (float
/// values are converted in chunks, never copied whole). The file is written to a temporary
/// beside `path` and renamed over it when complete; a tensor that fails the checks, a directory
/// that cannot be written or a full disk throws lowbit::error and leaves `path` as it was.
inline void write_safetensors(const std::filesystem::path& path,
                              std::span<const safetensors_source> tensors,
                              const safetensors_metadata& metadata = {}) {
    // Check everything (and build the header) before creating any file.
    std::vector<std::size_t> sizes;
    (void)detail::safetensors_header(tensors, metadata, sizes);
    detail::write_file_atomically(path, [&](std::ostream& f) {
        detail::emit_safetensors(tensors, metadata, [&](const std::uint8_t* p, std::size_t n) {
            f.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
            if (!f) {
                const int err = errno;
                throw error(path.string(),
                            std::string("cannot be written: a write failed (") +
                                (err ? std::strerror(err) : "disk full?") + ")");
            }
        });
    });
}

LOWBIT_NAMESPACE_END
