// expect: E2M1 codes hold the levels exactly only for Bits <= 3
// BBQ's 4-bit levels −8 … 7 are not all E2M1 values (5, 7, −5, −7, −8 are missing).
#include <lowbit/quantizers/bbq.hpp>

int main() {
    lowbit::bbq_quantizer<4, lowbit::bbq_codes::e2m1> q;
    (void)q;
}
