// lowbit — any quantizer behind the blockwise Hadamard transform: x is rotated along its rows
// (normalised Walsh–Hadamard blocks of H, transform/hadamard.hpp), the rotated values are
// quantized by the inner quantizer, and dequantize applies the inverse (the same orthonormal
// transform) to the inner quantizer's output. Hadamard + NF4 is HIGGS-style, Hadamard + INT4
// round-to-nearest QuaRot-style. The codes are the inner quantizer's, bit for bit, for the
// rotated input; the transform adds no stored data (H is part of the scheme).
//
// Non-finite inputs: the transform would spread one ±Inf or NaN over its whole block, so they
// are an error naming the first such index (non_finite::error) or, with non_finite::saturate,
// NaN becomes 0 and ±Inf ± the largest finite |x| of its row before the transform.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/granularity.hpp"
#include "../core/non_finite.hpp"
#include "../simd/hadamard.hpp"
#include "../transform/hadamard.hpp"

LOWBIT_NAMESPACE_BEGIN

/// A tensor of transformed_quantizer<Q>: the inner quantizer's tensor of the rotated values and
/// the block size of the rotation.
template <class Inner>
struct transformed_tensor {
    static constexpr int bits = Inner::bits;
    Inner inner;
    std::size_t hadamard = 0;

    [[nodiscard]] std::size_t size() const noexcept { return inner.size(); }
    [[nodiscard]] std::vector<std::uint8_t> codes() const { return inner.codes(); }
    [[nodiscard]] double bits_per_value() const noexcept { return inner.bits_per_value(); }
    /// Throws lowbit::error naming the field when the inner tensor or `hadamard` is inconsistent.
    void validate() const {
        inner.validate();
        detail::require(is_hadamard_size(hadamard), "t.hadamard",
                        "must be a power of two in 2 … 32768");
    }
};

/// Q behind the blockwise Hadamard transform of size H; see the file comment.
template <class Q>
class transformed_quantizer {
public:
    using inner_quantizer = Q;
    using tensor_type = transformed_tensor<typename Q::tensor_type>;
    struct options {
        std::size_t hadamard = 128;  ///< block size H, a power of two in 2 … 32768
        non_finite on_non_finite = non_finite::error;  ///< ±Inf / NaN in x (file comment)
    };

    explicit transformed_quantizer(Q inner, options o = {}) : inner_(std::move(inner)), opt_(o) {
        detail::require(is_hadamard_size(opt_.hadamard), "options.hadamard",
                        "must be a power of two in 2 … 32768");
        detail::require(
            opt_.on_non_finite == non_finite::error || opt_.on_non_finite == non_finite::saturate,
            "options.on_non_finite", "must be a non_finite value");
    }
    [[nodiscard]] const options& opts() const noexcept { return opt_; }
    [[nodiscard]] const Q& inner() const noexcept { return inner_; }

    /// Quantizes x (row-major `shape`) into t, reusing t's buffers where the inner quantizer does.
    void quantize_into(std::span<const float> x, shape2d shape, tensor_type& t,
                       backend b = backend::simd) const {
        detail::require_shape(x.size(), shape);
        std::vector<float> y(x.begin(), x.end());
        for (std::size_t r = 0; r < shape.rows; ++r)
            finite_row(std::span<float>(y).subspan(r * shape.cols, shape.cols), r * shape.cols);
        hadamard_transform(y, shape, opt_.hadamard, b);
        inner_.quantize_into(y, shape, t.inner, b);
        t.hadamard = opt_.hadamard;
    }
    [[nodiscard]] tensor_type quantize(std::span<const float> x, shape2d shape,
                                       backend b = backend::simd) const {
        tensor_type t;
        quantize_into(x, shape, t, b);
        return t;
    }
    [[nodiscard]] tensor_type quantize(std::span<const float> x, backend b = backend::simd) const {
        return quantize(x, shape2d{1, x.size()}, b);
    }

    /// Dequantizes t into out (t.size() values): the inner dequantize, then the inverse rotation.
    void dequantize(const tensor_type& t, std::span<float> out, backend b = backend::simd) const {
        t.validate();
        detail::require(out.size() == t.size(), "out", "must hold t.size() values");
        inner_.dequantize(t.inner, out, b);
        hadamard_transform(out, t.inner.shape, t.hadamard, b);
    }
    [[nodiscard]] std::vector<float> dequantize(const tensor_type& t,
                                                backend b = backend::simd) const {
        t.validate();
        std::vector<float> out(t.size());
        dequantize(t, out, b);
        return out;
    }

private:
    /// Applies the non-finite policy to one row (first element at index `at` of x).
    void finite_row(std::span<float> row, std::size_t at) const {
        float big = 0.0f;
        bool any = false;
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (std::isfinite(row[i])) {
                big = std::max(big, std::fabs(row[i]));
                continue;
            }
            if (opt_.on_non_finite == non_finite::error)
                throw error(
                    "x",
                    "element " + std::to_string(at + i) +
                        " is not finite: the Hadamard transform would spread it over its block "
                        "(options.on_non_finite = saturate maps it to a finite value)");
            any = true;
        }
        if (!any) return;
        for (float& v : row)
            if (!std::isfinite(v)) v = std::isnan(v) ? 0.0f : std::copysign(big, v);
    }

    Q inner_;
    options opt_;
};

LOWBIT_NAMESPACE_END
