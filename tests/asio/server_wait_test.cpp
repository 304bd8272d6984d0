// floe::async_wait_for_server and floe::async_call in an asio::io_context: woken by a server
// created in another process, bounded by their timeouts, cancelled per operation.

#include <gtest/gtest.h>
#include <signal.h>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

#include "floe/asio.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

class AsioServerWaitTest : public AsyncServiceTest {
 protected:
  /// Runs `io` until it has no more work, failing the test if that takes longer than `bound`.
  static void run_bounded(asio::io_context& io, std::chrono::seconds bound = 10s) {
    const auto start = Clock::now();
    io.run_for(bound);
    EXPECT_LT(Clock::now() - start, bound) << "the io_context still had work after the bound";
  }

  /// A process that creates a server of the test's service `delay` after it started (noting
  /// when in `created`), then holds it until `release` is notified.
  ChildProcess server_created_after(std::chrono::milliseconds delay, const SharedTimePoint& created,
                                    const Signal& release) {
    return ChildProcess([&, delay] {
      auto remote = open_as("late-server");
      std::this_thread::sleep_for(delay);
      created.set_now();  // before the creation: the bound below includes the creation itself
      auto server = remote.server_builder().create();
      return release.wait() == 1 ? 0 : 1;
    });
  }
};

TEST_F(AsioServerWaitTest, WaitIsWokenByAServerCreatedInAnotherProcess) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal release;
  SharedTimePoint created;
  ChildProcess server_process = server_created_after(200ms, created, release);
  asio::io_context io;
  std::optional<bool> found;
  Clock::time_point start{}, woke{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        start = Clock::now();
        found = co_await async_wait_for_server(client, 10s, use_awaitable);
        woke = Clock::now();
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(found, true);
  EXPECT_GE(woke, created.get()) << "returned before the server could exist";
  EXPECT_LT(woke - created.get(), 2s);
  // Woken by the creation, not by the service's 1 s safety recheck, which is first armed when
  // the wait starts: when the server came soon enough for the two to be told apart (every run
  // but a very loaded one), the wait ended before the recheck could fire.
  if (created.get() - start < RuntimeOptions{}.safety_recheck / 2) {
    EXPECT_LT(woke - start, RuntimeOptions{}.safety_recheck);
  }
  release.notify();
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(AsioServerWaitTest, WaitTimesOutWithFalseAndReturnsAtOnceWithAServer) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  asio::io_context io;
  std::optional<bool> without, with;
  std::error_code error;
  Clock::duration waited{};
  std::optional<U64Server> server;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto start = Clock::now();
        without = co_await async_wait_for_server(client, 30ms, use_awaitable);
        waited = Clock::now() - start;
        server.emplace(service.server_builder().create());
        async_wait_for_server(client, 0ms, asio::bind_executor(io, [&](std::error_code e, bool f) {
                                error = e;
                                with = f;
                              }));
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(without, false);
  EXPECT_GE(waited, 30ms);
  // At its deadline, not at the service's 1 s safety recheck (armed when the wait started).
  EXPECT_LT(waited, RuntimeOptions{}.safety_recheck - 100ms);
  EXPECT_FALSE(error);
  EXPECT_EQ(with, true);
}

TEST_F(AsioServerWaitTest, CancellationSlotAbortsTheWait) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  asio::io_context io;
  asio::cancellation_signal cancel;
  std::error_code seen;
  bool called = false;
  async_wait_for_server(client, 10s,
                        asio::bind_cancellation_slot(
                            cancel.slot(), asio::bind_executor(io, [&](std::error_code e, bool) {
                              seen = e;
                              called = true;
                            })));
  asio::steady_timer timer(io, 10ms);
  timer.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  run_bounded(io, 5s);
  EXPECT_TRUE(called);
  EXPECT_EQ(seen, asio::error::operation_aborted);
}

TEST_F(AsioServerWaitTest, DestroyingTheClientAbortsTheWait) {
  auto service = builder().create();
  std::optional<U64Client> client = service.client_builder().create();
  asio::io_context io;
  std::error_code seen;
  async_wait_for_server(*client, 10s,
                        asio::bind_executor(io, [&](std::error_code e, bool) { seen = e; }));
  asio::steady_timer timer(io, 10ms);
  timer.async_wait([&](std::error_code) { client.reset(); });
  run_bounded(io, 5s);
  EXPECT_EQ(seen, asio::error::operation_aborted);
}

TEST_F(AsioServerWaitTest, AsyncCallYieldsTheFirstResponseOfAServerThatComesLater) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal release;
  ChildProcess server_process([&] {
    auto remote = open_as("server");
    std::this_thread::sleep_for(100ms);
    auto server = remote.server_builder().create();
    auto request = receive_within(server);
    FLOE_CHILD_CHECK(request);
    FLOE_CHILD_CHECK(request->send_copy(request->payload() * 10));
    // Discarded: the call may have completed, and dropped its stream, before this arrives.
    (void)request->send_copy(0);
    return release.wait() == 1 ? 0 : 1;
  });
  asio::io_context io;
  std::optional<std::uint64_t> answer;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Response<std::uint64_t> response =
            co_await async_call(client, std::uint64_t{4}, 10s, use_awaitable);
        answer = *response;
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(answer, 40u);
  release.notify();
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(AsioServerWaitTest, AsyncCallReportsNoServerAndNoResponse) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  asio::io_context io;
  std::error_code without_server, dropped;
  const auto start = Clock::now();
  async_call(client, std::uint64_t{1}, 50ms,
             asio::bind_executor(
                 io, [&](std::error_code e, Response<std::uint64_t>) { without_server = e; }));
  run_bounded(io);
  EXPECT_EQ(without_server, Errc::no_server);
  EXPECT_GE(Clock::now() - start, 50ms);
  // At its deadline, not at the service's 1 s safety recheck (armed when the call started).
  EXPECT_LT(Clock::now() - start, RuntimeOptions{}.safety_recheck - 100ms);

  ChildProcess server_process = server_answering([&](auto& request) {
    request.reset();
    return 0;
  });
  io.restart();
  async_call(
      client, std::uint64_t{1}, 10s,
      asio::bind_executor(io, [&](std::error_code e, Response<std::uint64_t>) { dropped = e; }));
  run_bounded(io);
  EXPECT_EQ(dropped, Errc::no_response);
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(AsioServerWaitTest, CancellationSlotAbortsACallAndGivesBackItsRequest) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  asio::io_context io;
  asio::cancellation_signal cancel;
  std::error_code seen;
  async_call(
      client, std::uint64_t{1}, 10s,
      asio::bind_cancellation_slot(
          cancel.slot(),
          asio::bind_executor(io, [&](std::error_code e, Response<std::uint64_t>) { seen = e; })));
  asio::steady_timer timer(io, 10ms);
  timer.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  run_bounded(io, 5s);
  EXPECT_EQ(seen, asio::error::operation_aborted);
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);
}

}  // namespace
}  // namespace floe::test
