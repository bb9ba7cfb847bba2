#include "frontends/cli/terminal_text.h"

#include <gtest/gtest.h>

namespace bluegreen::cli {
namespace {

TEST(TerminalText, ControlCharactersBecomeVisibleEscapes) {
  EXPECT_EQ(printable("web\x1b]0;pwned\x07\x1b[2J"), "web\\e]0;pwned\\x07\\e[2J");
  EXPECT_EQ(printable("a\nb\tc\rd\x7f"), "a\\nb\\tc\\rd\\x7f");
  EXPECT_EQ(printable(std::string("nul\0end", 7)), "nul\\x00end");
  // C1 controls in UTF-8 (CSI is U+009B), while other UTF-8 stays as it is.
  EXPECT_EQ(printable("\xc2\x9b"
                      "31m"),
            "\\u009b31m");
  EXPECT_EQ(printable("caf\xc3\xa9 \xc2\xa0ok \xe2\x9c\x93"),
            "caf\xc3\xa9 \xc2\xa0ok \xe2\x9c\x93");
  EXPECT_EQ(printable("plain text, 100% safe"), "plain text, 100% safe");
}

TEST(TerminalText, JsonLinesAreAsciiAndKeepTheirValues) {
  nlohmann::json value{{"group", "web\x1b[2J\xc2\x9b caf\xc3\xa9"}};
  auto line = json_line(value);
  for (char c : line) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(static_cast<unsigned char>(c));
  }
  EXPECT_EQ(nlohmann::json::parse(line), value);
}

}  // namespace
}  // namespace bluegreen::cli
