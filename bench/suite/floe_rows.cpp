// floe's rows: an 8-byte request answered by one 8-byte response, with each side polling,
// asleep in a floe::Runtime (spin budget 0), in a floe::Runtime with its default spin budget, or
// inside an asio::io_context; and the CPU a process waiting for a request costs while nothing
// comes.

#include <benchmark/benchmark.h>
#include <time.h>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <floe/asio.hpp>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "suite.hpp"

namespace floe::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kStopValue = ~std::uint64_t{0};

auto round_trip_service(floe::Node& node) {
  return node.service_builder("Bench/RoundTrip").request_response<std::uint64_t, std::uint64_t>();
}

floe::Config row_config() {
  floe::Config config;
  config.domain = unique_name("floe");
  return config;
}

/// Throws unless `response` is there and echoes `value`.
template <typename Response>
void expect_echo(const std::optional<Response>& response, std::uint64_t value) {
  if (!response) throw std::runtime_error("the server ended the stream without answering");
  if (response->payload() != value) throw std::runtime_error("a response that is not the echo");
}

/// Waits for the server's exit; its CPU time, or std::nullopt once the row is marked failed
/// (with `error` if there is one: the server, left waiting for a stop, is then killed soon).
std::optional<std::int64_t> finish_server(benchmark::State& state, ForkedServer& server,
                                          const std::string& error) {
  const std::int64_t cpu_ns = server.finish(error.empty() ? 30s : 2s);
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return std::nullopt;
  }
  if (server.failed()) {
    state.SkipWithError("the server failed");
    return std::nullopt;
  }
  return cpu_ns;
}

/// The end of a round-trip row: the server's exit and the cost counters, or the error.
void finish_round_trips(benchmark::State& state, ForkedServer& server, std::int64_t client_cpu_ns,
                        const SyscallWindow& client_syscalls,
                        const SharedAnonymous<SyscallTally>& server_syscalls,
                        const std::string& error) {
  if (const auto server_cpu_ns = finish_server(state, server, error)) {
    report_cpu(state, client_cpu_ns, *server_cpu_ns, state.iterations());
    report_syscalls(state, client_syscalls.tally(), *server_syscalls);
  }
}

void round_trip_floe_polling(benchmark::State& state) {
  place_client();
  const floe::Config config = row_config();
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = round_trip_service(node).max_clients(1).max_servers(1).create();
  const std::int64_t warmup = state.max_iterations / 10;
  ReadyFlag ready;
  SharedAnonymous<SyscallTally> server_syscalls;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = round_trip_service(n).open();
    auto port = opened.server_builder().create();
    SyscallWindow syscalls(warmup);
    ready.raise();
    std::int64_t message = 0;
    syscalls.begin(message);
    for (;;) {
      if (auto request = port.try_receive()) {
        const std::uint64_t value = request->payload();
        request->send_copy(value);
        syscalls.end(message);
        syscalls.begin(++message);
        if (value == kStopValue) break;
      }
    }
    *server_syscalls = syscalls.tally();
    return 0;
  });
  if (!ready.wait()) {
    finish_server(state, server, "the server did not start");
    return;
  }
  auto client = service.client_builder().create();
  StallWatchdog watchdog;
  SyscallWindow syscalls(warmup);
  // Polls until the answer comes, or until the watchdog gives up (std::nullopt).
  auto round_trip = [&](std::uint64_t value) -> std::optional<std::uint64_t> {
    auto pending = client.send_copy(value);
    while (!watchdog.stalled()) {
      if (auto response = pending.try_receive()) return response->payload();
    }
    return std::nullopt;
  };
  std::string error;
  std::int64_t client_cpu = 0;
  try {
    const std::int64_t cpu_before = cpu_time_ns();
    time_each(state, warmup, [&](std::int64_t i) {
      if (!error.empty()) return;  // the remaining iterations pass at once
      watchdog.tick();
      syscalls.begin(i);
      const auto value = static_cast<std::uint64_t>(i);
      const auto answer = round_trip(value);
      syscalls.end(i);
      if (answer != value) error = watchdog.stalled() ? "no answer for 5 s" : "a wrong answer";
    });
    client_cpu = cpu_time_ns() - cpu_before;
    // Waits for the answer: a request dropped before a server took it is withdrawn.
    if (error.empty() && !round_trip(kStopValue)) error = "no answer to the stop request";
  } catch (const std::exception& e) {
    error = e.what();
  }
  finish_round_trips(state, server, client_cpu, syscalls, server_syscalls, error);
}

/// Both sides wait with co_await in a floe::Runtime of their own with `options`: the client
/// times each `send_copy` + `co_await pending.receive()`.
void round_trip_floe_runtime(benchmark::State& state, const floe::RuntimeOptions& options) {
  place_client();
  const floe::Config config = row_config();
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = round_trip_service(node).max_clients(1).max_servers(1).create();
  const std::int64_t warmup = state.max_iterations / 10;
  ReadyFlag ready;
  SharedAnonymous<SyscallTally> server_syscalls;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = round_trip_service(n).open();
    auto port = opened.server_builder().create();
    floe::Runtime runtime(options);
    SyscallWindow syscalls(warmup);
    ready.raise();
    return runtime.block_on([&]() -> floe::Task<int> {
      for (std::int64_t message = 0;; ++message) {
        syscalls.begin(message);
        auto request = co_await port.receive();
        const std::uint64_t value = request.payload();
        request.send_copy(value);
        syscalls.end(message);
        if (value == kStopValue) break;
      }
      *server_syscalls = syscalls.tally();
      co_return 0;
    });
  });
  if (!ready.wait()) {
    finish_server(state, server, "the server did not start");
    return;
  }
  auto client = service.client_builder().create();
  floe::Runtime runtime(options);
  StallWatchdog watchdog([&runtime] { runtime.stop(); });
  SyscallWindow syscalls(warmup);
  std::string error;
  std::int64_t client_cpu = 0;
  try {
    runtime.block_on([&]() -> floe::Task<void> {
      const std::int64_t cpu_before = cpu_time_ns();
      std::int64_t value = 0;
      for (; value < warmup; ++value) {
        watchdog.tick();
        syscalls.begin(value);
        auto pending = client.send_copy(static_cast<std::uint64_t>(value));
        expect_echo(co_await pending.receive(), static_cast<std::uint64_t>(value));
        syscalls.end(value);
      }
      EachTiming timing(state);
      for (auto _ : state) {
        watchdog.tick();
        const auto start = Clock::now();
        auto pending = client.send_copy(static_cast<std::uint64_t>(value));
        auto response = co_await pending.receive();
        timing.record(start);
        expect_echo(response, static_cast<std::uint64_t>(value++));
      }
      timing.report();
      client_cpu = cpu_time_ns() - cpu_before;
      auto stop = client.send_copy(kStopValue);
      (void)co_await stop.receive();
    });
  } catch (const floe::Error& e) {
    error = watchdog.stalled() ? "no answer for 5 s" : e.what();
  } catch (const std::exception& e) {
    error = e.what();
  }
  finish_round_trips(state, server, client_cpu, syscalls, server_syscalls, error);
}

void round_trip_floe_asleep(benchmark::State& state) {
  round_trip_floe_runtime(state, floe::RuntimeOptions{.spin_budget = 0ns});
}

void round_trip_floe_default_spin(benchmark::State& state) {
  round_trip_floe_runtime(state, floe::RuntimeOptions{});
}

/// Both sides inside an asio::io_context of their own, waiting with floe::async_receive and
/// asio::use_awaitable.
void round_trip_floe_asio(benchmark::State& state) {
  place_client();
  const floe::Config config = row_config();
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = round_trip_service(node).max_clients(1).max_servers(1).create();
  const std::int64_t warmup = state.max_iterations / 10;
  ReadyFlag ready;
  SharedAnonymous<SyscallTally> server_syscalls;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = round_trip_service(n).open();
    auto port = opened.server_builder().create();
    asio::io_context io;
    int status = 1;
    SyscallWindow syscalls(warmup);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (std::int64_t message = 0;; ++message) {
            syscalls.begin(message);
            auto request = co_await floe::async_receive(port, asio::use_awaitable);
            const std::uint64_t value = request.payload();
            request.send_copy(value);
            syscalls.end(message);
            if (value == kStopValue) break;
          }
          *server_syscalls = syscalls.tally();
        },
        [&](const std::exception_ptr& failure) { status = failure ? 1 : 0; });
    ready.raise();
    io.run();
    return status;
  });
  if (!ready.wait()) {
    finish_server(state, server, "the server did not start");
    return;
  }
  auto client = service.client_builder().create();
  asio::io_context io;
  StallWatchdog watchdog([&io] { io.stop(); });
  SyscallWindow syscalls(warmup);
  std::string error = "no answer for 5 s";  // unless the coroutine finishes
  std::int64_t client_cpu = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const std::int64_t cpu_before = cpu_time_ns();
        std::int64_t value = 0;
        for (; value < warmup; ++value) {
          watchdog.tick();
          syscalls.begin(value);
          auto pending = client.send_copy(static_cast<std::uint64_t>(value));
          expect_echo(co_await floe::async_receive(pending, asio::use_awaitable),
                      static_cast<std::uint64_t>(value));
          syscalls.end(value);
        }
        EachTiming timing(state);
        for (auto _ : state) {
          watchdog.tick();
          const auto start = Clock::now();
          auto pending = client.send_copy(static_cast<std::uint64_t>(value));
          auto response = co_await floe::async_receive(pending, asio::use_awaitable);
          timing.record(start);
          expect_echo(response, static_cast<std::uint64_t>(value++));
        }
        timing.report();
        client_cpu = cpu_time_ns() - cpu_before;
        auto stop = client.send_copy(kStopValue);
        (void)co_await floe::async_receive(stop, asio::use_awaitable);
      },
      [&](const std::exception_ptr& failure) {
        error.clear();
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          error = e.what();
        }
      });
  try {
    io.run();
  } catch (const std::exception& e) {
    error = e.what();
  }
  finish_round_trips(state, server, client_cpu, syscalls, server_syscalls, error);
}

/// CPU time of process `pid` so far, in ns (-1 if it cannot be read).
std::int64_t process_cpu_ns(pid_t pid) {
  clockid_t clock;
  timespec now{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &now) != 0) return -1;
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

/// Times the threads of process `pid` went to sleep of their own accord (each one a wake-up
/// later), from /proc.
std::int64_t voluntary_context_switches(pid_t pid) {
  std::int64_t total = 0;
  std::error_code ignored;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ignored)) {
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      constexpr std::string_view key = "voluntary_ctxt_switches:";
      if (line.starts_with(key)) total += std::stoll(line.substr(key.size()));
    }
  }
  return total;
}

/// A server waiting in `co_await server.receive()` in a floe::Runtime with the default options,
/// with a client connected and nothing sent: the CPU it burns per wall second once the spin
/// budget has passed (idle_cpu_percent), and how often it wakes (idle_wakeups_per_s).
void idle_floe_default_spin(benchmark::State& state) {
  place_client();
  const floe::Config config = row_config();
  floe::Node node = floe::Node::create("bench-client", config);
  auto service = round_trip_service(node).max_clients(1).max_servers(1).create();
  ReadyFlag ready;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = round_trip_service(n).open();
    auto port = opened.server_builder().create();
    floe::Runtime runtime;
    ready.raise();
    return runtime.block_on([&]() -> floe::Task<int> {
      auto request = co_await port.receive();
      request.send_copy(request.payload());
      co_return 0;
    });
  });
  if (!ready.wait()) {
    finish_server(state, server, "the server did not start");
    return;
  }
  auto client = service.client_builder().create();
  // Far past the spin budget (20 us): the loop sleeps by now.
  std::this_thread::sleep_for(100ms);
  const auto window = quick() ? 1s : 5s;
  std::int64_t cpu_ns = -1;
  std::int64_t wakeups = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    const std::int64_t cpu_before = process_cpu_ns(server.pid());
    const std::int64_t switches_before = voluntary_context_switches(server.pid());
    std::this_thread::sleep_for(window);
    const std::int64_t cpu_after = process_cpu_ns(server.pid());
    wakeups = voluntary_context_switches(server.pid()) - switches_before;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (cpu_before >= 0 && cpu_after >= 0) cpu_ns = cpu_after - cpu_before;
    state.SetIterationTime(seconds);
  }
  // One request wakes it; it answers and exits.
  auto pending = client.send_copy(1);
  const auto deadline = Clock::now() + 5s;
  bool answered = false;
  while (!(answered = pending.try_receive().has_value()) && Clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  std::string error;
  if (!answered) error = "the server did not answer the request that ends the row";
  if (cpu_ns < 0) error = "cannot read the server's CPU clock";
  if (!finish_server(state, server, error)) return;
  state.counters["idle_cpu_percent"] = static_cast<double>(cpu_ns) * 1e-9 / seconds * 100;
  state.counters["idle_wakeups_per_s"] = static_cast<double>(wakeups) / seconds;
  // The window measured (5 s, 1 s in a quick run), for the report to say.
  state.counters["idle_window_s"] = seconds;
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/floe/polling", 200'000, round_trip_floe_polling);
  register_row("round_trip/floe/asleep", 50'000, round_trip_floe_asleep);
  register_row("round_trip/floe/default_spin", 100'000, round_trip_floe_default_spin);
  register_row("round_trip/floe/asio", 50'000, round_trip_floe_asio);
  register_whole_run("idle/floe/default_spin", idle_floe_default_spin);
  return true;
}();

}  // namespace
}  // namespace floe::bench
