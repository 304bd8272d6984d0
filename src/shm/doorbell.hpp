#pragma once
// The notifier's shared-memory half. Each port has a `waiting` flag and a `doorbell` futex word.
// A receiver about to sleep reads the doorbell, sets `waiting`, looks at its queues once more and
// then waits on the futex for the doorbell to move on. A sender, after publishing, rings: only
// if `waiting` is set does it bump the doorbell and wake the futex, so while the receiver is
// awake nothing but one load is added to a send. The two sides order "publish, then look at the
// flag" against "set the flag, then look at the queues" with a full fence each (Dekker), so
// either the sender sees the flag or the receiver sees the data; a wake-up is never lost.

#include <atomic>
#include <cstdint>

#include "floe/detail/wake_sources.hpp"
#include "platform/futex.hpp"
#include "shm/atomics.hpp"

// ThreadSanitizer does not model fences; under it the same ordering comes from read-modify-write
// operations on the waiting word (all RMWs of one word are totally ordered and each reads the
// latest value, so the later of "sender's RMW" and "receiver's exchange" sees the earlier).
// Normal builds keep the fences: an RMW by every sender would pull the receiver's port record
// into the sender's cache on every message.
#if defined(__SANITIZE_THREAD__)
#define FLOE_DOORBELL_RMW 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FLOE_DOORBELL_RMW 1
#endif
#endif

namespace floe::detail {

/// Sender side: call after the data is published. Makes a syscall only for a sleeping receiver,
/// and only the first sender after the receiver went to sleep makes it.
inline void ring(const DoorbellWords& words) noexcept {
#ifdef FLOE_DOORBELL_RMW
  if (std::atomic_ref<std::uint32_t>(*words.waiting).fetch_add(0, std::memory_order_seq_cst) == 0) {
    return;
  }
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (load(*words.waiting, std::memory_order_relaxed) == 0) return;
#endif
  if (std::atomic_ref<std::uint32_t>(*words.waiting).exchange(0, std::memory_order_acq_rel) == 0) {
    return;
  }
  fetch_add(*words.doorbell, 1u);
  futex_wake_all(words.doorbell);
}

/// Receiver side, step one of going to sleep: returns the doorbell value to wait on. The caller
/// must look at its queues after this and sleep only if they are still empty.
inline std::uint32_t announce_sleep(const DoorbellWords& words) noexcept {
  const std::uint32_t seen = load(*words.doorbell);
#ifdef FLOE_DOORBELL_RMW
  std::atomic_ref<std::uint32_t>(*words.waiting).exchange(1u, std::memory_order_seq_cst);
#else
  store(*words.waiting, 1u, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  return seen;
}

/// Receiver side: no longer asleep, so senders need not ring.
inline void withdraw_sleep(const DoorbellWords& words) noexcept {
  if (load(*words.waiting, std::memory_order_relaxed) != 0) {
    store(*words.waiting, 0u, std::memory_order_relaxed);
  }
}

}  // namespace floe::detail
