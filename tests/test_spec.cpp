// Scheme spec strings (spec.hpp): each parses into the quantizer the templates would build with
// the same options (same codes and values), the registered names resolve to the registry, and
// every mistake is a lowbit::error naming the spec with the valid keys, values or formats.
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <lowbit/spec.hpp>

#include "test_util.hpp"

namespace {

using namespace lowbit;

const shape2d shape{8, 256};

/// The codes and dequantized bits of scheme s on fixed data.
struct result {
    std::vector<std::uint8_t> codes;
    std::vector<float> values;
    double bits;
};

result run(const scheme_info& s) {
    const auto x = lowbit_test::gaussian(shape.size(), 41);
    auto q = s.make();
    q->quantize(x, shape);
    result r{q->codes(), std::vector<float>(x.size()), q->bits_per_value()};
    q->dequantize(r.values);
    return r;
}

template <class Q>
result run_direct(const Q& q) {
    return run(scheme_info{
        "direct", "", "",
        [q] { return std::unique_ptr<scheme_instance>(new quantizer_instance<Q>(q)); }});
}

void check_same(const result& a, const result& b) {
    CHECK(a.codes == b.codes);
    REQUIRE(a.values.size() == b.values.size());
    CHECK(std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0);
    CHECK(a.bits == b.bits);
}

}  // namespace

TEST_CASE("spec strings build the quantizer their options describe") {
    check_same(run(parse_scheme("int4:g=128:scale=mse")),
               run_direct(int_quantizer<int_format<4>>(
                   {.gran = granularity::group(128), .rule = scale_rule::mse_search()})));
    check_same(run(parse_scheme("nf4:g=64:dq")),
               run_direct(codebook_quantizer<4>({.group_size = 64, .double_quant = true})));
    check_same(run(parse_scheme("nf4:dq=int8")),
               run_direct(codebook_quantizer<4>({.double_quant = true})));
    check_same(run(parse_scheme("nf4:dq=bnb")),
               run_direct(codebook_quantizer<4>(
                   {.double_quant = true, .dq_map = double_quant_map::bnb_dynamic})));
    check_same(
        run(parse_scheme("nf2:g=32:dq=bnb")),
        run_direct(codebook_quantizer<2>(
            {.group_size = 32, .double_quant = true, .dq_map = double_quant_map::bnb_dynamic})));
    check_same(
        run(parse_scheme("sf4:g=32:nu=3")),
        run_direct(codebook_quantizer<4>(student_float_codebook<4>(3.0), {.group_size = 32})));
    check_same(
        run(parse_scheme("sf3:dq")),
        run_direct(codebook_quantizer<3>(student_float_codebook<3>(), {.double_quant = true})));
    check_same(run(parse_scheme("quest4:sigma=row")),
               run_direct(quest_quantizer<4>({.sigma_from = sigma_source::per_row})));
    check_same(run(parse_scheme("hadamard128+nf4:g=64")),
               run_direct(transformed_quantizer<codebook_quantizer<4>>(codebook_quantizer<4>(),
                                                                       {.hadamard = 128})));
    check_same(run(parse_scheme("e4m3fn:scale=channel")),
               run_direct(minifloat_quantizer<e4m3fn>({.gran = granularity::channel(0)})));
    check_same(run(parse_scheme("e4m3fn:scale=mse:scale=channel")),
               run_direct(minifloat_quantizer<e4m3fn>(
                   {.gran = granularity::channel(0), .rule = scale_rule::mse_search()})));
    check_same(
        run(parse_scheme("uint4:gran=col:scale=mse:form=zp:st=bf16")),
        run_direct(int_quantizer<uint_format<4>, Eigen::bfloat16>({.gran = granularity::channel(1),
                                                                   .rule = scale_rule::mse_search(),
                                                                   .form = affine::zero_point})));
    check_same(
        run(parse_scheme("hadamard64+int4:g=32:range=full:st=f16")),
        run_direct(
            transformed_quantizer<int_quantizer<int_format<4, int_range::full>, Eigen::half>>(
                int_quantizer<int_format<4, int_range::full>, Eigen::half>(
                    {.gran = granularity::group(32)}),
                {.hadamard = 64})));
    check_same(run(parse_scheme("bbq2:h=0")),
               run_direct(bbq_quantizer<2>({.hadamard = 0, .zero = bbq_zero::half})));
    check_same(run(parse_scheme("int8:scale=mse:scale=row")),
               run_direct(int_quantizer<int_format<8>>(
                   {.gran = granularity::channel(0), .rule = scale_rule::mse_search()})));
}

TEST_CASE("spec strings that spell a registered scheme give its results") {
    const std::pair<const char*, const char*> same[] = {
        {"int8", "int8"},
        {"int8:scale=mse", "int8_mse"},
        {"int4:g=32:range=full:st=f16", "int4_g32"},
        {"uint4:g=32:st=f16", "uint4_g32"},
        {"int4:scale=row", "int4_ch"},
        {"e2m1:g=32:st=f16", "e2m1_g32"},
        {"e4m3fn", "e4m3fn"},
        {"nf4", "nf4_g64"},
        {"nf3:g=64", "nf3_g64"},
        {"nf4:dq", "nf4_g64_dq"},
        {"sf4", "sf4_g64"},
        {"bbq4", "bbq4"},
        {"bbq1", "bbq1"},
        {"quest3", "quest3"},
    };
    for (const auto& [spec, name] : same) {
        CAPTURE(spec);
        const auto parsed = parse_scheme(spec);
        CHECK(parsed.name == spec);
        check_same(run(parsed), run(find_scheme(name)));
        CHECK(resolve_scheme(name).name ==
              name);  // a registered name resolves to the registry's entry
        CHECK(resolve_scheme(name).description == find_scheme(name).description);
    }
}

TEST_CASE("spec mistakes are errors that name the spec and list what is valid") {
    struct bad {
        const char* spec;
        const char* says;
    };
    for (const bad& b :
         {bad{"nf4:foo=1", "takes no option 'foo' (valid: g, dq)"},
          bad{"int4:scale=bogus",
              "'scale' must be one of absmax, mse, gaussian, tensor, channel, row, col"},
          bad{"uint4:form=affine", "'form' must be one of offset, zp"},
          bad{"int5:g=32", "unknown format 'int5' (valid: int2, int3, int4, int8"},
          bad{"hadamard100+nf4", "hadamardH with H a power of two"},
          bad{"nf4:g=0", "'g' must be a group size >= 1"},
          bad{"int4:g=32:gran=row", "exclude each other"},
          bad{"nf4:dq=1", "'dq' must be given alone or as dq=int8 or dq=bnb (got '1')"},
          bad{"int4:g", "'g' needs a value"},
          bad{"int4::g=3", "empty option"},
          bad{"quest4:h=96", "'h' must be 0 or a power of two"},
          bad{"e4m3fn:scale=gaussian", "'scale' must be one of absmax, mse, tensor"},
          bad{"e4m3fn:st=bf16", "'st' must be one of f32, f16"},
          bad{"e2m1:gran=col", "not col"},
          bad{"sf4:nu=0", "'nu' must be a number in (0, 340] (got '0')"},
          bad{"sf4:nu=5x", "'nu' must be a number"},
          bad{"sf2:nu=400", "'nu' must be a number"},
          bad{"nf4:nu=5", "takes no option 'nu' (valid: g, dq)"},
          bad{"sf4:foo", "takes no option 'foo' (valid: g, dq, nu)"},
          bad{":g=3", "no format"}}) {
        CAPTURE(b.spec);
        CHECK_THROWS_WITH_AS((void)parse_scheme(b.spec), doctest::Contains(b.says), error);
        const std::string quoted = std::string("'") + b.spec + "'";
        CHECK_THROWS_WITH_AS((void)parse_scheme(b.spec), doctest::Contains(quoted.c_str()), error);
    }
    CHECK_THROWS_AS((void)resolve_scheme("no_such_scheme"), error);
}
