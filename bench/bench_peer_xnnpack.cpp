// lowbit-bench — the XNNPACK peer: its f32 → qs8 and qs8 → f32 convert operators, one thread
// (no pthreadpool), on the same N(0, 1) data and the same per-tensor scale as int8_static
// (L = 4, s = 4/127, zero point 0, codes −127 … 127). Built only when CMake finds Debian's
// libxnnpack-dev and libpthreadpool-dev (LOWBIT_BENCH_XNNPACK).
#if defined(LOWBIT_BENCH_XNNPACK)
#include <benchmark/benchmark.h>
#include <xnnpack.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {
constexpr float scale = 4.0f / 127.0f;

bool xnn_ready() {
    static const bool ok = xnn_initialize(nullptr) == xnn_status_success;
    return ok;
}

/// RAII for an operator.
struct xnn_op {
    xnn_operator_t op = nullptr;
    ~xnn_op() {
        if (op) xnn_delete_operator(op);
    }
};

/// Converts x to int8 with XNNPACK (also the input of the qs8 → f32 benchmark).
bool f32_to_qs8(const std::vector<float>& x, lowbit::shape2d shape, std::vector<std::int8_t>& q,
                xnn_op& op) {
    const std::size_t c = shape.cols;
    if (xnn_create_convert_nc_f32_qs8(c, c, c, scale, 0, -127, 127, 0, &op.op) !=
        xnn_status_success)
        return false;
    q.resize(x.size());
    return xnn_setup_convert_nc_f32_qs8(op.op, shape.rows, x.data(), q.data(), nullptr) ==
        xnn_status_success;
}

void bench_f32_qs8(benchmark::State& state, std::size_t n) {
    if (!xnn_ready()) {
        state.SkipWithError("xnn_initialize failed");
        return;
    }
    const auto& x = lowbit_bench::gaussian(n);
    std::vector<std::int8_t> q;
    xnn_op op;
    if (!f32_to_qs8(x, lowbit_bench::shape_for(n), q, op)) {
        state.SkipWithError("XNNPACK f32->qs8 setup failed");
        return;
    }
    for (auto _ : state) {
        xnn_run_operator(op.op, nullptr);
        benchmark::ClobberMemory();
    }
    lowbit_bench::set_counters(state, n);
}

void bench_qs8_f32(benchmark::State& state, std::size_t n) {
    if (!xnn_ready()) {
        state.SkipWithError("xnn_initialize failed");
        return;
    }
    const auto& x = lowbit_bench::gaussian(n);
    const auto shape = lowbit_bench::shape_for(n);
    std::vector<std::int8_t> q;
    xnn_op to_q, op;
    if (!f32_to_qs8(x, shape, q, to_q) ||
        xnn_run_operator(to_q.op, nullptr) != xnn_status_success) {
        state.SkipWithError("XNNPACK f32->qs8 failed");
        return;
    }
    std::vector<float> y(n);
    const std::size_t c = shape.cols;
    if (xnn_create_convert_nc_qs8_f32(c, c, c, scale, 0, 0, &op.op) != xnn_status_success ||
        xnn_setup_convert_nc_qs8_f32(op.op, shape.rows, q.data(), y.data(), nullptr) !=
            xnn_status_success) {
        state.SkipWithError("XNNPACK qs8->f32 setup failed");
        return;
    }
    for (auto _ : state) {
        xnn_run_operator(op.op, nullptr);
        benchmark::ClobberMemory();
    }
    lowbit_bench::set_counters(state, n);
}

const bool registered = [] {
    for (std::size_t n : lowbit_bench::sizes) {
        benchmark::RegisterBenchmark(("peer/xnnpack_f32_qs8/" + std::to_string(n)).c_str(),
                                     bench_f32_qs8, n);
        benchmark::RegisterBenchmark(("peer/xnnpack_qs8_f32/" + std::to_string(n)).c_str(),
                                     bench_qs8_f32, n);
    }
    return true;
}();
}  // namespace
#endif
