#pragma once
// Every futex call of floe. The doorbell words live in shared mappings: their calls are never
// FUTEX_PRIVATE, since the waiter and the waker are different processes. A word of this process
// alone (a helper thread's control word) uses the private calls.

#include <linux/futex.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace floe::detail {

/// Wakes every thread or io_uring request waiting on `word`. Returns how many were woken.
int futex_wake_all(std::uint32_t* word) noexcept;

/// Sleeps while `*word == expected`, at most `timeout`; returns early on a wake-up, a signal or
/// when the word moved on already.
void futex_wait(std::uint32_t* word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;

/// How many wake-up syscalls this process has made, for tests that show a send to an awake
/// receiver makes none.
std::uint64_t futex_wakes_made() noexcept;

/// Wakes one thread of this process waiting on `word`.
void futex_wake_one_private(std::uint32_t* word) noexcept;

/// One word for futex_wait_any: wait while `*word == expected`. `shared` for a word in a
/// shared mapping.
inline futex_waitv futex_wait_entry(const std::uint32_t* word, std::uint32_t expected,
                                    bool shared) noexcept {
  return futex_waitv{expected, reinterpret_cast<std::uintptr_t>(word),
                     FUTEX_32 | (shared ? 0u : FUTEX_PRIVATE_FLAG), 0};
}
/// The most words one futex_wait_any takes.
inline constexpr std::size_t kFutexWaitAnyMax = FUTEX_WAITV_MAX;

/// futex_waitv(2) without a timeout: sleeps until one of the `count` words is woken. Returns
/// the index of the word woken, or -errno: EAGAIN when a word no longer held its value at the
/// call, EINTR on a signal, EFAULT when a word is not mapped (any more).
long futex_wait_any(const futex_waitv* waits, std::size_t count) noexcept;

}  // namespace floe::detail
