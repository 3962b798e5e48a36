// A small use of the installed headers, quick to compile (the install and add_subdirectory
// tests build this one): an int4 code round trip and the version macros.
#include <lowbit/core/granularity.hpp>
#include <lowbit/formats/int.hpp>

#include <cstdio>

int main() {
    using fmt = lowbit::int_format<4>;
    const int back = fmt::to_int(fmt::to_code(-3));
    const lowbit::shape2d shape{2, 3};
    std::printf(
        "lowbit %d.%d.%d: int4 code of -3 reads back %d; a %zux%zu shape holds %zu values\n",
        LOWBIT_VERSION_MAJOR, LOWBIT_VERSION_MINOR, LOWBIT_VERSION_PATCH, back, shape.rows,
        shape.cols, shape.size());
    return back == -3 && shape.size() == 6 ? 0 : 1;
}
