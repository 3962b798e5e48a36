// lowbit — the data fields of a quantized tensor, by name: what a file must hold to restore it.
//
// A quantized tensor is its quantizer's structure (granularity, nibble order, affine form,
// codebook, BBQ options, Hadamard size: all fixed by the scheme that made it) plus data that
// depends on the input: packed codes, scales and the other per-slot arrays, and a few per-tensor
// numbers. visit_fields names the data in a fixed order:
//
//   codes         packed codes (u8), every tensor
//   scales        per slot: float, fp16, bf16 or E8M0 / E4M3 codes (u8), every tensor
//   offsets       int_tensor, affine::offset           (empty otherwise)
//   zero_points   int_tensor, affine::zero_point (u8)  (empty otherwise)
//   sigmas        bbq_tensor: σ per slot
//   qscales       codebook_tensor, double-quantised: q_g per group (i8; bnb_dynamic: the index
//   byte) dq_steps      codebook_tensor, double-quantised: d per block of 256 groups dq_mean
//   codebook_tensor, double-quantised: m (one float) global_scale  nvfp4_tensor (one float)
//
// A transformed tensor (Hadamard + inner quantizer) has its inner tensor's fields. Fields are
// arrays (std::vector) or single floats; an array's length is data too, checked against the
// shape by the tensor's validate().
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "../core/config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The element type of a field as stored (little-endian in files).
enum class field_type : std::uint8_t { u8, i8, f16, bf16, f32 };

/// The field_type of a C++ element type; false for a type that is not one.
template <class T>
inline constexpr bool is_field_element = std::is_same_v<T, std::uint8_t> ||
    std::is_same_v<T, std::int8_t> || std::is_same_v<T, Eigen::half> ||
    std::is_same_v<T, Eigen::bfloat16> || std::is_same_v<T, float>;

template <class T>
constexpr field_type field_type_of() noexcept {
    static_assert(is_field_element<T>,
                  "a quantized tensor field must hold uint8_t, int8_t, Eigen::half, "
                  "Eigen::bfloat16 or float");
    if constexpr (std::is_same_v<T, std::uint8_t>) return field_type::u8;
    if constexpr (std::is_same_v<T, std::int8_t>) return field_type::i8;
    if constexpr (std::is_same_v<T, Eigen::half>) return field_type::f16;
    if constexpr (std::is_same_v<T, Eigen::bfloat16>) return field_type::bf16;
    return field_type::f32;
}

/// Bytes per element of a field type.
constexpr std::size_t field_type_size(field_type t) noexcept {
    return t == field_type::u8 || t == field_type::i8 ? 1 : t == field_type::f32 ? 4 : 2;
}

/// Calls v(name, field) for each data field of t in the order of the file comment; `field` is
/// a std::vector of a field element type or a float (const when t is). Fields a tensor type does
/// not have are not visited.
template <class Tensor, class Visitor>
void visit_fields(Tensor& t, Visitor&& v) {
    if constexpr (requires { t.inner; }) {
        visit_fields(t.inner, v);
    } else {
        v(std::string_view("codes"), t.packed);
        v(std::string_view("scales"), t.scales);
        if constexpr (requires { t.offsets; }) v(std::string_view("offsets"), t.offsets);
        if constexpr (requires { t.zero_points; })
            v(std::string_view("zero_points"), t.zero_points);
        if constexpr (requires { t.sigmas; }) v(std::string_view("sigmas"), t.sigmas);
        if constexpr (requires { t.qscales; }) {
            v(std::string_view("qscales"), t.qscales);
            v(std::string_view("dq_steps"), t.dq_steps);
            v(std::string_view("dq_mean"), t.dq_mean);
        }
        if constexpr (requires { t.global_scale; })
            v(std::string_view("global_scale"), t.global_scale);
    }
}

LOWBIT_NAMESPACE_END
