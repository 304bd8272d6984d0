#pragma once
// The data segments one slice-writing port (a client's requests, a server's responses) grew:
// where its loans longer than the service segment holds inline go.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "floe/slice.hpp"
#include "registry/data_segments.hpp"

namespace floe::detail {

class ServiceSegment;

class DataPool {
 public:
  /// Whether the chunk of a slot is free again, so no reader holds what was written in it.
  using SlotIsFree = std::function<bool(std::uint64_t slot)>;

  /// A pool of no segments yet for the port (`kind`, `writer_slot`, `writer_generation`).
  DataPool(const ServiceSegment& segment, DataSegmentKind kind, std::uint32_t writer_slot,
           std::uint32_t writer_generation, AllocationStrategy strategy, SlotIsFree slot_is_free);
  DataPool(const DataPool&) = delete;
  DataPool& operator=(const DataPool&) = delete;
  /// Unmaps every segment and unlinks those no chunk still queued or held refers to; receivers
  /// keep what they mapped until they let it go.
  ~DataPool();

  /// Where the elements of a loan of `length` elements in slot `slot` go: the newest segment's
  /// slot, after growing one whose max holds `length` (the strategy's size) if the newest does
  /// not. `number` gets the segment's number. Throws Errc::exceeds_max_slice_len when the port
  /// grew 255 times or holds 8 segments still read, Errc::out_of_memory when /dev/shm is full.
  std::byte* place(std::uint64_t slot, std::uint64_t length, std::uint32_t& number);
  /// Grows now, unless the newest segment holds `length` already: a port created with an initial
  /// max above the service's has room for it before its first loan. Throws as place().
  void reserve(std::uint64_t length);
  /// A loan in slot `slot` that went inline (into the service segment): the slot no longer
  /// refers to a data segment (one relaxed store). While the port holds old segments it is
  /// counted too: every kSweepEvery-th loan of either kind sweeps, so a port that went back to
  /// short slices still frees the segments its long ones drained. Without old segments it
  /// reads one atomic and returns.
  void note_inline_loan(std::uint64_t slot) noexcept;
  /// Frees the old segments no chunk refers to any more (cold: a pass over the slots).
  void sweep() noexcept;

 private:
  void sweep_locked() noexcept;
  /// Counts a loan, sweeping every kSweepEvery-th while there are old segments.
  void count_loan_locked() noexcept;
  /// A new segment whose max holds `length`, as the newest.
  void grow_locked(std::uint64_t length);
  [[noreturn]] void refuse_growth(std::uint64_t length, const std::string& why) const;

  const ServiceSegment& segment_;
  DataSegmentKind kind_;
  std::uint32_t writer_slot_;
  std::uint32_t writer_generation_;
  AllocationStrategy strategy_;
  SlotIsFree slot_is_free_;
  mutable std::mutex mutex_;                               // server ports loan from several threads
  std::vector<std::unique_ptr<WrittenDataSegment>> live_;  // oldest first, newest last
  // The data segment each slot's elements are in (0: inline, or nothing): written by place()
  // under the mutex and cleared by note_inline_loan() without it (a server loans from several
  // threads), so atomic; a sweep racing a clear only keeps a segment one sweep longer.
  std::vector<std::atomic<std::uint8_t>> number_of_slot_;
  std::uint32_t next_number_ = 1;
  std::uint32_t loans_since_sweep_ = 0;
  // live_.size() > 1, read without the mutex by note_inline_loan (the inline loans' hot path).
  std::atomic<bool> has_old_segments_{false};
};

/// A new growing port's reservation of its builder's initial max `initial` when that is above
/// `inline_max`, what it writes inline. If that throws, `release` drops the pool and gives the
/// port's slot back (the port's destructor, which would, does not run for a constructor that
/// throws).
template <typename Release>
void reserve_or_release(DataPool& pool, std::uint64_t initial, std::uint64_t inline_max,
                        Release release) {
  if (initial <= inline_max) return;
  try {
    pool.reserve(initial);
  } catch (...) {
    release();
    throw;
  }
}

}  // namespace floe::detail
