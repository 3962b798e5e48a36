#include <lowbit/lowbit.hpp>
#include <cstdio>
#include <random>
#include <vector>
int main() {  // README.md's usage example: int4, groups of 32, fp16 scales
    std::mt19937 rng(42);
    std::normal_distribution<float> normal;
    std::vector<float> x(256 * 1024);
    for (float& v : x) v = normal(rng);
    lowbit::int_quantizer<lowbit::int_format<4, lowbit::int_range::full>, Eigen::half> q(
        {.gran = lowbit::granularity::group(32)});
    auto t = q.quantize(x, {256, 1024});     // packed codes + one fp16 scale per 32 values
    std::vector<float> y = q.dequantize(t);  // back to float
    std::printf("%.2f bits/value, SQNR %.2f dB\n", t.bits_per_value(), lowbit::sqnr_db(x, y));
    return lowbit::sqnr_db(x, y) > 15.0 ? 0 : 1;
}
