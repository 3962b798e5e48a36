// lowbit — the logarithmic quantizer: log2_format<B> with one scale per group of a row.
//
//   lowbit::log_quantizer<4> q;            // group 32, fp16 scale s = group absmax
//   auto t = q.quantize(x, {rows, cols});  // codes ±s·2^(k − top), 0
//
// Scale rule: s = the group's largest finite |x|, stored as ScaleT (fp16 by default), so the window
// of 2^(B−1) − 1 powers ends at the group's largest value. Codes = encode(x · (1/s)) with the
// chosen log_rounding; x̂ = decode_scaled(code, s) (exponent arithmetic). s = 0 (all-zero group)
// gives inverse 0 and every code +0. Non-finite inputs: NaN → 0, ±Inf → ±s.
#pragma once
#include "facade.hpp"
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/checked.hpp"
#include "../formats/log.hpp"
#include "../simd/bfp.hpp"
#include "../simd/log.hpp"
#include "minifloat.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The result of log_quantizer: packed codes and one scale per group.
template <int B, scale_storage ScaleT = Eigen::half>
struct log_tensor {
    shape2d shape;
    std::size_t group = 32;  ///< elements per scale within a row (the options' default, so an empty
                             ///< tensor validates)
    std::vector<std::uint8_t> packed;
    std::vector<ScaleT> scales;

    static constexpr int bits = B;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    [[nodiscard]] std::vector<std::uint8_t> codes() const {
        validate();
        std::vector<std::uint8_t> c(size());
        unpack(packed, bits, c);
        return c;
    }
    /// Throws lowbit::error naming the first inconsistent field: rows · cols and the packed size
    /// within size_t, `group` in 1 … 2^32, `packed` exactly packed_size(size(), bits) bytes, one
    /// scale per group of each row.
    void validate() const {
        const std::size_t n = detail::checked_elements(shape.rows, shape.cols, bits, "t.shape");
        detail::check_group_size(group, "t.group");
        detail::require(packed.size() == packed_size(n, bits), "t.packed",
                        "must hold exactly packed_size(rows * cols, bits) bytes");
        detail::require(scales.size() == shape.rows * detail::ceil_div(shape.cols, group),
                        "t.scales", "must hold one scale per group of each row");
    }
    [[nodiscard]] std::size_t storage_bits() const noexcept {
        return size() * bits + scales.size() * scale_bits<ScaleT>;
    }
    [[nodiscard]] double bits_per_value() const noexcept {
        return size() ? double(storage_bits()) / double(size()) : 0.0;
    }
};

/// Power-of-two quantizer; see the file comment.
template <int B, scale_storage ScaleT = Eigen::half>
class log_quantizer : public quantizer_facade<log_quantizer<B, ScaleT>> {
public:
    using quantizer_facade<log_quantizer<B, ScaleT>>::prepare;
    using format = log2_format<B>;
    using tensor_type = log_tensor<B, ScaleT>;
    static constexpr int bits = B;

    /// Checked when the quantizer is constructed: `group` in 1 … 2^32 (a group longer than a row
    /// covers the whole row; the last group of a row may be short), `round` a log_rounding.
    struct options {
        std::size_t group = 32;  ///< elements per scale, within a row
        log_rounding round = log_rounding::linear;
    };

    log_quantizer() : log_quantizer(options{}) {}
    explicit log_quantizer(options o) : opt_(o) {
        detail::check_group_size(opt_.group, "options.group");
        detail::require(opt_.round == log_rounding::linear || opt_.round == log_rounding::log,
                        "options.round", "must be a log_rounding value");
    }

    /// Sizes t; group scales are computed by encode() as it goes.
    void prepare(std::span<const float> x, shape2d shape, tensor_type& t) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        t.shape = shape;
        t.group = opt_.group;
        t.packed.resize(packed_size(shape.size(), bits));
        t.scales.resize(shape.rows * detail::ceil_div(shape.cols, opt_.group));
    }

    void encode(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_encode_range(t, x.size(), begin, end);
        if (fused(b,
                  t)) {  // 4-bit codes in groups of 32 filling whole rows: the fused chunk kernel
            using FB = simd::fbatch<xsimd::default_arch>;
            const xsimd::batch<std::int32_t> thr(
                static_cast<std::int32_t>(format::threshold(opt_.round)));
            for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
                const std::size_t c1 = std::min(c0 + chunk_elements, end);
                simd::encode_chunk_fused_with<bits, 32>(
                    x.data() + c0, (c1 - c0) / 32,
                    [&](const float* amax, std::size_t nb, float* inv) {
                        for (std::size_t k = 0; k < nb; ++k) {
                            const ScaleT s = store_scale<ScaleT>(amax[k]);
                            t.scales[c0 / 32 + k] = s;
                            inv[k] = detail::safe_inverse(load_scale(s));
                        }
                    },
                    [&](FB y, std::uint64_t) { return simd::encode_log_batch<format>(y, thr); }, c0,
                    t.packed.data() + c0 / 2);
            }
            return;
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        std::size_t base = 0;
        detail::for_each_run(
            t.shape.cols, t.group, begin, end, [&](std::size_t c0, std::size_t) { base = c0; },
            [&](std::size_t i, std::size_t e, std::size_t slot, std::size_t g0, std::size_t g1) {
                const ScaleT s = store_scale<ScaleT>(detail::absmax(b, x.data() + g0, g1 - g0));
                if (i == g0) t.scales[slot] = s;
                const float inv = detail::safe_inverse(load_scale(s));
                if (b == backend::simd)
                    simd::encode_log_run<format>(x.data() + i, e - i, inv, opt_.round,
                                                 buf + (i - base));
                else
                    reference::encode_log_run<format>(x.data() + i, e - i, inv, opt_.round,
                                                      buf + (i - base));
            },
            [&](std::size_t c0, std::size_t c1) {
                auto dst = std::span<std::uint8_t>(t.packed).subspan(c0 * bits / 8);
                if (b == backend::simd)
                    pack(std::span<const std::uint8_t>(buf, c1 - c0), bits, dst);
                else
                    pack_reference(std::span<const std::uint8_t>(buf, c1 - c0), bits, dst);
            });
    }

    void decode(const tensor_type& t, std::span<float> out, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_decode_range(t, out.size(), begin, end);
        if (fused(b, t)) {
            constexpr std::size_t W = simd::fbatch<xsimd::default_arch>::size;
            for (std::size_t g = begin; g < end; g += 32) {
                const float s = load_scale(t.scales[g / 32]);
                for (std::size_t k = 0; k < 32; k += W)
                    simd::decode_log_batch<format>(
                        simd::load_nibbles<xsimd::default_arch>(t.packed.data() + (g + k) / 2), s)
                        .store_unaligned(out.data() + g + k);
            }
            return;
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        std::size_t base = 0;
        detail::for_each_run(
            t.shape.cols, t.group, begin, end,
            [&](std::size_t c0, std::size_t c1) {
                base = c0;
                auto src = std::span<const std::uint8_t>(t.packed).subspan(c0 * bits / 8);
                if (b == backend::simd)
                    unpack(src, bits, std::span<std::uint8_t>(buf, c1 - c0));
                else
                    unpack_reference(src, bits, std::span<std::uint8_t>(buf, c1 - c0));
            },
            [&](std::size_t i, std::size_t e, std::size_t slot, std::size_t, std::size_t) {
                const float s = load_scale(t.scales[slot]);
                if (b == backend::simd)
                    simd::decode_log_run<format>(buf + (i - base), e - i, s, out.data() + i);
                else
                    reference::decode_log_run<format>(buf + (i - base), e - i, s, out.data() + i);
            },
            [](std::size_t, std::size_t) {});
    }

private:
    /// 4-bit codes in groups of 32 that fill whole rows take the fused SIMD kernels.
    static bool fused(backend b, const tensor_type& t) noexcept {
        constexpr std::size_t W = simd::fbatch<xsimd::default_arch>::size;
        return bits == 4 && b == backend::simd && t.group == 32 && t.shape.cols % 32 == 0 &&
            32 % W == 0 && W % 2 == 0;
    }
    options opt_;
};

LOWBIT_NAMESPACE_END
