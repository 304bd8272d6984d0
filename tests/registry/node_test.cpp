// A node's view of its domain: one node record however many handles it holds, the services it
// can list and look for, and the dead nodes it can reclaim on demand.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "registry/names.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

class NodeTest : public ::testing::Test {
 protected:
  Config config = isolated_config();
  Node node = Node::create("node-test", config);

  auto builder(const Node& n, const char* name = "Node/Service") const {
    return n.service_builder(name).request_response<std::uint64_t, std::uint64_t>();
  }
  std::filesystem::path object_path(const char* name = "Node/Service") const {
    return "/dev/shm" + detail::service_object_name(config.domain, name);
  }
  /// A process of its own, with a Node of its own, takes what `hold(node)` returns (a service
  /// and a port, say) and is SIGKILLed holding it: what a crash leaves behind.
  template <typename Hold>
  void killed_while_holding(Hold hold) {
    auto killed = started([&](const Signal& ready) {
      const Node theirs = Node::create("killed", config);
      auto held = hold(theirs);
      ready.notify();
      return wait_to_be_killed();
    });
    killed.kill();
  }
  /// The service's entry in node.list_services(), if listed.
  std::optional<ServiceInfo> listed(const char* name = "Node/Service") const {
    for (ServiceInfo& info : node.list_services()) {
      if (info.name == name) return info;
    }
    return std::nullopt;
  }
};

TEST_F(NodeTest, OpeningAServiceAgainCountsTheNodeOnce) {
  auto created = builder(node).create();
  auto opened = builder(node).open();
  auto either = builder(node).open_or_create();
  for (const auto* service : {&created, &opened, &either}) {
    EXPECT_EQ(service->usage().nodes, 1u);
  }
  EXPECT_EQ(error_of([&] { builder(node).create(); }), Errc::service_already_exists);
  // Still checked as a first open is: types and the limits asked for.
  EXPECT_EQ(error_of([&] {
              node.service_builder("Node/Service")
                  .request_response<std::uint32_t, std::uint64_t>()
                  .open();
            }),
            Errc::incompatible_types);
  EXPECT_EQ(error_of([&] { builder(node).max_clients(9).open(); }), Errc::incompatible_limits);
  EXPECT_EQ(error_of([&] {
              builder(node).required_attributes(AttributeVerifier().require_key("camera")).open();
            }),
            Errc::incompatible_attributes);
  EXPECT_EQ(error_of([&] { builder(node).request_payload_alignment(4096).open(); }),
            Errc::incompatible_types);
  // A second Node, even in this process, is a second node.
  Node other = Node::create("other", config);
  auto theirs = builder(other).open();
  EXPECT_EQ(created.usage().nodes, 2u);
  // And the handles share one service: a server made from one is seen through the others.
  auto server = opened.server_builder().create();
  EXPECT_EQ(theirs.usage().servers, 1u);
  EXPECT_EQ(either.usage().servers, 1u);
}

TEST_F(NodeTest, WithMaxNodesOneTheCreatorOpensItsServiceAgainAndOthersAreRefused) {
  auto created = builder(node).max_nodes(1).create();
  auto again = builder(node).open();
  auto once_more = builder(node).max_nodes(1).open_or_create();
  EXPECT_EQ(again.usage().nodes, 1u);
  Node other = Node::create("other", config);
  EXPECT_EQ(error_of([&] { builder(other).open(); }), Errc::exceeds_max_nodes);
  ChildProcess child([&] {
    Node theirs = Node::create("child", config);
    FLOE_CHILD_CHECK(error_of([&] { builder(theirs).open(); }) == Errc::exceeds_max_nodes);
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(created.usage().nodes, 1u);
}

TEST_F(NodeTest, NodeServicesAndPortsMayBeDroppedInAnyOrder) {
  // 0: the Node, 1: the creating Service, 2: a second handle, 3: a client of the second.
  std::array<int, 4> order{0, 1, 2, 3};
  do {
    std::optional<Node> owner = Node::create("owner", config);
    std::optional<U64Service> created = builder(*owner).create();
    std::optional<U64Service> opened = builder(*owner).open();
    std::optional<U64Client> client = opened->client_builder().create();
    ASSERT_EQ(created->usage().nodes, 1u);
    for (int step = 0; step < 4; ++step) {
      // The Node itself holds no service: the handles and ports do.
      const bool held = created || opened || client;
      ASSERT_EQ(node.service_exists("Node/Service"), held)
          << "step " << step << " of " << order[0] << order[1] << order[2] << order[3];
      switch (order[step]) {
        case 0:
          owner.reset();
          break;
        case 1:
          created.reset();
          break;
        case 2:
          opened.reset();
          break;
        case 3:
          client.reset();
          break;
      }
    }
    EXPECT_FALSE(node.service_exists("Node/Service"));
    EXPECT_FALSE(std::filesystem::exists(object_path())) << "the last handle removes it";
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_F(NodeTest, ThreadsOpeningOneServiceFromOneNodeTakeOneNodeRecord) {
  constexpr int kThreads = 4;
  constexpr int kOpens = 200;
  std::barrier together(kThreads);
  std::vector<std::vector<U64Service>> opened(kThreads);
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      together.arrive_and_wait();
      for (int i = 0; i < kOpens; ++i) {
        try {
          // max_nodes(1): a second record for the node would be refused.
          opened[t].push_back(builder(node).max_nodes(1).open_or_create());
        } catch (const Error&) {
          ++refused;
        }
        // Dropping some on the way exercises a handle going while others open.
        if (i % 3 == 0 && !opened[t].empty()) opened[t].erase(opened[t].begin());
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(refused.load(), 0);
  for (auto& services : opened) {
    for (auto& service : services)
      EXPECT_EQ(service.usage().nodes, 1u);
  }
  auto client = opened[0].back().client_builder().create();
  EXPECT_EQ(opened[kThreads - 1].back().usage().clients, 1u) << "one service for all";
}

TEST_F(NodeTest, AChildForkedWithTheNodeIsANodeOfItsOwn) {
  auto service = builder(node).max_clients(1).create();
  auto child = started([&](const Signal& ready) {
    // The parent's Node, copied by fork: its ports must die with this process, not live on as
    // the parent's.
    auto opened = builder(node).open();
    auto client = opened.client_builder().create();
    FLOE_CHILD_CHECK(opened.usage().nodes == 2);
    ready.notify();
    return wait_to_be_killed();
  });
  EXPECT_EQ(service.usage().nodes, 2u);
  EXPECT_EQ(service.usage().clients, 1u);
  child.kill();
  const DeadNodeCleanup cleaned = node.clean_up_dead_nodes();
  EXPECT_EQ(cleaned.nodes, 1u);
  EXPECT_EQ(cleaned.ports, 1u);
  auto client = service.client_builder().create();
}

TEST_F(NodeTest, AServiceReplacedUnderItsNameIsNotReused) {
  auto first = builder(node).create();
  // An operator removes the object by hand, and another node creates the service anew.
  ASSERT_EQ(::shm_unlink(detail::service_object_name(config.domain, "Node/Service").c_str()), 0);
  Node other = Node::create("other", config);
  auto replacement = builder(other).create();
  auto opened = builder(node).open();
  EXPECT_EQ(replacement.usage().nodes, 2u) << "the node joined the new service";
  auto server = opened.server_builder().create();
  EXPECT_EQ(replacement.usage().servers, 1u);
  EXPECT_EQ(first.usage().servers, 0u) << "the old one is left to the handles that hold it";
}

TEST_F(NodeTest, ListsTheDomainsServicesAndTellsWhetherOneExists) {
  EXPECT_TRUE(node.list_services().empty());
  EXPECT_FALSE(node.service_exists("Node/Service"));
  EXPECT_EQ(error_of([&] { node.service_exists("/bad"); }), Errc::invalid_name);
  auto service = builder(node).max_clients(3).create();
  auto client = service.client_builder().create();
  auto other =
      node.service_builder("Node/Other").request_response<std::uint32_t, double>().create();
  // An object of the domain that is no floe segment at all: listed, not a reason to throw.
  const std::string junk = "/floe." + config.domain + ".junk";
  const int fd = ::shm_open(junk.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "not floe", 8), 8);
  ::close(fd);

  const auto services = node.list_services();
  ASSERT_EQ(services.size(), 3u);
  const auto info = listed();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, ServiceState::live);
  EXPECT_EQ(info->object, detail::service_object_name(config.domain, "Node/Service"));
  EXPECT_EQ(info->request_type, TypeInfo::of<std::uint64_t>().name);
  EXPECT_EQ(info->response_type, TypeInfo::of<std::uint64_t>().name);
  EXPECT_EQ(info->request_user_header_type, "");
  EXPECT_EQ(info->limits, service.limits());
  EXPECT_EQ(info->limits.max_clients, 3u);
  EXPECT_EQ(info->live_nodes, 1u);
  EXPECT_EQ(info->dead_nodes, 0u);
  EXPECT_EQ(info->usage.clients, 1u);
  EXPECT_EQ(listed("Node/Other")->response_type, TypeInfo::of<double>().name);
  const auto unreadable = std::count_if(services.begin(), services.end(), [&](const auto& s) {
    return s.object == junk && s.state != ServiceState::live && !s.problem.empty();
  });
  EXPECT_EQ(unreadable, 1);
  EXPECT_TRUE(node.service_exists("Node/Service"));
  EXPECT_TRUE(node.service_exists("Node/Other"));
  EXPECT_FALSE(node.service_exists("Node/None"));
  // Nobody holds the junk: it goes, as `floe clean` and open() at its name would remove it.
  EXPECT_EQ(node.clean_up_dead_nodes().removed_services, 1u);
  EXPECT_FALSE(std::filesystem::exists("/dev/shm" + junk));
  EXPECT_EQ(node.list_services().size(), 2u);
}

TEST_F(NodeTest, CleanUpDeadNodesFreesAKilledProcesssNodeAndItsPorts) {
  auto service = builder(node).max_clients(1).max_nodes(2).create();
  auto server = service.server_builder().create();
  killed_while_holding([&](const Node& theirs) {
    auto opened = builder(theirs).open();
    auto client = opened.client_builder().create();
    return std::pair(std::move(opened), std::move(client));
  });
  auto info = listed();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->live_nodes, 1u);
  EXPECT_EQ(info->dead_nodes, 1u);
  // Each node by the name it was created with, and what it holds.
  ASSERT_EQ(info->nodes.size(), 2u);
  const auto by_name = [&](const std::string& name) {
    const auto found = std::find_if(info->nodes.begin(), info->nodes.end(),
                                    [&](const NodeInfo& n) { return n.name == name; });
    return found == info->nodes.end() ? NodeInfo{} : *found;
  };
  const NodeInfo mine = by_name(node.name()), killed = by_name("killed");
  EXPECT_TRUE(mine.alive);
  EXPECT_EQ(mine.pid, static_cast<std::uint64_t>(::getpid()));
  EXPECT_EQ(mine.servers, 1u);
  EXPECT_EQ(mine.clients, 0u);
  EXPECT_FALSE(killed.alive);
  EXPECT_NE(killed.pid, 0u);
  EXPECT_EQ(killed.clients, 1u);
  EXPECT_EQ(killed.servers, 0u);
  EXPECT_EQ(service.usage().clients, 1u) << "a dead node's port stays until it is reclaimed";

  // Another Node of this process is alive, not dead, though it holds no port.
  Node bystander = Node::create("bystander", config);
  auto watching = node.service_builder("Node/Watched").request_response<int, int>().create();
  auto watched = bystander.service_builder("Node/Watched").request_response<int, int>().open();

  const DeadNodeCleanup cleaned = node.clean_up_dead_nodes();
  EXPECT_EQ(cleaned.nodes, 1u);
  EXPECT_EQ(cleaned.ports, 1u);
  EXPECT_EQ(cleaned.removed_services, 0u);
  EXPECT_EQ(service.usage().clients, 0u);
  EXPECT_EQ(service.usage().nodes, 1u);
  EXPECT_EQ(watched.usage().nodes, 2u);
  EXPECT_EQ(listed()->dead_nodes, 0u);
  auto client = service.client_builder().create();  // the only client slot is free again
  EXPECT_EQ(node.clean_up_dead_nodes().nodes, 0u) << "nothing left to reclaim";
}

TEST_F(NodeTest, CleanUpDeadNodesRemovesAServiceOnlyDeadProcessesHeld) {
  killed_while_holding([&](const Node& theirs) {
    auto created = builder(theirs).create();
    auto server = created.server_builder().create();
    return std::pair(std::move(created), std::move(server));
  });
  ASSERT_TRUE(std::filesystem::exists(object_path()));
  auto info = listed();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, ServiceState::stale);
  EXPECT_EQ(info->dead_nodes, 1u);
  EXPECT_FALSE(node.service_exists("Node/Service")) << "open() would not find it";

  const DeadNodeCleanup cleaned = node.clean_up_dead_nodes();
  EXPECT_EQ(cleaned.nodes, 1u);
  EXPECT_EQ(cleaned.ports, 1u);
  EXPECT_EQ(cleaned.removed_services, 1u);
  EXPECT_FALSE(std::filesystem::exists(object_path()));
  EXPECT_TRUE(node.list_services().empty());
}

}  // namespace
}  // namespace floe::test
