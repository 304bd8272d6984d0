#pragma once
// The runtime's loop: spawned tasks, the ready coroutines, and a Reactor it sleeps in.
// Single-threaded; only request_stop() may be called from elsewhere.

#include <atomic>
#include <coroutine>
#include <exception>
#include <initializer_list>
#include <optional>
#include <vector>

#include "floe/detail/reactor.hpp"
#include "floe/runtime.hpp"
#include "runtime/spin_policy.hpp"

namespace floe::detail {

class RuntimeCore {
 public:
  RuntimeCore(Runtime& owner, const RuntimeOptions& options);
  RuntimeCore(const RuntimeCore&) = delete;
  RuntimeCore& operator=(const RuntimeCore&) = delete;
  ~RuntimeCore();

  bool uses_io_uring() const noexcept { return reactor_.uses_io_uring(); }
  RuntimeStats stats() const noexcept {
    RuntimeStats stats = reactor_.stats();
    stats.spins = spins_;
    return stats;
  }

  void spawn(Task<void> task);
  /// Until `*done`, or (done == nullptr) until no spawned task is left; or until stopped.
  void run_until(const bool* done);
  void request_stop() noexcept;
  bool stop_requested() const noexcept { return stopping(); }
  void stop_on(std::initializer_list<int> signals);

  void task_finished(SpawnedTask::promise_type& task) noexcept;
  void task_failed(std::exception_ptr error) noexcept;

 private:
  void run_ready();
  bool stopping() const noexcept { return stop_requested_.load(std::memory_order_acquire); }
  void spin();
  /// How long the loop waited in the kernel; nothing if it found work without waiting.
  std::optional<std::chrono::nanoseconds> sleep();
  void stop_on_no_signals() noexcept;

  Runtime& owner_;
  std::chrono::nanoseconds spin_budget_;
  std::chrono::nanoseconds safety_recheck_;
  SpinPolicy spin_policy_;
  std::uint64_t spins_ = 0;
  Reactor reactor_;
  IntrusiveList<SpawnedTask::promise_type, &SpawnedTask::promise_type::in_runtime> tasks_;
  std::vector<std::coroutine_handle<>> running_;
  std::atomic<bool> stop_requested_{false};
  std::exception_ptr failure_;
  bool stops_on_signals_ = false;
};

}  // namespace floe::detail
