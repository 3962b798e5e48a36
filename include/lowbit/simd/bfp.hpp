// lowbit — xsimd kernels for block floating point elements (bfp_element<M>, MXINT8). Twin of
// formats/bfp.hpp's reference runs, equal bit for bit (tests/test_mx.cpp). Minifloat elements
// of MX / NVFP4 use simd/minifloat.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../core/backend.hpp"
#include "../formats/bfp.hpp"
#include "divide.hpp"
#include "minifloat.hpp"
#include "primitives.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// SIMD encode of a run of bfp elements; equals reference::encode_bfp_run.
template <class Elem, class Arch = xsimd::default_arch>
inline void encode_bfp_run(const float* x, std::size_t n, float inv, rounding rnd,
                           std::uint64_t index0, std::uint8_t* codes) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    const B up(static_cast<float>(1 << (Elem::mantissa_bits - 1))), vinv(inv);
    const B lo(-static_cast<float>(Elem::qmax)), hi(static_cast<float>(Elem::qmax)), zero(0.0f);
    const I mask((1 << Elem::bits) - 1);
    alignas(64) std::int32_t tmp[W];
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        if (rnd.mode == round_mode::stochastic && !lanes_share_high_word<Arch>(index0 + i)) break;
        B y = (B::load_unaligned(x + i) * vinv) * up;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        B r = round_integral<Arch>(y, rnd, index0 + i);
        r = xsimd::min(xsimd::max(r, lo), hi);
        (xsimd::batch_cast<std::int32_t>(r) & mask).store_aligned(tmp);
        detail_mf::narrow_store(tmp, codes + i, W);
    }
    if (i < n) reference::encode_bfp_run<Elem>(x + i, n - i, inv, rnd, index0 + i, codes + i);
}

/// SIMD decode of a run of bfp elements; equals reference::decode_bfp_run.
template <class Elem, class Arch = xsimd::default_arch>
inline void decode_bfp_run(const std::uint8_t* codes, std::size_t n, float scale,
                           float* out) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    constexpr int sh = 32 - Elem::bits;
    alignas(64) std::int32_t tmp[W];
    const B unit(Elem::unit), s(scale);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        detail_mf::widen_load(codes + i, tmp, W);
        const I q = (I::load_aligned(tmp) << sh) >> sh;  // sign extension
        ((xsimd::batch_cast<float>(q) * unit) * s).store_unaligned(out + i);
    }
    if (i < n) reference::decode_bfp_run<Elem>(codes + i, n - i, scale, out + i);
}

/// Elements per call of the fused chunk kernels at most (a multiple of chunk_elements: the per-call
/// work is amortised over more blocks, and the 4 KiB of input stays in L1 between the phases).
inline constexpr std::size_t fused_elements = 1024;

/// Whether the fused block kernels below run a minifloat element with blocks of Block on Arch.
template <class Elem, std::size_t Block, class Arch = xsimd::default_arch>
inline constexpr bool fused_block_ok = requires {
    Elem::flavour;
}
&&(Elem::bits == 4 || Elem::bits == 6 || Elem::bits == 8) && Block % fbatch<Arch>::size == 0 &&
    Block / fbatch<Arch>::size <= 4;

/// Decodes one full block written by encode_chunk_fused: out = decode(code) · scale.
template <class Elem, std::size_t Block, class Arch = xsimd::default_arch>
inline void decode_block_fused(const std::uint8_t* in, float scale, float* out) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size, NB = Block / W;
    const B s(scale);
#if defined(__AVX512F__)
    if constexpr (Elem::bits == 4 && W == 16 && std::is_base_of_v<xsimd::avx512f, Arch>) {
        // All 16 values of a 4-bit element in one register: one permute per batch instead of the
        // arithmetic decode (the entries are Elem::decode's own floats).
        static constexpr auto values = [] {
            std::array<float, 16> v{};
            for (std::uint8_t c = 0; c < 16; ++c) v[c] = Elem::decode(c);
            return v;
        }();
        const __m512 table = _mm512_loadu_ps(values.data());
        for (std::size_t k = 0; k < NB; ++k)
            (B(_mm512_permutexvar_ps(load_nibbles<Arch>(in + k * W / 2), table)) * s)
                .store_unaligned(out + k * W);
        return;
    }
#endif
    alignas(64) std::int32_t tmp[W];
    for (std::size_t k = 0; k < NB; ++k) {
        I c;
        if constexpr (Elem::bits == 4) {
            c = load_nibbles<Arch>(in + k * W / 2);
        } else if constexpr (Elem::bits == 6) {
            detail_mf::unpack6(in + k * W * 3 / 4, tmp, W);
            c = I::load_aligned(tmp);
        } else {
            detail_mf::widen_load(in + k * W, tmp, W);
            c = I::load_aligned(tmp);
        }
        (decode_minifloat_batch<Elem, Arch>(c) * s).store_unaligned(out + k * W);
    }
}

/// A chunk of nb whole blocks of a block-scaled format of Bits-bit codes, fused and in three phases
/// so the out-of-order core overlaps the blocks: (A) every block's finite absmax, (B) scales(amax,
/// nb, inv) stores the blocks' scales (the caller's format) and returns their inverses in inv, (C)
/// every block encoded by encode(x · inverse, index) and written: 8-bit one code per byte,
/// 6-bit four per three bytes, 4-bit two per byte. Equals block_absmax + the reference element
/// encode + pack bit for bit.
/// encode_finite(y, index) is used instead of encode for chunks whose x are all finite (then no y
/// is NaN: the inverses are finite, so no Inf · 0 either), and may skip NaN handling. `next`, when
/// not null, is the input of the chunk the caller encodes next (at least nb blocks): phase C asks
/// for its lines block by block, so they arrive while this chunk computes (measured: MX 9% faster
/// on a 64 MiB forward walk; not used for NVFP4's back-to-front walk, where it measured slower).
template <int Bits, std::size_t Block, class Arch = xsimd::default_arch, class Scales, class Encode,
          class EncodeFinite>
inline void encode_chunk_fused_with(const float* x, std::size_t nb, Scales&& scales,
                                    Encode&& encode, EncodeFinite&& encode_finite,
                                    std::uint64_t index0, std::uint8_t* out,
                                    const float* next = nullptr) noexcept {
    using B = fbatch<Arch>;
    using U = xsimd::batch<std::uint32_t, Arch>;
    constexpr std::size_t W = B::size, NB = Block / W;
    static_assert(chunk_elements % Block == 0 && fused_elements % chunk_elements == 0,
                  "lowbit: fused chunks hold whole blocks");
    constexpr std::size_t max_blocks = fused_elements / Block;
    float amax[max_blocks], inv[max_blocks];
    bool finite = true;  // every x of the chunk finite
    std::size_t b = 0;
    if constexpr (max_blocks >= W) {  // W blocks' maxima at once: NB maxes per block, then one
                                      // transposing reduction
        U m[W];
        for (; b + W <= nb; b += W) {
            for (std::size_t k = 0; k < W; ++k) {
                // Max of |x|'s bits over the block, non-finite values included (they are the
                // largest patterns): a block holding one is redone below, finite values only.
                const float* p = x + (b + k) * Block;
                U a = xsimd::bitwise_cast<U>(B::load_unaligned(p)) & U(0x7FFFFFFFu);
                for (std::size_t j = 1; j < NB; ++j)
                    a = xsimd::max(
                        a, xsimd::bitwise_cast<U>(B::load_unaligned(p + j * W)) & U(0x7FFFFFFFu));
                m[k] = a;
            }
            const U r = detail_mf::transpose_max<Arch>(m);
            xsimd::bitwise_cast<B>(r).store_unaligned(amax + b);
            if (xsimd::any(r > U(0x7F7FFFFFu))) {
                finite = false;
                for (std::size_t k = 0; k < W; ++k)
                    if (lowbit::detail::float_bits(amax[b + k]) > 0x7F7FFFFFu)
                        amax[b + k] = lowbit::block_absmax(x + (b + k) * Block, Block);
            }
        }
    }
    for (; b < nb; ++b) {
        U m(0u);
        for (std::size_t k = 0; k < NB; ++k) {
            const U a =
                xsimd::bitwise_cast<U>(B::load_unaligned(x + b * Block + k * W)) & U(0x7FFFFFFFu);
            const auto ok = a <= U(0x7F7FFFFFu);
            finite = finite && xsimd::all(ok);
            m = xsimd::max(m, xsimd::select(ok, a, U(0u)));
        }
        amax[b] = lowbit::detail::bits_float(detail_mf::hmax<Arch>(m).get(0));
    }
    scales(static_cast<const float*>(amax), nb, static_cast<float*>(inv));
    // Codes go to a chunk-sized buffer first and are narrowed in one long loop, which the compiler
    // vectorises (short per-batch narrowing loops come out scalar). With AVX-512BW, 4- and 8-bit
    // codes are narrowed in registers instead, 64 at a time (detail_mf::bytes64), and stored
    // straight to out; a chunk's last < 64 values take the buffer.
    auto encode_all = [&](auto&& enc) {
        std::size_t done = 0;  // values already written to out
#if defined(__AVX512BW__)
        if constexpr ((Bits == 4 || Bits == 8) && W == 16 && 64 % Block == 0 &&
                      std::is_base_of_v<xsimd::avx512bw, Arch>) {
            const std::size_t n = nb * Block;
            for (; done + 64 <= n; done += 64) {
                if (next) detail_mf::prefetch_lines(next + done, 64);
                __m512i c[4];
                for (std::size_t k = 0; k < 4; ++k) {
                    const std::size_t j = done + k * W;
                    c[k] = enc(B::load_unaligned(x + j) * B(inv[j / Block]), index0 + j);
                }
                const __m512i bytes = detail_mf::bytes64(c);
                if constexpr (Bits == 4)
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + done / 2),
                                        detail_mf::nibbles32(bytes));
                else
                    _mm512_storeu_si512(out + done, bytes);
            }
            if (done == n) return;
        }
#endif
        if constexpr (Bits == 4) {
            using Q = xsimd::batch<std::uint64_t, Arch>;
            alignas(64) std::uint64_t pairs[fused_elements / 2];
            const std::size_t b0 = done / Block;
            for (std::size_t b = b0; b < nb; ++b) {
                if (next) detail_mf::prefetch_lines(next + b * Block, Block);
                const B vinv(inv[b]);
                for (std::size_t k = 0; k < NB; ++k) {
                    const std::size_t j = b * Block + k * W;
                    const Q w =
                        xsimd::bitwise_cast<Q>(enc(B::load_unaligned(x + j) * vinv, index0 + j));
                    (w | (w >> 28))
                        .store_aligned(pairs +
                                       (j - done) / 2);  // c_2i | c_2i+1 << 4 in the low byte
                }
            }
            detail_mf::narrow_store64(pairs, out + done / 2, (nb - b0) * Block / 2);
        } else {
            alignas(64) std::int32_t codes[fused_elements];
            const std::size_t b0 = done / Block;
            for (std::size_t b = b0; b < nb; ++b) {
                if (next) detail_mf::prefetch_lines(next + b * Block, Block);
                const B vinv(inv[b]);
                for (std::size_t k = 0; k < NB; ++k) {
                    const std::size_t j = b * Block + k * W;
                    enc(B::load_unaligned(x + j) * vinv, index0 + j)
                        .store_aligned(codes + (j - done));
                }
            }
            if constexpr (Bits == 6)
                detail_mf::pack6(codes, out + done * 6 / 8, (nb - b0) * Block);
            else
                detail_mf::narrow_store(codes, out + done, (nb - b0) * Block);
        }
    };
    if (finite)
        encode_all(encode_finite);
    else
        encode_all(encode);
}

/// encode_chunk_fused_with with one encode for every chunk.
template <int Bits, std::size_t Block, class Arch = xsimd::default_arch, class Scales, class Encode>
inline void encode_chunk_fused_with(const float* x, std::size_t nb, Scales&& scales,
                                    Encode&& encode, std::uint64_t index0,
                                    std::uint8_t* out) noexcept {
    encode_chunk_fused_with<Bits, Block, Arch>(x, nb, scales, encode, encode, index0, out);
}

/// encode_chunk_fused_with for a minifloat element: encode = saturating encode with `rnd`.
template <class Elem, std::size_t Block, class Arch = xsimd::default_arch, class Scales>
inline void encode_chunk_fused(const float* x, std::size_t nb, Scales&& scales, rounding rnd,
                               std::uint64_t index0, std::uint8_t* out,
                               const float* next = nullptr) noexcept {
    const auto general = [rnd](fbatch<Arch> y, std::uint64_t i) {
        return encode_minifloat_batch<Elem, overflow::saturate, Arch>(y, rnd, i);
    };
    if (rnd.mode ==
        round_mode::nearest_even)  // the hot path: the lean encode, no mode test per batch
        encode_chunk_fused_with<Elem::bits, Block, Arch>(
            x, nb, scales,
            [](fbatch<Arch> y, std::uint64_t) {
                return detail_mf::encode_rne_saturate<Elem, Arch>(y);
            },
            [](fbatch<Arch> y, std::uint64_t) {
                return detail_mf::encode_rne_saturate<Elem, Arch, false>(y);
            },
            index0, out, next);
    else
        encode_chunk_fused_with<Elem::bits, Block, Arch>(x, nb, scales, general, general, index0,
                                                         out, next);
}

/// MX block scales of nb blocks: codes[k] = the E8M0 code of mx_scale_exponent<Elem>(amax[k],
/// rule), inv[k] = its inverse 2^−E (exact). amax[k] is finite and >= 0.
template <class Elem>
inline void mx_scales(const float* amax, std::size_t nb, mx_scale_rounding rule,
                      std::uint8_t* codes, float* inv) noexcept {
    if (rule == mx_scale_rounding::ocp_floor && Elem::emax >= 0) {
        // E = floor(log2 amax) − emax clamped to [−127, 127], so code = E + 127 is the float's
        // biased exponent minus emax, clamped to [0, 254] (a float-subnormal amax or 0 gives code
        // 0, as its E <= −127 − emax does). 2^−E is a normal float but for code 254 (E = 127):
        // 2^−127.
        for (std::size_t k = 0; k < nb; ++k) {
            const int e = static_cast<int>(lowbit::detail::float_bits(amax[k]) >> 23) - Elem::emax;
            const int c = e < 0 ? 0 : e > 254 ? 254 : e;
            codes[k] = static_cast<std::uint8_t>(c);
            inv[k] = lowbit::detail::bits_float(
                c == 254 ? 0x400000u : static_cast<std::uint32_t>(254 - c) << 23);
        }
        return;
    }
    for (std::size_t k = 0; k < nb; ++k) {
        codes[k] = static_cast<std::uint8_t>(mx_scale_exponent<Elem>(amax[k], rule) + 127);
        inv[k] = lowbit::detail::pow2f(127 - static_cast<int>(codes[k]));
    }
}

/// NVFP4 block scales of nb blocks; equals nvfp4::block_scale / effective_scale / safe inverse
/// per block (the same float operations lane by lane: IEEE division is exact-rounded everywhere).
template <class Arch = xsimd::default_arch>
inline void nvfp4_scales(const float* amax, std::size_t nb, float g, std::uint8_t* codes,
                         float* inv) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    if (!(g > 0.0f)) {
        for (std::size_t b = 0; b < nb; ++b) {
            codes[b] = 0;
            inv[b] = 0.0f;
        }
        return;
    }
    alignas(64) std::int32_t tmp[W];
    std::size_t b = 0;
    for (; b + W <= nb; b += W) {
        const B t = divide(divide(B::load_unaligned(amax + b), B(6.0f)), B(g));
        const I c = encode_minifloat_batch<e4m3fn, overflow::saturate, Arch>(t, rounding{}, 0);
        const B d = decode_minifloat_batch<e4m3fn, Arch>(c) * B(g);
        const B r = divide(B(1.0f), d);
        xsimd::select((d == B(0.0f)) || !xsimd::isfinite(r), B(0.0f), r).store_unaligned(inv + b);
        c.store_aligned(tmp);
        detail_mf::narrow_store(tmp, codes + b, W);
    }
    for (; b < nb; ++b) {
        codes[b] = nvfp4::block_scale(amax[b], g);
        const float d = nvfp4::effective_scale(codes[b], g);
        const float r = d == 0.0f ? 0.0f : 1.0f / d;
        inv[b] = (r - r == 0.0f) ? r : 0.0f;
    }
}

}  // namespace simd
LOWBIT_NAMESPACE_END
