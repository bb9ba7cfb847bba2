// Waiting for something only polling can see (a process group emptying, a /proc scan coming up
// empty): the first pauses are short, because what was signalled usually goes within a
// millisecond or two, and they grow to `longest` so a slow exit does not cost a busy loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace bluegreen {

class GrowingPause {
 public:
  using Duration = std::chrono::milliseconds;
  explicit GrowingPause(Duration longest = Duration(20)) : longest_(longest) {}

  // Sleeps for the next pause, never longer than `left`.
  void sleep(Duration left) {
    std::this_thread::sleep_for(std::max(Duration(0), std::min(next_, left)));
    next_ = std::min(next_ * 2, longest_);
  }

 private:
  Duration next_{1};
  Duration longest_;
};

}  // namespace bluegreen
