// lowbit — quantized linear layers computed on FP4-like codes: y = W·x (gemv) and Y = X·Wᵀ
// (gemm) for W an MX tensor (MXFP4, MXFP6, MXINT8, …), an NVFP4 tensor, a logarithmic tensor
// (log_quantizer: log2, log3, log4, log5) or a 4-bit codebook tensor (NF4).
//
//   lowbit::mx_quantizer<lowbit::e2m1> q;               // MXFP4
//   auto w = q.quantize(weights, {out_features, in_features});
//   lowbit::ops::gemv(w, x, y);                         // y[out_features]
//   lowbit::ops::gemm(w, xs, batch, ys, {.threads = 2}); // ys[batch][out_features]
//
// The scheme is ops/linear.hpp's (same linear_options, same activation quantization, same float
// order), with the element decoded to an integer instead of read as one. Every element value
// v(c) of a supported format is an integer multiple of 2^−m (E2M1: m = 1, 2·v ∈ {0, ±1, ±2, ±3,
// ±4, ±6, ±8, ±12}; E2M3: m = 3; E3M2: m = 4; MXINT8: m = 6), so c ↦ L(c) = v(c)·2^m is an exact
// integer table (ggml's kvalues for MXFP4). Semantics (the scalar reference; the SIMD path equals
// it bit for bit, for any thread count):
//   * W is rows × cols in blocks of B along each row (MX: the tensor's Block, NVFP4: 16; the last
//     block of a row may be short), block k covering columns [k·B, min(k·B + B, cols)).
//   * Each activation row is quantized per block of the same columns to int8 exactly as in
//     ops/linear.hpp: a = max |x_i|, s_x = a / 127, q_i = clamp(round_half_even(x_i / s_x),
//     −127, 127), q = 0 when s_x = 0; a block holding NaN or ±Inf gets s_x = NaN.
//   * d_k = Σ L(c_i)·q_i over block k, exact in int32 (|L| · 127 · B < 2^31 is checked at compile
//     time; FP8 elements, whose codes include NaN, are not accepted).
//   * The block's weight scale, in float:
//       MX:    s_w,k = E8M0(e_k) · 2^−m, exact (a power of two ≥ 2^−127−m; NaN for e = 0xFF);
//       NVFP4: s_w,k = (E4M3(s_k) · g) · 0.5, the product rounded to float as the quantizer's
//              effective scale is, the halving exact unless that product is below 2^−125;
//       log:   s_w,k = s_k · 2^−m, s_k the group's stored scale as float, m = top − 1 (log4:
//              L(c) = ±2^(k−1) ∈ {0, ±1, …, ±64}, m = 6), exact unless s_k · 2^−m is below
//              2^−126 (never for fp16 scales). Log is shift-and-add by table: the powers of two
//              are the table's integers, so the dot is the same integer dot as FP4's.
//              Blocks are the tensor's groups (any length); a group of a B-bit log tensor may
//              hold at most log_max_group<B> elements (131072 up to log4, 1032 for log5), so
//              that d_k fits int32; B ≥ 6 (powers beyond 2^−16) is not accepted.
//   * y_r = (…((0 + t_0) + t_1) + …) + t_{K−1}, t_k = (s_w,k · s_x,k) · float(d_k), each product
//     rounded on its own (MX: s_w,k · s_x,k is exact unless it leaves the normal range), blocks in
//     order, no FMA. A NaN block scale makes the row's outputs NaN, as dequantize does.
//   Against dequantize(W)·x the error is at most Σ_k |s_w,k|·Σ|L(c_i)|·s_x,k / 2 (the activation
//   rounding) plus the rounding of the scale products and of the K-term float sum.
//
// Kernels (fp4_kernel): 4-bit elements in blocks of 16 or 32 (log: groups of 16 or 32) with an
// even number of columns run simd::dot8_lut4
// (simd/lut_dot.hpp: the 16-entry table looked up in registers, SSSE3 / AVX2 / AVX-512 VNNI /
// NEON sdot) on whole 32-column chunks eight rows at a time, the blocks past the last whole chunk
// column by column; the last rows % 8 rows, other elements (FP6, MXINT8: integer levels, scalar
// loop), odd column counts, targets without a hand-written dot8_lut4 and backend::scalar run the
// reference.
//
// 4-bit codebooks (codebook_tensor<4>: NF4 or a fitted codebook, any group size, double-quantised
// scales included): the levels are not integers, so the activations stay float.
//   * P_k = Σ level[c_i]·x_i over group k in the order of simd::dot_lut4f: 16 lane sums over the
//     element's index i mod 16 (i counted from the group's start), in increasing i, from +0, each
//     product rounded on its own; then lanes l + 8 into l (l < 8), l + 4 into l, l + 2 into l,
//     lane 1 into lane 0.
//   * y_r = (…((0 + s_0·P_0) + s_1·P_1) + …) + s_{K−1}·P_{K−1}, s_k the tensor's scale(g) of the
//     group (a'_g when double-quantised), each product rounded on its own, no FMA. NaN and ±Inf
//     propagate as IEEE arithmetic does (an Inf times the level 0 is NaN).
//   Every term s_k·level·x_i passes through at most m + K + 4 roundings (m = ⌈G / 16⌉: the
//   product, m − 1 lane additions, 4 tree levels, the scale product, K − 1 outer additions), so
//   against Σ s_k·level·x_i in exact arithmetic the error is at most γ_{m+K+4} · Σ |s_k·level·x_i|,
//   γ_n = n·u / (1 − n·u), u = 2^−24 (underflow aside).
// Kernel: simd_lut4f (simd::dot_lut4f per group: AVX-512 vpermps, AVX2 two vpermps and a blend,
// NEON vqtbl over the levels' byte planes, SSE2 scalar loads) when the codes are low_first or
// high_first and every group starts on a byte (even cols and group length); ggml_split codes,
// odd shapes and backend::scalar run the reference.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/unfused.hpp"
#include "../quantizers/codebook.hpp"
#include "../quantizers/log.hpp"
#include "../quantizers/mx.hpp"
#include "../simd/lut_dot.hpp"
#include "linear.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace ops {

/// The kernel gemv / gemm run for a block-scaled minifloat tensor (see linear_kernel_for).
enum class fp4_kernel : std::uint8_t {
    scalar,       ///< the reference loop
    simd_lut4,    ///< simd::dot8_lut4: eight rows, whole 32-column chunks, tails column by column
    simd_lut4f,   ///< codebooks: simd::dot_lut4f per group (the levels looked up in registers)
    packed_lut4,  ///< lut_linear: simd::gemm8p_lut on row-interleaved tiles
};

namespace detail_fp4 {

/// The integer levels L(c) = decode(c)·2^shift of an element format (see the file comment);
/// `usable` false when a code decodes to NaN or ±Inf or no shift up to 16 works.
struct level_table {
    bool usable = false;
    int shift = 0;
    std::int32_t max_abs = 0;
    std::array<std::int32_t, 256> v{};
};

template <class Elem>
constexpr level_table make_levels() {
    level_table r;
    for (int s = 0; s <= 16; ++s) {
        bool ok = true;
        std::int32_t m = 0;
        for (int c = 0; c < (1 << Elem::bits) && ok; ++c) {
            const double d = double(Elem::decode(static_cast<std::uint8_t>(c)));
            // NaN and ±Inf (FP8 codes) first: constant evaluation may not compute with them.
            if (!(d == d) || d > 1e9 || d < -1e9) {
                ok = false;
                break;
            }
            const double v = d * double(std::int64_t{1} << s);
            if (v > 1e9 || v < -1e9 || v != double(std::int64_t(v))) {
                ok = false;
            } else {
                const auto i = static_cast<std::int32_t>(v);
                r.v[static_cast<std::size_t>(c)] = i;
                m = std::max(m, i < 0 ? -i : i);
            }
        }
        if (ok) {
            r.usable = true;
            r.shift = s;
            r.max_abs = m;
            return r;
        }
    }
    return r;
}

template <class Elem>
struct int_levels {
    static constexpr level_table t = make_levels<Elem>();
    static constexpr bool lut_ok = Elem::bits == 4 && t.usable && t.max_abs <= 127;
    /// The 16 levels as int8 for dot8_lut4 (lut_ok: 4-bit codes, every |L| <= 127).
    static constexpr std::array<std::int8_t, 16> lut = [] {
        std::array<std::int8_t, 16> l{};
        if constexpr (Elem::bits == 4)
            for (std::size_t c = 0; c < 16; ++c) l[c] = static_cast<std::int8_t>(t.v[c]);
        return l;
    }();
};

/// What the kernels read of W: the packed codes (densely packed, element 0 of a byte in its low
/// bits), the levels, the block length and the float scale s_w of each block.
template <class Elem, std::size_t Block, class ScaleFn>
struct source {
    using levels = int_levels<Elem>;
    static constexpr std::size_t block = Block;
    static constexpr int bits = Elem::bits;
    const std::uint8_t* packed;
    std::size_t n;  ///< elements in the tensor
    ScaleFn scale;  ///< s_w of flat block index r·per_row + k
};

/// Blocks of W as linear.hpp's row groups (one scale per block).
inline detail_ops::row_groups blocks_of(shape2d s, std::size_t block) {
    detail_ops::row_groups g;
    g.rows = s.rows;
    g.cols = s.cols;
    g.kind = granularity::kind::per_group;
    g.len = block;
    g.per_row = (s.cols + block - 1) / block;
    return g;
}

/// d of block k of row r (the reference and the kernels' tails).
template <class Src>
std::int32_t block_dot(const Src& w, const detail_ops::row_groups& g, const std::int8_t* q,
                       std::size_t r, std::size_t k) noexcept {
    std::int32_t d = 0;
    const std::size_t row0 = r * g.cols;
    for (std::size_t i = g.begin(k); i < g.end(k); ++i)
        d += Src::levels::t.v[detail_ops::code_at(w.packed, w.n, row0 + i, Src::bits,
                                                  nibble_order::low_first)] *
            q[i];
    return d;
}

template <class Src>
float row_reference(const Src& w, const detail_ops::row_groups& g, const detail_ops::int8_row& a,
                    std::size_t r) noexcept {
    float acc = 0.0f;
    for (std::size_t k = 0; k < g.per_row; ++k) {
        const std::int32_t d = block_dot(w, g, a.q.data(), r, k);
        const float f = w.scale(r * g.per_row + k) * a.scale[k];
        acc = acc + mul_unfused(f, float(d));
    }
    return acc;
}

template <class Src>
fp4_kernel kernel_for(const detail_ops::row_groups& g, backend path) {
    if constexpr (!Src::levels::lut_ok || (Src::block != 16 && Src::block != 32)) {
        return fp4_kernel::scalar;
    } else {
        if (path != backend::simd || !simd::has_lut_dot<xsimd::default_arch> || g.cols % 2 != 0 ||
            g.cols < 32)
            return fp4_kernel::scalar;
        return fp4_kernel::simd_lut4;
    }
}

/// Chunks of 32 columns per dot8_lut4 call: the int32 results stay in L1.
inline constexpr std::size_t chunk_batch = 16;

/// Y[b][r] for batch rows [0, batch) and weight rows [r0, r1), r0 a multiple of 8.
template <class Src>
void rows(const Src& w, const detail_ops::row_groups& g, fp4_kernel kern,
          const std::vector<detail_ops::int8_row>& act, std::size_t r0, std::size_t r1, float* y) {
    using Arch = xsimd::default_arch;
    std::size_t r = r0;
    if constexpr (Src::levels::lut_ok && (Src::block == 16 || Src::block == 32)) {
        if (kern == fp4_kernel::simd_lut4) {
            constexpr std::size_t B = Src::block, per_chunk = 32 / B;
            const std::size_t stride = g.cols / 2, chunks = g.cols / 32;
            const std::size_t whole = chunks * per_chunk;  // blocks inside whole chunks
            std::vector<float> sw(8 * g.per_row);          // sw[8·k + j]: row r + j, block k
            alignas(32) std::int32_t d[8 * per_chunk * chunk_batch];
            alignas(32) float f[8];
            for (; r + 8 <= r1; r += 8) {
                for (std::size_t j = 0; j < 8; ++j)
                    for (std::size_t k = 0; k < g.per_row; ++k)
                        sw[8 * k + j] = w.scale((r + j) * g.per_row + k);
                const std::uint8_t* tile = w.packed + r * stride;
                for (std::size_t b = 0; b < act.size(); ++b) {
                    const auto& a = act[b];
                    alignas(32) float acc[8] = {};
                    for (std::size_t c0 = 0; c0 < chunks; c0 += chunk_batch) {
                        const std::size_t nc = std::min(chunk_batch, chunks - c0);
                        simd::dot8_lut4<Arch, B>(tile + 16 * c0, stride, a.qk.data() + 32 * c0, nc,
                                                 Src::levels::lut.data(), d);
                        for (std::size_t kk = 0; kk < nc * per_chunk; ++kk) {
                            const std::size_t k = c0 * per_chunk + kk;
                            for (std::size_t j = 0; j < 8; ++j) f[j] = sw[8 * k + j] * a.scale[k];
                            simd::scale_add8<Arch>(acc, f, d + 8 * kk);
                        }
                    }
                    for (std::size_t k = whole; k < g.per_row; ++k) {  // blocks past the chunks
                        for (std::size_t j = 0; j < 8; ++j) {
                            d[j] = block_dot(w, g, a.q.data(), r + j, k);
                            f[j] = sw[8 * k + j] * a.scale[k];
                        }
                        simd::scale_add8<Arch>(acc, f, d);
                    }
                    for (std::size_t j = 0; j < 8; ++j) y[b * g.rows + r + j] = acc[j];
                }
            }
        }
    }
    for (; r < r1; ++r)
        for (std::size_t b = 0; b < act.size(); ++b)
            y[b * g.rows + r] = row_reference(w, g, act[b], r);
}

template <class Src>
void run(const Src& w, const detail_ops::row_groups& g, std::span<const float> x, std::size_t batch,
         std::span<float> y, const linear_options& o) {
    detail::require(x.size() == detail::checked_mul(batch, g.cols, "x"), "x",
                    "must hold batch · w.shape.cols values (gemv: w.shape.cols)");
    detail::require(y.size() == detail::checked_mul(batch, g.rows, "y"), "y",
                    "must hold batch · w.shape.rows values (gemv: w.shape.rows)");
    detail::require(o.path == backend::scalar || o.path == backend::simd, "options.path",
                    "must be backend::scalar or backend::simd");
    const fp4_kernel kern = kernel_for<Src>(g, o.path);
    std::vector<detail_ops::int8_row> act(batch);
    for (std::size_t b = 0; b < batch; ++b) {
        auto& a = act[b];
        detail_ops::quantize_activations(x.data() + b * g.cols, g, 8, nibble_order::low_first,
                                         false, a);
        if (kern == fp4_kernel::scalar) continue;
        // dot8_lut4's lane order: lane l of a chunk multiplies the code in the low (l < 16) or
        // high nibble of byte l mod 16, which holds column 2·(l mod 16) (+1 for the high one).
        a.qk.assign(g.cols, 0);
        for (std::size_t c = 0; c + 32 <= g.cols; c += 32)
            for (std::size_t l = 0; l < 32; ++l)
                a.qk[c + l] = a.q[c + detail_ops::lane_column(l, nibble_order::low_first)];
    }
    detail::split_items((g.rows + 7) / 8, o.threads, [&](std::size_t t0, std::size_t t1) {
        rows(w, g, kern, act, 8 * t0, std::min(8 * t1, g.rows), y.data());
    });
}

template <class Elem, std::size_t Block>
auto mx_source(const mx_tensor<Elem, Block>& t) {
    using L = int_levels<Elem>;
    static_assert(L::t.usable,
                  "lowbit::ops::gemv / gemm on an mx_tensor: every element value must be finite "
                  "and an integer multiple of 2^−16 (FP4, FP6 and MXINT8 elements are; FP8 "
                  "elements are not supported)");
    static_assert(double(L::t.max_abs) * 127.0 * double(Block) < 2147483648.0,
                  "lowbit::ops::gemv / gemm on an mx_tensor: the block's integer dot could "
                  "overflow int32; use a shorter block");
    const float unit = lowbit::detail::pow2f(-L::t.shift);  // 2^−m
    const std::uint8_t* s = t.scales.data();
    auto scale = [s, unit](std::size_t i) { return e8m0::decode(s[i]) * unit; };
    return source<Elem, Block, decltype(scale)>{t.packed.data(), t.size(), scale};
}

inline auto nv_source(const nvfp4_tensor& t) {
    const std::uint8_t* s = t.scales.data();
    const float g = t.global_scale;
    auto scale = [s, g](std::size_t i) { return nvfp4::effective_scale(s[i], g) * 0.5f; };
    return source<e2m1, nvfp4::block, decltype(scale)>{t.packed.data(), t.size(), scale};
}

/// The longest group of a B-bit log tensor whose integer dot fits int32 (see the file comment):
/// max_abs · 127 · n < 2^31, and no longer than the INT layers' max_linear_group.
template <int B>
constexpr std::size_t log_group_limit() {
    using L = int_levels<log2_format<B>>;
    if constexpr (!L::t.usable) {
        return 0;
    } else {
        const std::size_t fit =
            std::size_t{0x7FFFFFFF} / (static_cast<std::size_t>(L::t.max_abs) * 127u);
        return std::min(fit, max_linear_group);
    }
}

/// A log tensor's codes and block scales as a source of Block-column blocks (Block 16 or 32
/// allows the SIMD kernel; 0 stands for any other group length, which runs the reference).
template <std::size_t Block, int B, class ScaleT>
auto log_source(const log_tensor<B, ScaleT>& t) {
    using L = int_levels<log2_format<B>>;
    const float unit = lowbit::detail::pow2f(-L::t.shift);  // 2^−m
    const ScaleT* s = t.scales.data();
    auto scale = [s, unit](std::size_t i) { return load_scale(s[i]) * unit; };
    return source<log2_format<B>, Block, decltype(scale)>{t.packed.data(), t.size(), scale};
}

/// Validates t, checks its group against log_group_limit, and calls fn(source, blocks) with the
/// source type its group length selects.
template <int B, class ScaleT, class Fn>
decltype(auto) with_log_source(const log_tensor<B, ScaleT>& t, Fn&& fn) {
    static_assert(int_levels<log2_format<B>>::t.usable,
                  "lowbit::ops::gemv / gemm on a log_tensor<B>: the powers of two of B >= 6 bits "
                  "reach below 2^-16 and are not integer levels; use B <= 5");
    t.validate();
    constexpr std::size_t limit = log_group_limit<B>();
    detail::require(std::min(t.group, t.shape.cols) <= limit, "t.group",
                    "groups of more than " + std::to_string(limit) + " elements of a " +
                        std::to_string(B) +
                        "-bit log tensor could overflow the int32 dot product; quantize W "
                        "with smaller groups");
    const detail_ops::row_groups g = blocks_of(t.shape, t.group);
    if (t.group == 32) return fn(log_source<32>(t), g);
    if (t.group == 16) return fn(log_source<16>(t), g);
    return fn(log_source<0>(t), g);
}

}  // namespace detail_fp4

/// The longest group (elements per scale) ops::gemv / gemm accept in a B-bit log tensor.
template <int B>
inline constexpr std::size_t log_max_group = detail_fp4::log_group_limit<B>();

template <int B, class ScaleT>
inline constexpr bool has_linear<log_tensor<B, ScaleT>> = (log_max_group<B> > 0);

template <class Elem, std::size_t Block>
inline constexpr bool has_linear<mx_tensor<Elem, Block>> =
    detail_fp4::int_levels<Elem>::t.usable&& double(detail_fp4::int_levels<Elem>::t.max_abs) *
        127.0 * double(Block) <
    2147483648.0;
template <>
inline constexpr bool has_linear<nvfp4_tensor> = true;
template <>
inline constexpr bool has_linear<codebook_tensor<4>> = true;

/// The kernel gemv / gemm use for w under `path` (tests check that the fast path is taken).
/// Throws lowbit::error as gemv does when w is invalid.
template <class Elem, std::size_t Block>
[[nodiscard]] fp4_kernel linear_kernel_for(const mx_tensor<Elem, Block>& w,
                                           backend path = backend::simd) {
    w.validate();
    using Src = decltype(detail_fp4::mx_source(w));
    return detail_fp4::kernel_for<Src>(detail_fp4::blocks_of(w.shape, Block), path);
}

/// The kernel gemv / gemm use for w under `path`.
[[nodiscard]] inline fp4_kernel linear_kernel_for(const nvfp4_tensor& w,
                                                  backend path = backend::simd) {
    w.validate();
    using Src = decltype(detail_fp4::nv_source(w));
    return detail_fp4::kernel_for<Src>(detail_fp4::blocks_of(w.shape, nvfp4::block), path);
}

/// Y = X·Wᵀ for `batch` rows: x is batch × w.shape.cols, y batch × w.shape.rows, both
/// row-major. Row b of y equals gemv of row b of x, bit for bit.
template <class Elem, std::size_t Block>
void gemm(const mx_tensor<Elem, Block>& w, std::span<const float> x, std::size_t batch,
          std::span<float> y, const linear_options& options = {}) {
    w.validate();
    detail_fp4::run(detail_fp4::mx_source(w), detail_fp4::blocks_of(w.shape, Block), x, batch, y,
                    options);
}

/// y = W·x: x holds w.shape.cols values, y w.shape.rows. See the file comment for the exact
/// arithmetic. Throws lowbit::error naming `w`'s field (t.…), `x` or `y` on a mismatch.
template <class Elem, std::size_t Block>
void gemv(const mx_tensor<Elem, Block>& w, std::span<const float> x, std::span<float> y,
          const linear_options& options = {}) {
    gemm(w, x, 1, y, options);
}

/// Y = X·Wᵀ for an NVFP4 tensor; row b of y equals gemv of row b of x, bit for bit.
inline void gemm(const nvfp4_tensor& w, std::span<const float> x, std::size_t batch,
                 std::span<float> y, const linear_options& options = {}) {
    w.validate();
    detail_fp4::run(detail_fp4::nv_source(w), detail_fp4::blocks_of(w.shape, nvfp4::block), x,
                    batch, y, options);
}

/// y = W·x for an NVFP4 tensor (see the file comment).
inline void gemv(const nvfp4_tensor& w, std::span<const float> x, std::span<float> y,
                 const linear_options& options = {}) {
    gemm(w, x, 1, y, options);
}

/// The kernel gemv / gemm use for a log tensor under `path`. Throws lowbit::error as gemv does.
template <int B, class ScaleT>
[[nodiscard]] fp4_kernel linear_kernel_for(const log_tensor<B, ScaleT>& w,
                                           backend path = backend::simd) {
    return detail_fp4::with_log_source(w, [&](const auto& src, const detail_ops::row_groups& g) {
        return detail_fp4::kernel_for<std::decay_t<decltype(src)>>(g, path);
    });
}

/// Y = X·Wᵀ for a logarithmic tensor: the integer path of the file comment with L(c) = ±2^(k−1).
/// Row b of y equals gemv of row b of x, bit for bit.
template <int B, class ScaleT>
void gemm(const log_tensor<B, ScaleT>& w, std::span<const float> x, std::size_t batch,
          std::span<float> y, const linear_options& options = {}) {
    detail_fp4::with_log_source(w, [&](const auto& src, const detail_ops::row_groups& g) {
        detail_fp4::run(src, g, x, batch, y, options);
    });
}

/// y = W·x for a logarithmic tensor (see the file comment).
template <int B, class ScaleT>
void gemv(const log_tensor<B, ScaleT>& w, std::span<const float> x, std::span<float> y,
          const linear_options& options = {}) {
    gemm(w, x, 1, y, options);
}

namespace detail_fp4 {

/// Group k of a codebook row as row groups (the scale is the tensor's scale(r·per_row + k)).
template <int Bits>
detail_ops::row_groups groups_of(const codebook_tensor<Bits>& w) {
    detail_ops::row_groups g;
    g.rows = w.shape.rows;
    g.cols = w.shape.cols;
    g.kind = granularity::kind::per_group;
    g.len = std::min(w.group_size, g.cols);
    g.per_row = w.groups_per_row();
    return g;
}

inline fp4_kernel codebook_kernel(const codebook_tensor<4>& w, const detail_ops::row_groups& g,
                                  backend path) {
    if (path != backend::simd || !simd::has_lut_dotf<xsimd::default_arch> ||
        (w.order != nibble_order::low_first && w.order != nibble_order::high_first) ||
        g.cols % 2 != 0 || g.len % 2 != 0)
        return fp4_kernel::scalar;
    return fp4_kernel::simd_lut4f;
}

/// P of group k of row r (see the file comment): the reference for any layout, or
/// simd::dot_lut4f on groups that start on a byte (simd_lut4f).
inline float codebook_group(const codebook_tensor<4>& w, const detail_ops::row_groups& g,
                            fp4_kernel kern, const float* x, std::size_t r, std::size_t k) {
    using Arch = xsimd::default_arch;
    const std::size_t b = g.begin(k), n = g.end(k) - b, e0 = r * g.cols + b;
    const float* table = w.cb.levels.data();
    if (kern == fp4_kernel::simd_lut4f) {
        const std::uint8_t* p = w.packed.data() + e0 / 2;
        return w.order == nibble_order::low_first
            ? simd::dot_lut4f<Arch, nibble_order::low_first>(p, x + b, n, table)
            : simd::dot_lut4f<Arch, nibble_order::high_first>(p, x + b, n, table);
    }
    float acc[16] = {};
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned c = detail_ops::code_at(w.packed.data(), w.size(), e0 + i, 4, w.order);
        acc[i % 16] = acc[i % 16] + mul_unfused(table[c], x[b + i]);
    }
    return simd::scalar::fold16(acc);
}

}  // namespace detail_fp4

/// The kernel gemv / gemm use for a 4-bit codebook tensor under `path`.
template <int Bits>
[[nodiscard]] fp4_kernel linear_kernel_for(const codebook_tensor<Bits>& w,
                                           backend path = backend::simd) {
    static_assert(Bits == 4, "lowbit::ops: the codebook linear layers take 4-bit codebooks");
    w.validate();
    return detail_fp4::codebook_kernel(w, detail_fp4::groups_of(w), path);
}

/// Y = X·Wᵀ for a 4-bit codebook tensor (NF4, …): the float path of the file comment. Row b of
/// y equals gemv of row b of x, bit for bit.
template <int Bits>
void gemm(const codebook_tensor<Bits>& w, std::span<const float> x, std::size_t batch,
          std::span<float> y, const linear_options& options = {}) {
    static_assert(Bits == 4, "lowbit::ops: the codebook linear layers take 4-bit codebooks");
    w.validate();
    const detail_ops::row_groups g = detail_fp4::groups_of(w);
    detail::require(x.size() == detail::checked_mul(batch, g.cols, "x"), "x",
                    "must hold batch · w.shape.cols values (gemv: w.shape.cols)");
    detail::require(y.size() == detail::checked_mul(batch, g.rows, "y"), "y",
                    "must hold batch · w.shape.rows values (gemv: w.shape.rows)");
    detail::require(options.path == backend::scalar || options.path == backend::simd,
                    "options.path", "must be backend::scalar or backend::simd");
    const fp4_kernel kern = detail_fp4::codebook_kernel(w, g, options.path);
    detail::split_items(g.rows, options.threads, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r)
            for (std::size_t b = 0; b < batch; ++b) {
                const float* xb = x.data() + b * g.cols;
                float acc = 0.0f;
                for (std::size_t k = 0; k < g.per_row; ++k)
                    acc = acc +
                        mul_unfused(w.scale(r * g.per_row + k),
                                    detail_fp4::codebook_group(w, g, kern, xb, r, k));
                y[b * g.rows + r] = acc;
            }
    });
}

/// y = W·x for a 4-bit codebook tensor (see the file comment).
template <int Bits>
void gemv(const codebook_tensor<Bits>& w, std::span<const float> x, std::span<float> y,
          const linear_options& options = {}) {
    gemm(w, x, 1, y, options);
}

}  // namespace ops
LOWBIT_NAMESPACE_END
