// lowbit CUDA benchmark: BBQ / QuEST quantize (128-point Hadamard fused) and dequantize (inverse
// transform fused) at 4096² and 16384² against a device-to-device copy measured in the same run.
//
// Method: CUDA events around each launch sequence, warm-up runs first, the median of --reps timed
// runs; input and output buffers are rotated over enough sets that their total exceeds 3 × L2, so
// every run reads from DRAM. GB/s counts bytes read + written once each (input, packed codes,
// σ and step per slot, output). The copy baseline moves the fp32 tensor's bytes
// (cudaMemcpyAsync device to device, counted as read + written).
//
// Usage: bench_bbq_cuda [--reps N] [--sizes 4096,16384] [--csv file] [--only scheme-substring]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "lowbit/cuda/bbq.cuh"
#include "lowbit/core/rounding.hpp"

#include "harness.cuh"

namespace {

namespace lc = lowbit::cuda;
using lowbit::shape2d;

using namespace lowbit_bench_cuda;

/// Quantize (σ per tensor, and σ given) and dequantize of one scheme at one size.
template <class Q, class In, class Out>
void bench_scheme(const char* name, typename Q::options o, std::size_t side, double copy) {
    if (only && !std::strstr(name, only)) return;
    const shape2d shape{side, side};
    const std::size_t n = shape.size();
    Q q(o);
    auto og = o;
    og.sigma_from = lc::bbq_sigma::given;
    og.sigma = 1.0f;
    Q qg(og);
    og.fold = false;
    Q qu(og);
    const std::size_t packed = lowbit::packed_size(n, Q::code_bits), side_bytes = 8;
    const std::size_t qbytes = n * sizeof(In) + packed + side_bytes,
                      dbytes = packed + 4 + n * sizeof(Out);
    const int sets = sets_for(std::max(qbytes, dbytes));
    std::vector<lc::device_buffer<In>> x(sets);
    std::vector<lc::device_buffer<Out>> y(sets);
    std::vector<lc::device_bbq_tensor> t(sets);
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
    double ms = time_median([&](int k) { q.quantize_into(x[k].data(), shape, t[k].view()); }, sets);
    rows.push_back({"quantize(sigma tensor)", name, types + "->packed", side, ms, qbytes / ms / 1e6,
                    qbytes / ms / 1e6 / copy});
    // σ given, named by the encode kernel each quantizer takes: folded (lane pairs, thresholds
    // moved back to the butterflies' outputs), mult (lane pairs multiplying by 1/√128 and 1/σ),
    // lanes16, blocks.
    auto path = [&](const Q& g) {
        switch (g.encode_path(x[0].data(), shape, t[0].packed.data())) {
            case lc::bbq_encode_path::pairs_folded: return "folded";
            case lc::bbq_encode_path::pairs: return "mult";
            case lc::bbq_encode_path::lanes16: return "lanes16";
            default: return "blocks";
        }
    };
    for (Q* g : {&qg, &qu}) {
        ms = time_median([&](int k) { g->quantize_into(x[k].data(), shape, t[k].view()); }, sets);
        rows.push_back({std::string("quantize(given ") + path(*g) + ")", name, types + "->packed",
                        side, ms, qbytes / ms / 1e6, qbytes / ms / 1e6 / copy});
    }
    ms = time_median([&](int k) { q.dequantize(t[k].view(), y[k].data()); }, sets);
    rows.push_back({"dequantize", name, "packed->" + otypes, side, ms, dbytes / ms / 1e6,
                    dbytes / ms / 1e6 / copy});
    lc::check(cudaDeviceSynchronize(), "bench");
}

}  // namespace

int main(int argc, char** argv) {
    const cli args = parse_cli(argc, argv);
    using bf16 = __nv_bfloat16;
    using lowbit::bbq_zero;
    try {
        for (std::size_t side : args.sides) {
            const double copy = copy_gbs(side);
            bench_scheme<lc::bbq_quantizer<4>, bf16, bf16>("bbq4", {}, side, copy);
            bench_scheme<lc::bbq_quantizer<4>, float, float>("bbq4", {}, side, copy);
            bench_scheme<lc::bbq_quantizer<3>, bf16, bf16>("bbq3", {}, side, copy);
            bench_scheme<lc::bbq_quantizer<2>, bf16, bf16>("bbq2", {.zero = bbq_zero::half}, side,
                                                           copy);
            bench_scheme<lc::bbq_quantizer<3, lowbit::bbq_codes::e2m1>, bf16, bf16>("bbq3_fp4", {},
                                                                                    side, copy);
            bench_scheme<lc::quest_quantizer<4>, bf16, bf16>("quest4", {}, side, copy);
        }
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    report(args.csv);
    return 0;
}
