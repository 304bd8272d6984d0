// A peer killed with SIGKILL at the worst moment: nothing hangs, nothing leaks for good.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <optional>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

class Crash : public U64ServiceTest {};

TEST_F(Crash, KilledServerEndsTheStreamAndANewServerTakesOver) {
  auto service = builder().max_servers(1).create();
  Signal answered;
  ChildProcess server_process = server_answering([&](auto& request) {
    FLOE_CHILD_CHECK(request->send_copy(1));
    auto held = request->loan();  // dies holding a loan and the active request
    answered.notify();
    return wait_to_be_killed();
  });
  auto client = service.client_builder().create();
  auto pending = client.send_copy(10);
  ASSERT_EQ(answered.wait(), 1);
  server_process.kill();

  const auto killed_at = std::chrono::steady_clock::now();
  // What was sent before the end is still delivered.
  const std::vector<std::uint64_t> got = receive_stream(pending, 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 1s);
  EXPECT_EQ(got, std::vector<std::uint64_t>{1}) << "what was sent before the crash is kept";
  // The dead server's slot, its loan and its queued responses are all back.
  EXPECT_EQ(service.usage().servers, 0u);
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u);

  auto successor = service.server_builder().create();  // max_servers(1): the slot was reclaimed
  auto next = client.send_copy(11);
  EXPECT_EQ(next.number_of_server_connections(), 1u);
  auto request = successor.try_receive();
  ASSERT_TRUE(request);
  EXPECT_EQ(request->payload(), 11u);
  request->send_copy(12);
  request.reset();
  pending = std::move(next);
  auto response = pending.try_receive();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload(), 12u);
}

TEST_F(Crash, KilledClientDisconnectsTheServerAndFreesItsSlot) {
  auto service = builder().max_clients(1).create();
  auto server = service.server_builder().create();
  Signal sent;
  ChildProcess client_process([&] {
    auto s = open_as("doomed-client");
    auto client = s.client_builder().create();
    auto held = client.loan();  // dies holding a loan and a pending response
    auto pending = client.send_copy(5);
    sent.notify();
    return wait_to_be_killed();
  });
  ASSERT_EQ(sent.wait(), 1);
  auto request = server.try_receive();
  ASSERT_TRUE(request);
  EXPECT_TRUE(request->is_connected());
  client_process.kill();
  EXPECT_FALSE(request->is_connected());
  EXPECT_FALSE(request->send_copy(1)) << "responses to a dead client are discarded";
  request.reset();

  auto successor = service.client_builder().create();  // max_clients(1): the slot was reclaimed
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u);
  auto pending = successor.send_copy(6);
  auto next = server.try_receive();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->payload(), 6u);
}

TEST_F(Crash, ServerIsUnaffectedByAClientKilledBeforeItsRequestWasRead) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  client_that_sent(5).kill();
  // The first try_receive may still take the request (the death is not noticed yet), but then
  // it reads as disconnected; either way the server goes on serving others.
  if (auto orphan = server.try_receive()) {
    EXPECT_FALSE(orphan->is_connected());
  }
  auto client = service.client_builder().create();
  auto pending = client.send_copy(7);
  auto request = server.try_receive();
  ASSERT_TRUE(request);
  EXPECT_EQ(request->payload(), 7u);
}

}  // namespace
}  // namespace floe::test
