#include "floe/detail/reactor.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "floe/error.hpp"
#include "log.hpp"
#include "runtime/backend.hpp"
#include "shm/doorbell.hpp"

namespace floe::detail {
namespace {

// The loop current on this thread (see Reactor::current()); only Reactor::Scope writes it.
struct CurrentLoop {
  Reactor* reactor = nullptr;
  Runtime* runtime = nullptr;
};
thread_local CurrentLoop current_loop;

/// Logs the event loop's fallback once per process, not once per Runtime.
void log_once(LogLevel level, const char* message) noexcept {
  static std::atomic<bool> logged{false};
  if (log_enabled(level) && !logged.exchange(true)) write_log(level, message);
}

std::unique_ptr<Backend> make_backend(RuntimeBackend wanted) {
  const char* disable = std::getenv("FLOE_DISABLE_IO_URING");
  const bool io_uring_disabled = disable != nullptr && std::strcmp(disable, "1") == 0;
  if (wanted == RuntimeBackend::io_uring ||
      (wanted == RuntimeBackend::automatic && !io_uring_disabled)) {
    if (auto backend = make_io_uring_backend()) return backend;
    if (wanted == RuntimeBackend::automatic) {
      log_once(LogLevel::info,
               "the runtime uses epoll: io_uring with IORING_OP_FUTEX_WAIT is unavailable "
               "(kernel 6.7+ needed, and kernel.io_uring_disabled = 0)");
    }
    if (wanted == RuntimeBackend::io_uring) {
      throw Error(Errc::io_setup_failed,
                  "floe: io_uring with IORING_OP_FUTEX_WAIT is unavailable (kernel 6.7+ needed, "
                  "and kernel.io_uring_disabled = 0)");
    }
  }
  if (io_uring_disabled && wanted == RuntimeBackend::automatic) {
    log_once(LogLevel::info, "the runtime uses epoll: FLOE_DISABLE_IO_URING=1");
  }
  return make_epoll_backend();
}

}  // namespace

Operation::~Operation() {
  if (reactor_ != nullptr && outcome_ == Outcome::pending) reactor_->unlink(*this);
}

void Operation::on_complete() noexcept {
  reactor_->ready_.push_back(awaiting_);
}

void Operation::suspend(std::coroutine_handle<> awaiting) {
  Reactor* reactor = Reactor::current();
  if (reactor == nullptr) {
    throw Error(Errc::no_runtime,
                "floe: an operation must wait inside Runtime::run() or Runtime::block_on()");
  }
  reactor->link(*this, awaiting);
}

void Operation::start(Reactor& reactor) {
  reactor.link(*this, nullptr);
}

void Operation::cancel() noexcept {
  if (reactor_ != nullptr && outcome_ == Outcome::pending) reactor_->complete_cancelled(*this);
}

void Operation::abandon() noexcept {
  if (reactor_ != nullptr && outcome_ == Outcome::pending) {
    reactor_->unlink(*this);
    outcome_ = Outcome::cancelled;
  }
}

void PortOperations::cancel_all() noexcept {
  // The operations of a port wait in one reactor (a port is used by one thread at a time); a
  // threaded one may be polling them on another thread right now, so its lock is taken first.
  Reactor* reactor = reactor_.load(std::memory_order_acquire);
  if (reactor == nullptr) return;  // nothing waits
  const auto lock = reactor->lock();
  // Each completion unlinks the operation from this list (Reactor::unlink).
  while (Operation* operation = list_.front())
    operation->cancel();
}

std::error_code Operation::error() const noexcept {
  if (failure_) return failure_.code();
  if (outcome_ == Outcome::cancelled) return make_error_code(Errc::cancelled);
  if (outcome_ == Outcome::timed_out) return make_error_code(Errc::timed_out);
  return {};
}

void Operation::throw_error() const {
  if (failure_) failure_.raise();
  if (outcome_ == Outcome::timed_out) {
    throw Error(Errc::timed_out, std::string("floe: the wait for ") + awaited() +
                                     " timed out; give it a later deadline, or check that the "
                                     "other side is running");
  }
  throw Error(Errc::cancelled, std::string("floe: the wait for ") + awaited() +
                                   " was cancelled (by its stop token, Runtime::stop(), an Asio "
                                   "cancellation, or the port or request it waited on going "
                                   "away)");
}

void Operation::StopRelay::operator()() const noexcept {
  operation->stop_requested_.store(true, std::memory_order_release);
  operation->reactor_->interrupt();
}

Reactor::Reactor(RuntimeBackend backend, bool threaded)
    : backend_(make_backend(backend)), threaded_(threaded) {
  ready_.reserve(64);
  announced_.reserve(16);
}

Reactor::~Reactor() = default;

Reactor* Reactor::current() noexcept {
  return current_loop.reactor;
}

Runtime* Reactor::current_runtime() noexcept {
  return current_loop.runtime;
}

Reactor::Scope::Scope(Reactor& reactor, Runtime& runtime) noexcept
    : previous_reactor_(std::exchange(current_loop.reactor, &reactor)),
      previous_runtime_(std::exchange(current_loop.runtime, &runtime)) {}

Reactor::Scope::~Scope() {
  current_loop.reactor = previous_reactor_;
  current_loop.runtime = previous_runtime_;
}

bool Reactor::uses_io_uring() const noexcept {
  return backend_->is_io_uring();
}

int Reactor::pollable_fd() const noexcept {
  return backend_->pollable_fd();
}

void Reactor::wake() noexcept {
  backend_->interrupt();
}

void Reactor::interrupt() noexcept {
  if (current_loop.reactor == this) {
    poked_ = true;
  } else {
    backend_->interrupt();
  }
}

void Reactor::link(Operation& operation, std::coroutine_handle<> awaiting) {
  operation.reactor_ = this;
  operation.awaiting_ = awaiting;
  operation.outcome_ = Operation::Outcome::pending;
  operation.peer_epoch_ = peer_epoch_;
  operation.announced_doorbell_ = {};
  operations_.push_front(operation);
  if (PortOperations* port = operation.port_operations()) {
    operation.port_ = port;
    port->list_.push_front(operation);
    port->reactor_.store(this, std::memory_order_release);
  }
  if (operation.stop_token_.stop_possible()) {
    operation.stop_callback_.emplace(operation.stop_token_, Operation::StopRelay{&operation});
  }
}

void Reactor::unlink(Operation& operation) noexcept {
  operations_.remove(operation);
  if (operation.port_ != nullptr) {
    operation.port_->list_.remove(operation);
    if (operation.port_->list_.empty()) {
      operation.port_->reactor_.store(nullptr, std::memory_order_release);
    }
    operation.port_ = nullptr;
  }
  operation.stop_callback_.reset();
  // Only while asleep (announced) and so never on the path of a message: in floe's own loop
  // operations complete while nothing is announced.
  if (!announced_.empty()) withdraw_unused(operation.announced_doorbell_);
}

void Reactor::complete(Operation& operation, Operation::Outcome outcome) noexcept {
  unlink(operation);
  operation.outcome_ = outcome;
  if (outcome != Operation::Outcome::done) operation.on_interrupted();
  operation.on_complete();
}

void Reactor::complete_cancelled(Operation& operation) noexcept {
  complete(operation, Operation::Outcome::cancelled);
}

bool Reactor::poll_all(bool cancel_all, bool spinning, std::uint32_t pass) noexcept {
  ++stats_.polls;
  std::optional<Clock::time_point> now;
  bool any = false;
  // on_complete() may destroy the operation (an Asio handler owning it), and with it the last
  // reference to a port, which cancels the port's other operations: for_each goes on with the
  // next operation still listed, whatever left the list.
  operations_.for_each([&](Operation& op) {
    if (cancel_all || op.stop_requested_.load(std::memory_order_acquire)) {
      complete(op, Operation::Outcome::cancelled);
      any = true;
      return;
    }
    const bool peers_changed = op.peer_epoch_ != peer_epoch_;
    op.peer_epoch_ = peer_epoch_;
    if (op.poll(Operation::PollContext{peers_changed, spinning, pass})) {
      complete(op, Operation::Outcome::done);
      any = true;
    } else if (op.deadline_) {
      if (!now) now = Clock::now();
      if (*now >= *op.deadline_) {
        complete(
            op, op.deadline_is_timeout_ ? Operation::Outcome::timed_out : Operation::Outcome::done);
        any = true;
      }
    }
  });
  return any;
}

void Reactor::announce(const DoorbellWords& words) {
  if (words.doorbell == nullptr) return;
  for (const DoorbellWords& known : announced_) {
    if (known.doorbell == words.doorbell) return;
  }
  announced_.push_back(words);
  backend_->watch_futex(words.doorbell, announce_sleep(words));
}

void Reactor::withdraw_unused(const DoorbellWords& words) noexcept {
  if (words.doorbell == nullptr) return;
  for (Operation* op = operations_.front(); op != nullptr; op = operations_.next(*op)) {
    if (op->announced_doorbell_.doorbell == words.doorbell) return;  // still waited on
  }
  for (DoorbellWords& known : announced_) {
    if (known.doorbell == words.doorbell) {
      withdraw_sleep(known);
      known = announced_.back();
      announced_.pop_back();
      return;
    }
  }
}

void Reactor::process(const ProcessIdentity& peer) {
  if (!backend_->watch_process(peer)) ++peer_epoch_;  // gone already: look at liveness now
}

bool Reactor::prepare_sleep() {
  finish_sleep();
  backend_->begin_watch();
  for (Operation* op = operations_.front(); op != nullptr; op = operations_.next(*op)) {
    op->announced_doorbell_ = op->doorbell();
    announce(op->announced_doorbell_);
    op->watch_processes(*this);
  }
  // Announced as asleep: whatever a sender publishes from here on rings the doorbell. Anything
  // published before is seen by this last look.
  if (poll_all(false)) {
    finish_sleep();
    return true;
  }
  return false;
}

void Reactor::note_events(bool peer_exited) noexcept {
  if (peer_exited) {
    ++peer_epoch_;
    ++stats_.peer_exits;
  }
}

void Reactor::wait(std::optional<Clock::time_point> deadline) {
  ++stats_.sleeps;
  note_events(backend_->wait(deadline).peer_exited);
}

void Reactor::arm() {
  ++stats_.sleeps;
  backend_->submit();
}

void Reactor::take_events() {
  note_events(backend_->take_events().peer_exited);
}

void Reactor::finish_sleep() noexcept {
  for (const DoorbellWords& words : announced_)
    withdraw_sleep(words);
  announced_.clear();
}

std::optional<Reactor::Clock::time_point> Reactor::next_deadline() const noexcept {
  std::optional<Clock::time_point> deadline;
  for (const Operation* op = operations_.front(); op != nullptr; op = operations_.next(*op)) {
    if (op->deadline_ && (!deadline || *op->deadline_ < *deadline)) deadline = op->deadline_;
  }
  return deadline;
}

}  // namespace floe::detail
