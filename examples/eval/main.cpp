// lowbit-eval — end-to-end quality of lowbit's schemes on a real language model: a llama2.c
// checkpoint run in fp32 and with every 2-D weight quantized, compared on sequences sampled from
// the fp32 model (KL divergence of the next-token distributions, perplexities, top-1 agreement).
// See --help and docs/eval.md.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <lowbit/model/llama2c.hpp>
#include <lowbit/schemes.hpp>
#include <lowbit/spec.hpp>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
namespace l2 = lowbit::llama2c;

#ifndef LOWBIT_SHARED_DATA_DIR
#define LOWBIT_SHARED_DATA_DIR "../shared/data"
#endif
const std::string default_model =
    std::string(LOWBIT_SHARED_DATA_DIR) + "/stories260K/llama2c/stories260K.bin";

// From 8 bits down to 2: the integer, minifloat, codebook, block-scaled and rotated families.
// A name this build does not register is left out of the default.
constexpr const char* default_schemes[] = {"int8",    "e4m3fn",   "int4_g32", "nf4_g64",
                                           "sf4_g64", "mxfp4",    "nvfp4",    "bbq4",
                                           "quest4",  "int3_g32", "int2_g32"};

constexpr const char* usage = R"(usage: lowbit-eval [options]

Runs a llama2.c model (legacy .bin checkpoint) in fp32 and, for each scheme, with every 2-D
weight replaced by its quantize-dequantize through the scheme (token embedding included: in a
tied model it is the classifier too; the 1-D RMSNorm weights stay fp32). Both run on the same
sequences, sampled from the fp32 model at temperature 1 from BOS (token 1), and each scheme's
row reports:
  bits_per_value  storage of the quantized weights (codes plus scales) per weight value
  mean_kl         mean over all positions of KL(P_fp32 || P_quantized) of the next-token
                  distributions, in nats
  ppl_fp32        perplexity of the fp32 model on the sampled tokens: exp(mean -log p)
  ppl_quantized   the same for the quantized model
  top1_agreement  fraction of positions where both models' most likely next token agree

options:
  --model PATH      llama2.c checkpoint (default: the shipped stories260K,
                    ../shared/data/stories260K/llama2c/stories260K.bin of the source tree)
  --tokenizer PATH  llama2.c tokenizer, for the decoded text sample (default: tok512.bin in the
                    model's directory; without one no text is shown)
  --schemes A,B     registered names (lowbit-compare --list) or spec strings such as
                    int4:g=64:scale=mse (default: int8,e4m3fn,int4_g32,nf4_g64,sf4_g64,mxfp4,
                    nvfp4,bbq4,quest4,int3_g32,int2_g32; a name this build does not
                    register is left out of the default)
  --sequences N     sequences to sample (default 8)
  --length L        tokens per sequence after BOS, at most the model's seq_len (default 64)
  --seed S          sampling seed, an unsigned 64-bit integer (default 1): sequence s draws
                    from splitmix64 seeded with the s-th output of splitmix64(S)
  --threads T       threads over sequences (default 1; 0: all cores); results do not change
  --csv PATH        also write the rows as CSV
  --json PATH       also write the run (model, settings, text sample, rows) as JSON
  --plot PATH       also write an SVG plot of mean KL (log scale) against bits per value, a
                    labelled point per scheme (beside lowbit-compare's SQNR plot)
  --help            this text

exit status: 0 success, 1 unreadable model or tokenizer, unwritable output or a scheme that
fails on a weight, 2 bad arguments.
)";

/// A command-line mistake: printed with a pointer to --help, exit status 2.
struct usage_error {
    std::string message;
};

struct options {
    std::string model = default_model;
    std::optional<std::string> tokenizer, schemes, csv, json, plot;
    std::size_t sequences = 8, length = 64;
    std::uint64_t seed = 1;
    unsigned threads = 1;
    bool help = false;
};

/// v as an unsigned integer in [lo, hi]; a usage_error naming `arg` otherwise.
std::uint64_t parse_uint(const std::string& arg, const std::string& v, std::uint64_t lo,
                         std::uint64_t hi) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] == '-' || v[0] == '+' || v[0] == ' ' || *end != '\0' || errno == ERANGE ||
        x < lo || x > hi)
        throw usage_error{arg + " needs an integer in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], not '" + v + "'"};
    return x;
}

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
        auto path = [&]() -> std::string {
            std::string p = take();
            if (p.empty()) throw usage_error{a + " needs a path"};
            return p;
        };
        if (a == "--help" || a == "-h") {
            if (has_value) throw usage_error{a + " takes no value"};
            o.help = true;
        } else if (a == "--model")
            o.model = path();
        else if (a == "--tokenizer")
            o.tokenizer = path();
        else if (a == "--schemes")
            o.schemes = take();
        else if (a == "--sequences")
            o.sequences = parse_uint(a, take(), 1, 100000);
        else if (a == "--length")
            o.length = parse_uint(a, take(), 1, 1u << 24);
        else if (a == "--seed")
            o.seed = parse_uint(a, take(), 0, UINT64_MAX);
        else if (a == "--threads")
            o.threads = unsigned(parse_uint(a, take(), 0, 1024));
        else if (a == "--csv")
            o.csv = path();
        else if (a == "--json")
            o.json = path();
        else if (a == "--plot")
            o.plot = path();
        else
            throw usage_error{"unknown argument '" + std::string(argv[i]) + "'"};
    }
    return o;
}

/// The schemes named in a comma list (registered names or spec strings), in that order; the
/// default list when there is none.
std::vector<lowbit::scheme_info> select(const std::optional<std::string>& names) {
    std::vector<lowbit::scheme_info> out;
    if (!names) {
        for (const char* n : default_schemes)
            for (const auto& s : lowbit::all_schemes())
                if (s.name == n) out.push_back(s);
        return out;
    }
    std::string_view rest = *names;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        if (name.empty()) throw usage_error{"--schemes has an empty name in '" + *names + "'"};
        try {
            out.push_back(lowbit::resolve_scheme(name));
        } catch (const lowbit::error& e) {
            throw usage_error{"--schemes: unknown scheme '" + std::string(name) +
                              "': neither a registered name (lowbit-compare --list) nor a valid "
                              "spec (" +
                              e.what() + ")"};
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

struct row {
    std::string scheme;
    double bits_per_value = 0;
    l2::comparison c;
    double seconds = 0;
};

/// A copy of m with every 2-D weight replaced by its quantize–dequantize through s; adds the
/// storage bits to `bits`. A scheme that refuses a weight is an error naming both.
l2::model quantize_model(const l2::model& m, const lowbit::scheme_info& s, double& bits) {
    l2::model q = m;
    bits = 0;
    std::vector<float> y;
    for (auto& w : q.weights()) {
        if (!w.is_matrix()) continue;
        try {
            auto inst = s.make();
            inst->quantize(w.values(), w.matrix_shape());
            y.assign(w.values().size(), 0.0f);
            inst->dequantize(y);
            bits += inst->bits_per_value() * double(y.size());
        } catch (const std::exception& e) {
            throw std::runtime_error("scheme " + s.name + " on " + w.name() + ": " + e.what());
        }
        std::copy(y.begin(), y.end(), w.values().begin());
    }
    return q;
}

/// The text with control bytes other than newline and tab dropped (run.c's safe_printf keeps
/// printable bytes and whitespace), so that a sample cannot move the terminal's cursor.
std::string printable(const std::string& s) {
    std::string o;
    for (char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if (u >= 0x20 && u != 0x7F)
            o += ch;
        else if (ch == '\n' || ch == '\t')
            o += ch;
    }
    return o;
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

/// An SVG of mean KL (log10 axis, nats) against bits per value: a <circle> per scheme with
/// data-scheme, data-bits and data-kl holding the plotted numbers, labelled with the scheme. KL of
/// 0 (an exact scheme) is drawn at the bottom edge.
std::string kl_plot_svg(const std::vector<row>& rows, const std::string& title) {
    double bmax = 1, lo = -3, hi = 0;
    for (const auto& r : rows) {
        bmax = std::max(bmax, r.bits_per_value);
        if (r.c.mean_kl > 0) {
            lo = std::min(lo, std::floor(std::log10(r.c.mean_kl)));
            hi = std::max(hi, std::ceil(std::log10(r.c.mean_kl)));
        }
    }
    bmax = std::ceil(bmax + 0.5);
    if (hi <= lo) hi = lo + 1;
    constexpr double L = 70, T = 50, W = 560, H = 360;
    auto F = [](const char* f, double v) {
        char buf[256];
        std::snprintf(buf, sizeof buf, f, v);
        return std::string(buf);
    };
    auto esc = [](const std::string& s) {
        std::string o;
        for (char ch : s)
            o += ch == '<'  ? "&lt;"
                : ch == '>' ? "&gt;"
                : ch == '&' ? "&amp;"
                : ch == '"' ? "&quot;"
                            : std::string(1, ch);
        return o;
    };
    std::string s = F("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\"", L + W + 40) +
        F(" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"11\">\n", T + H + 50);
    s += "<text x=\"70\" y=\"20\" font-size=\"14\">lowbit-eval: " + esc(title) + "</text>\n";
    s += F("<g class=\"panel\" data-x0=\"%.3f\"", L) + F(" data-y0=\"%.3f\"", T + H) +
        F(" data-w=\"%.3f\"", W) + F(" data-h=\"%.3f\"", H) + F(" data-xmax=\"%.9g\"", bmax) +
        F(" data-log10min=\"%.9g\"", lo) + F(" data-log10max=\"%.9g\">\n", hi);
    s +=
        F("<rect x=\"%.1f\" y=\"50\" width=\"560\" height=\"360\" fill=\"none\" "
          "stroke=\"#444\"/>\n",
          L);
    for (int k = 0; k <= int(bmax); ++k)
        s += F("<text x=\"%.1f\" y=\"424\" text-anchor=\"middle\">", L + W * k / bmax) +
            std::to_string(k) + "</text>\n";
    for (double e = lo; e <= hi + 1e-9; e += 1)
        s += F("<text x=\"64\" y=\"%.1f\" text-anchor=\"end\">",
               T + H - H * (e - lo) / (hi - lo) + 4) +
            F("1e%.0f</text>\n", e);
    s += "<text x=\"350\" y=\"442\" text-anchor=\"middle\">bits per value</text>"
         "<text x=\"70\" y=\"44\">mean KL (nats, log scale)</text>\n";
    for (const auto& r : rows) {
        const double x = L + W * r.bits_per_value / bmax;
        const double e = r.c.mean_kl > 0 ? std::clamp(std::log10(r.c.mean_kl), lo, hi) : lo;
        const double y = T + H - H * (e - lo) / (hi - lo);
        s += F("<circle cx=\"%.3f\"", x) + F(" cy=\"%.3f\" r=\"3\" fill=\"#1f77b4\"", y) +
            " data-scheme=\"" + esc(r.scheme) + "\"" + F(" data-bits=\"%.9g\"", r.bits_per_value) +
            F(" data-kl=\"%.9g\"/>", r.c.mean_kl) + F("<text x=\"%.1f\"", x + 5) +
            F(" y=\"%.1f\" font-size=\"9\">", y - 4) + esc(r.scheme) + "</text>\n";
    }
    return s + "</g>\n</svg>\n";
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    f.close();
    if (!f) throw std::runtime_error(path + ": cannot be written");
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
        if (schemes.empty()) throw usage_error{"--schemes: no scheme to run"};
    } catch (const usage_error& e) {
        std::fprintf(stderr, "lowbit-eval: %s\ntry 'lowbit-eval --help'\n", e.message.c_str());
        return 2;
    }

    std::optional<l2::model> loaded;
    std::optional<l2::tokenizer> tok;
    try {
        loaded = l2::read_checkpoint(o.model);
        const fs::path tp =
            o.tokenizer ? fs::path(*o.tokenizer) : fs::path(o.model).parent_path() / "tok512.bin";
        if (o.tokenizer || fs::exists(tp))
            tok = l2::read_tokenizer(tp, std::size_t(loaded->cfg().vocab_size));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lowbit-eval: %s\n", e.what());
        return 1;
    }
    const l2::model& m = *loaded;
    const l2::config& c = m.cfg();
    if (o.length > std::size_t(c.seq_len)) {
        std::fprintf(stderr,
                     "lowbit-eval: --length %zu exceeds the model's seq_len %d\ntry 'lowbit-eval "
                     "--help'\n",
                     o.length, c.seq_len);
        return 2;
    }
    // The fp32 logits of every position are kept: sequences · length · vocab floats.
    if (double(o.sequences) * double(o.length) * double(c.vocab_size) > double(1u << 30)) {
        std::fprintf(stderr,
                     "lowbit-eval: --sequences %zu x --length %zu x vocab %d logits exceed 2^30 "
                     "floats (4 GiB)\ntry 'lowbit-eval --help'\n",
                     o.sequences, o.length, c.vocab_size);
        return 2;
    }

    try {
        std::size_t matrices = 0, quantized_values = 0, kept = 0;
        for (const auto& w : m.weights()) {
            if (w.is_matrix()) {
                ++matrices;
                quantized_values += w.values().size();
            } else {
                kept += w.values().size();
            }
        }
        const std::string model_name = fs::path(o.model).filename().string();
        std::printf(
            "model: %s (dim %d, hidden %d, %d layers, %d heads, %d kv heads, vocab %d, seq_len "
            "%d, %s classifier)\n",
            model_name.c_str(), c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
            c.vocab_size, c.seq_len, c.shared_classifier ? "tied" : "untied");
        std::printf(
            "quantized: all %zu 2-D weights, %zu values (%s); %zu RMSNorm values stay fp32\n",
            matrices, quantized_values,
            c.shared_classifier ? "the token embedding is also the classifier: tied, quantized once"
                                : "token embedding and classifier each quantized",
            kept);

        const auto t0 = std::chrono::steady_clock::now();
        const auto samples = l2::sample_sequences(m, o.sequences, o.length, o.seed, o.threads);
        std::printf(
            "data: %zu sequences x %zu tokens sampled from the fp32 model (BOS first, temperature "
            "1, seed %llu): %zu predicted positions\n\n",
            o.sequences, o.length, static_cast<unsigned long long>(o.seed), o.sequences * o.length);

        std::vector<row> rows;
        int width = 24;  // the scheme column fits the longest name (spec strings can be long)
        for (const auto& s : schemes) width = std::max(width, int(s.name.size()));
        std::printf("%-*s %10s %10s %9s %9s %8s\n", width, "scheme", "bits/value", "mean KL",
                    "ppl fp32", "ppl quant", "top-1");
        for (const auto& s : schemes) {
            const auto ts = std::chrono::steady_clock::now();
            row r;
            r.scheme = s.name;
            double bits = 0;
            const l2::model q = quantize_model(m, s, bits);
            r.bits_per_value = bits / double(quantized_values);
            r.c = l2::compare_to_samples(samples, q, o.threads);
            r.seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
            std::printf("%-*s %10.4f %10.6f %9.4f %9.4f %7.2f%%\n", width, r.scheme.c_str(),
                        r.bits_per_value, r.c.mean_kl, r.c.ppl_reference, r.c.ppl_candidate,
                        100.0 * r.c.top1_agreement);
            std::fflush(stdout);
            rows.push_back(std::move(r));
        }
        const double total_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        std::string text;
        if (tok) {
            const auto& seq = samples.tokens.front();
            text = tok->decode(std::span<const int>(seq).subspan(1));
            std::printf("\nsample (sequence 0, fp32 model):\n  ");
            for (char ch : printable(text)) {
                std::putchar(ch);
                if (ch == '\n') std::fputs("  ", stdout);
            }
            std::putchar('\n');
        }
        std::printf("\n%.2f s\n", total_s);

        if (o.csv) {
            std::string csv =
                "scheme,bits_per_value,mean_kl,ppl_fp32,ppl_quantized,top1_agreement,positions\n";
            for (const auto& r : rows)
                csv += r.scheme + "," + fmt("%.6g", r.bits_per_value) + "," +
                    fmt("%.9g", r.c.mean_kl) + "," + fmt("%.9g", r.c.ppl_reference) + "," +
                    fmt("%.9g", r.c.ppl_candidate) + "," + fmt("%.9g", r.c.top1_agreement) + "," +
                    std::to_string(r.c.positions) + "\n";
            write_text(*o.csv, csv);
        }
        if (o.json) {
            nlohmann::ordered_json j;
            j["model"] = {{"path", o.model},
                          {"dim", c.dim},
                          {"hidden_dim", c.hidden_dim},
                          {"n_layers", c.n_layers},
                          {"n_heads", c.n_heads},
                          {"n_kv_heads", c.n_kv_heads},
                          {"vocab_size", c.vocab_size},
                          {"seq_len", c.seq_len},
                          {"shared_classifier", c.shared_classifier}};
            j["quantized_matrices"] = matrices;
            j["quantized_values"] = quantized_values;
            j["fp32_values"] = kept;
            j["sequences"] = o.sequences;
            j["length"] = o.length;
            j["seed"] = o.seed;
            j["positions"] = o.sequences * o.length;
            j["sample_text"] = tok ? nlohmann::ordered_json(text) : nlohmann::ordered_json();
            auto& res = j["results"] = nlohmann::ordered_json::array();
            for (const auto& r : rows)
                res.push_back({{"scheme", r.scheme},
                               {"bits_per_value", r.bits_per_value},
                               {"mean_kl", r.c.mean_kl},
                               {"ppl_fp32", r.c.ppl_reference},
                               {"ppl_quantized", r.c.ppl_candidate},
                               {"top1_agreement", r.c.top1_agreement},
                               {"seconds", r.seconds}});
            // Byte tokens can form invalid UTF-8: replaced by U+FFFD rather than refused.
            write_text(
                *o.json,
                j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
        }
        if (o.plot) write_text(*o.plot, kl_plot_svg(rows, model_name));
        return std::fflush(stdout) == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lowbit-eval: %s\n", e.what());
        return 1;
    }
}
