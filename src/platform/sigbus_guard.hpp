#pragma once
// Another process can shrink a shared-memory object that this one maps (same user, ftruncate).
// Touching a page past the new end raises SIGBUS, which would kill this process for what another
// did. A guarded range survives that: floe's SIGBUS handler puts private zero pages in place of
// the whole range, so the access completes, and marks the range damaged for its owner to report
// (floe::Errc::corrupted). No cost until it happens: nothing is checked on the way to memory.
//
// The handler is installed the first time a range is guarded. A fault outside every guarded
// range goes to the handler that was installed before floe's, or kills the process as SIGBUS
// always did; a handler installed after floe's replaces the guard.

#include <atomic>
#include <cstddef>

namespace floe::detail {

struct GuardSlot;

class SigbusGuard {
 public:
  SigbusGuard() noexcept = default;
  /// Guards [begin, begin + length), a mapping the caller made and unmaps only after this guard
  /// is gone.
  SigbusGuard(void* begin, std::size_t length);
  SigbusGuard(SigbusGuard&& other) noexcept;
  SigbusGuard& operator=(SigbusGuard&& other) noexcept;
  SigbusGuard(const SigbusGuard&) = delete;
  SigbusGuard& operator=(const SigbusGuard&) = delete;
  /// Stops guarding; waits for a handler running on the range in another thread to finish.
  ~SigbusGuard();

  /// Whether a SIGBUS hit the range (it now holds private zeros, shared with nobody), or its
  /// owner found the object shrunk before touching the part cut off (mark_damaged).
  bool damaged() const noexcept;
  void mark_damaged() noexcept;
  /// The flag damaged() reads, for owners that look at it on every operation; nullptr unguarded.
  const std::atomic<bool>* damaged_flag() const noexcept;

 private:
  void release() noexcept;
  GuardSlot* slot_ = nullptr;
};

}  // namespace floe::detail
