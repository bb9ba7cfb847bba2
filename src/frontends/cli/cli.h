// The `bluegreen` command line: `bluegreen server` runs the local server; every other command
// is a client of a running server's admin API (--server URL, or BLUEGREEN_SERVER, default
// http://127.0.0.1:7070).
#pragma once

#include <iosfwd>

namespace bluegreen::cli {

// What the process exits with; scripts and CI systems branch on it.
enum class ExitCode {
  succeeded = 0,          // the command did what it was asked (a deployment succeeded)
  deployment_failed = 1,  // the deployment failed or was rolled back (blue serves), or the
                          // request could not be acted on now (another deployment runs)
  invalid_input = 2,      // the parameters or arguments are wrong; the message names the key
  unavailable = 3,        // the server could not be reached, or failed internally
};

// Runs one command line; never throws.
ExitCode run(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace bluegreen::cli
