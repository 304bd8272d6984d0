// floe inside an asio::io_context: every completion token, one thread serving sockets, timers
// and floe ports together, per-operation cancellation, peers in other processes dying.

#include "floe/asio.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <thread>
#include <variant>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

class AsioTest : public AsyncServiceTest {
 protected:
  /// In a forked child: a server in a floe Runtime that signals `ready`, takes one request and
  /// answers it with `count` responses (value request * 10 + i), `gap` apart; the last one only
  /// once `before_last` is notified, if given.
  int stream_from_child(Signal& ready, std::uint64_t count, std::chrono::milliseconds gap,
                        const Signal* before_last = nullptr) {
    return serve_one_request(ready, [&](auto& active, Runtime&) -> Task<int> {
      for (std::uint64_t i = 0; i < count; ++i) {
        co_await sleep_for(gap);
        if (i + 1 == count && before_last != nullptr && before_last->wait() != 1) co_return 2;
        if (!active.send_copy(active.payload() * 10 + i)) co_return 1;
      }
      co_return 0;
    });
  }

  /// Runs `io` until it has no more work, failing the test if that takes longer than `bound`.
  static void run_bounded(asio::io_context& io, std::chrono::seconds bound = 10s) {
    const auto start = Clock::now();
    io.run_for(bound);
    EXPECT_LT(Clock::now() - start, bound) << "the io_context still had work after the bound";
  }
};

TEST_F(AsioTest, ServerCoroutineAnswersAClientInAnotherProcess) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  ChildProcess client([&] {
    auto c = open_as("client").client_builder().create();
    Runtime runtime(asleep);
    return runtime.block_on([&]() -> Task<int> {
      co_await sleep_for(50ms);  // the io_context sleeps by now
      auto pending = c.send_copy(4);
      for (std::uint64_t i = 0; i < 3; ++i) {
        auto response = co_await with_timeout(pending.receive(), 10s);
        FLOE_CHILD_CO_CHECK(response && response->payload() == 40 + i);
      }
      FLOE_CHILD_CO_CHECK(!(co_await with_timeout(pending.receive(), 10s)));
      co_return 0;
    }());
  });

  asio::io_context io;
  bool served = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto active = co_await async_receive(server, use_awaitable);
        for (std::uint64_t i = 0; i < 3; ++i)
          active.send_copy(active.payload() * 10 + i);
        served = true;
      },
      asio::detached);
  run_bounded(io);
  EXPECT_TRUE(served);
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(AsioTest, ClientCoroutineConsumesAStreamFromAnotherProcess) {
  // Room for the whole stream, no overwriting: a slow client (sanitizers) loses nothing.
  auto service =
      builder().max_response_buffer_size(32).enable_safe_overflow_for_responses(false).create();
  Signal ready;
  ChildProcess server([&] { return stream_from_child(ready, 20, 1ms); });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();

  asio::io_context io;
  std::uint64_t received = 0;
  bool ended = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto pending = client.send_copy(7);
        while (auto response = co_await async_receive(pending, use_awaitable)) {
          EXPECT_EQ(response->payload(), 70 + received);
          ++received;
        }
        ended = true;
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(received, 20u);
  EXPECT_TRUE(ended);
  EXPECT_EQ(server.wait(), 0);
}

TEST_F(AsioTest, DeferredCallbackAndFutureTokens) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  asio::io_context io;

  // A plain callback, with the executor passed first.
  std::optional<std::uint64_t> request;
  async_receive(io.get_executor(), server, [&](std::error_code error, auto active) {
    EXPECT_FALSE(error);
    request = active.payload();
    active.send_copy(active.payload() + 1);
  });
  auto pending = client.send_copy(5);
  run_bounded(io);
  EXPECT_EQ(request, 5u);

  // asio::experimental::deferred: nothing starts until the deferred operation is invoked.
  io.restart();
  auto deferred = async_receive(pending, asio::experimental::deferred);
  std::optional<std::uint64_t> response;
  std::move(deferred)(asio::bind_executor(io, [&](std::error_code error, auto r) {
    EXPECT_FALSE(error);
    if (r) response = r->payload();
  }));
  run_bounded(io);
  EXPECT_EQ(response, 6u);

  // asio::use_future, completed by an io_context running in another thread.
  io.restart();
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run_for(10s); });
  auto second = client.send_copy(8);
  std::future<typename decltype(server)::Active> future =
      async_receive(io.get_executor(), server, asio::use_future);
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(future.get().payload(), 8u);
  work.reset();
  runner.join();
}

TEST_F(AsioTest, OneThreadServesSocketsTimersAndFloeTogether) {
  auto service =
      builder().max_response_buffer_size(128).enable_safe_overflow_for_responses(false).create();
  Signal ready, ticked;
  constexpr std::uint64_t kResponses = 100;
  // The stream's last response waits for 20 ticks of the timer below after its first one: on a
  // loaded machine the whole stream may otherwise be read in one pass, between two ticks.
  ChildProcess floe_server([&] { return stream_from_child(ready, kResponses, 1ms, &ticked); });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();

  asio::io_context io;
  // A TCP echo on loopback.
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  int echoed = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto socket = co_await acceptor.async_accept(use_awaitable);
        std::array<char, 4> buffer{};
        for (;;) {  // ends with an exception when the client closes
          co_await asio::async_read(socket, asio::buffer(buffer), use_awaitable);
          co_await asio::async_write(socket, asio::buffer(buffer), use_awaitable);
        }
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::ip::tcp::socket socket(io);
        co_await socket.async_connect(acceptor.local_endpoint(), use_awaitable);
        for (int i = 0; i < 50; ++i) {
          std::array<char, 4> out{'p', 'i', 'n', 'g'}, in{};
          co_await asio::async_write(socket, asio::buffer(out), use_awaitable);
          co_await asio::async_read(socket, asio::buffer(in), use_awaitable);
          EXPECT_EQ(in, out);
          ++echoed;
          asio::steady_timer pause(io, 2ms);
          co_await pause.async_wait(use_awaitable);
        }
      },
      asio::detached);
  // A timer ticking every millisecond.
  int ticks = 0;
  bool stream_done = false;
  int ticks_at_first_response = -1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        bool notified = false;
        while (!stream_done) {
          timer.expires_after(1ms);
          co_await timer.async_wait(use_awaitable);
          ++ticks;
          if (!notified && ticks_at_first_response >= 0 && ticks - ticks_at_first_response > 20) {
            ticked.notify();
            notified = true;
          }
        }
      },
      asio::detached);
  // A floe stream from another process.
  std::uint64_t responses = 0;
  int echoed_at_stream_end = -1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto pending = client.send_copy(1);
        while (auto response = co_await async_receive(pending, use_awaitable)) {
          if (responses++ == 0) ticks_at_first_response = ticks;
        }
        stream_done = true;
        echoed_at_stream_end = echoed;
        acceptor.close();
      },
      asio::detached);
  const auto start = Clock::now();
  io.run_for(10s);
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(responses, kResponses);
  EXPECT_EQ(echoed, 50);
  // All three made progress in the same thread at the same time: the timer ticked while the
  // stream ran (the stream's end waited for that, so a frozen timer fails the counts above),
  // and the echo had begun before the stream ended.
  EXPECT_GT(ticks - ticks_at_first_response, 20);
  EXPECT_GT(echoed_at_stream_end, 0);
  EXPECT_EQ(floe_server.wait(), 0);
}

TEST_F(AsioTest, CancellationSlotAbortsAReceiveAndTakesNothing) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  asio::io_context io;
  asio::cancellation_signal cancel;
  std::error_code seen;
  bool called = false;
  async_receive(server, asio::bind_cancellation_slot(
                            cancel.slot(), asio::bind_executor(io, [&](std::error_code e, auto) {
                              seen = e;
                              called = true;
                            })));
  asio::steady_timer timer(io, 10ms);
  timer.async_wait([&](std::error_code) { cancel.emit(asio::cancellation_type::terminal); });
  run_bounded(io);
  EXPECT_TRUE(called);
  EXPECT_EQ(seen, asio::error::operation_aborted);

  // Nothing was taken: a request sent now is the next one received.
  auto pending = client.send_copy(3);
  auto active = server.try_receive();
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->payload(), 3u);
}

TEST_F(AsioTest, TimerWinsAgainstAReceiveWithAwaitableOperators) {
  using namespace asio::experimental::awaitable_operators;
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  asio::io_context io;
  std::size_t winner = 99;
  std::optional<std::uint64_t> later;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, 20ms);
        auto result =
            co_await (async_receive(server, use_awaitable) || timer.async_wait(use_awaitable));
        winner = result.index();
        // The cancelled receive took nothing: the next one gets the request.
        auto pending = client.send_copy(11);
        auto active = co_await async_receive(server, use_awaitable);
        later = active.payload();
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(winner, 1u);
  EXPECT_EQ(later, 11u);
}

TEST_F(AsioTest, DestroyingTheIoContextWithReceivesPendingIsSafe) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  auto active = server.try_receive();
  ASSERT_TRUE(active.has_value());
  bool called = false;
  {
    asio::io_context io;
    async_receive(io.get_executor(), server, [&](std::error_code, auto) { called = true; });
    async_receive(io.get_executor(), pending, [&](std::error_code, auto) { called = true; });
    io.run_for(20ms);
  }
  EXPECT_FALSE(called);  // handlers are destroyed, not invoked
  // Nothing was left behind or taken: the response sent now is received.
  active->send_copy(2);
  auto response = pending.try_receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->payload(), 2u);
}

TEST_F(AsioTest, ResponsesBufferedBeforeTheEndAreReceivedThenNullopt) {
  auto service = builder().max_response_buffer_size(8).create();
  Signal ready, ended;
  ChildProcess server_process([&] {
    return serve_one_request(ready, [&](auto& active, Runtime&) -> Task<int> {
      for (std::uint64_t i = 0; i < 3; ++i)
        if (!active.send_copy(i)) co_return 1;
      active = {};  // ends the stream
      ended.notify();
      co_return 0;
    });
  });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  ASSERT_EQ(ended.wait(), 1);
  EXPECT_FALSE(pending.is_connected());
  asio::io_context io;
  std::vector<std::uint64_t> got;
  bool ended_with_nullopt = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (auto response = co_await async_receive(pending, use_awaitable))
          got.push_back(response->payload());
        ended_with_nullopt = true;
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_TRUE(ended_with_nullopt);
  EXPECT_EQ(server_process.wait(), 0);
}

// The adapter looks at its operations every RuntimeOptions{}.safety_recheck (1 s, fixed) too,
// which also ends the stream of a dead server, but never sooner than that after the first
// receive began. A stream that ended before then was ended by the server's exit itself; when
// the kill itself came that late (a loaded machine), only the loose bound is checked.
TEST_F(AsioTest, StreamEndsWhenTheServerProcessIsKilled) {
  auto service = builder().max_response_buffer_size(8).create();
  Signal streaming;
  ChildProcess server_process = server_streaming_until_killed(2, streaming);
  auto client = service.client_builder().create();
  asio::io_context io;
  std::uint64_t received = 0;
  Clock::time_point started{}, killed{}, ended{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        started = Clock::now();
        auto pending = client.send_copy(1);
        while (auto response = co_await async_receive(pending, use_awaitable)) {
          if (++received == 2) {
            EXPECT_EQ(streaming.wait(), 1);
            ::kill(server_process.pid(), SIGKILL);  // not reaped: a zombie is dead too
            killed = Clock::now();
          }
        }
        ended = Clock::now();
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(received, 2u);
  EXPECT_LT(ended - killed, 2s);
  const auto safety_recheck = RuntimeOptions{}.safety_recheck;
  if (killed - started < safety_recheck / 2) {
    EXPECT_LT(ended - started, safety_recheck) << "ended by the safety recheck, not by the exit";
  }
}

TEST_F(AsioTest, ShutdownWithAPendingSendWhoseHandlerOwnsTheActiveRequest) {
  // Destroying the handler at shutdown destroys the ActiveRequest, which cancels what waits on
  // its stream: the operation being destroyed must not be among them (it was freed twice).
  auto service =
      builder().enable_safe_overflow_for_responses(false).max_response_buffer_size(2).create();
  auto client = service.client_builder().create();
  std::optional<PendingResponse<std::uint64_t, std::uint64_t>> pending;
  int invoked = 0;
  {
    asio::io_context io;
    auto server = service.server_builder().backpressure(Backpressure::block).create();
    pending = client.send_copy(1);
    auto received = server.try_receive();
    ASSERT_TRUE(received.has_value());
    auto active =
        std::make_shared<ActiveRequest<std::uint64_t, std::uint64_t>>(std::move(*received));
    ASSERT_TRUE(active->send_copy(1));
    ASSERT_TRUE(active->send_copy(2));  // the client's buffer is full
    auto& request = *active;
    floe::async_send_copy(request, std::uint64_t{3},
                          asio::bind_executor(io, [&invoked, keep = std::move(active)](
                                                      std::error_code, bool) { ++invoked; }));
    io.poll();  // the send waits for room
    EXPECT_EQ(invoked, 0);
  }  // the Server, then the io_context with the send pending
  EXPECT_EQ(invoked, 0);
  // The stream ended with the ActiveRequest; what was delivered is still there.
  EXPECT_EQ(pending->try_receive()->payload(), 1u);
  EXPECT_FALSE(pending->is_connected());
}

/// Requests of up to 64 bytes answered by up to 64 numbers, in the Asio tests' domain.
auto slice_builder(Node& node) {
  return node.service_builder("Test/AsioSlices")
      .request_response<Slice<std::byte>, Slice<std::uint64_t>>()
      .request_max_slice_len(64)
      .response_max_slice_len(64);
}

TEST_F(AsioTest, SendCopyOfSpan) {
  auto service = slice_builder(node).create();
  auto server = service.server_builder().create();
  // The client, in another process: a request of 5 bytes, answered by 5 numbers (each byte
  // times 10) and then by an empty slice.
  ChildProcess client([&] {
    Node other = Node::create("client", config);
    auto c = slice_builder(other).open().client_builder().create();
    Runtime runtime(asleep);
    return runtime.block_on([&]() -> Task<int> {
      co_await sleep_for(50ms);  // the io_context sleeps by now
      const std::array<std::byte, 5> bytes{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4},
                                           std::byte{5}};
      auto pending = c.send_copy(bytes);
      auto first = co_await with_timeout(pending.receive(), 10s);
      FLOE_CHILD_CO_CHECK(first && first->payload().size() == 5);
      for (std::size_t i = 0; i < 5; ++i)
        FLOE_CHILD_CO_CHECK(first->payload()[i] == (i + 1) * 10);
      auto second = co_await with_timeout(pending.receive(), 10s);
      FLOE_CHILD_CO_CHECK(second && second->payload().empty());
      first.reset();  // two responses may be held at once
      second.reset();
      FLOE_CHILD_CO_CHECK(!(co_await with_timeout(pending.receive(), 10s)));
      co_return 0;
    }());
  });

  asio::io_context io;
  bool served = false;
  std::error_code too_long;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto active = co_await async_receive(server, use_awaitable);
        std::vector<std::uint64_t> numbers;
        for (const std::byte b : active.payload())
          numbers.push_back(std::to_integer<std::uint64_t>(b) * 10);
        EXPECT_TRUE(co_await floe::async_send_copy(active, numbers, use_awaitable));
        // An empty slice goes like any other; a too long one fails before anything is sent.
        EXPECT_TRUE(
            co_await floe::async_send_copy(active, std::vector<std::uint64_t>{}, use_awaitable));
        const std::vector<std::uint64_t> too_many(65);
        auto [error, delivered] = co_await floe::async_send_copy(
            active, too_many, asio::experimental::as_tuple(use_awaitable));
        too_long = error;
        EXPECT_FALSE(delivered);
        served = true;
      },
      asio::detached);
  run_bounded(io);
  EXPECT_TRUE(served);
  EXPECT_EQ(too_long, Errc::exceeds_max_slice_len);
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(AsioTest, CallWithASpan) {
  auto service = slice_builder(node).create();
  // The server, in another process: answers each request with its bytes as numbers.
  ChildProcess server_process = started([&](const Signal& ready) {
    Node other = Node::create("server", config);
    auto server = slice_builder(other).open().server_builder().create();
    ready.notify();
    auto active = receive_within(server);
    FLOE_CHILD_CHECK(active);
    auto response = active->loan_slice(active->payload().size());
    for (std::size_t i = 0; i < response.size(); ++i)
      response.payload()[i] = std::to_integer<std::uint64_t>(active->payload()[i]);
    FLOE_CHILD_CHECK(std::move(response).send());
    return 0;
  });
  auto client = service.client_builder().create();

  asio::io_context io;
  std::vector<std::uint64_t> answer;
  std::error_code too_long;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const std::vector<std::byte> bytes{std::byte{7}, std::byte{8}, std::byte{9}};
        auto response = co_await floe::async_call(client, bytes, 10s, use_awaitable);
        answer.assign(response.payload().begin(), response.payload().end());
        auto [error, none] = co_await floe::async_call(client, std::vector<std::byte>(65), 10s,
                                                       asio::experimental::as_tuple(use_awaitable));
        too_long = error;
      },
      asio::detached);
  run_bounded(io);
  EXPECT_EQ(answer, (std::vector<std::uint64_t>{7, 8, 9}));
  EXPECT_EQ(too_long, Errc::exceeds_max_slice_len);
  EXPECT_EQ(server_process.wait(), 0);
}

}  // namespace
}  // namespace floe::test
