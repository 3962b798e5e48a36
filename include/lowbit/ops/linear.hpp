// lowbit — quantized linear layers computed on the codes: y = W·x (gemv) and Y = X·Wᵀ (gemm),
// W an int_tensor of an integer format, symmetric (int4_g32 ≈ ggml Q4_0, int8_g32 ≈ Q8_0, …) or
// asymmetric (uint4 with a float minimum ≈ Q4_1, or an integer zero point).
//
//   lowbit::int_quantizer<lowbit::int_format<4, lowbit::int_range::full>> q(
//       {.gran = lowbit::granularity::group(32)});
//   auto w = q.quantize(weights, {out_features, in_features});
//   lowbit::ops::gemv(w, x, y);                        // y[out_features]
//   lowbit::ops::gemm(w, xs, batch, ys, {.threads = 2}); // ys[batch][out_features]
//
// Semantics (the scalar reference; the SIMD path equals it bit for bit, for any thread count):
//   * W is rows × cols, row-major, one scale s_w per group of a row: granularity::group(g)
//     (group k covers columns [k·g, min(k·g + g, cols))), per_channel(0) and per_tensor (one
//     group per row). Per-column scales (per_channel(1)) vary inside a dot product: rejected.
//   * Each activation row is quantized per group of the same columns to int8:
//     a = max |x_i|, s_x = a / 127, q_i = clamp(round_half_even(x_i / s_x), −127, 127), and
//     q = 0 when s_x = 0. A group holding NaN or ±Inf gets s_x = NaN (so its outputs are NaN).
//   * d_k = Σ w_i · q_i over group k, exact in int32, w_i the code's integer value: the signed
//     code (symmetric formats, affine::none), u_i − z_k (affine::zero_point: code u_i, the
//     group's integer zero point z_k) or u_i (affine::offset). Groups are limited to 2^17
//     elements (2^16 for 8-bit unsigned codes) so that it cannot overflow.
//   * y_r = (…((0 + t_0) + t_1) + …) + t_{K−1}, t_k = (s_w,k · s_x,k) · float(d_k), each product
//     rounded to float on its own: groups in order, no reassociation, no FMA. With
//     affine::offset (x̂ = s·u + m) each group adds its minimum's share right after: the running
//     sum becomes (acc + t_k) + (m_k · s_x,k) · float(Σ_i q_i), the zero point handled through
//     the activation group sums rather than per element.
//   Against the exact product dequantize(W)·x the error is at most Σ_k Σ_i |ŵ_i|·s_x,k / 2 (the
//   activation rounding, ŵ the dequantized weight) plus the rounding of the float sum.
//
// Kernels (linear_kernel): 4- and 8-bit codes run on the integer dot primitives
// (simd::gemv8, dot8_i4 / dot8_i8: AVX2 maddubs, AVX-512 VNNI, NEON sdot, SSE2 madd) eight rows
// at a time, when the rows and groups start on byte boundaries (4-bit: even cols and group
// length; ggml_split order: multiples of 32) and a group holds at least one block of 32: fused
// over the row (simd_i4 / simd_i8) when every group is whole 32-blocks, group by group with the
// last columns one at a time otherwise (…_tails). Unsigned codes (asymmetric formats) take the
// same dots on a copy of each 8-row tile whose codes are offset to signed ones (u − 8, u − 128;
// simd_u4 / simd_u8), the offset and zero point added back through the group sums. The last
// rows % 8 rows, other widths and backend::scalar run the reference.
//
// Activations in bf16 or fp16 (Eigen::bfloat16, Eigen::half; every ops/linear*.hpp operator and
// int_linear take a contiguous range of either): each value widens to float exactly, so the
// result is bit for bit the float overload's on the widened values. The widened copy holds the
// activations only (batch · cols floats), never W.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ranges>
#include <span>
#include <type_traits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checked.hpp"
#include "../core/error.hpp"
#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../core/scale_type.hpp"
#include "../core/unfused.hpp"
#include "../formats/int.hpp"
#include "../parallel.hpp"
#include "../quantizers/int.hpp"
#include "../simd/primitives.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace ops {

/// Options of gemv / gemm.
struct linear_options {
    unsigned threads = 1;          ///< output rows split over this many threads (0: one per core)
    backend path = backend::simd;  ///< scalar: the reference, whatever the codes
};

/// The kernel gemv / gemm run for a weight tensor (see linear_kernel_for).
enum class linear_kernel : std::uint8_t {
    scalar,         ///< the reference loop
    simd_i4,        ///< simd::gemv8<4>: eight rows, every group whole 32-blocks
    simd_i8,        ///< simd::gemv8<8>
    simd_i4_tails,  ///< simd::dot8_i4 per group, the groups' last < 32 columns one by one
    simd_i8_tails,  ///< simd::dot8_i8 likewise
    packed_i4,      ///< int_linear<4>: simd::gemv8p<4> on row-interleaved tiles
    packed_i8,      ///< int_linear<8>: simd::gemv8p<8>
    simd_u4,        ///< unsigned 4-bit codes: dot8_i4 per group on a tile offset to signed codes
    simd_u8,        ///< unsigned 8-bit codes likewise
};

/// Whether ops::gemv / ops::gemm multiply tensors of type T (each ops/linear*.hpp header adds
/// its tensor types): the registry (scheme_instance::linear) asks this before it calls them.
template <class T>
inline constexpr bool has_linear = false;
template <class Format, class ScaleT>
inline constexpr bool has_linear<int_tensor<Format, ScaleT>> = true;

/// Activation element types the linear layers take besides float: every value of these widens
/// to float exactly.
template <class T>
concept half_activation = std::is_same_v<T, Eigen::bfloat16> || std::is_same_v<T, Eigen::half>;

/// A contiguous range of bf16 or fp16 activations (std::vector, std::span, std::array, …).
template <class R>
concept half_activations = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    half_activation<std::remove_cv_t<std::ranges::range_value_t<R>>>;

/// Longest group the integer dot accepts: 2^17 · 128 · 127 < 2^31 (half of it for unsigned 8-bit
/// codes, whose |u − z| reaches 255).
inline constexpr std::size_t max_linear_group = std::size_t{1} << 17;

namespace detail_ops {

/// Where the groups of a weight row are and which scale each one uses.
struct row_groups {
    std::size_t rows = 0, cols = 0;
    std::size_t len = 0;      ///< group length (the last group of a row may be shorter)
    std::size_t per_row = 0;  ///< groups per row
    granularity::kind kind = granularity::kind::per_tensor;

    [[nodiscard]] std::size_t begin(std::size_t k) const noexcept { return k * len; }
    [[nodiscard]] std::size_t end(std::size_t k) const noexcept {
        return std::min(begin(k) + len, cols);
    }
    [[nodiscard]] std::size_t scale_index(std::size_t r, std::size_t k) const noexcept {
        switch (kind) {
            case granularity::kind::per_group: return r * per_row + k;
            case granularity::kind::per_channel: return r;
            default: return 0;
        }
    }
};

/// Validates w and describes its groups; throws lowbit::error naming the field it cannot use.
template <class T>
row_groups groups_of(const T& w) {
    w.validate();
    row_groups g;
    g.rows = w.shape.rows;
    g.cols = w.shape.cols;
    g.kind = w.gran.type;
    if (w.gran.type == granularity::kind::per_group) {
        g.len = std::min(w.gran.group_size, g.cols);
        g.per_row = w.gran.groups_per_row(w.shape);
    } else {
        detail::require(w.gran.type != granularity::kind::per_channel || w.gran.axis == 0, "w.gran",
                        "per-column scales (per_channel axis 1) vary inside a row's dot product; "
                        "quantize W per group along its rows (granularity::group) or per row "
                        "(granularity::channel(0))");
        g.len = g.cols;
        g.per_row = g.cols ? 1 : 0;
    }
    if constexpr (!T::format::is_signed && T::bits == 8)
        detail::require(g.len <= max_linear_group / 2, "w.gran",
                        "groups of more than 65536 unsigned 8-bit codes could overflow the int32 "
                        "dot product; quantize W with smaller groups");
    detail::require(g.len <= max_linear_group, "w.gran",
                    "groups of more than 131072 elements could overflow the int32 dot product; "
                    "quantize W with smaller groups");
    return g;
}

/// Code i (of n) of a packed stream, any width and nibble order (core/packing.hpp's layout).
inline unsigned code_at(const std::uint8_t* p, std::size_t n, std::size_t i, int bits,
                        nibble_order order) noexcept {
    if (bits == 8) return p[i];
    if (bits == 4) {
        if (order == nibble_order::ggml_split) {
            const std::size_t base = i / 32 * 32, m = std::min<std::size_t>(32, n - base);
            const std::size_t h = (m + 1) / 2, j = i - base;
            const unsigned byte = p[base / 2 + (j < h ? j : j - h)];
            return j < h ? byte & 0xFu : byte >> 4;
        }
        const bool high = ((i & 1) != 0) != (order == nibble_order::high_first);
        const unsigned byte = p[i / 2];
        return high ? byte >> 4 : byte & 0xFu;
    }
    const std::size_t bit = i * static_cast<std::size_t>(bits), byte = bit / 8;
    unsigned v = p[byte];
    if (bit % 8 + static_cast<std::size_t>(bits) > 8) v |= unsigned(p[byte + 1]) << 8;
    return (v >> (bit % 8)) & ((1u << bits) - 1u);
}

/// One activation row quantized per group (see the file comment).
struct int8_row {
    std::vector<std::int8_t> q;     ///< the codes in column order
    std::vector<std::int8_t> qk;    ///< the same codes in the dot kernels' lane order
    std::vector<float> scale;       ///< s_x per group
    std::vector<std::int32_t> sum;  ///< Σ q per group (int_linear's offset correction)
};

/// Lane l of a 32-code block of the 4-bit kernels reads the nibble of byte l mod 16 (low for
/// l < 16): the column offset within the block that nibble holds in `order`.
inline std::size_t lane_column(std::size_t l, nibble_order order) noexcept {
    if (order == nibble_order::ggml_split) return l;
    const std::size_t byte = l % 16;
    const bool low = l < 16;
    return 2 * byte + ((order == nibble_order::low_first) == low ? 0 : 1);
}

/// Quantizes x[0 … cols) per group of g into a; `kernel_order` also fills a.qk for the 4-bit
/// (`bits` = 4, `order`) or 8-bit kernels.
inline void quantize_activations(const float* x, const row_groups& g, int bits, nibble_order order,
                                 bool kernel_order, int8_row& a) {
    a.q.assign(g.cols, 0);
    a.scale.assign(g.per_row, 0.0f);
    for (std::size_t k = 0; k < g.per_row; ++k) {
        const std::size_t b = g.begin(k), e = g.end(k);
        float amax = 0.0f;
        bool finite = true;
        for (std::size_t i = b; i < e; ++i) {
            if (!std::isfinite(x[i]))
                finite = false;
            else
                amax = std::max(amax, std::fabs(x[i]));
        }
        const float s = finite ? amax / 127.0f : std::numeric_limits<float>::quiet_NaN();
        a.scale[k] = s;
        if (!(s > 0.0f)) continue;  // zero, NaN: every q stays 0
        for (std::size_t i = b; i < e; ++i) {
            const float r = std::clamp(std::nearbyint(x[i] / s), -127.0f, 127.0f);
            a.q[i] = static_cast<std::int8_t>(r);
        }
    }
    a.sum.assign(g.per_row, 0);
    for (std::size_t k = 0; k < g.per_row; ++k)
        for (std::size_t i = g.begin(k); i < g.end(k); ++i) a.sum[k] += a.q[i];
    if (!kernel_order) return;
    a.qk = a.q;
    if (bits != 4 || order == nibble_order::ggml_split) return;
    for (std::size_t k = 0; k < g.per_row; ++k)
        for (std::size_t b = g.begin(k); b + 32 <= g.end(k); b += 32)
            for (std::size_t l = 0; l < 32; ++l) a.qk[b + l] = a.q[b + lane_column(l, order)];
}

/// The reference dot of weight row r with one activation row.
template <class Format, class ScaleT>
float row_reference(const int_tensor<Format, ScaleT>& w, const row_groups& g, const int8_row& a,
                    std::size_t r) noexcept {
    const std::uint8_t* p = w.packed.data();
    const std::size_t n = w.size(), row0 = r * g.cols;
    float acc = 0.0f;
    for (std::size_t k = 0; k < g.per_row; ++k) {
        const std::size_t slot = g.scale_index(r, k);
        const int z = w.form == affine::zero_point ? int(w.zero_points[slot]) : 0;
        std::int32_t d = 0;
        for (std::size_t i = g.begin(k); i < g.end(k); ++i)
            d += (Format::to_int(static_cast<code_t<Format::bits>>(
                      code_at(p, n, row0 + i, Format::bits, w.order))) -
                  z) *
                a.q[i];
        const float f = load_scale(w.scales[slot]) * a.scale[k];
        acc = acc + mul_unfused(f, float(d));
        if (w.form == affine::offset)
            acc = acc + mul_unfused(load_scale(w.offsets[slot]) * a.scale[k], float(a.sum[k]));
    }
    return acc;
}

/// x widened to float (exact for bf16 and fp16).
template <half_activations R>
std::vector<float> widen(const R& x) {
    const auto* p = std::ranges::data(x);
    std::vector<float> f(std::ranges::size(x));
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(p[i]);
    return f;
}

/// The prepared layers' GEMM (int_linear, lut_linear): checks x, y and the path, quantizes each
/// activation row per group of g (after transform(row), on a copy, when a transform is given),
/// then for each tile of 8 weight rows calls tile_kernel(t, rows, m) with up to 16 activation
/// rows (so that each tile load serves them all) and stores the 8 outputs of each row that
/// exist.
template <class TileKernel, class RowTransform = std::nullptr_t>
void tiled_gemm(const row_groups& g, std::span<const float> x, std::size_t batch,
                std::span<float> y, const linear_options& options, TileKernel&& tile_kernel,
                RowTransform&& transform = nullptr) {
    detail::require(x.size() == detail::checked_mul(batch, g.cols, "x"), "x",
                    "must hold batch · cols values (gemv: cols)");
    detail::require(y.size() == detail::checked_mul(batch, g.rows, "y"), "y",
                    "must hold batch · rows values (gemv: rows)");
    detail::require(options.path == backend::scalar || options.path == backend::simd,
                    "options.path", "must be backend::scalar or backend::simd");
    std::vector<int8_row> act(batch);
    std::vector<float> row;
    for (std::size_t b = 0; b < batch; ++b) {
        const float* xb = x.data() + b * g.cols;
        if constexpr (!std::is_null_pointer_v<std::remove_cvref_t<RowTransform>>) {
            row.assign(xb, xb + g.cols);
            transform(row.data());
            xb = row.data();
        }
        quantize_activations(xb, g, 8, nibble_order::low_first, false, act[b]);
    }
    constexpr std::size_t rows_per_call = 16;
    detail::split_items((g.rows + 7) / 8, options.threads, [&](std::size_t t0, std::size_t t1) {
        alignas(32) float out[rows_per_call][8];
        simd::gemv8p_row rows[rows_per_call];
        for (std::size_t t = t0; t < t1; ++t)
            for (std::size_t b0 = 0; b0 < batch; b0 += rows_per_call) {
                const std::size_t m = std::min(rows_per_call, batch - b0);
                for (std::size_t j = 0; j < m; ++j) {
                    const auto& a = act[b0 + j];
                    std::fill(out[j], out[j] + 8, 0.0f);
                    rows[j] = {a.q.data(), a.sum.data(), a.scale.data(), out[j]};
                }
                tile_kernel(t, rows, m);
                for (std::size_t j = 0; j < m; ++j)
                    for (std::size_t i = 0; i < 8 && 8 * t + i < g.rows; ++i)
                        y[(b0 + j) * g.rows + 8 * t + i] = out[j][i];
            }
    });
}

/// Which kernel runs w under `path` (see linear_kernel_for).
template <class Format, class ScaleT>
linear_kernel kernel_for(const int_tensor<Format, ScaleT>& w, const row_groups& g, backend path) {
    using Arch = xsimd::default_arch;
    if constexpr (Format::bits != 4 && Format::bits != 8) {
        return linear_kernel::scalar;
    } else {
        if (path != backend::simd || !simd::has_int_dot<Arch> || g.len < 32)
            return linear_kernel::scalar;
        const bool whole = g.cols % 32 == 0 && g.len % 32 == 0;
        if constexpr (Format::bits == 8) {
            if constexpr (!Format::is_signed) return linear_kernel::simd_u8;
            return whole ? linear_kernel::simd_i8 : linear_kernel::simd_i8_tails;
        } else {
            const std::size_t align = w.order == nibble_order::ggml_split ? 32 : 2;
            if (g.cols % align != 0 || g.len % align != 0) return linear_kernel::scalar;
            if constexpr (!Format::is_signed) return linear_kernel::simd_u4;
            return whole ? linear_kernel::simd_i4 : linear_kernel::simd_i4_tails;
        }
    }
}

/// The integer an unsigned code is offset by to become a signed one of the same width.
template <class Format>
inline constexpr int code_offset = Format::is_signed ? 0 : 1 << (Format::bits - 1);

/// Rows [r, r + 8) against one activation row, group by group on the dot primitives (any
/// group length of at least one block; the tails column by column). `codes` holds the tile's
/// rows `stride` bytes apart as signed codes: w's own (signed formats) or w's unsigned codes
/// minus code_offset (tile_signed); `zw` / `mw` the tile's zero points / minima group-major
/// like `sw` (affine::zero_point / affine::offset only).
template <class Arch, class Format, class ScaleT>
void tile8_tails(const int_tensor<Format, ScaleT>& w, const row_groups& g, const int8_row& a,
                 std::size_t r, const std::uint8_t* codes, const float* sw, const std::int32_t* zw,
                 const float* mw, float* y) noexcept {
    constexpr int bits = Format::bits, off = code_offset<Format>;
    const std::size_t stride = g.cols * bits / 8, n = w.size();
    const std::uint8_t* p = w.packed.data();
    alignas(32) float f[8];
    alignas(32) std::int32_t d[8];
    for (std::size_t k = 0; k < g.per_row; ++k) {
        const std::size_t b = g.begin(k), e = g.end(k), blocks = (e - b) / 32;
        const std::uint8_t* base = codes + b * bits / 8;
        if constexpr (bits == 4)
            simd::dot8_i4<Arch>(base, stride, a.qk.data() + b, blocks, d);
        else
            simd::dot8_i8<Arch>(base, stride, a.qk.data() + b, blocks, d);
        // The group's tail, exact integers too. 8-bit: from the tile's signed bytes (u − off
        // for unsigned codes), sign-extended by arithmetic as simd::scalar::dot8_i8 does, so
        // that no widening byte-product idiom is inferred from a conversion.
        if constexpr (bits == 8) {
            for (std::size_t j = 0; j < 8; ++j) {
                const std::uint8_t* row = codes + j * stride;
                std::int32_t s = 0;
                for (std::size_t i = b + 32 * blocks; i < e; ++i) {
                    const int byte = row[i];
                    s += (byte - ((byte & 0x80) << 1)) * a.q[i];
                }
                d[j] += s;
            }
        } else {
            for (std::size_t i = b + 32 * blocks; i < e; ++i)
                for (std::size_t j = 0; j < 8; ++j)
                    d[j] += (Format::to_int(static_cast<code_t<bits>>(
                                 code_at(p, n, (r + j) * g.cols + i, bits, w.order))) -
                             off) *
                        a.q[i];
        }
        if constexpr (off != 0) {
            // Σ (u − z)·q = Σ (u − off)·q + (off − z)·Σ q: exact, every term within int32.
            for (std::size_t j = 0; j < 8; ++j) d[j] += (off - (zw ? zw[8 * k + j] : 0)) * a.sum[k];
        }
        for (std::size_t j = 0; j < 8; ++j) f[j] = sw[8 * k + j] * a.scale[k];
        simd::scale_add8<Arch>(y, f, d);
        if (mw) {
            for (std::size_t j = 0; j < 8; ++j) {
                f[j] = mw[8 * k + j] * a.scale[k];
                d[j] = a.sum[k];
            }
            simd::scale_add8<Arch>(y, f, d);
        }
    }
}

/// Rows [r, r + 8) of w's unsigned codes as signed ones (u − code_offset) into buf, each row
/// `stride` bytes: flipping the top bit of every code (0x88 per byte for nibbles, 0x80 for
/// bytes) subtracts the offset in two's complement, whatever the nibble order.
template <class Format, class ScaleT>
void tile_signed(const int_tensor<Format, ScaleT>& w, std::size_t r, std::size_t stride,
                 std::vector<std::uint8_t>& buf) {
    buf.resize(8 * stride);
    const std::uint8_t flip = Format::bits == 4 ? 0x88 : 0x80;
    const std::uint8_t* p = w.packed.data() + r * stride;
    for (std::size_t i = 0; i < 8 * stride; ++i) buf[i] = p[i] ^ flip;
}

/// Y[b][r] = row r of W · activation row b for batch rows [0, batch) and weight rows
/// [r0, r1), r0 a multiple of 8.
template <class Format, class ScaleT>
void rows(const int_tensor<Format, ScaleT>& w, const row_groups& g, linear_kernel kern,
          const std::vector<int8_row>& act, std::size_t r0, std::size_t r1, float* y) {
    using Arch = xsimd::default_arch;
    std::size_t r = r0;
    if constexpr (Format::bits == 4 || Format::bits == 8) {
        if (kern != linear_kernel::scalar) {
            // The tile's scales as floats, group-major: sw[8·k + j] for row r + j; likewise
            // its zero points (zw) or minima (mw) for asymmetric formats.
            const bool zp = w.form == affine::zero_point, offs = w.form == affine::offset;
            std::vector<float> sw(8 * g.per_row), mw(offs ? 8 * g.per_row : 0);
            std::vector<std::int32_t> zw(zp ? 8 * g.per_row : 0);
            std::vector<std::uint8_t> buf;
            const std::size_t stride = g.cols * Format::bits / 8;
            const std::size_t step = g.kind == granularity::kind::per_group ? 1 : 0;
            for (; r + 8 <= r1; r += 8) {
                for (std::size_t j = 0; j < 8; ++j)
                    for (std::size_t k = 0; k < g.per_row; ++k) {
                        const std::size_t slot = g.scale_index(r + j, 0) + k * step;
                        sw[8 * k + j] = load_scale(w.scales[slot]);
                        if (zp) zw[8 * k + j] = w.zero_points[slot];
                        if (offs) mw[8 * k + j] = load_scale(w.offsets[slot]);
                    }
                const std::uint8_t* codes = w.packed.data() + r * stride;
                if constexpr (!Format::is_signed) {
                    tile_signed(w, r, stride, buf);
                    codes = buf.data();
                }
                for (std::size_t b = 0; b < act.size(); ++b) {
                    alignas(32) float t[8] = {};
                    if (kern == linear_kernel::simd_i4 || kern == linear_kernel::simd_i8)
                        simd::gemv8<Arch, Format::bits>(codes, stride, act[b].qk.data(),
                                                        act[b].scale.data(), sw.data(), g.cols,
                                                        g.len, t);
                    else
                        tile8_tails<Arch>(w, g, act[b], r, codes, sw.data(),
                                          zp ? zw.data() : nullptr, offs ? mw.data() : nullptr, t);
                    for (std::size_t j = 0; j < 8; ++j) y[b * g.rows + r + j] = t[j];
                }
            }
        }
    }
    for (; r < r1; ++r)
        for (std::size_t b = 0; b < act.size(); ++b)
            y[b * g.rows + r] = row_reference(w, g, act[b], r);
}

template <class Format, class ScaleT>
void run(const int_tensor<Format, ScaleT>& w, std::span<const float> x, std::size_t batch,
         std::span<float> y, const linear_options& o) {
    const row_groups g = groups_of(w);
    detail::require(x.size() == detail::checked_mul(batch, g.cols, "x"), "x",
                    "must hold batch · w.shape.cols values (gemv: w.shape.cols)");
    detail::require(y.size() == detail::checked_mul(batch, g.rows, "y"), "y",
                    "must hold batch · w.shape.rows values (gemv: w.shape.rows)");
    detail::require(o.path == backend::scalar || o.path == backend::simd, "options.path",
                    "must be backend::scalar or backend::simd");
    const linear_kernel kern = kernel_for(w, g, o.path);
    std::vector<int8_row> act(batch);
    for (std::size_t b = 0; b < batch; ++b)
        quantize_activations(x.data() + b * g.cols, g, Format::bits, w.order,
                             kern != linear_kernel::scalar, act[b]);
    const std::size_t tiles = (g.rows + 7) / 8;
    detail::split_items(tiles, o.threads, [&](std::size_t t0, std::size_t t1) {
        rows(w, g, kern, act, 8 * t0, std::min(8 * t1, g.rows), y.data());
    });
}

}  // namespace detail_ops

/// The kernel gemv / gemm use for w under `path` (tests check that the fast path is taken).
/// Throws lowbit::error as gemv does when w is invalid or its granularity unusable.
template <class Format, scale_storage ScaleT>
[[nodiscard]] linear_kernel linear_kernel_for(const int_tensor<Format, ScaleT>& w,
                                              backend path = backend::simd) {
    return detail_ops::kernel_for(w, detail_ops::groups_of(w), path);
}

/// y = W·x: x holds w.shape.cols values, y w.shape.rows. See the file comment for the exact
/// arithmetic. Throws lowbit::error naming `w`'s field, `x` or `y` on a mismatch.
template <class Format, scale_storage ScaleT>
void gemv(const int_tensor<Format, ScaleT>& w, std::span<const float> x, std::span<float> y,
          const linear_options& options = {}) {
    detail_ops::run(w, x, 1, y, options);
}

/// Y = X·Wᵀ for `batch` rows: x is batch × w.shape.cols, y batch × w.shape.rows, both
/// row-major. Row b of y equals gemv of row b of x, bit for bit.
template <class Format, scale_storage ScaleT>
void gemm(const int_tensor<Format, ScaleT>& w, std::span<const float> x, std::size_t batch,
          std::span<float> y, const linear_options& options = {}) {
    detail_ops::run(w, x, batch, y, options);
}

/// Y = X·Wᵀ with bf16 or fp16 activations, for every W that has_linear: bit for bit the float
/// overload on X widened to float (see the file comment).
template <class W, half_activations X>
    requires has_linear<W>
void gemm(const W& w, const X& x, std::size_t batch, std::span<float> y,
          const linear_options& options = {}) {
    const std::vector<float> xf = detail_ops::widen(x);
    gemm(w, std::span<const float>(xf), batch, y, options);
}

/// y = W·x with bf16 or fp16 activations (see gemm above).
template <class W, half_activations X>
    requires has_linear<W>
void gemv(const W& w, const X& x, std::span<float> y, const linear_options& options = {}) {
    gemm(w, x, 1, y, options);
}

namespace detail_ops {
/// The entry points a prepared layer (int_linear, lut_linear) derives from its float gemm:
/// gemv as a batch of one, bf16 / fp16 activations widened to float first (exact). Layer
/// brings the bf16 / fp16 gemm into scope beside its own (`using prepared_entry_points::gemm`).
template <class Layer>
class prepared_entry_points {
public:
    /// y = W·x, bit for bit ops::gemv on the tensor the layer was built from.
    void gemv(std::span<const float> x, std::span<float> y,
              const linear_options& options = {}) const {
        layer().gemm(x, 1, y, options);
    }
    template <half_activations X>
    void gemv(const X& x, std::span<float> y, const linear_options& options = {}) const {
        gemm(x, 1, y, options);
    }
    template <half_activations X>
    void gemm(const X& x, std::size_t batch, std::span<float> y,
              const linear_options& options = {}) const {
        const std::vector<float> xf = widen(x);
        layer().gemm(std::span<const float>(xf), batch, y, options);
    }

private:
    const Layer& layer() const noexcept { return static_cast<const Layer&>(*this); }
};
}  // namespace detail_ops

/// W prepared for repeated products: its codes re-laid in row-interleaved tiles of 8 rows
/// (simd::scalar::tile8p: one load holds 4 codes of each row, so the SIMD lanes accumulate
/// the rows' dots with no horizontal sums) and its scales as floats, tile by tile. gemv and
/// gemm give exactly the bits of ops::gemv / ops::gemm on the tensor it was built from; the
/// layout costs one pass over W when it is built and, for 4-bit codes with fp16 scales,
/// 2 bytes more per 32 weights (float scales).
///
/// Needs a Bits-bit int_tensor (Bits 4 or 8) whose rows and groups are whole 32-column blocks
/// (cols and the group length multiples of 32); the last tile is padded with zero rows.
/// Unsigned codes are stored as signed ones (u − 8, u − 128) and their zero points or minima
/// kept per tile and group (simd::gemv8p_affine), which add back exactly what ops::gemv does.
/// The kernel is hand-written for AVX2, AVX-512 (VNNI where present) and NEON with the
/// dot-product extension; other targets run its scalar form (ops::gemv's SIMD path is then the
/// faster choice).
template <int Bits>
class int_linear : public detail_ops::prepared_entry_points<int_linear<Bits>> {
    static_assert(Bits == 4 || Bits == 8, "lowbit::ops::int_linear<Bits>: Bits must be 4 or 8");

public:
    using detail_ops::prepared_entry_points<int_linear<Bits>>::gemm;

    template <class Format, scale_storage ScaleT>
    explicit int_linear(const int_tensor<Format, ScaleT>& w) : g_(detail_ops::groups_of(w)) {
        static_assert(Format::bits == Bits,
                      "lowbit::ops::int_linear<Bits>: W must use an integer format of Bits bits");
        detail::require(g_.cols % 32 == 0, "w.shape",
                        "int_linear needs cols to be a multiple of 32 (ops::gemv takes any)");
        detail::require(g_.len % 32 == 0, "w.gran",
                        "int_linear needs the group length to be a multiple of 32 (ops::gemv "
                        "takes any)");
        using T = simd::scalar::tile8p<Bits>;
        const std::size_t tiles = (g_.rows + 7) / 8, blocks = g_.cols / 32;
        tile_bytes_ = blocks * T::bytes;
        codes_.assign(tiles * tile_bytes_, Bits == 4 ? 0x88 : 0x00);  // padding rows: code 0
        scales_.assign(tiles * 8 * g_.per_row, 0.0f);
        constexpr int off = detail_ops::code_offset<Format>;
        affine_ = !Format::is_signed;
        if (w.form == affine::zero_point) zc_.assign(tiles * 8 * g_.per_row, 0);
        if (w.form == affine::offset) {
            zc_all_ = off;  // Σ u·q = Σ (u − off)·q + off·Σ q
            mw_.assign(tiles * 8 * g_.per_row, 0.0f);
        }
        const std::uint8_t* p = w.packed.data();
        const std::size_t n = w.size();
        for (std::size_t r = 0; r < g_.rows; ++r) {
            const std::size_t t = r / 8, i = r % 8;
            for (std::size_t k = 0; k < g_.per_row; ++k) {
                const std::size_t slot = g_.scale_index(r, k), at = (t * g_.per_row + k) * 8 + i;
                scales_[at] = load_scale(w.scales[slot]);
                if (!zc_.empty()) zc_[at] = off - int(w.zero_points[slot]);
                if (!mw_.empty()) mw_[at] = load_scale(w.offsets[slot]);
            }
            for (std::size_t c = 0; c < g_.cols; ++c) {
                const int v = Format::to_int(static_cast<code_t<Bits>>(
                                  detail_ops::code_at(p, n, r * g_.cols + c, Bits, w.order))) -
                    off;
                std::uint8_t* blk = codes_.data() + t * tile_bytes_ + c / 32 * T::bytes;
                const std::size_t j = c % 32;
                if constexpr (Bits == 8) {
                    blk[32 * (j / 4) + 4 * i + j % 4] = static_cast<std::uint8_t>(v);
                } else {
                    std::uint8_t& b = blk[32 * (j % 16 / 4) + 4 * i + j % 4];
                    const unsigned u = static_cast<unsigned>(v + 8);
                    b = static_cast<std::uint8_t>(j < 16 ? (b & 0xF0u) | u
                                                         : (b & 0x0Fu) | (u << 4));
                }
            }
        }
    }

    [[nodiscard]] shape2d shape() const noexcept { return {g_.rows, g_.cols}; }
    /// Bytes the prepared codes and scales occupy.
    [[nodiscard]] std::size_t storage_bytes() const noexcept {
        return codes_.size() + (scales_.size() + mw_.size()) * sizeof(float) +
            zc_.size() * sizeof(std::int32_t);
    }
    /// The kernel gemv / gemm run under `path`.
    [[nodiscard]] linear_kernel kernel(backend path = backend::simd) const noexcept {
        if (path == backend::simd && simd::has_packed_dot<xsimd::default_arch>)
            return Bits == 4 ? linear_kernel::packed_i4 : linear_kernel::packed_i8;
        return linear_kernel::scalar;
    }

    /// Y = X·Wᵀ for `batch` rows, bit for bit ops::gemm on the tensor this was built from
    /// (gemv and the bf16 / fp16 entry points: detail_ops::prepared_entry_points).
    void gemm(std::span<const float> x, std::size_t batch, std::span<float> y,
              const linear_options& options = {}) const {
        const bool fast = kernel(options.path) != linear_kernel::scalar;
        detail_ops::tiled_gemm(g_, x, batch, y, options,
                               [&](std::size_t t, const simd::gemv8p_row* rows, std::size_t m) {
                                   const std::uint8_t* tile = codes_.data() + t * tile_bytes_;
                                   const std::size_t at = t * 8 * g_.per_row;
                                   const simd::gemv8p_affine aff{
                                       zc_.empty() ? nullptr : zc_.data() + at, zc_all_,
                                       mw_.empty() ? nullptr : mw_.data() + at};
                                   const simd::gemv8p_affine* ap = affine_ ? &aff : nullptr;
                                   if (fast)
                                       simd::gemm8p<xsimd::default_arch, Bits>(
                                           tile, rows, m, scales_.data() + at, g_.cols, g_.len, ap);
                                   else
                                       simd::scalar::gemm8p<Bits>(
                                           tile, rows, m, scales_.data() + at, g_.cols, g_.len, ap);
                               });
    }

private:
    detail_ops::row_groups g_;
    std::size_t tile_bytes_ = 0;
    std::vector<std::uint8_t> codes_;  ///< tiles of 8 rows, blocks of simd::scalar::tile8p
    std::vector<float> scales_;        ///< [tile][group][row of the tile]
    bool affine_ = false;              ///< unsigned codes: the gemv8p_affine terms apply
    std::vector<std::int32_t> zc_;     ///< affine::zero_point: off − z, laid out as scales_
    std::int32_t zc_all_ = 0;          ///< affine::offset: off for every row and group
    std::vector<float> mw_;            ///< affine::offset: the minima, laid out as scales_
};

}  // namespace ops
LOWBIT_NAMESPACE_END
