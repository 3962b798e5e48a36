// lowbit-compare — the data it quantizes: four built-in synthetic sets, or tensors read from files.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <lowbit/core/granularity.hpp>
#include <lowbit/io/npy.hpp>

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

/// Tensors from --input: a directory of .npy files (one dataset each, named by file), or one file
/// (.npy or raw float32, named by its file name).
inline std::vector<dataset> file_datasets(const std::filesystem::path& input) {
    std::vector<dataset> out;
    if (std::filesystem::is_directory(input)) {
        for (auto& [name, a] : lowbit::read_npy_dir(input))
            out.push_back({name, a.matrix_shape(), std::move(a.data)});
    } else {
        auto a = lowbit::read_tensor(input);
        out.push_back({input.filename().string(), a.matrix_shape(), std::move(a.data)});
    }
    return out;
}

}  // namespace compare
