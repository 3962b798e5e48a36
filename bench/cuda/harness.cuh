// lowbit — the CUDA benchmarks' shared harness: deterministic data, median timing with CUDA
// events after warm-up, rotation of input sets past the L2 cache, and the device-to-device copy
// that every figure is divided by (bench_int_cuda, bench_fp_cuda, bench_bbq_cuda).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += std::size_t(gridDim.x) * blockDim.x) {
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
    for (int k = 0; k < sets; ++k) {
        src.emplace_back(bytes);
        dst.emplace_back(bytes);
    }
    const double ms = time_median(
        [&](int k) {
            lc::check(
                cudaMemcpyAsync(dst[k].data(), src[k].data(), bytes, cudaMemcpyDeviceToDevice),
                "copy");
        },
        sets);
    const double gbs = 2.0 * bytes / ms / 1e6;
    rows.push_back({"copy", "cudaMemcpy D2D", "f32", side, ms, gbs, 1.0});
    return gbs;
}

/// The benchmarks' shared command line: [--sizes a,b] [--reps N] [--only NAME] [--csv FILE].
/// Sets reps, only and l2_bytes (from the device) and prints the device line.
struct cli {
    std::vector<std::size_t> sides = {4096, 16384};
    const char* csv = nullptr;
};
inline cli parse_cli(int argc, char** argv) {
    cli c;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--csv") && i + 1 < argc)
            c.csv = argv[++i];
        else if (!std::strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!std::strcmp(argv[i], "--sizes") && i + 1 < argc) {
            c.sides.clear();
            for (char* p = std::strtok(argv[++i], ","); p; p = std::strtok(nullptr, ","))
                c.sides.push_back(std::strtoull(p, nullptr, 10));
        }
    }
    cudaDeviceProp prop{};
    lc::check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    l2_bytes = prop.l2CacheSize;
    std::printf("device: %s, %d SMs, L2 %d MiB; median of %d runs after 3 warm-ups\n", prop.name,
                prop.multiProcessorCount, prop.l2CacheSize >> 20, reps);
    return c;
}

/// Prints every row as a table, and writes them to `csv` when given.
inline void report(const char* csv) {
    std::printf("\n%-22s %-14s %-13s %6s %9s %8s %6s\n", "op", "scheme", "types", "side", "ms",
                "GB/s", "/copy");
    for (const auto& r : rows)
        std::printf("%-22s %-14s %-13s %6zu %9.4f %8.0f %6.2f\n", r.op.c_str(), r.scheme.c_str(),
                    r.types.c_str(), r.side, r.ms, r.gbs, r.ratio);
    if (csv) {
        if (FILE* f = std::fopen(csv, "w")) {
            std::fprintf(f, "op,scheme,types,side,ms,gbs,ratio\n");
            for (const auto& r : rows)
                std::fprintf(f, "%s,%s,%s,%zu,%.5f,%.1f,%.3f\n", r.op.c_str(), r.scheme.c_str(),
                             r.types.c_str(), r.side, r.ms, r.gbs, r.ratio);
            std::fclose(f);
        }
    }
}

}  // namespace lowbit_bench_cuda
