#include <signal.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "floe/error.hpp"
#include "platform/cpu_relax.hpp"
#include "runtime/runtime_core.hpp"

namespace floe {
namespace detail {
namespace {

SpawnedTask drive(Task<void> task) {
  co_await std::move(task);
}

}  // namespace

void SpawnedTask::promise_type::Finish::await_suspend(
    std::coroutine_handle<promise_type> self) const noexcept {
  self.promise().runtime->task_finished(self.promise());
}

void SpawnedTask::promise_type::unhandled_exception() const noexcept {
  // A task that lets the cancellation of a stop() escape has simply been stopped: that is how
  // stop() ends tasks, not a failure for run() to rethrow.
  try {
    throw;
  } catch (const Error& e) {
    if (e.code() == Errc::cancelled && runtime->stop_requested()) return;
  } catch (...) {
  }
  runtime->task_failed(std::current_exception());
}

RuntimeCore::RuntimeCore(Runtime& owner, const RuntimeOptions& options)
    : owner_(owner),
      spin_budget_(options.spin_budget),
      safety_recheck_(options.safety_recheck),
      reactor_(options.backend) {
  running_.reserve(64);
}

RuntimeCore::~RuntimeCore() {
  if (stops_on_signals_) stop_on_no_signals();
  // Unfinished tasks are destroyed, with this runtime current as while they ran; the operations
  // they wait in unlink themselves.
  Reactor::Scope scope(reactor_, owner_);
  while (SpawnedTask::promise_type* task = tasks_.front()) {
    tasks_.remove(*task);
    std::coroutine_handle<SpawnedTask::promise_type>::from_promise(*task).destroy();
  }
}

void RuntimeCore::spawn(Task<void> task) {
  SpawnedTask spawned = drive(std::move(task));
  SpawnedTask::promise_type& promise = spawned.handle.promise();
  promise.runtime = this;
  tasks_.push_front(promise);
  reactor_.ready().push_back(spawned.handle);
}

void RuntimeCore::task_finished(SpawnedTask::promise_type& task) noexcept {
  tasks_.remove(task);
  std::coroutine_handle<SpawnedTask::promise_type>::from_promise(task).destroy();
}

void RuntimeCore::task_failed(std::exception_ptr error) noexcept {
  if (!failure_) failure_ = std::move(error);
  request_stop();
}

void RuntimeCore::request_stop() noexcept {
  // Async-signal-safe: a lock-free atomic and a write(2). Always the eventfd, never the
  // loop-thread shortcut: a signal handler runs on the loop thread while it is in the kernel,
  // and a flag alone would not end that wait.
  stop_requested_.store(true, std::memory_order_release);
  reactor_.wake();
}

namespace {

// Runtimes that stop on signals, for the handler to find. A fixed table of atomics: the
// handler may only read lock-free atomics.
struct SignalTarget {
  std::atomic<RuntimeCore*> runtime{nullptr};
  std::atomic<std::uint64_t> signals{0};  // signal_bit() of each
};
constexpr std::size_t kMaxSignalTargets = 16;
std::array<SignalTarget, kMaxSignalTargets> signal_targets;
// Signals are numbered 1 to 64 (SIGRTMAX): bit signal - 1.
constexpr std::uint64_t signal_bit(int signal) noexcept {
  return std::uint64_t{1} << (signal - 1);
}
std::array<struct sigaction, 65> previous_actions;
std::array<bool, 65> handler_installed{};

void stop_targets(int signal) noexcept {
  const std::uint64_t bit = signal_bit(signal);
  for (SignalTarget& target : signal_targets) {
    if ((target.signals.load(std::memory_order_acquire) & bit) == 0) continue;
    if (RuntimeCore* runtime = target.runtime.load(std::memory_order_acquire)) {
      runtime->request_stop();
    }
  }
}

}  // namespace

void RuntimeCore::stop_on(std::initializer_list<int> signals) {
  std::uint64_t wanted = 0;
  for (int signal : signals) {
    if (signal <= 0 || signal >= 65 || signal == SIGKILL || signal == SIGSTOP) {
      throw Error(Errc::invalid_config,
                  "floe: Runtime::stop_on: signal " + std::to_string(signal) + " cannot be caught");
    }
    wanted |= signal_bit(signal);
  }
  SignalTarget* slot = nullptr;
  for (SignalTarget& target : signal_targets) {
    RuntimeCore* expected = nullptr;
    if (target.runtime.load() == this || target.runtime.compare_exchange_strong(expected, this)) {
      slot = &target;
      break;
    }
  }
  if (slot == nullptr) {
    throw Error(Errc::io_setup_failed,
                "floe: Runtime::stop_on: at most 16 runtimes stop on signals at once; call it "
                "on fewer runtimes (one can stop the others)");
  }
  slot->signals.fetch_or(wanted, std::memory_order_acq_rel);
  for (int signal : signals) {
    if (handler_installed[signal]) continue;
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = stop_targets;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (::sigaction(signal, &action, &previous_actions[signal]) != 0) {
      throw Error(Errc::invalid_config, "floe: Runtime::stop_on: cannot handle signal " +
                                            std::to_string(signal) + ": " + std::strerror(errno));
    }
    handler_installed[signal] = true;
  }
  stops_on_signals_ = true;
}

void RuntimeCore::stop_on_no_signals() noexcept {
  std::uint64_t released = 0;
  for (SignalTarget& target : signal_targets) {
    if (target.runtime.load(std::memory_order_acquire) != this) continue;
    released = target.signals.exchange(0, std::memory_order_acq_rel);
    target.runtime.store(nullptr, std::memory_order_release);
  }
  std::uint64_t still_wanted = 0;
  for (SignalTarget& target : signal_targets)
    still_wanted |= target.signals.load(std::memory_order_acquire);
  for (int signal = 1; signal < 65; ++signal) {
    const std::uint64_t bit = signal_bit(signal);
    if ((released & bit) == 0 || (still_wanted & bit) != 0 || !handler_installed[signal]) continue;
    ::sigaction(signal, &previous_actions[signal], nullptr);
    handler_installed[signal] = false;
  }
}

void RuntimeCore::run_ready() {
  std::vector<std::coroutine_handle<>>& ready = reactor_.ready();
  while (!ready.empty()) {
    running_.swap(ready);
    for (std::coroutine_handle<> handle : running_)
      handle.resume();
    running_.clear();
  }
}

void RuntimeCore::spin() {
  const auto until = Operation::Clock::now() + spin_budget_;
  // One pause per pass: every one between the data arriving and the next look is latency.
  // The clock (vDSO, ~16 ns here) is read every 32 passes only.
  for (;;) {
    for (std::uint32_t pass = 1; pass <= 32; ++pass) {
      cpu_relax();  // without it, no faster here, and a spinning core is kinder to its sibling
      if (reactor_.poll_all(false, true, pass) || reactor_.poked()) return;
    }
    if (Operation::Clock::now() >= until) return;
  }
}

std::optional<std::chrono::nanoseconds> RuntimeCore::sleep() {
  if (reactor_.prepare_sleep()) return std::nullopt;
  // Awake again however the wait ends, a backend failure included: an announcement left behind
  // would be withdrawn later, from a port record that may be gone by then.
  struct FinishSleep {
    Reactor& reactor;
    ~FinishSleep() { reactor.finish_sleep(); }
  } finish{reactor_};
  if (reactor_.poked() || stopping()) return std::nullopt;
  std::optional<Operation::Clock::time_point> deadline = reactor_.next_deadline();
  // A peer may have cleared a `waiting` flag so that nothing rings: whatever happens, look
  // again after safety_recheck_. The loop then polls everything and goes back to sleep.
  std::optional<Operation::Clock::time_point> recheck;
  if (safety_recheck_.count() > 0) {
    recheck = Operation::Clock::now() + safety_recheck_;
    if (!deadline || *recheck < *deadline) deadline = recheck;
  }
  const auto asleep_since = Operation::Clock::now();
  reactor_.wait(deadline);
  const auto awake = Operation::Clock::now();
  if (recheck && awake >= *recheck) reactor_.recheck_peers();
  return awake - asleep_since;
}

void RuntimeCore::run_until(const bool* done) {
  Reactor::Scope scope(reactor_, owner_);

  for (;;) {
    run_ready();
    if (done != nullptr ? *done : tasks_.empty()) break;
    reactor_.take_poke();
    if (reactor_.poll_all(stopping())) continue;
    if (stopping()) {
      // Every operation was cancelled by the poll above; tasks that still wait, wait for
      // something floe cannot cancel.
      break;
    }
    // Whether spinning pays is learnt from how the spins end (spin_policy.hpp).
    bool spun = false;
    if (!reactor_.idle() && spin_budget_.count() > 0 && spin_policy_.should_spin()) {
      ++spins_;
      spin();
      if (!reactor_.ready().empty() || reactor_.poked()) {
        spin_policy_.spin_paid();
        continue;
      }
      spun = true;
    }
    const std::optional<std::chrono::nanoseconds> asleep = sleep();
    if (spun && asleep) spin_policy_.slept_after_spin(*asleep);
    if (spun && !asleep) spin_policy_.spin_paid();
  }
  stop_requested_.store(false, std::memory_order_release);
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

}  // namespace detail

Runtime::Runtime() : Runtime(RuntimeOptions{}) {}

Runtime::Runtime(const RuntimeOptions& options)
    : core_(std::make_unique<detail::RuntimeCore>(*this, options)) {}

Runtime::~Runtime() = default;

void Runtime::spawn(Task<void> task) {
  core_->spawn(std::move(task));
}

void Runtime::run() {
  core_->run_until(nullptr);
}

void Runtime::run_until(const bool* done) {
  core_->run_until(done);
}

void Runtime::stop() noexcept {
  core_->request_stop();
}

void Runtime::stop_on(std::initializer_list<int> signals) {
  core_->stop_on(signals);
}

Runtime* Runtime::current() noexcept {
  return detail::Reactor::current_runtime();
}

bool Runtime::uses_io_uring() const noexcept {
  return core_->uses_io_uring();
}

RuntimeStats Runtime::stats() const noexcept {
  return core_->stats();
}

}  // namespace floe
