#pragma once
// The part of an event loop that knows about floe: the operations waiting, the backend they
// sleep on (io_uring or epoll), and the notifier protocol. floe::Runtime drives a Reactor with a
// loop of its own; the Asio adapter drives one from an io_context, waiting for pollable_fd() to
// become readable. floe::Runtime's is used by one thread (others may only interrupt() or wake()
// it). The Asio adapter's is `threaded`: any thread of the io_context may use it, holding
// lock() for every use, and ports take the same lock to cancel operations listed there.
//
// Doorbell announcements ("this port's owner sleeps, ring me") last only as long as an
// operation waits on that doorbell: when the last one completes or goes away, the announcement
// is withdrawn while its port still exists. So a loop whose announcements outlive a wait (the
// Asio adapter's, while the io_context runs other handlers) never writes to a port record that
// was freed or handed to another port since.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "floe/detail/operation.hpp"
#include "floe/detail/wake_sources.hpp"
#include "floe/runtime_options.hpp"

namespace floe {
class Runtime;
}

namespace floe::detail {

class Backend;

class Reactor final : private WakeSources {
 public:
  using Clock = Operation::Clock;

  /// Throws floe::Error(Errc::io_setup_failed) if no backend can be had. `threaded`: used from
  /// several threads, each holding lock().
  explicit Reactor(RuntimeBackend backend, bool threaded = false);
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;
  ~Reactor();

  /// The loop running on this thread: the reactor that operations awaited here link into, and
  /// the floe::Runtime driving it. This is the one record of it, and only a Scope sets it:
  /// floe::Runtime opens one while run() or block_on() runs and while it destroys its unfinished
  /// tasks. Scopes nest (a block_on() inside a task of another runtime on the same thread), each
  /// putting back the loop it replaced. The Asio adapter opens none: its operations are started
  /// into its reactor (Operation::start) and never look here. An operation awaited while no
  /// loop is current throws Errc::no_runtime. nullptr when none.
  static Reactor* current() noexcept;
  static Runtime* current_runtime() noexcept;
  /// Makes `reactor`, driven by `runtime`, the current loop of this thread for the scope.
  class Scope {
   public:
    Scope(Reactor& reactor, Runtime& runtime) noexcept;
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope();

   private:
    Reactor* previous_reactor_;
    Runtime* previous_runtime_;
  };

  /// The lock of a threaded reactor, held for every use of it; a lock of nothing otherwise.
  /// Recursive: completing an operation can free a port, whose going cancels its other
  /// operations on the same thread.
  std::unique_lock<std::recursive_mutex> lock() noexcept {
    return threaded_ ? std::unique_lock<std::recursive_mutex>(mutex_)
                     : std::unique_lock<std::recursive_mutex>();
  }

  bool uses_io_uring() const noexcept;
  /// Readable when a wait armed with arm() fired.
  int pollable_fd() const noexcept;
  bool idle() const noexcept { return operations_.empty(); }
  const RuntimeStats& stats() const noexcept { return stats_; }

  void link(Operation& operation, std::coroutine_handle<> awaiting);
  void unlink(Operation& operation) noexcept;
  void complete_cancelled(Operation& operation) noexcept;

  /// Polls every operation and completes those that are done; `cancel_all` completes every one
  /// as cancelled. True if any completed.
  bool poll_all(bool cancel_all, bool spinning = false, std::uint32_t pass = 0) noexcept;

  /// Going to sleep, step 1: announces on every doorbell that the loop sleeps, watches the
  /// peers, and looks once more. True if something completed meanwhile (then do not sleep; the
  /// announcements are withdrawn already).
  bool prepare_sleep();
  /// Step 2, for a loop of its own: waits in the kernel until something fires or `deadline`.
  void wait(std::optional<Clock::time_point> deadline);
  /// Step 2, for someone else's loop: submits the waits; pollable_fd() turns readable when one
  /// fires. Then take_events() without blocking.
  void arm();
  void take_events();
  /// The next poll also asks whether watched peers still run. For the safety recheck: a peer
  /// whose death no pidfd reports (another PID namespace, no /proc) is noticed then.
  void recheck_peers() noexcept { ++peer_epoch_; }
  /// Step 3: awake again, senders need not ring.
  void finish_sleep() noexcept;
  /// Whether any doorbell is announced (between steps 1 and 3).
  bool announced() const noexcept { return !announced_.empty(); }

  std::optional<Clock::time_point> next_deadline() const noexcept;
  /// Coroutines whose operations completed, for the runtime to resume.
  std::vector<std::coroutine_handle<>>& ready() noexcept { return ready_; }

  /// Makes the loop look again: from the thread it is current on, before it sleeps; from any
  /// other, by waking it.
  void interrupt() noexcept;
  /// Ends a wait in progress, or the next one, with a syscall whatever the thread:
  /// async-signal-safe.
  void wake() noexcept;
  /// Whether interrupt() was called on the loop thread since the last call.
  bool take_poke() noexcept { return std::exchange(poked_, false); }
  bool poked() const noexcept { return poked_; }

 private:
  friend class Operation;
  void announce(const DoorbellWords& words);
  void withdraw_unused(const DoorbellWords& words) noexcept;
  void process(const ProcessIdentity& peer) override;
  void complete(Operation& operation, Operation::Outcome outcome) noexcept;
  void note_events(bool peer_exited) noexcept;

  std::unique_ptr<Backend> backend_;
  IntrusiveList<Operation, &Operation::in_reactor_> operations_;
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<DoorbellWords> announced_;
  std::uint64_t peer_epoch_ = 0;
  bool poked_ = false;
  RuntimeStats stats_;
  std::recursive_mutex mutex_;
  const bool threaded_;
};

}  // namespace floe::detail
