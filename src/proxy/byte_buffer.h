// ByteBuffer: the read buffer of one connection. Bytes arrive at the end and are consumed from
// the front; the storage is kept and reused for the life of the connection, so steady-state
// requests allocate nothing. Not thread-safe (one connection, one thread).
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>
#include <vector>

namespace bluegreen::proxy {

class ByteBuffer {
 public:
  explicit ByteBuffer(std::size_t initial_capacity = 16 * 1024) : storage_(initial_capacity) {}

  std::string_view view() const { return {storage_.data() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() { begin_ = end_ = 0; }

  // Room for at least `min_free` more bytes at the end (moves unread bytes to the front first).
  char* prepare(std::size_t min_free) {
    if (storage_.size() - end_ < min_free && begin_ > 0) {
      std::memmove(storage_.data(), storage_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (storage_.size() - end_ < min_free) storage_.resize(end_ + min_free);
    return storage_.data() + end_;
  }
  std::size_t free_space() const { return storage_.size() - end_; }
  void commit(std::size_t n) { end_ += n; }

 private:
  std::vector<char> storage_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace bluegreen::proxy
