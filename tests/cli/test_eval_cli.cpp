// lowbit-eval end to end: runs the built binary (LOWBIT_EVAL_EXE) on the shipped stories260K
// checkpoint and checks the table rows, that the --csv and --json files parse with the
// documented columns and keys, determinism of the figures, and exit code 2 with a message that
// names the argument for every kind of bad argument.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "cli_util.hpp"

namespace fs = std::filesystem;

namespace {

using lowbit_cli::run_result;
using lowbit_cli::slurp;

fs::path scratch(const std::string& name) { return lowbit_cli::scratch("lowbit_eval_cli", name); }

run_result run(const std::string& args) {
    return lowbit_cli::run_program(LOWBIT_EVAL_LAUNCHER, LOWBIT_EVAL_EXE, "lowbit_eval_cli", args);
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    std::string cur;
    for (char ch : s) {
        if (ch == sep) {
            v.push_back(cur);
            cur.clear();
        } else {
            cur += ch;
        }
    }
    v.push_back(cur);
    return v;
}

// The binary's default model is <source>/../shared/data/stories260K; a worktree elsewhere can
// say LOWBIT_SHARED_DATA=<dir> (passed on as --model). Without it the runs are skipped.
const std::string shared =
    std::getenv("LOWBIT_SHARED_DATA") ? std::getenv("LOWBIT_SHARED_DATA") : LOWBIT_SHARED_DATA_DIR;
const std::string model = shared + "/stories260K/llama2c/stories260K.bin";

bool model_absent() {
    if (fs::exists(model)) return false;
    MESSAGE("shared data absent (" << model << "): skipped");
    return true;
}

}  // namespace

TEST_CASE("eval cli: --help, and bad arguments exit 2 naming the argument") {
    const auto h = run("--help");
    CHECK(h.status == 0);
    CHECK(h.out.find("usage: lowbit-eval") != std::string::npos);
    CHECK(h.out.find("--schemes") != std::string::npos);

    struct bad {
        const char* args;
        const char* message;
    };
    for (const bad& b : {
             bad{"--frobnicate", "unknown argument '--frobnicate'"},
             bad{"--schemes int8,nope", "unknown scheme 'nope'"},
             bad{"--schemes int8,,int4_g32", "--schemes has an empty name"},
             bad{"--schemes nf4:foo=1", "unknown scheme 'nf4:foo=1'"},
             bad{"--sequences 0", "--sequences needs an integer in [1, "},
             bad{"--sequences -3", "--sequences needs an integer"},
             bad{"--sequences 2x", "--sequences needs an integer"},
             bad{"--length", "--length needs a value"},
             bad{"--seed 18446744073709551616", "--seed needs an integer"},
             bad{"--threads many", "--threads needs an integer"},
             bad{"--csv=", "--csv needs a path"},
             bad{"--help=yes", "--help takes no value"},
         }) {
        CAPTURE(b.args);
        const auto r = run(b.args);
        CHECK(r.status == 2);
        CAPTURE(r.err);
        CHECK(r.err.find(b.message) != std::string::npos);
        CHECK(r.out.empty());
    }
    // A length beyond the model's seq_len is an argument error too, found once the model is read.
    if (!model_absent()) {
        const auto r = run("--model '" + model + "' --length 513 --schemes int8");
        CHECK(r.status == 2);
        CHECK(r.err.find("--length 513 exceeds the model's seq_len 512") != std::string::npos);
        CHECK(r.out.empty());
        const auto big = run("--model '" + model + "' --sequences 100000 --length 512");
        CHECK(big.status == 2);
        CHECK(big.err.find("--sequences 100000 x --length 512") != std::string::npos);
    }
    // An unreadable model or a malformed one: exit 1, naming the file and the field.
    const auto missing = run("--model /no/such/model.bin");
    CHECK(missing.status == 1);
    CHECK(missing.err.find("/no/such/model.bin") != std::string::npos);
    const fs::path bad_model = scratch("bad.bin");
    {
        std::ofstream f(bad_model, std::ios::binary);
        const int header[7] = {64, 172, 5, 8, 3, 512, 512};  // 3 kv heads do not divide 8
        f.write(reinterpret_cast<const char*>(header), sizeof header);
    }
    const auto malformed = run("--model '" + bad_model.string() + "'");
    fs::remove(bad_model);
    CHECK(malformed.status == 1);
    CHECK(malformed.err.find("n_kv_heads") != std::string::npos);
}

TEST_CASE("eval cli: two schemes on two short sequences, table, CSV and JSON") {
    if (model_absent()) return;
    const fs::path csv = scratch("rows.csv"), json = scratch("run.json");
    const std::string args = "--model '" + model +
        "' --schemes int8,int2_g32 --sequences 2 --length 16 --seed 5 --threads 2 --csv '" +
        csv.string() + "' --json '" + json.string() + "'";
    const auto r = run(args);
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    // Header lines, one table row per scheme, the text sample.
    CHECK(r.out.find("dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads, vocab 512") !=
          std::string::npos);
    CHECK(r.out.find("tied") != std::string::npos);
    CHECK(r.out.find("2 sequences x 16 tokens") != std::string::npos);
    CHECK(r.out.find("sample (sequence 0, fp32 model):") != std::string::npos);
    std::vector<std::string> rows;
    for (const auto& l : lines(r.out))
        if (l.rfind("int8 ", 0) == 0 || l.rfind("int2_g32 ", 0) == 0) rows.push_back(l);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].rfind("int8 ", 0) == 0);
    CHECK(rows[1].find("%") != std::string::npos);

    // CSV: the documented header, one line per scheme, numbers that parse.
    const auto c = lines(slurp(csv));
    REQUIRE(c.size() == 3);
    CHECK(c[0] == "scheme,bits_per_value,mean_kl,ppl_fp32,ppl_quantized,top1_agreement,positions");
    const auto c1 = split(c[1], ','), c2 = split(c[2], ',');
    REQUIRE(c1.size() == 7);
    REQUIRE(c2.size() == 7);
    CHECK(c1[0] == "int8");
    CHECK(c2[0] == "int2_g32");
    CHECK(std::stod(c1[1]) == doctest::Approx(8.0 + 32.0 * 36 / 259328));  // one fp32 scale each
    CHECK(std::stod(c2[1]) == doctest::Approx(651520.0 / 259328));         // w2: 6 groups per 172
    CHECK(std::stod(c1[2]) < std::stod(c2[2]));   // KL: 8 bits below 2 bits
    CHECK(std::stod(c1[3]) == std::stod(c2[3]));  // the same fp32 perplexity
    CHECK(c1[6] == "32");

    // JSON: parses (strictly), the documented keys, the same figures as the CSV.
    const auto j = nlohmann::json::parse(slurp(json));
    for (const char* k : {"model", "quantized_matrices", "quantized_values", "fp32_values",
                          "sequences", "length", "seed", "positions", "sample_text", "results"})
        CHECK_MESSAGE(j.contains(k), k);
    CHECK(j["model"]["dim"] == 64);
    CHECK(j["model"]["shared_classifier"] == true);
    CHECK(j["quantized_matrices"] == 36);
    CHECK(j["quantized_values"] == 259328);
    CHECK(j["fp32_values"] == 704);
    CHECK(j["positions"] == 32);
    CHECK(j["seed"] == 5);
    CHECK(j["sample_text"].is_string());
    CHECK_FALSE(j["sample_text"].get<std::string>().empty());
    REQUIRE(j["results"].size() == 2);
    for (const char* k : {"scheme", "bits_per_value", "mean_kl", "ppl_fp32", "ppl_quantized",
                          "top1_agreement", "seconds"})
        CHECK_MESSAGE(j["results"][0].contains(k), k);
    CHECK(j["results"][1]["scheme"] == "int2_g32");
    CHECK(j["results"][0]["mean_kl"].get<double>() ==
          doctest::Approx(std::stod(c1[2])).epsilon(1e-6));
    const double top1 = j["results"][1]["top1_agreement"].get<double>();
    CHECK((top1 >= 0.0 && top1 <= 1.0));

    // The same seed gives the same figures with one thread; another seed other sequences.
    const fs::path csv2 = scratch("rows2.csv");
    const auto again = run("--model '" + model +
                           "' --schemes int8,int2_g32 --sequences 2 --length 16 --seed 5 --csv '" +
                           csv2.string() + "'");
    REQUIRE(again.status == 0);
    CHECK(slurp(csv2) == slurp(csv));
    const auto other =
        run("--model '" + model + "' --schemes int8 --sequences 2 --length 16 --seed 6 --csv '" +
            csv2.string() + "'");
    REQUIRE(other.status == 0);
    CHECK(split(lines(slurp(csv2))[1], ',')[3] != c1[3]);
    fs::remove(csv);
    fs::remove(csv2);
    fs::remove(json);
    // An output path that cannot be written: exit 1, naming it.
    const auto unwritable =
        run("--model '" + model + "' --schemes int8 --sequences 1 --length 2 --csv " +
            "/no/such/dir/rows.csv");
    CHECK(unwritable.status == 1);
    CHECK(unwritable.err.find("/no/such/dir/rows.csv") != std::string::npos);
}

TEST_CASE("eval cli: --plot writes the KL plot, a point per scheme holding the CSV's figures") {
    if (model_absent()) return;
    const fs::path csv = scratch("plot.csv"), svg = scratch("plot.svg");
    const auto r = run("--model '" + model +
                       "' --schemes int8,int4_g32,int2_g32 --sequences 2 --length 16 --csv '" +
                       csv.string() + "' --plot '" + svg.string() + "'");
    REQUIRE(r.status == 0);
    const std::string s = slurp(svg);
    const auto c = lines(slurp(csv));
    fs::remove(csv);
    fs::remove(svg);
    REQUIRE(s.rfind("<svg ", 0) == 0);
    CHECK(s.find("</svg>") != std::string::npos);
    auto attr = [](const std::string& e, const std::string& k) {
        const auto at = e.find(" " + k + "=\"");
        REQUIRE(at != std::string::npos);
        const auto b = at + k.size() + 3;
        return e.substr(b, e.find('"', b) - b);
    };
    const auto g0 = s.find("<g ");
    REQUIRE(g0 != std::string::npos);
    const std::string g = s.substr(g0, s.find('>', g0) - g0);
    std::vector<std::string> circles;
    for (auto at = s.find("<circle "); at != std::string::npos; at = s.find("<circle ", at + 1))
        circles.push_back(s.substr(at, s.find('>', at) - at));
    REQUIRE(circles.size() == 3);
    REQUIRE(c.size() == 4);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto f = split(c[i + 1], ',');
        CAPTURE(circles[i]);
        CHECK(attr(circles[i], "data-scheme") == f[0]);
        const double bits = std::stod(attr(circles[i], "data-bits"));
        const double kl = std::stod(attr(circles[i], "data-kl"));
        CHECK(bits == doctest::Approx(std::stod(f[1])).epsilon(1e-5));
        CHECK(kl == doctest::Approx(std::stod(f[2])).epsilon(1e-6));
        const double lo = std::stod(attr(g, "data-log10min")),
                     hi = std::stod(attr(g, "data-log10max"));
        const double y0 = std::stod(attr(g, "data-y0")), h = std::stod(attr(g, "data-h"));
        CHECK(std::stod(attr(circles[i], "cy")) ==
              doctest::Approx(y0 - h * (std::log10(kl) - lo) / (hi - lo)).epsilon(1e-4));
        CHECK(std::stod(attr(circles[i], "cx")) ==
              doctest::Approx(std::stod(attr(g, "data-x0")) +
                              std::stod(attr(g, "data-w")) * bits / std::stod(attr(g, "data-xmax")))
                  .epsilon(1e-4));
        CHECK(s.find(">" + f[0] + "</text>") != std::string::npos);
    }
}
