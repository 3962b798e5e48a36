// lowbit — GGUF files (ggml, llama.cpp): a validating, memory-mapped reader and a writer.
//
// Format (ggml/docs/gguf.md, versions 2 and 3), little-endian throughout:
//   uint32 magic "GGUF", uint32 version, uint64 tensor_count, uint64 metadata_kv_count
//   metadata_kv_count × { string key, uint32 value_type, value }
//   tensor_count × { string name, uint32 n_dims (1 … 4), uint64 ne[n_dims] (ne[0] the innermost,
//                    fastest-varying dimension), uint32 ggml_type, uint64 offset }
//   padding to a multiple of the alignment (metadata "general.alignment", uint32, default 32)
//   the data section: each tensor at `offset` from its start (a multiple of the alignment)
// A string is a uint64 byte count and the bytes (no terminator); an array a uint32 element type,
// a uint64 count and the elements. Block types store ne[0] / block_size blocks per row, so ne[0]
// must be a multiple of the block size.
//
// The reader takes untrusted bytes. Before any tensor byte is touched it checks the magic, the
// version, every count against the bytes left, string and array sizes, value types, unique keys
// and tensor names, dimensions (1 … 4, products within size_t), known ggml types, rows that are
// whole blocks, aligned offsets, and tensors that lie inside the data section without
// overlapping; each failure is a lowbit::error naming the file and "byte N" with the field
// (tests/fuzz/fuzz_gguf.cpp runs it under libFuzzer).
//
// read_float converts F32, F16, BF16, F64 and the block types lowbit implements (Q8_0, Q4_0,
// Q4_1, Q5_0, Q5_1, MXFP4: ggml's dequantization, bit for bit); other types (K-quants, I-quants,
// integers) are listed with their bytes and refused by read_float naming the tensor and type.
#pragma once
#include "../core/config.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../core/error.hpp"
#include "../formats/minifloat.hpp"
#include "../parallel.hpp"
#include "../quantizers/int.hpp"
#include "../quantizers/mx.hpp"
#include "mapped_file.hpp"
#include "npy.hpp"

LOWBIT_NAMESPACE_BEGIN

/// ggml's tensor types (ggml.h's enum ggml_type; ids are the file's).
enum class ggml_type : std::uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q8_1 = 9,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    iq2_xxs = 16,
    iq2_xs = 17,
    iq3_xxs = 18,
    iq1_s = 19,
    iq4_nl = 20,
    iq3_s = 21,
    iq2_s = 22,
    iq4_xs = 23,
    i8 = 24,
    i16 = 25,
    i32 = 26,
    i64 = 27,
    f64 = 28,
    iq1_m = 29,
    bf16 = 30,
    tq1_0 = 34,
    tq2_0 = 35,
    mxfp4 = 39,
};

/// A ggml type's name (as ggml prints it), elements per block and bytes per block.
struct ggml_type_traits {
    ggml_type type;
    std::string_view name;
    std::size_t block_size;
    std::size_t type_size;
};

namespace detail {
inline constexpr ggml_type_traits ggml_types[] = {
    {ggml_type::f32, "F32", 1, 4},
    {ggml_type::f16, "F16", 1, 2},
    {ggml_type::q4_0, "Q4_0", 32, 18},
    {ggml_type::q4_1, "Q4_1", 32, 20},
    {ggml_type::q5_0, "Q5_0", 32, 22},
    {ggml_type::q5_1, "Q5_1", 32, 24},
    {ggml_type::q8_0, "Q8_0", 32, 34},
    {ggml_type::q8_1, "Q8_1", 32, 36},
    {ggml_type::q2_k, "Q2_K", 256, 84},
    {ggml_type::q3_k, "Q3_K", 256, 110},
    {ggml_type::q4_k, "Q4_K", 256, 144},
    {ggml_type::q5_k, "Q5_K", 256, 176},
    {ggml_type::q6_k, "Q6_K", 256, 210},
    {ggml_type::q8_k, "Q8_K", 256, 292},
    {ggml_type::iq2_xxs, "IQ2_XXS", 256, 66},
    {ggml_type::iq2_xs, "IQ2_XS", 256, 74},
    {ggml_type::iq3_xxs, "IQ3_XXS", 256, 98},
    {ggml_type::iq1_s, "IQ1_S", 256, 50},
    {ggml_type::iq4_nl, "IQ4_NL", 32, 18},
    {ggml_type::iq3_s, "IQ3_S", 256, 110},
    {ggml_type::iq2_s, "IQ2_S", 256, 82},
    {ggml_type::iq4_xs, "IQ4_XS", 256, 136},
    {ggml_type::i8, "I8", 1, 1},
    {ggml_type::i16, "I16", 1, 2},
    {ggml_type::i32, "I32", 1, 4},
    {ggml_type::i64, "I64", 1, 8},
    {ggml_type::f64, "F64", 1, 8},
    {ggml_type::iq1_m, "IQ1_M", 256, 56},
    {ggml_type::bf16, "BF16", 1, 2},
    {ggml_type::tq1_0, "TQ1_0", 256, 54},
    {ggml_type::tq2_0, "TQ2_0", 256, 66},
    {ggml_type::mxfp4, "MXFP4", 32, 17},
};
}  // namespace detail

/// The traits of a type id; nullptr for an id ggml does not define (or no longer uses).
constexpr const ggml_type_traits* find_ggml_type(std::uint32_t id) noexcept {
    for (const auto& t : detail::ggml_types)
        if (static_cast<std::uint32_t>(t.type) == id) return &t;
    return nullptr;
}
constexpr const ggml_type_traits& ggml_traits(ggml_type t) noexcept {
    return *find_ggml_type(static_cast<std::uint32_t>(t));
}

/// The value types of GGUF metadata.
enum class gguf_value_type : std::uint32_t {
    u8 = 0,
    i8 = 1,
    u16 = 2,
    i16 = 3,
    u32 = 4,
    i32 = 5,
    f32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    u64 = 10,
    i64 = 11,
    f64 = 12,
};

namespace detail {
/// float32 bits as a double holding the same value; a NaN keeps its sign, its quiet bit and its
/// payload (a hardware conversion would quiet a signalling NaN), so f32_bits gives them back.
constexpr double f32_as_double(std::uint32_t u) noexcept {
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return std::bit_cast<double>(std::uint64_t(u >> 31) << 63 | 0x7FF0000000000000ull |
                                     std::uint64_t(u & 0x7FFFFFu) << 29);
    return double(std::bit_cast<float>(u));
}
/// The float32 bits of a double made by f32_as_double (other doubles rounded to nearest).
constexpr std::uint32_t f32_bits(double d) noexcept {
    const auto u = std::bit_cast<std::uint64_t>(d);
    if ((u & 0x7FFFFFFFFFFFFFFFull) > 0x7FF0000000000000ull) {
        const auto m = std::uint32_t(u >> 29) & 0x7FFFFFu;
        return std::uint32_t(u >> 63) << 31 | 0x7F800000u | (m ? m : 0x400000u);
    }
    return std::bit_cast<std::uint32_t>(float(d));
}
}  // namespace detail

/// One metadata value. Integers are held widened (`unsigned_value` for u8 … u64 and bool,
/// `signed_value` for i8 … i64), floats as double (f32 values exactly, NaN payloads included:
/// detail::f32_as_double), strings as their bytes;
/// an array holds `items` of one `item_type`. The writer stores each in its `type` and refuses
/// a value its type cannot hold.
struct gguf_value {
    gguf_value_type type = gguf_value_type::u8;
    std::variant<std::uint64_t, std::int64_t, double, std::string> scalar = std::uint64_t{0};
    gguf_value_type item_type = gguf_value_type::u8;  ///< arrays only
    std::vector<gguf_value> items;                    ///< arrays only

    static gguf_value of(gguf_value_type t, std::uint64_t v) { return {t, v, {}, {}}; }
    static gguf_value of(gguf_value_type t, std::int64_t v) { return {t, v, {}, {}}; }
    static gguf_value of(gguf_value_type t, double v) { return {t, v, {}, {}}; }
    static gguf_value u32(std::uint32_t v) { return of(gguf_value_type::u32, std::uint64_t{v}); }
    static gguf_value i32(std::int32_t v) { return of(gguf_value_type::i32, std::int64_t{v}); }
    static gguf_value f32(float v) {
        return of(gguf_value_type::f32, detail::f32_as_double(std::bit_cast<std::uint32_t>(v)));
    }
    static gguf_value boolean(bool v) { return of(gguf_value_type::boolean, std::uint64_t{v}); }
    static gguf_value string(std::string v) {
        return {gguf_value_type::string, std::move(v), {}, {}};
    }
    static gguf_value array(gguf_value_type item_type, std::vector<gguf_value> items) {
        return {gguf_value_type::array, std::uint64_t{0}, item_type, std::move(items)};
    }

    [[nodiscard]] bool is_array() const noexcept { return type == gguf_value_type::array; }
    /// The value as an unsigned / signed integer, double or string; lowbit::error naming `what`
    /// when it is not one.
    [[nodiscard]] std::uint64_t as_unsigned(std::string_view what = "value") const {
        if (const auto* v = std::get_if<std::uint64_t>(&scalar); v && !is_array()) return *v;
        if (const auto* v = std::get_if<std::int64_t>(&scalar); v && *v >= 0 && !is_array())
            return std::uint64_t(*v);
        throw error(what, "is not a non-negative integer");
    }
    [[nodiscard]] double as_double(std::string_view what = "value") const {
        if (const auto* v = std::get_if<double>(&scalar); v && !is_array()) return *v;
        throw error(what, "is not a float");
    }
    [[nodiscard]] const std::string& as_string(std::string_view what = "value") const {
        if (const auto* v = std::get_if<std::string>(&scalar); v && !is_array()) return *v;
        throw error(what, "is not a string");
    }
    /// Equal types, items and values; floats compare by their bits (a NaN equals the same NaN).
    friend bool operator==(const gguf_value& a, const gguf_value& b) {
        if (a.type != b.type || a.item_type != b.item_type || a.items != b.items) return false;
        const auto* x = std::get_if<double>(&a.scalar);
        const auto* y = std::get_if<double>(&b.scalar);
        if (x || y)
            return x && y && std::bit_cast<std::uint64_t>(*x) == std::bit_cast<std::uint64_t>(*y);
        return a.scalar == b.scalar;
    }
};

/// One tensor of a parsed file.
struct gguf_tensor {
    std::string name;
    ggml_type type = ggml_type::f32;
    std::vector<std::uint64_t> ne;  ///< as stored: ne[0] innermost
    std::size_t offset = 0;         ///< from the start of the data section
    std::size_t elements = 0;
    std::size_t bytes = 0;

    /// The shape outer dimension first (NumPy's order: ne reversed).
    [[nodiscard]] std::vector<std::size_t> shape() const { return {ne.rbegin(), ne.rend()}; }
    [[nodiscard]] std::string_view type_name() const noexcept { return ggml_traits(type).name; }
};

class gguf_view;
inline gguf_view parse_gguf(std::span<const std::uint8_t> file, std::string_view name);

/// A validated GGUF image in memory that it does not own. Made by parse_gguf; valid while the
/// bytes are.
class gguf_view {
public:
    gguf_view() = default;
    [[nodiscard]] std::uint32_t version() const noexcept { return version_; }
    [[nodiscard]] std::size_t alignment() const noexcept { return alignment_; }
    /// Where the data section starts in the file.
    [[nodiscard]] std::size_t data_offset() const noexcept { return data_offset_; }
    /// The metadata in file order.
    [[nodiscard]] const std::vector<std::pair<std::string, gguf_value>>& metadata() const noexcept {
        return metadata_;
    }
    /// The value of `key`; nullptr when the file has none.
    [[nodiscard]] const gguf_value* find(std::string_view key) const noexcept {
        for (const auto& [k, v] : metadata_)
            if (k == key) return &v;
        return nullptr;
    }
    /// The tensors in file order.
    [[nodiscard]] const std::vector<gguf_tensor>& tensors() const noexcept { return tensors_; }
    [[nodiscard]] const gguf_tensor& info(std::string_view name) const {
        for (const auto& t : tensors_)
            if (t.name == name) return t;
        throw error(file_name_, "has no tensor named '" + std::string(name.substr(0, 64)) + "'");
    }
    [[nodiscard]] std::span<const std::uint8_t> bytes(const gguf_tensor& t) const noexcept {
        return file_.subspan(data_offset_ + t.offset, t.bytes);
    }
    [[nodiscard]] std::span<const std::uint8_t> bytes(std::string_view name) const {
        return bytes(info(name));
    }
    /// A tensor converted to float (shape outer first; dtype the type name). lowbit::error naming
    /// the tensor and its type for a type read_float does not convert.
    [[nodiscard]] npy_array read_float(const gguf_tensor& t) const;
    [[nodiscard]] npy_array read_float(std::string_view name) const {
        return read_float(info(name));
    }
    [[nodiscard]] const std::string& file_name() const noexcept { return file_name_; }

private:
    friend gguf_view parse_gguf(std::span<const std::uint8_t>, std::string_view);
    std::span<const std::uint8_t> file_;
    std::uint32_t version_ = 3;
    std::size_t alignment_ = 32, data_offset_ = 0;
    std::vector<std::pair<std::string, gguf_value>> metadata_;
    std::vector<gguf_tensor> tensors_;
    std::string file_name_;
};

namespace detail {

/// A bounds-checked little-endian cursor over a GGUF image; errors name the byte and field.
class gguf_cursor {
public:
    gguf_cursor(std::span<const std::uint8_t> b, const std::string& file) : b_(b), file_(file) {}
    [[noreturn]] void fail(const std::string& field, const std::string& message) const {
        throw error(file_, "byte " + std::to_string(at_) + ", " + field + ": " + message);
    }
    [[nodiscard]] std::size_t at() const noexcept { return at_; }
    [[nodiscard]] std::size_t left() const noexcept { return b_.size() - at_; }
    template <class T>
    T read(const std::string& field) {
        if (left() < sizeof(T))
            fail(field,
                 "the file ends inside it (" + std::to_string(left()) + " bytes left, " +
                     std::to_string(sizeof(T)) + " needed)");
        std::uint64_t v = 0;
        for (std::size_t k = 0; k < sizeof(T); ++k) v |= std::uint64_t(b_[at_ + k]) << (8 * k);
        at_ += sizeof(T);
        if constexpr (std::is_same_v<T, float>)
            return std::bit_cast<float>(static_cast<std::uint32_t>(v));
        else if constexpr (std::is_same_v<T, double>)
            return std::bit_cast<double>(v);
        else
            return static_cast<T>(v);
    }
    std::string string(const std::string& field) {
        const auto n = read<std::uint64_t>(field + " length");
        if (n > left())
            fail(field,
                 "its length " + std::to_string(n) + " exceeds the " + std::to_string(left()) +
                     " bytes left");
        std::string s(reinterpret_cast<const char*>(b_.data() + at_), std::size_t(n));
        at_ += std::size_t(n);
        return s;
    }
    /// A count of items of at least `min_size` bytes each, checked against the bytes left.
    std::size_t count(const std::string& field, std::size_t min_size) {
        const auto n = read<std::uint64_t>(field);
        if (n > left() / min_size)
            fail(field,
                 std::to_string(n) + " items of at least " + std::to_string(min_size) +
                     " bytes cannot fit in the " + std::to_string(left()) + " bytes left");
        return std::size_t(n);
    }

private:
    std::span<const std::uint8_t> b_;
    const std::string& file_;
    std::size_t at_ = 0;
};

/// The smallest encoding of a value of type t (a string: its length; an array: type and count).
constexpr std::size_t gguf_min_size(gguf_value_type t) noexcept {
    switch (t) {
        case gguf_value_type::u8:
        case gguf_value_type::i8:
        case gguf_value_type::boolean: return 1;
        case gguf_value_type::u16:
        case gguf_value_type::i16: return 2;
        case gguf_value_type::u32:
        case gguf_value_type::i32:
        case gguf_value_type::f32: return 4;
        case gguf_value_type::string:
        case gguf_value_type::u64:
        case gguf_value_type::i64:
        case gguf_value_type::f64: return 8;
        case gguf_value_type::array: return 12;
    }
    return 1;
}

inline constexpr int gguf_max_array_depth = 4;

inline gguf_value read_gguf_value(gguf_cursor& c, std::uint32_t raw_type, const std::string& field,
                                  int depth) {
    if (raw_type > 12) c.fail(field, "value type " + std::to_string(raw_type) + " is not 0 … 12");
    const auto t = static_cast<gguf_value_type>(raw_type);
    gguf_value v;
    v.type = t;
    switch (t) {
        case gguf_value_type::u8: v.scalar = std::uint64_t{c.read<std::uint8_t>(field)}; break;
        case gguf_value_type::i8: v.scalar = std::int64_t{c.read<std::int8_t>(field)}; break;
        case gguf_value_type::u16: v.scalar = std::uint64_t{c.read<std::uint16_t>(field)}; break;
        case gguf_value_type::i16: v.scalar = std::int64_t{c.read<std::int16_t>(field)}; break;
        case gguf_value_type::u32: v.scalar = std::uint64_t{c.read<std::uint32_t>(field)}; break;
        case gguf_value_type::i32: v.scalar = std::int64_t{c.read<std::int32_t>(field)}; break;
        case gguf_value_type::u64: v.scalar = c.read<std::uint64_t>(field); break;
        case gguf_value_type::i64: v.scalar = c.read<std::int64_t>(field); break;
        case gguf_value_type::f32:
            v.scalar = detail::f32_as_double(c.read<std::uint32_t>(field));
            break;
        case gguf_value_type::f64: v.scalar = c.read<double>(field); break;
        case gguf_value_type::boolean: {
            const auto b = c.read<std::uint8_t>(field);
            if (b > 1) c.fail(field, "a bool must be 0 or 1, not " + std::to_string(b));
            v.scalar = std::uint64_t{b};
            break;
        }
        case gguf_value_type::string: v.scalar = c.string(field); break;
        case gguf_value_type::array: {
            if (depth >= gguf_max_array_depth)
                c.fail(field, "arrays nest deeper than " + std::to_string(gguf_max_array_depth));
            const auto it = c.read<std::uint32_t>(field + " item type");
            if (it > 12) c.fail(field, "item type " + std::to_string(it) + " is not 0 … 12");
            v.item_type = static_cast<gguf_value_type>(it);
            const std::size_t n = c.count(field + " count", gguf_min_size(v.item_type));
            v.items.reserve(n);
            for (std::size_t i = 0; i < n; ++i)
                v.items.push_back(
                    read_gguf_value(c, it, field + "[" + std::to_string(i) + "]", depth + 1));
            break;
        }
    }
    return v;
}

inline std::size_t align_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

}  // namespace detail

/// Parses and validates a GGUF image (see the file comment); `name` appears in errors.
inline gguf_view parse_gguf(std::span<const std::uint8_t> file, std::string_view name) {
    gguf_view g;
    g.file_ = file;
    g.file_name_ = std::string(name);
    detail::gguf_cursor c(file, g.file_name_);
    if (c.read<std::uint32_t>("magic") != 0x46554747u)
        c.fail("magic", "not a GGUF file (the first 4 bytes are not \"GGUF\")");
    g.version_ = c.read<std::uint32_t>("version");
    if (g.version_ != 2 && g.version_ != 3)
        c.fail("version", std::to_string(g.version_) + " is not a version lowbit reads (2, 3)");
    // A tensor info is at least a name length, n_dims, one dimension, type and offset: 32 bytes;
    // a key-value pair a key length and a type and a 1-byte value: 13.
    const auto n_tensors = c.read<std::uint64_t>("tensor_count");
    const std::size_t n_kv = c.count("metadata_kv_count", 13);
    if (n_tensors > c.left() / 32)
        c.fail("tensor_count", std::to_string(n_tensors) + " tensors cannot fit in the file");
    for (std::size_t i = 0; i < n_kv; ++i) {
        const std::string field = "metadata[" + std::to_string(i) + "]";
        std::string key = c.string(field + " key");
        for (const auto& [k, v] : g.metadata_)
            if (k == key) c.fail(field + " key", "'" + key.substr(0, 64) + "' appears twice");
        const auto t = c.read<std::uint32_t>(field + " type");
        gguf_value v = detail::read_gguf_value(c, t, "metadata '" + key.substr(0, 64) + "'", 0);
        g.metadata_.emplace_back(std::move(key), std::move(v));
    }
    if (const gguf_value* a = g.find("general.alignment")) {
        if (a->type != gguf_value_type::u32) c.fail("general.alignment", "must be a uint32");
        const auto al = a->as_unsigned();
        if (al == 0 || (al & (al - 1)) != 0)
            c.fail("general.alignment", std::to_string(al) + " is not a power of two");
        g.alignment_ = std::size_t(al);
    }
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < n_tensors; ++i) {
        const std::string field = "tensor[" + std::to_string(i) + "]";
        gguf_tensor t;
        t.name = c.string(field + " name");
        const std::string named = "tensor '" + t.name.substr(0, 64) + "'";
        for (const auto& o : g.tensors_)
            if (o.name == t.name) c.fail(named, "the name appears twice");
        const auto n_dims = c.read<std::uint32_t>(named + " n_dims");
        if (n_dims < 1 || n_dims > 4) c.fail(named + " n_dims", "must be 1 … 4");
        std::size_t elements = 1;
        for (std::uint32_t d = 0; d < n_dims; ++d) {
            const auto n = c.read<std::uint64_t>(named + " ne[" + std::to_string(d) + "]");
            if (n != 0 && elements > SIZE_MAX / n)
                c.fail(named + " ne", "the element count overflows size_t");
            elements *= std::size_t(n);
            t.ne.push_back(n);
        }
        const auto type = c.read<std::uint32_t>(named + " type");
        const ggml_type_traits* tr = find_ggml_type(type);
        if (!tr) c.fail(named + " type", std::to_string(type) + " is not a ggml type lowbit knows");
        t.type = tr->type;
        if (t.ne[0] % tr->block_size != 0)
            c.fail(named + " ne[0]",
                   std::to_string(t.ne[0]) + " is not a multiple of " + std::string(tr->name) +
                       "'s block of " + std::to_string(tr->block_size));
        t.elements = elements;
        if (elements / tr->block_size > SIZE_MAX / tr->type_size)
            c.fail(named + " ne", "the byte count overflows size_t");
        t.bytes = elements / tr->block_size * tr->type_size;
        const auto off = c.read<std::uint64_t>(named + " offset");
        if (off % g.alignment_ != 0)
            c.fail(named + " offset",
                   std::to_string(off) + " is not a multiple of the alignment " +
                       std::to_string(g.alignment_));
        if (off > file.size()) c.fail(named + " offset", "lies beyond the end of the file");
        t.offset = std::size_t(off);
        g.tensors_.push_back(std::move(t));
    }
    g.data_offset_ = detail::align_up(c.at(), g.alignment_);
    if (g.data_offset_ > file.size() && !g.tensors_.empty())
        c.fail("data section", "starts beyond the end of the file");
    const std::size_t data_size = file.size() > g.data_offset_ ? file.size() - g.data_offset_ : 0;
    std::vector<const gguf_tensor*> by_offset;
    for (const auto& t : g.tensors_) {
        if (t.offset > data_size || t.bytes > data_size - t.offset)
            throw error(g.file_name_,
                        "tensor '" + t.name.substr(0, 64) + "': its " + std::to_string(t.bytes) +
                            " bytes at data offset " + std::to_string(t.offset) +
                            " run past the end of the file");
        by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto* a, const auto* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->bytes && by_offset[i]->bytes &&
            by_offset[i - 1]->offset + by_offset[i - 1]->bytes > by_offset[i]->offset)
            throw error(g.file_name_,
                        "tensors '" + by_offset[i - 1]->name.substr(0, 64) + "' and '" +
                            by_offset[i]->name.substr(0, 64) + "' overlap in the data section");
    return g;
}

/// A GGUF file opened for reading: memory-mapped where the platform has mmap, validated in full
/// on opening. Movable, not copyable; every view and span it hands out is valid while it lives.
class gguf_file : public gguf_view {
public:
    explicit gguf_file(const std::filesystem::path& path) : file_(path) {
        static_cast<gguf_view&>(*this) = parse_gguf(file_.bytes(), path.string());
    }
    gguf_file(const gguf_file&) = delete;
    gguf_file& operator=(const gguf_file&) = delete;
    gguf_file(gguf_file&& o) noexcept
        : gguf_view(std::exchange(static_cast<gguf_view&>(o), gguf_view{})),
          file_(std::move(o.file_)) {}
    gguf_file& operator=(gguf_file&& o) noexcept {
        if (this != &o) {
            static_cast<gguf_view&>(*this) = std::exchange(static_cast<gguf_view&>(o), gguf_view{});
            file_ = std::move(o.file_);
        }
        return *this;
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return file_.path(); }

private:
    mapped_file file_;
};

// ---- ggml's block types through lowbit's quantizers -----------------------------------------
//
// Each block type is a lowbit quantizer with ggml's conventions as named options, and a layout:
//   Q8_0   int_format<8> (restricted), fp16 scale, groups of 32, absmax; round_mode::nearest_away
//          (np_roundf); codes from the unrounded scale (code_scale::unrounded). Block: d, 32 int8.
//   Q4_0   int_format<4, full>: s = x_extreme / −8; round_mode::nearest_up ("+ 8.5, truncate");
//          code_scale::unrounded. Block: d, 16 bytes, byte j = q_j | q_{j+16} << 4, q = code + 8.
//   Q4_1   uint_format<4>, offset form (s = (max − min) / 15, m = min); nearest_up; unrounded.
//          Block: d, m, 16 bytes as Q4_0 (q = code).
//   Q5_0   int_format<5, full> (s = x_extreme / −16), as Q4_0; block: d, qh (uint32, bit j = bit 4
//          of q_j), 16 bytes of low nibbles as Q4_0, q = code + 16.
//   Q5_1   uint_format<5>, as Q4_1; block: d, m, qh, 16 bytes.
//   MXFP4  mx_quantizer<e2m1>, E8M0 scale 2^(⌊log2f(amax)⌋ − 2) (mx_scale_rounding::log2f);
//          round_mode::nearest_zero (the first closest level); negative_zero::positive. Block: E8M0
//          byte, 16 bytes as Q4_0 of the E2M1 codes (the same 0 … 15 numbering as ggml's kvalues).
// Where lowbit's defined semantics and gguf-py's arithmetic part (docs/io.md, "GGUF"): fp16
// scales that overflow (lowbit saturates at 65504, gguf-py writes Inf) and MXFP4 blocks whose
// amax is below 2^-125 (gguf-py's exponent wraps around in uint8).

namespace detail {

/// The quantizer behind a block type (nullptr-free: only for the six types above).
template <class Fn>
decltype(auto) with_ggml_quantizer(ggml_type type, Fn&& fn) {
    using half = Eigen::half;
    const auto g32 = granularity::group(32);
    const rounding up{round_mode::nearest_up, 0};
    switch (type) {
        case ggml_type::q8_0:
            return fn(int_quantizer<int_format<8>, half>({.gran = g32,
                                                          .round = {round_mode::nearest_away, 0},
                                                          .codes_from = code_scale::unrounded}));
        case ggml_type::q4_0:
            return fn(int_quantizer<int_format<4, int_range::full>, half>(
                {.gran = g32,
                 .round = up,
                 .order = nibble_order::ggml_split,
                 .codes_from = code_scale::unrounded}));
        case ggml_type::q4_1:
            return fn(int_quantizer<uint_format<4>, half>({.gran = g32,
                                                           .rule = scale_rule::minmax(),
                                                           .round = up,
                                                           .form = affine::offset,
                                                           .order = nibble_order::ggml_split,
                                                           .codes_from = code_scale::unrounded}));
        case ggml_type::q5_0:
            return fn(int_quantizer<int_format<5, int_range::full>, half>(
                {.gran = g32, .round = up, .codes_from = code_scale::unrounded}));
        case ggml_type::q5_1:
            return fn(int_quantizer<uint_format<5>, half>({.gran = g32,
                                                           .rule = scale_rule::minmax(),
                                                           .round = up,
                                                           .form = affine::offset,
                                                           .codes_from = code_scale::unrounded}));
        default: break;
    }
    return fn(mx_quantizer<e2m1>({.scale_rounding = mx_scale_rounding::log2f,
                                  .round = {round_mode::nearest_zero, 0},
                                  .zero = negative_zero::positive}));
}

constexpr bool ggml_block_type(ggml_type t) noexcept {
    return t == ggml_type::q8_0 || t == ggml_type::q4_0 || t == ggml_type::q4_1 ||
        t == ggml_type::q5_0 || t == ggml_type::q5_1 || t == ggml_type::mxfp4;
}

inline void put_u16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = std::uint8_t(v);
    p[1] = std::uint8_t(v >> 8);
}
inline std::uint16_t get_u16(const std::uint8_t* p) noexcept {
    return std::uint16_t(p[0] | p[1] << 8);
}
inline std::uint16_t half_bits(Eigen::half h) noexcept { return std::bit_cast<std::uint16_t>(h); }
inline Eigen::half bits_half(std::uint16_t b) noexcept { return std::bit_cast<Eigen::half>(b); }

/// Writes the tensor t (of the block type's quantizer) as ggml blocks.
template <class Tensor>
void tensor_to_blocks(ggml_type type, const Tensor& t, std::uint8_t* out) {
    const std::vector<std::uint8_t> c = t.codes();
    const std::size_t nb = c.size() / 32, ts = ggml_traits(type).type_size;
    for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* o = out + b * ts;
        const std::uint8_t* q = c.data() + b * 32;
        std::size_t at = 0;
        if constexpr (requires { t.offsets; }) {
            put_u16(o, half_bits(t.scales[b]));
            at = 2;
            if (!t.offsets.empty()) {
                put_u16(o + 2, half_bits(t.offsets[b]));
                at = 4;
            }
        } else {
            o[0] = t.scales[b];  // E8M0
            at = 1;
        }
        // Unsigned block codes: Q4_0 and Q5_0 store the signed code offset by 2^(bits−1) (ggml's
        // q − 8); Q8_0 stores its int8 codes as they are.
        std::uint8_t u[32];
        for (int j = 0; j < 32; ++j)
            u[j] = type == ggml_type::q4_0 ? std::uint8_t(q[j] ^ 0x8u)
                : type == ggml_type::q5_0  ? std::uint8_t(q[j] ^ 0x10u)
                                           : q[j];
        if (type == ggml_type::q8_0) {
            std::memcpy(o + at, q, 32);  // two's complement int8, as stored
            continue;
        }
        if (type == ggml_type::q5_0 || type == ggml_type::q5_1) {
            std::uint32_t qh = 0;
            for (int j = 0; j < 32; ++j) qh |= std::uint32_t((u[j] >> 4) & 1u) << j;
            for (int k = 0; k < 4; ++k) o[at + k] = std::uint8_t(qh >> (8 * k));
            at += 4;
        }
        for (int j = 0; j < 16; ++j)
            o[at + j] = std::uint8_t((u[j] & 0xFu) | (u[j + 16] & 0xFu) << 4);
    }
}

/// Reads ggml blocks into a tensor of the block type's quantizer (the inverse of
/// tensor_to_blocks); t's structure comes from quantizing nothing with that quantizer.
template <class Tensor>
void blocks_to_tensor(ggml_type type, std::span<const std::uint8_t> in, shape2d shape, Tensor& t) {
    const std::size_t nb = shape.size() / 32, ts = ggml_traits(type).type_size;
    std::vector<std::uint8_t> c(shape.size());
    t.shape = shape;
    t.scales.resize(nb);
    if constexpr (requires { t.offsets; })
        if (t.form == affine::offset) t.offsets.resize(nb);
    for (std::size_t b = 0; b < nb; ++b) {
        const std::uint8_t* o = in.data() + b * ts;
        std::uint8_t* q = c.data() + b * 32;
        std::size_t at = 0;
        if constexpr (requires { t.offsets; }) {
            t.scales[b] = bits_half(get_u16(o));
            at = 2;
            if (!t.offsets.empty()) {
                t.offsets[b] = bits_half(get_u16(o + 2));
                at = 4;
            }
        } else {
            t.scales[b] = o[0];
            at = 1;
        }
        if (type == ggml_type::q8_0) {
            std::memcpy(q, o + at, 32);
            continue;
        }
        std::uint32_t qh = 0;
        if (type == ggml_type::q5_0 || type == ggml_type::q5_1) {
            for (int k = 0; k < 4; ++k) qh |= std::uint32_t(o[at + k]) << (8 * k);
            at += 4;
        }
        for (int j = 0; j < 16; ++j) {
            q[j] = o[at + j] & 0xFu;
            q[j + 16] = o[at + j] >> 4;
        }
        for (int j = 0; j < 32; ++j) {
            q[j] = std::uint8_t(q[j] | ((qh >> j) & 1u) << 4);
            if (type == ggml_type::q4_0) q[j] ^= 0x8u;
            if (type == ggml_type::q5_0) q[j] ^= 0x10u;
        }
    }
    t.packed.assign(packed_size(c.size(), Tensor::bits), 0);
    if constexpr (requires { t.order; })
        pack(c, Tensor::bits, t.packed, t.order);
    else
        pack(c, Tensor::bits, t.packed);
    t.validate();
}

/// Checks that a rows × cols tensor can be ggml blocks of `type`.
inline void check_block_shape(ggml_type type, shape2d shape, std::string_view what) {
    const auto& tr = ggml_traits(type);
    require(shape.cols % tr.block_size == 0, what,
            "rows of " + std::to_string(shape.cols) + " values are not whole " +
                std::string(tr.name) + " blocks of " + std::to_string(tr.block_size));
}

}  // namespace detail

/// x (rows × cols, cols a multiple of the block) as ggml blocks of `type`, made by lowbit's
/// quantizer with ggml's conventions (see above); F32, F16 and BF16 convert the values (F16 and
/// BF16 rounded to nearest even, F16 overflowing to ±Inf from 65520). `threads` spreads the
/// block types over threads (the bytes do not change). lowbit::error for another type.
[[nodiscard]] inline std::vector<std::uint8_t> ggml_quantize(ggml_type type,
                                                             std::span<const float> x,
                                                             shape2d shape, unsigned threads = 1) {
    detail::require(x.size() == shape.size(), "x", "must hold shape.rows * shape.cols values");
    const auto& tr = ggml_traits(type);
    std::vector<std::uint8_t> out;
    if (type == ggml_type::f32 || type == ggml_type::f16 || type == ggml_type::bf16) {
        out.resize(x.size() * tr.type_size);
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (type == ggml_type::f32) {
                const auto u = std::bit_cast<std::uint32_t>(x[i]);
                for (int k = 0; k < 4; ++k) out[4 * i + k] = std::uint8_t(u >> (8 * k));
            } else {
                detail::put_u16(out.data() + 2 * i,
                                type == ggml_type::f16 ? detail::float_to_half_bits(x[i])
                                                       : detail::float_to_bf16_bits(x[i]));
            }
        }
        return out;
    }
    detail::require(detail::ggml_block_type(type), "type",
                    std::string(tr.name) +
                        " is not a type lowbit writes (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, "
                        "Q5_1, MXFP4)");
    detail::check_block_shape(type, shape, "shape");
    out.resize(shape.size() / 32 * tr.type_size);
    detail::with_ggml_quantizer(type, [&](const auto& q) {
        const auto t = quantize_parallel(q, x, shape, threads);
        detail::tensor_to_blocks(type, t, out.data());
        return 0;
    });
    return out;
}

/// The float values of `bytes`, a rows × cols tensor of `type`: F32, F16, BF16, F64 converted
/// exactly (F64 rounded to nearest), the six block types dequantized by their lowbit quantizer
/// (ggml's dequantization bit for bit). lowbit::error naming the type for another.
[[nodiscard]] inline std::vector<float> ggml_dequantize(ggml_type type,
                                                        std::span<const std::uint8_t> bytes,
                                                        shape2d shape) {
    const auto& tr = ggml_traits(type);
    detail::check_block_shape(type, shape, "shape");
    detail::require(bytes.size() == shape.size() / tr.block_size * tr.type_size, "bytes",
                    "must hold exactly the tensor's " + std::string(tr.name) + " bytes");
    std::vector<float> y(shape.size());
    const std::uint8_t* p = bytes.data();
    switch (type) {
        case ggml_type::f32:
            for (std::size_t i = 0; i < y.size(); ++i)
                y[i] = std::bit_cast<float>(
                    std::uint32_t(p[4 * i]) | std::uint32_t(p[4 * i + 1]) << 8 |
                    std::uint32_t(p[4 * i + 2]) << 16 | std::uint32_t(p[4 * i + 3]) << 24);
            return y;
        case ggml_type::f16:
            for (std::size_t i = 0; i < y.size(); ++i)
                y[i] = detail::half_bits_to_float(detail::get_u16(p + 2 * i));
            return y;
        case ggml_type::bf16:
            for (std::size_t i = 0; i < y.size(); ++i)
                y[i] = std::bit_cast<float>(std::uint32_t(detail::get_u16(p + 2 * i)) << 16);
            return y;
        case ggml_type::f64:
            for (std::size_t i = 0; i < y.size(); ++i) {
                std::uint64_t u = 0;
                for (int k = 0; k < 8; ++k) u |= std::uint64_t(p[8 * i + k]) << (8 * k);
                y[i] = static_cast<float>(std::bit_cast<double>(u));
            }
            return y;
        default: break;
    }
    detail::require(detail::ggml_block_type(type), "type",
                    std::string(tr.name) + " is not a type lowbit reads as float");
    detail::with_ggml_quantizer(type, [&](const auto& q) {
        typename std::remove_cvref_t<decltype(q)>::tensor_type t;
        q.quantize_into(std::span<const float>(), shape2d{0, 0}, t, backend::scalar);
        detail::blocks_to_tensor(type, bytes, shape, t);
        q.dequantize(t, y);
        return 0;
    });
    return y;
}

inline npy_array gguf_view::read_float(const gguf_tensor& t) const {
    const std::size_t cols = std::size_t(t.ne[0]);
    const shape2d shape{cols ? t.elements / cols : 0, cols};
    npy_array a;
    a.shape = t.shape();
    a.dtype = std::string(t.type_name());
    try {
        a.data = ggml_dequantize(t.type, bytes(t), shape);
    } catch (const error& e) {
        throw error(file_name_,
                    "tensor '" + t.name.substr(0, 64) + "' (" + a.dtype +
                        "): " + std::string(e.what()).substr(8));
    }
    return a;
}

// ---- writing --------------------------------------------------------------------------------

/// One tensor to write: its bytes in `type` (ggml_quantize makes them from floats), shape outer
/// dimension first. Refers to the caller's bytes, which must live until the write returns.
struct gguf_source {
    std::string name;
    ggml_type type = ggml_type::f32;
    std::vector<std::size_t> shape;  ///< 1 … 4 dimensions, NumPy order (written reversed as ne)
    std::span<const std::uint8_t> bytes;
};

/// Metadata in the order it is written.
using gguf_metadata = std::vector<std::pair<std::string, gguf_value>>;

namespace detail {

class gguf_out {
public:
    template <class T>
    void put(T v) {
        std::uint64_t u;
        if constexpr (std::is_same_v<T, float>)
            u = std::bit_cast<std::uint32_t>(v);
        else if constexpr (std::is_same_v<T, double>)
            u = std::bit_cast<std::uint64_t>(v);
        else
            u = static_cast<std::uint64_t>(v);
        for (std::size_t k = 0; k < sizeof(T); ++k) bytes.push_back(std::uint8_t(u >> (8 * k)));
    }
    void str(const std::string& s) {
        put(std::uint64_t(s.size()));
        bytes.insert(bytes.end(), s.begin(), s.end());
    }
    std::vector<std::uint8_t> bytes;
};

inline void put_gguf_value(gguf_out& o, const gguf_value& v, const std::string& what, int depth) {
    using T = gguf_value_type;
    auto uint_fits = [&](std::uint64_t max) {
        const std::uint64_t* u = std::get_if<std::uint64_t>(&v.scalar);
        require(u && *u <= max, what, "does not hold a value its unsigned type can store");
        return *u;
    };
    auto int_fits = [&](std::int64_t lo, std::int64_t hi) {
        std::int64_t x;
        if (const auto* s = std::get_if<std::int64_t>(&v.scalar))
            x = *s;
        else if (const auto* u = std::get_if<std::uint64_t>(&v.scalar);
                 u && *u <= std::uint64_t(INT64_MAX))
            x = std::int64_t(*u);
        else
            throw error(what, "does not hold a value its signed type can store");
        require(x >= lo && x <= hi, what, "does not hold a value its signed type can store");
        return x;
    };
    switch (v.type) {
        case T::u8: o.put(std::uint8_t(uint_fits(0xFF))); break;
        case T::u16: o.put(std::uint16_t(uint_fits(0xFFFF))); break;
        case T::u32: o.put(std::uint32_t(uint_fits(0xFFFFFFFFu))); break;
        case T::u64: o.put(uint_fits(UINT64_MAX)); break;
        case T::boolean: o.put(std::uint8_t(uint_fits(1))); break;
        case T::i8: o.put(std::int8_t(int_fits(INT8_MIN, INT8_MAX))); break;
        case T::i16: o.put(std::int16_t(int_fits(INT16_MIN, INT16_MAX))); break;
        case T::i32: o.put(std::int32_t(int_fits(INT32_MIN, INT32_MAX))); break;
        case T::i64: o.put(int_fits(INT64_MIN, INT64_MAX)); break;
        case T::f32: o.put(detail::f32_bits(v.as_double(what))); break;
        case T::f64: o.put(v.as_double(what)); break;
        case T::string: o.str(v.as_string(what)); break;
        case T::array:
            require(depth < gguf_max_array_depth, what, "arrays nest too deep");
            require(std::uint32_t(v.item_type) <= 12, what, "has an unknown item type");
            o.put(std::uint32_t(v.item_type));
            o.put(std::uint64_t(v.items.size()));
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                const std::string w = what + "[" + std::to_string(i) + "]";
                require(v.items[i].type == v.item_type, w, "is not of the array's item type");
                put_gguf_value(o, v.items[i], w, depth + 1);
            }
            break;
        default: throw error(what, "has an unknown value type");
    }
}

}  // namespace detail

/// The bytes of a GGUF v3 file holding `metadata` (in its order) and `tensors` (in theirs, each
/// at the next multiple of the alignment, "general.alignment" or 32, zero-padded), the layout
/// gguf-py writes. Throws lowbit::error naming the tensor or key: a repeated name or key, a shape
/// of 0 or more than 4 dimensions, rows that are not whole blocks, bytes that do not match the
/// shape, a value its type cannot hold, an alignment that is not a uint32 power of two.
[[nodiscard]] inline std::vector<std::uint8_t> serialize_gguf(std::span<const gguf_source> tensors,
                                                              const gguf_metadata& metadata = {}) {
    std::size_t alignment = 32;
    detail::gguf_out o;
    o.put(std::uint32_t(0x46554747u));
    o.put(std::uint32_t(3));
    o.put(std::uint64_t(tensors.size()));
    o.put(std::uint64_t(metadata.size()));
    for (std::size_t i = 0; i < metadata.size(); ++i) {
        const auto& [key, v] = metadata[i];
        for (std::size_t j = 0; j < i; ++j)
            detail::require(metadata[j].first != key, "metadata '" + key + "'", "appears twice");
        if (key == "general.alignment") {
            detail::require(v.type == gguf_value_type::u32, key, "must be a uint32");
            const auto a = v.as_unsigned(key);
            detail::require(a != 0 && (a & (a - 1)) == 0, key, "must be a power of two");
            alignment = std::size_t(a);
        }
        o.str(key);
        o.put(std::uint32_t(v.type));
        detail::put_gguf_value(o, v, "metadata '" + key + "'", 0);
    }
    std::size_t offset = 0;
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        const std::string what = "tensors[" + std::to_string(i) + "] ('" + t.name + "')";
        for (std::size_t j = 0; j < i; ++j)
            detail::require(tensors[j].name != t.name, what, "the name appears twice");
        detail::require(!t.shape.empty() && t.shape.size() <= 4, what + ".shape",
                        "must have 1 … 4 dimensions");
        const auto& tr = ggml_traits(t.type);
        std::size_t n = 1;
        for (std::size_t d : t.shape) {
            detail::require(d == 0 || n <= SIZE_MAX / d, what + ".shape", "overflows size_t");
            n *= d;
        }
        detail::require(t.shape.back() % tr.block_size == 0, what + ".shape",
                        "its last dimension is not whole " + std::string(tr.name) + " blocks");
        detail::require(t.bytes.size() == n / tr.block_size * tr.type_size, what + ".bytes",
                        "has " + std::to_string(t.bytes.size()) +
                            " bytes; the shape and type need " +
                            std::to_string(n / tr.block_size * tr.type_size));
        o.str(t.name);
        o.put(std::uint32_t(t.shape.size()));
        for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) o.put(std::uint64_t(*d));
        o.put(std::uint32_t(t.type));
        o.put(std::uint64_t(offset));
        offsets.push_back(offset);
        offset = detail::align_up(offset + t.bytes.size(), alignment);
    }
    o.bytes.resize(detail::align_up(o.bytes.size(), alignment), 0);
    const std::size_t data = o.bytes.size();
    o.bytes.resize(data + offset, 0);
    for (std::size_t i = 0; i < tensors.size(); ++i)
        if (!tensors[i].bytes.empty())
            std::memcpy(o.bytes.data() + data + offsets[i], tensors[i].bytes.data(),
                        tensors[i].bytes.size());
    return o.bytes;
}

/// Writes serialize_gguf's bytes to `path` (through a temporary renamed over it: a failure
/// leaves `path` as it was).
inline void write_gguf(const std::filesystem::path& path, std::span<const gguf_source> tensors,
                       const gguf_metadata& metadata = {}) {
    const auto bytes = serialize_gguf(tensors, metadata);
    detail::write_file_atomically(path, [&](std::ostream& f) {
        f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        if (!f) throw error(path.string(), "cannot be written: a write failed");
    });
}

LOWBIT_NAMESPACE_END
