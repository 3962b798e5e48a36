// Small harness for the CUDA tests: counted checks with a readable first-mismatch report, host
// conversions, and poisoned device buffers. (doctest is not on the device machine; these tests
// print their own pass/fail counts and exit non-zero on any failure.)
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/cuda/buffer.cuh"

namespace lowbit_cuda_test {

struct tally {
    std::size_t
        checks = 0,
        failed = 0, cases = 0,
        rejected =
            0;  // rejected: cases whose input the GPU refuses by policy (the error is checked)
};
inline tally& counts() {
    static tally t;
    return t;
}

/// How many cases took each kernel path, by name ("bbq4 encode pairs_folded", …): a test
/// asserts the path of every case and, at the end, that each fast path was taken at all.
inline std::map<std::string, std::size_t>& paths_taken() {
    static std::map<std::string, std::size_t> m;
    return m;
}
inline void note_path(const std::string& name) { ++paths_taken()[name]; }

/// Records one check; prints `what` on failure (the first 40 failures only).
inline bool expect(bool ok, const std::string& what) {
    ++counts().checks;
    if (!ok) {
        if (++counts().failed <= 40) std::printf("FAIL: %s\n", what.c_str());
    }
    return ok;
}

/// Compares two byte arrays; on mismatch describes the first differing element of size `elem`.
inline bool expect_same(const void* gpu, const void* cpu, std::size_t bytes, std::size_t elem,
                        const std::string& what) {
    if (std::memcmp(gpu, cpu, bytes) == 0) return expect(true, what);
    const auto* g = static_cast<const std::uint8_t*>(gpu);
    const auto* c = static_cast<const std::uint8_t*>(cpu);
    std::size_t i = 0;
    while (g[i] == c[i]) ++i;
    const std::size_t e = i / elem;
    std::string d = what + ": first difference at element " + std::to_string(e) + " of " +
        std::to_string(bytes / elem) + " (gpu 0x";
    char buf[64];
    for (std::size_t k = elem; k-- > 0;) {
        std::snprintf(buf, sizeof buf, "%02x", g[e * elem + k]);
        d += buf;
    }
    d += ", cpu 0x";
    for (std::size_t k = elem; k-- > 0;) {
        std::snprintf(buf, sizeof buf, "%02x", c[e * elem + k]);
        d += buf;
    }
    if (elem == 4) {
        float gf, cf;
        std::memcpy(&gf, g + e * elem, 4);
        std::memcpy(&cf, c + e * elem, 4);
        std::snprintf(buf, sizeof buf, " = %g vs %g", gf, cf);
        d += buf;
    }
    return expect(false, d + ")");
}

/// Whether the bits of a T are a NaN (float, __half, __nv_bfloat16).
template <class T>
bool is_nan_bits(const std::uint8_t* p) {
    if constexpr (sizeof(T) == 4) {
        std::uint32_t b;
        std::memcpy(&b, p, 4);
        return (b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu);
    } else {
        std::uint16_t b;
        std::memcpy(&b, p, 2);
        if constexpr (std::is_same_v<T, __half>)
            return (b & 0x7c00u) == 0x7c00u && (b & 0x03ffu);
        else
            return (b & 0x7f80u) == 0x7f80u && (b & 0x007fu);
    }
}

/// Dequantized values: equal bits, except that a NaN the arithmetic generated (0 · ∞ under an
/// infinite scale) equals any NaN. IEEE 754 leaves a generated NaN's sign and payload to the
/// platform (x86 SSE gives 0xffc00000, CUDA 0x7fffffff); every other value must match exactly.
template <class T>
bool expect_same_values(const void* gpu, const void* cpu, std::size_t n, const std::string& what) {
    const auto* g = static_cast<const std::uint8_t*>(gpu);
    const auto* c = static_cast<const std::uint8_t*>(cpu);
    for (std::size_t i = 0; i < n; ++i) {
        if (std::memcmp(g + i * sizeof(T), c + i * sizeof(T), sizeof(T)) == 0) continue;
        if (is_nan_bits<T>(g + i * sizeof(T)) && is_nan_bits<T>(c + i * sizeof(T))) continue;
        return expect_same(g + i * sizeof(T), c + i * sizeof(T), sizeof(T), sizeof(T),
                           what + " (element " + std::to_string(i) + ")");
    }
    return expect(true, what);
}

/// Checks that each named path was taken by at least one case, and prints every count.
inline void expect_paths_taken(const std::vector<std::string>& names) {
    for (const auto& [name, count] : paths_taken())
        std::printf("path %s: %zu cases\n", name.c_str(), count);
    for (const auto& name : names)
        expect(paths_taken().count(name) != 0, "path never taken: " + name);
}

template <class T>
T from_float_host(float x) {
    if constexpr (std::is_same_v<T, float>)
        return x;
    else if constexpr (std::is_same_v<T, __half>)
        return __float2half_rn(x);
    else
        return __float2bfloat16_rn(x);
}
template <class T>
float to_float_host(T x) {
    if constexpr (std::is_same_v<T, float>)
        return x;
    else if constexpr (std::is_same_v<T, __half>)
        return __half2float(x);
    else
        return __bfloat162float(x);
}
template <class T>
const char* type_name() {
    if constexpr (std::is_same_v<T, float>)
        return "f32";
    else if constexpr (std::is_same_v<T, __half>)
        return "f16";
    else
        return "bf16";
}

template <class T>
void upload(lowbit::cuda::device_buffer<T>& d, const std::vector<T>& h) {
    d.resize(h.size());
    if (!h.empty())
        lowbit::cuda::check(
            cudaMemcpy(d.data(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice),
            "cudaMemcpy");
}
inline void upload_bytes(void* d, const std::vector<std::uint8_t>& h) {
    if (!h.empty())
        lowbit::cuda::check(cudaMemcpy(d, h.data(), h.size(), cudaMemcpyHostToDevice),
                            "cudaMemcpy");
}
inline std::vector<std::uint8_t> download_bytes(const void* d, std::size_t bytes) {
    std::vector<std::uint8_t> h(bytes);
    if (bytes)
        lowbit::cuda::check(cudaMemcpy(h.data(), d, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
}
inline void poison(void* d, std::size_t bytes, int value) {
    if (bytes) lowbit::cuda::check(cudaMemset(d, value, bytes), "cudaMemset");
}

}  // namespace lowbit_cuda_test
