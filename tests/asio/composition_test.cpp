// The Asio adapter composed with real peers in other processes: every pending operation of an
// io_context is woken by its own traffic alone, ports going away mid-wait, any declaration
// order of io_context, ports and coroutine frames, and sends that wait for room without
// freezing the io_context's thread. Every wait is bounded: a regression fails, never hangs.

// First, as in asio_test.cpp: Asio 1.22 decides ASIO_HAS_STD_ALIGNED_ALLOC by whether a standard
// header came before it, and every translation unit of one binary must decide alike (or one's
// aligned_new meets another's aligned_delete: ASan's alloc-dealloc-mismatch).
#include "floe/asio.hpp"

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

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

using U64Response = U64Pending::ResponseType;

/// How long a woken operation may take to complete.
constexpr auto kWakeBound = 2s;

/// One pending receive of the wake-up tests: on a Server, of a service of its own (a request
/// reaches every server of its service, so only a server alone in its service can be woken
/// alone), or on a PendingResponse of a client of a shared service, whose request a server in
/// the peer process holds.
struct WakeOp {
  bool on_server = false;
  int service = 0;  // the Server's own service, or the PendingResponse's service
  int client = 0;   // the client of that service (PendingResponse receives only)
};

/// What one wake-up case builds.
struct WakeShape {
  int server_receives = 0;
  int pending_services = 0;
  int clients_per_service = 0;
  int requests_per_client = 0;

  /// Server and PendingResponse receives interleaved, so that every order mixes both kinds.
  std::vector<WakeOp> ops() const {
    std::vector<WakeOp> servers;
    std::vector<WakeOp> pendings;
    for (int i = 0; i < server_receives; ++i)
      servers.push_back({true, i, 0});
    for (int s = 0; s < pending_services; ++s) {
      for (int c = 0; c < clients_per_service; ++c) {
        for (int r = 0; r < requests_per_client; ++r)
          pendings.push_back({false, s, c});
      }
    }
    std::vector<WakeOp> all;
    for (std::size_t i = 0; i < std::max(servers.size(), pendings.size()); ++i) {
      if (i < servers.size()) all.push_back(servers[i]);
      if (i < pendings.size()) all.push_back(pendings[i]);
    }
    return all;
  }
};

enum class StartMode {
  before_run,     // every receive started before io.run(), the first one arming the wait
  from_handlers,  // each started by a timer handler, the context armed and asleep in between
};

/// The response the peer sends to wake PendingResponse receive `op`.
std::uint64_t answer_to(int op) {
  return 1000 + static_cast<std::uint64_t>(op);
}

constexpr char kPeerExit = 127;

std::string describe(const std::vector<int>& order, int target, StartMode mode) {
  // Appended piece by piece: `"literal" + std::string&&` trips GCC 12's -Wrestrict false
  // positive (GCC bug 105329) in Release builds.
  std::string text = "start order";
  for (int op : order) {
    text += ' ';
    text += std::to_string(op);
  }
  text += "; only ";
  text += std::to_string(target);
  text += " is triggered; started ";
  text += mode == StartMode::before_run ? "before run" : "from handlers";
  return text;
}

class AsioComposition : public AsyncServiceTest {
 protected:
  auto named(Node& n, const std::string& name) {
    return n.service_builder(name).request_response<std::uint64_t, std::uint64_t>();
  }

  /// The service of the send tests: room for two responses per stream and no overwriting, so
  /// a client that does not read makes its server wait.
  U64Service tight_service() {
    return builder().max_response_buffer_size(2).enable_safe_overflow_for_responses(false).create();
  }

  /// Runs `io` until it runs out of work, failing if that takes `bound`: a wait left armed
  /// with nothing pending would keep it running.
  static void run_until_out_of_work(asio::io_context& io, std::chrono::seconds bound = 10s) {
    io.restart();
    const auto start = Clock::now();
    io.run_for(bound);
    EXPECT_LT(Clock::now() - start, bound) << "the io_context still had work after the bound";
    EXPECT_TRUE(io.stopped());
  }

  /// Starts the receives of `shape` in `order` in one io_context, has a peer process trigger
  /// only the first or the last one started, and checks that exactly that one completes within
  /// kWakeBound. Then destroys the ports: every other receive completes as aborted and the
  /// io_context runs out of work.
  void wake_only_one(const WakeShape& shape, const std::vector<int>& order, bool trigger_last,
                     StartMode mode) {
    const std::vector<WakeOp> ops = shape.ops();
    ASSERT_EQ(order.size(), ops.size());
    const int target = trigger_last ? order.back() : order.front();
    SCOPED_TRACE(describe(order, target, mode));
    const std::string prefix = "Wake" + std::to_string(case_++);
    auto server_service_name = [&](int i) { return prefix + "/Server" + std::to_string(i); };
    auto pending_service_name = [&](int i) { return prefix + "/Pending" + std::to_string(i); };

    std::vector<U64Service> server_services;
    std::vector<std::optional<U64Server>> servers;
    for (int i = 0; i < shape.server_receives; ++i) {
      server_services.push_back(
          named(node, server_service_name(i)).max_servers(1).max_clients(1).create());
      servers.emplace_back(server_services.back().server_builder().create());
    }
    std::vector<U64Service> pending_services;
    for (int i = 0; i < shape.pending_services; ++i) {
      pending_services.push_back(named(node, pending_service_name(i))
                                     .max_servers(1)
                                     .max_clients(shape.clients_per_service)
                                     .max_active_requests_per_client(shape.requests_per_client)
                                     .create());
    }

    // The peer: a client per server service (its request reaches that Server alone), and a
    // server per pending service holding every request open until told to answer one.
    Signal ready;
    Signal held;
    Signal command;
    ChildProcess peer([&] {
      Node other = Node::create("peer", config);
      std::vector<U64Client> clients;
      for (int i = 0; i < shape.server_receives; ++i)
        clients.push_back(named(other, server_service_name(i)).open().client_builder().create());
      std::vector<U64Server> answering;
      for (int i = 0; i < shape.pending_services; ++i)
        answering.push_back(named(other, pending_service_name(i)).open().server_builder().create());
      ready.notify();
      std::map<std::uint64_t, U64Active> requests;  // by payload: the op they belong to
      for (U64Server& server : answering) {
        for (int n = 0; n < shape.clients_per_service * shape.requests_per_client; ++n) {
          auto active = receive_within(server);
          FLOE_CHILD_CHECK(active.has_value());
          requests.emplace(active->payload(), std::move(*active));
        }
      }
      held.notify();
      std::vector<U64Pending> sent;
      for (;;) {
        const int op = command.wait(10s);
        FLOE_CHILD_CHECK(op >= 0);
        if (op == kPeerExit) return 0;
        if (ops[op].on_server) {
          sent.push_back(clients[ops[op].service].send_copy(op));
        } else {
          FLOE_CHILD_CHECK(requests.at(op).send_copy(answer_to(op)));
        }
      }
    });
    ASSERT_EQ(ready.wait(), 1);
    std::vector<U64Client> clients;  // [service * clients_per_service + client]
    for (U64Service& service : pending_services) {
      for (int c = 0; c < shape.clients_per_service; ++c)
        clients.push_back(service.client_builder().create());
    }
    std::vector<std::optional<U64Pending>> pendings(ops.size());
    for (std::size_t op = 0; op < ops.size(); ++op) {
      if (ops[op].on_server) continue;
      U64Client& client = clients[ops[op].service * shape.clients_per_service + ops[op].client];
      pendings[op].emplace(client.send_copy(op));
    }
    ASSERT_EQ(held.wait(), 1);

    asio::io_context io;
    struct Completion {
      int op;
      std::error_code error;
      bool expected_value;
    };
    std::vector<Completion> completions;
    auto record = [&](int op, std::error_code error, bool expected_value) {
      completions.push_back({op, error, expected_value});
      if (op == target) io.stop();
    };
    auto start = [&](int op) {
      if (ops[op].on_server) {
        async_receive(*servers[ops[op].service],
                      asio::bind_executor(io, [&record, op](std::error_code e, U64Active active) {
                        record(op, e, !e && active.payload() == static_cast<std::uint64_t>(op));
                      }));
      } else {
        async_receive(
            *pendings[op],
            asio::bind_executor(io, [&record, op](std::error_code e, std::optional<U64Response> r) {
              record(op, e, !e && r.has_value() && r->payload() == answer_to(op));
            }));
      }
    };

    if (mode == StartMode::before_run) {
      for (int op : order)
        start(op);
      io.run_for(30ms);  // asleep on the armed wait
    } else {
      asio::steady_timer pacer(io);
      std::size_t started = 0;
      std::function<void(std::error_code)> start_next = [&](std::error_code) {
        start(order[started++]);
        if (started < order.size()) {
          pacer.expires_after(1ms);
          pacer.async_wait(start_next);
        } else {
          pacer.expires_after(30ms);  // asleep on the armed wait
          pacer.async_wait([&](std::error_code) { io.stop(); });
        }
      };
      pacer.expires_after(1ms);
      pacer.async_wait(start_next);
      io.run_for(10s);
      ASSERT_EQ(started, order.size());
    }
    ASSERT_TRUE(completions.empty())
        << "op " << completions.front().op << " completed before any traffic";

    command.notify(static_cast<char>(target));
    const auto triggered = Clock::now();
    io.restart();
    io.run_for(kWakeBound);  // the target's handler stops it
    const auto latency = Clock::now() - triggered;
    ASSERT_FALSE(completions.empty())
        << "op " << target << " was not woken within " << kWakeBound.count() << " s";
    EXPECT_EQ(completions.size(), 1u) << "more than the triggered op completed";
    EXPECT_EQ(completions.front().op, target);
    EXPECT_FALSE(completions.front().error) << completions.front().error.message();
    EXPECT_TRUE(completions.front().expected_value);
    EXPECT_LT(latency, kWakeBound);

    // The ports go while the others still wait: each completes as aborted, and the io_context
    // runs out of work by itself.
    for (auto& server : servers)
      server.reset();
    for (auto& pending : pendings)
      pending.reset();
    run_until_out_of_work(io, 5s);
    EXPECT_EQ(completions.size(), ops.size());
    for (std::size_t i = 1; i < completions.size(); ++i) {
      EXPECT_EQ(completions[i].error, asio::error::operation_aborted) << "op " << completions[i].op;
    }
    command.notify(kPeerExit);
    EXPECT_EQ(peer.wait(10s), 0);
  }

  /// Every permutation of n receives, each triggering the last and then the first one started,
  /// in both start modes. Stops at the first failing case.
  void wake_every_permutation(const WakeShape& shape) {
    std::vector<int> order(shape.ops().size());
    std::iota(order.begin(), order.end(), 0);
    do {
      for (const bool trigger_last : {true, false}) {
        for (const StartMode mode : {StartMode::before_run, StartMode::from_handlers}) {
          wake_only_one(shape, order, trigger_last, mode);
          if (HasFailure()) return;
        }
      }
    } while (std::next_permutation(order.begin(), order.end()));
  }

  /// A send that waits for room: a copy (floe::async_send_copy) or a loan written in place
  /// (floe::async_send).
  static asio::awaitable<bool> send_response(U64Active& active, std::uint64_t value, bool loaned) {
    if (!loaned) co_return co_await async_send_copy(active, value, use_awaitable);
    auto response = active.loan();
    *response = value;
    co_return co_await async_send(std::move(response), use_awaitable);
  }

  struct StreamRecord {
    std::uint64_t delivered = 0;
    std::optional<std::uint64_t> undelivered_at;  // the send that completed with false
    std::optional<std::error_code> error;
    bool done = false;
    Clock::time_point finished{};
  };

  /// Streams `count` responses (payload * 1'000'000 + i) to `active`, awaiting each send.
  static asio::awaitable<void> stream_responses(U64Active active, std::uint64_t count, bool loaned,
                                                StreamRecord* record) {
    try {
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!co_await send_response(active, active.payload() * 1'000'000 + i, loaned)) {
          record->undelivered_at = i;
          break;
        }
        record->delivered = i + 1;
      }
    } catch (const std::system_error& e) {
      record->error = e.code();
    }
    record->finished = Clock::now();
    record->done = true;
  }

  /// A server whose io_context also ticks a 1 ms timer streams 1000 responses each to a client
  /// that reads and to one that is stopped (SIGSTOP); the reader gets them all, in order, while
  /// the timer keeps ticking; killing the stopped client ends its waiting send undelivered.
  void stream_past_a_stalled_client(bool loaned) {
    constexpr std::uint64_t kResponses = 1000;
    constexpr std::uint64_t kReader = 1;
    constexpr std::uint64_t kStalled = 2;
    auto service = tight_service();
    auto server = service.server_builder().backpressure(Backpressure::block).create();

    ChildProcess stalled = client_that_sent(kStalled);
    ASSERT_EQ(::kill(stalled.pid(), SIGSTOP), 0);
    ChildProcess reader([&] {
      auto client = open_as("reader").client_builder().create();
      Runtime runtime(asleep);
      return runtime.block_on([&]() -> Task<int> {
        auto pending = client.send_copy(kReader);
        for (std::uint64_t i = 0; i < kResponses; ++i) {
          auto response = co_await with_timeout(pending.receive(), 10s);
          FLOE_CHILD_CO_CHECK(response && response->payload() == kReader * 1'000'000 + i);
        }
        FLOE_CHILD_CO_CHECK(!(co_await with_timeout(pending.receive(), 10s)));
        co_return 0;
      });
    });

    asio::io_context io;
    std::map<std::uint64_t, StreamRecord> streams;  // by request payload
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int n = 0; n < 2; ++n) {
            auto active = co_await async_receive(server, use_awaitable);
            StreamRecord* record = &streams[active.payload()];
            asio::co_spawn(io, stream_responses(std::move(active), kResponses, loaned, record),
                           asio::detached);
          }
        },
        asio::detached);

    // The heartbeat, which also runs the scenario: once the reader has everything, two more
    // seconds and more than 200 ticks with the stalled client's send waiting, then the stalled
    // client is killed. A frozen thread would not tick: the window would never end (20 s).
    const auto start = Clock::now();
    int ticks = 0;
    std::optional<Clock::time_point> window_start;
    int ticks_at_window_start = 0;
    bool stalled_pending_after_window = false;
    std::optional<Clock::time_point> killed_at;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer timer(io);
          while (Clock::now() - start < 20s) {
            timer.expires_after(1ms);
            co_await timer.async_wait(use_awaitable);
            ++ticks;
            const auto now = Clock::now();
            if (!window_start && streams[kReader].done) {
              window_start = now;
              ticks_at_window_start = ticks;
            }
            if (window_start && !killed_at && now - *window_start >= 2s &&
                ticks - ticks_at_window_start > 200) {
              stalled_pending_after_window = !streams[kStalled].done;
              stalled.kill();  // SIGKILL a stopped process, and reap it
              killed_at = Clock::now();
            }
            if (killed_at && streams[kStalled].done) break;
          }
        },
        asio::detached);
    run_until_out_of_work(io, 30s);

    const StreamRecord& read = streams[kReader];
    EXPECT_TRUE(read.done);
    EXPECT_FALSE(read.error);
    EXPECT_EQ(read.delivered, kResponses);
    EXPECT_FALSE(read.undelivered_at);
    EXPECT_LT(read.finished - start, 5s) << "the reader's stream was not prompt";
    EXPECT_EQ(reader.wait(10s), 0);

    // The stalled client's buffer took two; the third send waited, the thread kept ticking.
    EXPECT_TRUE(stalled_pending_after_window);
    ASSERT_TRUE(killed_at.has_value())
        << "the io_context's thread was frozen: " << ticks - ticks_at_window_start
        << " ticks since the reader's stream ended";
    const StreamRecord& stuck = streams[kStalled];
    EXPECT_TRUE(stuck.done);
    EXPECT_FALSE(stuck.error);
    EXPECT_EQ(stuck.delivered, 2u);
    EXPECT_EQ(stuck.undelivered_at, 2u);
    EXPECT_LT(stuck.finished - *killed_at, 2s) << "the waiting send outlived its client";

    // Every chunk came back: nothing loaned, queued or borrowed is left.
    EXPECT_EQ(service.usage().response_chunks_in_use, 0u);
  }

  /// A server of service `name` in another process, waiting for one request that it then
  /// holds until its client stops listening (exit 0): proves that the PendingResponse in a
  /// destroyed coroutine frame was really dropped.
  ChildProcess server_holding_until_abandoned(const std::string& name = "Test/Service") {
    return started([&](const Signal& ready) {
      Node other = Node::create("server", config);
      auto server = named(other, name).open().server_builder().create();
      ready.notify();
      auto active = receive_within(server);
      FLOE_CHILD_CHECK(active.has_value());
      FLOE_CHILD_CHECK(eventually([&] { return !active->is_connected(); }));
      return 0;
    });
  }

  /// Spawns on `io` a coroutine that sends a request on `client` and awaits the response, which
  /// never comes: `suspended` once it waits, `resumed` if it ever went on.
  static void await_an_unanswered_response(asio::io_context& io, U64Client& client, bool& suspended,
                                           bool& resumed) {
    asio::co_spawn(
        io,
        [&client, &suspended, &resumed]() -> asio::awaitable<void> {
          auto pending = client.send_copy(1);
          suspended = true;
          co_await async_receive(pending, use_awaitable);
          resumed = true;
        },
        asio::detached);
    // Started before the caller's short run_for begins: on a loaded machine, a process
    // descheduled past that run's deadline would otherwise never start the coroutine.
    while (!suspended && io.run_one_for(10s) != 0) {
    }
  }

  int case_ = 0;
};

// ---- 1. Every pending operation is woken ----------------------------------------------------

TEST_F(AsioComposition, EitherOfTwoPendingReceivesIsWokenAloneInEveryStartOrder) {
  // A Server's receive and a PendingResponse's.
  wake_every_permutation(WakeShape{1, 1, 1, 1});
}

TEST_F(AsioComposition, AnyOfThreePendingReceivesIsWokenAloneInEveryStartOrder) {
  // Two Servers of two services and a PendingResponse.
  wake_every_permutation(WakeShape{2, 1, 1, 1});
}

TEST_F(AsioComposition, FirstOrLastOfSixtyFourPendingReceivesIsWokenAlone) {
  // 24 Servers of 24 services; 2 services x 4 clients x 5 PendingResponses.
  const WakeShape shape{24, 2, 4, 5};
  std::vector<int> forward(shape.ops().size());
  ASSERT_EQ(forward.size(), 64u);
  std::iota(forward.begin(), forward.end(), 0);
  std::vector<int> reverse(forward.rbegin(), forward.rend());
  std::vector<int> shuffled = forward;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(20261202));
  for (const auto& order : {forward, reverse, shuffled}) {
    for (const bool trigger_last : {true, false}) {
      for (const StartMode mode : {StartMode::before_run, StartMode::from_handlers}) {
        wake_only_one(shape, order, trigger_last, mode);
        if (HasFailure()) return;
      }
    }
  }
}

// ---- 2. A port destroyed mid-wait -----------------------------------------------------------

TEST_F(AsioComposition, DestroyingAServerMidWaitAbortsItsReceiveAndOthersStillWake) {
  auto service = builder().max_servers(3).create();
  std::optional<U64Server> with_callback(service.server_builder().create());
  std::optional<U64Server> with_awaitable(service.server_builder().create());
  auto survivor = service.server_builder().create();
  Signal send_now;
  ChildProcess peer([&] {
    auto client = open_as("client").client_builder().create();
    FLOE_CHILD_CHECK(send_now.wait() == 1);
    auto pending = client.send_copy(9);  // reaches the surviving server alone
    // At most 1: the count is live, and the survivor may have answered and let go already
    // (the response below proves it was reached).
    FLOE_CHILD_CHECK(pending.number_of_server_connections() <= 1);
    auto response = receive_within(pending);
    FLOE_CHILD_CHECK(response && response->payload() == 90);
    return 0;
  });

  asio::io_context io;
  std::optional<std::error_code> callback_error;
  async_receive(*with_callback,
                asio::bind_executor(io, [&](std::error_code e, U64Active) { callback_error = e; }));
  std::optional<std::error_code> awaitable_error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await async_receive(*with_awaitable, use_awaitable);
          awaitable_error = std::error_code{};
        } catch (const std::system_error& e) {
          awaitable_error = e.code();
        }
      },
      asio::detached);
  std::optional<std::uint64_t> survivor_got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto active = co_await async_receive(survivor, use_awaitable);
        survivor_got = active.payload();
        active.send_copy(active.payload() * 10);
      },
      asio::detached);
  asio::steady_timer destroyer(io, 30ms);  // the io_context is asleep on all three by then
  destroyer.async_wait([&](std::error_code) {
    with_callback.reset();
    with_awaitable.reset();
    send_now.notify();
  });
  run_until_out_of_work(io);

  EXPECT_EQ(callback_error, asio::error::operation_aborted);
  EXPECT_EQ(awaitable_error, asio::error::operation_aborted);
  EXPECT_EQ(survivor_got, 9u);
  EXPECT_EQ(peer.wait(10s), 0);
}

TEST_F(AsioComposition, DestroyingAPendingResponseMidWaitAbortsItsReceiveNotEndsIt) {
  auto service = builder().create();
  Signal ready;
  Signal held;
  Signal abandoned;
  Signal parent_done;
  ChildProcess server_process([&] {
    auto server = open_as("server").server_builder().create();
    ready.notify();
    auto first = receive_within(server);
    auto second = receive_within(server);
    FLOE_CHILD_CHECK(first && second);
    held.notify();
    // Never answered: the client stops listening.
    FLOE_CHILD_CHECK(eventually([&] { return !first->is_connected() && !second->is_connected(); }));
    abandoned.notify();
    // Alive until the parent's io_context has run out of work: this process exiting would
    // wake the parent's wait, and hide one left armed.
    FLOE_CHILD_CHECK(parent_done.wait() == 1);
    return 0;
  });
  ASSERT_EQ(ready.wait(), 1);
  auto client = service.client_builder().create();
  std::optional<U64Pending> with_callback(client.send_copy(1));
  std::optional<U64Pending> with_awaitable(client.send_copy(2));
  ASSERT_EQ(held.wait(), 1);

  asio::io_context io;
  std::optional<std::error_code> callback_error;
  bool callback_got_value = false;
  async_receive(*with_callback,
                asio::bind_executor(io, [&](std::error_code e, std::optional<U64Response> r) {
                  callback_error = e;
                  callback_got_value = r.has_value();
                }));
  std::optional<std::error_code> awaitable_error;
  bool awaitable_saw_end = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          auto response = co_await async_receive(*with_awaitable, use_awaitable);
          awaitable_saw_end = !response.has_value();
          awaitable_error = std::error_code{};
        } catch (const std::system_error& e) {
          awaitable_error = e.code();
        }
      },
      asio::detached);
  asio::steady_timer destroyer(io, 30ms);
  destroyer.async_wait([&](std::error_code) {
    with_callback.reset();
    with_awaitable.reset();
  });
  // Nothing else is pending: once both are aborted, the wait must go and run() return.
  run_until_out_of_work(io);

  EXPECT_EQ(callback_error, asio::error::operation_aborted);
  EXPECT_FALSE(callback_got_value);
  EXPECT_EQ(awaitable_error, asio::error::operation_aborted);
  EXPECT_FALSE(awaitable_saw_end);
  EXPECT_EQ(abandoned.wait(), 1);
  parent_done.notify();
  EXPECT_EQ(server_process.wait(10s), 0);
}

TEST_F(AsioComposition, DestroyingTheClientKeepsItsPendingResponseReceiving) {
  auto service = builder().create();
  Signal answer_now;
  ChildProcess server_process = server_answering_three_when(answer_now);
  std::optional<U64Client> client(service.client_builder().create());

  asio::io_context io;
  std::vector<std::uint64_t> received;
  bool ended = false;
  std::optional<std::error_code> error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto pending = client->send_copy(4);
        try {
          while (auto response = co_await async_receive(pending, use_awaitable))
            received.push_back(response->payload());
          ended = true;
        } catch (const std::system_error& e) {
          error = e.code();
        }
      },
      asio::detached);
  asio::steady_timer destroyer(io, 30ms);  // the receive waits by then
  destroyer.async_wait([&](std::error_code) {
    client.reset();
    answer_now.notify();
  });
  run_until_out_of_work(io);

  EXPECT_FALSE(error) << error->message();
  EXPECT_EQ(received, (std::vector<std::uint64_t>{40, 41, 42}));
  EXPECT_TRUE(ended);
  EXPECT_EQ(server_process.wait(10s), 0);
}

// ---- 3. Declaration and destruction orders --------------------------------------------------

TEST_F(AsioComposition, IoContextDeclaredFirstGoesLastWithAReceivePending) {
  // The usual Asio order: the io_context first, so it is destroyed last, after the ports; the
  // coroutine frame holding the PendingResponse goes with it. Once stopped by io.stop(), once
  // by run_for running out of time.
  for (const bool stop_explicitly : {true, false}) {
    SCOPED_TRACE(stop_explicitly ? "io.stop()" : "run_for returned");
    const std::string name = stop_explicitly ? "Order/Stopped" : "Order/TimedOut";
    std::optional<ChildProcess> server_process;
    bool suspended = false;
    bool resumed = false;
    {
      asio::io_context io;
      Node local = Node::create("asio", config);
      auto service = named(local, name).create();
      server_process.emplace(server_holding_until_abandoned(name));
      auto client = service.client_builder().create();
      await_an_unanswered_response(io, client, suspended, resumed);
      asio::steady_timer stopper(io, 30ms);
      if (stop_explicitly) stopper.async_wait([&](std::error_code) { io.stop(); });
      io.run_for(stop_explicitly ? 10s : 50ms);
      EXPECT_TRUE(suspended);
      EXPECT_FALSE(resumed);
    }  // client, service, node, then the io_context and the frame
    EXPECT_FALSE(resumed);
    EXPECT_EQ(server_process->wait(10s), 0);
  }
}

TEST_F(AsioComposition, IoContextDeclaredLastGoesFirstWithAReceivePending) {
  auto service = builder().create();
  ChildProcess server_process = server_holding_until_abandoned();
  auto client = service.client_builder().create();
  bool suspended = false;
  bool resumed = false;
  {
    asio::io_context io;
    await_an_unanswered_response(io, client, suspended, resumed);
    io.run_for(50ms);
    EXPECT_TRUE(suspended);
  }  // the io_context and the frame first, the ports after
  EXPECT_FALSE(resumed);
  EXPECT_EQ(server_process.wait(10s), 0);
}

TEST_F(AsioComposition, FrameHoldingAnActiveRequestAndAPendingResponseOutlivesTheirPorts) {
  // The frame holds a request from a client in another process and the PendingResponse of a
  // request to a server there; the Server and Client go first, the frame with the io_context.
  Signal go;
  Signal ready;
  Signal pending_ended;
  Signal request_abandoned;
  ChildProcess peer([&] {
    if (go.wait() != 1) return 2;
    Node other = Node::create("peer", config);
    auto to_asio = named(other, "Frame/ToAsio").open().client_builder().create();
    auto from_asio = named(other, "Frame/FromAsio").open().server_builder().create();
    ready.notify();
    auto pending = to_asio.send_copy(7);
    auto active = receive_within(from_asio);
    FLOE_CHILD_CHECK(active && active->payload() == 7);
    // The frame's ActiveRequest going ends this stream; its PendingResponse going abandons
    // the request held here.
    FLOE_CHILD_CHECK(eventually([&] { return !pending.is_connected(); }));
    FLOE_CHILD_CHECK(!pending.try_receive());
    pending_ended.notify();
    FLOE_CHILD_CHECK(eventually([&] { return !active->is_connected(); }));
    request_abandoned.notify();
    return 0;
  });
  bool holding = false;
  bool resumed = false;
  {
    asio::io_context io;
    Node local = Node::create("asio", config);
    auto to_asio = named(local, "Frame/ToAsio").create();
    auto from_asio = named(local, "Frame/FromAsio").create();
    std::optional<U64Server> server(to_asio.server_builder().create());
    std::optional<U64Client> client(from_asio.client_builder().create());
    go.notify();
    ASSERT_EQ(ready.wait(), 1);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto active = co_await async_receive(*server, use_awaitable);
          auto pending = client->send_copy(active.payload());
          holding = true;
          co_await async_receive(pending, use_awaitable);  // never answered
          resumed = true;
        },
        asio::detached);
    asio::steady_timer stopper(io);
    std::function<void(std::error_code)> stop_when_holding = [&](std::error_code) {
      if (holding) return io.stop();
      stopper.expires_after(1ms);
      stopper.async_wait(stop_when_holding);
    };
    stop_when_holding({});
    io.run_for(10s);
    ASSERT_TRUE(holding);
    // The ports go; the frame keeps what it holds, and the receive keeps waiting.
    server.reset();
    client.reset();
    io.restart();
    io.run_for(30ms);
    EXPECT_FALSE(resumed);
    EXPECT_EQ(pending_ended.wait(0ms), -1) << "the frame's ActiveRequest ended early";
  }  // services, node, then the io_context and the frame
  EXPECT_FALSE(resumed);
  EXPECT_EQ(pending_ended.wait(10s), 1);
  EXPECT_EQ(request_abandoned.wait(10s), 1);
  EXPECT_EQ(peer.wait(10s), 0);
}

TEST_F(AsioComposition, HandlersOwningThePortsTheyWaitOnGoWithTheIoContext) {
  // The shared_from_this idiom: a session owns its ports and every pending handler owns the
  // session, so the last handler destroyed destroys the ports its operation waits on.
  auto service = builder().create();
  auto session_requests = named(node, "Session/Requests").create();  // the request never comes
  ChildProcess server_process = server_holding_until_abandoned();
  struct Session {
    U64Server server;
    U64Pending pending;
  };
  auto client = service.client_builder().create();
  {
    asio::io_context io;
    auto session = std::make_shared<Session>(
        Session{session_requests.server_builder().create(), client.send_copy(1)});
    bool called = false;
    async_receive(
        session->server,
        asio::bind_executor(io, [&called, session](std::error_code, U64Active) { called = true; }));
    async_receive(
        session->pending,
        asio::bind_executor(io, [&called, session](std::error_code, std::optional<U64Response>) {
          called = true;
        }));
    session.reset();
    io.run_for(30ms);
    EXPECT_FALSE(called);
  }  // the handlers go, the session and its ports with the last one
  EXPECT_EQ(server_process.wait(10s), 0);
}

// ---- 4. Awaitable sends under Asio ----------------------------------------------------------

TEST_F(AsioComposition, AsyncSendCopyStreamsPastAStalledClientWithoutFreezingTheThread) {
  stream_past_a_stalled_client(false);
}

TEST_F(AsioComposition, AsyncSendOfLoansStreamsPastAStalledClientWithoutFreezingTheThread) {
  stream_past_a_stalled_client(true);
}

TEST_F(AsioComposition, CancellingAWaitingSendReturnsItsChunkAndSendsNothing) {
  auto service = tight_service();
  auto server = service.server_builder().backpressure(Backpressure::block).create();
  Signal sent;
  Signal read_now;
  ChildProcess client_process([&] {
    auto client = open_as("client").client_builder().create();
    auto pending = client.send_copy(5);
    sent.notify();
    FLOE_CHILD_CHECK(read_now.wait() == 1);
    for (const std::uint64_t expected : {50u, 51u, 53u}) {  // 52 was cancelled: never sent
      auto response = receive_within(pending);
      FLOE_CHILD_CHECK(response && response->payload() == expected);
    }
    FLOE_CHILD_CHECK(eventually([&] { return !pending.is_connected(); }));
    FLOE_CHILD_CHECK(!pending.try_receive());
    return 0;
  });
  ASSERT_EQ(sent.wait(), 1);
  auto active = receive_within(server);
  ASSERT_TRUE(active.has_value());

  asio::io_context io;
  std::vector<bool> delivered;
  auto note = asio::bind_executor(io, [&](std::error_code e, bool d) {
    EXPECT_FALSE(e) << e.message();
    delivered.push_back(d);
  });
  // Two fill the client's buffer.
  async_send_copy(*active, std::uint64_t{50}, note);
  async_send_copy(*active, std::uint64_t{51}, note);
  run_until_out_of_work(io);
  EXPECT_EQ(delivered, (std::vector<bool>{true, true}));
  EXPECT_EQ(service.usage().response_chunks_in_use, 2u);

  // The third waits for room, holding its chunk, until cancelled.
  asio::cancellation_signal cancel;
  std::optional<std::error_code> cancelled_error;
  bool cancelled_delivered = true;
  async_send_copy(*active, std::uint64_t{52},
                  asio::bind_cancellation_slot(
                      cancel.slot(), asio::bind_executor(io, [&](std::error_code e, bool d) {
                        cancelled_error = e;
                        cancelled_delivered = d;
                      })));
  std::uint64_t in_use_while_waiting = 0;
  bool completed_before_cancel = true;
  asio::steady_timer canceller(io, 30ms);
  canceller.async_wait([&](std::error_code) {
    in_use_while_waiting = service.usage().response_chunks_in_use;
    completed_before_cancel = cancelled_error.has_value();
    cancel.emit(asio::cancellation_type::terminal);
  });
  run_until_out_of_work(io);
  EXPECT_FALSE(completed_before_cancel);
  EXPECT_EQ(in_use_while_waiting, 3u);
  EXPECT_EQ(cancelled_error, asio::error::operation_aborted);
  EXPECT_FALSE(cancelled_delivered);
  EXPECT_EQ(service.usage().response_chunks_in_use, 2u) << "the cancelled send kept its chunk";

  // The stream goes on: once the client reads, the next send gets through.
  read_now.notify();
  async_send_copy(*active, std::uint64_t{53}, note);
  run_until_out_of_work(io);
  EXPECT_EQ(delivered, (std::vector<bool>{true, true, true}));
  active.reset();
  EXPECT_EQ(client_process.wait(10s), 0);
  EXPECT_EQ(service.usage().response_chunks_in_use, 0u);
}

}  // namespace
}  // namespace floe::test
