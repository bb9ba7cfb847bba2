// The `bluegreen` binary: everything lives in the library; this catches what nobody should
// have thrown.
#include <exception>
#include <iostream>

#include "frontends/cli/cli.h"

int main(int argc, char** argv) {
  try {
    return static_cast<int>(bluegreen::cli::run(argc, argv, std::cout, std::cerr));
  } catch (const std::exception& e) {
    std::cerr << "bluegreen: internal error: " << e.what() << "\n";
    return static_cast<int>(bluegreen::cli::ExitCode::unavailable);
  }
}
