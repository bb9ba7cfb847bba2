#include "infra/aws/xml.h"

#include <gtest/gtest.h>

namespace bluegreen::aws {
namespace {

TEST(Xml, ReadsNestedElementsTextAndEntities) {
  auto root = parse_xml(R"(<?xml version="1.0" encoding="UTF-8"?>
<!-- answer -->
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <reservationSet>
    <item><instancesSet><item><instanceId>i-1</instanceId><tagSet>
      <item><key>GreenIdentifier</key><value>a&amp;b &lt;c&gt; &#65;&#x42;</value></item>
    </tagSet></item></instancesSet></item>
    <item/>
  </reservationSet>
  <note><![CDATA[<raw> & text]]></note>
</DescribeInstancesResponse>)");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->name, "DescribeInstancesResponse");
  EXPECT_EQ(root->child_text("requestId"), "r-1");
  EXPECT_EQ(root->child("reservationSet")->children_named("item").size(), 2u);
  EXPECT_EQ(root->find("instanceId")->text, "i-1");
  EXPECT_EQ(root->find("value")->text, "a&b <c> AB");
  EXPECT_EQ(root->child_text("note"), "<raw> & text");
  EXPECT_EQ(root->child_text("missing"), "");
}

TEST(Xml, DropsNamespacePrefixesAndAttributes) {
  auto root = parse_xml(R"(<s:Envelope a="x>y" b='1'><s:Body>t</s:Body></s:Envelope>)");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->name, "Envelope");
  EXPECT_EQ(root->child_text("Body"), "t");
}

TEST(Xml, RefusesBrokenDocuments) {
  EXPECT_FALSE(parse_xml(""));
  EXPECT_FALSE(parse_xml("not xml"));
  EXPECT_FALSE(parse_xml("<a><b></a>"));
  EXPECT_FALSE(parse_xml("<a>"));
  EXPECT_FALSE(parse_xml("<a></a><b/>"));
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  EXPECT_FALSE(parse_xml(deep));
}

}  // namespace
}  // namespace bluegreen::aws
