// lowbit — the CUDA benchmarks' shared harness: deterministic data, median timing with CUDA
// events after warm-up, rotation of input sets past the L2 cache, and the device-to-device copy
// that every figure is divided by (bench_int_cuda, bench_fp_cuda, bench_bbq_cuda).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <lowbit/core/rounding.hpp>
#include <lowbit/cuda/buffer.cuh>
#include <lowbit/cuda/error.cuh>
#include <lowbit/cuda/types.cuh>  // from_float; error.cuh: check, check_launch

namespace lowbit_bench_cuda {
namespace lc = lowbit::cuda;

/// Deterministic pseudo-Gaussian data (sum of 4 uniforms, σ ≈ 1), never all zeros.
template <class T>
__global__ void fill_kernel(T* x, std::size_t n, std::uint32_t seed) {
    for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
        float s = 0;
        for (int k = 0; k < 4; ++k) s += lowbit::random_uniform(seed + k, i);
        x[i] = lc::detail::from_float<T>((s - 2.0f) * 1.7320508f);
    }
}
template <class T>
inline void fill(lc::device_buffer<T>& b, std::uint32_t seed) {
    fill_kernel<<<1024, 256>>>(b.data(), b.size(), seed);
    lc::check_launch("fill");
}

struct row {
    std::string op, scheme, types;
    std::size_t side;
    double ms, gbs, ratio;
};

inline int reps = 30;
inline const char* only = nullptr;  // --only: run the schemes whose name contains this
inline std::size_t l2_bytes = 50u << 20;

/// Median time in ms of f(k) (k = rotation index), after warm-up.
inline double time_median(const std::function<void(int)>& f, int sets) {
    cudaEvent_t a, b;
    lc::check(cudaEventCreate(&a), "cudaEventCreate");
    lc::check(cudaEventCreate(&b), "cudaEventCreate");
    for (int k = 0; k < 3; ++k) f(k % sets);
    lc::check(cudaDeviceSynchronize(), "warm-up");
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        lc::check(cudaEventRecord(a), "cudaEventRecord");
        f(r % sets);
        lc::check(cudaEventRecord(b), "cudaEventRecord");
        lc::check(cudaEventSynchronize(b), "cudaEventSynchronize");
        float ms = 0;
        lc::check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
        t.push_back(ms);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

/// Enough rotation sets that `bytes_per_set` × sets ≥ 3 × L2 (at least 2).
inline int sets_for(std::size_t bytes_per_set) {
    return int(std::max<std::size_t>(2, (3 * l2_bytes + bytes_per_set - 1) / bytes_per_set));
}

inline std::vector<row> rows;

inline double copy_gbs(std::size_t side) {
    const std::size_t bytes = side * side * 4;
    const int sets = sets_for(2 * bytes);
    std::vector<lc::device_buffer<unsigned char>> src, dst;
    for (int k = 0; k < sets; ++k) { src.emplace_back(bytes); dst.emplace_back(bytes); }
    const double ms = time_median([&](int k) { lc::check(cudaMemcpyAsync(dst[k].data(), src[k].data(), bytes, cudaMemcpyDeviceToDevice), "copy"); }, sets);
    const double gbs = 2.0 * bytes / ms / 1e6;
    rows.push_back({"copy", "cudaMemcpy D2D", "f32", side, ms, gbs, 1.0});
    return gbs;
}

}  // namespace lowbit_bench_cuda
