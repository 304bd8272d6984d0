#pragma once
// A bounded queue of 64-bit entries in shared memory: one producer, and consumers that may be
// the receiver, the producer evicting its oldest entry (safe overflow) or a process cleaning up
// after a dead peer. Head and tail only grow, so a compare-and-swap on the head can never be
// fooled by a recycled value (no ABA). Every index read from shared memory is checked: a peer
// that scribbles on the queue makes it report `corrupted`, never makes us touch memory outside
// the queue.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "shm/atomics.hpp"

namespace floe::detail {

/// The consumer's cursor, with the producer's "I wait for room" flag on its line: the consumer
/// has that line anyway after taking an entry, so looking at the flag costs it nothing, and the
/// producer writes it only when it finds the queue full. `departed_until`: the entries before
/// it were pushed by a producer that has gone (written by the cleanup after it, read by the
/// consumer only when told a producer went).
struct alignas(64) HeadCursor {
  std::uint64_t value;
  std::uint32_t producer_waiting;
  std::uint32_t reserved;
  std::uint64_t departed_until;
  std::uint8_t padding[40];
};
static_assert(sizeof(HeadCursor) == 64);

/// The producer's cursor, with the first entries on its line: a consumer that sees the tail move
/// then reads the entry, and with both on one line that is one line transfer, not two (measured
/// in the commit that moved them here).
struct alignas(64) TailCursor {
  std::uint64_t value;
  std::uint64_t first_entries[7];
};

/// The part of a queue that lives in shared memory. Its `capacity` entries start right after
/// the tail (kQueueEntriesOffset), on the tail's line, and go on past the struct if need be.
struct QueueControl {
  HeadCursor head;  // next entry to consume
  TailCursor tail;  // next entry to produce
};
static_assert(sizeof(QueueControl) == 128);
static_assert(std::is_trivially_copyable_v<QueueControl>);

inline constexpr std::uint64_t kQueueEntriesOffset =
    offsetof(QueueControl, tail) + offsetof(TailCursor, first_entries);
static_assert(kQueueEntriesOffset == 72);

/// The bytes a queue of `capacity` entries takes in shared memory, control included.
inline constexpr std::uint64_t queue_bytes(std::uint64_t capacity) noexcept {
  return std::max<std::uint64_t>(sizeof(QueueControl), kQueueEntriesOffset + 8 * capacity);
}

enum class QueueStatus : std::uint8_t { ok, empty, full, corrupted };

struct QueueResult {
  QueueStatus status;
  std::uint64_t value = 0;      // the entry popped, or the entry evicted by push_overwriting
  bool evicted = false;         // push_overwriting made room by removing `value`
  bool producer_waits = false;  // after a pop: the producer said it waits for room
};

class IndexQueue {
 public:
  IndexQueue(QueueControl* control, std::uint64_t* entries, std::uint32_t capacity) noexcept
      : control_(control), entries_(entries), capacity_(capacity) {}

  /// Producer only. `full` when there is no room.
  QueueStatus push(std::uint64_t entry) noexcept {
    std::uint64_t head = load(control_->head.value);
    return push(entry, head);
  }

  /// Producer only, the same as push() but reading the consumer's head only when `known_head`
  /// (the producer's own copy of it from an earlier push) says the queue may be full. In a
  /// stream the head's cache line then stays with the consumer instead of bouncing on every
  /// entry. A copy that is stale after a reset (ahead of the tail) also makes it read the head,
  /// and a copy behind the real head only makes the queue look fuller: never overwrites.
  QueueStatus push(std::uint64_t entry, std::uint64_t& known_head) noexcept {
    const std::uint64_t tail = load(control_->tail.value, std::memory_order_relaxed);
    if (tail - known_head >= capacity_) known_head = load(control_->head.value);
    const std::uint64_t used = tail - known_head;
    if (used > capacity_) return QueueStatus::corrupted;
    if (used == capacity_) return QueueStatus::full;
    store(entries_[tail % capacity_], entry, std::memory_order_relaxed);
    store(control_->tail.value, tail + 1);
    return QueueStatus::ok;
  }

  /// Producer only. When full, removes the oldest entry to make room and hands it back.
  QueueResult push_overwriting(std::uint64_t entry) noexcept {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      const QueueStatus status = push(entry);
      if (status != QueueStatus::full) return {status};
      QueueResult evicted = pop();
      if (evicted.status == QueueStatus::corrupted) return evicted;
      if (evicted.status == QueueStatus::ok) {
        return {push(entry), evicted.value, true};
      }
    }
    return {QueueStatus::corrupted};
  }

  /// Any process. Lock-free; retries only while another consumer won the same entry.
  QueueResult pop() noexcept {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      // Tail first: the producer wrote it after seeing a head at least tail - capacity, and the
      // head only grows, so an honest queue always reads 0 <= tail - head <= capacity here...
      const std::uint64_t tail = load(control_->tail.value);
      std::uint64_t head = load(control_->head.value);
      if (head == tail) return {QueueStatus::empty};
      // ...except that other consumers may have moved the head past the tail we read.
      if (head > tail) continue;
      if (tail - head > capacity_) return {QueueStatus::corrupted};
      const std::uint64_t entry = load(entries_[head % capacity_], std::memory_order_relaxed);
      if (compare_exchange(control_->head.value, head, head + 1)) {
        // seq_cst after the seq_cst compare-and-swap, against the producer's flag store before
        // it looks at the head again (set_producer_waiting): one of the two sees the other.
        const bool waits = load(control_->head.producer_waiting, std::memory_order_seq_cst) != 0;
        return {QueueStatus::ok, entry, false, waits};
      }
    }
    // Only a peer rewriting the cursors without pause can make every attempt fail.
    return {QueueStatus::corrupted};
  }

  /// Pops what is there now, at most `capacity` entries: a peer that keeps refilling the queue
  /// cannot keep the caller here.
  template <typename Visit>
  void drain(Visit visit) noexcept {
    for (std::uint32_t n = 0; n < capacity_; ++n) {
      const QueueResult r = pop();
      if (r.status != QueueStatus::ok) return;
      visit(r.value);
    }
  }

  bool empty() const noexcept { return load(control_->head.value) == load(control_->tail.value); }
  /// Producer only: announces (or withdraws) that it waits for room. After announcing, the
  /// producer must try once more before it sleeps; a consumer that takes an entry after that
  /// try sees the flag and rings the producer.
  void set_producer_waiting(bool waiting) noexcept {
    store(control_->head.producer_waiting, waiting ? 1u : 0u, std::memory_order_seq_cst);
  }
  bool producer_waiting() const noexcept {
    return load(control_->head.producer_waiting, std::memory_order_seq_cst) != 0;
  }

  /// Cleanup after a producer that went: the entries in the queue now are its last ones.
  void mark_producer_departed() noexcept {
    store(control_->head.departed_until, load(control_->tail.value));
  }
  /// Whether the next entry is one a departed producer pushed (see mark_producer_departed). A
  /// peer's garbage can make this say so wrongly, which only changes the order of what is taken.
  bool next_is_from_departed_producer() const noexcept {
    return load(control_->head.value) < load(control_->head.departed_until);
  }

  std::uint32_t capacity() const noexcept { return capacity_; }
  /// Entries in the queue now, for tools: read off the hot path, a peer's garbage clamped to
  /// 0..capacity.
  std::uint32_t size() const noexcept {
    const std::uint64_t head = load(control_->head.value);
    const std::uint64_t tail = load(control_->tail.value);
    return tail > head ? static_cast<std::uint32_t>(std::min<std::uint64_t>(tail - head, capacity_))
                       : 0;
  }

 private:
  static constexpr int kMaxAttempts = 4096;
  QueueControl* control_;
  std::uint64_t* entries_;
  std::uint32_t capacity_;
};

}  // namespace floe::detail
