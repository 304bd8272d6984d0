// What happens to the data segments of a slice service's ports when nobody frees them: a dead
// writer's at reclaim, all of a service's at its removal, orphans (no service object) at
// clean_up_dead_nodes. The objects are made here at the names a growing port gives them, so
// these tests judge the cleanup alone, whatever writes the segments.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "platform/shared_memory.hpp"
#include "registry/inspection.hpp"
#include "registry/names.hpp"
#include "support/fixture.hpp"
#include "support/shm_objects.hpp"

namespace floe::test {
namespace {

using detail::DataSegmentWriter;

class DataSegmentCleanupTest : public ::testing::Test {
 protected:
  Config config = isolated_config();
  Node node = Node::create("cleanup-test", config);
  std::string object = detail::service_object_name(config.domain, "Data/Service");

  auto builder(const Node& n) const {
    return n.service_builder("Data/Service")
        .request_response<Slice<std::byte>, Slice<std::byte>>()
        .request_max_slice_len(64)
        .response_max_slice_len(64);
  }
  /// A process of its own, with a Node of its own, holding what `hold(node)` returns until it
  /// is killed.
  template <typename Hold>
  ChildProcess holding(Hold hold) {
    return started([&](const Signal& ready) {
      const Node theirs = Node::create("killed", config);
      auto held = hold(theirs);
      ready.notify();
      return wait_to_be_killed();
    });
  }
  /// An object of `bytes` at a data segment's name, as a growing port leaves one.
  static void make_object(const std::string& name, off_t bytes = 4096) {
    const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0) << name;
    EXPECT_EQ(::ftruncate(fd, bytes), 0);
    ::close(fd);
  }
  static bool exists(const std::string& name) {
    return detail::SharedMemoryObject::status_of_name(name).has_value();
  }
  /// The port `server` of the service, as `floe inspect` sees it.
  detail::PortReport port_of(bool server) const {
    const detail::SegmentReport report = detail::inspect_object(object);
    const auto port = std::find_if(report.ports.begin(), report.ports.end(),
                                   [&](const detail::PortReport& p) { return p.server == server; });
    EXPECT_NE(port, report.ports.end());
    return port == report.ports.end() ? detail::PortReport{} : *port;
  }
};

TEST_F(DataSegmentCleanupTest, ADeadWritersSegmentsGoAtReclaimAndNoOneElses) {
  auto service = builder(node).create();
  auto server = service.server_builder().create();
  const detail::PortReport live_server = port_of(true);
  auto killed = holding([&](const Node& theirs) {
    auto opened = builder(theirs).open();
    auto client = opened.client_builder().create();
    return std::pair(std::move(opened), std::move(client));
  });
  const detail::PortReport dead_client = port_of(false);
  const auto name = [&](const detail::PortReport& port, DataSegmentWriter writer,
                        std::uint32_t generation, std::uint32_t number) {
    return detail::data_segment_name(object, writer, port.slot, generation, number);
  };
  const std::vector<std::string> dead = {
      name(dead_client, DataSegmentWriter::client, dead_client.generation, 1),
      name(dead_client, DataSegmentWriter::client, dead_client.generation, 2)};
  const std::vector<std::string> kept = {
      name(live_server, DataSegmentWriter::server, live_server.generation, 1),
      // The same slot's next life is another port.
      name(dead_client, DataSegmentWriter::client, dead_client.generation + 1, 1)};
  for (const auto& n : dead)
    make_object(n, 8192);
  for (const auto& n : kept)
    make_object(n);

  const ServiceUsage usage = service.usage();
  EXPECT_EQ(usage.data_segments, 4u);
  EXPECT_EQ(usage.data_segment_bytes, 2u * 8192 + 2 * 4096);
  const detail::PortReport counted = port_of(false);
  EXPECT_EQ(counted.data_segments, 2u);
  EXPECT_EQ(counted.data_segment_bytes, 2u * 8192);
  EXPECT_EQ(counted.newest_data_segment, 2u);

  killed.kill();
  const DeadNodeCleanup cleaned = node.clean_up_dead_nodes();
  EXPECT_EQ(cleaned.ports, 1u);
  EXPECT_EQ(cleaned.removed_data_segments, 2u);
  for (const auto& n : dead)
    EXPECT_FALSE(exists(n)) << n;
  for (const auto& n : kept)
    EXPECT_TRUE(exists(n)) << n;
  EXPECT_EQ(service.usage().data_segments, 2u);
}

TEST_F(DataSegmentCleanupTest, ASlotsNextLifeRemovesWhatItsLastLifeLeft) {
  auto service = builder(node).create();
  { auto first = service.client_builder().create(); }  // slot 0, generation 1, closed
  const std::string left = detail::data_segment_name(object, DataSegmentWriter::client, 0, 1, 1);
  make_object(left);  // as if its process died after freeing the slot, before unlinking this
  auto second = service.client_builder().create();
  EXPECT_EQ(port_of(false).generation, 2u);
  EXPECT_FALSE(exists(left));
}

TEST_F(DataSegmentCleanupTest, AServiceRemovedTakesItsDataSegmentsAlong) {
  const std::string other_service = detail::service_object_name(config.domain, "Other");
  const std::string others =
      detail::data_segment_name(other_service, DataSegmentWriter::client, 0, 1, 1);
  {
    std::optional<decltype(builder(node).create())> service(builder(node).create());
    make_object(detail::data_segment_name(object, DataSegmentWriter::client, 0, 1, 1));
    make_object(detail::data_segment_name(object, DataSegmentWriter::server, 0, 1, 3));
    auto other = node.service_builder("Other")
                     .request_response<Slice<std::byte>, std::uint64_t>()
                     .request_max_slice_len(8)
                     .create();
    make_object(others);
    ASSERT_EQ(objects_of_domain(config).size(), 5u);
    auto keep_other = std::move(other);
    service.reset();  // the last handle of Data/Service goes: it is removed
    std::vector<std::string> left = objects_of_domain(config);
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{other_service.substr(1), others.substr(1)}));
  }
  EXPECT_TRUE(objects_of_domain(config).empty());
}

TEST_F(DataSegmentCleanupTest, AStaleServiceRemovedByOpenTakesItsDataSegmentsAlong) {
  auto killed = holding([&](const Node& theirs) {
    auto created = builder(theirs).create();
    auto server = created.server_builder().create();
    return std::pair(std::move(created), std::move(server));
  });
  const std::string left = detail::data_segment_name(object, DataSegmentWriter::server, 0, 1, 1);
  make_object(left);
  killed.kill();
  auto service = builder(node).open_or_create();  // replaces the stale one
  EXPECT_FALSE(exists(left));
  EXPECT_EQ(service.usage().data_segments, 0u);
}

TEST_F(DataSegmentCleanupTest, OrphansAreRemovedByCleanUpDeadNodesOnly) {
  auto service = builder(node).create();
  const std::string owned = detail::data_segment_name(object, DataSegmentWriter::client, 0, 1, 1);
  const std::string orphan = detail::data_segment_name(
      detail::service_object_name(config.domain, "Gone"), DataSegmentWriter::server, 2, 5, 7);
  const std::string not_a_data_segment = detail::domain_data_segment_prefix(config.domain) + "x";
  for (const auto& n : {owned, orphan, not_a_data_segment})
    make_object(n);
  EXPECT_EQ(detail::orphaned_data_segments(config.domain), std::vector<std::string>{orphan});
  EXPECT_TRUE(node.list_services().size() == 1) << "a data segment is not listed as a service";

  const DeadNodeCleanup cleaned = node.clean_up_dead_nodes();
  EXPECT_EQ(cleaned.removed_data_segments, 1u);
  EXPECT_FALSE(exists(orphan));
  EXPECT_TRUE(exists(owned));
  EXPECT_TRUE(exists(not_a_data_segment)) << "only names floe gives are judged";
  ::shm_unlink(not_a_data_segment.c_str());
}

}  // namespace
}  // namespace floe::test
