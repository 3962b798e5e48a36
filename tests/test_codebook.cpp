// Codebooks: NF4 against bitsandbytes' table and codes, NF3/NF2 against the documented
// construction, nearest-level encoding at every midpoint ± 1 ulp, fitted codebooks, double
// quantisation, SIMD vs reference bit for bit on random and adversarial data.
#include <doctest/doctest.h>

#include <lowbit/quantizers/codebook.hpp>
#include <lowbit/core/metrics.hpp>
#include <lowbit/parallel.hpp>
#include <lowbit/io/safetensors.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace lowbit;

namespace {
float from_hex(const std::string& h) {
    const std::uint32_t u = static_cast<std::uint32_t>(std::stoul(h, nullptr, 16));
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
/// A table file of tests/data/codebook/: name, then levels as float32 hex:decimal, per line.
std::map<std::string, std::vector<float>> read_tables(const char* file = "nf_tables.txt") {
    std::ifstream in(std::string(LOWBIT_TEST_DATA_DIR) + "/codebook/" + file);
    REQUIRE(in.good());
    std::map<std::string, std::vector<float>> m;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream s(line);
        std::string name, tok;
        s >> name;
        while (s >> tok) m[name].push_back(from_hex(tok.substr(0, tok.find(':'))));
    }
    return m;
}
template <int Bits>
void check_table(const codebook<Bits>& cb, const std::vector<float>& want) {
    REQUIRE(want.size() == cb.size);
    for (std::size_t i = 0; i < cb.size; ++i) {
        CHECK(std::fabs(cb.levels[i] - want[i]) <= 1e-7);
        CHECK(cb.levels[i] == want[i]);  // and in fact bit for bit
    }
}
}  // namespace

TEST_CASE("NF4 is bitsandbytes' table exactly; NF3 and NF2 follow its construction") {
    auto t = read_tables();
    check_table(normal_float_codebook<4>(), t["nf4_bnb"]);
    check_table(normal_float_codebook<4>(), t["nf4"]);
    check_table(normal_float_codebook<3>(), t["nf3"]);
    check_table(normal_float_codebook<2>(), t["nf2"]);
    const auto nf4 = normal_float_codebook<4>();
    CHECK(nf4.levels[7] == 0.0f);
    CHECK(nf4.zero_code() == 7);
    CHECK(nf4.thresholds[7] == 0.03979014977812767f);  // bitsandbytes' dQuantizeNF4 midpoint
}

TEST_CASE("normal_quantile to 1e-12") {
    CHECK(std::fabs(normal_quantile(0.975) - 1.959963984540054) < 1e-12);
    CHECK(std::fabs(normal_quantile(0.5)) < 1e-15);
    CHECK(std::fabs(normal_quantile(1e-10) + 6.361340902404056) < 1e-11);
    for (double p = 0.001; p < 1; p += 0.0137)
        CHECK(std::fabs(detail::std_normal_cdf(normal_quantile(p)) - p) < 1e-14);
    CHECK_THROWS_AS((void)normal_quantile(1.5), error);
}

TEST_CASE("NF4 codes equal bitsandbytes' on its vectors (groups of 64)") {
    std::ifstream in(std::string(LOWBIT_TEST_DATA_DIR) + "/codebook/nf4_vectors.txt");
    REQUIRE(in.good());
    std::vector<float> x;
    std::vector<std::uint8_t> want;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream s(line);
        std::string h;
        int c;
        s >> h >> c;
        x.push_back(from_hex(h));
        want.push_back(static_cast<std::uint8_t>(c));
    }
    REQUIRE(x.size() == 256);
    codebook_quantizer<4> q;
    for (auto b : {backend::scalar, backend::simd}) CHECK(q.quantize(x, b).codes() == want);
}

TEST_CASE("encode is the nearest level: every midpoint and its neighbours") {
    auto check = [](const auto& cb) {
        for (std::size_t i = 0; i + 1 < cb.size; ++i) {
            const float t = cb.thresholds[i];
            CHECK(cb.encode(t) == i);  // a tie goes to the lower level
            CHECK(cb.encode(std::nextafter(t, 2.0f)) == i + 1);
            CHECK(cb.encode(std::nextafter(t, -2.0f)) == i);
        }
        for (std::size_t i = 0; i < cb.size; ++i) CHECK(cb.encode(cb.levels[i]) == i);
        CHECK(cb.encode(NAN) == cb.encode(0.0f));
        CHECK(cb.encode(INFINITY) == cb.size - 1);
        CHECK(cb.encode(-INFINITY) == 0);
        // brute-force nearest on a sweep
        for (float y = -1.2f; y <= 1.2f; y += 0.00037f) {
            const auto c = cb.encode(y);
            for (std::size_t k = 0; k < cb.size; ++k)
                CHECK(std::fabs(y - cb.levels[c]) <= std::fabs(y - cb.levels[k]));
        }
    };
    check(normal_float_codebook<2>());
    check(normal_float_codebook<3>());
    check(normal_float_codebook<4>());
    check(normal_float_codebook<6>());
}

TEST_CASE_TEMPLATE("SIMD equals the reference: codes, scales, values", T,
                   std::integral_constant<int, 2>, std::integral_constant<int, 3>,
                   std::integral_constant<int, 4>, std::integral_constant<int, 5>,
                   std::integral_constant<int, 8>) {
    constexpr int B = T::value;
    for (int dq = 0; dq < 3; ++dq)  // none, linear INT8, bitsandbytes' dynamic map
        for (std::size_t group : {std::size_t{64}, std::size_t{32}, std::size_t{7}})
            for (std::size_t cols : lowbit_test::lengths())
                for (int kind = 0; kind < 2; ++kind) {
                    const std::size_t rows = cols > 1000 ? 1 : 3;
                    const auto x = kind
                        ? lowbit_test::adversarial(rows * cols, unsigned(cols + group))
                        : lowbit_test::gaussian(rows * cols, unsigned(cols * 3 + group));
                    codebook_quantizer<B> q({.group_size = group,
                                             .double_quant = dq > 0,
                                             .dq_map = dq == 2 ? double_quant_map::bnb_dynamic
                                                               : double_quant_map::linear_int8});
                    const auto a = q.quantize(x, {rows, cols}, backend::scalar);
                    const auto b = q.quantize(x, {rows, cols}, backend::simd);
                    INFO("B = " << B << " dq = " << dq << " group = " << group << " cols = " << cols
                                << " kind = " << kind);
                    CHECK(a.packed == b.packed);
                    CHECK(a.scales == b.scales);
                    CHECK(a.qscales == b.qscales);
                    CHECK(a.dq_steps == b.dq_steps);
                    CHECK(lowbit_test::same_bits(q.dequantize(a, backend::scalar),
                                                 q.dequantize(a, backend::simd)));
                }
}

TEST_CASE("quantize round trip: values are level * absmax; all-zero groups decode to 0") {
    auto x = lowbit_test::gaussian(3 * 100, 4);
    for (std::size_t i = 64; i < 100; ++i) x[i] = 0.0f;  // row 0's second (short) group
    codebook_quantizer<4> q;
    const auto t = q.quantize(x, {3, 100});
    CHECK(t.scales.size() == 6);
    CHECK(t.scales[1] == 0.0f);
    const auto y = q.dequantize(t);
    const auto c = t.codes();
    for (std::size_t i = 0; i < x.size(); ++i) {
        const std::size_t g = (i / 100) * 2 + (i % 100) / 64;
        CHECK(y[i] == t.cb.levels[c[i]] * t.scales[g]);
    }
    for (std::size_t i = 64; i < 100; ++i) CHECK(y[i] == 0.0f);
    // NF4 on N(0,1) in groups of 64: SQNR ~ 20.5 dB (QLoRA's regime); pinned to a tight range.
    const auto g = lowbit_test::gaussian(1 << 16, 8);
    const double sqnr = sqnr_db(g, q.dequantize(q.quantize(g)));
    CHECK(sqnr > 19.5);
    CHECK(sqnr < 21.5);
}

TEST_CASE("double quantisation: 8-bit scales, per 256 groups, close to the absmax") {
    const auto x = lowbit_test::gaussian(64 * 1000, 12);
    codebook_quantizer<4> q({.double_quant = true});
    const auto t = q.quantize(x);
    CHECK(t.qscales.size() == 1000);
    CHECK(t.dq_steps.size() == 4);
    CHECK(t.bits_per_value() == doctest::Approx(4 + 8.0 / 64 + (4 * 32 + 32) / 64000.0));
    const auto plain = codebook_quantizer<4>().quantize(x);
    for (std::size_t g = 0; g < 1000; ++g)
        CHECK(std::fabs(t.scale(g) - plain.scales[g]) <= 0.5001f * t.dq_steps[g / 256]);
    const double s_dq = sqnr_db(x, q.dequantize(t)),
                 s = sqnr_db(x, codebook_quantizer<4>().dequantize(plain));
    CHECK(s_dq > s - 0.3);
}

TEST_CASE("bitsandbytes' NF4 with compress_statistics: its map, codes and decode exactly") {
    // tests/data/codebook/bnb_nf4_dq.safetensors: bitsandbytes 0.50.2 on the CPU
    // (scripts/make_bnb_nf4_vectors.py).
    const safetensors_file f(std::string(LOWBIT_TEST_DATA_DIR) +
                             "/codebook/bnb_nf4_dq.safetensors");
    auto floats = [&](const std::string& name) {
        const auto b = f.bytes(name);
        std::vector<float> v(b.size() / 4);
        std::memcpy(v.data(), b.data(), b.size());
        return v;
    };
    auto bytes = [&](const std::string& name) {
        const auto b = f.bytes(name);
        return std::vector<std::uint8_t>(b.begin(), b.end());
    };
    const auto& map = bnb_dynamic_map();
    const auto ref_map = floats("dynamic_map");
    REQUIRE(ref_map.size() == 256);
    CHECK(std::memcmp(map.data(), ref_map.data(), sizeof(float) * 256) == 0);

    const codebook_quantizer<4> q({.double_quant = true,
                                   .order = nibble_order::high_first,
                                   .dq_map = double_quant_map::bnb_dynamic});
    std::size_t near_ties = 0;
    for (const std::string c : {"a", "b"}) {
        CAPTURE(c);
        const auto& info = f.info(c + ".x");
        const shape2d shape{info.shape[0], info.shape[1]};
        const auto x = floats(c + ".x");
        const auto t = q.quantize(x, shape);
        // The 4-bit codes, packed high nibble first: bitsandbytes' bytes.
        CHECK(t.packed == bytes(c + ".packed"));
        // The mean of the absmaxes: lowbit sums in double, torch in float32 (its cascade order);
        // the two agree to the last bit or differ in it.
        const float offset = floats(c + ".offset")[0];
        CHECK(std::fabs(t.dq_mean - offset) <= std::nextafter(offset, INFINITY) - offset);
        // Given bitsandbytes' mean, each block's absmax is its exactly, and each index is the map
        // value nearest (a_g - m) / d. bitsandbytes' CPU search returns the next index up for
        // some values just below a midpoint: there its value is the farther of the two.
        const std::size_t groups = t.group_count();
        std::vector<float> a(groups);
        for (std::size_t g = 0; g < groups; ++g) a[g] = observe_absmax(x.data() + g * 64, 64);
        const auto qref = bytes(c + ".qabsmax");
        const auto dref = floats(c + ".absmax2");
        REQUIRE(qref.size() == groups);
        REQUIRE(dref.size() == (groups + 255) / 256);
        for (std::size_t k = 0; k < dref.size(); ++k) {
            const std::size_t g0 = k * 256, n = std::min<std::size_t>(256, groups - g0);
            float d = 0;
            std::vector<std::int8_t> qs(n);
            detail::bnb_absmax_block(std::span<const float>(a).subspan(g0, n), offset, d, qs);
            CHECK(d == dref[k]);
            for (std::size_t i = 0; i < n; ++i) {
                const int ours = std::uint8_t(qs[i]), theirs = qref[g0 + i];
                if (ours == theirs) continue;
                const float y = (a[g0 + i] - offset) / d;
                CAPTURE(y);
                CHECK(theirs == ours + 1);
                CHECK(std::fabs(y - map[ours]) < std::fabs(y - map[theirs]));
                ++near_ties;
            }
        }
        // Decode of bitsandbytes' own state: dequantize_4bit's values, bit for bit.
        auto u = t;
        u.qscales.assign(qref.begin(), qref.end());
        u.dq_steps = dref;
        u.dq_mean = offset;
        u.packed = bytes(c + ".packed");
        CHECK(lowbit_test::same_bits(q.dequantize(u), floats(c + ".y")));
        CHECK(lowbit_test::same_bits(q.dequantize(u, backend::scalar), floats(c + ".y")));
    }
    MESSAGE(near_ties << " of 392 absmax indices are bitsandbytes' next one up");
}

TEST_CASE("fitted codebook: equal-count bins give near-uniform code use; mean vs median") {
    const auto x = lowbit_test::gaussian(1 << 18, 21);
    std::vector<float> u(x.size());
    float mx = 0;
    for (float v : x) mx = std::max(mx, std::fabs(v));
    for (std::size_t i = 0; i < x.size(); ++i) u[i] = x[i] / mx;
    const auto mean = fit_codebook<3>(u), med = fit_codebook<3>(u, level_statistic::median);
    for (std::size_t k = 0; k + 1 < 8; ++k) CHECK(mean.levels[k] < mean.levels[k + 1]);
    for (std::size_t k = 0; k < 8; ++k) CHECK(std::fabs(mean.levels[k] - med.levels[k]) < 0.05f);
    // The outermost bin's mean lies further out than its median (the tail pulls it).
    CHECK(mean.levels[7] > med.levels[7]);
    codebook_quantizer<3> q(mean, {.group_size = x.size()});
    const auto t = q.quantize(x);
    CHECK(code_entropy_bits(t.codes(), 3) > 2.85);
}

TEST_CASE("parallel quantize equals the serial one") {
    const auto x = lowbit_test::gaussian(5 * 3001, 2);
    codebook_quantizer<4> q({.double_quant = true});
    const auto a = q.quantize(x, {5, 3001});
    const auto b = quantize_parallel(q, x, {5, 3001}, 3);
    CHECK(a.packed == b.packed);
    CHECK(a.qscales == b.qscales);
}

TEST_CASE("bad arguments are errors naming the argument") {
    CHECK_THROWS_AS(codebook_quantizer<4>({.group_size = 0}), error);
    const std::vector<float> bad = {0.5f, 0.1f, 0.2f, 0.3f};
    CHECK_THROWS_AS(codebook<2>::from_levels(bad), error);
    const std::vector<float> out = {-2.0f, 0.1f, 0.2f, 0.3f};
    CHECK_THROWS_AS(codebook<2>::from_levels(out), error);
    std::vector<float> x(10);
    CHECK_THROWS_AS((void)codebook_quantizer<4>().quantize(x, {3, 3}), error);
    CHECK_THROWS_AS((void)fit_codebook<4>(std::span<const float>(x.data(), 10)), error);
}

namespace {
double laplace_quantile(double p) {
    return -std::copysign(1.0, p - 0.5) * std::log1p(-2.0 * std::fabs(p - 0.5));
}
}  // namespace

TEST_CASE("student_t_quantile: closed forms for 1 and 2 degrees of freedom, scipy elsewhere") {
    const double pi = 3.14159265358979323846;
    for (double p : {1e-9, 1e-4, 0.01, 0.2, 0.4999, 0.5000001, 0.6, 0.75, 0.9, 0.9677083, 0.999}) {
        CAPTURE(p);
        // ν = 1: tan(π(p − ½)), where p − ½ is exact (p >= ¼), else −1 / tan(πp)
        const double cauchy = p >= 0.25 ? std::tan(pi * (p - 0.5)) : -1.0 / std::tan(pi * p);
        CHECK(std::fabs(student_t_quantile(p, 1.0) - cauchy) <= 1e-12 * std::fabs(cauchy));
        const double t2 = (2 * p - 1) / std::sqrt(2 * p * (1 - p));  // ν = 2
        CHECK(std::fabs(student_t_quantile(p, 2.0) - t2) <= 1e-12 * std::fabs(t2));
        if (p >= 0.25)  // 1 − p exact: the quantile is odd about ½
            CHECK(student_t_quantile(1.0 - p, 5.0) == -student_t_quantile(p, 5.0));
    }
    CHECK(student_t_quantile(0.5, 5.0) == 0.0);
    CHECK(student_t_quantile(0.0, 5.0) == -INFINITY);
    CHECK(student_t_quantile(1.0, 5.0) == INFINITY);
    // scipy.stats.t.ppf (scripts/gen_sf_vectors.py), ν from 0.5 to 100, p from 1e-12 to 1 − 1e-6.
    std::ifstream in(std::string(LOWBIT_TEST_DATA_DIR) + "/codebook/t_quantiles.txt");
    REQUIRE(in.good());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream s(line);
        double nu, p, want;
        s >> nu >> p >> want;
        CAPTURE(nu);
        CAPTURE(p);
        CHECK(std::fabs(student_t_quantile(p, nu) - want) <= 1e-11 * std::fabs(want));
        ++n;
    }
    CHECK(n == 84);
    CHECK_THROWS_AS((void)student_t_quantile(0.5, 0.0), error);
    CHECK_THROWS_AS((void)student_t_quantile(0.5, 341.0), error);
    CHECK_THROWS_AS((void)student_t_quantile(1.5, 5.0), error);
    CHECK_THROWS_AS((void)student_t_quantile(NAN, 5.0), error);
}

TEST_CASE("SF4/SF3/SF2 and quantile codebooks equal the construction done with scipy") {
    auto t = read_tables("sf_tables.txt");
    check_table(student_float_codebook<4>(), t["sf4"]);
    check_table(student_float_codebook<3>(), t["sf3"]);
    check_table(student_float_codebook<2>(), t["sf2"]);
    check_table(student_float_codebook<4>(3.0), t["sf4_nu3"]);
    check_table(quantile_codebook<4>(laplace_quantile), t["laplace4"]);
    const auto sf4 = student_float_codebook<4>();
    CHECK(sf4.levels[7] == 0.0f);
    CHECK(sf4.levels[0] == -1.0f);
    CHECK(sf4.levels[15] == 1.0f);
    // Heavier tails than the normal: SF4's inner levels sit closer to 0 than NF4's.
    const auto nf4 = normal_float_codebook<4>();
    for (int i = 1; i < 15; ++i)
        if (i != 7) CHECK(std::fabs(sf4.levels[i]) < std::fabs(nf4.levels[i]));
    // With the normal quantile, the any-distribution path is NormalFloat (Q(1 − p) = −Q(p) here
    // to the bit for every level).
    const auto q4 = quantile_codebook<4>([](double p) { return normal_quantile(p); });
    for (int i = 0; i < 16; ++i) CHECK(std::fabs(q4.levels[i] - nf4.levels[i]) <= 1e-7f);
    // An asymmetric distribution keeps its shape: the shifted-exponential quantile's lower levels
    // are short of −1.
    const auto skew =
        quantile_codebook<3>([](double p) { return -std::log1p(-p) - std::log(2.0); });
    CHECK(skew.levels[7] == 1.0f);
    CHECK(skew.levels[0] > -1.0f);
}

TEST_CASE("SF4: quantize equals the reference on every path; bad quantile functions are errors") {
    const codebook_quantizer<4> q(student_float_codebook<4>(), {});
    for (std::size_t cols : lowbit_test::lengths())
        for (int kind = 0; kind < 2; ++kind) {
            const std::size_t rows = cols > 1000 ? 1 : 3;
            const auto x = kind ? lowbit_test::adversarial(rows * cols, unsigned(cols + 5))
                                : lowbit_test::gaussian(rows * cols, unsigned(cols * 7));
            const auto a = q.quantize(x, {rows, cols}, backend::scalar);
            const auto b = q.quantize(x, {rows, cols}, backend::simd);
            CAPTURE(cols);
            CAPTURE(kind);
            CHECK(a.packed == b.packed);
            CHECK(a.scales == b.scales);
            CHECK(lowbit_test::same_bits(q.dequantize(a, backend::scalar),
                                         q.dequantize(b, backend::simd)));
        }
    auto message = [](auto f) -> std::string {
        try {
            (void)f();
        } catch (const error& e) { return e.what(); }
        return "";
    };
    CHECK(message([] {
              return quantile_codebook<4>([](double) { return NAN; });
          }).find("inverse_cdf") != std::string::npos);
    CHECK(message([] {
              return quantile_codebook<4>([](double p) { return 0.5 - p; });
          }).find("inverse_cdf") != std::string::npos);  // decreasing: wrong signs
    CHECK(message([] {
              return quantile_codebook<4>([](double p) {
                  return p > 0.5 ? std::sin(40 * p) + 2 : -(std::sin(40 * p) + 2);
              });
          }).find("non-decreasing") != std::string::npos);
    CHECK(message([] { return student_float_codebook<4>(0.0); }).find("nu") != std::string::npos);
    CHECK(message([] { return student_float_codebook<4>(5.0, 0.4f); }).find("offset") !=
          std::string::npos);
}
