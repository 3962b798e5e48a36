// lowbit — the SIMD primitives every kernel is written over. Algorithms call these and never
// name an instruction; each primitive has
//   * a scalar twin in simd::scalar (the definition, over plain arrays),
//   * a portable form written in xsimd (used by every Arch whose family has no hand-written one),
//   * hand-written forms per instruction-set family in simd/arch/x86.hpp and simd/arch/neon.hpp.
// tests/test_primitives.cpp checks every form against the twin over every tail length, in every
// target of the ISA matrix.
//
//   load_bytes(p)            lane l = p[l], zero-extended                     (W bytes read)
//   store_low_bytes(q, p)    p[l] = q[l] mod 256, no saturation               (W bytes written)
//   load_nibbles(p)          lane l = 4-bit code l, low_first                 (W/2 bytes read)
//   store_nibbles(q, p)      lanes (< 16) packed two per byte, low_first      (W/2 bytes written)
//   hmax(v), hmin(v)         the largest / smallest lane (lanes hold no NaN)
//   lookup(idx, table)       table.v[idx[l]] for a level_table of 2^Bits floats (idx < 2^Bits)
//   count_below<rule>(y, t)  #{k : t_k < y[l]} (rule at_or_below: t_k <= y[l]) for the sorted
//                            thresholds of a threshold_table; a NaN lane counts 0
//   stream_bytes, stream_fence  a copy by non-temporal stores where the ISA has them
//   dot8_i4, dot8_i8         exact int32 dots of 8 rows of 4- / 8-bit signed codes with int8
//                            activations, over blocks of 32 (no portable form: the twin)
//   scale_add8(acc, f, d)    acc[i] = acc[i] + f[i]·float(d[i]), product rounded, 8 lanes
//   gemv8<Bits>(…)           8 rows of a quantized linear layer over whole 32-blocks: per group
//                            dot8, then scale_add8 with f = s_w·s_x (the composition otherwise)
//   gemv8p<Bits>(…)          gemv8 on the row-interleaved layout of ops::int_linear (tile8p)
//   gemm8p<Bits>(t, rows, m, …)  gemv8p for m activation rows, each tile load serving them all
//   gemm8p_lut(t, lut, rows, m, …)  gemm8p on 4-bit tiles of table codes (levels L + 64)
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../core/config.hpp"
#include "../core/unfused.hpp"
#include "arch/family.hpp"
#include "arch/neon.hpp"
#include "arch/x86.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace simd {

template <class Arch>
using ibatch = xsimd::batch<std::int32_t, Arch>;
template <class Arch>
using fbatch = xsimd::batch<float, Arch>;

/// Which thresholds a value passes: strictly_below counts t < y (a value on a threshold takes
/// the lower code), at_or_below counts t <= y (it takes the upper one).
enum class threshold_rule { strictly_below, at_or_below };

/// 2^Bits floats looked up by code (decode levels), padded to at least 16 entries with copies
/// of the last one, so a 16-entry lookup never reads past the table.
template <int Bits>
struct level_table {
    static_assert(Bits >= 1 && Bits <= 8,
                  "lowbit: a level_table has 2^Bits entries, Bits in 1 … 8");
    static constexpr std::size_t size = std::size_t{1} << Bits;
    static constexpr std::size_t stored = size < 16 ? 16 : size;
    alignas(64) float v[stored] = {};

    level_table() = default;
    /// Copies n <= 2^Bits levels; the entries after them repeat the last one (0 when n = 0).
    level_table(const float* src, std::size_t n) noexcept {
        n = std::min(n, size);
        for (std::size_t i = 0; i < n; ++i) v[i] = src[i];
        for (std::size_t i = n; i < stored; ++i) v[i] = n ? src[n - 1] : 0.0f;
    }
};

/// The 2^Bits − 1 sorted (non-decreasing) thresholds of a Bits-bit threshold code, with the
/// tables the searching forms of count_below use. Plain data: any family reads it.
template <int Bits>
struct threshold_table {
    static_assert(Bits >= 1 && Bits <= 8,
                  "lowbit: a threshold_table has 2^Bits − 1 entries, Bits in 1 … 8");
    static constexpr int count = (1 << Bits) - 1;
    /// t[0 … count) the thresholds; the entries after them repeat the last one.
    level_table<Bits> t;
    /// Bits <= 4: step[k][i] = t[min(i + 2^k − 1, 15)] for the binary search over 16-lane
    /// permutes: before its step of size 2^k the search index i is a multiple of 2^{k+1}, so
    /// the index itself selects the threshold to compare with.
    alignas(64) float step[Bits <= 4 && Bits > 1 ? Bits - 1 : 1][16] = {};

    threshold_table() = default;
    /// Copies n <= 2^Bits − 1 thresholds (non-decreasing; the caller's invariant).
    threshold_table(const float* src, std::size_t n) noexcept
        : t(src, std::min<std::size_t>(n, count)) {
        if constexpr (Bits <= 4 && Bits > 1)
            for (int k = 0; k + 1 < Bits; ++k)
                for (int i = 0; i < 16; ++i) step[k][i] = t.v[std::min(i + (1 << k) - 1, 15)];
    }
};

/// The scalar twins: the definition of each primitive over plain arrays of `lanes` elements.
namespace scalar {
inline void load_bytes(const std::uint8_t* p, std::size_t lanes, std::int32_t* out) noexcept {
    for (std::size_t l = 0; l < lanes; ++l) out[l] = p[l];
}
inline void store_low_bytes(const std::int32_t* q, std::size_t lanes, std::uint8_t* p) noexcept {
    for (std::size_t l = 0; l < lanes; ++l)
        p[l] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(q[l]) & 0xFFu);
}
inline void load_nibbles(const std::uint8_t* p, std::size_t lanes, std::int32_t* out) noexcept {
    for (std::size_t l = 0; l < lanes; ++l) out[l] = (p[l / 2] >> (4 * (l % 2))) & 0xF;
}
/// lanes even; every q[l] < 16.
inline void store_nibbles(const std::int32_t* q, std::size_t lanes, std::uint8_t* p) noexcept {
    for (std::size_t l = 0; l + 1 < lanes; l += 2)
        p[l / 2] = static_cast<std::uint8_t>(q[l] | (q[l + 1] << 4));
}
inline float hmax(const float* v, std::size_t lanes) noexcept {
    float m = v[0];
    for (std::size_t l = 1; l < lanes; ++l) m = v[l] > m ? v[l] : m;
    return m;
}
inline float hmin(const float* v, std::size_t lanes) noexcept {
    float m = v[0];
    for (std::size_t l = 1; l < lanes; ++l) m = v[l] < m ? v[l] : m;
    return m;
}
template <int Bits>
inline float lookup(std::int32_t idx, const level_table<Bits>& table) noexcept {
    return table.v[static_cast<std::size_t>(idx) & (level_table<Bits>::size - 1)];
}
template <threshold_rule Rule, int Bits>
inline std::int32_t count_below(float y, const threshold_table<Bits>& table) noexcept {
    std::int32_t c = 0;
    for (int k = 0; k < threshold_table<Bits>::count; ++k)
        c += Rule == threshold_rule::at_or_below ? (table.t.v[k] <= y) : (table.t.v[k] < y);
    return c;
}
/// Σ_l code·q[l] over `blocks` blocks of 32 lanes, for 8 rows. Row i's block b is 16 bytes at
/// w + i·stride + 16·b; byte j holds the 4-bit two's complement codes of lanes j (low nibble)
/// and j + 16 (high nibble); lane l of block b multiplies q[32·b + l]. Every q in −127 … 127;
/// exact while blocks · 32 · 128 · 127 < 2^31.
inline void dot8_i4(const std::uint8_t* w, std::size_t stride, const std::int8_t* q,
                    std::size_t blocks, std::int32_t* out) noexcept {
    auto value = [](unsigned nibble) { return int(nibble ^ 8u) - 8; };
    for (std::size_t i = 0; i < 8; ++i) {
        std::int32_t s = 0;
        for (std::size_t b = 0; b < blocks; ++b)
            for (std::size_t j = 0; j < 16; ++j) {
                const unsigned byte = w[i * stride + 16 * b + j];
                s += value(byte & 0xFu) * q[32 * b + j] + value(byte >> 4) * q[32 * b + 16 + j];
            }
        out[i] = s;
    }
}
/// As dot8_i4 with 32 signed bytes per block: row i's block b at w + i·stride + 32·b.
inline void dot8_i8(const std::uint8_t* w, std::size_t stride, const std::int8_t* q,
                    std::size_t blocks, std::int32_t* out) noexcept {
    for (std::size_t i = 0; i < 8; ++i) {
        std::int32_t s = 0;
        for (std::size_t l = 0; l < 32 * blocks; ++l) {
            const int byte = w[i * stride + l];
            s += (byte - ((byte & 0x80) << 1)) * q[l];  // the byte as two's complement
        }
        out[i] = s;
    }
}
/// acc[i] = acc[i] + f[i]·float(d[i]) for i < 8, the product rounded to float on its own.
inline void scale_add8(float* acc, const float* f, const std::int32_t* d) noexcept {
    for (std::size_t i = 0; i < 8; ++i) acc[i] = acc[i] + mul_unfused(f[i], float(d[i]));
}
/// 8 weight rows · one activation row, every group a whole number of 32-blocks: for each
/// group g (columns [g·glen, min(g·glen + glen, cols)), cols and glen multiples of 32) in order,
/// d = dot8_i<Bits> of the group, f[i] = sw[8·g + i] · sx[g], scale_add8(out, f, d).
template <int Bits>
inline void gemv8(const std::uint8_t* w, std::size_t stride, const std::int8_t* q, const float* sx,
                  const float* sw, std::size_t cols, std::size_t glen, float* out) noexcept {
    std::int32_t d[8];
    float f[8];
    for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
        const std::size_t blocks = std::min(glen, cols - c0) / 32;
        if constexpr (Bits == 4)
            dot8_i4(w + c0 / 2, stride, q + c0, blocks, d);
        else
            dot8_i8(w + c0, stride, q + c0, blocks, d);
        for (std::size_t i = 0; i < 8; ++i) f[i] = sw[8 * g + i] * sx[g];
        scale_add8(out, f, d);
    }
}
/// The row-interleaved tile of 8 rows × 32 columns ops::int_linear stores (the layout
/// gemv8p reads): per block, chunks of 4 columns with each row's 4 codes side by side, so one
/// 32-byte load holds 4 codes of each of the 8 rows and a broadcast of 4 activations multiplies
/// them lane by lane.
///   8-bit: 256 bytes; byte 32·k + 4·i + j = code of row i, column 4·k + j (k < 8), two's
///          complement.
///   4-bit: 128 bytes; byte 32·k + 4·i + j (k < 4) holds u = code + 8 of row i, column 4·k + j
///          in its low nibble and of column 16 + 4·k + j in its high nibble.
template <int Bits>
struct tile8p {
    static_assert(Bits == 4 || Bits == 8, "lowbit: tile8p holds 4- or 8-bit codes");
    static constexpr std::size_t bytes = Bits == 4 ? 128 : 256;
    /// The signed code of row i, column c (< 32) of the block at p.
    static int code(const std::uint8_t* p, std::size_t i, std::size_t c) noexcept {
        if constexpr (Bits == 8) {
            const int b = p[32 * (c / 4) + 4 * i + c % 4];
            return b - ((b & 0x80) << 1);
        } else {
            const std::size_t k = c % 16 / 4;
            const unsigned b = p[32 * k + 4 * i + c % 4];
            return int(c < 16 ? b & 0xFu : b >> 4) - 8;
        }
    }
};

/// gemv8 over tiles in the tile8p layout: the blocks of the 8 rows follow one another from t
/// (tile8p<Bits>::bytes each); q the activations in column order. For each group g (columns
/// [g·glen, min(g·glen + glen, cols)), cols and glen multiples of 32) in order: d[i] = Σ code ·
/// q over the group, f[i] = sw[8·g + i] · sx[g], scale_add8(out, f, d). qsum[g] = Σ q over
/// group g (the kernels' offset correction, and the affine terms' factor when aff is set).
template <int Bits>
inline void gemv8p(const std::uint8_t* t, const std::int8_t* q, const std::int32_t* qsum,
                   const float* sx, const float* sw, std::size_t cols, std::size_t glen, float* out,
                   const gemv8p_affine* aff = nullptr) noexcept {
    std::int32_t d[8];
    float f[8];
    for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
        const std::size_t end = std::min(c0 + glen, cols);
        for (std::size_t i = 0; i < 8; ++i) {
            std::int32_t s = 0;
            for (std::size_t c = c0; c < end; ++c)
                s += tile8p<Bits>::code(t + c / 32 * tile8p<Bits>::bytes, i, c % 32) * q[c];
            d[i] = s;
            if (aff) d[i] += (aff->zc ? aff->zc[8 * g + i] : aff->zc_all) * qsum[g];
        }
        for (std::size_t i = 0; i < 8; ++i) f[i] = sw[8 * g + i] * sx[g];
        scale_add8(out, f, d);
        if (aff && aff->mw) {
            for (std::size_t i = 0; i < 8; ++i) {
                f[i] = aff->mw[8 * g + i] * sx[g];
                d[i] = qsum[g];
            }
            scale_add8(out, f, d);
        }
    }
}
/// gemv8p for each of the m activation rows (rows[j].q, .qsum, .sx, .out) on the same tile:
/// the result of each row is exactly gemv8p's; forms that share each weight load between rows
/// (ops::int_linear's gemm) must give the same bits.
template <int Bits>
inline void gemm8p(const std::uint8_t* t, const gemv8p_row* rows, std::size_t m, const float* sw,
                   std::size_t cols, std::size_t glen,
                   const gemv8p_affine* aff = nullptr) noexcept {
    for (std::size_t j = 0; j < m; ++j)
        gemv8p<Bits>(t, rows[j].q, rows[j].qsum, rows[j].sx, sw, cols, glen, rows[j].out, aff);
}
/// gemm8p on 4-bit tiles (tile8p<4>'s layout) whose nibbles u are codes of a table format:
/// lut holds 16 unsigned levels L(u) + 64 (|L| ≤ 64). Groups are glen columns: 16 (each
/// 32-column block is two groups, its low nibbles and its high ones) or a multiple of 32. Per
/// row j and group g, d[i] = Σ (lut[u] − 64) · q over the group, exact in int32 (|L|·127·glen
/// < 2^31 is the caller's to keep, and so is (|L| + 64)·127·glen), then gemv8p's float steps:
/// out[i] = out[i] + (s_w · sx[g]) · float(d[i]), s_w = sc.at(g, i), the product rounded on
/// its own.
inline void gemm8p_lut(const std::uint8_t* t, const std::uint8_t* lut, const gemv8p_row* rows,
                       std::size_t m, const tile_scales& sc, std::size_t cols,
                       std::size_t glen) noexcept {
    std::int32_t d[8];
    float f[8];
    for (std::size_t j = 0; j < m; ++j) {
        const gemv8p_row& r = rows[j];
        for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
            const std::size_t end = std::min(c0 + glen, cols);
            for (std::size_t i = 0; i < 8; ++i) {
                std::int32_t s = 0;
                for (std::size_t c = c0; c < end; ++c) {
                    const int u = tile8p<4>::code(t + c / 32 * tile8p<4>::bytes, i, c % 32) + 8;
                    s += (int(lut[u]) - 64) * r.q[c];
                }
                d[i] = s;
            }
            for (std::size_t i = 0; i < 8; ++i) f[i] = sc.at(g, i) * r.sx[g];
            scale_add8(r.out, f, d);
        }
    }
}
}  // namespace scalar

namespace detail_prim {
template <class Arch>
using hand = arch::kernels<arch::family_of<Arch>>;
}

template <class Arch>
LOWBIT_FORCE_INLINE ibatch<Arch> load_bytes(const std::uint8_t* p) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::load_bytes(p); }) {
        return ibatch<Arch>(K::load_bytes(p));
    } else {
        alignas(64) std::int32_t lanes[ibatch<Arch>::size];
        scalar::load_bytes(p, ibatch<Arch>::size, lanes);
        return ibatch<Arch>::load_aligned(lanes);
    }
}

template <class Arch>
LOWBIT_FORCE_INLINE void store_low_bytes(const ibatch<Arch>& q, std::uint8_t* p) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::store_low_bytes(q, p); }) {
        K::store_low_bytes(q, p);
    } else {
        alignas(64) std::int32_t lanes[ibatch<Arch>::size];
        q.store_aligned(lanes);
        scalar::store_low_bytes(lanes, ibatch<Arch>::size, p);
    }
}

template <class Arch>
LOWBIT_FORCE_INLINE ibatch<Arch> load_nibbles(const std::uint8_t* p) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::load_nibbles(p); }) {
        return ibatch<Arch>(K::load_nibbles(p));
    } else {
        alignas(64) std::int32_t lanes[ibatch<Arch>::size];
        scalar::load_nibbles(p, ibatch<Arch>::size, lanes);
        return ibatch<Arch>::load_aligned(lanes);
    }
}

/// Every lane < 16 (the caller's invariant).
template <class Arch>
LOWBIT_FORCE_INLINE void store_nibbles(const ibatch<Arch>& q, std::uint8_t* p) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::store_nibbles(q, p); }) {
        K::store_nibbles(q, p);
    } else {
        alignas(64) std::int32_t lanes[ibatch<Arch>::size];
        q.store_aligned(lanes);
        scalar::store_nibbles(lanes, ibatch<Arch>::size, p);
    }
}

template <class Arch>
LOWBIT_FORCE_INLINE float hmax(const fbatch<Arch>& v) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::hmax(v); }) {
        return K::hmax(v);
    } else {
        alignas(64) float lanes[fbatch<Arch>::size];
        v.store_aligned(lanes);
        return scalar::hmax(lanes, fbatch<Arch>::size);
    }
}

template <class Arch>
LOWBIT_FORCE_INLINE float hmin(const fbatch<Arch>& v) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::hmin(v); }) {
        return K::hmin(v);
    } else {
        alignas(64) float lanes[fbatch<Arch>::size];
        v.store_aligned(lanes);
        return scalar::hmin(lanes, fbatch<Arch>::size);
    }
}

/// table.v[idx] per lane; every idx in 0 … 2^Bits − 1 (the caller's invariant).
template <class Arch, int Bits>
LOWBIT_FORCE_INLINE fbatch<Arch> lookup(const ibatch<Arch>& idx,
                                        const level_table<Bits>& table) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (Bits <= 4 && requires { K::lookup16(idx, table.v); })
        return fbatch<Arch>(K::lookup16(idx, table.v));
    else
        return fbatch<Arch>::gather(table.v, idx);
}

/// #{k : t_k < y} per lane (at_or_below: t_k <= y); a NaN lane counts 0.
///   * up to 4 bits where the family has a 16-lane permute: a binary search of Bits steps over
///     the step tables (exact because the thresholds are non-decreasing);
///   * up to 4 bits elsewhere: one compare per threshold, the masks summed (hand-written, or
///     the portable select form);
///   * 5 bits and more: the binary search with gathers of the thresholds.
template <threshold_rule Rule, class Arch, int Bits>
LOWBIT_FORCE_INLINE ibatch<Arch> count_below(const fbatch<Arch>& y,
                                             const threshold_table<Bits>& table) noexcept {
    using K = detail_prim::hand<Arch>;
    using B = fbatch<Arch>;
    constexpr bool inclusive = Rule == threshold_rule::at_or_below;
    if constexpr (Bits <= 4 &&
                  requires { K::template search16<inclusive, Bits>(y, table.t.v, table.step); }) {
        return ibatch<Arch>(K::template search16<inclusive, Bits>(y, table.t.v, table.step));
    } else if constexpr (Bits <= 4 && requires {
                             K::template count_linear<inclusive, threshold_table<Bits>::count>(
                                 y, table.t.v);
                         }) {
        return ibatch<Arch>(
            K::template count_linear<inclusive, threshold_table<Bits>::count>(y, table.t.v));
    } else if constexpr (Bits <= 4) {
        // Four partial sums of exact small integers in float: independent chains, exact sums.
        B c[4] = {B(0.0f), B(0.0f), B(0.0f), B(0.0f)};
        const B one(1.0f), zero(0.0f);
        for (int k = 0; k < threshold_table<Bits>::count; ++k) {
            const B t(table.t.v[k]);
            c[k & 3] = c[k & 3] + xsimd::select(inclusive ? (t <= y) : (t < y), one, zero);
        }
        return xsimd::batch_cast<std::int32_t>((c[0] + c[1]) + (c[2] + c[3]));
    } else {
        B idx(0.0f);
        for (int step = 1 << (Bits - 1); step >= 1; step /= 2) {
            const B tv =
                B::gather(table.t.v, xsimd::batch_cast<std::int32_t>(idx) + ibatch<Arch>(step - 1));
            idx = idx + xsimd::select(inclusive ? (tv <= y) : (tv < y), B(float(step)), B(0.0f));
        }
        return xsimd::batch_cast<std::int32_t>(idx);
    }
}

/// Copies n bytes from src to dst, for a large output that will not be read again soon: the
/// 64-byte lines of dst it covers whole are written with non-temporal stores where the family
/// has them (no read-for-ownership of the line, and the line does not push the input out of
/// the caches); the partial lines at either end, and everything elsewhere, by plain stores.
/// Call stream_fence() after the last one, before another thread may read dst.
template <class Arch>
inline void stream_bytes(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::stream_line(dst, src); }) {
        std::size_t i = (64 - (reinterpret_cast<std::uintptr_t>(dst) & 63u)) & 63u;
        if (i > n) i = n;
        std::memcpy(dst, src, i);
        for (; i + 64 <= n; i += 64) K::stream_line(dst + i, src + i);
        std::memcpy(dst + i, src + i, n - i);
    } else {
        std::memcpy(dst, src, n);
    }
}

/// Orders the non-temporal stores of stream_bytes before any later store (x86: sfence; other
/// families have no non-temporal stores here).
template <class Arch = xsimd::default_arch>
inline void stream_fence() noexcept {
    // Spelled through Arch so that the requirement is checked at instantiation.
    using K = std::conditional_t<sizeof(Arch) != 0, arch::kernels<arch::isa::sse2>, void>;
    if constexpr (requires { K::fence(); }) K::fence();
}

/// simd::scalar::dot8_i4 (the definition) in the family's instructions.
template <class Arch>
LOWBIT_FORCE_INLINE void dot8_i4(const std::uint8_t* w, std::size_t stride, const std::int8_t* q,
                                 std::size_t blocks, std::int32_t* out) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::dot8_i4(w, stride, q, blocks, out); })
        K::dot8_i4(w, stride, q, blocks, out);
    else
        scalar::dot8_i4(w, stride, q, blocks, out);
}

/// simd::scalar::dot8_i8 (the definition) in the family's instructions.
template <class Arch>
LOWBIT_FORCE_INLINE void dot8_i8(const std::uint8_t* w, std::size_t stride, const std::int8_t* q,
                                 std::size_t blocks, std::int32_t* out) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::dot8_i8(w, stride, q, blocks, out); })
        K::dot8_i8(w, stride, q, blocks, out);
    else
        scalar::dot8_i8(w, stride, q, blocks, out);
}

/// simd::scalar::scale_add8 (the definition) in the family's instructions.
template <class Arch>
LOWBIT_FORCE_INLINE void scale_add8(float* acc, const float* f, const std::int32_t* d) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::scale_add8(acc, f, d); })
        K::scale_add8(acc, f, d);
    else
        scalar::scale_add8(acc, f, d);
}

/// simd::scalar::gemv8 (the definition): the family's fused form, or the composition of its
/// dot8_i4 / dot8_i8 and scale_add8.
template <class Arch, int Bits>
LOWBIT_FORCE_INLINE void gemv8(const std::uint8_t* w, std::size_t stride, const std::int8_t* q,
                               const float* sx, const float* sw, std::size_t cols, std::size_t glen,
                               float* out) noexcept {
    static_assert(Bits == 4 || Bits == 8, "lowbit: gemv8 takes 4- or 8-bit codes");
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::template gemv8<Bits>(w, stride, q, sx, sw, cols, glen, out); }) {
        K::template gemv8<Bits>(w, stride, q, sx, sw, cols, glen, out);
    } else {
        std::int32_t d[8];
        float f[8];
        for (std::size_t c0 = 0, g = 0; c0 < cols; c0 += glen, ++g) {
            const std::size_t blocks = std::min(glen, cols - c0) / 32;
            if constexpr (Bits == 4)
                dot8_i4<Arch>(w + c0 / 2, stride, q + c0, blocks, d);
            else
                dot8_i8<Arch>(w + c0, stride, q + c0, blocks, d);
            for (std::size_t i = 0; i < 8; ++i) f[i] = sw[8 * g + i] * sx[g];
            scale_add8<Arch>(out, f, d);
        }
    }
}

/// simd::scalar::gemv8p (the definition) in the family's instructions, where it has them.
template <class Arch, int Bits>
LOWBIT_FORCE_INLINE void gemv8p(const std::uint8_t* t, const std::int8_t* q,
                                const std::int32_t* qsum, const float* sx, const float* sw,
                                std::size_t cols, std::size_t glen, float* out,
                                const gemv8p_affine* aff = nullptr) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::template gemv8p<Bits>(t, q, qsum, sx, sw, cols, glen, out, aff); })
        K::template gemv8p<Bits>(t, q, qsum, sx, sw, cols, glen, out, aff);
    else
        scalar::gemv8p<Bits>(t, q, qsum, sx, sw, cols, glen, out, aff);
}

/// simd::scalar::gemm8p (the definition): the family's gemm8p where it has one (each weight
/// load shared by several rows), else its gemv8p row by row.
template <class Arch, int Bits>
LOWBIT_FORCE_INLINE void gemm8p(const std::uint8_t* t, const gemv8p_row* rows, std::size_t m,
                                const float* sw, std::size_t cols, std::size_t glen,
                                const gemv8p_affine* aff = nullptr) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::template gemm8p<Bits>(t, rows, m, sw, cols, glen, aff); })
        K::template gemm8p<Bits>(t, rows, m, sw, cols, glen, aff);
    else
        for (std::size_t j = 0; j < m; ++j)
            gemv8p<Arch, Bits>(t, rows[j].q, rows[j].qsum, rows[j].sx, sw, cols, glen, rows[j].out,
                               aff);
}

/// simd::scalar::gemm8p_lut (the definition) in the family's instructions, where it has them.
template <class Arch>
LOWBIT_FORCE_INLINE void gemm8p_lut(const std::uint8_t* t, const std::uint8_t* lut,
                                    const gemv8p_row* rows, std::size_t m, const tile_scales& sc,
                                    std::size_t cols, std::size_t glen) noexcept {
    using K = detail_prim::hand<Arch>;
    if constexpr (requires { K::gemm8p_lut(t, lut, rows, m, sc, cols, glen); })
        K::gemm8p_lut(t, lut, rows, m, sc, cols, glen);
    else
        scalar::gemm8p_lut(t, lut, rows, m, sc, cols, glen);
}

/// Whether the family of Arch has a hand-written gemm8p_lut (ops::lut_linear's fast path).
template <class Arch>
inline constexpr bool has_packed_lut = requires(const std::uint8_t* t, const gemv8p_row* r,
                                                const tile_scales& sc) {
    detail_prim::hand<Arch>::gemm8p_lut(t, t, r, std::size_t{}, sc, std::size_t{}, std::size_t{});
};

/// Whether the family of Arch has a hand-written gemm8p (int_linear's GEMM shares weight loads).
template <class Arch>
inline constexpr bool has_packed_gemm = requires(const std::uint8_t* t, const gemv8p_row* r,
                                                 const float* f) {
    detail_prim::hand<Arch>::template gemm8p<4>(t, r, std::size_t{}, f, std::size_t{},
                                                std::size_t{}, nullptr);
};

/// Whether the family of Arch has a hand-written gemv8p (ops::int_linear's fast path).
template <class Arch>
inline constexpr bool has_packed_dot = requires(const std::uint8_t* t, const std::int8_t* q,
                                                const std::int32_t* s, const float* f, float* o) {
    detail_prim::hand<Arch>::template gemv8p<4>(t, q, s, f, f, std::size_t{}, std::size_t{}, o,
                                                nullptr);
};

/// Whether the family of Arch has hand-written integer dots (dot8_i4 / dot8_i8): the quantized
/// linear operators take their SIMD path only then.
template <class Arch>
inline constexpr bool has_int_dot = requires(const std::uint8_t* w, const std::int8_t* q,
                                             std::int32_t* o) {
    detail_prim::hand<Arch>::dot8_i4(w, std::size_t{}, q, std::size_t{}, o);
    detail_prim::hand<Arch>::dot8_i8(w, std::size_t{}, q, std::size_t{}, o);
};

}  // namespace simd
LOWBIT_NAMESPACE_END
