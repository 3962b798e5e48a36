// lowbit-compare — quantizes data with every scheme of the library (or those named) and reports
// bits per value, error, code entropy and single-thread speed. See --help and docs/formats.md
// ("Reading the comparison output").
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <lowbit/schemes.hpp>
#include <lowbit/spec.hpp>

#include "datasets.hpp"
#include "evaluate.hpp"
#include "gemv.hpp"
#include "plot.hpp"
#include "report.hpp"

namespace {

constexpr const char* usage = R"(usage: lowbit-compare [options]

Quantizes tensors with lowbit's schemes and reports, per dataset and scheme: bits_per_value
(codes plus scales), mse, sqnr_db, max_abs_error, entropy_bits (of the codes), quantize_gbps and
dequantize_gbps (GB/s of fp32, one thread, best of repeated runs).

With no --input it uses built-in data, 1024 x 1024 values each (fixed seeds):
  gaussian           N(0, 1)
  laplace            Laplace with unit variance
  student_t4         Student-t, nu = 4
  gaussian_outliers  N(0, 1) with 0.1 % of the values set to +-20

options:
  --format F       table (default), csv, json or markdown. JSON is an array of objects with the
                   keys above plus dataset and scheme; a non-finite number is written as null.
  --input PATH     a .npy file (float32 or float16, C order), a raw little-endian float32 file,
                   a directory of .npy files (each a dataset named by its file name), or a model
                   file: safetensors, GGUF (.gguf) or a llama2.c checkpoint (.bin), each tensor
                   a dataset named by the tensor (tensors not read as float are left out, named
                   on stderr). A directory or model gets `total`, summed over its weights: the
                   tensors of rank 2 or more (1-D norms and biases are listed but not counted,
                   unless there is nothing else). The first dimension is rows, the others are
                   flattened into columns; 1-D data is one row.
  --schemes A,B    only these schemes: names as --list prints them, or spec strings such as
                   int4:g=128:scale=mse, nf4:g=64:dq, hadamard128+nf4:g=64 (docs/formats.md)
  --min-time S     time each operation for at least S seconds (default 0.05; 0: one run)
  --worst N        with a directory or model: after the tables (table and markdown formats),
                   each scheme's N tensors of rank >= 2 with the lowest SQNR (default 10; 0: none)
  --plot PATH      write an SVG rate-distortion plot: SQNR and code entropy against bits per
                   value, a point per scheme (on `total` when there is one, else on the first
                   dataset), the points of a family joined and labelled
  --gemv           instead: each scheme with a quantized linear layer (lowbit::ops) multiplies
                   the quantized tensor (rows x cols) by a vector x ~ N(0, 1) (fixed seed);
                   reported per dataset and scheme: bits_per_value, gemv_rel_error
                   (|y - W x| / |W x|, W the float data, y the operator's output on the codes),
                   weight_rel_error (the same for dequantize(W) x: the weights' share),
                   gemv_us and gemv_gbps (one thread; packed weight bytes per second) and
                   fp32_speedup (Eigen's fp32 GEMV time on W over gemv_us). Schemes without a
                   linear operator are left out.
  --list           list the schemes (name, family, bits/value on 1024 x 1024, description)
  --help           this text

exit status: 0 success, 1 unreadable input, 2 bad arguments.
)";

/// Thrown for a command-line mistake: printed with a pointer to --help, exit status 2.
struct usage_error {
    std::string message;
};

struct options {
    std::string format = "table";
    std::optional<std::string> input, plot;
    std::size_t worst = 10;
    std::optional<std::string> schemes;
    double min_time = 0.05;
    bool list = false, help = false, gemv = false;
};

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i], value;
        bool has_value = false;
        if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
            has_value = true;
        }
        auto take = [&]() -> std::string {
            if (has_value) return value;
            if (i + 1 >= argc) throw usage_error{a + " needs a value"};
            return argv[++i];
        };
        auto no_value = [&] {
            if (has_value) throw usage_error{a + " takes no value"};
        };
        if (a == "--help" || a == "-h") {
            no_value();
            o.help = true;
        } else if (a == "--gemv") {
            no_value();
            o.gemv = true;
        } else if (a == "--list") {
            no_value();
            o.list = true;
        } else if (a == "--format")
            o.format = take();
        else if (a == "--input")
            o.input = take();
        else if (a == "--schemes")
            o.schemes = take();
        else if (a == "--plot") {
            o.plot = take();
            if (o.plot->empty()) throw usage_error{"--plot needs a path"};
        } else if (a == "--worst") {
            const std::string v = take();
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < 0 || n > 100000)
                throw usage_error{"--worst needs a count in [0, 100000], not '" + v + "'"};
            o.worst = std::size_t(n);
        } else if (a == "--min-time") {
            const std::string v = take();
            char* end = nullptr;
            o.min_time = std::strtod(v.c_str(), &end);
            if (v.empty() || *end != '\0' || !(o.min_time >= 0 && o.min_time <= 60))
                throw usage_error{"--min-time needs a number of seconds in [0, 60], not '" + v +
                                  "'"};
        } else
            throw usage_error{"unknown argument '" + std::string(argv[i]) + "'"};
    }
    if (o.format != "table" && o.format != "csv" && o.format != "json" && o.format != "markdown")
        throw usage_error{"--format must be table, csv, json or markdown, not '" + o.format + "'"};
    if (o.input && o.input->empty()) throw usage_error{"--input needs a path"};
    if (o.gemv && o.plot) throw usage_error{"--plot draws the quantization table, not --gemv"};
    return o;
}

/// The schemes named in a comma list (registered names or spec strings), in that order; every
/// registered scheme when there is no list.
std::vector<lowbit::scheme_info> select(const std::optional<std::string>& names) {
    if (!names) return lowbit::all_schemes();
    std::vector<lowbit::scheme_info> out;
    std::string_view rest = *names;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        if (name.empty()) throw usage_error{"--schemes has an empty name in '" + *names + "'"};
        try {
            out.push_back(lowbit::resolve_scheme(name));
        } catch (const lowbit::error& e) {
            throw usage_error{"unknown scheme '" + std::string(name) +
                              "': neither a registered name (--list) nor a valid spec (" +
                              e.what() + ")"};
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

void print(const std::vector<compare::result>& rows, const std::string& format) {
    if (format == "json")
        compare::print_json(rows, stdout);
    else if (format == "csv")
        compare::print_csv(rows, stdout);
    else if (format == "markdown")
        compare::print_markdown(rows, stdout);
    else
        compare::print_tables(rows, stdout);
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    std::vector<lowbit::scheme_info> schemes;
    try {
        o = parse(argc, argv);
        if (o.help) {
            std::fputs(usage, stdout);
            return 0;
        }
        schemes = select(o.schemes);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "lowbit-compare: %s\ntry 'lowbit-compare --help'\n",
                     e.message.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lowbit-compare: %s\n", e.what());
        return 2;
    }
    try {
        if (o.list) {
            // bits/value depends on the shape (scale count); report it for a 1024 × 1024 tensor.
            const std::vector<float> x(1024 * 1024, 1.0f);
            std::vector<compare::listed> list;
            for (const auto& s : schemes) {
                auto q = s.make();
                q->quantize(x, {1024, 1024});
                list.push_back({&s, q->bits_per_value()});
            }
            compare::print_list(list, o.format, stdout);
            return 0;
        }
        std::vector<compare::dataset_source> sources;
        std::vector<std::string> skipped;
        if (o.input) {
            sources = compare::file_sources(*o.input, skipped);
        } else {
            for (auto& d : compare::builtin_datasets()) {
                auto p = std::make_shared<compare::dataset>(std::move(d));
                sources.push_back({p->name, 2, [p] { return std::move(*p); }});
            }
        }
        for (const auto& s : skipped)
            std::fprintf(stderr, "lowbit-compare: %s not read as float, left out\n", s.c_str());
        // A directory or a model file gets `total` over its weights: the tensors of rank >= 2
        // (1-D norms and biases are listed, not counted), or over everything when none is.
        const bool total = o.input &&
            (std::filesystem::is_directory(*o.input) || compare::is_model_file(*o.input));
        const bool any_2d =
            std::any_of(sources.begin(), sources.end(), [](const auto& s) { return s.rank >= 2; });
        if (o.gemv) {
            std::vector<compare::gemv_result> rows;
            for (const auto& src : sources) {
                const compare::dataset d = src.load();
                for (const auto& s : schemes)
                    if (auto r = compare::evaluate_gemv(s, d, o.min_time)) rows.push_back(*r);
            }
            compare::print_gemv(rows, o.format, stdout);
            return std::fflush(stdout) == 0 ? 0 : 1;
        }
        std::vector<compare::result> rows;
        std::vector<compare::totals> sums(schemes.size());
        for (const auto& src : sources) {
            const compare::dataset d = src.load();
            const bool counted = !any_2d || src.rank >= 2;
            for (std::size_t k = 0; k < schemes.size(); ++k) {
                compare::totals ignored;
                rows.push_back(
                    compare::evaluate(schemes[k], d, o.min_time, counted ? sums[k] : ignored));
            }
        }
        if (total)
            for (std::size_t k = 0; k < schemes.size(); ++k)
                rows.push_back(sums[k].finish("total", schemes[k].name));
        print(rows, o.format);
        if (total && o.worst > 0 && (o.format == "table" || o.format == "markdown")) {
            std::vector<std::string> weights;
            for (const auto& src : sources)
                if (!any_2d || src.rank >= 2) weights.push_back(src.name);
            compare::print_worst(rows, weights, o.worst, stdout);
        }
        if (o.plot) {
            const std::string on = total ? "total" : sources.empty() ? "" : sources[0].name;
            std::vector<compare::plot_point> pts;
            for (const auto& r : rows)
                if (r.dataset == on)
                    for (const auto& s : schemes)
                        if (s.name == r.scheme) {
                            pts.push_back(
                                {r.scheme, s.family, r.bits_per_value, r.sqnr_db, r.entropy_bits});
                            break;
                        }
            const std::string svg = compare::rate_distortion_svg(
                pts,
                (o.input ? std::filesystem::path(*o.input).filename().string()
                         : std::string("built-in data")) +
                    ", " + on);
            std::FILE* f = std::fopen(o.plot->c_str(), "wb");
            if (!f || std::fwrite(svg.data(), 1, svg.size(), f) != svg.size() ||
                std::fclose(f) != 0)
                throw std::runtime_error(*o.plot + ": cannot be written");
        }
        return std::fflush(stdout) == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lowbit-compare: %s\n", e.what());
        return 1;
    }
}
