// CPU side of the BBQ / QuEST CUDA tests: the scalar reference rotated_quantizer (it needs xsimd,
// so the host compiler builds it) behind a plain interface the .cu files can call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lowbit/core/granularity.hpp"
#include "lowbit/core/packing.hpp"
#include "lowbit/formats/bbq.hpp"

namespace lowbit_cuda_test {

/// The CPU bbq_options fields (sigma_from: 0 per tensor, 1 per row, 2 given).
struct bbq_ref_options {
    std::size_t hadamard = 128;
    int sigma_from = 0;
    float sigma = 0.0f, gamma = 0.0f;
    lowbit::bbq_zero zero = lowbit::bbq_zero::integer;
    bool to_input = true;
    lowbit::nibble_order order = lowbit::nibble_order::low_first;
    bool saturate =
        false;  ///< on_non_finite: false non_finite::error (the default), true non_finite::saturate
};

/// A BBQ / QuEST tensor's arrays.
struct bbq_ref_tensor {
    std::vector<std::uint8_t> packed;
    std::vector<float> sigmas, scales;
};

/// rotated_quantizer<Bits, Quest, Codes> with backend::scalar.
template <int Bits, bool Quest, lowbit::bbq_codes Codes>
bbq_ref_tensor cpu_bbq_quantize(const bbq_ref_options& o, std::span<const float> x,
                                lowbit::shape2d shape);

/// Dequantizes a tensor given as arrays with the CPU scalar reference.
template <int Bits, bool Quest, lowbit::bbq_codes Codes>
std::vector<float> cpu_bbq_dequantize(const bbq_ref_options& o, lowbit::shape2d shape,
                                      const bbq_ref_tensor& t);

}  // namespace lowbit_cuda_test
