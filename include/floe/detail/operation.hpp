#pragma once
// The base of every waiting floe operation (receive, sleep). An operation that cannot complete
// at once links itself into a Reactor (the floe Runtime's, or the one the Asio adapter keeps per
// io_context); the reactor polls it whenever something may have changed (a doorbell rang, a
// peer died, a deadline passed, a stop was requested) and completes it once it is done: a
// coroutine awaiter is resumed, an Asio operation invokes its handler. Everything lives in the
// operation, which lives in the coroutine frame: suspending allocates nothing.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <stop_token>

#include "floe/detail/wake_sources.hpp"

namespace floe::detail {

class Reactor;

class Operation {
 public:
  using Clock = std::chrono::steady_clock;

  Operation() = default;
  /// Only an operation that was never awaited may be moved (with_timeout does).
  Operation(Operation&& other) noexcept
      : stop_token_(std::move(other.stop_token_)),
        deadline_(other.deadline_),
        deadline_is_timeout_(other.deadline_is_timeout_) {}
  Operation& operator=(Operation&&) = delete;
  virtual ~Operation();

  void set_deadline(Clock::time_point deadline, bool is_timeout) noexcept {
    if (!deadline_ || deadline < *deadline_) {
      deadline_ = deadline;
      deadline_is_timeout_ = is_timeout;
    }
  }
  void set_stop_token(std::stop_token token) noexcept { stop_token_ = std::move(token); }

 protected:
  struct PollContext {
    /// A watched process died since the last poll: liveness must be looked at.
    bool peers_changed = false;
    /// The loop is spinning and polls again right away; what only changes rarely (a stream
    /// ending) may be looked at every few polls, so that the loop does not keep reading cache
    /// lines a peer is about to write. Never set for the last look before sleeping.
    bool spinning = false;
    std::uint32_t pass = 0;
  };
  /// Looks whether the awaited thing is there, and keeps the outcome for await_resume. Must not
  /// throw (keep the exception instead).
  virtual bool poll(const PollContext& context) noexcept = 0;
  /// Names the doorbells and processes whose change must wake this operation.
  virtual void watch(WakeSources& sources) = 0;

  /// What the reactor does once the operation is done: by default, resume the awaiting
  /// coroutine (through the reactor's ready queue).
  virtual void on_complete() noexcept;

  /// For await_suspend: links into the reactor of this thread. Throws Errc::no_runtime.
  void suspend(std::coroutine_handle<> awaiting);
  /// Links into `reactor`, for operations that complete through on_complete() alone.
  void start(Reactor& reactor);
  /// Completes the operation at once as cancelled (it must be linked).
  void cancel() noexcept;
  bool was_cancelled() const noexcept { return outcome_ == Outcome::cancelled; }
  /// For await_ready: throws Errc::cancelled if the stop token asks for it.
  void throw_if_stop_requested() const;
  /// For await_resume: throws Errc::cancelled or Errc::timed_out if that is how it ended.
  void throw_if_interrupted() const;

 private:
  friend class Reactor;
  enum class Outcome : std::uint8_t { pending, done, cancelled, timed_out };

  struct StopRelay {
    Operation* operation;
    void operator()() const noexcept;
  };

  std::stop_token stop_token_;
  std::optional<Clock::time_point> deadline_;
  bool deadline_is_timeout_ = true;
  Outcome outcome_ = Outcome::pending;
  Reactor* reactor_ = nullptr;
  Operation* previous_ = nullptr;
  Operation* next_ = nullptr;
  std::coroutine_handle<> awaiting_;
  std::uint64_t peer_epoch_ = 0;
  std::atomic<bool> stop_requested_{false};
  std::optional<std::stop_callback<StopRelay>> stop_callback_;
};

}  // namespace floe::detail
