// The CUDA floating-point family against the CPU scalar reference, bit for bit: packed codes,
// stored scales (float/half/bf16, E8M0, E4M3FN), NVFP4's tensor scale and dequantized values
// (f32, f16, bf16) for cuda::minifloat_quantizer (e4m3fn, e5m2, e4m3fnuz, e5m2fnuz per tensor,
// per row and per group; e3m2, e2m3, e2m1 per group of 32 and others), cuda::mx_quantizer
// (mxfp8 e4m3/e5m2, mxfp6 e3m2/e2m3, mxfp4, mxint8; all four scale rules) and
// cuda::nvfp4_quantizer, cuda::log_quantizer (log4, log3; both roundings), on sizes 1, 31, 4097 and
// 2^20 + 3 (1-D and 2-D) of Gaussian, adversarial (NaN, ±Inf, ±0, subnormals, huge, ties),
// exact-tie and all-zero / all-NaN-block data, inputs f32 and bf16, nearest-even, toward-zero and
// stochastic rounding; each case asserts the kernel sequence it takes (quantize_path) and every
// sequence is taken somewhere; inputs at an odd element offset for each quantizer type (element
// loads). Every output buffer is poisoned before each run (two patterns, two runs), so an unwritten
// byte fails. Also: interop with CUDA's own conversions (cuda_fp8.h, cuda_fp4.h) — on finite inputs
// the codes of __nv_cvt_float_to_fp8(…, __NV_SATFINITE, E4M3 / E5M2) and __nv_cvt_float_to_fp4
// (E2M1, round to nearest) equal ours, and every code decodes to the same value.
//
// Usage: test_fp_cuda [--quick]     (--quick: no 2^20 + 3 sizes; for compute-sanitizer)
#include <cuda_fp4.h>
#include <cuda_fp8.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fp_reference.hpp"
#include "harness.cuh"
#include "lowbit/cuda/log.cuh"
#include "lowbit/cuda/minifloat.cuh"
#include "lowbit/cuda/mx.cuh"
#include "../test_util.hpp"

namespace lowbit_cuda_test {
namespace {

using lowbit::granularity;
using lowbit::mx_scale_rounding;
using lowbit::round_mode;
using lowbit::rounding;
using lowbit::shape2d;
using lowbit_test::adversarial;
using lowbit_test::gaussian;
namespace lc = lowbit::cuda;

bool quick = false;
constexpr std::size_t big = (1u << 20) + 3;  // = 1141 · 919

template <int K>
using dev_scale =
    std::conditional_t<K == 0, float, std::conditional_t<K == 1, __half, __nv_bfloat16>>;

struct dataset {
    std::string name;
    std::vector<float> x;
};

/// Exact ties for block formats: every 32-block holds 6.0 (so E2M1's OCP scale is 1, E3M2's and
/// E2M3's 2^0 or 2^−2 …) and multiples of 1/8, many of them halfway between two codes.
std::vector<float> ties(std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = i % 32 == 0 ? 6.0f : float(int((i * 7) % 64) - 32) * 0.125f;
    return v;
}
/// Gaussian data with whole 32-blocks of zeros, of −0, of NaN, of subnormals, and one of ±Inf.
std::vector<float> blocks(std::size_t n, std::uint32_t seed) {
    auto v = gaussian(n, seed);
    for (std::size_t i = 0; i < n; ++i) {
        switch ((i / 32) % 6) {
            case 0: v[i] = 0.0f; break;
            case 1: v[i] = -0.0f; break;
            case 2: v[i] = std::numeric_limits<float>::quiet_NaN(); break;
            case 3: v[i] = std::numeric_limits<float>::denorm_min() * float(i % 7); break;
            case 4:
                v[i] = i % 2 ? std::numeric_limits<float>::infinity()
                             : -std::numeric_limits<float>::infinity();
                break;
            default: break;
        }
    }
    return v;
}

std::vector<dataset> datasets(std::size_t n, bool large) {
    std::vector<dataset> d = {{"gaussian", gaussian(n, 11 + std::uint32_t(n))},
                              {"adversarial", adversarial(n, 5 + std::uint32_t(n), 0.125f)}};
    if (!large) {
        d.push_back({"ties", ties(n)});
        d.push_back({"blocks", blocks(n, 3)});
        // ±Inf alone: every slot (the whole tensor, per tensor) has s = 0 and inverse 0, so ±Inf
        // encodes as ±0 in minifloat slots (never Inf · 0 = NaN; docs/formats.md "Non-finite
        // inputs").
        std::vector<float> inf(n);
        for (std::size_t i = 0; i < n; ++i)
            inf[i] = i % 3 ? std::numeric_limits<float>::infinity()
                           : -std::numeric_limits<float>::infinity();
        d.push_back({"all-inf", std::move(inf)});
    }
    return d;
}

std::vector<shape2d> shapes() {
    std::vector<shape2d> s = {{1, 1}, {1, 31}, {31, 1}, {1, 4097}, {17, 241}, {64, 96}, {3, 512}};
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

/// Dequantizes on the GPU into Out and compares with the CPU's float result rounded to Out.
template <class Out, class Stored, class Quant>
void check_dequantize(Quant& q, lc::fp_tensor_view<Stored> v, const std::vector<float>& cpu_y,
                      const std::string& what) {
    const std::size_t n = cpu_y.size();
    lc::device_buffer<Out> dy(n ? n : 1);
    std::vector<Out> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = from_float_host<Out>(cpu_y[i]);
    for (int pattern : {0xA5, 0x5A}) {
        poison(dy.data(), dy.bytes(), pattern);
        q.dequantize(v, dy.data());
        lc::check(cudaDeviceSynchronize(), "dequantize");
        const auto got = download_bytes(dy.data(), n * sizeof(Out));
        expect_same_values<Out>(got.data(), want.data(), n,
                                what + " dequantize " + type_name<Out>());
    }
}

const char* path_name(lc::fp_quantize_path p) {
    switch (p) {
        case lc::fp_quantize_path::per_tensor: return "per_tensor";
        case lc::fp_quantize_path::fused_groups: return "fused_groups";
        default: return "slot_scales";
    }
}

/// The kernels a shape must take under `g`, stated from the options: per tensor its own sequence;
/// groups of G = 8 · 2^k ≤ 256 dividing the rows the fused kernel; rows and other groups the
/// slot-scale kernel, then the encode kernel.
lc::fp_quantize_path path_expected(granularity g, shape2d s) {
    if (g.type == granularity::kind::per_tensor) return lc::fp_quantize_path::per_tensor;
    const std::size_t G = g.group_size;
    const bool lanes = G == 8 || G == 16 || G == 32 || G == 64 || G == 128 || G == 256;
    return g.type == granularity::kind::per_group && lanes && s.cols % G == 0
        ? lc::fp_quantize_path::fused_groups
        : lc::fp_quantize_path::slot_scales;
}

/// Asserts the path of a case and counts it under `family`.
template <class Quant>
void expect_path(const Quant& q, shape2d shape, granularity g, const std::string& family,
                 const std::string& what) {
    const auto path = q.quantize_path(shape), want = path_expected(g, shape);
    expect(path == want, what + ": path " + path_name(path) + ", expected " + path_name(want));
    note_path(family + " " + path_name(path));
}

/// One case: quantize on both sides (GPU twice, output poisoned with two patterns), compare
/// packed codes, scales and the tensor scale, then dequantize to f32, bf16 and f16.
/// unaligned: the input starts one element past a 16-byte boundary (the kernels' element loads
/// instead of their 16-byte ones).
template <class In, class Stored, class Quant>
void run_case(Quant& q, shape2d shape, const std::vector<float>& x_in, const fp_ref& cpu,
              const std::vector<float>& cpu_y, int bits, bool global, const std::string& what,
              bool unaligned = false) {
    ++counts().cases;
    const std::size_t n = shape.size();
    std::vector<In> xh(n + 1);
    for (std::size_t i = 0; i < n; ++i) xh[i + (unaligned ? 1 : 0)] = from_float_host<In>(x_in[i]);
    lc::device_buffer<In> dbuf;
    upload(dbuf, xh);
    const In* dx = dbuf.data() + (unaligned ? 1 : 0);
    lc::device_fp_tensor<Stored> t;
    q.quantize(dx, shape, t);  // sizes t
    for (int pattern : {0xA5, 0x5A}) {
        poison(t.packed.data(), t.packed.bytes(), pattern);
        poison(t.scales.data(), t.scales.bytes(), pattern);
        if (global) poison(t.global_scale.data(), t.global_scale.bytes(), pattern);
        q.quantize(dx, shape, t);
        lc::check(cudaDeviceSynchronize(), "quantize");
        const auto packed = download_bytes(t.packed.data(), cpu.packed.size());
        const auto scales = download_bytes(t.scales.data(), cpu.scales.size());
        expect(cpu.packed.size() == lowbit::packed_size(n, bits), what + ": CPU packed size");
        expect_same(packed.data(), cpu.packed.data(), packed.size(), 1, what + " packed");
        expect_same(scales.data(), cpu.scales.data(), scales.size(), sizeof(Stored),
                    what + " scales");
        if (global) {
            const auto g = download_bytes(t.global_scale.data(), 4);
            expect_same(g.data(), &cpu.global, 4, 4, what + " tensor scale");
        }
    }
    // The CPU's tensor dequantized on the GPU (the bytes cross over).
    upload_bytes(t.packed.data(), cpu.packed);
    upload_bytes(t.scales.data(), cpu.scales);
    if (global)
        upload_bytes(
            t.global_scale.data(),
            std::vector<std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&cpu.global),
                                      reinterpret_cast<const std::uint8_t*>(&cpu.global) + 4));
    auto v = t.view();
    v.shape = shape;
    check_dequantize<float>(q, v, cpu_y, what);
    check_dequantize<__nv_bfloat16>(q, v, cpu_y, what);
    check_dequantize<__half>(q, v, cpu_y, what);
}

std::string shape_name(shape2d s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); }
std::string gran_name(granularity g) {
    switch (g.type) {
        case granularity::kind::per_tensor: return "tensor";
        case granularity::kind::per_channel: return "rows";
        default: return "g" + std::to_string(g.group_size);
    }
}
std::string round_name(rounding r) {
    switch (r.mode) {
        case round_mode::nearest_even: return "rne";
        case round_mode::toward_zero: return "rtz";
        case round_mode::stochastic: return "sr";
        case round_mode::nearest_up: return "rnu";
        case round_mode::nearest_zero: return "rnz";
        default: return "other";
    }
}

template <class Format, int K, class In = float>
void minifloat_cases(const char* name, std::vector<granularity> grans, std::vector<rounding> rnds) {
    for (const auto shape : shapes())
        for (auto& d : datasets(shape.size(), shape.size() >= big))
            for (auto g : grans)
                for (auto r : rnds) {
                    const auto x = as_input<In>(d.x);
                    const auto cpu = cpu_minifloat_quantize<Format, K>(g, r, x, shape);
                    const auto y = cpu_minifloat_dequantize<Format, K>(g, shape, cpu);
                    lc::minifloat_quantizer<Format, dev_scale<K>> q({.gran = g, .round = r});
                    const std::string what = std::string(name) + " " + gran_name(g) + " " +
                        round_name(r) + " scale " + type_name<dev_scale<K>>() + " in " +
                        type_name<In>() + " " + shape_name(shape) + " " + d.name;
                    expect_path(q, shape, g, "minifloat", what);
                    run_case<In, dev_scale<K>>(q, shape, x, cpu, y, Format::bits, false, what);
                }
}

template <class Elem, class In = float>
void mx_cases(const char* name, std::vector<mx_scale_rounding> rules, std::vector<rounding> rnds) {
    for (const auto shape : shapes())
        for (auto& d : datasets(shape.size(), shape.size() >= big))
            for (auto rule : rules)
                for (auto r : rnds) {
                    const auto x = as_input<In>(d.x);
                    const auto cpu = cpu_mx_quantize<Elem>(rule, r, x, shape);
                    const auto y = cpu_mx_dequantize<Elem>(shape, cpu);
                    lc::mx_quantizer<Elem> q({.scale_rounding = rule, .round = r});
                    const std::string what = std::string(name) + " rule " +
                        std::to_string(int(rule)) + " " + round_name(r) + " in " + type_name<In>() +
                        " " + shape_name(shape) + " " + d.name;
                    expect_path(q, shape, granularity::group(32), "mx", what);
                    run_case<In, std::uint8_t>(q, shape, x, cpu, y, Elem::bits, false, what);
                }
}

template <class In = float>
void nvfp4_cases(std::vector<rounding> rnds) {
    for (const auto shape : shapes())
        for (auto& d : datasets(shape.size(), shape.size() >= big))
            for (auto r : rnds) {
                const auto x = as_input<In>(d.x);
                const auto cpu = cpu_nvfp4_quantize(r, x, shape);
                const auto y = cpu_nvfp4_dequantize(shape, cpu);
                lc::nvfp4_quantizer q({.round = r});
                const std::string what = std::string("nvfp4 ") + round_name(r) + " in " +
                    type_name<In>() + " " + shape_name(shape) + " " + d.name;
                expect_path(q, shape, granularity::group(16), "nvfp4", what);
                run_case<In, std::uint8_t>(q, shape, x, cpu, y, 4, true, what);
            }
}

/// quantize_with_scales: the scales the caller stores (the CPU's absmax scales, then those scaled
/// by 1/4 so elements saturate, then by 3 so they go subnormal) are used as given; the codes equal
/// the CPU's encode with the same scales, the scales are left as they were, the codes are poisoned
/// first.
template <class Format, int K, class In = float>
void with_scales_cases(const char* name, std::vector<granularity> grans) {
    using S = dev_scale<K>;
    const rounding rne{};
    for (const auto shape : shapes())
        for (auto& d : datasets(shape.size(), shape.size() >= big))
            for (auto g : grans) {
                const auto x = as_input<In>(d.x);
                const auto own = cpu_minifloat_quantize<Format, K>(g, rne, x, shape).scales;
                std::vector<In> xh(x.size());
                for (std::size_t i = 0; i < x.size(); ++i) xh[i] = from_float_host<In>(x[i]);
                lc::device_buffer<In> dx;
                upload(dx, xh);
                lc::minifloat_quantizer<Format, S> q({.gran = g, .round = rne});
                lc::device_fp_tensor<S> t;
                q.quantize(dx.data(), shape, t);  // sizes t
                for (float factor : {1.0f, 0.25f, 3.0f}) {
                    ++counts().cases;
                    auto given = own;  // scales of type S, scaled on the host (S's rounding)
                    for (std::size_t i = 0; i + sizeof(S) <= given.size(); i += sizeof(S)) {
                        S v;
                        std::memcpy(&v, given.data() + i, sizeof(S));
                        v = from_float_host<S>(to_float_host(v) * factor);
                        std::memcpy(given.data() + i, &v, sizeof(S));
                    }
                    const auto want = cpu_minifloat_encode_with<Format, K>(g, rne, x, shape, given);
                    const std::string what = std::string(name) + " quantize_with_scales x" +
                        std::to_string(factor) + " " + gran_name(g) + " in " + type_name<In>() +
                        " " + shape_name(shape) + " " + d.name;
                    upload_bytes(t.scales.data(), given);
                    for (int pattern : {0xA5, 0x5A}) {
                        poison(t.packed.data(), t.packed.bytes(), pattern);
                        q.quantize_with_scales(dx.data(), shape, t.view());
                        lc::check(cudaDeviceSynchronize(), "quantize_with_scales");
                        const auto packed = download_bytes(t.packed.data(), want.size());
                        expect_same(packed.data(), want.data(), want.size(), 1, what + " packed");
                        const auto scales = download_bytes(t.scales.data(), given.size());
                        expect_same(scales.data(), given.data(), given.size(), sizeof(S),
                                    what + " scales untouched");
                    }
                }
            }
}

/// quantize_with_global_scale: NVFP4 with the tensor scale given (the CPU's, then ×4 and ×1/8);
/// block scales and codes equal the CPU's encode with that tensor scale.
template <class In = float>
void nvfp4_global_cases() {
    const rounding rne{};
    for (const auto shape : shapes())
        for (auto& d : datasets(shape.size(), shape.size() >= big)) {
            const auto x = as_input<In>(d.x);
            const float own = cpu_nvfp4_quantize(rne, x, shape).global;
            std::vector<In> xh(x.size());
            for (std::size_t i = 0; i < x.size(); ++i) xh[i] = from_float_host<In>(x[i]);
            lc::device_buffer<In> dx;
            upload(dx, xh);
            lc::nvfp4_quantizer q({.round = rne});
            lc::device_fp_tensor<std::uint8_t> t;
            q.quantize(dx.data(), shape, t);  // sizes t
            for (float factor : {1.0f, 4.0f, 0.125f}) {
                ++counts().cases;
                const float gs = own * factor;
                const auto want = cpu_nvfp4_encode_with(rne, x, shape, gs);
                const std::string what = "nvfp4 quantize_with_global_scale x" +
                    std::to_string(factor) + " in " + type_name<In>() + " " + shape_name(shape) +
                    " " + d.name;
                expect_path(q, shape, granularity::group(16), "nvfp4 given-scale", what);
                for (int pattern : {0xA5, 0x5A}) {
                    poison(t.packed.data(), t.packed.bytes(), pattern);
                    poison(t.scales.data(), t.scales.bytes(), pattern);
                    upload_bytes(
                        t.global_scale.data(),
                        std::vector<std::uint8_t>(reinterpret_cast<const std::uint8_t*>(&gs),
                                                  reinterpret_cast<const std::uint8_t*>(&gs) + 4));
                    q.quantize_with_global_scale(dx.data(), shape, t.view());
                    lc::check(cudaDeviceSynchronize(), "quantize_with_global_scale");
                    const auto packed = download_bytes(t.packed.data(), want.packed.size());
                    const auto scales = download_bytes(t.scales.data(), want.scales.size());
                    const auto g = download_bytes(t.global_scale.data(), 4);
                    expect_same(packed.data(), want.packed.data(), packed.size(), 1,
                                what + " packed");
                    expect_same(scales.data(), want.scales.data(), scales.size(), 1,
                                what + " block scales");
                    expect_same(g.data(), &gs, 4, 4, what + " tensor scale untouched");
                }
            }
        }
}

template <int B, int K>
void log_cases(std::vector<std::size_t> groups, std::vector<lowbit::log_rounding> rnds) {
    for (const auto shape : shapes())
        for (auto& d : datasets(shape.size(), shape.size() >= big))
            for (auto g : groups)
                for (auto r : rnds) {
                    const auto cpu = cpu_log_quantize<B, K>(g, r, d.x, shape);
                    const auto y = cpu_log_dequantize<B, K>(g, shape, cpu);
                    lc::log_quantizer<B, dev_scale<K>> q({.group = g, .round = r});
                    const std::string what = "log" + std::to_string(B) + " g" + std::to_string(g) +
                        " rounding " + std::to_string(int(r)) + " scale " +
                        type_name<dev_scale<K>>() + " " + shape_name(shape) + " " + d.name;
                    expect_path(q, shape, granularity::group(g), "log", what);
                    run_case<float, dev_scale<K>>(q, shape, d.x, cpu, y, B, false, what);
                }
}

/// An input at an odd element offset, every kernel sequence of each quantizer type: the element
/// loads that replace the 16-byte ones.
void unaligned_cases() {
    const rounding rne{};
    for (const shape2d shape : {shape2d{17, 241}, shape2d{64, 96}, shape2d{3, 512}}) {
        const auto x = adversarial(shape.size(), 29, 0.125f);
        const std::string tail = " unaligned in f32 " + shape_name(shape);
        for (auto g : {granularity::tensor(), granularity::channel(0), granularity::group(32),
                       granularity::group(7)}) {
            const auto cpu = cpu_minifloat_quantize<lowbit::e4m3fn, 0>(g, rne, x, shape);
            lc::minifloat_quantizer<lowbit::e4m3fn, float> q({.gran = g, .round = rne});
            run_case<float, float>(q, shape, x, cpu,
                                   cpu_minifloat_dequantize<lowbit::e4m3fn, 0>(g, shape, cpu), 8,
                                   false, "e4m3fn " + gran_name(g) + tail, true);
        }
        {
            const auto cpu =
                cpu_mx_quantize<lowbit::e2m1>(mx_scale_rounding::ocp_floor, rne, x, shape);
            lc::mx_quantizer<lowbit::e2m1> q;
            run_case<float, std::uint8_t>(q, shape, x, cpu,
                                          cpu_mx_dequantize<lowbit::e2m1>(shape, cpu), 4, false,
                                          "mxfp4" + tail, true);
        }
        {
            const auto cpu = cpu_nvfp4_quantize(rne, x, shape);
            lc::nvfp4_quantizer q;
            run_case<float, std::uint8_t>(q, shape, x, cpu, cpu_nvfp4_dequantize(shape, cpu), 4,
                                          true, "nvfp4" + tail, true);
        }
        {
            const auto cpu = cpu_log_quantize<4, 1>(32, lowbit::log_rounding::linear, x, shape);
            lc::log_quantizer<4, __half> q({.group = 32});
            run_case<float, __half>(q, shape, x, cpu, cpu_log_dequantize<4, 1>(32, shape, cpu), 4,
                                    false, "log4 g32" + tail, true);
        }
    }
}

// ---- interop with cuda_fp8.h / cuda_fp4.h ----

__global__ void nv_encode(const float* x, std::size_t n, std::uint8_t* e4, std::uint8_t* e5,
                          std::uint8_t* f4) {
    const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    e4[i] = __nv_cvt_float_to_fp8(x[i], __NV_SATFINITE, __NV_E4M3);
    e5[i] = __nv_cvt_float_to_fp8(x[i], __NV_SATFINITE, __NV_E5M2);
    f4[i] = __nv_cvt_float_to_fp4(x[i], __NV_E2M1, cudaRoundNearest);
}
__global__ void nv_decode(float* e4, float* e5, float* f4) {
    const unsigned c = threadIdx.x;  // 256 threads: every 8-bit code
    e4[c] = __half2float(
        __half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(c), __NV_E4M3)));
    e5[c] = __half2float(
        __half(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(c), __NV_E5M2)));
    if (c < 16)
        f4[c] = __half2float(
            __half(__nv_cvt_fp4_to_halfraw(static_cast<__nv_fp4_storage_t>(c), __NV_E2M1)));
}

template <class F>
std::vector<float> midpoints() {  // exactly halfway between neighbouring finite codes, both signs
    std::vector<float> m;
    for (unsigned c = 0; c + 1 < (1u << (F::bits - 1)); ++c) {
        const float a = F::decode(typename F::code_type(c)),
                    b = F::decode(typename F::code_type(c + 1));
        if (std::isfinite(a) && std::isfinite(b)) {
            m.push_back(0.5f * (a + b));
            m.push_back(-0.5f * (a + b));
        }
    }
    return m;
}

void interop() {
    // Every bf16 pattern with random low bits, code midpoints, subnormals of every format.
    std::vector<float> x;
    std::mt19937 g(7);
    for (std::uint32_t hi = 0; hi < 65536; ++hi) {
        const std::uint32_t u = hi << 16 | (g() & 0xFFFFu);
        float f;
        std::memcpy(&f, &u, 4);
        x.push_back(f);
        const std::uint32_t e = hi << 16;
        std::memcpy(&f, &e, 4);
        x.push_back(f);
    }
    for (auto v : midpoints<lowbit::e4m3fn>()) x.push_back(v);
    for (auto v : midpoints<lowbit::e5m2>()) x.push_back(v);
    for (auto v : midpoints<lowbit::e2m1>()) x.push_back(v);
    const std::size_t n = x.size();
    lc::device_buffer<float> dx;
    upload(dx, x);
    lc::device_buffer<std::uint8_t> e4(n), e5(n), f4(n);
    nv_encode<<<unsigned((n + 255) / 256), 256>>>(dx.data(), n, e4.data(), e5.data(), f4.data());
    lc::check(cudaDeviceSynchronize(), "nv_encode");
    const auto h4 = download_bytes(e4.data(), n), h5 = download_bytes(e5.data(), n),
               hf = download_bytes(f4.data(), n);
    std::size_t finite = 0, bad4 = 0, bad5 = 0, badf = 0, nan_bad = 0, inf_same = 0, inf_total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t o4 = lowbit::e4m3fn::encode(x[i]), o5 = lowbit::e5m2::encode(x[i]),
                           of = lowbit::e2m1::encode(x[i]);
        if (std::isfinite(x[i])) {
            ++finite;
            bad4 += o4 != h4[i];
            bad5 += o5 != h5[i];
            badf += of != hf[i];
            if ((o4 != h4[i] || o5 != h5[i] || of != hf[i]) && bad4 + bad5 + badf <= 5)
                std::printf(
                    "interop mismatch x=%a: e4m3 ours %02x nv %02x, e5m2 ours %02x nv %02x, e2m1 "
                    "ours %x nv %x\n",
                    x[i], o4, h4[i], o5, h5[i], of, hf[i]);
        } else if (std::isnan(x[i])) {  // both keep NaN a NaN (sign and payload may differ)
            nan_bad += !lowbit::e4m3fn::is_nan(h4[i]) || !lowbit::e5m2::is_nan(h5[i]);
        } else {
            ++inf_total;
            inf_same += o4 == h4[i] && o5 == h5[i];
        }
    }
    expect(bad4 == 0,
           "interop: e4m3fn codes equal __nv_cvt_float_to_fp8(E4M3, SATFINITE) on " +
               std::to_string(finite) + " finite inputs (" + std::to_string(bad4) + " differ)");
    expect(bad5 == 0,
           "interop: e5m2 codes equal __nv_cvt_float_to_fp8(E5M2, SATFINITE) (" +
               std::to_string(bad5) + " differ)");
    expect(badf == 0,
           "interop: e2m1 codes equal __nv_cvt_float_to_fp4(E2M1, nearest) (" +
               std::to_string(badf) + " differ)");
    expect(nan_bad == 0, "interop: CUDA's fp8 conversions keep NaN a NaN");
    std::printf(
        "interop: %zu finite inputs compared; ±Inf: %zu of %zu give the same e4m3/e5m2 codes as "
        "ours (saturating)\n",
        finite, inf_same, inf_total);

    lc::device_buffer<float> d4(256), d5(256), df(16);
    nv_decode<<<1, 256>>>(d4.data(), d5.data(), df.data());
    lc::check(cudaDeviceSynchronize(), "nv_decode");
    std::vector<float> v4(256), v5(256), vf(16);
    lc::check(cudaMemcpy(v4.data(), d4.data(), 1024, cudaMemcpyDeviceToHost), "cudaMemcpy");
    lc::check(cudaMemcpy(v5.data(), d5.data(), 1024, cudaMemcpyDeviceToHost), "cudaMemcpy");
    lc::check(cudaMemcpy(vf.data(), df.data(), 64, cudaMemcpyDeviceToHost), "cudaMemcpy");
    std::size_t dbad = 0;
    for (unsigned c = 0; c < 256; ++c) {
        const float a = lowbit::e4m3fn::decode(std::uint8_t(c)),
                    b = lowbit::e5m2::decode(std::uint8_t(c));
        dbad += std::isnan(a) ? !std::isnan(v4[c]) : std::memcmp(&a, &v4[c], 4) != 0;
        dbad += std::isnan(b) ? !std::isnan(v5[c]) : std::memcmp(&b, &v5[c], 4) != 0;
        if (c < 16) {
            const float f = lowbit::e2m1::decode(std::uint8_t(c));
            dbad += std::memcmp(&f, &vf[c], 4) != 0;
        }
    }
    expect(
        dbad == 0,
        "interop: every e4m3fn / e5m2 / e2m1 code decodes as cuda_fp8.h / cuda_fp4.h decode it (" +
            std::to_string(dbad) + " differ)");
}

void misuse() {
    bool threw = false;
    try {
        lc::minifloat_quantizer<lowbit::e4m3fn> q({.gran = granularity::group(0)});
    } catch (const lowbit::error& e) { threw = e.argument() == "options.gran.group_size"; }
    expect(threw, "group size 0 throws lowbit::error naming options.gran.group_size");
    threw = false;
    try {
        lc::minifloat_quantizer<lowbit::e4m3fn> q({.gran = granularity::channel(1)});
    } catch (const lowbit::error& e) { threw = e.argument() == "options.gran.axis"; }
    expect(threw, "per-column scales throw lowbit::error naming options.gran.axis");
    threw = false;
    try {
        lc::mx_quantizer<lowbit::e2m1> q;
        lc::device_fp_tensor<std::uint8_t> t;
        q.quantize(static_cast<const float*>(nullptr), shape2d{1, 4}, t);
    } catch (const lowbit::error& e) { threw = e.argument() == "x"; }
    expect(threw, "a null input throws lowbit::error naming x");
}

void run_all() {
    const rounding rne{}, rtz{round_mode::toward_zero, 0}, sr{round_mode::stochastic, 1234},
        up{round_mode::nearest_up, 0}, nz{round_mode::nearest_zero, 0};
    const auto T = granularity::tensor(), R = granularity::channel(0);
    const auto g32 = granularity::group(32), g16 = granularity::group(16),
               g7 = granularity::group(7), g64 = granularity::group(64);
    interop();
    misuse();
    minifloat_cases<lowbit::e4m3fn, 0>("e4m3fn", {T, R, g32, g7}, {rne, sr});
    minifloat_cases<lowbit::e4m3fn, 0>("e4m3fn", {T, g32}, {rtz});
    minifloat_cases<lowbit::e4m3fn, 1>("e4m3fn", {T, g32}, {rne});
    minifloat_cases<lowbit::e4m3fn, 2>("e4m3fn", {T, g64}, {rne});
    minifloat_cases<lowbit::e4m3fn, 0, __nv_bfloat16>("e4m3fn", {T, g32}, {rne});
    minifloat_cases<lowbit::e5m2, 0>("e5m2", {T, R, g32}, {rne, sr});
    minifloat_cases<lowbit::e4m3fnuz, 0>("e4m3fnuz", {T, g32}, {rne});
    minifloat_cases<lowbit::e5m2fnuz, 0>("e5m2fnuz", {T, g32}, {rne});
    minifloat_cases<lowbit::e3m2, 0>("e3m2", {g32, g16, g7, T}, {rne});
    minifloat_cases<lowbit::e2m3, 0>("e2m3", {g32, g16, R}, {rne});
    minifloat_cases<lowbit::e2m1, 0>("e2m1", {g32, g16, g7, T}, {rne, sr, up, nz});
    minifloat_cases<lowbit::e2m1, 2>("e2m1", {g32}, {rne});
    minifloat_cases<lowbit::e2m1, 0, __nv_bfloat16>("e2m1", {g32}, {rne});
    const std::vector<mx_scale_rounding> rules = {
        mx_scale_rounding::ocp_floor, mx_scale_rounding::nearest_even, mx_scale_rounding::round_up,
        mx_scale_rounding::ml_dtypes, mx_scale_rounding::log2f};
    mx_cases<lowbit::e4m3fn>("mxfp8_e4m3", rules, {rne});
    mx_cases<lowbit::e5m2>("mxfp8_e5m2", rules, {rne});
    mx_cases<lowbit::e3m2>("mxfp6_e3m2", rules, {rne});
    mx_cases<lowbit::e2m3>("mxfp6_e2m3", rules, {rne});
    mx_cases<lowbit::e2m1>("mxfp4", rules, {rne, sr, nz});
    mx_cases<lowbit::e2m1, __nv_bfloat16>("mxfp4", {mx_scale_rounding::ocp_floor}, {rne});
    mx_cases<lowbit::mx_int8>("mxint8", rules, {rne, sr, rtz});
    nvfp4_cases({rne, sr});
    nvfp4_cases<__nv_bfloat16>({rne});
    with_scales_cases<lowbit::e4m3fn, 0>("e4m3fn", {T, R, g32, g7});
    with_scales_cases<lowbit::e4m3fn, 1, __nv_bfloat16>("e4m3fn", {T, g32});
    with_scales_cases<lowbit::e5m2, 0>("e5m2", {T});
    with_scales_cases<lowbit::e2m1, 0>("e2m1", {g16, T});
    nvfp4_global_cases();
    nvfp4_global_cases<__nv_bfloat16>();
    log_cases<4, 1>({32, 16, 7}, {lowbit::log_rounding::linear, lowbit::log_rounding::log});
    log_cases<3, 1>({32, 64}, {lowbit::log_rounding::linear, lowbit::log_rounding::log});
    log_cases<4, 0>({32}, {lowbit::log_rounding::linear});
    unaligned_cases();
    expect_paths_taken({"minifloat per_tensor", "minifloat fused_groups", "minifloat slot_scales",
                        "mx fused_groups", "mx slot_scales", "nvfp4 fused_groups",
                        "nvfp4 slot_scales", "nvfp4 given-scale fused_groups",
                        "nvfp4 given-scale slot_scales", "log fused_groups", "log slot_scales"});
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
    std::printf("test_fp_cuda: %zu cases, %zu checks, %zu failed\n", counts().cases,
                counts().checks, counts().failed);
    return counts().failed ? 1 : 0;
}
