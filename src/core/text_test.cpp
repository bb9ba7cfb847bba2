#include "core/text.h"

#include <gtest/gtest.h>

namespace bluegreen {
namespace {

TEST(Text, APrefixNeverEndsInsideACharacter) {
  const std::string text =
      "ab\xC3\xA9"
      "cd";  // "abécd": é is two bytes
  EXPECT_EQ(utf8_prefix(text, 10), text);
  EXPECT_EQ(utf8_prefix(text, 4), "ab\xC3\xA9");
  EXPECT_EQ(utf8_prefix(text, 3), "ab");  // not half of é
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

TEST(Text, ClipMarksTheCutWithinTheLimit) {
  EXPECT_EQ(clip("short", 10), "short");
  EXPECT_EQ(clip("0123456789", 8), "01234...");
  const std::string accented = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";  // four é, 8 bytes
  EXPECT_EQ(clip(accented, 7), "\xC3\xA9\xC3\xA9...");              // 4 bytes kept, not 5
  EXPECT_EQ(clip("0123456789", 2), "...");
}

TEST(Text, QuotedEscapesWhatCouldBreakALineAndCutsALongValue) {
  EXPECT_EQ(quoted("web"), "\"web\"");
  EXPECT_EQ(quoted("web\x1b[2J\r"), "\"web\\u001b[2J\\r\"");
  EXPECT_EQ(quoted("a\xff"), "\"a\xEF\xBF\xBD\"");  // invalid UTF-8 replaced, not thrown
  EXPECT_EQ(quoted(std::string(150, 'x')), "\"" + std::string(100, 'x') + "\"\u2026");
}

}  // namespace
}  // namespace bluegreen
