// lowbit-compare — the ten worst tensors per scheme, and the rate–distortion plot (SVG).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "evaluate.hpp"
#include "report.hpp"

namespace compare {

/// For each scheme (in order of first appearance), up to n of its rows with the lowest SQNR among
/// `candidates` (dataset names), lowest first; a NaN SQNR (an empty tensor) is left out.
inline void print_worst(const std::vector<result>& rows, const std::vector<std::string>& candidates,
                        std::size_t n, std::FILE* f) {
    std::vector<std::string> schemes;
    for (const auto& r : rows)
        if (std::find(schemes.begin(), schemes.end(), r.scheme) == schemes.end())
            schemes.push_back(r.scheme);
    for (const auto& s : schemes) {
        std::vector<const result*> mine;
        for (const auto& r : rows)
            if (r.scheme == s && !std::isnan(r.sqnr_db) &&
                std::find(candidates.begin(), candidates.end(), r.dataset) != candidates.end())
                mine.push_back(&r);
        std::stable_sort(mine.begin(), mine.end(),
                         [](const result* a, const result* b) { return a->sqnr_db < b->sqnr_db; });
        if (mine.size() > n) mine.resize(n);
        std::fprintf(f, "\nworst tensors, %s (lowest SQNR of the tensors of rank >= 2)\n",
                     s.c_str());
        for (const result* r : mine)
            std::fprintf(f, "  %8.2f dB  %s\n", r->sqnr_db, r->dataset.c_str());
    }
}

/// One point of the plot: a scheme's bits per value, SQNR and code entropy, and its family.
struct plot_point {
    std::string scheme, family;
    double bits = 0, sqnr = 0, entropy = 0;
};

/// SVG text escaped for an attribute or element.
inline std::string svg_text(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<')
            o += "&lt;";
        else if (c == '>')
            o += "&gt;";
        else if (c == '&')
            o += "&amp;";
        else if (c == '"')
            o += "&quot;";
        else
            o += c;
    }
    return o;
}

/// A two-panel rate–distortion plot: SQNR (dB) and code entropy (bits) against bits per value,
/// one point per scheme (a <circle> with data-scheme, data-family, data-bits, data-sqnr and
/// data-entropy attributes holding the plotted numbers), the points of a family joined by a
/// labelled polyline in order of bits per value. `title` names the data. Non-finite SQNR
/// (exact reconstruction) is drawn at the top edge.
inline std::string rate_distortion_svg(std::vector<plot_point> pts, const std::string& title) {
    std::sort(pts.begin(), pts.end(), [](const plot_point& a, const plot_point& b) {
        return a.family != b.family ? a.family < b.family : a.bits < b.bits;
    });
    double bmax = 1, smin = 0, smax = 10, emax = 1;
    for (const auto& p : pts) {
        bmax = std::max(bmax, p.bits);
        if (std::isfinite(p.sqnr)) {
            smax = std::max(smax, p.sqnr);
            smin = std::min(smin, p.sqnr);
        }
        emax = std::max(emax, p.entropy);
    }
    bmax = std::ceil(bmax + 0.5);
    smax = std::ceil(smax / 10 + 0.5) * 10;
    smin = std::floor(smin / 10) * 10;
    emax = std::ceil(emax + 0.5);
    constexpr double W = 420, H = 300, L = 60, T = 50, gap = 80;
    const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                            "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
    std::map<std::string, const char*> color;
    for (const auto& p : pts)
        if (!color.count(p.family)) color[p.family] = colors[color.size() % 10];
    std::string s;
    char b[2048];
    std::snprintf(b, sizeof b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "font-family=\"sans-serif\" font-size=\"11\">\n",
                  2 * W + gap + 2 * L + 160, H + T + 60);
    s += b;
    std::snprintf(b, sizeof b, "<text x=\"%.0f\" y=\"20\" font-size=\"14\">%s</text>\n", L,
                  svg_text("lowbit-compare: " + title).c_str());
    s += b;
    for (int panel = 0; panel < 2; ++panel) {
        const double x0 = L + panel * (W + gap + L), lo = panel ? 0 : smin,
                     hi = panel ? emax : smax;
        const char* ylabel = panel ? "code entropy (bits)" : "SQNR (dB)";
        std::snprintf(b, sizeof b,
                      "<g class=\"panel\" data-y=\"%s\" data-x0=\"%.3f\" data-y0=\"%.3f\" "
                      "data-w=\"%.3f\" data-h=\"%.3f\" data-xmax=\"%.6g\" data-ymin=\"%.6g\" "
                      "data-ymax=\"%.6g\">\n",
                      panel ? "entropy" : "sqnr", x0, T + H, W, H, bmax, lo, hi);
        s += b;
        std::snprintf(b, sizeof b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                      "stroke=\"#444\"/>\n",
                      x0, T, W, H);
        s += b;
        for (int k = 0; k <= int(bmax); ++k) {  // x ticks at whole bits
            const double x = x0 + W * k / bmax;
            std::snprintf(b, sizeof b,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                          x, T, x, T + H, x, T + H + 14, k);
            s += b;
        }
        const double ystep = panel ? 1 : 10;
        for (double v = lo; v <= hi + 1e-9; v += ystep) {
            const double y = T + H - H * (v - lo) / (hi - lo);
            std::snprintf(b, sizeof b,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                          x0, y, x0 + W, y, x0 - 4, y + 4, v);
            s += b;
        }
        std::snprintf(b, sizeof b,
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">bits per value</text>"
                      "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                      x0 + W / 2, T + H + 32, x0, T - 8, ylabel);
        s += b;
        auto px = [&](double bits) { return x0 + W * bits / bmax; };
        auto py = [&](double v) {
            if (!std::isfinite(v)) v = hi;
            return T + H - H * (std::clamp(v, lo, hi) - lo) / (hi - lo);
        };
        for (const auto& [fam, col] : color) {
            std::string line;
            double lx = 0, ly = 0;
            for (const auto& p : pts) {
                if (p.family != fam) continue;
                lx = px(p.bits);
                ly = py(panel ? p.entropy : p.sqnr);
                std::snprintf(b, sizeof b, "%.2f,%.2f ", lx, ly);
                line += b;
            }
            s += "<polyline class=\"family\" data-family=\"" + svg_text(fam) +
                "\" fill=\"none\" stroke=\"" + col + "\" points=\"" + line + "\"/>\n";
            std::snprintf(b, sizeof b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>\n",
                          lx + 6, ly - 4, col, svg_text(fam).c_str());
            s += b;
        }
        for (const auto& p : pts) {
            std::snprintf(b, sizeof b,
                          "<circle cx=\"%.3f\" cy=\"%.3f\" r=\"3\" fill=\"%s\" data-scheme=\"%s\" "
                          "data-family=\"%s\" data-bits=\"%.9g\" data-sqnr=\"%.9g\" "
                          "data-entropy=\"%.9g\"><title>%s</title></circle>\n",
                          px(p.bits), py(panel ? p.entropy : p.sqnr), color[p.family],
                          svg_text(p.scheme).c_str(), svg_text(p.family).c_str(), p.bits, p.sqnr,
                          p.entropy, svg_text(p.scheme).c_str());
            s += b;
        }
        s += "</g>\n";
    }
    s += "</svg>\n";
    return s;
}

}  // namespace compare
