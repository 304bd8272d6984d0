#pragma once
// floe::Task<T>: a lazy, move-only coroutine that produces a T (or throws) when awaited.
//
// Who resumes whom: awaiting a task starts it. If it finishes before it ever suspends, the
// awaiter simply does not suspend, so a loop awaiting a million tasks that finish at once runs
// at constant stack depth whatever the optimization level (g++ turns symmetric transfer into a
// tail call only at -O2 and never under AddressSanitizer, so that alone would not do). If the
// task suspends, the awaiter is stored as its continuation, and the task's final awaiter
// transfers control back to it (symmetric transfer). Which of the two comes last, the awaiter
// registering or the task finishing, is settled by one atomic exchange. The Task owns its frame:
// destroying the Task destroys the coroutine, finished or not yet started.

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace floe {

template <typename T = void>
class Task;

namespace detail {

class TaskPromiseBase {
 public:
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> finished) noexcept {
      TaskPromiseBase& promise = finished.promise();
      // The awaiter is still inside await_suspend: it will see the exchange and go on itself.
      if (!promise.handed_over_.exchange(true, std::memory_order_acq_rel)) {
        return std::noop_coroutine();
      }
      return promise.continuation_;
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }
  /// False when the task has finished already: then the awaiter must not suspend.
  bool try_set_continuation(std::coroutine_handle<> continuation) noexcept {
    continuation_ = continuation;
    return !handed_over_.exchange(true, std::memory_order_acq_rel);
  }

 protected:
  void rethrow_if_failed() const {
    if (exception_) std::rethrow_exception(exception_);
  }

 private:
  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  std::exception_ptr exception_;
  // Set by whichever comes second: the awaiter registering, or the task finishing.
  std::atomic<bool> handed_over_{false};
};

template <typename T>
class TaskPromise final : public TaskPromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  template <typename U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(value));
  }
  T result() && {
    rethrow_if_failed();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class TaskPromise<void> final : public TaskPromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() const noexcept {}
  void result() && { rethrow_if_failed(); }
};

}  // namespace detail

template <typename T>
class [[nodiscard("a Task does nothing until it is awaited")]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  /// Takes over the coroutine; `other` is left empty (ready, with nothing to give).
  Task(Task && other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  /// Destroys the coroutine held, then takes over `other`'s.
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  /// Destroys the coroutine, finished or not (a suspended one is simply never resumed).
  ~Task() {
    if (handle_) handle_.destroy();
  }

  /// Whether it has finished (or is empty): awaiting it then does not suspend.
  bool is_ready() const noexcept {
    return !handle_ || handle_.done();
  }

  /// `co_await task` starts it and resumes the awaiter with its value (or rethrows what it
  /// threw) when it finishes; it runs inline until it first suspends.
  auto operator co_await()&& noexcept {
    struct Awaiter {
      std::coroutine_handle<promise_type> task;
      bool await_ready() const noexcept { return !task || task.done(); }
      bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
        task.resume();
        return task.promise().try_set_continuation(awaiting);
      }
      T await_resume() { return std::move(task.promise()).result(); }
    };
    return Awaiter{handle_};
  }
  /// The same for a named task (it is consumed: await it once).
  auto operator co_await()& noexcept {
    return std::move(*this).operator co_await();
  }

  /// For the runtime: the coroutine to start and to be told about when it finishes.
  std::coroutine_handle<promise_type> handle() const noexcept {
    return handle_;
  }

 private:
  friend class detail::TaskPromise<T>;
  explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

}  // namespace detail
}  // namespace floe
