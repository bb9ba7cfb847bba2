# The dependencies of a bootstrap-only configuration (BLUEGREEN_BOOTSTRAP_ONLY, set by the
# cross toolchain cmake/aarch64-linux-gnu.cmake): the libraries the Lambda bootstrap links are
# looked for; every other package becomes an empty stand-in target, so every module is
# configured but only the bootstrap and what it links can be built.
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_path(BOOST_BEAST_INCLUDE_DIR boost/beast.hpp REQUIRED)
add_library(Boost::boost INTERFACE IMPORTED)
foreach(stand_in CURL::libcurl yaml-cpp LibArchive::LibArchive SQLite::SQLite3 fmt::fmt
        CLI11::CLI11)
  add_library(${stand_in} INTERFACE IMPORTED)
endforeach()
include(StaticLink)
