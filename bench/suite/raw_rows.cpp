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
  ForkedServer server([&] {
    for (std::uint64_t expected = 1;; ++expected) {
      std::uint64_t seen;
      while ((seen = shared->ping.value.load(std::memory_order_acquire)) < expected) {
      }
      if (seen == kStop) return 0;
      shared->pong.value.store(seen, std::memory_order_release);
    }
  });
  const std::int64_t cpu_before = cpu_time_ns();
  time_each(state, state.max_iterations / 10, [&](std::int64_t i) {
    const auto n = static_cast<std::uint64_t>(i + 1);
    shared->ping.value.store(n, std::memory_order_release);
    while (shared->pong.value.load(std::memory_order_acquire) != n) {
    }
  });
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  shared->ping.value.store(kStop);
  report_cpu(state, client_cpu, server.finish(), state.iterations());
  if (server.failed()) state.SkipWithError("the server failed");
}

void round_trip_raw_futex(benchmark::State& state) {
  place_client();
  SharedAnonymous<FutexPair> shared;
  ForkedServer server([&] {
    for (std::uint32_t seen = 0;;) {
      futex_wait_while(shared->ping.value, seen);
      seen = shared->ping.value.load(std::memory_order_acquire);
      shared->pong.value.store(seen, std::memory_order_release);
      futex_wake(shared->pong.value);
      if (seen == 0xffffffffu) return 0;
    }
  });
  time_each(state, state.max_iterations / 10, [&](std::int64_t i) {
    const auto n = static_cast<std::uint32_t>(i + 1);
    const std::uint32_t before = shared->pong.value.load(std::memory_order_acquire);
    shared->ping.value.store(n, std::memory_order_release);
    futex_wake(shared->ping.value);
    futex_wait_while(shared->pong.value, before);
  });
  shared->ping.value.store(0xffffffffu);
  futex_wake(shared->ping.value);
  server.finish();
  if (server.failed()) state.SkipWithError("the server failed");
}

void round_trip_raw_eventfd(benchmark::State& state) {
  place_client();
  const int ping = ::eventfd(0, EFD_CLOEXEC);
  const int pong = ::eventfd(0, EFD_CLOEXEC);
  ForkedServer server([&] {
    for (;;) {
      std::uint64_t value = 0;
      if (::read(ping, &value, sizeof value) != sizeof value) return 1;
      const std::uint64_t one = 1;
      if (::write(pong, &one, sizeof one) != sizeof one) return 1;
      if (value > 1) return 0;  // the stop signal
    }
  });
  time_each(state, state.max_iterations / 10, [&](std::int64_t) {
    std::uint64_t value = 1;
    if (::write(ping, &value, sizeof value) != sizeof value) std::abort();
    if (::read(pong, &value, sizeof value) != sizeof value) std::abort();
  });
  const std::uint64_t stop = 2;
  if (::write(ping, &stop, sizeof stop) != sizeof stop) std::abort();
  server.finish();
  ::close(ping);
  ::close(pong);
  if (server.failed()) state.SkipWithError("the server failed");
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/raw cache line/polling", 200'000, round_trip_raw_cache_line);
  register_row("round_trip/raw futex/asleep", 50'000, round_trip_raw_futex);
  register_row("round_trip/raw eventfd/asleep", 50'000, round_trip_raw_eventfd);
  return true;
}();

}  // namespace
}  // namespace floe::bench
