// The floors every transport is measured against: two processes ping-ponging one 64-bit value
// through two cache lines both poll (the polling floor), through a futex pair both sleep on and
// through an eventfd pair both block on (the sleeping floors).

#include <benchmark/benchmark.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>

#include "../baselines.hpp"
#include "suite.hpp"

namespace floe::bench {
namespace {

void round_trip_raw_cache_line(benchmark::State& state) {
  place_client();
  SharedAnonymous<PingPong> shared;
  const std::int64_t warmup = state.max_iterations / 10;
  SharedAnonymous<SyscallTally> server_syscalls;
  ForkedServer server([&] {
    SyscallWindow syscalls(warmup);
    for (std::uint64_t expected = 1;; ++expected) {
      const auto message = static_cast<std::int64_t>(expected - 1);
      syscalls.begin(message);
      std::uint64_t seen;
      while ((seen = shared->ping.value.load(std::memory_order_acquire)) < expected) {
      }
      if (seen == kStop) break;
      shared->pong.value.store(seen, std::memory_order_release);
      syscalls.end(message);
    }
    *server_syscalls = syscalls.tally();
    return 0;
  });
  SyscallWindow syscalls(warmup);
  const std::int64_t cpu_before = cpu_time_ns();
  time_each(state, warmup, [&](std::int64_t i) {
    syscalls.begin(i);
    const auto n = static_cast<std::uint64_t>(i + 1);
    shared->ping.value.store(n, std::memory_order_release);
    while (shared->pong.value.load(std::memory_order_acquire) != n) {
    }
    syscalls.end(i);
  });
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  shared->ping.value.store(kStop);
  report_cpu(state, client_cpu, server.finish(), state.iterations());
  if (server.failed()) state.SkipWithError("the server failed");
  report_syscalls(state, syscalls.tally(), *server_syscalls);
}

void round_trip_raw_futex(benchmark::State& state) {
  place_client();
  SharedAnonymous<FutexPair> shared;
  const std::int64_t warmup = state.max_iterations / 10;
  SharedAnonymous<SyscallTally> server_syscalls;
  ForkedServer server([&] {
    SyscallWindow syscalls(warmup);
    std::int64_t message = 0;
    for (std::uint32_t seen = 0;; ++message) {
      syscalls.begin(message);
      futex_wait_while(shared->ping.value, seen);
      seen = shared->ping.value.load(std::memory_order_acquire);
      shared->pong.value.store(seen, std::memory_order_release);
      futex_wake(shared->pong.value);
      syscalls.end(message);
      if (seen == 0xffffffffu) break;
    }
    *server_syscalls = syscalls.tally();
    return 0;
  });
  SyscallWindow syscalls(warmup);
  const std::int64_t cpu_before = cpu_time_ns();
  time_each(state, warmup, [&](std::int64_t i) {
    syscalls.begin(i);
    const auto n = static_cast<std::uint32_t>(i + 1);
    const std::uint32_t before = shared->pong.value.load(std::memory_order_acquire);
    shared->ping.value.store(n, std::memory_order_release);
    futex_wake(shared->ping.value);
    futex_wait_while(shared->pong.value, before);
    syscalls.end(i);
  });
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  shared->ping.value.store(0xffffffffu);
  futex_wake(shared->ping.value);
  report_cpu(state, client_cpu, server.finish(), state.iterations());
  if (server.failed()) state.SkipWithError("the server failed");
  report_syscalls(state, syscalls.tally(), *server_syscalls);
}

void round_trip_raw_eventfd(benchmark::State& state) {
  place_client();
  const int ping = ::eventfd(0, EFD_CLOEXEC);
  const int pong = ::eventfd(0, EFD_CLOEXEC);
  const std::int64_t warmup = state.max_iterations / 10;
  SharedAnonymous<SyscallTally> server_syscalls;
  ForkedServer server([&] {
    SyscallWindow syscalls(warmup);
    for (std::int64_t message = 0;; ++message) {
      syscalls.begin(message);
      std::uint64_t value = 0;
      if (::read(ping, &value, sizeof value) != sizeof value) return 1;
      const std::uint64_t one = 1;
      if (::write(pong, &one, sizeof one) != sizeof one) return 1;
      syscalls.end(message);
      if (value > 1) break;  // the stop signal
    }
    *server_syscalls = syscalls.tally();
    return 0;
  });
  SyscallWindow syscalls(warmup);
  const std::int64_t cpu_before = cpu_time_ns();
  time_each(state, warmup, [&](std::int64_t i) {
    syscalls.begin(i);
    std::uint64_t value = 1;
    if (::write(ping, &value, sizeof value) != sizeof value) std::abort();
    if (::read(pong, &value, sizeof value) != sizeof value) std::abort();
    syscalls.end(i);
  });
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  const std::uint64_t stop = 2;
  if (::write(ping, &stop, sizeof stop) != sizeof stop) std::abort();
  report_cpu(state, client_cpu, server.finish(), state.iterations());
  ::close(ping);
  ::close(pong);
  if (server.failed()) state.SkipWithError("the server failed");
  report_syscalls(state, syscalls.tally(), *server_syscalls);
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/raw cache line/polling", 200'000, round_trip_raw_cache_line);
  register_row("round_trip/raw futex/asleep", 50'000, round_trip_raw_futex);
  register_row("round_trip/raw eventfd/asleep", 50'000, round_trip_raw_eventfd);
  return true;
}();

}  // namespace
}  // namespace floe::bench
