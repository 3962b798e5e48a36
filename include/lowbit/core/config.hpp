// lowbit — configuration and feature-detection macros. The only place macros live.
#pragma once

// C++20 is required (concepts, std::span, std::bit_cast, designated initialisers). Every public
// header includes this file before any of its own declarations, so an older standard stops
// here with one diagnostic. #error would not stop GCC or Clang: they go on and add hundreds of
// errors from the declarations that follow. A missing include is fatal in both, so the
// include's name carries the message. MSVC reports the standard in _MSVC_LANG, and its #error
// is fatal. Anything newer than C++17 passes: early -std=c++2a modes report 2017xx values.
#if defined(_MSVC_LANG) && !defined(__clang__)
#if _MSVC_LANG <= 201703L
#error "lowbit needs C++20: compile with /std:c++20 or later"
#endif
#elif __cplusplus <= 201703L
#include "lowbit needs C++20: compile with -std=c++20 or later"
#endif

#define LOWBIT_VERSION_MAJOR 0
#define LOWBIT_VERSION_MINOR 1
#define LOWBIT_VERSION_PATCH 0

/// Marks functions usable from host and CUDA device code alike.
#if defined(__CUDACC__)
#define LOWBIT_HOST_DEVICE __host__ __device__
#else
#define LOWBIT_HOST_DEVICE
#endif

/// Inline ABI namespace: lowbit::v1 is spelled lowbit:: by users.
#define LOWBIT_NAMESPACE_BEGIN \
    namespace lowbit {         \
    inline namespace v1 {
#define LOWBIT_NAMESPACE_END \
    }                        \
    }

/// Forces a hot SIMD helper inline (GCC, Clang): in a large translation unit the compiler may
/// otherwise keep it out of line, and the arrays of batches it takes then live in memory.
#if defined(__GNUC__) || defined(__clang__)
#define LOWBIT_FORCE_INLINE [[gnu::always_inline]] inline
#else
#define LOWBIT_FORCE_INLINE inline
#endif
/// The same for a lambda, written between its parameter list and its body.
#if defined(__GNUC__) || defined(__clang__)
#define LOWBIT_LAMBDA_INLINE __attribute__((always_inline))
#else
#define LOWBIT_LAMBDA_INLINE
#endif

/// GCC's AVX-512BW header, when not optimising (-O0), defines _mm512_mask_blend_epi8/16 as
/// macros that cast their arguments straight to GCC vector types, which fails for xsimd's batch
/// classes (xsimd's integer select names them). Redefined here with the cast through __m512i that
/// the inline functions of optimised builds make implicitly. Takes effect when a lowbit header is
/// included before <xsimd/xsimd.hpp>.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__) && defined(__AVX512BW__)
#include <immintrin.h>
#undef _mm512_mask_blend_epi8
#undef _mm512_mask_blend_epi16
#define _mm512_mask_blend_epi8(U, A, W)                                                     \
    ((__m512i)__builtin_ia32_blendmb_512_mask((__v64qi)(__m512i)(A), (__v64qi)(__m512i)(W), \
                                              (__mmask64)(U)))
#define _mm512_mask_blend_epi16(U, A, W)                                                    \
    ((__m512i)__builtin_ia32_blendmw_512_mask((__v32hi)(__m512i)(A), (__v32hi)(__m512i)(W), \
                                              (__mmask32)(U)))
#endif
