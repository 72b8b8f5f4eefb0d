#include "tests/domain/domain_util.h"
static void test_x(void) {}
TEST_MAIN(TEST(test_x))
