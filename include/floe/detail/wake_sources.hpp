#pragma once
// What a waiting operation can be woken by: a port's doorbell in shared memory, or the death of
// a peer process.

#include <cstdint>

namespace floe::detail {

/// A port's notifier words in shared memory (see src/shm/doorbell.hpp).
struct DoorbellWords {
  std::uint32_t* waiting = nullptr;
  std::uint32_t* doorbell = nullptr;
};

/// A PID alone can be reused after the process died; the PID with the process's start time
/// (in clock ticks since boot) names one process for the life of the system.
struct ProcessIdentity {
  std::uint64_t pid = 0;
  std::uint64_t start_time = 0;
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

/// The processes an operation waits on besides its doorbell, deadline and stop token.
class WakeSources {
 public:
  virtual void process(const ProcessIdentity& peer) = 0;

 protected:
  ~WakeSources() = default;
};

}  // namespace floe::detail
