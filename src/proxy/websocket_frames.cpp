#include "proxy/websocket_frames.h"

namespace bluegreen::proxy {
namespace {

// Bytes the header of a frame takes, known once its first two bytes are in.
std::size_t header_size(const unsigned char* header) {
  std::size_t size = 2;
  unsigned length7 = header[1] & 0x7f;
  if (length7 == 126) size += 2;
  if (length7 == 127) size += 8;
  if (header[1] & 0x80) size += 4;  // masking key
  return size;
}

std::uint64_t payload_size(const unsigned char* header) {
  unsigned length7 = header[1] & 0x7f;
  if (length7 < 126) return length7;
  std::uint64_t size = 0;
  std::size_t bytes = length7 == 126 ? 2 : 8;
  for (std::size_t i = 0; i < bytes; ++i) size = (size << 8) | header[2 + i];
  return size;
}

}  // namespace

void WebSocketFrameTracker::feed(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (payload_left_ > 0) {
      std::uint64_t take = bytes.size() - i;
      if (take > payload_left_) take = payload_left_;
      payload_left_ -= take;
      i += static_cast<std::size_t>(take);
      if (payload_left_ == 0 && current_is_close_) close_seen_ = true;
      continue;
    }
    header_[header_have_++] = static_cast<unsigned char>(bytes[i++]);
    if (header_have_ < 2 || header_have_ < header_size(header_)) continue;
    current_is_close_ = (header_[0] & 0x0f) == 0x8;
    payload_left_ = payload_size(header_);
    header_have_ = 0;
    if (payload_left_ == 0 && current_is_close_) close_seen_ = true;
  }
}

std::string websocket_close_frame(std::uint16_t code, std::string_view reason,
                                  std::uint32_t mask_key) {
  if (reason.size() > 123) reason = reason.substr(0, 123);
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason);
  std::string frame;
  frame.push_back(static_cast<char>(0x88));  // FIN + Close
  const char mask_bit = mask_key != 0 ? static_cast<char>(0x80) : 0;
  frame.push_back(static_cast<char>(mask_bit | static_cast<char>(payload.size())));
  if (mask_key != 0) {
    unsigned char key[4] = {
        static_cast<unsigned char>(mask_key >> 24), static_cast<unsigned char>(mask_key >> 16),
        static_cast<unsigned char>(mask_key >> 8), static_cast<unsigned char>(mask_key)};
    frame.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
  }
  frame.append(payload);
  return frame;
}

}  // namespace bluegreen::proxy
