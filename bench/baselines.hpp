#pragma once
// The raw baselines floe is compared with, each a ping-pong between this process and a forked
// peer pinned to cpu 1: a cache line both poll, a futex pair both sleep on, an eventfd pair.

#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <vector>

#include "harness.hpp"

namespace floe::bench {

struct alignas(64) CacheLine {
  std::atomic<std::uint64_t> value{0};
};

struct PingPong {
  CacheLine ping;
  CacheLine pong;
};

inline constexpr std::uint64_t kStop = ~std::uint64_t{0};

inline std::vector<std::int64_t> raw_cache_line(std::size_t warmup, std::size_t count) {
  SharedAnonymous<PingPong> shared;
  Peer peer(1, [&] {
    for (std::uint64_t expected = 1;; ++expected) {
      std::uint64_t seen;
      while ((seen = shared->ping.value.load(std::memory_order_acquire)) < expected) {
      }
      if (seen == kStop) return 0;
      shared->pong.value.store(seen, std::memory_order_release);
    }
  });
  auto samples = measure(warmup, count, [&](std::size_t i) {
    const std::uint64_t n = i + 1;
    shared->ping.value.store(n, std::memory_order_release);
    while (shared->pong.value.load(std::memory_order_acquire) != n) {
    }
  });
  shared->ping.value.store(kStop);
  return samples;
}

struct alignas(64) FutexWord {
  std::atomic<std::uint32_t> value{0};
};
struct FutexPair {
  FutexWord ping;
  FutexWord pong;
};

inline void futex_wait_while(std::atomic<std::uint32_t>& word, std::uint32_t old) {
  while (word.load(std::memory_order_acquire) == old) {
    ::syscall(SYS_futex, &word, FUTEX_WAIT, old, nullptr, nullptr, 0);
  }
}
inline void futex_wake(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, &word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

/// Each side sleeps in FUTEX_WAIT until the other stores and wakes it (shared, not private,
/// futexes: as between two processes mapping the same object).
inline std::vector<std::int64_t> raw_futex(std::size_t warmup, std::size_t count) {
  SharedAnonymous<FutexPair> shared;
  Peer peer(1, [&] {
    for (std::uint32_t seen = 0;;) {
      futex_wait_while(shared->ping.value, seen);
      seen = shared->ping.value.load(std::memory_order_acquire);
      shared->pong.value.store(seen, std::memory_order_release);
      futex_wake(shared->pong.value);
      if (seen == 0xffffffffu) return 0;
    }
  });
  auto samples = measure(warmup, count, [&](std::size_t i) {
    const auto n = static_cast<std::uint32_t>(i + 1);
    const std::uint32_t before = shared->pong.value.load(std::memory_order_acquire);
    shared->ping.value.store(n, std::memory_order_release);
    futex_wake(shared->ping.value);
    futex_wait_while(shared->pong.value, before);
  });
  shared->ping.value.store(0xffffffffu);
  futex_wake(shared->ping.value);
  return samples;
}

/// Each side blocks in read(2) on its eventfd until the other writes it.
inline std::vector<std::int64_t> raw_eventfd(std::size_t warmup, std::size_t count) {
  const int ping = ::eventfd(0, EFD_CLOEXEC);
  const int pong = ::eventfd(0, EFD_CLOEXEC);
  Peer peer(1, [&] {
    for (;;) {
      std::uint64_t value = 0;
      if (::read(ping, &value, sizeof value) != sizeof value) return 1;
      const std::uint64_t one = 1;
      if (::write(pong, &one, sizeof one) != sizeof one) return 1;
      if (value > 1) return 0;  // the stop signal
    }
  });
  auto samples = measure(warmup, count, [&](std::size_t) {
    std::uint64_t value = 1;
    if (::write(ping, &value, sizeof value) != sizeof value) std::abort();
    if (::read(pong, &value, sizeof value) != sizeof value) std::abort();
  });
  const std::uint64_t stop = 2;
  if (::write(ping, &stop, sizeof stop) != sizeof stop) std::abort();
  return samples;
}

/// As raw_eventfd, but each side waits in epoll_wait(2) for its eventfd before reading it: what
/// an event loop such as Asio's does for every fd.
inline std::vector<std::int64_t> raw_eventfd_epoll(std::size_t warmup, std::size_t count) {
  const int ping = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int pong = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto wait_and_read = [](int epoll, int fd) {
    epoll_event event{};
    while (::epoll_wait(epoll, &event, 1, -1) != 1) {
    }
    std::uint64_t value = 0;
    if (::read(fd, &value, sizeof value) != sizeof value) std::abort();
    return value;
  };
  auto watch = [](int fd) {
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
    return epoll;
  };
  Peer peer(1, [&] {
    const int epoll = watch(ping);
    for (;;) {
      const std::uint64_t value = wait_and_read(epoll, ping);
      const std::uint64_t one = 1;
      if (::write(pong, &one, sizeof one) != sizeof one) return 1;
      if (value > 1) return 0;  // the stop signal
    }
  });
  const int epoll = watch(pong);
  auto samples = measure(warmup, count, [&](std::size_t) {
    const std::uint64_t one = 1;
    if (::write(ping, &one, sizeof one) != sizeof one) std::abort();
    wait_and_read(epoll, pong);
  });
  const std::uint64_t stop = 2;
  if (::write(ping, &stop, sizeof stop) != sizeof stop) std::abort();
  return samples;
}

}  // namespace floe::bench
