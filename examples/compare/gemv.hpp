// lowbit-compare --gemv — the quantized linear layer of each scheme on each tensor: its output
// error next to its speed, so a format can be picked on both axes.
#pragma once
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include <lowbit/schemes.hpp>

#include "datasets.hpp"
#include "evaluate.hpp"
#include "report.hpp"

namespace compare {

/// One --gemv row; the field names are the JSON keys.
struct gemv_result {
    std::string dataset, scheme;
    double bits_per_value = 0;
    double gemv_rel_error = 0;  ///< ‖y − W·x‖ / ‖W·x‖, y the operator's output on the codes
    double weight_rel_error = 0;  ///< ‖dequantize(W)·x − W·x‖ / ‖W·x‖: the weights' share
    double gemv_us = 0;           ///< one thread, best of repeated runs
    double gemv_gbps = 0;         ///< packed weight bytes (bits_per_value · values / 8) per second
    double fp32_speedup = 0;      ///< Eigen's fp32 GEMV time on the unquantized W / gemv_us
};

inline const char* const gemv_keys[] = {"dataset",        "scheme",           "bits_per_value",
                                        "gemv_rel_error", "weight_rel_error", "gemv_us",
                                        "gemv_gbps",      "fp32_speedup"};

/// The activations of every --gemv run: N(0, 1), fixed seed.
inline std::vector<float> gemv_activations(std::size_t n) {
    std::mt19937 rng(20261207);
    std::normal_distribution<float> g;
    std::vector<float> x(n);
    for (auto& v : x) v = g(rng);
    return x;
}

/// ‖a − ref‖₂ / ‖ref‖₂ in double (NaN when ref is 0 and a is not).
inline double relative_error(const std::vector<double>& a, const std::vector<double>& ref) {
    double e = 0, r = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        e += (a[i] - ref[i]) * (a[i] - ref[i]);
        r += ref[i] * ref[i];
    }
    return e == 0 ? 0.0 : std::sqrt(e / r);
}

/// W·x in double, W rows × cols row-major.
inline std::vector<double> product(const std::vector<float>& w, const std::vector<float>& x,
                                   std::size_t rows, std::size_t cols) {
    std::vector<double> y(rows, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) y[r] += double(w[r * cols + c]) * double(x[c]);
    return y;
}

/// The GEMV of scheme s on d (W = d as rows × cols); nothing when s has no linear operator.
inline std::optional<gemv_result> evaluate_gemv(const lowbit::scheme_info& s, const dataset& d,
                                                double min_time) {
    auto q = s.make();
    q->quantize(d.values, d.shape);
    const std::size_t rows = d.shape.rows, cols = d.shape.cols;
    const auto x = gemv_activations(cols);
    std::vector<float> y(rows), wd(d.values.size());
    if (!q->linear(x, 1, y)) return std::nullopt;
    q->dequantize(wd);
    const auto exact = product(d.values, x, rows, cols);
    gemv_result r{d.name, s.name};
    r.bits_per_value = q->bits_per_value();
    r.gemv_rel_error = relative_error(std::vector<double>(y.begin(), y.end()), exact);
    r.weight_rel_error = relative_error(product(wd, x, rows, cols), exact);
    const double t = best_seconds([&] { q->linear(x, 1, y); }, min_time);
    using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const matrix> wm(d.values.data(), Eigen::Index(rows), Eigen::Index(cols));
    const Eigen::Map<const Eigen::VectorXf> xv(x.data(), Eigen::Index(cols));
    Eigen::VectorXf yf(rows);
    const double tf = best_seconds([&] { yf.noalias() = wm * xv; }, min_time);
    r.gemv_us = t * 1e6;
    r.gemv_gbps = r.bits_per_value * double(d.values.size()) / 8.0 / t * 1e-9;
    r.fp32_speedup = tf / t;
    return r;
}

inline std::vector<double> gemv_numbers(const gemv_result& r) {
    return {r.bits_per_value, r.gemv_rel_error, r.weight_rel_error,
            r.gemv_us,        r.gemv_gbps,      r.fp32_speedup};
}

/// Prints the --gemv rows as a table (one per dataset), CSV, JSON or Markdown.
inline void print_gemv(const std::vector<gemv_result>& rows, const std::string& format,
                       std::FILE* f) {
    constexpr std::size_t n = std::size(gemv_keys);
    if (format == "json") {
        std::fputs("[", f);
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto v = gemv_numbers(rows[i]);
            std::fprintf(f, "%s\n  {\"dataset\": %s, \"scheme\": %s", i ? "," : "",
                         json_string(rows[i].dataset).c_str(), json_string(rows[i].scheme).c_str());
            for (std::size_t k = 2; k < n; ++k)
                std::fprintf(f, ", \"%s\": %s", gemv_keys[k], json_number(v[k - 2]).c_str());
            std::fputs("}", f);
        }
        std::fputs("\n]\n", f);
        return;
    }
    if (format == "csv") {
        for (std::size_t k = 0; k < n; ++k) std::fprintf(f, "%s%s", k ? "," : "", gemv_keys[k]);
        std::fputs("\n", f);
        for (const auto& r : rows) {
            std::fprintf(f, "%s,%s", csv_field(r.dataset).c_str(), csv_field(r.scheme).c_str());
            for (double v : gemv_numbers(r)) std::fprintf(f, ",%.9g", v);
            std::fputs("\n", f);
        }
        return;
    }
    const bool md = format == "markdown";
    std::string last;
    for (const auto& r : rows) {
        if (r.dataset != last) {
            last = r.dataset;
            if (md) {
                std::fprintf(f, "\n### %s\n\n|", r.dataset.c_str());
                for (std::size_t k = 1; k < n; ++k) std::fprintf(f, " %s |", gemv_keys[k]);
                std::fputs("\n|---|", f);
                for (std::size_t k = 2; k < n; ++k) std::fputs("---:|", f);
                std::fputs("\n", f);
            } else {
                std::fprintf(f, "\n%s\n%-28s", r.dataset.c_str(), "scheme");
                for (std::size_t k = 2; k < n; ++k) std::fprintf(f, " %16s", gemv_keys[k]);
                std::fputs("\n", f);
            }
        }
        const auto v = gemv_numbers(r);
        if (md) {
            std::fprintf(f, "| %s |", r.scheme.c_str());
            for (double x : v) std::fprintf(f, " %.4g |", x);
        } else {
            std::fprintf(f, "%-28s", r.scheme.c_str());
            for (double x : v) std::fprintf(f, " %16.4g", x);
        }
        std::fputs("\n", f);
    }
}

}  // namespace compare
