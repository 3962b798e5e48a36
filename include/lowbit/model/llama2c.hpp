// lowbit — a llama2.c model: the checkpoint and tokenizer readers, an fp32 forward pass, and the
// measures of how far a model with quantized weights is from the original (KL divergence of the
// next-token distributions, perplexity, top-1 agreement) on sequences sampled from the original.
//
// The checkpoint is the legacy llama2.c format (run.c's read_checkpoint): seven little-endian
// int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then float32
// arrays in this order: token embedding [vocab, dim], attention RMSNorm weights [layers, dim],
// wq [layers, dim, dim], wk and wv [layers, kv_dim, dim], wo [layers, dim, dim], FFN RMSNorm
// weights [layers, dim], w1 [layers, hidden, dim], w2 [layers, dim, hidden], w3 [layers, hidden,
// dim], the final RMSNorm weight [dim], two RoPE tables [seq_len, head_size / 2] (skipped: RoPE is
// computed), and, when vocab_size is negative, an untied classifier [vocab, dim]. A positive
// vocab_size means the classifier is the token embedding. Every matrix is [out, in], row-major.
//
// Every reader validates untrusted bytes: a malformed file is a lowbit::error whose argument is
// the file's label and whose message names the byte offset and the field, never a crash.
//
// The forward pass is run.c's (RMSNorm with eps 1e-5, GQA attention with RoPE on adjacent pairs,
// SwiGLU FFN), one token at a time with a KV cache, in float32 with a fixed summation order:
// every dot product and sum of squares adds its terms from index 0 upwards into one float
// accumulator, and every product is rounded before it is added (mul_unfused: no FMA contraction,
// whatever the compiler flags), so the logits do not depend on -ffp-contract or the instruction
// set. exp, sin, cos and pow are the C library's float functions, as in run.c.
#pragma once
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../core/checked.hpp"
#include "../core/error.hpp"
#include "../core/granularity.hpp"
#include "../core/unfused.hpp"
#include "../io/npy.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace llama2c {

/// The BOS token of llama2.c's tokenizer: every sequence starts with it.
inline constexpr int bos_token = 1;
/// RMSNorm's epsilon in llama2.c's models.
inline constexpr float rms_eps = 1e-5f;

/// The checkpoint header. `vocab_size` is positive here; `shared_classifier` says whether the
/// file's vocab_size was positive (classifier = token embedding) or negative (its own matrix).
struct config {
    int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0,
        seq_len = 0;
    bool shared_classifier = true;
    [[nodiscard]] int head_size() const noexcept { return dim / n_heads; }
    [[nodiscard]] int kv_dim() const noexcept { return head_size() * n_kv_heads; }
};

/// One named weight: a matrix [out, in] (row-major) or a vector [n]. The value count is fixed at
/// construction, so values() may be overwritten (say, by a dequantized copy) but not resized.
class weight {
public:
    weight(std::string name, std::vector<std::size_t> shape)
        : name_(std::move(name)), shape_(std::move(shape)) {
        std::size_t n = 1;
        for (std::size_t d : shape_) n = detail::checked_mul(n, d, name_);
        values_.assign(n, 0.0f);
    }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const std::vector<std::size_t>& shape() const noexcept { return shape_; }
    [[nodiscard]] bool is_matrix() const noexcept { return shape_.size() == 2; }
    /// rows × cols of a matrix; a vector is one row.
    [[nodiscard]] shape2d matrix_shape() const noexcept {
        return is_matrix() ? shape2d{shape_[0], shape_[1]} : shape2d{1, shape_[0]};
    }
    [[nodiscard]] std::span<float> values() noexcept { return values_; }
    [[nodiscard]] std::span<const float> values() const noexcept { return values_; }

private:
    std::string name_;
    std::vector<std::size_t> shape_;
    std::vector<float> values_;
};

/// A parsed checkpoint: the header and its weights, named as in the PyTorch model
/// (`tok_embeddings.weight`, `layers.{l}.attention.wq.weight`, …, `norm.weight`, and
/// `output.weight` when the classifier is not tied) and ordered as PyTorch's state dict: the
/// embedding, then per layer attention_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3, then norm and
/// output. A copy is a deep copy: copy the model, overwrite some weights, run both.
class model {
public:
    /// Weights of one layer, in their order within the layer.
    enum slot : std::size_t { attention_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3, per_layer };

    /// Zero weights of the shape `c` describes. Throws lowbit::error naming the config field
    /// when a value is not positive, n_heads does not divide dim, n_kv_heads does not divide
    /// n_heads, or the head size is odd.
    explicit model(const config& c) : cfg_(c) {
        for (const auto& [v, f] : {std::pair{c.dim, "config.dim"},
                                   {c.hidden_dim, "config.hidden_dim"},
                                   {c.n_layers, "config.n_layers"},
                                   {c.n_heads, "config.n_heads"},
                                   {c.n_kv_heads, "config.n_kv_heads"},
                                   {c.vocab_size, "config.vocab_size"},
                                   {c.seq_len, "config.seq_len"}})
            detail::require(v > 0, f, "must be positive");
        detail::require(c.dim % c.n_heads == 0, "config.n_heads", "must divide dim");
        detail::require(c.n_heads % c.n_kv_heads == 0, "config.n_kv_heads", "must divide n_heads");
        detail::require(c.head_size() % 2 == 0, "config.n_heads",
                        "must leave an even head size dim / n_heads (RoPE rotates pairs)");
        const auto d = std::size_t(c.dim), h = std::size_t(c.hidden_dim),
                   kv = std::size_t(c.kv_dim()), v = std::size_t(c.vocab_size);
        w_.emplace_back("tok_embeddings.weight", std::vector<std::size_t>{v, d});
        for (int l = 0; l < c.n_layers; ++l) {
            const std::string p = "layers." + std::to_string(l) + ".";
            w_.emplace_back(p + "attention_norm.weight", std::vector<std::size_t>{d});
            w_.emplace_back(p + "attention.wq.weight", std::vector<std::size_t>{d, d});
            w_.emplace_back(p + "attention.wk.weight", std::vector<std::size_t>{kv, d});
            w_.emplace_back(p + "attention.wv.weight", std::vector<std::size_t>{kv, d});
            w_.emplace_back(p + "attention.wo.weight", std::vector<std::size_t>{d, d});
            w_.emplace_back(p + "ffn_norm.weight", std::vector<std::size_t>{d});
            w_.emplace_back(p + "feed_forward.w1.weight", std::vector<std::size_t>{h, d});
            w_.emplace_back(p + "feed_forward.w2.weight", std::vector<std::size_t>{d, h});
            w_.emplace_back(p + "feed_forward.w3.weight", std::vector<std::size_t>{h, d});
        }
        w_.emplace_back("norm.weight", std::vector<std::size_t>{d});
        if (!c.shared_classifier) w_.emplace_back("output.weight", std::vector<std::size_t>{v, d});
    }

    [[nodiscard]] const config& cfg() const noexcept { return cfg_; }
    [[nodiscard]] std::span<weight> weights() noexcept { return w_; }
    [[nodiscard]] std::span<const weight> weights() const noexcept { return w_; }

    /// The weight called `name`, or nullptr.
    [[nodiscard]] weight* find(std::string_view name) noexcept {
        for (auto& w : w_)
            if (w.name() == name) return &w;
        return nullptr;
    }
    [[nodiscard]] const weight* find(std::string_view name) const noexcept {
        return const_cast<model*>(this)->find(name);
    }
    /// The weight called `name`; lowbit::error naming it when there is none.
    [[nodiscard]] weight& at(std::string_view name) {
        weight* w = find(name);
        if (!w) throw error(name, "is not a weight of this llama2.c model");
        return *w;
    }
    [[nodiscard]] const weight& at(std::string_view name) const {
        return const_cast<model*>(this)->at(name);
    }

    [[nodiscard]] const weight& embedding() const noexcept { return w_.front(); }
    [[nodiscard]] const weight& layer(std::size_t l, slot s) const noexcept {
        return w_[1 + l * per_layer + s];
    }
    [[nodiscard]] weight& layer(std::size_t l, slot s) noexcept {
        return w_[1 + l * per_layer + s];
    }
    [[nodiscard]] const weight& final_norm() const noexcept {
        return w_[1 + std::size_t(cfg_.n_layers) * per_layer];
    }
    /// The classifier [vocab, dim]: the token embedding when tied.
    [[nodiscard]] const weight& classifier() const noexcept {
        return cfg_.shared_classifier ? w_.front() : w_.back();
    }

private:
    config cfg_;
    std::vector<weight> w_;
};

}  // namespace llama2c

namespace detail {

inline std::uint32_t load_u32le(const std::uint8_t* p) noexcept {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
        std::uint32_t(p[3]) << 24;
}
inline std::int32_t load_i32le(const std::uint8_t* p) noexcept {
    return std::bit_cast<std::int32_t>(load_u32le(p));
}
inline float load_f32le(const std::uint8_t* p) noexcept {
    return std::bit_cast<float>(load_u32le(p));
}

/// Floats a count of `terms` (n_layers · a · b, say) takes, checked: an overflow names `field`.
inline std::size_t llama2c_count(const std::string& label, std::string_view field,
                                 std::initializer_list<std::size_t> terms) {
    std::size_t n = 1;
    for (std::size_t t : terms)
        if (__builtin_mul_overflow(n, t, &n))
            throw error(label, std::string(field) + ": its size overflows size_t");
    return n;
}

}  // namespace detail

namespace llama2c {

/// The most layers, heads, or dimension values a header may declare; far above any llama2.c
/// model, and low enough that every size product below stays exact in 64 bits.
inline constexpr std::int32_t max_header_value = std::int32_t{1} << 24;

/// Parses and validates a checkpoint image; `name` labels errors. Checks: the 28-byte header is
/// present; every field is positive (vocab_size non-zero) and at most max_header_value;
/// n_heads divides dim, n_kv_heads divides n_heads, the head size is even (RoPE rotates pairs);
/// the size arithmetic does not overflow; and the file length is exactly the header's plus the
/// weights' (with the untied classifier when vocab_size < 0). A length that would fit the other
/// classifier layout is named as such.
[[nodiscard]] inline model parse_checkpoint(std::span<const std::uint8_t> bytes,
                                            std::string_view name = "<llama2.c checkpoint>") {
    const std::string label(name);
    constexpr std::size_t header_bytes = 7 * 4;
    detail::require(bytes.size() >= header_bytes, label,
                    "byte 0, header: the file has " + std::to_string(bytes.size()) +
                        " bytes, fewer than the 28 of the header (7 int32)");
    static constexpr const char* fields[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                              "n_kv_heads", "vocab_size", "seq_len"};
    std::int32_t h[7];
    for (int i = 0; i < 7; ++i) {
        h[i] = detail::load_i32le(bytes.data() + 4 * i);
        const std::string where = "byte " + std::to_string(4 * i) + ", " + fields[i] + ": ";
        if (i == 5) {
            // Negative: untied classifier. INT32_MIN has no positive counterpart.
            detail::require(h[i] != 0 && h[i] != std::numeric_limits<std::int32_t>::min() &&
                                (h[i] < 0 ? -h[i] : h[i]) <= max_header_value,
                            label,
                            where + std::to_string(h[i]) +
                                " must be non-zero with magnitude at most 2^24 (negative: "
                                "untied classifier)");
        } else {
            detail::require(h[i] > 0 && h[i] <= max_header_value, label,
                            where + std::to_string(h[i]) + " must be in 1 … 2^24");
        }
    }
    config c{h[0], h[1], h[2], h[3], h[4], h[5] < 0 ? -h[5] : h[5], h[6], h[5] > 0};
    detail::require(c.dim % c.n_heads == 0, label,
                    "byte 12, n_heads: " + std::to_string(c.n_heads) + " does not divide dim " +
                        std::to_string(c.dim));
    detail::require(c.n_kv_heads <= c.n_heads && c.n_heads % c.n_kv_heads == 0, label,
                    "byte 16, n_kv_heads: " + std::to_string(c.n_kv_heads) +
                        " does not divide n_heads " + std::to_string(c.n_heads));
    detail::require(c.head_size() % 2 == 0, label,
                    "byte 12, n_heads: the head size dim / n_heads = " +
                        std::to_string(c.head_size()) + " is odd (RoPE rotates pairs)");

    // Each array's size is a product of up to three header values (each ≤ 2^24, so < 2^73):
    // the checked products catch any that overflows size_t and name the array.
    const auto d = std::size_t(c.dim), hd = std::size_t(c.hidden_dim), L = std::size_t(c.n_layers),
               kv = std::size_t(c.kv_dim()), v = std::size_t(c.vocab_size),
               s = std::size_t(c.seq_len), hs = std::size_t(c.head_size());
    struct part {
        const char* field;
        std::size_t floats;
    };
    const part parts[] = {
        {"token_embedding_table", detail::llama2c_count(label, "token_embedding_table", {v, d})},
        {"rms_att_weight", detail::llama2c_count(label, "rms_att_weight", {L, d})},
        {"wq", detail::llama2c_count(label, "wq", {L, d, d})},
        {"wk", detail::llama2c_count(label, "wk", {L, kv, d})},
        {"wv", detail::llama2c_count(label, "wv", {L, kv, d})},
        {"wo", detail::llama2c_count(label, "wo", {L, d, d})},
        {"rms_ffn_weight", detail::llama2c_count(label, "rms_ffn_weight", {L, d})},
        {"w1", detail::llama2c_count(label, "w1", {L, hd, d})},
        {"w2", detail::llama2c_count(label, "w2", {L, d, hd})},
        {"w3", detail::llama2c_count(label, "w3", {L, hd, d})},
        {"rms_final_weight", d},
        {"freq_cis_real", detail::llama2c_count(label, "freq_cis_real", {s, hs / 2})},
        {"freq_cis_imag", detail::llama2c_count(label, "freq_cis_imag", {s, hs / 2})},
        {"wcls", detail::llama2c_count(label, "wcls", {v, d})},
    };
    std::size_t tied = 0;  // floats without wcls
    for (std::size_t i = 0; i + 1 < std::size(parts); ++i)
        if (__builtin_add_overflow(tied, parts[i].floats, &tied))
            throw error(label,
                        std::string(parts[i].field) + ": the weights' size overflows size_t");
    std::size_t untied = 0, tied_bytes = 0, untied_bytes = 0;
    if (__builtin_add_overflow(tied, parts[13].floats, &untied) ||
        __builtin_mul_overflow(untied, std::size_t{4}, &untied_bytes) ||
        __builtin_add_overflow(untied_bytes, header_bytes, &untied_bytes))
        throw error(label, "wcls: the weights' size overflows size_t");
    tied_bytes = tied * 4 + header_bytes;  // ≤ untied_bytes: cannot overflow
    const std::size_t want = c.shared_classifier ? tied_bytes : untied_bytes;
    if (bytes.size() != want) {
        const std::size_t other = c.shared_classifier ? untied_bytes : tied_bytes;
        std::string msg = "byte " + std::to_string(std::min(bytes.size(), want)) +
            ", file length: the file has " + std::to_string(bytes.size()) +
            " bytes but the header implies " + std::to_string(want) +
            (c.shared_classifier ? " (vocab_size > 0: tied classifier, no wcls)"
                                 : " (vocab_size < 0: untied classifier, wcls included)");
        if (bytes.size() == other)
            msg += "; the length matches the other classifier layout: is vocab_size's sign wrong?";
        else if (bytes.size() < want) {
            // Name the array the file ends in.
            std::size_t at = header_bytes;
            for (const part& p : parts) {
                if (bytes.size() < at + p.floats * 4) {
                    msg += "; it ends inside " + std::string(p.field) + " (bytes " +
                        std::to_string(at) + " … " + std::to_string(at + p.floats * 4) + ")";
                    break;
                }
                at += p.floats * 4;
            }
        }
        throw error(label, msg);
    }

    model m(c);
    const std::uint8_t* p = bytes.data() + header_bytes;
    auto take = [&](weight& w, std::size_t offset, std::size_t count) {
        const std::uint8_t* src = p + offset * 4;
        auto dst = w.values();
        for (std::size_t i = 0; i < count; ++i) dst[i] = detail::load_f32le(src + 4 * i);
    };
    // Offsets in floats of each array within the data, in file order.
    std::size_t off[std::size(parts)];
    off[0] = 0;
    for (std::size_t i = 1; i < std::size(parts); ++i) off[i] = off[i - 1] + parts[i - 1].floats;
    take(m.weights()[0], off[0], v * d);
    // The file groups each kind over the layers; the model keeps each layer's weights together.
    const std::pair<model::slot, std::size_t> per_layer[] = {
        {model::attention_norm, 1}, {model::wq, 2}, {model::wk, 3}, {model::wv, 4}, {model::wo, 5},
        {model::ffn_norm, 6},       {model::w1, 7}, {model::w2, 8}, {model::w3, 9}};
    for (std::size_t l = 0; l < L; ++l)
        for (const auto& [slot, part_index] : per_layer) {
            weight& w = m.layer(l, slot);
            const std::size_t n = w.values().size();
            take(w, off[part_index] + l * n, n);
        }
    take(m.weights()[1 + L * model::per_layer], off[10], d);
    if (!c.shared_classifier) take(m.weights().back(), off[13], v * d);
    return m;
}

/// Reads and validates a checkpoint file (see parse_checkpoint); errors name the path.
[[nodiscard]] inline model read_checkpoint(const std::filesystem::path& path) {
    const auto bytes = detail::read_file_bytes(path);
    return parse_checkpoint(bytes, path.string());
}

/// Runs a model one token at a time, like run.c's forward(): a KV cache of `max_positions`
/// positions (0: the model's seq_len, at most that), activations in float32. The model must
/// outlive the runner and keep its values while the runner is used.
class runner {
public:
    explicit runner(const model& m, std::size_t max_positions = 0) : m_(&m) {
        const config& c = m.cfg();
        const auto seq = std::size_t(c.seq_len);
        detail::require(max_positions <= seq, "max_positions",
                        "exceeds the model's seq_len " + std::to_string(seq));
        positions_ = max_positions ? max_positions : seq;
        const auto d = std::size_t(c.dim), kv = std::size_t(c.kv_dim());
        x_.assign(d, 0.0f);
        xb_.assign(d, 0.0f);
        xb2_.assign(d, 0.0f);
        q_.assign(d, 0.0f);
        hb_.assign(std::size_t(c.hidden_dim), 0.0f);
        hb2_.assign(std::size_t(c.hidden_dim), 0.0f);
        const std::size_t cache = detail::checked_mul(
            detail::checked_mul(std::size_t(c.n_layers), positions_, "cache"), kv, "cache");
        key_cache_.assign(cache, 0.0f);
        value_cache_.assign(cache, 0.0f);
        att_.assign(positions_, 0.0f);
        logits_.assign(std::size_t(c.vocab_size), 0.0f);
    }

    /// The most positions this runner holds.
    [[nodiscard]] std::size_t max_positions() const noexcept { return positions_; }
    /// Positions 0 … filled() − 1 of the cache hold keys and values.
    [[nodiscard]] std::size_t filled() const noexcept { return filled_; }
    /// Forgets the cache (the next call must be at position 0).
    void reset() noexcept { filled_ = 0; }

    /// The logits [vocab_size] of the token after `token` at position `pos`. Positions are fed
    /// in order: pos ≤ filled() (an earlier position recomputes from there and forgets the later
    /// ones). The span stays valid until the next call.
    std::span<const float> forward(int token, std::size_t pos) {
        const config& c = m_->cfg();
        detail::require(token >= 0 && token < c.vocab_size, "token",
                        std::to_string(token) + " is outside the vocabulary [0, " +
                            std::to_string(c.vocab_size) + ")");
        detail::require(pos < positions_, "pos",
                        std::to_string(pos) + " is beyond the cache's " +
                            std::to_string(positions_) + " positions");
        detail::require(pos <= filled_, "pos",
                        std::to_string(pos) + " skips positions: only " + std::to_string(filled_) +
                            " are filled");
        const auto d = std::size_t(c.dim), hd = std::size_t(c.hidden_dim),
                   kv = std::size_t(c.kv_dim()), hs = std::size_t(c.head_size()),
                   heads = std::size_t(c.n_heads), group = heads / std::size_t(c.n_kv_heads);
        const float* emb = m_->embedding().values().data() + std::size_t(token) * d;
        std::copy(emb, emb + d, x_.begin());
        const float sqrt_hs = std::sqrt(float(hs));

        for (std::size_t l = 0; l < std::size_t(c.n_layers); ++l) {
            rmsnorm(xb_.data(), x_.data(), vals(l, model::attention_norm), d);
            float* k = key_cache_.data() + (l * positions_ + pos) * kv;
            float* v = value_cache_.data() + (l * positions_ + pos) * kv;
            matvec(q_.data(), vals(l, model::wq), xb_.data(), d, d);
            matvec(k, vals(l, model::wk), xb_.data(), kv, d);
            matvec(v, vals(l, model::wv), xb_.data(), kv, d);
            // RoPE: rotate the pairs (i, i + 1) of every query head and key head by pos · freq,
            // freq = 10000^(−(i mod head_size) / head_size).
            for (std::size_t i = 0; i < d; i += 2) {
                const float freq = 1.0f / std::pow(10000.0f, float(i % hs) / float(hs));
                const float angle = float(pos) * freq;
                const float cr = std::cos(angle), ci = std::sin(angle);
                rotate(q_.data() + i, cr, ci);
                if (i < kv) rotate(k + i, cr, ci);
            }
            // Attention, head by head; query head h reads key/value head h / group.
            for (std::size_t h = 0; h < heads; ++h) {
                const float* qh = q_.data() + h * hs;
                const std::size_t kvh = (h / group) * hs;
                for (std::size_t t = 0; t <= pos; ++t) {
                    const float* kt = key_cache_.data() + (l * positions_ + t) * kv + kvh;
                    att_[t] = dot(qh, kt, hs) / sqrt_hs;
                }
                softmax(att_.data(), pos + 1);
                float* out = xb_.data() + h * hs;
                std::fill(out, out + hs, 0.0f);
                for (std::size_t t = 0; t <= pos; ++t) {
                    const float* vt = value_cache_.data() + (l * positions_ + t) * kv + kvh;
                    const float a = att_[t];
                    for (std::size_t i = 0; i < hs; ++i) out[i] += mul_unfused(a, vt[i]);
                }
            }
            matvec(xb2_.data(), vals(l, model::wo), xb_.data(), d, d);
            for (std::size_t i = 0; i < d; ++i) x_[i] += xb2_[i];

            rmsnorm(xb_.data(), x_.data(), vals(l, model::ffn_norm), d);
            matvec(hb_.data(), vals(l, model::w1), xb_.data(), hd, d);
            matvec(hb2_.data(), vals(l, model::w3), xb_.data(), hd, d);
            // SwiGLU: silu(w1 x) · (w3 x), silu(a) = a · σ(a).
            for (std::size_t i = 0; i < hd; ++i) {
                const float a = hb_[i];
                hb_[i] = (a * (1.0f / (1.0f + std::exp(-a)))) * hb2_[i];
            }
            matvec(xb_.data(), vals(l, model::w2), hb_.data(), d, hd);
            for (std::size_t i = 0; i < d; ++i) x_[i] += xb_[i];
        }
        rmsnorm(x_.data(), x_.data(), m_->final_norm().values().data(), d);
        matvec(logits_.data(), m_->classifier().values().data(), x_.data(),
               std::size_t(c.vocab_size), d);
        filled_ = pos + 1;
        return logits_;
    }

    /// Σ_i a[i]·b[i], i = 0 … n − 1 in order, one float accumulator, products rounded first.
    [[nodiscard]] static float dot(const float* a, const float* b, std::size_t n) noexcept {
        float s = 0.0f;
        for (std::size_t i = 0; i < n; ++i) s += mul_unfused(a[i], b[i]);
        return s;
    }

    /// out[r] = dot(w row r, x) for a row-major [rows, cols] w.
    static void matvec(float* out, const float* w, const float* x, std::size_t rows,
                       std::size_t cols) noexcept {
        for (std::size_t r = 0; r < rows; ++r) out[r] = dot(w + r * cols, x, cols);
    }

    /// out = weight ⊙ x / sqrt(mean(x²) + eps); out may be x.
    static void rmsnorm(float* out, const float* x, const float* weight, std::size_t n) noexcept {
        float ss = dot(x, x, n) / float(n) + rms_eps;
        ss = 1.0f / std::sqrt(ss);
        for (std::size_t i = 0; i < n; ++i) out[i] = weight[i] * (ss * x[i]);
    }

    /// In-place softmax over x[0 … n − 1] (max subtracted first; sum in index order).
    static void softmax(float* x, std::size_t n) noexcept {
        float mx = x[0];
        for (std::size_t i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
        float sum = 0.0f;
        for (std::size_t i = 0; i < n; ++i) {
            x[i] = std::exp(x[i] - mx);
            sum += x[i];
        }
        for (std::size_t i = 0; i < n; ++i) x[i] /= sum;
    }

private:
    [[nodiscard]] const float* vals(std::size_t l, model::slot s) const noexcept {
        return m_->layer(l, s).values().data();
    }
    static void rotate(float* v, float cr, float ci) noexcept {
        const float v0 = v[0], v1 = v[1];
        v[0] = mul_unfused(v0, cr) - mul_unfused(v1, ci);
        v[1] = mul_unfused(v0, ci) + mul_unfused(v1, cr);
    }

    const model* m_;
    std::size_t positions_ = 0, filled_ = 0;
    std::vector<float> x_, xb_, xb2_, q_, hb_, hb2_, key_cache_, value_cache_, att_, logits_;
};

// ---- tokenizer ----

/// llama2.c's tokenizer: one piece (bytes) and one merge score per token id.
struct tokenizer {
    std::uint32_t max_token_length = 0;
    std::vector<std::string> pieces;
    std::vector<float> scores;

    [[nodiscard]] std::size_t size() const noexcept { return pieces.size(); }

    /// The bytes token `token` stands for after `prev`, as run.c's decode: a piece right after
    /// BOS loses one leading space, and a piece spelled exactly <0xHH> is that raw byte.
    [[nodiscard]] std::string decode(int prev, int token) const {
        detail::require(token >= 0 && std::size_t(token) < pieces.size(), "token",
                        std::to_string(token) + " is outside the tokenizer's " +
                            std::to_string(pieces.size()) + " pieces");
        std::string_view piece = pieces[std::size_t(token)];
        if (prev == bos_token && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
        auto hex = [](char ch) -> int {
            if (ch >= '0' && ch <= '9') return ch - '0';
            if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
            if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
            return -1;
        };
        if (piece.size() == 6 && piece.substr(0, 3) == "<0x" && piece[5] == '>' &&
            hex(piece[3]) >= 0 && hex(piece[4]) >= 0)
            return std::string(1, char(hex(piece[3]) * 16 + hex(piece[4])));
        return std::string(piece);
    }

    /// The text of a token sequence: tokens[i] decoded after tokens[i − 1] (the first token
    /// after BOS), concatenated.
    [[nodiscard]] std::string decode(std::span<const int> tokens) const {
        std::string s;
        int prev = bos_token;
        for (int t : tokens) {
            s += decode(prev, t);
            prev = t;
        }
        return s;
    }
};

/// Parses and validates a tokenizer image of `vocab_size` tokens (llama2.c's format: int32
/// max_token_length, then per token float32 score, int32 length, bytes). Checks: max_token_length
/// in 1 … 2^20, every length in 0 … max_token_length and inside the file, every score finite,
/// exactly `vocab_size` tokens and no bytes after them. `name` labels errors.
[[nodiscard]] inline tokenizer parse_tokenizer(std::span<const std::uint8_t> bytes,
                                               std::size_t vocab_size,
                                               std::string_view name = "<llama2.c tokenizer>") {
    const std::string label(name);
    detail::require(vocab_size > 0 && vocab_size <= std::size_t(max_header_value), "vocab_size",
                    "must be in 1 … 2^24");
    detail::require(bytes.size() >= 4, label,
                    "byte 0, max_token_length: the file has " + std::to_string(bytes.size()) +
                        " bytes, fewer than 4");
    tokenizer t;
    const std::int32_t mtl = detail::load_i32le(bytes.data());
    detail::require(mtl > 0 && mtl <= (1 << 20), label,
                    "byte 0, max_token_length: " + std::to_string(mtl) + " must be in 1 … 2^20");
    t.max_token_length = std::uint32_t(mtl);
    // Each token takes at least 8 bytes: bound the reservation by the file, not the caller.
    const std::size_t cap = std::min(vocab_size, (bytes.size() - 4) / 8);
    t.pieces.reserve(cap);
    t.scores.reserve(cap);
    std::size_t at = 4;
    for (std::size_t i = 0; i < vocab_size; ++i) {
        const std::string id = "token " + std::to_string(i);
        detail::require(bytes.size() - at >= 8, label,
                        "byte " + std::to_string(at) + ", " + id +
                            ": the file ends before its score and length (" +
                            std::to_string(vocab_size) + " tokens expected)");
        const float score = detail::load_f32le(bytes.data() + at);
        detail::require(std::isfinite(score), label,
                        "byte " + std::to_string(at) + ", " + id + " score: is not finite");
        const std::int32_t len = detail::load_i32le(bytes.data() + at + 4);
        detail::require(
            len >= 0 && std::uint32_t(len) <= t.max_token_length, label,
            "byte " + std::to_string(at + 4) + ", " + id + " length: " + std::to_string(len) +
                " must be in 0 … max_token_length " + std::to_string(t.max_token_length));
        at += 8;
        detail::require(bytes.size() - at >= std::size_t(len), label,
                        "byte " + std::to_string(at) + ", " + id + " bytes: " +
                            std::to_string(len) + " bytes run past the end of the file");
        t.scores.push_back(score);
        t.pieces.emplace_back(reinterpret_cast<const char*>(bytes.data() + at), std::size_t(len));
        at += std::size_t(len);
    }
    detail::require(at == bytes.size(), label,
                    "byte " + std::to_string(at) +
                        ", file length: " + std::to_string(bytes.size() - at) +
                        " bytes follow the " + std::to_string(vocab_size) + " tokens");
    return t;
}

/// Reads and validates a tokenizer file (see parse_tokenizer); errors name the path.
[[nodiscard]] inline tokenizer read_tokenizer(const std::filesystem::path& path,
                                              std::size_t vocab_size) {
    const auto bytes = detail::read_file_bytes(path);
    return parse_tokenizer(bytes, vocab_size, path.string());
}

// ---- sampling and comparison ----

/// splitmix64 (Steele, Lea, Flood 2014): state += 0x9E3779B97F4A7C15, then the output mix.
struct splitmix64 {
    std::uint64_t state = 0;
    std::uint64_t next() noexcept {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    /// A float in [0, 1): the top 24 bits of next() times 2^−24 (exact).
    float uniform() noexcept { return float(next() >> 40) * 0x1p-24f; }
};

/// The token drawn by `coin` ∈ [0, 1) from softmax(logits) (temperature 1): the first index
/// whose cumulative probability exceeds the coin. Probabilities are exp(l − max) / Σ in double,
/// summed in index order; if rounding leaves the coin above the total (or the logits are not
/// finite), the last token with non-zero probability, else the last token.
[[nodiscard]] inline int sample_token(std::span<const float> logits, float coin) {
    detail::require(!logits.empty(), "logits", "is empty");
    double mx = -std::numeric_limits<double>::infinity();
    for (float l : logits) mx = std::max(mx, double(l));
    std::vector<double> p(logits.size());
    double sum = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(double(logits[i]) - mx);
    const double target = double(coin) * sum;
    double cdf = 0;
    std::size_t last = logits.size() - 1;
    for (std::size_t i = 0; i < logits.size(); ++i) {
        if (!(p[i] > 0)) continue;
        cdf += p[i];
        last = i;
        if (target < cdf) return int(i);
    }
    return int(last);
}

/// log softmax(logits) in double: l − max − log Σ exp(l − max), the sum in index order.
inline void log_softmax(std::span<const float> logits, std::span<double> out) {
    double mx = -std::numeric_limits<double>::infinity();
    for (float l : logits) mx = std::max(mx, double(l));
    double sum = 0;
    for (float l : logits) sum += std::exp(double(l) - mx);
    const double lse = mx + std::log(sum);
    for (std::size_t i = 0; i < logits.size(); ++i) out[i] = double(logits[i]) - lse;
}

/// Sequences drawn from a model and its logits at every position.
struct samples {
    std::size_t length = 0, vocab = 0;
    /// Per sequence: BOS, then `length` sampled tokens (length + 1 ids).
    std::vector<std::vector<int>> tokens;
    /// The sampling model's logits, [sequence][position][vocab]; position p predicts token p + 1.
    std::vector<float> logits;
    [[nodiscard]] std::span<const float> at(std::size_t seq, std::size_t pos) const noexcept {
        return std::span<const float>(logits).subspan((seq * length + pos) * vocab, vocab);
    }
};

}  // namespace llama2c

namespace detail {
/// Runs f(i) for i in [0, n) on `threads` threads (0: hardware concurrency, at most n), each
/// taking the next index; the first exception is rethrown after all threads have joined.
template <class F>
void llama2c_for_each(std::size_t n, unsigned threads, F&& f) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    threads = unsigned(std::min<std::size_t>(threads, n));
    if (threads <= 1) {
        for (std::size_t i = 0; i < n; ++i) f(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr first;
    std::mutex mu;
    auto work = [&] {
        for (std::size_t i; (i = next.fetch_add(1)) < n;) {
            try {
                f(i);
            } catch (...) {
                const std::lock_guard<std::mutex> lock(mu);
                if (!first) first = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    try {
        for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    } catch (...) {
        // A thread that could not start leaves its share to the others.
    }
    work();
    for (auto& t : pool) t.join();
    if (first) std::rethrow_exception(first);
}
}  // namespace detail

namespace llama2c {

/// Draws `count` sequences of `length` tokens from `m` at temperature 1, each starting from BOS
/// at position 0 (sequences continue past any BOS or EOS the model emits). Sequence s draws its
/// coins from a splitmix64 whose state is the s-th output (from 0) of a splitmix64 started at
/// `seed`, so the result does not depend on `threads` (sequences run in parallel).
[[nodiscard]] inline samples sample_sequences(const model& m, std::size_t count, std::size_t length,
                                              std::uint64_t seed, unsigned threads = 1) {
    detail::require(count > 0, "count", "must be > 0");
    detail::require(
        length > 0 && length <= std::size_t(m.cfg().seq_len), "length",
        std::to_string(length) + " must be in 1 … seq_len " + std::to_string(m.cfg().seq_len));
    samples s;
    s.length = length;
    s.vocab = std::size_t(m.cfg().vocab_size);
    s.tokens.assign(count, {});
    s.logits.assign(
        detail::checked_mul(detail::checked_mul(count, length, "count"), s.vocab, "count"), 0.0f);
    std::vector<std::uint64_t> seeds(count);
    splitmix64 root{seed};
    for (auto& x : seeds) x = root.next();
    detail::llama2c_for_each(count, threads, [&](std::size_t q) {
        splitmix64 rng{seeds[q]};
        runner r(m, length);
        auto& seq = s.tokens[q];
        seq.reserve(length + 1);
        seq.push_back(bos_token);
        for (std::size_t pos = 0; pos < length; ++pos) {
            const auto logits = r.forward(seq.back(), pos);
            std::copy(logits.begin(), logits.end(),
                      s.logits.begin() + (q * length + pos) * s.vocab);
            seq.push_back(sample_token(logits, rng.uniform()));
        }
    });
    return s;
}

/// How a candidate model's next-token distributions compare with the sampling model's on the
/// sampled sequences, over every position p (predicting token p + 1) of every sequence, N in all:
/// mean_kl = (1/N) Σ KL(P ‖ Q) = (1/N) Σ Σ_v P(v) (log P(v) − log Q(v)) in nats, with P the
/// reference's and Q the candidate's softmax; ppl = exp(−(1/N) Σ log P(next token)) for each
/// model; top1_agreement = the fraction of positions where both argmaxes (lowest index on ties)
/// agree.
struct comparison {
    double mean_kl = 0, ppl_reference = 0, ppl_candidate = 0, top1_agreement = 0;
    std::size_t positions = 0;
};

/// Runs `candidate` on the sequences of `s` (sampled from a reference model whose logits `s`
/// holds) and compares. Each sequence's sums are formed in position order, then added in
/// sequence order, so the result does not depend on `threads`. A candidate with the reference's
/// weights gives mean_kl = 0 exactly and equal perplexities.
[[nodiscard]] inline comparison compare_to_samples(const samples& s, const model& candidate,
                                                   unsigned threads = 1) {
    detail::require(std::size_t(candidate.cfg().vocab_size) == s.vocab, "candidate",
                    "has a vocabulary of " + std::to_string(candidate.cfg().vocab_size) +
                        ", the samples " + std::to_string(s.vocab));
    detail::require(s.length <= std::size_t(candidate.cfg().seq_len), "candidate",
                    "has a seq_len shorter than the samples");
    struct sums {
        double kl = 0, nll_ref = 0, nll_cand = 0;
        std::size_t agree = 0;
    };
    const std::size_t count = s.tokens.size();
    std::vector<sums> per(count);
    detail::llama2c_for_each(count, threads, [&](std::size_t q) {
        runner r(candidate, s.length);
        std::vector<double> lp(s.vocab), lq(s.vocab);
        sums& out = per[q];
        for (std::size_t pos = 0; pos < s.length; ++pos) {
            const auto ref = s.at(q, pos);
            const auto cand = r.forward(s.tokens[q][pos], pos);
            log_softmax(ref, lp);
            log_softmax(cand, lq);
            double kl = 0;
            for (std::size_t v = 0; v < s.vocab; ++v)
                if (lp[v] > -std::numeric_limits<double>::infinity())
                    kl += mul_unfused(std::exp(lp[v]), lp[v] - lq[v]);
            out.kl += kl;
            const auto next = std::size_t(s.tokens[q][pos + 1]);
            out.nll_ref -= lp[next];
            out.nll_cand -= lq[next];
            out.agree += std::max_element(ref.begin(), ref.end()) - ref.begin() ==
                std::max_element(cand.begin(), cand.end()) - cand.begin();
        }
    });
    sums total;
    for (const sums& x : per) {
        total.kl += x.kl;
        total.nll_ref += x.nll_ref;
        total.nll_cand += x.nll_cand;
        total.agree += x.agree;
    }
    comparison c;
    c.positions = count * s.length;
    const double n = double(c.positions);
    c.mean_kl = total.kl / n;
    c.ppl_reference = std::exp(total.nll_ref / n);
    c.ppl_candidate = std::exp(total.nll_cand / n);
    c.top1_agreement = double(total.agree) / n;
    return c;
}

}  // namespace llama2c
LOWBIT_NAMESPACE_END
