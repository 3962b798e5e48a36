// lowbit — xsimd butterflies for the blockwise Hadamard transform. Twin of
// transform/hadamard.hpp, equal to its reference bit for bit (tests/test_hadamard.cpp).
//
// Distances len >= W (the batch width) pair whole batches. Distances len < W pair lanes of one
// batch: with s = v with lanes l and l XOR len swapped, the stage is
// select(bit len of lane set, s − v, v + s), so lane j gets x[j] + x[j + len] and lane j + len
// gets x[j] − x[j + len], the reference's operations (on AVX-512 one fma(v, ±1, s): the same
// rounded values, ±v being exact). Blocks of up to 16 batches stay in registers
// (hadamard_block_load); larger ones make one pass over memory per distance.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "../core/backend.hpp"
#include "../transform/hadamard.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

namespace detail {
template <std::size_t S>
struct xor_lanes {
    static constexpr std::uint32_t get(std::size_t i, std::size_t) noexcept {
        return static_cast<std::uint32_t>(i ^ S);
    }
};

/// One in-register stage of distance S: lane j (bit S clear) gets x[j] + x[j + S], lane j + S
/// gets x[j] − x[j + S]. The generic path keeps the reference's operand order; the AVX-512 path
/// computes swapped + (±1)·v with one FMA, the same rounded value because ±v is exact (NaN
/// payloads may differ, which transform/hadamard.hpp leaves open).
template <class Arch, std::size_t S>
inline xsimd::batch<float, Arch> lane_butterfly(xsimd::batch<float, Arch> v) noexcept {
    using B = xsimd::batch<float, Arch>;
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f,
                                    Arch>) {  // immediate shuffles, same lanes as the swizzle
        // (zero-masked forms with an all-ones mask: the plain operations, simd/arch/x86.hpp)
        __m512 sw;
        if constexpr (S == 1)
            sw = _mm512_maskz_permute_ps(0xFFFF, v, 0xB1);
        else if constexpr (S == 2)
            sw = _mm512_maskz_permute_ps(0xFFFF, v, 0x4E);
        else if constexpr (S == 4)
            sw = _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, 0xB1);
        else
            sw = _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, 0x4E);
        // sw + (±1)·v rounded once: ±v is exact, so this is the reference's a + b and a − b.
        alignas(64) static constexpr float signs[16] = {
            (0 & S) ? -1.f : 1.f,  (1 & S) ? -1.f : 1.f,  (2 & S) ? -1.f : 1.f,
            (3 & S) ? -1.f : 1.f,  (4 & S) ? -1.f : 1.f,  (5 & S) ? -1.f : 1.f,
            (6 & S) ? -1.f : 1.f,  (7 & S) ? -1.f : 1.f,  (8 & S) ? -1.f : 1.f,
            (9 & S) ? -1.f : 1.f,  (10 & S) ? -1.f : 1.f, (11 & S) ? -1.f : 1.f,
            (12 & S) ? -1.f : 1.f, (13 & S) ? -1.f : 1.f, (14 & S) ? -1.f : 1.f,
            (15 & S) ? -1.f : 1.f};
        return B(_mm512_fmadd_ps(v, _mm512_load_ps(signs), sw));
    }
#endif
    using U = xsimd::batch<std::uint32_t, Arch>;
    alignas(64) float upper[B::size];
    for (std::size_t l = 0; l < B::size; ++l) upper[l] = (l & S) ? 1.0f : 0.0f;
    const B swapped = xsimd::swizzle(v, xsimd::make_batch_constant<U, xor_lanes<S>>());
    return xsimd::select(B::load_aligned(upper) != B(0.0f), swapped - v, v + swapped);
}

/// Every in-register stage S, 2S, … below min(W, h).
template <class Arch, std::size_t S = 1>
inline xsimd::batch<float, Arch> lane_stages(xsimd::batch<float, Arch> v, std::size_t h) noexcept {
    if constexpr (S < xsimd::batch<float, Arch>::size) {
        if (S < h) return lane_stages<Arch, 2 * S>(lane_butterfly<Arch, S>(v), h);
    }
    return v;
}
}  // namespace detail

namespace detail {
/// v[j], v[j + Len] ← v[j] + v[j + Len], v[j] − v[j + Len].
template <class Arch, std::size_t Len, std::size_t J>
inline void batch_pair(xsimd::batch<float, Arch>* v) noexcept {
    const xsimd::batch<float, Arch> a = v[J], b = v[J + Len];
    v[J] = a + b;
    v[J + Len] = a - b;
}
/// The stages of distance Len, 2·Len, … < NV between whole batches, unrolled at compile time
/// (a loop here kept v in memory: GCC 12 does not unroll the nest).
template <class Arch, std::size_t NV, std::size_t Len, std::size_t... K>
inline void batch_stages(xsimd::batch<float, Arch>* v, std::index_sequence<K...> ks) noexcept {
    if constexpr (Len < NV) {
        (batch_pair<Arch, Len, (K / Len) * 2 * Len + K % Len>(v),
         ...);  // the NV/2 pairs with bit Len of j clear
        batch_stages<Arch, NV, 2 * Len>(v, ks);
    }
}
}  // namespace detail

/// The normalised transform of one block of h = NV·W values held in NV registers (Normalize =
/// false: the butterflies only, without the final multiplication by c_h).
template <class Arch, std::size_t NV, bool Normalize = true>
inline void hadamard_regs(xsimd::batch<float, Arch>* v) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size, h = NV * W;
    for (std::size_t j = 0; j < NV; ++j) v[j] = detail::lane_stages<Arch>(v[j], h);
    if constexpr (NV > 1) detail::batch_stages<Arch, NV, 1>(v, std::make_index_sequence<NV / 2>());
    if constexpr (Normalize) {
        const B c(hadamard_norm(h));
        for (std::size_t j = 0; j < NV; ++j) v[j] = v[j] * c;
    }
}

/// One block of h = NV·W values from src into NV registers v (normalised unless Normalize = false).
template <class Arch, std::size_t NV, bool Normalize = true>
inline void hadamard_block_load(const float* src, xsimd::batch<float, Arch>* v) noexcept {
    using B = xsimd::batch<float, Arch>;
    for (std::size_t j = 0; j < NV; ++j) v[j] = B::load_unaligned(src + j * B::size);
    hadamard_regs<Arch, NV, Normalize>(v);
}

/// One block of h = NV·W values from src to dst (may alias), held in NV registers.
template <class Arch, std::size_t NV>
inline void hadamard_block_regs(const float* src, float* dst) noexcept {
    using B = xsimd::batch<float, Arch>;
    B v[NV];
    hadamard_block_load<Arch, NV>(src, v);
    for (std::size_t j = 0; j < NV; ++j) v[j].store_unaligned(dst + j * B::size);
}

/// Transforms one block of h values from src into dst (which must not overlap src unless equal).
template <class Arch = xsimd::default_arch>
inline void hadamard_block_copy(const float* src, float* dst, std::size_t h) noexcept;

/// Transforms `count` consecutive blocks of h values each (h a power of two) in place.
template <class Arch = xsimd::default_arch>
inline void hadamard_blocks(float* x, std::size_t count, std::size_t h) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    if (h <= 1 || count == 0) return;
    const B c(hadamard_norm(h));
    if (h < W) {  // several blocks per batch: only in-register stages
        const std::size_t n = count * h, full = n / W * W;
        for (std::size_t i = 0; i < full; i += W)
            (detail::lane_stages<Arch>(B::load_unaligned(x + i), h) * c).store_unaligned(x + i);
        for (std::size_t i = full; i < n; i += h) reference::hadamard_block(x + i, h);
        return;
    }
    if (h <= 16 * W) {
        for (std::size_t k = 0; k < count; ++k, x += h) hadamard_block_copy<Arch>(x, x, h);
        return;
    }
    for (std::size_t k = 0; k < count; ++k, x += h) {
        if (h == W) {
            (detail::lane_stages<Arch>(B::load_unaligned(x), h) * c).store_unaligned(x);
            continue;
        }
        for (std::size_t i = 0; i < h; i += W)
            detail::lane_stages<Arch>(B::load_unaligned(x + i), h).store_unaligned(x + i);
        for (std::size_t len = W; len < h; len *= 2) {
            const bool last =
                2 * len == h;  // the last stage also applies c_h (same ops, fused loop)
            for (std::size_t i = 0; i < h; i += 2 * len)
                for (std::size_t j = i; j < i + len; j += W) {
                    const B a = B::load_unaligned(x + j), b = B::load_unaligned(x + j + len);
                    if (last) {
                        ((a + b) * c).store_unaligned(x + j);
                        ((a - b) * c).store_unaligned(x + j + len);
                    } else {
                        (a + b).store_unaligned(x + j);
                        (a - b).store_unaligned(x + j + len);
                    }
                }
        }
    }
}

template <class Arch>
inline void hadamard_block_copy(const float* src, float* dst, std::size_t h) noexcept {
    constexpr std::size_t W = xsimd::batch<float, Arch>::size;
    switch (h / W) {
        case 1:
            if (h == W) {
                hadamard_block_regs<Arch, 1>(src, dst);
                return;
            }
            break;
        case 2: hadamard_block_regs<Arch, 2>(src, dst); return;
        case 4: hadamard_block_regs<Arch, 4>(src, dst); return;
        case 8: hadamard_block_regs<Arch, 8>(src, dst); return;
        case 16: hadamard_block_regs<Arch, 16>(src, dst); return;
        default: break;
    }
    if (src != dst)
        for (std::size_t i = 0; i < h; ++i) dst[i] = src[i];
    hadamard_blocks<Arch>(dst, 1, h);
}

/// Transforms one row of n values (blocks of at most H, covered as transform/hadamard.hpp says).
template <class Arch = xsimd::default_arch>
inline void hadamard_row(float* row, std::size_t n, std::size_t H) noexcept {
    const std::size_t full = n / H;
    hadamard_blocks<Arch>(row, full, H);
    for (std::size_t pos = full * H; pos < n;) {
        const std::size_t h = hadamard_block_at(n - pos, H);
        hadamard_blocks<Arch>(row + pos, 1, h);
        pos += h;
    }
}

/// SIMD twin of reference::hadamard_rows.
template <class Arch = xsimd::default_arch>
inline void hadamard_rows(float* x, shape2d shape, std::size_t H) {
    lowbit::detail::check_hadamard(H);
    if (shape.cols % H == 0) {
        hadamard_blocks<Arch>(x, shape.size() / H, H);
        return;
    }
    for (std::size_t r = 0; r < shape.rows; ++r)
        hadamard_row<Arch>(x + r * shape.cols, shape.cols, H);
}

}  // namespace simd

/// Applies the normalised blockwise Hadamard transform (blocks of at most H) to every row of
/// the row-major matrix x in place. Orthonormal and its own inverse. Throws lowbit::error when
/// x.size() != shape.size() or H is not a power of two in 2 … 32768.
inline void hadamard_transform(std::span<float> x, shape2d shape, std::size_t H,
                               backend b = backend::simd) {
    detail::require_shape(x.size(), shape);
    if (b == backend::simd)
        simd::hadamard_rows(x.data(), shape, H);
    else
        reference::hadamard_rows(x.data(), shape, H);
}

LOWBIT_NAMESPACE_END
