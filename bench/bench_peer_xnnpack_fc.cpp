// lowbit-bench — XNNPACK's fully-connected operator as the peer of the linear layers
// (bench_linear.cpp), one thread (no pthreadpool), same shapes and batches:
//   linear/peer_xnnpack_f32/<R>x<C>/b<B>   fp32 weights and activations
//   linear/peer_xnnpack_qs8/<R>x<C>/b<B>   int8 weights (per-tensor scale), int8 activations and
//                                          outputs (the integer variant of Debian's build)
// bytes_per_second counts the weight bytes one product reads (4 or 1 per weight), as
// bench_linear does; items_per_second the multiply-adds. Built only with LOWBIT_BENCH_XNNPACK.
#if defined(LOWBIT_BENCH_XNNPACK)
#include <benchmark/benchmark.h>
#include <xnnpack.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

bool xnn_ready() {
    static const bool ok = xnn_initialize(nullptr) == xnn_status_success;
    return ok;
}

struct fc_op {
    xnn_operator_t op = nullptr;
    ~fc_op() {
        if (op) xnn_delete_operator(op);
    }
};

void counters(benchmark::State& st, std::size_t bytes, std::size_t macs) {
    st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(bytes));
    st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(macs));
}

void fc_f32(benchmark::State& st, std::size_t rows, std::size_t cols, std::size_t batch) {
    if (!xnn_ready()) {
        st.SkipWithError("xnn_initialize failed");
        return;
    }
    const auto w = lowbit_bench::uniform(rows * cols, 1, 0.05f);
    const auto x = lowbit_bench::uniform(batch * cols, 2, 1.0f);
    std::vector<float> y(batch * rows);
    fc_op fc;
    const float inf = std::numeric_limits<float>::infinity();
    // The kernel is [output_channels][input_channels]: W as lowbit stores it.
    if (xnn_create_fully_connected_nc_f32(cols, rows, cols, rows, w.data(), nullptr, -inf, inf, 0,
                                          &fc.op) != xnn_status_success ||
        xnn_setup_fully_connected_nc_f32(fc.op, batch, x.data(), y.data(), nullptr) !=
            xnn_status_success) {
        st.SkipWithError("XNNPACK fully_connected f32 setup failed");
        return;
    }
    for (auto _ : st) {
        xnn_run_operator(fc.op, nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, rows * cols * sizeof(float), batch * rows * cols);
}

void fc_qs8(benchmark::State& st, std::size_t rows, std::size_t cols, std::size_t batch) {
    if (!xnn_ready()) {
        st.SkipWithError("xnn_initialize failed");
        return;
    }
    const auto wf = lowbit_bench::uniform(rows * cols, 1, 0.05f);
    const auto xf = lowbit_bench::uniform(batch * cols, 2, 1.0f);
    const float sw = 0.05f / 127.0f, sx = 1.0f / 127.0f;
    std::vector<std::int8_t> w(wf.size()), x(xf.size()), y(batch * rows);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::int8_t(std::lrint(wf[i] / sw));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::int8_t(std::lrint(xf[i] / sx));
    // Output scale: about the spread of a row's dot of uniform values, so outputs rarely clip.
    const float sy = sw * sx * 127.0f * 127.0f * std::sqrt(float(cols)) / 64.0f;
    fc_op fc;
    if (xnn_create_fully_connected_nc_qs8(cols, rows, cols, rows, 0, sx, sw, w.data(), nullptr, 0,
                                          sy, -127, 127, 0, &fc.op) != xnn_status_success ||
        xnn_setup_fully_connected_nc_qs8(fc.op, batch, x.data(), y.data(), nullptr) !=
            xnn_status_success) {
        st.SkipWithError("XNNPACK fully_connected qs8 setup failed");
        return;
    }
    for (auto _ : st) {
        xnn_run_operator(fc.op, nullptr);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, rows * cols, batch * rows * cols);
}

const int registered = [] {
    const std::size_t shapes[][2] = {{4096, 4096}, {14336, 4096}};
    for (const auto& s : shapes) {
        const std::string d = std::to_string(s[0]) + "x" + std::to_string(s[1]);
        for (std::size_t b : {std::size_t{1}, std::size_t{8}, std::size_t{64}, std::size_t{512}}) {
            const std::size_t r = s[0], c = s[1];
            benchmark::RegisterBenchmark(
                ("linear/peer_xnnpack_f32/" + d + "/b" + std::to_string(b)).c_str(),
                [r, c, b](benchmark::State& st) { fc_f32(st, r, c, b); });
            benchmark::RegisterBenchmark(
                ("linear/peer_xnnpack_qs8/" + d + "/b" + std::to_string(b)).c_str(),
                [r, c, b](benchmark::State& st) { fc_qs8(st, r, c, b); });
        }
    }
    return 0;
}();

}  // namespace
#endif
