#include "proxy/websocket_frames.h"

#include <gtest/gtest.h>

namespace bluegreen::proxy {
namespace {

std::string text_frame(std::size_t length) {
  std::string frame;
  frame.push_back(static_cast<char>(0x81));
  if (length < 126) {
    frame.push_back(static_cast<char>(length));
  } else {
    frame.push_back(126);
    frame.push_back(static_cast<char>(length >> 8));
    frame.push_back(static_cast<char>(length & 0xff));
  }
  return frame + std::string(length, 'x');
}

TEST(WebSocketFrameTracker, KnowsWhenAFrameIsComplete) {
  WebSocketFrameTracker tracker;
  EXPECT_TRUE(tracker.at_frame_boundary());
  std::string frames = text_frame(5) + text_frame(300);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    tracker.feed(std::string_view(frames).substr(i, 1));
    const bool end_of_frame = i + 1 == 7 || i + 1 == frames.size();
    EXPECT_EQ(tracker.at_frame_boundary(), end_of_frame) << i;
  }
  EXPECT_FALSE(tracker.close_seen());
}

TEST(WebSocketFrameTracker, SeesACloseFrame) {
  WebSocketFrameTracker tracker;
  std::string close = websocket_close_frame(1000, "bye");
  tracker.feed(close.substr(0, 3));
  EXPECT_FALSE(tracker.close_seen());
  tracker.feed(close.substr(3));
  EXPECT_TRUE(tracker.close_seen());
  EXPECT_TRUE(tracker.at_frame_boundary());
}

TEST(WebSocketCloseFrame, CarriesCodeAndReasonMaskedWhenAsked) {
  std::string frame = websocket_close_frame(1001, "going away");
  ASSERT_EQ(frame.size(), 2u + 2u + 10u);
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x88);
  EXPECT_EQ(frame[1], 12);
  EXPECT_EQ((static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]),
            1001);
  EXPECT_EQ(frame.substr(4), "going away");

  std::string masked = websocket_close_frame(1001, "", 0x01020304);
  ASSERT_EQ(masked.size(), 2u + 4u + 2u);
  EXPECT_EQ(static_cast<unsigned char>(masked[1]), 0x80 | 2);
  EXPECT_EQ(static_cast<unsigned char>(masked[6]) ^ 0x01, 1001 >> 8);
  EXPECT_EQ(static_cast<unsigned char>(masked[7]) ^ 0x02, 1001 & 0xff);
}

}  // namespace
}  // namespace bluegreen::proxy
