// Host-compiled half of the BBQ / QuEST CUDA tests: the CPU scalar reference behind
// bbq_cpu_reference.hpp.
#include "bbq_cpu_reference.hpp"

#include "lowbit/quantizers/bbq.hpp"

namespace lowbit_cuda_test {
namespace {

lowbit::bbq_options cpu_options(const bbq_ref_options& o) {
    lowbit::bbq_options c;
    c.hadamard = o.hadamard;
    c.sigma_from = o.sigma_from == 0 ? lowbit::sigma_source::per_tensor
        : o.sigma_from == 1          ? lowbit::sigma_source::per_row
                                     : lowbit::sigma_source::given;
    c.sigma = o.sigma;
    c.gamma = o.gamma;
    c.zero = o.zero;
    c.to_input = o.to_input;
    c.order = o.order;
    c.on_non_finite = o.saturate ? lowbit::non_finite::saturate : lowbit::non_finite::error;
    return c;
}

}  // namespace

template <int Bits, bool Quest, lowbit::bbq_codes Codes>
bbq_ref_tensor cpu_bbq_quantize(const bbq_ref_options& o, std::span<const float> x,
                                lowbit::shape2d shape) {
    const lowbit::rotated_quantizer<Bits, Quest, Codes> q(cpu_options(o));
    const auto t = q.quantize(x, shape, lowbit::backend::scalar);
    return {t.packed, t.sigmas, t.scales};
}

template <int Bits, bool Quest, lowbit::bbq_codes Codes>
std::vector<float> cpu_bbq_dequantize(const bbq_ref_options& o, lowbit::shape2d shape,
                                      const bbq_ref_tensor& t) {
    using Q = lowbit::rotated_quantizer<Bits, Quest, Codes>;
    const Q q(cpu_options(o));
    typename Q::tensor_type ct;
    ct.shape = shape;
    ct.opt = q.opts();
    ct.packed = t.packed;
    ct.sigmas = t.sigmas;
    ct.scales = t.scales;
    for (unsigned c = 0; c < (1u << Bits); ++c) {
        const float lv = q.level(static_cast<std::uint8_t>(c));
        ct.level_of_code[lowbit::bbq_emit<Bits>(static_cast<std::uint8_t>(c), lv, Codes)] = lv;
    }
    std::vector<float> y(shape.size());
    q.dequantize(ct, y, lowbit::backend::scalar);
    return y;
}

#define LOWBIT_BBQ_REF(B, Q, C)                                                                 \
    template bbq_ref_tensor cpu_bbq_quantize<B, Q, C>(const bbq_ref_options&,                   \
                                                      std::span<const float>, lowbit::shape2d); \
    template std::vector<float> cpu_bbq_dequantize<B, Q, C>(                                    \
        const bbq_ref_options&, lowbit::shape2d, const bbq_ref_tensor&);
LOWBIT_BBQ_REF(1, false, lowbit::bbq_codes::int_b)
LOWBIT_BBQ_REF(2, false, lowbit::bbq_codes::int_b)
LOWBIT_BBQ_REF(3, false, lowbit::bbq_codes::int_b)
LOWBIT_BBQ_REF(4, false, lowbit::bbq_codes::int_b)
LOWBIT_BBQ_REF(4, false, lowbit::bbq_codes::index)
LOWBIT_BBQ_REF(3, false, lowbit::bbq_codes::e2m1)
LOWBIT_BBQ_REF(2, true, lowbit::bbq_codes::int_b)
LOWBIT_BBQ_REF(3, true, lowbit::bbq_codes::int_b)
LOWBIT_BBQ_REF(4, true, lowbit::bbq_codes::int_b)
#undef LOWBIT_BBQ_REF

}  // namespace lowbit_cuda_test
