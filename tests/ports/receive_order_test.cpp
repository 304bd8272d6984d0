// The order in which a server receives requests of several clients, across real processes:
// turn by turn among live clients, and (fire-and-forget) every request of a client that went
// first, as in iceoryx2: a departed client's work is the oldest there is.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

class ReceiveOrder : public ::testing::Test {
 protected:
  Config config = isolated_config();
  Node node = Node::create("server", config);

  auto builder(Node& n) {
    return n.service_builder("Test/ReceiveOrder")
        .request_response<std::uint64_t, std::uint64_t>()
        .enable_fire_and_forget_requests(true)
        .max_clients(3)
        .max_active_requests_per_client(4);
  }

  /// A client in another process that sends `first`, `first` + 1, ... (`count` of them), holds
  /// them pending, notifies and waits for `finish`.
  ChildProcess client_holding(std::uint64_t first, std::uint64_t count, const Signal& finish) {
    return started([&, first, count](const Signal& sent) {
      Node n = Node::create("client", config);
      auto client = builder(n).open().client_builder().create();
      std::vector<U64Pending> pending;
      for (std::uint64_t i = 0; i < count; ++i)
        pending.push_back(client.send_copy(first + i));
      for (auto& p : pending)
        FLOE_CHILD_CHECK(p.number_of_server_connections() == 1);
      sent.notify();
      return finish.wait() == 1 ? 0 : 1;
    });
  }

  /// Every request the server has, in the order it receives them.
  static std::vector<std::uint64_t> receive_all(U64Server& server, std::size_t expected) {
    std::vector<std::uint64_t> order;
    std::vector<U64Active> held;  // held open, so no client's channel comes free meanwhile
    while (order.size() < expected) {
      auto request = receive_within(server, 2s);
      if (!request) break;
      order.push_back(request->payload());
      held.push_back(std::move(*request));
    }
    EXPECT_FALSE(server.try_receive()) << "more requests than were sent";
    return order;
  }
};

TEST_F(ReceiveOrder, LiveClientsTakeTurns) {
  auto service = builder(node).create();
  auto server = service.server_builder().create();
  Signal finish;
  ChildProcess first = client_holding(100, 3, finish);
  ChildProcess second = client_holding(200, 3, finish);
  const auto order = receive_all(server, 6);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{100, 200, 101, 201, 102, 202}));
  finish.notify();
  finish.notify();
  EXPECT_EQ(first.wait(), 0);
  EXPECT_EQ(second.wait(), 0);
}

TEST_F(ReceiveOrder, EveryRequestOfAClientThatWentComesBeforeLiveClientsRequests) {
  for (const bool killed : {false, true}) {
    SCOPED_TRACE(killed ? "the client was killed" : "the client dropped its port and exited");
    Config isolated = isolated_config();
    config = isolated;
    Node here = Node::create("server", config);
    auto service = builder(here).create();
    auto server = service.server_builder().create();
    Signal finish_live, finish_departing;
    // The live client sends first (its slot comes first too): turn by turn would start with it.
    ChildProcess live = client_holding(200, 3, finish_live);
    ChildProcess departing = client_holding(100, 4, finish_departing);
    if (killed) {
      departing.kill();
      // Whoever next joins the service reclaims the dead client's port: here a new client.
      auto late = service.client_builder().create();
      EXPECT_EQ(service.usage().clients, 2u);
    } else {
      finish_departing.notify();
      ASSERT_EQ(departing.wait(), 0);
    }
    const auto order = receive_all(server, 7);
    EXPECT_EQ(order, (std::vector<std::uint64_t>{100, 101, 102, 103, 200, 201, 202}));
    finish_live.notify();
    EXPECT_EQ(live.wait(), 0);
  }
}

TEST_F(ReceiveOrder, ADepartedClientsRequestsComeFirstAlsoWhileTheServerIsMidway) {
  auto service = builder(node).create();
  auto server = service.server_builder().create();
  Signal finish_live, finish_departing;
  ChildProcess live = client_holding(200, 4, finish_live);
  auto first = receive_within(server);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->payload(), 200u);
  ChildProcess departing = client_holding(100, 2, finish_departing);
  finish_departing.notify();
  ASSERT_EQ(departing.wait(), 0);
  const auto order = receive_all(server, 5);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{100, 101, 201, 202, 203}));
  finish_live.notify();
  EXPECT_EQ(live.wait(), 0);
}

}  // namespace
}  // namespace floe::test
