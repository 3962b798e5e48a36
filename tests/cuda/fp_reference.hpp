// CPU side of the floating-point CUDA tests: the scalar reference minifloat, MX and NVFP4
// quantizers, compiled by the host compiler (they need Eigen and xsimd), behind a plain interface.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/core/granularity.hpp"
#include "lowbit/core/rounding.hpp"
#include "lowbit/formats/bfp.hpp"
#include "lowbit/formats/log.hpp"
#include "lowbit/formats/minifloat.hpp"

namespace lowbit_cuda_test {

/// A quantized tensor as raw bytes: packed codes, scales in their storage type's bytes, and the
/// NVFP4 tensor scale.
struct fp_ref {
    std::vector<std::uint8_t> packed, scales;
    float global = 0;
};

/// minifloat_quantizer<Format, S> with S = float (ScaleKind 0), Eigen::half (1), Eigen::bfloat16
/// (2).
template <class Format, int ScaleKind>
fp_ref cpu_minifloat_quantize(lowbit::granularity g, lowbit::rounding r, std::span<const float> x,
                              lowbit::shape2d shape);
template <class Format, int ScaleKind>
std::vector<float> cpu_minifloat_dequantize(lowbit::granularity g, lowbit::shape2d shape,
                                            const fp_ref& t);

/// minifloat_quantizer<Format, S>::encode with the given scales (bytes of S, one per slot): the
/// reference for cuda::minifloat_quantizer::quantize_with_scales. Returns the packed codes.
template <class Format, int ScaleKind>
std::vector<std::uint8_t> cpu_minifloat_encode_with(lowbit::granularity g, lowbit::rounding r,
                                                    std::span<const float> x, lowbit::shape2d shape,
                                                    const std::vector<std::uint8_t>& scales);

/// mx_quantizer<Elem, 32>.
template <class Elem>
fp_ref cpu_mx_quantize(lowbit::mx_scale_rounding rule, lowbit::rounding r, std::span<const float> x,
                       lowbit::shape2d shape);
template <class Elem>
std::vector<float> cpu_mx_dequantize(lowbit::shape2d shape, const fp_ref& t);

/// nvfp4_quantizer.
fp_ref cpu_nvfp4_quantize(lowbit::rounding r, std::span<const float> x, lowbit::shape2d shape);
std::vector<float> cpu_nvfp4_dequantize(lowbit::shape2d shape, const fp_ref& t);
/// nvfp4_quantizer::encode with the given tensor scale (reference for quantize_with_global_scale).
fp_ref cpu_nvfp4_encode_with(lowbit::rounding r, std::span<const float> x, lowbit::shape2d shape,
                             float global);

/// log_quantizer<B, S> (S as for minifloat).
template <int B, int ScaleKind>
fp_ref cpu_log_quantize(std::size_t group, lowbit::log_rounding r, std::span<const float> x,
                        lowbit::shape2d shape);
template <int B, int ScaleKind>
std::vector<float> cpu_log_dequantize(std::size_t group, lowbit::shape2d shape, const fp_ref& t);

}  // namespace lowbit_cuda_test
