// expect: an ieee minifloat needs M >= 1
// IEEE-style Inf/NaN needs a mantissa bit to tell them apart.
#include <lowbit/formats/minifloat.hpp>

int main() { return static_cast<int>(lowbit::minifloat<5, 0, lowbit::nan_inf::ieee>::bits); }
