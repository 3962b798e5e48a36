// lowbit-compare — printing results as aligned tables, CSV, JSON or Markdown.
//
// JSON: an array of objects with exactly the keys of `result`, in that order. JSON has no
// Inf or NaN, so a non-finite number is written as null (SQNR of an exact reconstruction is
// +Inf; figures of an empty tensor are NaN). CSV and the tables print inf / nan.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <lowbit/schemes.hpp>

#include "evaluate.hpp"

namespace compare {

inline const char* const keys[] = {"dataset",      "scheme",        "bits_per_value",
                                   "mse",          "sqnr_db",       "max_abs_error",
                                   "entropy_bits", "quantize_gbps", "dequantize_gbps"};

inline std::vector<double> numbers(const result& r) {
    return {r.bits_per_value, r.mse,           r.sqnr_db,        r.max_abs_error,
            r.entropy_bits,   r.quantize_gbps, r.dequantize_gbps};
}

/// A JSON string literal (quotes, backslashes and control characters escaped).
inline std::string json_string(const std::string& s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += char(c);
        } else if (c < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else
            o += char(c);
    }
    return o + "\"";
}

inline std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}

/// A CSV field: quoted when it holds a comma, quote or newline.
inline std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) {
        if (c == '"') o += '"';
        o += c;
    }
    return o + "\"";
}

inline void print_json(const std::vector<result>& rows, std::FILE* f) {
    std::fputs("[\n", f);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        std::fprintf(f, "  {\"dataset\": %s, \"scheme\": %s", json_string(r.dataset).c_str(),
                     json_string(r.scheme).c_str());
        const auto v = numbers(r);
        for (std::size_t k = 0; k < v.size(); ++k)
            std::fprintf(f, ", \"%s\": %s", keys[k + 2], json_number(v[k]).c_str());
        std::fputs(i + 1 < rows.size() ? "},\n" : "}\n", f);
    }
    std::fputs("]\n", f);
}

inline void print_csv(const std::vector<result>& rows, std::FILE* f) {
    for (std::size_t k = 0; k < 9; ++k) std::fprintf(f, "%s%s", keys[k], k < 8 ? "," : "\n");
    for (const auto& r : rows) {
        std::fprintf(f, "%s,%s", csv_field(r.dataset).c_str(), csv_field(r.scheme).c_str());
        for (double v : numbers(r)) std::fprintf(f, ",%.9g", v);
        std::fputc('\n', f);
    }
}

/// One aligned table per dataset, in the order the datasets first appear.
inline void print_tables(const std::vector<result>& rows, std::FILE* f) {
    std::vector<std::string> order;
    for (const auto& r : rows)
        if (std::find(order.begin(), order.end(), r.dataset) == order.end())
            order.push_back(r.dataset);
    std::size_t w = 6;
    for (const auto& r : rows) w = std::max(w, r.scheme.size());
    for (const auto& d : order) {
        std::fprintf(f, "%s%s\n", &d == &order.front() ? "" : "\n", d.c_str());
        std::fprintf(f, "  %-*s %10s %12s %9s %12s %9s %9s %9s\n", int(w), "scheme", "bits/value",
                     "mse", "sqnr_db", "max_abs_err", "entropy", "q_GB/s", "dq_GB/s");
        for (const auto& r : rows) {
            if (r.dataset != d) continue;
            std::fprintf(f, "  %-*s %10.4f %12.4e %9.2f %12.4e %9.4f %9.2f %9.2f\n", int(w),
                         r.scheme.c_str(), r.bits_per_value, r.mse, r.sqnr_db, r.max_abs_error,
                         r.entropy_bits, r.quantize_gbps, r.dequantize_gbps);
        }
    }
}

inline void print_markdown(const std::vector<result>& rows, std::FILE* f) {
    std::fputs(
        "| dataset | scheme | bits/value | MSE | SQNR (dB) | max abs error | entropy (bits) | "
        "quantize GB/s | dequantize GB/s |\n",
        f);
    std::fputs("|---|---|---:|---:|---:|---:|---:|---:|---:|\n", f);
    for (const auto& r : rows)
        std::fprintf(f, "| %s | `%s` | %.4f | %.4e | %.2f | %.4e | %.4f | %.2f | %.2f |\n",
                     r.dataset.c_str(), r.scheme.c_str(), r.bits_per_value, r.mse, r.sqnr_db,
                     r.max_abs_error, r.entropy_bits, r.quantize_gbps, r.dequantize_gbps);
}

/// --list: every selected scheme with family, bits/value on a 1024 × 1024 tensor and description.
struct listed {
    const lowbit::scheme_info* info;
    double bits_per_value;
};

inline void print_list(const std::vector<listed>& list, const std::string& format, std::FILE* f) {
    if (format == "json") {
        std::fputs("[\n", f);
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto& s = *list[i].info;
            std::fprintf(f,
                         "  {\"scheme\": %s, \"family\": %s, \"bits_per_value\": %s, "
                         "\"description\": %s}%s\n",
                         json_string(s.name).c_str(), json_string(s.family).c_str(),
                         json_number(list[i].bits_per_value).c_str(),
                         json_string(s.description).c_str(), i + 1 < list.size() ? "," : "");
        }
        std::fputs("]\n", f);
    } else if (format == "csv") {
        std::fputs("scheme,family,bits_per_value,description\n", f);
        for (const auto& l : list)
            std::fprintf(f, "%s,%s,%.9g,%s\n", csv_field(l.info->name).c_str(),
                         csv_field(l.info->family).c_str(), l.bits_per_value,
                         csv_field(l.info->description).c_str());
    } else if (format == "markdown") {
        std::fputs("| scheme | family | bits/value | description |\n|---|---|---:|---|\n", f);
        for (const auto& l : list)
            std::fprintf(f, "| `%s` | %s | %.4g | %s |\n", l.info->name.c_str(),
                         l.info->family.c_str(), l.bits_per_value, l.info->description.c_str());
    } else {
        std::size_t w = 6, wf = 6;
        for (const auto& l : list) {
            w = std::max(w, l.info->name.size());
            wf = std::max(wf, l.info->family.size());
        }
        std::fprintf(f, "%-*s  %-*s  %10s  %s\n", int(w), "scheme", int(wf), "family", "bits/value",
                     "description");
        for (const auto& l : list)
            std::fprintf(f, "%-*s  %-*s  %10.4f  %s\n", int(w), l.info->name.c_str(), int(wf),
                         l.info->family.c_str(), l.bits_per_value, l.info->description.c_str());
    }
}

}  // namespace compare
