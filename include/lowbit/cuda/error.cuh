// lowbit — CUDA error checking: every runtime call's status becomes a lowbit::error.
//
// The argument named by the error is the call that failed ("cudaMalloc", "int quantize launch"),
// and the message is the CUDA runtime's own text (cudaGetErrorName: cudaGetErrorString).
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "../core/checked.hpp"
#include "../core/error.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// Throws lowbit::error naming `what` when `status` is not cudaSuccess.
inline void check(cudaError_t status, const char* what) {
    if (status == cudaSuccess) return;
    throw error(what, std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status));
}

/// Throws lowbit::error naming "shape" when rows · cols does not fit std::size_t (the CPU's
/// detail::require_shape): every quantize and dequantize entry checks it before sizing a buffer.
inline void require_shape(std::size_t rows, std::size_t cols) {
    if (lowbit::detail::mul_overflows(rows, cols)) [[unlikely]]
        throw error("shape",
                    "rows * cols = " + std::to_string(rows) + " * " + std::to_string(cols) +
                        " overflows std::size_t");
}

/// Checks the launch that just happened on this thread (configuration errors, not execution).
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

}  // namespace cuda
LOWBIT_NAMESPACE_END
