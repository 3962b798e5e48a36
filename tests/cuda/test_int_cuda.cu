// The CUDA integer quantizer against the CPU scalar reference, bit for bit: packed codes, stored
// scales, offsets and zero points, dequantized values (f32, f16, bf16), on every INT format, every
// granularity, rule, rounding mode, affine form and nibble order, each case asserting the kernel
// sequence it takes (int_quantizer::quantize_path) and every sequence taken somewhere, on sizes 1,
// 31, 4097 and 2^20 + 3 (1-D and 2-D) of Gaussian, adversarial (NaN, ±Inf, ±0, subnormals, huge,
// all-zero / all-NaN groups) and exact-tie data. Every output buffer is poisoned before each run,
// with two different patterns, so an unwritten byte fails. Dequantized values compare bit for bit,
// except that a NaN the arithmetic generates (0 · ∞ under an infinite scale) matches any NaN (see
// harness.cuh). Also: tensors cross between CPU and GPU both ways, the precomputed-scale path,
// inputs at an odd element offset, and errors (misuse and CUDA failures become lowbit::error).
//
// Usage: test_int_cuda [--quick] [--no-failing-calls]
//   --quick             adversarial data only and no 2^20 + 3 sizes
//   --no-failing-calls  skip the one deliberately failing CUDA call, which compute-sanitizer
//   reports
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu_reference.hpp"
#include "formats.hpp"
#include "harness.cuh"
#include "lowbit/cuda/int.cuh"
#include "../test_util.hpp"

namespace lowbit_cuda_test {
namespace {

using lowbit::affine;
using lowbit::granularity;
using lowbit::nibble_order;
using lowbit::round_mode;
using lowbit::scale_rule;
using lowbit::shape2d;
namespace lc = lowbit::cuda;

bool quick = false;
bool failing_calls =
    true;  // --no-failing-calls: skip the deliberately failing CUDA call (for compute-sanitizer)
constexpr std::size_t big = (1u << 20) + 3;  // = 1141 · 919

template <int K>
using dev_scale =
    std::conditional_t<K == 0, float, std::conditional_t<K == 1, __half, __nv_bfloat16>>;

struct dataset {
    std::string name;
    std::vector<float> x;
};

/// Exact ties: in every 8-block two anchors fix the scale at u = 0.25 (absmax, per tensor and
/// groups of 8·k), the other six are (k + 0.5)·u, exactly halfway between two codes.
/// Whether a format is a full-range signed one (−2^{b−1} … 2^{b−1} − 1).
template <class Format>
constexpr bool full_range = Format::is_signed&& Format::qmin == -Format::qmax - 1;

template <class Format>
std::vector<float> ties(std::size_t n) {
    const float u = 0.25f;
    std::vector<float> v(n);
    const int lo = Format::is_signed ? Format::qmin : 0, hi = Format::qmax;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = i % 8;
        if (k == 0)
            v[i] = Format::is_signed ? float(full_range<Format> ? Format::qmin : Format::qmax) * u
                                     : 0.0f;
        else if (k == 1)
            v[i] =
                float(Format::is_signed && !full_range<Format> ? -Format::qmax : Format::qmax) * u;
        else
            v[i] = (float(lo + int((i * 7) % std::size_t(hi - lo > 0 ? hi - lo : 1))) + 0.5f) * u;
    }
    return v;
}

/// lowbit_test::adversarial plus whole blocks that are all +0 (−0 first), all −0, all NaN, all
/// ±Inf, subnormals, and ±FLT_MAX mixes (the saturations of huge finite ranges).
std::vector<float> adversarial_groups(std::size_t n, std::uint32_t seed) {
    auto v = lowbit_test::adversarial(n, seed, 0.25f);
    const float inf = std::numeric_limits<float>::infinity(),
                nan = std::numeric_limits<float>::quiet_NaN();
    auto fill = [&](std::size_t a, std::size_t b, auto f) {
        for (std::size_t i = a; i < b && i < n; ++i) f(i);
    };
    fill(32, 64, [&](std::size_t i) { v[i] = i == 32 ? -0.0f : 0.0f; });
    fill(64, 96, [&](std::size_t i) { v[i] = -0.0f; });
    fill(96, 128, [&](std::size_t i) { v[i] = nan; });
    fill(128, 160, [&](std::size_t i) { v[i] = i % 2 ? inf : -inf; });
    fill(160, 192, [&](std::size_t i) { v[i] = i % 3 ? 1e-45f : -0.0f; });  // subnormals only
    // Huge finite ranges (docs/formats.md "Non-finite inputs", integers): ±FLT_MAX together (an
    // asymmetric range wider than FLT_MAX: affine_step narrows it; MSE error sums saturate), and
    // FLT_MAX with small values (a scale whose end code would decode past FLT_MAX steps down:
    // finish_slot).
    const float fmax = std::numeric_limits<float>::max();
    fill(192, 224, [&](std::size_t i) {
        v[i] = i % 4 == 0 ? fmax : i % 4 == 1 ? -fmax : float(int(i % 7) - 3);
    });
    fill(224, 256, [&](std::size_t i) { v[i] = i % 2 ? fmax : 0.25f * float(i % 5); });
    fill(256, 288, [&](std::size_t i) { v[i] = i % 2 ? -fmax : 3.0e38f; });
    if (n > 4096)
        fill(2048, 4096, [&](std::size_t i) { v[i] = 0.0f; });  // whole rows of zeros in 2-D shapes
    return v;
}

std::string describe(const ref_options& o, shape2d s) {
    static const char* rules[] = {"absmax", "minmax", "percentile", "mse", "gaussian", "fixed"};
    static const char* grans[] = {"tensor", "channel", "group"};
    static const char* rounds[] = {"even", "away", "zero", "floor", "stochastic", "up", "tie-zero"};
    static const char* forms[] = {"none", "offset", "zero_point"};
    static const char* orders[] = {"low", "high", "ggml"};
    std::string g = grans[int(o.gran.type)];
    if (o.gran.type == granularity::kind::per_channel) g += std::to_string(o.gran.axis);
    if (o.gran.type == granularity::kind::per_group) g += std::to_string(o.gran.group_size);
    return std::to_string(s.rows) + "x" + std::to_string(s.cols) + " " + g + " " +
        rules[int(o.rule.type)] + " " + rounds[int(o.round.mode)] + " " + forms[int(o.form)] + " " +
        orders[int(o.order)];
}

const char* path_name(lc::int_quantize_path p) {
    switch (p) {
        case lc::int_quantize_path::fused_groups: return "fused_groups";
        case lc::int_quantize_path::per_tensor: return "per_tensor";
        case lc::int_quantize_path::slot_encode: return "slot_encode";
        case lc::int_quantize_path::row_encode_1024: return "row_encode_1024";
        default: return "slot_then_encode";
    }
}

/// The kernels a configuration must take, stated from the options: the fused kernel for groups of
/// G = 8 · 2^k ≤ 256 dividing the rows under a rule that needs only extremes (ggml_split: whole
/// 32-element blocks); per tensor its own sequence; otherwise the slot kernel, which also encodes
/// when every slot is whole units (8 elements, 32 for ggml_split) and contiguous, with 1024
/// threads for rows of at least 48 KiB of input.
template <class In>
lc::int_quantize_path path_expected(const ref_options& o, shape2d s) {
    using K = scale_rule::kind;
    const auto& g = o.gran;
    const std::size_t G = g.group_size;
    const bool extremes = o.rule.type == K::absmax || o.rule.type == K::minmax ||
        o.rule.type == K::percentile || o.rule.type == K::fixed;
    const bool lanes = G == 8 || G == 16 || G == 32 || G == 64 || G == 128 || G == 256;
    const bool ggml = o.order == nibble_order::ggml_split;
    if (g.type == granularity::kind::per_group && extremes && lanes && s.cols % G == 0 &&
        (!ggml || s.size() % 32 == 0))
        return lc::int_quantize_path::fused_groups;
    if (g.type == granularity::kind::per_tensor) return lc::int_quantize_path::per_tensor;
    const std::size_t A = ggml ? 32 : 8;
    const bool whole = g.type == granularity::kind::per_channel ? g.axis == 0 && s.cols % A == 0
                                                                : s.cols % A == 0 && G % A == 0;
    if (!whole) return lc::int_quantize_path::slot_then_encode;
    const bool long_rows =
        g.type == granularity::kind::per_channel && s.cols * sizeof(In) >= 48 * 1024;
    return long_rows ? lc::int_quantize_path::row_encode_1024 : lc::int_quantize_path::slot_encode;
}

/// One configuration: GPU quantize / dequantize against the CPU reference, all ways round.
/// unaligned: the input starts one element past a 16-byte boundary (the kernels' element loads).
template <class Format, int K, class In>
void run_case(const ref_options& o, const dataset& d, shape2d shape, bool other_outputs,
              bool unaligned = false) {
    using S = dev_scale<K>;
    const std::size_t n = shape.size();
    ++counts().cases;
    const std::string what = std::string("int") + (Format::is_signed ? "" : "u") +
        std::to_string(Format::bits) + (full_range<Format> ? "f" : "") + " scale " +
        type_name<S>() + " in " + type_name<In>() + " " + d.name + " " + describe(o, shape) +
        (unaligned ? " unaligned" : "");
    // The values both sides see: the input type's rounding of the data.
    const std::size_t off = unaligned ? 1 : 0;
    std::vector<In> xin(n + off);
    std::vector<float> xf(n);
    for (std::size_t i = 0; i < n; ++i) {
        xin[i + off] = from_float_host<In>(d.x[i]);
        xf[i] = to_float_host(xin[i + off]);
    }
    const ref_tensor ref = cpu_quantize<Format, K>(o, xf, shape);
    const std::vector<float> ref_y = cpu_dequantize<Format, K>(o, shape, ref);

    lc::device_buffer<In> xbuf;
    upload(xbuf, xin);
    const In* x = xbuf.data() + off;
    const std::size_t slots = o.gran.scale_count(shape);
    lc::device_buffer<std::uint8_t> packed(lowbit::packed_size(n, Format::bits)),
        zps(o.form == affine::zero_point ? slots : 0);
    lc::device_buffer<S> scales(slots), offsets(o.form == affine::offset ? slots : 0);
    lc::int_tensor_view<S> t{packed.data(), scales.data(), offsets.data(), zps.data()};
    lc::int_quantizer<Format, S> q(
        {.gran = o.gran, .rule = o.rule, .round = o.round, .form = o.form, .order = o.order});
    const auto path = q.template quantize_path<In>(shape), want = path_expected<In>(o, shape);
    expect(path == want, what + ": path " + path_name(path) + ", expected " + path_name(want));
    note_path(std::string("int ") + path_name(path) +
              (o.order == nibble_order::ggml_split ? " ggml_split" : ""));

    auto expect_tensor = [&](const std::string& tag) {
        expect_same(download_bytes(packed.data(), packed.bytes()).data(), ref.packed.data(),
                    ref.packed.size(), 1, what + " " + tag + " packed");
        expect(scales.bytes() == ref.scales.size(), what + " scale count");
        expect_same(download_bytes(scales.data(), scales.bytes()).data(), ref.scales.data(),
                    ref.scales.size(), sizeof(S), what + " " + tag + " scales");
        if (o.form == affine::offset)
            expect_same(download_bytes(offsets.data(), offsets.bytes()).data(), ref.offsets.data(),
                        ref.offsets.size(), sizeof(S), what + " " + tag + " offsets");
        if (o.form == affine::zero_point)
            expect_same(download_bytes(zps.data(), zps.bytes()).data(), ref.zero_points.data(),
                        ref.zero_points.size(), 1, what + " " + tag + " zero points");
    };
    auto poison_tensor = [&](int p) {
        poison(packed.data(), packed.bytes(), p);
        poison(scales.data(), scales.bytes(), p);
        poison(offsets.data(), offsets.bytes(), p);
        poison(zps.data(), zps.bytes(), p);
    };
    // 1. quantize, twice with different poison.
    for (int p : {0xa5, 0x5a}) {
        poison_tensor(p);
        q.quantize(x, shape, t);
        lc::check(cudaDeviceSynchronize(), "quantize");
        expect_tensor(p == 0xa5 ? "quantize" : "quantize (2nd poison)");
    }
    // 2. dequantize the GPU tensor (float out), twice with different poison.
    lc::device_buffer<float> y(n);
    for (int p : {0xff, 0x7f}) {
        poison(y.data(), y.bytes(), p);
        q.dequantize(t, y.data());
        lc::check(cudaDeviceSynchronize(), "dequantize");
        expect_same_values<float>(download_bytes(y.data(), y.bytes()).data(), ref_y.data(), n,
                                  what + " dequantize f32");
    }
    // 3. the CPU's tensor dequantized on the GPU (interop CPU → GPU).
    poison_tensor(0x33);
    upload_bytes(packed.data(), ref.packed);
    upload_bytes(scales.data(), ref.scales);
    upload_bytes(offsets.data(), ref.offsets);
    upload_bytes(zps.data(), ref.zero_points);
    poison(y.data(), y.bytes(), 0xff);
    q.dequantize(t, y.data());
    lc::check(cudaDeviceSynchronize(), "dequantize");
    expect_same_values<float>(download_bytes(y.data(), y.bytes()).data(), ref_y.data(), n,
                              what + " dequantize CPU tensor");
    // 4. quantize with the CPU's stored scales (the precomputed-scale path).
    poison(packed.data(), packed.bytes(), 0xc3);
    q.quantize_with_scales(x, shape, t);
    lc::check(cudaDeviceSynchronize(), "quantize_with_scales");
    expect_same(download_bytes(packed.data(), packed.bytes()).data(), ref.packed.data(),
                ref.packed.size(), 1, what + " quantize_with_scales packed");
    // 5. half and bfloat16 outputs equal the CPU float output rounded to nearest-even.
    if (other_outputs) {
        auto narrow = [&](auto tag) {
            using Out = decltype(tag);
            std::vector<Out> want(n);
            for (std::size_t i = 0; i < n; ++i) want[i] = from_float_host<Out>(ref_y[i]);
            lc::device_buffer<Out> yo(n);
            poison(yo.data(), yo.bytes(), 0xff);
            q.dequantize(t, yo.data());
            lc::check(cudaDeviceSynchronize(), "dequantize");
            expect_same_values<Out>(download_bytes(yo.data(), yo.bytes()).data(), want.data(), n,
                                    what + " dequantize " + type_name<Out>());
        };
        narrow(__half{});
        narrow(__nv_bfloat16{});
    }
}

const shape2d small_shapes[] = {{1, 1}, {1, 31}, {31, 1}, {1, 4097}, {17, 241}, {64, 96}, {3, 512}};
const shape2d big_shapes[] = {{1, big}, {1141, 919}, {1024, 1024}};

/// Every configuration of one (format, scale storage, input type).
template <class Format, int K, class In>
void run_format(bool full) {
    std::vector<affine> forms = Format::is_signed
        ? std::vector<affine>{affine::none}
        : std::vector<affine>{affine::offset, affine::zero_point};
    std::vector<nibble_order> orders = {nibble_order::low_first};
    if (Format::bits == 4) {
        orders.push_back(nibble_order::high_first);
        orders.push_back(nibble_order::ggml_split);
    }
    const granularity grans[] = {
        granularity::tensor(),   granularity::channel(0), granularity::channel(1),
        granularity::group(32),  granularity::group(8),   granularity::group(64),
        granularity::group(256), granularity::group(7),   granularity::group(512)};
    const scale_rule rules[] = {
        scale_rule::minmax(), scale_rule::percentile(0.9f), scale_rule::mse_search(),
        scale_rule::gaussian_optimal(),
        Format::is_signed ? scale_rule::fixed(1.5f) : scale_rule::fixed_range(-0.75f, 2.5f)};
    const round_mode rounds[] = {round_mode::nearest_away, round_mode::toward_zero,
                                 round_mode::floor,        round_mode::stochastic,
                                 round_mode::nearest_up,   round_mode::nearest_zero};
    const bool outs = !std::is_same_v<In, float> || K != 0 || Format::bits == 4;

    for (affine form : forms) {
        ref_options o{
            granularity::tensor(), scale_rule::absmax(), {}, form, nibble_order::low_first};
        // Granularities × shapes × data, absmax (the scheme-defining rule).
        for (shape2d s : small_shapes) {
            const dataset ds[] = {{"gaussian", lowbit_test::gaussian(s.size(), 7, 1.5f)},
                                  {"adversarial", adversarial_groups(s.size(), 11)},
                                  {"ties", ties<Format>(s.size())}};
            for (const auto& g : grans)
                for (const auto& d : ds) {
                    if (quick && &d != &ds[1]) continue;  // --quick: adversarial data only
                    o.gran = g;
                    run_case<Format, K, In>(o, d, s, outs && &d == &ds[1]);
                }
        }
        if (!full) continue;
        // Other rules and rounding modes on a 2-D shape, several granularities.
        for (shape2d s : {shape2d{17, 241}, shape2d{64, 96}}) {
            const dataset d{"adversarial", adversarial_groups(s.size(), 13)};
            for (const auto& g :
                 {granularity::tensor(), granularity::channel(0), granularity::channel(1),
                  granularity::group(32), granularity::group(7)}) {
                o.gran = g;
                for (const auto& r : rules) {
                    o.rule = r;
                    run_case<Format, K, In>(o, d, s, false);
                }
                o.rule = scale_rule::absmax();
                for (auto m : rounds) {
                    o.round = {m, 0x123456789abcdefull};
                    run_case<Format, K, In>(o, d, s, false);
                }
                o.round = {};
            }
        }
        // Rows of 48 KiB of f32 input and more: the 1024-thread slot kernel, every rule.
        if constexpr (std::is_same_v<In, float>) {
            const shape2d s{2, 12288};
            const dataset d{"adversarial", adversarial_groups(s.size(), 23)};
            o.gran = granularity::channel(0);
            for (const auto& r : rules) {
                o.rule = r;
                run_case<Format, K, In>(o, d, s, false);
            }
            o.rule = scale_rule::absmax();
            run_case<Format, K, In>(o, d, s, false);
            if (Format::bits == 4) {
                o.order = nibble_order::ggml_split;
                run_case<Format, K, In>(o, d, s, false);
                o.order = nibble_order::low_first;
            }
        }
        // Inputs at an odd element offset: every kernel sequence with element loads.
        if constexpr (std::is_same_v<In, float>) {
            for (shape2d s : {shape2d{17, 241}, shape2d{64, 96}, shape2d{2, 12288}}) {
                const dataset d{"adversarial", adversarial_groups(s.size(), 29)};
                for (const auto& g : {granularity::tensor(), granularity::channel(0),
                                      granularity::group(32), granularity::group(7)}) {
                    o.gran = g;
                    run_case<Format, K, In>(o, d, s, false, true);
                }
            }
        }
        // Nibble orders.
        for (auto ord : orders) {
            if (ord == nibble_order::low_first) continue;
            o.order = ord;
            for (shape2d s : small_shapes)
                for (const auto& g :
                     {granularity::tensor(), granularity::group(32), granularity::group(8),
                      granularity::group(7), granularity::channel(0)}) {
                    o.gran = g;
                    run_case<Format, K, In>(o, {"adversarial", adversarial_groups(s.size(), 17)}, s,
                                            false);
                }
            o.order = nibble_order::low_first;
        }
        // Large sizes.
        if (quick) continue;
        for (shape2d s : big_shapes) {
            const dataset d{"adversarial", adversarial_groups(s.size(), 19)};
            for (const auto& g : {granularity::tensor(), granularity::channel(0),
                                  granularity::group(32), granularity::group(128)}) {
                o.gran = g;
                run_case<Format, K, In>(o, d, s, false);
            }
            o.gran = granularity::group(32);
            for (auto ord : orders) {
                o.order = ord;
                run_case<Format, K, In>(o, d, s, false);
            }
            o.order = nibble_order::low_first;
            o.round = {round_mode::stochastic, 42};
            run_case<Format, K, In>(o, d, s, false);
            o.round = {};
            o.gran = granularity::tensor();
            o.rule = scale_rule::gaussian_optimal();
            run_case<Format, K, In>(o, d, s, false);
            o.rule = scale_rule::absmax();
        }
    }
}

template <class C>
void run_case_type() {
    using F = typename C::format;
    constexpr int K = C::scale_kind;
    const std::size_t before = counts().failed;
    run_format<F, K, float>(true);
    if constexpr (K == 1) run_format<F, K, __half>(false);
    if constexpr (K == 2) run_format<F, K, __nv_bfloat16>(false);
    std::printf("%s%d%s scale %s: %zu cases so far, %zu new failures\n",
                F::is_signed ? "int" : "uint", F::bits, full_range<F> ? " full" : "",
                type_name<dev_scale<K>>(), counts().cases, counts().failed - before);
    std::fflush(stdout);
}
template <class... C>
void run_all(type_list<C...>) {
    (run_case_type<C>(), ...);
}

/// Misuse and CUDA failures surface as lowbit::error naming the argument.
void run_errors() {
    auto throws = [](auto f, const char* arg, const std::string& what) {
        try {
            f();
        } catch (const lowbit::error& e) {
            return expect(e.argument() == arg,
                          what + ": names '" + e.argument() + "', expected '" + arg + "'");
        } catch (...) {}
        return expect(false, what + ": no lowbit::error");
    };
    using Q4 = lc::int_quantizer<lowbit::int_format<4>>;
    using U4 = lc::int_quantizer<lowbit::uint_format<4>>;
    throws([] { Q4({.form = affine::offset}); }, "options.form", "signed format with an offset");
    throws([] { U4({.form = affine::none}); }, "options.form",
           "unsigned format without an affine form");
    throws([] { Q4({.gran = granularity::group(0)}); }, "options.gran.group_size", "group size 0");
    throws([] { lc::int_quantizer<lowbit::int_format<8>>({.order = nibble_order::ggml_split}); },
           "order", "ggml_split on 8-bit codes");
    throws([] { Q4({.rule = scale_rule::percentile(1.5f)}); }, "scale_rule.ratio",
           "percentile above 1");
    lc::device_buffer<float> x(64);
    lc::device_buffer<std::uint8_t> p(32);
    lc::device_buffer<float> s(2);
    throws(
        [&] {
            Q4 q;
            lc::int_tensor_view<float> t{nullptr, s.data()};
            q.quantize(x.data(), {1, 64}, t);
        },
        "t.packed", "null packed");
    throws(
        [&] {
            Q4 q;
            lc::int_tensor_view<float> t{p.data(), s.data()};
            q.quantize(static_cast<const float*>(nullptr), {1, 64}, t);
        },
        "x", "null input");
    throws(
        [&] {
            U4 q;
            lc::int_tensor_view<float> t{p.data(), s.data()};
            q.quantize(x.data(), {1, 64}, t);
        },
        "t.offsets", "offset form without offsets");
    throws(
        [&] {
            Q4 q({.gran = granularity::group(32)});
            lc::int_tensor_view<float> t{p.data(), s.data(), nullptr,
                                         nullptr,  {1, 64},  granularity::tensor()};
            q.quantize_with_scales(x.data(), {1, 64}, t);
        },
        "t", "scales of another layout");
    throws([] { lc::check(cudaErrorInvalidValue, "cudaMemcpy"); }, "cudaMemcpy", "CUDA status");
    if (failing_calls)
        throws(
            [] {
                float h = 0;
                lc::check(cudaMemcpy(&h, reinterpret_cast<const void*>(std::uintptr_t(16)), 4,
                                     cudaMemcpyDeviceToHost),
                          "cudaMemcpy");
            },
            "cudaMemcpy", "a failing CUDA call");
    try {
        lc::check(cudaErrorInvalidValue, "cudaMemcpy");
    } catch (const lowbit::error& e) {
        expect(std::string(e.what()).find("cudaErrorInvalidValue") != std::string::npos,
               std::string("message carries the CUDA error: ") + e.what());
    }
    cudaGetLastError();  // the failing call above is not sticky; clear it for the next test
}

}  // namespace
}  // namespace lowbit_cuda_test

int main(int argc, char** argv) {
    using namespace lowbit_cuda_test;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) quick = true;
        if (std::strcmp(argv[i], "--no-failing-calls") == 0) failing_calls = false;
    }
    cudaDeviceProp prop{};
    lowbit::cuda::check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::printf("device: %s (sm_%d%d)%s\n", prop.name, prop.major, prop.minor,
                quick ? ", quick" : "");
    try {
        run_errors();
        run_all(all_int_cases{});
        expect_paths_taken({"int fused_groups", "int per_tensor", "int slot_encode",
                            "int row_encode_1024", "int slot_then_encode",
                            "int fused_groups ggml_split", "int slot_encode ggml_split",
                            "int row_encode_1024 ggml_split", "int slot_then_encode ggml_split"});
    } catch (const std::exception& e) {
        std::printf("FAIL: exception: %s\n", e.what());
        ++counts().failed;
    }
    std::printf("test_int_cuda: %zu cases, %zu checks, %zu passed, %zu failed\n", counts().cases,
                counts().checks, counts().checks - counts().failed, counts().failed);
    return counts().failed ? 1 : 0;
}
