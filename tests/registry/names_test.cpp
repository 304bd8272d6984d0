#include "registry/names.hpp"

#include <gtest/gtest.h>

#include <floe/error.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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

TEST(Names, DataSegmentNamesSayServiceWriterSlotGenerationAndNumber) {
  const std::string service = service_object_name("dom_1", "My/Service");
  const std::string name = data_segment_name(service, DataSegmentWriter::server, 3, 17, 2);
  EXPECT_EQ(name, "/floe_d." + service.substr(6) + ".s3-17-2");
  const auto parsed = parse_data_segment_name(name);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->service_object, service);
  EXPECT_EQ(parsed->writer, DataSegmentWriter::server);
  EXPECT_EQ(parsed->slot, 3u);
  EXPECT_EQ(parsed->generation, 17u);
  EXPECT_EQ(parsed->number, 2u);
  // Not a service object: what lists services never sees it, nor takes a domain from it.
  EXPECT_EQ(domain_of_object(name), "");
  EXPECT_FALSE(name.starts_with("/" + domain_object_prefix("dom_1")));
  const std::string longest = data_segment_name(service_object_name(std::string(64, 'd'), "s"),
                                                DataSegmentWriter::client, ~0u, ~0u, 255);
  EXPECT_LT(longest.size(), 255u);
  EXPECT_EQ(parse_data_segment_name(longest)->slot, ~0u);
}

TEST(Names, DataSegmentPrefixesMatchOnePortLifeOrOneService) {
  const std::string service = service_object_name("d", "a");
  const std::string port = data_segment_prefix(service, DataSegmentWriter::client, 3, 7);
  const std::string whole = data_segment_prefix(service);
  EXPECT_TRUE(data_segment_name(service, DataSegmentWriter::client, 3, 7, 0).starts_with(port));
  EXPECT_TRUE(data_segment_name(service, DataSegmentWriter::client, 3, 7, 12).starts_with(port));
  for (const std::string& other :
       {data_segment_name(service, DataSegmentWriter::client, 31, 7, 0),
        data_segment_name(service, DataSegmentWriter::client, 3, 71, 0),
        data_segment_name(service, DataSegmentWriter::server, 3, 7, 0)}) {
    EXPECT_FALSE(other.starts_with(port)) << other;
    EXPECT_TRUE(other.starts_with(whole)) << other;
  }
  EXPECT_FALSE(data_segment_name(service_object_name("d", "b"), DataSegmentWriter::client, 3, 7, 0)
                   .starts_with(whole));
  EXPECT_FALSE(data_segment_name(service_object_name("dd", "a"), DataSegmentWriter::client, 3, 7, 0)
                   .starts_with(domain_data_segment_prefix("d")));
  EXPECT_TRUE(whole.starts_with(domain_data_segment_prefix("d")));
}

TEST(Names, OtherNamesAreNotDataSegments) {
  const std::string stem = "/floe_d.dom.0123456789abcdef.";
  EXPECT_TRUE(parse_data_segment_name(stem + "c0-0-0"));
  for (const std::string& name :
       {service_object_name("dom", "x"), stem, stem + "c0-0", stem + "c0-0-", stem + "x0-0-0",
        stem + "c-1-0-0", stem + "c01-0-0", stem + "c0-0-0x", stem + "c0-0-4294967296",
        std::string("/floe_d.dom.0123456789abcdeF.c0-0-0"), std::string("/floe_d.dom.0123.c0-0-0"),
        std::string("/floe_d.d.o.0123456789abcdef.c0-0-0"), std::string("floe_d.dom.x")}) {
    EXPECT_FALSE(parse_data_segment_name(name)) << name;
  }
}

TEST(Names, UnlinkingByPrefixRemovesOnlyThoseObjects) {
  const std::string service = service_object_name("names_test" + std::to_string(::getpid()), "s");
  const std::string mine = data_segment_name(service, DataSegmentWriter::server, 1, 2, 0);
  const std::string newer = data_segment_name(service, DataSegmentWriter::server, 1, 2, 1);
  const std::string other = data_segment_name(service, DataSegmentWriter::server, 1, 3, 0);
  for (const std::string& name : {mine, newer, other}) {
    const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << name;
    ::close(fd);
  }
  const std::string port = data_segment_prefix(service, DataSegmentWriter::server, 1, 2);
  EXPECT_EQ(objects_with_prefix(port), (std::vector<std::string>{mine, newer}));
  EXPECT_EQ(unlink_objects_with_prefix(port), 2u);
  EXPECT_EQ(objects_with_prefix(data_segment_prefix(service)), std::vector<std::string>{other});
  EXPECT_EQ(unlink_objects_with_prefix(data_segment_prefix(service)), 1u);
  EXPECT_EQ(unlink_objects_with_prefix(data_segment_prefix(service)), 0u);
}

}  // namespace
}  // namespace floe::detail
