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
  unavailable = 3,        // the server could not be reached, is not a bluegreen server, or
                          // failed internally
  nothing_running = 4,    // rollback, promote or status --watch found no running deployment
                          // to act on (nothing was changed)
  interrupted = 130,      // deploy was interrupted (Ctrl-C): the deployment goes on in the
                          // server, or, after a second Ctrl-C, the server was asked to roll
                          // it back
};

// Invariants of the output (tests/reliability/test_cli_output.py):
// - with --output json every command but `server` writes exactly one JSON object on standard
//   output, errors included ({"error": {"kind": ..., "message": ...}}), and exits with the
//   code above;
// - `deploy` ends its standard output with one JSON line (the result) only when standard
//   output is not a terminal or with --output json; a person at a terminal reads the
//   outcome line instead;
// - Ctrl-C on `deploy` never leaves the user without a word: it says that the deployment goes
//   on and how to follow and stop it; a second Ctrl-C within kSecondInterrupt asks the
//   server to roll the deployment back and says so.
// Runs one command line; never throws.
ExitCode run(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace bluegreen::cli
