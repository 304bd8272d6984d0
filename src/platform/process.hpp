#pragma once
// Who a process is, in a way that survives PID reuse, and whether it still runs.

#include <sys/types.h>

#include <cstdint>

#include "floe/detail/wake_sources.hpp"
#include "platform/file_descriptor.hpp"

namespace floe::detail {

ProcessIdentity current_process();

/// A pidfd for the process, readable once it has exited; empty when it is gone already (or its
/// PID was reused, which the start time reveals once the pidfd pins the PID).
FileDescriptor open_process_handle(const ProcessIdentity& process) noexcept;

}  // namespace floe::detail
