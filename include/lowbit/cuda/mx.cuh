// lowbit — the floating-point family on the GPU, part 2: OCP MX (and generic BFP) with E8M0
// block scales, and NVFP4 (quantizers/mx.hpp's semantics, bit for bit with backend::scalar).
//
//   lowbit::cuda::mx_quantizer<lowbit::e2m1> mxfp4;               // OCP MXFP4: block 32, E8M0
//   scale lowbit::cuda::device_fp_tensor<std::uint8_t> t; mxfp4.quantize(x, {rows, cols}, t,
//   stream); mxfp4.dequantize(t.view(), y, stream); lowbit::cuda::nvfp4_quantizer nv; // E2M1,
//   E4M3FN per 16, FP32 per tensor
//
// Blocks run along a row; a row whose length is not a multiple of the block ends in a short block.
// Per block (formats/bfp.hpp): amax = largest finite |x|, E = mx_scale_exponent(amax, rule),
// stored E8M0 code E + 127, codes = encode(x · 2^−E) saturating, x̂ = decode(code) · 2^E.
// NVFP4: g = amax_tensor / 2688 (stored as the tensor's FP32 scale), s_b = e4m3fn(amax_b / 6 / g),
// d_b = decode(s_b) · g, codes = e2m1(x · (1 / d_b)), x̂ = decode(code) · d_b.
// The launch sequences are minifloat.cuh's engine: blocks of 16 or 32 dividing the row length take
// the fused kernel (one read); NVFP4 first reduces the tensor's amax (a second read).
#pragma once
#include "minifloat.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {
namespace detail::fp {

/// MX scale policy: the E8M0 code of mx_scale_exponent; 2^−E and 2^E are exact.
template <class Elem>
struct e8m0_policy {
    using stored = std::uint8_t;
    static constexpr bool bounds_top_levels = true;
    __device__ static stored make_with(float amax, mx_scale_rounding r) {
        return static_cast<std::uint8_t>(mx_scale_exponent<Elem>(amax, r) + 127);
    }
    __device__ static float inverse(stored s, const float*) {
        return lowbit::detail::pow2f(127 - static_cast<int>(s));
    }
    __device__ static float value(stored s, const float*) { return e8m0::decode(s); }
};

/// The rule travels as a template parameter so that every policy has the same static interface.
template <class Elem, mx_scale_rounding Rule>
struct mx_policy : e8m0_policy<Elem> {
    __device__ static std::uint8_t make(float amax, const float*) {
        return e8m0_policy<Elem>::make_with(amax, Rule);
    }
};

/// NVFP4 block scale policy: E4M3FN code in units of the tensor scale g (*global).
struct nvfp4_policy {
    using stored = std::uint8_t;
    __device__ static stored make(float amax, const float* global) {
        const float g = *global;
        if (!(g > 0.0f)) return 0;
        return e4m3fn::encode(__fdiv_rn(__fdiv_rn(amax, 6.0f), g));
    }
    __device__ static float value(stored s, const float* global) {
        return __fmul_rn(e4m3fn::decode(s), *global);
    }
    __device__ static float inverse(stored s, const float* global) {
        return safe_inverse(value(s, global));
    }
};

/// g = amax / (448 · 6), in float32 (one thread).
template <class = void>
__global__ void nvfp4_global_kernel(const std::uint32_t* key, float* global) {
    *global = __fdiv_rn(__uint_as_float(*key), nvfp4::global_divisor);
}

struct nvfp4_global {
    static constexpr bool needed = true;
    void operator()(const std::uint32_t* key, float* global, cudaStream_t stream) const {
        nvfp4_global_kernel<><<<1, 1, 0, stream>>>(key, global);
    }
};

}  // namespace detail::fp

/// OCP MX / generic BFP on the GPU; bit-identical to lowbit::mx_quantizer<Elem, Block>.
template <class Elem, std::size_t Block = 32>
class mx_quantizer {
public:
    static_assert(Elem::bits <= 8, "lowbit: MX element codes are at most 8 bits");
    static_assert(Block >= 1, "lowbit: an MX block holds at least one element");
    using element = Elem;
    using tensor_type = device_fp_tensor<std::uint8_t>;
    static constexpr int bits = Elem::bits;

    struct options {
        mx_scale_rounding scale_rounding = mx_scale_rounding::ocp_floor;
        rounding round = {};  ///< element rounding (nearest-even by default)
    };

    mx_quantizer() : mx_quantizer(options{}) {}
    explicit mx_quantizer(options o) : opt_(o) {}
    [[nodiscard]] const options& opts() const noexcept { return opt_; }
    /// The kernels quantize() launches for this shape (fused_groups when Block divides the rows).
    [[nodiscard]] static fp_quantize_path quantize_path(shape2d shape) noexcept {
        return detail::fp::engine<
            Elem, detail::fp::mx_policy<Elem, mx_scale_rounding::ocp_floor>>::path(shape, gran());
    }

    /// Quantizes x (device, row-major `shape`) into t, sizing its buffers.
    template <device_element In>
    void quantize(const In* x, shape2d shape, tensor_type& t, cudaStream_t stream = 0) {
        detail::fp::size_tensor(t, shape, bits, gran().scale_count(shape), false);
        quantize(x, shape, t.view(), stream);
    }
    /// Quantizes into a view whose arrays are already large enough.
    template <device_element In>
    void quantize(const In* x, shape2d shape, fp_tensor_view<std::uint8_t> t,
                  cudaStream_t stream = 0) {
        lowbit::detail::require(x != nullptr || shape.size() == 0, "x", "must be a device pointer");
        t.shape = shape;
        switch (opt_.scale_rounding) {
            case mx_scale_rounding::ocp_floor:
                return run<mx_scale_rounding::ocp_floor>(x, shape, t, stream);
            case mx_scale_rounding::nearest_even:
                return run<mx_scale_rounding::nearest_even>(x, shape, t, stream);
            case mx_scale_rounding::round_up:
                return run<mx_scale_rounding::round_up>(x, shape, t, stream);
            case mx_scale_rounding::ml_dtypes:
                return run<mx_scale_rounding::ml_dtypes>(x, shape, t, stream);
            case mx_scale_rounding::log2f:
                return run<mx_scale_rounding::log2f>(x, shape, t, stream);
        }
    }
    /// Dequantizes t into y (device, t.shape.size() elements).
    template <device_element Out>
    void dequantize(fp_tensor_view<std::uint8_t> t, Out* y, cudaStream_t stream = 0) const {
        lowbit::detail::require(y != nullptr || t.shape.size() == 0, "y",
                                "must be a device pointer");
        detail::fp::engine<
            Elem, detail::fp::mx_policy<Elem, mx_scale_rounding::ocp_floor>>::dequantize(t, gran(),
                                                                                         y, stream);
    }

private:
    static granularity gran() { return granularity::group(Block); }
    template <mx_scale_rounding Rule, class In>
    void run(const In* x, shape2d shape, fp_tensor_view<std::uint8_t> t, cudaStream_t stream) {
        detail::fp::engine<Elem, detail::fp::mx_policy<Elem, Rule>>::quantize(
            x, shape, gran(), opt_.round, t, nullptr, detail::fp::no_global{}, stream);
    }
    options opt_;
};

/// NVFP4 on the GPU; bit-identical to lowbit::nvfp4_quantizer (t.global_scale holds g).
class nvfp4_quantizer {
public:
    using tensor_type = device_fp_tensor<std::uint8_t>;
    static constexpr int bits = 4;
    static constexpr std::size_t block = nvfp4::block;

    struct options {
        rounding round = {};  ///< element rounding (nearest-even by default)
    };

    nvfp4_quantizer() : nvfp4_quantizer(options{}) {}
    explicit nvfp4_quantizer(options o) : opt_(o), key_(1) {}
    /// The kernels quantize() and quantize_with_global_scale() launch for this shape after the
    /// tensor scale (fused_groups when 16 divides the rows).
    [[nodiscard]] static fp_quantize_path quantize_path(shape2d shape) noexcept {
        return engine::path(shape, gran());
    }

    template <device_element In>
    void quantize(const In* x, shape2d shape, tensor_type& t, cudaStream_t stream = 0) {
        detail::fp::size_tensor(t, shape, bits, gran().scale_count(shape), true);
        quantize(x, shape, t.view(), stream);
    }
    template <device_element In>
    void quantize(const In* x, shape2d shape, fp_tensor_view<std::uint8_t> t,
                  cudaStream_t stream = 0) {
        lowbit::detail::require(x != nullptr || shape.size() == 0, "x", "must be a device pointer");
        lowbit::detail::require(t.global_scale != nullptr || shape.size() == 0, "t.global_scale",
                                "must point to one device float");
        t.shape = shape;
        engine::quantize(x, shape, gran(), opt_.round, t, key_.data(), detail::fp::nvfp4_global{},
                         stream);
    }
    /// Quantizes x with the tensor scale already in *t.global_scale (e.g. from calibration: the
    /// common inference case); the block scales are computed as usual. One read of x, no tensor
    /// amax pass. Equals the CPU's nvfp4_quantizer::encode with that global_scale.
    template <device_element In>
    void quantize_with_global_scale(const In* x, shape2d shape, fp_tensor_view<std::uint8_t> t,
                                    cudaStream_t stream = 0) const {
        lowbit::detail::require(x != nullptr || shape.size() == 0, "x", "must be a device pointer");
        lowbit::detail::require(t.global_scale != nullptr || shape.size() == 0, "t.global_scale",
                                "must hold the tensor scale (device)");
        t.shape = shape;
        engine::quantize(x, shape, gran(), opt_.round, t, nullptr, detail::fp::no_global{}, stream);
    }
    template <device_element Out>
    void dequantize(fp_tensor_view<std::uint8_t> t, Out* y, cudaStream_t stream = 0) const {
        lowbit::detail::require(y != nullptr || t.shape.size() == 0, "y",
                                "must be a device pointer");
        engine::dequantize(t, gran(), y, stream);
    }

private:
    using engine = detail::fp::engine<e2m1, detail::fp::nvfp4_policy>;
    static granularity gran() { return granularity::group(block); }
    options opt_;
    device_buffer<std::uint32_t> key_;
};

}  // namespace cuda
LOWBIT_NAMESPACE_END
