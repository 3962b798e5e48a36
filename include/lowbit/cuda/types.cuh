// lowbit — the element and scale types of the CUDA backend, and their exact conversions.
//
// Tensor elements (inputs of quantize, outputs of dequantize): float, __half, __nv_bfloat16.
// Widening to float is exact; narrowing from float rounds to nearest-even, as the CPU's
// Eigen::half / Eigen::bfloat16 conversions do, so a CPU float result cast on the host equals
// the device result bit for bit.
//
// Stored scales: float, __half, __nv_bfloat16 — the same bits as the CPU's float, Eigen::half
// and Eigen::bfloat16 (IEEE binary16; the top 16 bits of a binary32), so a scale array can be
// copied byte for byte between an int_tensor<…, Eigen::half> and a device view of __half.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../core/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// The element types the kernels read and write.
template <class T>
concept device_element =
    std::is_same_v<T, float> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

/// The scale storage types on the device (bit twins of the CPU's float, Eigen::half,
/// Eigen::bfloat16).
template <class T>
concept device_scale = device_element<T>;

namespace detail {

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
__device__ __forceinline__ T from_float(float x) {
    if constexpr (std::is_same_v<T, float>)
        return x;
    else if constexpr (std::is_same_v<T, __half>)
        return __float2half_rn(x);
    else
        return __float2bfloat16_rn(x);
}

/// Largest finite value of a scale storage type (Eigen::NumTraits<T>::highest() on the CPU).
template <class T>
__device__ __forceinline__ float scale_highest() {
    if constexpr (std::is_same_v<T, __half>)
        return 65504.0f;
    else if constexpr (std::is_same_v<T, __nv_bfloat16>)
        return 3.38953138925153547590470800371487866880e38f;  // 0x7f7f
    else
        return 3.4028234663852886e38f;
}

/// Device twin of lowbit::store_scale: round to the storage type, finite overflow saturates.
template <class T>
__device__ __forceinline__ T store_scale(float s) {
    if constexpr (!std::is_same_v<T, float>) {
        const float hi = scale_highest<T>();
        if (isfinite(s) && fabsf(s) > hi) s = copysignf(hi, s);
    }
    return from_float<T>(s);
}
template <class T>
__device__ __forceinline__ float load_scale(T s) {
    return to_float(s);
}

/// Loads 8 consecutive elements p[0 … 8) as floats; `vec` allows one or two 16-byte loads
/// (the caller checked 16-byte alignment of p).
template <class T>
__device__ __forceinline__ void load8(const T* p, float (&v)[8], bool vec) {
    if (vec) {
        if constexpr (std::is_same_v<T, float>) {
            const float4 a = __ldg(reinterpret_cast<const float4*>(p)),
                         b = __ldg(reinterpret_cast<const float4*>(p) + 1);
            v[0] = a.x;
            v[1] = a.y;
            v[2] = a.z;
            v[3] = a.w;
            v[4] = b.x;
            v[5] = b.y;
            v[6] = b.z;
            v[7] = b.w;
        } else {
            const uint4 a = __ldg(reinterpret_cast<const uint4*>(p));
            const unsigned w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                T lo, hi;
                const unsigned short l = static_cast<unsigned short>(w[k] & 0xffffu),
                                     h = static_cast<unsigned short>(w[k] >> 16);
                memcpy(&lo, &l, 2);
                memcpy(&hi, &h, 2);
                v[2 * k] = to_float(lo);
                v[2 * k + 1] = to_float(hi);
            }
        }
        return;
    }
#pragma unroll
    for (int k = 0; k < 8; ++k) v[k] = to_float(p[k]);
}

/// Stores 8 floats to p[0 … 8) as T; `vec` allows 16-byte stores (p 16-byte aligned).
template <class T>
__device__ __forceinline__ void store8(T* p, const float (&v)[8], bool vec) {
    if (vec) {
        if constexpr (std::is_same_v<T, float>) {
            reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
            reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
            unsigned w[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const T lo = from_float<T>(v[2 * k]), hi = from_float<T>(v[2 * k + 1]);
                unsigned short l, h;
                memcpy(&l, &lo, 2);
                memcpy(&h, &hi, 2);
                w[k] = unsigned(l) | (unsigned(h) << 16);
            }
            *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
        }
        return;
    }
#pragma unroll
    for (int k = 0; k < 8; ++k) p[k] = from_float<T>(v[k]);
}

/// Whether a pointer allows the 16-byte paths of load8/store8.
inline bool aligned16(const void* p) noexcept {
    return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0;
}

}  // namespace detail
}  // namespace cuda
LOWBIT_NAMESPACE_END
