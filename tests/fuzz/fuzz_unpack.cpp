// libFuzzer target: unpacking and dequantizing packed buffers made of arbitrary bytes.
//   byte 0      what to run: bits of the unpack test, quantizer kind, nibble order
//   bytes 1–4   n (unpack test) and shape (dequantize test), small
//   byte 5      group size
//   the rest    packed codes, then raw scale / offset / zero-point bytes, with sizes consistent
//               with the shape (inputs too short are skipped)
// Checks: the fast unpack equals unpack_reference; pack(unpack(b)) round-trips; the SIMD
// dequantize equals the scalar one bit for bit, NaN payloads aside (scales may be NaN, Inf,
// subnormal, negative).
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <lowbit/lowbit.hpp>

namespace {

struct reader {
    const std::uint8_t* p;
    std::size_t left;
    bool take(void* out, std::size_t n) {
        if (n > left) return false;
        if (n) std::memcpy(out, p, n);
        p += n;
        left -= n;
        return true;
    }
};

void check_unpack(int bits, lowbit::nibble_order order, std::size_t n,
                  std::span<const std::uint8_t> packed) {
    std::vector<std::uint8_t> fast(n), ref(n);
    lowbit::unpack(packed, bits, fast, order);
    lowbit::unpack_reference(packed, bits, ref, order);
    if (fast != ref) __builtin_trap();
    std::vector<std::uint8_t> again(lowbit::packed_size(n, bits)), again_ref(again.size());
    lowbit::pack(fast, bits, again, order);
    lowbit::pack_reference(fast, bits, again_ref, order);
    if (again != again_ref) __builtin_trap();
    std::vector<std::uint8_t> round(n);
    lowbit::unpack(again, bits, round, order);
    if (round != fast) __builtin_trap();
}

template <class T>
T raw(reader& r) {
    std::uint8_t b[sizeof(T)] = {};
    r.take(b, sizeof(T));
    if constexpr (std::is_same_v<T, float>)
        return std::bit_cast<float>(b);
    else
        return Eigen::numext::bit_cast<T>(std::bit_cast<std::uint16_t>(b));
}

/// Builds a tensor of q's type from the remaining bytes and compares SIMD and scalar dequantize.
template <class Q>
void check_dequantize(const Q& q, lowbit::shape2d shape, lowbit::granularity gran,
                      lowbit::nibble_order order, reader& r) {
    using tensor = typename Q::tensor_type;
    using scale_t = typename decltype(tensor::scales)::value_type;
    tensor t;
    t.shape = shape;
    t.gran = gran;
    t.order = order;
    t.form = q.opts().form;
    const std::size_t slots = gran.scale_count(shape),
                      bytes = lowbit::packed_size(shape.size(), tensor::bits);
    const std::size_t side = slots * sizeof(scale_t) * (t.form == lowbit::affine::offset ? 2 : 1) +
        (t.form == lowbit::affine::zero_point ? slots : 0);
    if (r.left < bytes + side) return;
    t.packed.resize(bytes);
    r.take(t.packed.data(), bytes);
    for (std::size_t s = 0; s < slots; ++s) t.scales.push_back(raw<scale_t>(r));
    if (t.form == lowbit::affine::offset)
        for (std::size_t s = 0; s < slots; ++s) t.offsets.push_back(raw<scale_t>(r));
    if (t.form == lowbit::affine::zero_point) {
        t.zero_points.resize(slots);
        r.take(t.zero_points.data(), slots);
    }
    std::vector<float> a(shape.size()), b(shape.size());
    q.dequantize(t, a, lowbit::backend::simd);
    q.dequantize(t, b, lowbit::backend::scalar);
    // Bitwise, except that a NaN equals any NaN: IEEE 754 leaves the sign and payload of a NaN
    // that an operation propagates to the platform, and the scalar and SIMD code may order the
    // operands of code·scale + offset differently when both scale and offset are NaN.
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(std::isnan(a[i]) && std::isnan(b[i])) &&
            std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]))
            __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lowbit;
    using half = Eigen::half;
    reader r{data, size};
    std::uint8_t head[6];
    if (!r.take(head, sizeof head)) return 0;
    const int bits = (head[0] & 7) + 1;
    const auto order =
        bits == 4 ? static_cast<nibble_order>((head[0] >> 3) % 3) : nibble_order::low_first;
    const std::size_t rows = head[1] % 17, cols = head[2] | std::size_t(head[3] & 3) << 8;
    const std::size_t n = std::min<std::size_t>(rows * cols, r.left * 8 / std::size_t(bits));
    const std::size_t group = head[5] % 70 + 1;

    check_unpack(bits, order, n, std::span<const std::uint8_t>(r.p, packed_size(n, bits)));

    const shape2d shape{rows, cols};
    const granularity groups = granularity::group(group);
    switch ((head[0] >> 5) | (head[4] & 1) << 3) {
        case 0:
            check_dequantize(int_quantizer<int_format<8>>(), shape, granularity::tensor(),
                             nibble_order::low_first, r);
            break;
        case 1:
            check_dequantize(int_quantizer<int_format<4, int_range::full>, half>(
                                 {.gran = groups, .order = order}),
                             shape, groups, bits == 4 ? order : nibble_order::low_first, r);
            break;
        case 2:
            check_dequantize(int_quantizer<uint_format<4>, half>({.gran = groups}), shape, groups,
                             nibble_order::low_first, r);
            break;
        case 3:
            check_dequantize(int_quantizer<int_format<3, int_range::full>, half>({.gran = groups}),
                             shape, groups, nibble_order::low_first, r);
            break;
        case 4:
            check_dequantize(int_quantizer<int_format<4>>(), shape, granularity::channel(0),
                             nibble_order::low_first, r);
            break;
        case 5:
            check_dequantize(int_quantizer<int_format<4>>(), shape, granularity::channel(1),
                             nibble_order::low_first, r);
            break;
        case 6:
            check_dequantize(int_quantizer<uint_format<8>>({.form = affine::zero_point}), shape,
                             granularity::tensor(), nibble_order::low_first, r);
            break;
        case 7:
            check_dequantize(
                int_quantizer<int_format<2, int_range::full>, Eigen::bfloat16>({.gran = groups}),
                shape, groups, nibble_order::low_first, r);
            break;
        case 8:
            check_dequantize(int_quantizer<uint_format<3>, float>({.gran = groups}), shape, groups,
                             nibble_order::low_first, r);
            break;
        case 9:
            check_dequantize(int_quantizer<uint_format<5>, half>(
                                 {.gran = granularity::channel(0), .form = affine::zero_point}),
                             shape, granularity::channel(0), nibble_order::low_first, r);
            break;
        case 10:
            check_dequantize(int_quantizer<int_format<6>, float>({.gran = groups}), shape, groups,
                             nibble_order::low_first, r);
            break;
        case 11:
            check_dequantize(int_quantizer<int_format<7, int_range::full>, half>({.gran = groups}),
                             shape, groups, nibble_order::low_first, r);
            break;
        default:
            check_dequantize(int_quantizer<uint_format<4>, half>({.gran = granularity::channel(1)}),
                             shape, granularity::channel(1), nibble_order::low_first, r);
            break;
    }
    return 0;
}
