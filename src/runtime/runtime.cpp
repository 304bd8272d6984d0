#include <cstdlib>
#include <cstring>

#include "floe/error.hpp"
#include "runtime/runtime_core.hpp"
#include "shm/doorbell.hpp"

namespace floe {
namespace detail {
namespace {

thread_local RuntimeCore* current_core = nullptr;

std::unique_ptr<Backend> make_backend(RuntimeBackend wanted) {
  const char* disable = std::getenv("FLOE_DISABLE_IO_URING");
  const bool io_uring_disabled = disable != nullptr && std::strcmp(disable, "1") == 0;
  if (wanted == RuntimeBackend::io_uring ||
      (wanted == RuntimeBackend::automatic && !io_uring_disabled)) {
    if (auto backend = make_io_uring_backend()) return backend;
    if (wanted == RuntimeBackend::io_uring) {
      throw Error(Errc::io_setup_failed,
                  "floe: io_uring with IORING_OP_FUTEX_WAIT is unavailable (kernel 6.7+ needed, "
                  "and kernel.io_uring_disabled = 0)");
    }
  }
  return make_epoll_backend();
}

SpawnedTask drive(Task<void> task) {
  co_await std::move(task);
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

Operation::~Operation() {
  if (runtime_ != nullptr && outcome_ == Outcome::pending) runtime_->unlink(*this);
}

void Operation::suspend(std::coroutine_handle<> awaiting) {
  RuntimeCore* runtime = RuntimeCore::current();
  if (runtime == nullptr) {
    throw Error(Errc::no_runtime,
                "floe: an operation must wait inside Runtime::run() or Runtime::block_on()");
  }
  runtime->link(*this, awaiting);
}

void Operation::throw_if_stop_requested() const {
  if (stop_token_.stop_requested()) throw Error(Errc::cancelled, "floe: operation cancelled");
}

void Operation::throw_if_interrupted() const {
  if (outcome_ == Outcome::cancelled) throw Error(Errc::cancelled, "floe: operation cancelled");
  if (outcome_ == Outcome::timed_out) throw Error(Errc::timed_out, "floe: operation timed out");
}

void Operation::StopRelay::operator()() const noexcept {
  operation->stop_requested_.store(true, std::memory_order_release);
  operation->runtime_->interrupt();
}

void SpawnedTask::promise_type::Finish::await_suspend(
    std::coroutine_handle<promise_type> self) const noexcept {
  self.promise().runtime->task_finished(self.promise());
}

void SpawnedTask::promise_type::unhandled_exception() const noexcept {
  runtime->task_failed(std::current_exception());
}

RuntimeCore::RuntimeCore(Runtime& owner, const RuntimeOptions& options)
    : owner_(owner), spin_budget_(options.spin_budget), backend_(make_backend(options.backend)) {
  ready_.reserve(64);
  running_.reserve(64);
  announced_.reserve(16);
}

RuntimeCore::~RuntimeCore() {
  // Unfinished tasks are destroyed; the operations they wait in unlink themselves.
  RuntimeCore* previous = std::exchange(current_core, this);
  while (tasks_ != nullptr) {
    SpawnedTask::promise_type* task = tasks_;
    tasks_ = task->next;
    std::coroutine_handle<SpawnedTask::promise_type>::from_promise(*task).destroy();
  }
  current_core = previous;
}

RuntimeCore* RuntimeCore::current() noexcept {
  return current_core;
}

void RuntimeCore::spawn(Task<void> task) {
  SpawnedTask spawned = drive(std::move(task));
  SpawnedTask::promise_type& promise = spawned.handle.promise();
  promise.runtime = this;
  promise.next = tasks_;
  if (tasks_ != nullptr) tasks_->previous = &promise;
  tasks_ = &promise;
  ready_.push_back(spawned.handle);
}

void RuntimeCore::task_finished(SpawnedTask::promise_type& task) noexcept {
  if (task.previous != nullptr) task.previous->next = task.next;
  if (task.next != nullptr) task.next->previous = task.previous;
  if (tasks_ == &task) tasks_ = task.next;
  std::coroutine_handle<SpawnedTask::promise_type>::from_promise(task).destroy();
}

void RuntimeCore::task_failed(std::exception_ptr error) noexcept {
  if (!failure_) failure_ = std::move(error);
  request_stop();
}

void RuntimeCore::request_stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  interrupt();
}

void RuntimeCore::interrupt() noexcept {
  if (loop_thread_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
    poked_ = true;
  } else {
    backend_->interrupt();
  }
}

void RuntimeCore::link(Operation& operation, std::coroutine_handle<> awaiting) {
  operation.runtime_ = this;
  operation.awaiting_ = awaiting;
  operation.outcome_ = Operation::Outcome::pending;
  operation.peer_epoch_ = peer_epoch_;
  operation.previous_ = nullptr;
  operation.next_ = operations_;
  if (operations_ != nullptr) operations_->previous_ = &operation;
  operations_ = &operation;
  if (operation.stop_token_.stop_possible()) {
    operation.stop_callback_.emplace(operation.stop_token_, Operation::StopRelay{&operation});
  }
}

void RuntimeCore::unlink(Operation& operation) noexcept {
  if (operation.previous_ != nullptr) operation.previous_->next_ = operation.next_;
  if (operation.next_ != nullptr) operation.next_->previous_ = operation.previous_;
  if (operations_ == &operation) operations_ = operation.next_;
  operation.previous_ = operation.next_ = nullptr;
  operation.stop_callback_.reset();
}

void RuntimeCore::complete(Operation& operation, Operation::Outcome outcome) noexcept {
  unlink(operation);
  operation.outcome_ = outcome;
  ready_.push_back(operation.awaiting_);
}

bool RuntimeCore::poll_all(bool spinning, std::uint32_t pass) noexcept {
  ++stats_.polls;
  const bool stopping = stop_requested_.load(std::memory_order_acquire);
  std::optional<Operation::Clock::time_point> now;
  bool any = false;
  for (Operation* op = operations_; op != nullptr;) {
    Operation* next = op->next_;
    if (stopping || op->stop_requested_.load(std::memory_order_acquire)) {
      complete(*op, Operation::Outcome::cancelled);
      any = true;
    } else {
      const bool peers_changed = op->peer_epoch_ != peer_epoch_;
      op->peer_epoch_ = peer_epoch_;
      if (op->poll(Operation::PollContext{peers_changed, spinning, pass})) {
        complete(*op, Operation::Outcome::done);
        any = true;
      } else if (op->deadline_) {
        if (!now) now = Operation::Clock::now();
        if (*now >= *op->deadline_) {
          complete(*op, op->deadline_is_timeout_ ? Operation::Outcome::timed_out
                                                 : Operation::Outcome::done);
          any = true;
        }
      }
    }
    op = next;
  }
  return any;
}

void RuntimeCore::run_ready() {
  while (!ready_.empty()) {
    running_.swap(ready_);
    for (std::coroutine_handle<> handle : running_)
      handle.resume();
    running_.clear();
  }
}

void RuntimeCore::doorbell(const DoorbellWords& words) {
  for (const DoorbellWords& known : announced_) {
    if (known.doorbell == words.doorbell) return;
  }
  announced_.push_back(words);
  backend_->watch_futex(words.doorbell, announce_sleep(words));
}

void RuntimeCore::process(const ProcessIdentity& peer) {
  if (!backend_->watch_process(peer)) ++peer_epoch_;  // gone already: look at liveness now
}

void RuntimeCore::spin() {
  const auto until = Operation::Clock::now() + spin_budget_;
  // One pause per pass: a pause takes up to ~140 cycles on recent x86, and every one between
  // the data arriving and the next look is latency.
  // The clock (vDSO, ~20 ns) is read every 32 passes only.
  for (;;) {
    for (std::uint32_t pass = 1; pass <= 32; ++pass) {
      cpu_relax();  // without it, no faster here, and a spinning core is kinder to its sibling
      if (poll_all(true, pass) || poked_) return;
    }
    if (Operation::Clock::now() >= until) return;
  }
}

void RuntimeCore::sleep() {
  announced_.clear();
  backend_->begin_watch();
  for (Operation* op = operations_; op != nullptr; op = op->next_)
    op->watch(*this);
  // Announced as asleep: whatever a sender publishes from here on rings the doorbell. Anything
  // published before is seen by this last look.
  if (!poll_all() && !poked_ && !stop_requested_.load(std::memory_order_acquire)) {
    std::optional<Operation::Clock::time_point> deadline;
    for (Operation* op = operations_; op != nullptr; op = op->next_) {
      if (op->deadline_ && (!deadline || *op->deadline_ < *deadline)) deadline = op->deadline_;
    }
    ++stats_.sleeps;
    const Backend::Events events = backend_->wait(deadline);
    if (events.peer_exited) {
      ++peer_epoch_;
      ++stats_.peer_exits;
    }
  }
  for (const DoorbellWords& words : announced_)
    withdraw_sleep(words);
  announced_.clear();
}

void RuntimeCore::run_until(const bool* done) {
  RuntimeCore* previous = std::exchange(current_core, this);
  const std::thread::id previous_thread =
      loop_thread_.exchange(std::this_thread::get_id(), std::memory_order_acq_rel);
  struct Restore {
    RuntimeCore* self;
    RuntimeCore* previous;
    std::thread::id previous_thread;
    ~Restore() {
      current_core = previous;
      self->loop_thread_.store(previous_thread, std::memory_order_release);
    }
  } restore{this, previous, previous_thread};

  for (;;) {
    run_ready();
    if (done != nullptr ? *done : tasks_ == nullptr) break;
    poked_ = false;
    if (poll_all()) continue;
    if (stop_requested_.load(std::memory_order_acquire)) {
      // Every operation was cancelled by the poll above; tasks that still wait, wait for
      // something floe cannot cancel.
      break;
    }
    if (operations_ != nullptr && spin_budget_.count() > 0) {
      spin();
      if (!ready_.empty() || poked_) continue;
    }
    sleep();
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

void Runtime::spawn_internal(Task<void> task) {
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

Runtime* Runtime::current() noexcept {
  detail::RuntimeCore* core = detail::RuntimeCore::current();
  return core != nullptr ? &core->owner() : nullptr;
}

bool Runtime::uses_io_uring() const noexcept {
  return core_->uses_io_uring();
}

RuntimeStats Runtime::stats() const noexcept {
  return core_->stats();
}

}  // namespace floe
