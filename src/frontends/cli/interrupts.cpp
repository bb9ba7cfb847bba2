#include "frontends/cli/interrupts.h"

#include <atomic>

namespace bluegreen::cli {
namespace {

// Lock-free, so the handler may touch it.
std::atomic<int> interrupts{0};

extern "C" void count_interrupt(int) {
  interrupts.fetch_add(1);
}

}  // namespace

InterruptCounter::InterruptCounter() {
  interrupts = 0;
  struct sigaction action {};
  action.sa_handler = count_interrupt;
  sigemptyset(&action.sa_mask);
  // The HTTP polls and sleeps carry on; the follow loop reads the count between them.
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, &previous_);
}

InterruptCounter::~InterruptCounter() {
  ::sigaction(SIGINT, &previous_, nullptr);
}

int InterruptCounter::count() const {
  return interrupts.load();
}

}  // namespace bluegreen::cli
