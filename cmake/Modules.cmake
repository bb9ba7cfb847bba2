# bluegreen_module(NAME DEPS ...): one folder, one static library `bg_NAME` made of the
# folder's *.cpp (not *_test.cpp, not *_main.cpp), and, when the folder has *_test.cpp files,
# one GoogleTest binary `NAME_tests` whose cases CTest discovers.
function(bluegreen_module name)
  cmake_parse_arguments(M "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(FILTER sources EXCLUDE REGEX "(_test|_main)\\.cpp$")
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  add_library(bg_${name} STATIC ${sources})
  target_include_directories(bg_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(bg_${name} PUBLIC ${M_DEPS} PRIVATE bluegreen_warnings)
  set_target_properties(bg_${name} PROPERTIES LINKER_LANGUAGE CXX)
  if(BLUEGREEN_TESTS AND tests)
    add_executable(${name}_tests ${tests})
    target_link_libraries(${name}_tests PRIVATE bg_${name} ${M_TEST_DEPS} GTest::gtest GTest::gmock GTest::gtest_main bluegreen_warnings
                          bluegreen_test_code)
    target_compile_definitions(${name}_tests PRIVATE
      BLUEGREEN_SOURCE_DIR="${PROJECT_SOURCE_DIR}" BLUEGREEN_BINARY_DIR="${PROJECT_BINARY_DIR}")
    gtest_discover_tests(${name}_tests DISCOVERY_MODE PRE_TEST
      PROPERTIES LABELS unit ENVIRONMENT "BLUEGREEN_BINARY_DIR=${PROJECT_BINARY_DIR}")
  endif()
endfunction()
