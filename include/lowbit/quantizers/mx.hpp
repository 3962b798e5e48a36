// lowbit — block-scaled quantizers: OCP MX (and generic BFP) with E8M0 block scales, and NVFP4.
//
//   lowbit::mx_quantizer<lowbit::e2m1> mxfp4;                       // OCP MXFP4: block 32, E8M0
//   scale lowbit::mx_quantizer<lowbit::e4m3fn> mxfp8({.scale_rounding =
//   lowbit::mx_scale_rounding::round_up}); lowbit::bfp_quantizer<16, 5> bfp; // 16 values share an
//   exponent lowbit::nvfp4_quantizer nv;                                      // E2M1 + E4M3 per 16
//   + FP32 per tensor
//
// Blocks run along a row (a row whose length is not a multiple of the block ends in a short
// block); the semantics of each step are in formats/bfp.hpp. Per block:
//   amax = block_absmax (finite values only), E = mx_scale_exponent(amax, rule), X = 2^E stored as
//   E8M0 code E + 127, codes = encode(x · 2^−E) saturating to ±max_elem, x̂ = decode(code) · 2^E.
// options.nonfinite chooses the OCP reference's NaN scale instead for a block holding NaN or ±Inf.
// Codes are packed densely (core/packing.hpp): FP4 two per byte (element 0 in the low nibble),
// FP6 four codes in three bytes, 8-bit codes one per byte.
#pragma once
#include "facade.hpp"
#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/checked.hpp"
#include "minifloat.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
/// Blocks of `block` elements of a rows × cols tensor, each row ending in a short block when
/// `block` does not divide cols.
constexpr std::size_t row_blocks(shape2d s, std::size_t block) noexcept {
    return s.rows * ceil_div(s.cols, block);
}
}  // namespace detail

/// How an element that encodes as −0 (a negative value that rounds to zero, or −0 itself) is
/// written by a quantizer whose element format has a signed zero.
enum class negative_zero : std::uint8_t {
    keep,      ///< the −0 code (sign bit set), as OCP MX and ml_dtypes do
    positive,  ///< the +0 code, as ggml's MXFP4 does
};

/// The scale of an MX block that holds NaN or ±Inf.
enum class mx_nonfinite : std::uint8_t {
    /// The scale of the block's finite values; NaN and ±Inf go to the element encoder, which
    /// keeps NaN and ±Inf where the element format has them and saturates otherwise. The other
    /// values of the block keep their precision.
    finite_scale,
    /// The NaN scale (E8M0 0xFF) and zero element codes: the whole block decodes as NaN, as the
    /// OCP MX reference implementation (microxcaling) quantizes it.
    nan_scale,
};

/// The result of mx_quantizer: packed element codes and one E8M0 code per block.
template <class Elem, std::size_t Block = 32>
struct mx_tensor {
    shape2d shape;
    std::vector<std::uint8_t> packed;  ///< packed_size(size(), bits) bytes
    std::vector<std::uint8_t> scales;  ///< E8M0 codes, one per block (row-major blocks)

    static constexpr int bits = Elem::bits;
    static constexpr std::size_t block = Block;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    [[nodiscard]] std::vector<std::uint8_t> codes() const {
        validate();
        std::vector<std::uint8_t> c(size());
        unpack(packed, bits, c);
        return c;
    }
    /// Throws lowbit::error naming the first inconsistent field: rows · cols and the packed size
    /// within size_t, `packed` exactly packed_size(size(), bits) bytes, one E8M0 code per block
    /// (every E8M0 code, 0xFF = NaN included, is a legal scale).
    void validate() const {
        const std::size_t n = detail::checked_elements(shape.rows, shape.cols, bits, "t.shape");
        detail::require(packed.size() == packed_size(n, bits), "t.packed",
                        "must hold exactly packed_size(rows * cols, bits) bytes");
        detail::require(scales.size() == detail::row_blocks(shape, Block), "t.scales",
                        "must hold one E8M0 code per block of each row");
    }
    /// The value of block k's scale.
    [[nodiscard]] float scale(std::size_t k) const noexcept { return e8m0::decode(scales[k]); }
    [[nodiscard]] std::size_t storage_bits() const noexcept {
        return size() * bits + scales.size() * 8;
    }
    [[nodiscard]] double bits_per_value() const noexcept {
        return size() ? double(storage_bits()) / double(size()) : 0.0;
    }
};

/// OCP MX / generic BFP quantizer over element format Elem with blocks of Block elements.
template <class Elem, std::size_t Block = 32>
class mx_quantizer : public quantizer_facade<mx_quantizer<Elem, Block>> {
public:
    using quantizer_facade<mx_quantizer<Elem, Block>>::prepare;
    static_assert(Elem::bits <= 8, "lowbit: MX element codes are at most 8 bits");
    static_assert(Block >= 1, "lowbit: an MX block holds at least one element");
    using element = Elem;
    using tensor_type = mx_tensor<Elem, Block>;
    static constexpr int bits = Elem::bits;

    /// Checked when the quantizer is constructed: the enums in range (`zero` positive only for
    /// a minifloat element with a signed zero). The block size is the template argument Block
    /// (>= 1); rows of any length are legal, a row whose length Block does not divide ending in a
    /// short block with its own scale.
    struct options {
        mx_scale_rounding scale_rounding = mx_scale_rounding::ocp_floor;
        rounding round = {};  ///< element rounding (nearest-even by default)
        negative_zero zero = negative_zero::keep;
        mx_nonfinite nonfinite = mx_nonfinite::finite_scale;  ///< blocks holding NaN or ±Inf
    };

    mx_quantizer() : mx_quantizer(options{}) {}
    explicit mx_quantizer(options o) : opt_(o) {
        detail::require(opt_.scale_rounding == mx_scale_rounding::ocp_floor ||
                            opt_.scale_rounding == mx_scale_rounding::nearest_even ||
                            opt_.scale_rounding == mx_scale_rounding::round_up ||
                            opt_.scale_rounding == mx_scale_rounding::ml_dtypes ||
                            opt_.scale_rounding == mx_scale_rounding::log2f,
                        "options.scale_rounding", "must be an mx_scale_rounding value");
        detail::check_rounding(opt_.round, "options.round.mode");
        detail::require(opt_.zero == negative_zero::keep ||
                            (opt_.zero == negative_zero::positive && signed_zero),
                        "options.zero",
                        "must be negative_zero::keep, or positive for a minifloat element with a "
                        "signed zero");
        detail::require(opt_.nonfinite == mx_nonfinite::finite_scale ||
                            opt_.nonfinite == mx_nonfinite::nan_scale,
                        "options.nonfinite", "must be an mx_nonfinite value");
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }

    /// Sizes t; block scales are computed by encode() as it goes (one pass over x).
    void prepare(std::span<const float> x, shape2d shape, tensor_type& t) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        t.shape = shape;
        t.packed.resize(packed_size(shape.size(), bits));
        t.scales.resize(detail::row_blocks(shape, Block));
    }

    /// The E8M0 code of a block's scale.
    [[nodiscard]] std::uint8_t block_scale(std::span<const float> block,
                                           backend b = backend::simd) const noexcept {
        return static_cast<std::uint8_t>(
            mx_scale_exponent<Elem>(detail::absmax(b, block.data(), block.size()),
                                    opt_.scale_rounding) +
            127);
    }

    /// Encodes elements [begin, end) (begin a multiple of chunk_elements). Thread-safe for disjoint
    /// ranges.
    void encode(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_encode_range(t, x.size(), begin, end);
        if constexpr (simd::fused_block_ok<Elem, Block>) {
            if (opt_.zero == negative_zero::keep && opt_.nonfinite == mx_nonfinite::finite_scale &&
                use_fused(
                    b, t.shape, opt_.round,
                    end)) {  // whole blocks: block k of the tensor is flat block c0 / Block + k
                const bool stream = t.size() >= detail::stream_min_elements;
                alignas(64) std::uint8_t codes[simd::fused_elements * bits / 8];
                for (std::size_t c0 = begin; c0 < end; c0 += simd::fused_elements) {
                    const std::size_t c1 = std::min(c0 + simd::fused_elements, end);
                    std::uint8_t* out = t.packed.data() + c0 * bits / 8;
                    simd::encode_chunk_fused<Elem, Block>(
                        x.data() + c0, (c1 - c0) / Block,
                        [&](const float* amax, std::size_t nb, float* inv) {
                            simd::mx_scales<Elem>(amax, nb, opt_.scale_rounding,
                                                  t.scales.data() + c0 / Block, inv);
                        },
                        opt_.round, c0, stream ? codes : out,
                        c1 + simd::fused_elements <= end
                            ? x.data() + c1
                            : nullptr);  // the next chunk, when it is whole
                    // Blocks whose scale is so large that a top element level would decode past
                    // FLT_MAX are encoded again, bounded (rare: amax near FLT_MAX).
                    for (std::size_t k = 0; k < (c1 - c0) / Block; ++k) {
                        const std::size_t s = c0 / Block + k;
                        if (finite_bound(t.scales[s]) == 0.0f) continue;
                        std::uint8_t q[Block];
                        encode_bounded(b, x.data() + c0 + k * Block, Block, t.scales[s],
                                       c0 + k * Block, q);
                        pack(std::span<const std::uint8_t>(q, Block), bits,
                             std::span<std::uint8_t>((stream ? codes : out) + k * Block * bits / 8,
                                                     Block * bits / 8));
                    }
                    if (stream)
                        simd::stream_bytes<xsimd::default_arch>(out, codes, (c1 - c0) * bits / 8);
                }
                if (stream) simd::stream_fence();
                return;
            }
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        std::uint8_t* out = buf;
        std::size_t base = 0;
        detail::for_each_run(
            t.shape.cols, Block, begin, end,
            [&](std::size_t c0, std::size_t) {
                base = c0;
                out = bits == 8 ? t.packed.data() + c0 : buf;
            },
            [&](std::size_t i, std::size_t e, std::size_t slot, std::size_t g0, std::size_t g1) {
                const auto block = x.subspan(g0, g1 - g0);
                if (opt_.nonfinite == mx_nonfinite::nan_scale &&
                    std::any_of(block.begin(), block.end(),
                                [](float v) { return !std::isfinite(v); })) {
                    if (i == g0) t.scales[slot] = e8m0::nan_code;
                    std::fill(out + (i - base), out + (e - base), std::uint8_t{0});
                    return;
                }
                const std::uint8_t code = block_scale(block, b);
                if (i == g0) t.scales[slot] = code;
                encode_bounded(b, x.data() + i, e - i, code, i, out + (i - base));
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
        alignas(64) std::uint8_t buf[chunk_elements];
        const std::uint8_t* in = buf;
        std::size_t base = 0;
        const bool fused = use_fused(b, t.shape, rounding{}, end);
        detail::for_each_run(
            t.shape.cols, Block, begin, end,
            [&](std::size_t c0, std::size_t c1) {
                base = c0;
                if (fused) return;
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
                if constexpr (simd::fused_block_ok<Elem, Block>) {
                    if (fused) {
                        simd::decode_block_fused<Elem, Block>(t.packed.data() + i * bits / 8,
                                                              e8m0::decode(t.scales[slot]),
                                                              out.data() + i);
                        return;
                    }
                }
                detail::decode_elements<Elem>(b, in + (i - base), e - i,
                                              e8m0::decode(t.scales[slot]), out.data() + i);
            },
            [](std::size_t, std::size_t) {});
    }

private:
    static float finite_bound(std::uint8_t code) noexcept {
        return code == e8m0::nan_code ? 0.0f : mx_finite_bound<Elem>(static_cast<int>(code) - 127);
    }
    /// encode_elements for n values of one block with scale code `code`, bounded by
    /// mx_finite_bound (NaN passes through to the element encoder).
    void encode_bounded(backend b, const float* x, std::size_t n, std::uint8_t code,
                        std::uint64_t index0, std::uint8_t* codes) const {
        const float inv = lowbit::detail::pow2f(127 - static_cast<int>(code));  // 2^−E, exact
        alignas(64) float bounded[chunk_elements];
        if (const float L = finite_bound(code); L != 0.0f) {
            for (std::size_t j = 0; j < n; ++j) bounded[j] = x[j] > L ? L : x[j] < -L ? -L : x[j];
            x = bounded;
        }
        detail::encode_elements<Elem>(b, x, n, inv, opt_.round, index0, codes);
        if constexpr (signed_zero)
            if (opt_.zero == negative_zero::positive)
                for (std::uint8_t* c = codes; c != codes + n; ++c)
                    if (*c == Elem::sign_mask) *c = 0;
    }
    static constexpr bool signed_zero = [] {
        if constexpr (requires {
                          Elem::has_negative_zero;
                          Elem::sign_mask;
                      })
            return Elem::has_negative_zero;
        else
            return false;
    }();
    /// The fused SIMD block kernels run when every block is whole and chunk-aligned and stochastic
    /// draws do not cross a 2^32 index boundary (their lane precondition). They encode −0 as it
    /// rounds and give every block the scale of its finite values, so negative_zero::positive and
    /// mx_nonfinite::nan_scale encode block by block.
    static bool use_fused(backend b, shape2d shape, rounding r, std::size_t end) noexcept {
        return simd::fused_block_ok<Elem, Block> && b == backend::simd &&
            chunk_elements % Block == 0 && shape.cols % Block == 0 &&
            (r.mode != round_mode::stochastic || (end >> 32) == 0);
    }
    options opt_;
};

/// Generic block floating point: N values share the exponent of their largest; each keeps a sign
/// and M mantissa bits without hidden bit (bfp_element<M>), OCP floor rule, E8M0 exponent.
template <std::size_t N, int M>
using bfp_quantizer = mx_quantizer<bfp_element<M>, N>;

/// The result of nvfp4_quantizer: packed E2M1 codes, E4M3FN block scales and the FP32 tensor scale.
struct nvfp4_tensor {
    shape2d shape;
    std::vector<std::uint8_t> packed;  ///< two E2M1 codes per byte, element 0 in the low nibble
    std::vector<std::uint8_t>
        scales;              ///< E4M3FN codes, one per 16-element block (in units of global_scale)
    float global_scale = 0;  ///< amax_tensor / (448 · 6)

    static constexpr int bits = 4;
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    [[nodiscard]] std::vector<std::uint8_t> codes() const {
        validate();
        std::vector<std::uint8_t> c(size());
        unpack(packed, bits, c);
        return c;
    }
    /// Throws lowbit::error naming the first inconsistent field: rows · cols and the packed size
    /// within size_t, `packed` exactly packed_size(size(), 4) bytes, one E4M3FN code per 16-element
    /// block of each row, `global_scale` finite and >= 0 (what quantize_with_global_scale accepts).
    void validate() const {
        const std::size_t n = detail::checked_elements(shape.rows, shape.cols, bits, "t.shape");
        detail::require(packed.size() == packed_size(n, bits), "t.packed",
                        "must hold exactly packed_size(rows * cols, 4) bytes");
        detail::require(scales.size() == detail::row_blocks(shape, nvfp4::block), "t.scales",
                        "must hold one E4M3FN code per 16-element block of each row");
        detail::require(std::isfinite(global_scale) && global_scale >= 0.0f, "t.global_scale",
                        "must be finite and >= 0");
    }
    [[nodiscard]] std::size_t storage_bits() const noexcept {
        return size() * bits + scales.size() * 8 + (size() ? 32 : 0);
    }
    [[nodiscard]] double bits_per_value() const noexcept {
        return size() ? double(storage_bits()) / double(size()) : 0.0;
    }
};

/// NVFP4: E2M1 elements, E4M3FN scale per 16 elements, FP32 scale per tensor (formats/bfp.hpp's
/// nvfp4).
class nvfp4_quantizer : public quantizer_facade<nvfp4_quantizer> {
public:
    using quantizer_facade<nvfp4_quantizer>::prepare;
    using tensor_type = nvfp4_tensor;
    static constexpr int bits = 4;
    static constexpr std::size_t block = nvfp4::block;

    /// Checked when the quantizer is constructed: `round.mode` a round_mode. Blocks are 16
    /// elements by the format; rows of any length are legal (a short last block per row).
    struct options {
        rounding round = {};  ///< element rounding (nearest-even by default)
    };

    nvfp4_quantizer() : nvfp4_quantizer(options{}) {}
    explicit nvfp4_quantizer(options o) : opt_(o) {
        detail::check_rounding(opt_.round, "options.round.mode");
    }

    /// Sizes t and computes the per-tensor scale (one pass over x).
    void prepare(std::span<const float> x, shape2d shape, tensor_type& t) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        t.shape = shape;
        t.packed.resize(packed_size(shape.size(), bits));
        t.scales.resize(detail::row_blocks(shape, block));
        t.global_scale = nvfp4::global_scale(simd::block_absmax(x.data(), x.size()));
    }

    /// Quantizes x under an FP32 tensor scale chosen beforehand (amax / (448 · 6) of calibration
    /// data or of an earlier step): one read of x, no absmax pass; the E4M3 block scales and the
    /// codes are made as quantize() makes them from g. g must be finite and >= 0 (g = 0 gives zero
    /// block scales and +0 for every finite value; a block with amax / 6 / g beyond 448 saturates
    /// its scale to 448, and its elements to ±6). Mirrors
    /// cuda::nvfp4_quantizer::quantize_with_global_scale.
    void quantize_with_global_scale(std::span<const float> x, shape2d shape, float global_scale,
                                    tensor_type& t, backend b = backend::simd) const {
        detail::require(x.size() == detail::checked_elements(shape.rows, shape.cols, bits, "shape"),
                        "x", "must hold shape.rows * shape.cols values");
        detail::require(std::isfinite(global_scale) && global_scale >= 0.0f, "global_scale",
                        "must be finite and >= 0");
        t.shape = shape;
        t.packed.resize(packed_size(shape.size(), bits));
        t.scales.resize(detail::row_blocks(shape, block));
        t.global_scale = global_scale;
        encode(x, t, 0, x.size(), b);
    }
    /// The same into a new tensor.
    [[nodiscard]] tensor_type quantize_with_global_scale(std::span<const float> x, shape2d shape,
                                                         float global_scale,
                                                         backend b = backend::simd) const {
        tensor_type t;
        quantize_with_global_scale(x, shape, global_scale, t, b);
        return t;
    }

    void encode(std::span<const float> x, tensor_type& t, std::size_t begin, std::size_t end,
                backend b) const {
        detail::check_encode_range(t, x.size(), begin, end);
        const float g = t.global_scale;
        if constexpr (simd::fused_block_ok<e2m1, block>) {
            if (use_fused(b, t.shape, opt_.round, end)) {
                // Back to front after prepare()'s absmax pass (see for_each_step_backward); codes
                // and scales do not depend on the order.
                const bool stream = t.size() >= detail::stream_min_elements;
                alignas(64) std::uint8_t codes[simd::fused_elements / 2];
                detail::for_each_step_backward(
                    begin, end, simd::fused_elements, [&](std::size_t c0, std::size_t c1) {
                        std::uint8_t* out = t.packed.data() + c0 / 2;
                        simd::encode_chunk_fused<e2m1, block>(
                            x.data() + c0, (c1 - c0) / block,
                            [&](const float* amax, std::size_t nb, float* inv) {
                                simd::nvfp4_scales(amax, nb, g, t.scales.data() + c0 / block, inv);
                            },
                            opt_.round, c0, stream ? codes : out);
                        if (stream)
                            simd::stream_bytes<xsimd::default_arch>(out, codes, (c1 - c0) / 2);
                    });
                if (stream) simd::stream_fence();
                return;
            }
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        std::size_t base = 0;
        detail::for_each_run(
            t.shape.cols, block, begin, end, [&](std::size_t c0, std::size_t) { base = c0; },
            [&](std::size_t i, std::size_t e, std::size_t slot, std::size_t g0, std::size_t g1) {
                const std::uint8_t s =
                    nvfp4::block_scale(detail::absmax(b, x.data() + g0, g1 - g0), g);
                if (i == g0) t.scales[slot] = s;
                const float inv = detail::safe_inverse(nvfp4::effective_scale(s, g));
                detail::encode_elements<e2m1>(b, x.data() + i, e - i, inv, opt_.round, i,
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
        const bool fused = use_fused(b, t.shape, rounding{}, end);
        if constexpr (simd::fused_block_ok<e2m1, block>) {
            if (fused) {  // rows of whole blocks: block k of the tensor is flat block k, its scale
                          // t.scales[k]
                static constexpr auto e4m3_values =
                    [] {  // e4m3fn::decode of every code, as effective_scale computes it
                        std::array<float, 256> v{};
                        for (int c = 0; c < 256; ++c)
                            v[c] = e4m3fn::decode(static_cast<std::uint8_t>(c));
                        return v;
                    }();
                const float g = t.global_scale;
                for (std::size_t k = begin / block; k < end / block; ++k)
                    simd::decode_block_fused<e2m1, block>(t.packed.data() + k * block / 2,
                                                          e4m3_values[t.scales[k]] * g,
                                                          out.data() + k * block);
                return;
            }
        }
        alignas(64) std::uint8_t buf[chunk_elements];
        std::size_t base = 0;
        detail::for_each_run(
            t.shape.cols, block, begin, end,
            [&](std::size_t c0, std::size_t c1) {
                base = c0;
                if (fused) return;
                auto src = std::span<const std::uint8_t>(t.packed).subspan(c0 * bits / 8);
                if (b == backend::simd)
                    unpack(src, bits, std::span<std::uint8_t>(buf, c1 - c0));
                else
                    unpack_reference(src, bits, std::span<std::uint8_t>(buf, c1 - c0));
            },
            [&](std::size_t i, std::size_t e, std::size_t slot, std::size_t, std::size_t) {
                if constexpr (simd::fused_block_ok<e2m1, block>) {
                    if (fused) {
                        simd::decode_block_fused<e2m1, block>(
                            t.packed.data() + i / 2,
                            nvfp4::effective_scale(t.scales[slot], t.global_scale), out.data() + i);
                        return;
                    }
                }
                detail::decode_elements<e2m1>(
                    b, buf + (i - base), e - i,
                    nvfp4::effective_scale(t.scales[slot], t.global_scale), out.data() + i);
            },
            [](std::size_t, std::size_t) {});
    }

private:
    static bool use_fused(backend b, shape2d shape, rounding r, std::size_t end) noexcept {
        return simd::fused_block_ok<e2m1, block> && b == backend::simd && shape.cols % block == 0 &&
            (r.mode != round_mode::stochastic || (end >> 32) == 0);
    }
    options opt_;
};

LOWBIT_NAMESPACE_END
