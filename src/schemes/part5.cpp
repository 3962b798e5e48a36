// Part 5 of the scheme registry, compiled once for lowbit's own tests, tools and benchmarks
// (schemes.hpp: "Where the registry is compiled"): spec strings of the codebooks, BBQ and QuEST.
#define LOWBIT_SCHEMES_PART 5
#include <lowbit/spec.hpp>
