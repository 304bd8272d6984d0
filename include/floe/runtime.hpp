#pragma once
// floe::Runtime: a single-threaded event loop that runs floe::Tasks and wakes them when a
// shared-memory queue gains data, a peer process dies, a timer expires or a stop is requested.
//
// How it sleeps: every suspended operation names its port's doorbell (a futex word in shared
// memory) and, for a response stream, its servers' processes. When nothing is ready, the loop
// polls for the spin budget, then announces on each doorbell that it sleeps, looks once more,
// and waits: on an io_uring ring (IORING_OP_FUTEX_WAIT for doorbells, POLL_ADD on pidfds), or,
// where io_uring is unavailable, on epoll (a helper thread turns doorbell futexes into an
// eventfd). Whatever wakes the loop, it polls every suspended operation, so one wake-up drains
// every ready port. Senders make a syscall only when the loop actually sleeps.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "floe/detail/intrusive_list.hpp"
#include "floe/detail/operation.hpp"
#include "floe/error.hpp"
#include "floe/runtime_options.hpp"
#include "floe/task.hpp"

namespace floe {

namespace detail {

class RuntimeCore;

/// Keeps a spawned task's frame alive until it finishes and tells the runtime then.
class SpawnedTask {
 public:
  struct promise_type {
    RuntimeCore* runtime = nullptr;
    ListHook<promise_type> in_runtime;  // the runtime's list of unfinished tasks

    SpawnedTask get_return_object() noexcept {
      return SpawnedTask{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct Finish {
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> self) const noexcept;
      void await_resume() const noexcept {}
    };
    Finish final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept;
  };
  std::coroutine_handle<promise_type> handle;
};

}  // namespace detail

/// One event loop, for one thread: run(), block_on() and spawn() are called on the thread the
/// loop runs on, and the operations awaited by its tasks wait in it. stop() may be called from
/// any thread and from a signal handler. Several threads each run a Runtime of their own; a
/// port's objects may move between them under the rules of Client, Server and ActiveRequest.
class Runtime {
 public:
  /// Throws floe::Error if neither io_uring nor epoll can be set up (or io_uring was required).
  Runtime();
  /// The same with `options`: spin budget, backend, safety recheck.
  explicit Runtime(const RuntimeOptions& options);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  /// Destroys the tasks that have not finished; their operations leave nothing in shared memory.
  ~Runtime();

  /// Runs `task` alongside the others once the loop runs. An exception escaping a spawned task
  /// stops the runtime and is rethrown by run() or block_on(), except the Errc::cancelled of a
  /// stop(): a task may let that escape, it has merely been stopped.
  void spawn(Task<void> task);
  /// Runs the task `coroutine()` returns, keeping `coroutine` (a lambda and its captures) alive
  /// until that task is done, like asio::co_spawn: `runtime.spawn([&]() -> Task<void> {...});`
  /// (Invoking the lambda yourself, `spawn([&]() -> Task<void> {...}())`, destroys it while
  /// its task still runs: a use-after-free.)
  template <typename Coroutine>
  requires std::invocable<Coroutine&> && std::same_as<std::invoke_result_t<Coroutine&>, Task<void>>
  void spawn(Coroutine coroutine) { spawn(keep_alive(std::move(coroutine))); }

  /// Runs the loop until `task` is done; returns its value or rethrows its exception (after a
  /// stop(), typically floe::Error(Errc::cancelled): the task could not finish).
  template <typename T>
  T block_on(Task<T> task);
  /// The same for the task `coroutine()` returns, keeping `coroutine` alive meanwhile.
  template <typename Coroutine>
  requires std::invocable<Coroutine&>
  auto block_on(Coroutine coroutine) { return block_on(keep_alive(std::move(coroutine))); }

  /// Runs the loop until every spawned task has finished, or stop() was called and the tasks
  /// it cancelled have unwound.
  void run();

  /// Cancels every operation in flight (they throw floe::Error(Errc::cancelled)) and makes
  /// run() return once the tasks have unwound. Safe to call from any thread, and from a signal
  /// handler (it only sets an atomic flag and writes to an eventfd).
  void stop() noexcept;

  /// Calls stop() when one of `signals` (SIGINT, SIGTERM, ...) arrives, by installing a handler
  /// for them; the previous handlers come back when this runtime is destroyed. Throws
  /// floe::Error(invalid_config) for a signal that cannot be caught.
  void stop_on(std::initializer_list<int> signals);

  /// The runtime running on this thread, or nullptr.
  static Runtime* current() noexcept;

  /// Whether this loop sleeps in io_uring (else in epoll).
  bool uses_io_uring() const noexcept;
  /// What the loop has done so far: sleeps, polls, spins, peer exits.
  RuntimeStats stats() const noexcept;

 private:
  template <typename T>
  static Task<void> settle(Task<T> task,
                           std::optional<std::conditional_t<std::is_void_v<T>, bool, T>>* value,
                           std::exception_ptr* error, bool* done);
  void run_until(const bool* done);
  template <typename Coroutine>
  static std::invoke_result_t<Coroutine&> keep_alive(Coroutine coroutine) {
    // `coroutine` is a parameter of this coroutine, so it lives in this frame until the end.
    co_return co_await coroutine();
  }

  std::unique_ptr<detail::RuntimeCore> core_;
};

template <typename T>
Task<void> Runtime::settle(Task<T> task,
                           std::optional<std::conditional_t<std::is_void_v<T>, bool, T>>* value,
                           std::exception_ptr* error, bool* done) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      value->emplace(true);
    } else {
      value->emplace(co_await std::move(task));
    }
  } catch (...) {
    *error = std::current_exception();
  }
  *done = true;
}

template <typename T>
T Runtime::block_on(Task<T> task) {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  bool done = false;
  spawn(settle(std::move(task), &value, &error, &done));
  run_until(&done);
  if (error) std::rethrow_exception(error);
  if (!done) throw Error(Errc::cancelled, "floe: the runtime stopped before the task finished");
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

namespace detail {

class SleepOperation final : public AwaitableOperation<SleepOperation, void> {
 public:
  SleepOperation(Clock::time_point until, std::stop_token token) {
    set_deadline(until, false);
    set_stop_token(std::move(token));
  }

 private:
  friend class AwaitableOperation<SleepOperation, void>;
  bool attempt() const noexcept { return false; }  // the deadline alone completes it
  void take_value() const noexcept {}
  bool poll(const PollContext&) noexcept override { return false; }
};

template <typename T>
concept FloeOperation = std::is_base_of_v<Operation, std::remove_cvref_t<T>>;

}  // namespace detail

/// Resumes after `duration` (throws Errc::cancelled if `token` is stopped first).
inline detail::SleepOperation sleep_for(std::chrono::nanoseconds duration,
                                        std::stop_token token = {}) {
  return detail::SleepOperation(detail::Operation::Clock::now() + duration, std::move(token));
}

/// The same operation, failing with floe::Error(Errc::timed_out) if it has not completed within
/// `timeout`. Nothing is consumed from shared memory by an operation that timed out.
template <detail::FloeOperation Op>
std::remove_cvref_t<Op> with_timeout(Op&& operation, std::chrono::nanoseconds timeout) {
  std::remove_cvref_t<Op> bounded(std::forward<Op>(operation));
  bounded.set_deadline(detail::Operation::Clock::now() + timeout, true);
  return bounded;
}

}  // namespace floe
