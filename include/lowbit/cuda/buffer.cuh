// lowbit — an owning device allocation (cudaMalloc / cudaFree) for tests, benchmarks and users
// who want RAII around the device pointers the launchers take.
#pragma once
#include <cstddef>
#include <utility>

#include "error.cuh"

LOWBIT_NAMESPACE_BEGIN
namespace cuda {

/// `size()` elements of T in device memory; move-only; freed on destruction.
template <class T>
class device_buffer {
public:
    device_buffer() = default;
    explicit device_buffer(std::size_t n) { resize(n); }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
    device_buffer(device_buffer&& o) noexcept
        : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
    device_buffer& operator=(device_buffer&& o) noexcept {
        if (this != &o) {
            release();
            p_ = std::exchange(o.p_, nullptr);
            n_ = std::exchange(o.n_, 0);
        }
        return *this;
    }
    ~device_buffer() { release(); }

    /// Reallocates to exactly n elements (contents are not kept).
    void resize(std::size_t n) {
        if (n == n_) return;
        release();
        if (n) check(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)), "cudaMalloc");
        n_ = n;
    }
    /// Grows to at least n elements (contents are not kept); never shrinks.
    void reserve(std::size_t n) {
        if (n > n_) resize(n);
    }
    [[nodiscard]] T* data() noexcept { return p_; }
    [[nodiscard]] const T* data() const noexcept { return p_; }
    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return n_ * sizeof(T); }

private:
    void release() noexcept {
        if (p_) cudaFree(p_);
        p_ = nullptr;
        n_ = 0;
    }
    T* p_ = nullptr;
    std::size_t n_ = 0;
};

}  // namespace cuda
LOWBIT_NAMESPACE_END
