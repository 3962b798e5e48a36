// Compiled without optimisation (-O0, as debug builds are): every registered scheme's quantizer
// is instantiated through the registry, so every SIMD kernel of this target's instruction set
// must compile where the compiler's intrinsic headers fall back to macros (core/config.hpp).
#include <lowbit/lowbit.hpp>

std::size_t lowbit_o0_scheme_count() { return lowbit::all_schemes().size(); }
