# BLUEGREEN_FUZZ=ON: a clang build for the libFuzzer targets in fuzz/ (scripts/fuzz drives it).
# Every library is built with coverage instrumentation for libFuzzer and with ASan+UBSan, so a
# memory error or undefined behaviour in our code is a crash the fuzzer reports; only the fuzz
# targets link libFuzzer's main (-fsanitize=fuzzer, in fuzz/CMakeLists.txt).
if(NOT BLUEGREEN_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "BLUEGREEN_FUZZ needs clang with libFuzzer: configure with "
                      "CC=clang-19 CXX=clang++-19 (Debian packages clang-19 libclang-rt-19-dev)")
endif()
# libstdc++ 12 offers <expected> only to compilers that report C++20 concepts in full
# (__cpp_concepts >= 202002L), which clang does from version 19 on.
include(CheckCXXSourceCompiles)
check_cxx_source_compiles("#include <expected>\nint main() { std::expected<int, int> e{0}; return *e; }"
                          BLUEGREEN_CXX_HAS_EXPECTED)
if(NOT BLUEGREEN_CXX_HAS_EXPECTED)
  message(FATAL_ERROR "${CMAKE_CXX_COMPILER} ${CMAKE_CXX_COMPILER_VERSION} has no std::expected "
                      "with this standard library; BLUEGREEN_FUZZ needs clang 19 or later")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                    -fno-sanitize-recover=undefined)
add_link_options(-fsanitize=address,undefined)
# Boost 1.74 recognises C++20 coroutines in g++ only (for clang it looks for the Coroutines TS);
# clang 19 has them too, and the proxy's forwarder is written with them.
add_compile_definitions(BOOST_ASIO_HAS_CO_AWAIT=1)
