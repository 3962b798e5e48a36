// lowbit-compare — running one scheme on one tensor: quality metrics and single-thread speed.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <lowbit/core/metrics.hpp>
#include <lowbit/schemes.hpp>

#include "datasets.hpp"

namespace compare {

/// One output row; the field names are the JSON keys.
struct result {
    std::string dataset, scheme;
    double bits_per_value = 0, mse = 0, sqnr_db = 0, max_abs_error = 0, entropy_bits = 0;
    double quantize_gbps = 0, dequantize_gbps = 0;
};

/// Sums from which a result over several tensors is formed (the `total` dataset): errors and
/// storage are summed over all values, code histograms merged, times added.
struct totals {
    double squared_error = 0, signal = 0, max_abs_error = 0, storage_bits = 0, quantize_s = 0,
           dequantize_s = 0;
    std::size_t count = 0, values = 0;
    std::vector<std::uint64_t> histogram;

    [[nodiscard]] result finish(std::string dataset, std::string scheme) const {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        result r{std::move(dataset), std::move(scheme)};
        r.bits_per_value = values ? storage_bits / double(values) : nan;
        r.mse = count ? squared_error / double(count) : nan;
        r.sqnr_db = !count       ? nan
            : squared_error == 0 ? std::numeric_limits<double>::infinity()
                                 : 10.0 * std::log10(signal / squared_error);
        r.max_abs_error = max_abs_error;
        r.entropy_bits = lowbit::entropy_bits(histogram);
        const double bytes = double(values) * sizeof(float);
        r.quantize_gbps = quantize_s > 0 ? bytes / quantize_s * 1e-9 : nan;
        r.dequantize_gbps = dequantize_s > 0 ? bytes / dequantize_s * 1e-9 : nan;
        return r;
    }
};

/// Seconds of the fastest run of f: at least 3 runs and until `min_time` seconds have passed
/// (at most 10000 runs). min_time = 0 runs it once.
template <class F>
double best_seconds(F&& f, double min_time) {
    using clock = std::chrono::steady_clock;
    double best = std::numeric_limits<double>::infinity(), spent = 0;
    for (int k = 0; k < 10000; ++k) {
        const auto t0 = clock::now();
        f();
        const double s = std::chrono::duration<double>(clock::now() - t0).count();
        best = std::min(best, s);
        spent += s;
        if (min_time <= 0 || (k >= 2 && spent >= min_time)) break;
    }
    return best;
}

/// Quantizes d with scheme s on one thread, dequantizes, measures; adds to `sum`.
inline result evaluate(const lowbit::scheme_info& s, const dataset& d, double min_time,
                       totals& sum) {
    auto q = s.make();
    std::vector<float> y(d.values.size());
    q->quantize(d.values, d.shape);  // first run allocates the instance's tensor
    const double tq = best_seconds([&] { q->quantize(d.values, d.shape); }, min_time);
    const double tdq = best_seconds([&] { q->dequantize(y); }, min_time);

    totals one;
    const auto e = lowbit::compare(d.values, y);
    one.count = e.count;
    one.squared_error = e.mse * double(e.count);
    one.signal = e.signal_power * double(e.count);
    one.max_abs_error = e.max_abs_error;
    one.values = d.values.size();
    one.storage_bits = q->bits_per_value() * double(d.values.size());
    one.histogram = lowbit::code_histogram(q->codes(), q->code_bits());
    one.quantize_s = tq;
    one.dequantize_s = tdq;

    sum.count += one.count;
    sum.squared_error += one.squared_error;
    sum.signal += one.signal;
    if (!(one.max_abs_error <= sum.max_abs_error)) sum.max_abs_error = one.max_abs_error;
    sum.values += one.values;
    sum.storage_bits += one.storage_bits;
    if (sum.histogram.size() < one.histogram.size()) sum.histogram.resize(one.histogram.size(), 0);
    for (std::size_t i = 0; i < one.histogram.size(); ++i) sum.histogram[i] += one.histogram[i];
    sum.quantize_s += tq;
    sum.dequantize_s += tdq;
    return one.finish(d.name, s.name);
}

}  // namespace compare
