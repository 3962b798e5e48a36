// lowbit — Eigen interop: quantize a matrix (MatrixXf, a Map, a Block, any expression, either
// storage order) and dequantize back to a matrix.
//
// lowbit's quantizers see a row-major rows × cols tensor, so a matrix is always read by its
// logical (row, column) indices: granularity::tensor() is one scale, channel(0) one per row,
// channel(1) one per column, group(G) groups of G along each row — whatever the storage order.
// A row-major matrix with contiguous rows is quantized in place; anything else (column-major,
// strided Maps, expressions) is first copied into a row-major buffer.
//
//   lowbit::int_quantizer<lowbit::int_format<4>> q({.gran = lowbit::granularity::channel(1)});
//   auto t = lowbit::eigen::quantize(q, w);           // w: Eigen::MatrixXf, per column
//   Eigen::MatrixXf w_hat = lowbit::eigen::dequantize(q, t);
#pragma once
#include <span>

#include <Eigen/Core>

#include "core/backend.hpp"
#include "core/error.hpp"
#include "core/granularity.hpp"
#include "schemes.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace eigen {

/// A row-major float matrix, lowbit's native layout.
using row_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {
/// True when m's coefficients lie row after row in memory with no gaps.
template <class Derived>
bool is_dense_row_major(const Eigen::DenseBase<Derived>& m) {
    if constexpr ((Eigen::internal::traits<Derived>::Flags & Eigen::DirectAccessBit) &&
                  Derived::IsRowMajor) {
        return m.innerStride() == 1 && (m.rows() <= 1 || m.outerStride() == m.cols());
    } else {
        return false;
    }
}

/// Calls f(span of row-major values, shape), copying m only when it is not already row-major dense.
template <class Derived, class F>
decltype(auto) with_row_major(const Eigen::DenseBase<Derived>& m, F&& f) {
    static_assert(std::is_same_v<typename Derived::Scalar, float>,
                  "lowbit::eigen: the matrix must hold float");
    const shape2d shape{static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())};
    if constexpr ((Eigen::internal::traits<Derived>::Flags & Eigen::DirectAccessBit) &&
                  Derived::IsRowMajor) {
        if (is_dense_row_major(m))
            return f(std::span<const float>(m.derived().data(), shape.size()), shape);
    }
    const row_matrix copy = m;
    return f(std::span<const float>(copy.data(), shape.size()), shape);
}

template <class Derived>
void check_shape(const Eigen::DenseBase<Derived>& out, shape2d shape) {
    lowbit::detail::require(static_cast<std::size_t>(out.rows()) == shape.rows &&
                                static_cast<std::size_t>(out.cols()) == shape.cols,
                            "out", "must have the quantized tensor's rows and columns");
}
}  // namespace detail

/// Quantizes m (read as rows × cols) with q; the granularity in q's options applies to that view.
template <class Q, class Derived>
[[nodiscard]] typename Q::tensor_type quantize(const Q& q, const Eigen::DenseBase<Derived>& m,
                                               backend b = backend::simd) {
    typename Q::tensor_type t;
    detail::with_row_major(
        m, [&](std::span<const float> x, shape2d shape) { q.quantize_into(x, shape, t, b); });
    return t;
}

/// Quantizes m into t, reusing t's buffers.
template <class Q, class Derived>
void quantize_into(const Q& q, const Eigen::DenseBase<Derived>& m, typename Q::tensor_type& t,
                   backend b = backend::simd) {
    detail::with_row_major(
        m, [&](std::span<const float> x, shape2d shape) { q.quantize_into(x, shape, t, b); });
}

/// Dequantizes t into out (any storage order; its size must be t.shape).
template <class Q, class Derived>
void dequantize_into(const Q& q, const typename Q::tensor_type& t, Eigen::DenseBase<Derived>& out,
                     backend b = backend::simd) {
    t.validate();
    detail::check_shape(out, t.shape);
    if constexpr ((Eigen::internal::traits<Derived>::Flags & Eigen::DirectAccessBit) &&
                  Derived::IsRowMajor &&
                  (Eigen::internal::traits<Derived>::Flags & Eigen::LvalueBit)) {
        if (detail::is_dense_row_major(out)) {
            q.dequantize(t, std::span<float>(out.derived().data(), t.size()), b);
            return;
        }
    }
    row_matrix tmp(out.rows(), out.cols());
    q.dequantize(t, std::span<float>(tmp.data(), t.size()), b);
    out = tmp;
}

/// Dequantizes t into a new (column-major) MatrixXf of t.shape.
template <class Q>
[[nodiscard]] Eigen::MatrixXf dequantize(const Q& q, const typename Q::tensor_type& t,
                                         backend b = backend::simd) {
    t.validate();  // before t.shape sizes the matrix
    lowbit::detail::require(
        t.shape.rows <= std::size_t(Eigen::NumTraits<Eigen::Index>::highest()) &&
            t.shape.cols <= std::size_t(Eigen::NumTraits<Eigen::Index>::highest()),
        "t.shape", "must fit Eigen::Index");
    row_matrix tmp(static_cast<Eigen::Index>(t.shape.rows),
                   static_cast<Eigen::Index>(t.shape.cols));
    q.dequantize(t, std::span<float>(tmp.data(), t.size()), b);
    return tmp;
}

/// Quantizes m with a registry scheme (see all_schemes()); the instance keeps the result.
template <class Derived>
void quantize(scheme_instance& s, const Eigen::DenseBase<Derived>& m, backend b = backend::simd) {
    detail::with_row_major(
        m, [&](std::span<const float> x, shape2d shape) { s.quantize(x, shape, b); });
}

/// Dequantizes a registry scheme's last result, quantized from a rows × cols matrix.
[[nodiscard]] inline Eigen::MatrixXf dequantize(const scheme_instance& s, Eigen::Index rows,
                                                Eigen::Index cols, backend b = backend::simd) {
    lowbit::detail::require(rows >= 0 && cols >= 0, "rows", "and cols must be non-negative");
    row_matrix tmp(rows, cols);
    s.dequantize(std::span<float>(tmp.data(), static_cast<std::size_t>(tmp.size())), b);
    return tmp;
}

}  // namespace eigen
LOWBIT_NAMESPACE_END
