// lowbit — schemes as values: a spec string names a family and its options, and parses into the
// same quantizer options the templates take.
//
//   spec   := [ "hadamard" H "+" ] base { ":" option }
//   base   := int2 | int3 | int4 | int8          signed integers (restricted range by default)
//           | uint4 | uint8                      unsigned integers (min/max, offset form)
//           | e4m3fn | e5m2 | e4m3fnuz | e3m2 | e2m3 | e2m1     minifloats (absmax → max finite)
//           | nf2 | nf3 | nf4                    NormalFloat codebooks (group 64 by default)
//           | sf2 | sf3 | sf4                    Student Float codebooks (Student's t, ν = 5)
//           | bbq1 … bbq4 | quest2 … quest4      BBQ / QuEST (Hadamard 128, σ per tensor)
//   option := key "=" value | flag
// The same key means the same thing in every family that takes it:
//   g=N          groups of N values along a row (per-group scales)
//   gran=…       where the scales live: tensor, row (one per row), col (one per column)
//   scale=…      the scale rule (absmax, minmax, mse, gaussian) or, as a shorthand for gran,
//                tensor / channel (= row) / row / col; may be given twice (scale=mse:scale=row)
//   st=…         how scales are stored: f32, f16, bf16
//   range=…      signed integers: restricted (−(2^{b−1}−1) … 2^{b−1}−1) or full (−2^{b−1} …)
//   form=…       unsigned integers: offset (float minimum) or zp (8-bit zero point)
//   dq[=…]       NormalFloat / Student Float: double-quantised scales; dq or dq=int8: linear
//                INT8 per 256 groups (lowbit's), dq=bnb: bitsandbytes' dynamic 8-bit map
//   nu=V         Student Float: the t distribution's degrees of freedom, 0 < V <= 340
//   sigma=…      BBQ / QuEST: σ per tensor or per row
//   h=H          BBQ / QuEST: their own Hadamard block (0: none)
// "hadamard128+nf4:g=64" rotates rows by the blockwise Hadamard transform of 128 before the NF4
// quantizer (quantizers/transformed.hpp). A key a family does not take, or a value outside its
// list, is a lowbit::error that names the spec and lists the valid keys or values.
//
// This header is not part of lowbit.hpp: it instantiates a quantizer for every combination the
// grammar allows, which costs compile time only where spec strings are wanted (and once per
// program where the registry is compiled separately: schemes.hpp says how).
#pragma once
#include <charconv>
#include <initializer_list>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lowbit.hpp"
#include "quantizers/transformed.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail_spec {

struct option {
    std::string key, value;  ///< value empty for a flag
};

/// The spec split into its transform, base and options; syntax errors name the spec.
struct parts {
    std::string spec;
    std::size_t hadamard = 0;
    std::string base;
    std::vector<option> options;
};

[[noreturn]] inline void fail(const parts& p, const std::string& message) {
    throw error("scheme", "'" + p.spec + "': " + message);
}

inline bool parse_size(std::string_view s, std::size_t& out) {
    if (s.empty() || s.size() > 9) return false;
    std::size_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + std::size_t(c - '0');
    }
    out = v;
    return true;
}

inline parts split(std::string_view spec) {
    parts p;
    p.spec = std::string(spec);
    std::string_view rest = spec;
    if (const auto plus = rest.find('+'); plus != std::string_view::npos) {
        const std::string_view t = rest.substr(0, plus);
        constexpr std::string_view prefix = "hadamard";
        if (t.substr(0, prefix.size()) != prefix ||
            !parse_size(t.substr(prefix.size()), p.hadamard) || !is_hadamard_size(p.hadamard))
            fail(p,
                 "the transform before '+' must be hadamardH with H a power of two in 2 … 32768 "
                 "(e.g. hadamard128)");
        rest = rest.substr(plus + 1);
    }
    const auto colon = rest.find(':');
    p.base = std::string(rest.substr(0, colon));
    if (p.base.empty()) fail(p, "no format before the options");
    while (colon != std::string_view::npos && !rest.empty()) {
        rest = rest.substr(rest.find(':') + 1);
        const auto next = rest.find(':');
        const std::string_view item = rest.substr(0, next);
        const auto eq = item.find('=');
        option o{std::string(item.substr(0, eq)),
                 eq == std::string_view::npos ? std::string() : std::string(item.substr(eq + 1))};
        if (o.key.empty() || (eq != std::string_view::npos && o.value.empty()))
            fail(p, "empty option '" + std::string(item) + "'");
        p.options.push_back(std::move(o));
        if (next == std::string_view::npos) break;
    }
    return p;
}

/// The options a family accepts, with their values; records what was given.
struct settings {
    const parts& p;
    std::vector<std::string> allowed;  ///< keys this family takes
    std::size_t group = 0;             ///< g
    std::string gran, rule, st, range, form, sigma;
    bool dq = false;
    bool dq_bnb = false;  ///< dq=bnb
    double nu = 5.0;
    std::size_t h = 128;
    bool h_given = false;

    static std::string list(const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
        return s;
    }
    void set(std::string& field, const option& o, const std::vector<std::string>& valid) const {
        for (const auto& v : valid)
            if (o.value == v) {
                field = v;
                return;
            }
        fail(p, "'" + o.key + "' must be one of " + list(valid) + " (got '" + o.value + "')");
    }
    settings(const parts& parts_, std::vector<std::string> keys,
             const std::vector<std::string>& rules)
        : p(parts_), allowed(std::move(keys)) {
        for (const auto& o : p.options) {
            bool known = false;
            for (const auto& k : allowed) known |= o.key == k;
            if (!known)
                fail(p,
                     "'" + p.base + "' takes no option '" + o.key + "' (valid: " + list(allowed) +
                         ")");
            if (o.key != "dq" && o.value.empty()) fail(p, "'" + o.key + "' needs a value");
            if (o.key == "g") {
                if (!parse_size(o.value, group) || group == 0)
                    fail(p, "'g' must be a group size >= 1 (got '" + o.value + "')");
            } else if (o.key == "gran") {
                set(gran, o, {"tensor", "row", "col"});
            } else if (o.key == "scale") {
                std::vector<std::string> valid = rules;
                for (const char* w : {"tensor", "channel", "row", "col"}) valid.emplace_back(w);
                std::string v;
                set(v, o, valid);
                if (v == "tensor" || v == "channel" || v == "row" || v == "col")
                    gran = v == "channel" ? "row" : v;
                else
                    rule = v;
            } else if (o.key == "st") {
                set(st, o, {"f32", "f16", "bf16"});
            } else if (o.key == "range") {
                set(range, o, {"restricted", "full"});
            } else if (o.key == "form") {
                set(form, o, {"offset", "zp"});
            } else if (o.key == "sigma") {
                set(sigma, o, {"tensor", "row"});
            } else if (o.key == "h") {
                if (!parse_size(o.value, h) || (h != 0 && !is_hadamard_size(h)))
                    fail(p, "'h' must be 0 or a power of two in 2 … 32768 (got '" + o.value + "')");
                h_given = true;
            } else if (o.key == "dq") {
                if (!o.value.empty() && o.value != "int8" && o.value != "bnb")
                    fail(
                        p,
                        "'dq' must be given alone or as dq=int8 or dq=bnb (got '" + o.value + "')");
                dq = true;
                dq_bnb = o.value == "bnb";
            } else if (o.key == "nu") {
                const char* end = o.value.data() + o.value.size();
                const auto r = std::from_chars(o.value.data(), end, nu);
                if (r.ec != std::errc{} || r.ptr != end || !(nu > 0.0 && nu <= 340.0))
                    fail(p, "'nu' must be a number in (0, 340] (got '" + o.value + "')");
            }
        }
        if (group && !gran.empty() && gran != "tensor")
            fail(p, "'g' and '" + gran + "' scales exclude each other: give one granularity");
    }
    [[nodiscard]] granularity granularity_or(granularity fallback) const {
        if (group) return granularity::group(group);
        if (gran == "tensor") return granularity::tensor();
        if (gran == "row") return granularity::channel(0);
        if (gran == "col") return granularity::channel(1);
        return fallback;
    }
    [[nodiscard]] scale_rule rule_or(scale_rule fallback) const {
        if (rule == "absmax") return scale_rule::absmax();
        if (rule == "minmax") return scale_rule::minmax();
        if (rule == "mse") return scale_rule::mse_search();
        if (rule == "gaussian") return scale_rule::gaussian_optimal();
        return fallback;
    }
};

/// A scheme_info for quantizer q, behind the Hadamard transform when the spec asks for one.
template <class Q>
scheme_info info(const parts& p, std::string family, std::string description, Q q) {
    if (p.hadamard == 0) {
        return {p.spec, std::move(family), std::move(description),
                [q] { return std::unique_ptr<scheme_instance>(new quantizer_instance<Q>(q)); }};
    }
    using T = transformed_quantizer<Q>;
    const T t(q, {.hadamard = p.hadamard});
    return {p.spec, std::move(family),
            "Hadamard " + std::to_string(p.hadamard) + " along rows, then " + description,
            [t] { return std::unique_ptr<scheme_instance>(new quantizer_instance<T>(t)); }};
}

template <class Format, class ScaleT>
scheme_info int_info(const parts& p, const settings& s) {
    int_options<Format> o;
    o.gran = s.granularity_or(granularity::tensor());
    o.rule = s.rule_or(Format::is_signed ? scale_rule::absmax() : scale_rule::minmax());
    if constexpr (!Format::is_signed) o.form = s.form == "zp" ? affine::zero_point : affine::offset;
    return info(p, "int", "integer scheme from a spec", int_quantizer<Format, ScaleT>(o));
}

template <class Format>
scheme_info int_scaled(const parts& p, const settings& s) {
    if (s.st == "f16") return int_info<Format, Eigen::half>(p, s);
    if (s.st == "bf16") return int_info<Format, Eigen::bfloat16>(p, s);
    return int_info<Format, float>(p, s);
}

template <int Bits>
scheme_info signed_int(const parts& p, const settings& s) {
    if (s.range == "full") return int_scaled<int_format<Bits, int_range::full>>(p, s);
    return int_scaled<int_format<Bits>>(p, s);
}

template <class Format>
scheme_info minifloat_info(const parts& p, const settings& s) {
    typename minifloat_quantizer<Format>::options o;
    o.gran = s.granularity_or(granularity::tensor());
    o.rule = s.rule_or(scale_rule::absmax());
    if (o.gran.type == granularity::kind::per_channel && o.gran.axis == 1)
        fail(p, "minifloat scales live per tensor, row or group (not col)");
    if (s.st == "f16") {
        typename minifloat_quantizer<Format, Eigen::half>::options h;
        h.gran = o.gran;
        h.rule = o.rule;
        return info(p, "float", "minifloat scheme from a spec",
                    minifloat_quantizer<Format, Eigen::half>(h));
    }
    return info(p, "float", "minifloat scheme from a spec", minifloat_quantizer<Format>(o));
}

template <int Bits>
scheme_info nf_info(const parts& p, const settings& s) {
    codebook_options o;
    o.group_size = s.group ? s.group : 64;
    o.double_quant = s.dq;
    if (s.dq_bnb) o.dq_map = double_quant_map::bnb_dynamic;
    return info(p, "codebook", "NormalFloat scheme from a spec", codebook_quantizer<Bits>(o));
}

template <int Bits>
scheme_info sf_info(const parts& p, const settings& s) {
    codebook_options o;
    o.group_size = s.group ? s.group : 64;
    o.double_quant = s.dq;
    if (s.dq_bnb) o.dq_map = double_quant_map::bnb_dynamic;
    return info(p, "codebook", "Student Float scheme from a spec",
                codebook_quantizer<Bits>(student_float_codebook<Bits>(s.nu), o));
}

/// BBQ / QuEST options from the spec; BBQ of 1 and 2 bits puts its zero at −½ (as the
/// registered bbq1 / bbq2 do: an integer zero wastes a level there).
inline bbq_options bbq_opts(const settings& s, int bits, bool bbq) {
    bbq_options o;
    o.hadamard = s.h;
    o.sigma_from = s.sigma == "row" ? sigma_source::per_row : sigma_source::per_tensor;
    if (bbq && bits <= 2) o.zero = bbq_zero::half;
    return o;
}

/// The families of parse_scheme(), one part each where the registry is compiled separately
/// (schemes.hpp): each returns the scheme of a spec whose base it owns.
LOWBIT_SCHEMES_INLINE scheme_info parse_signed_int(const parts& p);
LOWBIT_SCHEMES_INLINE scheme_info parse_unsigned_int_or_minifloat(const parts& p);
LOWBIT_SCHEMES_INLINE scheme_info parse_codebook_or_bbq(const parts& p);

inline bool is_any_of(const std::string& b, std::initializer_list<std::string_view> names) {
    for (const auto n : names)
        if (b == n) return true;
    return false;
}

}  // namespace detail_spec

/// The scheme a spec string describes (see the file comment); throws lowbit::error naming
/// "scheme" with the valid keys or values when the spec has an error.
[[nodiscard]] inline scheme_info parse_scheme(std::string_view spec) {
    using namespace detail_spec;
    const parts p = split(spec);
    const std::string& b = p.base;
    if (is_any_of(b, {"int2", "int3", "int4", "int8"})) return parse_signed_int(p);
    if (is_any_of(b, {"uint4", "uint8", "e4m3fn", "e5m2", "e4m3fnuz", "e3m2", "e2m3", "e2m1"}))
        return parse_unsigned_int_or_minifloat(p);
    if (is_any_of(b,
                  {"nf2", "nf3", "nf4", "sf2", "sf3", "sf4", "bbq1", "bbq2", "bbq3", "bbq4",
                   "quest2", "quest3", "quest4"}))
        return parse_codebook_or_bbq(p);
    fail(p,
         "unknown format '" + b +
             "' (valid: int2, int3, int4, int8, uint4, uint8, e4m3fn, e5m2, e4m3fnuz, e3m2, e2m3, "
             "e2m1, nf2, nf3, nf4, sf2, sf3, sf4, "
             "bbq1 … bbq4, quest2 … quest4; registered names: lowbit-compare --list)");
}

#if LOWBIT_SCHEMES_DEFINES(3)
LOWBIT_SCHEMES_INLINE scheme_info detail_spec::parse_signed_int(const parts& p) {
    const std::string& b = p.base;
    const settings s(p, {"g", "gran", "scale", "st", "range"}, {"absmax", "mse", "gaussian"});
    if (b == "int2") return signed_int<2>(p, s);
    if (b == "int3") return signed_int<3>(p, s);
    if (b == "int4") return signed_int<4>(p, s);
    return signed_int<8>(p, s);
}
#endif

#if LOWBIT_SCHEMES_DEFINES(4)
LOWBIT_SCHEMES_INLINE scheme_info detail_spec::parse_unsigned_int_or_minifloat(const parts& p) {
    const std::string& b = p.base;
    if (b == "uint4" || b == "uint8") {
        const settings s(p, {"g", "gran", "scale", "st", "form"}, {"minmax", "mse", "gaussian"});
        return b == "uint4" ? int_scaled<uint_format<4>>(p, s) : int_scaled<uint_format<8>>(p, s);
    }
    settings s(p, {"g", "gran", "scale", "st"}, {"absmax", "mse"});
    if (s.st == "bf16") fail(p, "'st' must be one of f32, f16 for minifloats (got 'bf16')");
    if (b == "e4m3fn") return minifloat_info<e4m3fn>(p, s);
    if (b == "e5m2") return minifloat_info<e5m2>(p, s);
    if (b == "e4m3fnuz") return minifloat_info<e4m3fnuz>(p, s);
    if (b == "e3m2") return minifloat_info<e3m2>(p, s);
    if (b == "e2m3") return minifloat_info<e2m3>(p, s);
    return minifloat_info<e2m1>(p, s);
}
#endif

#if LOWBIT_SCHEMES_DEFINES(5)
LOWBIT_SCHEMES_INLINE scheme_info detail_spec::parse_codebook_or_bbq(const parts& p) {
    const std::string& b = p.base;
    if (b == "nf2" || b == "nf3" || b == "nf4") {
        const settings s(p, {"g", "dq"}, {});
        if (b == "nf2") return nf_info<2>(p, s);
        if (b == "nf3") return nf_info<3>(p, s);
        return nf_info<4>(p, s);
    }
    if (b == "sf2" || b == "sf3" || b == "sf4") {
        const settings s(p, {"g", "dq", "nu"}, {});
        if (b == "sf2") return sf_info<2>(p, s);
        if (b == "sf3") return sf_info<3>(p, s);
        return sf_info<4>(p, s);
    }
    const settings s(p, {"sigma", "h"}, {});
    const std::string d = "BBQ / QuEST scheme from a spec";
    if (b == "bbq1") return info(p, "bbq", d, bbq_quantizer<1>(bbq_opts(s, 1, true)));
    if (b == "bbq2") return info(p, "bbq", d, bbq_quantizer<2>(bbq_opts(s, 2, true)));
    if (b == "bbq3") return info(p, "bbq", d, bbq_quantizer<3>(bbq_opts(s, 3, true)));
    if (b == "bbq4") return info(p, "bbq", d, bbq_quantizer<4>(bbq_opts(s, 4, true)));
    if (b == "quest2") return info(p, "bbq", d, quest_quantizer<2>(bbq_opts(s, 2, false)));
    if (b == "quest3") return info(p, "bbq", d, quest_quantizer<3>(bbq_opts(s, 3, false)));
    return info(p, "bbq", d, quest_quantizer<4>(bbq_opts(s, 4, false)));
}
#endif

/// A registered scheme name (all_schemes()) or, failing that, a spec string.
[[nodiscard]] inline scheme_info resolve_scheme(std::string_view name_or_spec) {
    for (const auto& s : all_schemes())
        if (s.name == name_or_spec) return s;
    return parse_scheme(name_or_spec);
}

LOWBIT_NAMESPACE_END
