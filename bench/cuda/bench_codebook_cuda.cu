// lowbit CUDA benchmark: codebook schemes (nf4_g64, nf3_g64, nf2_g64, nf4_g64_dq; NF4 also with the
// threshold scan instead of the cell table) quantize and dequantize at 4096² and 16384², f32 and
// bf16, against a device-to-device copy measured in the same run.
//
// Method (bench/cuda/harness.cuh): CUDA events around each launch sequence, 3 warm-up runs, the
// median of --reps timed runs; input and output buffer sets rotated so that their total exceeds
// 3 × L2 and every run reads from DRAM. GB/s counts bytes read + written once each: input, packed
// codes and scales (fp32 per group; or int8 q_g per group, fp32 d per 256 groups and the fp32
// mean) for quantize; packed codes, scales and output for dequantize. The double-quantised
// quantize reads its input twice (see codebook.cuh), which the byte count does not include.
//
// Usage: bench_codebook_cuda [--reps N] [--sizes 4096,16384] [--csv file] [--only scheme-substring]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/cuda/codebook.cuh"

#include "harness.cuh"

namespace {

namespace lc = lowbit::cuda;
using lowbit::shape2d;
using namespace lowbit_bench_cuda;

template <class T>
const char* type_of() {
    return std::is_same_v<T, float> ? "f32" : std::is_same_v<T, __half> ? "f16" : "bf16";
}

/// Quantize and dequantize one scheme at one size.
template <int Bits, class In, class Out>
void bench_scheme(const char* name, lc::codebook_options o, std::size_t side, double copy) {
    if (only && !std::strstr(name, only)) return;
    lc::codebook_quantizer<Bits> q(o);
    const shape2d shape{side, side};
    const std::size_t n = shape.size(), groups = q.group_count(shape),
                      packed = lowbit::packed_size(n, Bits);
    const std::size_t side_bytes =
        o.double_quant ? groups + (groups + 255) / 256 * 4 + 4 : groups * 4;
    const std::size_t qbytes = n * sizeof(In) + packed + side_bytes,
                      dbytes = packed + side_bytes + n * sizeof(Out);
    const int sets = sets_for(std::max(qbytes, dbytes));
    std::vector<lc::device_buffer<In>> x(sets);
    std::vector<lc::device_buffer<Out>> y(sets);
    std::vector<lc::device_codebook_tensor> t(sets);
    for (int k = 0; k < sets; ++k) {
        x[k].resize(n);
        y[k].resize(n);
        fill(x[k], 1234u + 17u * k);
        q.quantize(x[k].data(), shape, t[k]);
    }
    lc::check(cudaDeviceSynchronize(), "setup");
    double ms = time_median([&](int k) { q.quantize(x[k].data(), shape, t[k].view()); }, sets);
    rows.push_back({"quantize", name, std::string(type_of<In>()) + "->packed", side, ms,
                    qbytes / ms / 1e6, qbytes / ms / 1e6 / copy});
    ms = time_median([&](int k) { q.dequantize(t[k].view(), y[k].data()); }, sets);
    rows.push_back({"dequantize", name, std::string("packed->") + type_of<Out>(), side, ms,
                    dbytes / ms / 1e6, dbytes / ms / 1e6 / copy});
    lc::check(cudaDeviceSynchronize(), "bench");
}

}  // namespace

int main(int argc, char** argv) {
    const cli args = parse_cli(argc, argv);
    using bf16 = __nv_bfloat16;
    const lc::codebook_options g64{}, scan{.cell_table = false}, dq{.double_quant = true};
    try {
        for (std::size_t side : args.sides) {
            const double copy = copy_gbs(side);
            bench_scheme<4, float, float>("nf4_g64", g64, side, copy);
            bench_scheme<4, bf16, bf16>("nf4_g64", g64, side, copy);
            bench_scheme<4, float, float>("nf4_g64 scan", scan, side, copy);
            bench_scheme<4, bf16, bf16>("nf4_g64 scan", scan, side, copy);
            bench_scheme<3, float, float>("nf3_g64", g64, side, copy);
            bench_scheme<3, bf16, bf16>("nf3_g64", g64, side, copy);
            bench_scheme<2, float, float>("nf2_g64", g64, side, copy);
            bench_scheme<2, bf16, bf16>("nf2_g64", g64, side, copy);
            bench_scheme<4, float, float>("nf4_g64_dq", dq, side, copy);
            bench_scheme<4, bf16, bf16>("nf4_g64_dq", dq, side, copy);
        }
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    report(args.csv);
    return 0;
}
