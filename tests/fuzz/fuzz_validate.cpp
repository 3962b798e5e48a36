// libFuzzer target: quantized tensors with arbitrary field values → validate() + dequantize.
//   byte 0        which tensor type (int, minifloat, MX, NVFP4, codebook, log, BBQ / QuEST)
//   byte 1        mode bits: wild shape, wild group size, exact vector lengths, parallel decode
//   then          the fields in declaration order: shape (small, or 8 raw bytes per dimension),
//                 granularity kind / axis / group size, enums as raw bytes, each vector's length
//                 (the length the shape needs, nudged by −2 … +2, or a small arbitrary one) and
//                 contents; an input that runs out reads zeros.
// A lowbit::error is the expected answer to an inconsistent tensor. Anything else is a bug: a
// crash, an ASan / UBSan report, another exception, or a tensor that validate() accepts and
// dequantize then rejects, or decodes differently on the scalar and SIMD paths.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <lowbit/eigen.hpp>
#include <lowbit/lowbit.hpp>
#include <lowbit/parallel.hpp>
#include <lowbit/schemes.hpp>

namespace {

using namespace lowbit;

/// Bytes of the input, then zeros.
struct reader {
    const std::uint8_t* p;
    std::size_t left;
    std::uint8_t byte() {
        if (!left) return 0;
        --left;
        return *p++;
    }
    template <class T>
    T raw() {
        std::uint8_t b[sizeof(T)] = {};
        for (auto& v : b) v = byte();
        return std::bit_cast<T>(b);
    }
};

constexpr std::size_t max_elements = std::size_t{1} << 14;  // keeps each run fast and small
constexpr std::size_t max_length = std::size_t{1} << 16;

struct fuzz_input {
    reader r;
    std::uint8_t mode = 0;

    std::size_t dimension(bool wild) { return wild ? r.raw<std::size_t>() : r.byte() % 40; }
    shape2d shape() { return {dimension(mode & 1), dimension(mode & 1)}; }
    std::size_t group() {
        if (mode & 2) return r.raw<std::size_t>();
        const std::uint8_t b = r.byte();
        return b < 250 ? b % 70 : std::size_t{1} << (b - 218);  // 0 … 69, or 2^32 … 2^37
    }
    granularity gran() {
        granularity g;
        g.type = static_cast<granularity::kind>(r.byte() % 5);  // 3 and 4 are out of range
        g.axis = static_cast<std::int8_t>(r.byte()) % 4;        // −3 … 3
        g.group_size = group();
        return g;
    }
    template <class E>
    E enum_value(int legal) {
        const std::uint8_t b = r.byte();
        return static_cast<E>(b < 200 ? b % legal : b);  // mostly legal, sometimes far out
    }
    /// A length near `expected` (the one the fields imply, when it is small), or a small arbitrary
    /// one.
    std::size_t length(std::size_t expected, bool plausible) {
        const std::uint8_t b = r.byte();
        if (plausible && (mode & 4) && expected <= max_length) return expected;
        if (plausible && b < 160 && expected <= max_length) {
            const int delta = b % 5 - 2;
            return delta < 0 && expected < std::size_t(-delta)
                ? 0
                : expected + std::size_t(std::ptrdiff_t(delta));
        }
        return b % 64;
    }
    template <class T>
    void fill(std::vector<T>& v, std::size_t n) {
        v.resize(n);
        for (auto& e : v) {
            if constexpr (std::is_same_v<T, float>)
                e = r.raw<float>();
            else if constexpr (sizeof(T) == 1)
                e = static_cast<T>(r.byte());
            else
                e = Eigen::numext::bit_cast<T>(r.raw<std::uint16_t>());
        }
    }
};

/// Rows · cols and ⌈cols / g⌉ · rows when both are small (else the lengths are arbitrary).
bool small(shape2d s) {
    return s.rows <= max_elements && s.cols <= max_elements && s.rows * s.cols <= max_elements;
}
std::size_t blocks(shape2d s, std::size_t g) {
    return g == 0 ? 0 : s.rows * (s.cols / g + (s.cols % g != 0));
}
std::size_t slots(shape2d s, const granularity& g) {
    switch (g.type) {
        case granularity::kind::per_tensor: return s.rows * s.cols ? 1 : 0;
        case granularity::kind::per_channel: return g.axis == 1 ? s.cols : s.rows;
        default: return blocks(s, g.group_size);
    }
}

bool same(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(std::bit_cast<std::uint32_t>(a[i]) == std::bit_cast<std::uint32_t>(b[i]) ||
              (std::isnan(a[i]) && std::isnan(b[i]))))
            return false;
    return true;
}

/// validate(); when it accepts, every decode entry must succeed and agree.
template <class Q>
void run(const Q& q, const typename Q::tensor_type& t, std::uint8_t mode) {
    try {
        t.validate();
    } catch (const lowbit::error&) {
        // Every entry must reject it the same way, before touching memory.
        try {
            (void)q.dequantize(t);
            __builtin_trap();
        } catch (const lowbit::error&) {}
        try {
            (void)t.codes();
            __builtin_trap();
        } catch (const lowbit::error&) {}
        return;
    }
    const std::vector<float> a = q.dequantize(t, backend::simd);
    const std::vector<float> b = q.dequantize(t, backend::scalar);
    if (!same(a, b)) __builtin_trap();
    if (t.codes().size() != t.size()) __builtin_trap();
    if (mode & 8) {
        std::vector<float> c(t.size());
        dequantize_parallel(q, t, c, 3);
        if (!same(a, c)) __builtin_trap();
        if (t.shape.rows <= max_length &&
            t.shape.cols <= max_length) {  // an empty {2^63, 0} is no Eigen shape
            const Eigen::MatrixXf m = eigen::dequantize(q, t);
            if (std::size_t(m.size()) != t.size()) __builtin_trap();
        }
    }
}

template <class Q>
void int_case(fuzz_input& in) {
    const Q q;
    typename Q::tensor_type t;
    t.shape = in.shape();
    t.gran = in.gran();
    t.order = in.enum_value<nibble_order>(3);
    t.form = in.enum_value<affine>(3);
    const bool ok = small(t.shape);
    const std::size_t n = ok ? t.shape.rows * t.shape.cols : 0, s = ok ? slots(t.shape, t.gran) : 0;
    in.fill(t.packed, in.length(packed_size(n, Q::tensor_type::bits), ok));
    in.fill(t.scales, in.length(s, ok));
    in.fill(t.offsets, in.length(t.form == affine::offset ? s : 0, ok));
    in.fill(t.zero_points, in.length(t.form == affine::zero_point ? s : 0, ok));
    run(q, t, in.mode);
}

template <class Q>
void minifloat_case(fuzz_input& in) {
    const Q q;
    typename Q::tensor_type t;
    t.shape = in.shape();
    t.gran = in.gran();
    const bool ok = small(t.shape);
    const std::size_t n = ok ? t.shape.rows * t.shape.cols : 0;
    in.fill(t.packed, in.length(packed_size(n, Q::tensor_type::bits), ok));
    in.fill(t.scales, in.length(ok ? slots(t.shape, t.gran) : 0, ok));
    run(q, t, in.mode);
}

template <class Q>
void block_case(fuzz_input& in) {
    const Q q;
    typename Q::tensor_type t;
    t.shape = in.shape();
    const bool ok = small(t.shape);
    const std::size_t n = ok ? t.shape.rows * t.shape.cols : 0;
    in.fill(t.packed, in.length(packed_size(n, Q::tensor_type::bits), ok));
    std::size_t block = 16;  // NVFP4
    if constexpr (requires { Q::tensor_type::block; }) block = Q::tensor_type::block;
    in.fill(t.scales, in.length(ok ? blocks(t.shape, block) : 0, ok));
    if constexpr (std::is_same_v<Q, nvfp4_quantizer>) {
        const std::uint8_t b = in.r.byte();
        t.global_scale = b < 128 ? float(b) / 64.0f : in.r.raw<float>();
    }
    run(q, t, in.mode);
}

template <int Bits>
void codebook_case(fuzz_input& in) {
    const codebook_quantizer<Bits> q;
    codebook_tensor<Bits> t;
    t.shape = in.shape();
    t.group_size = in.group();
    t.order = in.enum_value<nibble_order>(3);
    t.double_quant = in.r.byte() & 1;
    if (in.r.byte() & 1)
        for (auto& l : t.cb.levels)
            l = in.r.raw<float>();  // unsorted, NaN, huge: decode only reads them
    const bool ok = small(t.shape);
    const std::size_t n = ok ? t.shape.rows * t.shape.cols : 0,
                      g = ok ? blocks(t.shape, t.group_size) : 0;
    in.fill(t.packed, in.length(packed_size(n, Bits), ok));
    in.fill(t.scales, in.length(t.double_quant ? 0 : g, ok));
    in.fill(t.qscales, in.length(t.double_quant ? g : 0, ok));
    in.fill(t.dq_steps, in.length(t.double_quant ? (g + 255) / 256 : 0, ok));
    t.dq_mean = in.r.raw<float>();
    run(q, t, in.mode);
}

void log_case(fuzz_input& in) {
    const log_quantizer<4> q;
    log_tensor<4> t;
    t.shape = in.shape();
    t.group = in.group();
    const bool ok = small(t.shape);
    const std::size_t n = ok ? t.shape.rows * t.shape.cols : 0;
    in.fill(t.packed, in.length(packed_size(n, 4), ok));
    in.fill(t.scales, in.length(ok ? blocks(t.shape, t.group) : 0, ok));
    run(q, t, in.mode);
}

template <class Q>
void bbq_case(fuzz_input& in) {
    const Q q;
    typename Q::tensor_type t;
    t.shape = in.shape();
    const std::uint8_t h = in.r.byte();
    t.opt.hadamard = h < 16 ? (std::size_t{1} << h)
        : h < 20            ? 0
        : h < 250           ? h
                            : in.r.raw<std::size_t>();
    t.opt.sigma_from = in.enum_value<sigma_source>(3);
    t.opt.zero = in.enum_value<bbq_zero>(2);
    t.opt.order = in.enum_value<nibble_order>(3);
    t.opt.to_input = in.r.byte() & 1;
    for (auto& l : t.level_of_code) {
        const std::uint8_t b = in.r.byte();
        l = b < 200 ? float(int(b) - 100) / 8.0f : in.r.raw<float>();
    }
    const bool ok = small(t.shape);
    const std::size_t n = ok ? t.shape.rows * t.shape.cols : 0;
    const std::size_t s = t.opt.sigma_from == sigma_source::per_row ? t.shape.rows : (n ? 1 : 0);
    in.fill(t.packed, in.length(packed_size(n, Q::tensor_type::bits), ok));
    in.fill(t.sigmas, in.length(s, ok));
    in.fill(t.scales, in.length(s, ok));
    run(q, t, in.mode);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using half = Eigen::half;
    fuzz_input in{{data, size}};
    const std::uint8_t which = in.r.byte();
    in.mode = in.r.byte();
    try {
        switch (which % 15) {
            case 0: int_case<int_quantizer<int_format<4, int_range::full>, half>>(in); break;
            case 1: int_case<int_quantizer<uint_format<4>>>(in); break;
            case 2: int_case<int_quantizer<uint_format<8>>>(in); break;
            case 3: int_case<int_quantizer<int_format<3>, Eigen::bfloat16>>(in); break;
            case 4: minifloat_case<minifloat_quantizer<e4m3fn>>(in); break;
            case 5: minifloat_case<minifloat_quantizer<e2m1, half>>(in); break;
            case 6: block_case<mx_quantizer<e2m1>>(in); break;
            case 7: block_case<mx_quantizer<e3m2>>(in); break;
            case 8: block_case<nvfp4_quantizer>(in); break;
            case 9: codebook_case<4>(in); break;
            case 10: codebook_case<3>(in); break;
            case 11: log_case(in); break;
            case 12: bbq_case<bbq_quantizer<4>>(in); break;
            case 13: bbq_case<quest_quantizer<3>>(in); break;
            default: bbq_case<bbq_quantizer<2>>(in); break;
        }
    } catch (const lowbit::error&) {
        // validate() accepted the tensor but a decode entry rejected it: the two disagree.
        __builtin_trap();
    }
    return 0;
}
