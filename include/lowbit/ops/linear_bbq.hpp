// lowbit — quantized linear layers computed on BBQ / QuEST codes: y = W·x (gemv) and Y = X·Wᵀ
// (gemm), W a bbq_tensor (quantizers/bbq.hpp) of any width 1 … 8, code emission, zero point,
// σ source and Hadamard block.
//
//   lowbit::bbq_quantizer<4> q;                        // H = 128, INT4 codes
//   auto w = q.quantize(weights, {out_features, in_features});
//   lowbit::ops::gemv(w, x, y);                        // y[out_features] ≈ dequantize(w)·x
//   lowbit::ops::gemm(w, xs, batch, ys, {.threads = 2});
//
// Why the rotation moves to the activations: the quantizer codes the rows of W after the
// blockwise transform Ĥ of transform/hadamard.hpp (Ĥ_h = H_h/√h per block, the row covered by
// blocks of H and the tail's powers of two), so a decoded row is ŵ = Ĥ·(s·ℓ), ℓ the levels.
// Ĥ is orthonormal and symmetric (Ĥᵀ = Ĥ = Ĥ⁻¹), hence ŵ·x = (Ĥ·s·ℓ)·x = (s·ℓ)·(Ĥ·x): one
// transform per activation row, x' = Ĥ·x, replaces one per weight row, and no factor is left
// over (the transform carries its own 1/√h, the same one the quantizer applied). Tensors made
// with hadamard = 0 skip it. The product is always the one with W in the input domain
// (dequantize with to_input = true), whatever the tensor's opt.to_input says.
//
// Semantics (the scalar reference; the SIMD path equals it bit for bit, for any thread count):
//   * x' = Ĥ·x in float, exactly as reference::hadamard_rows computes it (simd::hadamard_row, its
//     bit-exact twin, on the SIMD path). A block holding NaN or ±Inf, or whose butterflies
//     overflow (|x| near 2^128 / h), turns non-finite, and so do its groups below.
//   * x' is quantized to int8 per group of 32 columns (bbq_activation_group: group k covers
//     [32k, min(32k + 32, cols))), as ops/linear.hpp does: a = max |x'_i|, s_x = a / 127,
//     a_i = clamp(round_half_even(x'_i / s_x), −127, 127), a_i = 0 when s_x = 0; a group holding
//     NaN or ±Inf gets s_x = NaN, so every output of that activation row is NaN.
//   * Code c of W reads as the integer q(c) = ⌊ℓ(c) + z⌋, ℓ = w.level_of_code (what dequantize
//     decodes) and z the zero point (0, or −½ for opt.zero = half, which QuEST always has), and
//     as the level q(c) − z. For every code the quantizer emits this is ℓ(c) itself: q is the
//     signed level q_u − 2^{B−1}. (The table entries of codes it never emits, the E2M1 patterns
//     off the grid, are 0 and read as −½ under z = −½.) Every entry must give −128 <= q <= 127.
//   * Per group: d_k = Σ q_i·a_i (exact int32); z = 0: D_k = d_k; z = −½: D_k = 2·d_k + Σ a_i
//     = Σ (2q_i + 1)·a_i, exact (|D_k| <= 255·127·32 < 2^24, so float(D_k) is exact too). The
//     half-integer levels cost one integer multiply-add per group, never one per element.
//   * ŝ_r = s_r (z = 0) or float(s_r · ½) (z = −½), s_r the row's decode step (w.scales: per row
//     for sigma_source::per_row, else the tensor's one).
//   * y_r = (…((0 + t_0) + t_1) + …) + t_{K−1}, t_k = (ŝ_r · s_x,k) · float(D_k), each product
//     rounded to float on its own (mul_unfused): groups in order, no reassociation, no FMA.
//
// Error bound against the exact product of dequantize(W) (to_input = true) and x, per row, to
// first order in u = 2^−24 (ℓ_i the levels of the row, h the largest block, K the groups):
//   |y_r − dequantize(W)_r·x| <= Σ_k |s_r|·s_x,k·Σ_{i∈k} |ℓ_i| / 2        (activation rounding)
//                              + 2·(log2 h + 2)·u·|s_r|·‖ℓ‖₂·‖x‖₂         (x' and dequantize's
//                                                                          float transforms)
//                              + (K + 2)·u·Σ_k |t_k|                       (scales and the sum)
// (for z = −½ and |s_r| < 2^−125 the halving of s_r adds up to one subnormal ulp per term).
//
// Kernels (linear_kernel, linear_kernel_for): on a family with integer dots (simd::has_int_dot)
// and at least 32 columns, eight rows at a time on the dot primitives; the last rows % 8 rows
// and backend::scalar run the reference. The codes reach the primitives by the cheapest way the
// decode table allows (checked on the table, so every emission stays exact):
//   * 4-bit codes with even cols, every q in −8 … 7: the 4-bit dots (simd_i4*), activations in
//     the kernels' lane order for low_first or high_first. int_b codes are the kernels' signed
//     nibbles and are read in place; index codes (q_u, INT4 with the top bit flipped) are XORed
//     with 0x88 into a tile buffer; any other table (E2M1) goes through a byte → byte table.
//   * 8-bit codes: the 8-bit dots (simd_i8*), int_b in place, index XOR 0x80, else a table.
//   * other widths (and 4-bit codes with odd cols or a q outside −8 … 7): the tile's codes
//     unpacked and mapped to signed bytes of q (int_b and index by word arithmetic, anything
//     else by table), then the 8-bit dots.
// simd_i4 / simd_i8 (simd::gemv8, fused over the row) when cols % 32 = 0 and z = 0; the …_tails
// kernels otherwise (simd::dot8_i4 / dot8_i8 per group, the group sums folded in for z = −½,
// simd::scale_add8; the last cols % 32 columns one at a time).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checked.hpp"
#include "../core/error.hpp"
#include "../core/packing.hpp"
#include "../core/unfused.hpp"
#include "../parallel.hpp"
#include "../quantizers/bbq.hpp"
#include "../simd/hadamard.hpp"
#include "../simd/packing.hpp"
#include "../simd/primitives.hpp"
#include "../transform/hadamard.hpp"
#include "linear.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace ops {

/// Columns per int8 activation group of the BBQ / QuEST products (the dot primitives' block).
inline constexpr std::size_t bbq_activation_group = 32;

namespace detail_bbq {

/// How the codes of a tile reach the integer dots (see the file comment).
enum class code_path : std::uint8_t {
    scalar,   ///< the reference
    direct4,  ///< 4-bit bytes read in place: they are the kernels' signed nibbles
    flip4,    ///< 4-bit index codes, XOR 0x88 into the tile buffer
    table4,   ///< 4-bit codes through a byte → byte table into the tile buffer
    direct8,  ///< 8-bit bytes read in place (two's complement of q)
    flip8,    ///< 8-bit index codes, XOR 0x80
    table8,   ///< 8-bit codes through a table
    unpack8,  ///< any width: unpacked, each code mapped to the signed byte of q
};

/// What the decode table makes of the codes.
enum class code_map : std::uint8_t {
    signed_codes,  ///< q(c) = c as a CB-bit two's complement (int_b emission)
    index_codes,   ///< q(c) = c − 2^{CB−1} (index emission)
    table,         ///< anything else (E2M1, a table from elsewhere): looked up
};

/// What one call needs to know about W, computed once from the tensor.
struct plan {
    detail_ops::row_groups g;  ///< activation groups: 32 columns (the last may be shorter)
    std::size_t hadamard = 0;
    nibble_order order = nibble_order::low_first;
    bool half = false;                         ///< z = −½: D = 2·d + Σa
    std::array<std::int8_t, 256> q{};          ///< q(c) of every code c < 2^code_bits
    std::array<std::uint8_t, 256> byte_map{};  ///< table4 / table8: packed byte → kernel byte
    code_map map = code_map::table;
    code_path path = code_path::scalar;
    linear_kernel kern = linear_kernel::scalar;

    [[nodiscard]] bool four_bit() const noexcept {
        return path == code_path::direct4 || path == code_path::flip4 || path == code_path::table4;
    }
    [[nodiscard]] bool fused() const noexcept {
        return kern == linear_kernel::simd_i4 || kern == linear_kernel::simd_i8;
    }
};

/// Validates w and plans the product under `path`; throws lowbit::error naming the field of w
/// it cannot use.
template <int CB>
plan make_plan(const bbq_tensor<CB>& w, backend path) {
    w.validate();
    plan p;
    p.g.rows = w.shape.rows;
    p.g.cols = w.shape.cols;
    p.g.kind = granularity::kind::per_group;
    p.g.len = std::min(bbq_activation_group, p.g.cols);
    p.g.per_row = (p.g.cols + bbq_activation_group - 1) / bbq_activation_group;
    p.hadamard = w.opt.hadamard;
    p.order = w.opt.order;
    p.half = w.opt.zero == bbq_zero::half;

    constexpr int top = 1 << (CB - 1);
    bool is_signed = true, is_index = true, fits4 = true;
    for (int c = 0; c < (1 << CB); ++c) {
        const float v = p.half ? w.level_of_code[c] - 0.5f : w.level_of_code[c];
        detail::require(std::isfinite(v) && v >= -128.0f && v < 128.0f, "w.level_of_code",
                        "every code's level must be finite, with floor(level + z) in -128 … 127");
        const int q = static_cast<int>(std::floor(v));
        p.q[c] = static_cast<std::int8_t>(q);
        is_signed = is_signed && q == (c ^ top) - top;  // two's complement of CB bits
        is_index = is_index && q == c - top;
        fits4 = fits4 && q >= -8 && q <= 7;
    }
    p.map = is_signed ? code_map::signed_codes : is_index ? code_map::index_codes : code_map::table;
    if (path != backend::simd || !simd::has_int_dot<xsimd::default_arch> || p.g.cols < 32) return p;
    if (CB == 8) {
        p.path = is_signed ? code_path::direct8 : is_index ? code_path::flip8 : code_path::table8;
        for (int b = 0; b < 256; ++b) p.byte_map[b] = static_cast<std::uint8_t>(p.q[b]);
    } else if (CB == 4 && p.g.cols % 2 == 0 && fits4) {
        p.path = is_signed ? code_path::direct4 : is_index ? code_path::flip4 : code_path::table4;
        for (int b = 0; b < 256; ++b)
            p.byte_map[b] =
                static_cast<std::uint8_t>((p.q[b & 0xF] & 0xF) | ((p.q[b >> 4] & 0xF) << 4));
    } else {
        p.path = code_path::unpack8;
    }
    const bool whole = p.g.cols % 32 == 0 && !p.half;
    if (p.four_bit())
        p.kern = whole ? linear_kernel::simd_i4 : linear_kernel::simd_i4_tails;
    else
        p.kern = whole ? linear_kernel::simd_i8 : linear_kernel::simd_i8_tails;
    return p;
}

/// ŝ_r: the decode step of row r, halved for z = −½ (D counts half-levels).
template <int CB>
float step_of(const bbq_tensor<CB>& w, const plan& p, std::size_t r) noexcept {
    if (w.scales.empty()) return 0.0f;  // an empty tensor: no group reads it
    const float s = w.scales[w.opt.sigma_from == sigma_source::per_row ? r : 0];
    return p.half ? s * 0.5f : s;
}

/// One activation row: x' = Ĥ·x (scalar: the reference transform; simd: its twin), then the
/// int8 groups, in the kernels' lane order where a SIMD path runs.
inline void prepare_row(const float* x, const plan& p, backend b, std::vector<float>& tmp,
                        detail_ops::int8_row& a) {
    const std::size_t cols = p.g.cols;
    const float* src = x;
    if (p.hadamard != 0 && cols != 0) {
        tmp.assign(x, x + cols);
        if (b == backend::simd)
            simd::hadamard_row(tmp.data(), cols, p.hadamard);
        else
            reference::hadamard_rows(tmp.data(), {1, cols}, p.hadamard);
        src = tmp.data();
    }
    detail_ops::quantize_activations(src, p.g, p.four_bit() ? 4 : 8, p.order,
                                     p.path != code_path::scalar, a);
}

/// D_k of weight row r with one activation row, group k, column by column (the definition).
template <int CB>
std::int32_t group_dot(const bbq_tensor<CB>& w, const plan& p, const detail_ops::int8_row& a,
                       std::size_t r, std::size_t k) noexcept {
    const std::size_t n = w.size(), row0 = r * p.g.cols;
    std::int32_t d = 0;
    for (std::size_t i = p.g.begin(k); i < p.g.end(k); ++i)
        d += p.q[detail_ops::code_at(w.packed.data(), n, row0 + i, CB, p.order)] * a.q[i];
    return p.half ? 2 * d + a.sum[k] : d;
}

/// The reference dot of weight row r with one activation row.
template <int CB>
float row_reference(const bbq_tensor<CB>& w, const plan& p, const detail_ops::int8_row& a,
                    std::size_t r) noexcept {
    const float s = step_of(w, p, r);
    float acc = 0.0f;
    for (std::size_t k = 0; k < p.g.per_row; ++k)
        acc = acc + mul_unfused(s * a.scale[k], float(group_dot(w, p, a, r, k)));
    return acc;
}

/// dst[i] = ((src[i] ^ flip) + add) ^ out for n bytes (src may equal dst), eight bytes per
/// 64-bit word: exact when no byte's sum reaches 256 (the caller's invariant), so no carry
/// crosses into the next byte.
inline void map_bytes(const std::uint8_t* src, std::uint8_t* dst, std::size_t n, unsigned flip,
                      unsigned add, unsigned out) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101u;
    const std::uint64_t f = ones * flip, a = ones * add, o = ones * out;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, src + i, 8);
        v = ((v ^ f) + a) ^ o;
        std::memcpy(dst + i, &v, 8);
    }
    for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(((src[i] ^ flip) + add) ^ out);
}

/// The codes of rows [r, r + 8) as the dot kernels read them: the tensor's own bytes, or the
/// buffer `buf` filled here. Returns the first row's bytes; `stride` gets the row stride.
template <int CB>
const std::uint8_t* tile_codes(const bbq_tensor<CB>& w, const plan& p, std::size_t r,
                               std::vector<std::uint8_t>& buf, std::size_t& stride) {
    const std::size_t cols = p.g.cols;
    if (p.path == code_path::unpack8) {
        // r is a multiple of 8, so the tile starts on a byte boundary at any width.
        stride = cols;
        buf.resize(8 * cols);
        unpack(std::span<const std::uint8_t>(w.packed).subspan(r * cols * CB / 8), CB,
               std::span<std::uint8_t>(buf), p.order);
        // Codes c < 2^CB <= 128 to the byte of q: index codes q = c − top, int_b codes
        // q = (c ^ top) − top, as ((c ^ flip) + (0x80 − top)) ^ 0x80 (every sum below 256).
        constexpr unsigned top = 1u << (CB - 1);
        if (p.map == code_map::signed_codes || p.map == code_map::index_codes)
            map_bytes(buf.data(), buf.data(), buf.size(),
                      p.map == code_map::signed_codes ? top : 0u, 0x80u - top, 0x80u);
        else
            for (std::uint8_t& c : buf) c = static_cast<std::uint8_t>(p.q[c]);
        return buf.data();
    }
    stride = cols * CB / 8;
    const std::uint8_t* src = w.packed.data() + r * stride;
    if (p.path == code_path::direct4 || p.path == code_path::direct8) return src;
    const std::size_t n = 8 * stride;
    buf.resize(n);
    std::uint8_t* dst = buf.data();
    if (p.path == code_path::flip4 || p.path == code_path::flip8)
        map_bytes(src, dst, n, p.path == code_path::flip4 ? 0x88u : 0x80u, 0u, 0u);
    else
        for (std::size_t i = 0; i < n; ++i) dst[i] = p.byte_map[src[i]];
    return dst;
}

/// Rows [r, r + 8) against one activation row on the dot primitives: out[j] = y_{r+j}.
template <class Arch, int KB, int CB>
void tile8(const bbq_tensor<CB>& w, const plan& p, const std::uint8_t* codes, std::size_t stride,
           const detail_ops::int8_row& a, std::size_t r, const float* sw, float* out) noexcept {
    if (p.fused()) {
        simd::gemv8<Arch, KB>(codes, stride, a.qk.data(), a.scale.data(), sw, p.g.cols, 32, out);
        return;
    }
    const std::size_t n = w.size();
    alignas(32) float f[8];
    alignas(32) std::int32_t d[8];
    for (std::size_t k = 0; k < p.g.per_row; ++k) {
        const std::size_t b = p.g.begin(k), e = p.g.end(k);
        if (e - b == 32) {
            if constexpr (KB == 4)
                simd::dot8_i4<Arch>(codes + b / 2, stride, a.qk.data() + b, 1, d);
            else
                simd::dot8_i8<Arch>(codes + b, stride, a.qk.data() + b, 1, d);
        } else {  // the row's last, shorter group: exact integers column by column
            for (std::size_t j = 0; j < 8; ++j) {
                d[j] = 0;
                for (std::size_t i = b; i < e; ++i)
                    d[j] += p.q[detail_ops::code_at(w.packed.data(), n, (r + j) * p.g.cols + i, CB,
                                                    p.order)] *
                        a.q[i];
            }
        }
        for (std::size_t j = 0; j < 8; ++j) {
            if (p.half) d[j] = 2 * d[j] + a.sum[k];
            f[j] = sw[8 * k + j] * a.scale[k];
        }
        simd::scale_add8<Arch>(out, f, d);
    }
}

/// Y[b][r] for every activation row b and weight rows [r0, r1), r0 a multiple of 8.
template <int CB>
void rows(const bbq_tensor<CB>& w, const plan& p, const std::vector<detail_ops::int8_row>& act,
          std::size_t r0, std::size_t r1, float* y) {
    using Arch = xsimd::default_arch;
    std::size_t r = r0;
    if (p.path != code_path::scalar) {
        std::vector<float> sw(8 * p.g.per_row);  // sw[8·k + j] = ŝ of row r + j, every group k
        std::vector<std::uint8_t> buf;
        for (; r + 8 <= r1; r += 8) {
            for (std::size_t j = 0; j < 8; ++j) {
                const float s = step_of(w, p, r + j);
                for (std::size_t k = 0; k < p.g.per_row; ++k) sw[8 * k + j] = s;
            }
            std::size_t stride = 0;
            const std::uint8_t* codes = tile_codes(w, p, r, buf, stride);
            for (std::size_t b = 0; b < act.size(); ++b) {
                alignas(32) float t[8] = {};
                if (p.four_bit())
                    tile8<Arch, 4>(w, p, codes, stride, act[b], r, sw.data(), t);
                else
                    tile8<Arch, 8>(w, p, codes, stride, act[b], r, sw.data(), t);
                for (std::size_t j = 0; j < 8; ++j) y[b * p.g.rows + r + j] = t[j];
            }
        }
    }
    for (; r < r1; ++r)
        for (std::size_t b = 0; b < act.size(); ++b)
            y[b * p.g.rows + r] = row_reference(w, p, act[b], r);
}

template <int CB>
void run(const bbq_tensor<CB>& w, std::span<const float> x, std::size_t batch, std::span<float> y,
         const linear_options& o) {
    const plan p = make_plan(w, o.path);
    detail::require(x.size() == detail::checked_mul(batch, p.g.cols, "x"), "x",
                    "must hold batch · w.shape.cols values (gemv: w.shape.cols)");
    detail::require(y.size() == detail::checked_mul(batch, p.g.rows, "y"), "y",
                    "must hold batch · w.shape.rows values (gemv: w.shape.rows)");
    detail::require(o.path == backend::scalar || o.path == backend::simd, "options.path",
                    "must be backend::scalar or backend::simd");
    std::vector<detail_ops::int8_row> act(batch);
    std::vector<float> tmp;
    for (std::size_t b = 0; b < batch; ++b)
        prepare_row(x.data() + b * p.g.cols, p, o.path, tmp, act[b]);
    detail::split_items((p.g.rows + 7) / 8, o.threads, [&](std::size_t t0, std::size_t t1) {
        rows(w, p, act, 8 * t0, std::min(8 * t1, p.g.rows), y.data());
    });
}

}  // namespace detail_bbq

template <int CodeBits>
inline constexpr bool has_linear<bbq_tensor<CodeBits>> = true;

/// The kernel gemv / gemm use for the BBQ / QuEST tensor w under `path` (tests check that the
/// fast path is taken). Throws lowbit::error as gemv does when w is invalid.
template <int CodeBits>
[[nodiscard]] linear_kernel linear_kernel_for(const bbq_tensor<CodeBits>& w,
                                              backend path = backend::simd) {
    return detail_bbq::make_plan(w, path).kern;
}

/// y = W·x for a BBQ / QuEST tensor: x holds w.shape.cols values, y w.shape.rows. The Hadamard
/// transform is applied to x (see the file comment for the exact arithmetic). Throws
/// lowbit::error naming `w`'s field, `x`, `y` or `options.path`.
template <int CodeBits>
void gemv(const bbq_tensor<CodeBits>& w, std::span<const float> x, std::span<float> y,
          const linear_options& options = {}) {
    detail_bbq::run(w, x, 1, y, options);
}

/// Y = X·Wᵀ for `batch` rows: x is batch × w.shape.cols, y batch × w.shape.rows, both
/// row-major. Row b of y equals gemv of row b of x, bit for bit.
template <int CodeBits>
void gemm(const bbq_tensor<CodeBits>& w, std::span<const float> x, std::size_t batch,
          std::span<float> y, const linear_options& options = {}) {
    detail_bbq::run(w, x, batch, y, options);
}

}  // namespace ops
LOWBIT_NAMESPACE_END
