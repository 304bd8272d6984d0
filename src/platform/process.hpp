#pragma once
// Who a process is, in a way that survives PID reuse, and whether it still runs.

#include <sys/types.h>

#include <cstdint>

namespace floe::detail {

/// A PID alone can be reused after the process died; the PID with the process's start time
/// (in clock ticks since boot) names one process for the life of the system.
struct ProcessIdentity {
  std::uint64_t pid = 0;
  std::uint64_t start_time = 0;
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

ProcessIdentity current_process();

/// False once the process is gone, or its PID now belongs to another process.
bool is_alive(const ProcessIdentity& process) noexcept;

}  // namespace floe::detail
