// lowbit — the convenience API every quantizer shares, written once.
//
// A quantizer class provides the working parts:
//   prepare(x, shape, t [, backend])      size t and compute the scales that need a pass of their
//   own encode(x, t, begin, end, backend)     codes of elements [begin, end) decode(t, out, begin,
//   end, backend)   values of elements [begin, end)
// and its tensor type a `void validate() const` that throws lowbit::error naming the first
// inconsistent field; every dequantize and decode calls it before reading the tensor.
// and derives from quantizer_facade<itself> for the rest: quantize (new tensor or into one,
// reusing its buffers), prepare returning a new tensor, dequantize (into a span or a new
// vector). A class may still define its own quantize_into when it does more than prepare +
// encode. (The derived class adds `using quantizer_facade<…>::prepare;` so that its own
// prepare overloads do not hide the one here.)
//
// Threads: a quantizer holds no mutable state (its tables are built by the constructor, shared
// lazily built tables are function-local statics, the SIMD kernels' caches are thread_local), so
// any number of threads may call the const methods of one quantizer object at once.
#pragma once
#include <cstddef>
#include <span>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/granularity.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
/// What every decode(t, out, begin, end) checks before it reads t: begin on a chunk boundary, t
/// valid (its validate()), [begin, end) within t and out as long as t.
template <class T>
void check_decode_range(const T& t, std::size_t out_size, std::size_t begin, std::size_t end) {
    require(begin % chunk_elements == 0, "begin", "must be a multiple of chunk_elements");
    t.validate();
    require(begin <= end && end <= t.size() && out_size == t.size(), "end",
            "must lie within t, and out must match it");
}

/// What every encode(x, t, begin, end) checks before it writes t: begin on a chunk boundary, t
/// valid, [begin, end) within x and x as long as t (the quantizer then checks that t was
/// prepared with its options).
template <class T>
void check_encode_range(const T& t, std::size_t x_size, std::size_t begin, std::size_t end) {
    require(begin % chunk_elements == 0, "begin", "must be a multiple of chunk_elements");
    t.validate();
    require(begin <= end && end <= x_size && x_size == t.size(), "end",
            "must lie within x, which must match t");
}

/// q.prepare into t, in place, with the backend and the thread count when the quantizer offers
/// those overloads.
template <class Q, class T>
void prepare_into(const Q& q, std::span<const float> x, shape2d shape, T& t, backend b,
                  unsigned threads = 1) {
    if constexpr (requires { q.prepare(x, shape, t, b, threads); })
        q.prepare(x, shape, t, b, threads);
    else if constexpr (requires { q.prepare(x, shape, t, b); })
        q.prepare(x, shape, t, b);
    else if constexpr (requires { q.prepare(x, shape, t); })
        q.prepare(x, shape, t);
    else
        t = q.prepare(x, shape);
}
}  // namespace detail

template <class Derived>
class quantizer_facade {
public:
    /// Quantizes x (row-major `shape`, shape.size() values) into a new tensor.
    template <class D = Derived>
    [[nodiscard]] typename D::tensor_type quantize(std::span<const float> x, shape2d shape,
                                                   backend b = backend::simd) const {
        typename D::tensor_type t;
        self().quantize_into(x, shape, t, b);
        return t;
    }
    /// Quantizes a 1-D span (one row).
    template <class D = Derived>
    [[nodiscard]] typename D::tensor_type quantize(std::span<const float> x,
                                                   backend b = backend::simd) const {
        return quantize(x, shape2d{1, x.size()}, b);
    }
    /// Quantizes into t, reusing its buffers (no allocation once they are large enough).
    template <class D = Derived>
    void quantize_into(std::span<const float> x, shape2d shape, typename D::tensor_type& t,
                       backend b = backend::simd) const {
        detail::prepare_into(self(), x, shape, t, b);
        self().encode(x, t, 0, x.size(), b);
    }
    /// A new tensor sized for `shape`, with the scales that need their own pass computed;
    /// encode() fills in the rest (see parallel.hpp).
    template <class D = Derived>
    [[nodiscard]] typename D::tensor_type prepare(std::span<const float> x, shape2d shape,
                                                  backend b = backend::simd) const {
        typename D::tensor_type t;
        detail::prepare_into(self(), x, shape, t, b);
        return t;
    }
    /// Dequantizes t into out (t.size() values). t.validate() runs first: a hand-built or loaded
    /// tensor with inconsistent fields is a lowbit::error naming the field, never a wild read.
    template <class D = Derived>
    void dequantize(const typename D::tensor_type& t, std::span<float> out,
                    backend b = backend::simd) const {
        t.validate();
        detail::require(out.size() == t.size(), "out", "must hold t.size() values");
        self().decode(t, out, 0, t.size(), b);
    }
    /// Dequantizes t into a new vector.
    template <class D = Derived>
    [[nodiscard]] std::vector<float> dequantize(const typename D::tensor_type& t,
                                                backend b = backend::simd) const {
        t.validate();  // before t.size() sizes an allocation
        std::vector<float> y(t.size());
        dequantize<D>(t, y, b);
        return y;
    }

private:
    const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
};

LOWBIT_NAMESPACE_END
