// lowbit — the integer quantizer: int_format / uint_format + scale rule + granularity +
// scale storage + rounding, over spans of float, with packed output.
//
//   lowbit::int_quantizer<lowbit::int_format<4, lowbit::int_range::full>, Eigen::half> q(
//       {.gran = lowbit::granularity::group(32)});
//   auto t = q.quantize(x, {rows, cols});   // packed codes + fp16 scales
//   q.dequantize(t, y);
//
// Scales: symmetric formats use s = L / scale_span (restricted: L / (2^{b−1} − 1), the lecture's
// 2L / (2^b − 2)); with the absmax rule a full-range format maps the element of largest magnitude
// to −2^{b−1} exactly, s = x_extreme / −2^{b−1}, so s may be negative (as ggml Q4_0 does).
// Asymmetric formats use s = (hi − lo) / (2^b − 1) with the float minimum m = lo (affine::offset)
// or an integer zero point z = round(−lo / s) over a range widened to contain 0
// (affine::zero_point). Every scale is rounded to its storage type first and the codes are computed
// with the stored value, so decode(encode(x)) uses exactly the scale that chose the codes. A scale
// of 0 (all-zero group) gives inverse 0 and every code 0. Scales beyond the storage type's range
// saturate to its largest finite value.
//
// Huge finite inputs (saturations that keep codes, scales and outputs finite):
//   - an asymmetric range wider than FLT_MAX (hi − lo overflows) is narrowed to
//     [max(lo, −FLT_MAX/2), min(hi, FLT_MAX/2)] before s is computed (affine_step);
//   - a scale whose end code would decode past FLT_MAX (|code|max · s + m overflows) steps down
//     to the largest scale that keeps it finite (finish_slot);
//   - the MSE search's squared-error sums saturate at FLT_MAX (scale/mse.hpp), so huge groups
//     still choose a candidate (the widest, on a tie) instead of none.
// Both run on every path (the SIMD group kernels hand such lanes to the scalar slot code).
//
// Non-finite inputs (docs/formats.md, "Non-finite inputs"): element-local. Observers ignore them;
// ±Inf saturates to the end codes; NaN encodes as code-domain 0 (signed: value 0; offset form:
// code 0; zero-point form: code z).
#pragma once
#include "facade.hpp"
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checked.hpp"
#include "../core/granularity.hpp"
#include "../core/packing.hpp"
#include "../core/rounding.hpp"
#include "../core/scale_type.hpp"
#include "../formats/int.hpp"
#include "../parallel.hpp"
#include "../scale/gaussian.hpp"
#include "../scale/mse.hpp"
#include "../scale/rules.hpp"
#include "../simd/divide.hpp"
#include "../simd/int.hpp"
#include "../simd/packing.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The result of int_quantizer::quantize: packed codes, stored scales (+ offsets or zero points).
template <class Format, scale_storage ScaleT = float>
struct int_tensor {
    shape2d shape;
    granularity gran;
    nibble_order order = nibble_order::low_first;
    affine form = Format::is_signed
        ? affine::none
        : affine::offset;                   ///< the options' default, so an empty tensor validates
    std::vector<std::uint8_t> packed;       ///< packed_size(size(), bits) bytes
    std::vector<ScaleT> scales;             ///< one per granularity slot
    std::vector<ScaleT> offsets;            ///< affine::offset only
    std::vector<std::uint8_t> zero_points;  ///< affine::zero_point only

    using format = Format;
    static constexpr int bits = Format::bits;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    /// Unpacked codes, one byte each.
    [[nodiscard]] std::vector<std::uint8_t> codes() const {
        validate();
        std::vector<std::uint8_t> c(size());
        unpack(packed, bits, c, order);
        return c;
    }
    /// Throws lowbit::error naming the first inconsistent field: rows · cols and the packed size
    /// within size_t, `gran`, `order` and `form` legal values (form: affine::none for signed
    /// formats, offset or zero_point for unsigned ones), `packed` exactly packed_size(size(), bits)
    /// bytes, one scale per granularity slot, and offsets / zero points exactly when `form` uses
    /// them.
    void validate() const {
        const std::size_t n = detail::checked_elements(shape.rows, shape.cols, bits, "t.shape");
        gran.validate("t.gran");
        detail::check_order(bits, order, "t.order");
        detail::require(Format::is_signed ? form == affine::none
                                          : (form == affine::offset || form == affine::zero_point),
                        "t.form",
                        "must be affine::none for a signed format, affine::offset or "
                        "affine::zero_point for an unsigned one");
        detail::require(packed.size() == packed_size(n, bits), "t.packed",
                        "must hold exactly packed_size(rows * cols, bits) bytes");
        const std::size_t slots = gran.scale_count(shape);
        detail::require(scales.size() == slots, "t.scales",
                        "must hold one scale per granularity slot");
        detail::require(offsets.size() == (form == affine::offset ? slots : 0), "t.offsets",
                        "must hold one offset per scale with affine::offset, none otherwise");
        detail::require(
            zero_points.size() == (form == affine::zero_point ? slots : 0), "t.zero_points",
            "must hold one zero point per scale with affine::zero_point, none otherwise");
    }
    /// Storage in bits: codes, scales, offsets and zero points.
    [[nodiscard]] std::size_t storage_bits() const noexcept {
        return size() * bits + (scales.size() + offsets.size()) * scale_bits<ScaleT> +
            zero_points.size() * bits;
    }
    [[nodiscard]] double bits_per_value() const noexcept {
        return size() ? double(storage_bits()) / double(size()) : 0.0;
    }
};

/// Which scale and offset the codes are computed with when they are stored in fp16 or bf16.
enum class code_scale : std::uint8_t {
    stored,     ///< the stored (rounded) values: decode uses exactly what chose the codes
    unrounded,  ///< the float values before storage rounding, as ggml's Q8_0 … Q5_1 do (their
                ///< fp16 d and m are rounded after the codes are chosen)
};

/// Options of int_quantizer<Format, …> (shared by every scale storage type). Checked when the
/// quantizer is constructed: `gran` any legal granularity (per channel on axis 0 or 1; groups of
/// 1 … 2^32 elements of a row, a group longer than the row covering the whole row), `form` as
/// int_tensor::validate states, `order` existing for the code width, `round.mode` a round_mode,
/// `codes_from` a code_scale (unrounded: groups of at most chunk_elements values, the CPU only).
template <class Format>
struct int_options {
    granularity gran = granularity::tensor();
    scale_rule rule = scale_rule::absmax();
    rounding round = {};
    affine form = Format::is_signed ? affine::none : affine::offset;
    nibble_order order = nibble_order::low_first;
    code_scale codes_from = code_scale::stored;
};

/// Quantizes floats with an integer format; see the file comment for the semantics.
template <class Format, scale_storage ScaleT = float>
class int_quantizer : public quantizer_facade<int_quantizer<Format, ScaleT>> {
public:
    using quantizer_facade<int_quantizer<Format, ScaleT>>::prepare;
    using format = Format;
    using tensor_type = int_tensor<Format, ScaleT>;
    static constexpr int bits = Format::bits;

    using options = int_options<Format>;

    int_quantizer() : int_quantizer(options{}) {}
    explicit int_quantizer(options o) : opt_(o) {
        opt_.rule.validate();
        opt_.gran.validate("options.gran");
        detail::require(
            Format::is_signed ? opt_.form == affine::none
                              : (opt_.form == affine::offset || opt_.form == affine::zero_point),
            "options.form",
            "signed formats take affine::none, unsigned ones affine::offset or affine::zero_point");
        detail::check_order(bits, opt_.order, "options.order");
        detail::check_rounding(opt_.round, "options.round.mode");
        detail::require(
            opt_.codes_from == code_scale::stored ||
                (opt_.codes_from == code_scale::unrounded && lazy_groups()),
            "options.codes_from",
            "must be code_scale::stored, or code_scale::unrounded with per-group scales "
            "of at most chunk_elements values (the codes use each group's float "
            "scale as it is computed; other granularities read the stored scale back)");
        if (opt_.rule.type == scale_rule::kind::gaussian_optimal) gaussian_step_ = gaussian_step();
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    /// threads > 1 spreads the MSE search (scale_rule::mse_search) over threads: the slots, or the
    /// superblocks of one large slot; the scales do not depend on the thread count.
    void prepare(std::span<const float> x, shape2d shape, tensor_type& t, backend b = backend::simd,
                 unsigned threads = 1) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        t.shape = shape;
        t.gran = opt_.gran;
        t.order = opt_.order;
        t.form = opt_.form;
        t.packed.resize(packed_size(shape.size(), bits));  // every byte is written by encode()
        const std::size_t slots = opt_.gran.scale_count(shape);
        t.scales.assign(slots, ScaleT(0.0f));
        t.offsets.clear();
        t.zero_points.clear();
        if (opt_.form == affine::offset) t.offsets.assign(slots, ScaleT(0.0f));
        if (opt_.form == affine::zero_point) t.zero_points.assign(slots, 0);
        if (lazy_groups()) return;
        auto slot_range = [&](std::size_t s0, std::size_t s1, unsigned inner_threads) {
            std::vector<float> column;
            for (std::size_t s = s0; s < s1; ++s) {
                std::span<const float> vals;
                switch (opt_.gran.type) {
                    case granularity::kind::per_tensor: vals = x; break;
                    case granularity::kind::per_channel:
                        if (opt_.gran.axis == 0) {
                            vals = x.subspan(s * shape.cols, shape.cols);
                            break;
                        }
                        column.resize(shape.rows);
                        for (std::size_t r = 0; r < shape.rows; ++r)
                            column[r] = x[r * shape.cols + s];
                        vals = column;
                        break;
                    case granularity::kind::per_group: {
                        const std::size_t gpr = opt_.gran.groups_per_row(shape), r = s / gpr,
                                          g = s % gpr;
                        const std::size_t c0 = g * opt_.gran.group_size,
                                          c1 = std::min(c0 + opt_.gran.group_size, shape.cols);
                        vals = x.subspan(r * shape.cols + c0, c1 - c0);
                        break;
                    }
                }
                store(t, s, slot_for(vals, b, inner_threads));
            }
        };
        // Only the MSE search costs enough per slot to share out: over the slots when there are
        // several, else over the superblocks of the one slot.
        if (threads != 1 && opt_.rule.type == scale_rule::kind::mse_search && slots > 1)
            detail::split_items(slots, threads,
                                [&](std::size_t s0, std::size_t s1) { slot_range(s0, s1, 1); });
        else
            slot_range(0, slots, threads);
    }

    /// Encodes elements [begin, end) of x into t (prepared by prepare()). begin must be a
    /// multiple of chunk_elements; ranges of different calls must not overlap. Thread-safe for
    /// disjoint ranges.
    void encode(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_encode_range(t, x.size(), begin, end);
        detail::require(t.gran.type == opt_.gran.type && t.gran.axis == opt_.gran.axis &&
                            t.gran.group_size == opt_.gran.group_size && t.order == opt_.order &&
                            t.form == opt_.form,
                        "t", "must be prepared by this quantizer (its gran, order and form)");
        if (b == backend::simd && aligned_runs(t)) return encode_aligned(x, t, begin, end);
        const shape2d shape = t.shape;
        const std::size_t cols = shape.cols;
        std::vector<float> col_inv, col_s, col_off, col_z;
        if (is_columns()) column_params(t, col_inv, col_s, col_off, col_z);
        alignas(64) std::uint8_t buf[chunk_elements];
        for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
            const std::size_t c1 = std::min(c0 + chunk_elements, end);
            for (std::size_t i = c0; i < c1;) {
                const std::size_t r = i / cols, c = i % cols;
                std::size_t run_end = c1;
                int_run_params p{};
                slot sp;
                if (opt_.gran.type != granularity::kind::per_tensor)
                    run_end = std::min(run_end, (r + 1) * cols);
                if (is_columns()) {
                    p = {col_inv.data() + c, col_s.data() + c, col_off.data() + c, col_z.data() + c,
                         1};
                } else {
                    std::size_t s = 0;
                    if (opt_.gran.type == granularity::kind::per_channel) s = r;
                    if (opt_.gran.type == granularity::kind::per_group) {
                        const std::size_t G = opt_.gran.group_size, g0 = r * cols + (c / G) * G;
                        const std::size_t g1 = std::min(g0 + G, (r + 1) * cols);
                        run_end = std::min(run_end, g1);
                        s = opt_.gran.scale_index(shape, r, c);
                        if (lazy_groups()) {
                            sp = slot_for(x.subspan(g0, g1 - g0), b);
                            if (i == g0) store(t, s, sp);
                        }
                    }
                    if (!lazy_groups() || opt_.gran.type != granularity::kind::per_group)
                        sp = load(t, s);
                    p = {&sp.inv, &sp.scale, &sp.offset, &sp.zero, 0};
                }
                if (b == backend::simd)
                    simd::encode_int_run<Format>(x.data() + i, run_end - i, p, opt_.round, i,
                                                 buf + (i - c0));
                else
                    reference::encode_int_run<Format>(x.data() + i, run_end - i, p, opt_.round, i,
                                                      buf + (i - c0));
                i = run_end;
            }
            auto out = std::span<std::uint8_t>(t.packed).subspan(c0 * bits / 8);
            if (b == backend::simd)
                pack(std::span<const std::uint8_t>(buf, c1 - c0), bits, out, opt_.order);
            else
                pack_reference(std::span<const std::uint8_t>(buf, c1 - c0), bits, out, opt_.order);
        }
    }

    /// Decodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe.
    void decode(const tensor_type& t, std::span<float> out, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_decode_range(t, out.size(), begin, end);
        if (b == backend::simd && aligned_runs(t)) return decode_aligned(t, out, begin, end);
        const std::size_t cols = t.shape.cols;
        std::vector<float> col_inv, col_s, col_off, col_z;
        if (is_columns(t.gran)) column_params(t, col_inv, col_s, col_off, col_z);
        alignas(64) std::uint8_t buf[chunk_elements];
        for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
            const std::size_t c1 = std::min(c0 + chunk_elements, end);
            auto in = std::span<const std::uint8_t>(t.packed).subspan(c0 * bits / 8);
            // A chunk that ends before the tensor does is whole 32-blocks, so ggml_split positions
            // hold.
            if (b == backend::simd)
                unpack(in, bits, std::span<std::uint8_t>(buf, c1 - c0), t.order);
            else
                unpack_reference(in, bits, std::span<std::uint8_t>(buf, c1 - c0), t.order);
            for (std::size_t i = c0; i < c1;) {
                const std::size_t r = i / cols, c = i % cols;
                std::size_t run_end = c1;
                int_run_params p{};
                slot sp;
                if (t.gran.type != granularity::kind::per_tensor)
                    run_end = std::min(run_end, (r + 1) * cols);
                if (is_columns(t.gran)) {
                    p = {col_inv.data() + c, col_s.data() + c, col_off.data() + c, col_z.data() + c,
                         1};
                } else {
                    std::size_t s = 0;
                    if (t.gran.type == granularity::kind::per_channel) s = r;
                    if (t.gran.type == granularity::kind::per_group) {
                        const std::size_t G = t.gran.group_size,
                                          g1 = std::min(r * cols + (c / G + 1) * G, (r + 1) * cols);
                        run_end = std::min(run_end, g1);
                        s = t.gran.scale_index(t.shape, r, c);
                    }
                    sp = load(t, s);
                    p = {&sp.inv, &sp.scale, &sp.offset, &sp.zero, 0};
                }
                decode_run(buf + (i - c0), run_end - i, p, out.data() + i, t.form, b);
                i = run_end;
            }
        }
    }

    /// The Gaussian-optimal step c (scale = c · σ) of this format's levels on N(0, 1); unsigned
    /// formats use the 2^b-level midrise grid around the mean. The same on every machine.
    static double gaussian_step() {
        return Format::is_signed ? integer_optimal_step(Format::qmin, Format::qmax)
                                 : midrise_optimal_step(bits);
    }

private:
    struct slot {
        float scale = 0, inv = 0, offset = 0, zero = 0;
        ScaleT s_st{}, m_st{};
        std::uint8_t z = 0;
    };

    [[nodiscard]] bool lazy_groups() const noexcept {
        return opt_.gran.type == granularity::kind::per_group &&
            opt_.gran.group_size <= chunk_elements;
    }
    [[nodiscard]] bool is_columns() const noexcept { return is_columns(opt_.gran); }
    static bool is_columns(const granularity& g) noexcept {
        return g.type == granularity::kind::per_channel && g.axis == 1;
    }

    /// True when every run of the SIMD driver starts on a byte boundary (and a nibble-order
    /// block boundary): then runs are encoded and packed straight into the tensor.
    [[nodiscard]] static bool aligned_runs(const tensor_type& t) noexcept {
        const std::size_t cols = t.shape.cols;
        const std::size_t unit = t.order == nibble_order::ggml_split ? 32
            : t.order == nibble_order::high_first                    ? 2
                                                                     : 1;
        switch (t.gran.type) {
            case granularity::kind::per_tensor: return true;
            case granularity::kind::per_channel: return cols * bits % 8 == 0 && cols % unit == 0;
            case granularity::kind::per_group: {
                const std::size_t G = t.gran.group_size;
                return G <= chunk_elements && chunk_elements % G == 0 && cols % G == 0 &&
                    G * bits % 8 == 0 && G % unit == 0;
            }
        }
        return false;
    }

    /// The runs of a per-tensor or per-channel tensor for the SIMD drivers: at most a chunk
    /// long, never across a row (per channel), each with its parameters. (Groups have their own
    /// block drivers in encode_aligned / decode_aligned.)
    template <class Run>
    void walk_runs(const tensor_type& t, std::size_t begin, std::size_t end, Run&& run) const {
        const std::size_t cols = t.shape.cols;
        const bool per_channel = t.gran.type == granularity::kind::per_channel;
        std::vector<float> col_inv, col_s, col_off, col_z;
        if (is_columns(t.gran)) column_params(t, col_inv, col_s, col_off, col_z);
        std::size_t c = cols ? begin % cols : 0, r = cols ? begin / cols : 0, loaded_row = SIZE_MAX;
        slot sp;
        if (!per_channel && begin < end) sp = load(t, 0);
        for (std::size_t i = begin; i < end;) {
            std::size_t len = std::min(chunk_elements, end - i);
            int_run_params p{&sp.inv, &sp.scale, &sp.offset, &sp.zero, 0};
            if (per_channel) {
                len = std::min(len, cols - c);
                if (t.gran.axis == 1) {
                    p = {col_inv.data() + c, col_s.data() + c, col_off.data() + c, col_z.data() + c,
                         1};
                } else if (loaded_row != r) {
                    sp = load(t, r);
                    loaded_row = r;
                }
            }
            run(i, len, p);
            i += len;
            c += len;
            if (c == cols) {
                c = 0;
                ++r;
            }
        }
    }

    void encode_aligned(std::span<const float> x, tensor_type& t, std::size_t begin,
                        std::size_t end) const {
        const bool lazy = lazy_groups();
        if (lazy) {
            // Small groups: observe every group of a block first (their scales are independent
            // chains the CPU overlaps, and the scale arithmetic runs on batches of groups), then
            // encode them, then pack the block in one go. Blocks are whole chunks, so a parallel
            // split never cuts one.
            constexpr std::size_t W = simd::fbatch<xsimd::default_arch>::size;
            constexpr std::size_t max_block =
                W * chunk_elements > chunk_elements ? W * chunk_elements : chunk_elements;
            const std::size_t G = t.gran.group_size;
            const std::size_t block = std::max(
                chunk_elements, (W * G + chunk_elements - 1) / chunk_elements * chunk_elements);
            alignas(64) std::uint8_t q[max_block];
            slot sl[chunk_elements];
            alignas(64) float lo[chunk_elements], hi[chunk_elements];
            const bool extremes_only = opt_.rule.type == scale_rule::kind::absmax ||
                opt_.rule.type == scale_rule::kind::minmax;
            for (std::size_t c0 = begin; c0 < end; c0 += block) {
                const std::size_t c1 = std::min(c0 + block, end), ng = (c1 - c0) / G;
                if (extremes_only) {
                    simd::group_extremes(x.data() + c0, G, ng, lo, hi);
                    slots_from_extremes(x.data() + c0, G, ng, lo, hi, sl);
                } else {
                    for (std::size_t g = 0; g < ng; ++g)
                        sl[g] = slot_for(x.subspan(c0 + g * G, G), backend::simd);
                }
                for (std::size_t g = 0; g < ng; ++g) {
                    store(t, c0 / G + g, sl[g]);
                    const int_run_params p{&sl[g].inv, &sl[g].scale, &sl[g].offset, &sl[g].zero, 0};
                    simd::encode_int_run<Format>(x.data() + c0 + g * G, G, p, opt_.round,
                                                 c0 + g * G, q + g * G);
                }
                std::uint8_t* out = t.packed.data() + c0 * bits / 8;
                if (t.order == nibble_order::low_first)
                    detail::pack_stream<bits>(q, c1 - c0, out);
                else
                    pack(std::span<const std::uint8_t>(q, c1 - c0), bits,
                         std::span<std::uint8_t>(out, packed_size(c1 - c0, bits)), t.order);
            }
            return;
        }
        alignas(64) std::uint8_t q[chunk_elements];
        walk_runs(t, begin, end, [&](std::size_t i, std::size_t len, const int_run_params& p) {
            std::uint8_t* out = t.packed.data() + i * bits / 8;
            if constexpr (bits == 8) {
                simd::encode_int_run<Format>(x.data() + i, len, p, opt_.round, i,
                                             out);  // codes are the bytes
            } else {
                simd::encode_int_run<Format>(x.data() + i, len, p, opt_.round, i, q);
                if (t.order == nibble_order::low_first)
                    detail::pack_stream<bits>(q, len, out);
                else
                    pack(std::span<const std::uint8_t>(q, len), bits,
                         std::span<std::uint8_t>(out, packed_size(len, bits)), t.order);
            }
        });
    }

    void decode_aligned(const tensor_type& t, std::span<float> out, std::size_t begin,
                        std::size_t end) const {
        alignas(64) std::uint8_t buf[chunk_elements];
        if (t.gran.type == granularity::kind::per_group) {
            // Small aligned groups: unpack a chunk at once, then decode group by group.
            const std::size_t G = t.gran.group_size;
            for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
                const std::size_t c1 = std::min(c0 + chunk_elements, end), ng = (c1 - c0) / G;
                const std::uint8_t* in = t.packed.data() + c0 * bits / 8;
                const std::uint8_t* q = in;
                if constexpr (bits != 8) {
                    if (t.order == nibble_order::low_first)
                        detail::unpack_stream<bits>(in, c1 - c0, buf);
                    else
                        unpack(std::span<const std::uint8_t>(in, packed_size(c1 - c0, bits)), bits,
                               std::span<std::uint8_t>(buf, c1 - c0), t.order);
                    q = buf;
                }
                for (std::size_t g = 0; g < ng; ++g) {
                    const std::size_t k = c0 / G + g;
                    const float sc = load_scale(t.scales[k]), zero = 0.0f;
                    const float off = t.form == affine::offset ? load_scale(t.offsets[k]) : 0.0f;
                    const float z = t.form == affine::zero_point ? float(t.zero_points[k]) : 0.0f;
                    const int_run_params p{&zero, &sc, &off, &z, 0};
                    decode_run(q + g * G, G, p, out.data() + c0 + g * G, t.form, backend::simd);
                }
            }
            return;
        }
        walk_runs(t, begin, end, [&](std::size_t i, std::size_t len, const int_run_params& p) {
            const std::uint8_t* in = t.packed.data() + i * bits / 8;
            const std::uint8_t* q = in;
            if constexpr (bits != 8) {
                if (t.order == nibble_order::low_first)
                    detail::unpack_stream<bits>(in, len, buf);
                else
                    unpack(std::span<const std::uint8_t>(in, packed_size(len, bits)), bits,
                           std::span<std::uint8_t>(buf, len), t.order);
                q = buf;
            }
            auto run = [&](auto tag) {
                simd::decode_int_run<Format, decltype(tag)::value>(q, len, p, out.data() + i);
            };
            switch (t.form) {
                case affine::none: run(std::integral_constant<affine, affine::none>{}); break;
                case affine::offset: run(std::integral_constant<affine, affine::offset>{}); break;
                case affine::zero_point:
                    run(std::integral_constant<affine, affine::zero_point>{});
                    break;
            }
        });
    }

    static float inverse(float s) noexcept {
        if (s == 0.0f) return 0.0f;
        const float inv = 1.0f / s;
        return std::isfinite(inv) ? inv : 0.0f;
    }

    void decode_run(const std::uint8_t* codes, std::size_t n, const int_run_params& p, float* out,
                    affine form, backend b) const {
        auto run = [&](auto tag) {
            constexpr affine F = decltype(tag)::value;
            if (b == backend::simd)
                simd::decode_int_run<Format, F>(codes, n, p, out);
            else
                reference::decode_int_run<Format, F>(codes, n, p, out);
        };
        switch (form) {
            case affine::none: run(std::integral_constant<affine, affine::none>{}); break;
            case affine::offset: run(std::integral_constant<affine, affine::offset>{}); break;
            case affine::zero_point:
                run(std::integral_constant<affine, affine::zero_point>{});
                break;
        }
    }

    /// Sum of squared errors of the group under scale s and offset m (reference encode/decode).
    /// The MSE search's candidate arrays hold mse_search::candidates entries, padded to whole
    /// batches of every width (the lanes past the candidates are computed and ignored).
    static constexpr int mse_padded = 64;

    /// The candidates' clip ranges: cl[c] = ratio(c) · lo, ch[c] = ratio(c) · hi.
    static void mse_ranges(backend b, float lo, float hi, float* cl, float* ch) noexcept {
        if (b == backend::simd) {
            using B = xsimd::batch<float>;
            for (int c = 0; c < mse_padded; c += int(B::size)) {
                alignas(64) float r[B::size];
                for (std::size_t l = 0; l < B::size; ++l)
                    r[l] = mse_search::ratio(std::min(c + int(l), mse_search::candidates - 1));
                const B rv = B::load_aligned(r);
                (rv * B(lo)).store_aligned(cl + c);
                (rv * B(hi)).store_aligned(ch + c);
            }
            return;
        }
        for (int c = 0; c < mse_padded; ++c) {
            const float r = mse_search::ratio(std::min(c, mse_search::candidates - 1));
            cl[c] = r * lo;
            ch[c] = r * hi;
        }
    }
    /// out[c] = num[c] / den, correctly rounded, for every padded candidate.
    static void mse_quotients(const float* num, float den, float* out) noexcept {
        using B = xsimd::batch<float>;
        for (int c = 0; c < mse_padded; c += int(B::size))
            simd::divide(B::load_aligned(num + c), B(den)).store_aligned(out + c);
    }

    /// The squared error of each MSE candidate (scale cs[c], offset cm[c]) over v, summed as
    /// scale/mse.hpp defines it: E[c], saturated at FLT_MAX. threads > 1 computes the
    /// superblocks on several threads (the sums are the same for any thread count).
    void mse_errors(std::span<const float> v, const float* cs, const float* cm, float* E, backend b,
                    unsigned threads) const {
        constexpr int C = mse_search::candidates;
        constexpr bool symmetric = Format::qmin == -Format::qmax;
        const float qmin = float(Format::qmin), qmax = float(Format::qmax);
        alignas(64) float inv[mse_padded];
        bool offset = false;  // some candidate has an offset (m != 0)
        for (int c = 0; c < C; ++c) offset |= cm[c] != 0.0f;
        if (b == backend::simd) {
            using B = xsimd::batch<float>;
            for (int c = 0; c < C; c += int(B::size)) {  // inverse() of every candidate
                const B sc = B::load_unaligned(cs + c), r = simd::divide(B(1.0f), sc);
                xsimd::select(sc == B(0.0f) || !xsimd::isfinite(r), B(0.0f), r)
                    .store_aligned(inv + c);
            }
        } else {
            for (int c = 0; c < C; ++c) inv[c] = inverse(cs[c]);
        }
        // The sum of superblock sb for every candidate, to out[0 … C).
        auto superblock = [&](std::size_t sb, double* out) {
            constexpr int K = simd::mse_candidates_per_pass<>;
            alignas(64) float buffer[mse_search::chunk];
            float sum[K];
            for (int c = 0; c < C; ++c) out[c] = 0.0;
            const std::size_t a = sb * mse_search::superblock,
                              e = std::min(a + mse_search::superblock, v.size());
            for (std::size_t c0 = a; c0 < e; c0 += mse_search::chunk) {
                const float* x = v.data() + c0;
                const std::size_t len = std::min(mse_search::chunk, e - c0);
                // The SIMD kernel needs finite values. Symmetric formats run it on the chunk's
                // magnitudes (non-finite values zeroed: they add d = 0); others on the chunk when
                // it is all finite, on a zeroed copy when no candidate has an offset, and run the
                // scalar definition otherwise.
                int c = 0;
                if (b == backend::simd) {
                    auto run = [&]<simd::mse_values Values>(const float* xs) {
                        if (len < mse_search::chunk / 4) {  // a short slot: candidates in the lanes
                            float all[C];
                            simd::mse_chunk_sums_across<Values>(xs, len, inv, cs, cm, C, qmin, qmax,
                                                                all);
                            for (const int whole = C - C % int(xsimd::batch<float>::size);
                                 c < whole; ++c)
                                out[c] += double(all[c]);
                        }
                        for (; c + K <= C; c += K) {
                            simd::mse_chunk_sums<Values, K>(xs, len, inv + c, cs + c, cm + c, qmin,
                                                            qmax, sum);
                            for (int k = 0; k < K; ++k) out[c + k] += double(sum[k]);
                        }
                        for (; c < C; ++c) {
                            simd::mse_chunk_sums<Values, 1>(xs, len, inv + c, cs + c, cm + c, qmin,
                                                            qmax, sum);
                            out[c] += double(sum[0]);
                        }
                    };
                    if constexpr (symmetric) {
                        simd::finite_magnitudes(x, len, buffer);
                        run.template operator()<simd::mse_values::magnitude>(buffer);
                    } else {
                        bool finite = true;
                        for (std::size_t j = 0; j < len; ++j) finite &= std::isfinite(x[j]);
                        if (finite) {
                            if (offset)
                                run.template operator()<simd::mse_values::any>(x);
                            else
                                run.template operator()<simd::mse_values::no_offset>(x);
                        } else if (!offset) {
                            for (std::size_t j = 0; j < len; ++j)
                                buffer[j] = std::isfinite(x[j]) ? x[j] : 0.0f;
                            run.template operator()<simd::mse_values::no_offset>(buffer);
                        }
                    }
                }
                for (; c < C; ++c)
                    out[c] +=
                        double(mse_search::chunk_sum(x, len, inv[c], cs[c], cm[c], qmin, qmax));
            }
        };
        const std::size_t nsb = detail::ceil_div(v.size(), mse_search::superblock);
        double total[C] = {};
        if (nsb <= 1) {
            if (nsb == 1) superblock(0, total);
        } else {
            std::vector<double> sums(nsb * C);
            detail::split_items(nsb, threads, [&](std::size_t s0, std::size_t s1) {
                for (std::size_t sb = s0; sb < s1; ++sb) superblock(sb, sums.data() + sb * C);
            });
            for (std::size_t sb = 0; sb < nsb; ++sb)
                for (int c = 0; c < C; ++c) total[c] += sums[sb * C + c];
        }
        for (int c = 0; c < C; ++c) E[c] = mse_search::saturate(total[c]);
    }

    /// slot_for() for the absmax and minmax rules, given the group's finite extremes: the same
    /// arithmetic without the observer's bookkeeping (the hot path of per-group schemes).
    slot slot_from_extremes(std::span<const float> v, float mn, float mx) const noexcept {
        float s, lo = 0;
        if constexpr (Format::is_signed) {
            const float absmax = std::max(-mn, mx) + 0.0f;
            if constexpr (Format::range == int_range::full) {
                float e = 0;
                if (-mn != mx)
                    e = -mn > mx ? mn : mx;
                else
                    for (float x : v)
                        if (std::fabs(x) == absmax) {
                            e = x;
                            break;
                        }
                s = e / float(Format::qmin);
            } else {
                s = absmax / float(Format::scale_span);
            }
        } else {
            lo = mn + 0.0f;
            float hi = mx + 0.0f;
            if (opt_.form == affine::zero_point) {
                lo = std::min(lo, 0.0f);
                hi = std::max(hi, 0.0f);
            }
            s = affine_step(lo, hi);
        }
        slot out;
        finish_slot(s, lo, out);
        return out;
    }

    /// slot_from_extremes for ng groups at once: the scale arithmetic runs on SIMD batches of
    /// groups (the same IEEE operations, so the same bits); storage rounding is per lane.
    void slots_from_extremes(const float* x, std::size_t G, std::size_t ng, const float* lo,
                             const float* hi, slot* out) const {
        using B = simd::fbatch<xsimd::default_arch>;
        constexpr std::size_t W = B::size;
        std::size_t g = 0;
        if (opt_.form != affine::zero_point) {
            alignas(64) float sv[W], lov[W];
            for (; g + W <= ng; g += W) {
                const B mn = B::load_aligned(lo + g), mx = B::load_aligned(hi + g);
                B sb, lb(0.0f);
                if constexpr (Format::is_signed) {
                    if constexpr (Format::range == int_range::full) {
                        // qmin is −2^{b−1}: multiplying by its reciprocal is exact, as dividing is.
                        const B e = xsimd::select(-mn > mx, mn, mx);
                        sb = e * B(1.0f / float(Format::qmin));
                    } else {
                        sb = simd::divide(xsimd::max(-mn, mx) + B(0.0f),
                                          B(float(Format::scale_span)));
                    }
                } else {
                    lb = mn + B(0.0f);
                    sb = simd::divide(mx + B(0.0f) - lb, B(float(Format::qmax)));
                    // affine_step's saturation of a range wider than FLT_MAX, branch-free.
                    const B ln = xsimd::max(lb, B(-max_finite / 2)),
                            hn = xsimd::min(mx + B(0.0f), B(max_finite / 2));
                    const auto wide = sb > B(max_finite);
                    sb = xsimd::select(wide, simd::divide(hn - ln, B(float(Format::qmax))), sb);
                    lb = xsimd::select(wide, ln, lb);
                }
                sb.store_aligned(sv);
                lb.store_aligned(lov);
                for (std::size_t j = 0; j < W; ++j) {
                    if (Format::is_signed && Format::range == int_range::full &&
                        -lo[g + j] == hi[g + j])
                        out[g + j] = slot_from_extremes(std::span<const float>(x + (g + j) * G, G),
                                                        lo[g + j], hi[g + j]);
                    else
                        finish_slot(sv[j], lov[j], out[g + j]);
                }
                // A range wider than FLT_MAX (unsigned formats only): affine_step's saturation.
            }
        }
        for (; g < ng; ++g)
            out[g] = slot_from_extremes(std::span<const float>(x + g * G, G), lo[g], hi[g]);
    }

    /// finish_slot's saturation, out of the hot path.
    [[gnu::cold, gnu::noinline]] static void saturate_scale(float s, slot& out) noexcept {
        float a = std::fabs(out.scale);
        while (!std::isfinite(a * code_magnitude + out.offset))
            a = std::nextafter(std::min(a, max_finite), 0.0f);
        out.s_st = store_scale<ScaleT>(std::copysign(a, s));
        out.scale = load_scale(out.s_st);
        out.inv = inverse(out.scale);
    }
    /// s = (hi − lo) / qmax. Saturation: a range wider than FLT_MAX (hi − lo overflows) is first
    /// narrowed to [max(lo, −FLT_MAX/2), min(hi, FLT_MAX/2)], so that s, the offset and every
    /// decoded value code · s + lo stay finite; values beyond it saturate to the end codes.
    static float affine_step(float& lo, float& hi) noexcept {
        const float s = (hi - lo) / float(Format::qmax);
        if (std::isfinite(s)) [[likely]]
            return s;
        lo = std::max(lo, -max_finite / 2);
        hi = std::min(hi, max_finite / 2);
        return (hi - lo) / float(Format::qmax);
    }
    static constexpr float max_finite = 3.40282346638528859812e+38f;
    /// The largest |code| a decode multiplies by s.
    static constexpr float code_magnitude =
        float(Format::is_signed ? std::max(-Format::qmin, Format::qmax) : Format::qmax);

    /// Fills `out` in place (building a slot on the stack and copying it costs a store-forwarding
    /// stall per group: the fields are written piecewise and read back as one vector).
    LOWBIT_FORCE_INLINE void finish_slot(float s, float lo, slot& out) const noexcept {
        out.s_st = store_scale<ScaleT>(s);
        out.scale = load_scale(out.s_st);
        const bool unrounded = opt_.codes_from == code_scale::unrounded;
        out.inv = inverse(unrounded ? s : out.scale);
        if (opt_.form == affine::offset) {
            out.m_st = store_scale<ScaleT>(lo);
            out.offset = unrounded ? lo : load_scale(out.m_st);
        }
        // Saturation: every decoded value code · s (+ m) must stay finite. A group whose range
        // reaches FLT_MAX can round s up past FLT_MAX / |code|max; s then steps down to the
        // largest value that keeps the end code finite (fp16 storage needs no test: 65504 · 255
        // + 65504 is far below FLT_MAX).
        if constexpr (!std::is_same_v<ScaleT, Eigen::half>)
            if (!std::isfinite(out.scale * code_magnitude + out.offset)) [[unlikely]]
                saturate_scale(s, out);
        if (opt_.form == affine::zero_point) {
            const float z = out.inv == 0.0f ? 0.0f : std::nearbyint(-lo * out.inv);
            out.z = static_cast<std::uint8_t>(std::clamp(z, 0.0f, float(Format::qmax)));
            out.zero = float(out.z);
        }
    }

    /// Range (lo, hi) for an unsigned format, or (0, L) / signed scale for a signed one.
    slot slot_for(std::span<const float> v, backend b, unsigned threads = 1) const {
        float s = 0, lo = 0, hi = 0;
        const auto& rule = opt_.rule;
        group_stats st;
        if (rule.type == scale_rule::kind::gaussian_optimal)
            st = observe(v);
        else if (rule.type == scale_rule::kind::fixed) {
        } else if (!Format::is_signed && b == backend::simd)
            simd::minmax(v.data(), v.size(), st.min, st.max);
        else if (!Format::is_signed)
            st = observe_extremes(v);
        else if (b == backend::simd) {
            simd::minmax(v.data(), v.size(), st.min, st.max);
            st.absmax = std::max(-st.min, st.max) + 0.0f;  // + 0: never −0
        } else {
            st.absmax = observe_absmax(v.data(), v.size());
        }
        if constexpr (Format::is_signed) {
            const float span = float(Format::scale_span);
            switch (rule.type) {
                case scale_rule::kind::absmax:
                case scale_rule::kind::minmax:
                    if (Format::range == int_range::full) {
                        // The first element of largest magnitude maps to qmin exactly. When the
                        // SIMD observer's min and max differ in magnitude, that element's value
                        // is known without a scan.
                        float e = 0;
                        if (b == backend::simd && -st.min != st.max)
                            e = -st.min > st.max ? st.min : st.max;
                        else
                            for (float x : v)
                                if (std::fabs(x) == st.absmax) {
                                    e = x;
                                    break;
                                }
                        s = e / float(Format::qmin);
                    } else {
                        s = st.absmax / span;
                    }
                    break;
                case scale_rule::kind::percentile: s = rule.ratio * st.absmax / span; break;
                case scale_rule::kind::gaussian_optimal:
                    s = float(gaussian_step_ * st.rms());
                    break;
                case scale_rule::kind::fixed:
                    s = std::max(std::fabs(rule.lo), std::fabs(rule.hi)) / span;
                    break;
                case scale_rule::kind::mse_search: {
                    alignas(64) float cs[mse_padded], cm[mse_padded] = {}, cl[mse_padded],
                                                      ch[mse_padded];
                    float err[mse_search::candidates];
                    mse_ranges(b, 0.0f, st.absmax, cl, ch);  // ch[c] = ratio(c) · absmax
                    if constexpr (std::is_same_v<ScaleT, float>) {
                        if (b == backend::simd)
                            mse_quotients(ch, span, cs);
                        else
                            for (int c = 0; c < mse_search::candidates; ++c) cs[c] = ch[c] / span;
                    } else {
                        for (int c = 0; c < mse_search::candidates; ++c)
                            cs[c] = float(store_scale<ScaleT>(ch[c] / span));
                    }
                    mse_errors(v, cs, cm, err, b, threads);
                    float best = INFINITY;  // the first least error: ties keep the widest range
                    for (int c = 0; c < mse_search::candidates; ++c)
                        if (err[c] < best) {
                            best = err[c];
                            s = cs[c];
                        }
                    break;
                }
            }
        } else {
            switch (rule.type) {
                case scale_rule::kind::absmax:
                case scale_rule::kind::minmax:
                    lo = st.min;
                    hi = st.max;
                    break;
                case scale_rule::kind::percentile:
                    lo = rule.ratio * st.min;
                    hi = rule.ratio * st.max;
                    break;
                case scale_rule::kind::fixed:
                    lo = rule.lo;
                    hi = rule.hi;
                    break;
                case scale_rule::kind::gaussian_optimal: {
                    const double step = gaussian_step_ * st.stddev();
                    lo = float(st.mean() - step * Format::qmax / 2.0);
                    hi = float(st.mean() + step * Format::qmax / 2.0);
                    break;
                }
                case scale_rule::kind::mse_search: {
                    alignas(64) float cs[mse_padded], cm[mse_padded], cl[mse_padded],
                        ch[mse_padded], width[mse_padded];
                    float err[mse_search::candidates];
                    mse_ranges(b, st.min, st.max, cl, ch);
                    for (int c = 0; c < mse_padded; ++c) width[c] = ch[c] - cl[c];
                    if constexpr (std::is_same_v<ScaleT, float>) {
                        if (b == backend::simd)
                            mse_quotients(width, float(Format::qmax), cs);
                        else
                            for (int c = 0; c < mse_search::candidates; ++c)
                                cs[c] = width[c] / float(Format::qmax);
                        for (int c = 0; c < mse_padded; ++c) cm[c] = cl[c];
                    } else {
                        for (int c = 0; c < mse_search::candidates; ++c) {
                            cs[c] = float(store_scale<ScaleT>(width[c] / float(Format::qmax)));
                            cm[c] = float(store_scale<ScaleT>(cl[c]));
                        }
                    }
                    mse_errors(v, cs, cm, err, b, threads);
                    float best = INFINITY;  // the first least error: ties keep the widest range
                    for (int c = 0; c < mse_search::candidates; ++c)
                        if (err[c] < best) {
                            best = err[c];
                            lo = cl[c];
                            hi = ch[c];
                        }
                    break;
                }
            }
            lo += 0.0f;  // −0 → +0, so that every observer yields the same stored bits
            hi += 0.0f;
            if (opt_.form == affine::zero_point) {
                lo = std::min(lo, 0.0f);
                hi = std::max(hi, 0.0f);
            }
            s = affine_step(lo, hi);
        }
        slot out;
        finish_slot(s, lo, out);
        return out;
    }

    void store(tensor_type& t, std::size_t s, const slot& sp) const {
        t.scales[s] = sp.s_st;
        if (!t.offsets.empty()) t.offsets[s] = sp.m_st;
        if (!t.zero_points.empty()) t.zero_points[s] = sp.z;
    }
    static slot load(const tensor_type& t, std::size_t s) {
        slot sp;
        sp.scale = load_scale(t.scales[s]);
        sp.inv = inverse(sp.scale);
        if (t.form == affine::offset) {
            detail::require(t.offsets.size() == t.scales.size(), "t.offsets",
                            "must have one offset per scale");
            sp.offset = load_scale(t.offsets[s]);
        }
        if (t.form == affine::zero_point) {
            detail::require(t.zero_points.size() == t.scales.size(), "t.zero_points",
                            "must have one zero point per scale");
            sp.zero = float(t.zero_points[s]);
        }
        return sp;
    }
    static void column_params(const tensor_type& t, std::vector<float>& inv, std::vector<float>& s,
                              std::vector<float>& off, std::vector<float>& z) {
        const std::size_t n =
            t.size() == 0 ? 0 : t.shape.cols;  // an empty tensor has no column scales
        inv.assign(n, 0);
        s.assign(n, 0);
        off.assign(n, 0);
        z.assign(n, 0);
        for (std::size_t c = 0; c < n; ++c) {
            const slot sp = load(t, c);
            inv[c] = sp.inv;
            s[c] = sp.scale;
            off[c] = sp.offset;
            z[c] = sp.zero;
        }
    }

    options opt_;
    double gaussian_step_ = 0;
};

LOWBIT_NAMESPACE_END
