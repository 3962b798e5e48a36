// lowbit — xsimd kernels for the integer formats. Twin of formats/int.hpp's reference
// kernels, equal to them bit for bit (tests/test_int.cpp): the same operations in the same
// order, lane by lane; tails and rare cases go through the reference.
//
// The kernels work on one-byte codes (simd/primitives.hpp narrows and widens the int32 lanes);
// packing them into the bit stream is simd/packing.hpp's job.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "../core/packing.hpp"
#include "../core/unfused.hpp"
#include "packing.hpp"
#include "../formats/int.hpp"
#include "../scale/mse.hpp"
#include "primitives.hpp"
#include "observe.hpp"
#include "rounding.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

/// Finite min and max of each of `ng` groups of G contiguous values: lo[g], hi[g] equal
/// minmax(x + g·G, G). (A transpose-reduce with xsimd::zip_lo/zip_hi was tried and dropped:
/// on AVX and AVX-512 those interleave within 128-bit lanes, so such a network never mixes
/// the lanes of different 128-bit quarters.)
template <class Arch = xsimd::default_arch>
inline void group_extremes(const float* x, std::size_t G, std::size_t ng, float* lo,
                           float* hi) noexcept {
    for (std::size_t g = 0; g < ng; ++g) minmax<Arch>(x + g * G, G, lo[g], hi[g]);
}

namespace detail_mse {
/// Lane i reads lane i + W (lanes without one read themselves): a fold step of distance W.
template <std::size_t W>
struct lanes_from {
    static constexpr std::uint32_t get(std::size_t i, std::size_t n) noexcept {
        return static_cast<std::uint32_t>(i + W < n ? i + W : i);
    }
};

/// Folds the 16 partials held in R registers (partial r·W + l in lane l of v[r]) as
/// mse_search::fold does: register pairs first (the steps w >= W), then within the register.
template <class Arch, std::size_t R>
LOWBIT_FORCE_INLINE float fold(const fbatch<Arch>* v) noexcept {
    using B = fbatch<Arch>;
    using U = xsimd::batch<std::uint32_t, Arch>;
    B t[R];
    for (std::size_t r = 0; r < R; ++r) t[r] = v[r];
    for (std::size_t h = R / 2; h >= 1; h /= 2)
        for (std::size_t r = 0; r < h; ++r) t[r] = t[r] + t[r + h];
    B u = t[0];
    [&]<std::size_t... S>(std::index_sequence<S...>) LOWBIT_LAMBDA_INLINE {
        ((u = u +
              xsimd::swizzle(u, xsimd::make_batch_constant<U, lanes_from<(B::size >> (S + 1))>>())),
         ...);
    }
    (std::make_index_sequence<std::bit_width(B::size) - 1>{});
    return u.get(0);
}
}  // namespace detail_mse

/// What mse_chunk_sums may assume of its values and candidates.
enum class mse_values {
    any,        ///< finite values, candidates with offsets
    no_offset,  ///< finite values, every m = 0
    magnitude,  ///< finite values >= 0 (|x| of a symmetric format: qmin = −qmax), every m = 0
};

/// |x| with the non-finite values replaced by 0, to out[0 … n): for a symmetric format
/// (qmin = −qmax) without offset, q(−x) = −q(x) and d(−x) = −d(x) exactly, so d² of |x| is d² of
/// x; a zero adds d = 0 (what skipping a non-finite value adds).
template <class Arch = xsimd::default_arch>
inline void finite_magnitudes(const float* x, std::size_t n, float* out) noexcept {
    using B = fbatch<Arch>;
    constexpr std::size_t W = B::size;
    std::size_t j = 0;
    for (; j + W <= n; j += W) {
        const B v = B::load_unaligned(x + j);
        xsimd::select(xsimd::isfinite(v), xsimd::abs(v), B(0.0f)).store_unaligned(out + j);
    }
    for (; j < n; ++j) out[j] = std::isfinite(x[j]) ? std::fabs(x[j]) : 0.0f;
}

/// Candidates evaluated together by mse_chunk_sums on Arch: enough independent chains of
/// additions (K · 16/W accumulators, 4 in all) to hide the latency of each.
template <class Arch = xsimd::default_arch>
inline constexpr int mse_candidates_per_pass = fbatch<Arch>::size >= 4 ? int(fbatch<Arch>::size) / 4
                                                                       : 1;

/// The float sums (to sum[0 … K)) of one chunk (n <= mse_search::chunk values) of the MSE
/// search's squared errors, for K candidates (inv[k], s[k], m[k]) at once; each equals
/// mse_search::chunk_sum (of x, or where Values is magnitude of the signed values whose
/// magnitudes x holds). A candidate's 16 partials live in 16/W
/// registers, batch i of the chunk in register i mod 16/W; the last, partial batch is padded
/// with lanes whose d is 0 (adding +0 to a partial >= +0 changes nothing). Without offsets the
/// offset is left out: x − 0 is x, and q·s + 0 differs from q·s only in the sign of a zero,
/// which d² does not see; of magnitudes (y >= 0) only the upper clamp can bind.
template <mse_values Values, int K, class Arch = xsimd::default_arch>
inline void mse_chunk_sums(const float* x, std::size_t n, const float* inv, const float* s,
                           const float* m, float qmin, float qmax, float* sum) noexcept {
    using B = fbatch<Arch>;
    constexpr std::size_t W = B::size;
    if constexpr (W > mse_search::partials || mse_search::partials % W != 0) {
        for (int k = 0; k < K; ++k)
            sum[k] = mse_search::chunk_sum(x, n, inv[k], s[k], m[k], qmin,
                                           qmax);  // (magnitudes: same d²)
    } else {
        constexpr std::size_t P = mse_search::partials, R = P / W, KR = std::size_t(K) * R;
        const B lo(qmin), hi(qmax), zero(0.0f);
        B vinv[K], vs[K], vm[K], acc[KR];  // acc[k·R + r]: candidate k's partials r·W … r·W + W − 1
        for (int k = 0; k < K; ++k) {
            vinv[k] = B(inv[k]);
            vs[k] = B(s[k]);
            vm[k] = B(m[k]);
        }
        for (std::size_t i = 0; i < KR; ++i) acc[i] = zero;
        // One batch of 16 values from p into every accumulator (lanes at or past `valid` add 0),
        // unrolled at compile time: constant indices keep the accumulators in registers.
        auto step = [&]<bool Tail, std::size_t... I>(
            const float* p, std::size_t valid, std::index_sequence<I...>) LOWBIT_LAMBDA_INLINE {
            auto term = [&](std::size_t k, std::size_t r) LOWBIT_LAMBDA_INLINE {
                const B xv = B::load_unaligned(p + r * W);
                B d;
                if constexpr (Values == mse_values::any) {
                    const B q =
                        xsimd::min(xsimd::max(xsimd::nearbyint((xv - vm[k]) * vinv[k]), lo), hi);
                    d = xv - (mul_unfused(q, vs[k]) + vm[k]);
                } else if constexpr (Values == mse_values::magnitude) {
                    const B q = xsimd::min(xsimd::nearbyint(xv * vinv[k]), hi);
                    d = xv - mul_unfused(q, vs[k]);
                } else {
                    const B q = xsimd::min(xsimd::max(xsimd::nearbyint(xv * vinv[k]), lo), hi);
                    d = xv - mul_unfused(q, vs[k]);
                }
                if constexpr (Tail) {
                    alignas(64) float lane[W];
                    for (std::size_t l = 0; l < W; ++l) lane[l] = float(r * W + l);
                    d = xsimd::select(B::load_aligned(lane) < B(float(valid)), d, zero);
                }
                return mul_unfused(d, d);
            };
            ((acc[I] = acc[I] + term(I / R, I % R)), ...);
        };
        const auto all = std::make_index_sequence<KR>{};
        std::size_t j = 0;
        for (; j + P <= n; j += P) step.template operator()<false>(x + j, P, all);
        if (j < n) {  // without an offset, zero padding adds d = 0 by itself
            alignas(64) float tail[P] = {};
            for (std::size_t i = 0; i < n - j; ++i) tail[i] = x[j + i];
            if constexpr (Values == mse_values::any)
                step.template operator()<true>(tail, n - j, all);
            else
                step.template operator()<false>(tail, P, all);
        }
        for (int k = 0; k < K; ++k) sum[k] = detail_mse::fold<Arch, R>(acc + std::size_t(k) * R);
    }
}

/// The chunk sums (to sum[0 … C')) of one short chunk (n <= mse_search::chunk values; meant for
/// slots of a few dozen) for the first C' = C − C mod W candidates (the caller computes the
/// others with mse_chunk_sums), with the candidates in the lanes: value j is
/// broadcast and added, for every candidate at once, to accumulator j mod 16, and the 16
/// accumulators are folded as mse_search::fold does, so each lane equals mse_search::chunk_sum
/// (of the magnitudes where Values is magnitude). No horizontal work: the better layout when a
/// slot holds fewer values than mse_chunk_sums needs to amortise its folds.
template <mse_values Values, class Arch = xsimd::default_arch>
inline void mse_chunk_sums_across(const float* x, std::size_t n, const float* inv, const float* s,
                                  const float* m, int C, float qmin, float qmax,
                                  float* sum) noexcept {
    using B = fbatch<Arch>;
    constexpr std::size_t W = B::size, P = mse_search::partials;
    const B lo(qmin), hi(qmax);
    for (int c0 = 0; c0 + int(W) <= C; c0 += int(W)) {
        alignas(64) float out[W];
        const B vinv = B::load_unaligned(inv + c0), vs = B::load_unaligned(s + c0),
                vm = B::load_unaligned(m + c0);
        auto term = [&](float xj) LOWBIT_LAMBDA_INLINE {
            const B xv(xj);
            B d;
            if constexpr (Values == mse_values::any) {
                const B q = xsimd::min(xsimd::max(xsimd::nearbyint((xv - vm) * vinv), lo), hi);
                d = xv - (mul_unfused(q, vs) + vm);
            } else if constexpr (Values == mse_values::magnitude) {
                d = xv - mul_unfused(xsimd::min(xsimd::nearbyint(xv * vinv), hi), vs);
            } else {
                d = xv -
                    mul_unfused(xsimd::min(xsimd::max(xsimd::nearbyint(xv * vinv), lo), hi), vs);
            }
            return mul_unfused(d, d);
        };
        B acc[P];
        for (std::size_t r = 0; r < P; ++r) acc[r] = B(0.0f);
        std::size_t j = 0;
        for (; j + P <= n; j += P)
            [&]<std::size_t... R>(std::index_sequence<R...>) LOWBIT_LAMBDA_INLINE {
                ((acc[R] = acc[R] + term(x[j + R])), ...);
            }
        (std::make_index_sequence<P>{});
        const std::size_t rest = n - j;
        [&]<std::size_t... R>(std::index_sequence<R...>) LOWBIT_LAMBDA_INLINE {
            ((R < rest ? void(acc[R] = acc[R] + term(x[j + R])) : void()), ...);
        }
        (std::make_index_sequence<P>{});
        [&]<std::size_t... R>(std::index_sequence<R...>)
            LOWBIT_LAMBDA_INLINE {  // p_i += p_{i+w}, w = 8, 4, 2, 1
            ((acc[R] = acc[R] + acc[R + 8]), ...);
            ((R < 4 ? void(acc[R] = acc[R] + acc[R + 4]) : void()), ...);
            ((R < 2 ? void(acc[R] = acc[R] + acc[R + 2]) : void()), ...);
            acc[0] = acc[0] + acc[1];
        }
        (std::make_index_sequence<P / 2>{});
        acc[0].store_aligned(out);
        for (std::size_t l = 0; l < W; ++l) sum[c0 + int(l)] = out[l];
    }
}

/// SIMD encode of n values to one-byte codes; equals reference::encode_int_run.
template <class Format, class Arch = xsimd::default_arch>
inline void encode_int_run(const float* x, std::size_t n, const int_run_params& p, rounding rnd,
                           std::uint64_t index0, std::uint8_t* codes) noexcept {
    using B = fbatch<Arch>;
    using I = ibatch<Arch>;
    constexpr std::size_t W = B::size;
    const B lo(static_cast<float>(Format::qmin)), hi(static_cast<float>(Format::qmax)), zero(0.0f);
    const I mask(static_cast<std::int32_t>(code_traits<Format::bits>::mask));
    auto finish = [&](B r, std::size_t at) {
        r = xsimd::min(xsimd::max(r, lo), hi);
        store_low_bytes<Arch>(xsimd::batch_cast<std::int32_t>(r) & mask, codes + at);
    };
    std::size_t i = 0;
    if (p.stride == 0 && rnd.mode == round_mode::nearest_even && p.zero[0] == 0.0f) {
        // The common case: one scale, nearest-even, no integer zero point. Clamping before
        // rounding gives the same integer (the bounds are integers), which lets one conversion
        // round (cvtps2dq in the default environment, like std::nearbyint) and a subtraction of
        // a zero offset is skipped (x − 0 is x, −0 and NaN included).
        const B inv(p.inv[0]), off(p.offset[0]);
        const bool has_off = p.offset[0] != 0.0f;
        auto one = [&](std::size_t at) {
            const B v = B::load_unaligned(x + at);
            B y = (has_off ? v - off : v) * inv;
            y = xsimd::select(xsimd::isnan(y), zero, y);
            // The mask keeps a negative code's low `bits` bits (two's complement), as the
            // reference does, for every width including 8.
            store_low_bytes<Arch>(xsimd::nearbyint_as_int(xsimd::min(xsimd::max(y, lo), hi)) & mask,
                                  codes + at);
        };
        for (; i + 2 * W <= n; i += 2 * W) {
            one(i);
            one(i + W);
        }
        for (; i + W <= n; i += W) one(i);
    }
    for (; i + W <= n; i += W) {
        if (rnd.mode == round_mode::stochastic && !lanes_share_high_word<Arch>(index0 + i)) break;
        const std::size_t k = i * p.stride;
        const B inv = p.stride ? B::load_unaligned(p.inv + k) : B(p.inv[0]);
        const B off = p.stride ? B::load_unaligned(p.offset + k) : B(p.offset[0]);
        const B z = p.stride ? B::load_unaligned(p.zero + k) : B(p.zero[0]);
        B y = (B::load_unaligned(x + i) - off) * inv;
        y = xsimd::select(xsimd::isnan(y), zero, y);
        const B r = rnd.mode == round_mode::nearest_up
            ? xsimd::floor(y + B(0.5f - float(Format::qmin))) + lo
            : round_integral<Arch>(y, rnd, index0 + i);
        finish(r + z, i);
    }
    if (i < n) {
        int_run_params tail = p;
        if (p.stride) {
            tail.inv += i;
            tail.scale += i;
            tail.offset += i;
            tail.zero += i;
        }
        reference::encode_int_run<Format>(x + i, n - i, tail, rnd, index0 + i, codes + i);
    }
}

/// SIMD decode of n one-byte codes; equals reference::decode_int_run.
template <class Format, affine Form, class Arch = xsimd::default_arch>
inline void decode_int_run(const std::uint8_t* codes, std::size_t n, const int_run_params& p,
                           float* out) noexcept {
    using B = fbatch<Arch>;
    using I = ibatch<Arch>;
    constexpr std::size_t W = B::size;
    constexpr std::int32_t half = Format::is_signed ? (1 << (Format::bits - 1)) : 0;
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        I qi = load_bytes<Arch>(codes + i);
        if constexpr (Format::is_signed) qi = (qi ^ I(half)) - I(half);  // sign-extend b bits
        const B q = xsimd::batch_cast<float>(qi);
        const std::size_t k = i * p.stride;
        const B s = p.stride ? B::load_unaligned(p.scale + k) : B(p.scale[0]);
        B v;
        if constexpr (Form == affine::none)
            v = q * s;
        else if constexpr (Form == affine::offset)
            v = mul_unfused(q, s) + (p.stride ? B::load_unaligned(p.offset + k) : B(p.offset[0]));
        else
            v = (q - (p.stride ? B::load_unaligned(p.zero + k) : B(p.zero[0]))) * s;
        v.store_unaligned(out + i);
    }
    if (i < n) {
        int_run_params tail = p;
        if (p.stride) {
            tail.inv += i;
            tail.scale += i;
            tail.offset += i;
            tail.zero += i;
        }
        reference::decode_int_run<Format, Form>(codes + i, n - i, tail, out + i);
    }
}

}  // namespace simd
LOWBIT_NAMESPACE_END
