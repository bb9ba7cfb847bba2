# BLUEGREEN_SANITIZE=ON builds everything with ASan and UBSan; the test command runs the
# whole suite in such a build as well as in the normal one. Line tables (-g1) are all a report
# needs to name file and line.
if(BLUEGREEN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
                      -g1)
  add_link_options(-fsanitize=address,undefined)
endif()
