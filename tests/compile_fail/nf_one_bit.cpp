// expect: a NormalFloat codebook needs at least 2 bits
// NormalFloat always has an exact zero plus at least one level on each side.
#include <lowbit/formats/codebook.hpp>

int main() {
    auto cb = lowbit::normal_float_codebook<1>();
    (void)cb;
}
