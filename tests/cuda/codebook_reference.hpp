// CPU side of the codebook CUDA tests: the scalar reference codebook_quantizer (quantizers/
// codebook.hpp, which needs xsimd) compiled by the host compiler, behind a plain interface.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/core/granularity.hpp"
#include "lowbit/core/packing.hpp"

namespace lowbit_cuda_test {

/// A quantized codebook tensor as plain arrays (codebook_tensor's fields).
struct codebook_ref {
    std::vector<std::uint8_t> packed;
    std::vector<float> scales;         ///< plain scales
    std::vector<std::int8_t> qscales;  ///< double_quant
    std::vector<float> dq_steps;       ///< double_quant
    float dq_mean = 0;                 ///< double_quant
};

/// What selects a CPU quantizer: its codebook's levels and the options.
struct codebook_setup {
    std::vector<float> levels;  ///< 2^Bits levels
    std::size_t group = 64;
    bool double_quant = false;
    lowbit::nibble_order order = lowbit::nibble_order::low_first;
};

/// normal_float_codebook<Bits>().levels, computed by the host compiler.
template <int Bits>
std::vector<float> nf_levels();
/// fit_codebook<Bits>(sample).levels.
template <int Bits>
std::vector<float> fitted_levels(std::span<const float> sample);

/// codebook_quantizer<Bits>::quantize / dequantize with backend::scalar.
template <int Bits>
codebook_ref cpu_codebook_quantize(const codebook_setup& s, std::span<const float> x,
                                   lowbit::shape2d shape);
template <int Bits>
std::vector<float> cpu_codebook_dequantize(const codebook_setup& s, lowbit::shape2d shape,
                                           const codebook_ref& t);

}  // namespace lowbit_cuda_test
