// Shapes from callers and files: an empty tensor costs nothing whatever its other dimension
// (no per-row or per-column metadata for 2^27 rows of nothing), and a shape whose element count
// overflows std::size_t is a lowbit::error naming "shape", never a wrapped size. The largest
// single allocation is measured by replacing the global operator new in this executable.
#include <doctest/doctest.h>

#include <lowbit/io/npy.hpp>
#include <lowbit/lowbit.hpp>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "counting_new.hpp"
#include "test_util.hpp"

namespace {
std::atomic<std::size_t> largest{0};
void note(std::size_t n) {
    std::size_t seen = largest.load();
    while (n > seen && !largest.compare_exchange_weak(seen, n)) {}
}
}  // namespace

void lowbit_test_on_allocation(std::size_t n) noexcept { note(n); }

using namespace lowbit;

namespace {
constexpr std::size_t big = std::size_t{1} << 27;
constexpr std::size_t small_bytes = 64 * 1024;  // far below one float per row of `big` rows
constexpr std::size_t max_size = std::numeric_limits<std::size_t>::max();

/// The largest single allocation f makes.
template <class F>
std::size_t largest_allocation(F&& f) {
    largest = 0;
    f();
    return largest.load();
}

/// Quantizes and dequantizes an empty tensor of `shape` with q; checks that no metadata was
/// sized by the non-zero dimension and that nothing large was allocated.
template <class Q>
void check_empty(const Q& q, shape2d shape) {
    CAPTURE(shape.rows);
    CAPTURE(shape.cols);
    const std::vector<float> none;
    typename Q::tensor_type t;
    CHECK(largest_allocation([&] {
              t = q.quantize(none, shape);
              std::vector<float> y;
              q.dequantize(t, y);
              t = quantize_parallel(q, none, shape, 4);
              dequantize_parallel(q, t, y, 4);
          }) < small_bytes);
    CHECK(t.size() == 0);
    CHECK(t.packed.empty());
    if constexpr (requires { t.scales; }) CHECK(t.scales.empty());
    if constexpr (requires { t.sigmas; }) CHECK(t.sigmas.empty());
    if constexpr (requires { t.offsets; }) CHECK(t.offsets.empty());
    if constexpr (requires { t.zero_points; }) CHECK(t.zero_points.empty());
}
}  // namespace

TEST_CASE("the counter sees a large allocation") {
    CHECK(largest_allocation([] { std::vector<float> v(big); }) >= big * sizeof(float));
}

TEST_CASE("detail::mul_overflows at the edges of std::size_t") {
    CHECK_FALSE(detail::mul_overflows(0, max_size));
    CHECK_FALSE(detail::mul_overflows(max_size, 0));
    CHECK_FALSE(detail::mul_overflows(max_size, 1));
    CHECK_FALSE(detail::mul_overflows(std::size_t{1} << 32, (std::size_t{1} << 32) - 1));
    CHECK(detail::mul_overflows(std::size_t{1} << 32, std::size_t{1} << 32));
    CHECK(detail::mul_overflows(max_size, 2));
    CHECK(detail::mul_overflows(max_size / 2 + 1, 2));
    CHECK_FALSE(detail::mul_overflows(max_size / 2, 2));
    static_assert(!detail::mul_overflows(3, 5) && detail::mul_overflows(max_size, max_size));
}

TEST_CASE(
    "an empty tensor with 2^27 rows or columns costs nothing, in every quantizer and granularity") {
    for (const shape2d shape : {shape2d{big, 0}, shape2d{0, big}, shape2d{0, 0}}) {
        check_empty(int_quantizer<int_format<8>>(), shape);
        check_empty(int_quantizer<int_format<4>>({.gran = granularity::channel(0)}), shape);
        check_empty(int_quantizer<int_format<4>>({.gran = granularity::channel(1)}), shape);
        check_empty(int_quantizer<uint_format<4>, Eigen::half>(
                        {.gran = granularity::channel(1), .rule = scale_rule::minmax()}),
                    shape);
        check_empty(int_quantizer<int_format<4, int_range::full>, Eigen::half>(
                        {.gran = granularity::group(32)}),
                    shape);
        check_empty(minifloat_quantizer<e4m3fn>(), shape);
        check_empty(minifloat_quantizer<e4m3fn>({.gran = granularity::channel(0)}), shape);
        check_empty(minifloat_quantizer<e2m1, Eigen::half>({.gran = granularity::group(32)}),
                    shape);
        check_empty(mx_quantizer<e4m3fn>(), shape);
        check_empty(nvfp4_quantizer(), shape);
        check_empty(log_quantizer<4>(), shape);
        check_empty(codebook_quantizer<4>(), shape);
        check_empty(codebook_quantizer<4>({.double_quant = true}), shape);
        check_empty(bbq_quantizer<4>(), shape);
        check_empty(bbq_quantizer<4>({.sigma_from = sigma_source::per_row}), shape);
        check_empty(quest_quantizer<4>({.sigma_from = sigma_source::per_row}), shape);
    }
}

TEST_CASE(
    "every named scheme quantizes an empty tensor with 2^27 rows or columns without allocating for "
    "them") {
    const std::vector<float> none;
    std::vector<float> y;
    for (const auto& s : all_schemes()) {
        CAPTURE(s.name);
        auto inst = s.make();
        for (const shape2d shape : {shape2d{big, 0}, shape2d{0, big}}) {
            CAPTURE(shape.rows);
            CHECK(largest_allocation([&] {
                      inst->quantize(none, shape);
                      inst->dequantize(y);
                      inst->quantize_parallel(none, shape, 3);
                      inst->dequantize(y);
                      CHECK(inst->codes().empty());
                  }) < small_bytes);
        }
    }
}

TEST_CASE("a .npy of shape (2^27, 0) reads as an empty matrix that quantizes per row for nothing") {
    const std::string header =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (134217728, 0), }\n";
    std::vector<std::uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, std::uint8_t(header.size()),
                                   0};
    b.insert(b.end(), header.begin(), header.end());
    const npy_array a = parse_npy(b, "zero.npy");
    CHECK(a.data.empty());
    CHECK(a.matrix_shape() == shape2d{big, 0});
    check_empty(int_quantizer<int_format<4>>({.gran = granularity::channel(0)}), a.matrix_shape());
    check_empty(bbq_quantizer<4>({.sigma_from = sigma_source::per_row}), a.matrix_shape());
}

TEST_CASE("a shape whose element count overflows std::size_t is an error naming shape") {
    // {2^63 + 3, 2} wraps to 6 and {2^32, 2^32} to 0: both equal the size of the x they come with.
    const auto six = lowbit_test::gaussian(6, 1);
    const std::vector<float> none;
    const std::pair<shape2d, const std::vector<float>*> cases[] = {
        {{(std::size_t{1} << 63) + 3, 2}, &six},
        {{std::size_t{1} << 32, std::size_t{1} << 32}, &none},
        {{max_size, max_size}, &six},  // wraps to 1: not six either way, but named as the shape
    };
    for (const auto& [shape, x] : cases) {
        CAPTURE(shape.rows);
        CAPTURE(shape.cols);
        for (const auto& s : all_schemes()) {
            CAPTURE(s.name);
            auto inst = s.make();
            try {
                inst->quantize(*x, shape);
                FAIL("no exception");
            } catch (const lowbit::error& e) {
                CHECK(e.argument() == "shape");
                CHECK(std::string(e.what()).find("overflows") != std::string::npos);
            }
            try {
                inst->quantize_parallel(*x, shape, 4);
                FAIL("no exception");
            } catch (const lowbit::error& e) { CHECK(e.argument() == "shape"); }
        }
        std::vector<float> y = *x;
        CHECK_THROWS_WITH_AS(hadamard_transform(y, shape, 128), doctest::Contains("shape"),
                             lowbit::error);
    }
    // A shape that fits but does not match x still names x.
    try {
        (void)int_quantizer<int_format<8>>().quantize(six, shape2d{2, 4});
        FAIL("no exception");
    } catch (const lowbit::error& e) { CHECK(e.argument() == "x"); }
}
