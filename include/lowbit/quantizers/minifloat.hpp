// lowbit — the minifloat quantizer: a minifloat element format (formats/minifloat.hpp) with an
// absmax scale per tensor, per row or per group of G contiguous elements of a row.
//
//   lowbit::minifloat_quantizer<lowbit::e4m3fn> q;               // per tensor, fp32 scale
//   auto t = q.quantize(x, {rows, cols});
//   q.dequantize(t, y);
//
// Scale: s = amax / max_finite (amax: the largest finite |x| of the slot), rounded to the scale
// storage type, so the largest element lands on ±max finite (E4M3FN: 448) and the format's
// whole dynamic range is used (the "per-tensor scaling" of FP8 training recipes). Codes are
// encode(x · (1/s)) with the format's saturation; x̂ = decode(code) · s. s = 0 (an all-zero
// slot) gives inverse 0 and every code +0. NaN stays NaN where the format has one (elsewhere it
// becomes ±0, as ml_dtypes does); ±Inf saturates to ±max finite, i.e. decodes to ± the slot's
// largest finite |x| (rounded through s) — so in a slot with no finite nonzero value (s = 0,
// e.g. an all-Inf tensor) ±Inf encodes as ±0, never as NaN (Inf · 0). See docs/formats.md,
// "Non-finite inputs". Huge finite inputs need no saturation here: s = amax / max_finite is
// finite and decode(code) · s <= amax rounded (the element codes never exceed max_finite).
//
// options.rule = scale_rule::mse_search() searches the scale instead: the clip ratio of amax,
// 64/64 … 16/64, whose codes reconstruct the slot with the least squared error (e.g. FP8 with a
// per-channel MSE scale: {.gran = granularity::channel(0), .rule = scale_rule::mse_search()}).
#pragma once
#include "facade.hpp"
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checked.hpp"
#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../core/rounding.hpp"
#include "../core/scale_type.hpp"
#include "../core/walk.hpp"
#include "../formats/bfp.hpp"
#include "../formats/minifloat.hpp"
#include "../parallel.hpp"
#include "../scale/mse.hpp"
#include "../scale/rules.hpp"
#include "../simd/bfp.hpp"
#include "../simd/primitives.hpp"
#include "../simd/minifloat.hpp"
#include "../simd/packing.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {

/// Encodes a run of elements of any element format (minifloat, bfp_element) on either path.
template <class Elem>
inline void encode_elements(backend b, const float* x, std::size_t n, float inv, rounding rnd,
                            std::uint64_t index0, std::uint8_t* codes) noexcept {
    if constexpr (requires { Elem::flavour; }) {
        if (b == backend::simd)
            simd::encode_minifloat_run<Elem, overflow::saturate>(x, n, inv, rnd, index0, codes);
        else
            reference::encode_minifloat_run<Elem, overflow::saturate>(x, n, inv, rnd, index0,
                                                                      codes);
    } else {
        if (b == backend::simd)
            simd::encode_bfp_run<Elem>(x, n, inv, rnd, index0, codes);
        else
            reference::encode_bfp_run<Elem>(x, n, inv, rnd, index0, codes);
    }
}

/// Decodes a run of elements: out[i] = decode(codes[i]) · scale.
template <class Elem>
inline void decode_elements(backend b, const std::uint8_t* codes, std::size_t n, float scale,
                            float* out) noexcept {
    if constexpr (requires { Elem::flavour; }) {
        if (b == backend::simd)
            simd::decode_minifloat_run<Elem>(codes, n, scale, out);
        else
            reference::decode_minifloat_run<Elem>(codes, n, scale, out);
    } else {
        if (b == backend::simd)
            simd::decode_bfp_run<Elem>(codes, n, scale, out);
        else
            reference::decode_bfp_run<Elem>(codes, n, scale, out);
    }
}

/// Largest finite |x| on either path (the two are equal: a max is exact).
inline float absmax(backend b, const float* x, std::size_t n) noexcept {
    return b == backend::simd ? simd::block_absmax(x, n) : block_absmax(x, n);
}

/// 1 / s, or 0 when s is 0 or the inverse is not finite.
inline float safe_inverse(float s) noexcept {
    if (s == 0.0f) return 0.0f;
    const float inv = 1.0f / s;
    return std::isfinite(inv) ? inv : 0.0f;
}

/// Walks elements [begin, end) of a row-major tensor with `cols` columns in chunks of
/// chunk_elements, cut further into runs that stay inside one group of `group` elements of a row
/// (group 0: the whole tensor is one group). Calls
///   chunk(c0, c1)                          before each chunk's runs,
///   run(i, run_end, slot, g0, g1)          for each run (slot: group index; [g0, g1): the whole
///   group), done(c0, c1)                           after them.
template <class Chunk, class Run, class Done>
inline void for_each_run(std::size_t cols, std::size_t group, std::size_t begin, std::size_t end,
                         Chunk&& chunk, Run&& run, Done&& done) {
    for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
        const std::size_t c1 = std::min(c0 + chunk_elements, end);
        chunk(c0, c1);
        if (group == 0) {
            run(c0, c1, std::size_t{0}, std::size_t{0}, std::size_t{0});
        } else {
            // One division per chunk; the row, the group and its bounds then advance by addition.
            const std::size_t gpr = ceil_div(cols, group);
            std::size_t r = c0 / cols, c = c0 % cols, gi = c / group;
            std::size_t row0 = r * cols, g0 = row0 + gi * group;
            for (std::size_t i = c0; i < c1;) {
                const std::size_t g1 = std::min(g0 + group, row0 + cols);
                const std::size_t e = std::min(c1, g1);
                run(i, e, r * gpr + gi, g0, g1);
                i = e;
                if (i == g1) {  // next group, maybe next row
                    if (g1 == row0 + cols) {
                        ++r;
                        row0 += cols;
                        gi = 0;
                        g0 = row0;
                    } else {
                        ++gi;
                        g0 = g1;
                    }
                }
            }
        }
        done(c0, c1);
    }
}

/// Encode passes over tensors of at least this many elements (64 MiB of float input) write their
/// codes with non-temporal stores (simd::stream_bytes): tensors that large leave no room in the
/// caches for the codes, and streaming them spares the read-for-ownership of every output line.
inline constexpr std::size_t stream_min_elements = std::size_t{1} << 24;
/// The encode pass's walk after simd::block_absmax (read as simd::read_streams streams): see
/// core/walk.hpp.
template <class F>
inline void for_each_step_backward(std::size_t begin, std::size_t end, std::size_t step, F&& f) {
    for_each_step_backward<simd::read_streams>(begin, end, step, static_cast<F&&>(f));
}

/// Group size of a granularity over a shape: 0 for per tensor, cols for per row.
inline std::size_t group_of(const granularity& g, shape2d s) {
    switch (g.type) {
        case granularity::kind::per_tensor: return 0;
        case granularity::kind::per_channel:
            require(g.axis == 0, "options.gran.axis",
                    "minifloat, MX and log quantizers scale rows (axis 0) or groups of a row");
            return s.cols;
        case granularity::kind::per_group: return g.group_size;
    }
    return 0;
}

}  // namespace detail

/// The result of minifloat_quantizer::quantize: packed codes and one scale per slot.
template <class Format, scale_storage ScaleT = float>
struct minifloat_tensor {
    shape2d shape;
    granularity gran;
    std::vector<std::uint8_t>
        packed;                  ///< packed_size(size(), bits) bytes (8-bit codes: one per byte)
    std::vector<ScaleT> scales;  ///< one per granularity slot

    static constexpr int bits = Format::bits;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    /// Unpacked codes, one byte each.
    [[nodiscard]] std::vector<std::uint8_t> codes() const {
        validate();
        std::vector<std::uint8_t> c(size());
        unpack(packed, bits, c);
        return c;
    }
    /// Throws lowbit::error naming the first inconsistent field: rows · cols and the packed size
    /// within size_t, `gran` legal with per-channel scales on rows only (axis 0), `packed` exactly
    /// packed_size(size(), bits) bytes, one scale per granularity slot.
    void validate() const {
        const std::size_t n = detail::checked_elements(shape.rows, shape.cols, bits, "t.shape");
        gran.validate("t.gran");
        detail::require(gran.type != granularity::kind::per_channel || gran.axis == 0,
                        "t.gran.axis", "minifloat tensors scale rows (axis 0) or groups of a row");
        detail::require(packed.size() == packed_size(n, bits), "t.packed",
                        "must hold exactly packed_size(rows * cols, bits) bytes");
        detail::require(scales.size() == gran.scale_count(shape), "t.scales",
                        "must hold one scale per granularity slot");
    }
    [[nodiscard]] std::size_t storage_bits() const noexcept {
        return size() * bits + scales.size() * scale_bits<ScaleT>;
    }
    [[nodiscard]] double bits_per_value() const noexcept {
        return size() ? double(storage_bits()) / double(size()) : 0.0;
    }
};

/// Quantizes floats to a minifloat with absmax scaling; see the file comment.
template <class Format, scale_storage ScaleT = float>
class minifloat_quantizer : public quantizer_facade<minifloat_quantizer<Format, ScaleT>> {
public:
    using quantizer_facade<minifloat_quantizer<Format, ScaleT>>::prepare;
    static_assert(Format::bits <= 8, "lowbit: minifloat_quantizer stores codes of at most 8 bits");
    using format = Format;
    using tensor_type = minifloat_tensor<Format, ScaleT>;
    static constexpr int bits = Format::bits;

    /// Checked when the quantizer is constructed: `gran` per tensor, per row (channel(0); axis 1 is
    /// rejected) or groups of 1 … 2^32 elements of a row (a group longer than the row covers the
    /// whole row); `round.mode` a round_mode.
    struct options {
        granularity gran =
            granularity::tensor();  ///< per tensor, per row (channel(0)) or per group
        rounding round = {};
        /// scale_rule::absmax() (s = amax / max finite) or scale_rule::mse_search(): of the
        /// candidates s_c = scale(ratio(c) · amax), c = 0 … 48 (scale/mse.hpp), the one whose own
        /// codes give the least squared error Σ (x − decode(code) · s_c)², summed in
        /// mse_search::reconstruction_error's order superblock by superblock of the slot (the
        /// widest candidate on a tie). The same on every backend and thread count.
        scale_rule rule = scale_rule::absmax();
    };

    minifloat_quantizer() : minifloat_quantizer(options{}) {}
    explicit minifloat_quantizer(options o) : opt_(o) {
        opt_.gran.validate("options.gran");
        if (opt_.gran.type == granularity::kind::per_channel)
            detail::require(opt_.gran.axis == 0, "options.gran.axis",
                            "minifloat quantizers scale rows (axis 0) or groups of a row");
        detail::check_rounding(opt_.round, "options.round.mode");
        detail::require(
            opt_.rule.type == scale_rule::kind::absmax ||
                opt_.rule.type == scale_rule::kind::mse_search,
            "options.rule",
            "minifloat quantizers take scale_rule::absmax() or scale_rule::mse_search()");
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    /// Sizes t and computes every scale: one pass over x under absmax, 49 encode-decode passes
    /// of each slot under mse_search (slots, or a per-tensor slot's superblocks, split over
    /// `threads`; the scales do not depend on the thread count or the backend).
    void prepare(std::span<const float> x, shape2d shape, tensor_type& t, backend b = backend::simd,
                 unsigned threads = 1) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        t.shape = shape;
        t.gran = opt_.gran;
        t.packed.resize(packed_size(shape.size(), bits));
        const std::size_t G = detail::group_of(opt_.gran, shape);
        const std::size_t slots = opt_.gran.scale_count(shape);
        t.scales.resize(slots);
        if (G == 0) {
            mse_scratch w;
            if (slots) t.scales[0] = slot_scale(b, x.data(), x.size(), 0, threads, w);
            return;
        }
        const std::size_t gpr = detail::ceil_div(shape.cols, G);
        const auto range = [&](std::size_t s0, std::size_t s1) {
            mse_scratch w;
            for (std::size_t s = s0; s < s1; ++s) {
                const std::size_t r = s / gpr, c0 = (s % gpr) * G,
                                  c1 = std::min(c0 + G, shape.cols);
                t.scales[s] = slot_scale(b, x.data() + r * shape.cols + c0, c1 - c0,
                                         r * shape.cols + c0, 1, w);
            }
        };
        if (threads > 1 && opt_.rule.type == scale_rule::kind::mse_search)
            detail::split_items(slots, threads, range);
        else
            range(0, slots);
    }

    /// Quantizes x under scales chosen beforehand (from calibration, or the amax history of earlier
    /// steps as FP8 training's delayed scaling keeps it): one read of x, no absmax pass. `scales`
    /// holds opts().gran.scale_count(shape) values in the order quantize() stores them, each finite
    /// and >= 0; codes are encode(x · (1/s)) as quantize() makes them, so values beyond ±max · s
    /// saturate to ±max, and s = 0 makes every finite value +0. Mirrors
    /// cuda::minifloat_quantizer::quantize_with_scales.
    void quantize_with_scales(std::span<const float> x, shape2d shape,
                              std::span<const ScaleT> scales, tensor_type& t,
                              backend b = backend::simd) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        detail::require(scales.size() == opt_.gran.scale_count(shape), "scales",
                        "must hold opts().gran.scale_count(shape) values");
        for (const ScaleT& v : scales) {
            const float f = load_scale(v);
            detail::require(std::isfinite(f) && f >= 0.0f, "scales", "must be finite and >= 0");
        }
        t.shape = shape;
        t.gran = opt_.gran;
        t.packed.resize(packed_size(shape.size(), bits));
        t.scales.assign(scales.begin(), scales.end());
        encode(x, t, 0, x.size(), b);
    }
    /// The same into a new tensor.
    [[nodiscard]] tensor_type quantize_with_scales(std::span<const float> x, shape2d shape,
                                                   std::span<const ScaleT> scales,
                                                   backend b = backend::simd) const {
        tensor_type t;
        quantize_with_scales(x, shape, scales, t, b);
        return t;
    }

    /// Encodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe for disjoint
    /// ranges.
    void encode(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_encode_range(t, x.size(), begin, end);
        if (begin == end) return;  // nothing to encode (and an empty tensor has no scale to read)
        const std::size_t G = detail::group_of(t.gran, t.shape);
        if constexpr (bits == 8) {
            if (G == 0) {  // the hot path: runs of one code per byte, walked back to front (codes
                           // do not depend on the order)
                const float inv = detail::safe_inverse(load_scale(t.scales[0]));
                if (t.size() < detail::stream_min_elements || inv == 0.0f) {
                    detail::for_each_step_backward(
                        begin, end, detail::backward_piece, [&](std::size_t c0, std::size_t c1) {
                            encode_run(b, x.data() + c0, c1 - c0, inv, c0, t.packed.data() + c0);
                        });
                    return;
                }
                if constexpr (requires { Format::flavour; }) {
                    if (b == backend::simd && opt_.round.mode == round_mode::nearest_even) {
                        detail::for_each_step_backward(
                            begin, end, detail::backward_piece,
                            [&](std::size_t c0, std::size_t c1) {
                                simd::encode_minifloat_rne_stream<Format>(
                                    x.data() + c0, c1 - c0, inv, t.packed.data() + c0);
                            });
                        simd::stream_fence();
                        return;
                    }
                }
                alignas(64) std::uint8_t codes[stream_step];
                detail::for_each_step_backward(
                    begin, end, stream_step, [&](std::size_t c0, std::size_t c1) {
                        encode_run(b, x.data() + c0, c1 - c0, inv, c0, codes);
                        simd::stream_bytes<xsimd::default_arch>(t.packed.data() + c0, codes,
                                                                c1 - c0);
                    });
                simd::stream_fence();
                return;
            }
        }
        if constexpr (simd::fused_block_ok<Format, 32>) {
            if (fused(b, G, t.shape,
                      end)) {  // groups of 32 filling whole rows: the fused chunk kernel
                for (std::size_t c0 = begin; c0 < end; c0 += simd::fused_elements) {
                    const std::size_t c1 = std::min(c0 + simd::fused_elements, end);
                    bool zero_scale = false;
                    simd::encode_chunk_fused<Format, 32>(
                        x.data() + c0, (c1 - c0) / 32,
                        [&](const float*, std::size_t nb,
                            float* inv) {  // scales were set by prepare()
                            for (std::size_t k = 0; k < nb; ++k) {
                                inv[k] = detail::safe_inverse(load_scale(t.scales[c0 / 32 + k]));
                                zero_scale |= inv[k] == 0.0f;
                            }
                        },
                        opt_.round, c0, t.packed.data() + c0 * bits / 8);
                    if (zero_scale)
                        [[unlikely]]  // blocks of inverse 0 again, as the scalar path encodes them
                        for (std::size_t g = c0; g < c1; g += 32) {
                            if (detail::safe_inverse(load_scale(t.scales[g / 32])) != 0.0f)
                                continue;
                            alignas(64) std::uint8_t q[32];
                            encode_run(backend::scalar, x.data() + g, 32, 0.0f, g, q);
                            pack_reference(std::span<const std::uint8_t>(q, 32), bits,
                                           std::span<std::uint8_t>(t.packed).subspan(
                                               g * bits / 8, 32 * bits / 8));
                        }
                }
                return;
            }
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        std::uint8_t* out = buf;
        std::size_t base = 0;
        detail::for_each_run(
            t.shape.cols, G, begin, end,
            [&](std::size_t c0, std::size_t) {
                base = c0;
                out = bits == 8 ? t.packed.data() + c0 : buf;
            },
            [&](std::size_t i, std::size_t e, std::size_t slot, std::size_t, std::size_t) {
                const float inv = detail::safe_inverse(load_scale(t.scales[slot]));
                encode_run(b, x.data() + i, e - i, inv, i, out + (i - base));
            },
            [&](std::size_t c0, std::size_t c1) {
                if constexpr (bits != 8) {
                    auto dst = std::span<std::uint8_t>(t.packed).subspan(c0 * bits / 8);
                    if (b == backend::simd)
                        pack(std::span<const std::uint8_t>(buf, c1 - c0), bits, dst);
                    else
                        pack_reference(std::span<const std::uint8_t>(buf, c1 - c0), bits, dst);
                }
            });
    }

    /// Decodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe.
    void decode(const tensor_type& t, std::span<float> out, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_decode_range(t, out.size(), begin, end);
        if (begin == end) return;
        const std::size_t G = detail::group_of(t.gran, t.shape);
        if constexpr (bits == 8) {
            if (G == 0) {
                if (end > begin)
                    detail::decode_elements<Format>(b, t.packed.data() + begin, end - begin,
                                                    load_scale(t.scales[0]), out.data() + begin);
                return;
            }
        }
        if constexpr (simd::fused_block_ok<Format, 32>) {
            if (fused(b, G, t.shape, end)) {
                for (std::size_t g = begin; g < end; g += 32)
                    simd::decode_block_fused<Format, 32>(t.packed.data() + g * bits / 8,
                                                         load_scale(t.scales[g / 32]),
                                                         out.data() + g);
                return;
            }
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        const std::uint8_t* in = buf;
        std::size_t base = 0;
        detail::for_each_run(
            t.shape.cols, G, begin, end,
            [&](std::size_t c0, std::size_t c1) {
                base = c0;
                if constexpr (bits == 8) {
                    in = t.packed.data() + c0;
                } else {
                    auto src = std::span<const std::uint8_t>(t.packed).subspan(c0 * bits / 8);
                    if (b == backend::simd)
                        unpack(src, bits, std::span<std::uint8_t>(buf, c1 - c0));
                    else
                        unpack_reference(src, bits, std::span<std::uint8_t>(buf, c1 - c0));
                }
            },
            [&](std::size_t i, std::size_t e, std::size_t slot, std::size_t, std::size_t) {
                detail::decode_elements<Format>(b, in + (i - base), e - i,
                                                load_scale(t.scales[slot]), out.data() + i);
            },
            [](std::size_t, std::size_t) {});
    }

private:
    /// Groups of 32 that fill whole rows go through the fused SIMD chunk kernels (stochastic draws
    /// there assume the element index stays below 2^32, the lane precondition of rounding.hpp).
    bool fused(backend b, std::size_t G, shape2d shape, std::size_t end) const noexcept {
        return b == backend::simd && G == 32 && shape.cols % 32 == 0 &&
            (opt_.round.mode != round_mode::stochastic || (end >> 32) == 0);
    }
    /// Encodes a run under inverse scale inv. A slot of inverse 0 (s = 0, or s so small that 1/s
    /// overflows) has no finite magnitude to saturate ±Inf to: its ±Inf become ±0 (Inf · 0 would
    /// be NaN), its finite values ±0 as x · 0 gives, its NaN stay NaN; the same on both paths.
    void encode_run(backend b, const float* x, std::size_t n, float inv, std::uint64_t index0,
                    std::uint8_t* codes) const noexcept {
        if (inv != 0.0f) [[likely]]
            return detail::encode_elements<Format>(b, x, n, inv, opt_.round, index0, codes);
        float y[64];
        for (std::size_t i = 0; i < n; i += 64) {
            const std::size_t m = std::min<std::size_t>(64, n - i);
            for (std::size_t k = 0; k < m; ++k)
                y[k] = std::isinf(x[i + k]) ? std::copysign(0.0f, x[i + k]) : x[i + k];
            detail::encode_elements<Format>(backend::scalar, y, m, 0.0f, opt_.round, index0 + i,
                                            codes + i);
        }
    }
    /// Codes per run when they are streamed out (a stack buffer; divides detail::backward_piece).
    static constexpr std::size_t stream_step = 4096;
    /// Buffers of the MSE search, reused across the slots one thread visits.
    struct mse_scratch {
        std::vector<std::uint8_t> codes;
        std::vector<float> xhat;
        std::vector<double> err;  ///< superblock k, candidate c at k · candidates + c
    };
    /// Writes err[c] = the error of candidate cand[c] over the superblock x[0 … m).
    void superblock_errors(backend b, const float* x, std::size_t m, std::uint64_t index0,
                           const ScaleT* cand, double* err, mse_scratch& w) const {
        if (w.codes.size() < m) w.codes.resize(m), w.xhat.resize(m);
        for (int c = 0; c < mse_search::candidates; ++c) {
            const float s = load_scale(cand[c]);
            encode_run(b, x, m, detail::safe_inverse(s), index0, w.codes.data());
            detail::decode_elements<Format>(b, w.codes.data(), m, s, w.xhat.data());
            err[c] = mse_search::reconstruction_error(x, w.xhat.data(), m);
        }
    }
    /// The scale of the slot x[0 … n), whose first element is element index0 of the tensor (the
    /// stochastic-rounding index of its codes): see options::rule.
    ScaleT slot_scale(backend b, const float* x, std::size_t n, std::uint64_t index0,
                      unsigned threads, mse_scratch& w) const {
        const float amax = detail::absmax(b, x, n);
        if (opt_.rule.type != scale_rule::kind::mse_search || amax == 0.0f) return scale_for(amax);
        constexpr int K = mse_search::candidates;
        ScaleT cand[K];
        for (int c = 0; c < K; ++c) cand[c] = scale_for(mse_search::ratio(c) * amax);
        const std::size_t block = mse_search::superblock, blocks = detail::ceil_div(n, block);
        w.err.resize(blocks * K);
        const auto run = [&](std::size_t k0, std::size_t k1, mse_scratch& own) {
            for (std::size_t k = k0; k < k1; ++k)
                superblock_errors(b, x + k * block, std::min(n - k * block, block),
                                  index0 + k * block, cand, w.err.data() + k * K, own);
        };
        if (threads > 1 && blocks > 1) {
            detail::split_items(blocks, threads, [&](std::size_t k0, std::size_t k1) {
                mse_scratch own;
                run(k0, k1, own);
            });
        } else {
            run(0, blocks, w);
        }
        int best = 0;
        float best_err = 0.0f;
        for (int c = 0; c < K; ++c) {
            double total = 0.0;
            for (std::size_t k = 0; k < blocks; ++k) total += w.err[k * K + c];
            const float e = mse_search::saturate(total);
            if (c == 0 || e < best_err) best = c, best_err = e;
        }
        return cand[best];
    }
    static ScaleT scale_for(float amax) noexcept {
        return store_scale<ScaleT>(amax / Format::max());
    }
    options opt_;
};

LOWBIT_NAMESPACE_END
