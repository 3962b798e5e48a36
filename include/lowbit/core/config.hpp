// lowbit — configuration and feature-detection macros. The only place macros live.
#pragma once

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
#define LOWBIT_NAMESPACE_BEGIN namespace lowbit { inline namespace v1 {
#define LOWBIT_NAMESPACE_END } }

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
