// CPU side of the CUDA tests: the scalar reference int_quantizer, compiled by the host compiler
// (it needs Eigen and xsimd), behind a plain interface the .cu files can call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/core/granularity.hpp"
#include "lowbit/core/packing.hpp"
#include "lowbit/core/rounding.hpp"
#include "lowbit/formats/int.hpp"
#include "lowbit/scale/rules.hpp"

namespace lowbit_cuda_test {

/// The CPU int_options fields, without the Format parameter.
struct ref_options {
    lowbit::granularity gran;
    lowbit::scale_rule rule;
    lowbit::rounding round;
    lowbit::affine form;
    lowbit::nibble_order order;
};

/// A quantized tensor as raw bytes (scales and offsets in their storage type's bytes).
struct ref_tensor {
    std::vector<std::uint8_t> packed, scales, offsets, zero_points;
};

/// Scale storage kinds: 0 float, 1 half (Eigen::half / __half), 2 bfloat16.
template <class Format, int ScaleKind>
ref_tensor cpu_quantize(const ref_options& o, std::span<const float> x, lowbit::shape2d shape);

/// Dequantizes a tensor given as bytes with the CPU scalar reference.
template <class Format, int ScaleKind>
std::vector<float> cpu_dequantize(const ref_options& o, lowbit::shape2d shape, const ref_tensor& t);

}  // namespace lowbit_cuda_test
