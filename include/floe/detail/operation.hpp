#pragma once
// The base of every waiting floe operation (receive, sleep). An operation that cannot complete
// at once links itself into a Reactor (the floe Runtime's, or the one the Asio adapter keeps per
// io_context); the reactor polls it whenever something may have changed (a doorbell rang, a
// peer died, a deadline passed, a stop was requested) and completes it once it is done: a
// coroutine awaiter is resumed, an Asio operation invokes its handler. Everything lives in the
// operation, which lives in the coroutine frame: suspending allocates nothing.
//
// An operation completes with a value or an error code (and the text of its error): nothing is
// thrown while it waits. AwaitableOperation is its coroutine face, written once for all of
// them, and the only place that throws; the Asio adapter hands error code and value to its
// handler as they are.
//
// An operation on a port (a receive, a send waiting for room) is also listed by that port, so
// that a port going away completes it as cancelled instead of leaving it to poll freed memory.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <system_error>

#include "floe/detail/failure.hpp"
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

  /// How it ended: no error when it completed with its value; Errc::cancelled, Errc::timed_out,
  /// or the failure it recorded (Errc::corrupted, ...).
  std::error_code error() const noexcept;
  /// Throws error() as floe::Error, with the text of the failure ("floe: operation cancelled"
  /// for a cancel). Only for an operation that ended with an error.
  [[noreturn]] void throw_error() const;

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
  /// Looks whether the awaited thing is there, and keeps the outcome for await_resume: its value,
  /// or a failure recorded in failure(), then returns true.
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
  /// What it waits for, for the message of a timeout or cancel ("a response").
  virtual const char* awaited() const noexcept { return "its completion"; }

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
  /// For await_ready: ends the operation at once as cancelled if the stop token asks for it.
  bool cancel_if_stop_requested() noexcept {
    if (!stop_token_.stop_requested()) return false;
    outcome_ = Outcome::cancelled;
    return true;
  }
  /// Where the cores record why the operation is over (the segment was damaged, say); poll
  /// then returns true, and error() reports it.
  Failure& failure() noexcept { return failure_; }
  /// Whether its deadline ended it (for on_interrupted(), which may then say why in failure()).
  bool timed_out() const noexcept { return outcome_ == Outcome::timed_out; }
  /// Whether it ended with an error: the check of every await_resume.
  bool failed() const noexcept { return outcome_ >= Outcome::cancelled || failure_; }

 private:
  friend class Reactor;
  friend class PortOperations;
  enum class Outcome : std::uint8_t { pending, done, cancelled, timed_out };  // errors last

  struct StopRelay {
    Operation* operation;
    void operator()() const noexcept;
  };

  std::stop_token stop_token_;
  Failure failure_;
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

/// The coroutine face of an operation, written once for all of them: `co_await op` yields its
/// value or throws its error() as floe::Error. `Derived` provides, as private members with this
/// class as a friend:
///   bool attempt() noexcept   looks once, as await_ready: true when done (value kept, or a
///                             failure recorded), false to wait; poll() usually calls it too;
///   Value take_value()        the value of an operation that ended without error.
template <typename Derived, typename Value>
class AwaitableOperation : public Operation {
 public:
  using value_type = Value;

  /// True when it completed at once (or was cancelled before it began): no suspension.
  bool await_ready() noexcept {
    return cancel_if_stop_requested() || static_cast<Derived&>(*this).attempt();
  }
  /// Waits in the reactor of this thread. Throws floe::Error(no_runtime) outside one.
  void await_suspend(std::coroutine_handle<> awaiting) { suspend(awaiting); }
  /// The value, or throws floe::Error(cancelled / timed_out / what the operation recorded).
  Value await_resume() {
    if (failed()) [[unlikely]]
      throw_error();
    return static_cast<Derived&>(*this).take_value();
  }
  /// The value, for a completion that does not throw (the Asio adapter): only when error() is
  /// empty.
  Value value() { return static_cast<Derived&>(*this).take_value(); }

 protected:
  AwaitableOperation() = default;
  AwaitableOperation(AwaitableOperation&&) noexcept = default;
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
