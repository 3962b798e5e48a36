// The ggml peer of the linear-layer benchmarks (bench_linear.cpp), compiled only when CMake is
// given a ggml build (LOWBIT_BENCH_GGML_DIR; see bench/README.md). Same shapes and weight
// distribution; bytes_per_second counts ggml's own weight bytes (ggml_row_size · rows, which for
// q4_0 / q8_0 equals int4_g32 / int8_g32 with fp16 scales), items_per_second the multiply-adds.
//   linear/peer_ggml/vec_dot/<type>/<R>x<C>    the activations quantized to the type's
//                                              vec_dot_type, then ggml's vec_dot per row
//   linear/peer_ggml/graph/<type>/<R>x<C>/t<T> ggml_mul_mat on the CPU backend with W in the
//                                              CPU_REPACK buffer where ggml repacks the type
//                                              (…/graph_plain/… where it does not), T threads
#if LOWBIT_BENCH_GGML
#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct shape_case {
    std::int64_t rows, cols;
};
constexpr shape_case shapes[] = {{4096, 4096}, {14336, 4096}};

using lowbit_bench::uniform;

std::size_t weight_bytes(ggml_type t, shape_case s) {
    return ggml_row_size(t, s.cols) * std::size_t(s.rows);
}

std::vector<std::uint8_t> quantized(ggml_type t, shape_case s) {
    const auto w = uniform(std::size_t(s.rows * s.cols), 1, 0.05f);
    std::vector<std::uint8_t> q(weight_bytes(t, s));
    if (ggml_quantize_chunk(t, w.data(), q.data(), 0, s.rows, s.cols, nullptr) != q.size())
        throw std::runtime_error("ggml_quantize_chunk: unexpected size");
    return q;
}

void counters(benchmark::State& st, ggml_type t, shape_case s) {
    st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(weight_bytes(t, s)));
    st.SetItemsProcessed(std::int64_t(st.iterations()) * s.rows * s.cols);
}

void vec_dot(benchmark::State& st, ggml_type t, shape_case s) {
    const auto w = quantized(t, s);
    const auto x = uniform(std::size_t(s.cols), 2, 1.0f);
    const auto* tr = ggml_get_type_traits_cpu(t);
    const auto* xtr = ggml_get_type_traits_cpu(tr->vec_dot_type);
    std::vector<std::uint8_t> xq(ggml_row_size(tr->vec_dot_type, s.cols));
    std::vector<float> y(std::size_t(s.rows));
    const std::size_t rs = ggml_row_size(t, s.cols);
    for (auto _ : st) {
        xtr->from_float(x.data(), xq.data(), s.cols);
        for (std::int64_t r = 0; r < s.rows; ++r)
            tr->vec_dot(int(s.cols), &y[std::size_t(r)], 0, w.data() + rs * std::size_t(r), 0,
                        xq.data(), 0, 1);
        benchmark::DoNotOptimize(y.data());
    }
    counters(st, t, s);
}

ggml_backend_buffer_type_t repack_buffer_type() {
    ggml_backend_reg_t reg = ggml_backend_cpu_reg();
    auto get = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts"));
    if (!get) return nullptr;
    for (auto* b = get(ggml_backend_reg_dev_get(reg, 0)); b && *b; ++b)
        if (std::strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0) return *b;
    return nullptr;
}

/// A mul_mat graph with W uploaded (and repacked where ggml does) once.
struct graph_case {
    ggml_backend_t backend = nullptr;
    ggml_context *ctx_w = nullptr, *ctx = nullptr;
    ggml_backend_buffer_t buf_w = nullptr, buf = nullptr;
    ggml_tensor *w = nullptr, *y = nullptr;
    ggml_cgraph* graph = nullptr;
    bool repacked = false;
    std::map<int, ggml_threadpool*> pools;

    graph_case(ggml_type t, shape_case s) {
        backend = ggml_backend_cpu_init();
        const ggml_init_params ip = {ggml_tensor_overhead() * 8 + ggml_graph_overhead(), nullptr,
                                     true};
        if (auto* rb = repack_buffer_type()) {
            ctx_w = ggml_init(ip);
            w = ggml_new_tensor_2d(ctx_w, t, s.cols, s.rows);
            buf_w = ggml_backend_alloc_ctx_tensors_from_buft(ctx_w, rb);
            repacked = buf_w && w->extra != nullptr;  // ggml chose a repacked layout
            if (!repacked) {
                if (buf_w) ggml_backend_buffer_free(buf_w);
                ggml_free(ctx_w);
            }
        }
        if (!repacked) {
            ctx_w = ggml_init(ip);
            w = ggml_new_tensor_2d(ctx_w, t, s.cols, s.rows);
            buf_w = ggml_backend_alloc_ctx_tensors_from_buft(ctx_w, ggml_backend_cpu_buffer_type());
        }
        const auto q = quantized(t, s);
        ggml_backend_tensor_set(w, q.data(), 0, q.size());
        ctx = ggml_init(ip);
        ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, s.cols, 1);
        y = ggml_mul_mat(ctx, w, x);
        graph = ggml_new_graph(ctx);
        ggml_build_forward_expand(graph, y);
        buf = ggml_backend_alloc_ctx_tensors(ctx, backend);
        const auto xv = uniform(std::size_t(s.cols), 2, 1.0f);
        ggml_backend_tensor_set(x, xv.data(), 0, xv.size() * sizeof(float));
    }
    /// A persistent thread pool per thread count, as llama.cpp keeps.
    void threads(int n) {
        ggml_backend_cpu_set_n_threads(backend, n);
        auto& tp = pools[n];
        if (!tp) {
            ggml_threadpool_params p = ggml_threadpool_params_default(n);
            tp = ggml_threadpool_new(&p);
        }
        ggml_backend_cpu_set_threadpool(backend, tp);
    }
    void compute() {
        if (ggml_backend_graph_compute(backend, graph) != GGML_STATUS_SUCCESS)
            throw std::runtime_error("ggml_backend_graph_compute failed");
    }
};

graph_case& graph_for(ggml_type t, shape_case s) {
    static std::map<std::pair<int, std::int64_t>, std::unique_ptr<graph_case>> cache;
    auto& g = cache[{int(t), s.rows}];
    if (!g) g = std::make_unique<graph_case>(t, s);
    return *g;
}

void graph(benchmark::State& st, ggml_type t, shape_case s, int threads) {
    auto& g = graph_for(t, s);
    g.threads(threads);
    g.compute();
    for (auto _ : st) {
        g.compute();
        benchmark::ClobberMemory();
    }
    counters(st, t, s);
}

void quiet(ggml_log_level level, const char* text, void*) {
    if (level >= GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
}

const int registered = [] {
    ggml_log_set(quiet, nullptr);
    ggml_cpu_init();
    for (ggml_type t : {GGML_TYPE_Q4_0, GGML_TYPE_Q8_0, GGML_TYPE_MXFP4})
        for (shape_case s : shapes) {
            const std::string type = ggml_type_name(t),
                              d = std::to_string(s.rows) + "x" + std::to_string(s.cols);
            benchmark::RegisterBenchmark(("linear/peer_ggml/vec_dot/" + type + "/" + d).c_str(),
                                         [t, s](benchmark::State& st) { vec_dot(st, t, s); });
            const bool rp = graph_for(t, s).repacked;
            for (int n : {1, 2})
                benchmark::RegisterBenchmark(
                    ("linear/peer_ggml/" + std::string(rp ? "graph/" : "graph_plain/") + type +
                     "/" + d + "/t" + std::to_string(n))
                        .c_str(),
                    [t, s, n](benchmark::State& st) { graph(st, t, s, n); })
                    ->UseRealTime();
        }
    return 0;
}();

}  // namespace
#endif
