// lowbit — splitting a quantize or dequantize over threads.
//
// A quantizer that offers prepare() / encode(begin, end) / decode(begin, end) is split into
// ranges whose ends are multiples of chunk_elements (byte boundaries of the packed stream for
// every code width). Every element is computed by the same operations whatever the split, and
// stochastic rounding draws by global element index, so the result is bit-identical to the
// single-thread run for any thread count. An exception thrown in any thread reaches the caller
// once every thread has finished (the output is then unspecified); no thread outlives a call.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "core/backend.hpp"
#include "core/error.hpp"
#include "core/granularity.hpp"
#include "quantizers/facade.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Quantizers whose work can be split into element ranges.
template <class Q>
concept splittable_quantizer = requires(const Q q, std::span<const float> x, std::span<float> y,
                                        shape2d s, typename Q::tensor_type t) {
    { q.prepare(x, s) } -> std::same_as<typename Q::tensor_type>;
    q.encode(x, t, std::size_t{}, std::size_t{}, backend::simd);
    q.decode(t, y, std::size_t{}, std::size_t{}, backend::simd);
};

namespace detail {
/// Runs f(begin, end) over `threads` ranges of [0, n) cut at multiples of chunk_elements, the
/// first range on the calling thread, the others on threads made by spawn(callable) (a
/// std::thread). Every started thread is joined before split_run returns or throws:
/// - an exception from f in any range is rethrown on the caller (the first one caught when
///   several ranges throw; the other ranges still run to their end, so the output is partly
///   written and unspecified);
/// - a range whose thread cannot be started (spawn throws, e.g. std::system_error when the
///   system has no threads left) runs on the calling thread instead: ranges are independent,
///   so the result is the same.
template <class F, class Spawn>
void split_run(std::size_t n, unsigned threads, F&& f, Spawn&& spawn) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t chunks = (n + chunk_elements - 1) / chunk_elements;
    threads =
        static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(chunks, 1)));
    if (threads <= 1) {
        f(std::size_t{0}, n);
        return;
    }
    auto range = [&](unsigned k) {
        const std::size_t a = chunks * k / threads * chunk_elements,
                          b = chunks * (k + 1) / threads * chunk_elements;
        return std::pair{std::min(a, n), std::min(b, n)};
    };
    // The first range to fail claims `first`; the joins below order its write before the read.
    std::atomic<bool> claimed{false};
    std::exception_ptr first;
    auto guarded = [&](std::size_t a, std::size_t b) noexcept {
        try {
            f(a, b);
        } catch (...) {
            if (!claimed.exchange(true)) first = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    unsigned started = 1;  // ranges 1 … started - 1 have a thread
    try {
        pool.reserve(threads - 1);
        for (; started < threads; ++started) {
            auto [a, b] = range(started);
            pool.push_back(spawn([&guarded, lo = a, hi = b] {
                guarded(lo, hi);
            }));  // clang < 16 cannot capture bindings
        }
    } catch (...) {
        // No thread for ranges started … threads - 1: the loop below runs them here.
    }
    for (unsigned k = started; k <= threads; ++k) {
        auto [a, b] = range(k == threads ? 0 : k);  // range 0 last: the workers start first
        guarded(a, b);
    }
    for (auto& t : pool) t.join();
    if (first) std::rethrow_exception(first);
}

/// split_run on std::threads.
template <class F>
void split_run(std::size_t n, unsigned threads, F&& f) {
    split_run(n, threads, f, [](auto&& fn) { return std::thread(std::forward<decltype(fn)>(fn)); });
}

/// Runs f(first, last) over `threads` ranges of the items [0, items) (0 threads: one per hardware
/// thread), as split_run does for elements: split_run over items · chunk_elements elements cuts
/// at multiples of chunk_elements, which are whole items.
template <class F>
void split_items(std::size_t items, unsigned threads, F&& f) {
    split_run(items * chunk_elements, threads,
              [&](std::size_t a, std::size_t b) { f(a / chunk_elements, b / chunk_elements); });
}
}  // namespace detail

/// Quantizes x over `threads` threads (0: one per hardware thread). Bit-identical to q.quantize.
template <splittable_quantizer Q>
[[nodiscard]] typename Q::tensor_type quantize_parallel(const Q& q, std::span<const float> x,
                                                        shape2d shape, unsigned threads = 0,
                                                        backend b = backend::simd) {
    typename Q::tensor_type t;
    detail::prepare_into(q, x, shape, t, b, threads);
    detail::split_run(x.size(), threads,
                      [&](std::size_t a, std::size_t e) { q.encode(x, t, a, e, b); });
    return t;
}

/// Quantizes x into t over `threads` threads, reusing t's buffers when the quantizer can
/// prepare in place (no allocation in steady state). Bit-identical to q.quantize_into.
template <splittable_quantizer Q>
void quantize_parallel_into(const Q& q, std::span<const float> x, shape2d shape,
                            typename Q::tensor_type& t, unsigned threads = 0,
                            backend b = backend::simd) {
    detail::prepare_into(q, x, shape, t, b, threads);
    detail::split_run(x.size(), threads,
                      [&](std::size_t a, std::size_t e) { q.encode(x, t, a, e, b); });
}

/// Dequantizes t into out over `threads` threads. Bit-identical to q.dequantize. t.validate()
/// runs first, on the calling thread.
template <splittable_quantizer Q>
void dequantize_parallel(const Q& q, const typename Q::tensor_type& t, std::span<float> out,
                         unsigned threads = 0, backend b = backend::simd) {
    if constexpr (requires { t.validate(); }) t.validate();
    detail::require(out.size() == t.size(), "out", "must hold t.size() values");
    detail::split_run(t.size(), threads,
                      [&](std::size_t a, std::size_t e) { q.decode(t, out, a, e, b); });
}

LOWBIT_NAMESPACE_END
