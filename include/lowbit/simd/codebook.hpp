// lowbit — xsimd kernels for codebook formats, and the sorted-threshold search BBQ shares.
// Twin of formats/codebook.hpp's reference kernels, equal to them bit for bit
// (tests/test_codebook.cpp).
//
// Encoding is a branch-free binary search over the sorted thresholds: b steps of
//   idx += (y > t[idx + step − 1]) ? step : 0,   step = 2^{b−1}, …, 1,
// which counts the thresholds below y exactly as the reference's linear count does whenever
// the thresholds are non-decreasing (they always are). The table lookups t[k] and the decode
// lookups ℓ[code] are one in-register permute for tables of <= 16 entries where the target has
// one (AVX-512: vpermps; the only ISA-specific lines of the file, behind a feature test), and a
// gather everywhere else.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "observe.hpp"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "../formats/codebook.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {
namespace detail {

template <class Arch>
inline constexpr bool has_permute16 =
#if defined(__AVX512F__)
    std::is_base_of_v<xsimd::avx512f, Arch>;
#else
    false;
#endif

/// W bytes widened to a batch of int32.
template <class Arch>
inline xsimd::batch<std::int32_t, Arch> load_bytes(const std::uint8_t* p) noexcept {
    using I = xsimd::batch<std::int32_t, Arch>;
#if defined(__AVX512F__)
    if constexpr (has_permute16<Arch>) return I(_mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#endif
    alignas(64) std::int32_t t[I::size];
    for (std::size_t l = 0; l < I::size; ++l) t[l] = p[l];
    return I::load_aligned(t);
}

/// The low byte of every lane, stored to p[0 … W).
template <class Arch>
inline void store_bytes(xsimd::batch<std::int32_t, Arch> v, std::uint8_t* p) noexcept {
    using I = xsimd::batch<std::int32_t, Arch>;
#if defined(__AVX512F__)
    if constexpr (has_permute16<Arch>) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
        return;
    }
#endif
    alignas(64) std::int32_t t[I::size];
    v.store_aligned(t);
    for (std::size_t l = 0; l < I::size; ++l) p[l] = static_cast<std::uint8_t>(t[l]);
}

/// 4-bit codes of W lanes (each < 16) packed two per byte, lane 2j in the low nibble
/// (core/packing.hpp's low_first layout): W/2 bytes to p.
template <class Arch>
inline void store_nibbles(xsimd::batch<std::int32_t, Arch> v, std::uint8_t* p) noexcept {
    using I = xsimd::batch<std::int32_t, Arch>;
#if defined(__AVX512F__)
    if constexpr (has_permute16<Arch>) {  // each 64-bit lane (lo, hi) becomes the byte lo | hi << 4
        const __m512i w = _mm512_or_si512(v, _mm512_maskz_srli_epi64(0xFF, v, 28));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm512_maskz_cvtepi64_epi8(0xFF, w));
        return;
    }
#endif
    alignas(64) std::int32_t t[I::size];
    v.store_aligned(t);
    for (std::size_t l = 0; l < I::size; l += 2) p[l / 2] = static_cast<std::uint8_t>(t[l] | (t[l + 1] << 4));
}

/// W 4-bit codes from W/2 bytes (low_first), widened to int32.
template <class Arch>
inline xsimd::batch<std::int32_t, Arch> load_nibbles(const std::uint8_t* p) noexcept {
    using I = xsimd::batch<std::int32_t, Arch>;
#if defined(__AVX512F__)
    if constexpr (has_permute16<Arch>) {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), m = _mm_set1_epi8(0x0F);
        const __m128i lo = _mm_and_si128(b, m), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
        return I(_mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_unpacklo_epi8(lo, hi)));
    }
#endif
    alignas(64) std::int32_t t[I::size];
    for (std::size_t l = 0; l < I::size; ++l) t[l] = (p[l / 2] >> (4 * (l % 2))) & 0xF;
    return I::load_aligned(t);
}

/// A float table of 2^Bits entries (64-byte aligned, padded), looked up per lane.
template <class Arch, int Bits>
struct lane_table {
    using B = xsimd::batch<float, Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    static constexpr bool in_register = has_permute16<Arch> && Bits <= 4;
    alignas(64) float entries[(std::size_t{1} << Bits) < 16 ? 16 : (std::size_t{1} << Bits)];
    B reg;
#if defined(__AVX512F__)
    /// in_register only: level tables of the binary search, step[k][idx] = entries[idx + 2^k − 1]
    /// for the idx a search can hold before the step of size 2^k (multiples of 2^{k+1}), so the
    /// permute index is idx itself; step Bits−1 compares with a broadcast of entries[2^{Bits−1} − 1].
    __m512 step[Bits > 1 ? Bits - 1 : 1];
#endif

    /// Copies n <= 2^Bits entries; the rest repeat the last one.
    lane_table(const float* src, std::size_t n) noexcept : entries{} {
        for (std::size_t i = 0; i < n; ++i) entries[i] = src[i];
        for (std::size_t i = n; i < sizeof(entries) / sizeof(float); ++i) entries[i] = n ? src[n - 1] : 0.0f;
        reg = in_register ? B::load_aligned(entries) : B(0.0f);
#if defined(__AVX512F__)
        if constexpr (in_register) {
            for (int k = 0; k + 1 < Bits; ++k) {
                alignas(64) float tab[16];
                for (int idx = 0; idx < 16; ++idx) tab[idx] = entries[std::min(idx + (1 << k) - 1, 15)];
                step[k] = _mm512_load_ps(tab);
            }
        }
#endif
    }
    [[nodiscard]] B operator()(I idx) const noexcept {
#if defined(__AVX512F__)
        if constexpr (in_register) return B(_mm512_maskz_permutexvar_ps(0xFFFF, idx, reg));
#endif
        return B::gather(entries, idx);
    }
};

/// #{i : y > t_i} (Inclusive: y >= t_i) for non-decreasing thresholds t_0 … t_{2^Bits − 2}.
template <class Arch, int Bits, bool Inclusive>
inline xsimd::batch<std::int32_t, Arch> sorted_search(xsimd::batch<float, Arch> y, const lane_table<Arch, Bits>& t) noexcept {
    using B = xsimd::batch<float, Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
#if defined(__AVX512F__)
    if constexpr (lane_table<Arch, Bits>::in_register) {  // the same search on k-masks and int lanes
        constexpr int cmp = Inclusive ? _CMP_GE_OQ : _CMP_GT_OQ;
        const __mmask16 k0 = _mm512_cmp_ps_mask(y, _mm512_set1_ps(t.entries[(1 << (Bits - 1)) - 1]), cmp);
        __m512i idx = _mm512_maskz_mov_epi32(k0, _mm512_set1_epi32(1 << (Bits - 1)));
        for (int k = Bits - 2; k >= 0; --k) {
            const __mmask16 m = _mm512_cmp_ps_mask(y, _mm512_maskz_permutexvar_ps(0xFFFF, idx, t.step[k]), cmp);
            idx = _mm512_mask_add_epi32(idx, m, idx, _mm512_set1_epi32(1 << k));
        }
        return I(idx);
    }
#endif
    B idx(0.0f);
    for (int step = 1 << (Bits - 1); step >= 1; step /= 2) {
        const B tv = t(xsimd::batch_cast<std::int32_t>(idx) + I(step - 1));
        if constexpr (Inclusive) idx = idx + xsimd::select(y >= tv, B(float(step)), B(0.0f));
        else idx = idx + xsimd::select(y > tv, B(float(step)), B(0.0f));
    }
    return xsimd::batch_cast<std::int32_t>(idx);
}

}  // namespace detail

/// Prepared SIMD tables of one codebook (build once, use for many runs).
template <int Bits, class Arch = xsimd::default_arch>
struct codebook_kernel {
    detail::lane_table<Arch, Bits> thresholds, levels;
    explicit codebook_kernel(const codebook<Bits>& cb) noexcept
        : thresholds(cb.thresholds.data(), cb.thresholds.size()), levels(cb.levels.data(), cb.levels.size()) {}
};

/// SIMD encode; equals reference::encode_codebook_run.
template <int Bits, class Arch = xsimd::default_arch>
inline void encode_codebook_run(const float* x, std::size_t n, float inv, const codebook<Bits>& cb,
                                const codebook_kernel<Bits, Arch>& k, std::uint8_t* codes) noexcept {
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B s(inv), zero(0.0f);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        B y = B::load_unaligned(x + i) * s;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        detail::store_bytes<Arch>(detail::sorted_search<Arch, Bits, false>(y, k.thresholds), codes + i);
    }
    reference::encode_codebook_run(x + i, n - i, inv, cb, codes + i);
}

/// SIMD decode; equals reference::decode_codebook_run.
template <int Bits, class Arch = xsimd::default_arch>
inline void decode_codebook_run(const std::uint8_t* codes, std::size_t n, float scale, const codebook<Bits>& cb,
                                const codebook_kernel<Bits, Arch>& k, float* out) noexcept {
    using B = xsimd::batch<float, Arch>;
    using I = xsimd::batch<std::int32_t, Arch>;
    constexpr std::size_t W = B::size;
    const B s(scale);
    const I mask(static_cast<std::int32_t>(code_traits<Bits>::mask));
    std::size_t i = 0;
    for (; i + W <= n; i += W) (k.levels(detail::load_bytes<Arch>(codes + i) & mask) * s).store_unaligned(out + i);
    reference::decode_codebook_run(codes + i, n - i, scale, cb, out + i);
}

/// encode_codebook_run writing 4-bit codes packed (low_first) to out[0 … n/2); n even.
template <int Bits, class Arch = xsimd::default_arch>
inline void encode_codebook_run_packed4(const float* x, std::size_t n, float inv, const codebook<Bits>& cb,
                                        const codebook_kernel<Bits, Arch>& k, std::uint8_t* out) noexcept {
    static_assert(Bits == 4, "lowbit: packed4 kernels are for 4-bit codes");
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B s(inv), zero(0.0f);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        B y = B::load_unaligned(x + i) * s;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        detail::store_nibbles<Arch>(detail::sorted_search<Arch, Bits, false>(y, k.thresholds), out + i / 2);
    }
    std::uint8_t c[W];
    reference::encode_codebook_run(x + i, std::min(n - i, W), inv, cb, c);
    for (std::size_t j = 0; i + j + 1 < n; j += 2) out[(i + j) / 2] = static_cast<std::uint8_t>(c[j] | (c[j + 1] << 4));
}

namespace detail {
/// Every lane set to the largest lane (no NaN among them).
template <class Arch>
inline xsimd::batch<float, Arch> broadcast_max(xsimd::batch<float, Arch> v) noexcept {
    using B = xsimd::batch<float, Arch>;
#if defined(__AVX512F__)
    if constexpr (has_permute16<Arch>) {  // (zero-masked forms with a full mask: GCC 12 warns on the plain ones)
        __m512 w = v;
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_shuffle_f32x4(0xFFFF, w, w, 0x4E));
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_shuffle_f32x4(0xFFFF, w, w, 0xB1));
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_permute_ps(0xFFFF, w, 0x4E));
        w = _mm512_maskz_max_ps(0xFFFF, w, _mm512_maskz_permute_ps(0xFFFF, w, 0xB1));
        return B(w);
    }
#endif
    alignas(64) float lanes[B::size];
    v.store_aligned(lanes);
    float r = lanes[0];
    for (std::size_t l = 1; l < B::size; ++l) r = lanes[l] > r ? lanes[l] : r;
    return B(r);
}
}  // namespace detail

/// One whole group of NV·W values: its absmax (returned; equals absmax()) and its 4-bit codes
/// packed (low_first) to out, from one load of the group. Equals absmax + encode_codebook_run.
template <int Bits, std::size_t NV, class Arch = xsimd::default_arch>
inline float encode_codebook_group_packed4(const float* x, const codebook_kernel<Bits, Arch>& k, std::uint8_t* out) noexcept {
    static_assert(Bits == 4, "lowbit: packed4 kernels are for 4-bit codes");
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B big(3.4028234663852886e38f), zero(0.0f);
    B v[NV], m[NV];
    for (std::size_t j = 0; j < NV; ++j) {
        v[j] = B::load_unaligned(x + j * W);
        const B a = xsimd::abs(v[j]);
        m[j] = xsimd::select(a <= big, a, zero);  // NaN and ±Inf count as 0
    }
    for (std::size_t s = NV / 2; s >= 1; s /= 2)  // a maximum is exact in any order
        for (std::size_t j = 0; j < s; ++j) m[j] = xsimd::select(m[j + s] > m[j], m[j + s], m[j]);
    // The maximum broadcast to every lane, then 1/max in every lane (IEEE division, as the scalar
    // 1.0f / s): no scalar round trip on the critical path from the loads to the codes.
    const B mx = detail::broadcast_max<Arch>(m[0]);
    B s = B(1.0f) / mx;
    s = xsimd::select(mx == zero || xsimd::isinf(s), zero, s);
    const float r = mx.get(0);
    for (std::size_t j = 0; j < NV; ++j) {
        B y = v[j] * s;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        detail::store_nibbles<Arch>(detail::sorted_search<Arch, Bits, false>(y, k.thresholds), out + j * W / 2);
    }
    return r;
}

/// decode_codebook_run reading 4-bit codes packed (low_first) from in[0 … n/2); n even.
template <int Bits, class Arch = xsimd::default_arch>
inline void decode_codebook_run_packed4(const std::uint8_t* in, std::size_t n, float scale, const codebook<Bits>& cb,
                                        const codebook_kernel<Bits, Arch>& k, float* out) noexcept {
    static_assert(Bits == 4, "lowbit: packed4 kernels are for 4-bit codes");
    using B = xsimd::batch<float, Arch>;
    constexpr std::size_t W = B::size;
    const B s(scale);
    std::size_t i = 0;
    for (; i + W <= n; i += W) (k.levels(detail::load_nibbles<Arch>(in + i / 2)) * s).store_unaligned(out + i);
    std::uint8_t c[W];
    for (std::size_t j = 0; i + j + 1 < n; j += 2) {
        c[j] = in[(i + j) / 2] & 0xF;
        c[j + 1] = in[(i + j) / 2] >> 4;
    }
    reference::decode_codebook_run(c, n - i, scale, cb, out + i);
}

}  // namespace simd
LOWBIT_NAMESPACE_END
