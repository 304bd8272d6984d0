// One io_context run by several threads, with floe operations of many ports at once: receives on
// a server and on response streams, sends waiting for room, timeouts and cancellations through
// cancellation slots, against a peer process. Every coroutine runs on a strand of its own, so a
// port is used by one thread at a time, while the floe service of the io_context is used by all
// four (operations start, are polled, cancelled and completed on any of them). Every wait is
// bounded: a watchdog stops the io_context, the peer stops itself.

// First, as in asio_test.cpp: every translation unit includes Asio the same way.
#include "floe/asio.hpp"

#include <gtest/gtest.h>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;

using U64Response = U64Pending::ResponseType;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr int kIoThreads = 4;
constexpr int kRounds = 3;
constexpr int kParentClients = 6;
constexpr int kRequestsPerParentClient = 40;
constexpr int kPeerClients = 3;
constexpr int kRequestsPerPeerClient = 40;
/// The peer answers requests whose value is 1 or 2 modulo 4 this late: long enough for a 1 ms
/// timeout or an immediate cancellation to come first, even on a loaded machine under TSan.
/// (Should a response arrive just as the timer fires, `receive || timer` completes with the
/// timer and Asio's parallel group drops the response the receive completed with.)
constexpr auto kDelay = 100ms;

auto u64_service(Node& node, const char* name) {
  return node.service_builder(name).request_response<std::uint64_t, std::uint64_t>();
}

/// Peer side: answers v with v + 1 and v + 2, some of them late.
Task<void> answer_in_peer(U64Active active) {
  const std::uint64_t v = active.payload();
  if (v % 4 == 1 || v % 4 == 2) co_await sleep_for(kDelay);
  static_cast<void>(active.send_copy(v + 1));
  static_cast<void>(active.send_copy(v + 2));
}

/// The peer process: serves "Threads/A" for the parent's clients, and asks the parent's server
/// of "Threads/B" with clients of its own; stops when the parent says so (or after a minute).
int peer(const Config& config, const Signal& ready, const Signal& finish) {
  Node node = Node::create("peer", config);
  auto a = u64_service(node, "Threads/A").open();
  auto b = u64_service(node, "Threads/B").open();
  auto server = a.server_builder().create();
  std::vector<U64Client> clients;
  for (int i = 0; i < kPeerClients; ++i)
    clients.push_back(b.client_builder().create());
  Runtime runtime;
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  runtime.spawn([&]() -> Task<void> {
    for (;;)
      runtime.spawn(answer_in_peer(co_await server.receive()));
  });
  for (int i = 0; i < kPeerClients; ++i) {
    runtime.spawn([&, i]() -> Task<void> {
      for (int r = 0; r < kRequestsPerPeerClient; ++r) {
        const std::uint64_t v = (std::uint64_t(i) << 20) + r;
        auto pending = clients[i].send_copy(v);
        std::vector<std::uint64_t> got;
        while (auto response = co_await with_timeout(pending.receive(), 10s))
          got.push_back(response->payload());
        if (got != std::vector<std::uint64_t>{v + 1, v + 2}) ++failures;
      }
      ++done;
    });
  }
  std::thread stopper([&] {
    finish.wait(60s);
    runtime.stop();
  });
  ready.notify();
  try {
    runtime.run();
  } catch (const Error&) {
    ++failures;
  }
  stopper.join();
  if (failures != 0 || done != kPeerClients) {
    std::fprintf(stderr, "peer: %d failures, %d of %d clients done\n", failures.load(), done.load(),
                 kPeerClients);
    return 1;
  }
  return 0;
}

struct Counts {
  std::atomic<int> answered{0};  // parent requests whose whole stream arrived
  std::atomic<int> served{0};    // peer requests the parent answered, both responses delivered
  std::atomic<int> timeouts{0};
  std::atomic<int> aborted{0};
  std::atomic<int> failures{0};
};

/// Parent side, on its own strand: answers v with v + 1 (copied) and v + 2 (loaned), each send
/// waiting for room in the peer's one-response buffer.
asio::awaitable<void> answer_in_parent(U64Active active, Counts& counts) {
  const std::uint64_t v = active.payload();
  const bool first = co_await async_send_copy(active, v + 1, use_awaitable);
  auto loan = active.loan();
  *loan = v + 2;
  const bool second = co_await async_send(std::move(loan), use_awaitable);
  if (first && second) {
    ++counts.served;
  } else {
    ++counts.failures;
  }
}

asio::awaitable<std::vector<std::uint64_t>> drain(U64Pending& pending) {
  std::vector<std::uint64_t> got;
  while (auto response = co_await async_receive(pending, use_awaitable))
    got.push_back(response->payload());
  co_return got;
}

asio::awaitable<std::vector<std::uint64_t>> ask_and_drain(U64Client& client, std::uint64_t v) {
  auto pending = client.send_copy(v);
  co_return co_await drain(pending);
}

/// Parent side, on its own strand: a client of its own asking the peer, each request another
/// way: plain, with a 1 ms timeout first, cancelled through a slot first, two streams at once.
asio::awaitable<void> ask(Strand strand, U64Service& service, int i, Counts& counts) {
  auto client = service.client_builder().create();
  for (int r = 0; r < kRequestsPerParentClient; ++r) {
    const std::uint64_t v = (std::uint64_t(i) << 20) + r;
    auto pending = client.send_copy(v);
    std::vector<std::uint64_t> got;
    std::vector<std::uint64_t> want{v + 1, v + 2};
    if (v % 4 == 1) {
      asio::steady_timer timeout(strand, 1ms);
      auto first =
          co_await (async_receive(pending, use_awaitable) || timeout.async_wait(use_awaitable));
      if (first.index() == 0) {
        if (auto& response = std::get<0>(first)) got.push_back((*response).payload());
      } else {
        ++counts.timeouts;
      }
    } else if (v % 4 == 2) {
      asio::cancellation_signal signal;
      bool completed = false;
      async_receive(
          pending,
          asio::bind_cancellation_slot(
              signal.slot(), asio::bind_executor(strand, [&](std::error_code error,
                                                             std::optional<U64Response> response) {
                if (error == asio::error::operation_aborted) ++counts.aborted;
                if (response) got.push_back(response->payload());
                completed = true;
              })));
      signal.emit(asio::cancellation_type::all);
      asio::steady_timer tick(strand);
      for (int n = 0; !completed && n < 10000; ++n) {
        tick.expires_after(1ms);
        co_await tick.async_wait(use_awaitable);
      }
    } else if (v % 4 == 3) {
      // The second request is sent while the first stream's receive may wait, polled by
      // another thread.
      const std::uint64_t w = v + (1u << 19);
      auto [one, two] = co_await (drain(pending) && ask_and_drain(client, w));
      got = one;
      got.insert(got.end(), two.begin(), two.end());
      want = {v + 1, v + 2, w + 1, w + 2};
    }
    auto rest = co_await drain(pending);
    got.insert(got.end(), rest.begin(), rest.end());
    std::sort(got.begin(), got.end());
    if (got == want) {
      ++counts.answered;
    } else {
      std::fprintf(stderr, "client %d request %d: %zu responses\n", i, r, got.size());
      ++counts.failures;
    }
  }
}

class AsioThreads : public ::testing::Test {};

TEST_F(AsioThreads, OneIoContextRunByFourThreadsServesAndAsksAcrossProcesses) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Config config = isolated_config();
    Node node = Node::create("parent", config);
    auto a = u64_service(node, "Threads/A").max_clients(kParentClients).max_servers(1).create();
    auto b = u64_service(node, "Threads/B")
                 .max_clients(kPeerClients)
                 .max_servers(1)
                 .max_response_buffer_size(1)
                 .enable_safe_overflow_for_responses(false)
                 .create();
    auto server = b.server_builder().backpressure(Backpressure::block).create();

    Signal ready, finish;
    ChildProcess peer_process([&] { return peer(config, ready, finish); });
    ASSERT_EQ(ready.wait(), 1);

    Counts counts;
    {
      asio::io_context io;
      auto watchdog_strand = asio::make_strand(io);
      asio::steady_timer watchdog(watchdog_strand, 60s);
      bool timed_out = false;
      watchdog.async_wait([&](std::error_code error) {
        if (error) return;
        timed_out = true;
        io.stop();
      });
      std::atomic<int> running{kParentClients + 1};
      auto finished = [&](std::exception_ptr e) {
        if (e) ++counts.failures;
        if (--running == 0) asio::post(watchdog_strand, [&] { watchdog.cancel(); });
      };
      auto serve_strand = asio::make_strand(io);
      asio::co_spawn(
          serve_strand,
          [&]() -> asio::awaitable<void> {
            for (int n = 0; n < kPeerClients * kRequestsPerPeerClient; ++n) {
              auto active = co_await async_receive(server, use_awaitable);
              asio::co_spawn(asio::make_strand(io), answer_in_parent(std::move(active), counts),
                             [&](std::exception_ptr e) {
                               if (e) ++counts.failures;
                             });
            }
          },
          finished);
      for (int i = 0; i < kParentClients; ++i) {
        auto strand = asio::make_strand(io);
        asio::co_spawn(strand, ask(strand, a, i, counts), finished);
      }
      std::vector<std::thread> threads;
      for (int t = 0; t < kIoThreads; ++t)
        threads.emplace_back([&] { io.run(); });
      for (auto& thread : threads)
        thread.join();
      EXPECT_FALSE(timed_out);
    }
    finish.notify();
    EXPECT_EQ(peer_process.wait(30s), 0);
    EXPECT_EQ(counts.failures.load(), 0);
    EXPECT_EQ(counts.answered.load(), kParentClients * kRequestsPerParentClient);
    EXPECT_EQ(counts.served.load(), kPeerClients * kRequestsPerPeerClient);
    EXPECT_GT(counts.timeouts.load(), 0);
    EXPECT_GT(counts.aborted.load(), 0);
  }
}

}  // namespace
}  // namespace floe::test
