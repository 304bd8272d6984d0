// A client started before its server: Client::wait_for_server() across real processes, woken
// by the server's creation (not by polling), bounded by its timeout, cancelled like any wait.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;

/// The value of an awaited operation, as a task to block on.
template <typename Operation>
Task<typename Operation::value_type> awaited(Operation operation) {
  co_return co_await std::move(operation);
}

class ServerWaitTest : public AsyncServiceTest {
 protected:
  /// A server of the test's service in another process, SIGKILLed; nobody reclaimed its port.
  void killed_server() {
    ChildProcess killed = started([&](const Signal& ready) {
      auto server = open_as("killed-server").server_builder().create();
      ready.notify();
      return wait_to_be_killed();
    });
    killed.kill();
  }

  /// A process that creates a server of the test's service `delay` after it started, or after
  /// `go` is notified if given (noting when in `created`), then holds it until `release` is
  /// notified.
  ChildProcess server_created_after(std::chrono::milliseconds delay, const SharedTimePoint& created,
                                    const Signal& release, const Signal* go = nullptr) {
    return ChildProcess([&, delay, go] {
      auto remote = open_as("late-server");
      if (go != nullptr) FLOE_CHILD_CHECK(go->wait() == 1);
      std::this_thread::sleep_for(delay);
      created.set_now();  // before the creation: the bound below includes the creation itself
      auto server = remote.server_builder().create();
      return release.wait() == 1 ? 0 : 1;
    });
  }
};

TEST_F(ServerWaitTest, NumberOfServersCountsTheServersOfTheServiceNow) {
  auto service = builder().max_servers(2).create();
  auto client = service.client_builder().create();
  EXPECT_EQ(client.number_of_servers(), 0u);
  std::optional<U64Server> first = service.server_builder().create();
  EXPECT_EQ(client.number_of_servers(), 1u);
  Signal release;
  ChildProcess other = started([&](const Signal& ready) {
    auto server = open_as("server").server_builder().create();
    ready.notify();
    return release.wait() == 1 ? 0 : 1;
  });
  EXPECT_EQ(client.number_of_servers(), 2u);
  first.reset();
  EXPECT_EQ(client.number_of_servers(), 1u);
  release.notify();
  EXPECT_EQ(other.wait(), 0);
  EXPECT_EQ(client.number_of_servers(), 0u);
}

// The server's creation rings the waiting client's doorbell, which wakes its loop at once. The
// loop neither spins nor looks again on its own (rung_only): only that ring or the 10 s
// deadline ends its sleep, so a wait that ends well before the deadline was woken by the ring;
// the 5 s bound leaves room for a loaded machine (and for the creation itself, under TSan).
TEST_F(ServerWaitTest, WaitIsWokenByAServerCreatedInAnotherProcess) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  SharedTimePoint created;
  Signal release;
  ChildProcess server_process = server_created_after(300ms, created, release);
  Runtime runtime(rung_only);
  const bool found = runtime.block_on(awaited(client.wait_for_server(10s)));
  const auto woke = Clock::now();
  EXPECT_TRUE(found);
  EXPECT_GE(woke, created.get()) << "returned before the server could exist";
  EXPECT_LT(woke - created.get(), 5s);
  EXPECT_GE(runtime.stats().sleeps, 1u);
  EXPECT_EQ(client.number_of_servers(), 1u);
  release.notify();
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(ServerWaitTest, WaitWithoutTimeoutIsWokenToo) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  SharedTimePoint created;
  Signal release;
  ChildProcess server_process = server_created_after(100ms, created, release);
  Runtime runtime(rung_only);  // as above: only the ring or the 10 s timeout wakes it
  EXPECT_TRUE(runtime.block_on(awaited(with_timeout(client.wait_for_server(), 10s))));
  const auto woke = Clock::now();
  EXPECT_GE(woke, created.get()) << "returned before the server could exist";
  EXPECT_LT(woke - created.get(), 5s);
  release.notify();
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(ServerWaitTest, TimeoutWithoutAServerReturnsFalse) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  const auto start = Clock::now();
  EXPECT_FALSE(runtime.block_on(awaited(client.wait_for_server(50ms))));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_LT(Clock::now() - start, 5s);
}

// A server process SIGKILLed before anyone reclaimed its port: its slot still reads as a
// server, but a wait for a server, and a call, look at the process and do not count it.
TEST_F(ServerWaitTest, AKilledServerNobodyReclaimedYetIsNoServerToWaitFor) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  killed_server();
  EXPECT_EQ(client.number_of_servers(), 1u) << "the slot is not reclaimed yet";
  Runtime runtime(asleep);
  const auto start = Clock::now();
  EXPECT_FALSE(runtime.block_on(awaited(client.wait_for_server(100ms))));
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_EQ(client.number_of_servers(), 0u) << "the wait reclaimed the dead server's port";
  // A server that comes afterwards is found.
  auto server = service.server_builder().create();
  EXPECT_TRUE(runtime.block_on(awaited(client.wait_for_server(1s))));
}

TEST_F(ServerWaitTest, AServerThereAlreadyReturnsAtOnceWithoutSleeping) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  EXPECT_TRUE(runtime.block_on(awaited(client.wait_for_server(0ms))));
  EXPECT_TRUE(runtime.block_on(awaited(client.wait_for_server())));
  EXPECT_EQ(runtime.stats().sleeps, 0u);
}

TEST_F(ServerWaitTest, RuntimeStopCancelsTheWait) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  Errc seen{};
  runtime.spawn([&]() -> Task<void> { seen = co_await error_of_await(client.wait_for_server()); });
  std::jthread stopper([&] {
    std::this_thread::sleep_for(20ms);
    runtime.stop();
  });
  runtime.run();
  EXPECT_EQ(seen, Errc::cancelled);
}

TEST_F(ServerWaitTest, StopTokenCancelsTheWait) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Runtime runtime(asleep);
  std::stop_source stop;
  Errc seen{};
  runtime.spawn([&]() -> Task<void> {
    seen = co_await error_of_await(client.wait_for_server(10s, stop.get_token()));
  });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(20ms);
    stop.request_stop();
  });
  runtime.run();
  EXPECT_EQ(seen, Errc::cancelled);
}

TEST_F(ServerWaitTest, DestroyingTheClientCancelsTheWait) {
  auto service = builder().create();
  std::optional<U64Client> client = service.client_builder().create();
  Runtime runtime(asleep);
  Errc seen{};
  bool finished = false;
  runtime.spawn([&]() -> Task<void> {
    seen = co_await error_of_await(client->wait_for_server(10s));
    finished = true;
  });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(20ms);
    client.reset();
  });
  runtime.run();
  EXPECT_TRUE(finished);
  EXPECT_EQ(seen, Errc::cancelled);
  EXPECT_EQ(service.usage().clients, 0u);
}

TEST_F(ServerWaitTest, ThreeWaitingClientsAndAReceiveOnAnotherServiceShareOneLoop) {
  auto service = builder().create();
  auto other_service =
      node.service_builder("Test/Other").request_response<std::uint64_t, std::uint64_t>().create();
  std::optional<U64Client> clients[3] = {service.client_builder().create(),
                                         service.client_builder().create(),
                                         service.client_builder().create()};
  auto other_client = other_service.client_builder().create();
  // The other service's server answers 200 ms after the request; this one's server is created
  // only once the answer was received (`answered_go`), 100 ms later.
  Signal release, answered_go;
  ChildProcess answering = started([&](const Signal& ready) {
    Node other_node = Node::create("other", config);
    auto remote = other_node.service_builder("Test/Other")
                      .request_response<std::uint64_t, std::uint64_t>()
                      .open();
    auto server = remote.server_builder().create();
    ready.notify();
    auto request = receive_within(server);
    FLOE_CHILD_CHECK(request);
    std::this_thread::sleep_for(200ms);
    FLOE_CHILD_CHECK(request->send_copy(request->payload() + 1));
    return release.wait() == 1 ? 0 : 1;
  });
  SharedTimePoint created;
  ChildProcess server_process = server_created_after(100ms, created, release, &answered_go);

  // Only rings (or the 10 s deadlines) wake this loop: see WaitIsWokenByAServerCreated...
  Runtime runtime(rung_only);
  Clock::time_point woke[3];
  bool found[3] = {};
  std::optional<std::uint64_t> answer;
  Clock::time_point answered;
  for (int i = 0; i < 3; ++i) {
    runtime.spawn([&, i]() -> Task<void> {
      found[i] = co_await clients[i]->wait_for_server(10s);
      woke[i] = Clock::now();
    });
  }
  runtime.spawn([&]() -> Task<void> {
    auto pending = other_client.send_copy(41);
    auto response = co_await with_timeout(pending.receive(), 10s);
    answered = Clock::now();
    if (response) answer = response->payload();
    answered_go.notify();
  });
  runtime.run();
  EXPECT_EQ(answer, 42u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(found[i]) << i;
    EXPECT_GE(woke[i], created.get()) << i << ": woken before its server came";
    EXPECT_LT(woke[i] - created.get(), 5s) << i;
    EXPECT_GT(woke[i], answered) << i;
  }
  release.notify();
  release.notify();
  EXPECT_EQ(answering.wait(), 0);
  EXPECT_EQ(server_process.wait(), 0);
}

// The end state: what a receive's std::nullopt alone does not tell.

TEST_F(ServerWaitTest, ARequestSentWithoutAServerEndsAsNoServer) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  EXPECT_EQ(pending.end_reason(), StreamEnd::no_server);
  EXPECT_FALSE(pending.is_connected());
}

TEST_F(ServerWaitTest, AStreamIsOpenWhileHeldAndFinishedOnceTheServerDropsIt) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal go;
  ChildProcess server_process = server_answering([&](auto& request) {
    FLOE_CHILD_CHECK(go.wait() == 1);
    request.reset();
    return 0;
  });
  auto pending = client.send_copy(1);
  EXPECT_EQ(pending.end_reason(), StreamEnd::open);
  go.notify();
  EXPECT_TRUE(eventually([&] { return !pending.is_connected(); }));
  EXPECT_EQ(pending.end_reason(), StreamEnd::finished);
  EXPECT_EQ(server_process.wait(), 0);
  // The server's process ended since: a stream it finished stays finished.
  EXPECT_EQ(pending.end_reason(), StreamEnd::finished);
}

TEST_F(ServerWaitTest, AStreamWhoseServerProcessWasKilledEndsAsServerGone) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal holding;
  ChildProcess server_process = server_answering([&](auto&) {
    holding.notify();
    return wait_to_be_killed();
  });
  auto pending = client.send_copy(1);
  ASSERT_EQ(holding.wait(), 1);
  EXPECT_EQ(pending.end_reason(), StreamEnd::open);
  ::kill(server_process.pid(), SIGKILL);
  EXPECT_EQ(server_process.wait(), 128 + SIGKILL);
  EXPECT_EQ(pending.end_reason(), StreamEnd::server_gone);
}

// Not only the client that finds the killed server dead and reclaims its port: every client of
// it, each in its own process, reads server_gone (a SIGKILLed server used to look like a clean
// finish to all but that one).
TEST_F(ServerWaitTest, EveryClientOfAKilledServerReadsServerGone) {
  constexpr int kClients = 3;
  auto service = builder().max_clients(kClients).create();
  Signal holding, sent, killed;
  ChildProcess server_process = started([&](const Signal& ready) {
    auto server = open_as("server").server_builder().create();
    ready.notify();
    std::vector<decltype(receive_within(server))> held;
    for (int i = 0; i < kClients; ++i) {
      held.push_back(receive_within(server));
      FLOE_CHILD_CHECK(held.back());
    }
    holding.notify();
    return wait_to_be_killed();
  });
  std::vector<ChildProcess> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      const std::string name = "client-" + std::to_string(i);
      auto client = open_as(name.c_str()).client_builder().create();
      auto pending = client.send_copy(static_cast<std::uint64_t>(i));
      sent.notify();
      FLOE_CHILD_CHECK(killed.wait() == 1);
      FLOE_CHILD_CHECK(eventually([&] { return !pending.is_connected(); }));
      return pending.end_reason() == StreamEnd::server_gone ? 0 : 2;
    });
  }
  for (int i = 0; i < kClients; ++i)
    ASSERT_EQ(sent.wait(), 1);
  ASSERT_EQ(holding.wait(), 1);
  ::kill(server_process.pid(), SIGKILL);
  EXPECT_EQ(server_process.wait(), 128 + SIGKILL);
  for (int i = 0; i < kClients; ++i)
    killed.notify();
  for (ChildProcess& client : clients)
    EXPECT_EQ(client.wait(), 0);
}

// floe::call: the one-call single-response RPC.

class CallTest : public ServerWaitTest {
 protected:
  /// A server in another process, in a runtime, answering every request with payload * 10
  /// (and a second response, which the call discards) until `release` is notified.
  ChildProcess server_answering_calls(const Signal& release, std::chrono::milliseconds delay = {}) {
    return started([&, delay](const Signal& ready) {
      auto remote = open_as("server");
      std::this_thread::sleep_for(delay);
      auto server = remote.server_builder().create();
      Runtime runtime(asleep);
      ready.notify();
      runtime.spawn([&]() -> Task<void> {
        for (;;) {
          auto active = co_await server.receive();
          active.send_copy(active.payload() * 10);
          active.send_copy(0);
        }
      });
      std::jthread stopper([&] {
        release.wait(30s);
        runtime.stop();
      });
      runtime.run();
      return 0;
    });
  }

  /// The floe::Errc of `call(client, request, timeout)`, and how long it took.
  std::pair<Errc, Clock::duration> failed_call(U64Client& client,
                                               std::chrono::milliseconds timeout) {
    Runtime runtime(asleep);
    const auto start = Clock::now();
    const Errc errc = runtime.block_on(error_of_await(call(client, std::uint64_t{1}, timeout)));
    return {errc, Clock::now() - start};
  }
};

TEST_F(CallTest, CallYieldsTheFirstResponseOfALiveServer) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal release;
  ChildProcess server_process = server_answering_calls(release);
  Runtime runtime(asleep);
  std::vector<std::uint64_t> answers;
  runtime.block_on([&]() -> Task<void> {
    for (std::uint64_t i = 1; i <= 3; ++i) {
      Response<std::uint64_t> response = co_await call(client, i, 10s);
      answers.push_back(*response);
    }
  });
  EXPECT_EQ(answers, (std::vector<std::uint64_t>{10, 20, 30}));
  release.notify();
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(CallTest, CallWaitsForAServerThatComesWithinItsDeadline) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal release, go;
  // The call starts before the server exists: it waits for it, then sends. The server is
  // created once the call has been waiting for 20 ms.
  ChildProcess late = ChildProcess([&] {
    auto remote = open_as("server");
    FLOE_CHILD_CHECK(go.wait() == 1);
    auto server = remote.server_builder().create();
    auto request = receive_within(server);
    FLOE_CHILD_CHECK(request);
    FLOE_CHILD_CHECK(request->send_copy(request->payload() + 1));
    return release.wait() == 1 ? 0 : 1;
  });
  Runtime runtime(asleep);
  std::optional<std::uint64_t> answer;
  runtime.spawn(
      [&]() -> Task<void> { answer = (co_await call(client, std::uint64_t{6}, 10s)).payload(); });
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(20ms);
    EXPECT_FALSE(answer.has_value()) << "answered without a server";
    go.notify();
  });
  runtime.run();
  EXPECT_EQ(answer, 7u);
  release.notify();
  EXPECT_EQ(late.wait(), 0);
}

TEST_F(CallTest, CallWithoutAServerThrowsNoServerAtItsDeadline) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  const auto [errc, took] = failed_call(client, 100ms);
  EXPECT_EQ(errc, Errc::no_server);
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);
}

TEST_F(CallTest, CallWithOnlyAKilledUnreclaimedServerThrowsNoServer) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  killed_server();
  const auto [errc, took] = failed_call(client, 100ms);
  EXPECT_EQ(errc, Errc::no_server);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);
}

TEST_F(CallTest, CallToAServerThatDropsTheRequestThrowsNoResponse) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  ChildProcess server_process = server_answering([&](auto& request) {
    request.reset();
    return 0;
  });
  const auto [errc, took] = failed_call(client, 10s);
  EXPECT_EQ(errc, Errc::no_response);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(CallTest, CallToAServerThatNeverAnswersThrowsTimedOut) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal release;
  ChildProcess server_process =
      server_answering([&](auto&) { return release.wait() == 1 ? 0 : 1; });
  const auto [errc, took] = failed_call(client, 200ms);
  EXPECT_EQ(errc, Errc::timed_out);
  EXPECT_GE(took, 200ms);
  release.notify();
  EXPECT_EQ(server_process.wait(), 0);
}

TEST_F(CallTest, CallToAServerKilledBeforeAnsweringThrowsNoResponseAtOnce) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal holding;
  ChildProcess server_process = server_answering([&](auto&) {
    holding.notify();
    return wait_to_be_killed();
  });
  std::jthread killer([&] {
    if (holding.wait() == 1) ::kill(server_process.pid(), SIGKILL);
  });
  Runtime runtime(asleep);
  const std::string message = runtime.block_on([&]() -> Task<std::string> {
    try {
      co_await call(client, std::uint64_t{1}, 10s);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::no_response);
      co_return e.what();
    }
    co_return "";
  });
  EXPECT_NE(message.find("went away"), std::string::npos) << message;
  EXPECT_EQ(server_process.wait(), 128 + SIGKILL);
}

TEST_F(CallTest, CallIsCancelledByDestroyingTheClientAndByRuntimeStop) {
  auto service = builder().create();
  std::optional<U64Client> client = service.client_builder().create();
  Runtime runtime(asleep);
  Errc by_client{}, by_stop{};
  auto other = service.client_builder().create();
  runtime.spawn([&]() -> Task<void> {
    by_client = co_await error_of_await(call(*client, std::uint64_t{1}, 10s));
  });
  std::atomic<bool> client_reset{false};
  runtime.spawn([&]() -> Task<void> {
    co_await sleep_for(20ms);
    client.reset();
    client_reset = true;
    by_stop = co_await error_of_await(call(other, std::uint64_t{1}, 10s));
  });
  // Stops only after the first call was cancelled by the client's end, however late the loop
  // got to it; the second call (no server: it waits 10 s) is then what the stop cancels.
  std::jthread stopper([&] {
    EXPECT_TRUE(eventually([&] { return client_reset.load(); }, 10s));
    runtime.stop();
  });
  runtime.run();
  EXPECT_EQ(by_client, Errc::cancelled);
  EXPECT_EQ(by_stop, Errc::cancelled);
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);
}

}  // namespace
}  // namespace floe::test
