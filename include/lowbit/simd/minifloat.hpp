// lowbit — xsimd kernels for minifloats (≤ 8-bit codes). Twin of formats/minifloat.hpp's
// reference runs, equal to them bit for bit (tests/test_minifloat.cpp): the same float
// multiply, then the same rounding done with integer operations on the float's bits.
//
// encode, round to nearest even (the hot path, ~14 integer ops per lane, branch-free):
//   normal codes     r = a + (2^(s−1) − 1) + ((a >> s) & 1), s = 23 − M;  mag = (r >> s) − ((127 −
//   bias) << M)
//                    (the classic "add half minus one plus the kept lsb" ties-to-even trick; a
//                    carry out of the mantissa moves into the exponent field by itself)
//   subnormal codes  mag = bits(|y| + C) − bits(C), C = 2^(emin + 23 − M): the float adder rounds
//   |y|
//                    to a multiple of C's ulp 2^(emin − M), the subnormal quantum (default FP
//                    environment: round to nearest even, no flush-to-zero)
//   then overflow → saturate / Inf / NaN, sign, NaN, fnuz's unsigned zero, all by select.
// Other rounding modes (toward zero, floor, nearest away, stochastic) take the same integer path
// with per-lane variable shifts (generic_encode below).
// decode: normal bits = (mag << (23 − M)) + ((127 − bias) << 23); subnormal = float(m) · 2^(emin −
// M).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../formats/bfp.hpp"
#include "../formats/minifloat.hpp"
#include "primitives.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

namespace detail_mf {

template <class Arch>
using ibatch = xsimd::batch<std::int32_t, Arch>;

/// Codes of |y| (a = bits of |y|, not NaN) rounded to nearest even: the magnitude field count.
template <class Format, class Arch>
inline ibatch<Arch> magnitude_rne(ibatch<Arch> a) noexcept {
    using I = ibatch<Arch>;
    using B = fbatch<Arch>;
    constexpr int M = Format::mantissa_bits, s = 23 - M;
    const I r = a + I((1 << (s - 1)) - 1) + ((a >> s) & I(1));
    const I normal = (r >> s) - I((127 - Format::bias) << M);
    constexpr float C = lowbit::detail::pow2f(Format::emin + 23 - M);
    const I sub = xsimd::bitwise_cast<I>(xsimd::bitwise_cast<B>(a) + B(C)) -
        I(static_cast<std::int32_t>(lowbit::detail::float_bits(C)));
    const I min_normal(
        static_cast<std::int32_t>(lowbit::detail::float_bits(lowbit::detail::pow2f(Format::emin))));
    return xsimd::select(a < min_normal, sub, normal);
}

/// Codes of one batch of scaled values y, rounded to nearest even and saturating: the lean hot
/// path (equal to encode_minifloat_batch<Format, overflow::saturate> with
/// round_mode::nearest_even). About 15 vector ops per batch: the rebias is folded into the rounding
/// add (it is a multiple of 2^s, so subtracting it before the arithmetic shift is exact), overflow
/// and ±Inf saturate by one integer min (the normal count is monotone in |y|'s bits and Inf's count
/// is beyond max), NaN costs one compare, and the sign is or-ed in last, as one and-or. MayBeNaN =
/// false: the caller knows no lane of y is NaN, and the NaN handling is left out.
template <class Format, class Arch, bool MayBeNaN = true>
LOWBIT_FORCE_INLINE ibatch<Arch> encode_rne_saturate(fbatch<Arch> y) noexcept {
    static_assert(Format::bits <= 8,
                  "lowbit: the lean encode rounds at bit 23 − M >= 16 (codes of at most 8 bits)");
    using I = ibatch<Arch>;
    using B = fbatch<Arch>;
    constexpr int M = Format::mantissa_bits, s = 23 - M, EM = Format::exponent_bits + M;
    constexpr nan_inf F = Format::flavour;
    constexpr auto sign_mask = static_cast<std::int32_t>(Format::sign_mask);
    const I u = xsimd::bitwise_cast<I>(y);
    const I a = u & I(0x7FFFFFFF);
    // (a + 2^(s−1) − 1 + lsb − ((127 − bias) << 23)) >> s: no int32 overflow for any finite a or
    // ±Inf.
    const I normal =
        (a + ((a >> s) & I(1)) + I((1 << (s - 1)) - 1 - ((127 - Format::bias) << 23))) >> s;
    constexpr float C = lowbit::detail::pow2f(Format::emin + 23 - M);
    const I sub = xsimd::bitwise_cast<I>(xsimd::bitwise_cast<B>(a) + B(C)) -
        I(static_cast<std::int32_t>(lowbit::detail::float_bits(C)));
    const I min_normal(
        static_cast<std::int32_t>(lowbit::detail::float_bits(lowbit::detail::pow2f(Format::emin))));
    I mag = xsimd::min(xsimd::select(a < min_normal, sub, normal),
                       I(static_cast<std::int32_t>(Format::max_magnitude)));
    if constexpr (!MayBeNaN) {
        const I code = mag | ((u >> (31 - EM)) & I(sign_mask));  // the sign bit, moved to bit EM
        if constexpr (F == nan_inf::fnuz)
            return xsimd::select(mag == I(0), I(0), code);  // no −0
        else
            return code;
    }
    const auto nan = a > I(0x7F800000);
    if constexpr (F == nan_inf::fn ||
                  F == nan_inf::ieee) {  // NaN keeps its sign: only the magnitude changes
        mag = xsimd::select(nan, I(static_cast<std::int32_t>(Format::nan_code)), mag);
        return mag | ((u >> (31 - EM)) & I(sign_mask));  // the sign bit, moved to bit EM
    } else if constexpr (F == nan_inf::none && Format::bias < 127) {
        // NaN → ∓0 (ml_dtypes). A NaN's normal count is beyond max (its bits exceed Inf's, and with
        // bias < 127 the rounding add cannot wrap), so its lane holds sign | all-ones magnitude
        // here (max_magnitude of a finite-only format), and xor with sign | magnitude mask makes it
        // ∓0.
        const I code = mag | ((u >> (31 - EM)) & I(sign_mask));
        return xsimd::select(
            nan, code ^ I(static_cast<std::int32_t>(Format::sign_mask | Format::magnitude_mask)),
            code);
    } else {
        const I sign = (u >> (31 - EM)) & I(sign_mask);
        I code;
        if constexpr (F == nan_inf::fnuz)
            code = xsimd::select(mag == I(0), I(0), mag | sign);  // no −0
        else
            code = mag | sign;
        I nan_code;
        if constexpr (F == nan_inf::none)
            nan_code = sign ^ I(sign_mask);  // ml_dtypes: ∓0
        else
            nan_code = I(static_cast<std::int32_t>(Format::nan_code));
        return xsimd::select(nan, nan_code, code);
    }
}

/// Magnitude field count of |y| under any rounding mode, by the reference's integer algorithm.
template <class Format, class Arch>
inline ibatch<Arch> magnitude_generic(ibatch<Arch> a, ibatch<Arch> negative, round_mode mode,
                                      ibatch<Arch> random24) noexcept {
    using I = ibatch<Arch>;
    constexpr int M = Format::mantissa_bits, emin = Format::emin;
    const I fe = a >> 23;
    const auto is_sub = fe == I(0);
    const I sig = (a & I(0x7FFFFF)) | xsimd::select(is_sub, I(0), I(0x800000));
    const I ue = xsimd::select(is_sub, I(-126), fe - I(127));
    const I t = xsimd::max(ue, I(emin));
    const I shift = t - ue + I(23 - M);
    const I sc = xsimd::min(shift, I(25));
    const I trunc = sig >> sc;
    const I rem = sig & ((I(1) << sc) - I(1));
    const I half = I(1) << (sc - I(1));  // sc >= 23 − M >= 16
    I up(0);
    switch (mode) {
        case round_mode::nearest_even:
            up = xsimd::select((rem > half) || ((rem == half) && ((trunc & I(1)) == I(1))), I(1),
                               I(0));
            break;
        case round_mode::nearest_away: up = xsimd::select(rem >= half, I(1), I(0)); break;
        case round_mode::toward_zero: break;
        case round_mode::floor:
            up = xsimd::select((negative != I(0)) && (rem != I(0)), I(1), I(0));
            break;
        case round_mode::stochastic: {
            const I k = shift - I(24);
            const I left = rem << xsimd::max(-k, I(0));
            const I right =
                xsimd::select(k >= I(31), I(0), rem >> xsimd::min(xsimd::max(k, I(0)), I(31)));
            const I frac24 = xsimd::select(k <= I(0), left, right);
            up = xsimd::select(frac24 + random24 >= I(1 << 24), I(1), I(0));
            break;
        }
        case round_mode::nearest_up:
            up = xsimd::select((rem > half) || ((rem == half) && (negative == I(0))), I(1), I(0));
            break;
        case round_mode::nearest_zero: up = xsimd::select(rem > half, I(1), I(0)); break;
    }
    return ((t - I(emin)) << M) + trunc + up;
}

/// Overflow, sign, NaN and fnuz zero around a magnitude count; returns the code per lane.
template <class Format, overflow O, class Arch>
inline ibatch<Arch> finish(ibatch<Arch> mag, ibatch<Arch> a, ibatch<Arch> s) noexcept {
    using I = ibatch<Arch>;
    constexpr nan_inf F = Format::flavour;
    constexpr int EM = Format::exponent_bits + Format::mantissa_bits;
    const I sign = s << EM;
    const auto over =
        (mag > I(static_cast<std::int32_t>(Format::max_magnitude))) || (a >= I(0x7F800000));
    std::int32_t over_mag = static_cast<std::int32_t>(Format::max_magnitude);
    if constexpr (O == overflow::nonsaturating && F == nan_inf::ieee)
        over_mag = static_cast<std::int32_t>(Format::inf_code);
    if constexpr (O == overflow::nonsaturating && F == nan_inf::fn)
        over_mag = static_cast<std::int32_t>(Format::nan_code);
    I code = xsimd::select(over, I(over_mag), mag) | sign;
    if constexpr (F == nan_inf::fnuz) {
        code = xsimd::select(mag == I(0), I(0), code);
        if constexpr (O == overflow::nonsaturating)
            code = xsimd::select(over, I(static_cast<std::int32_t>(Format::nan_code)), code);
    }
    const auto nan = a > I(0x7F800000);
    I nan_code;
    if constexpr (F == nan_inf::none)
        nan_code = sign ^ I(static_cast<std::int32_t>(Format::sign_mask));
    else if constexpr (F == nan_inf::fnuz)
        nan_code = I(static_cast<std::int32_t>(Format::nan_code));
    else
        nan_code = sign | I(static_cast<std::int32_t>(Format::nan_code));
    return xsimd::select(nan, nan_code, code);
}

/// Asks for the cache lines of the n floats at p ahead of their use: a hint, which never faults
/// (a no-op where the compiler has no prefetch builtin).
LOWBIT_FORCE_INLINE void prefetch_lines(const float* p, std::size_t n) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    for (std::size_t i = 0; i < n; i += 16) __builtin_prefetch(p + i, 0, 3);
#else
    (void)p;
    (void)n;
#endif
}

#if defined(__AVX512BW__)
/// The 64 codes of four int32 batches (each code in [0, 255]) as 64 bytes in order: packus over
/// 128-bit lanes leaves lane L holding codes 4L … 4L+3 of c[0], then of c[1], c[2], c[3]; one dword
/// permutation puts them back in order.
LOWBIT_FORCE_INLINE __m512i bytes64(const __m512i* c) noexcept {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(
        order,
        _mm512_packus_epi16(_mm512_packus_epi32(c[0], c[1]), _mm512_packus_epi32(c[2], c[3])));
}
/// 64 codes of 4 bits (one per byte, each in [0, 15]) packed two per byte, element 0 in the low
/// nibble: byte 2i + 16 · byte 2i+1 in each 16-bit lane, narrowed.
LOWBIT_FORCE_INLINE __m256i nibbles32(__m512i bytes) noexcept {
    return _mm512_cvtepi16_epi8(_mm512_maddubs_epi16(bytes, _mm512_set1_epi16(0x1001)));
}
#endif

/// dst[i] = low byte of src[i]. Separate restrict-qualified arguments let the compiler vectorise
/// the narrowing (a uint8_t store may otherwise alias the int32 source).
LOWBIT_FORCE_INLINE void narrow_store(const std::int32_t* __restrict src,
                                      std::uint8_t* __restrict dst, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i]);
}
/// dst[i] = low byte of src[i] (64-bit source).
LOWBIT_FORCE_INLINE void narrow_store64(const std::uint64_t* __restrict src,
                                        std::uint8_t* __restrict dst, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i]);
}
/// Packs n (a multiple of 4) 6-bit codes into 3n/4 bytes: the little-endian stream of
/// core/packing.hpp, c0 | c1 << 6 | c2 << 12 | c3 << 18 per three bytes.
inline void pack6(const std::int32_t* __restrict src, std::uint8_t* __restrict dst,
                  std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / 4; ++i) {
        const std::uint32_t v = static_cast<std::uint32_t>(src[4 * i]) |
            static_cast<std::uint32_t>(src[4 * i + 1]) << 6 |
            static_cast<std::uint32_t>(src[4 * i + 2]) << 12 |
            static_cast<std::uint32_t>(src[4 * i + 3]) << 18;
        dst[3 * i] = static_cast<std::uint8_t>(v);
        dst[3 * i + 1] = static_cast<std::uint8_t>(v >> 8);
        dst[3 * i + 2] = static_cast<std::uint8_t>(v >> 16);
    }
}
/// The inverse of pack6.
inline void unpack6(const std::uint8_t* __restrict src, std::int32_t* __restrict dst,
                    std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / 4; ++i) {
        const std::uint32_t v = src[3 * i] | static_cast<std::uint32_t>(src[3 * i + 1]) << 8 |
            static_cast<std::uint32_t>(src[3 * i + 2]) << 16;
        dst[4 * i] = static_cast<std::int32_t>(v & 63u);
        dst[4 * i + 1] = static_cast<std::int32_t>((v >> 6) & 63u);
        dst[4 * i + 2] = static_cast<std::int32_t>((v >> 12) & 63u);
        dst[4 * i + 3] = static_cast<std::int32_t>(v >> 18);
    }
}
/// dst[i] = src[i] zero-extended.
inline void widen_load(const std::uint8_t* __restrict src, std::int32_t* __restrict dst,
                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
}

template <unsigned S>
struct xor_lane {
    static constexpr std::uint32_t get(unsigned i, unsigned) noexcept { return i ^ S; }
};
/// Horizontal max of unsigned lanes by log2(W) butterfly swizzles.
template <class Arch, unsigned S = xsimd::batch<std::uint32_t, Arch>::size / 2>
LOWBIT_FORCE_INLINE xsimd::batch<std::uint32_t, Arch> hmax(
    xsimd::batch<std::uint32_t, Arch> v) noexcept {
    if constexpr (S == 0) {
        return v;
    } else {
        using U = xsimd::batch<std::uint32_t, Arch>;
        v = xsimd::max(v, xsimd::swizzle(v, xsimd::make_batch_constant<U, xor_lane<S>>()));
        return hmax<Arch, S / 2>(v);
    }
}

/// Lane permutation i → bit-reversal of i over log2(n) bits.
struct bitrev_lane {
    static constexpr std::uint32_t get(unsigned i, unsigned n) noexcept {
        std::uint32_t r = 0;
        for (unsigned b = 1; b < n; b <<= 1) r = (r << 1) | ((i & b) ? 1u : 0u);
        return r;
    }
};

/// Horizontal maxima of W vectors at once: returns r with r[b] = max over lanes of v[b]. A
/// transposing butterfly: at each level pairs of vectors fold into one (lanes with bit S set keep
/// the second vector's partial maxima), 2 selects + 1 swizzle + 1 max per fold, W − 1 folds in all;
/// the lanes come out bit-reversed, and one last swizzle puts them in order.
template <class Arch, unsigned S = xsimd::batch<std::uint32_t, Arch>::size / 2>
LOWBIT_FORCE_INLINE void fold_max(xsimd::batch<std::uint32_t, Arch>* v, unsigned count) noexcept {
    using U = xsimd::batch<std::uint32_t, Arch>;
    if constexpr (S > 0) {
        alignas(64) std::uint32_t iota[U::size];
        for (unsigned l = 0; l < U::size; ++l) iota[l] = l;
        const auto upper = (U::load_aligned(iota) & U(S)) != U(0u);
        const auto swz = xsimd::make_batch_constant<U, xor_lane<S>>();
        for (unsigned j = 0; j < count / 2; ++j) {
            // x holds a's lower and b's upper lanes, y the other halves; y's swizzle brings each
            // lane its partner from the same vector: max(x, swz(y)) is a's pairs below, b's above.
            const U& a = v[2 * j];
            const U& b = v[2 * j + 1];
            const U x = xsimd::select(upper, b, a), y = xsimd::select(upper, a, b);
            v[j] = xsimd::max(x, xsimd::swizzle(y, swz));
        }
        fold_max<Arch, S / 2>(v, count / 2);
    }
}
template <class Arch>
LOWBIT_FORCE_INLINE xsimd::batch<std::uint32_t, Arch> transpose_max(
    xsimd::batch<std::uint32_t, Arch>* v) noexcept {
    using U = xsimd::batch<std::uint32_t, Arch>;
    fold_max<Arch>(v, U::size);
    return xsimd::swizzle(v[0], xsimd::make_batch_constant<U, bitrev_lane>());
}

/// The 24-bit draws random_bits24(seed, index0 + lane) (exact: uniform · 2^24).
template <class Arch>
inline ibatch<Arch> random24_batch(std::uint64_t seed, std::uint64_t index0) noexcept {
    return xsimd::batch_cast<std::int32_t>(random_uniform_batch<Arch>(seed, index0) *
                                           fbatch<Arch>(0x1p24f));
}

}  // namespace detail_mf

/// Streams a long pass over memory reads at once (see block_absmax).
inline constexpr std::size_t read_streams = 8;

/// Largest finite |x| of n floats; equals block_absmax (formats/bfp.hpp) exactly (a max is exact).
/// A long input is read as read_streams equal parts at once: one core keeps more misses in flight
/// over several ascending streams than over one (measured here: 64 MiB in 2.2 ms against 3.0 ms).
template <class Arch = xsimd::default_arch>
inline float block_absmax(const float* x, std::size_t n) noexcept {
    using U = xsimd::batch<std::uint32_t, Arch>;
    constexpr std::size_t W = U::size, S = read_streams;
    const U finite(0x7F7FFFFFu), abs_mask(0x7FFFFFFFu);
    U m(0u);
    std::size_t i = 0;
    if (n >= (std::size_t{1} << 16)) {
        const std::size_t part = n / S / (2 * W) * (2 * W);
        U ms[S];
        for (auto& v : ms) v = U(0u);
        for (std::size_t j = 0; j < part; j += 2 * W)
            for (std::size_t s = 0; s < S; ++s) {
                const U a0 =
                    xsimd::bitwise_cast<U>(fbatch<Arch>::load_unaligned(x + s * part + j)) &
                    abs_mask;
                const U a1 =
                    xsimd::bitwise_cast<U>(fbatch<Arch>::load_unaligned(x + s * part + j + W)) &
                    abs_mask;
                ms[s] = xsimd::max(ms[s],
                                   xsimd::max(xsimd::select(a0 <= finite, a0, U(0u)),
                                              xsimd::select(a1 <= finite, a1, U(0u))));
            }
        for (const auto& v : ms) m = xsimd::max(m, v);
        i = S * part;
    }
    for (; i + W <= n; i += W) {
        const U a = xsimd::bitwise_cast<U>(fbatch<Arch>::load_unaligned(x + i)) & abs_mask;
        m = xsimd::max(m, xsimd::select(a <= finite, a, U(0u)));
    }
    std::uint32_t r = detail_mf::hmax<Arch>(m).get(0);
    const std::uint32_t t = lowbit::detail::float_bits(lowbit::block_absmax(x + i, n - i));
    return lowbit::detail::bits_float(t > r ? t : r);
}

/// Codes of one batch of already-scaled values y (index0: global index of lane 0, for stochastic).
template <class Format, overflow O, class Arch = xsimd::default_arch>
inline xsimd::batch<std::int32_t, Arch> encode_minifloat_batch(fbatch<Arch> y, rounding rnd,
                                                               std::uint64_t index0) noexcept {
    using I = detail_mf::ibatch<Arch>;
    const I u = xsimd::bitwise_cast<I>(y);
    const I a = u & I(0x7FFFFFFF);
    const I s = (u >> 31) & I(1);
    I mag;
    if (rnd.mode == round_mode::nearest_even) {
        if constexpr (O == overflow::saturate)
            return detail_mf::encode_rne_saturate<Format, Arch>(y);
        mag = detail_mf::magnitude_rne<Format, Arch>(a);
    } else {
        const I r = rnd.mode == round_mode::stochastic
            ? detail_mf::random24_batch<Arch>(rnd.seed, index0)
            : I(0);
        mag = detail_mf::magnitude_generic<Format, Arch>(xsimd::min(a, I(0x7F800000)), s, rnd.mode,
                                                         r);
    }
    return detail_mf::finish<Format, O, Arch>(mag, a, s);
}

/// SIMD encode of n values; equals reference::encode_minifloat_run.
template <class Format, overflow O = overflow::saturate, class Arch = xsimd::default_arch>
inline void encode_minifloat_run(const float* x, std::size_t n, float inv, rounding rnd,
                                 std::uint64_t index0, std::uint8_t* codes) noexcept {
    static_assert(Format::bits <= 8, "lowbit: run kernels store one byte per code (bits <= 8)");
    using B = fbatch<Arch>;
    constexpr std::size_t W = B::size,
                          K = 64 / W > 0 ? 64 / W : 1;  // K batches, then one narrowing loop
    alignas(64) std::int32_t tmp[W * K];
    const B vinv(inv);
    std::size_t i = 0;
    if (rnd.mode == round_mode::nearest_even &&
        O == overflow::saturate) {  // the hot path, hoisted: no mode test per batch
        for (; i + W * K <= n; i += W * K) {
            for (std::size_t k = 0; k < K; ++k)
                detail_mf::encode_rne_saturate<Format, Arch>(B::load_unaligned(x + i + k * W) *
                                                             vinv)
                    .store_aligned(tmp + k * W);
            detail_mf::narrow_store(tmp, codes + i, W * K);
        }
    }
    for (; i + W * K <= n; i += W * K) {
        if (rnd.mode == round_mode::stochastic &&
            ((index0 + i) >> 32) != ((index0 + i + W * K - 1) >> 32))
            break;
        for (std::size_t k = 0; k < K; ++k)
            encode_minifloat_batch<Format, O, Arch>(B::load_unaligned(x + i + k * W) * vinv, rnd,
                                                    index0 + i + k * W)
                .store_aligned(tmp + k * W);
        detail_mf::narrow_store(tmp, codes + i, W * K);
    }
    for (; i + W <= n; i += W) {
        if (rnd.mode == round_mode::stochastic && !lanes_share_high_word<Arch>(index0 + i)) break;
        encode_minifloat_batch<Format, O, Arch>(B::load_unaligned(x + i) * vinv, rnd, index0 + i)
            .store_aligned(tmp);
        detail_mf::narrow_store(tmp, codes + i, W);
    }
    if (i < n)
        reference::encode_minifloat_run<Format, O>(x + i, n - i, inv, rnd, index0 + i, codes + i);
}

/// Writes the codes that encode_minifloat_run(x, n, inv, {}, 0, dst) writes (round to nearest even,
/// saturate), for a large output that will not be read again soon: with AVX-512BW every whole
/// 64-byte line of dst is one non-temporal store of 64 codes narrowed in registers (no staging
/// buffer, no read-for-ownership); other ISAs encode into a stack buffer and stream_bytes it out.
/// Call stream_fence() after the last call, before another thread may read dst.
template <class Format, class Arch = xsimd::default_arch>
inline void encode_minifloat_rne_stream(const float* x, std::size_t n, float inv,
                                        std::uint8_t* dst) noexcept {
    static_assert(Format::bits <= 8, "lowbit: run kernels store one byte per code (bits <= 8)");
#if defined(__AVX512BW__)
    if constexpr (std::is_base_of_v<xsimd::avx512bw, Arch>) {
        using B = fbatch<Arch>;
        std::size_t i = std::min(n, (64 - (reinterpret_cast<std::uintptr_t>(dst) & 63u)) & 63u);
        encode_minifloat_run<Format, overflow::saturate, Arch>(
            x, i, inv, {}, 0, dst);  // up to dst's first whole line
        const B vinv(inv);
        using I = detail_mf::ibatch<Arch>;
        for (; i + 64 <= n; i += 64) {
            // The NaN handling is left out of the four batches and one test over them covers it:
            // a NaN lane is redone with it (its |y| bits exceed Inf's).
            B y[4];
            __m512i c[4];
            I amax(0);
            for (std::size_t k = 0; k < 4; ++k) {
                y[k] = B::load_unaligned(x + i + 16 * k) * vinv;
                amax = xsimd::max(amax, xsimd::bitwise_cast<I>(y[k]) & I(0x7FFFFFFF));
                c[k] = detail_mf::encode_rne_saturate<Format, Arch, false>(y[k]);
            }
            if (xsimd::any(amax > I(0x7F800000))) [[unlikely]]
                for (std::size_t k = 0; k < 4; ++k)
                    c[k] = detail_mf::encode_rne_saturate<Format, Arch>(y[k]);
            _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + i), detail_mf::bytes64(c));
        }
        encode_minifloat_run<Format, overflow::saturate, Arch>(x + i, n - i, inv, {}, 0, dst + i);
        return;
    }
#endif
    constexpr std::size_t step = 4096;
    alignas(64) std::uint8_t codes[step];
    for (std::size_t i = 0; i < n; i += step) {
        const std::size_t m = std::min(step, n - i);
        encode_minifloat_run<Format, overflow::saturate, Arch>(x + i, m, inv, {}, 0, codes);
        stream_bytes<Arch>(dst + i, codes, m);
    }
}

/// Values decode(c) (unscaled) of one batch of codes held in int32 lanes.
template <class Format, class Arch = xsimd::default_arch>
inline fbatch<Arch> decode_minifloat_batch(xsimd::batch<std::int32_t, Arch> c) noexcept {
    using I = detail_mf::ibatch<Arch>;
    using B = fbatch<Arch>;
    constexpr int M = Format::mantissa_bits, EM = Format::exponent_bits + M;
    constexpr nan_inf F = Format::flavour;
    const I sign = ((c >> EM) & I(1)) << 31;
    const I mag = c & I(static_cast<std::int32_t>(Format::magnitude_mask));
    const I e = mag >> M;
    const I normal = (mag << (23 - M)) + I((127 - Format::bias) << 23);
    const B sub = xsimd::batch_cast<float>(mag) * B(lowbit::detail::pow2f(Format::emin - M));
    I v = xsimd::select(e == I(0), xsimd::bitwise_cast<I>(sub), normal) | sign;
    if constexpr (F == nan_inf::fnuz) {
        v = xsimd::select(c == I(static_cast<std::int32_t>(Format::sign_mask)),
                          I(static_cast<std::int32_t>(0xFFC00000u)), v);
    } else if constexpr (F == nan_inf::fn) {
        v = xsimd::select(mag == I(static_cast<std::int32_t>(Format::magnitude_mask)),
                          sign | I(0x7FC00000), v);
    } else if constexpr (F == nan_inf::ieee) {
        const I special =
            sign | xsimd::select((mag & I((1 << M) - 1)) != I(0), I(0x7FC00000), I(0x7F800000));
        v = xsimd::select(e == I(static_cast<std::int32_t>(Format::exp_all_ones)), special, v);
    }
    return xsimd::bitwise_cast<B>(v);
}

/// SIMD decode of n codes; equals reference::decode_minifloat_run.
template <class Format, class Arch = xsimd::default_arch>
inline void decode_minifloat_run(const std::uint8_t* codes, std::size_t n, float scale,
                                 float* out) noexcept {
    static_assert(Format::bits <= 8, "lowbit: run kernels read one byte per code (bits <= 8)");
    using B = fbatch<Arch>;
    using I = detail_mf::ibatch<Arch>;
    constexpr std::size_t W = B::size;
    constexpr std::size_t K = 64 / W > 0 ? 64 / W : 1;
    alignas(64) std::int32_t tmp[W * K];
    const B s(scale);
    std::size_t i = 0;
    for (; i + W * K <= n; i += W * K) {
        detail_mf::widen_load(codes + i, tmp, W * K);
        for (std::size_t k = 0; k < K; ++k)
            (decode_minifloat_batch<Format, Arch>(I::load_aligned(tmp + k * W)) * s)
                .store_unaligned(out + i + k * W);
    }
    for (; i + W <= n; i += W) {
        detail_mf::widen_load(codes + i, tmp, W);
        (decode_minifloat_batch<Format, Arch>(I::load_aligned(tmp)) * s).store_unaligned(out + i);
    }
    if (i < n) reference::decode_minifloat_run<Format>(codes + i, n - i, scale, out + i);
}

}  // namespace simd
LOWBIT_NAMESPACE_END
