// lowbit — quantized tensors that persist: any scheme's result saved to a safetensors file and
// loaded back, bit for bit.
//
// Layout, format version 1. A quantized tensor NAME made by the scheme SPEC (a registered name or
// a spec string, lowbit/spec.hpp) is stored as
//   NAME:codes, NAME:scales, …   one safetensors tensor per data field (quantizers/fields.hpp):
//                                 arrays 1-D in the field's dtype (U8, I8, F16, BF16, F32),
//                                 left out when empty; single numbers 0-d F32, always written
//   __metadata__ "lowbit.version"      "1"
//                "lowbit.tensor.NAME"  {"scheme":"SPEC","shape":[rows,cols],"dims":[d0,d1,…]}
// `dims` is the tensor's shape before it was viewed as rows × cols (any rank; its product is
// rows · cols). Everything else in the file (tensors kept in float, the writer's own metadata)
// is ordinary safetensors. The structure of a tensor (granularity, layout, codebook, options)
// is its scheme's, so a file holds only data: the loader rebuilds the quantizer from SPEC and
// checks every field against it before anything is used.
//
// Loading takes untrusted bytes: an unknown version or scheme, a missing, extra or mistyped
// field, an array whose length does not fit the shape, and a malformed record are lowbit::error
// naming the tensor and the field (tests/fuzz/fuzz_quantized.cpp runs the loader under
// libFuzzer).
#pragma once
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../spec.hpp"
#include "safetensors.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The file format version this header writes and reads.
inline constexpr std::string_view quantized_format_version = "1";

/// A quantized tensor's record in a file's metadata.
struct quantized_tensor_info {
    std::string name;
    std::string scheme;             ///< the scheme that made it (name or spec string)
    shape2d shape;                  ///< rows × cols as quantized
    std::vector<std::size_t> dims;  ///< the shape before it was viewed as rows × cols
};

namespace detail {

inline constexpr std::string_view quantized_key_prefix = "lowbit.tensor.";

inline safetensors_dtype field_dtype(field_type t) noexcept {
    switch (t) {
        case field_type::u8: return safetensors_dtype::u8;
        case field_type::i8: return safetensors_dtype::i8;
        case field_type::f16: return safetensors_dtype::f16;
        case field_type::bf16: return safetensors_dtype::bf16;
        case field_type::f32: break;
    }
    return safetensors_dtype::f32;
}

/// Bytes of elements of `size` bytes in the other byte order (files are little-endian).
inline std::vector<std::uint8_t> swap_elements(std::span<const std::uint8_t> b, std::size_t size) {
    std::vector<std::uint8_t> out(b.begin(), b.end());
    for (std::size_t i = 0; i + size <= out.size(); i += size)
        for (std::size_t k = 0; k < size / 2; ++k) std::swap(out[i + k], out[i + size - 1 - k]);
    return out;
}

/// Throws e again with `context` in front of its argument ("w: t.scales: …").
[[noreturn]] inline void rethrow_within(const std::string& context, const error& e,
                                        std::string_view lead = {}) {
    std::string_view w = e.what();
    if (w.starts_with("lowbit: ")) w.remove_prefix(8);
    throw error(context, std::string(lead) + std::string(w));
}

inline std::string quantized_field_name(std::string_view tensor, std::string_view field) {
    return std::string(tensor) + ":" + std::string(field);
}

/// The product of dims, or an error naming `what` when it overflows size_t.
inline std::size_t dims_product(const std::vector<std::size_t>& dims, const std::string& what) {
    std::size_t n = 1;
    for (std::size_t d : dims) {
        if (d != 0 && n > SIZE_MAX / d) throw error(what, "dims overflow size_t");
        n *= d;
    }
    return n;
}

/// Parses one "lowbit.tensor.NAME" record; errors name the key.
inline quantized_tensor_info parse_quantized_record(std::string name, const std::string& json) {
    const std::string key = std::string(quantized_key_prefix) + name;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(json);
    } catch (const nlohmann::json::exception& e) {
        throw error(key, std::string("is not JSON: ") + e.what());
    }
    if (!j.is_object()) throw error(key, "must be a JSON object");
    for (const auto& [k, v] : j.items())
        if (k != "scheme" && k != "shape" && k != "dims")
            throw error(key,
                        "has an unknown field '" + k.substr(0, 64) +
                            "' (version 1 records hold scheme, shape, dims)");
    quantized_tensor_info info;
    info.name = std::move(name);
    const auto s = j.find("scheme");
    if (s == j.end() || !s->is_string() || s->get_ref<const std::string&>().empty())
        throw error(key + ".scheme", "must be a non-empty string");
    info.scheme = s->get<std::string>();
    auto sizes = [&](const char* field, std::size_t max_rank) {
        const auto it = j.find(field);
        if (it == j.end() || !it->is_array() || it->size() > max_rank)
            throw error(key + "." + field,
                        "must be an array of at most " + std::to_string(max_rank) + " sizes");
        std::vector<std::size_t> out;
        for (const auto& d : *it) {
            if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0))
                throw error(key + "." + field, "must hold non-negative integers");
            const auto v = d.get<std::uint64_t>();
            if (v > SIZE_MAX) throw error(key + "." + field, "holds a size beyond size_t");
            out.push_back(static_cast<std::size_t>(v));
        }
        return out;
    };
    const auto shape = sizes("shape", 2);
    if (shape.size() != 2) throw error(key + ".shape", "must be [rows, cols]");
    info.shape = {shape[0], shape[1]};
    info.dims = j.contains("dims") ? sizes("dims", 32) : shape;
    if (shape[0] != 0 && shape[1] > SIZE_MAX / shape[0])
        throw error(key + ".shape", "rows * cols overflows size_t");
    if (dims_product(info.dims, key + ".dims") != shape[0] * shape[1])
        throw error(key + ".dims", "must have rows * cols elements");
    return info;
}

}  // namespace detail

/// The quantized tensors a file's metadata records, sorted by name; empty for a file with none.
/// Throws lowbit::error naming the key for an unknown "lowbit.version" or a malformed record
/// (the fields themselves are checked by load_quantized).
[[nodiscard]] inline std::vector<quantized_tensor_info> quantized_tensors(
    const safetensors_view& f) {
    std::vector<quantized_tensor_info> out;
    const auto& m = f.metadata();
    for (auto it = m.lower_bound(detail::quantized_key_prefix);
         it != m.end() && it->first.starts_with(detail::quantized_key_prefix); ++it)
        out.push_back(detail::parse_quantized_record(
            it->first.substr(detail::quantized_key_prefix.size()), it->second));
    if (out.empty()) return out;
    const auto v = m.find("lowbit.version");
    if (v == m.end())
        throw error(f.file_name(), "records quantized tensors but has no lowbit.version");
    if (v->second != quantized_format_version)
        throw error("lowbit.version",
                    "'" + v->second.substr(0, 32) +
                        "' is not a version this lowbit reads (it reads " +
                        std::string(quantized_format_version) + ")");
    return out;
}

/// The quantized tensor `info` of file `f`, ready to dequantize: an instance of its scheme holding
/// the tensor (scheme_instance::dequantize, codes, shape). Every field is checked first: present,
/// of the scheme's dtype and rank, a whole number of elements that fits the shape; no other
/// "NAME:…" tensor may exist. Errors name the field ("NAME:scales") or the record.
[[nodiscard]] inline std::unique_ptr<scheme_instance> load_quantized(
    const safetensors_view& f, const quantized_tensor_info& info) {
    const std::string key = std::string(detail::quantized_key_prefix) + info.name;
    std::unique_ptr<scheme_instance> q;
    try {
        q = resolve_scheme(info.scheme).make();
    } catch (const error& e) { detail::rethrow_within(key + ".scheme", e); }
    std::vector<std::string> used;
    std::vector<std::vector<std::uint8_t>> swapped;
    try {
        q->assign(info.shape, [&](const scheme_instance::field_view& want) {
            const std::string n = detail::quantized_field_name(info.name, want.name);
            if (!f.contains(n)) {
                // Empty arrays are not written; validate() names an array the shape needs.
                if (!want.scalar) return std::span<const std::uint8_t>();
                throw error(n, "is missing from " + f.file_name());
            }
            const safetensors_tensor& t = f.info(n);
            const safetensors_dtype d = detail::field_dtype(want.type);
            if (t.dtype != d)
                throw error(n,
                            "is " + std::string(t.dtype_name()) + "; scheme '" + info.scheme +
                                "' stores " + std::string(safetensors_dtype_name(d)));
            if (t.shape.size() != (want.scalar ? 0u : 1u))
                throw error(n, want.scalar ? "must be a 0-d scalar" : "must be 1-D");
            used.push_back(n);
            const auto b = f.bytes(t);
            if (std::endian::native == std::endian::little || field_type_size(want.type) == 1)
                return b;
            swapped.push_back(detail::swap_elements(b, field_type_size(want.type)));
            return std::span<const std::uint8_t>(swapped.back());
        });
    } catch (const error& e) { detail::rethrow_within(info.name, e); }
    const std::string prefix = info.name + ":";
    for (const auto& t : f.tensors())
        if (t.name.starts_with(prefix) && std::find(used.begin(), used.end(), t.name) == used.end())
            throw error(t.name, "is not a field of scheme '" + info.scheme + "'");
    return q;
}

/// load_quantized for the tensor recorded under `name`; lowbit::error when there is none.
[[nodiscard]] inline std::unique_ptr<scheme_instance> load_quantized(const safetensors_view& f,
                                                                     std::string_view name) {
    for (auto& info : quantized_tensors(f))
        if (info.name == name) return load_quantized(f, info);
    throw error(f.file_name(),
                "records no quantized tensor named '" + std::string(name.substr(0, 64)) + "'");
}

/// Collects quantized tensors (and float ones) and writes them as one safetensors file. It
/// refers to the instances' data and the float spans until written; they must not change in
/// between.
class quantized_writer {
public:
    /// The last result of `q`, made by `scheme` (a registered name or spec string), under
    /// `name`; `dims` is its shape before the rows × cols view (empty: [rows, cols]). The fields
    /// are checked against the scheme here (the loader's check), so a file never records a
    /// tensor it cannot load: lowbit::error naming the tensor when `scheme` does not describe it.
    void add(std::string name, std::string scheme, const scheme_instance& q,
             std::vector<std::size_t> dims = {}) {
        detail::require(!name.empty(), "name", "must not be empty");
        detail::require(!metadata_.count(std::string(detail::quantized_key_prefix) + name), name,
                        "was added already");
        const shape2d shape = q.shape();
        if (dims.empty()) dims = {shape.rows, shape.cols};
        detail::require(dims.size() <= 32, name + ": dims", "must have at most 32 dimensions");
        detail::require(detail::dims_product(dims, name + ": dims") == shape.size(),
                        name + ": dims", "must have rows * cols elements");
        const auto fields = q.fields();
        try {
            auto check = resolve_scheme(scheme).make();
            std::size_t used = 0;
            check->assign(shape, [&](const scheme_instance::field_view& want) {
                for (const auto& fv : fields)
                    if (fv.name == want.name && fv.type == want.type && fv.scalar == want.scalar) {
                        ++used;
                        return fv.bytes;
                    }
                throw error(std::string(want.name), "is not a field of this tensor");
            });
            detail::require(used == fields.size(), "fields",
                            "this tensor has fields the scheme does not");
        } catch (const error& e) {
            detail::rethrow_within(name, e, "scheme '" + scheme + "' does not describe it: ");
        }
        nlohmann::json record = {
            {"scheme", scheme}, {"shape", {shape.rows, shape.cols}}, {"dims", dims}};
        metadata_[std::string(detail::quantized_key_prefix) + name] = record.dump();
        for (const auto& fv : fields) {
            if (!fv.scalar && fv.count == 0) continue;  // an empty array is the loader's default
            std::span<const std::uint8_t> bytes = fv.bytes;
            const std::size_t size = field_type_size(fv.type);
            if (std::endian::native != std::endian::little && size > 1) {
                owned_.push_back(std::make_unique<std::vector<std::uint8_t>>(
                    detail::swap_elements(bytes, size)));
                bytes = *owned_.back();
            }
            std::vector<std::size_t> shp;
            if (!fv.scalar) shp = {fv.count};
            sources_.push_back(
                safetensors_source::from_bytes(detail::quantized_field_name(name, fv.name),
                                               detail::field_dtype(fv.type), shp, bytes));
        }
    }
    /// A float tensor stored as `as` (F32, F16 or BF16), e.g. one kept unquantized.
    void add_float(std::string name, std::vector<std::size_t> shape, std::span<const float> values,
                   safetensors_dtype as = safetensors_dtype::f32) {
        sources_.push_back(
            safetensors_source::from_floats(std::move(name), std::move(shape), values, as));
    }
    /// Bytes stored as they are under a safetensors dtype string ("I64", "U8", …), e.g. a tensor
    /// of token ids passed through.
    void add_bytes(std::string name, std::string_view dtype, std::vector<std::size_t> shape,
                   std::span<const std::uint8_t> bytes) {
        sources_.push_back(
            safetensors_source::from_bytes(std::move(name), dtype, std::move(shape), bytes));
    }
    /// The writer's own metadata; keys starting with "lowbit." are the format's.
    void set_metadata(std::string key, std::string value) {
        detail::require(!key.starts_with("lowbit."), "key",
                        "'lowbit.' keys are reserved for the quantized-tensor records");
        metadata_[std::move(key)] = std::move(value);
    }
    [[nodiscard]] std::vector<std::uint8_t> serialize() const {
        return serialize_safetensors(sources_, with_version());
    }
    /// Writes the file (atomically: a failure leaves `path` as it was).
    void write(const std::filesystem::path& path) const {
        write_safetensors(path, sources_, with_version());
    }

private:
    [[nodiscard]] safetensors_metadata with_version() const {
        safetensors_metadata m = metadata_;
        m["lowbit.version"] = std::string(quantized_format_version);
        return m;
    }

    std::vector<safetensors_source> sources_;
    safetensors_metadata metadata_;
    std::vector<std::unique_ptr<std::vector<std::uint8_t>>> owned_;
};

LOWBIT_NAMESPACE_END
