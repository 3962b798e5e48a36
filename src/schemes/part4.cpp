// Part 4 of the scheme registry, compiled once for lowbit's own tests, tools and benchmarks
// (schemes.hpp: "Where the registry is compiled"): spec strings of the unsigned integer and
// minifloat formats.
#define LOWBIT_SCHEMES_PART 4
#include <lowbit/spec.hpp>
