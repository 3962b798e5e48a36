// lowbit CUDA benchmark: floating-point family (minifloat per tensor and per group, MX, NVFP4)
// quantize and dequantize at 4096² and 16384² against a device-to-device copy measured in the same
// run.
//
// Method: CUDA events around each launch sequence, warm-up runs first, the median of --reps timed
// runs; input and output buffers are rotated over enough sets that their total exceeds 3 × L2, so
// every run reads from DRAM. GB/s counts bytes read + written once each (input, packed codes,
// scales, NVFP4's tensor scale, output). The copy baseline moves the fp32 tensor's bytes
// (cudaMemcpyAsync device to device, counted as read + written).
//
// Usage: bench_fp_cuda [--reps N] [--sizes 4096,16384] [--csv file] [--only scheme-substring]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/cuda/minifloat.cuh"
#include "lowbit/cuda/mx.cuh"

#include "harness.cuh"

namespace {

namespace lc = lowbit::cuda;
using lowbit::granularity;
using lowbit::shape2d;

using namespace lowbit_bench_cuda;

/// Quantize and dequantize one scheme at one size (Stored: the scale type; global: NVFP4's tensor
/// scale).
template <class In, class Out, class Stored, class Q>
void bench_scheme(const char* name, Q q, int bits, granularity gran, bool global, std::size_t side,
                  double copy) {
    if (only && !std::strstr(name, only)) return;
    const shape2d shape{side, side};
    const std::size_t n = shape.size();
    const std::size_t side_bytes = gran.scale_count(shape) * sizeof(Stored) + (global ? 4 : 0),
                      packed = lowbit::packed_size(n, bits);
    const std::size_t qbytes = n * sizeof(In) + packed + side_bytes,
                      dbytes = packed + side_bytes + n * sizeof(Out);
    const int sets = sets_for(std::max(qbytes, dbytes));
    std::vector<lc::device_buffer<In>> x(sets);
    std::vector<lc::device_buffer<Out>> y(sets);
    std::vector<lc::device_fp_tensor<Stored>> t(sets);
    for (int k = 0; k < sets; ++k) {
        x[k].resize(n);
        y[k].resize(n);
        fill(x[k], 1234u + 17u * k);
        q.quantize(x[k].data(), shape, t[k]);
    }
    lc::check(cudaDeviceSynchronize(), "setup");
    const std::string types = std::is_same_v<In, float> ? "f32"
        : std::is_same_v<In, __half>                    ? "f16"
                                                        : "bf16";
    const std::string otypes = std::is_same_v<Out, float> ? "f32"
        : std::is_same_v<Out, __half>                     ? "f16"
                                                          : "bf16";
    double ms = time_median([&](int k) { q.quantize(x[k].data(), shape, t[k].view()); }, sets);
    rows.push_back({"quantize", name, types + "->packed", side, ms, qbytes / ms / 1e6,
                    qbytes / ms / 1e6 / copy});
    // The inference case: the scale (per-tensor / NVFP4's tensor scale) kept from before, one read
    // of x.
    if constexpr (requires { q.quantize_with_scales(x[0].data(), shape, t[0].view()); }) {
        if (gran.type == granularity::kind::per_tensor) {
            ms = time_median(
                [&](int k) { q.quantize_with_scales(x[k].data(), shape, t[k].view()); }, sets);
            rows.push_back({"quantize(scale given)", name, types + "->packed", side, ms,
                            qbytes / ms / 1e6, qbytes / ms / 1e6 / copy});
        }
    }
    if constexpr (requires { q.quantize_with_global_scale(x[0].data(), shape, t[0].view()); }) {
        ms = time_median(
            [&](int k) { q.quantize_with_global_scale(x[k].data(), shape, t[k].view()); }, sets);
        rows.push_back({"quantize(scale given)", name, types + "->packed", side, ms,
                        qbytes / ms / 1e6, qbytes / ms / 1e6 / copy});
    }
    ms = time_median([&](int k) { q.dequantize(t[k].view(), y[k].data()); }, sets);
    rows.push_back({"dequantize", name, "packed->" + otypes, side, ms, dbytes / ms / 1e6,
                    dbytes / ms / 1e6 / copy});
    lc::check(cudaDeviceSynchronize(), "bench");
}

template <class E>
using mx = lc::mx_quantizer<E>;

}  // namespace

int main(int argc, char** argv) {
    const cli args = parse_cli(argc, argv);
    using bf16 = __nv_bfloat16;
    using u8 = std::uint8_t;
    const auto T = granularity::tensor(), g32 = granularity::group(32),
               g16 = granularity::group(16);
    using mf_e4m3 = lc::minifloat_quantizer<lowbit::e4m3fn>;
    using mf_e5m2 = lc::minifloat_quantizer<lowbit::e5m2>;
    using mf_e2m1 = lc::minifloat_quantizer<lowbit::e2m1>;
    try {
        for (std::size_t side : args.sides) {
            const double copy = copy_gbs(side);
            bench_scheme<float, float, float>("e4m3fn tensor", mf_e4m3(), 8, T, false, side, copy);
            bench_scheme<bf16, bf16, float>("e4m3fn tensor", mf_e4m3(), 8, T, false, side, copy);
            bench_scheme<float, bf16, float>("e4m3fn tensor", mf_e4m3(), 8, T, false, side, copy);
            bench_scheme<float, float, float>("e5m2 tensor", mf_e5m2(), 8, T, false, side, copy);
            bench_scheme<bf16, bf16, float>("e5m2 tensor", mf_e5m2(), 8, T, false, side, copy);
            bench_scheme<float, float, float>("e2m1_g32", mf_e2m1({.gran = g32}), 4, g32, false,
                                              side, copy);
            bench_scheme<float, float, u8>("mxfp8_e4m3", mx<lowbit::e4m3fn>(), 8, g32, false, side,
                                           copy);
            bench_scheme<bf16, bf16, u8>("mxfp8_e4m3", mx<lowbit::e4m3fn>(), 8, g32, false, side,
                                         copy);
            bench_scheme<float, float, u8>("mxfp6_e3m2", mx<lowbit::e3m2>(), 6, g32, false, side,
                                           copy);
            bench_scheme<bf16, bf16, u8>("mxfp6_e3m2", mx<lowbit::e3m2>(), 6, g32, false, side,
                                         copy);
            bench_scheme<float, float, u8>("mxfp4", mx<lowbit::e2m1>(), 4, g32, false, side, copy);
            bench_scheme<bf16, bf16, u8>("mxfp4", mx<lowbit::e2m1>(), 4, g32, false, side, copy);
            bench_scheme<float, float, u8>("mxint8", mx<lowbit::mx_int8>(), 8, g32, false, side,
                                           copy);
            bench_scheme<float, float, u8>("nvfp4", lc::nvfp4_quantizer(), 4, g16, true, side,
                                           copy);
            bench_scheme<bf16, bf16, u8>("nvfp4", lc::nvfp4_quantizer(), 4, g16, true, side, copy);
        }
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    report(args.csv);
    return 0;
}
