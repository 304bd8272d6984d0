#include "platform/futex.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <ctime>

namespace floe::detail {
namespace {
std::atomic<std::uint64_t> wakes_made{0};
}

std::uint64_t futex_wakes_made() noexcept {
  return wakes_made.load(std::memory_order_relaxed);
}

int futex_wake_all(std::uint32_t* word) noexcept {
  wakes_made.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0));
}

void futex_wait(std::uint32_t* word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept {
  timespec relative{};
  relative.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
  relative.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
  ::syscall(SYS_futex, word, FUTEX_WAIT, expected, &relative, nullptr, 0);
}

void futex_wake_one_private(std::uint32_t* word) noexcept {
  ::syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

long futex_wait_any(const futex_waitv* waits, std::size_t count) noexcept {
  const long woken = ::syscall(SYS_futex_waitv, waits, static_cast<unsigned>(count), 0, nullptr, 0);
  return woken >= 0 ? woken : -errno;
}

}  // namespace floe::detail
