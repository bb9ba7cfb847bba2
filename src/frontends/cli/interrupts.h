// InterruptCounter: while one lives, Ctrl-C (SIGINT) is counted instead of ending the process,
// so that `deploy` can say what happens to the deployment it follows (see cli.h). One at a
// time per process; the previous SIGINT disposition is restored when it goes.
#pragma once

#include <signal.h>

namespace bluegreen::cli {

class InterruptCounter {
 public:
  InterruptCounter();
  ~InterruptCounter();
  InterruptCounter(const InterruptCounter&) = delete;
  InterruptCounter& operator=(const InterruptCounter&) = delete;

  // Ctrl-C presses since this counter was made.
  int count() const;

 private:
  struct sigaction previous_ {};
};

}  // namespace bluegreen::cli
