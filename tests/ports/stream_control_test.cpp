// What a client and a server tell each other about one stream besides its responses: whether a
// response waits (has_response), who sent it (origin), and that the client will stop listening
// soon (the disconnect hint), across real processes.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <thread>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using StreamControl = U64ServiceTest;

TEST_F(StreamControl, HasResponseSaysWhetherOneWaitsAndOriginNamesItsServer) {
  auto service = builder().max_servers(2).create();
  auto client = service.client_builder().create();
  Signal go, ended;
  // Each server answers with its own id, so the response names its origin twice.
  auto serve = [&] {
    return started([&](const Signal& ready) {
      auto server = open_as("server").server_builder().create();
      ready.notify();
      auto request = receive_within(server);
      FLOE_CHILD_CHECK(request);
      FLOE_CHILD_CHECK(go.wait() == 1);
      FLOE_CHILD_CHECK(request->send_copy(server.id()));
      request.reset();
      return ended.wait() == 1 ? 0 : 1;
    });
  };
  ChildProcess first = serve();
  ChildProcess second = serve();
  auto pending = client.send_copy(1);
  ASSERT_EQ(pending.number_of_server_connections(), 2u);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(pending.has_response()) << "nothing was sent yet";

  go.notify();
  go.notify();
  ASSERT_TRUE(eventually([&] { return pending.has_response(); }));
  EXPECT_TRUE(pending.has_response()) << "looking took it";
  std::vector<ServerId> origins;
  ASSERT_TRUE(eventually([&] {
    if (auto response = pending.try_receive()) {
      EXPECT_EQ(response->origin(), response->payload());
      EXPECT_EQ(response->origin(), response->header().server_id);
      origins.push_back(response->origin());
    }
    return origins.size() == 2;
  }));
  EXPECT_NE(origins[0], origins[1]);
  EXPECT_FALSE(pending.has_response()) << "both responses were taken";
  // After the end, what was sent before it still counts.
  ended.notify();
  ended.notify();
  EXPECT_EQ(first.wait(), 0);
  EXPECT_EQ(second.wait(), 0);
  EXPECT_FALSE(pending.is_connected());
  EXPECT_FALSE(pending.has_response());
}

TEST_F(StreamControl, HasResponseCountsWhatAServerSentBeforeItLetGo) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  ChildProcess server_process = server_answering([](auto& request) {
    FLOE_CHILD_CHECK(request->send_copy(7));
    return 0;  // the request is dropped: the stream ends after the 7
  });
  auto pending = client.send_copy(1);
  ASSERT_EQ(server_process.wait(), 0);
  EXPECT_FALSE(pending.is_connected());
  EXPECT_TRUE(pending.has_response());
  auto response = pending.try_receive();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload(), 7u);
  EXPECT_FALSE(pending.has_response());
}

TEST_F(StreamControl, TheDisconnectHintReachesTheServerAndTheStreamFlowsUntilTheClientGoes) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal saw_hint;
  // The server streams 0, 1, 2, ... until the client goes, and reports when it saw the hint.
  ChildProcess server_process = server_answering([&](auto& request) {
    FLOE_CHILD_CHECK(!request->has_disconnect_hint());
    bool reported = false;
    std::uint64_t sent_after_hint = 0;
    for (std::uint64_t i = 0; request->is_connected(); ++i) {
      request->send_copy(i);
      if (request->has_disconnect_hint()) {
        if (!reported) saw_hint.notify();
        reported = true;
        ++sent_after_hint;
      }
      std::this_thread::sleep_for(200us);
    }
    // The hint went with the PendingResponse.
    FLOE_CHILD_CHECK(!request->has_disconnect_hint());
    return reported && sent_after_hint > 0 ? 0 : 1;
  });
  auto pending = client.send_copy(1);
  auto next = [&] { return receive_within(pending); };
  ASSERT_TRUE(next());
  ASSERT_TRUE(next());
  pending.set_disconnect_hint();
  pending.set_disconnect_hint();  // again: still the same hint
  ASSERT_EQ(saw_hint.wait(), 1) << "the server did not see the hint";
  // Only a hint: the stream goes on until this side lets go.
  std::uint64_t previous = 0;
  for (int i = 0; i < 5; ++i) {
    auto response = next();
    ASSERT_TRUE(response) << "the stream stopped after the hint";
    EXPECT_GE(response->payload(), previous);
    previous = response->payload();
  }
  EXPECT_TRUE(pending.is_connected());
  { auto gone = std::move(pending); }
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(StreamControl, TheHintIsPerRequest) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Signal checked;
  ChildProcess client_process = started([&](const Signal& sent) {
    auto client = open_as("client").client_builder().create();
    auto first = client.send_copy(1);
    auto second = client.send_copy(2);
    second.set_disconnect_hint();
    sent.notify();
    return checked.wait() == 1 ? 0 : 1;
  });
  auto a = receive_within(server);
  auto b = receive_within(server);
  ASSERT_TRUE(a && b);
  if (a->payload() == 2) std::swap(a, b);
  EXPECT_FALSE(a->has_disconnect_hint());
  EXPECT_TRUE(b->has_disconnect_hint());
  checked.notify();
  EXPECT_EQ(client_process.wait(), 0);
  EXPECT_FALSE(b->has_disconnect_hint()) << "the client went, and its hint with it";
}

}  // namespace
}  // namespace floe::test
