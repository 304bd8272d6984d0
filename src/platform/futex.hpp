#pragma once
// Futex calls on words in shared mappings: never FUTEX_PRIVATE, since the waiter and the waker
// are different processes.

#include <chrono>
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

}  // namespace floe::detail
