// Part 1 of the scheme registry, compiled once for lowbit's own tests, tools and benchmarks
// (schemes.hpp: "Where the registry is compiled"): the registry's integer and floating-point
// schemes, and all_schemes().
#define LOWBIT_SCHEMES_PART 1
#include <lowbit/spec.hpp>
