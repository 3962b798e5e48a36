// The CUDA BBQ / QuEST quantizers against the CPU scalar reference (rotated_quantizer with
// backend::scalar), bit for bit: packed codes, σ and decode step per slot, dequantized values
// (f32 and bf16 outputs), for bbq1 … bbq4, bbq4 with index codes, bbq3_fp4, quest2 … quest4, with
// σ per tensor, per row and given (γ given or ζ*·σ), H = 128, 64 and none, both zero points, both
// 4-bit nibble orders, decode with and without the inverse transform, inputs f32 and bf16, on
// sizes 1, 31, 4097 and 2^20 + 3 (1-D) and 2-D shapes with rows of 64, 172, 96, 128, 256 and
// 1024 (the fused lane-pair kernel, and the 16-lanes-per-block one for an input at an odd
// element offset), with the grid capped at 3 blocks (the grid-stride loops of the σ and encode
// kernels, σ's partial last chunk), Gaussian and adversarial data (NaN, ±Inf, ±0,
// subnormals, huge values, whole blocks of zeros / NaN / Inf). σ given runs the folded lane-pair
// kernel (thresholds moved back to the butterflies' outputs), the same inputs with the fold turned
// off, and a σ whose inverse overflows (no fold possible). Each case asserts the encode and decode
// kernels it takes (encode_path, folded, decode_path), and every scheme takes every kernel
// somewhere. Every output buffer is poisoned
// before each run with two different patterns. A NaN the decode generates (0 · ∞ under an
// infinite step) matches any NaN (harness.cuh); every other value matches exactly.
//
// Usage: test_bbq_cuda [--quick]    (--quick: adversarial data only, no 2^20 + 3 sizes)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "bbq_cpu_reference.hpp"
#include "harness.cuh"
#include "lowbit/cuda/bbq.cuh"
#include "../test_util.hpp"

namespace lowbit_cuda_test {
namespace {

using lowbit::bbq_codes;
using lowbit::bbq_zero;
using lowbit::nibble_order;
using lowbit::shape2d;
namespace lc = lowbit::cuda;

bool quick = false;
constexpr std::size_t big = (1u << 20) + 3;

/// lowbit_test::adversarial plus whole Hadamard blocks of +0/−0, NaN, ±Inf and subnormals, and huge
/// values.
std::vector<float> adversarial_blocks(std::size_t n, std::uint32_t seed) {
    auto v = lowbit_test::adversarial(n, seed, 0.25f);
    const float inf = std::numeric_limits<float>::infinity(),
                nan = std::numeric_limits<float>::quiet_NaN();
    auto fill = [&](std::size_t a, std::size_t b, auto f) {
        for (std::size_t i = a; i < b && i < n; ++i) f(i);
    };
    fill(128, 256, [&](std::size_t i) { v[i] = i == 128 ? -0.0f : 0.0f; });
    fill(256, 384, [&](std::size_t i) {
        v[i] = i == 300 ? nan : v[i];
    });  // one NaN spreads through its block
    fill(384, 512, [&](std::size_t i) { v[i] = i == 400 ? inf : i == 401 ? -inf : v[i]; });
    fill(512, 640, [&](std::size_t i) { v[i] = i % 3 ? 1e-45f : -0.0f; });  // subnormals only
    fill(640, 768, [&](std::size_t i) { v[i] = i % 2 ? 3e38f : -3e38f; });  // overflowing sums
    if (n > 8192) fill(4096, 8192, [&](std::size_t i) { v[i] = 0.0f; });
    return v;
}

/// adversarial_blocks with every value the GPU rejects made finite and below 2^100 (NaN → 0.5,
/// ±Inf and |x| >= 2^100 → ±1e28): ±0, subnormals, ties, zero blocks and large finite values that
/// the GPU must quantize bit for bit like the CPU.
std::vector<float> adversarial_finite(std::size_t n, std::uint32_t seed) {
    auto v = adversarial_blocks(n, seed);
    for (auto& x : v) {
        if (std::isnan(x))
            x = 0.5f;
        else if (!(std::fabs(x) < 0x1p100f))
            x = std::copysign(1e28f, x);
    }
    return v;
}

struct variant {
    std::string name;
    bbq_ref_options o;
    unsigned max_blocks =
        0;  // GPU grid cap (exercises the grid-stride loops of the σ and lane-pair kernels)
    bool unaligned = false;  // input at an odd element offset: the fallback kernels' paths
    bool fold = true;  // GPU option: σ given folds the thresholds (false: the multiplying kernel)
    bool small =
        false;  // shapes up to 33 x 256 only (every kernel's tiles and tails, at less CPU time)
};

const char* path_name(lc::bbq_encode_path p) {
    switch (p) {
        case lc::bbq_encode_path::pairs_folded: return "pairs_folded";
        case lc::bbq_encode_path::pairs: return "pairs";
        case lc::bbq_encode_path::lanes16: return "lanes16";
        default: return "per_block";
    }
}

/// Whether the σ-given threshold fold applies, stated from the options: σ given, the option on,
/// at most 5 bits (the count tables), and 1/σ (BBQ) or 1/s (QuEST) a finite positive float.
template <int Bits, bool Quest>
bool fold_expected(const bbq_ref_options& o, bool fold) {
    if (o.sigma_from != 2 || !fold || Bits > 5) return false;
    const double s = Quest ? double(float(lowbit::quest_format<Bits>::step() * double(o.sigma)))
                           : double(o.sigma);
    const float top =
        std::numeric_limits<float>::max() / float(1 << (Bits - 1));  // the decode step's cap
    const float inv = float(1.0 / double(Quest ? std::min(float(s), top) : float(s)));
    return std::isfinite(inv) && inv > 0.0f;
}

/// The encode kernel a case must take: the lane-pair kernel for H = 128, rows a multiple of 128,
/// an aligned input and at most 5 bits (folded with σ given), 16 lanes per block for the other
/// H = 128 cases, one thread per block otherwise.
template <int Bits, bool Quest>
lc::bbq_encode_path encode_expected(const bbq_ref_options& o, shape2d shape, bool unaligned,
                                    bool fold) {
    if (o.hadamard != 128 || shape.cols % 128 != 0) return lc::bbq_encode_path::per_block;
    if (unaligned || Bits > 5) return lc::bbq_encode_path::lanes16;
    return fold_expected<Bits, Quest>(o, fold) ? lc::bbq_encode_path::pairs_folded
                                               : lc::bbq_encode_path::pairs;
}

template <class T>
std::vector<T> to_type(const std::vector<float>& x) {
    std::vector<T> r(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) r[i] = from_float_host<T>(x[i]);
    return r;
}

lc::bbq_options gpu_options(const bbq_ref_options& o, unsigned max_blocks, bool fold) {
    lc::bbq_options g;
    g.max_blocks = max_blocks;
    g.fold = fold;
    g.hadamard = o.hadamard;
    g.sigma_from = o.sigma_from == 0 ? lc::bbq_sigma::per_tensor
        : o.sigma_from == 1          ? lc::bbq_sigma::per_row
                                     : lc::bbq_sigma::given;
    g.sigma = o.sigma;
    g.gamma = o.gamma;
    g.zero = o.zero;
    g.to_input = o.to_input;
    g.order = o.order;
    g.on_non_finite = o.saturate ? lowbit::non_finite::saturate : lowbit::non_finite::error;
    return g;
}

template <int Bits, bool Quest, bbq_codes Codes, class In>
void run_case(const std::string& label, const bbq_ref_options& o, const std::vector<float>& x32,
              shape2d shape, unsigned max_blocks = 0, bool unaligned = false, bool fold = true) {
    using Q = lc::rotated_quantizer<Bits, Quest, Codes>;
    constexpr int cb = Q::code_bits;
    ++counts().cases;
    // The CPU sees exactly what the GPU reads: the input rounded to In.
    const std::vector<In> xin = to_type<In>(x32);
    std::vector<float> xc(x32.size());
    for (std::size_t i = 0; i < xc.size(); ++i) xc[i] = to_float_host(xin[i]);
    // The CPU's verdict (non_finite::error throws naming the first non-finite element), and what
    // the GPU's policy (cuda/bbq.cuh, "Non-finite and huge inputs") makes of this input.
    std::string cpu_err;
    bbq_ref_tensor ref;
    std::vector<float> yref;
    try {
        ref = cpu_bbq_quantize<Bits, Quest, Codes>(o, xc, shape);
        yref = cpu_bbq_dequantize<Bits, Quest, Codes>(o, shape, ref);
    } catch (const lowbit::error& e) { cpu_err = e.what(); }
    constexpr std::size_t none = std::size_t(-1);
    std::size_t first_bad = none, first_guard = none, huge_slot = none;
    for (std::size_t i = 0; i < xc.size(); ++i) {
        const float a = std::fabs(xc[i]);
        if (first_guard == none && !(a < 0x1p100f)) first_guard = i;
        if (first_bad == none && !std::isfinite(xc[i])) first_bad = i;
    }
    if (cpu_err.empty() && o.to_input && o.hadamard != 0 && o.sigma_from != 2)
        for (std::size_t s = 0; s < ref.scales.size() && huge_slot == none; ++s)
            if (std::fabs(ref.scales[s]) * float(1 << (Bits - 1)) >= 0x1p100f) huge_slot = s;
    std::string want_arg, want_text;  // empty: the GPU must accept and equal the CPU
    if (!cpu_err.empty()) {
        expect(!o.saturate && first_bad != none,
               label + ": the CPU throws only for a non-finite input under non_finite::error: " +
                   cpu_err);
        want_arg = "x";
        want_text = cpu_err;  // the very same message
    } else if (first_bad != none) {
        expect(o.saturate, label + ": the CPU accepted a non-finite input under non_finite::error");
        want_arg = "options.on_non_finite";
        want_text = "element " + std::to_string(first_bad) + " is not finite";
    } else if (first_guard != none) {
        want_arg = "x";
        want_text = "element " + std::to_string(first_guard) + " has |x| >= 2^100";
    } else if (huge_slot != none) {
        want_arg = "t.scales";
        want_text = "slot " + std::to_string(huge_slot) + ":";
    }

    lc::device_buffer<In> dx;
    std::vector<In> xpad(xin.size() + 1);
    std::copy(xin.begin(), xin.end(), xpad.begin() + (unaligned ? 1 : 0));
    upload(dx, xpad);
    const In* xdev = dx.data() + (unaligned ? 1 : 0);
    Q q(gpu_options(o, max_blocks, fold));
    lc::device_bbq_tensor t;
    const std::size_t n = shape.size(), pbytes = lowbit::packed_size(n, cb);
    const std::string what = label + " " + type_name<In>() + " " + std::to_string(shape.rows) +
        "x" + std::to_string(shape.cols);
    // The kernels this case must take, asserted before the bits are compared.
    t.packed.reserve(pbytes);
    const std::string scheme = std::string(Quest ? "quest" : "bbq") + std::to_string(Bits);
    const auto path = q.encode_path(xdev, shape, t.packed.data()),
               want = encode_expected<Bits, Quest>(o, shape, unaligned, fold);
    expect(path == want,
           what + ": encode path " + path_name(path) + ", expected " + path_name(want));
    expect(q.folded() == fold_expected<Bits, Quest>(o, fold),
           what + ": folded() " + (q.folded() ? "true" : "false"));
    note_path(scheme + " encode " + path_name(path));
    const bool transform = o.to_input && o.hadamard != 0;
    const bool lanes = shape.cols % 128 == 0 && (o.hadamard == 128 || !transform);
    expect(q.decode_path(shape) ==
               (lanes ? lc::bbq_decode_path::lanes16 : lc::bbq_decode_path::per_block),
           what + ": decode path");
    note_path(scheme + (lanes ? " decode lanes16" : " decode per_block"));
    if (!want_arg.empty()) {  // the GPU refuses this input: the error, its argument and message
        ++counts().rejected;
        note_path(scheme + " rejects " + want_arg);
        try {
            q.quantize(xdev, shape, t);
            expect(false, what + ": no exception (expected " + want_arg + ")");
        } catch (const lowbit::error& e) {
            expect(e.argument() == want_arg,
                   what + ": error argument " + e.argument() + ", expected " + want_arg);
            expect(std::string(e.what()).find(want_text) != std::string::npos,
                   what + ": message " + e.what() + " lacks " + want_text);
        }
        lowbit::cuda::check(cudaDeviceSynchronize(), "quantize (rejected)");
        return;
    }
    for (int pass = 0; pass < 2; ++pass) {
        const int pat = pass ? 0x5a : 0xa5;
        t.packed.reserve(pbytes);
        t.sigmas.reserve(ref.sigmas.size());
        t.scales.reserve(ref.scales.size());
        poison(t.packed.data(), t.packed.bytes(), pat);
        poison(t.sigmas.data(), t.sigmas.bytes(), pat);
        poison(t.scales.data(), t.scales.bytes(), pat);
        q.quantize(xdev, shape, t);
        lowbit::cuda::check(cudaDeviceSynchronize(), "quantize");
        expect(t.slots == ref.scales.size(), what + ": slot count");
        const auto gp = download_bytes(t.packed.data(), pbytes);
        expect_same(gp.data(), ref.packed.data(), pbytes, 1, what + ": packed codes");
        const auto gs = download_bytes(t.sigmas.data(), ref.sigmas.size() * 4);
        expect_same(gs.data(), ref.sigmas.data(), gs.size(), 4, what + ": sigmas");
        const auto gc = download_bytes(t.scales.data(), ref.scales.size() * 4);
        expect_same(gc.data(), ref.scales.data(), gc.size(), 4, what + ": scales");

        lc::device_buffer<float> y(n);
        poison(y.data(), y.bytes(), pat);
        q.dequantize(t.view(), y.data());
        lowbit::cuda::check(cudaDeviceSynchronize(), "dequantize");
        const auto gy = download_bytes(y.data(), n * 4);
        expect_same_values<float>(gy.data(), yref.data(), n, what + ": dequantized f32");
        lc::device_buffer<__nv_bfloat16> yb(n);
        poison(yb.data(), yb.bytes(), pat);
        q.dequantize(t.view(), yb.data());
        lowbit::cuda::check(cudaDeviceSynchronize(), "dequantize bf16");
        const auto gyb = download_bytes(yb.data(), n * 2);
        const auto yrb = to_type<__nv_bfloat16>(yref);
        expect_same_values<__nv_bfloat16>(gyb.data(), yrb.data(), n, what + ": dequantized bf16");
    }
}

template <int Bits, bool Quest, bbq_codes Codes>
void run_scheme(const std::string& name, bbq_zero zero) {
    constexpr int cb = lowbit::bbq_code_bits(Bits, Codes);
    std::vector<variant> vs;
    bbq_ref_options base;
    base.zero = zero;
    vs.push_back({"per-tensor", base});
    {
        auto o = base;
        o.sigma_from = 1;
        vs.push_back({"per-row", o});
    }
    {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 0.8f;
        vs.push_back({"given-sigma", o});
    }
    if (!Quest) {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 1.7f;
        o.gamma = 1.3f;
        vs.push_back({"given-sigma-gamma", o});
    }
    {
        auto o = base;
        o.hadamard = 64;
        vs.push_back({"H64", o});
    }
    {
        auto o = base;
        o.hadamard = 0;
        o.sigma_from = 1;
        vs.push_back({"H0-per-row", o});
    }
    {
        auto o = base;
        o.to_input = false;
        vs.push_back({"no-inverse", o});
    }
    if (cb == 4) {
        auto o = base;
        o.order = nibble_order::high_first;
        vs.push_back({"high-first", o});
    }
    if (!Quest && Codes != bbq_codes::e2m1) {
        auto o = base;
        o.zero = zero == bbq_zero::integer ? bbq_zero::half : bbq_zero::integer;
        vs.push_back({"other-zero", o});
    }
    vs.push_back({"grid-3", base, 3});
    {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 0.8f;
        vs.push_back({"given-sigma-grid-3", o, 3});
    }
    // σ given without the fold (the multiplying lane-pair kernel on the same inputs), and a σ whose
    // inverse overflows (no fold possible: every v is 0 or NaN).
    {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 0.8f;
        vs.push_back({"given-sigma-unfolded", o, 0, false, false, true});
    }
    {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 1e-40f;
        vs.push_back({"given-sigma-subnormal", o, 0, false, true, true});
    }
    {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 0.8f;
        vs.push_back({"given-sigma-unaligned", o, 0, true, true, true});
    }
    vs.push_back({"unaligned", base, 0, true});
    // non_finite::saturate: the GPU equals the CPU on finite inputs and refuses non-finite ones.
    {
        auto o = base;
        o.saturate = true;
        vs.push_back({"saturate", o, 0, false, true, true});
    }
    // Decode steps capped at FLT_MAX / 2^(B-1) (σ given near FLT_MAX), without the inverse
    // transform (whose guarded form the GPU refuses) and with H = 0: compared bit for bit.
    {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 3e38f;
        o.to_input = false;
        vs.push_back({"capped-scale", o, 0, false, false, true});
    }
    {
        auto o = base;
        o.sigma_from = 2;
        o.sigma = 3e38f;
        o.hadamard = 0;
        vs.push_back({"capped-scale-H0", o, 0, false, false, true});
    }
    const shape2d shapes[] = {{1, 1},
                              {1, 31},
                              {1, 4097},
                              {3, 64},
                              {5, 172},
                              {7, 96},
                              {64, 128},
                              {33, 256},
                              {1024, 1024},
                              {1, big},
                              {(1u << 12) + 1, 256}};
    for (const auto& v : vs)
        for (const auto& s : shapes) {
            if (quick && s.size() > (1u << 20)) continue;
            const bool large = s.size() >= (1u << 20);
            // Large shapes: only the default options and per row (the rest are covered at the small
            // sizes).
            if (large && v.name != "per-tensor" && v.name != "per-row" && v.name != "given-sigma" &&
                v.name != "grid-3")
                continue;
            if (v.small && s.size() > 65536) continue;
            const std::vector<float> ga = lowbit_test::gaussian(s.size(), 7, 1.5f),
                                     ad = adversarial_blocks(s.size(), 11),
                                     af = adversarial_finite(s.size(), 13);
            if (!quick) {
                run_case<Bits, Quest, Codes, float>(name + " " + v.name + " gaussian", v.o, ga, s,
                                                    v.max_blocks, v.unaligned, v.fold);
                run_case<Bits, Quest, Codes, __nv_bfloat16>(name + " " + v.name + " gaussian", v.o,
                                                            ga, s, v.max_blocks, v.unaligned,
                                                            v.fold);
            }
            run_case<Bits, Quest, Codes, float>(name + " " + v.name + " adversarial", v.o, ad, s,
                                                v.max_blocks, v.unaligned, v.fold);
            run_case<Bits, Quest, Codes, float>(name + " " + v.name + " adversarial-finite", v.o,
                                                af, s, v.max_blocks, v.unaligned, v.fold);
            if (!large)
                run_case<Bits, Quest, Codes, __nv_bfloat16>(name + " " + v.name + " adversarial",
                                                            v.o, ad, s, v.max_blocks, v.unaligned,
                                                            v.fold);
        }
    std::printf("%s: done (%zu cases, %zu failed checks so far)\n", name.c_str(), counts().cases,
                counts().failed);
    std::fflush(stdout);
}

template <class F>
void throws(F&& f, const std::string& arg, const std::string& what) {
    try {
        f();
        expect(false, what + ": no exception");
    } catch (const lowbit::error& e) {
        expect(std::string(e.what()).find(arg) != std::string::npos,
               what + ": message names " + arg + ": " + e.what());
    }
}

void run_errors() {
    throws([] { lc::bbq_quantizer<4> q({.hadamard = 256}); }, "options.hadamard", "H above 128");
    throws([] { lc::bbq_quantizer<4> q({.hadamard = 96}); }, "options.hadamard",
           "H not a power of two");
    throws([] { lc::bbq_quantizer<4> q({.sigma_from = lc::bbq_sigma::given}); }, "options.sigma",
           "given sigma of 0");
    throws([] { lc::bbq_quantizer<4> q({.gamma = -1.0f}); }, "options.gamma", "negative gamma");
    throws([] { lc::bbq_quantizer<3> q({.order = nibble_order::high_first}); }, "options.order",
           "high_first on 3-bit codes");
    throws([] { lc::bbq_quantizer<3, bbq_codes::e2m1> q({.zero = bbq_zero::half}); },
           "options.zero", "E2M1 with z = -1/2 at 3 bits");
    throws(
        [] {
            lc::bbq_quantizer<4> q;
            lc::device_bbq_tensor t;
            q.quantize(static_cast<const float*>(nullptr), {1, 64}, t);
        },
        "x", "null input");
    throws(
        [] {
            lc::bbq_quantizer<4> q({.sigma_from = lc::bbq_sigma::per_row});
            lc::device_buffer<std::uint8_t> p(32);
            lc::device_buffer<float> s(1), y(64);
            q.dequantize(lc::bbq_tensor_view{{1, 64}, p.data(), s.data(), s.data(), 2}, y.data());
        },
        "t.slots", "slot count of other options");
    // A decode step that reaches 2^100 under the inverse transform: refused when built (σ or γ
    // given).
    throws([] { lc::quest_quantizer<4> q({.sigma_from = lc::bbq_sigma::given, .sigma = 3e38f}); },
           "options.sigma", "huge given sigma, to_input");
    throws([] { lc::bbq_quantizer<4> q({.gamma = 1e31f}); }, "options.gamma",
           "huge gamma, to_input");
    {
        lc::bbq_quantizer<4> q({.gamma = 1e31f, .to_input = false});
        expect(true, "huge gamma without the inverse transform is accepted");
    }
    // An empty tensor has no σ slot (the CPU's detail::sigma_slots), per row included.
    for (const shape2d s : {shape2d{0, 64}, shape2d{1u << 27, 0}}) {
        lc::bbq_quantizer<4> q({.sigma_from = lc::bbq_sigma::per_row});
        lc::device_bbq_tensor t;
        q.quantize(static_cast<const float*>(nullptr), s, t);
        expect(t.slots == 0,
               "empty tensor " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                   ": no sigma slot");
    }
    throws(
        [] {
            lc::bbq_quantizer<4> q;
            lc::device_bbq_tensor t;
            q.quantize(static_cast<const float*>(nullptr),
                       {std::size_t(1) << 40, std::size_t(1) << 40}, t);
        },
        "shape", "rows * cols overflowing size_t");
}

}  // namespace
}  // namespace lowbit_cuda_test

int main(int argc, char** argv) {
    using namespace lowbit_cuda_test;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    cudaDeviceProp prop{};
    lowbit::cuda::check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::printf("device: %s (sm_%d%d)%s\n", prop.name, prop.major, prop.minor,
                quick ? ", quick" : "");
    try {
        run_errors();
        run_scheme<4, false, bbq_codes::int_b>("bbq4", bbq_zero::integer);
        if (!quick) {  // 4097 x 4096 > 2^24: σ's tree needs three levels below the top
            const shape2d s{4097, 4096};
            run_case<4, false, bbq_codes::int_b, float>(
                "bbq4 per-tensor (3-level tree) adversarial-finite", {},
                adversarial_finite(s.size(), 5), s);
            run_case<4, false, bbq_codes::int_b, __nv_bfloat16>(
                "bbq4 per-tensor (3-level tree) gaussian", {},
                lowbit_test::gaussian(s.size(), 3, 0.02f), s);
        }
        run_scheme<1, false, bbq_codes::int_b>("bbq1", bbq_zero::half);
        run_scheme<2, false, bbq_codes::int_b>("bbq2", bbq_zero::half);
        run_scheme<3, false, bbq_codes::int_b>("bbq3", bbq_zero::integer);
        run_scheme<3, false, bbq_codes::e2m1>("bbq3_fp4", bbq_zero::integer);
        run_scheme<4, false, bbq_codes::index>("bbq4_index", bbq_zero::integer);
        run_scheme<2, true, bbq_codes::int_b>("quest2", bbq_zero::half);
        run_scheme<3, true, bbq_codes::int_b>("quest3", bbq_zero::half);
        run_scheme<4, true, bbq_codes::int_b>("quest4", bbq_zero::half);
        // Every scheme took every encode and decode kernel somewhere (σ given: folded, and unfolded
        // by option or when 1/σ overflows).
        std::vector<std::string> want;
        for (const char* sc : {"bbq1", "bbq2", "bbq3", "bbq4", "quest2", "quest3", "quest4"}) {
            for (const char* p : {"pairs_folded", "pairs", "lanes16", "per_block"})
                want.push_back(std::string(sc) + " encode " + p);
            for (const char* p : {"lanes16", "per_block"})
                want.push_back(std::string(sc) + " decode " + p);
        }
        expect_paths_taken(want);
    } catch (const std::exception& e) {
        std::printf("FAIL: exception: %s\n", e.what());
        ++counts().failed;
    }
    std::printf(
        "test_bbq_cuda: %zu cases (%zu refused by the GPU's non-finite / guard policy, error "
        "checked), %zu checks, %zu passed, %zu failed\n",
        counts().cases, counts().rejected, counts().checks, counts().checks - counts().failed,
        counts().failed);
    return counts().failed ? 1 : 0;
}
