// Host-compiled half of the floating-point CUDA tests: the CPU scalar reference behind
// fp_reference.hpp.
#include "fp_reference.hpp"

#include <cstring>
#include <type_traits>

#include "lowbit/quantizers/minifloat.hpp"
#include "lowbit/quantizers/log.hpp"
#include "lowbit/quantizers/mx.hpp"

namespace lowbit_cuda_test {
namespace {

template <int K>
using scale_of =
    std::conditional_t<K == 0, float, std::conditional_t<K == 1, Eigen::half, Eigen::bfloat16>>;

template <class T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& v) {
    std::vector<std::uint8_t> b(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}
template <class T>
std::vector<T> from_bytes(const std::vector<std::uint8_t>& b) {
    std::vector<T> v(b.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
    return v;
}

}  // namespace

template <class Format, int ScaleKind>
fp_ref cpu_minifloat_quantize(lowbit::granularity g, lowbit::rounding r, std::span<const float> x,
                              lowbit::shape2d shape) {
    const lowbit::minifloat_quantizer<Format, scale_of<ScaleKind>> q({.gran = g, .round = r});
    const auto t = q.quantize(x, shape, lowbit::backend::scalar);
    return {t.packed, bytes_of(t.scales), 0.0f};
}
template <class Format, int ScaleKind>
std::vector<float> cpu_minifloat_dequantize(lowbit::granularity g, lowbit::shape2d shape,
                                            const fp_ref& r) {
    using S = scale_of<ScaleKind>;
    const lowbit::minifloat_quantizer<Format, S> q({.gran = g});
    lowbit::minifloat_tensor<Format, S> t;
    t.shape = shape;
    t.gran = g;
    t.packed = r.packed;
    t.scales = from_bytes<S>(r.scales);
    return q.dequantize(t, lowbit::backend::scalar);
}

template <class Format, int ScaleKind>
std::vector<std::uint8_t> cpu_minifloat_encode_with(lowbit::granularity g, lowbit::rounding r,
                                                    std::span<const float> x, lowbit::shape2d shape,
                                                    const std::vector<std::uint8_t>& scales) {
    using S = scale_of<ScaleKind>;
    const lowbit::minifloat_quantizer<Format, S> q({.gran = g, .round = r});
    lowbit::minifloat_tensor<Format, S> t;
    q.prepare(x, shape, t);  // sizes the arrays (and computes absmax scales, replaced next)
    t.scales = from_bytes<S>(scales);  // the given scales
    q.encode(x, t, 0, x.size(), lowbit::backend::scalar);
    return t.packed;
}

template <class Elem>
fp_ref cpu_mx_quantize(lowbit::mx_scale_rounding rule, lowbit::rounding r, std::span<const float> x,
                       lowbit::shape2d shape) {
    const lowbit::mx_quantizer<Elem, 32> q({.scale_rounding = rule, .round = r});
    const auto t = q.quantize(x, shape, lowbit::backend::scalar);
    return {t.packed, t.scales, 0.0f};
}
template <class Elem>
std::vector<float> cpu_mx_dequantize(lowbit::shape2d shape, const fp_ref& r) {
    const lowbit::mx_quantizer<Elem, 32> q;
    lowbit::mx_tensor<Elem, 32> t;
    t.shape = shape;
    t.packed = r.packed;
    t.scales = r.scales;
    return q.dequantize(t, lowbit::backend::scalar);
}

fp_ref cpu_nvfp4_quantize(lowbit::rounding r, std::span<const float> x, lowbit::shape2d shape) {
    const lowbit::nvfp4_quantizer q({.round = r});
    const auto t = q.quantize(x, shape, lowbit::backend::scalar);
    return {t.packed, t.scales, t.global_scale};
}
fp_ref cpu_nvfp4_encode_with(lowbit::rounding r, std::span<const float> x, lowbit::shape2d shape,
                             float global) {
    const lowbit::nvfp4_quantizer q({.round = r});
    lowbit::nvfp4_tensor t;
    q.prepare(x, shape, t);
    t.global_scale = global;  // the given tensor scale
    q.encode(x, t, 0, x.size(), lowbit::backend::scalar);
    return {t.packed, t.scales, t.global_scale};
}
std::vector<float> cpu_nvfp4_dequantize(lowbit::shape2d shape, const fp_ref& r) {
    const lowbit::nvfp4_quantizer q;
    lowbit::nvfp4_tensor t;
    t.shape = shape;
    t.packed = r.packed;
    t.scales = r.scales;
    t.global_scale = r.global;
    return q.dequantize(t, lowbit::backend::scalar);
}

template <int B, int ScaleKind>
fp_ref cpu_log_quantize(std::size_t group, lowbit::log_rounding r, std::span<const float> x,
                        lowbit::shape2d shape) {
    const lowbit::log_quantizer<B, scale_of<ScaleKind>> q({.group = group, .round = r});
    const auto t = q.quantize(x, shape, lowbit::backend::scalar);
    return {t.packed, bytes_of(t.scales), 0.0f};
}
template <int B, int ScaleKind>
std::vector<float> cpu_log_dequantize(std::size_t group, lowbit::shape2d shape, const fp_ref& r) {
    using S = scale_of<ScaleKind>;
    const lowbit::log_quantizer<B, S> q({.group = group});
    lowbit::log_tensor<B, S> t;
    t.shape = shape;
    t.group = group;
    t.packed = r.packed;
    t.scales = from_bytes<S>(r.scales);
    return q.dequantize(t, lowbit::backend::scalar);
}
template fp_ref cpu_log_quantize<4, 1>(std::size_t, lowbit::log_rounding, std::span<const float>,
                                       lowbit::shape2d);
template std::vector<float> cpu_log_dequantize<4, 1>(std::size_t, lowbit::shape2d, const fp_ref&);
template fp_ref cpu_log_quantize<3, 1>(std::size_t, lowbit::log_rounding, std::span<const float>,
                                       lowbit::shape2d);
template std::vector<float> cpu_log_dequantize<3, 1>(std::size_t, lowbit::shape2d, const fp_ref&);
template fp_ref cpu_log_quantize<4, 0>(std::size_t, lowbit::log_rounding, std::span<const float>,
                                       lowbit::shape2d);
template std::vector<float> cpu_log_dequantize<4, 0>(std::size_t, lowbit::shape2d, const fp_ref&);

#define LOWBIT_MF(F, K)                                                                            \
    template fp_ref cpu_minifloat_quantize<lowbit::F, K>(lowbit::granularity, lowbit::rounding,    \
                                                         std::span<const float>, lowbit::shape2d); \
    template std::vector<float> cpu_minifloat_dequantize<lowbit::F, K>(                            \
        lowbit::granularity, lowbit::shape2d, const fp_ref&);                                      \
    template std::vector<std::uint8_t> cpu_minifloat_encode_with<lowbit::F, K>(                    \
        lowbit::granularity, lowbit::rounding, std::span<const float>, lowbit::shape2d,            \
        const std::vector<std::uint8_t>&);
LOWBIT_MF(e4m3fn, 0)
LOWBIT_MF(e4m3fn, 1)
LOWBIT_MF(e4m3fn, 2)
LOWBIT_MF(e5m2, 0)
LOWBIT_MF(e4m3fnuz, 0)
LOWBIT_MF(e5m2fnuz, 0)
LOWBIT_MF(e3m2, 0)
LOWBIT_MF(e2m3, 0)
LOWBIT_MF(e2m1, 0)
LOWBIT_MF(e2m1, 2)
#undef LOWBIT_MF

#define LOWBIT_MX(E)                                                                        \
    template fp_ref cpu_mx_quantize<lowbit::E>(lowbit::mx_scale_rounding, lowbit::rounding, \
                                               std::span<const float>, lowbit::shape2d);    \
    template std::vector<float> cpu_mx_dequantize<lowbit::E>(lowbit::shape2d, const fp_ref&);
LOWBIT_MX(e4m3fn)
LOWBIT_MX(e5m2)
LOWBIT_MX(e3m2)
LOWBIT_MX(e2m3)
LOWBIT_MX(e2m1)
LOWBIT_MX(mx_int8)
#undef LOWBIT_MX

}  // namespace lowbit_cuda_test
