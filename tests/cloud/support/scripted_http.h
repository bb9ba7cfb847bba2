// ScriptedHttp: an HttpClient that answers from a script instead of the network, and keeps
// every request it was sent, for unit tests of the clients above HttpClient. Like the real
// client, it writes a 2xx answer's body to Request::download_to instead of returning it.
#pragma once

#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <vector>

#include "infra/http/http_client.h"

namespace bluegreen::testing {

class ScriptedHttp final : public http::HttpClient {
 public:
  // Answers used in order; when they run out, `fallback` answers (200 "{}" by default).
  std::deque<Result<http::Response>> answers;
  std::function<Result<http::Response>(const http::Request&)> fallback;

  void answer(int status, std::string body, http::Headers headers = {}) {
    answers.push_back(http::Response{status, std::move(headers), std::move(body), 0});
  }
  void fail_next(ErrorKind kind, std::string message) {
    answers.push_back(std::unexpected(Error{kind, std::move(message)}));
  }
  std::vector<http::Request> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }

  Result<http::Response> send(const http::Request& request) override {
    Result<http::Response> next = http::Response{200, {}, "{}", 0};
    {
      std::lock_guard lock(mutex_);
      sent_.push_back(request);
      if (!answers.empty()) {
        next = answers.front();
        answers.pop_front();
      } else if (fallback) {
        next = fallback(request);
      }
    }
    if (next && next->ok() && !request.download_to.empty()) {
      std::ofstream(request.download_to, std::ios::binary) << next->body;
      next->downloaded_bytes = next->body.size();
      next->body.clear();
    }
    return next;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<http::Request> sent_;
};

}  // namespace bluegreen::testing
