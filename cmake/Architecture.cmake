# bluegreen_write_architecture_model(): at the end of configuration, writes what the
# architecture tests (tests/architecture) check the sources against, as declared here and
# nowhere else:
#   architecture.json        the layers (src/CMakeLists.txt), each module's folder, DEPS and
#                            TEST_DEPS (its CMakeLists.txt), and every target of the build with
#                            its folder, sources, direct links and whether it is test-only;
#   architecture_files.json  (at generation time) the files of the executables and of the
#                            test-only libraries, for the symbol check.

# Every target defined in `dir` and the folders below it, into `out`.
function(_bluegreen_targets_below dir out)
  get_property(found DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _bluegreen_targets_below(${sub} more)
    list(APPEND found ${more})
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# A JSON array of the strings of a CMake list, generator expressions reduced to the target
# they name ($<LINK_ONLY:x> → x) or dropped.
function(_bluegreen_json_array out)
  set(items)
  foreach(item IN LISTS ARGN)
    if(item MATCHES "^\\$<LINK_ONLY:([^>]+)>$")
      set(item ${CMAKE_MATCH_1})
    elseif(item MATCHES "\\$<")
      continue()
    endif()
    string(REPLACE "\\" "\\\\" item "${item}")
    string(REPLACE "\"" "\\\"" item "${item}")
    list(APPEND items "\"${item}\"")
  endforeach()
  list(JOIN items ", " joined)
  set(${out} "[${joined}]" PARENT_SCOPE)
endfunction()

function(bluegreen_write_architecture_model)
  get_property(layers GLOBAL PROPERTY BLUEGREEN_LAYERS)
  _bluegreen_json_array(layers_json ${layers})
  _bluegreen_targets_below(${PROJECT_SOURCE_DIR} targets)
  set(entries)
  set(files)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    get_target_property(dir ${target} SOURCE_DIR)
    file(RELATIVE_PATH dir ${PROJECT_SOURCE_DIR} ${dir})
    if(type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(links ${target} INTERFACE_LINK_LIBRARIES)
      set(sources)
    else()
      get_target_property(links ${target} LINK_LIBRARIES)
      get_target_property(sources ${target} SOURCES)
    endif()
    get_target_property(test_only ${target} BLUEGREEN_TEST_ONLY)
    get_target_property(module ${target} BLUEGREEN_MODULE)
    foreach(var links sources)
      if(NOT ${var})
        set(${var})
      endif()
    endforeach()
    _bluegreen_json_array(links_json ${links})
    _bluegreen_json_array(sources_json ${sources})
    set(entry "\"${target}\": {\"type\": \"${type}\", \"dir\": \"${dir}\", \"sources\": ${sources_json}, \"links\": ${links_json}")
    if(test_only)
      string(APPEND entry ", \"test_only\": true")
    endif()
    if(module)
      get_target_property(deps ${target} BLUEGREEN_DEPS)
      get_target_property(test_deps ${target} BLUEGREEN_TEST_DEPS)
      get_target_property(uses_only ${target} BLUEGREEN_USES_ONLY)
      _bluegreen_json_array(deps_json ${deps})
      _bluegreen_json_array(test_deps_json ${test_deps})
      _bluegreen_json_array(uses_only_json ${uses_only})
      string(APPEND entry ", \"module\": \"${module}\", \"deps\": ${deps_json}, "
                          "\"test_deps\": ${test_deps_json}, \"uses_only\": ${uses_only_json}")
    endif()
    # Where its users find its headers (the checker places test-support headers by them).
    if(type MATCHES "LIBRARY$")
      get_target_property(includes ${target} INTERFACE_INCLUDE_DIRECTORIES)
    else()
      set(includes)
    endif()
    if(includes)
      _bluegreen_json_array(includes_json ${includes})
      string(APPEND entry ", \"include_dirs\": ${includes_json}")
    endif()
    list(APPEND entries "    ${entry}}")
    if(type STREQUAL "EXECUTABLE" OR (test_only AND type STREQUAL "STATIC_LIBRARY"))
      list(APPEND files "    \"${target}\": \"$<TARGET_FILE:${target}>\"")
    endif()
  endforeach()
  list(JOIN entries ",\n" entries)
  list(JOIN files ",\n" files)
  file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/architecture.json @ONLY CONTENT
"{
  \"source_dir\": \"${PROJECT_SOURCE_DIR}\",
  \"layers\": ${layers_json},
  \"targets\": {
${entries}
  }
}
")
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/architecture_files.json CONTENT "{\n${files}\n}\n")
endfunction()
