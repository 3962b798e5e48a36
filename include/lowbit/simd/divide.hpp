// lowbit — IEEE division of float batches on every instruction set.
//
// xsimd 8.1 divides float batches on NEON, aarch64 included, by a reciprocal estimate refined
// by two Newton–Raphson steps (only double division has an aarch64 override): the quotient can
// be an ulp or two off the correctly rounded one, so a kernel dividing batches would not equal
// its scalar reference. aarch64 has a correctly rounded vector division (fdiv); 32-bit NEON has
// none and divides lane by lane; x86 (divps, vdivps) is IEEE already and keeps xsimd's operator.
#pragma once
#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../core/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// a / b in every lane, correctly rounded as the scalar a / b.
template <class Arch>
LOWBIT_FORCE_INLINE xsimd::batch<float, Arch> divide(const xsimd::batch<float, Arch>& a,
                                                     const xsimd::batch<float, Arch>& b) noexcept {
#if XSIMD_WITH_NEON64
    if constexpr (std::is_base_of_v<xsimd::neon64, Arch>) return vdivq_f32(a, b);
#endif
#if XSIMD_WITH_NEON
    if constexpr (std::is_base_of_v<xsimd::neon, Arch>) {
        using B = xsimd::batch<float, Arch>;
        alignas(64) float x[B::size], y[B::size];
        a.store_aligned(x);
        b.store_aligned(y);
        for (std::size_t l = 0; l < B::size; ++l) x[l] /= y[l];
        return B::load_aligned(x);
    }
#endif
    return a / b;
}

}  // namespace simd
LOWBIT_NAMESPACE_END
