// expect: a code needs at least 1 bit
#include <lowbit/formats/int.hpp>
int main() { return lowbit::code_traits<0>::levels; }
