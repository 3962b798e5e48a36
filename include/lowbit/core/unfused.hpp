// lowbit — products that are never fused into an FMA, whatever -ffp-contract says.
//
// The library's results must not depend on compiler flags. Where a fused multiply-add is the
// semantics the code says std::fma / xsimd::fma. Everywhere else an expression a·b + c means
// "round a·b, then round the sum", but GCC in GNU mode (-ffp-contract=fast, its default) and
// nvcc (--fmad=true) may fuse the two into one FMA with one rounding, in the scalar reference
// and the SIMD kernels alike and not always in both. mul_unfused(a, b) gives the product
// rounded on its own: the value passes through an empty asm statement the compiler cannot see
// into, so it is no longer "a product" that an addition could absorb. It costs no instruction.
//
// Only products whose rounding can matter need it: a product by a power of two, or of two
// values whose significands fit 24 bits together (a small integer times an fp16 value), is
// exact, and fusing it changes nothing.
#pragma once
#include <type_traits>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
/// v unchanged, but opaque to the optimiser: no expression is folded across this point.
/// T is a float, a double, or a SIMD register type (__m128, __m256, __m512, float32x4_t, …).
template <class T>
LOWBIT_FORCE_INLINE T opaque(T v) noexcept {
#if defined(__CUDA_ARCH__)
    // Device code uses __fmul_rn instead (see mul_unfused); nothing to do here.
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__)) && \
    defined(__SSE2__)
#if defined(__AVX512F__)
    asm("" : "+v"(v));  // any xmm/ymm/zmm register, EVEX ones included
#else
    asm("" : "+x"(v));  // any SSE/AVX register
#endif
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
    asm("" : "+w"(v));  // any SIMD/FP register
#elif defined(__GNUC__) || defined(__clang__)
    asm("" : "+m"(v));  // through memory: any type, any target
#else
    // Other compilers: -ffp-contract has no equivalent to defend against here.
#endif
    return v;
}
}  // namespace detail

/// a·b rounded to float on its own; never fused with a following addition or subtraction.
LOWBIT_HOST_DEVICE LOWBIT_FORCE_INLINE float mul_unfused(float a, float b) noexcept {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return detail::opaque(a * b);
#endif
}

/// a·b rounded to double on its own; never fused with a following addition or subtraction.
LOWBIT_HOST_DEVICE LOWBIT_FORCE_INLINE double mul_unfused(double a, double b) noexcept {
#if defined(__CUDA_ARCH__)
    return __dmul_rn(a, b);
#else
    return detail::opaque(a * b);
#endif
}

/// Lane-wise a·b of two SIMD batches (xsimd::batch<float|double, Arch>), rounded on its own.
template <class Batch, class = decltype(std::declval<const Batch&>().data)>
LOWBIT_FORCE_INLINE Batch mul_unfused(const Batch& a, const Batch& b) noexcept {
    return Batch(detail::opaque(static_cast<typename Batch::register_type>(a * b)));
}

LOWBIT_NAMESPACE_END
