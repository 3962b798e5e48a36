// Part 3 of the scheme registry, compiled once for lowbit's own tests, tools and benchmarks
// (schemes.hpp: "Where the registry is compiled"): spec strings of the signed integer formats.
#define LOWBIT_SCHEMES_PART 3
#include <lowbit/spec.hpp>
