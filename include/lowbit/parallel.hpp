// lowbit — splitting a quantize or dequantize over threads.
//
// A quantizer that offers prepare() / encode(begin, end) / decode(begin, end) is split into
// ranges whose ends are multiples of chunk_elements (byte boundaries of the packed stream for
// every code width). Every element is computed by the same operations whatever the split, and
// stochastic rounding draws by global element index, so the result is bit-identical to the
// single-thread run for any thread count. An exception thrown in any thread reaches the caller
// once every range has finished (the output is then unspecified); no range outlives a call.
//
// The ranges run on the calling thread and on workers the process keeps (detail::worker_pool):
// a split call costs a wake-up, not a thread creation, which matters for the microsecond-scale
// calls of a linear layer. A call made while the pool serves another (a second user thread, or a
// range that itself splits) starts threads of its own for that call instead.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
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

/// Worker threads kept for the life of the process. run(count, task) calls task(k) once for
/// every k in [0, count): the caller and the workers claim indices from one atomic word until
/// none is left, so the work completes whatever number of workers could be started (none
/// included), and run returns once every claimed task has returned.
///
/// The claim word packs the run's generation (32 bits), its task count (16) and the next index
/// (16); a worker claims with a compare-exchange against the whole word, so a worker late from
/// an earlier run can never claim a task of the next one, and the task pointer it reads was
/// published (release) before the generation it claimed under. Idle workers spin for a short
/// while (back-to-back calls, as a model's layers make, find them awake), then sleep on a
/// condition variable. The pool is never destroyed (workers are detached and may be blocked
/// when the process exits), so a split call is valid during static destruction too.
class worker_pool {
public:
    static constexpr unsigned max_tasks = 0xFFFF;

    static worker_pool& instance() {
        static worker_pool* const pool = new worker_pool;  // immortal, see the class comment
        return *pool;
    }

    /// Runs task(k) for k in [0, count) (count <= max_tasks) and returns true, or returns false
    /// at once, running nothing, when the pool is serving another call.
    template <class Task>
    bool try_run(unsigned count, Task& task) {
        if (count == 0) return true;
        if (busy_.exchange(true, std::memory_order_acquire)) return false;
        grow(count - 1);
        call_ = [](void* ctx, unsigned k) { (*static_cast<Task*>(ctx))(k); };
        ctx_ = &task;
        done_.store(0, std::memory_order_relaxed);
        const std::uint64_t gen = (state_.load(std::memory_order_relaxed) >> 32) + 1;
        state_.store(gen << 32 | std::uint64_t{count} << 16, std::memory_order_seq_cst);
        // Store and load are sequentially consistent, as are a sleeping worker's increment of
        // sleepers_ and its test of state_: either this load sees the worker, which is then
        // notified under the mutex, or the worker's test sees the new generation.
        if (sleepers_.load(std::memory_order_seq_cst) != 0) {
            { std::lock_guard<std::mutex> lock(m_); }
            cv_.notify_all();
        }
        claim_all(static_cast<std::uint32_t>(gen));
        for (unsigned spins = 0; done_.load(std::memory_order_acquire) != count; ++spins)
            if (spins > 64) std::this_thread::yield();
        busy_.store(false, std::memory_order_release);
        return true;
    }

private:
    worker_pool() = default;

    /// Starts workers until `want` exist (fewer when the system refuses threads).
    void grow(unsigned want) {
        const std::uint64_t seen = state_.load(std::memory_order_relaxed) >> 32;
        while (workers_ < want) {
            try {
                std::thread([this, seen] { work(seen); }).detach();
            } catch (...) {
                return;  // the calling thread claims the tasks no worker takes
            }
            ++workers_;
        }
    }

    /// Claims and runs tasks of generation gen until none is left.
    void claim_all(std::uint32_t gen) noexcept {
        std::uint64_t s = state_.load(std::memory_order_acquire);
        for (;;) {
            const unsigned count = (s >> 16) & 0xFFFF, next = s & 0xFFFF;
            if ((s >> 32) != gen || next >= count) return;
            if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                              std::memory_order_acquire))
                continue;
            call_(ctx_, next);
            done_.fetch_add(1, std::memory_order_release);
            s = state_.load(std::memory_order_acquire);
        }
    }

    [[noreturn]] void work(std::uint64_t seen) noexcept {
        using clock = std::chrono::steady_clock;
        for (;;) {
            std::uint64_t gen = state_.load(std::memory_order_acquire) >> 32;
            const auto until = clock::now() + std::chrono::microseconds(200);
            for (unsigned spins = 0; gen == seen; ++spins) {
                if (spins % 64 == 63 && clock::now() > until) break;
                gen = state_.load(std::memory_order_acquire) >> 32;
            }
            if (gen == seen) {
                std::unique_lock<std::mutex> lock(m_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                cv_.wait(lock,
                         [&] { return (state_.load(std::memory_order_seq_cst) >> 32) != seen; });
                sleepers_.fetch_sub(1, std::memory_order_relaxed);
                gen = state_.load(std::memory_order_acquire) >> 32;
            }
            seen = gen;
            claim_all(static_cast<std::uint32_t>(gen));
        }
    }

    std::atomic<bool> busy_{false};            ///< a run is in progress
    std::atomic<std::uint64_t> state_{0};      ///< generation : count : next index
    std::atomic<unsigned> done_{0};            ///< tasks of the current run that have returned
    std::atomic<unsigned> sleepers_{0};        ///< workers waiting on cv_
    void (*call_)(void*, unsigned) = nullptr;  ///< the current run's task, set before state_
    void* ctx_ = nullptr;
    unsigned workers_ = 0;  ///< started; changed by the caller holding busy_ only
    std::mutex m_;
    std::condition_variable cv_;
};

/// split_run on the process's worker pool (std::threads of the call's own when the pool is busy).
template <class F>
void split_run(std::size_t n, unsigned threads, F&& f) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, worker_pool::max_tasks);
    const std::size_t chunks = (n + chunk_elements - 1) / chunk_elements;
    const unsigned parts =
        static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(chunks, 1)));
    if (parts <= 1) {
        f(std::size_t{0}, n);
        return;
    }
    std::atomic<bool> claimed{false};
    std::exception_ptr first;
    auto task = [&](unsigned k) noexcept {
        const std::size_t a = chunks * k / parts * chunk_elements,
                          b = chunks * (k + 1) / parts * chunk_elements;
        try {
            f(std::min(a, n), std::min(b, n));
        } catch (...) {
            if (!claimed.exchange(true)) first = std::current_exception();
        }
    };
    if (worker_pool::instance().try_run(parts, task)) {
        // try_run's acquire of every task's completion orders `first`'s write before this read.
        if (first) std::rethrow_exception(first);
        return;
    }
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
