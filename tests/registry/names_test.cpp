#include "registry/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace floe::detail {
namespace {

TEST(Names, ServiceNamesAreSlashSeparatedPrintableAndBounded) {
  EXPECT_TRUE(is_valid_service_name("My/Funk/ServiceName"));
  EXPECT_TRUE(is_valid_service_name("a"));
  EXPECT_TRUE(is_valid_service_name(std::string(255, 'x')));
  EXPECT_FALSE(is_valid_service_name(""));
  EXPECT_FALSE(is_valid_service_name(std::string(256, 'x')));
  EXPECT_FALSE(is_valid_service_name("/leading"));
  EXPECT_FALSE(is_valid_service_name("trailing/"));
  EXPECT_FALSE(is_valid_service_name("double//slash"));
  EXPECT_FALSE(is_valid_service_name("with space"));
  EXPECT_FALSE(is_valid_service_name(std::string("nul\0byte", 8)));
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
