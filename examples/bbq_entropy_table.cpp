// The entropy table of docs/bbq.md: code entropy (bits) of BBQ, QuEST and NormalFloat for
// B = 1 … 8 on N(0, 1) and on the weight tensors of the models in ../shared/data.
//
//   g++ -std=c++20 -O2 -march=native -ffp-contract=off -Iinclude -I/usr/include/eigen3 \
//       examples/bbq_entropy_table.cpp -o /tmp/bbq_entropy_table
//   /tmp/bbq_entropy_table ../shared/data > table.md
//
// Schemes: BBQ-B (Hadamard 128, σ per tensor, z = −½ at 1–2 bits and 0 above, as the bbq1 … bbq4
// schemes), QuEST-B (same rotation and σ, Gaussian-
// optimal clip, midrise grid), NF-B (NormalFloat codebook, absmax per group of 64; no 1-bit NF).
// A model's entry is the size-weighted mean of its tensors' entropies over every tensor with two
// or more axes (linear and convolution weights; biases, norms and batch-norm vectors are 1-D),
// each quantized on its own, read as rows = first axis, cols = the product of the others.
// Also printed: SQNR (dB) on N(0, 1), where BBQ is lower by design.
#include <lowbit/lowbit.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace lowbit;

namespace {

struct tensor {
    std::string name;
    std::vector<float> values;
    shape2d shape;
    std::size_t dims = 0;
};

bool read_npy(const std::filesystem::path& p, tensor& t) {
    std::ifstream in(p, std::ios::binary);
    char magic[8];
    in.read(magic, 8);
    if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) return false;
    std::uint32_t hl = 0;
    if (magic[6] == 1) {
        std::uint16_t h;
        in.read(reinterpret_cast<char*>(&h), 2);
        hl = h;
    } else
        in.read(reinterpret_cast<char*>(&hl), 4);
    std::string header(hl, ' ');
    in.read(header.data(), hl);
    if (header.find("'<f4'") == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos)
        return false;
    const auto a = header.find('(', header.find("shape")), b = header.find(')', a);
    std::vector<std::size_t> dims;
    std::string num;
    for (char c : header.substr(a + 1, b - a - 1)) {
        if (c >= '0' && c <= '9')
            num += c;
        else if (!num.empty()) {
            dims.push_back(std::stoul(num));
            num.clear();
        }
    }
    if (!num.empty()) dims.push_back(std::stoul(num));
    std::size_t n = 1;
    for (auto d : dims) n *= d;
    t.dims = dims.size();
    t.shape = dims.size() <= 1 ? shape2d{1, n} : shape2d{dims[0], n / dims[0]};
    t.values.resize(n);
    in.read(reinterpret_cast<char*>(t.values.data()), std::streamsize(n * 4));
    return bool(in);
}

template <class Q>
std::pair<double, double> entropy_sqnr(const Q& q, const std::vector<float>& x, shape2d s) {
    const auto t = q.quantize(x, s);
    return {code_entropy_bits(t.codes(), Q::tensor_type::bits), sqnr_db(x, q.dequantize(t))};
}

struct row {
    double bbq = 0, quest = 0, nf = -1;
};

template <int B>
row measure(const std::vector<float>& x, shape2d s, double* sq = nullptr) {
    row r;
    const auto b =
        entropy_sqnr(bbq_quantizer<B>({.zero = B <= 2 ? bbq_zero::half : bbq_zero::integer}), x, s);
    const auto q = entropy_sqnr(quest_quantizer<B>(), x, s);
    r.bbq = b.first;
    r.quest = q.first;
    std::pair<double, double> n{-1, 0};
    if constexpr (B >= 2) n = entropy_sqnr(codebook_quantizer<B>(), x, s), r.nf = n.first;
    if (sq) {
        sq[0] = b.second;
        sq[1] = q.second;
        sq[2] = n.second;
    }
    return r;
}

template <int... Bs>
std::vector<row> all_bits(const std::vector<float>& x, shape2d s, std::integer_sequence<int, Bs...>,
                          std::vector<std::array<double, 3>>* sq = nullptr) {
    std::vector<row> out;
    if (sq) sq->resize(sizeof...(Bs));
    int k = 0;
    ((out.push_back(measure<Bs>(x, s, sq ? (*sq)[k].data() : nullptr)), ++k), ...);
    return out;
}

using bits_1_8 = std::integer_sequence<int, 1, 2, 3, 4, 5, 6, 7, 8>;

void print(const char* title, const std::vector<row>& r) {
    std::printf("| %s |", title);
    for (const auto& e : r) {
        if (e.nf < 0)
            std::printf(" %.3f / %.3f / — |", e.bbq, e.quest);
        else
            std::printf(" %.3f / %.3f / %.3f |", e.bbq, e.quest, e.nf);
    }
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    const std::filesystem::path root = argc > 1 ? argv[1] : "../shared/data";
    std::printf("Code entropy in bits, BBQ / QuEST / NF (group 64), B = 1 … 8.\n\n");
    std::printf(
        "| data | B=1 | B=2 | B=3 | B=4 | B=5 | B=6 | B=7 | B=8 "
        "|\n|---|---|---|---|---|---|---|---|---|\n");
    std::mt19937 g(2026);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(std::size_t{1} << 20);
    for (auto& v : x) v = d(g);
    std::vector<std::array<double, 3>> sq;
    print("N(0,1), 2^20 values (1024 × 1024)", all_bits(x, {1024, 1024}, bits_1_8{}, &sq));
    for (const char* model : {"stories260K", "ppocrv4_rec", "esrgan_medium_x4"}) {
        if (!std::filesystem::exists(root / model)) continue;
        std::vector<std::filesystem::path> files;
        for (const auto& e : std::filesystem::directory_iterator(root / model))
            if (e.path().extension() == ".npy") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        std::vector<row> acc(8);
        double weight = 0;
        std::size_t count = 0;
        for (const auto& f : files) {
            tensor t;
            if (!read_npy(f, t) || t.dims < 2) continue;
            const auto r = all_bits(t.values, t.shape, bits_1_8{});
            const double w = double(t.values.size());
            for (int k = 0; k < 8; ++k) {
                acc[k].bbq += w * r[k].bbq;
                acc[k].quest += w * r[k].quest;
                acc[k].nf = r[k].nf < 0 ? -1 : (acc[k].nf < 0 ? 0 : acc[k].nf) + w * r[k].nf;
            }
            weight += w;
            ++count;
        }
        for (auto& e : acc) {
            e.bbq /= weight;
            e.quest /= weight;
            if (e.nf >= 0) e.nf /= weight;
        }
        const std::string title = std::string(model) + " (" + std::to_string(count) +
            " weight tensors, " + std::to_string(std::size_t(weight)) + " values)";
        print(title.c_str(), acc);
    }
    std::printf("\nSQNR in dB on N(0,1), BBQ / QuEST / NF:\n\n| B |");
    for (int b = 1; b <= 8; ++b) std::printf(" %d |", b);
    std::printf("\n|---|---|---|---|---|---|---|---|---|\n| SQNR |");
    for (const auto& s : sq) {
        if (s[2] == 0)
            std::printf(" %.2f / %.2f / — |", s[0], s[1]);
        else
            std::printf(" %.2f / %.2f / %.2f |", s[0], s[1], s[2]);
    }
    std::printf("\n");
}
