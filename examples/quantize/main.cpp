// lowbit-quantize — a model file in, a quantized model file out: every weight matrix through a
// scheme chosen per tensor-name pattern, the rest kept in float, written as safetensors with
// lowbit's quantized-tensor records (docs/io.md), with a summary of bits per weight, quality
// (SQNR) and time. See --help and docs/quantize.md.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fnmatch.h>
#include <unistd.h>

#include <lowbit/core/metrics.hpp>
#include <lowbit/io/npy.hpp>
#include <lowbit/io/quantized.hpp>
#include <lowbit/model/llama2c.hpp>

namespace {

namespace fs = std::filesystem;

constexpr const char* usage = R"(usage: lowbit-quantize INPUT OUTPUT [options]
       lowbit-quantize --dequantize INPUT OUTPUT

Reads a model, quantizes every tensor of rank 2 or more (viewed as its first dimension x the
rest) with the scheme its name selects, keeps the others (norms, biases, scalars; tensors that
--keep matches) in float, and writes OUTPUT as safetensors: each quantized tensor as its data
fields and a lowbit.tensor.NAME record (docs/io.md), which lowbit::load_quantized reads back.

INPUT is a safetensors file, a llama2.c checkpoint (.bin) or a directory of .npy files (tensor
names: file names without .npy). With --dequantize, INPUT is a file this tool wrote and OUTPUT
gets every tensor in float32 (quantized ones dequantized) under its original name and shape.

options:
  --scheme SPEC      the scheme of every tensor no --rule matches (default int4_g32): a
                     registered name (lowbit-compare --list) or a spec string (int4:g=64:scale=mse)
  --rule GLOB=SPEC   tensors whose name matches GLOB (shell wildcards * ? [..]) use SPEC; may be
                     repeated, the first matching rule wins
  --keep GLOB        tensors whose name matches GLOB stay in float; may be repeated
  --keep-dtype T     how kept tensors are stored: f32, f16, bf16, or same (default: same, the
                     input's dtype when it is F32, F16 or BF16, else F32)
  --threads T        threads per tensor (default 1; 0: all cores); the output does not change
  --quiet            no progress bar and no per-tensor lines
  --help             this text

A progress bar with the time left is drawn on stderr when it is a terminal. The summary gives
the quantized and kept values, the storage in bits per weight of the quantized tensors (codes
plus scales), the SQNR of each tensor, the three lowest, and the time.

exit status: 0 success, 1 unreadable input, unwritable output or a scheme that fails on a
tensor, 2 bad arguments.
)";

struct usage_error {
    std::string message;
};

struct rule {
    std::string glob, spec;
};

struct options {
    std::string input, output;
    std::string scheme = "int4_g32";
    std::vector<rule> rules;
    std::vector<std::string> keep;
    std::string keep_dtype = "same";
    unsigned threads = 1;
    bool quiet = false, dequantize = false, help = false;
};

options parse(int argc, char** argv) {
    options o;
    std::vector<std::string> positional;
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
        auto flag = [&](bool& f) {
            if (has_value) throw usage_error{a + " takes no value"};
            f = true;
        };
        if (a == "--help" || a == "-h")
            flag(o.help);
        else if (a == "--quiet")
            flag(o.quiet);
        else if (a == "--dequantize")
            flag(o.dequantize);
        else if (a == "--scheme")
            o.scheme = take();
        else if (a == "--rule") {
            const std::string r = take();
            const auto eq = r.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == r.size())
                throw usage_error{"--rule needs GLOB=SPEC, not '" + r + "'"};
            o.rules.push_back({r.substr(0, eq), r.substr(eq + 1)});
        } else if (a == "--keep") {
            const std::string g = take();
            if (g.empty()) throw usage_error{"--keep needs a pattern"};
            o.keep.push_back(g);
        } else if (a == "--keep-dtype") {
            o.keep_dtype = take();
            if (o.keep_dtype != "f32" && o.keep_dtype != "f16" && o.keep_dtype != "bf16" &&
                o.keep_dtype != "same")
                throw usage_error{"--keep-dtype must be f32, f16, bf16 or same, not '" +
                                  o.keep_dtype + "'"};
        } else if (a == "--threads") {
            const std::string v = take();
            errno = 0;
            char* end = nullptr;
            const unsigned long t = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || v[0] == '-' || v[0] == '+' || *end || errno == ERANGE || t > 1024)
                throw usage_error{"--threads needs an integer in [0, 1024], not '" + v + "'"};
            o.threads = unsigned(t);
        } else if (a.size() > 1 && a[0] == '-') {
            throw usage_error{"unknown option '" + std::string(argv[i]) + "'"};
        } else {
            positional.push_back(a);
        }
    }
    if (o.help) return o;
    if (positional.size() != 2)
        throw usage_error{"needs INPUT and OUTPUT (got " + std::to_string(positional.size()) +
                          " paths)"};
    o.input = positional[0];
    o.output = positional[1];
    if (o.dequantize && (!o.rules.empty() || !o.keep.empty() || o.scheme != "int4_g32"))
        throw usage_error{"--dequantize takes no --scheme, --rule or --keep"};
    // Every scheme is checked before any work.
    auto check = [](const std::string& what, const std::string& spec) {
        try {
            (void)lowbit::resolve_scheme(spec);
        } catch (const lowbit::error& e) {
            throw usage_error{what + ": '" + spec +
                              "' is neither a registered name (lowbit-compare --list) nor a "
                              "valid spec (" +
                              e.what() + ")"};
        }
    };
    check("--scheme", o.scheme);
    for (const auto& r : o.rules) check("--rule " + r.glob, r.spec);
    return o;
}

/// One tensor of the input, read lazily (a safetensors tensor is converted when it is used).
struct source {
    std::string name;
    std::vector<std::size_t> shape;
    std::string dtype;  ///< as stored: "F32", "BF16", "<f4", "llama2c", …
    bool is_float = true;
    std::function<lowbit::npy_array()> read;               ///< float tensors
    std::function<std::span<const std::uint8_t>()> bytes;  ///< the others, as stored
};

/// The input's tensors in file order, and what must stay alive while they are read.
struct model_input {
    std::vector<source> tensors;
    std::shared_ptr<void> keep_alive;
};

model_input open_input(const fs::path& p) {
    model_input in;
    if (fs::is_directory(p)) {
        auto arrays = std::make_shared<std::vector<std::pair<std::string, lowbit::npy_array>>>(
            lowbit::read_npy_dir(p));
        for (auto& [file, a] : *arrays) {
            const lowbit::npy_array* ap = &a;
            const std::string name =
                file.ends_with(".npy") ? file.substr(0, file.size() - 4) : file;
            in.tensors.push_back({name, a.shape, a.dtype, true, [ap] { return *ap; }, {}});
        }
        in.keep_alive = arrays;
    } else if (p.extension() == ".bin") {
        auto m = std::make_shared<lowbit::llama2c::model>(lowbit::llama2c::read_checkpoint(p));
        for (const auto& w : m->weights()) {
            const auto* wp = &w;
            in.tensors.push_back({w.name(),
                                  w.shape(),
                                  "F32",
                                  true,
                                  [wp] {
                                      lowbit::npy_array a;
                                      a.shape = wp->shape();
                                      a.data.assign(wp->values().begin(), wp->values().end());
                                      a.dtype = "F32";
                                      return a;
                                  },
                                  {}});
        }
        in.keep_alive = m;
    } else {
        auto f = std::make_shared<lowbit::safetensors_file>(p);
        for (const auto& t : f->tensors()) {
            const auto* tp = &t;
            const auto* fp = f.get();
            in.tensors.push_back({t.name, t.shape, std::string(t.dtype_name()),
                                  lowbit::safetensors_dtype_reads_as_float(t.dtype),
                                  [fp, tp] { return fp->read_float(*tp); },
                                  [fp, tp] { return fp->bytes(*tp); }});
        }
        in.keep_alive = f;
    }
    return in;
}

std::string dims_text(const std::vector<std::size_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
    return s + "]";
}

/// Bytes of the input: the file, or a directory's .npy files.
double input_bytes(const fs::path& p) {
    if (!fs::is_directory(p)) return double(fs::file_size(p));
    double b = 0;
    for (const auto& e : fs::directory_iterator(p))
        if (e.path().extension() == ".npy" && e.is_regular_file()) b += double(e.file_size());
    return b;
}

bool matches(const std::string& glob, const std::string& name) {
    return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

std::string human_bytes(double b) {
    const char* unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000.0 && u < 4) {
        b /= 1000.0;
        ++u;
    }
    char s[32];
    std::snprintf(s, sizeof s, u == 0 ? "%.0f %s" : "%.1f %s", b, unit[u]);
    return s;
}

std::string human_count(double n) {
    char s[32];
    if (n >= 1e9)
        std::snprintf(s, sizeof s, "%.2f G", n / 1e9);
    else if (n >= 1e6)
        std::snprintf(s, sizeof s, "%.2f M", n / 1e6);
    else if (n >= 1e3)
        std::snprintf(s, sizeof s, "%.1f K", n / 1e3);
    else
        std::snprintf(s, sizeof s, "%.0f", n);
    return s;
}

/// A one-line progress bar on stderr (only when it is a terminal): done / total values, the
/// tensor in hand, and the time left at the rate so far.
class progress {
public:
    progress(double total, bool on) : total_(total), on_(on && ::isatty(2)) {}
    void update(double done, const std::string& name) {
        if (!on_) return;
        const double s = seconds();
        const double frac = total_ > 0 ? std::min(1.0, done / total_) : 1.0;
        constexpr int width = 30;
        const int fill = int(frac * width);
        std::string bar(std::size_t(fill), '=');
        bar.resize(width, ' ');
        char eta[32] = "";
        if (done > 0 && frac < 1.0)
            std::snprintf(eta, sizeof eta, "%.0f s left", s / done * (total_ - done));
        std::fprintf(stderr, "\r\033[K[%s] %3.0f%%  %s  %.40s", bar.c_str(), frac * 100.0, eta,
                     name.c_str());
        std::fflush(stderr);
    }
    void finish() {
        if (on_) std::fputs("\r\033[K", stderr);
    }
    [[nodiscard]] double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    }

private:
    double total_;
    bool on_;
    std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

lowbit::safetensors_dtype kept_dtype(const std::string& choice, const std::string& input_dtype) {
    using d = lowbit::safetensors_dtype;
    if (choice == "f16") return d::f16;
    if (choice == "bf16") return d::bf16;
    if (choice == "f32") return d::f32;
    if (input_dtype == "F16" || input_dtype == "<f2") return d::f16;
    if (input_dtype == "BF16") return d::bf16;
    return d::f32;
}

struct quantized_row {
    std::string name, scheme;
    double sqnr = 0;
};

int quantize(const options& o) {
    const model_input in = open_input(o.input);
    double total = 0;
    for (const auto& t : in.tensors) {
        std::size_t n = 1;
        for (auto d : t.shape) n *= d;
        total += double(n);
    }
    lowbit::quantized_writer w;
    w.set_metadata("source", fs::path(o.input).filename().string());
    w.set_metadata("producer", "lowbit-quantize");
    std::deque<std::unique_ptr<lowbit::scheme_instance>> instances;
    std::deque<lowbit::npy_array> kept;
    std::vector<quantized_row> rows;
    double done = 0, qvalues = 0, qbits = 0, kvalues = 0;
    std::size_t raw_tensors = 0;
    progress bar(total, !o.quiet);
    std::vector<float> y;
    for (const auto& t : in.tensors) {
        bar.update(done, t.name);
        if (!t.is_float) {  // integer tensors (token ids, masks) pass through as they are
            w.add_bytes(t.name, t.dtype, t.shape, t.bytes());
            ++raw_tensors;
            continue;
        }
        lowbit::npy_array a = t.read();
        done += double(a.data.size());
        const bool keep = t.shape.size() < 2 ||
            std::any_of(o.keep.begin(), o.keep.end(),
                        [&](const std::string& g) { return matches(g, t.name); });
        if (keep) {
            kvalues += double(a.data.size());
            kept.push_back(std::move(a));
            w.add_float(t.name, kept.back().shape, kept.back().data,
                        kept_dtype(o.keep_dtype, t.dtype));
            continue;
        }
        std::string spec = o.scheme;
        for (const auto& r : o.rules)
            if (matches(r.glob, t.name)) {
                spec = r.spec;
                break;
            }
        auto q = lowbit::resolve_scheme(spec).make();
        try {
            q->quantize_parallel(a.data, a.matrix_shape(), o.threads);
        } catch (const std::exception& e) {
            throw std::runtime_error("scheme '" + spec + "' on tensor '" + t.name +
                                     "': " + e.what());
        }
        y.resize(a.data.size());
        q->dequantize(y);
        rows.push_back({t.name, spec, lowbit::sqnr_db(a.data, y)});
        qvalues += double(a.data.size());
        qbits += q->bits_per_value() * double(a.data.size());
        w.add(t.name, spec, *q, a.shape);
        instances.push_back(std::move(q));
        if (!o.quiet) {
            bar.finish();
            std::printf("  %-40s %-16s %-16s %6.2f bits/value  SQNR %6.2f dB\n", t.name.c_str(),
                        dims_text(a.shape).c_str(), spec.c_str(),
                        instances.back()->bits_per_value(), rows.back().sqnr);
        }
    }
    bar.update(total, "writing " + o.output);
    w.write(o.output);
    bar.finish();
    const double seconds = bar.seconds();
    const double in_bytes = input_bytes(o.input);
    std::printf(
        "lowbit-quantize: %zu tensors quantized (%s values, %.2f bits/value), %zu kept in "
        "float (%s values)%s\n",
        rows.size(), human_count(qvalues).c_str(), qvalues > 0 ? qbits / qvalues : 0.0, kept.size(),
        human_count(kvalues).c_str(),
        raw_tensors ? (", " + std::to_string(raw_tensors) + " non-float copied").c_str() : "");
    std::printf("  %s (%s) -> %s (%s) in %.3f s\n", fs::path(o.input).filename().string().c_str(),
                human_bytes(in_bytes).c_str(), fs::path(o.output).filename().string().c_str(),
                human_bytes(double(fs::file_size(o.output))).c_str(), seconds);
    auto worst = rows;
    std::sort(worst.begin(), worst.end(),
              [](const auto& a, const auto& b) { return a.sqnr < b.sqnr; });
    for (std::size_t i = 0; i < std::min<std::size_t>(3, worst.size()); ++i)
        std::printf("  %s %6.2f dB  %s (%s)\n", i ? "            " : "lowest SQNR:", worst[i].sqnr,
                    worst[i].name.c_str(), worst[i].scheme.c_str());
    return 0;
}

int dequantize(const options& o) {
    const lowbit::safetensors_file f(o.input);
    const auto infos = lowbit::quantized_tensors(f);
    std::vector<lowbit::safetensors_source> out;
    std::deque<std::vector<float>> values;
    std::deque<std::vector<std::size_t>> shapes;
    std::vector<std::string> fields;  // the tensors that belong to a quantized one
    for (const auto& info : infos) {
        auto q = lowbit::load_quantized(f, info);
        values.emplace_back(info.shape.size());
        q->dequantize(values.back());
        out.push_back(lowbit::safetensors_source::from_floats(info.name, info.dims, values.back()));
    }
    for (const auto& t : f.tensors()) {
        const bool field = std::any_of(infos.begin(), infos.end(), [&](const auto& info) {
            return t.name.starts_with(info.name + ":");
        });
        if (field) continue;
        if (!lowbit::safetensors_dtype_reads_as_float(t.dtype)) {
            out.push_back(
                lowbit::safetensors_source::from_bytes(t.name, t.dtype, t.shape, f.bytes(t)));
            continue;
        }
        auto a = f.read_float(t);
        values.push_back(std::move(a.data));
        out.push_back(lowbit::safetensors_source::from_floats(t.name, t.shape, values.back()));
    }
    lowbit::write_safetensors(o.output, out);
    if (!o.quiet)
        std::printf(
            "lowbit-quantize: %zu quantized tensors dequantized, %zu tensors in all -> %s\n",
            infos.size(), out.size(), o.output.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    try {
        o = parse(argc, argv);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "lowbit-quantize: %s\ntry 'lowbit-quantize --help'\n",
                     e.message.c_str());
        return 2;
    }
    if (o.help) {
        std::fputs(usage, stdout);
        return 0;
    }
    try {
        return o.dequantize ? dequantize(o) : quantize(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "\nlowbit-quantize: %s\n", e.what());
        return 1;
    }
}
