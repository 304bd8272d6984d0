// Every chunk returns to its owner: up to a million requests with streams of responses use
// constant shared memory, and afterwards every pool is full again.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <filesystem>
#include <thread>

#include "support/process.hpp"
#include "support/shm_objects.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::Signal;
using namespace std::chrono_literals;

constexpr std::uint64_t kStop = ~std::uint64_t{0};

TEST(Soak, RequestsWithStreamsReturnEveryChunk) {
  // A million when the machine is free (3 s); on a loaded one, where two pollers wait for cores
  // (a second copy of the suite running beside it made 600 requests a second), as many as 60 s
  // allow, but never fewer than 20 000: the pools (6 request and 24 response chunks) still wrap
  // thousands of times.
  constexpr std::uint64_t kRequests = 1'000'000;
  constexpr std::uint64_t kEnoughRequests = 20'000;
  const Config config = test::isolated_config();
  Node node = Node::create("soak", config);
  auto builder = [&](Node& n) {
    return n.service_builder("Test/Soak").request_response<std::uint64_t, std::uint64_t>();
  };
  auto service = builder(node).create();
  const std::uint64_t segment_size = service.usage().segment_size;
  Signal ready;
  ChildProcess server_process([&] {
    Node n = Node::create("soak-server", config);
    auto s = builder(n).open();
    auto server = s.server_builder().create();
    ready.notify();
    const auto deadline = std::chrono::steady_clock::now() + 110s;
    for (std::uint64_t spins = 0;; ++spins) {
      if (auto request = server.try_receive()) {
        const std::uint64_t value = request->payload();
        if (value == kStop) return 0;
        FLOE_CHILD_CHECK(request->send_copy(value + 1));
        auto response = request->loan();
        *response = value + 2;
        FLOE_CHILD_CHECK(std::move(response).send());
      } else if (spins % 4096 == 0 && std::chrono::steady_clock::now() > deadline) {
        return 3;
      } else if (spins % 64 == 63) {
        std::this_thread::yield();  // see the client's loop
      }
    }
  });
  ASSERT_EQ(ready.wait(), 1);
  {
    auto client = service.client_builder().create();
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < kRequests; ++i) {
      if (i >= kEnoughRequests && i % 1024 == 0 && std::chrono::steady_clock::now() > start + 60s) {
        break;
      }
      auto pending = client.send_copy(i);
      std::uint64_t expected = i + 1;
      // One request's two responses, however loaded the machine, come within seconds.
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      for (std::uint64_t spins = 0; expected <= i + 2; ++spins) {
        if (auto response = pending.try_receive()) {
          ASSERT_EQ(response->payload(), expected);
          ++expected;
        } else if (spins % 4096 == 0 && std::chrono::steady_clock::now() > deadline) {
          FAIL() << "stalled at request " << i << ": no response for 30 s";
        } else if (spins % 64 == 63) {
          // Both sides poll: with more runnable processes than cores (a loaded CI machine), a
          // poller that never yields spends its whole time slice while its peer waits for a core.
          std::this_thread::yield();
        }
      }
      if (i % 100'000 == 0) {
        const ServiceUsage usage = service.usage();
        EXPECT_EQ(usage.segment_size, segment_size);
        EXPECT_LE(usage.request_chunks_in_use, 6u);  // loaned + active requests of one client
        EXPECT_LE(usage.response_chunks_in_use, 2u * 12u);
      }
    }
    auto stop = client.send_copy(kStop);  // kept alive: an unheard request is withdrawn
    EXPECT_EQ(server_process.wait(60s), 0);
  }
  const ServiceUsage usage = service.usage();
  EXPECT_EQ(usage.request_chunks_in_use, 0u);
  EXPECT_EQ(usage.response_chunks_in_use, 0u);
  EXPECT_EQ(usage.clients, 0u);
  EXPECT_EQ(usage.servers, 0u);
  EXPECT_EQ(usage.nodes, 1u);
  EXPECT_EQ(usage.segment_size, segment_size);
}

/// Open file descriptors of this process.
int open_descriptors() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

/// Objects of the domain in /dev/shm.
std::size_t shared_memory_objects(const Config& config) {
  return test::objects_of_domain(config).size();
}

TEST(Soak, ConnectDisconnectCyclesLeaveNoDescriptorsOrSegmentsBehind) {
  constexpr int kCycles = 2000;
  const Config config = test::isolated_config();
  auto builder = [&](Node& n) {
    return n.service_builder("Test/Cycles").request_response<std::uint64_t, std::uint64_t>();
  };
  // Warm up once: libraries may open what they keep (the first runtime's ring, say).
  auto cycle = [&](std::uint64_t i) {
    Node node = Node::create("cycler", config);
    auto service = builder(node).open_or_create();
    auto server = service.server_builder().create();
    auto client = service.client_builder().create();
    Runtime runtime(RuntimeOptions{.spin_budget = {}});
    runtime.block_on([&]() -> Task<void> {
      auto pending = client.send_copy(i);
      auto active = co_await with_timeout(server.receive(), 10s);
      active.send_copy(active.payload() + 1);
      auto response = co_await with_timeout(pending.receive(), 10s);
      EXPECT_TRUE(response && response->payload() == i + 1);
    }());
  };
  cycle(0);
  const int descriptors = open_descriptors();
  const std::size_t objects = shared_memory_objects(config);
  for (int i = 1; i <= kCycles; ++i)
    cycle(static_cast<std::uint64_t>(i));
  EXPECT_EQ(open_descriptors(), descriptors);
  EXPECT_EQ(shared_memory_objects(config), objects);

  // The same with the ports in processes that come and go, half of them killed.
  Node node = Node::create("keeper", config);
  auto service = builder(node).open_or_create();
  auto server = service.server_builder().create();
  for (int i = 0; i < 200; ++i) {
    Signal connected;
    ChildProcess visitor([&] {
      Node n = Node::create("visitor", config);
      auto opened = builder(n).open();
      auto client = opened.client_builder().create();
      auto pending = client.send_copy(static_cast<std::uint64_t>(i));
      connected.notify();
      return i % 2 == 0 ? test::wait_to_be_killed() : 0;
    });
    ASSERT_EQ(connected.wait(), 1);
    if (i % 2 == 0) {
      visitor.kill();
    } else {
      ASSERT_EQ(visitor.wait(), 0);
    }
    while (auto request = server.try_receive()) {
      (void)request;
    }
  }
  auto last = service.client_builder().create();  // reclaims what the killed ones left
  const ServiceUsage usage = service.usage();
  EXPECT_EQ(usage.nodes, 1u);
  EXPECT_EQ(usage.clients, 1u);
  EXPECT_EQ(usage.request_chunks_in_use, 0u);
  EXPECT_EQ(usage.response_chunks_in_use, 0u);
  EXPECT_EQ(open_descriptors(), descriptors + 1);  // the service's own object
}

}  // namespace
}  // namespace floe
