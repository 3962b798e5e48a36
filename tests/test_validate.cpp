// Runtime sizes in options and hand-built tensors: every illegal value is a lowbit::error naming
// the field, raised by the constructor (options) or by validate() and every entry that reads a
// tensor (dequantize, dequantize_parallel, the Eigen entries, decode, encode, codes()); every legal
// edge (a group longer than a row, a short last block) quantizes and dequantizes.
#include <doctest/doctest.h>

#include <lowbit/eigen.hpp>
#include <lowbit/lowbit.hpp>
#include <lowbit/parallel.hpp>
#include <lowbit/schemes.hpp>

#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {

constexpr std::size_t huge = std::numeric_limits<std::size_t>::max();

/// The argument named by the lowbit::error that f throws ("" when it throws none; any other
/// exception fails the test).
std::string error_field(const std::function<void()>& f) {
    try {
        f();
    } catch (const lowbit::error& e) { return e.argument(); }
    return "";
}

/// A valid tensor `good` of quantizer q passes validate(), dequantizes through every entry to the
/// same values, and each mutation (one field at a time) is rejected by every entry, naming `field`.
template <class Q>
struct tensor_check {
    const Q& q;
    const typename Q::tensor_type& good;

    void accepts() const {
        CHECK_NOTHROW(good.validate());
        const std::vector<float> ref = q.dequantize(good);
        REQUIRE(ref.size() == good.size());
        std::vector<float> par(good.size());
        dequantize_parallel(q, good, par, 3);
        CHECK(std::memcmp(par.data(), ref.data(), ref.size() * sizeof(float)) == 0);
        const Eigen::MatrixXf m = eigen::dequantize(q, good);
        for (std::size_t i = 0; i < ref.size(); ++i) {
            const float v = m(Eigen::Index(i / good.shape.cols), Eigen::Index(i % good.shape.cols));
            CHECK(((std::isnan(v) && std::isnan(ref[i])) || v == ref[i]));
        }
        CHECK(good.codes().size() == good.size());
    }

    template <class Mutate>
    void rejects(const std::string& field, Mutate&& mutate) const {
        CAPTURE(field);
        typename Q::tensor_type t = good;
        mutate(t);
        CHECK(error_field([&] { t.validate(); }) == field);
        CHECK(error_field([&] { (void)q.dequantize(t); }) == field);
        std::vector<float> y(good.size());
        CHECK(error_field([&] { q.dequantize(t, std::span<float>(y)); }) == field);
        CHECK(error_field([&] { dequantize_parallel(q, t, std::span<float>(y), 2); }) == field);
        CHECK(error_field([&] {
                  q.decode(t, std::span<float>(y), 0, y.size(), backend::scalar);
              }) == field);
        CHECK(error_field([&] { (void)eigen::dequantize(q, t); }) == field);
        CHECK(error_field([&] { (void)t.codes(); }) == field);
    }
};

template <class Q>
tensor_check<Q> check(const Q& q, const typename Q::tensor_type& t) {
    return {q, t};
}

const shape2d shape{4, 96};
const std::vector<float> x = lowbit_test::gaussian(shape.size(), 7);

/// Quantizes x and dequantizes it: a legal configuration runs end to end.
template <class Q>
void round_trips(const Q& q, shape2d s) {
    const auto v = lowbit_test::gaussian(s.size(), 11);
    const auto t = q.quantize(v, s);
    CHECK_NOTHROW(t.validate());
    const auto y = q.dequantize(t);
    REQUIRE(y.size() == v.size());
    for (float e : y) CHECK(std::isfinite(e));
}

}  // namespace

TEST_CASE("checked size helpers") {
    CHECK(detail::checked_mul(std::size_t{1} << 31, std::size_t{1} << 32, "n") ==
          std::size_t{1} << 63);
    CHECK(error_field([] {
              (void)detail::checked_mul(std::size_t{1} << 32, std::size_t{1} << 32, "n");
          }) == "n");
    CHECK(error_field([] { (void)detail::checked_add(huge, 1, "m"); }) == "m");
    CHECK(detail::ceil_div(huge, huge - 31) == 2);  // (a + b − 1) / b would wrap to 0
    CHECK(detail::ceil_div(100, huge - 31) == 1);
    CHECK(detail::ceil_div(0, 7) == 0);
    CHECK(granularity::group(huge - 31).groups_per_row({1, 100}) == 1);
    CHECK(error_field([] { (void)detail::checked_elements(1, huge / 4 + 1, 4, "s"); }) ==
          "s");  // n fits, n · 4 does not
    CHECK(detail::checked_elements(3, 5, 4, "s") == 15);
}

TEST_CASE("int options: illegal sizes and enums rejected at construction, edges accepted") {
    using Q = int_quantizer<int_format<4>>;
    using U = int_quantizer<uint_format<4>>;
    CHECK(error_field([] { Q q({.gran = granularity::group(0)}); }) == "options.gran.group_size");
    CHECK(error_field([] { Q q({.gran = granularity::group(std::size_t(-32))}); }) ==
          "options.gran.group_size");
    CHECK(error_field([] { Q q({.gran = granularity::group(max_group_size + 1)}); }) ==
          "options.gran.group_size");
    const int negative = -1;
    CHECK(error_field([&] { Q q({.gran = granularity::channel(negative)}); }) ==
          "options.gran.axis");
    CHECK(error_field([] { Q q({.gran = granularity::channel(2)}); }) == "options.gran.axis");
    CHECK(error_field([] {
              Q q({.gran = {static_cast<granularity::kind>(7), 0, 32}});
          }) == "options.gran.type");
    CHECK(error_field([] { U q({.form = static_cast<affine>(7)}); }) == "options.form");
    CHECK(error_field([] { U q({.form = affine::none}); }) == "options.form");
    CHECK(error_field([] { Q q({.form = affine::offset}); }) == "options.form");
    CHECK(error_field([] { Q q({.order = static_cast<nibble_order>(9)}); }) == "options.order");
    CHECK(error_field([] {
              int_quantizer<int_format<8>> q({.order = nibble_order::high_first});
          }) == "options.order");
    CHECK(error_field([] {
              Q q({.round = {static_cast<round_mode>(9), 0}});
          }) == "options.round.mode");
    CHECK(error_field([] {
              Q q({.rule = {static_cast<scale_rule::kind>(6), 1, 0, 0}});
          }) == "scale_rule.type");
    CHECK(error_field([] {
              Q q;
              (void)q.quantize(std::span<const float>{},
                               shape2d{std::size_t{1} << 33, std::size_t{1} << 31});
          }) == "shape");
    // Legal edges: groups of 1, a group longer than the row (one scale per row), the largest group.
    round_trips(Q({.gran = granularity::group(1)}), {3, 7});
    round_trips(Q({.gran = granularity::group(1000)}), {3, 100});
    round_trips(U({.gran = granularity::group(max_group_size)}), {2, 33});
    round_trips(int_quantizer<uint_format<8>>(
                    {.gran = granularity::channel(1), .form = affine::zero_point}),
                {5, 3});
    const auto t = Q({.gran = granularity::group(1000)}).quantize(x, shape);
    CHECK(t.scales.size() == shape.rows);
}

TEST_CASE("int_tensor::validate") {
    SUBCASE("signed, groups") {
        const int_quantizer<int_format<4, int_range::full>> q({.gran = granularity::group(32)});
        const auto good = q.quantize(x, shape);
        const auto c = check(q, good);
        c.accepts();
        c.rejects("t.shape", [](auto& t) {
            t.shape = {std::size_t{1} << 33, std::size_t{1} << 31};
        });                                                              // rows · cols wraps to 0
        c.rejects("t.shape", [](auto& t) { t.shape = {1, huge / 2}; });  // n · bits wraps
        c.rejects("t.gran.type", [](auto& t) { t.gran.type = static_cast<granularity::kind>(7); });
        c.rejects("t.gran.group_size", [](auto& t) { t.gran.group_size = 0; });
        c.rejects("t.gran.group_size", [](auto& t) { t.gran.group_size = std::size_t(-32); });
        c.rejects("t.gran.axis", [](auto& t) { t.gran = granularity::channel(5); });
        c.rejects("t.gran.axis", [](auto& t) { t.gran = granularity::channel(-1); });
        c.rejects("t.order", [](auto& t) { t.order = static_cast<nibble_order>(7); });
        c.rejects("t.form", [](auto& t) { t.form = static_cast<affine>(7); });
        c.rejects("t.form", [](auto& t) { t.form = affine::offset; });
        c.rejects("t.packed", [](auto& t) { t.packed.push_back(0); });
        c.rejects("t.packed", [](auto& t) { t.packed.pop_back(); });
        c.rejects("t.scales", [](auto& t) { t.scales.pop_back(); });
        c.rejects("t.scales", [](auto& t) {
            t.gran = granularity::tensor();
        });  // 12 scales for a one-scale granularity
        c.rejects("t.scales", [](auto& t) { t.gran.group_size = 16; });
        c.rejects("t.offsets",
                  [](auto& t) { t.offsets.assign(t.scales.size(), Eigen::half(0.0f)); });
        c.rejects("t.zero_points", [](auto& t) { t.zero_points.assign(t.scales.size(), 0); });
    }
    SUBCASE("unsigned, offset form, ggml_split") {
        const int_quantizer<uint_format<4>> q(
            {.gran = granularity::channel(1), .order = nibble_order::ggml_split});
        const auto good = q.quantize(x, shape);
        const auto c = check(q, good);
        c.accepts();
        c.rejects("t.offsets", [](auto& t) { t.offsets.pop_back(); });
        c.rejects("t.zero_points", [](auto& t) { t.zero_points.assign(t.scales.size(), 0); });
        c.rejects("t.form", [](auto& t) { t.form = affine::none; });
        c.rejects("t.offsets",
                  [](auto& t) { t.form = affine::zero_point; });  // the offsets of the other form
        c.rejects("t.gran.axis", [](auto& t) { t.gran.axis = 2; });
    }
    SUBCASE("unsigned 8-bit, zero points") {
        const int_quantizer<uint_format<8>> q(
            {.gran = granularity::channel(0), .form = affine::zero_point});
        const auto good = q.quantize(x, shape);
        const auto c = check(q, good);
        c.accepts();
        c.rejects("t.zero_points", [](auto& t) { t.zero_points.pop_back(); });
        c.rejects("t.order", [](auto& t) {
            t.order = nibble_order::high_first;
        });  // 8-bit codes have one order
    }
    SUBCASE("decode honours the tensor's granularity and order, encode the quantizer's") {
        const int_quantizer<int_format<4>> grouped(
            {.gran = granularity::group(32), .order = nibble_order::high_first});
        const int_quantizer<int_format<4>> plain;
        const auto t = grouped.quantize(x, shape);
        CHECK(plain.dequantize(t) == grouped.dequantize(t));
        auto u = t;
        CHECK(error_field([&] { plain.encode(x, u, 0, x.size(), backend::simd); }) == "t");
    }
}

TEST_CASE("minifloat options and minifloat_tensor::validate") {
    using Q = minifloat_quantizer<e4m3fn>;
    CHECK(error_field([] { Q q({.gran = granularity::group(0)}); }) == "options.gran.group_size");
    CHECK(error_field([] { Q q({.gran = granularity::group(huge)}); }) ==
          "options.gran.group_size");
    CHECK(error_field([] { Q q({.gran = granularity::channel(1)}); }) == "options.gran.axis");
    CHECK(error_field([] {
              Q q({.gran = {static_cast<granularity::kind>(3), 0, 0}});
          }) == "options.gran.type");
    CHECK(error_field([] {
              Q q({.round = {static_cast<round_mode>(7), 0}});
          }) == "options.round.mode");
    round_trips(minifloat_quantizer<e2m1, Eigen::half>({.gran = granularity::group(1000)}),
                {3, 100});
    round_trips(minifloat_quantizer<e2m1, Eigen::half>({.gran = granularity::group(1)}), {2, 5});
    round_trips(minifloat_quantizer<e3m2>({.gran = granularity::group(max_group_size)}), {2, 5});

    const minifloat_quantizer<e2m1, Eigen::half> q({.gran = granularity::group(32)});
    const auto good = q.quantize(x, shape);
    const auto c = check(q, good);
    c.accepts();
    c.rejects("t.shape", [](auto& t) { t.shape = {std::size_t{1} << 40, std::size_t{1} << 30}; });
    c.rejects("t.gran.type", [](auto& t) { t.gran.type = static_cast<granularity::kind>(5); });
    c.rejects("t.gran.group_size", [](auto& t) { t.gran.group_size = 0; });
    c.rejects("t.gran.group_size", [](auto& t) { t.gran.group_size = std::size_t(-1); });
    c.rejects("t.gran.axis", [](auto& t) {
        t.gran = granularity::channel(1);
        t.scales.resize(t.shape.cols);
    });
    c.rejects("t.packed", [](auto& t) { t.packed.resize(3); });
    c.rejects("t.scales", [](auto& t) { t.scales.push_back(Eigen::half(1.0f)); });
    c.rejects("t.scales", [](auto& t) { t.gran = granularity::channel(0); });

    const minifloat_quantizer<e4m3fn> rows({.gran = granularity::channel(0)});
    const auto g8 = rows.quantize(x, shape);
    const auto c8 = check(rows, g8);
    c8.accepts();
    c8.rejects("t.scales", [](auto& t) { t.scales.clear(); });
    c8.rejects("t.packed", [](auto& t) { t.packed.pop_back(); });
    // The tensor's granularity decides decode: a per-tensor quantizer decodes the per-row tensor.
    CHECK(Q().dequantize(g8) == rows.dequantize(g8));
}

TEST_CASE("MX and NVFP4 options and tensors") {
    CHECK(error_field([] {
              mx_quantizer<e2m1> q({.scale_rounding = static_cast<mx_scale_rounding>(9)});
          }) == "options.scale_rounding");
    CHECK(error_field([] {
              mx_quantizer<e2m1> q({.round = {static_cast<round_mode>(9), 0}});
          }) == "options.round.mode");
    CHECK(error_field([] {
              nvfp4_quantizer q({.round = {static_cast<round_mode>(9), 0}});
          }) == "options.round.mode");
    // Rows that Block does not divide end in a short block with its own scale (legal).
    round_trips(mx_quantizer<e2m1>(), {3, 33});
    round_trips(mx_quantizer<e4m3fn>(), {2, 5});
    round_trips(nvfp4_quantizer(), {3, 17});
    CHECK(mx_quantizer<e2m1>().quantize(x, {3, 32 * 4}).scales.size() == 12);
    CHECK(
        mx_quantizer<e2m1>().quantize(std::span<const float>(x).first(99), {3, 33}).scales.size() ==
        6);

    const mx_quantizer<e2m1> q;
    const auto good = q.quantize(x, shape);
    const auto c = check(q, good);
    c.accepts();
    c.rejects("t.shape", [](auto& t) { t.shape = {std::size_t{1} << 33, std::size_t{1} << 31}; });
    c.rejects("t.packed", [](auto& t) { t.packed.resize(3); });
    c.rejects("t.packed", [](auto& t) { t.packed.push_back(0); });
    c.rejects("t.scales", [](auto& t) { t.scales.pop_back(); });
    c.rejects("t.scales", [](auto& t) {
        t.shape = {8, 48};
    });  // same element count, 2 blocks per row instead of 3

    const mx_quantizer<mx_int8> q8;
    const auto g8 = q8.quantize(x, shape);
    check(q8, g8).accepts();
    check(q8, g8).rejects("t.scales", [](auto& t) { t.scales.clear(); });

    const nvfp4_quantizer nv;
    const auto gn = nv.quantize(x, shape);
    const auto cn = check(nv, gn);
    cn.accepts();
    cn.rejects("t.shape", [](auto& t) { t.shape = {1, huge / 3}; });
    cn.rejects("t.packed", [](auto& t) { t.packed.clear(); });
    cn.rejects("t.scales", [](auto& t) { t.scales.push_back(0); });
    cn.rejects("t.global_scale", [](auto& t) { t.global_scale = std::nanf(""); });
    cn.rejects("t.global_scale", [](auto& t) { t.global_scale = -1.0f; });
    cn.rejects("t.global_scale",
               [](auto& t) { t.global_scale = std::numeric_limits<float>::infinity(); });
}

TEST_CASE("codebook options and codebook_tensor::validate") {
    CHECK(error_field([] { codebook_quantizer<4> q({.group_size = 0}); }) == "options.group_size");
    CHECK(error_field([] { codebook_quantizer<4> q({.group_size = std::size_t(-64)}); }) ==
          "options.group_size");
    CHECK(error_field([] { codebook_quantizer<4> q({.order = static_cast<nibble_order>(9)}); }) ==
          "options.order");
    CHECK(error_field([] { codebook_quantizer<3> q({.order = nibble_order::high_first}); }) ==
          "options.order");
    round_trips(codebook_quantizer<4>({.group_size = 1000}), {3, 100});
    round_trips(codebook_quantizer<4>({.group_size = 1, .double_quant = true}), {3, 7});
    round_trips(codebook_quantizer<3>({.group_size = max_group_size}), {2, 9});

    const codebook_quantizer<4> q({.group_size = 32, .order = nibble_order::high_first});
    const auto good = q.quantize(x, shape);
    const auto c = check(q, good);
    c.accepts();
    c.rejects("t.shape", [](auto& t) { t.shape = {std::size_t{1} << 33, std::size_t{1} << 31}; });
    c.rejects("t.group_size", [](auto& t) { t.group_size = 0; });
    c.rejects("t.group_size", [](auto& t) {
        t.group_size = std::size_t(-64);
        t.scales.clear();
    });
    c.rejects("t.order", [](auto& t) { t.order = static_cast<nibble_order>(7); });
    c.rejects("t.packed", [](auto& t) { t.packed.pop_back(); });
    c.rejects("t.scales", [](auto& t) { t.scales.pop_back(); });
    c.rejects("t.scales", [](auto& t) { t.group_size = 64; });
    c.rejects("t.qscales", [](auto& t) { t.qscales.assign(t.group_count(), 0); });
    c.rejects("t.dq_steps", [](auto& t) { t.dq_steps.assign(1, 0.0f); });
    c.rejects("t.scales", [](auto& t) { t.double_quant = true; });  // scales left over, no qscales

    const codebook_quantizer<4> dq({.double_quant = true});
    const auto gd = dq.quantize(x, shape);
    const auto cd = check(dq, gd);
    cd.accepts();
    cd.rejects("t.qscales", [](auto& t) { t.qscales.pop_back(); });
    cd.rejects("t.dq_steps", [](auto& t) { t.dq_steps.clear(); });
    cd.rejects("t.scales", [](auto& t) { t.scales.assign(t.group_count(), 1.0f); });

    const codebook_quantizer<3> q3;
    const auto g3 = q3.quantize(x, shape);
    check(q3, g3).accepts();
    check(q3, g3).rejects("t.order", [](auto& t) { t.order = nibble_order::ggml_split; });
    // The tensor's group size and order decide decode; encode needs the quantizer's codebook.
    CHECK(codebook_quantizer<4>().dequantize(good) == q.dequantize(good));
    auto u = good;
    u.cb = normal_float_codebook<4>();
    CHECK_NOTHROW(q.encode(x, u, 0, x.size(), backend::simd));
    u.cb.levels[3] = 0.5f;
    CHECK(error_field([&] { q.encode(x, u, 0, x.size(), backend::simd); }) == "t.cb");
}

TEST_CASE("log options and log_tensor::validate") {
    CHECK(error_field([] { log_quantizer<4> q({.group = 0}); }) == "options.group");
    CHECK(error_field([] { log_quantizer<4> q({.group = std::size_t(-32)}); }) == "options.group");
    CHECK(error_field([] { log_quantizer<4> q({.round = static_cast<log_rounding>(4)}); }) ==
          "options.round");
    round_trips(log_quantizer<4>({.group = 1000}), {3, 100});
    round_trips(log_quantizer<3>({.group = 1}), {3, 5});

    const log_quantizer<4> q({.group = 16});
    const auto good = q.quantize(x, shape);
    const auto c = check(q, good);
    c.accepts();
    c.rejects("t.shape", [](auto& t) { t.shape = {std::size_t{1} << 40, std::size_t{1} << 30}; });
    c.rejects("t.group", [](auto& t) { t.group = 0; });
    c.rejects("t.group", [](auto& t) {
        t.group = std::size_t(-32);
        t.scales.resize(t.shape.rows);
    });
    c.rejects("t.packed", [](auto& t) { t.packed.push_back(1); });
    c.rejects("t.scales", [](auto& t) { t.scales.pop_back(); });
    c.rejects("t.scales", [](auto& t) { t.group = 32; });
    CHECK(log_quantizer<4>().dequantize(good) ==
          q.dequantize(good));  // the tensor's group decides decode
}

TEST_CASE("BBQ / QuEST options and bbq_tensor::validate") {
    CHECK(error_field([] { bbq_quantizer<4> q({.hadamard = 100}); }) == "options.hadamard");
    CHECK(error_field([] { bbq_quantizer<4> q({.hadamard = std::size_t(-128)}); }) ==
          "options.hadamard");
    CHECK(error_field([] { bbq_quantizer<4> q({.hadamard = 1}); }) == "options.hadamard");
    CHECK(error_field([] { bbq_quantizer<4> q({.hadamard = 65536}); }) == "options.hadamard");
    CHECK(error_field([] { bbq_quantizer<4> q({.sigma_from = static_cast<sigma_source>(9)}); }) ==
          "options.sigma_from");
    CHECK(error_field([] { bbq_quantizer<4> q({.zero = static_cast<bbq_zero>(9)}); }) ==
          "options.zero");
    CHECK(error_field([] { bbq_quantizer<4> q({.order = static_cast<nibble_order>(9)}); }) ==
          "options.order");
    CHECK(error_field([] { quest_quantizer<3> q({.order = nibble_order::high_first}); }) ==
          "options.order");
    // Rows of any length: a tail shorter than H is cut into power-of-two blocks; H above the row is
    // legal.
    round_trips(bbq_quantizer<4>({.hadamard = 32768}), {2, 100});
    round_trips(bbq_quantizer<4>({.hadamard = 2}), {3, 7});
    round_trips(quest_quantizer<3>({.hadamard = 0}), {3, 7});

    const bbq_quantizer<4> q({.hadamard = 32, .sigma_from = sigma_source::per_row});
    const auto good = q.quantize(x, shape);
    const auto c = check(q, good);
    c.accepts();
    c.rejects("t.shape", [](auto& t) { t.shape = {std::size_t{1} << 33, std::size_t{1} << 31}; });
    c.rejects("t.opt.hadamard", [](auto& t) { t.opt.hadamard = 48; });
    c.rejects("t.opt.hadamard", [](auto& t) { t.opt.hadamard = std::size_t(-128); });
    c.rejects("t.opt.sigma_from", [](auto& t) { t.opt.sigma_from = static_cast<sigma_source>(9); });
    c.rejects("t.opt.zero", [](auto& t) { t.opt.zero = static_cast<bbq_zero>(9); });
    c.rejects("t.opt.order", [](auto& t) { t.opt.order = static_cast<nibble_order>(7); });
    c.rejects("t.opt.order", [](auto& t) { t.opt.order = nibble_order::ggml_split; });
    c.rejects("t.packed", [](auto& t) { t.packed.pop_back(); });
    c.rejects("t.sigmas", [](auto& t) { t.sigmas.clear(); });
    c.rejects("t.scales", [](auto& t) { t.scales.pop_back(); });
    c.rejects("t.sigmas", [](auto& t) {
        t.opt.sigma_from = sigma_source::per_tensor;
    });  // 4 slots for a one-slot source

    const quest_quantizer<3> q3;
    const auto g3 = q3.quantize(x, shape);
    check(q3, g3).accepts();
    check(q3, g3).rejects("t.opt.order", [](auto& t) { t.opt.order = nibble_order::high_first; });
    // The tensor's transform decides decode; encode needs the quantizer's own options.
    CHECK(bbq_quantizer<4>().dequantize(good) == q.dequantize(good));
    auto u = good;
    CHECK(error_field([&] { bbq_quantizer<4>().encode(x, u, 0, x.size(), backend::simd); }) ==
          "t.opt");
}

TEST_CASE("registry adapters validate the kept tensor") {
    for (const auto& s : all_schemes()) {
        CAPTURE(s.name);
        auto inst = s.make();
        std::vector<float> none;
        CHECK_NOTHROW(inst->dequantize(none));  // an empty default tensor is valid
        inst->quantize(x, shape);
        std::vector<float> y(x.size());
        CHECK_NOTHROW(inst->dequantize(y));
        CHECK(inst->codes().size() == x.size());
    }
}
