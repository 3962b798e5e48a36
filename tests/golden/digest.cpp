// lowbit-digest — one line per scheme: an FNV-1a 64 digest of the codes and of the dequantized
// bits that every registered scheme gives on fixed data, for the scalar and the SIMD backend.
// scripts/test-isa.sh runs it in every target of the ISA matrix and compares the lines: the
// same scheme must give the same bits on SSE2, SSE4.2, AVX2, AVX-512 and NEON, with and without
// FP contraction. Within one target the scalar and the SIMD digests must agree (exit status 1
// otherwise).
//
// The data are built from integers and IEEE-exact operations only (+, −, ×, no libm), so the
// input is the same bits on every target. A scheme that rejects an input digests its message.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <lowbit/schemes.hpp>
#include <xsimd/xsimd.hpp>

namespace {

struct fnv1a {
    std::uint64_t h = 0xcbf29ce484222325ull;
    void bytes(const void* p, std::size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    }
    void text(std::string_view s) { bytes(s.data(), s.size()); }
};

/// splitmix64: a fixed integer sequence on every platform.
struct rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    /// Approximately N(0, 1): Irwin–Hall, the sum of 12 uniforms in [0, 1) minus 6, summed as
    /// 24-bit integers (exact), converted once and scaled by 2^-24 (exact).
    float gaussian() {
        std::int64_t s = 0;
        for (int i = 0; i < 12; ++i) s += static_cast<std::int64_t>(next() >> 40);
        return static_cast<float>(s - 6 * (std::int64_t{1} << 24)) * 0x1p-24f;
    }
};

struct dataset {
    const char* name;
    lowbit::shape2d shape;
    std::vector<float> x;
};

std::vector<dataset> datasets() {
    constexpr float inf = std::numeric_limits<float>::infinity();
    constexpr float nan = std::numeric_limits<float>::quiet_NaN();
    constexpr float fmax = std::numeric_limits<float>::max();
    std::vector<dataset> v;
    const lowbit::shape2d shape{
        24, 256};  // 256 columns: two Hadamard blocks, whole MX/NVFP4/NF blocks per row
    const std::size_t n = shape.size();

    {  // N(0, 1), every row scaled by its own power-of-two-free factor
        rng g{1};
        dataset d{"gaussian", shape, std::vector<float>(n)};
        for (std::size_t r = 0; r < shape.rows; ++r) {
            const float row_scale = 0.25f + 0.375f * static_cast<float>(r);
            for (std::size_t c = 0; c < shape.cols; ++c)
                d.x[r * shape.cols + c] = g.gaussian() * row_scale;
        }
        v.push_back(std::move(d));
    }
    {  // ties: multiples of 1/8 and 1/16 with halves, small integers, exact decimal-free values
        rng g{2};
        dataset d{"ties", shape, std::vector<float>(n)};
        for (auto& e : d.x) {
            const auto k = static_cast<int>(g.next() % 129) - 64;
            e = static_cast<float>(k) * ((g.next() & 1) ? 0.125f : 0.0625f) +
                ((g.next() & 3) == 0 ? 0.5f : 0.0f);
        }
        v.push_back(std::move(d));
    }
    {  // finite extremes: subnormals, ±0, huge values near ±FLT_MAX mixed with ordinary ones
        rng g{3};
        const float specials[] = {0.0f,
                                  -0.0f,
                                  std::numeric_limits<float>::denorm_min(),
                                  -1e-40f,
                                  1e-38f,
                                  -3e-39f,
                                  1e38f,
                                  -1e38f,
                                  fmax,
                                  -fmax,
                                  0x1.fffffep+100f,
                                  -0x1p-126f,
                                  65504.0f,
                                  448.0f,
                                  -57344.0f,
                                  6.0f};
        dataset d{"finite_extremes", shape, std::vector<float>(n)};
        for (auto& e : d.x) e = (g.next() % 4 == 0) ? specials[g.next() % 16] : g.gaussian();
        v.push_back(std::move(d));
    }
    {  // non-finite: NaN and ±Inf sprinkled over ordinary data (a scheme may reject them)
        rng g{4};
        const float specials[] = {nan, inf, -inf, -nan};
        dataset d{"non_finite", shape, std::vector<float>(n)};
        for (auto& e : d.x) e = (g.next() % 16 == 0) ? specials[g.next() % 4] : g.gaussian();
        v.push_back(std::move(d));
    }
    {  // a ragged shape: rows that end in short groups, blocks and SIMD tails
        rng g{5};
        dataset d{"ragged", lowbit::shape2d{7, 333}, std::vector<float>(7 * 333)};
        for (auto& e : d.x) e = g.gaussian() * 3.0f;
        v.push_back(std::move(d));
    }
    return v;
}

/// Digest of one scheme on one dataset through one backend: codes, then dequantized bits; or
/// the message of the exception it threw.
std::uint64_t run(const lowbit::scheme_info& s, const dataset& d, lowbit::backend b) {
    fnv1a h;
    try {
        auto q = s.make();
        q->quantize(d.x, d.shape, b);
        const auto codes = q->codes();
        h.bytes(codes.data(), codes.size());
        std::vector<float> out(d.x.size());
        q->dequantize(out, b);
        h.bytes(out.data(), out.size() * sizeof(float));
    } catch (const std::exception& e) {
        h.text("throws: ");
        h.text(e.what());
    }
    return h.h;
}

}  // namespace

/// Every registered scheme, then configurations no registered scheme covers.
std::vector<lowbit::scheme_info> schemes() {
    using namespace lowbit;
    auto v = all_schemes();
    // fp32 scale and minimum: q·s + m is not exact, so it shows whether it was fused.
    detail::add(v, "x_uint4_g32_f32", "int",
                "UINT4 asymmetric, group 32, min/max, fp32 scale and minimum",
                int_quantizer<uint_format<4>>(
                    {.gran = granularity::group(32), .rule = scale_rule::minmax()}));
    detail::add(v, "x_uint8_zp", "int", "UINT8 with an integer zero point, per channel, fp32 scale",
                int_quantizer<uint_format<8>>({.gran = granularity::channel(0),
                                               .rule = scale_rule::minmax(),
                                               .form = affine::zero_point}));
    detail::add(v, "x_int6_gauss", "int", "INT6, group 64, Gaussian-optimal clip",
                int_quantizer<int_format<6>>(
                    {.gran = granularity::group(64), .rule = scale_rule::gaussian_optimal()}));
    return v;
}

/// lowbit-digest --dump SCHEME DATASET: every input, code and dequantized value (scalar backend) as
/// bits, one line each, to find where two targets part.
int dump(std::string_view scheme, std::string_view dataset) {
    for (const auto& s : schemes()) {
        if (s.name != scheme) continue;
        for (const auto& d : datasets()) {
            if (d.name != dataset) continue;
            auto q = s.make();
            q->quantize(d.x, d.shape, lowbit::backend::scalar);
            const auto codes = q->codes();
            std::vector<float> out(d.x.size());
            q->dequantize(out, lowbit::backend::scalar);
            for (std::size_t i = 0; i < out.size(); ++i) {
                std::uint32_t a, b;
                std::memcpy(&a, &d.x[i], 4);
                std::memcpy(&b, &out[i], 4);
                std::printf("%zu x=%08x (%a) code=%u y=%08x (%a)\n", i, a, double(d.x[i]),
                            unsigned(codes[i]), b, double(out[i]));
            }
            return 0;
        }
    }
    std::fprintf(stderr, "no scheme %s or dataset %s\n", std::string(scheme).c_str(),
                 std::string(dataset).c_str());
    return 2;
}

int main(int argc, char** argv) {
    if (argc == 4 && std::string_view(argv[1]) == "--dump") return dump(argv[2], argv[3]);
    std::printf("xsimd arch: %s\n", xsimd::default_arch::name());
    const auto data = datasets();
    int mismatches = 0;
    for (const auto& s : schemes()) {
        // One line per scheme: the digest over all datasets, then one per dataset (to name it).
        fnv1a all;
        std::string per_dataset;
        for (const auto& d : data) {
            const std::uint64_t a = run(s, d, lowbit::backend::scalar);
            const std::uint64_t b = run(s, d, lowbit::backend::simd);
            if (a != b) {
                std::fprintf(stderr, "%s on %s: the scalar and SIMD backends differ\n",
                             s.name.c_str(), d.name);
                ++mismatches;
            }
            all.bytes(&a, sizeof a);
            char buf[64];
            std::snprintf(buf, sizeof buf, " %s=%016llx", d.name,
                          static_cast<unsigned long long>(a));
            per_dataset += buf;
        }
        std::printf("digest %-12s %016llx%s\n", s.name.c_str(),
                    static_cast<unsigned long long>(all.h), per_dataset.c_str());
    }
    return mismatches == 0 ? 0 : 1;
}
