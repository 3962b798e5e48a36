// lowbit CUDA benchmark: INT quantize and dequantize at 4096² and 16384² against a device-to-device
// copy measured in the same run.
//
// Method: CUDA events around each launch sequence, warm-up runs first, the median of --reps timed
// runs; input and output buffers are rotated over enough sets that their total exceeds 3 × L2, so
// every run reads from DRAM. GB/s counts bytes read + written once each (input, packed codes,
// scales, offsets / zero points, output). The copy baseline moves the fp32 tensor's bytes
// (cudaMemcpyAsync device to device, counted as read + written).
//
// Usage: bench_int_cuda [--reps N] [--sizes 4096,16384] [--csv file] [--only scheme-substring]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "lowbit/cuda/int.cuh"

#include "harness.cuh"

namespace {

namespace lc = lowbit::cuda;
using lowbit::granularity;
using lowbit::int_format;
using lowbit::int_range;
using lowbit::scale_rule;
using lowbit::shape2d;
using lowbit::uint_format;

using namespace lowbit_bench_cuda;

/// Quantize and dequantize one scheme at one size; with_scales: also the precomputed-scale path.
template <class Format, class S, class In, class Out>
void bench_scheme(const char* name, typename lc::int_quantizer<Format, S>::options o,
                  std::size_t side, double copy, bool with_scales) {
    if (only && !std::strstr(name, only)) return;
    const shape2d shape{side, side};
    const std::size_t n = shape.size();
    lc::int_quantizer<Format, S> q(o);
    const std::size_t slots = o.gran.scale_count(shape),
                      packed = lowbit::packed_size(n, Format::bits);
    const std::size_t side_bytes = slots * sizeof(S) * (o.form == lowbit::affine::offset ? 2 : 1) +
        (o.form == lowbit::affine::zero_point ? slots : 0);
    const std::size_t qbytes = n * sizeof(In) + packed + side_bytes,
                      dbytes = packed + side_bytes + n * sizeof(Out);
    const int sets = sets_for(std::max(qbytes, dbytes));
    std::vector<lc::device_buffer<In>> x(sets);
    std::vector<lc::device_buffer<Out>> y(sets);
    std::vector<lc::device_int_tensor<S>> t(sets);
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
    if (with_scales) {
        ms = time_median([&](int k) { q.quantize_with_scales(x[k].data(), shape, t[k].view()); },
                         sets);
        rows.push_back({"quantize(scale given)", name, types + "->packed", side, ms,
                        qbytes / ms / 1e6, qbytes / ms / 1e6 / copy});
    }
    ms = time_median([&](int k) { q.dequantize(t[k].view(), y[k].data()); }, sets);
    rows.push_back({"dequantize", name, "packed->" + otypes, side, ms, dbytes / ms / 1e6,
                    dbytes / ms / 1e6 / copy});
    lc::check(cudaDeviceSynchronize(), "bench");
}

}  // namespace

int main(int argc, char** argv) {
    const cli args = parse_cli(argc, argv);
    using half = __half;
    using bf16 = __nv_bfloat16;
    using I8 = int_format<8>;
    using I4F = int_format<4, int_range::full>;
    using I3F = int_format<3, int_range::full>;
    using I2F = int_format<2, int_range::full>;
    using U4 = uint_format<4>;
    using I4 = int_format<4>;
    const auto g32 = granularity::group(32);
    try {
        for (std::size_t side : args.sides) {
            const double copy = copy_gbs(side);
            bench_scheme<I8, float, float, float>("int8 tensor", {}, side, copy, true);
            bench_scheme<I8, float, bf16, bf16>("int8 tensor", {}, side, copy, true);
            bench_scheme<I8, float, half, half>("int8 tensor", {}, side, copy, true);
            bench_scheme<I4F, half, float, float>("int4_g32", {.gran = g32}, side, copy, true);
            bench_scheme<I4F, half, bf16, bf16>("int4_g32", {.gran = g32}, side, copy, true);
            bench_scheme<I4F, half, half, half>("int4_g32", {.gran = g32}, side, copy, false);
            bench_scheme<U4, half, float, float>(
                "uint4_g32", {.gran = g32, .rule = scale_rule::minmax()}, side, copy, true);
            bench_scheme<U4, half, bf16, bf16>(
                "uint4_g32", {.gran = g32, .rule = scale_rule::minmax()}, side, copy, false);
            bench_scheme<I4, float, float, float>("int4_ch", {.gran = granularity::channel(0)},
                                                  side, copy, true);
            bench_scheme<I4, float, bf16, bf16>("int4_ch", {.gran = granularity::channel(0)}, side,
                                                copy, false);
            bench_scheme<I3F, half, float, float>("int3_g32", {.gran = g32}, side, copy, false);
            bench_scheme<I3F, half, bf16, bf16>("int3_g32", {.gran = g32}, side, copy, false);
            bench_scheme<I2F, half, float, float>("int2_g32", {.gran = g32}, side, copy, false);
            bench_scheme<I2F, half, bf16, bf16>("int2_g32", {.gran = g32}, side, copy, false);
            bench_scheme<I8, bf16, bf16, bf16>("int8_g128", {.gran = granularity::group(128)}, side,
                                               copy, false);
            bench_scheme<I4F, half, float, float>(
                "int4_g32 ggml", {.gran = g32, .order = lowbit::nibble_order::ggml_split}, side,
                copy, false);
        }
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    report(args.csv);
    return 0;
}
