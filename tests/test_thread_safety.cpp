// Concurrency: a quantizer's const methods may be called from many threads at once on one
// shared object (its tables are built at construction; the lazily built statics are
// function-local statics; the SIMD kernels' caches are thread_local), and distinct
// scheme_instance objects are independent. Every thread's result must equal the single-thread
// one bit for bit. Run this executable under -fsanitize=thread to see races the bits miss.
#include <doctest/doctest.h>

#include <lowbit/lowbit.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {

constexpr unsigned hammer_threads = 8;
constexpr int rounds = 4;

/// Inputs of different σ and seeds, so that per-tensor σ, scales and the per-thread caches
/// keyed by them differ from one call to the next.
struct inputs {
    shape2d shape{12, 384};
    std::vector<std::vector<float>> x;
    inputs() {
        for (std::uint32_t k = 0; k < 4; ++k)
            x.push_back(lowbit_test::gaussian(shape.size(), 100 + k, 0.5f + float(k)));
        x.push_back(lowbit_test::adversarial(shape.size(), 7));
    }
};

/// Runs `threads` threads of f(thread index) and joins them.
template <class F>
void run_threads(unsigned threads, F f) {
    std::vector<std::thread> pool;
    for (unsigned k = 0; k < threads; ++k) pool.emplace_back([&f, k] { f(k); });
    for (auto& t : pool) t.join();
}

/// One shared const quantizer, called from every thread through quantize, quantize_into (one
/// tensor per thread, reused), quantize_parallel (threads within threads) and dequantize, each
/// result compared with the one-thread result.
template <class Q>
void hammer(const Q& q, const char* name) {
    CAPTURE(name);
    static const inputs in;
    std::vector<std::vector<std::uint8_t>> want_codes;
    std::vector<std::vector<float>> want_values;
    for (const auto& x : in.x) {
        const auto t = q.quantize(x, in.shape);
        want_codes.push_back(t.packed);
        want_values.push_back(q.dequantize(t));
    }
    std::atomic<int> mismatches{0}, errors{0};
    run_threads(hammer_threads, [&](unsigned k) {
        try {
            typename Q::tensor_type reused;
            std::vector<float> y(in.shape.size());
            for (int r = 0; r < rounds; ++r) {
                for (std::size_t j = 0; j < in.x.size(); ++j) {
                    const std::size_t i =
                        (j + k) % in.x.size();  // threads start on different inputs
                    const auto& x = in.x[i];
                    typename Q::tensor_type t;
                    switch ((r + k) % 3) {
                        case 0: t = q.quantize(x, in.shape); break;
                        case 1:
                            q.quantize_into(x, in.shape, reused);
                            t = reused;
                            break;
                        default: t = quantize_parallel(q, x, in.shape, 2); break;
                    }
                    if (t.packed != want_codes[i]) ++mismatches;
                    q.dequantize(t, y);
                    if (!lowbit_test::same_bits(y, want_values[i])) ++mismatches;
                }
            }
        } catch (...) { ++errors; }
    });
    CHECK(mismatches == 0);
    CHECK(errors == 0);
}

}  // namespace

// First in this file (doctest runs a file's cases in order): the first calls of the function-
// local statics (the scheme list, BBQ thresholds, Gaussian-optimal steps) race each other.
TEST_CASE("first uses of the library's lazily built statics from many threads at once") {
    std::atomic<int> wrong{0};
    const auto x = lowbit_test::gaussian(4096, 1);
    std::vector<std::vector<float>> got(hammer_threads);
    run_threads(hammer_threads, [&](unsigned k) {
        if (all_schemes().size() < 30) ++wrong;
        if (bbq_format<3>::thresholds().size() != 7) ++wrong;
        auto t = int_quantizer<int_format<4>>({.rule = scale_rule::gaussian_optimal()})
                     .quantize(x, {1, x.size()});
        got[k] =
            int_quantizer<int_format<4>>({.rule = scale_rule::gaussian_optimal()}).dequantize(t);
    });
    CHECK(wrong == 0);
    for (const auto& g : got) CHECK(lowbit_test::same_bits(g, got[0]));
}

TEST_CASE("integer quantizers: one shared object, many threads, the one-thread bits") {
    hammer(int_quantizer<int_format<8>>(), "int8 per tensor");
    hammer(int_quantizer<int_format<4>>({.gran = granularity::channel(1)}), "int4 per column");
    hammer(int_quantizer<int_format<4>>(
               {.gran = granularity::channel(0), .rule = scale_rule::gaussian_optimal()}),
           "int4 per row, Gaussian-optimal");
    hammer(int_quantizer<uint_format<4>, Eigen::half>(
               {.gran = granularity::group(32), .rule = scale_rule::minmax()}),
           "uint4 g32 min/max");
    hammer(int_quantizer<int_format<8>>({.rule = scale_rule::mse_search()}), "int8 MSE search");
    hammer(int_quantizer<int_format<4, int_range::full>, Eigen::half>(
               {.gran = granularity::group(32), .round = {round_mode::stochastic, 99}}),
           "int4 g32 stochastic");
}

TEST_CASE("floating-point quantizers: one shared object, many threads, the one-thread bits") {
    hammer(minifloat_quantizer<e4m3fn>(), "e4m3fn");
    hammer(minifloat_quantizer<e2m1, Eigen::half>({.gran = granularity::group(32)}), "e2m1 g32");
    hammer(mx_quantizer<e4m3fn>(), "mxfp8");
    hammer(mx_quantizer<e2m1>(), "mxfp4");
    hammer(nvfp4_quantizer(), "nvfp4");
    hammer(log_quantizer<4>(), "log4");
}

TEST_CASE(
    "codebook, BBQ and QuEST quantizers: one shared object, many threads, the one-thread bits") {
    // The data holds NaN and ±Inf: BBQ and QuEST saturate them (their default is an error).
    constexpr auto sat = non_finite::saturate;
    hammer(codebook_quantizer<4>(), "nf4");
    hammer(codebook_quantizer<4>({.double_quant = true}), "nf4 double quant");
    hammer(codebook_quantizer<3>(), "nf3");
    hammer(bbq_quantizer<4>({.on_non_finite = sat}), "bbq4");
    hammer(bbq_quantizer<4>({.sigma_from = sigma_source::per_row, .on_non_finite = sat}),
           "bbq4 per row");
    hammer(
        bbq_quantizer<4>({.sigma_from = sigma_source::given, .sigma = 1.5f, .on_non_finite = sat}),
        "bbq4 given sigma");
    hammer(bbq_quantizer<3, bbq_codes::e2m1>({.on_non_finite = sat}), "bbq3 e2m1");
    hammer(quest_quantizer<4>({.sigma_from = sigma_source::per_row, .on_non_finite = sat}),
           "quest4 per row");
    hammer(bbq_quantizer<2>({.hadamard = 32, .zero = bbq_zero::half, .on_non_finite = sat}),
           "bbq2 H=32");
}

TEST_CASE("distinct scheme_instance objects are independent: one per thread, the one-thread bits") {
    const shape2d shape{16, 300};
    const auto x = lowbit_test::gaussian(shape.size(), 9);
    for (const auto& s : all_schemes()) {
        CAPTURE(s.name);
        auto ref = s.make();
        ref->quantize(x, shape);
        const auto want_codes = ref->codes();
        std::vector<float> want(x.size());
        ref->dequantize(want);
        std::atomic<int> mismatches{0};
        run_threads(4, [&](unsigned k) {
            auto inst = s.make();  // the shared factory is called concurrently too
            std::vector<float> y(x.size());
            for (int r = 0; r < 3; ++r) {
                if ((r + k) % 2)
                    inst->quantize(x, shape);
                else
                    inst->quantize_parallel(x, shape, 2);
                inst->dequantize(y);
                if (inst->codes() != want_codes || !lowbit_test::same_bits(y, want)) ++mismatches;
            }
        });
        CHECK(mismatches == 0);
    }
}
