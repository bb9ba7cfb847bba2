// Just enough of RFC 6455 framing for the proxy to end a WebSocket tunnel politely: it follows
// frame boundaries in the server-to-client byte stream (without buffering or decoding
// payloads), so that when a drain deadline closes the tunnel it can put a Close frame (1001,
// going away) between two frames instead of into the middle of one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bluegreen::proxy {

// Watches a stream of WebSocket frames. Pure; feed it every byte that passes, in order.
class WebSocketFrameTracker {
 public:
  void feed(std::string_view bytes);
  // True when every frame fed so far is complete: a new frame may be inserted here.
  bool at_frame_boundary() const { return header_have_ == 0 && payload_left_ == 0; }
  // True once a Close frame has passed completely: the sender will send nothing more.
  bool close_seen() const { return close_seen_; }

 private:
  unsigned char header_[14] = {};
  std::size_t header_have_ = 0;  // bytes of the current frame header received
  std::uint64_t payload_left_ = 0;
  bool current_is_close_ = false;
  bool close_seen_ = false;
};

// A complete Close frame with `code` and `reason` (at most 123 bytes are used). Frames a
// client sends must be masked; `mask_key` is used when non-zero.
std::string websocket_close_frame(std::uint16_t code, std::string_view reason,
                                  std::uint32_t mask_key = 0);

}  // namespace bluegreen::proxy
