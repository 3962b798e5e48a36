// lowbit — xsimd kernels for log2_format<B>. Twin of formats/log.hpp's reference runs, equal
// bit for bit (tests/test_log.cpp): the same multiply, then exponent and mantissa-threshold
// integer operations on the float's bits; decoding adds (k − top) << 23 to the scale's bits.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "../formats/log.hpp"
#include "minifloat.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// Codes of one batch of unit-domain values y (thr: Format::threshold of the rounding rule).
template <class Format, class Arch = xsimd::default_arch>
inline xsimd::batch<std::int32_t, Arch> encode_log_batch(
    fbatch<Arch> y, xsimd::batch<std::int32_t, Arch> thr) noexcept {
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr int top = Format::top, b = Format::bits;
    const I u = xsimd::bitwise_cast<I>(y);
    const I a = u & I(0x7FFFFFFF);
    const I sign = ((u >> 31) & I(1)) << (b - 1);
    const I up = xsimd::select((a & I(0x7FFFFF)) >= thr, I(1), I(0));
    I k = (a >> 23) - I(127 - top) + up;
    k = xsimd::min(xsimd::max(k, I(1)), I(top));
    const I c = xsimd::select(a < I(static_cast<std::int32_t>(Format::zero_below)), I(0), k) | sign;
    return xsimd::select(a > I(0x7F800000), I(0), c);
}

/// decode_scaled(c, s) of one batch of codes (any finite s >= 0, as the reference: exponent
/// arithmetic when s's exponent field exceeds top, else s · 2^(k − top)).
template <class Format, class Arch = xsimd::default_arch>
inline fbatch<Arch> decode_log_batch(xsimd::batch<std::int32_t, Arch> c, float s) noexcept {
    using I = xsimd::batch<std::int32_t, Arch>;
    using B = fbatch<Arch>;
    constexpr int top = Format::top, b = Format::bits;
    const std::uint32_t sb = lowbit::detail::float_bits(s);
    const I k = c & I(static_cast<std::int32_t>(Format::sign_mask - 1u));
    const I sign = ((c >> (b - 1)) & I(1)) << 31;
    I mag;
    if ((sb >> 23) > static_cast<std::uint32_t>(top))
        mag =
            I(static_cast<std::int32_t>(sb - (static_cast<std::uint32_t>(top) << 23))) + (k << 23);
    else
        mag = xsimd::bitwise_cast<I>(B(s) * xsimd::bitwise_cast<B>((k + I(127 - top)) << 23));
    return xsimd::bitwise_cast<B>(xsimd::select(k == I(0), I(0), mag) | sign);
}

/// SIMD encode; equals reference::encode_log_run.
template <class Format, class Arch = xsimd::default_arch>
inline void encode_log_run(const float* x, std::size_t n, float inv, log_rounding r,
                           std::uint8_t* codes) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    constexpr int top = Format::top, b = Format::bits;
    constexpr std::size_t K = 64 / W > 0 ? 64 / W : 1;  // up to K batches per narrowing loop
    alignas(64) std::int32_t tmp[W * K];
    const B vinv(inv);
    const I thr(static_cast<std::int32_t>(Format::threshold(r)));
    std::size_t i = 0;
    while (i + W <= n) {
        const std::size_t m = std::min((n - i) / W, K);
        for (std::size_t j = 0; j < m; ++j) {
            const I u = xsimd::bitwise_cast<I>(B::load_unaligned(x + i + j * W) * vinv);
            const I a = u & I(0x7FFFFFFF);
            const I sign = ((u >> 31) & I(1)) << (b - 1);
            const I up = xsimd::select((a & I(0x7FFFFF)) >= thr, I(1), I(0));
            I k = (a >> 23) - I(127 - top) + up;
            k = xsimd::min(xsimd::max(k, I(1)), I(top));
            I c =
                xsimd::select(a < I(static_cast<std::int32_t>(Format::zero_below)), I(0), k) | sign;
            c = xsimd::select(a > I(0x7F800000), I(0), c);
            c.store_aligned(tmp + j * W);
        }
        detail_mf::narrow_store(tmp, codes + i, m * W);
        i += m * W;
    }
    if (i < n) reference::encode_log_run<Format>(x + i, n - i, inv, r, codes + i);
}

/// SIMD decode; equals reference::decode_log_run.
template <class Format, class Arch = xsimd::default_arch>
inline void decode_log_run(const std::uint8_t* codes, std::size_t n, float s, float* out) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    constexpr int top = Format::top, b = Format::bits;
    const std::uint32_t sb = lowbit::detail::float_bits(s);
    if ((sb >> 23) <= static_cast<std::uint32_t>(top))
        return reference::decode_log_run<Format>(codes, n, s, out);
    constexpr std::size_t K = 64 / W > 0 ? 64 / W : 1;
    alignas(64) std::int32_t tmp[W * K];
    const I base(static_cast<std::int32_t>(sb - (static_cast<std::uint32_t>(top) << 23)));
    std::size_t i = 0;
    while (i + W <= n) {
        const std::size_t m = std::min((n - i) / W, K);
        detail_mf::widen_load(codes + i, tmp, m * W);
        for (std::size_t j = 0; j < m; ++j, i += W) {
            const I c = I::load_aligned(tmp + j * W);
            const I k = c & I(static_cast<std::int32_t>(Format::sign_mask - 1u));
            const I sign = ((c >> (b - 1)) & I(1)) << 31;
            const I v = xsimd::select(k == I(0), I(0), base + (k << 23)) | sign;
            xsimd::bitwise_cast<B>(v).store_unaligned(out + i);
        }
    }
    if (i < n) reference::decode_log_run<Format>(codes + i, n - i, s, out + i);
}

}  // namespace simd
LOWBIT_NAMESPACE_END
