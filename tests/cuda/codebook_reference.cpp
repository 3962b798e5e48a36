// Host-compiled half of the codebook CUDA tests: the CPU scalar reference behind
// codebook_reference.hpp.
#include "codebook_reference.hpp"

#include "lowbit/quantizers/codebook.hpp"

namespace lowbit_cuda_test {
namespace {

template <int Bits>
lowbit::codebook_quantizer<Bits> make(const codebook_setup& s) {
    return lowbit::codebook_quantizer<Bits>(
        lowbit::codebook<Bits>::from_levels(s.levels),
        {.group_size = s.group, .double_quant = s.double_quant, .order = s.order});
}
template <std::size_t N>
std::vector<float> to_vector(const std::array<float, N>& a) {
    return {a.begin(), a.end()};
}

}  // namespace

template <int Bits>
std::vector<float> nf_levels() {
    return to_vector(lowbit::normal_float_codebook<Bits>().levels);
}
template <int Bits>
std::vector<float> fitted_levels(std::span<const float> sample) {
    return to_vector(lowbit::fit_codebook<Bits>(sample).levels);
}

template <int Bits>
codebook_ref cpu_codebook_quantize(const codebook_setup& s, std::span<const float> x,
                                   lowbit::shape2d shape) {
    const auto q = make<Bits>(s);
    const auto t = q.quantize(x, shape, lowbit::backend::scalar);
    return {t.packed, t.scales, t.qscales, t.dq_steps, t.dq_mean};
}
template <int Bits>
std::vector<float> cpu_codebook_dequantize(const codebook_setup& s, lowbit::shape2d shape,
                                           const codebook_ref& r) {
    const auto q = make<Bits>(s);
    lowbit::codebook_tensor<Bits> t;
    t.shape = shape;
    t.group_size = s.group;
    t.order = s.order;
    t.cb = q.book();
    t.packed = r.packed;
    t.double_quant = s.double_quant;
    t.scales = r.scales;
    t.qscales = r.qscales;
    t.dq_steps = r.dq_steps;
    t.dq_mean = r.dq_mean;
    return q.dequantize(t, lowbit::backend::scalar);
}

#define LOWBIT_CB(B)                                                                               \
    template std::vector<float> nf_levels<B>();                                                    \
    template std::vector<float> fitted_levels<B>(std::span<const float>);                          \
    template codebook_ref cpu_codebook_quantize<B>(const codebook_setup&, std::span<const float>,  \
                                                   lowbit::shape2d);                               \
    template std::vector<float> cpu_codebook_dequantize<B>(const codebook_setup&, lowbit::shape2d, \
                                                           const codebook_ref&);
LOWBIT_CB(2)
LOWBIT_CB(3)
LOWBIT_CB(4)
#undef LOWBIT_CB

}  // namespace lowbit_cuda_test
