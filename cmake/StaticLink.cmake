# Fully static links (the Lambda bootstrap). A target whose property BLUEGREEN_FULLY_STATIC is
# ON links the static archives of the libraries below, and nothing of libcurl or libarchive;
# every other target links the shared libraries as usual. Modules name these targets instead
# of the packages' own so that both links come from one set of module libraries:
#   bluegreen::ssl  bluegreen::crypto  bluegreen::cares  bluegreen::fmt
#   bluegreen::curl  bluegreen::archive  (empty in a static link: the bootstrap uses neither)
set(_bg_static "$<BOOL:$<TARGET_PROPERTY:BLUEGREEN_FULLY_STATIC>>")
set(_bg_shared "$<NOT:${_bg_static}>")

find_path(CARES_INCLUDE_DIR ares.h REQUIRED)
find_library(CARES_LIBRARY NAMES cares REQUIRED)
find_library(BLUEGREEN_CARES_ARCHIVE NAMES libcares.a)
find_library(BLUEGREEN_SSL_ARCHIVE NAMES libssl.a)
find_library(BLUEGREEN_CRYPTO_ARCHIVE NAMES libcrypto.a)

# {fmt}'s compiled part as a static library (Debian ships only libfmt.so).
add_library(bluegreen_fmt_static STATIC EXCLUDE_FROM_ALL
  ${PROJECT_SOURCE_DIR}/src/frontends/lambda/static/fmt_library.cpp)

add_library(bluegreen::cares INTERFACE IMPORTED)
set_target_properties(bluegreen::cares PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${CARES_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES "$<${_bg_shared}:${CARES_LIBRARY}>;$<${_bg_static}:${BLUEGREEN_CARES_ARCHIVE}>")

add_library(bluegreen::crypto INTERFACE IMPORTED)
set_target_properties(bluegreen::crypto PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${OPENSSL_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES
    "$<${_bg_shared}:OpenSSL::Crypto>;$<${_bg_static}:${BLUEGREEN_CRYPTO_ARCHIVE}>;Threads::Threads")

# libssl.a needs libcrypto.a after it on a static link line, whatever order the modules that
# use each put them in: the crypto archive is named again after the ssl one.
add_library(bluegreen::ssl INTERFACE IMPORTED)
set_target_properties(bluegreen::ssl PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${OPENSSL_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES
    "$<${_bg_shared}:OpenSSL::SSL>;$<${_bg_static}:${BLUEGREEN_SSL_ARCHIVE}>;bluegreen::crypto;$<${_bg_static}:${BLUEGREEN_CRYPTO_ARCHIVE}>")

add_library(bluegreen::fmt INTERFACE IMPORTED)
set_target_properties(bluegreen::fmt PROPERTIES
  INTERFACE_LINK_LIBRARIES "$<${_bg_shared}:fmt::fmt>;$<${_bg_static}:bluegreen_fmt_static>")

add_library(bluegreen::curl INTERFACE IMPORTED)
set_target_properties(bluegreen::curl PROPERTIES
  INTERFACE_LINK_LIBRARIES "$<${_bg_shared}:CURL::libcurl>")

add_library(bluegreen::archive INTERFACE IMPORTED)
set_target_properties(bluegreen::archive PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${LibArchive_INCLUDE_DIRS}"
  INTERFACE_LINK_LIBRARIES "$<${_bg_shared}:LibArchive::LibArchive>")
