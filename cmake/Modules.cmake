# bluegreen_module(NAME DEPS ... [TEST_DEPS ...] [USES_ONLY header...]): one folder, one static
# library `bg_NAME` made of the folder's *.cpp (not *_test.cpp, not *_main.cpp, not test
# support), and, when the folder has *_test.cpp files, one GoogleTest binary `NAME_tests` whose
# cases CTest discovers.
#
# DEPS is the module's allowed-dependency list: the modules (bg_*) its files may include, and
# the third-party libraries it uses. TEST_DEPS adds what its tests use besides. USES_ONLY
# narrows DEPS to headers: of a module that owns a header listed there, the module's product
# files include only the headers listed (the adapters and the proxy use engine/ports.h, not
# the executors). The architecture tests (tests/architecture) hold all three to the includes:
# an include of a module not declared, or a declared module nothing includes, fails; so does a
# declaration that points up the layers of src/CMakeLists.txt or closes a cycle.
#
# Test support (fakes.cpp, *_fakes.cpp, *_test_support.cpp) is not product code: it forms
# `bg_NAME_testing`, which the module's tests link and other tests may name in TEST_DEPS. No
# binary built from src/ may link it (tests/architecture checks the link graph and the symbols).
set(BLUEGREEN_TEST_SUPPORT_REGEX "(^|/|_)fakes\\.cpp$|_test_support\\.cpp$")

function(bluegreen_module name)
  cmake_parse_arguments(M "" "" "DEPS;TEST_DEPS;USES_ONLY" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(FILTER sources EXCLUDE REGEX "(_test|_main)\\.cpp$")
  set(support ${sources})
  list(FILTER support INCLUDE REGEX "${BLUEGREEN_TEST_SUPPORT_REGEX}")
  list(FILTER sources EXCLUDE REGEX "${BLUEGREEN_TEST_SUPPORT_REGEX}")
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  add_library(bg_${name} STATIC ${sources})
  target_include_directories(bg_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(bg_${name} PUBLIC ${M_DEPS} PRIVATE bluegreen_warnings)
  set_target_properties(bg_${name} PROPERTIES LINKER_LANGUAGE CXX
    BLUEGREEN_MODULE ${name} BLUEGREEN_DEPS "${M_DEPS}" BLUEGREEN_TEST_DEPS "${M_TEST_DEPS}"
    BLUEGREEN_USES_ONLY "${M_USES_ONLY}")
  set(own_support)
  if(support)
    add_library(bg_${name}_testing STATIC ${support})
    target_link_libraries(bg_${name}_testing PUBLIC bg_${name} PRIVATE bluegreen_warnings)
    set_target_properties(bg_${name}_testing PROPERTIES BLUEGREEN_TEST_ONLY ON)
    if(NOT BLUEGREEN_TESTS)
      set_target_properties(bg_${name}_testing PROPERTIES EXCLUDE_FROM_ALL ON)
    endif()
    set(own_support bg_${name}_testing)
  endif()
  if(BLUEGREEN_TESTS AND tests)
    add_executable(${name}_tests ${tests})
    target_link_libraries(${name}_tests PRIVATE bg_${name} ${own_support} ${M_TEST_DEPS} GTest::gtest GTest::gmock
                          GTest::gtest_main bluegreen_warnings bluegreen_test_code)
    target_compile_definitions(${name}_tests PRIVATE
      BLUEGREEN_SOURCE_DIR="${PROJECT_SOURCE_DIR}" BLUEGREEN_BINARY_DIR="${PROJECT_BINARY_DIR}")
    if(BLUEGREEN_UNIT_TEST_BINARIES)
      gtest_discover_tests(${name}_tests DISCOVERY_MODE PRE_TEST
        PROPERTIES LABELS unit ENVIRONMENT "BLUEGREEN_BINARY_DIR=${PROJECT_BINARY_DIR}")
    else()
      # Defined (so that compile_commands.json, and clang-tidy, know its files) but not built.
      set_target_properties(${name}_tests PROPERTIES EXCLUDE_FROM_ALL ON)
    endif()
  endif()
endfunction()
