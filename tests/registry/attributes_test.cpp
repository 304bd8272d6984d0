// Service attributes: defined by the creator, stored in the segment, read and required by
// openers in other processes, and never read out of bounds whatever a writer put there.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>

#include "registry/names.hpp"
#include "registry/segment_header.hpp"
#include "support/fixture.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::error_of;
using test::message_of;
using test::Signal;

class Attributes : public test::U64ServiceTest {
 protected:
  std::string object() const { return detail::service_object_name(config.domain, "Test/Service"); }

  /// A copy of the service's header, as another process maps it, and the object's size.
  std::pair<detail::ServiceHeader, std::uint64_t> header_copy() const {
    detail::ServiceHeader header{};
    const int fd = ::shm_open(object().c_str(), O_RDONLY | O_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    const off_t size = ::lseek(fd, 0, SEEK_END);
    EXPECT_EQ(::pread(fd, &header, sizeof header, 0), static_cast<ssize_t>(sizeof header));
    ::close(fd);
    return {header, static_cast<std::uint64_t>(size)};
  }
};

TEST_F(Attributes, AnOpenerInAnotherProcessReadsAndRequiresTheCreatorsAttributes) {
  const std::string longest_key(kMaxAttributeKeyLength, 'k');
  const std::string longest_value(kMaxAttributeValueLength, 'v');
  Signal done;
  ChildProcess creator = creator_holding(
      [&](auto creating) {
        return creating
            .attributes(AttributeSpecifier()
                            .define("resolution", "1920x1080")
                            .define("camera", "rear")
                            .define("camera", "front")
                            .define(longest_key, longest_value))
            .create();
      },
      done);

  auto opened = builder()
                    .required_attributes(AttributeVerifier()
                                             .require("resolution", "1920x1080")
                                             .require("camera", "rear")
                                             .require_key("camera")
                                             .require_key(longest_key))
                    .open();
  const AttributeSet& attributes = opened.attributes();
  EXPECT_EQ(attributes.size(), 4u);
  EXPECT_EQ(attributes.values("camera"), (std::vector<std::string>{"front", "rear"}));
  EXPECT_EQ(attributes.value("resolution"), "1920x1080");
  EXPECT_EQ(attributes.value(longest_key), longest_value);
  EXPECT_FALSE(attributes.value("lens"));
  EXPECT_EQ(builder().open().attributes(), attributes) << "requiring nothing accepts any";

  const std::string wrong_value = message_of([&] {
    builder().required_attributes(AttributeVerifier().require("resolution", "3840x2160")).open();
  });
  EXPECT_NE(wrong_value.find("'resolution' = '3840x2160' is required, but 'resolution' is "
                             "'1920x1080'"),
            std::string::npos)
      << wrong_value;
  EXPECT_EQ(error_of([&] {
              builder().required_attributes(AttributeVerifier().require("camera", "side")).open();
            }),
            Errc::incompatible_attributes);
  const std::string missing_key = message_of(
      [&] { builder().required_attributes(AttributeVerifier().require_key("lens")).open(); });
  EXPECT_NE(missing_key.find("attribute 'lens' is required, but it is not defined"),
            std::string::npos)
      << missing_key;
  EXPECT_EQ(error_of([&] {
              builder().required_attributes(AttributeVerifier().require("lens", "wide")).open();
            }),
            Errc::incompatible_attributes);
  EXPECT_EQ(
      error_of([&] {
        builder().required_attributes(AttributeVerifier().require_key("lens")).open_or_create();
      }),
      Errc::incompatible_attributes)
      << "open_or_create opens the existing service and requires as open() does";
  // An opener's own attributes() define nothing for a service that exists.
  EXPECT_EQ(builder().attributes(AttributeSpecifier().define("lens", "wide")).open().attributes(),
            attributes);

  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(Attributes, AttributesBeyondWhatASegmentHoldsAreRefusedWhenDefined) {
  const auto refused = [](auto define) {
    return message_of([&] {
      AttributeSpecifier specifier;
      define(specifier);
    });
  };
  EXPECT_NE(refused([](AttributeSpecifier& s) { s.define("", "v"); }).find("want 1 to 63"),
            std::string::npos);
  EXPECT_NE(refused([](AttributeSpecifier& s) {
              s.define(std::string(kMaxAttributeKeyLength + 1, 'k'), "v");
            }).find("has 64 bytes; want 1 to 63"),
            std::string::npos);
  EXPECT_NE(refused([](AttributeSpecifier& s) {
              s.define("k", std::string(kMaxAttributeValueLength + 1, 'v'));
            }).find("has 192 bytes; want 1 to 191"),
            std::string::npos);
  EXPECT_NE(refused([](AttributeSpecifier& s) { s.define("k", ""); }).find("want 1 to 191"),
            std::string::npos);
  EXPECT_NE(refused([](AttributeSpecifier& s) {
              for (std::size_t i = 0; i <= kMaxAttributes; ++i)
                s.define("key" + std::to_string(i), "v");
            }).find("'key16' is one too many: a service holds at most 16 attributes"),
            std::string::npos);
  EXPECT_EQ(error_of([] { AttributeVerifier().require_key(""); }), Errc::invalid_attributes);
  EXPECT_EQ(error_of([] { AttributeVerifier().require("k", ""); }), Errc::invalid_attributes);

  // Exactly full: created, and read back in order by another process.
  AttributeSpecifier full;
  for (std::size_t i = 0; i < kMaxAttributes; ++i)
    full.define("key" + std::to_string(kMaxAttributes - 1 - i), std::to_string(i));
  auto service = builder().attributes(full).create();
  ChildProcess reader([&] {
    auto opened = open_as("reader");
    FLOE_CHILD_CHECK(opened.attributes() == full.attributes());
    FLOE_CHILD_CHECK(opened.attributes().items().front().key == "key0");
    return 0;
  });
  EXPECT_EQ(reader.wait(), 0);
}

TEST_F(Attributes, NothingIsCreatedWithAttributesThatFailTheBuildersOwnRequirements) {
  auto own = builder()
                 .attributes(AttributeSpecifier().define("version", "1"))
                 .required_attributes(AttributeVerifier().require("version", "2"));
  const std::string created = message_of([&] { own.create(); });
  EXPECT_NE(created.find("is not created: its attributes() do not meet its required_attributes(): "
                         "attribute 'version' = '2' is required, but 'version' is '1'"),
            std::string::npos)
      << created;
  EXPECT_EQ(error_of([&] { own.open_or_create(); }), Errc::incompatible_attributes);
  EXPECT_FALSE(std::filesystem::exists("/dev/shm" + object()));

  // Once another process created it with what is required, the same builder opens it.
  Signal done;
  ChildProcess creator = creator_holding(
      [](auto creating) {
        return creating.attributes(AttributeSpecifier().define("version", "2")).create();
      },
      done);
  EXPECT_EQ(own.open_or_create().attributes().value("version"), "2");
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(Attributes, StoredCountsAndLengthsOutOfRangeMakeTheHeaderDamaged) {
  auto service = builder().attributes(AttributeSpecifier().define("k", "v")).create();
  const auto copy = header_copy();
  const detail::ServiceHeader& sound = copy.first;
  const std::uint64_t size = copy.second;
  ASSERT_TRUE(detail::validate_header(sound, size).sound());
  const auto judged = [&](auto scribble) {
    detail::ServiceHeader header = sound;
    scribble(header.attributes);
    return detail::validate_header(header, size).verdict;
  };
  using detail::HeaderVerdict;
  using detail::StoredAttributes;
  EXPECT_EQ(judged([](StoredAttributes& a) { a.count = kMaxAttributes + 1; }),
            HeaderVerdict::damaged);
  EXPECT_EQ(judged([](StoredAttributes& a) { a.count = 0xffffffffu; }), HeaderVerdict::damaged);
  EXPECT_EQ(judged([](StoredAttributes& a) { a.items[0].key_length = 0; }), HeaderVerdict::damaged);
  EXPECT_EQ(judged([](StoredAttributes& a) { a.items[0].key_length = kMaxAttributeKeyLength + 1; }),
            HeaderVerdict::damaged);
  EXPECT_EQ(judged([](StoredAttributes& a) { a.items[0].value_length = 0xff; }),
            HeaderVerdict::damaged);
  EXPECT_EQ(judged([](StoredAttributes& a) { a.count = kMaxAttributes; }), HeaderVerdict::damaged)
      << "the unused items are zeros: empty keys";
  EXPECT_EQ(judged([](StoredAttributes& a) { a.count = 0; }), HeaderVerdict::sound);

  // Written into the live segment by another process: the next opener finds it damaged (and
  // replaces it), never reads past an item.
  ChildProcess attacker([&] {
    const int fd = ::shm_open(object().c_str(), O_RDWR | O_CLOEXEC, 0);
    FLOE_CHILD_CHECK(fd >= 0);
    const std::uint32_t count = 1000;
    FLOE_CHILD_CHECK(
        ::pwrite(fd, &count, sizeof count, offsetof(detail::ServiceHeader, attributes)) ==
        static_cast<ssize_t>(sizeof count));
    ::close(fd);
    return 0;
  });
  ASSERT_EQ(attacker.wait(), 0);
  ChildProcess opener([&] {
    const std::string message = message_of([&] { open_as("opener"); });
    FLOE_CHILD_CHECK(message.find("does not exist (a damaged segment was removed") !=
                     std::string::npos);
    return 0;
  });
  EXPECT_EQ(opener.wait(), 0);
}

}  // namespace
}  // namespace floe
