// lowbit — the named schemes: one complete quantizer each, behind a small runtime interface
// so that lowbit-compare, lowbit-bench and the tests can loop over all of them.
//
// A scheme is registered by name with a factory. Names are stable (they appear in JSON output
// and benchmark names). To add a scheme: write its quantizer (formats/, simd/, quantizers/),
// then add one `add<...>(...)` line in its family's function below.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.hpp"
#include "core/granularity.hpp"
#include "ops/linear.hpp"
#include "ops/linear_bbq.hpp"
#include "ops/linear_fp4.hpp"
#include "parallel.hpp"
#include "quantizers/bbq.hpp"
#include "quantizers/codebook.hpp"
#include "quantizers/fields.hpp"
#include "quantizers/int.hpp"
#include "quantizers/log.hpp"
#include "quantizers/minifloat.hpp"
#include "quantizers/mx.hpp"

// Where the registry is compiled. all_schemes() and parse_scheme() (spec.hpp) instantiate every
// quantizer the library names, which is most of the compile time of a program that calls them.
// By default they are inline functions, compiled in every translation unit that includes this
// header. A program whose translation units all define LOWBIT_SEPARATE_SCHEMES sees declarations
// only and compiles the definitions once, in translation units that include <lowbit/spec.hpp>
// with LOWBIT_SCHEMES_PART set to 1, 2, 3, 4 and 5 (one each; lowbit's own tests and tools build
// src/schemes/part*.cpp as the static library lowbit_schemes). The parts split the work so that a
// parallel build compiles them side by side. Every translation unit of a program must agree on
// LOWBIT_SEPARATE_SCHEMES: the functions are inline in one mode and external in the other.
#ifdef LOWBIT_SEPARATE_SCHEMES
#define LOWBIT_SCHEMES_INLINE
#ifdef LOWBIT_SCHEMES_PART
#define LOWBIT_SCHEMES_DEFINES(part) (LOWBIT_SCHEMES_PART == (part))
#else
#define LOWBIT_SCHEMES_DEFINES(part) 0
#endif
#else
#define LOWBIT_SCHEMES_INLINE inline
#define LOWBIT_SCHEMES_DEFINES(part) 1
#endif

LOWBIT_NAMESPACE_BEGIN

/// A quantizer instance behind a virtual interface. It owns the tensor of its last quantize()
/// and reuses its buffers, so repeated calls do not allocate.
///
/// Threads: an instance is a stateful object, like a std::vector. quantize() and
/// quantize_parallel() write its tensor, so they must not run concurrently with any other call
/// on the same instance; the const calls (dequantize, codes, code_bits, bits_per_value) may run
/// together when no quantize runs. Distinct instances share nothing mutable: one per thread
/// (scheme_info::make may be called from several threads at once) needs no locking. The
/// quantizers themselves keep no mutable state, so one quantizer object may serve any number
/// of threads through its const methods.
class scheme_instance {
public:
    virtual ~scheme_instance() = default;
    /// Quantizes x (row-major `shape`); keeps the result.
    virtual void quantize(std::span<const float> x, shape2d shape, backend b = backend::simd) = 0;
    /// Quantizes over `threads` threads (0: all); bit-identical to quantize().
    virtual void quantize_parallel(std::span<const float> x, shape2d shape, unsigned threads) = 0;
    /// Dequantizes the last result into out (shape.size() values).
    virtual void dequantize(std::span<float> out, backend b = backend::simd) const = 0;
    /// The unpacked codes of the last result (for histograms and entropy).
    [[nodiscard]] virtual std::vector<std::uint8_t> codes() const = 0;
    /// Width of one code.
    [[nodiscard]] virtual int code_bits() const = 0;
    /// Storage of the last result per value: codes plus scales and other side data.
    [[nodiscard]] virtual double bits_per_value() const = 0;
    /// The shape of the last result.
    [[nodiscard]] virtual shape2d shape() const = 0;

    /// One data field of the last result (quantizers/fields.hpp names them): its element type,
    /// whether it is a single number rather than an array, its element count and its bytes in
    /// the host's byte order (valid until the next quantize or assign).
    struct field_view {
        std::string_view name;
        field_type type = field_type::u8;
        bool scalar = false;
        std::size_t count = 0;
        std::span<const std::uint8_t> bytes;
    };
    /// The data fields of the last result, in visit_fields order.
    [[nodiscard]] virtual std::vector<field_view> fields() const = 0;
    /// Supplies the bytes of a field (host byte order) given its name, type and whether it is a
    /// scalar (`count` and `bytes` of the request are empty); throws when it has none.
    using field_source = std::function<std::span<const std::uint8_t>(const field_view& wanted)>;
    /// Replaces the last result with the tensor of `shape` whose data fields `get` supplies; the
    /// structure (granularity, layout, codebook, options) is this scheme's. Checked as the
    /// tensor's validate() checks it before anything is replaced: lowbit::error naming the field
    /// ("t.scales", …) when an array's length does not fit the shape, or the field's name when
    /// its byte count is not a whole number of elements (exactly one for a scalar).
    virtual void assign(shape2d shape, const field_source& get) = 0;
    /// Y = X·Wᵀ on the codes of the last result (ops::gemm of ops/linear.hpp, W the last result
    /// as shape().rows × shape().cols): x holds `batch` rows of shape().cols values, y `batch`
    /// rows of shape().rows. Returns false, writing nothing, when the library has no linear
    /// operator for this scheme's tensors; throws lowbit::error as ops::gemm does.
    virtual bool linear(std::span<const float> x, std::size_t batch, std::span<float> y,
                        unsigned threads = 1) const {
        (void)x, (void)batch, (void)y, (void)threads;
        return false;
    }
};

/// A named scheme.
struct scheme_info {
    std::string name;
    std::string family;       ///< "int", "float", "codebook", "bbq", …
    std::string description;  ///< one line: format, granularity, scale rule, scale type
    std::function<std::unique_ptr<scheme_instance>()> make;
};

/// Adapts any quantizer with quantize_into / dequantize and a tensor with codes() /
/// bits_per_value() to scheme_instance.
template <class Q>
class quantizer_instance final : public scheme_instance {
public:
    explicit quantizer_instance(Q q) : q_(std::move(q)) {}
    void quantize(std::span<const float> x, shape2d shape, backend b) override {
        q_.quantize_into(x, shape, t_, b);
    }
    void quantize_parallel(std::span<const float> x, shape2d shape, unsigned threads) override {
        if constexpr (splittable_quantizer<Q>)
            lowbit::quantize_parallel_into(q_, x, shape, t_, threads);
        else
            q_.quantize_into(x, shape, t_, backend::simd);
    }
    void dequantize(std::span<float> out, backend b) const override { q_.dequantize(t_, out, b); }
    [[nodiscard]] std::vector<std::uint8_t> codes() const override { return t_.codes(); }
    [[nodiscard]] int code_bits() const override { return Q::tensor_type::bits; }
    [[nodiscard]] double bits_per_value() const override { return t_.bits_per_value(); }
    [[nodiscard]] shape2d shape() const override {
        if constexpr (requires { t_.inner; })
            return t_.inner.shape;
        else
            return t_.shape;
    }
    [[nodiscard]] std::vector<field_view> fields() const override {
        std::vector<field_view> out;
        visit_fields(t_, [&](std::string_view name, const auto& f) {
            using F = std::remove_cvref_t<decltype(f)>;
            if constexpr (std::is_same_v<F, float>) {
                out.push_back({name,
                               field_type::f32,
                               true,
                               1,
                               {reinterpret_cast<const std::uint8_t*>(&f), sizeof f}});
            } else {
                using T = typename F::value_type;
                out.push_back(
                    {name,
                     field_type_of<T>(),
                     false,
                     f.size(),
                     {reinterpret_cast<const std::uint8_t*>(f.data()), f.size() * sizeof(T)}});
            }
        });
        return out;
    }
    void assign(shape2d shape, const field_source& get) override {
        typename Q::tensor_type t;
        // An empty input gives the scheme's structure (options, codebook, layout, decode tables)
        // with empty data; the data and the shape replace it.
        q_.quantize_into(std::span<const float>(), shape2d{0, 0}, t, backend::scalar);
        if constexpr (requires { t.inner; })
            t.inner.shape = shape;
        else
            t.shape = shape;
        visit_fields(t, [&](std::string_view name, auto& f) {
            using F = std::remove_cvref_t<decltype(f)>;
            if constexpr (std::is_same_v<F, float>) {
                const auto b = get({name, field_type::f32, true, 0, {}});
                detail::require(b.size() == sizeof f, std::string(name),
                                "must be exactly one float32");
                std::memcpy(&f, b.data(), sizeof f);
            } else {
                using T = typename F::value_type;
                const auto b = get({name, field_type_of<T>(), false, 0, {}});
                detail::require(b.size() % sizeof(T) == 0, std::string(name),
                                "must hold a whole number of elements");
                f.resize(b.size() / sizeof(T));
                if (!b.empty()) std::memcpy(f.data(), b.data(), b.size());
            }
        });
        t.validate();
        t_ = std::move(t);
    }
    bool linear(std::span<const float> x, std::size_t batch, std::span<float> y,
                unsigned threads) const override {
        if constexpr (ops::has_linear<typename Q::tensor_type>) {
            ops::gemm(t_, x, batch, y, {.threads = threads});
            return true;
        } else {
            return false;
        }
    }
    [[nodiscard]] const Q& quantizer() const noexcept { return q_; }
    [[nodiscard]] const typename Q::tensor_type& tensor() const noexcept { return t_; }

private:
    Q q_;
    typename Q::tensor_type t_;
};

namespace detail {
template <class Q>
void add(std::vector<scheme_info>& v, std::string name, std::string family, std::string description,
         Q q) {
    v.push_back({std::move(name), std::move(family), std::move(description),
                 [q] { return std::unique_ptr<scheme_instance>(new quantizer_instance<Q>(q)); }});
}
}  // namespace detail

namespace detail {
/// The registry by family, in all_schemes() order (one part each where the registry is compiled
/// separately).
LOWBIT_SCHEMES_INLINE void add_int_and_float_schemes(std::vector<scheme_info>& v);
LOWBIT_SCHEMES_INLINE void add_codebook_and_bbq_schemes(std::vector<scheme_info>& v);
}  // namespace detail

/// Every named scheme, in a stable order.
LOWBIT_SCHEMES_INLINE const std::vector<scheme_info>& all_schemes();

#if LOWBIT_SCHEMES_DEFINES(1)
LOWBIT_SCHEMES_INLINE const std::vector<scheme_info>& all_schemes() {
    static const std::vector<scheme_info> list = [] {
        std::vector<scheme_info> v;
        detail::add_int_and_float_schemes(v);
        detail::add_codebook_and_bbq_schemes(v);
        return v;
    }();
    return list;
}

LOWBIT_SCHEMES_INLINE void detail::add_int_and_float_schemes(std::vector<scheme_info>& v) {
    using half = Eigen::half;
    // ---- integer formats (formats/int.hpp) ----
    add(v, "int8", "int", "INT8 symmetric restricted, per tensor, absmax, fp32 scale",
        int_quantizer<int_format<8>>());
    add(v, "int8_mse", "int",
        "INT8 symmetric restricted, per tensor, MSE-searched clip, fp32 scale",
        int_quantizer<int_format<8>>({.rule = scale_rule::mse_search()}));
    add(v, "int8_static", "int",
        "INT8 symmetric restricted, per tensor, given scale (L = 4), fp32 scale",
        int_quantizer<int_format<8>>({.rule = scale_rule::fixed(4.0f)}));
    add(v, "int4_g32", "int",
        "INT4 symmetric full range, group 32, absmax, fp16 scale (ggml Q4_0-like)",
        int_quantizer<int_format<4, int_range::full>, half>({.gran = granularity::group(32)}));
    add(v, "uint4_g32", "int",
        "UINT4 asymmetric, group 32, min/max, fp16 scale and minimum (ggml Q4_1-like)",
        int_quantizer<uint_format<4>, half>(
            {.gran = granularity::group(32), .rule = scale_rule::minmax()}));
    add(v, "int4_ch", "int", "INT4 symmetric restricted, per channel (row), absmax, fp32 scale",
        int_quantizer<int_format<4>>({.gran = granularity::channel(0)}));
    add(v, "int3_g32", "int", "INT3 symmetric full range, group 32, absmax, fp16 scale",
        int_quantizer<int_format<3, int_range::full>, half>({.gran = granularity::group(32)}));
    add(v, "int2_g32", "int", "INT2 symmetric full range, group 32, absmax, fp16 scale",
        int_quantizer<int_format<2, int_range::full>, half>({.gran = granularity::group(32)}));
    // ---- end integer formats ----

    // ---- floating-point family: minifloats, BFP, MX, NVFP4, log ----
    // Minifloats: absmax scale mapped to the format's max finite (quantizers/minifloat.hpp);
    // FP8 per tensor with an fp32 scale, FP6/FP4 per group of 32 with an fp16 scale.
    add(v, "e4m3fn", "float", "FP8 E4M3FN, per tensor, absmax -> 448, fp32 scale",
        minifloat_quantizer<e4m3fn>());
    add(v, "e5m2", "float", "FP8 E5M2, per tensor, absmax -> 57344, fp32 scale",
        minifloat_quantizer<e5m2>());
    add(v, "e4m3fnuz", "float", "FP8 E4M3FNUZ, per tensor, absmax -> 240, fp32 scale",
        minifloat_quantizer<e4m3fnuz>());
    add(v, "e3m2_g32", "float", "FP6 E3M2, group 32, absmax -> 28, fp16 scale",
        minifloat_quantizer<e3m2, half>({.gran = granularity::group(32)}));
    add(v, "e2m3_g32", "float", "FP6 E2M3, group 32, absmax -> 7.5, fp16 scale",
        minifloat_quantizer<e2m3, half>({.gran = granularity::group(32)}));
    add(v, "e2m1_g32", "float", "FP4 E2M1, group 32, absmax -> 6, fp16 scale",
        minifloat_quantizer<e2m1, half>({.gran = granularity::group(32)}));
    // OCP MX v1.0: block 32, E8M0 scale 2^(floor(log2 amax) - emax_elem) (quantizers/mx.hpp).
    add(v, "mxfp8_e4m3", "float", "OCP MXFP8 E4M3, block 32, E8M0 scale (OCP floor rule)",
        mx_quantizer<e4m3fn>());
    add(v, "mxfp8_e5m2", "float", "OCP MXFP8 E5M2, block 32, E8M0 scale (OCP floor rule)",
        mx_quantizer<e5m2>());
    add(v, "mxfp6_e3m2", "float", "OCP MXFP6 E3M2, block 32, E8M0 scale (OCP floor rule)",
        mx_quantizer<e3m2>());
    add(v, "mxfp6_e2m3", "float", "OCP MXFP6 E2M3, block 32, E8M0 scale (OCP floor rule)",
        mx_quantizer<e2m3>());
    add(v, "mxfp4", "float", "OCP MXFP4 E2M1, block 32, E8M0 scale (OCP floor rule)",
        mx_quantizer<e2m1>());
    add(v, "mxint8", "float", "OCP MXINT8 (int8, 6 fraction bits), block 32, E8M0 scale",
        mx_quantizer<mx_int8>());
    add(v, "nvfp4", "float", "NVFP4: E2M1, E4M3 scale per 16, fp32 scale per tensor",
        nvfp4_quantizer());
    // Logarithmic: sign + exponent code, zero code, window ending at the group absmax
    // (quantizers/log.hpp).
    add(v, "log4", "float", "log2 4-bit (+-s*2^-k, k = 0..6, and 0), group 32, fp16 scale = absmax",
        log_quantizer<4>());
    add(v, "log3", "float", "log2 3-bit (+-s*2^-k, k = 0..2, and 0), group 32, fp16 scale = absmax",
        log_quantizer<3>());
    // ---- end floating-point family ----
}
#endif

#if LOWBIT_SCHEMES_DEFINES(2)
LOWBIT_SCHEMES_INLINE void detail::add_codebook_and_bbq_schemes(std::vector<scheme_info>& v) {
    // ---- codebooks, Hadamard, BBQ and QuEST ----
    add(v, "nf4_g64", "codebook", "NF4 (bitsandbytes' table), group 64, absmax, fp32 scale",
        codebook_quantizer<4>());
    add(v, "nf3_g64", "codebook", "NF3 (NormalFloat construction), group 64, absmax, fp32 scale",
        codebook_quantizer<3>());
    add(v, "nf2_g64", "codebook", "NF2 (NormalFloat construction), group 64, absmax, fp32 scale",
        codebook_quantizer<2>());
    add(v, "sf4_g64", "codebook",
        "SF4 (Student Float: NF's construction with Student's t quantiles, nu = 5), group 64, "
        "absmax, fp32 scale",
        codebook_quantizer<4>(student_float_codebook<4>(), {}));
    add(v, "nf4_g64_dq", "codebook",
        "NF4, group 64, absmax double-quantised to 8 bits per 256 groups (QLoRA-style)",
        codebook_quantizer<4>({.double_quant = true}));
    add(v, "bbq1", "bbq",
        "BBQ 1-bit: Hadamard 128, sigma per tensor, Phi thresholds, z = -1/2, gamma = zeta* "
        "sigma, INT1 codes",
        bbq_quantizer<1>({.zero = bbq_zero::half}));
    add(v, "bbq2", "bbq",
        "BBQ 2-bit: Hadamard 128, sigma per tensor, Phi thresholds, z = -1/2, gamma = zeta* "
        "sigma, INT2 codes",
        bbq_quantizer<2>({.zero = bbq_zero::half}));
    add(v, "bbq3", "bbq",
        "BBQ 3-bit: Hadamard 128, sigma per tensor, Phi thresholds, z = 0, gamma = zeta* "
        "sigma, INT3 codes",
        bbq_quantizer<3>());
    add(v, "bbq4", "bbq",
        "BBQ 4-bit: Hadamard 128, sigma per tensor, Phi thresholds, z = 0, gamma = zeta* "
        "sigma, INT4 codes",
        bbq_quantizer<4>());
    add(v, "bbq3_fp4", "bbq",
        "BBQ 3-bit as FP4 E2M1 bit patterns (-4 ... 3 exact): Hadamard 128, sigma per tensor, "
        "z = 0",
        bbq_quantizer<3, bbq_codes::e2m1>());
    add(v, "quest2", "bbq",
        "QuEST 2-bit: Hadamard 128, sigma per tensor, Gaussian-optimal clip, uniform midrise "
        "grid",
        quest_quantizer<2>());
    add(v, "quest3", "bbq",
        "QuEST 3-bit: Hadamard 128, sigma per tensor, Gaussian-optimal clip, uniform midrise "
        "grid",
        quest_quantizer<3>());
    add(v, "quest4", "bbq",
        "QuEST 4-bit: Hadamard 128, sigma per tensor, Gaussian-optimal clip, uniform midrise "
        "grid",
        quest_quantizer<4>());
    // ---- end codebooks and BBQ ----
}
#endif

/// The scheme called `name`; throws lowbit::error naming the argument when there is none.
inline const scheme_info& find_scheme(std::string_view name) {
    for (const auto& s : all_schemes())
        if (s.name == name) return s;
    throw error("scheme",
                "no scheme named '" + std::string(name) + "' (lowbit-compare --list shows them)");
}

LOWBIT_NAMESPACE_END
