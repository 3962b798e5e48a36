// Uses the installed headers end to end: a registry scheme, the Eigen interop, the npy reader.
#include <lowbit/eigen.hpp>
#include <lowbit/io/npy.hpp>
#include <lowbit/lowbit.hpp>

#include <cstdio>

int main() {
    const Eigen::MatrixXf w = Eigen::MatrixXf::Random(64, 96);
    lowbit::int_quantizer<lowbit::int_format<8>> q({.gran = lowbit::granularity::channel(1)});
    const Eigen::MatrixXf back = lowbit::eigen::dequantize(q, lowbit::eigen::quantize(q, w));
    const float err = (back - w).cwiseAbs().maxCoeff();
    auto s = lowbit::find_scheme("int4_g32").make();
    lowbit::eigen::quantize(*s, w);
    std::printf(
        "lowbit %d.%d.%d consumer: %zu schemes, int8 per-column max error %g, int4_g32 %.2f "
        "bits/value\n",
        LOWBIT_VERSION_MAJOR, LOWBIT_VERSION_MINOR, LOWBIT_VERSION_PATCH,
        lowbit::all_schemes().size(), err, s->bits_per_value());
    return err <= 1.0f / 127.0f ? 0 : 1;
}
