// What dying at the worst moment, PID reuse and other users do to a service: a process killed
// anywhere while creating or opening a service or claiming a port never leaves it unusable, a
// dead node never looks alive, and another user cannot open a service that is not shared.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "platform/process.hpp"
#include "registry/names.hpp"
#include "segment/view.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

auto builder(Node& node) {
  return node.service_builder("Robust/Service")
      .request_response<std::uint64_t, std::uint64_t>()
      .max_clients(2)
      .max_servers(1)
      .max_nodes(4);
}

/// Objects of the domain in /dev/shm.
int objects_of(const Config& config) {
  const std::string prefix = detail::domain_object_prefix(config.domain);
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    count += entry.path().filename().string().rfind(prefix, 0) == 0;
  }
  return count;
}

/// A round trip, with every client slot taken: the service works and nothing is held by the dead.
template <typename Service>
void works_fully(Service& service) {
  auto server = service.server_builder().create();
  auto first = service.client_builder().create();
  auto second = service.client_builder().create();  // max_clients = 2: the dead one's slot is free
  auto pending = first.send_copy(41);
  auto active = server.try_receive();
  ASSERT_TRUE(active.has_value());
  ASSERT_TRUE(active->send_copy(active->payload() + 1));
  auto response = pending.try_receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->payload(), 42u);
}

class CrashPoint : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashPoint, AProcessKilledThereNeverLeavesTheServiceUnusable) {
  const Config config = isolated_config();
  const std::string point = GetParam();
  const bool creating = point.rfind("create.", 0) == 0;
  // For opening and port creation, a live process holds the service meanwhile.
  std::optional<Node> holder;
  std::optional<decltype(builder(*holder).create())> held;
  if (!creating) {
    holder.emplace(Node::create("holder", config));
    held.emplace(builder(*holder).create());
  }

  ChildProcess victim([&] {
    ::setenv("FLOE_TEST_CRASH_AT", point.c_str(), 1);
    Node node = Node::create("victim", config);
    auto service = builder(node).open_or_create();
    auto client = service.client_builder().create();
    return 0;  // the crash point was not reached
  });
  ASSERT_EQ(victim.wait(), 128 + SIGKILL) << "the victim did not die at " << point;

  {
    Node survivor = Node::create("survivor", config);
    auto service = builder(survivor).open_or_create();
    works_fully(service);
    EXPECT_EQ(service.usage().nodes, creating ? 1u : 2u) << "the dead node is still counted";
  }
  held.reset();
  holder.reset();
  EXPECT_EQ(objects_of(config), 0) << "the service outlived its last user";
}

INSTANTIATE_TEST_SUITE_P(Robustness, CrashPoint,
                         ::testing::Values("create.unnamed", "create.initialized",
                                           "create.published", "open.locked", "open.claimed",
                                           "port.reset", "port.claimed"));

TEST(Robustness, AReusedPidDoesNotMakeADeadNodeLookAlive) {
  // This process is alive; the same PID with another start time is another process.
  const detail::ProcessIdentity self = detail::current_process();
  EXPECT_FALSE(detail::open_process_handle({self.pid, self.start_time + 1}));
  EXPECT_TRUE(detail::open_process_handle(self));

  // In a service: a dead node whose record now names a live PID (ours, as if the PID had been
  // reused) with the dead process's start time is still dead, and its slot is reclaimed.
  const Config config = isolated_config();
  Node node = Node::create("reuser", config);
  auto service = builder(node).create();
  // Start times count clock ticks (10 ms): the child must start in a later tick than this
  // process, as a process that reuses a PID always does (the PID space cannot wrap in a tick).
  std::this_thread::sleep_for(20ms);
  ChildProcess dead([&] {
    Node other = Node::create("dead", config);
    auto opened = builder(other).open();
    auto client = opened.client_builder().create();
    ::raise(SIGKILL);
    return 0;
  });
  ASSERT_EQ(dead.wait(), 128 + SIGKILL);
  EXPECT_EQ(service.usage().nodes, 2u);
  {
    const auto object = detail::service_object_name(config.domain, "Robust/Service");
    const int fd = ::open(("/dev/shm" + object).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const auto size = static_cast<std::size_t>(::lseek(fd, 0, SEEK_END));
    auto* base =
        static_cast<std::byte*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ::close(fd);
    ASSERT_NE(base, MAP_FAILED);
    const auto* header = reinterpret_cast<const detail::ServiceHeader*>(base);
    const auto layout =
        detail::SegmentLayout::compute(header->limits, header->request, header->response,
                                       header->request_user_header, header->response_user_header);
    ASSERT_TRUE(layout.has_value());
    const detail::SegmentView segment(base, *layout);
    int rewritten = 0;
    for (std::uint32_t n = 0; n < header->limits.max_nodes; ++n) {
      detail::NodeRecord* record = segment.node(n);
      if (record->pid == static_cast<std::uint64_t>(dead.pid())) {
        record->pid = self.pid;  // start time stays the dead process's
        ++rewritten;
      }
    }
    ::munmap(base, size);
    ASSERT_EQ(rewritten, 1);
  }
  // Both client slots: the dead client's is reclaimed although a process with its PID runs.
  auto first = service.client_builder().create();
  auto second = service.client_builder().create();
  EXPECT_EQ(service.usage().nodes, 1u);
}

TEST(Robustness, AStateWordWrittenOverToRemovedNeitherBlocksTheNameNorOutlivesItsUsers) {
  const Config config = isolated_config();
  const std::string path =
      "/dev/shm" + detail::service_object_name(config.domain, "Robust/Service");
  auto say_removed = [&] {
    const int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const auto state = static_cast<std::uint32_t>(detail::SegmentState::removed);
    ASSERT_EQ(::pwrite(fd, &state, sizeof state, offsetof(detail::ServiceHeader, state)),
              static_cast<ssize_t>(sizeof state));
    ::close(fd);
  };
  {
    Node holder = Node::create("holder", config);
    auto held = builder(holder).create();
    say_removed();
    // A newcomer is not turned away (nor sent round in circles) by the lie: the segment
    // disagrees with itself, so it is replaced.
    Node newcomer = Node::create("newcomer", config);
    auto service = builder(newcomer).open_or_create();
    works_fully(service);
  }
  EXPECT_EQ(objects_of(config), 0) << "the replacement outlived its last user";
  {
    Node holder = Node::create("holder", config);
    auto held = builder(holder).create();
    say_removed();
  }
  EXPECT_EQ(objects_of(config), 0) << "the last user left the name to an object saying removed";
}

TEST(Robustness, ServicesAreOwnerOnlyUnlessGroupAccessIsAsked) {
  Config config = isolated_config();
  Node node = Node::create("owner", config);
  auto service = builder(node).create();
  const auto object = "/dev/shm" + detail::service_object_name(config.domain, "Robust/Service");
  EXPECT_EQ(std::filesystem::status(object).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  Config shared = isolated_config();
  shared.group_access = true;
  Node group_node = Node::create("owner", shared);
  auto group_service = builder(group_node).create();
  const auto group_object =
      "/dev/shm" + detail::service_object_name(shared.domain, "Robust/Service");
  using std::filesystem::perms;
  EXPECT_EQ(std::filesystem::status(group_object).permissions(),
            perms::owner_read | perms::owner_write | perms::group_read | perms::group_write);

  if (::geteuid() != 0) GTEST_SKIP() << "a second user needs root to switch to";
  // Another user (nobody) cannot open the owner-only service, and is told why.
  ChildProcess other_user([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;
    Node stranger = Node::create("stranger", config);
    const Errc error = error_of([&] { builder(stranger).open(); });
    FLOE_CHILD_CHECK(error == Errc::permission_denied);
    return 0;
  });
  EXPECT_EQ(other_user.wait(), 0);
}

}  // namespace
}  // namespace floe::test
