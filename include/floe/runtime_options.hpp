#pragma once
// How a floe event loop waits: which kernel mechanism, how long it polls before sleeping, and
// the counters it keeps. Shared by floe::Runtime and the Asio adapter.

#include <chrono>
#include <cstdint>

namespace floe {

/// The kernel mechanism a loop sleeps in.
enum class RuntimeBackend : std::uint8_t {
  automatic,  ///< io_uring unless unavailable or FLOE_DISABLE_IO_URING=1, else epoll
  io_uring,   ///< throws floe::Error(Errc::io_setup_failed) if the kernel refuses io_uring
  epoll,      ///< epoll on eventfds, for kernels without io_uring
};

/// How a floe::Runtime (or the Asio adapter's service) waits.
struct RuntimeOptions {
  /// How long the loop polls its operations before it sleeps. Polling costs a core while it
  /// lasts; sleeping costs a wake-up (tens of microseconds on small VMs) when data arrives.
  /// The default was chosen by measurement (docs/BENCHMARKS.md); 0 sleeps at once. A loop
  /// whose spins keep ending empty-handed just before its data comes (its peer waits for this
  /// very core: both pinned to one CPU) sleeps at once instead, but for one wait in 16 that
  /// spins to see whether spinning pays again.
  std::chrono::nanoseconds spin_budget = std::chrono::microseconds(20);
  /// Which kernel mechanism the loop sleeps in.
  RuntimeBackend backend = RuntimeBackend::automatic;
  /// The longest the loop sleeps without looking at its operations, even if nothing woke it.
  /// Wake-ups rely on a flag in shared memory that any process of the service can write: a peer
  /// that clears it (by bug or on purpose) makes senders skip the doorbell, and without this
  /// bound a receive would sleep until its own timeout, or forever. With it, such a lost
  /// wake-up delays a message by at most this long. It costs one wake-up per interval while
  /// the loop sleeps that long, and nothing while it is busy; 1 s keeps an idle process all but
  /// asleep while bounding the damage to a latency a person notices but a protocol survives.
  /// The same recheck bounds how late the death of a peer no pidfd can watch (one in another PID
  /// namespace, or when /proc cannot be read) is noticed.
  /// 0 disables it (sleep until woken or a deadline).
  std::chrono::nanoseconds safety_recheck = std::chrono::seconds(1);
};

/// Counters of what a loop did, for benchmarks and tests.
struct RuntimeStats {
  std::uint64_t sleeps = 0;      ///< times the loop waited in the kernel
  std::uint64_t polls = 0;       ///< passes over the suspended operations
  std::uint64_t spins = 0;       ///< times the loop polled for its spin budget before sleeping
  std::uint64_t peer_exits = 0;  ///< watched processes seen exiting
};

}  // namespace floe
