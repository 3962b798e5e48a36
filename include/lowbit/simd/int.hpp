// lowbit — xsimd kernels for the integer formats. Twin of formats/int.hpp's reference
// kernels, equal to them bit for bit (tests/test_int.cpp): the same operations in the same
// order, lane by lane; tails and rare cases go through the reference.
#pragma once
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "../formats/int.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// SIMD encode of n values; equals reference::encode_int_run.
template <class Format, class Arch = xsimd::default_arch>
inline void encode_int_run(const float* x, std::size_t n, const int_run_params& p, rounding rnd,
                           std::uint64_t index0, std::uint8_t* codes) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    const B lo(float(Format::qmin)), hi(float(Format::qmax)), zero(0.0f);
    const I mask(static_cast<std::int32_t>(code_traits<Format::bits>::mask));
    alignas(64) std::int32_t tmp[W];
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        if (rnd.mode == round_mode::stochastic && !lanes_share_high_word<Arch>(index0 + i)) break;
        const std::size_t k = i * p.stride;
        const B inv = p.stride ? B::load_unaligned(p.inv + k) : B(p.inv[0]);
        const B off = p.stride ? B::load_unaligned(p.offset + k) : B(p.offset[0]);
        const B z = p.stride ? B::load_unaligned(p.zero + k) : B(p.zero[0]);
        B y = (B::load_unaligned(x + i) - off) * inv;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        B r = round_integral<Arch>(y, rnd, index0 + i) + z;
        r = xsimd::min(xsimd::max(r, lo), hi);
        const I q = xsimd::batch_cast<std::int32_t>(r) & mask;
        q.store_aligned(tmp);
        for (std::size_t l = 0; l < W; ++l) codes[i + l] = static_cast<std::uint8_t>(tmp[l]);
    }
    if (i < n) {
        int_run_params tail = p;
        if (p.stride) { tail.inv += i; tail.scale += i; tail.offset += i; tail.zero += i; }
        reference::encode_int_run<Format>(x + i, n - i, tail, rnd, index0 + i, codes + i);
    }
}

/// SIMD decode of n codes; equals reference::decode_int_run.
template <class Format, affine Form, class Arch = xsimd::default_arch>
inline void decode_int_run(const std::uint8_t* codes, std::size_t n, const int_run_params& p, float* out) noexcept {
    using B = fbatch<Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    alignas(64) std::int32_t tmp[W];
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        for (std::size_t l = 0; l < W; ++l) tmp[l] = Format::to_int(codes[i + l]);
        const B q = xsimd::batch_cast<float>(I::load_aligned(tmp));
        const std::size_t k = i * p.stride;
        const B s = p.stride ? B::load_unaligned(p.scale + k) : B(p.scale[0]);
        B v;
        if constexpr (Form == affine::none) v = q * s;
        else if constexpr (Form == affine::offset) v = q * s + (p.stride ? B::load_unaligned(p.offset + k) : B(p.offset[0]));
        else v = (q - (p.stride ? B::load_unaligned(p.zero + k) : B(p.zero[0]))) * s;
        v.store_unaligned(out + i);
    }
    if (i < n) {
        int_run_params tail = p;
        if (p.stride) { tail.inv += i; tail.scale += i; tail.offset += i; tail.zero += i; }
        reference::decode_int_run<Format, Form>(codes + i, n - i, tail, out + i);
    }
}

}  // namespace simd
LOWBIT_NAMESPACE_END
