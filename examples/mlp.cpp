// A two-layer MLP on quantized weights: the MLP of PP-OCRv4's SVTR neck (../shared/data/
// ppocrv4_rec: linear_79, 120 → 240, Swish, linear_80, 240 → 120, each with its bias), run with
// lowbit::ops::gemm on the codes of its weights for a batch of tokens, against the fp32 layer.
//
//   lowbit_mlp [DATA_DIR]      (default: ../shared/data/ppocrv4_rec beside the source tree)
//
// Prints, per weight scheme, the relative error of the MLP's output against the fp32 MLP
// computed in double and the time of one batch; exits 77 (a skipped test) when the weights are
// absent. The tokens are N(0, 1), the scale of the normalised activations an MLP block reads.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <lowbit/io/npy.hpp>
#include <lowbit/ops/linear.hpp>
#include <lowbit/quantizers/int.hpp>

namespace {

using namespace lowbit;

/// A linear layer's weight as [out, in] row-major (the file holds MatMul's [in, out]) and bias.
struct layer {
    std::size_t in = 0, out = 0;
    std::vector<float> w, b;
};

layer read_layer(const std::filesystem::path& dir, const std::string& name) {
    const npy_array w = read_npy(dir / (name + ".w_0.npy")),
                    b = read_npy(dir / (name + ".b_0.npy"));
    if (w.shape.size() != 2 || b.data.size() != w.shape[1])
        throw error(name, "expected a [in, out] weight and an [out] bias");
    layer l{w.shape[0], w.shape[1], std::vector<float>(w.data.size()), b.data};
    for (std::size_t i = 0; i < l.in; ++i)
        for (std::size_t o = 0; o < l.out; ++o) l.w[o * l.in + i] = w.data[i * l.out + o];
    return l;
}

double swish(double v) { return v / (1.0 + std::exp(-v)); }

/// The fp32 MLP in double: the reference every scheme is measured against.
std::vector<double> fp32_mlp(const layer& l1, const layer& l2, const std::vector<float>& x,
                             std::size_t batch) {
    std::vector<double> y(batch * l2.out);
    std::vector<double> h(l1.out);
    for (std::size_t t = 0; t < batch; ++t) {
        for (std::size_t o = 0; o < l1.out; ++o) {
            double s = l1.b[o];
            for (std::size_t i = 0; i < l1.in; ++i)
                s += double(l1.w[o * l1.in + i]) * x[t * l1.in + i];
            h[o] = swish(s);
        }
        for (std::size_t o = 0; o < l2.out; ++o) {
            double s = l2.b[o];
            for (std::size_t i = 0; i < l2.in; ++i) s += double(l2.w[o * l2.in + i]) * h[i];
            y[t * l2.out + o] = s;
        }
    }
    return y;
}

/// The MLP with both weights quantized by `q`: gemm on the codes, then bias and Swish in float.
template <class Q>
void run_scheme(const char* name, const Q& q, const layer& l1, const layer& l2,
                const std::vector<float>& x, std::size_t batch, const std::vector<double>& want) {
    const auto w1 = q.quantize(l1.w, {l1.out, l1.in});
    const auto w2 = q.quantize(l2.w, {l2.out, l2.in});
    std::vector<float> h(batch * l1.out), y(batch * l2.out);
    auto forward = [&] {
        ops::gemm(w1, x, batch, h);
        for (std::size_t t = 0; t < batch; ++t)
            for (std::size_t o = 0; o < l1.out; ++o) {
                const float v = h[t * l1.out + o] + l1.b[o];
                h[t * l1.out + o] = v / (1.0f + std::exp(-v));
            }
        ops::gemm(w2, h, batch, y);
        for (std::size_t t = 0; t < batch; ++t)
            for (std::size_t o = 0; o < l2.out; ++o) y[t * l2.out + o] += l2.b[o];
    };
    double best = 1e30;
    for (int k = 0; k < 20; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        forward();
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    double e = 0, r = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        e += (y[i] - want[i]) * (y[i] - want[i]);
        r += want[i] * want[i];
    }
    const double bits =
        (w1.bits_per_value() * double(w1.size()) + w2.bits_per_value() * double(w2.size())) /
        double(w1.size() + w2.size());
    std::printf("%-22s %8.3f %18.5f %12.1f  (%s)\n", name, bits, std::sqrt(e / r), best * 1e6,
                ops::linear_kernel_for(w1) == ops::linear_kernel::scalar ? "reference loop"
                                                                         : "SIMD integer dot");
}

template <class F>
int_quantizer<F, Eigen::half> quantizer(granularity g,
                                        affine form = F::is_signed ? affine::none
                                                                   : affine::offset) {
    int_options<F> o;
    o.gran = g;
    o.form = form;
    return int_quantizer<F, Eigen::half>(o);
}

}  // namespace

int main(int argc, char** argv) {
    const std::filesystem::path dir = argc > 1
        ? std::filesystem::path(argv[1])
        : std::filesystem::path(LOWBIT_SHARED_DATA_DIR) / "ppocrv4_rec";
    if (!std::filesystem::exists(dir / "linear_79.w_0.npy")) {
        std::printf("skipped: %s holds no linear_79.w_0.npy\n", dir.string().c_str());
        return 77;
    }
    try {
        const layer l1 = read_layer(dir, "linear_79"), l2 = read_layer(dir, "linear_80");
        if (l2.in != l1.out)
            throw error("linear_80", "its input does not match linear_79's output");
        const std::size_t batch = 64;
        std::vector<float> x(batch * l1.in);
        std::mt19937 rng(7);
        std::normal_distribution<float> g;
        for (auto& v : x) v = g(rng);
        const auto want = fp32_mlp(l1, l2, x, batch);
        std::printf("MLP %zu -> %zu -> %zu (Swish), %zu tokens; error relative to the fp32 MLP\n",
                    l1.in, l1.out, l2.out, batch);
        std::printf("%-22s %8s %18s %12s\n", "weights", "bits/w", "relative error", "µs/batch");
        using I8 = int_format<8>;
        using I4 = int_format<4, int_range::full>;
        run_scheme("int8 per row", quantizer<I8>(granularity::channel(0)), l1, l2, x, batch, want);
        run_scheme("int8 g32", quantizer<I8>(granularity::group(32)), l1, l2, x, batch, want);
        run_scheme("int4 g32 (Q4_0-like)", quantizer<I4>(granularity::group(32)), l1, l2, x, batch,
                   want);
        run_scheme("uint4 g32 min (Q4_1)", quantizer<uint_format<4>>(granularity::group(32)), l1,
                   l2, x, batch, want);
        run_scheme("uint4 g32 zero point",
                   quantizer<uint_format<4>>(granularity::group(32), affine::zero_point), l1, l2, x,
                   batch, want);
        run_scheme("int4 per row", quantizer<int_format<4>>(granularity::channel(0)), l1, l2, x,
                   batch, want);
        run_scheme("int3 g32", quantizer<int_format<3, int_range::full>>(granularity::group(32)),
                   l1, l2, x, batch, want);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lowbit_mlp: %s\n", e.what());
        return 1;
    }
    return 0;
}
