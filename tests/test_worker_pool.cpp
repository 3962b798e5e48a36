// detail::split_run on the process's worker pool: every range runs exactly once whatever the
// thread count, back-to-back calls reuse the same workers, calls made while the pool is busy
// (other user threads, a range that splits again) complete on threads of their own, and an
// exception in any range reaches the caller and leaves the pool usable.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <lowbit/parallel.hpp>

using namespace lowbit;

namespace {

/// split_run over n elements with `threads`; true when every element was visited exactly once.
bool covers_once(std::size_t n, unsigned threads) {
    std::vector<std::atomic<int>> hits(n);
    detail::split_run(n, threads, [&](std::size_t a, std::size_t b) {
        for (std::size_t i = a; i < b; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
    });
    for (auto& h : hits)
        if (h.load() != 1) return false;
    return true;
}

}  // namespace

TEST_CASE("worker pool: every range once, any thread count, many calls in a row") {
    const std::size_t n = 40 * chunk_elements + 7;
    for (int call = 0; call < 200; ++call) {
        const unsigned threads = 1 + unsigned(call % 9);
        REQUIRE(covers_once(n, threads));
    }
    CHECK(covers_once(0, 4));
    CHECK(covers_once(1, 4));
    CHECK(covers_once(3 * chunk_elements, 64));  // more threads than ranges
}

TEST_CASE("worker pool: ranges run on the pool's workers, the same ones from call to call") {
    const auto caller = std::this_thread::get_id();
    std::set<std::thread::id> first, later;
    std::mutex m;
    auto record = [&](std::set<std::thread::id>& ids) {
        detail::split_run(4 * chunk_elements, 4, [&](std::size_t, std::size_t) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            std::lock_guard<std::mutex> lock(m);
            if (std::this_thread::get_id() != caller) ids.insert(std::this_thread::get_id());
        });
    };
    record(first);
    REQUIRE_FALSE(first.empty());  // 4 ranges of 20 ms: a worker takes one
    bool reused = false;
    for (int call = 0; call < 20 && !reused; ++call) {
        later.clear();
        record(later);
        for (auto id : later) reused = reused || first.count(id) != 0;
    }
    CHECK(reused);
}

TEST_CASE("worker pool: concurrent callers and nested splits complete") {
    std::atomic<int> failures{0};
    std::vector<std::thread> users;
    for (int u = 0; u < 4; ++u)
        users.emplace_back([&, u] {
            for (int call = 0; call < 50; ++call)
                if (!covers_once(9 * chunk_elements + std::size_t(u), 2 + unsigned(u)))
                    failures.fetch_add(1);
        });
    for (auto& t : users) t.join();
    CHECK(failures.load() == 0);

    // A range that itself splits: the inner call finds the pool busy and uses its own threads.
    const std::size_t outer = 4 * chunk_elements, inner = 5 * chunk_elements;
    std::vector<std::atomic<int>> hits(outer / chunk_elements * inner);
    detail::split_run(outer, 4, [&](std::size_t a, std::size_t b) {
        for (std::size_t o = a / chunk_elements; o < b / chunk_elements; ++o)
            detail::split_run(inner, 3, [&](std::size_t c, std::size_t d) {
                for (std::size_t i = c; i < d; ++i) hits[o * inner + i].fetch_add(1);
            });
    });
    int bad = 0;
    for (auto& h : hits) bad += h.load() != 1;
    CHECK(bad == 0);
}

TEST_CASE("worker pool: an exception in any range reaches the caller; the pool stays usable") {
    const std::size_t n = 6 * chunk_elements;
    for (std::size_t bad = 0; bad < 6; ++bad) {
        CHECK_THROWS_AS(detail::split_run(n, 6,
                                          [&](std::size_t a, std::size_t) {
                                              if (a / chunk_elements == bad)
                                                  throw std::runtime_error("range refused");
                                          }),
                        std::runtime_error);
        CHECK(covers_once(n, 6));
    }
}
