#pragma once
// The runtime's loop: the suspended operations, the ready coroutines, and the backend it sleeps
// on. Single-threaded; only interrupt() and request_stop() may be called from elsewhere.

#include <atomic>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "floe/runtime.hpp"
#include "runtime/backend.hpp"

namespace floe::detail {

class RuntimeCore final : private WakeSources {
 public:
  RuntimeCore(Runtime& owner, const RuntimeOptions& options);
  RuntimeCore(const RuntimeCore&) = delete;
  RuntimeCore& operator=(const RuntimeCore&) = delete;
  ~RuntimeCore();

  static RuntimeCore* current() noexcept;
  Runtime& owner() noexcept { return owner_; }
  bool uses_io_uring() const noexcept { return backend_->is_io_uring(); }
  RuntimeStats stats() const noexcept { return stats_; }

  void spawn(Task<void> task);
  /// Until `*done`, or (done == nullptr) until no spawned task is left; or until stopped.
  void run_until(const bool* done);
  void request_stop() noexcept;
  void interrupt() noexcept;

  void link(Operation& operation, std::coroutine_handle<> awaiting);
  void unlink(Operation& operation) noexcept;
  void task_finished(SpawnedTask::promise_type& task) noexcept;
  void task_failed(std::exception_ptr error) noexcept;

 private:
  void doorbell(const DoorbellWords& words) override;
  void process(const ProcessIdentity& peer) override;

  void run_ready();
  bool poll_all(bool spinning = false, std::uint32_t pass = 0) noexcept;
  void complete(Operation& operation, Operation::Outcome outcome) noexcept;
  void spin();
  void sleep();

  Runtime& owner_;
  std::chrono::nanoseconds spin_budget_;
  std::unique_ptr<Backend> backend_;
  Operation* operations_ = nullptr;  // suspended, intrusive list
  SpawnedTask::promise_type* tasks_ = nullptr;
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;
  std::vector<DoorbellWords> announced_;
  std::uint64_t peer_epoch_ = 0;
  bool poked_ = false;  // something changed on the loop thread itself: do not sleep
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::thread::id> loop_thread_{};
  std::exception_ptr failure_;
  RuntimeStats stats_;
};

}  // namespace floe::detail
