// floe::Runtime as users compose it: many operations on one loop started in every order, ports
// going away mid-wait, every destruction order, signals, a stalled client next to a prompt one,
// loans and request slots awaited instead of refused. Peers are real processes.

#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;
class Composition : public AsyncServiceTest {
 protected:
  auto service_builder(Node& n, int index) {
    return n.service_builder("Test/Many/" + std::to_string(index))
        .request_response<std::uint64_t, std::uint64_t>();
  }

  /// `count` services with a server each, receives started in `order` on one runtime; a client
  /// in another process sends to service `target` alone. True if that receive (and no other)
  /// completed, and the client had its reply within `round_trip`: a wake-up that was missed
  /// would still be noticed when the receives time out (3 s), too late for that bound.
  bool only_target_is_woken(const std::vector<int>& order, int target,
                            std::chrono::milliseconds round_trip = 5s) {
    std::vector<U64Service> services;
    std::vector<U64Server> servers;
    for (std::size_t i = 0; i < order.size(); ++i) {
      services.push_back(service_builder(node, static_cast<int>(i)).create());
      servers.push_back(services.back().server_builder().create());
    }
    Signal ready;
    ChildProcess client([&] {
      Node other = Node::create("client", config);
      auto c = service_builder(other, target).open().client_builder().create();
      if (ready.wait() != 1) return 2;
      std::this_thread::sleep_for(30ms);  // every receive is asleep by now
      const auto sent = Clock::now();
      auto pending = c.send_copy(static_cast<std::uint64_t>(target));
      if (!receive_within(pending, 5s).has_value()) return 1;
      return Clock::now() - sent <= round_trip ? 0 : 3;
    });
    Runtime runtime(asleep);
    int served = -1;
    int others = 0;
    for (int i : order) {
      runtime.spawn([&, i]() -> Task<void> {
        try {
          auto active = co_await with_timeout(servers[static_cast<std::size_t>(i)].receive(), 3s);
          if (served >= 0) ++others;
          served = i;
          active.send_copy(active.payload());
        } catch (const Error& e) {
          if (e.code() != Errc::cancelled) ++others;  // timed out: not woken
          co_return;
        }
        runtime.stop();  // the rest are cancelled
      });
    }
    runtime.spawn([&]() -> Task<void> {
      ready.notify();
      co_return;
    });
    runtime.run();
    EXPECT_EQ(client.wait(10s), 0);
    return served == target && others == 0;
  }

  /// Awaits a receive on `port` (bounded) and destroys the port 20 ms later, mid-wait: how
  /// that receive ended.
  template <typename Port>
  Errc receive_outcome_when_destroyed_mid_wait(std::optional<Port>& port) {
    Runtime runtime(asleep);
    Errc outcome{};
    runtime.spawn([&]() -> Task<void> {
      outcome = co_await error_of_await(with_timeout(port->receive(), 5s));
    });
    runtime.spawn([&]() -> Task<void> {
      co_await sleep_for(20ms);
      port.reset();
    });
    runtime.run();
    return outcome;
  }

  /// How a runtime in the SIGINT tests is stopped.
  enum class SigintStop {
    stop_on,            // Runtime::stop_on; the waiting task catches the cancellation
    stop_on_uncaught,   // the same, the task lets the cancellation escape
    users_own_handler,  // the user's own sigaction handler calls Runtime::stop
  };

  /// In a forked child: a runtime that signals `ready` and waits for a request that never
  /// comes, until the first SIGINT stops it as `how` says. Exit 0 if it stopped that way.
  int wait_for_sigint(const Signal& ready, SigintStop how);

  /// Runs wait_for_sigint(how) in a forked child, and sends it SIGINT once it sleeps in the
  /// kernel: the child's exit code, within 3 s.
  int exit_code_after_sigint(SigintStop how) {
    auto service = builder().create();
    Signal ready;
    ChildProcess child([&] { return wait_for_sigint(ready, how); });
    if (ready.wait() != 1) return -2;
    std::this_thread::sleep_for(50ms);  // asleep in the kernel by now
    ::kill(child.pid(), SIGINT);
    return child.wait(3s);
  }
};

TEST_F(Composition, EveryPendingReceiveIsWokenWhateverTheOrderTheyStartedIn) {
  for (int count : {2, 3}) {
    std::vector<int> order(static_cast<std::size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    do {
      for (int target : {order.front(), order.back()}) {
        EXPECT_TRUE(only_target_is_woken(order, target))
            << count << " receives, target " << target << " started at position "
            << (std::find(order.begin(), order.end(), target) - order.begin());
      }
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST_F(Composition, SixtyFourPendingReceivesAreEachWoken) {
  std::vector<int> order(64);
  std::iota(order.begin(), order.end(), 0);
  EXPECT_TRUE(only_target_is_woken(order, 63));
  EXPECT_TRUE(only_target_is_woken(order, 0));
  std::reverse(order.begin(), order.end());
  EXPECT_TRUE(only_target_is_woken(order, 0));
  EXPECT_TRUE(only_target_is_woken(order, 31));
}

// More doorbells than one futex_waitv(2) call takes (128, one of them the epoll backend's
// control word) and more futex waits than the io_uring backend's submission queue holds (64).
TEST_F(Composition, ThreeHundredPendingReceivesAreEachWokenPromptly) {
  std::vector<int> order(300);
  std::iota(order.begin(), order.end(), 0);
  for (int target : {0, 199, 299}) {
    EXPECT_TRUE(only_target_is_woken(order, target, 2s)) << "target " << target;
  }
}

TEST_F(Composition, DestroyingAServerCancelsItsPendingReceive) {
  auto service = builder().create();
  std::optional<U64Server> server = service.server_builder().create();
  EXPECT_EQ(receive_outcome_when_destroyed_mid_wait(server), Errc::cancelled);
}

TEST_F(Composition, DestroyingAPendingResponseCancelsItsPendingReceive) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  std::optional<U64Pending> pending = client.send_copy(1);
  EXPECT_EQ(receive_outcome_when_destroyed_mid_wait(pending), Errc::cancelled);
  EXPECT_FALSE(server.try_receive().has_value());  // withdrawn: nobody listens
}

TEST_F(Composition, APendingResponseOutlivesItsClientAndStillReceives) {
  auto service = builder().create();
  Signal go;
  ChildProcess server_process = server_answering_three_when(go);
  std::optional<U64Client> client = service.client_builder().create();
  auto pending = client->send_copy(7);
  Runtime runtime(asleep);
  std::vector<std::uint64_t> received;
  runtime.block_on([&]() -> Task<void> {
    client.reset();  // the PendingResponse keeps the port
    go.notify();
    while (auto response = co_await with_timeout(pending.receive(), 5s))
      received.push_back(response->payload());
  });
  EXPECT_EQ(received, (std::vector<std::uint64_t>{70, 71, 72}));
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(Composition, PortsGoingAwayBetweenRunsLeaveTheirTasksCancelled) {
  // Ports declared after the runtime: destroyed first, while its tasks still wait in it.
  auto quiet = builder().create();  // nobody sends here
  auto busy = service_builder(node, 1).create();
  auto holder = busy.server_builder().create();
  Runtime runtime(asleep);
  Errc on_server{};
  Errc on_pending{};
  std::optional<U64Active> held;
  {
    auto server = quiet.server_builder().create();
    auto client = busy.client_builder().create();
    auto pending = client.send_copy(1);
    held = holder.try_receive();  // taken, never answered: the stream stays open
    ASSERT_TRUE(held.has_value());
    runtime.spawn([&]() -> Task<void> { on_server = co_await error_of_await(server.receive()); });
    runtime.spawn([&]() -> Task<void> { on_pending = co_await error_of_await(pending.receive()); });
    runtime.block_on([]() -> Task<void> { co_await sleep_for(1ms); });  // both still wait
  }
  runtime.run();  // they resume, cancelled, and finish
  EXPECT_EQ(on_server, Errc::cancelled);
  EXPECT_EQ(on_pending, Errc::cancelled);
  EXPECT_FALSE(held->is_connected());
}

TEST_F(Composition, ARuntimeDestroyedBeforeItsPortsLeavesThemUsable) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  {
    Runtime runtime(asleep);
    runtime.spawn([&]() -> Task<void> { (void)co_await server.receive(); });
    runtime.block_on([]() -> Task<void> { co_await sleep_for(1ms); });
    // The runtime goes with the receive still waiting.
  }
  auto pending = client.send_copy(1);
  auto active = server.try_receive();
  ASSERT_TRUE(active.has_value());
  EXPECT_TRUE(active->send_copy(5));
  EXPECT_EQ(pending.try_receive()->payload(), 5u);
  Runtime again(asleep);
  auto answered = again.block_on([&]() -> Task<bool> {
    auto second = client.send_copy(2);
    auto request = co_await with_timeout(server.receive(), 5s);
    request.send_copy(request.payload());
    auto response = co_await with_timeout(second.receive(), 5s);
    co_return response && response->payload() == 2;
  });
  EXPECT_TRUE(answered);
}

// ThreadSanitizer holds an asynchronous signal back until the thread calls a function it
// intercepts; a loop asleep in io_uring_enter or epoll_pwait2 never does, so the handler (and
// the stop) would only run after the wait.
#if defined(__SANITIZE_THREAD__)
#define FLOE_SKIP_UNDER_TSAN() GTEST_SKIP() << "TSan defers signal handlers past raw syscalls"
#else
#define FLOE_SKIP_UNDER_TSAN() (void)0
#endif

int Composition::wait_for_sigint(const Signal& ready, SigintStop how) {
  auto server = open_as("server").server_builder().create();
  Runtime runtime(RuntimeOptions{.spin_budget = {}});
  static Runtime* target = nullptr;
  if (how == SigintStop::users_own_handler) {
    target = &runtime;
    struct sigaction action {};
    action.sa_handler = [](int) { target->stop(); };
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &action, nullptr);
  } else {
    runtime.stop_on({SIGINT, SIGTERM});
  }
  if (how == SigintStop::stop_on_uncaught) {
    runtime.spawn([&]() -> Task<void> {  // no try/catch, as in the README's first look
      ready.notify();
      for (;;)
        (void)co_await server.receive();
    });
    runtime.run();  // returns: the task was stopped, not failed
    return 0;
  }
  return runtime.block_on([&]() -> Task<int> {
    ready.notify();
    try {
      (void)co_await server.receive();
    } catch (const Error& e) {
      co_return e.code() == Errc::cancelled ? 0 : 3;
    }
    co_return 4;
  });
}

TEST_F(Composition, OneSigintStopsARuntimeThroughStopOn) {
  FLOE_SKIP_UNDER_TSAN();
  EXPECT_EQ(exit_code_after_sigint(SigintStop::stop_on), 0);
}

TEST_F(Composition, ATaskThatLetsTheStopsCancellationEscapeIsStoppedNotFailed) {
  FLOE_SKIP_UNDER_TSAN();
  EXPECT_EQ(exit_code_after_sigint(SigintStop::stop_on_uncaught), 0);
}

TEST_F(Composition, StopFromTheUsersOwnSignalHandlerEndsTheWait) {
  FLOE_SKIP_UNDER_TSAN();
  EXPECT_EQ(exit_code_after_sigint(SigintStop::users_own_handler), 0);
}

TEST_F(Composition, SpawnKeepsTheCoroutineLambdaAlive) {
  Runtime runtime(asleep);
  std::vector<std::uint64_t> seen;
  for (std::uint64_t i = 0; i < 3; ++i) {
    // The lambda is a temporary: only spawn keeps its captures alive across the suspension.
    runtime.spawn([&seen, i, padding = std::string(100, 'x')]() -> Task<void> {
      co_await sleep_for(1ms);
      seen.push_back(i + padding.size());
    });
  }
  runtime.run();
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{100, 101, 102}));
  EXPECT_EQ(runtime.block_on([v = std::string("kept")]() -> Task<std::size_t> {
    co_await sleep_for(1ms);
    co_return v.size();
  }),
            4u);
}

/// A lossless stream: no safe overflow, a small buffer, a server that waits for room.
class Backpressured : public Composition {
 protected:
  auto lossless() {
    return builder().enable_safe_overflow_for_responses(false).max_response_buffer_size(2);
  }

  /// A client in another process, in a runtime with `options`, that has sent `payload` and
  /// then reads `count` responses: exit 0 if they are 0 .. count - 1 in order, none lost.
  ChildProcess client_reading_in_order(std::uint64_t payload, std::uint64_t count,
                                       const RuntimeOptions& options) {
    return started([&](const Signal& sent) {
      auto client = open_as("reader").client_builder().create();
      Runtime runtime(options);
      return runtime.block_on([&]() -> Task<int> {
        auto pending = client.send_copy(payload);
        sent.notify();
        for (std::uint64_t i = 0; i < count; ++i) {
          auto response = co_await with_timeout(pending.receive(), 5s);
          FLOE_CHILD_CO_CHECK(response && response->payload() == i);
        }
        co_return pending.number_of_overwritten_responses() == 0 ? 0 : 2;
      });
    });
  }
};

TEST_F(Backpressured, AStalledClientDoesNotStallTheServersOtherStreams) {
  constexpr std::uint64_t kCount = 1000;
  auto service = lossless().create();
  auto server = service.server_builder().backpressure(Backpressure::block).create();
  ChildProcess stalled = client_that_sent(1);
  ASSERT_EQ(::kill(stalled.pid(), SIGSTOP), 0);  // never reads
  ChildProcess prompt = client_reading_in_order(2, kCount, asleep);

  Runtime runtime(asleep);
  std::vector<bool> last_delivered(3, true);
  std::vector<std::uint64_t> sent(3, 0);
  auto stream = [&](U64Active active) -> Task<void> {
    const std::uint64_t who = active.payload();
    for (std::uint64_t i = 0; i < kCount; ++i) {
      last_delivered[who] = co_await active.async_send_copy(i);
      if (!last_delivered[who]) co_return;
      ++sent[who];
    }
  };
  runtime.block_on([&]() -> Task<void> {
    for (int n = 0; n < 2; ++n)
      runtime.spawn(stream(co_await with_timeout(server.receive(), 5s)));
    // The prompt client gets everything while the stalled one holds its stream full.
    while (sent[2] < kCount)
      co_await sleep_for(1ms);
  });
  EXPECT_EQ(prompt.wait(10s), 0);
  EXPECT_EQ(sent[1], 2u);  // exactly what fits in its buffer
  // Its death ends the waiting send with `false`, promptly.
  stalled.kill();
  const auto killed_at = Clock::now();
  runtime.run();
  EXPECT_FALSE(last_delivered[1]);
  EXPECT_LT(Clock::now() - killed_at, 2s);
}

TEST_F(Backpressured, ALongLosslessStreamNeverStallsWaitingForRoom) {
  // The client makes room while the server decides to wait for it: a lost wake-up there hung
  // the stream for good (one in tens of thousands of responses).
  constexpr std::uint64_t kCount = 300'000;
  auto service = lossless().max_response_buffer_size(16).create();
  auto server = service.server_builder().backpressure(Backpressure::block).create();
  // Default spin: the client keeps up and makes room at every moment.
  ChildProcess client = client_reading_in_order(1, kCount, RuntimeOptions{});
  Runtime runtime(asleep);
  std::uint64_t sent = 0;
  runtime.block_on([&]() -> Task<void> {
    auto active = co_await with_timeout(server.receive(), 5s);
    for (; sent < kCount; ++sent) {
      if (!co_await with_timeout(active.async_send_copy(sent), 5s)) co_return;
    }
  });
  EXPECT_EQ(sent, kCount);
  EXPECT_EQ(client.wait(60s), 0);
}

TEST_F(Backpressured, ABlockingSendSleepsInsteadOfSpinning) {
  auto service = lossless().create();
  auto server = service.server_builder().backpressure(Backpressure::block).create();
  Signal sent_request, about_to_block;
  ChildProcess client([&] {
    auto c = open_as("client").client_builder().create();
    auto pending = c.send_copy(1);
    sent_request.notify();
    FLOE_CHILD_CHECK(about_to_block.wait() == 1);
    std::this_thread::sleep_for(300ms);  // the server's third send waits for this
    for (std::uint64_t i = 0; i < 3; ++i) {
      auto response = receive_within(pending, 5s);
      FLOE_CHILD_CHECK(response && response->payload() == i);
    }
    return 0;
  });
  ASSERT_EQ(sent_request.wait(), 1);
  auto active = receive_within(server, 5s);
  ASSERT_TRUE(active.has_value());
  EXPECT_TRUE(active->send_copy(0));
  EXPECT_TRUE(active->send_copy(1));
  timespec before{};
  timespec after{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &before);
  const auto start = Clock::now();
  about_to_block.notify();            // the client reads 300 ms after this, however late it runs
  EXPECT_TRUE(active->send_copy(2));  // blocks until the client reads
  const auto waited = Clock::now() - start;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &after);
  const auto cpu = std::chrono::seconds(after.tv_sec - before.tv_sec) +
                   std::chrono::nanoseconds(after.tv_nsec - before.tv_nsec);
  EXPECT_GT(waited, 100ms);
  EXPECT_LT(cpu, waited / 4) << "the blocked send used the CPU while it waited";
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(Composition, ALoanIsAwaitedUntilOneComesFree) {
  auto service = builder().max_loaned_requests(1).create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  std::optional<RequestMut<std::uint64_t, std::uint64_t>> held = client.loan();
  bool second_loaned = false;
  runtime.spawn([&]() -> Task<void> {
    auto loan = co_await with_timeout(client.async_loan(), 5s);
    *loan = 2;
    second_loaned = true;
  });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(20ms);
    EXPECT_FALSE(second_loaned);
    held.reset();
  });
  runtime.run();
  EXPECT_TRUE(second_loaned);
}

TEST_F(Composition, ARequestSlotIsAwaitedUntilAServerEndsItsStream) {
  auto service = builder().max_active_requests_per_client(1).create();
  Signal taken, drop;
  ChildProcess server_process = server_answering([&](auto&) {
    taken.notify();
    // Dropping the request (on return) frees the client's only slot.
    return drop.wait() == 1 ? 0 : 1;
  });
  auto client = service.client_builder().create();
  std::optional<U64Pending> first = client.send_copy(1);
  ASSERT_EQ(taken.wait(), 1);
  first.reset();  // the server still holds the request: the slot stays taken
  Runtime runtime(asleep);
  std::optional<U64Pending> second;
  runtime.spawn([&]() -> Task<void> {
    auto loan = client.loan();
    *loan = 2;
    second = co_await with_timeout(std::move(loan).async_send(), 5s);
  });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(20ms);
    EXPECT_FALSE(second.has_value()) << "sent while the server held the only slot";
    drop.notify();
  });
  runtime.run();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->payload(), 2u);
  EXPECT_EQ(server_process.wait(), 0);
}

}  // namespace
}  // namespace floe::test
