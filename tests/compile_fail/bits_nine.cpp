// expect: codes are at most 8 bits wide
#include <lowbit/formats/int.hpp>
int main() { return lowbit::int_format<9>::qmax; }
