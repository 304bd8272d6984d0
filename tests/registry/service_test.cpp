#include <gtest/gtest.h>
#include <signal.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include "registry/names.hpp"
#include "support/fixture.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::error_of;
using test::message_of;
using test::Signal;

struct UserHeader {
  std::uint32_t tag;
};

class Service : public ::testing::Test {
 protected:
  Config config = test::isolated_config();
  Node node = Node::create("service-test", config);

  std::filesystem::path object_path(const std::string& service) const {
    return "/dev/shm" + detail::service_object_name(config.domain, service);
  }
};

TEST_F(Service, CreateOpenAndOpenOrCreateFollowTheContract) {
  auto builder = node.service_builder("Svc/Modes").request_response<std::uint64_t, double>();
  EXPECT_EQ(error_of([&] { builder.open(); }), Errc::service_does_not_exist);
  auto created = builder.create();
  EXPECT_EQ(created.name(), "Svc/Modes");
  EXPECT_EQ(error_of([&] { builder.create(); }), Errc::service_already_exists);
  auto opened = builder.open();
  auto either = builder.open_or_create();
  EXPECT_EQ(either.usage().nodes, 1u) << "one node, however many handles it holds";
}

TEST_F(Service, InvalidNamesAreRejected) {
  for (const char* name : {"", "/x", "x/", "a//b", "sp ace"}) {
    EXPECT_EQ(
        error_of([&] { node.service_builder(name).request_response<int, int>().open_or_create(); }),
        Errc::invalid_name)
        << name;
  }
  EXPECT_EQ(error_of([&] { Node::create(""); }), Errc::invalid_name);
}

TEST_F(Service, OpeningWithOtherTypesFailsAcrossProcesses) {
  Signal created, done;
  ChildProcess creator([&] {
    Node other = Node::create("creator", config);
    auto service = other.service_builder("Svc/Types")
                       .request_response<std::uint64_t, std::uint32_t>()
                       .request_user_header<UserHeader>()
                       .create();
    created.notify();
    return done.wait() == 1 ? 0 : 1;
  });
  ASSERT_EQ(created.wait(), 1);
  auto base = node.service_builder("Svc/Types");
  EXPECT_EQ(error_of([&] { base.request_response<std::uint32_t, std::uint32_t>().open(); }),
            Errc::incompatible_types);
  EXPECT_EQ(error_of([&] { base.request_response<std::uint64_t, std::uint64_t>().open(); }),
            Errc::incompatible_types);
  EXPECT_EQ(error_of([&] { base.request_response<std::uint64_t, std::uint32_t>().open(); }),
            Errc::incompatible_types)
      << "the request user header is part of the type";
  EXPECT_EQ(error_of([&] {
              base.request_response<std::uint64_t, std::uint32_t>()
                  .request_user_header<UserHeader>()
                  .response_user_header<UserHeader>()
                  .open();
            }),
            Errc::incompatible_types);
  auto matching = base.request_response<std::uint64_t, std::uint32_t>()
                      .request_user_header<UserHeader>()
                      .open();
  EXPECT_EQ(matching.usage().nodes, 2u);
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(Service, OpeningAsksAtMostWhatTheServiceWasCreatedWith) {
  auto builder = node.service_builder("Svc/Limits").request_response<int, int>();
  auto created = builder.max_clients(4).enable_fire_and_forget_requests(true).create();
  Node other = Node::create("opener", config);
  auto same = other.service_builder("Svc/Limits").request_response<int, int>();
  EXPECT_NO_THROW(same.max_clients(4).open());
  EXPECT_NO_THROW(same.max_clients(2).open());
  EXPECT_EQ(error_of([&] { same.max_clients(5).open(); }), Errc::incompatible_limits);
  EXPECT_EQ(message_of([&] { same.max_clients(5).open(); }),
            "floe: service 'Svc/Limits' was created with max_clients = 4, which does not satisfy "
            "the requested 5; ask for at most that, or create the service anew once every "
            "process has closed it. Whichever process creates a service sets its limits "
            "for all: give every process the same limits (builder calls or one FLOE_CONFIG)");
  auto flags = other.service_builder("Svc/Limits").request_response<int, int>();
  EXPECT_EQ(error_of([&] { flags.enable_fire_and_forget_requests(false).open(); }),
            Errc::incompatible_limits);
  // A flag reads as true or false.
  EXPECT_EQ(
      message_of([&] { flags.enable_fire_and_forget_requests(false).open(); }),
      "floe: service 'Svc/Limits' was created with enable_fire_and_forget_requests = true, "
      "which does not satisfy the requested false; ask for the same, or create the service "
      "anew once every process has closed it. Whichever process creates a service sets its limits "
      "for all: give every process the same limits (builder calls or one FLOE_CONFIG)");
  // Limits nobody asked for are not checked: an opener gets the service as it is.
  auto plain = other.service_builder("Svc/Limits").request_response<int, int>().open();
  EXPECT_EQ(plain.limits().max_clients, 4u);
  EXPECT_TRUE(plain.limits().enable_fire_and_forget_requests);
}

TEST_F(Service, OutOfRangeLimitsAreRejected) {
  EXPECT_EQ(
      error_of([&] {
        node.service_builder("Svc/Range").request_response<int, int>().max_servers(65).create();
      }),
      Errc::incompatible_limits);
  EXPECT_EQ(
      error_of([&] {
        node.service_builder("Svc/Range").request_response<int, int>().max_clients(4097).create();
      }),
      Errc::incompatible_limits);
}

TEST_F(Service, SliceServiceNeedsMaxWhenCreated) {
  auto bytes = node.service_builder("Svc/Slice").request_response<Slice<std::byte>, int>();
  EXPECT_EQ(error_of([&] { bytes.create(); }), Errc::incompatible_limits);
  EXPECT_EQ(error_of([&] { bytes.open_or_create(); }), Errc::incompatible_limits);
  EXPECT_EQ(message_of([&] { bytes.create(); }),
            "floe: service 'Svc/Slice': a service whose request payload is "
            "floe::Slice<std::byte> needs request_max_slice_len(n) when it is created (the most "
            "elements one request may hold: every chunk has room for that many)");
  auto samples = node.service_builder("Svc/Slice").request_response<int, Slice<std::uint64_t>>();
  EXPECT_EQ(error_of([&] { samples.create(); }), Errc::incompatible_limits);
  EXPECT_EQ(
      error_of([&] { samples.response_max_slice_len((std::uint64_t{1} << 29) + 1).create(); }),
      Errc::incompatible_limits)
      << "a slice holds at most 4 GiB";
  EXPECT_NO_THROW(bytes.request_max_slice_len(64).create());
}

// An opener may leave the max out, as open() does; open_or_create() then only opens.
TEST_F(Service, OpenOrCreateWithoutTheMaxJoinsASliceServiceAnotherProcessCreated) {
  Signal created, done;
  ChildProcess creator([&] {
    Node other = Node::create("creator", config);
    auto service = other.service_builder("Svc/SliceJoin")
                       .request_response<Slice<std::uint32_t>, Slice<std::uint32_t>>()
                       .request_max_slice_len(16)
                       .response_max_slice_len(32)
                       .create();
    created.notify();
    return done.wait() == 1 ? 0 : 1;
  });
  ASSERT_EQ(created.wait(), 1);
  auto joined = node.service_builder("Svc/SliceJoin")
                    .request_response<Slice<std::uint32_t>, Slice<std::uint32_t>>()
                    .open_or_create();
  EXPECT_EQ(joined.client_builder().create().max_slice_len(), 16u);
  EXPECT_EQ(joined.server_builder().create().max_slice_len(), 32u);
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(Service, SliceTypeMismatchIsIncompatible) {
  Signal created, done;
  ChildProcess creator([&] {
    Node other = Node::create("creator", config);
    auto service = other.service_builder("Svc/SliceTypes")
                       .request_response<Slice<std::uint32_t>, std::uint32_t>()
                       .request_max_slice_len(16)
                       .create();
    created.notify();
    return done.wait() == 1 ? 0 : 1;
  });
  ASSERT_EQ(created.wait(), 1);
  auto base = node.service_builder("Svc/SliceTypes");
  EXPECT_EQ(error_of([&] { base.request_response<std::uint32_t, std::uint32_t>().open(); }),
            Errc::incompatible_types)
      << "a fixed payload of the element type is not the slice";
  EXPECT_EQ(message_of([&] { base.request_response<std::uint32_t, std::uint32_t>().open(); }),
            "floe: service 'Svc/SliceTypes' has request type floe::Slice<unsigned int> (element "
            "size 4, alignment 4), not unsigned int (size 4, alignment 4); every process must "
            "use the same types (name, size and alignment: give a type the same floe_type_name "
            "in each), or create the service anew once every process has closed it");
  EXPECT_EQ(error_of([&] { base.request_response<Slice<std::uint64_t>, std::uint32_t>().open(); }),
            Errc::incompatible_types)
      << "the element type must match";
  EXPECT_EQ(error_of([&] {
              base.request_response<Slice<std::uint32_t>, Slice<std::uint32_t>>()
                  .response_max_slice_len(16)
                  .open();
            }),
            Errc::incompatible_types);
  auto matching = base.request_response<Slice<std::uint32_t>, std::uint32_t>().open();
  EXPECT_EQ(matching.usage().nodes, 2u);
  const auto info = node.list_services();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].request_type, "floe::Slice<unsigned int>");
  EXPECT_EQ(info[0].request_max_slice_len, 16u);
  EXPECT_EQ(info[0].response_type, "unsigned int");
  EXPECT_EQ(info[0].response_max_slice_len, 0u);
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(Service, OpenerAskingLargerMaxIsRefused) {
  auto builder = node.service_builder("Svc/SliceMax")
                     .request_response<Slice<std::byte>, Slice<std::uint64_t>>();
  auto created = builder.request_max_slice_len(64).response_max_slice_len(8).create();
  Node other = Node::create("opener", config);
  const auto opener = [&] {
    return other.service_builder("Svc/SliceMax")
        .request_response<Slice<std::byte>, Slice<std::uint64_t>>();
  };
  EXPECT_NO_THROW(opener().open()) << "an opener that asks no max gets the service's";
  EXPECT_NO_THROW(opener().request_max_slice_len(64).response_max_slice_len(1).open());
  EXPECT_EQ(error_of([&] { opener().request_max_slice_len(65).open(); }),
            Errc::incompatible_limits);
  EXPECT_EQ(message_of([&] { opener().response_max_slice_len(9).open(); }),
            "floe: service 'Svc/SliceMax' was created with response_max_slice_len = 8, which "
            "does not satisfy the requested 9; ask for at most that, or create the service anew "
            "once every process has closed it");
  EXPECT_EQ(error_of([&] { opener().response_max_slice_len(9).open_or_create(); }),
            Errc::incompatible_limits);
}

TEST_F(Service, SharedMemoryGoesWithTheLastNode) {
  const auto path = object_path("Svc/Lifetime");
  Signal opened, release;
  std::optional<floe::Service<int, int>> service =
      node.service_builder("Svc/Lifetime").request_response<int, int>().create();
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ChildProcess holder([&] {
    Node other = Node::create("holder", config);
    auto s = other.service_builder("Svc/Lifetime").request_response<int, int>().open();
    auto server = s.server_builder().create();
    opened.notify();
    return release.wait() == 1 ? 0 : 1;
  });
  ASSERT_EQ(opened.wait(), 1);
  service.reset();
  EXPECT_TRUE(std::filesystem::exists(path)) << "the other process still holds it";
  release.notify();
  ASSERT_EQ(holder.wait(), 0);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(Service, PortsKeepTheServiceAlive) {
  const auto path = object_path("Svc/PortLifetime");
  std::optional<floe::Server<int, int>> server;
  {
    auto service = node.service_builder("Svc/PortLifetime").request_response<int, int>().create();
    server.emplace(service.server_builder().create());
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  server.reset();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(Service, DomainsNeverSeeEachOther) {
  auto here = node.service_builder("Svc/Domain").request_response<int, int>().create();
  Config elsewhere = test::isolated_config();
  Node other = Node::create("other-domain", elsewhere);
  EXPECT_EQ(
      error_of([&] { other.service_builder("Svc/Domain").request_response<int, int>().open(); }),
      Errc::service_does_not_exist);
  auto there = other.service_builder("Svc/Domain").request_response<long, long>().create();
  EXPECT_EQ(here.usage().nodes, 1u);
}

TEST_F(Service, SegmentOfACrashedProcessIsReplaced) {
  ChildProcess crasher([&] {
    Node other = Node::create("crasher", config);
    auto service = other.service_builder("Svc/Stale").request_response<int, int>().create();
    auto server = service.server_builder().create();
    auto client = service.client_builder().create();
    auto pending = client.send_copy(1);
    ::raise(SIGKILL);
    return 0;
  });
  EXPECT_EQ(crasher.wait(), 128 + SIGKILL);
  EXPECT_TRUE(std::filesystem::exists(object_path("Svc/Stale"))) << "left behind by the crash";
  EXPECT_EQ(
      error_of([&] { node.service_builder("Svc/Stale").request_response<int, int>().open(); }),
      Errc::service_does_not_exist);
  // Even with other types: what a dead process left never blocks a new service.
  auto service = node.service_builder("Svc/Stale").request_response<long, int>().create();
  EXPECT_EQ(service.usage().nodes, 1u);
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);
}

TEST_F(Service, NodeLimitIsEnforced) {
  auto service =
      node.service_builder("Svc/Nodes").request_response<int, int>().max_nodes(2).create();
  Node second = Node::create("second", config);
  auto two = second.service_builder("Svc/Nodes").request_response<int, int>().open();
  Node third = Node::create("third", config);
  EXPECT_EQ(
      error_of([&] { third.service_builder("Svc/Nodes").request_response<int, int>().open(); }),
      Errc::exceeds_max_nodes);
  const std::string message =
      message_of([&] { third.service_builder("Svc/Nodes").request_response<int, int>().open(); });
  for (const char* part :
       {"service 'Svc/Nodes' has max_nodes = 2 nodes holding it open already",
        ".max_nodes(n) on its builder", "defaults.request_response.max_nodes = n",
        "an existing service keeps its limits until every process has closed it"}) {
    EXPECT_NE(message.find(part), std::string::npos) << part << " is not in: " << message;
  }
}

TEST_F(Service, ErrorsCompareToErrcAndNameTheCategory) {
  const Error e(Errc::corrupted, "x");
  EXPECT_EQ(e.code(), Errc::corrupted);
  EXPECT_STREQ(e.code().category().name(), "floe");
  EXPECT_EQ(e.code().message(), "corrupted shared memory");
}

}  // namespace
}  // namespace floe
