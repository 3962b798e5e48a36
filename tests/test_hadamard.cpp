// Hadamard transform: against the explicit Sylvester matrix (Eigen), self-inverse, norm
// preservation, row covering for rows that are not a multiple of H, SIMD vs reference bit for
// bit on random and adversarial data for every block size and many row lengths.
#include <doctest/doctest.h>

#include <lowbit/simd/hadamard.hpp>

#include <Eigen/Dense>
#include <cmath>
#include <cstring>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {
Eigen::MatrixXd sylvester(std::size_t h) {
    Eigen::MatrixXd m = Eigen::MatrixXd::Ones(1, 1);
    while (static_cast<std::size_t>(m.rows()) < h) {
        const Eigen::Index k = m.rows();
        Eigen::MatrixXd n(2 * k, 2 * k);
        n << m, m, m, -m;
        m = n;
    }
    return m / std::sqrt(double(h));
}
/// Bit equality, except that any NaN equals any NaN: IEEE 754 leaves open which NaN operand an
/// addition propagates, and compilers commute additions, so payload and sign of a NaN are not
/// part of the transform's contract (every other bit is).
bool same_bits_nan(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isnan(a[i]) && std::isnan(b[i])) continue;
        if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
    }
    return true;
}
double norm2(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += double(x) * x;
    return s;
}
}  // namespace

TEST_CASE("Sylvester matrix product, every block size 2 ... 1024") {
    for (std::size_t h = 2; h <= 1024; h *= 2) {
        const auto x = lowbit_test::gaussian(h, 11 + unsigned(h));
        const Eigen::MatrixXd M = sylvester(h);
        CHECK((M * M - Eigen::MatrixXd::Identity(h, h)).cwiseAbs().maxCoeff() < 1e-12);  // H·H = I
        Eigen::VectorXd xv(h);
        for (std::size_t i = 0; i < h; ++i) xv[i] = x[i];
        const Eigen::VectorXd want = M * xv;
        for (auto b : {backend::scalar, backend::simd}) {
            auto y = x;
            hadamard_transform(y, {1, h}, h, b);
            double err = 0;
            for (std::size_t i = 0; i < h; ++i) err = std::max(err, std::fabs(y[i] - want[i]));
            CHECK(err < 2e-6 * std::sqrt(std::log2(double(h))) * 4);
        }
    }
}

TEST_CASE("self-inverse and norm preserving up to 2^15") {
    for (std::size_t h = 2; h <= hadamard_max_block; h *= 2) {
        const auto x = lowbit_test::gaussian(3 * h, 5);
        auto y = x;
        hadamard_transform(y, {3, h}, h);
        CHECK(std::fabs(norm2(y) / norm2(x) - 1) < 1e-5);
        hadamard_transform(y, {3, h}, h);
        double err = 0;
        for (std::size_t i = 0; i < x.size(); ++i)
            err = std::max(err, double(std::fabs(y[i] - x[i])));
        CHECK(err < 1e-5 * std::log2(double(h)));
    }
}

TEST_CASE("rows not a multiple of H: binary covering, block-diagonal Sylvester") {
    // 172 = 128 + 32 + 8 + 4; 96 = 64 + 32; 27 = 16 + 8 + 2 + 1.
    const std::vector<std::vector<std::size_t>> cases = {
        {172, 128, 32, 8, 4}, {96, 64, 32}, {27, 16, 8, 2, 1}, {300, 128, 128, 32, 8, 4}};
    for (const auto& c : cases) {
        const std::size_t n = c[0];
        Eigen::MatrixXd M = Eigen::MatrixXd::Zero(n, n);
        std::size_t pos = 0;
        for (std::size_t k = 1; k < c.size(); ++k) {
            CHECK(hadamard_block_at(n - pos, 128) == c[k]);
            M.block(pos, pos, c[k], c[k]) = sylvester(c[k]);
            pos += c[k];
        }
        CHECK(pos == n);
        const auto x = lowbit_test::gaussian(2 * n, 9);
        for (auto b : {backend::scalar, backend::simd}) {
            auto y = x;
            hadamard_transform(y, {2, n}, 128, b);
            for (std::size_t r = 0; r < 2; ++r) {
                Eigen::VectorXd xv(n);
                for (std::size_t i = 0; i < n; ++i) xv[i] = x[r * n + i];
                const Eigen::VectorXd want = M * xv;
                double err = 0;
                for (std::size_t i = 0; i < n; ++i)
                    err = std::max(err, std::fabs(y[r * n + i] - want[i]));
                CHECK(err < 1e-5);
            }
        }
    }
}

TEST_CASE("SIMD equals the reference bit for bit: every H, many row lengths, adversarial data") {
    for (std::size_t H = 2; H <= 4096; H *= 2)
        for (std::size_t cols : lowbit_test::lengths()) {
            if (cols > 5000 && H < 64)
                continue;  // keep the run short; large cols are covered at large H
            for (int kind = 0; kind < 2; ++kind) {
                const std::size_t rows = cols > 1000 ? 1 : 3;
                auto x = kind ? lowbit_test::adversarial(rows * cols, unsigned(H + cols))
                              : lowbit_test::gaussian(rows * cols, unsigned(H * 7 + cols));
                auto a = x, b = x;
                hadamard_transform(a, {rows, cols}, H, backend::scalar);
                hadamard_transform(b, {rows, cols}, H, backend::simd);
                INFO("H = " << H << ", cols = " << cols << ", kind = " << kind);
                CHECK(same_bits_nan(a, b));
            }
        }
    const std::size_t H = hadamard_max_block;
    auto x = lowbit_test::adversarial(2 * H + 777, 1), a = x, b = x;
    hadamard_transform(a, {1, x.size()}, H, backend::scalar);
    hadamard_transform(b, {1, x.size()}, H, backend::simd);
    CHECK(same_bits_nan(a, b));
}

TEST_CASE("bad arguments are errors naming the argument") {
    std::vector<float> x(12);
    CHECK_THROWS_AS(hadamard_transform(x, {3, 4}, 3), error);
    CHECK_THROWS_AS(hadamard_transform(x, {3, 4}, 1), error);
    CHECK_THROWS_AS(hadamard_transform(x, {3, 4}, 65536), error);
    CHECK_THROWS_AS(hadamard_transform(x, {2, 4}, 4), error);
    try {
        hadamard_transform(x, {3, 4}, 6);
    } catch (const error& e) { CHECK(e.argument() == "H"); }
}
