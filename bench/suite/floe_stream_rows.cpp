// floe's stream rows: one 8-byte request answered by a stream of 8-byte responses, the request's
// payload saying how many. The client takes them by polling, with co_await in a floe::Runtime,
// or from an Asio io_context. One iteration is the whole stream: the row's time is the stream's
// (from sending the request to taking its last response) and its counter responses_per_s.
//
// The stream is lossless (safe overflow off, the server's Backpressure::block): a server that
// finds the client's buffer full waits for room, and the client checks it received every
// response, in order. The buffer holds 256 responses, room for the server to run ahead.

#include <benchmark/benchmark.h>
#include <floe/asio.hpp>
#include <floe/floe.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "suite.hpp"

namespace floe::bench {
namespace {

using Clock = std::chrono::steady_clock;

// How long a stream may stall before the row gives up; a row takes ~10 s at most.
constexpr std::chrono::seconds kStreamLimit{30};

auto stream_service(floe::Node& node) {
  return node.service_builder("Bench/Stream").request_response<std::uint64_t, std::uint64_t>();
}

floe::Config row_config() {
  floe::Config config;
  config.domain = unique_name("floe-stream");
  return config;
}

/// Calls `expire` from a thread of its own unless destroyed within `limit`: bounds a client's
/// wait without costing its loop anything (floe::Runtime::stop and io_context::stop may be
/// called from any thread).
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, std::function<void()> expire)
      : thread_([this, limit, expire = std::move(expire)] {
          std::unique_lock lock(mutex_);
          if (!disarmed_changed_.wait_for(lock, limit, [this] { return disarmed_; })) {
            expired_.store(true, std::memory_order_relaxed);
            expire();
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      disarmed_ = true;
    }
    disarmed_changed_.notify_one();
    thread_.join();
  }
  bool expired() const noexcept { return expired_.load(std::memory_order_relaxed); }

 private:
  std::mutex mutex_;
  std::condition_variable disarmed_changed_;
  bool disarmed_ = false;
  std::atomic<bool> expired_{false};
  std::thread thread_;  // last: it uses the members above
};

/// A forked server that takes one request and answers it with `payload` responses 0, 1, ...,
/// then lets go of it, ending the stream. Polling: try_receive and blocking send_copy.
int serve_stream_polling(const floe::Config& config, ReadyFlag& ready) {
  floe::Node node = floe::Node::create("bench-server", config);
  auto opened = stream_service(node).open();
  auto server = opened.server_builder().backpressure(floe::Backpressure::block).create();
  ready.raise();
  for (;;) {
    if (auto request = server.try_receive()) {
      const std::uint64_t count = request->payload();
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!request->send_copy(i)) return 1;
      }
      return 0;
    }
  }
}

/// The same in a floe::Runtime with default options: the task waits for the request and for
/// room in the client's buffer with co_await.
int serve_stream_co_await(const floe::Config& config, ReadyFlag& ready) {
  floe::Node node = floe::Node::create("bench-server", config);
  auto opened = stream_service(node).open();
  auto server = opened.server_builder().backpressure(floe::Backpressure::block).create();
  floe::Runtime runtime;
  ready.raise();
  return runtime.block_on([&]() -> floe::Task<int> {
    auto request = co_await floe::with_timeout(server.receive(), std::chrono::seconds(20));
    const std::uint64_t count = request.payload();
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!co_await request.async_send_copy(i)) co_return 1;
    }
    co_return 0;
  });
}

/// What a client saw of a stream.
struct StreamResult {
  std::uint64_t received = 0;
  bool in_order = true;
  Clock::duration took{};
};

/// Runs one stream of `count` responses: forks the server, times the client's `take(client,
/// count)` and reports the row's time and counters.
template <typename Serve, typename Take>
void run_stream(benchmark::State& state, std::uint64_t count, Serve serve, Take take) {
  place_client();
  const floe::Config config = row_config();
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = stream_service(node)
                     .max_clients(1)
                     .max_servers(1)
                     .max_response_buffer_size(256)
                     .enable_safe_overflow_for_responses(false)
                     .create();
  ReadyFlag ready;
  ForkedServer server([&] { return serve(config, ready); });
  if (!ready.wait()) {
    state.SkipWithError("the server did not start");
    return;
  }
  auto client = service.client_builder().create();
  const std::uint64_t allocations_before = allocations();
  const std::int64_t cpu_before = cpu_time_ns();
  StreamResult result;
  for (auto _ : state) {
    result = take(client, count);
    state.SetIterationTime(std::chrono::duration<double>(result.took).count());
  }
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  const std::uint64_t allocated = allocations() - allocations_before;
  const std::int64_t server_cpu = server.finish();
  if (result.received != count || !result.in_order) {
    state.SkipWithError(("received " + std::to_string(result.received) + " of " +
                         std::to_string(count) + " responses" +
                         (result.in_order ? "" : ", out of order"))
                            .c_str());
    return;
  }
  if (server.failed()) {
    state.SkipWithError("the server failed");
    return;
  }
  const double seconds = std::chrono::duration<double>(result.took).count();
  state.counters["responses_per_s"] = static_cast<double>(count) / seconds;
  state.counters["allocs_per_op"] = static_cast<double>(allocated) / static_cast<double>(count);
  state.SetItemsProcessed(static_cast<std::int64_t>(count));
  report_cpu(state, client_cpu, server_cpu, static_cast<std::int64_t>(count));
}

template <typename Client>
StreamResult take_polling(Client& client, std::uint64_t count) {
  StreamResult result;
  Watchdog watchdog(kStreamLimit, [] {});
  const auto start = Clock::now();
  auto pending = client.send_copy(count);
  while (result.received < count) {
    if (auto response = pending.try_receive()) {
      result.in_order = result.in_order && response->payload() == result.received;
      ++result.received;
    } else if (watchdog.expired()) {
      break;
    }
  }
  result.took = Clock::now() - start;
  return result;
}

template <typename Client>
StreamResult take_co_await(Client& client, std::uint64_t count) {
  StreamResult result;
  floe::Runtime runtime;
  Watchdog watchdog(kStreamLimit, [&runtime] { runtime.stop(); });
  const auto start = Clock::now();
  try {
    runtime.block_on([&]() -> floe::Task<void> {
      auto pending = client.send_copy(count);
      while (auto response = co_await pending.receive()) {
        result.in_order = result.in_order && response->payload() == result.received;
        ++result.received;
      }
    });
  } catch (const floe::Error&) {
    // Stopped by the watchdog: the count tells.
  }
  result.took = Clock::now() - start;
  return result;
}

template <typename Client>
StreamResult take_asio(Client& client, std::uint64_t count) {
  StreamResult result;
  asio::io_context io;
  Watchdog watchdog(kStreamLimit, [&io] { io.stop(); });
  const auto start = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto pending = client.send_copy(count);
        while (auto response = co_await floe::async_receive(pending, asio::use_awaitable)) {
          result.in_order = result.in_order && response->payload() == result.received;
          ++result.received;
        }
      },
      asio::detached);
  io.run();
  result.took = Clock::now() - start;
  return result;
}

/// Registers a row of one stream of `full` responses (a twentieth with FLOE_BENCH_QUICK=1).
/// A polling client that shares its core with the server lets it send only when the scheduler
/// takes the core from the client, a time slice (milliseconds) at a time: ~50 k responses/s
/// instead of millions. Such a row (`shares_core_when_polling`, placement other than pinned)
/// streams a twentieth of `full`, which keeps it under ~10 s.
template <typename Serve, typename Take>
void register_stream_row(const char* name, std::uint64_t full, bool shares_core_when_polling,
                         Serve serve, Take take) {
  std::uint64_t count = quick() ? full / 20 : full;
  if (shares_core_when_polling && placement() != Placement::pinned) count /= 20;
  register_whole_run(name, [count, serve, take](benchmark::State& state) {
    run_stream(state, count, serve, take);
  });
}

using StreamClient = floe::Client<std::uint64_t, std::uint64_t>;

[[maybe_unused]] const bool registered = [] {
  // Full runs on 2 cores, pinned: ~3 s, ~3 s and ~5 s.
  register_stream_row("stream/floe/polling", 10'000'000, true, serve_stream_polling,
                      take_polling<StreamClient>);
  register_stream_row("stream/floe/co_await", 10'000'000, false, serve_stream_co_await,
                      take_co_await<StreamClient>);
  register_stream_row("stream/floe/asio", 2'000'000, false, serve_stream_co_await,
                      take_asio<StreamClient>);
  return true;
}();

}  // namespace
}  // namespace floe::bench
