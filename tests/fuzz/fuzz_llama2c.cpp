// libFuzzer target: model/llama2c.hpp's checkpoint and tokenizer readers on arbitrary bytes. Any
// input must either parse into a consistent model / tokenizer or throw lowbit::error; anything
// else (another exception, a crash, ASan/UBSan) is a bug. A parsed checkpoint runs one forward
// step on token 0 (its cost is bounded by the input: the file holds every weight) and must give
// vocab_size logits; a parsed tokenizer decodes every token after BOS and after token 0.
// Seeds: tests/fuzz/corpus/llama2c (scripts/llama2c_reference.py --corpus).
#include <cstddef>
#include <cstdint>
#include <span>

#include <lowbit/model/llama2c.hpp>

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void checkpoint(std::span<const std::uint8_t> bytes) {
    try {
        const auto m = lowbit::llama2c::parse_checkpoint(bytes, "fuzz.bin");
        const auto& c = m.cfg();
        check(c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.n_heads > 0 &&
              c.n_kv_heads > 0 && c.vocab_size > 0 && c.seq_len > 0);
        check(c.dim % c.n_heads == 0 && c.n_heads % c.n_kv_heads == 0 && c.head_size() % 2 == 0);
        // The weights account for the whole file but the RoPE tables and the header.
        std::size_t floats = 0;
        for (const auto& w : m.weights()) floats += w.values().size();
        floats += std::size_t(c.seq_len) * std::size_t(c.head_size());
        check(28 + 4 * floats == bytes.size());
        check(m.weights().size() == 2 + 9 * std::size_t(c.n_layers) + !c.shared_classifier);
        lowbit::llama2c::runner r(m, 1);
        const auto logits = r.forward(0, 0);
        check(logits.size() == std::size_t(c.vocab_size));
        check(r.filled() == 1);
        // A second step needs a second position: refused, not overrun.
        bool refused = false;
        try {
            r.forward(0, 1);
        } catch (const lowbit::error&) { refused = true; }
        check(refused);
    } catch (const lowbit::error&) {}
}

void tokenizer(std::span<const std::uint8_t> bytes, std::size_t vocab) {
    try {
        const auto t = lowbit::llama2c::parse_tokenizer(bytes, vocab, "fuzz_tok.bin");
        check(t.size() == vocab && t.scores.size() == vocab);
        std::size_t total = 4 + 8 * vocab;
        for (const auto& p : t.pieces) {
            check(p.size() <= t.max_token_length);
            total += p.size();
        }
        check(total == bytes.size());
        for (std::size_t i = 0; i < vocab; ++i) {
            const auto a = t.decode(lowbit::llama2c::bos_token, int(i));
            const auto b = t.decode(0, int(i));
            check(a.size() <= b.size() && b.size() <= t.pieces[i].size());
        }
    } catch (const lowbit::error&) {}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    checkpoint(bytes);
    // The tokenizer file does not hold its token count: try the counts of the seeds, and a count
    // in the first two bytes (little-endian) with the tokenizer after them.
    for (std::size_t vocab : {1, 4, 512}) tokenizer(bytes, vocab);
    if (size >= 4) {
        const std::size_t v = data[0] | std::size_t(data[1]) << 8;
        if (v > 0) tokenizer(bytes.subspan(2), v);
    }
    return 0;
}
