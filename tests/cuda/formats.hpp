// The formats × scale storage kinds the CUDA tests cover (both sides instantiate this list).
#pragma once
#include "lowbit/formats/int.hpp"

namespace lowbit_cuda_test {

template <class Format, int ScaleKind>
struct case_type {
    using format = Format;
    static constexpr int scale_kind = ScaleKind;
};
template <class... C>
struct type_list {};

using lowbit::int_format;
using lowbit::int_range;
using lowbit::uint_format;
// Every INT format with float scales; representative ones with half and bfloat16 scales.
using all_int_cases = type_list<
    case_type<int_format<2>, 0>, case_type<int_format<3>, 0>, case_type<int_format<4>, 0>,
    case_type<int_format<5>, 0>, case_type<int_format<6>, 0>, case_type<int_format<7>, 0>,
    case_type<int_format<8>, 0>, case_type<int_format<1, int_range::full>, 0>,
    case_type<int_format<2, int_range::full>, 0>, case_type<int_format<3, int_range::full>, 0>,
    case_type<int_format<4, int_range::full>, 0>, case_type<int_format<5, int_range::full>, 0>,
    case_type<int_format<6, int_range::full>, 0>, case_type<int_format<7, int_range::full>, 0>,
    case_type<int_format<8, int_range::full>, 0>, case_type<uint_format<1>, 0>,
    case_type<uint_format<2>, 0>, case_type<uint_format<3>, 0>, case_type<uint_format<4>, 0>,
    case_type<uint_format<5>, 0>, case_type<uint_format<6>, 0>, case_type<uint_format<7>, 0>,
    case_type<uint_format<8>, 0>, case_type<int_format<4, int_range::full>, 1>,
    case_type<int_format<3, int_range::full>, 1>, case_type<int_format<2, int_range::full>, 1>,
    case_type<int_format<8>, 1>, case_type<uint_format<4>, 1>,
    case_type<int_format<4, int_range::full>, 2>, case_type<int_format<8>, 2>,
    case_type<uint_format<4>, 2>, case_type<uint_format<6>, 2>>;

}  // namespace lowbit_cuda_test
