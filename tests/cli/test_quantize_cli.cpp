// lowbit-quantize end to end: runs the built binary (LOWBIT_QUANTIZE_EXE) on a safetensors file
// and a directory of .npy files written here, and checks that the output loads with
// io/quantized.hpp into exactly what the scheme gives in process (any thread count), that rules,
// --keep and --keep-dtype choose as documented, that non-float tensors pass through, that
// --dequantize writes the values back, and exit codes 2 / 1 with a message naming the argument,
// the file or the tensor.
#include <doctest/doctest.h>

#include <lowbit/io/gguf.hpp>
#include <lowbit/io/npy.hpp>
#include <lowbit/io/quantized.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "../test_util.hpp"
#include "cli_util.hpp"

namespace fs = std::filesystem;
using namespace lowbit;

namespace {

using lowbit_cli::run_result;
using lowbit_cli::slurp;

fs::path scratch(const std::string& name) {
    return lowbit_cli::scratch("lowbit_quantize_cli", name);
}

run_result run(const std::string& args) {
    return lowbit_cli::run_program(LOWBIT_QUANTIZE_LAUNCHER, LOWBIT_QUANTIZE_EXE,
                                   "lowbit_quantize_cli", args);
}

/// The input model: two matrices (one BF16), a 4-D kernel, a 1-D F16 norm and an I64 tensor.
struct model_file {
    fs::path path = scratch("in.safetensors");
    std::vector<float> a = lowbit_test::gaussian(64 * 96, 1), b = lowbit_test::gaussian(32 * 64, 2),
                       conv = lowbit_test::gaussian(8 * 4 * 3 * 3, 3),
                       norm = lowbit_test::gaussian(64, 4);
    std::vector<std::uint8_t> ids = std::vector<std::uint8_t>(4 * 8, 7);
    model_file() {
        // b and norm as stored (BF16 / F16): what the tool reads.
        std::vector<safetensors_source> s = {
            safetensors_source::from_floats("a.weight", {64, 96}, a),
            safetensors_source::from_floats("b.weight", {32, 64}, b, safetensors_dtype::bf16),
            safetensors_source::from_floats("conv.weight", {8, 4, 3, 3}, conv),
            safetensors_source::from_floats("norm.weight", {64}, norm, safetensors_dtype::f16),
            safetensors_source::from_bytes("ids", safetensors_dtype::i64, {4}, ids)};
        write_safetensors(path, s);
        const safetensors_file f(path);
        b = f.read_float("b.weight").data;
        norm = f.read_float("norm.weight").data;
    }
    ~model_file() { fs::remove(path); }
};

/// What `scheme` gives for x in this process: the dequantized values.
std::vector<float> expected(const std::string& scheme, const std::vector<float>& x, shape2d s) {
    auto q = resolve_scheme(scheme).make();
    q->quantize(x, s);
    std::vector<float> y(x.size());
    q->dequantize(y);
    return y;
}

std::vector<float> loaded(const safetensors_view& f, const std::string& name) {
    auto q = load_quantized(f, name);
    std::vector<float> y(q->shape().size());
    q->dequantize(y);
    return y;
}

}  // namespace

TEST_CASE("a safetensors model: rules, keeps, pass-through, threads") {
    const model_file m;
    const fs::path out = scratch("out.safetensors");
    for (const char* threads : {"1", "3"}) {
        CAPTURE(threads);
        const auto r = run("'" + m.path.string() + "' '" + out.string() +
                           "' --scheme nf4_g64 --rule 'b.*=int8' --rule '*=e4m3fn' "
                           "--keep 'conv*' --threads " +
                           threads);
        CAPTURE(r.err);
        REQUIRE(r.status == 0);
        CHECK(r.out.find("2 tensors quantized") != std::string::npos);
        CHECK(r.out.find("2 kept in float") != std::string::npos);
        CHECK(r.out.find("1 non-float copied") != std::string::npos);
        CHECK(r.out.find("lowest SQNR") != std::string::npos);
        const safetensors_file f(out);
        const auto infos = quantized_tensors(f);
        REQUIRE(infos.size() == 2);
        CHECK(infos[0].name == "a.weight");
        CHECK(infos[0].scheme == "e4m3fn");  // the first matching rule wins over --scheme
        CHECK(infos[1].name == "b.weight");
        CHECK(infos[1].scheme == "int8");
        CHECK(lowbit_test::same_bits(loaded(f, "a.weight"), expected("e4m3fn", m.a, {64, 96})));
        CHECK(lowbit_test::same_bits(loaded(f, "b.weight"), expected("int8", m.b, {32, 64})));
        CHECK(f.info("conv.weight").dtype == safetensors_dtype::f32);
        CHECK(f.info("conv.weight").shape == std::vector<std::size_t>{8, 4, 3, 3});
        CHECK(f.read_float("conv.weight").data == m.conv);
        CHECK(f.info("norm.weight").dtype == safetensors_dtype::f16);  // "same"
        CHECK(lowbit_test::same_bits(f.read_float("norm.weight").data, m.norm));
        CHECK(f.info("ids").dtype == safetensors_dtype::i64);
        CHECK(std::equal(f.bytes("ids").begin(), f.bytes("ids").end(), m.ids.begin()));
        CHECK(f.metadata().at("source") == m.path.filename().string());
    }
    // The default scheme, 4-D tensors as first dimension x the rest, --keep-dtype.
    auto r = run("'" + m.path.string() + "' '" + out.string() + "' --keep-dtype bf16 --quiet");
    REQUIRE(r.status == 0);
    CHECK(r.out.find("layers") == std::string::npos);
    {
        const safetensors_file f(out);
        const auto infos = quantized_tensors(f);
        REQUIRE(infos.size() == 3);
        CHECK(infos[2].name == "conv.weight");
        CHECK(infos[2].scheme == "int4_g32");
        CHECK(infos[2].shape == shape2d{8, 36});
        CHECK(infos[2].dims == std::vector<std::size_t>{8, 4, 3, 3});
        CHECK(f.info("norm.weight").dtype == safetensors_dtype::bf16);
    }
    // --dequantize: every tensor back in float under its name and shape.
    const fs::path back = scratch("back.safetensors");
    r = run("--dequantize '" + out.string() + "' '" + back.string() + "'");
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    {
        const safetensors_file f(back);
        CHECK(quantized_tensors(f).empty());
        CHECK(f.size() == 5);
        CHECK(f.info("conv.weight").shape == std::vector<std::size_t>{8, 4, 3, 3});
        CHECK(lowbit_test::same_bits(f.read_float("conv.weight").data,
                                     expected("int4_g32", m.conv, {8, 36})));
        CHECK(lowbit_test::same_bits(f.read_float("a.weight").data,
                                     expected("int4_g32", m.a, {64, 96})));
        CHECK(f.info("ids").dtype == safetensors_dtype::i64);
    }
    fs::remove(out);
    fs::remove(back);
}

TEST_CASE("a directory of .npy files") {
    const fs::path dir = scratch("npy");
    fs::create_directories(dir);
    const auto w = lowbit_test::gaussian(16 * 128, 9), bias = lowbit_test::gaussian(16, 10);
    write_npy(dir / "fc.weight.npy", std::vector<std::size_t>{16, 128}, w);
    write_npy(dir / "fc.bias.npy", std::vector<std::size_t>{16}, bias);
    const fs::path out = scratch("npy.safetensors");
    const auto r = run("'" + dir.string() + "' '" + out.string() + "' --scheme mxfp4 --quiet");
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    const safetensors_file f(out);
    const auto infos = quantized_tensors(f);
    REQUIRE(infos.size() == 1);
    CHECK(infos[0].name == "fc.weight");
    CHECK(lowbit_test::same_bits(loaded(f, "fc.weight"), expected("mxfp4", w, {16, 128})));
    CHECK(f.read_float("fc.bias").data == bias);
    fs::remove_all(dir);
    fs::remove(out);
}

TEST_CASE("bad arguments exit 2 naming the argument; bad input exits 1 naming the file") {
    const model_file m;
    const std::string in = "'" + m.path.string() + "' ", out = "'" + scratch("x").string() + "'";
    struct bad {
        std::string args, says;
    };
    for (const bad& b : std::vector<bad>{
             {"", "needs INPUT and OUTPUT"},
             {in, "needs INPUT and OUTPUT"},
             {in + out + " --frobnicate", "unknown option '--frobnicate'"},
             {in + out + " --scheme int9", "--scheme: 'int9'"},
             {in + out + " --rule 'a*'", "--rule needs GLOB=SPEC"},
             {in + out + " --rule 'a*=nf5'", "--rule a*: 'nf5'"},
             {in + out + " --keep ''", "--keep needs a pattern"},
             {in + out + " --keep-dtype f8", "--keep-dtype must be"},
             {in + out + " --threads -1", "--threads needs an integer"},
             {in + out + " --quiet=1", "--quiet takes no value"},
             {"--dequantize " + in + out + " --scheme nf4_g64", "--dequantize takes no"}}) {
        CAPTURE(b.args);
        const auto r = run(b.args);
        CHECK(r.status == 2);
        CHECK(r.err.find(b.says) != std::string::npos);
        CHECK(r.err.find("try 'lowbit-quantize --help'") != std::string::npos);
    }
    auto r = run("--help");
    CHECK(r.status == 0);
    CHECK(r.out.find("usage: lowbit-quantize") != std::string::npos);

    r = run("'" + scratch("missing.safetensors").string() + "' " + out);
    CHECK(r.status == 1);
    CHECK(r.err.find("missing.safetensors") != std::string::npos);
    // A file without quantized tensors dequantizes to itself; a file that is not safetensors
    // is refused.
    r = run("--dequantize " + in + out);
    CHECK(r.status == 0);
    const fs::path junk = scratch("junk.safetensors");
    std::ofstream(junk) << "not a safetensors file";
    r = run("'" + junk.string() + "' " + out);
    CHECK(r.status == 1);
    CHECK(r.err.find("junk.safetensors") != std::string::npos);
    fs::remove(junk);
    // A scheme that refuses a tensor (BBQ and non-finite values) names the tensor.
    const fs::path nan_in = scratch("nan.safetensors");
    std::vector<float> x(4 * 128, 1.0f);
    x[5] = std::nanf("");
    write_safetensors(nan_in, std::vector{safetensors_source::from_floats("w", {4, 128}, x)});
    r = run("'" + nan_in.string() + "' " + out + " --scheme bbq4");
    CHECK(r.status == 1);
    CHECK(r.err.find("scheme 'bbq4' on tensor 'w'") != std::string::npos);
    fs::remove(nan_in);
    fs::remove(scratch("x"));
}

TEST_CASE("a progress bar on a terminal, none otherwise") {
    // util-linux's script(1) (Debian's essential bsdutils) gives the program a terminal.
    REQUIRE(std::system("command -v script >/dev/null 2>&1") == 0);
    const model_file m;
    const fs::path out = scratch("bar.safetensors"), log = scratch("bar.log");
    const std::string cmd = std::string(LOWBIT_QUANTIZE_LAUNCHER) + "'" + LOWBIT_QUANTIZE_EXE +
        "' '" + m.path.string() + "' '" + out.string() + "'";
    REQUIRE(std::system(
                ("script -qec \"" + cmd + "\" /dev/null >'" + log.string() + "' 2>&1").c_str()) ==
            0);
    const std::string tty = slurp(log);
    CHECK(tty.find("\r\033[K[") != std::string::npos);
    CHECK(tty.find("%  ") != std::string::npos);
    const auto piped = run("'" + m.path.string() + "' '" + out.string() + "'");
    CHECK(piped.status == 0);
    CHECK(piped.err.find('\033') == std::string::npos);
    fs::remove(out);
    fs::remove(log);
}

TEST_CASE("GGUF out (ggml types, byte for byte with ggml_quantize) and GGUF in") {
    const model_file m;
    const fs::path out = scratch("out.gguf");
    auto r = run("'" + m.path.string() + "' '" + out.string() +
                 "' --rule 'b.*=q8_0' --keep-dtype f16 --quiet");
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    {
        const gguf_file f(out);
        CHECK(f.info("a.weight").type == ggml_type::q4_0);  // the .gguf default
        CHECK(f.info("b.weight").type == ggml_type::q8_0);
        const auto qa = ggml_quantize(ggml_type::q4_0, m.a, {64, 96});
        CHECK(std::equal(qa.begin(), qa.end(), f.bytes("a.weight").begin(),
                         f.bytes("a.weight").end()));
        CHECK(f.info("a.weight").shape() == std::vector<std::size_t>{64, 96});
        // conv.weight's rows of 3 are not whole blocks: kept (as --keep-dtype says).
        CHECK(f.info("conv.weight").type == ggml_type::f16);
        CHECK(f.info("norm.weight").type == ggml_type::f16);
        CHECK(f.info("ids").type == ggml_type::i64);
        CHECK(std::equal(f.bytes("ids").begin(), f.bytes("ids").end(), m.ids.begin()));
    }
    // GGUF in: the file just written, to safetensors; and --dequantize of it.
    const fs::path st = scratch("from_gguf.safetensors"), back = scratch("gguf_back.safetensors");
    r = run("'" + out.string() + "' '" + st.string() + "' --scheme nf4_g64 --quiet");
    CAPTURE(r.err);
    REQUIRE(r.status == 0);
    {
        const safetensors_file f(st);
        const gguf_file g(out);
        const auto a = g.read_float("a.weight");
        CHECK(lowbit_test::same_bits(loaded(f, "a.weight"), expected("nf4_g64", a.data, {64, 96})));
        CHECK(f.info("ids").dtype == safetensors_dtype::i64);
    }
    r = run("--dequantize '" + out.string() + "' '" + back.string() + "'");
    REQUIRE(r.status == 0);
    {
        const safetensors_file f(back);
        const gguf_file g(out);
        CHECK(lowbit_test::same_bits(
            f.read_float("a.weight").data,
            ggml_dequantize(ggml_type::q4_0, g.bytes("a.weight"), {64, 96})));
        CHECK(f.info("conv.weight").shape == std::vector<std::size_t>{8, 4, 3, 3});
    }
    // gguf-py's file: metadata kept through a .gguf OUTPUT.
    const fs::path small = fs::path(LOWBIT_TEST_DATA_DIR) / "gguf" / "small.gguf";
    r = run("'" + small.string() + "' '" + out.string() + "' --scheme mxfp4 --quiet");
    REQUIRE(r.status == 0);
    CHECK(gguf_file(out).metadata() == gguf_file(small).metadata());
    // Schemes of the wrong kind for the output name the fix.
    r = run("'" + m.path.string() + "' '" + out.string() + "' --scheme nf4_g64");
    CHECK(r.status == 2);
    CHECK(r.err.find("not a ggml type") != std::string::npos);
    r = run("'" + m.path.string() + "' '" + st.string() + "' --scheme q4_0");
    CHECK(r.status == 2);
    CHECK(r.err.find("need a .gguf OUTPUT") != std::string::npos);
    for (const auto& p : {out, st, back}) fs::remove(p);
}
