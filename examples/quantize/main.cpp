// lowbit-quantize — a model file in, a quantized model file out: every weight matrix through a
// scheme chosen per tensor-name pattern, the rest kept in float, written as safetensors with
// lowbit's quantized-tensor records (docs/io.md), with a summary of bits per weight, quality
// (SQNR) and time. See --help and docs/quantize.md.
#include <algorithm>
#include <cctype>
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
#include <lowbit/io/gguf.hpp>
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
An OUTPUT ending in .gguf is written as GGUF instead: schemes are then ggml types (q8_0, q4_0,
q4_1, q5_0, q5_1, mxfp4, f16, bf16, f32; byte-identical with gguf-py), blocks run along each
tensor's last dimension (a tensor whose last dimension is not whole blocks stays in float), and
a GGUF INPUT's metadata is kept.

INPUT is a safetensors file, a GGUF file (.gguf), a llama2.c checkpoint (.bin) or a directory
of .npy files (tensor names: file names without .npy). With --dequantize, INPUT is a file this
tool wrote (or any GGUF file whose types lowbit reads) and OUTPUT gets every tensor in float32
(quantized ones dequantized) under its original name and shape, as safetensors.

options:
  --scheme SPEC      the scheme of every tensor no --rule matches (default int4_g32, or q4_0
                     for a .gguf OUTPUT): a registered name (lowbit-compare --list) or a spec
                     string (int4:g=64:scale=mse)
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

/// The ggml type a .gguf OUTPUT's scheme names (any case); nullopt for another name.
std::optional<lowbit::ggml_type> gguf_type_of(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    using t = lowbit::ggml_type;
    for (auto [name, type] : {std::pair{"q8_0", t::q8_0},
                              {"q4_0", t::q4_0},
                              {"q4_1", t::q4_1},
                              {"q5_0", t::q5_0},
                              {"q5_1", t::q5_1},
                              {"mxfp4", t::mxfp4},
                              {"f16", t::f16},
                              {"bf16", t::bf16},
                              {"f32", t::f32}})
        if (s == name) return type;
    return std::nullopt;
}

struct rule {
    std::string glob, spec;
};

struct options {
    std::string input, output;
    std::string scheme;  ///< empty: the default of the output format
    bool gguf_out = false;
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
    if (o.dequantize && (!o.rules.empty() || !o.keep.empty() || !o.scheme.empty()))
        throw usage_error{"--dequantize takes no --scheme, --rule or --keep"};
    o.gguf_out = fs::path(o.output).extension() == ".gguf";
    if (o.dequantize && o.gguf_out)
        throw usage_error{"--dequantize writes safetensors, not '" + o.output + "'"};
    if (o.scheme.empty()) o.scheme = o.gguf_out ? "q4_0" : "int4_g32";
    // Every scheme is checked before any work.
    auto check = [&](const std::string& what, const std::string& spec) {
        if (o.gguf_out) {
            if (!gguf_type_of(spec))
                throw usage_error{what + ": '" + spec +
                                  "' is not a ggml type a .gguf OUTPUT holds (q8_0, q4_0, q4_1, "
                                  "q5_0, q5_1, mxfp4, f16, bf16, f32)"};
            return;
        }
        try {
            (void)lowbit::resolve_scheme(spec);
        } catch (const lowbit::error& e) {
            throw usage_error{what + ": '" + spec +
                              "' is neither a registered name (lowbit-compare --list) nor a "
                              "valid spec (" +
                              e.what() + ")" +
                              (gguf_type_of(spec) ? "; ggml types need a .gguf OUTPUT" : "")};
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
    lowbit::gguf_metadata metadata;  ///< a GGUF input's
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
    } else if (p.extension() == ".gguf") {
        auto f = std::make_shared<lowbit::gguf_file>(p);
        for (const auto& t : f->tensors()) {
            const auto* tp = &t;
            const auto* fp = f.get();
            const bool as_float = t.type == lowbit::ggml_type::f32 ||
                t.type == lowbit::ggml_type::f16 || t.type == lowbit::ggml_type::bf16 ||
                t.type == lowbit::ggml_type::f64 || lowbit::detail::ggml_block_type(t.type);
            in.tensors.push_back({t.name, t.shape(), std::string(t.type_name()), as_float,
                                  [fp, tp] { return fp->read_float(*tp); },
                                  [fp, tp] { return fp->bytes(*tp); }});
        }
        in.metadata = f->metadata();
        in.keep_alive = f;
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

/// The ggml type of a tensor copied as it is: a GGUF input's type, or a safetensors integer dtype
/// that GGUF has (I8, I16, I32, I64); nullopt otherwise.
std::optional<lowbit::ggml_type> raw_ggml_type(const std::string& dtype) {
    for (const auto& t : lowbit::detail::ggml_types)
        if (t.name == dtype) return t.type;
    return std::nullopt;
}

/// GGUF holds 1 … 4 dimensions: a 0-d scalar is written as [1].
std::vector<std::size_t> gguf_shape(const std::vector<std::size_t>& shape) {
    return shape.empty() ? std::vector<std::size_t>{1} : shape;
}

/// shape as ggml's rows: blocks run along the last dimension.
lowbit::shape2d ggml_rows(const std::vector<std::size_t>& shape, std::size_t n) {
    const std::size_t last = shape.empty() ? 1 : shape.back();
    return {last ? n / last : 0, last};
}

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
    std::vector<lowbit::gguf_source> g;  // a .gguf OUTPUT's tensors
    std::deque<std::vector<std::uint8_t>> g_bytes;
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
            if (o.gguf_out) {
                const auto type = raw_ggml_type(t.dtype);
                if (!type)
                    throw std::runtime_error("tensor '" + t.name + "' (" + t.dtype +
                                             ") has no GGUF type to be copied as");
                g.push_back({t.name, *type, gguf_shape(t.shape), t.bytes()});
            } else {
                if (!lowbit::parse_safetensors_dtype(t.dtype))
                    throw std::runtime_error("tensor '" + t.name + "' is " + t.dtype +
                                             ", which lowbit cannot read as float; a .gguf "
                                             "OUTPUT copies it as it is");
                w.add_bytes(t.name, t.dtype, t.shape, t.bytes());
            }
            ++raw_tensors;
            continue;
        }
        lowbit::npy_array a = t.read();
        done += double(a.data.size());
        bool keep = t.shape.size() < 2 ||
            std::any_of(o.keep.begin(), o.keep.end(),
                        [&](const std::string& g) { return matches(g, t.name); });
        std::string spec = o.scheme;
        for (const auto& r : o.rules)
            if (matches(r.glob, t.name)) {
                spec = r.spec;
                break;
            }
        std::string note;
        if (o.gguf_out && !keep) {
            const auto& tr = lowbit::ggml_traits(*gguf_type_of(spec));
            if (a.shape.back() % tr.block_size != 0) {
                keep = true;
                note = " (rows of " + std::to_string(a.shape.back()) + " are not whole " +
                    std::string(tr.name) + " blocks)";
            }
        }
        if (keep) {
            kvalues += double(a.data.size());
            kept.push_back(std::move(a));
            const auto& k = kept.back();
            const auto kd = kept_dtype(o.keep_dtype, t.dtype);
            if (o.gguf_out) {
                const auto type = kd == lowbit::safetensors_dtype::f16 ? lowbit::ggml_type::f16
                    : kd == lowbit::safetensors_dtype::bf16            ? lowbit::ggml_type::bf16
                                                                       : lowbit::ggml_type::f32;
                g_bytes.push_back(
                    lowbit::ggml_quantize(type, k.data, ggml_rows(k.shape, k.data.size())));
                g.push_back({t.name, type, gguf_shape(k.shape), g_bytes.back()});
            } else {
                w.add_float(t.name, k.shape, k.data, kd);
            }
            if (!note.empty() && !o.quiet) {
                bar.finish();
                std::printf("  %-40s %-16s kept in float%s\n", t.name.c_str(),
                            dims_text(k.shape).c_str(), note.c_str());
            }
            continue;
        }
        double bpv = 0;
        try {
            if (o.gguf_out) {
                const auto type = *gguf_type_of(spec);
                const auto& tr = lowbit::ggml_traits(type);
                const auto s2 = ggml_rows(a.shape, a.data.size());
                g_bytes.push_back(lowbit::ggml_quantize(type, a.data, s2, o.threads));
                y = lowbit::ggml_dequantize(type, g_bytes.back(), s2);
                bpv = double(tr.type_size * 8) / double(tr.block_size);
                g.push_back({t.name, type, a.shape, g_bytes.back()});
            } else {
                auto q = lowbit::resolve_scheme(spec).make();
                q->quantize_parallel(a.data, a.matrix_shape(), o.threads);
                y.resize(a.data.size());
                q->dequantize(y);
                bpv = q->bits_per_value();
                w.add(t.name, spec, *q, a.shape);
                instances.push_back(std::move(q));
            }
        } catch (const std::exception& e) {
            throw std::runtime_error("scheme '" + spec + "' on tensor '" + t.name +
                                     "': " + e.what());
        }
        rows.push_back({t.name, spec, lowbit::sqnr_db(a.data, y)});
        qvalues += double(a.data.size());
        qbits += bpv * double(a.data.size());
        if (!o.quiet) {
            bar.finish();
            std::printf("  %-40s %-16s %-16s %6.2f bits/value  SQNR %6.2f dB\n", t.name.c_str(),
                        dims_text(a.shape).c_str(), spec.c_str(), bpv, rows.back().sqnr);
        }
    }
    bar.update(total, "writing " + o.output);
    if (o.gguf_out)
        lowbit::write_gguf(o.output, g, in.metadata);
    else
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

/// --dequantize of a GGUF file: every tensor in float32 (the types lowbit reads), integer tensors
/// of the types safetensors has copied.
int dequantize_gguf(const options& o) {
    const lowbit::gguf_file f(o.input);
    std::vector<lowbit::safetensors_source> out;
    std::deque<std::vector<float>> values;
    std::size_t converted = 0;
    for (const auto& t : f.tensors()) {
        const std::string name(t.type_name());
        if (t.type == lowbit::ggml_type::i8 || t.type == lowbit::ggml_type::i16 ||
            t.type == lowbit::ggml_type::i32 || t.type == lowbit::ggml_type::i64) {
            out.push_back(
                lowbit::safetensors_source::from_bytes(t.name, name, t.shape(), f.bytes(t)));
            continue;
        }
        values.push_back(f.read_float(t).data);  // names the tensor and type it cannot convert
        out.push_back(lowbit::safetensors_source::from_floats(t.name, t.shape(), values.back()));
        converted += t.type != lowbit::ggml_type::f32;
    }
    lowbit::write_safetensors(o.output, out);
    if (!o.quiet)
        std::printf(
            "lowbit-quantize: %zu GGUF tensors converted to float32, %zu tensors in all -> %s\n",
            converted, out.size(), o.output.c_str());
    return 0;
}

int dequantize(const options& o) {
    if (fs::path(o.input).extension() == ".gguf") return dequantize_gguf(o);
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
