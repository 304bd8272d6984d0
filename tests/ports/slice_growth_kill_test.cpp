// Growth composed across processes: three clients and two servers growing at once, one server
// SIGKILLed mid-use. Its data segments disappear at reclaim, everyone else keeps working, and
// nothing is left in /dev/shm once all have closed.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "registry/inspection.hpp"
#include "registry/names.hpp"
#include "support/fixture.hpp"
#include "support/shm_objects.hpp"
#include "support/slice_elements.hpp"

namespace floe::test {
namespace {

constexpr std::uint64_t kInlineBytes = 64;  // the service's max: anything longer grows
constexpr int kClients = 3;

/// Responses are twice as long as their request, every byte derived from the request's length.
std::uint64_t answer_length(std::uint64_t request_length) {
  return 2 * request_length;
}

class SliceGrowthKill : public ::testing::Test {
 protected:
  Config config = [] {
    Config c = isolated_config();
    c.request_response.max_clients = kClients;
    c.request_response.max_servers = 2;
    c.request_response.max_active_requests_per_client = 2;
    return c;
  }();
  Node node = Node::create("growth-kill", config);
  std::string object = detail::service_object_name(config.domain, "Test/GrowthKill");

  auto builder(const Node& n) const {
    return n.service_builder("Test/GrowthKill")
        .request_response<Slice<std::byte>, Slice<std::byte>>()
        .request_max_slice_len(kInlineBytes)
        .response_max_slice_len(kInlineBytes);
  }

  /// A server process growing by power_of_two that answers every request (each byte checked)
  /// until `stop`; `grown` is notified once it has sent a response longer than the inline room.
  ChildProcess server_process(const Signal& stop, const Signal& grown) {
    return started([&](const Signal& ready) {
      const Node theirs = Node::create("server", config);
      auto service = builder(theirs).open();
      auto server =
          service.server_builder().allocation_strategy(AllocationStrategy::power_of_two).create();
      ready.notify();
      bool told = false;
      while (stop.wait(std::chrono::milliseconds(0)) != 1) {
        auto active = server.try_receive();
        if (!active) {
          std::this_thread::sleep_for(200us);
          continue;
        }
        const std::span<const std::byte> request = active->payload();
        for (std::size_t i = 0; i < request.size(); ++i)
          FLOE_CHILD_CHECK(request[i] == byte_at(i, request.size()));
        auto response = active->loan_slice_uninit(answer_length(request.size()));
        for (std::size_t i = 0; i < response.payload().size(); ++i)
          response.payload()[i] = byte_at(i, request.size());
        FLOE_CHILD_CHECK(std::move(response).send());
        if (!told && answer_length(request.size()) > kInlineBytes) {
          grown.notify();
          told = true;
        }
      }
      return 0;
    });
  }

  /// A client process growing by best_fit: `rounds` requests of lengths up to 4x the inline
  /// room, every response checked byte by byte; then `phase_done`, and after `go_on` as many
  /// again, each of which must be answered in full (by the server left alive).
  ChildProcess client_process(int rounds, const Signal& phase_done, const Signal& go_on) {
    return ChildProcess([&, rounds] {
      const Node theirs = Node::create("client", config);
      auto service = builder(theirs).open();
      auto client =
          service.client_builder().allocation_strategy(AllocationStrategy::best_fit).create();
      auto round_trip = [&](int round) {
        const std::uint64_t length = static_cast<std::uint64_t>(round * 37) % (4 * kInlineBytes);
        auto request = client.loan_slice_uninit(length);
        for (std::size_t i = 0; i < length; ++i)
          request.payload()[i] = byte_at(i, length);
        auto pending = std::move(request).send();
        int answered = 0;
        bool wrong = false;
        const auto drain = [&] {
          while (auto response = pending.try_receive()) {
            const std::span<const std::byte> bytes = response->payload();
            wrong = wrong || bytes.size() != answer_length(length);
            for (std::size_t i = 0; !wrong && i < bytes.size(); ++i)
              wrong = bytes[i] != byte_at(i, length);
            ++answered;
          }
        };
        eventually(
            [&] {
              drain();
              return wrong || !pending.is_connected() || answered == 2;
            },
            10s);
        // A server may answer and end its stream between the drain and is_connected(): what
        // it sent is still there.
        drain();
        return wrong ? -1 : answered;
      };
      // Both servers answer every request while both live.
      for (int round = 0; round < rounds; ++round)
        FLOE_CHILD_CHECK(round_trip(round) == 2);
      phase_done.notify();
      FLOE_CHILD_CHECK(go_on.wait(30s) == 1);
      for (int round = 0; round < rounds; ++round)
        FLOE_CHILD_CHECK(round_trip(round) >= 1);
      return 0;
    });
  }
};

TEST_F(SliceGrowthKill, AKilledServersDataSegmentsGoAtReclaimAndTheOthersKeepWorking) {
  std::optional<decltype(builder(node).create())> service(builder(node).create());
  Signal stop_survivor, stop_victim, survivor_grew, victim_grew;
  ChildProcess survivor = server_process(stop_survivor, survivor_grew);
  ChildProcess victim = server_process(stop_victim, victim_grew);
  std::array<Signal, kClients> phase_done, go_on;
  std::vector<ChildProcess> clients;
  for (int c = 0; c < kClients; ++c)
    clients.push_back(client_process(20, phase_done[c], go_on[c]));
  for (const Signal& done : phase_done)
    ASSERT_EQ(done.wait(60s), 1);
  ASSERT_EQ(victim_grew.wait(), 1);
  ASSERT_EQ(survivor_grew.wait(), 1);

  detail::PortReport dead{};
  for (const detail::PortReport& port : detail::inspect_object(object).ports) {
    if (port.server && port.pid == static_cast<std::uint64_t>(victim.pid())) dead = port;
  }
  ASSERT_GT(dead.data_segments, 0u) << "the victim holds no data segment";
  const std::string dead_prefix = detail::data_segment_prefix(
      object, detail::DataSegmentWriter::server, dead.slot, dead.generation);
  victim.kill();  // after it grew, its data segments named and mapped by the clients
  node.clean_up_dead_nodes();
  EXPECT_TRUE(detail::objects_with_prefix(dead_prefix).empty());

  for (const Signal& signal : go_on)
    signal.notify();
  for (ChildProcess& client : clients)
    EXPECT_EQ(client.wait(60s), 0);
  EXPECT_GT(service->usage().data_segments, 0u) << "the survivor's are still in use";
  stop_survivor.notify();
  EXPECT_EQ(survivor.wait(), 0);
  service.reset();
  EXPECT_TRUE(objects_of_domain(config).empty());
}

}  // namespace
}  // namespace floe::test
