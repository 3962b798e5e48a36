// Part 2 of the scheme registry, compiled once for lowbit's own tests, tools and benchmarks
// (schemes.hpp: "Where the registry is compiled"): the registry's codebook, BBQ and QuEST schemes.
#define LOWBIT_SCHEMES_PART 2
#include <lowbit/spec.hpp>
