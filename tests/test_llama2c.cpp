// model/llama2c.hpp: the shipped stories260K checkpoint read against the .npy export of the same
// weights, the fp32 forward against a float64 numpy port of llama2.c's model.py
// (scripts/llama2c_reference.py), the KL / perplexity / top-1 measures on quantized copies, and
// malformed checkpoints and tokenizers, each refused with a lowbit::error naming the field.
#include <doctest/doctest.h>

#include <lowbit/io/npy.hpp>
#include <lowbit/model/llama2c.hpp>
#include <lowbit/schemes.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

// The build points at <source>/../shared/data; a worktree elsewhere can say
// LOWBIT_SHARED_DATA=<dir>. Without it the tests of the shipped model are skipped.
const fs::path shared_dir = [] {
    const char* env = std::getenv("LOWBIT_SHARED_DATA");
    return fs::path(env ? env : LOWBIT_SHARED_DATA_DIR) / "stories260K";
}();
const fs::path checkpoint_path = shared_dir / "llama2c" / "stories260K.bin";
const fs::path tokenizer_path = shared_dir / "llama2c" / "tok512.bin";
const fs::path reference_dir = fs::path(LOWBIT_TEST_DATA_DIR) / "llama2c";

std::vector<std::uint8_t> file_bytes(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    REQUIRE(bool(f));
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

bool shipped_absent() {
    if (fs::exists(checkpoint_path) && fs::exists(tokenizer_path)) return false;
    MESSAGE("shared data absent (" << checkpoint_path.string() << "): skipped");
    return true;
}

const std::vector<std::uint8_t>& shipped_bytes() {
    static const auto b = file_bytes(checkpoint_path);
    return b;
}

const llama2c::model& shipped() {
    static const auto m = llama2c::parse_checkpoint(shipped_bytes(), "stories260K.bin");
    return m;
}

void put_i32(std::vector<std::uint8_t>& b, std::size_t at, std::int32_t v) {
    std::memcpy(b.data() + at, &v, 4);  // the tests run on little-endian hosts
}
void append_i32(std::vector<std::uint8_t>& b, std::int32_t v) {
    b.resize(b.size() + 4);
    put_i32(b, b.size() - 4, v);
}
void append_f32(std::vector<std::uint8_t>& b, float v) {
    b.resize(b.size() + 4);
    std::memcpy(b.data() + b.size() - 4, &v, 4);
}

/// A checkpoint image of the given header with `floats` weights (0.01 · i mod 7), as many as a
/// valid file of that header holds unless `floats` says otherwise.
std::vector<std::uint8_t> checkpoint(std::vector<std::int32_t> h, long floats = -1) {
    std::vector<std::uint8_t> b;
    for (auto v : h) append_i32(b, v);
    if (floats < 0) {
        const long d = h[0], hd = h[1], L = h[2], hs = h[0] / h[3], kv = hs * h[4],
                   v = std::labs(h[5]), s = h[6];
        floats = v * d + L * (2 * d + 2 * d * d + 2 * kv * d + 3 * hd * d) + d + s * hs +
            (h[5] < 0 ? v * d : 0);
    }
    for (long i = 0; i < floats; ++i) append_f32(b, 0.01f * float(i % 7));
    return b;
}

/// The lowbit::error that f throws; fails the test when it throws nothing or something else.
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const lowbit::error& e) { return e.what(); } catch (const std::exception& e) {
        FAIL("not a lowbit::error: " << e.what());
    }
    FAIL("no error");
    return {};
}

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

/// A copy of m with every 2-D weight replaced by its quantize–dequantize through `scheme`.
llama2c::model quantized(const llama2c::model& m, const char* scheme) {
    llama2c::model q = m;
    for (auto& w : q.weights()) {
        if (!w.is_matrix()) continue;
        auto inst = find_scheme(scheme).make();
        inst->quantize(w.values(), w.matrix_shape());
        std::vector<float> y(w.values().size());
        inst->dequantize(y);
        std::copy(y.begin(), y.end(), w.values().begin());
    }
    return q;
}

}  // namespace

TEST_CASE("llama2c: the shipped checkpoint's header and weights equal the .npy export") {
    if (shipped_absent()) return;
    const auto& m = shipped();
    const auto& c = m.cfg();
    CHECK(c.dim == 64);
    CHECK(c.hidden_dim == 172);
    CHECK(c.n_layers == 5);
    CHECK(c.n_heads == 8);
    CHECK(c.n_kv_heads == 4);
    CHECK(c.vocab_size == 512);
    CHECK(c.seq_len == 512);
    CHECK(c.shared_classifier);
    CHECK(c.kv_dim() == 32);
    // 1 embedding + 9 per layer + the final norm; no output.weight (tied).
    REQUIRE(m.weights().size() == 1 + 9 * 5 + 1);
    CHECK(m.find("output.weight") == nullptr);
    CHECK(&m.classifier() == &m.embedding());
    std::size_t matrices = 0;
    for (const auto& w : m.weights()) {
        CAPTURE(w.name());
        const auto a = read_npy(shared_dir / (w.name() + ".npy"));
        REQUIRE(a.shape == w.shape());
        CHECK(std::memcmp(a.data.data(), w.values().data(), a.data.size() * 4) == 0);
        matrices += w.is_matrix();
    }
    CHECK(matrices == 1 + 7 * 5);
    CHECK(m.at("layers.3.attention.wk.weight").shape() == std::vector<std::size_t>{32, 64});
    CHECK(has(error_of([&] { (void)m.at("layers.5.attention.wq.weight"); }),
              "layers.5.attention.wq.weight"));
    // read_checkpoint gives the same model; a missing file names its path.
    const auto f = llama2c::read_checkpoint(checkpoint_path);
    CHECK(std::equal(f.weights().back().values().begin(), f.weights().back().values().end(),
                     m.weights().back().values().begin()));
    CHECK(has(error_of([] { (void)llama2c::read_checkpoint("/no/such/model.bin"); }),
              "/no/such/model.bin"));
}

TEST_CASE("llama2c: the fp32 forward reproduces the numpy reference logits") {
    if (shipped_absent()) return;
    // Reference: scripts/llama2c_reference.py, float64, whole sequence at once (model.py's form),
    // stored as float32. The forward here is float32 with sequential sums; its error against the
    // float64 result comes from ~24-bit rounding in dot products of 64 … 172 terms through 5
    // layers and 11 positions of attention, and measures 1.6e-5 (8e-7 · max|logit|, max|logit|
    // ≈ 19.2). The bound, 2e-5 · max|logit| (≈ 3.8e-4), leaves a margin of ~20 for other C
    // libraries' expf / sinf / cosf, and is still tight enough to see the smallest plausible
    // mistake: RMSNorm's eps at 1e-6 instead of 1e-5 moves the logits by 9e-4 (a wrong GQA head
    // mapping by 18).
    const auto ref = read_npy(reference_dir / "reference_logits.npy");
    const auto tok = read_npy(reference_dir / "reference_tokens.npy");
    const auto& m = shipped();
    REQUIRE(ref.shape == std::vector<std::size_t>{tok.data.size(), 512});
    float max_logit = 0;
    for (float v : ref.data) max_logit = std::max(max_logit, std::fabs(v));
    CHECK(max_logit > 1.0f);
    llama2c::runner r(m);
    double max_diff = 0;
    for (std::size_t pos = 0; pos < tok.data.size(); ++pos) {
        const auto logits = r.forward(int(tok.data[pos]), pos);
        REQUIRE(logits.size() == 512);
        for (std::size_t v = 0; v < 512; ++v)
            max_diff = std::max(max_diff, std::fabs(double(logits[v]) - ref.data[pos * 512 + v]));
    }
    MESSAGE("max |logit - reference| = " << max_diff << ", max |logit| = " << max_logit);
    CHECK(max_diff <= 2e-5 * max_logit);

    // Rewinding: position 3 again after 11 recomputes the same logits (the cache before it is
    // kept) and forgets the rest.
    r.forward(int(tok.data[0]), 0);
    r.forward(int(tok.data[1]), 1);
    r.forward(int(tok.data[2]), 2);
    const auto again = r.forward(int(tok.data[3]), 3);
    CHECK(r.filled() == 4);
    for (std::size_t v = 0; v < 512; ++v)
        CHECK(std::fabs(again[v] - ref.data[3 * 512 + v]) <= 2e-5 * max_logit);
}

TEST_CASE("llama2c: an untied checkpoint (vocab_size < 0, wcls appended) reads and runs") {
    if (shipped_absent()) return;
    // The shipped model with its embedding appended as wcls and vocab_size negated: the same
    // logits bit for bit, through the classifier slot.
    auto b = shipped_bytes();
    put_i32(b, 20, -512);
    const auto& emb = shipped().embedding().values();
    b.insert(b.end(), reinterpret_cast<const std::uint8_t*>(emb.data()),
             reinterpret_cast<const std::uint8_t*>(emb.data() + emb.size()));
    const auto u = llama2c::parse_checkpoint(b, "untied.bin");
    CHECK_FALSE(u.cfg().shared_classifier);
    CHECK(u.cfg().vocab_size == 512);
    REQUIRE(u.weights().size() == 1 + 9 * 5 + 2);
    CHECK(u.weights().back().name() == "output.weight");
    CHECK(&u.classifier() == &u.weights().back());
    llama2c::runner a(shipped()), c(u);
    for (int t : {1, 403, 407}) {
        const auto la = a.forward(t, a.filled());
        const std::vector<float> x(la.begin(), la.end());
        const auto lc = c.forward(t, c.filled());
        CHECK(std::equal(x.begin(), x.end(), lc.begin(), lc.end()));
    }
    // Changing the untied classifier changes the logits; the embedding stays as it was.
    auto v = u;
    v.at("output.weight").values()[0] += 1.0f;
    llama2c::runner d(v);
    CHECK(d.forward(1, 0)[0] != llama2c::runner(u).forward(1, 0)[0]);
}

TEST_CASE("llama2c: sampling is deterministic and independent of the thread count") {
    // splitmix64's first output from state 0 (the published test value).
    llama2c::splitmix64 g{0};
    CHECK(g.next() == 0xE220A8397B1DCDAFull);
    llama2c::splitmix64 u{42};
    for (int i = 0; i < 1000; ++i) {
        const float x = u.uniform();
        REQUIRE((x >= 0.0f && x < 1.0f));
    }
    // sample_token: the first index whose cumulative probability exceeds the coin.
    const float flat[4] = {0, 0, 0, 0};
    CHECK(llama2c::sample_token(flat, 0.0f) == 0);
    CHECK(llama2c::sample_token(flat, 0.3f) == 1);
    CHECK(llama2c::sample_token(flat, 0.99f) == 3);
    const float inf = std::numeric_limits<float>::infinity();
    const float masked[4] = {-inf, 0, -inf, -inf};
    CHECK(llama2c::sample_token(masked, 0.999f) == 1);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float bad[3] = {nan, nan, nan};
    const int t = llama2c::sample_token(bad, 0.5f);
    CHECK((t >= 0 && t < 3));

    if (shipped_absent()) return;
    const auto& m = shipped();
    const auto a = llama2c::sample_sequences(m, 3, 12, 7, 1);
    const auto b = llama2c::sample_sequences(m, 3, 12, 7, 3);
    const auto c = llama2c::sample_sequences(m, 3, 12, 8, 1);
    REQUIRE(a.tokens.size() == 3);
    for (const auto& s : a.tokens) {
        REQUIRE(s.size() == 13);
        CHECK(s[0] == llama2c::bos_token);
        for (int x : s) CHECK((x >= 0 && x < 512));
    }
    CHECK(a.tokens == b.tokens);
    CHECK(a.logits == b.logits);
    CHECK(a.tokens != c.tokens);
    CHECK(a.tokens[0] != a.tokens[1]);  // each sequence its own stream
    // The stored logits are the model's at each position of the sequence.
    llama2c::runner r(m);
    for (std::size_t pos = 0; pos < 12; ++pos) {
        const auto l = r.forward(a.tokens[1][pos], pos);
        CHECK(std::equal(l.begin(), l.end(), a.at(1, pos).begin()));
    }
    CHECK(has(error_of([&] { (void)llama2c::sample_sequences(m, 1, 513, 0); }), "length"));
    CHECK(has(error_of([&] { (void)llama2c::sample_sequences(m, 0, 4, 0); }), "count"));
}

TEST_CASE("llama2c: KL is 0 for the unchanged model and grows as the bits fall") {
    if (shipped_absent()) return;
    const auto& m = shipped();
    const auto s = llama2c::sample_sequences(m, 2, 24, 1);
    const llama2c::model copy = m;
    const auto same = llama2c::compare_to_samples(s, copy, 2);
    CHECK(same.positions == 48);
    CHECK(same.mean_kl == 0.0);
    CHECK(same.top1_agreement == 1.0);
    CHECK(same.ppl_candidate == same.ppl_reference);
    // A tiny model sampled at temperature 1: perplexity well above 1, far below the vocabulary.
    CHECK(same.ppl_reference > 1.0);
    CHECK(same.ppl_reference < 50.0);

    const auto k8 = llama2c::compare_to_samples(s, quantized(m, "int8"));
    const auto k4 = llama2c::compare_to_samples(s, quantized(m, "int4_g32"), 2);
    const auto k2 = llama2c::compare_to_samples(s, quantized(m, "int2_g32"));
    MESSAGE("mean KL int8 " << k8.mean_kl << ", int4_g32 " << k4.mean_kl << ", int2_g32 "
                            << k2.mean_kl);
    CHECK(k8.mean_kl > 0.0);
    CHECK(k8.mean_kl < k4.mean_kl);
    CHECK(k4.mean_kl < k2.mean_kl);
    CHECK(k8.top1_agreement >= k2.top1_agreement);
    CHECK(k2.top1_agreement < 1.0);
    for (const auto& k : {k8, k4, k2}) CHECK(k.ppl_reference == same.ppl_reference);
    CHECK(k2.ppl_candidate > k8.ppl_candidate);
}

TEST_CASE("llama2c: the runner refuses bad tokens and positions") {
    if (shipped_absent()) return;
    const auto& m = shipped();
    llama2c::runner r(m, 4);
    CHECK(r.max_positions() == 4);
    CHECK(has(error_of([&] { r.forward(512, 0); }), "token"));
    CHECK(has(error_of([&] { r.forward(-1, 0); }), "token"));
    CHECK(has(error_of([&] { r.forward(1, 1); }), "skips positions"));
    r.forward(1, 0);
    r.forward(2, 1);
    r.forward(3, 2);
    r.forward(4, 3);
    CHECK(has(error_of([&] { r.forward(1, 4); }), "beyond the cache"));
    r.reset();
    CHECK(r.filled() == 0);
    CHECK(has(error_of([&] { llama2c::runner(m, 513); }), "max_positions"));
    // A config the model cannot take.
    CHECK(has(error_of([] {
                  llama2c::model(llama2c::config{64, 172, 5, 6, 3, 512, 512});
              }),
              "config.n_heads"));
    CHECK(has(error_of([] {
                  llama2c::model(llama2c::config{64, 172, 5, 8, 3, 512, 512});
              }),
              "config.n_kv_heads"));
    CHECK(has(error_of([] {
                  llama2c::model(llama2c::config{64, 0, 5, 8, 4, 512, 512});
              }),
              "config.hidden_dim"));
}

TEST_CASE("llama2c: malformed checkpoints name the field and the byte offset") {
    // A tiny valid image first: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 4, seq 4.
    const std::vector<std::int32_t> ok = {8, 16, 1, 2, 1, 4, 4};
    const auto tiny = llama2c::parse_checkpoint(checkpoint(ok), "tiny.bin");
    CHECK(tiny.cfg().kv_dim() == 4);
    CHECK(llama2c::runner(tiny).forward(0, 0).size() == 4);

    struct bad {
        std::vector<std::int32_t> header;
        const char* field;
        const char* where;
    };
    const std::int32_t big = std::int32_t{1} << 24;
    for (const bad& b : {
             bad{{0, 16, 1, 2, 1, 4, 4}, "dim", "byte 0"},
             bad{{-8, 16, 1, 2, 1, 4, 4}, "dim", "byte 0"},
             bad{{8, -16, 1, 2, 1, 4, 4}, "hidden_dim", "byte 4"},
             bad{{8, 16, 0, 2, 1, 4, 4}, "n_layers", "byte 8"},
             bad{{8, 16, 1, 0, 1, 4, 4}, "n_heads", "byte 12"},
             bad{{8, 16, 1, 3, 1, 4, 4}, "n_heads", "does not divide dim"},
             bad{{8, 16, 1, 8, 1, 4, 4}, "n_heads", "is odd"},
             bad{{8, 16, 1, 2, -1, 4, 4}, "n_kv_heads", "byte 16"},
             bad{{8, 16, 1, 2, 3, 4, 4}, "n_kv_heads", "does not divide n_heads"},
             bad{{8, 16, 1, 4, 3, 4, 4}, "n_kv_heads", "does not divide n_heads"},
             bad{{8, 16, 1, 2, 1, 0, 4}, "vocab_size", "byte 20"},
             bad{{8, 16, 1, 2, 1, std::numeric_limits<std::int32_t>::min(), 4},
                 "vocab_size",
                 "byte 20"},
             bad{{8, 16, 1, 2, 1, 4, 0}, "seq_len", "byte 24"},
             bad{{8, 16, 1, 2, 1, 4, -4}, "seq_len", "byte 24"},
             bad{{big + 2, 16, 1, 2, 1, 4, 4}, "dim", "2^24"},
             bad{{8, 16, std::numeric_limits<std::int32_t>::max(), 2, 1, 4, 4}, "n_layers", "2^24"},
             // Within the per-field limit, but L · dim · dim = 2^72: the product overflows.
             bad{{big, big, big, 2, 1, 4, 4}, "wq", "overflows"},
             bad{{big, 16, 1, 2, 1, big, big}, "file length", "the header implies"},
         }) {
        CAPTURE(b.field);
        // The header alone (plus a few floats): every one of these fails before the data.
        std::vector<std::uint8_t> img;
        for (auto v : b.header) append_i32(img, v);
        for (int i = 0; i < 16; ++i) append_f32(img, 1.0f);
        const auto msg = error_of([&] { (void)llama2c::parse_checkpoint(img, "bad.bin"); });
        CAPTURE(msg);
        CHECK(has(msg, "bad.bin"));
        CHECK(has(msg, b.field));
        CHECK(has(msg, b.where));
    }

    // Truncated inside the header.
    const auto full = checkpoint(ok);
    for (std::size_t n : {0, 1, 27}) {
        const std::vector<std::uint8_t> t(full.begin(), full.begin() + long(n));
        const auto msg = error_of([&] { (void)llama2c::parse_checkpoint(t, "short.bin"); });
        CHECK(has(msg, "byte 0, header"));
    }
    // Truncated inside the weights: the message names the array it ends in.
    {
        // Token embedding 32 floats, rms_att 8, wq 64 (bytes 28 + 160 … 28 + 416).
        const std::vector<std::uint8_t> t(full.begin(), full.begin() + 28 + 4 * 50);
        const auto msg = error_of([&] { (void)llama2c::parse_checkpoint(t, "cut.bin"); });
        CHECK(has(msg, "file length"));
        CHECK(has(msg, "ends inside wq"));
    }
    // One byte too many, or one float.
    for (std::size_t extra : {1, 4}) {
        auto t = full;
        t.resize(t.size() + extra);
        const auto msg = error_of([&] { (void)llama2c::parse_checkpoint(t, "long.bin"); });
        CHECK(has(msg, "file length"));
        CHECK(has(msg, "byte " + std::to_string(full.size())));
    }
    // The sign of vocab_size disagrees with the length: named as such, both ways.
    {
        auto t = full;
        put_i32(t, 20, -4);
        CHECK(has(error_of([&] { (void)llama2c::parse_checkpoint(t, "sign.bin"); }),
                  "other classifier layout"));
        const auto untied = checkpoint({8, 16, 1, 2, 1, -4, 4});
        CHECK_FALSE(llama2c::parse_checkpoint(untied).cfg().shared_classifier);
        auto u = untied;
        put_i32(u, 20, 4);
        CHECK(has(error_of([&] { (void)llama2c::parse_checkpoint(u, "sign.bin"); }),
                  "other classifier layout"));
    }
    // The shipped file with one byte cut off.
    if (!shipped_absent()) {
        const auto& s = shipped_bytes();
        const std::vector<std::uint8_t> t(s.begin(), s.end() - 1);
        const auto msg = error_of([&] { (void)llama2c::parse_checkpoint(t, "cut.bin"); });
        CHECK(has(msg, "1056539 bytes but the header implies 1056540"));
    }
}

TEST_CASE("llama2c: the shipped tokenizer decodes like run.c") {
    if (shipped_absent()) return;
    const auto t = llama2c::read_tokenizer(tokenizer_path, 512);
    REQUIRE(t.size() == 512);
    CHECK(t.max_token_length == 7);
    CHECK(t.pieces[403] == " Once");
    // After BOS the leading space goes; later pieces keep theirs.
    const int story[] = {403, 407, 261, 378};
    CHECK(t.decode(story) == "Once upon a time");
    CHECK(t.decode(403, 403) == " Once");
    // <0x0A> is the raw byte 10.
    CHECK(t.pieces[13] == "<0x0A>");
    CHECK(t.decode(5, 13) == "\n");
    CHECK(has(error_of([&] { (void)t.decode(1, 512); }), "token"));
    CHECK(has(error_of([&] { (void)t.decode(1, -1); }), "token"));
    // The file holds exactly 512 tokens: fewer expected leaves bytes over, more runs out.
    CHECK(has(error_of([] { (void)llama2c::read_tokenizer(tokenizer_path, 511); }),
              "bytes follow the 511 tokens"));
    CHECK(has(error_of([] { (void)llama2c::read_tokenizer(tokenizer_path, 513); }),
              "token 512: the file ends"));
}

TEST_CASE("llama2c: malformed tokenizers name the field and the byte offset") {
    // Two tokens: "a" (score -1) and "bc" (score 2); max_token_length 2.
    auto make = [](std::int32_t mtl, float s0, std::int32_t l0, float s1, std::int32_t l1) {
        std::vector<std::uint8_t> b;
        append_i32(b, mtl);
        append_f32(b, s0);
        append_i32(b, l0);
        b.push_back('a');
        append_f32(b, s1);
        append_i32(b, l1);
        b.push_back('b');
        b.push_back('c');
        return b;
    };
    const auto good = llama2c::parse_tokenizer(make(2, -1, 1, 2, 2), 2, "tok.bin");
    CHECK(good.pieces == std::vector<std::string>{"a", "bc"});
    CHECK(good.scores == std::vector<float>{-1, 2});

    const float nan = std::numeric_limits<float>::quiet_NaN();
    struct bad {
        std::vector<std::uint8_t> bytes;
        const char* message;
    };
    auto truncated = make(2, -1, 1, 2, 2);
    truncated.pop_back();
    auto trailing = make(2, -1, 1, 2, 2);
    trailing.push_back(0);
    for (const bad& b : {
             bad{{}, "byte 0, max_token_length"},
             bad{{1, 0}, "byte 0, max_token_length"},
             bad{make(0, -1, 1, 2, 2), "byte 0, max_token_length"},
             bad{make(-5, -1, 1, 2, 2), "byte 0, max_token_length"},
             bad{make(2, nan, 1, 2, 2), "byte 4, token 0 score"},
             bad{make(2, -1, -1, 2, 2), "byte 8, token 0 length"},
             bad{make(2, -1, 3, 2, 2), "byte 8, token 0 length"},
             bad{make(2, -1, 1, 2, 2147483647), "byte 17, token 1 length"},
             bad{truncated, "byte 21, token 1 bytes"},
             bad{trailing, "byte 23, file length"},
         }) {
        CAPTURE(b.message);
        const auto msg = error_of([&] { (void)llama2c::parse_tokenizer(b.bytes, 2, "tok.bin"); });
        CAPTURE(msg);
        CHECK(has(msg, "tok.bin"));
        CHECK(has(msg, b.message));
    }
    CHECK(has(error_of([] { (void)llama2c::parse_tokenizer({}, 0); }), "vocab_size"));
    // A huge expected count does not reserve memory beyond what the file can hold.
    CHECK(has(error_of([&] { (void)llama2c::parse_tokenizer(make(2, -1, 1, 2, 2), 1 << 24); }),
              "token 2: the file ends"));
}
