#include "registry/names.hpp"

#include <gtest/gtest.h>

#include <floe/error.hpp>

#include <fstream>
#include <iterator>
#include <string>

namespace floe::detail {
namespace {

// Each clause of kServiceNameRule, in its order.
TEST(Names, ServiceNamesAreOneTo255Bytes) {
  EXPECT_TRUE(is_valid_service_name("a"));
  EXPECT_TRUE(is_valid_service_name(std::string(255, 'x')));
  EXPECT_FALSE(is_valid_service_name(""));
  EXPECT_FALSE(is_valid_service_name(std::string(256, 'x')));
}

TEST(Names, ServiceNamesArePrintableAsciiOtherThanSpace) {
  EXPECT_TRUE(is_valid_service_name("!\"#$%&'()*+,-.0123456789:;<=>?@AZ[\\]^_`az{|}~"));
  EXPECT_FALSE(is_valid_service_name("with space"));
  EXPECT_FALSE(is_valid_service_name("tab\there"));
  EXPECT_FALSE(is_valid_service_name("new\nline"));
  EXPECT_FALSE(is_valid_service_name("delete\x7f"));
  EXPECT_FALSE(is_valid_service_name("caf\xc3\xa9"));  // UTF-8 is not ASCII
  EXPECT_FALSE(is_valid_service_name(std::string("nul\0byte", 8)));
}

TEST(Names, ServiceNamesAreSlashSeparatedPartsNoneEmptyDotOrDotDot) {
  EXPECT_TRUE(is_valid_service_name("My/Funk/ServiceName"));
  EXPECT_TRUE(is_valid_service_name("a/.hidden/..more/x..y/..."));
  EXPECT_FALSE(is_valid_service_name("/leading"));
  EXPECT_FALSE(is_valid_service_name("trailing/"));
  EXPECT_FALSE(is_valid_service_name("double//slash"));
  EXPECT_FALSE(is_valid_service_name("/"));
  for (const char* name : {".", "..", "./a", "../a", "a/.", "a/..", "a/./b", "a/../b"}) {
    EXPECT_FALSE(is_valid_service_name(name)) << name;
  }
}

TEST(Names, AnInvalidServiceNameIsRefusedWithTheRule) {
  try {
    check_service_name("a/../b");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_name);
    EXPECT_EQ(std::string(e.what()),
              "floe: invalid service name 'a/../b': a service name is 1 to 255 bytes of "
              "printable ASCII other than space ('!' to '~'), in '/'-separated parts, none of "
              "them empty, '.' or '..'");
  }
}

/// README.md states the rule in the words of the message.
TEST(Names, TheReadmeStatesTheServiceNameRule) {
  std::ifstream readme(FLOE_SOURCE_DIR "/README.md");
  ASSERT_TRUE(readme);
  std::string text((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
  // Markdown wraps lines: compare with every run of whitespace as one space.
  std::string flat;
  for (char c : text) {
    const char normal = c == '\n' ? ' ' : c;
    if (normal == ' ' && !flat.empty() && flat.back() == ' ') continue;
    flat += normal;
  }
  std::string rule = kServiceNameRule;
  rule[0] = 'A';
  EXPECT_NE(flat.find(rule), std::string::npos) << "README.md lacks: " << rule;
}

TEST(Names, DomainsAreShortFileNameSafeWords) {
  EXPECT_TRUE(is_valid_domain("default"));
  EXPECT_TRUE(is_valid_domain("test_1-2"));
  EXPECT_FALSE(is_valid_domain(""));
  EXPECT_FALSE(is_valid_domain("a/b"));
  EXPECT_FALSE(is_valid_domain("a.b"));
  EXPECT_FALSE(is_valid_domain(std::string(65, 'd')));
}

TEST(Names, ObjectNamesDependOnDomainAndServiceAndFitAFileName) {
  const std::string a = service_object_name("one", "My/Service");
  EXPECT_NE(a, service_object_name("two", "My/Service"));
  EXPECT_NE(a, service_object_name("one", "My/Service2"));
  EXPECT_EQ(a, service_object_name("one", "My/Service"));
  EXPECT_EQ(a.find('/', 1), std::string::npos);
  EXPECT_LT(service_object_name(std::string(64, 'd'), std::string(255, 's')).size(), 255u);
}

}  // namespace
}  // namespace floe::detail
