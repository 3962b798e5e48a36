// lowbit — which instruction-set family an xsimd Arch belongs to, and the hook the per-family
// primitive files specialise.
//
// xsimd arch tags form an inheritance tree (avx512bw → … → avx512f, fma3<avx2> → avx2 → avx,
// sse4_2 → … → sse2, neon64 → neon), and AVX / AVX-512 do not derive from sse2. A primitive is
// written for a family (the widest base whose instructions it uses), so family_of maps every
// tag the compiler may pick to one of them. `kernels<isa>` is empty here; simd/arch/x86.hpp and
// simd/arch/neon.hpp specialise it with the functions that family implements. A primitive in
// simd/primitives.hpp calls the family's function when it has one and its portable xsimd form
// otherwise, so a family may implement any subset.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../../core/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {
/// The terms gemv8p adds for unsigned codes stored as signed ones (code − offset): per group g
/// and row i, d[i] += z_i · qsum[g] before the scaling, z_i = zc[8·g + i] (zc set) or zc_all;
/// then, when mw is set, out[i] = out[i] + (mw[8·g + i] · sx[g]) · float(qsum[g]), the product
/// rounded on its own (a float minimum's share of the group).
struct gemv8p_affine {
    const std::int32_t* zc = nullptr;
    std::int32_t zc_all = 0;
    const float* mw = nullptr;
};
/// Where gemm8p_lut reads the weight scale s_w of row i (< 8) of a tile in group g:
/// sw[step·g + i], step 8 (a float per row and group) or 0 (one per row, every group).
struct tile_scales {
    const float* sw = nullptr;
    std::size_t step = 8;
    [[nodiscard]] float at(std::size_t g, std::size_t i) const noexcept { return sw[step * g + i]; }
};
/// One activation row of gemm8p: its int8 codes in column order, Σ q per group, s_x per group,
/// and the 8 outputs it accumulates into (gemv8p's q, qsum, sx and out).
struct gemv8p_row {
    const std::int8_t* q = nullptr;
    const std::int32_t* qsum = nullptr;
    const float* sx = nullptr;
    float* out = nullptr;
};
}  // namespace simd

namespace simd::arch {

/// Instruction-set families with hand-written primitives. `generic` is every other Arch (the
/// portable xsimd forms, including xsimd's scalar-emulating fallbacks).
enum class isa { generic, sse2, sse4_1, avx2, avx512, neon };

/// The family of xsimd Arch tag A.
template <class A>
inline constexpr isa family_of = [] {
#if XSIMD_WITH_AVX512BW
    if constexpr (std::is_base_of_v<xsimd::avx512bw, A>) return isa::avx512;
#endif
#if XSIMD_WITH_AVX2
    if constexpr (std::is_base_of_v<xsimd::avx2, A>) return isa::avx2;
#endif
#if XSIMD_WITH_SSE4_1
    if constexpr (std::is_base_of_v<xsimd::sse4_1, A>) return isa::sse4_1;
#endif
#if XSIMD_WITH_SSE2
    if constexpr (std::is_base_of_v<xsimd::sse2, A>) return isa::sse2;
#endif
#if XSIMD_WITH_NEON64
    if constexpr (std::is_base_of_v<xsimd::neon64, A>) return isa::neon;
#endif
    return isa::generic;
}();

/// The primitives family F implements by hand (specialised per family; empty: all portable).
template <isa F>
struct kernels {};

}  // namespace simd::arch
LOWBIT_NAMESPACE_END
