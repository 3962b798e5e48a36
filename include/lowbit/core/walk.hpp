// lowbit — the order in which a second pass over a long tensor visits it, so that it meets what the
// first pass (a reduction read as several ascending streams) left in the last-level cache.
//
// A per-tensor scale or σ needs one pass over all of x before the first code; that pass reads x as
// S ascending streams at once (one core keeps more misses in flight that way), so when it ends the
// cache holds the tails of S parts. for_each_step_backward visits the encode pass's pieces in the
// reverse of that order. Codes never depend on the order in which they are computed.
#pragma once
#include <algorithm>
#include <cstddef>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {

/// Elements per piece of a back-to-front walk (1 MiB of float input).
inline constexpr std::size_t backward_piece = std::size_t{1} << 18;

/// Calls f(c0, c1) over [begin, end) cut at begin + multiples of `step` (backward_piece % step ==
/// 0), in pieces of backward_piece elements, each piece front to back: [begin, end) is cut into
/// `Streams` parts like the first pass's streams, and the parts' last pieces come first (one of
/// each part in turn), then their second-to-last, and so on. What the last-level cache still holds
/// of x is used first, and the pass ends on the parts' heads, where the next first pass starts.
/// Pieces are long because the hardware prefetchers follow ascending streams: short ascending runs
/// taken in descending order defeat them.
template <std::size_t Streams, class F>
inline void for_each_step_backward(std::size_t begin, std::size_t end, std::size_t step, F&& f) {
    static_assert(Streams >= 1, "lowbit: a walk needs at least one stream");
    const std::size_t pieces = (end - begin + backward_piece - 1) / backward_piece,
                      per = (pieces + Streams - 1) / Streams;
    for (std::size_t r = per; r-- > 0;)
        for (std::size_t s = 0; s < Streams; ++s) {
            const std::size_t p = s * per + r;
            if (p >= pieces) continue;
            const std::size_t p0 = begin + p * backward_piece,
                              p1 = std::min(p0 + backward_piece, end);
            for (std::size_t c0 = p0; c0 < p1; c0 += step) f(c0, std::min(c0 + step, p1));
        }
}

}  // namespace detail

LOWBIT_NAMESPACE_END
