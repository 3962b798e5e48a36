// lowbit — the floating-point family on the GPU, part 3: the logarithmic quantizer
// (quantizers/log.hpp's semantics, bit for bit with backend::scalar).
//
//   lowbit::cuda::log_quantizer<4> q;               // group 32, __half scale s = group absmax
//   lowbit::cuda::device_fp_tensor<__half> t;
//   q.quantize(x, {rows, cols}, t, stream);
//   q.dequantize(t.view(), y, stream);
//
// Codes (formats/log.hpp): [ s | k ], value ±s·2^(k − top) or ±0; encode(x · (1/s)) with the
// chosen log_rounding, decode by exponent arithmetic (decode_scaled). s = store_scale(group amax);
// an all-zero group has s = 0, inverse 0, codes +0. Runs on minifloat.cuh's engine (fused
// per-group kernel when the group divides the row and G/8 is a power of two ≤ 32).
#pragma once
#include "../formats/log.hpp"
#include "minifloat.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {
namespace detail::fp {

/// log2_format<B> as an engine element: encode of x · inv, decode_scaled.
template <int B, log_rounding R>
struct log_element {
    static constexpr int bits = B;
    using code_type = std::uint8_t;
    __device__ static std::uint8_t encode_scaled(float x, float inv) {
        return log2_format<B>::encode(__fmul_rn(x, inv), R);
    }
    __device__ static float decode_value(std::uint8_t c, float s) {
        return log2_format<B>::decode_scaled(c, s);
    }
};

/// s = store_scale(amax): the window of powers ends at the group's largest value.
template <class ScaleT>
struct log_policy {
    using stored = ScaleT;
    __device__ static stored make(float amax, const float*) { return store_scale<ScaleT>(amax); }
    __device__ static float inverse(stored s, const float*) { return safe_inverse(load_scale(s)); }
    __device__ static float value(stored s, const float*) { return load_scale(s); }
};

}  // namespace detail::fp

/// The logarithmic quantizer on the GPU; bit-identical to lowbit::log_quantizer<B, T> where
/// ScaleT is T's device twin (__half for the CPU's default Eigen::half).
template <int B, device_scale ScaleT = __half>
class log_quantizer {
public:
    using format = log2_format<B>;
    using tensor_type = device_fp_tensor<ScaleT>;
    static constexpr int bits = B;

    struct options {
        std::size_t group = 32;  ///< elements per scale, within a row
        log_rounding round = log_rounding::linear;
    };

    log_quantizer() : log_quantizer(options{}) {}
    explicit log_quantizer(options o) : opt_(o) {
        lowbit::detail::require(opt_.group > 0, "options.group", "must be > 0");
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }
    /// The kernels quantize() launches for this shape (fused_groups when the group divides the rows
    /// and group / 8 is a power of two ≤ 32).
    [[nodiscard]] fp_quantize_path quantize_path(shape2d shape) const noexcept {
        return engine<log_rounding::linear>::path(shape, gran());
    }

    template <device_element In>
    void quantize(const In* x, shape2d shape, tensor_type& t, cudaStream_t stream = 0) {
        detail::fp::size_tensor(t, shape, bits, gran().scale_count(shape), false);
        quantize(x, shape, t.view(), stream);
    }
    template <device_element In>
    void quantize(const In* x, shape2d shape, fp_tensor_view<ScaleT> t, cudaStream_t stream = 0) {
        lowbit::detail::require(x != nullptr || shape.size() == 0, "x", "must be a device pointer");
        t.shape = shape;
        if (opt_.round == log_rounding::linear)
            engine<log_rounding::linear>::quantize(x, shape, gran(), {}, t, nullptr,
                                                   detail::fp::no_global{}, stream);
        else
            engine<log_rounding::log>::quantize(x, shape, gran(), {}, t, nullptr,
                                                detail::fp::no_global{}, stream);
    }
    template <device_element Out>
    void dequantize(fp_tensor_view<ScaleT> t, Out* y, cudaStream_t stream = 0) const {
        lowbit::detail::require(y != nullptr || t.shape.size() == 0, "y",
                                "must be a device pointer");
        engine<log_rounding::linear>::dequantize(
            t, gran(), y, stream);  // decoding does not depend on the rounding
    }

private:
    template <log_rounding R>
    using engine =
        detail::fp::engine<detail::fp::log_element<B, R>, detail::fp::log_policy<ScaleT>>;
    granularity gran() const { return granularity::group(opt_.group); }
    options opt_;
};

}  // namespace cuda
LOWBIT_NAMESPACE_END
