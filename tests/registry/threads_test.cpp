// Threads sharing one Service: the segment lock must separate them as it separates processes.
// flock(2) alone does not (threads share the descriptor, so they share the lock), and two
// threads creating ports at once took the same slot and answered each other's requests.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

class Threads : public U64ServiceTest {};

constexpr int kThreads = 2;
constexpr int kPortsPerThread = 1000;

/// Marks a slot taken by `thread`; false if a port of another thread holds it at the same time.
bool take(std::array<std::atomic<int>, 8>& owners, std::uint64_t id, int thread) {
  const auto slot = static_cast<std::uint32_t>(id);  // the low half of a port id is its slot
  if (slot >= owners.size()) return false;
  int free = 0;
  return owners[slot].compare_exchange_strong(free, thread + 1);
}

TEST_F(Threads, PortsCreatedAtOnceFromOneServiceGetDistinctSlotsAndAllAnswers) {
  auto service = builder().max_clients(4).max_servers(4).open_or_create();
  auto answering = service.server_builder().create();

  std::atomic<bool> done{false};
  std::thread server_thread([&] {
    // Polls with a bound: the test's threads end it, and it ends itself after a minute anyway.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done.load() && std::chrono::steady_clock::now() < deadline) {
      if (auto active = answering.try_receive()) {
        static_cast<void>(active->send_copy(active->payload() + 1));
      } else {
        std::this_thread::sleep_for(20us);
      }
    }
  });

  std::array<std::atomic<int>, 8> client_owners{};
  std::array<std::atomic<int>, 8> server_owners{};
  std::atomic<int> shared_slots{0};
  std::atomic<int> answered{0};
  std::atomic<int> unanswered{0};
  std::barrier together(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPortsPerThread; ++i) {
        together.arrive_and_wait();  // both create their ports at the same moment
        {
          auto server = service.server_builder().create();
          if (!take(server_owners, server.id(), t)) ++shared_slots;
          server_owners[static_cast<std::uint32_t>(server.id()) % 8] = 0;
        }  // gone before the request is sent: only `answering` receives it
        auto client = service.client_builder().create();
        if (!take(client_owners, client.id(), t)) ++shared_slots;
        const std::uint64_t value = (std::uint64_t{static_cast<std::uint32_t>(t)} << 32) + i;
        {
          auto pending = client.send_copy(value);
          auto response = receive_within(pending, 10s);
          if (response && response->payload() == value + 1) {
            ++answered;
          } else {
            ++unanswered;
          }
        }
        client_owners[static_cast<std::uint32_t>(client.id()) % 8] = 0;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  done = true;
  server_thread.join();

  EXPECT_EQ(shared_slots.load(), 0);
  EXPECT_EQ(unanswered.load(), 0);
  EXPECT_EQ(answered.load(), kThreads * kPortsPerThread);
  const ServiceUsage usage = service.usage();
  EXPECT_EQ(usage.clients, 0u);
  EXPECT_EQ(usage.servers, 1u);
  EXPECT_EQ(usage.request_chunks_in_use, 0u);
}

}  // namespace
}  // namespace floe::test
