#pragma once
// The base of every waiting floe operation (receive, sleep). An operation that cannot complete
// at once links itself into a Reactor (the floe Runtime's, or the one the Asio adapter keeps per
// io_context); the reactor polls it whenever something may have changed (a doorbell rang, a
// peer died, a deadline passed, a stop was requested) and completes it once it is done: a
// coroutine awaiter is resumed, an Asio operation invokes its handler. Everything lives in the
// operation, which lives in the coroutine frame: suspending allocates nothing.
//
// An operation on a port (a receive, a send waiting for room) is also listed by that port, so
// that a port going away completes it as cancelled instead of leaving it to poll freed memory.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <stop_token>

#include "floe/detail/intrusive_list.hpp"
#include "floe/detail/wake_sources.hpp"

namespace floe::detail {

class Reactor;
class PortOperations;

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
  /// The doorbell whose ringing may complete this operation (none: waits for time alone).
  virtual DoorbellWords doorbell() const noexcept { return {}; }
  /// Names the processes whose death must wake this operation.
  virtual void watch_processes(WakeSources&) const {}

  /// What the reactor does once the operation is done: by default, resume the awaiting
  /// coroutine (through the reactor's ready queue).
  virtual void on_complete() noexcept;
  /// Called first when it completes as cancelled or timed out, while its port still exists:
  /// the place to give back what the operation holds.
  virtual void on_interrupted() noexcept {}

  /// The port's list this operation belongs in while it waits (none: it waits on no port).
  virtual PortOperations* port_operations() const noexcept { return nullptr; }

  /// For await_suspend: links into the reactor of this thread and into its port's list.
  /// Throws Errc::no_runtime.
  void suspend(std::coroutine_handle<> awaiting);
  /// Links into `reactor`, for operations that complete through on_complete() alone.
  void start(Reactor& reactor);
  /// Completes the operation at once as cancelled (it must be linked).
  void cancel() noexcept;
  /// Leaves its reactor and port without completing: nothing is resumed or invoked, and
  /// nothing can complete it any more (for an operation about to be destroyed unfinished).
  void abandon() noexcept;
  bool was_cancelled() const noexcept { return outcome_ == Outcome::cancelled; }
  /// For await_ready: throws Errc::cancelled if the stop token asks for it.
  void throw_if_stop_requested() const;
  /// For await_resume: throws Errc::cancelled or Errc::timed_out if that is how it ended, or
  /// what fail() kept.
  void throw_if_interrupted() const;
  /// For poll: the operation is over with this error (the segment was damaged, say); poll
  /// then returns true, and await_resume throws it.
  void fail(std::exception_ptr error) noexcept { failure_ = std::move(error); }

 private:
  friend class Reactor;
  friend class PortOperations;
  enum class Outcome : std::uint8_t { pending, done, cancelled, timed_out };

  struct StopRelay {
    Operation* operation;
    void operator()() const noexcept;
  };

  std::stop_token stop_token_;
  std::exception_ptr failure_;
  std::optional<Clock::time_point> deadline_;
  bool deadline_is_timeout_ = true;
  Outcome outcome_ = Outcome::pending;
  Reactor* reactor_ = nullptr;
  PortOperations* port_ = nullptr;
  ListHook<Operation> in_reactor_;
  ListHook<Operation> on_port_;
  std::coroutine_handle<> awaiting_;
  std::uint64_t peer_epoch_ = 0;
  DoorbellWords
      announced_doorbell_;  // what the reactor announced for it: known even while destroyed
  std::atomic<bool> stop_requested_{false};
  std::optional<std::stop_callback<StopRelay>> stop_callback_;
};

/// The operations pending on one port (or on one stream of a port). The port's handle calls
/// cancel_all() when it goes away, before anything they would look at is freed.
class PortOperations {
 public:
  PortOperations() = default;
  PortOperations(const PortOperations&) = delete;
  PortOperations& operator=(const PortOperations&) = delete;
  ~PortOperations() { cancel_all(); }

  /// Whether no operation waits; safe to ask while another thread polls them.
  bool empty() const noexcept { return reactor_.load(std::memory_order_acquire) == nullptr; }
  /// Completes every operation as cancelled (Errc::cancelled, asio::error::operation_aborted).
  void cancel_all() noexcept;

 private:
  friend class Operation;
  friend class Reactor;
  IntrusiveList<Operation, &Operation::on_port_> list_;
  /// The reactor the listed operations wait in, nullptr while none waits: whose lock guards
  /// the list.
  std::atomic<Reactor*> reactor_{nullptr};
};

}  // namespace floe::detail
