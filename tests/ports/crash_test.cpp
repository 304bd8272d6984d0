// A peer killed with SIGKILL at the worst moment: nothing hangs, nothing leaks for good.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <optional>

#include "support/fixture.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::error_of;
using test::eventually;
using test::receive_within;
using test::Signal;
using namespace std::chrono_literals;

class Crash : public test::U64ServiceTest {};

TEST_F(Crash, KilledServerEndsTheStreamAndANewServerTakesOver) {
  auto service = builder().max_servers(1).create();
  Signal ready, answered;
  ChildProcess server_process([&] {
    auto s = open_as("doomed-server");
    auto server = s.server_builder().create();
    ready.notify();
    auto request = receive_within(server);
    FLOE_CHILD_CHECK(request);
    FLOE_CHILD_CHECK(request->send_copy(1));
    auto held = request->loan();  // dies holding a loan and the active request
    answered.notify();
    return test::wait_to_be_killed();
  });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();
  auto pending = client.send_copy(10);
  ASSERT_EQ(answered.wait(), 1);
  server_process.kill();

  std::vector<std::uint64_t> got;
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        while (auto r = pending.try_receive())
          got.push_back(r->payload());
        return !pending.is_connected();
      },
      2s));
  while (auto r = pending.try_receive())  // what was sent before the end is still delivered
    got.push_back(r->payload());
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
    return test::wait_to_be_killed();
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
  Signal sent;
  ChildProcess client_process([&] {
    auto s = open_as("doomed-client");
    auto client = s.client_builder().create();
    auto pending = client.send_copy(5);
    sent.notify();
    return test::wait_to_be_killed();
  });
  ASSERT_EQ(sent.wait(), 1);
  client_process.kill();
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
}  // namespace floe
