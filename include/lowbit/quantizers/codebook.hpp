// lowbit — the codebook quantizer (NormalFloat and fitted codebooks): absmax per group of G
// contiguous values within a row (64 by default; the last group of a row may be short), codes
// = nearest codebook level of x / absmax, optional QLoRA-style double quantisation of the scales.
//
//   lowbit::codebook_quantizer<4> q;                    // NF4, groups of 64, fp32 absmax
//   auto t = q.quantize(x, {rows, cols});
//   q.dequantize(t, y);
//
// Double quantisation (options.double_quant): the group absmaxes a_g are stored as 8 bits each.
// With m = mean of all a_g (tree_sum order, core/reduce.hpp) and, per block of 256 consecutive
// groups, the step d = max_g |a_g − m| / 127:
//     q_g = clamp(nearbyint((a_g − m) / d), −127, 127)   (int8; 0 when d = 0)
//     a'_g = min(max(0, m + q_g · d), FLT_MAX)             (the scale every code is computed with)
// so a group costs 8 bits plus 32 bits per 256 groups plus one 32-bit mean per tensor
// (4 + 8/64 + 32/16384 bits per value for NF4 in groups of 64).
//
// options.dq_map = double_quant_map::bnb_dynamic stores what bitsandbytes' quantize_4bit with
// compress_statistics=True stores: the same mean m and blocks of 256 groups, but per block the
// absmax d = max_g |a_g − m| and, per group, the index q_g of the value of bnb_dynamic_map()
// nearest to (a_g − m) / d (the lower index on a tie; the index of 0 when d = 0), held in qscales
// as its byte. A group decodes with a'_g = m + map[q_g] · d (not clamped: bitsandbytes' a'_g may
// be a little below 0) and its codes are computed from its own absmax a_g, as bitsandbytes
// computes them before compressing the absmaxes. With nibble_order::high_first and rows whose
// length is a multiple of the group (bitsandbytes' blocks run over the flattened tensor) the
// packed codes are bitsandbytes' bytes; docs/formats.md gives what matches its files and what not.
//
// SIMD: 4-bit low_first codes of groups of 64 on AVX-512 go 16 whole groups per call
// (simd/codebook.hpp: encode_codebook_16groups_packed4), bit-identical to the reference.
//
// Huge finite inputs: absmaxes near FLT_MAX keep m and d finite (|a_g − m| <= FLT_MAX); the
// rebuilt a'_g saturates to FLT_MAX where m + q_g · d rounds past it, so codes and outputs stay
// finite (|level| <= 1).
//
// Non-finite inputs (docs/formats.md, "Non-finite inputs"): element-local. absmax ignores them;
// ±Inf encode to the end levels, NaN as 0.0. A group whose scale is 0 (all zeros) or so small that
// its inverse overflows encodes every value as the level nearest 0 and decodes to 0.
#pragma once
#include "facade.hpp"
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checked.hpp"
#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../core/reduce.hpp"
#include "../formats/codebook.hpp"
#include "../scale/rules.hpp"
#include "../simd/codebook.hpp"
#include "../simd/packing.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Groups per block of the double-quantised scales (QLoRA's 256).
inline constexpr std::size_t double_quant_block = 256;

/// How double quantisation stores a group's absmax (see the file comment).
enum class double_quant_map : std::uint8_t {
    linear_int8,  ///< q_g = round((a_g − m) / d) in −127 … 127, d = max |a_g − m| / 127
    bnb_dynamic,  ///< the index of the nearest bnb_dynamic_map() value, d = max |a_g − m|
};

/// bitsandbytes' signed 8-bit "dynamic" map (create_dynamic_map(signed=True)), ascending: for
/// k = 0 … 6, the 2^k midpoints of linspace(0.1, 1, 2^k + 1) times 10^(k−6) and their negatives,
/// then 0 and 1. Built with float32 arithmetic as torch builds it (linspace's points as single
/// roundings of a + step · i), so every value is bitsandbytes' exactly (tests/test_codebook.cpp).
inline const std::array<float, 256>& bnb_dynamic_map() {
    static const std::array<float, 256> map = [] {
        std::array<float, 256> m{};
        std::size_t n = 0;
        constexpr double decade[7] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
        for (int k = 0; k < 7; ++k) {
            const int points = (1 << k) + 1, half = points / 2;
            const float a = 0.1f, b = 1.0f, step = (b - a) / float(points - 1);
            auto point = [&](int i) {
                return i < half ? std::fma(step, float(i), a)
                                : std::fma(-step, float(points - 1 - i), b);
            };
            const float e = static_cast<float>(decade[k]);
            for (int i = 0; i + 1 < points; ++i) {
                const float mean = (point(i) + point(i + 1)) / 2.0f;
                m[n++] = mean * e;
                m[n++] = -(mean * e);
            }
        }
        m[n++] = 0.0f;
        m[n++] = 1.0f;
        std::sort(m.begin(), m.end());
        return m;
    }();
    return map;
}

namespace detail {
/// One block of double_quant_map::bnb_dynamic: d = max |a_g − m| and, per group, the index of
/// the bnb_dynamic_map() value nearest (a_g − m) / d (the lower one on a tie, as bitsandbytes
/// keeps the left neighbour unless the right one is strictly nearer; 0's index when d = 0), as
/// its byte.
inline void bnb_absmax_block(std::span<const float> a, float m, float& d,
                             std::span<std::int8_t> q) {
    const auto& map = bnb_dynamic_map();
    d = 0.0f;
    for (const float v : a) d = std::max(d, std::fabs(v - m));
    const auto zero = std::lower_bound(map.begin(), map.end(), 0.0f);
    for (std::size_t g = 0; g < a.size(); ++g) {
        auto it = zero;
        if (d > 0.0f) {
            const float y = (a[g] - m) / d;
            it = std::lower_bound(map.begin(), map.end(), y);  // the first value >= y
            if (it == map.end())
                --it;
            else if (it != map.begin() && *it != y &&
                     std::fabs(y - *(it - 1)) <= std::fabs(*it - y))
                --it;
        }
        q[g] = static_cast<std::int8_t>(static_cast<std::uint8_t>(it - map.begin()));
    }
}
}  // namespace detail

/// The result of codebook_quantizer::quantize.
template <int Bits>
struct codebook_tensor {
    shape2d shape;
    std::size_t group_size = 64;
    nibble_order order = nibble_order::low_first;
    codebook<Bits> cb;
    std::vector<std::uint8_t> packed;  ///< packed_size(size(), Bits) bytes of level indices
    std::vector<float> scales;         ///< absmax per group (empty when double-quantised)
    bool double_quant = false;
    double_quant_map dq_map = double_quant_map::linear_int8;
    std::vector<std::int8_t> qscales;  ///< double_quant: q_g per group (bnb_dynamic: its byte)
    std::vector<float> dq_steps;       ///< double_quant: d per block of 256 groups
    float dq_mean = 0;                 ///< double_quant: m

    static constexpr int bits = Bits;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    [[nodiscard]] std::size_t groups_per_row() const noexcept {
        return group_size == 0 ? 0 : detail::ceil_div(shape.cols, group_size);
    }
    [[nodiscard]] std::size_t group_count() const noexcept { return shape.rows * groups_per_row(); }
    /// The scale group g decodes with: a_g, or a'_g when double-quantised (linear_int8 computes
    /// the codes with it too; bnb_dynamic computes them with a_g).
    [[nodiscard]] float scale(std::size_t g) const noexcept {
        if (!double_quant) return scales[g];
        const float d = dq_steps[g / double_quant_block];
        if (dq_map == double_quant_map::bnb_dynamic)
            return dq_mean +
                mul_unfused(bnb_dynamic_map()[static_cast<std::uint8_t>(qscales[g])], d);
        const float a = dq_mean + mul_unfused(float(qscales[g]), d);
        return a > 0.0f ? std::min(a, 3.40282346638528859812e+38f)
                        : 0.0f;  // m + q·d may round past FLT_MAX
    }
    [[nodiscard]] std::vector<std::uint8_t> codes() const {
        validate();
        std::vector<std::uint8_t> c(size());
        unpack(packed, bits, c, order);
        return c;
    }
    /// Throws lowbit::error naming the first inconsistent field: rows · cols and the packed size
    /// within size_t, `group_size` in 1 … 2^32, `order` existing for Bits-bit codes, `packed`
    /// exactly packed_size(size(), Bits) bytes; without double quantisation one scale per group
    /// and no qscales / dq_steps; with it one qscale per group, one step per 256 groups and no
    /// scales.
    void validate() const {
        const std::size_t n = detail::checked_elements(shape.rows, shape.cols, bits, "t.shape");
        detail::check_group_size(group_size, "t.group_size");
        detail::check_order(bits, order, "t.order");
        detail::require(
            dq_map == double_quant_map::linear_int8 || dq_map == double_quant_map::bnb_dynamic,
            "t.dq_map", "must be a double_quant_map value");
        detail::require(packed.size() == packed_size(n, bits), "t.packed",
                        "must hold exactly packed_size(rows * cols, bits) bytes");
        const std::size_t groups = group_count();
        detail::require(scales.size() == (double_quant ? 0 : groups), "t.scales",
                        "must hold one scale per group (none when double-quantised)");
        detail::require(qscales.size() == (double_quant ? groups : 0), "t.qscales",
                        "must hold one code per group when double-quantised (none otherwise)");
        detail::require(
            dq_steps.size() == (double_quant ? detail::ceil_div(groups, double_quant_block) : 0),
            "t.dq_steps",
            "must hold one step per 256 groups when double-quantised (none otherwise)");
    }
    [[nodiscard]] std::size_t storage_bits() const noexcept {
        if (!double_quant) return size() * bits + scales.size() * 32;
        return size() * bits + qscales.size() * 8 + dq_steps.size() * 32 + 32;
    }
    [[nodiscard]] double bits_per_value() const noexcept {
        return size() ? double(storage_bits()) / double(size()) : 0.0;
    }
};

/// Options of codebook_quantizer, checked when it is constructed: `group_size` in 1 … 2^32 (a
/// group longer than a row covers the whole row; the last group of a row may be short), `order`
/// existing for the code width (high_first and ggml_split only for 4-bit codes).
struct codebook_options {
    std::size_t group_size = 64;
    bool double_quant = false;
    nibble_order order = nibble_order::low_first;  ///< bitsandbytes packs high_first
    /// How double quantisation stores the absmaxes (bnb_dynamic: as bitsandbytes does).
    double_quant_map dq_map = double_quant_map::linear_int8;
};

/// Quantizes floats to a codebook; see the file comment.
template <int Bits>
class codebook_quantizer : public quantizer_facade<codebook_quantizer<Bits>> {
public:
    using quantizer_facade<codebook_quantizer<Bits>>::prepare;
    using tensor_type = codebook_tensor<Bits>;
    using options = codebook_options;
    static constexpr int bits = Bits;

    /// NormalFloat of Bits bits (Bits >= 2), groups of 64.
    codebook_quantizer() : codebook_quantizer(normal_float_codebook<Bits>(), options{}) {}
    explicit codebook_quantizer(options o) : codebook_quantizer(normal_float_codebook<Bits>(), o) {}
    codebook_quantizer(const codebook<Bits>& cb, options o) : cb_(cb), opt_(o), kern_(cb) {
        detail::check_group_size(opt_.group_size, "options.group_size");
        detail::check_order(bits, opt_.order, "options.order");
        detail::require(opt_.dq_map == double_quant_map::linear_int8 ||
                            opt_.dq_map == double_quant_map::bnb_dynamic,
                        "options.dq_map", "must be a double_quant_map value");
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }
    [[nodiscard]] const codebook<Bits>& book() const noexcept { return cb_; }

    void prepare(std::span<const float> x, shape2d shape, tensor_type& t, backend b) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        t.shape = shape;
        t.group_size = opt_.group_size;
        t.order = opt_.order;
        t.cb = cb_;
        t.double_quant = opt_.double_quant;
        t.dq_map = opt_.dq_map;
        t.packed.resize(packed_size(shape.size(), bits));  // every byte is written by encode()
        const std::size_t groups = t.group_count();
        if (!opt_.double_quant) {
            t.scales.resize(groups);  // every scale is written by encode() (by the range holding
                                      // its group's start)
            t.qscales.clear();
            t.dq_steps.clear();
            return;
        }
        // Double quantisation needs every absmax first.
        std::vector<float>& a = t.scales;
        a.assign(groups, 0.0f);
        const std::size_t gpr = t.groups_per_row(), G = opt_.group_size;
        for (std::size_t g = 0; g < groups; ++g) {
            const std::size_t r = g / gpr, c0 = (g % gpr) * G, c1 = std::min(c0 + G, shape.cols);
            const float* p = x.data() + r * shape.cols + c0;
            a[g] = b == backend::simd ? simd::absmax(p, c1 - c0) : observe_absmax(p, c1 - c0);
        }
        const float m = groups
            ? float(tree_sum(groups, [&](std::size_t g) { return double(a[g]); }) / double(groups))
            : 0.0f;
        t.dq_mean = m;
        t.dq_steps.assign(detail::ceil_div(groups, double_quant_block), 0.0f);
        t.qscales.assign(groups, 0);
        for (std::size_t k = 0; k < t.dq_steps.size(); ++k) {
            const std::size_t g0 = k * double_quant_block,
                              g1 = std::min(g0 + double_quant_block, groups);
            if (opt_.dq_map == double_quant_map::bnb_dynamic) {
                detail::bnb_absmax_block(std::span<const float>(a).subspan(g0, g1 - g0), m,
                                         t.dq_steps[k],
                                         std::span<std::int8_t>(t.qscales).subspan(g0, g1 - g0));
                continue;
            }
            float dev = 0;
            for (std::size_t g = g0; g < g1; ++g) dev = std::max(dev, std::fabs(a[g] - m));
            const float d = dev / 127.0f;
            t.dq_steps[k] = d;
            for (std::size_t g = g0; g < g1; ++g) {
                const float q = d > 0.0f ? std::nearbyint((a[g] - m) / d) : 0.0f;
                t.qscales[g] = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
            }
        }
        a.clear();
    }

    /// Encodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe for
    /// disjoint ranges.
    void encode(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_encode_range(t, x.size(), begin, end);
        detail::require(t.cb.levels == cb_.levels, "t.cb",
                        "must be this quantizer's codebook (prepare() sets it; decode reads t.cb)");
        if (begin == end) return;
        const std::size_t cols = t.shape.cols, G = t.group_size, gpr = t.groups_per_row();
        alignas(64) std::uint8_t buf[chunk_elements];
        if constexpr (Bits == 4) {
            if (packed4(t, b)) {  // one group per step, no divisions in the loop
                std::size_t r = begin / cols, c = begin % cols, gc0 = c - c % G,
                            g = r * gpr + gc0 / G;
                const bool sixteen = !t.double_quant && G == 64 && simd::has_16groups(kern_);
                for (std::size_t i = begin; i < end; ++g) {
                    const std::size_t gc1 = std::min(gc0 + G, cols), g0 = r * cols + gc0,
                                      run_end = std::min(end, r * cols + gc1);
                    // 16 whole groups at once where they are contiguous: within the row, or across
                    // rows whose length is a multiple of G (every group whole, g = i / G).
                    if (sixteen && i == g0 && (cols % G == 0 || gc0 + 16 * G <= cols) &&
                        i + 16 * G <= end) {
                        simd::encode_codebook_16groups_packed4<Bits>(
                            x.data() + i, kern_, t.scales.data() + g, t.packed.data() + i / 2);
                        i += 16 * G;
                        g += 15;
                        for (gc0 += 16 * G; gc0 >= cols; gc0 -= cols) ++r;  // no division per step
                        continue;
                    }
                    float s;
                    if (!t.double_quant && i == g0 && run_end == g0 + G &&
                        G == 4 * xsimd::batch<float>::size) {
                        t.scales[g] = simd::encode_codebook_group_packed4<Bits, 4>(
                            x.data() + i, kern_, t.packed.data() + i / 2);
                        i = run_end;
                        gc0 = gc1;
                        if (gc0 == cols) {
                            gc0 = 0;
                            ++r;
                        }
                        continue;
                    }
                    if (t.double_quant && t.dq_map == double_quant_map::linear_int8) {
                        s = t.scale(g);
                    } else {
                        s = simd::absmax(x.data() + g0, gc1 - gc0);
                        if (i == g0 && !t.double_quant) t.scales[g] = s;
                    }
                    simd::encode_codebook_run_packed4<Bits>(x.data() + i, run_end - i, inverse(s),
                                                            cb_, kern_, t.packed.data() + i / 2);
                    i = run_end;
                    gc0 = gc1;
                    if (gc0 == cols) {
                        gc0 = 0;
                        ++r;
                    }
                }
                return;
            }
        }
        for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
            const std::size_t c1 = std::min(c0 + chunk_elements, end);
            for (std::size_t i = c0; i < c1;) {
                const std::size_t r = i / cols, c = i % cols;
                const std::size_t g = r * gpr + c / G;
                const std::size_t g0 = r * cols + (c / G) * G,
                                  g1 = std::min(g0 + G, (r + 1) * cols);
                const std::size_t run_end = std::min(c1, g1);
                float s;
                if (t.double_quant && t.dq_map == double_quant_map::linear_int8) {
                    s = t.scale(g);
                } else {
                    s = b == backend::simd ? simd::absmax(x.data() + g0, g1 - g0)
                                           : observe_absmax(x.data() + g0, g1 - g0);
                    if (i == g0 && !t.double_quant) t.scales[g] = s;
                }
                const float inv = inverse(s);
                if (b == backend::simd)
                    simd::encode_codebook_run<Bits>(x.data() + i, run_end - i, inv, cb_, kern_,
                                                    buf + (i - c0));
                else
                    reference::encode_codebook_run<Bits>(x.data() + i, run_end - i, inv, cb_,
                                                         buf + (i - c0));
                i = run_end;
            }
            auto out = std::span<std::uint8_t>(t.packed).subspan(c0 * bits / 8);
            if (b == backend::simd)
                pack(std::span<const std::uint8_t>(buf, c1 - c0), bits, out, t.order);
            else
                pack_reference(std::span<const std::uint8_t>(buf, c1 - c0), bits, out, t.order);
        }
    }

    /// Decodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe.
    void decode(const tensor_type& t, std::span<float> out, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_decode_range(t, out.size(), begin, end);
        const simd::codebook_kernel<Bits> kern(t.cb, false);
        const std::size_t cols = t.shape.cols, G = t.group_size, gpr = t.groups_per_row();
        alignas(64) std::uint8_t buf[chunk_elements];
        const bool direct = packed4(t, b);
        for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
            const std::size_t c1 = std::min(c0 + chunk_elements, end);
            if constexpr (Bits == 4) {
                if (direct) {
                    for (std::size_t i = c0; i < c1;) {
                        const std::size_t r = i / cols, c = i % cols;
                        const std::size_t run_end =
                            std::min(c1, std::min(r * cols + (c / G + 1) * G, (r + 1) * cols));
                        simd::decode_codebook_run_packed4<Bits>(
                            t.packed.data() + i / 2, run_end - i, t.scale(r * gpr + c / G), t.cb,
                            kern, out.data() + i);
                        i = run_end;
                    }
                    continue;
                }
            }
            auto in = std::span<const std::uint8_t>(t.packed).subspan(c0 * bits / 8);
            if (b == backend::simd)
                unpack(in, bits, std::span<std::uint8_t>(buf, c1 - c0), t.order);
            else
                unpack_reference(in, bits, std::span<std::uint8_t>(buf, c1 - c0), t.order);
            for (std::size_t i = c0; i < c1;) {
                const std::size_t r = i / cols, c = i % cols;
                const std::size_t g = r * gpr + c / G;
                const std::size_t run_end =
                    std::min(c1, std::min(r * cols + (c / G + 1) * G, (r + 1) * cols));
                const float s = t.scale(g);
                if (b == backend::simd)
                    simd::decode_codebook_run<Bits>(buf + (i - c0), run_end - i, s, t.cb, kern,
                                                    out.data() + i);
                else
                    reference::decode_codebook_run<Bits>(buf + (i - c0), run_end - i, s, t.cb,
                                                         out.data() + i);
                i = run_end;
            }
        }
    }

private:
    /// The SIMD path may read and write the packed stream directly: 4-bit low_first codes and
    /// every run (group, row, chunk) starting on an even element.
    static bool packed4(const tensor_type& t, backend b) noexcept {
        return Bits == 4 && b == backend::simd && t.order == nibble_order::low_first &&
            t.shape.cols % 2 == 0 && t.group_size % 2 == 0;
    }
    static float inverse(float s) noexcept {
        if (s == 0.0f) return 0.0f;
        const float inv = 1.0f / s;
        return std::isfinite(inv) ? inv : 0.0f;
    }

    codebook<Bits> cb_;
    options opt_;
    simd::codebook_kernel<Bits> kern_;
};

LOWBIT_NAMESPACE_END
