# Warnings are errors for our own code; third-party headers come in as system includes.
add_library(bluegreen_warnings INTERFACE)
target_compile_options(bluegreen_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor -Wno-missing-field-initializers)

# Test code (not the product code it links) is compiled without optimisation: it runs for
# milliseconds, and its build is a third shorter. Link it to every test binary.
# In a sanitizer build the test code is not instrumented either: the product code it drives
# is, and the runtime (linked into every binary) still watches every allocation; the
# sanitizer build takes much less time. An inline function that both compile may be linked
# in the test code's uninstrumented form; the product's own functions never are.
add_library(bluegreen_test_code INTERFACE)
target_compile_options(bluegreen_test_code INTERFACE -O0 $<$<BOOL:${BLUEGREEN_SANITIZE}>:-fno-sanitize=all>)
set_target_properties(bluegreen_test_code PROPERTIES BLUEGREEN_TEST_ONLY ON)
