// co_await on ports across real processes: woken by the notifier, ended by a peer's death,
// bounded by timeouts and cancellation without losing anything in shared memory.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <vector>

#include "platform/futex.hpp"
#include "support/fixture.hpp"
#include "support/port_records.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;

using AsyncPortsTest = AsyncServiceTest;

/// Awaits the next response, failing the test instead of hanging.
template <typename Pending>
auto next(Pending& pending) {
  return with_timeout(pending.receive(), 10s);
}

TEST_F(AsyncPortsTest, ServerIsWokenByARequestFromAnotherProcessAndStreamsBack) {
  auto service = builder().max_response_buffer_size(8).create();
  auto server = service.server_builder().create();

  ChildProcess client([&] {
    auto remote = open_as("client");
    auto c = remote.client_builder().create();
    Runtime runtime(asleep);
    return runtime.block_on([&]() -> Task<int> {
      co_await sleep_for(50ms);  // the server is asleep by now
      auto pending = c.send_copy(7);
      for (std::uint64_t i = 0; i < 5; ++i) {
        auto response = co_await next(pending);
        FLOE_CHILD_CO_CHECK(response.has_value());
        FLOE_CHILD_CO_CHECK(response->payload() == 7 * 10 + i);
      }
      FLOE_CHILD_CO_CHECK(!(co_await next(pending)).has_value());
      FLOE_CHILD_CO_CHECK(runtime.stats().sleeps >= 1);
      co_return 0;
    }());
  });

  Runtime runtime(asleep);
  runtime.block_on([&]() -> Task<void> {
    auto active = co_await with_timeout(server.receive(), 10s);
    EXPECT_EQ(active.payload(), 7u);
    for (std::uint64_t i = 0; i < 5; ++i) {
      auto response = active.loan();
      *response = active.payload() * 10 + i;
      EXPECT_TRUE(std::move(response).send());
      co_await sleep_for(1ms);  // the client sleeps between responses
    }
  }());
  EXPECT_GE(runtime.stats().sleeps, 1u);
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(AsyncPortsTest, SendingToAnAwakeReceiverMakesNoSyscall) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  const std::uint64_t before = detail::futex_wakes_made();
  for (std::uint64_t i = 0; i < 1000; ++i) {
    auto pending = client.send_copy(i);
    auto active = server.try_receive();
    ASSERT_TRUE(active.has_value());
    active->send_copy(i);
    ASSERT_TRUE(pending.try_receive().has_value());
  }
  EXPECT_EQ(detail::futex_wakes_made(), before);
}

TEST_F(AsyncPortsTest, SendingToASleepingReceiverWakesItWithOneSyscall) {
  auto service = builder().create();
  Signal ready;
  ChildProcess server_process([&] {
    return serve_one_request(ready, [](auto& active, Runtime& runtime) -> Task<int> {
      active.send_copy(active.payload());
      FLOE_CHILD_CO_CHECK(runtime.stats().sleeps >= 1);
      co_return 0;
    });
  });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();
  // The server's loop is asleep: its `waiting` flag is set and its thread sleeps in the kernel
  // (the flag alone is also set for the loop's last look at its ports before it sleeps).
  const MappedService mapped(config, "Test/Service");
  std::atomic_ref<std::uint32_t> waiting = waiting_flag(mapped.active_server());
  ASSERT_TRUE(eventually(
      [&] { return waiting.load() == 1 && sleeping_in_kernel(server_process.pid()); }, 10s));
  const std::uint64_t before = detail::futex_wakes_made();
  auto pending = client.send_copy(9);
  EXPECT_EQ(detail::futex_wakes_made() - before, 1u);
  EXPECT_TRUE(receive_within(pending).has_value());
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(AsyncPortsTest, OneWakeUpServesEveryReadyPort) {
  Node other_node = Node::create("second", config);
  auto first = builder().create();
  auto second = other_node.service_builder("Test/Second")
                    .request_response<std::uint64_t, std::uint64_t>()
                    .create();
  auto first_server = first.server_builder().create();
  auto second_server = second.server_builder().create();

  ChildProcess sender([&] {
    // Both receivers asleep (announced so) before anything is sent.
    const MappedService first_mapped(config, "Test/Service");
    const MappedService second_mapped(config, "Test/Second");
    std::atomic_ref<std::uint32_t> first_waiting = waiting_flag(first_mapped.active_server());
    std::atomic_ref<std::uint32_t> second_waiting = waiting_flag(second_mapped.active_server());
    FLOE_CHILD_CHECK(
        eventually([&] { return first_waiting.load() == 1 && second_waiting.load() == 1; }, 10s));
    auto a = open_as("sender").client_builder().create();
    Node n = Node::create("sender2", config);
    auto b = n.service_builder("Test/Second")
                 .request_response<std::uint64_t, std::uint64_t>()
                 .open()
                 .client_builder()
                 .create();
    // Back to back: the second arrives long before the first wake-up completes (tens of us).
    auto pa = a.send_copy(1);
    auto pb = b.send_copy(2);
    return wait_to_be_killed(10s);
  });

  // Only rings (or the 10 s timeouts) wake this loop: a loop that served one port per wake-up
  // would sleep again on the other port's request until its timeout, and fail.
  Runtime runtime(rung_only);
  int served = 0;
  auto serve = [&](auto& server) -> Task<void> {
    auto active = co_await with_timeout(server.receive(), 10s);
    (void)active;
    ++served;
  };
  runtime.spawn(serve(first_server));
  runtime.spawn(serve(second_server));
  runtime.run();
  EXPECT_EQ(served, 2);
  // One sleep before the requests, and a second one only if the second request came after the
  // wake-up of the first.
  EXPECT_LE(runtime.stats().sleeps, 2u);
}

TEST_F(AsyncPortsTest, TimedOutReceiveTakesNothingAway) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  runtime.block_on([&]() -> Task<void> {
    const auto start = Clock::now();
    EXPECT_EQ(co_await error_of_await(with_timeout(server.receive(), 30ms)), Errc::timed_out);
    EXPECT_GE(Clock::now() - start, 30ms);

    auto pending = client.send_copy(1);
    auto active = co_await with_timeout(server.receive(), 10s);
    active.send_copy(2);
    // The response was there: a zero timeout still takes what is ready.
    EXPECT_EQ(co_await error_of_await(with_timeout(pending.receive(), 0ms)), Errc{});
  }());
}

TEST_F(AsyncPortsTest, CancelledReceiveLeavesTheResponseForTheNextOne) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  std::stop_source stop;
  auto pending = client.send_copy(1);
  auto active = server.try_receive();
  ASSERT_TRUE(active.has_value());

  Errc seen{};
  auto receiver = [&]() -> Task<void> {
    seen = co_await error_of_await(pending.receive(stop.get_token()));
  };
  auto canceller = [&]() -> Task<void> {
    co_await sleep_for(10ms);
    stop.request_stop();
  };
  runtime.spawn(receiver());
  runtime.spawn(canceller());
  runtime.run();
  EXPECT_EQ(seen, Errc::cancelled);

  active->send_copy(5);
  auto response = runtime.block_on([&]() -> Task<std::optional<std::uint64_t>> {
    auto r = co_await next(pending);
    co_return r ? std::optional<std::uint64_t>(r->payload()) : std::nullopt;
  }());
  EXPECT_EQ(response, 5u);
}

TEST_F(AsyncPortsTest, RuntimeStopCancelsAReceivingServer) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Runtime runtime(asleep);
  Errc seen{};
  runtime.spawn([&]() -> Task<void> { seen = co_await error_of_await(server.receive()); });
  std::jthread stopper([&] {
    std::this_thread::sleep_for(20ms);
    runtime.stop();
  });
  runtime.run();
  EXPECT_EQ(seen, Errc::cancelled);
  const ServiceUsage usage = service.usage();
  EXPECT_EQ(usage.request_chunks_in_use, 0u);
}

// Only the death can end the stream in time: the loop neither spins nor looks again on its own
// (rung_only), and next() throws timed_out after 10 s. So ending at all proves that the peer's
// exit woke the loop; the bound on how soon is loose, for a loaded machine.
TEST_F(AsyncPortsTest, StreamEndsWhenTheServerIsKilledMidStream) {
  auto service = builder().max_response_buffer_size(8).create();
  Signal streaming;
  ChildProcess server_process = server_streaming_until_killed(3, streaming);
  auto client = service.client_builder().create();
  Runtime runtime(rung_only);
  std::chrono::nanoseconds end_after_kill{};
  std::uint64_t received = 0;
  runtime.block_on([&]() -> Task<void> {
    auto pending = client.send_copy(1);
    while (auto response = co_await next(pending)) {
      EXPECT_EQ(response->payload(), received);
      if (++received == 3) {
        EXPECT_EQ(streaming.wait(), 1);
        // Not reaped: a zombie must count as dead too.
        ::kill(server_process.pid(), SIGKILL);
        end_after_kill = Clock::now().time_since_epoch();
      }
    }
    end_after_kill = Clock::now().time_since_epoch() - end_after_kill;
    EXPECT_FALSE(pending.is_connected());
  }());
  EXPECT_EQ(received, 3u);
  EXPECT_LT(end_after_kill, 5s);
  EXPECT_GE(runtime.stats().peer_exits, 1u);
}

TEST_F(AsyncPortsTest, ReceiveDeliversWhatWasBufferedBeforeTheEndThenNullopt) {
  auto service = builder().max_response_buffer_size(8).create();
  Signal ended, finish;
  ChildProcess server_process = server_answering([&](auto& active) {
    for (std::uint64_t i = 0; i < 3; ++i)
      FLOE_CHILD_CHECK(active->send_copy(i));
    active.reset();
    ended.notify();
    return finish.wait() == 1 ? 0 : 2;
  });
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  ASSERT_EQ(ended.wait(), 1);
  EXPECT_FALSE(pending.is_connected()) << "the server let go, with three responses buffered";
  Runtime runtime(asleep);
  std::vector<std::uint64_t> got;
  runtime.block_on([&]() -> Task<void> {
    while (auto response = co_await next(pending))
      got.push_back(response->payload());
  }());
  EXPECT_EQ(got, (std::vector<std::uint64_t>{0, 1, 2}));
  finish.notify();
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(AsyncPortsTest, ServerAwaitingRequestsIsUnaffectedByAClientThatDied) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  ChildProcess client_process = client_that_sent(1);

  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  runtime.block_on([&]() -> Task<void> {
    auto from_dead = co_await with_timeout(server.receive(), 10s);
    EXPECT_EQ(from_dead.payload(), 1u);
    client_process.kill();
    EXPECT_TRUE(eventually([&] { return !from_dead.is_connected(); }, 5s));

    auto pending = client.send_copy(2);
    auto active = co_await with_timeout(server.receive(), 10s);
    EXPECT_EQ(active.payload(), 2u);
    active.send_copy(3);
    auto response = co_await next(pending);
    EXPECT_TRUE(response.has_value());
  }());
}

TEST_F(AsyncPortsTest, SeveralClientsAndServersInSeveralProcessesAtOnce) {
  constexpr int kServers = 2;
  constexpr int kClientTasks = 4;
  constexpr std::uint64_t kRequestsPerTask = 50;
  constexpr std::uint64_t kResponsesPerRequest = 3;
  auto service = builder()
                     .max_servers(kServers)
                     .max_clients(kClientTasks + 1)
                     .max_response_buffer_size(4)
                     .create();
  Signal ready;
  std::vector<std::unique_ptr<ChildProcess>> servers;
  for (int s = 0; s < kServers; ++s) {
    servers.push_back(std::make_unique<ChildProcess>([&] {
      auto remote = open_as("server");
      auto server = remote.server_builder().create();
      Runtime runtime(asleep);
      ready.notify();
      // Serves until the parent stops answering (it kills us), one task per request.
      return runtime.block_on([&]() -> Task<int> {
        for (;;) {
          auto active = co_await server.receive();
          for (std::uint64_t i = 0; i < kResponsesPerRequest; ++i) {
            active.send_copy(active.payload() + i);
          }
        }
      }());
    }));
  }
  for (int s = 0; s < kServers; ++s)
    ASSERT_EQ(ready.wait(), 1);

  std::vector<decltype(service.client_builder().create())> clients;
  for (int c = 0; c < kClientTasks; ++c)
    clients.push_back(service.client_builder().create());
  Runtime runtime;
  std::atomic<std::uint64_t> responses{0};
  auto client_task = [&](int c) -> Task<void> {
    for (std::uint64_t r = 0; r < kRequestsPerTask; ++r) {
      const std::uint64_t request = (static_cast<std::uint64_t>(c) << 32) + r * 100;
      auto pending = clients[static_cast<std::size_t>(c)].send_copy(request);
      // Not exact: a server may already have answered and let go (reaching both servers is
      // what the count of responses below shows).
      EXPECT_LE(pending.number_of_server_connections(), static_cast<std::uint32_t>(kServers));
      std::uint64_t got = 0;
      while (auto response = co_await next(pending)) {
        EXPECT_GE(response->payload(), request);
        EXPECT_LT(response->payload(), request + kResponsesPerRequest);
        ++got;
      }
      EXPECT_EQ(got, kServers * kResponsesPerRequest);
      responses += got;
    }
  };
  for (int c = 0; c < kClientTasks; ++c)
    runtime.spawn(client_task(c));
  runtime.run();
  EXPECT_EQ(responses.load(), kClientTasks * kRequestsPerTask * kServers * kResponsesPerRequest);
}

/// A slice service whose client may hold one loan: a second loan has to wait for it.
auto one_loan_slices(Node& node) {
  return node.service_builder("Test/OneLoanSlices")
      .request_response<Slice<std::byte>, std::uint64_t>()
      .request_max_slice_len(64)
      .max_loaned_requests(1)
      .create();
}

TEST_F(AsyncPortsTest, LoanSliceWaitsForFreeChunk) {
  auto service = one_loan_slices(node);
  auto client = service.client_builder().create();
  std::optional<decltype(client.loan_slice(0))> held = client.loan_slice_uninit(64);
  std::fill(held->payload().begin(), held->payload().end(), std::byte{0xff});
  ASSERT_EQ(error_of([&] { (void)client.loan_slice(10); }), Errc::exceeds_max_loans);

  Runtime runtime(asleep);
  Clock::duration waited{};
  std::size_t size = 0;
  bool zeroed = false;
  // Named: a coroutine lambda's captures live in the lambda, which must outlive the task.
  auto loan = [&]() -> Task<void> {
    const auto start = Clock::now();
    auto request = co_await with_timeout(client.async_loan_slice(10), 10s);
    waited = Clock::now() - start;
    size = request.size();
    zeroed = std::all_of(request.payload().begin(), request.payload().end(),
                         [](std::byte b) { return b == std::byte{0}; });
  };
  auto give_back = [&]() -> Task<void> {
    co_await sleep_for(50ms);
    held.reset();  // gives the one loan back: the waiting task gets it
  };
  runtime.spawn(loan());
  runtime.spawn(give_back());
  runtime.run();
  EXPECT_GE(waited, 40ms);
  EXPECT_LT(waited, 5s);
  EXPECT_EQ(size, 10u);
  EXPECT_TRUE(zeroed) << "async_loan_slice does not value-initialize the elements";
}

TEST_F(AsyncPortsTest, LoanSliceTooLargeFailsWithoutWaiting) {
  auto service = one_loan_slices(node);
  auto client = service.client_builder().initial_max_slice_len(32).create();
  auto held = client.loan_slice(1);  // a loan within the max would wait for this one
  Runtime runtime(asleep);
  const auto start = Clock::now();
  EXPECT_EQ(runtime.block_on(error_of_await(with_timeout(client.async_loan_slice(33), 5s))),
            Errc::exceeds_max_slice_len);
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(runtime.block_on(error_of_await(with_timeout(client.async_loan_slice(32), 100ms))),
            Errc::timed_out);
  EXPECT_EQ(service.usage().request_chunks_in_use, 1u);
}

}  // namespace
}  // namespace floe::test
