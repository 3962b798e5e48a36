// eigen.hpp: matrices of either storage order, Maps with strides, blocks and expressions give
// exactly the tensor of the row-major span they represent, per tensor, row, column and group.
#include <doctest/doctest.h>

#include <lowbit/eigen.hpp>
#include <lowbit/lowbit.hpp>

#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {
using half = Eigen::half;

/// A rows × cols matrix holding gaussian values with a few adversarial ones.
Eigen::MatrixXf sample(Eigen::Index rows, Eigen::Index cols, std::uint32_t seed) {
    const auto g = lowbit_test::gaussian(std::size_t(rows * cols), seed);
    Eigen::MatrixXf m(rows, cols);
    for (Eigen::Index r = 0; r < rows; ++r)
        for (Eigen::Index c = 0; c < cols; ++c)
            m(r, c) = g[std::size_t(r * cols + c)] * float(1 + c % 5);
    if (rows * cols > 3) {
        m(0, 0) = 9.0f;
        m(rows - 1, cols - 1) = -0.0f;
    }
    return m;
}

/// The row-major values of m, read by logical index.
std::vector<float> row_major_values(const Eigen::MatrixXf& m) {
    std::vector<float> v;
    for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c) v.push_back(m(r, c));
    return v;
}

template <class T>
bool same_tensor(const T& a, const T& b) {
    return a.shape == b.shape && a.packed == b.packed && a.scales == b.scales &&
        a.offsets == b.offsets && a.zero_points == b.zero_points;
}

/// Checks every way of handing m to eigen::quantize against the span API, then the dequantized
/// matrix.
template <class Q>
void check_quantizer(const Q& q, const Eigen::MatrixXf& m) {
    const auto x = row_major_values(m);
    const shape2d shape{std::size_t(m.rows()), std::size_t(m.cols())};
    const auto want = q.quantize(x, shape);
    const auto y = q.dequantize(want);

    const eigen::row_matrix rm = m;
    CHECK(same_tensor(eigen::quantize(q, m), want));                   // column-major
    CHECK(same_tensor(eigen::quantize(q, rm), want));                  // row-major, in place
    CHECK(same_tensor(eigen::quantize(q, (m * 1.0f).eval()), want));   // evaluated expression
    CHECK(same_tensor(eigen::quantize(q, m.array().matrix()), want));  // lazy expression
    CHECK(same_tensor(
        eigen::quantize(q, Eigen::Map<const Eigen::MatrixXf>(m.data(), m.rows(), m.cols())), want));
    CHECK(same_tensor(
        eigen::quantize(q, Eigen::Map<const eigen::row_matrix>(rm.data(), rm.rows(), rm.cols())),
        want));
    CHECK(same_tensor(eigen::quantize(q, m.transpose().transpose()), want));

    // A block of a larger matrix in either order: strided, not contiguous.
    Eigen::MatrixXf big = Eigen::MatrixXf::Constant(m.rows() + 3, m.cols() + 2, 100.0f);
    big.block(1, 2, m.rows(), m.cols()) = m;
    CHECK(same_tensor(eigen::quantize(q, big.block(1, 2, m.rows(), m.cols())), want));
    eigen::row_matrix big_rm = big;
    CHECK(same_tensor(eigen::quantize(q, big_rm.block(1, 2, m.rows(), m.cols())), want));
    Eigen::Map<const eigen::row_matrix, 0, Eigen::OuterStride<>> strided(
        big_rm.data() + big_rm.cols() + 2, m.rows(), m.cols(), Eigen::OuterStride<>(big_rm.cols()));
    CHECK(same_tensor(eigen::quantize(q, strided), want));

    typename Q::tensor_type t;
    eigen::quantize_into(q, m, t);
    CHECK(same_tensor(t, want));

    // Dequantize into every destination: logical (r, c) must hold y[r * cols + c].
    const Eigen::MatrixXf back = eigen::dequantize(q, want);
    REQUIRE(back.rows() == m.rows());
    REQUIRE(back.cols() == m.cols());
    CHECK(lowbit_test::same_bits(row_major_values(back), y));
    Eigen::MatrixXf cm(m.rows(), m.cols());
    eigen::dequantize_into(q, want, cm);
    CHECK(lowbit_test::same_bits(row_major_values(cm), y));
    eigen::row_matrix out_rm(m.rows(), m.cols());
    eigen::dequantize_into(q, want, out_rm);
    CHECK(lowbit_test::same_bits(row_major_values(Eigen::MatrixXf(out_rm)), y));
    auto blk = big.block(1, 2, m.rows(), m.cols());
    eigen::dequantize_into(q, want, blk);
    CHECK(lowbit_test::same_bits(
        row_major_values(Eigen::MatrixXf(big.block(1, 2, m.rows(), m.cols()))), y));
    CHECK(big(0, 0) == 100.0f);  // outside the block untouched
    Eigen::MatrixXf wrong(m.rows() + 1, m.cols());
    CHECK_THROWS_AS(eigen::dequantize_into(q, want, wrong), lowbit::error);
}
}  // namespace

TEST_CASE("eigen: per tensor, per row, per column, per group along rows; both storage orders") {
    for (const auto& shape :
         {std::pair<Eigen::Index, Eigen::Index>{7, 13}, {1, 70}, {33, 1}, {16, 64}, {5, 100}}) {
        // Plain variables, not a structured binding: doctest's CAPTURE makes a lambda, and
        // capturing a structured binding is C++20 that clang 14 rejects.
        const Eigen::Index rows = shape.first, cols = shape.second;
        CAPTURE(rows);
        CAPTURE(cols);
        const auto m = sample(rows, cols, std::uint32_t(rows * 131 + cols));
        check_quantizer(int_quantizer<int_format<8>>(), m);
        check_quantizer(int_quantizer<int_format<4>>({.gran = granularity::channel(0)}), m);
        check_quantizer(int_quantizer<int_format<4>>({.gran = granularity::channel(1)}), m);
        check_quantizer(
            int_quantizer<int_format<4, int_range::full>, half>({.gran = granularity::group(32)}),
            m);
        check_quantizer(int_quantizer<uint_format<3>, half>(
                            {.gran = granularity::group(7), .rule = scale_rule::minmax()}),
                        m);
    }
}

TEST_CASE("eigen: per-column scales really follow columns of a column-major matrix") {
    // Column c holds values of magnitude up to c + 1: per-column absmax scales are (c + 1) / 7.
    Eigen::MatrixXf m(4, 3);
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 3; ++c)
            m(r, c) = float(c + 1) * (r % 2 ? -1.0f : 1.0f) * float(r + 1) / 4.0f;
    int_quantizer<int_format<4>> q({.gran = granularity::channel(1)});
    const auto t = eigen::quantize(q, m);
    REQUIRE(t.scales.size() == 3);
    for (int c = 0; c < 3; ++c)
        CHECK(t.scales[std::size_t(c)] == doctest::Approx(double(c + 1) / 7.0));
    const Eigen::MatrixXf back = eigen::dequantize(q, t);
    CHECK((back - m).cwiseAbs().maxCoeff() <= 3.0f / 14.0f + 1e-6f);
    // Per row of the same matrix: row r's scale is its own largest magnitude / 7.
    int_quantizer<int_format<4>> qr({.gran = granularity::channel(0)});
    const auto tr = eigen::quantize(qr, m);
    REQUIRE(tr.scales.size() == 4);
    for (int r = 0; r < 4; ++r)
        CHECK(tr.scales[std::size_t(r)] == doctest::Approx(m.row(r).cwiseAbs().maxCoeff() / 7.0));
}

TEST_CASE("eigen: registry schemes and empty matrices") {
    const auto m = sample(64, 96, 7);
    for (const auto& s : all_schemes()) {
        CAPTURE(s.name);
        auto a = s.make(), b = s.make();
        eigen::quantize(*a, m);
        const auto x = row_major_values(m);
        b->quantize(x, {64, 96});
        std::vector<float> want(x.size());
        b->dequantize(want);
        const Eigen::MatrixXf got = eigen::dequantize(*a, 64, 96);
        CHECK(lowbit_test::same_bits(row_major_values(got), want));
        CHECK_THROWS_AS((void)eigen::dequantize(*a, 64, 95), lowbit::error);
    }
    const Eigen::MatrixXf empty(0, 5);
    int_quantizer<int_format<8>> q;
    const auto t = eigen::quantize(q, empty);
    CHECK(t.size() == 0);
    CHECK(eigen::dequantize(q, t).cols() == 5);
}
