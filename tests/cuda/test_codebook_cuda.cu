// The CUDA codebook quantizers against the CPU scalar reference (codebook_quantizer<Bits>,
// backend::scalar), bit for bit: packed level indices, group absmax scales, the double-quantised
// scales (q_g codes, per-256-group steps, the mean) and dequantized values (f32, bf16, f16), in
// both directions (the GPU's tensor dequantized by the CPU, the CPU's by the GPU).
// Schemes: nf4_g64, nf3_g64, nf2_g64, nf4_g64_dq (and NF3/NF2 double-quantised), NF4 with groups
// of 32 and 7 and high_first nibbles, a fitted 4-bit codebook, one with repeated levels (cells
// holding several equal thresholds) and one too crowded for a cell table (the threshold scan);
// every cell-table case is also run with the scan. Sizes 1, 31, 4097 and 2^20 + 3 (1-D and 2-D,
// rows that end in short groups), data Gaussian, adversarial (NaN, ±Inf, ±0, subnormals, huge),
// exactly on thresholds (and one ulp either side) and whole groups of zeros, −0, NaN,
// subnormals and ±Inf; inputs f32, bf16 and f16. Every output buffer is poisoned before each
// run (two patterns, two runs), so an unwritten byte fails. Each case asserts the kernels it
// takes (quantize_path, encoder, decode_path), and every one is taken somewhere. Inputs at an
// odd element offset run every sequence with element loads.
//
// Usage: test_codebook_cuda [--quick]     (--quick: no 2^20 + 3 sizes; for compute-sanitizer)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "codebook_reference.hpp"
#include "harness.cuh"
#include "lowbit/cuda/codebook.cuh"
#include "../test_util.hpp"

namespace lowbit_cuda_test {
namespace {

using lowbit::nibble_order;
using lowbit::shape2d;
using lowbit_test::adversarial;
using lowbit_test::gaussian;
namespace lc = lowbit::cuda;

bool quick = false;
constexpr std::size_t big = (1u << 20) + 3;  // = 1141 · 919

struct dataset {
    std::string name;
    std::vector<float> x;
};

/// Values exactly on the codebook's thresholds, one ulp either side, on its levels, ±0, with ±1
/// at every 7th element, all times 2^k (k = −2 … 2, changing every 64 elements): a group holding
/// a ±2^k has inverse scale 2^−k, so x · inv lands exactly on a threshold.
template <int Bits>
std::vector<float> on_thresholds(std::size_t n, const std::vector<float>& levels) {
    const auto cb = lowbit::codebook<Bits>::from_levels(levels);
    std::vector<float> pool;
    for (float t : cb.thresholds) {
        pool.push_back(t);
        pool.push_back(std::nextafter(t, -2.0f));
        if (t < 1.0f) pool.push_back(std::nextafter(t, 2.0f));
    }
    for (float l : cb.levels) pool.push_back(l);
    pool.push_back(0.0f);
    pool.push_back(-0.0f);
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float s = std::ldexp(1.0f, int((i / 64) % 5) - 2);
        v[i] = (i % 7 == 0 ? (i % 2 ? -1.0f : 1.0f) : pool[(i * 13 + i / 7) % pool.size()]) * s;
    }
    return v;
}
/// Gaussian data with whole 32-blocks of zeros, −0, NaN, subnormals, ±Inf and FLT_MAX.
std::vector<float> blocks(std::size_t n, std::uint32_t seed) {
    auto v = gaussian(n, seed);
    for (std::size_t i = 0; i < n; ++i) {
        switch ((i / 32) % 7) {
            case 0: v[i] = 0.0f; break;
            case 1: v[i] = -0.0f; break;
            case 2: v[i] = std::numeric_limits<float>::quiet_NaN(); break;
            case 3: v[i] = std::numeric_limits<float>::denorm_min() * float(i % 7); break;
            case 4:
                v[i] = i % 2 ? std::numeric_limits<float>::infinity()
                             : -std::numeric_limits<float>::infinity();
                break;
            case 5:
                if (i % 5 == 0) v[i] = std::numeric_limits<float>::max();
                break;
            default: break;
        }
    }
    return v;
}

template <int Bits>
std::vector<dataset> datasets(std::size_t n, const std::vector<float>& levels) {
    std::vector<dataset> d = {{"gaussian", gaussian(n, 11 + std::uint32_t(n))},
                              {"adversarial", adversarial(n, 5 + std::uint32_t(n), 0.125f)}};
    d.push_back({"thresholds", on_thresholds<Bits>(n, levels)});
    if (n < big) d.push_back({"blocks", blocks(n, 3)});
    return d;
}

std::vector<shape2d> shapes() {
    std::vector<shape2d> s = {{1, 1},    {1, 31},  {31, 1},  {1, 4097},
                              {17, 241}, {64, 96}, {3, 512}, {5, 128}};
    if (!quick) {
        s.push_back({1, big});
        s.push_back({1141, 919});
        s.push_back({1024, 1024});
    }
    return s;
}

/// Rounds host floats to In and back (the CPU sees exactly the values the GPU reads).
template <class In>
std::vector<float> as_input(const std::vector<float>& x) {
    std::vector<float> r(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) r[i] = to_float_host(from_float_host<In>(x[i]));
    return r;
}

template <class T>
std::vector<T> download(const T* d, std::size_t n) {
    std::vector<T> h(n);
    if (n) lc::check(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
}
template <class T>
void upload_to(T* d, const std::vector<T>& h) {
    if (!h.empty())
        lc::check(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice),
                  "cudaMemcpy");
}

/// Dequantizes t on the GPU into Out (poisoned twice) and compares with the CPU's floats rounded to
/// Out.
template <int Bits, class Out>
void check_dequantize(const lc::codebook_quantizer<Bits>& q, lc::codebook_tensor_view v,
                      const std::vector<float>& want_f, const std::string& what) {
    const std::size_t n = want_f.size();
    lc::device_buffer<Out> dy(n ? n : 1);
    std::vector<Out> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = from_float_host<Out>(want_f[i]);
    // The wide f32 kernel wherever no 8-element unit straddles two groups; 8-element units
    // otherwise.
    const std::size_t G = q.opts().group_size;
    const bool wide = std::is_same_v<Out, float> && G % 8 == 0 && v.shape.cols % 8 == 0 && n > 0;
    const auto path = q.template decode_path<Out>(v.shape);
    expect(path == (wide ? lc::codebook_decode_path::wide : lc::codebook_decode_path::units),
           what + ": decode path");
    note_path(path == lc::codebook_decode_path::wide ? "codebook decode wide"
                                                     : "codebook decode units");
    for (int pattern : {0xA5, 0x5A}) {
        poison(dy.data(), dy.bytes(), pattern);
        q.dequantize(v, dy.data());
        lc::check(cudaDeviceSynchronize(), "dequantize");
        const auto got = download_bytes(dy.data(), n * sizeof(Out));
        expect_same_values<Out>(got.data(), want.data(), n,
                                what + " dequantize " + type_name<Out>());
    }
}

std::string shape_name(shape2d s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }

/// One case: quantize on both sides (the GPU twice, outputs poisoned with two patterns) and
/// compare every array; dequantize the GPU's tensor on the CPU and the CPU's on the GPU.
/// unaligned: the input starts one element past a 16-byte boundary (the kernels' element loads).
template <int Bits, class In>
void run_case(const codebook_setup& s, bool table, shape2d shape, const std::vector<float>& raw,
              const std::string& what, bool unaligned = false) {
    ++counts().cases;
    const std::size_t n = shape.size();
    const auto x = as_input<In>(raw);
    const auto cpu = cpu_codebook_quantize<Bits>(s, x, shape);
    const auto cpu_y = cpu_codebook_dequantize<Bits>(s, shape, cpu);
    lc::codebook_quantizer<Bits> q(lowbit::codebook<Bits>::from_levels(s.levels),
                                   {.group_size = s.group,
                                    .double_quant = s.double_quant,
                                    .order = s.order,
                                    .cell_table = table});
    const std::size_t groups = q.group_count(shape), steps = (groups + 255) / 256;
    // The kernels this case must take: the lane layout when a group is 8 · U · 2^k elements
    // (k ≤ 5, U = 2 units a thread for 16-bit inputs, else 1) and divides the rows.
    {
        const std::size_t U = sizeof(In) == 2 ? 2 : 1, G = s.group, W = G / (8 * U);
        const bool lanes = G % (8 * U) == 0 &&
            (W == 1 || W == 2 || W == 4 || W == 8 || W == 16 || W == 32) && shape.cols % G == 0;
        using P = lc::codebook_quantize_path;
        const P want =
            s.double_quant ? (lanes ? P::dq_lanes : P::dq_slots) : (lanes ? P::fused : P::slots);
        const P path = q.template quantize_path<In>(shape);
        static const char* names[] = {"fused", "slots", "dq_lanes", "dq_slots"};
        expect(path == want,
               what + ": path " + names[int(path)] + ", expected " + names[int(want)]);
        note_path(std::string("codebook ") + names[int(path)]);
        const bool cells = table && q.table_cells() > 0;
        expect(
            q.encoder() == (cells ? lc::codebook_encoder::cell_table : lc::codebook_encoder::scan),
            what + ": encoder");
        note_path(cells ? "codebook encoder cell_table" : "codebook encoder scan");
    }
    expect(cpu.packed.size() == lowbit::packed_size(n, Bits), what + ": CPU packed size");
    expect(s.double_quant ? cpu.qscales.size() == groups && cpu.dq_steps.size() == steps
                          : cpu.scales.size() == groups,
           what + ": CPU scale array sizes");
    std::vector<In> xh(n + 1);
    for (std::size_t i = 0; i < n; ++i) xh[i + (unaligned ? 1 : 0)] = from_float_host<In>(raw[i]);
    lc::device_buffer<In> dbuf;
    upload(dbuf, xh);
    const In* dx = dbuf.data() + (unaligned ? 1 : 0);
    lc::device_codebook_tensor t;
    q.quantize(dx, shape, t);  // sizes t
    codebook_ref gpu;
    for (int pattern : {0xA5, 0x5A}) {
        poison(t.packed.data(), t.packed.bytes(), pattern);
        poison(t.scales.data(), t.scales.bytes(), pattern);
        poison(t.qscales.data(), t.qscales.bytes(), pattern);
        poison(t.dq_steps.data(), t.dq_steps.bytes(), pattern);
        poison(t.dq_mean.data(), t.dq_mean.bytes(), pattern);
        q.quantize(dx, shape, t);
        lc::check(cudaDeviceSynchronize(), "quantize");
        gpu.packed = download(t.packed.data(), cpu.packed.size());
        expect_same(gpu.packed.data(), cpu.packed.data(), gpu.packed.size(), 1, what + " packed");
        if (s.double_quant) {
            gpu.qscales = download(t.qscales.data(), groups);
            gpu.dq_steps = download(t.dq_steps.data(), steps);
            gpu.dq_mean = download(t.dq_mean.data(), 1)[0];
            expect_same(gpu.qscales.data(), cpu.qscales.data(), groups, 1, what + " q_g");
            expect_same(gpu.dq_steps.data(), cpu.dq_steps.data(), steps * 4, 4, what + " dq steps");
            expect_same(&gpu.dq_mean, &cpu.dq_mean, 4, 4, what + " dq mean");
        } else {
            gpu.scales = download(t.scales.data(), groups);
            expect_same(gpu.scales.data(), cpu.scales.data(), groups * 4, 4, what + " scales");
        }
    }
    // GPU → CPU: the CPU dequantizes the GPU's tensor; the GPU's own f32 dequantize must agree.
    check_dequantize<Bits, float>(q, t.view(), cpu_codebook_dequantize<Bits>(s, shape, gpu),
                                  what + " gpu tensor");
    // CPU → GPU: the CPU's arrays uploaded and dequantized on the GPU.
    upload_to(t.packed.data(), cpu.packed);
    if (s.double_quant) {
        upload_to(t.qscales.data(), cpu.qscales);
        upload_to(t.dq_steps.data(), cpu.dq_steps);
        upload_to(t.dq_mean.data(), std::vector<float>{cpu.dq_mean});
    } else {
        upload_to(t.scales.data(), cpu.scales);
    }
    check_dequantize<Bits, float>(q, t.view(), cpu_y, what + " cpu tensor");
    check_dequantize<Bits, __nv_bfloat16>(q, t.view(), cpu_y, what + " cpu tensor");
    check_dequantize<Bits, __half>(q, t.view(), cpu_y, what + " cpu tensor");
}

/// Every shape and dataset for one setup; `both` also runs the threshold scan when a table exists.
template <int Bits, class In = float>
void cases(const char* name, const codebook_setup& s, bool both = false) {
    lc::codebook_quantizer<Bits> probe(lowbit::codebook<Bits>::from_levels(s.levels),
                                       {.group_size = s.group});
    for (const auto shape : shapes())
        for (auto& d : datasets<Bits>(shape.size(), s.levels))
            for (bool table : {true, false}) {
                if (!table && !(both && probe.table_cells())) continue;
                const std::string what = std::string(name) + " g" + std::to_string(s.group) +
                    (s.double_quant ? " dq" : "") +
                    (s.order == nibble_order::high_first ? " high_first" : "") +
                    (table && probe.table_cells() ? " table" + std::to_string(probe.table_cells())
                                                  : " scan") +
                    " in " + type_name<In>() + " " + shape_name(shape) + " " + d.name;
                run_case<Bits, In>(s, table, shape, d.x, what);
            }
}

template <class F>
void expect_error(F&& f, const std::string& argument, const std::string& what) {
    bool threw = false;
    try {
        f();
    } catch (const lowbit::error& e) { threw = e.argument() == argument; }
    expect(threw, what + " throws lowbit::error naming " + argument);
}

void misuse() {
    expect_error([] { lc::codebook_quantizer<4> q({.group_size = 0}); }, "options.group_size",
                 "group size 0");
    expect_error([] { lc::codebook_quantizer<4> q({.order = nibble_order::ggml_split}); },
                 "options.order", "ggml_split order");
    expect_error([] { lc::codebook_quantizer<3> q({.order = nibble_order::high_first}); }, "order",
                 "high_first with 3-bit codes");
    expect_error(
        [] {
            lc::codebook_quantizer<4> q;
            lc::device_codebook_tensor t;
            q.quantize(static_cast<const float*>(nullptr), shape2d{1, 4}, t);
        },
        "x", "a null input");
    expect_error(
        [] {
            lc::codebook_quantizer<4> q;
            lc::codebook_tensor_view v;
            v.shape = {1, 4};
            q.dequantize(v, static_cast<float*>(nullptr));
        },
        "y", "a null output");
    expect_error(
        [] {
            lc::codebook_quantizer<4> q({.double_quant = true});
            lc::device_buffer<float> x(4);
            lc::device_codebook_tensor t;
            q.quantize(x.data(), shape2d{1, 4}, t);
            auto v = t.view();
            v.qscales = nullptr;
            q.dequantize(v, x.data());
        },
        "t.qscales", "a double-quantised view without q_g");
}

void run_all() {
    misuse();
    const auto nf4 = nf_levels<4>(), nf3 = nf_levels<3>(), nf2 = nf_levels<2>();
    // A fitted codebook (Gaussian sample / its absmax), one with repeated levels (equal thresholds
    // share a cell) and one whose thresholds crowd closer than any table's cells (scan only).
    auto sample = gaussian(1 << 14, 99);
    float amax = 0;
    for (float v : sample) amax = std::max(amax, std::fabs(v));
    for (float& v : sample) v /= amax;
    const auto fitted = fitted_levels<4>(sample);
    const std::vector<float> repeated = {-1.0f, -0.5f, -0.5f, -0.5f, -0.2f, 0.0f, 0.0f, 0.1f,
                                         0.2f,  0.3f,  0.3f,  0.5f,  0.7f,  0.9f, 1.0f, 1.0f};
    const std::vector<float> crowded = {-1.0f,   -0.6f, -0.3f, -0.1f, 0.0f, 0.1f, 0.1001f, 0.1002f,
                                        0.1003f, 0.2f,  0.3f,  0.4f,  0.5f, 0.6f, 0.8f,    1.0f};
    {
        lc::codebook_quantizer<4> a;
        lc::codebook_quantizer<3> b;
        lc::codebook_quantizer<2> c;
        lc::codebook_quantizer<4> r(lowbit::codebook<4>::from_levels(repeated), {});
        lc::codebook_quantizer<4> z(lowbit::codebook<4>::from_levels(crowded), {});
        std::printf("cell tables: nf4 %d, nf3 %d, nf2 %d, repeated %d, crowded %d cells\n",
                    a.table_cells(), b.table_cells(), c.table_cells(), r.table_cells(),
                    z.table_cells());
        expect(a.table_cells() > 0 && b.table_cells() > 0 && c.table_cells() > 0 &&
                   r.table_cells() > 0,
               "NF4/NF3/NF2 and the repeated-level codebook have cell tables");
        expect(z.table_cells() == 0, "the crowded codebook has no cell table (threshold scan)");
    }
    using bf16 = __nv_bfloat16;
    const auto hf = nibble_order::high_first;
    cases<4>("nf4", {nf4, 64}, true);
    cases<4, bf16>("nf4", {nf4, 64});
    cases<4, __half>("nf4", {nf4, 64});
    cases<4>("nf4", {nf4, 64, false, hf});
    cases<4>("nf4", {nf4, 32});
    cases<4>("nf4", {nf4, 7}, true);
    cases<3>("nf3", {nf3, 64}, true);
    cases<3, bf16>("nf3", {nf3, 64});
    cases<3>("nf3", {nf3, 7});
    cases<2>("nf2", {nf2, 64}, true);
    cases<2, bf16>("nf2", {nf2, 64});
    cases<4>("nf4", {nf4, 64, true}, true);
    cases<4, bf16>("nf4", {nf4, 64, true});
    cases<4, __half>("nf4", {nf4, 64, true});
    cases<4>("nf4", {nf4, 7, true});
    cases<4>("nf4", {nf4, 64, true, hf});
    cases<3>("nf3", {nf3, 64, true});
    cases<2>("nf2", {nf2, 64, true});
    cases<4>("fitted4", {fitted, 64}, true);
    cases<4>("repeated4", {repeated, 64}, true);
    cases<4>("crowded4", {crowded, 64});
    cases<4>("crowded4", {crowded, 64, true});
    // Inputs at an odd element offset: every kernel sequence with element loads.
    for (const shape2d shape : {shape2d{17, 241}, shape2d{64, 96}, shape2d{5, 128}}) {
        const auto x = adversarial(shape.size(), 31, 0.125f);
        for (bool dq : {false, true}) {
            const std::string tail =
                std::string(dq ? " dq" : "") + " unaligned " + shape_name(shape);
            run_case<4, float>({nf4, 64, dq}, true, shape, x, "nf4 g64 f32" + tail, true);
            run_case<4, bf16>({nf4, 64, dq}, true, shape, x, "nf4 g64 bf16" + tail, true);
            run_case<4, float>({nf4, 32, dq}, false, shape, x, "nf4 g32 scan f32" + tail, true);
        }
    }
    expect_paths_taken({"codebook fused", "codebook slots", "codebook dq_lanes",
                        "codebook dq_slots", "codebook encoder cell_table", "codebook encoder scan",
                        "codebook decode wide", "codebook decode units"});
}

}  // namespace
}  // namespace lowbit_cuda_test

int main(int argc, char** argv) {
    using namespace lowbit_cuda_test;
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--quick") quick = true;
    try {
        run_all();
    } catch (const std::exception& e) {
        std::printf("FAIL: exception: %s\n", e.what());
        ++counts().failed;
    }
    std::printf("test_codebook_cuda: %zu cases, %zu checks, %zu failed\n", counts().cases,
                counts().checks, counts().failed);
    return counts().failed ? 1 : 0;
}
