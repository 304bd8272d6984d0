#pragma once
// An eventfd(2) used as a wake-up flag: signal() makes it readable, drain() reads it back to
// quiet. Non-blocking, so neither side ever waits on it; whoever waits polls it (epoll, an
// io_uring POLL_ADD).

#include "platform/file_descriptor.hpp"

namespace floe::detail {

class EventFd {
 public:
  /// Throws floe::Error(Errc::io_setup_failed) if the kernel gives no eventfd.
  EventFd();

  int get() const noexcept { return fd_.get(); }

  /// Makes the eventfd readable. Async-signal-safe, from any thread; errno is left as it was,
  /// as a signal handler must. A counter already at its maximum (EAGAIN) is readable anyway.
  void signal() const noexcept;
  /// Resets it to not readable. True if it was signalled.
  bool drain() const noexcept;

 private:
  FileDescriptor fd_;
};

}  // namespace floe::detail
