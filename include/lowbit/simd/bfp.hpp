// lowbit — xsimd kernels for block floating point elements (bfp_element<M>, MXINT8). Twin of
// formats/bfp.hpp's reference runs, equal bit for bit (tests/test_mx.cpp). Minifloat elements
// of MX / NVFP4 use simd/minifloat.hpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "../formats/bfp.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// SIMD encode of a run of bfp elements; equals reference::encode_bfp_run.
template <class Elem, class Arch = xsimd::default_arch>
inline void encode_bfp_run(const float* x, std::size_t n, float inv, rounding rnd, std::uint64_t index0,
                           std::uint8_t* codes) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    const B up(static_cast<float>(1 << (Elem::mantissa_bits - 1))), vinv(inv);
    const B lo(-float(Elem::qmax)), hi(float(Elem::qmax)), zero(0.0f);
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
        for (std::size_t l = 0; l < W; ++l) codes[i + l] = static_cast<std::uint8_t>(tmp[l]);
    }
    if (i < n) reference::encode_bfp_run<Elem>(x + i, n - i, inv, rnd, index0 + i, codes + i);
}

/// SIMD decode of a run of bfp elements; equals reference::decode_bfp_run.
template <class Elem, class Arch = xsimd::default_arch>
inline void decode_bfp_run(const std::uint8_t* codes, std::size_t n, float scale, float* out) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    constexpr int sh = 32 - Elem::bits;
    alignas(64) std::int32_t tmp[W];
    const B unit(Elem::unit), s(scale);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        for (std::size_t l = 0; l < W; ++l) tmp[l] = codes[i + l];
        const I q = (I::load_aligned(tmp) << sh) >> sh;  // sign extension
        ((xsimd::batch_cast<float>(q) * unit) * s).store_unaligned(out + i);
    }
    if (i < n) reference::decode_bfp_run<Elem>(codes + i, n - i, scale, out + i);
}

}  // namespace simd
LOWBIT_NAMESPACE_END
