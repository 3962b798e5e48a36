// lowbit — the BBQ and QuEST quantizers: blockwise Hadamard (H = 128 by default, or none),
// σ = RMS per tensor, per row, or given, then BBQ's Φ-threshold codes or QuEST's clipped uniform
// midrise codes (formats/bbq.hpp), emitted as signed INT-B, the raw index, or FP4 E2M1.
//
//   lowbit::bbq_quantizer<4> q;                         // H = 128, σ per tensor, z = 0, γ = ζ*·σ
//   auto t = q.quantize(w, {rows, cols});               // t.codes(): INT4 two's complement
//   q.dequantize(t, y);                                 // back in w's domain (inverse Hadamard)
//
// σ is the RMS of the finite inputs x of the slot (the tensor, or one row), summed in
// core/reduce.hpp's fixed tree order (CUDA reproduces it); the transform is orthonormal and
// block-diagonal within rows, so this is also the RMS of H·x up to float rounding, and it needs
// no transform pass of its own. From the stored float σ:
//   BBQ:   r = float(1/σ) (0 when σ = 0),  γ = given or float(ζ*·σ),  s = γ / 2^{B−1};  v = y·r
//   QuEST: s = float(c·σ),  a = float(1/s) (0 when s = 0);  u = y·a
// and the decode is x̂ = s · level(code) in the Hadamard domain, followed (options.to_input) by
// the inverse transform, which is the transform itself. `scales` stores s per slot (what the
// decode needs; 32 bits each), `sigmas` stores σ.
//
// SIMD fast paths (bit-identical, tested against the reference): 4-bit codes in the low_first
// layout on rows of even length are written and read as packed nibbles directly, and whole
// Hadamard blocks of up to 16 batches are transformed and encoded (or decoded and transformed
// back) without leaving registers; runs of whole blocks under one σ (the whole range when rows
// are whole blocks and σ is per tensor or given) go to one call (simd/bbq.hpp).
//
// Non-finite inputs (docs/formats.md, "Non-finite inputs"): the transform would spread one NaN or
// Inf over its whole block, so options.on_non_finite decides first. non_finite::error (default)
// throws lowbit::error("x", …) naming the first non-finite element (prepare() for σ per tensor
// or row, else encode()); non_finite::saturate maps NaN to 0 and ±Inf to ± the largest finite |x|
// of its Hadamard block (of its row when hadamard = 0), σ included, so the result is that of the
// finite tensor so mapped and no other block changes.
//
// Huge finite inputs: a block holding |x| >= 2^100 (or a non-finite value) takes the guarded
// path: its reference transform runs on x · 2^−k (k from the block's largest |x|, exact scaling)
// and the multiplier becomes r · 2^k, so no butterfly overflows. Both backends take it (one pass
// of integer maxima decides, per piece of whole blocks while it is in L1), so their codes stay
// equal. Saturations: s <= FLT_MAX / 2^{B−1} (every level · s finite); a slot with
// 2^{B−1} · s >= 2^100 is inverse-transformed the same guarded way, outputs clamped to ±FLT_MAX.
//
// Splitting for threads (parallel.hpp): encode(begin, end) transforms every Hadamard block that
// overlaps the range (reading x outside it where a block straddles the edge) and writes only the
// range's codes; decode likewise. Results do not depend on the split.
#pragma once
#include "facade.hpp"
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/checked.hpp"
#include "../core/granularity.hpp"
#include "../core/non_finite.hpp"
#include "../core/packing.hpp"
#include "../core/reduce.hpp"
#include "../formats/bbq.hpp"
#include "../scale/rules.hpp"
#include "../simd/bbq.hpp"
#include "../simd/hadamard.hpp"
#include "../simd/observe.hpp"
#include "../simd/packing.hpp"
#include "../transform/hadamard.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Where σ comes from.
enum class sigma_source : std::uint8_t {
    per_tensor,  ///< RMS of the whole tensor
    per_row,     ///< RMS of each row (the reference's per-channel weights)
    given,       ///< options.sigma (e.g. a running average kept by the caller: BBQ-fast)
};

/// Options of bbq_quantizer and quest_quantizer, checked when the quantizer is constructed:
/// `hadamard` 0 or a power of two in 2 … 32768 (rows of any length: a row's tail shorter than H
/// is cut into power-of-two blocks, see transform/hadamard.hpp), every enum in range, `order`
/// low_first or, for 4-bit codes, high_first.
struct bbq_options {
    std::size_t hadamard = 128;  ///< block size H (a power of two 2 … 32768) or 0: no transform
    sigma_source sigma_from = sigma_source::per_tensor;
    float sigma = 0.0f;                 ///< sigma_source::given: σ (> 0)
    float gamma = 0.0f;                 ///< BBQ: γ (> 0), or 0 for ζ*·σ; QuEST ignores it
    bbq_zero zero = bbq_zero::integer;  ///< BBQ's zero point; QuEST's is −½ by construction
    bool to_input = true;               ///< dequantize applies the inverse transform
    nibble_order order = nibble_order::low_first;  ///< low_first or (4-bit codes) high_first
    non_finite on_non_finite =
        non_finite::error;  ///< ±Inf / NaN in x: an error, or saturated (file comment)
};

namespace detail {
/// Checks the enum and size fields of bbq_options for `code_bits`-bit codes; errors name
/// `name`'s field (e.g. "options.hadamard").
inline void check_bbq_options(const bbq_options& o, int code_bits, std::string_view name) {
    require_field(o.hadamard == 0 || is_hadamard_size(o.hadamard), name, "hadamard",
                  "must be 0 (no transform) or a power of two in 2 … 32768");
    require_field(o.sigma_from == sigma_source::per_tensor ||
                      o.sigma_from == sigma_source::per_row || o.sigma_from == sigma_source::given,
                  name, "sigma_from", "must be a sigma_source value");
    require_field(o.zero == bbq_zero::integer || o.zero == bbq_zero::half, name, "zero",
                  "must be a bbq_zero value");
    require_field(o.order == nibble_order::low_first ||
                      (code_bits == 4 && o.order == nibble_order::high_first),
                  name, "order", "must be low_first, or high_first for 4-bit codes");
}
}  // namespace detail

/// The result of bbq_quantizer / quest_quantizer: packed codes and one scale per slot.
template <int CodeBits>
struct bbq_tensor {
    shape2d shape;
    bbq_options opt;  ///< the options the tensor was made with
    std::vector<std::uint8_t> packed;
    std::vector<float> sigmas;               ///< σ per slot
    std::vector<float> scales;               ///< decode step s per slot
    std::array<float, 256> level_of_code{};  ///< level of every emitted code (decode table)

    static constexpr int bits = CodeBits;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    [[nodiscard]] std::vector<std::uint8_t> codes() const {
        validate();
        std::vector<std::uint8_t> c(size());
        unpack(packed, bits, c, opt.order);
        return c;
    }
    /// Slots of σ and s: one per row (sigma_source::per_row), else one; none for an empty tensor,
    /// whatever its other dimension (detail::sigma_slots, which prepare sizes them by).
    [[nodiscard]] std::size_t slot_count() const noexcept {
        if (shape.rows == 0 || shape.cols == 0) return 0;
        return opt.sigma_from == sigma_source::per_row ? shape.rows : 1;
    }
    /// Throws lowbit::error naming the first inconsistent field: rows · cols and the packed size
    /// within size_t, the options' fields decode reads (`opt.hadamard`, `opt.sigma_from`,
    /// `opt.zero`, `opt.order`) legal as bbq_options states, `packed` exactly
    /// packed_size(size(), bits) bytes, one σ and one scale per slot.
    void validate() const {
        const std::size_t n = detail::checked_elements(shape.rows, shape.cols, bits, "t.shape");
        detail::check_bbq_options(opt, bits, "t.opt");
        detail::require(packed.size() == packed_size(n, bits), "t.packed",
                        "must hold exactly packed_size(rows * cols, bits) bytes");
        detail::require(sigmas.size() == slot_count(), "t.sigmas",
                        "must hold one sigma per slot (per row, or one per tensor)");
        detail::require(scales.size() == slot_count(), "t.scales",
                        "must hold one scale per slot (per row, or one per tensor)");
    }
    [[nodiscard]] std::size_t storage_bits() const noexcept {
        return size() * bits + scales.size() * 32;
    }
    [[nodiscard]] double bits_per_value() const noexcept {
        return size() ? double(storage_bits()) / double(size()) : 0.0;
    }
};

namespace detail {
/// Code i of a packed stream (low_first or high_first).
inline std::uint8_t code_at(const std::vector<std::uint8_t>& packed, std::size_t i, int bits,
                            nibble_order order) noexcept {
    if (order == nibble_order::high_first)
        return static_cast<std::uint8_t>((packed[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xFu);
    unsigned c = 0;
    for (int k = 0; k < bits; ++k) {
        const std::size_t bit = i * std::size_t(bits) + std::size_t(k);
        c |= ((packed[bit / 8] >> (bit % 8)) & 1u) << k;
    }
    return static_cast<std::uint8_t>(c);
}
/// σ values (and scales) a tensor of `shape` holds: one per row or one, none when it is empty
/// whatever its row count.
inline std::size_t sigma_slots(shape2d shape, sigma_source from) noexcept {
    if (shape.size() == 0) return 0;
    return from == sigma_source::per_row ? shape.rows : 1;
}
inline float safe_inverse(double s) noexcept {
    if (s == 0.0) return 0.0f;
    const float r = static_cast<float>(1.0 / s);
    return std::isfinite(r) ? r : 0.0f;
}

/// Magnitude bits (simd::max_magnitude_bits) from which a block takes the guarded path: 2^100.
/// Below it the butterflies of a block of up to 2^15 values stay below 2^115 (no overflow).
inline constexpr std::uint32_t rotated_guard_bits = 0x71800000u;
inline constexpr float rotated_max_finite = 3.40282346638528859812e+38f;

/// The power of two 2^k (k >= 0) that brings a block of largest |x| = m below 2^100.
inline int rotated_shift(float m) noexcept { return m >= 0x1p100f ? std::ilogb(m) - 99 : 0; }

/// The Hadamard block (size h) of a block whose largest |x| is m: unnormalised sums over
/// x · 2^−k, then · 2^k, saturating at ±FLT_MAX (the inverse of a decode of huge scales). k = 0
/// is the plain reference transform.
inline void hadamard_block_guarded(float* x, std::size_t h, float m) noexcept {
    const int k = rotated_shift(m);
    if (k == 0) return reference::hadamard_block(x, h);
    for (std::size_t i = 0; i < h; ++i) x[i] = std::ldexp(x[i], -k);
    reference::hadamard_block(x, h);
    for (std::size_t i = 0; i < h; ++i)
        x[i] = std::clamp(std::ldexp(x[i], k), -rotated_max_finite, rotated_max_finite);
}

/// The policy's input of a block: NaN → 0, ±Inf → ± the largest finite |x| of the block. Writes
/// the block to out and returns its largest finite |x|; `bad` gets the offset of the first
/// non-finite value (h when none).
inline float saturate_block(const float* x, std::size_t h, float* out, std::size_t& bad) noexcept {
    float m = 0.0f;
    bad = h;
    for (std::size_t k = 0; k < h; ++k) {
        const float a = std::fabs(x[k]);
        if (a <= rotated_max_finite)
            m = a > m ? a : m;
        else if (bad == h)
            bad = k;
    }
    for (std::size_t k = 0; k < h; ++k)
        out[k] = std::isnan(x[k]) ? 0.0f : std::isinf(x[k]) ? std::copysign(m, x[k]) : x[k];
    return m;
}
}  // namespace detail

/// BBQ (Quest = false) or QuEST (Quest = true) of `Bits` bits, codes emitted as `Codes`.
template <int Bits, bool Quest, bbq_codes Codes = bbq_codes::int_b>
class rotated_quantizer : public quantizer_facade<rotated_quantizer<Bits, Quest, Codes>> {
public:
    using quantizer_facade<rotated_quantizer<Bits, Quest, Codes>>::prepare;
    static_assert(Bits >= 1 && Bits <= 8, "lowbit: BBQ / QuEST need 1 <= Bits <= 8");
    static_assert(Codes != bbq_codes::e2m1 || Bits <= 3,
                  "lowbit: E2M1 codes hold the levels exactly only for Bits <= 3 (z = 0) or Bits "
                  "<= 2 (z = -1/2)");
    static constexpr int bits = Bits;
    static constexpr int code_bits = bbq_code_bits(Bits, Codes);
    using tensor_type = bbq_tensor<code_bits>;
    using options = bbq_options;

    rotated_quantizer() : rotated_quantizer(options{}) {}
    explicit rotated_quantizer(options o) : opt_(o), kern_(o.zero) {
        detail::check_bbq_options(opt_, code_bits, "options");
        if (opt_.sigma_from == sigma_source::given)
            detail::require(std::isfinite(opt_.sigma) && opt_.sigma > 0.0f, "options.sigma",
                            "must be finite and > 0 when sigma_from is given");
        detail::require(std::isfinite(opt_.gamma) && opt_.gamma >= 0.0f, "options.gamma",
                        "must be finite and >= 0 (0: zeta* sigma)");
        if (Quest) opt_.zero = bbq_zero::half;
        detail::require(
            Codes != bbq_codes::e2m1 || bbq_e2m1_exact(Bits, opt_.zero), "options.zero",
            "E2M1 codes need z = 0 at 3 bits (the levels ±2.5, ±3.5 of z = -1/2 are not in E2M1)");
        for (std::size_t q = 0; q < (std::size_t{1} << Bits); ++q) {
            const float lv = level(static_cast<std::uint8_t>(q));
            level_of_code_[bbq_emit<Bits>(static_cast<std::uint8_t>(q), lv, Codes)] = lv;
        }
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    void prepare(std::span<const float> x, shape2d shape, tensor_type& t, backend b) const {
        detail::require(
            x.size() == detail::checked_elements(shape.rows, shape.cols, code_bits, "shape"), "x",
            "must hold shape.rows * shape.cols values");
        t.shape = shape;
        t.opt = opt_;
        t.packed.resize(packed_size(shape.size(), code_bits));  // every byte is written by encode()
        t.level_of_code = level_of_code_;
        const std::size_t slots = detail::sigma_slots(shape, opt_.sigma_from);
        t.sigmas.assign(slots, 0.0f);
        t.scales.assign(slots, 0.0f);
        for (std::size_t s = 0; s < slots; ++s) {
            float sigma = opt_.sigma;
            if (opt_.sigma_from != sigma_source::given) {
                const auto v = opt_.sigma_from == sigma_source::per_row
                    ? x.subspan(s * shape.cols, shape.cols)
                    : x;
                std::size_t finite = 0;
                double sq;
                if (b == backend::simd) {
                    sq = simd::tree_sum_squares_finite(v, &finite);
                } else {
                    for (float e : v) finite += std::isfinite(e) ? 1 : 0;
                    sq = tree_sum_squares_finite(v);
                }
                if (finite < v.size())
                    [[unlikely]] {  // σ of the policy's input (see non_finite_input)
                    const std::size_t base =
                        opt_.sigma_from == sigma_source::per_row ? s * shape.cols : 0;
                    if (opt_.on_non_finite == non_finite::error)
                        for (std::size_t i = 0; i < v.size(); ++i)
                            if (!std::isfinite(v[i])) throw_non_finite(base + i);
                    const std::size_t r0 = opt_.sigma_from == sigma_source::per_row ? s : 0;
                    const std::vector<float> w = non_finite_input(
                        x, shape, r0, r0 + v.size() / std::max<std::size_t>(shape.cols, 1));
                    finite = w.size();
                    sq = b == backend::simd
                        ? simd::tree_sum_squares_finite(std::span<const float>(w), &finite)
                        : tree_sum_squares_finite(std::span<const float>(w));
                }
                sigma = finite ? static_cast<float>(std::sqrt(sq / double(finite))) : 0.0f;
            }
            t.sigmas[s] = sigma;
            t.scales[s] = scale_for(sigma);
        }
    }

    /// Encodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe for disjoint
    /// ranges. Throws lowbit::error ("x") on a non-finite value under non_finite::error (t's codes
    /// are then unspecified; split over threads, the index is the first of the failing range).
    void encode(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_encode_range(t, x.size(), begin, end);
        detail::require(t.opt.hadamard == opt_.hadamard && t.opt.sigma_from == opt_.sigma_from &&
                            t.opt.order == opt_.order && t.opt.zero == opt_.zero,
                        "t.opt", "must be the options of this quantizer (prepare() sets them)");
        if (begin == end) return;
        const std::size_t cols = t.shape.cols, H = opt_.hadamard;
        if constexpr (code_bits == 4 && !Quest) {
            // Rows of whole blocks under one σ, the range on block edges: runs of blocks, a piece
            // (a multiple of H and of chunk_elements) at a time; a piece holding a value the
            // transform cannot take as it is (guarded()) goes through encode_rows.
            if (b == backend::simd && opt_.order == nibble_order::low_first && cols % 2 == 0 &&
                H != 0 && cols % H == 0 && begin % H == 0 && end % H == 0 &&
                opt_.sigma_from != sigma_source::per_row && fused_blocks_ok(H)) {
                // Pieces in the order of the kernel's own walk (simd::detail::tail_first), each
                // checked while it is in L1 just before the kernel reads it.
                const float mult = multiplier(t, 0);
                const bool scan = may_need_guard(t, 0);
                lowbit::detail::for_each_step_backward<simd::detail::leaf_streams>(
                    begin, end, std::max<std::size_t>(H, 8192), [&](std::size_t p, std::size_t e) {
                        if (scan && guarded(x.data() + p, e - p, b)) {
                            if (opt_.on_non_finite ==
                                non_finite::error)  // name the range's first, not this piece's
                                for (std::size_t i = begin; i < end; ++i)
                                    if (!std::isfinite(x[i])) throw_non_finite(i);
                            encode_rows(x, t, p, e, b);
                        } else
                            fused_blocks(x.data() + p, (e - p) / H, H, mult,
                                         t.packed.data() + p / 2);
                    });
                return;
            }
        }
        encode_rows(x, t, begin, end, b);
    }

    /// encode() row by row. A row whose blocks from the range's first on hold a non-finite value
    /// or one of magnitude >= 2^100 (guarded()) takes the guarded path block by block: the policy's
    /// input (detail::saturate_block), the reference transform of x · 2^−k with k from the block's
    /// largest |x| (detail::rotated_shift), and the multiplier · 2^k; both backends run it, so
    /// their codes stay equal, and equal to those of the policy's finite input.
    void encode_rows(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                     backend b) const {
        const std::size_t cols = t.shape.cols, H = opt_.hadamard;
        alignas(64) std::uint8_t buf[chunk_elements];
        std::size_t c0 = begin, c1 = std::min(begin + chunk_elements, end);
        auto flush = [&] {
            auto out = std::span<std::uint8_t>(t.packed).subspan(c0 * code_bits / 8);
            const auto in = std::span<const std::uint8_t>(buf, c1 - c0);
            if (b == backend::simd)
                pack(in, code_bits, out, opt_.order);
            else
                pack_reference(in, code_bits, out, opt_.order);
            c0 = c1;
            c1 = std::min(c0 + chunk_elements, end);
        };
        // Codes of elements [i, i + n) from the transformed values y.
        auto emit = [&](const float* y, std::size_t i, std::size_t n, float mult) {
            while (n) {
                const std::size_t m = std::min(n, c1 - i);
                encode_run(y, m, mult, buf + (i - c0), b);
                y += m;
                i += m;
                n -= m;
                if (i == c1) flush();
            }
        };
        // 4-bit low_first codes with even rows: every block, row and range edge falls on a byte.
        const bool direct = code_bits == 4 && b == backend::simd &&
            opt_.order == nibble_order::low_first && cols % 2 == 0 && opt_.hadamard != 0;
        std::vector<float> big;
        alignas(64) float small[4096];
        float* tmp = small;
        if (H > 4096) {
            big.resize(H);
            tmp = big.data();
        }
        for (std::size_t r = begin / cols; r * cols < end; ++r) {
            const std::size_t row0 = r * cols;
            const std::size_t lo = std::max(begin, row0) - row0,
                              hi = std::min(end, row0 + cols) - row0;
            const float mult = multiplier(t, r);
            const std::size_t first = H == 0 ? lo : std::min(lo / H, cols / H) * H;
            const bool guard = may_need_guard(t, r) &&
                guarded(x.data() + row0 + first, (H == 0 ? hi : cols) - first, b);
            if (H == 0 && !guard) {
                emit(x.data() + row0 + lo, row0 + lo, hi - lo, mult);
                continue;
            }
            if (H == 0) {  // no transform: the policy's input of the row, element by element
                guarded_input(x.data() + row0, cols, row0, tmp_row(big, cols));
                emit(big.data() + lo, row0 + lo, hi - lo, mult);
                continue;
            }
            for (std::size_t pos = first; pos < hi;) {
                const std::size_t h = hadamard_block_at(cols - pos, H);
                float m = mult;
                if (guard) {
                    m = guarded_block(x.data() + row0 + pos, h, row0 + pos, mult, tmp);
                } else if constexpr (code_bits == 4 && !Quest) {
                    // The whole blocks of H from here on within the range: one run.
                    const std::size_t run = pos >= lo && h == H ? (hi - pos) / H : 0;
                    if (direct && run > 0 &&
                        fused_blocks(x.data() + row0 + pos, run, H, mult,
                                     t.packed.data() + (row0 + pos) / 2)) {
                        pos += run * H;
                        continue;
                    }
                    if (direct && pos >= lo && pos + h <= hi &&
                        fused_block(x.data() + row0 + pos, h, mult,
                                    t.packed.data() + (row0 + pos) / 2)) {
                        pos += h;
                        continue;
                    }
                }
                if (!guard) {
                    if (b == backend::simd) {
                        simd::hadamard_block_copy(x.data() + row0 + pos, tmp, h);
                    } else {
                        std::memcpy(tmp, x.data() + row0 + pos, h * sizeof(float));
                        reference::hadamard_block(tmp, h);
                    }
                }
                const std::size_t a = std::max(pos, lo), e = std::min(pos + h, hi);
                if constexpr (code_bits == 4 && !Quest) {
                    if (direct) {  // every run starts on a byte: write the packed stream directly
                        simd::bbq_encode_run_packed4<Bits>(tmp + (a - pos), e - a, m, opt_.zero,
                                                           Codes, kern_,
                                                           t.packed.data() + (row0 + a) / 2);
                        pos += h;
                        continue;
                    }
                }
                emit(tmp + (a - pos), row0 + a, e - a, m);
                pos += h;
            }
        }
    }

    /// Decodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe.
    void decode(const tensor_type& t, std::span<float> out, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_decode_range(t, out.size(), begin, end);
        const std::size_t cols = t.shape.cols, H = t.opt.hadamard;
        const simd::level_table<code_bits> table(t.level_of_code.data(),
                                                 std::size_t{1} << code_bits);
        auto scale_of = [&](std::size_t r) {
            return t.scales[t.opt.sigma_from == sigma_source::per_row ? r : 0];
        };
        if constexpr (code_bits == 4) {
            // Whole blocks of 4-bit low_first codes: decode and inverse transform in registers;
            // everything else (rows' odd tails, range edges) below.
            if (b == backend::simd && t.opt.to_input && H != 0 &&
                t.opt.order == nibble_order::low_first && cols % 2 == 0 && begin == 0 &&
                end == t.size() && H % xsimd::batch<float>::size == 0 &&
                H <= 16 * xsimd::batch<float>::size && cols % H == 0 &&
                std::none_of(t.scales.begin(), t.scales.end(), huge_scale)) {
                constexpr std::size_t W = xsimd::batch<float>::size;
                for (std::size_t i = 0; i < end; i += H) {
                    const float s = scale_of(i / cols);
                    switch (H / W) {
                        case 1:
                            simd::level_decode_block_packed4<1>(t.packed.data() + i / 2, s, table,
                                                                out.data() + i);
                            break;
                        case 2:
                            simd::level_decode_block_packed4<2>(t.packed.data() + i / 2, s, table,
                                                                out.data() + i);
                            break;
                        case 4:
                            simd::level_decode_block_packed4<4>(t.packed.data() + i / 2, s, table,
                                                                out.data() + i);
                            break;
                        case 8:
                            simd::level_decode_block_packed4<8>(t.packed.data() + i / 2, s, table,
                                                                out.data() + i);
                            break;
                        default:
                            simd::level_decode_block_packed4<16>(t.packed.data() + i / 2, s, table,
                                                                 out.data() + i);
                            break;
                    }
                }
                return;
            }
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        for (std::size_t c0 = begin; c0 < end; c0 += chunk_elements) {
            const std::size_t c1 = std::min(c0 + chunk_elements, end);
            auto in = std::span<const std::uint8_t>(t.packed).subspan(c0 * code_bits / 8);
            if (b == backend::simd)
                unpack(in, code_bits, std::span<std::uint8_t>(buf, c1 - c0), t.opt.order);
            else
                unpack_reference(in, code_bits, std::span<std::uint8_t>(buf, c1 - c0), t.opt.order);
            for (std::size_t i = c0; i < c1;) {
                const std::size_t r = i / cols, run_end = std::min(c1, (r + 1) * cols);
                if (b == backend::simd)
                    simd::level_decode_run<code_bits>(buf + (i - c0), run_end - i, scale_of(r),
                                                      t.level_of_code.data(), table,
                                                      out.data() + i);
                else
                    reference::level_decode_run(buf + (i - c0), run_end - i, scale_of(r),
                                                t.level_of_code.data(), out.data() + i);
                i = run_end;
            }
        }
        if (!t.opt.to_input || H == 0 || begin == end) return;
        std::vector<float> big;
        alignas(64) float small[4096];
        float* tmp = small;
        if (H > 4096) {
            big.resize(H);
            tmp = big.data();
        }
        for (std::size_t r = begin / cols; r * cols < end; ++r) {
            const std::size_t row0 = r * cols;
            const std::size_t lo = std::max(begin, row0) - row0,
                              hi = std::min(end, row0 + cols) - row0;
            const bool huge = huge_scale(scale_of(r));
            for (std::size_t pos = std::min(lo / H, cols / H) * H; pos < hi;) {
                const std::size_t h = hadamard_block_at(cols - pos, H);
                float* blk = out.data() + row0 + pos;
                if (huge) [[unlikely]] {  // the same on both backends
                    for (std::size_t k = 0; k < h; ++k) {
                        const std::size_t c = pos + k;
                        tmp[k] = (c >= lo && c < hi) ? blk[k]
                                                     : scale_of(r) *
                                t.level_of_code[detail::code_at(t.packed, row0 + c, code_bits,
                                                                t.opt.order)];
                    }
                    detail::hadamard_block_guarded(tmp, h, observe_absmax(tmp, h));
                    for (std::size_t c = std::max(pos, lo); c < std::min(pos + h, hi); ++c)
                        blk[c - pos] = tmp[c - pos];
                } else if (pos >= lo && pos + h <= hi) {
                    if (b == backend::simd)
                        simd::hadamard_blocks(blk, 1, h);
                    else
                        reference::hadamard_block(blk, h);
                } else {  // a block straddling the range: the values outside it are decoded here
                    for (std::size_t k = 0; k < h; ++k) {
                        const std::size_t c = pos + k;
                        tmp[k] = (c >= lo && c < hi) ? blk[k]
                                                     : scale_of(r) *
                                t.level_of_code[detail::code_at(t.packed, row0 + c, code_bits,
                                                                t.opt.order)];
                    }
                    if (b == backend::simd)
                        simd::hadamard_blocks(tmp, 1, h);
                    else
                        reference::hadamard_block(tmp, h);
                    for (std::size_t c = std::max(pos, lo); c < std::min(pos + h, hi); ++c)
                        blk[c - pos] = tmp[c - pos];
                }
                pos += h;
            }
        }
    }

    /// The level of q_u: BBQ q_u − 2^{B−1} − z, QuEST q_u − 2^{B−1} + ½.
    [[nodiscard]] float level(std::uint8_t qu) const noexcept {
        if constexpr (Quest)
            return quest_format<Bits>::level(qu);
        else
            return bbq_format<Bits>::level(qu, opt_.zero);
    }
    /// The decode step s of a slot with RMS σ (see the file comment), at most FLT_MAX / 2^{B−1}
    /// so that every level · s is finite (|level| <= 2^{B−1}).
    [[nodiscard]] float scale_for(float sigma) const noexcept {
        constexpr float top = detail::rotated_max_finite / float(1 << (Bits - 1));
        if constexpr (Quest)
            return std::min(static_cast<float>(quest_format<Bits>::step() * double(sigma)), top);
        else {
            const float gamma =
                opt_.gamma > 0.0f ? opt_.gamma : static_cast<float>(bbq_zeta * double(sigma));
            return std::min(gamma / float(1 << (Bits - 1)), top);
        }
    }
    /// True when a slot's decoded values (|level · s| <= 2^{B−1} · s) reach 2^100: its inverse
    /// transform takes the guarded path (detail::hadamard_block_guarded).
    static bool huge_scale(float s) noexcept {
        return std::fabs(s) * float(1 << (Bits - 1)) >= 0x1p100f;
    }

private:
    /// True when x[0 … n) holds a value the unguarded transform cannot take: ±Inf, NaN, or a
    /// magnitude >= 2^100 (one pass of integer maxima; the same answer on both backends).
    static bool guarded(const float* x, std::size_t n, backend b) noexcept {
        const std::uint32_t m = b == backend::simd ? simd::max_magnitude_bits(x, n)
                                                   : reference::max_magnitude_bits(x, n);
        return m >= detail::rotated_guard_bits;
    }
    /// False when x (the tensor prepare() saw) cannot hold a value the guard looks for, so the
    /// scan is skipped: under non_finite::error with σ per tensor or row, prepare() has already
    /// rejected non-finite values, and every |x| <= sqrt(Σx²) = σ·sqrt(count) < 2^99 < 2^100.
    bool may_need_guard(const tensor_type& t, std::size_t row) const noexcept {
        if (opt_.sigma_from == sigma_source::given || opt_.on_non_finite != non_finite::error)
            return true;
        const bool per_row = opt_.sigma_from == sigma_source::per_row;
        const double n = double(per_row ? t.shape.cols : t.size());
        return double(t.sigmas[per_row ? row : 0]) * std::sqrt(n) >= 0x1p99;
    }
    [[noreturn]] static void throw_non_finite(std::size_t i) {
        throw error(
            "x",
            "element " + std::to_string(i) +
                " is not finite: BBQ and QuEST mix it into its whole Hadamard block "
                "(options.on_non_finite = "
                "non_finite::saturate maps NaN to 0 and ±Inf to ± the block's largest finite |x|)");
    }
    /// The policy's input of one block of h values starting at element index0 into out (throws
    /// under non_finite::error); returns the block's largest finite |x|.
    float guarded_input(const float* x, std::size_t h, std::size_t index0, float* out) const {
        std::size_t bad;
        const float m = detail::saturate_block(x, h, out, bad);
        if (bad < h && opt_.on_non_finite == non_finite::error) throw_non_finite(index0 + bad);
        return m;
    }
    /// The guarded path of one block: its policy's input, transformed as x · 2^−k into tmp;
    /// returns the multiplier for tmp (mult · 2^k, at most FLT_MAX).
    [[gnu::cold, gnu::noinline]] float guarded_block(const float* x, std::size_t h,
                                                     std::size_t index0, float mult,
                                                     float* tmp) const {
        const int k = detail::rotated_shift(guarded_input(x, h, index0, tmp));
        if (k != 0)
            for (std::size_t i = 0; i < h; ++i) tmp[i] = std::ldexp(tmp[i], -k);
        reference::hadamard_block(tmp, h);
        return k != 0 ? std::min(std::ldexp(mult, k), detail::rotated_max_finite) : mult;
    }
    static float* tmp_row(std::vector<float>& v, std::size_t n) {
        if (v.size() < n) v.resize(n);
        return v.data();
    }
    /// Rows [r0, r1) of x as the policy saturates them (blocks of the row as the transform cuts
    /// it; the whole row when there is no transform), for σ.
    std::vector<float> non_finite_input(std::span<const float> x, shape2d shape, std::size_t r0,
                                        std::size_t r1) const {
        std::vector<float> w((r1 - r0) * shape.cols);
        const std::size_t cols = shape.cols, H = opt_.hadamard;
        for (std::size_t r = r0; r < r1; ++r)
            for (std::size_t pos = 0; pos < cols;) {
                const std::size_t h = H == 0 ? cols : hadamard_block_at(cols - pos, H);
                std::size_t bad;
                detail::saturate_block(x.data() + r * cols + pos, h,
                                       w.data() + (r - r0) * cols + pos, bad);
                pos += h;
            }
        return w;
    }
    static bool fused_blocks_ok(std::size_t h) noexcept {
        if constexpr (code_bits == 4 && !Quest) {
            constexpr std::size_t W = xsimd::batch<float>::size;
            return h % W == 0 && (h / W == 4 || h / W == 8 || h / W == 16);
        }
        return false;
    }
    /// Transform and encode one whole block in registers when h is 1, 2, 4, 8 or 16 batches.
    bool fused_block(const float* x, std::size_t h, float r, std::uint8_t* out) const noexcept {
        if constexpr (code_bits == 4 && !Quest) {
            constexpr std::size_t W = xsimd::batch<float>::size;
            switch (h == W ? 1 : h / W) {
                case 1:
                    if (h != W) return false;
                    simd::bbq_block_encode_packed4<Bits, 1>(x, r, Codes, kern_, out);
                    return true;
                case 2:
                    simd::bbq_block_encode_packed4<Bits, 2>(x, r, Codes, kern_, out);
                    return true;
                case 4:
                    simd::bbq_block_encode_packed4<Bits, 4>(x, r, Codes, kern_, out);
                    return true;
                case 8:
                    simd::bbq_block_encode_packed4<Bits, 8>(x, r, Codes, kern_, out);
                    return true;
                case 16:
                    simd::bbq_block_encode_packed4<Bits, 16>(x, r, Codes, kern_, out);
                    return true;
                default: return false;
            }
        }
        return false;
    }
    /// Transform and encode `count` whole blocks of h values when h is 4, 8 or 16 batches.
    bool fused_blocks(const float* x, std::size_t count, std::size_t h, float r,
                      std::uint8_t* out) const noexcept {
        if constexpr (code_bits == 4 && !Quest) {
            constexpr std::size_t W = xsimd::batch<float>::size;
            if (h % W != 0) return false;
            switch (h / W) {
                case 4:
                    simd::bbq_blocks_encode_packed4<Bits, 4>(x, count, r, Codes, kern_, out);
                    return true;
                case 8:
                    simd::bbq_blocks_encode_packed4<Bits, 8>(x, count, r, Codes, kern_, out);
                    return true;
                case 16:
                    simd::bbq_blocks_encode_packed4<Bits, 16>(x, count, r, Codes, kern_, out);
                    return true;
                default: return false;
            }
        }
        return false;
    }
    /// BBQ: r = 1/σ; QuEST: a = 1/s.
    float multiplier(const tensor_type& t, std::size_t row) const noexcept {
        const std::size_t s = opt_.sigma_from == sigma_source::per_row ? row : 0;
        if constexpr (Quest)
            return detail::safe_inverse(double(t.scales[s]));
        else
            return detail::safe_inverse(double(t.sigmas[s]));
    }
    void encode_run(const float* y, std::size_t n, float mult, std::uint8_t* codes,
                    backend b) const {
        if constexpr (Quest) {
            if (b == backend::simd)
                simd::quest_encode_run<Bits>(y, n, mult, Codes, kern_, codes);
            else
                reference::quest_encode_run<Bits>(y, n, mult, Codes, codes);
        } else {
            if (b == backend::simd)
                simd::bbq_encode_run<Bits>(y, n, mult, opt_.zero, Codes, kern_, codes);
            else
                reference::bbq_encode_run<Bits>(y, n, mult, opt_.zero, Codes, codes);
        }
    }

    options opt_;
    simd::bbq_kernel<Bits> kern_;
    std::array<float, 256> level_of_code_{};
};

/// BBQ of `Bits` bits (see formats/bbq.hpp).
template <int Bits, bbq_codes Codes = bbq_codes::int_b>
using bbq_quantizer = rotated_quantizer<Bits, false, Codes>;
/// QuEST of `Bits` bits: the same transform and σ, Gaussian-optimal clip, uniform midrise grid.
template <int Bits, bbq_codes Codes = bbq_codes::int_b>
using quest_quantizer = rotated_quantizer<Bits, true, Codes>;

LOWBIT_NAMESPACE_END
