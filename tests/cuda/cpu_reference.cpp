// Host-compiled half of the CUDA tests: the CPU scalar reference behind cpu_reference.hpp.
#include "cpu_reference.hpp"

#include <cstring>
#include <type_traits>

#include "formats.hpp"
#include "lowbit/quantizers/int.hpp"

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
template <class Format>
lowbit::int_options<Format> cpu_options(const ref_options& o) {
    return {.gran = o.gran, .rule = o.rule, .round = o.round, .form = o.form, .order = o.order};
}

}  // namespace

template <class Format, int ScaleKind>
ref_tensor cpu_quantize(const ref_options& o, std::span<const float> x, lowbit::shape2d shape) {
    const lowbit::int_quantizer<Format, scale_of<ScaleKind>> q(cpu_options<Format>(o));
    const auto t = q.quantize(x, shape, lowbit::backend::scalar);
    return {t.packed, bytes_of(t.scales), bytes_of(t.offsets), t.zero_points};
}

template <class Format, int ScaleKind>
std::vector<float> cpu_dequantize(const ref_options& o, lowbit::shape2d shape,
                                  const ref_tensor& r) {
    using S = scale_of<ScaleKind>;
    const lowbit::int_quantizer<Format, S> q(cpu_options<Format>(o));
    lowbit::int_tensor<Format, S> t;
    t.shape = shape;
    t.gran = o.gran;
    t.order = o.order;
    t.form = o.form;
    t.packed = r.packed;
    t.scales = from_bytes<S>(r.scales);
    t.offsets = from_bytes<S>(r.offsets);
    t.zero_points = r.zero_points;
    return q.dequantize(t, lowbit::backend::scalar);
}

// Explicit instantiations: every (format, scale kind) of formats.hpp's all_int_cases.
using lowbit::int_format;
using lowbit::int_range;
using lowbit::uint_format;
template ref_tensor cpu_quantize<int_format<2>, 0>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<2>, 0>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<int_format<3>, 0>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<3>, 0>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<int_format<4>, 0>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<4>, 0>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<int_format<5>, 0>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<5>, 0>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<int_format<6>, 0>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<6>, 0>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<int_format<7>, 0>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<7>, 0>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<int_format<8>, 0>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<8>, 0>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<int_format<1, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<1, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<2, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<2, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<3, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<3, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<4, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<4, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<5, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<5, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<6, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<6, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<7, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<7, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<8, int_range::full>, 0>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<8, int_range::full>, 0>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<1>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<1>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<2>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<2>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<3>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<3>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<4>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<4>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<5>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<5>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<6>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<6>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<7>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<7>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<8>, 0>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<8>, 0>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<4, int_range::full>, 1>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<4, int_range::full>, 1>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<3, int_range::full>, 1>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<3, int_range::full>, 1>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<2, int_range::full>, 1>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<2, int_range::full>, 1>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<8>, 1>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<8>, 1>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<4>, 1>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<4>, 1>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<4, int_range::full>, 2>(const ref_options&,
                                                                    std::span<const float>,
                                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<4, int_range::full>, 2>(const ref_options&,
                                                                              lowbit::shape2d,
                                                                              const ref_tensor&);
template ref_tensor cpu_quantize<int_format<8>, 2>(const ref_options&, std::span<const float>,
                                                   lowbit::shape2d);
template std::vector<float> cpu_dequantize<int_format<8>, 2>(const ref_options&, lowbit::shape2d,
                                                             const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<4>, 2>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<4>, 2>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);
template ref_tensor cpu_quantize<uint_format<6>, 2>(const ref_options&, std::span<const float>,
                                                    lowbit::shape2d);
template std::vector<float> cpu_dequantize<uint_format<6>, 2>(const ref_options&, lowbit::shape2d,
                                                              const ref_tensor&);

}  // namespace lowbit_cuda_test
