// expect: minifloat codes are at most 8 bits
// A 9-bit minifloat (E + M = 8) is refused with a sentence.
#include <lowbit/formats/minifloat.hpp>

int main() { return static_cast<int>(lowbit::minifloat<4, 4, lowbit::nan_inf::fn>::bits); }
