#pragma once
// How the runtime sleeps: io_uring where the kernel allows it, epoll otherwise. Both wait for the
// same three things: a doorbell futex word to move on, a watched process to exit, and an
// interrupt from another thread; and both give up at a deadline. What to wait for is kept here,
// in one set of doorbells and one of processes; each backend arms them its own way.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "floe/detail/wake_sources.hpp"
#include "floe/error.hpp"
#include "runtime/doorbell_watches.hpp"
#include "runtime/process_watches.hpp"

namespace floe::detail {

class Backend {
 public:
  using Clock = std::chrono::steady_clock;

  struct Events {
    bool peer_exited = false;
  };

  Backend() {
    // Room for the usual few ports and peers, so that sleeping allocates nothing.
    doorbells_.reserve(8);
    processes_.reserve(16);
  }
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  virtual ~Backend() = default;

  virtual bool is_io_uring() const noexcept = 0;
  /// Starts a pass in which the runtime names everything it wants to be woken by; what is not
  /// named again is no longer waited for.
  void begin_watch() noexcept {
    doorbells_.begin_pass();
    processes_.begin_pass();
  }
  /// Wake up once `*word` no longer holds `expected`.
  void watch_futex(std::uint32_t* word, std::uint32_t expected) {
    doorbells_.watch(word, expected);
  }
  /// Wake up when `process` exits. False if it is gone already.
  virtual bool watch_process(const ProcessIdentity& process) = 0;
  /// Sleeps until something watched fires, interrupt() is called or `deadline` passes. This,
  /// submit() and take_events() throw floe::Error(Errc::io_setup_failed), naming the call, for
  /// a failure no retry mends.
  virtual Events wait(std::optional<Clock::time_point> deadline) = 0;
  /// For a loop that is not ours (Asio): submits what wait() would wait for, without waiting;
  /// pollable_fd() turns readable once something fires, and take_events() collects it.
  virtual void submit() = 0;
  virtual Events take_events() = 0;
  virtual int pollable_fd() const noexcept = 0;
  /// Ends a wait in progress, or the next one. Safe from any thread.
  virtual void interrupt() noexcept = 0;

 protected:
  DoorbellWatches doorbells_;
  ProcessWatches processes_;
};

/// nullptr when the kernel refuses io_uring (sysctl kernel.io_uring_disabled, seccomp) or lacks
/// IORING_OP_FUTEX_WAIT.
std::unique_ptr<Backend> make_io_uring_backend();
/// Throws floe::Error(Errc::io_setup_failed) if epoll or eventfd cannot be had.
std::unique_ptr<Backend> make_epoll_backend();

/// A kernel call of a backend failed for good: floe::Error(Errc::io_setup_failed) naming it.
[[noreturn]] inline void fail_call(const char* call, int error) {
  throw Error(Errc::io_setup_failed, std::string("floe: ") + call + ": " + std::strerror(error));
}

/// The time left until `deadline`, never negative, as the kernel's timespec type `Timespec`.
template <typename Timespec>
Timespec timespec_until(Backend::Clock::time_point deadline) noexcept {
  const auto left =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Backend::Clock::now());
  const std::int64_t ns = left.count() > 0 ? left.count() : 0;
  Timespec t{};
  t.tv_sec = ns / 1'000'000'000;
  t.tv_nsec = ns % 1'000'000'000;
  return t;
}

}  // namespace floe::detail
