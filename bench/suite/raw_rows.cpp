// The floors every transport is measured against: two processes ping-ponging one 64-bit value
// through two cache lines both poll (the polling floor), through a futex pair both sleep on and
// through an eventfd pair both block on (the sleeping floors). The futex pair once more with
// each side asleep in io_uring (IORING_OP_FUTEX_WAIT), as floe's runtime sleeps: the floor of
// its io_uring backend, which tells the kernel's share of floe's asleep row from floe's own. Two
// more eventfd pairs are the floors of an event loop: each side waits in epoll_wait(2) for its
// eventfd before reading it (what any loop built on epoll pays), and each side waits in an
// asio::io_context (what any integration with Asio pays, so that floe's Asio row can be told apart
// from Asio's own cost).

// A standard library header before Asio's: see the note in include/floe/asio.hpp.
// clang-format off
#include <cstdlib>
#include <benchmark/benchmark.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>
// clang-format on

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

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

/// One io_uring of a side of round_trip_raw_futex_io_uring.
class FutexRing {
 public:
  FutexRing() {
    if (io_uring_queue_init(4, &ring_, 0) != 0) throw std::runtime_error("io_uring_queue_init");
  }
  FutexRing(const FutexRing&) = delete;
  FutexRing& operator=(const FutexRing&) = delete;
  ~FutexRing() { io_uring_queue_exit(&ring_); }

  /// Whether the kernel has IORING_OP_FUTEX_WAIT (6.7+) and lets this process use io_uring.
  static bool supported() {
    try {
      FutexRing ring;
      io_uring_probe* probe = io_uring_get_probe_ring(&ring.ring_);
      const bool has = probe != nullptr && io_uring_opcode_supported(probe, kOpFutexWait);
      if (probe != nullptr) io_uring_free_probe(probe);
      return has;
    } catch (const std::exception&) {
      return false;
    }
  }

  /// Sleeps in io_uring_enter while `word` holds `old`, at most `timeout`: false then, or when
  /// the wait fails.
  bool wait_while(std::atomic<std::uint32_t>& word, std::uint32_t old,
                  std::chrono::seconds timeout) {
    constexpr int kFutex2SizeU32 = 0x02;  // shared, as between two processes
    while (word.load(std::memory_order_acquire) == old) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_rw(kOpFutexWait, sqe, kFutex2SizeU32, &word, 0, old);
      sqe->addr3 = 0xffffffffu;  // the futex2 mask: any waker
      __kernel_timespec limit{};
      limit.tv_sec = timeout.count();
      io_uring_cqe* cqe = nullptr;
      const int result = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &limit, nullptr);
      if (result == -ETIME) return false;
      // 0: woken; EAGAIN: the word had moved on already.
      const int woken = result == 0 && cqe != nullptr ? cqe->res : result;
      io_uring_cq_advance(&ring_, io_uring_cq_ready(&ring_));
      if (woken < 0 && woken != -EAGAIN && woken != -EINTR) return false;
    }
    return true;
  }

 private:
  // Debian 12's liburing (2.3) predates the futex opcodes; their numbers are kernel ABI.
  static constexpr std::uint8_t kOpFutexWait = 51;
  io_uring ring_{};
};

/// As round_trip_raw_futex, but each side sleeps in io_uring_enter on an IORING_OP_FUTEX_WAIT
/// (kernel 6.7+) for the other's futex(2) wake: floe's runtime sleeps so with its io_uring
/// backend (with more in flight: an eventfd and the peers' pidfds, polled).
void round_trip_raw_futex_io_uring(benchmark::State& state) {
  if (!FutexRing::supported()) {
    state.SkipWithError("io_uring without IORING_OP_FUTEX_WAIT here (kernel 6.7+ needed)");
    for (auto _ : state) {
    }
    return;
  }
  place_client();
  SharedAnonymous<FutexPair> shared;
  ForkedServer server([&] {
    FutexRing ring;
    for (std::uint32_t seen = 0;;) {
      if (!ring.wait_while(shared->ping.value, seen, std::chrono::seconds(30))) return 1;
      seen = shared->ping.value.load(std::memory_order_acquire);
      shared->pong.value.store(seen, std::memory_order_release);
      futex_wake(shared->pong.value);
      if (seen == 0xffffffffu) return 0;
    }
  });
  FutexRing ring;
  bool answered = true;
  const std::int64_t cpu_before = cpu_time_ns();
  time_each(state, state.max_iterations / 10, [&](std::int64_t i) {
    if (!answered) return;  // the remaining iterations pass at once
    const auto n = static_cast<std::uint32_t>(i + 1);
    const std::uint32_t before = shared->pong.value.load(std::memory_order_acquire);
    shared->ping.value.store(n, std::memory_order_release);
    futex_wake(shared->ping.value);
    answered = ring.wait_while(shared->pong.value, before, std::chrono::seconds(5));
  });
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  shared->ping.value.store(0xffffffffu);
  futex_wake(shared->ping.value);
  const std::int64_t server_cpu =
      server.finish(answered ? std::chrono::seconds(30) : std::chrono::seconds(2));
  if (!answered) {
    state.SkipWithError("no answer for 5 s, or the io_uring wait failed");
  } else if (server.failed()) {
    state.SkipWithError("the server failed");
  } else {
    report_cpu(state, client_cpu, server_cpu, state.iterations());
  }
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

/// The eventfd's value once it is readable (EFD_NONBLOCK: 0 if it was not).
std::uint64_t read_eventfd(int fd) {
  std::uint64_t value = 0;
  if (::read(fd, &value, sizeof value) != sizeof value) return 0;
  return value;
}

bool write_eventfd(int fd, std::uint64_t value) {
  return ::write(fd, &value, sizeof value) == sizeof value;
}

/// For a coroutine, whose failure its completion handler reports.
void write_eventfd_or_throw(int fd, std::uint64_t value) {
  if (!write_eventfd(fd, value)) throw std::runtime_error("write(2) to an eventfd failed");
}

/// An epoll instance watching `fd` for input (level-triggered, as a plain loop would).
int epoll_watching(int fd) {
  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  if (epoll < 0 || ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) std::abort();
  return epoll;
}

/// Waits in epoll_wait for `fd` (watched by `epoll`) and reads it: its value, 0 after
/// `timeout_ms` without it.
std::uint64_t wait_and_read(int epoll, int fd, int timeout_ms) {
  for (;;) {
    epoll_event event{};
    const int ready = ::epoll_wait(epoll, &event, 1, timeout_ms);
    if (ready == 0) return 0;
    if (ready < 0) continue;  // EINTR
    if (const std::uint64_t value = read_eventfd(fd)) return value;
  }
}

/// As round_trip_raw_eventfd, but each side sleeps in epoll_wait(2) on its eventfd and then
/// reads it: the shape of every epoll loop, Asio's included, without anything else of one.
void round_trip_raw_eventfd_epoll(benchmark::State& state) {
  place_client();
  const int ping = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int pong = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ForkedServer server([&] {
    const int epoll = epoll_watching(ping);
    for (;;) {
      const std::uint64_t value = wait_and_read(epoll, ping, 30'000);
      if (value == 0 || !write_eventfd(pong, 1)) return 1;
      if (value > 1) return 0;  // the stop signal
    }
  });
  const int epoll = epoll_watching(pong);
  bool answered = true;
  const std::int64_t cpu_before = cpu_time_ns();
  time_each(state, state.max_iterations / 10, [&](std::int64_t) {
    if (!answered) return;  // the remaining iterations pass at once
    answered = write_eventfd(ping, 1) && wait_and_read(epoll, pong, 5'000) != 0;
  });
  const std::int64_t client_cpu = cpu_time_ns() - cpu_before;
  if (answered) answered = write_eventfd(ping, 2) && wait_and_read(epoll, pong, 5'000) != 0;
  const std::int64_t server_cpu =
      server.finish(answered ? std::chrono::seconds(30) : std::chrono::seconds(2));
  ::close(epoll);
  ::close(ping);
  ::close(pong);
  if (!answered) {
    state.SkipWithError("no answer for 5 s");
  } else if (server.failed()) {
    state.SkipWithError("the server failed");
  } else {
    report_cpu(state, client_cpu, server_cpu, state.iterations());
  }
}

/// The Asio floor: each side's wait is an asio::io_context of its own, run by one thread, in
/// which a coroutine waits with stream_descriptor::async_wait (use_awaitable) for its eventfd
/// and then reads it: what floe's Asio row does for its reactor's fd, with nothing of floe.
void round_trip_raw_eventfd_asio(benchmark::State& state) {
  place_client();
  const int ping = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int pong = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  // Each side's descriptor owns a duplicate, so that closing it leaves the pair to this row.
  auto wait_and_read =
      [](asio::posix::stream_descriptor& descriptor) -> asio::awaitable<std::uint64_t> {
    for (;;) {
      co_await descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                     asio::use_awaitable);
      if (const std::uint64_t value = read_eventfd(descriptor.native_handle())) co_return value;
    }
  };
  ForkedServer server([&] {
    asio::io_context io;
    asio::posix::stream_descriptor requests(io, ::dup(ping));
    int status = 1;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (;;) {
            const std::uint64_t value = co_await wait_and_read(requests);
            if (!write_eventfd(pong, 1)) co_return;
            if (value > 1) {  // the stop signal
              status = 0;
              co_return;
            }
          }
        },
        [](const std::exception_ptr&) {});
    io.run();
    return status;
  });
  asio::io_context io;
  asio::posix::stream_descriptor responses(io, ::dup(pong));
  StallWatchdog watchdog([&io] { io.stop(); });
  std::string error = "no answer for 5 s";  // unless the coroutine finishes
  std::int64_t client_cpu = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const std::int64_t cpu_before = cpu_time_ns();
        for (std::int64_t i = 0; i < state.max_iterations / 10; ++i) {
          watchdog.tick();
          write_eventfd_or_throw(ping, 1);
          co_await wait_and_read(responses);
        }
        EachTiming timing(state);
        for (auto _ : state) {
          watchdog.tick();
          const auto start = EachTiming::Clock::now();
          write_eventfd_or_throw(ping, 1);
          co_await wait_and_read(responses);
          timing.record(start);
        }
        timing.report();
        client_cpu = cpu_time_ns() - cpu_before;
        write_eventfd_or_throw(ping, 2);
        co_await wait_and_read(responses);
        error.clear();
      },
      [&](const std::exception_ptr& failure) {
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
  const std::int64_t server_cpu =
      server.finish(error.empty() ? std::chrono::seconds(30) : std::chrono::seconds(2));
  ::close(ping);
  ::close(pong);
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
  } else if (server.failed()) {
    state.SkipWithError("the server failed");
  } else {
    report_cpu(state, client_cpu, server_cpu, state.iterations());
  }
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/raw cache line/polling", 200'000, round_trip_raw_cache_line);
  register_row("round_trip/raw futex/asleep", 50'000, round_trip_raw_futex);
  register_row("round_trip/raw futex+io_uring/asleep", 50'000, round_trip_raw_futex_io_uring);
  register_row("round_trip/raw eventfd/asleep", 50'000, round_trip_raw_eventfd);
  register_row("round_trip/raw eventfd+epoll/asleep", 50'000, round_trip_raw_eventfd_epoll);
  register_row("round_trip/raw eventfd+asio/asleep", 50'000, round_trip_raw_eventfd_asio);
  return true;
}();

}  // namespace
}  // namespace floe::bench
