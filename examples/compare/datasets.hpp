// lowbit-compare — the data it quantizes: four built-in synthetic sets, or tensors read from files.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <lowbit/core/granularity.hpp>
#include <lowbit/io/gguf.hpp>
#include <lowbit/io/npy.hpp>
#include <lowbit/io/safetensors.hpp>
#include <lowbit/model/llama2c.hpp>

namespace compare {

/// One tensor to evaluate: a name (the `dataset` column), its 2-D shape and its values.
struct dataset {
    std::string name;
    lowbit::shape2d shape;
    std::vector<float> values;
};

/// The built-in sets: 1024 × 1024 = 2^20 values each, fixed seeds, so every run sees the same data.
///   gaussian           N(0, 1)
///   laplace            Laplace(0, b = 1/√2) (unit variance), by inverse CDF
///   student_t4         Student-t with ν = 4 (variance 2), heavy tails
///   gaussian_outliers  N(0, 1) with 0.1 % of the values (1048, at random positions) set to ±20
inline std::vector<dataset> builtin_datasets() {
    constexpr std::size_t rows = 1024, cols = 1024, n = rows * cols;
    std::vector<dataset> out;
    auto make = [&](const char* name, std::uint64_t seed, auto&& draw) {
        std::mt19937_64 g(seed);
        dataset d{name, {rows, cols}, std::vector<float>(n)};
        for (auto& v : d.values) v = draw(g);
        out.push_back(std::move(d));
        return &out.back().values;
    };
    std::normal_distribution<float> normal(0.0f, 1.0f);
    make("gaussian", 0x6C6F7762'01ull, [&](auto& g) { return normal(g); });
    std::uniform_real_distribution<double> u(-0.5, 0.5);
    make("laplace", 0x6C6F7762'02ull, [&](auto& g) {
        double v;
        do { v = u(g); } while (v == -0.5);  // keep log's argument positive
        const double b = 1.0 / std::sqrt(2.0);
        return float(-b * (v < 0 ? -1.0 : 1.0) * std::log(1.0 - 2.0 * std::fabs(v)));
    });
    std::student_t_distribution<float> t4(4.0f);
    make("student_t4", 0x6C6F7762'03ull, [&](auto& g) { return t4(g); });
    normal.reset();
    auto* v = make("gaussian_outliers", 0x6C6F7762'04ull, [&](auto& g) { return normal(g); });
    std::mt19937_64 g(0x6C6F7762'05ull);
    std::uniform_int_distribution<std::size_t> where(0, n - 1);
    std::bernoulli_distribution sign(0.5);
    for (std::size_t k = 0; k < n / 1000;) {  // distinct positions
        const std::size_t i = where(g);
        if (std::fabs((*v)[i]) == 20.0f) continue;
        (*v)[i] = sign(g) ? 20.0f : -20.0f;
        ++k;
    }
    return out;
}

/// Whether --input names a model file (several tensors): safetensors, GGUF, llama2.c.
inline bool is_model_file(const std::filesystem::path& p) {
    const auto e = p.extension();
    return e == ".safetensors" || e == ".gguf" || e == ".bin";
}

/// One tensor of --input, read when it is evaluated (a model's tensors are not all held at once).
struct dataset_source {
    std::string name;
    std::size_t rank = 2;  ///< of the tensor as stored; `total` counts the tensors of rank >= 2
    std::function<dataset()> load;
};

/// The tensors of --input: a directory of .npy files (one dataset each, named by file), a model
/// file (safetensors, GGUF, a llama2.c checkpoint .bin: every tensor read as float, named by the
/// tensor; others are listed in `skipped`), or one .npy or raw float32 file (named by its file
/// name).
inline std::vector<dataset_source> file_sources(const std::filesystem::path& input,
                                                std::vector<std::string>& skipped) {
    std::vector<dataset_source> out;
    auto from_array = [](std::string name, lowbit::npy_array a) {
        const lowbit::shape2d s = a.matrix_shape();
        return dataset{std::move(name), s, std::move(a.data)};
    };
    const std::string ext = input.extension().string();
    if (std::filesystem::is_directory(input)) {
        auto arrays = std::make_shared<std::vector<std::pair<std::string, lowbit::npy_array>>>(
            lowbit::read_npy_dir(input));
        for (auto& [name, a] : *arrays) {
            auto* ap = &a;
            out.push_back({name, a.shape.size(), [arrays, ap, name = name, from_array] {
                               return from_array(name, std::move(*ap));
                           }});
        }
    } else if (ext == ".safetensors") {
        auto f = std::make_shared<lowbit::safetensors_file>(input);
        for (const auto& t : f->tensors()) {
            if (!lowbit::safetensors_dtype_reads_as_float(t.dtype)) {
                skipped.push_back(t.name + " (" + std::string(t.dtype_name()) + ")");
                continue;
            }
            out.push_back({t.name, t.shape.size(), [f, tp = &t, from_array] {
                               return from_array(tp->name, f->read_float(*tp));
                           }});
        }
    } else if (ext == ".gguf") {
        auto f = std::make_shared<lowbit::gguf_file>(input);
        for (const auto& t : f->tensors()) {
            if (!(t.type == lowbit::ggml_type::f32 || t.type == lowbit::ggml_type::f16 ||
                  t.type == lowbit::ggml_type::bf16 || t.type == lowbit::ggml_type::f64 ||
                  lowbit::detail::ggml_block_type(t.type))) {
                skipped.push_back(t.name + " (" + std::string(t.type_name()) + ")");
                continue;
            }
            out.push_back({t.name, t.ne.size(), [f, tp = &t, from_array] {
                               return from_array(tp->name, f->read_float(*tp));
                           }});
        }
    } else if (ext == ".bin") {
        auto m = std::make_shared<lowbit::llama2c::model>(lowbit::llama2c::read_checkpoint(input));
        for (const auto& w : m->weights())
            out.push_back({w.name(), w.shape().size(), [m, wp = &w] {
                               return dataset{
                                   wp->name(), wp->matrix_shape(),
                                   std::vector<float>(wp->values().begin(), wp->values().end())};
                           }});
    } else {
        auto a = std::make_shared<lowbit::npy_array>(lowbit::read_tensor(input));
        out.push_back({input.filename().string(), a->shape.size(),
                       [a, name = input.filename().string(), from_array] {
                           return from_array(name, std::move(*a));
                       }});
    }
    return out;
}

}  // namespace compare
