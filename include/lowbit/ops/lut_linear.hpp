// lowbit — ops::lut_linear: 4-bit weights of a table format prepared once for repeated
// products (y = W·x, Y = X·Wᵀ), as ops::int_linear is for INT codes.
//
//   lowbit::bbq_quantizer<4> q;
//   const lowbit::ops::lut_linear layer(q.quantize(weights, {out_features, in_features}));
//   layer.gemv(x, y);                                  // bit for bit ops::gemv on the tensor
//   layer.gemm(xs, batch, ys, {.threads = 2});
//
// What it takes, and what each keeps (the products are those of ops/linear_fp4.hpp and
// ops/linear_bbq.hpp, whose file comments define them):
//   * MXFP4 (mx_tensor<E2M1, 32>): levels 2·v, blocks of 32;
//   * NVFP4 (nvfp4_tensor): levels 2·v, blocks of 16 (each 32-column block is two groups);
//   * log4 (log_tensor<4>): levels ±2^(k−1), groups of 16 or any multiple of 32;
//   * BBQ / QuEST with 4-bit codes (bbq_tensor<4>): levels q(c) (zero point 0) or 2·q(c) + 1
//     (zero point −½, the doubled half-integer levels: D = 2·d + Σa of linear_bbq.hpp, per
//     element instead of per group, the same integer), activation groups of 32, the row's
//     decode step ŝ_r once per row; the activations are rotated (x' = Ĥ·x) before they are
//     quantized, exactly as ops::gemv does;
//   * 4-bit codebooks (codebook_tensor<4>: NF4, fitted codebooks): not ops::gemv's float path
//     but its integer form at 7-bit level precision, the way int8-table formats (ggml's
//     IQ4_NL) multiply non-uniform levels: L(c) = round_half_even(64·ℓ_c) (ℓ in [−1, 1], so
//     |L| ≤ 64), the activations quantized to int8 per group of the tensor (ops/linear.hpp's
//     rule: s_x = max|x| / 127, q = round_half_even(x / s_x)), d_k = Σ L(c_i)·q_i exact in
//     int32, s_w,k = scale_k · 2^−6 (the group's scale, a'_k when double-quantised, rounded to
//     float), and y_r = (…((0 + t_0) + t_1) + …) + t_{K−1}, t_k = (s_w,k·s_x,k)·float(d_k), each
//     product rounded on its own. Against Σ_k scale_k·Σ_i ℓ_i·x_i the error of row r is at most
//       Σ_k |scale_k| · (Σ_i |x_i| / 128 + s_x,k · Σ_i |L_i| / 128)   (levels, activations)
//       + (K + 2)·u·Σ_k |t_k|                                         (the float steps)
//     to first order in u = 2^−24; NaN or ±Inf in a group's activations makes the row NaN.
// The codes are re-laid in row-interleaved tiles of 8 rows (simd::scalar::tile8p<4>: one load
// holds 4 codes of each row, in its nibbles as stored) and looked up in registers in 16
// unsigned bytes L + 64 (|L| ≤ 64, so maddubs cannot saturate and vpdpbusd reads them as
// unsigned); the offset returns through the activation group sums. The scales are floats,
// s_w per row and group (BBQ: per row, simd::tile_scales), so the prepared weights take 4 bits
// per weight plus 32 bits per group (MXFP4: 5 bits per weight, NVFP4: 6, BBQ: 4 and a float
// per row) and the padding of the last tile. Every group's integer dot is the exact int32 of
// the unprepared path and the float steps are the same, so gemv and gemm give exactly the
// bits of ops::gemv / ops::gemm, on any thread count (codebooks: the bits of the integer form
// above, on every path and thread count).
//
// Needs cols a multiple of 32 and groups of 16 (NVFP4) or a multiple of 32 columns. The kernel
// is hand-written for AVX2 and AVX-512 (VNNI where present); other targets run its scalar form
// (ops::gemv's SIMD path is then the faster choice).
#pragma once
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "linear_bbq.hpp"
#include "linear_fp4.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace ops {

class lut_linear : public detail_ops::prepared_entry_points<lut_linear> {
public:
    using detail_ops::prepared_entry_points<lut_linear>::gemm;

    template <class Elem>
    explicit lut_linear(const mx_tensor<Elem, 32>& w) {
        using L = detail_fp4::int_levels<Elem>;
        static_assert(Elem::bits == 4 && L::lut_ok && L::t.max_abs <= 64,
                      "lowbit::ops::lut_linear: the MX element must be a 4-bit format whose "
                      "levels are integers within ±64 (MXFP4's E2M1)");
        w.validate();
        layout(w.shape, 32, "w.shape");
        set_levels(L::t.v);
        lay_codes(w.packed.data(), w.size(), nibble_order::low_first);
        lay_group_scales(detail_fp4::mx_source(w));
    }
    explicit lut_linear(const nvfp4_tensor& w) {
        w.validate();
        layout(w.shape, nvfp4::block, "w.shape");
        set_levels(detail_fp4::int_levels<e2m1>::t.v);
        lay_codes(w.packed.data(), w.size(), nibble_order::low_first);
        lay_group_scales(detail_fp4::nv_source(w));
    }
    template <class ScaleT>
    explicit lut_linear(const log_tensor<4, ScaleT>& w) {
        using L = detail_fp4::int_levels<log2_format<4>>;
        w.validate();
        layout(w.shape, w.group, "w.group");
        // (|L| + 64) · 127 · len < 2^31: the kernel's offset sums stay in int32.
        detail::require(g_.len <= max_linear_group, "w.group",
                        "groups of more than 131072 elements could overflow the int32 dot "
                        "product; quantize W with smaller groups");
        set_levels(L::t.v);
        lay_codes(w.packed.data(), w.size(), nibble_order::low_first);
        lay_group_scales(detail_fp4::log_source<0>(w));
    }
    explicit lut_linear(const bbq_tensor<4>& w) {
        const detail_bbq::plan p = detail_bbq::make_plan(w, backend::scalar);
        layout(w.shape, bbq_activation_group, "w.shape");
        std::array<std::int32_t, 256> lv{};
        for (std::size_t c = 0; c < 16; ++c) {
            lv[c] = p.half ? 2 * p.q[c] + 1 : p.q[c];
            detail::require(lv[c] >= -64 && lv[c] <= 64, "w.level_of_code",
                            "lut_linear needs every code's integer level within ±64 (±32 "
                            "for a zero point of -1/2); ops::gemv takes any");
        }
        set_levels(lv);
        lay_codes(w.packed.data(), w.size(), w.opt.order);
        hadamard_ = p.hadamard;
        scale_step_ = 0;
        scales_.assign(tiles() * 8, 0.0f);
        for (std::size_t r = 0; r < g_.rows; ++r) scales_[r] = detail_bbq::step_of(w, p, r);
    }

    /// A 4-bit codebook at 7-bit level precision (see the file comment): its own product, not
    /// ops::gemv's float one.
    explicit lut_linear(const codebook_tensor<4>& w) {
        w.validate();
        layout(w.shape, w.group_size, "w.group_size");
        detail::require(g_.len <= max_linear_group, "w.group_size",
                        "groups of more than 131072 elements could overflow the int32 dot "
                        "product; quantize W with smaller groups");
        std::array<std::int32_t, 16> lv{};
        for (std::size_t c = 0; c < 16; ++c) {
            const float l = w.cb.levels[c];
            detail::require(l >= -1.0f && l <= 1.0f, "w.cb.levels",
                            "lut_linear needs every level in [-1, 1] (NaN is not a level)");
            lv[c] = static_cast<std::int32_t>(std::nearbyint(l * 64.0f));  // ties to even
        }
        set_levels(lv);
        lay_codes(w.packed.data(), w.size(), w.order);
        lay_group_scales([&w](std::size_t i) { return w.scale(i) * 0.015625f; });
    }

    [[nodiscard]] shape2d shape() const noexcept { return {g_.rows, g_.cols}; }
    /// Bytes the prepared codes and scales occupy.
    [[nodiscard]] std::size_t storage_bytes() const noexcept {
        return codes_.size() + scales_.size() * sizeof(float);
    }
    /// The kernel gemv / gemm run under `path`.
    [[nodiscard]] fp4_kernel kernel(backend path = backend::simd) const noexcept {
        return path == backend::simd && simd::has_packed_lut<xsimd::default_arch>
            ? fp4_kernel::packed_lut4
            : fp4_kernel::scalar;
    }

    /// Y = X·Wᵀ for `batch` rows, bit for bit ops::gemm on the tensor this was built from
    /// (gemv and the bf16 / fp16 entry points: detail_ops::prepared_entry_points).
    void gemm(std::span<const float> x, std::size_t batch, std::span<float> y,
              const linear_options& options = {}) const {
        const bool fast = kernel(options.path) != fp4_kernel::scalar;
        const auto tile_kernel = [&](std::size_t t, const simd::gemv8p_row* rows, std::size_t m) {
            const std::uint8_t* tile = codes_.data() + t * tile_bytes_;
            const simd::tile_scales sc = scales_of(t);
            if (fast)
                simd::gemm8p_lut<xsimd::default_arch>(tile, lut_.data(), rows, m, sc, g_.cols,
                                                      g_.len);
            else
                simd::scalar::gemm8p_lut(tile, lut_.data(), rows, m, sc, g_.cols, g_.len);
        };
        if (hadamard_ == 0) {
            detail_ops::tiled_gemm(g_, x, batch, y, options, tile_kernel);
            return;
        }
        // x' = Ĥ·x per row, by the transform ops::gemv on a BBQ tensor uses on this path.
        detail_ops::tiled_gemm(g_, x, batch, y, options, tile_kernel, [&](float* row) {
            if (options.path == backend::simd)
                simd::hadamard_row(row, g_.cols, hadamard_);
            else
                reference::hadamard_rows(row, {1, g_.cols}, hadamard_);
        });
    }

private:
    [[nodiscard]] std::size_t tiles() const noexcept { return (g_.rows + 7) / 8; }

    /// The groups of `block` columns (a block covering the row when it is longer) and the
    /// shape checks; `field` names what a wrong group length is blamed on.
    void layout(shape2d shape, std::size_t block, const char* field) {
        g_.rows = shape.rows;
        g_.cols = shape.cols;
        g_.kind = granularity::kind::per_group;
        g_.len = std::min(block, shape.cols);
        g_.per_row = shape.cols ? (shape.cols + g_.len - 1) / g_.len : 0;
        detail::require(g_.cols % 32 == 0, "w.shape",
                        "lut_linear needs cols to be a multiple of 32 (ops::gemv takes any)");
        detail::require(g_.len == 16 || g_.len % 32 == 0, field,
                        "lut_linear needs groups of 16 or of a multiple of 32 columns "
                        "(ops::gemv takes any)");
    }

    template <std::size_t N>
    void set_levels(const std::array<std::int32_t, N>& v) {
        for (std::size_t c = 0; c < 16; ++c) lut_[c] = static_cast<std::uint8_t>(v[c] + 64);
    }

    /// The codes of W (rows × cols, 4 bits each in `order`) into tiles; padding rows hold
    /// code 0, whose outputs are never stored.
    void lay_codes(const std::uint8_t* packed, std::size_t n, nibble_order order) {
        using T = simd::scalar::tile8p<4>;
        tile_bytes_ = g_.cols / 32 * T::bytes;
        codes_.assign(tiles() * tile_bytes_, 0);
        for (std::size_t r = 0; r < g_.rows; ++r) {
            const std::size_t t = r / 8, i = r % 8;
            for (std::size_t c = 0; c < g_.cols; ++c) {
                const unsigned u = detail_ops::code_at(packed, n, r * g_.cols + c, 4, order);
                std::uint8_t* blk = codes_.data() + t * tile_bytes_ + c / 32 * T::bytes;
                const std::size_t j = c % 32;
                std::uint8_t& b = blk[32 * (j % 16 / 4) + 4 * i + j % 4];
                b = static_cast<std::uint8_t>(j < 16 ? (b & 0xF0u) | u : (b & 0x0Fu) | (u << 4));
            }
        }
    }

    /// s_w of every row and group as floats, tile by tile: scale(r·per_row + k) for a callable,
    /// or a source's .scale.
    template <class Scale>
    void lay_group_scales(const Scale& scale) {
        scales_.assign(tiles() * 8 * g_.per_row, 0.0f);
        for (std::size_t r = 0; r < g_.rows; ++r)
            for (std::size_t k = 0; k < g_.per_row; ++k) {
                const std::size_t i = r * g_.per_row + k;
                float s;
                if constexpr (requires { scale.scale(i); })
                    s = scale.scale(i);
                else
                    s = scale(i);
                scales_[(r / 8 * g_.per_row + k) * 8 + r % 8] = s;
            }
    }

    [[nodiscard]] simd::tile_scales scales_of(std::size_t t) const noexcept {
        return {scales_.data() + t * 8 * (scale_step_ ? g_.per_row : 1), scale_step_};
    }

    detail_ops::row_groups g_;
    std::size_t tile_bytes_ = 0;
    std::array<std::uint8_t, 16> lut_{};  ///< L(c) + 64
    std::vector<std::uint8_t> codes_;     ///< tiles of 8 rows, blocks of simd::scalar::tile8p<4>
    std::vector<float> scales_;           ///< [tile][group][row] (step 8) or [tile][row] (step 0)
    std::size_t scale_step_ = 8;
    std::size_t hadamard_ = 0;  ///< BBQ: the rotation's block, 0 for none
};

}  // namespace ops
LOWBIT_NAMESPACE_END
