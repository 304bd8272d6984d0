#pragma once
// floe inside an Asio application: receive requests and responses from an io_context, with any
// completion token, without a second event loop thread.
//
//   floe::ActiveRequest<...> a = co_await floe::async_receive(server, asio::use_awaitable);
//
// NOT `co_await server.receive()` in an asio::awaitable: floe's own operations (receive(),
// async_send(), with_timeout) run in floe::Runtime tasks. Asio's promise type takes only Asio's
// awaitables (awaitable_frame_base::await_transform), so such a co_await stops the build with
// "no matching function for call to '...await_transform(floe::...ReceiveOperation)'": it means
// "use floe::async_receive / async_send / async_send_copy here". floe does not make that error
// its own: Asio rejects the operation before any of floe's code is looked at, and only a hook
// into Asio's internals (its function-object await_transform) could intervene.
//
//   std::optional<floe::Response<...>> r = co_await floe::async_receive(pending,
//   asio::use_awaitable);
//
// Handlers have the signature `void(std::error_code, T)`: T is the ActiveRequest (empty on
// error) or the std::optional<Response> (std::nullopt once the stream ended). Any token works:
// asio::use_awaitable, asio::experimental::deferred, asio::use_future, a callback (bind an
// executor to it, `asio::bind_executor(io, callback)`, or pass the executor first:
// `floe::async_receive(io.get_executor(), server, callback)`). Completion runs on the handler's
// associated executor, never inside the initiating call: posted, except that the first
// operation a wake-up completes is dispatched from that wake-up's handler (asio::dispatch: run
// there if its executor allows, as Asio runs the handlers of its own sockets), so that a
// handler which starts the next operation costs the io_context no extra pass through its
// reactor.
//
// How it waits: each execution context gets one floe Reactor (a service). While an operation is
// pending, the reactor's pollable fd (the io_uring ring fd, or an epoll fd in the fallback) is
// waited on with posix::stream_descriptor::async_wait, so the io_context's own reactor wakes
// for floe ports next to its sockets and timers. A peer process that dies ends a response
// stream (std::nullopt), as in floe::Runtime. As in floe::Runtime too, while operations are
// pending a timer makes the service look at them every RuntimeOptions{}.safety_recheck (1 s)
// even if nothing rang, so a peer that clears a port's `waiting` flag delays a message by at
// most that long; the timer is cancelled once nothing is pending, so io_context::run() returns.
//
// Cancellation: per-operation cancellation slots (asio::bind_cancellation_slot, the `||` of
// asio::experimental::awaitable_operators) cancel a pending receive with
// asio::error::operation_aborted; nothing is taken from shared memory by a cancelled receive.
// Destroying the io_context with receives pending destroys their handlers uninvoked.
//
// Threads: an io_context may be run by any number of threads. Any of them may start floe
// operations, emit their cancellation slots, and have them completed: the service of the
// io_context keeps its state (and its floe Reactor) under one lock, announces and re-arms the
// wait for an operation started on any thread, and posts every handler to its executor, never
// invoking one under the lock. A waiting operation is polled by whichever thread handles the
// wake-up and touches only the object it waits on (the Server, the PendingResponse, the
// ActiveRequest), which counts as in use until the handler runs. Otherwise the objects' own
// rules hold (client.hpp, server.hpp): a Client with everything from it, a Server, each
// ActiveRequest, one thread at a time. The simple way to keep them: run each coroutine that
// owns ports on a strand of its own (asio::co_spawn(asio::make_strand(io), ...)), and answer an
// ActiveRequest in that coroutine or hand it to one on another strand.

// A standard library header first: Asio 1.22 decides between aligned_alloc and operator new by
// whether libstdc++'s configuration is already included, and two translation units that decide
// differently free with the wrong function (AddressSanitizer: alloc-dealloc-mismatch). With it,
// every unit that includes this header decides as one that included any standard header first.
// clang-format off
#include <cstddef>
#include <unistd.h>
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/execution.hpp>
#include <asio/execution_context.hpp>
#include <asio/experimental/append.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/steady_timer.hpp>
// clang-format on

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

#include "floe/call.hpp"
#include "floe/client.hpp"
#include "floe/detail/reactor.hpp"
#include "floe/error.hpp"
#include "floe/server.hpp"
#include "floe/slice.hpp"

namespace floe {
namespace detail {

/// What the service keeps of each pending Asio operation, to cancel it or destroy it at
/// shutdown.
class AsioOperationNode {
 public:
  /// Destroys the operation and its handler without invoking it.
  virtual void destroy() noexcept = 0;
  /// Completes the operation as cancelled.
  virtual void cancel_operation() noexcept = 0;
  /// For the wake-up that completed it: hands the outcome to the handler with asio::dispatch
  /// (the handler may run inside this call, and may throw). Frees the operation.
  virtual void dispatch_completion() = 0;

 protected:
  ~AsioOperationNode() = default;
  std::uint64_t operation_key() const noexcept { return key_; }

 private:
  friend class AsioFloeService;
  ListHook<AsioOperationNode> in_service_;
  std::uint64_t key_ = 0;  // tells it from a later operation at the same address
};

/// One floe Reactor per execution context, woken through the context's own reactor.
///
/// Any number of threads may run the context: the reactor and everything here are used only
/// under the reactor's lock (ports take it too, to cancel what waits on them). Completion
/// handlers are posted to their executors, never invoked under the lock; an operation started
/// on any thread announces on its doorbell and re-arms the wait before it is left to sleep.
class AsioFloeService final : public asio::execution_context::service {
 public:
  /// Asio's service registration: one per execution context (asio::use_service).
  using key_type = AsioFloeService;
  static inline asio::execution_context::id id;

  /// Throws floe::Error(io_setup_failed) if neither io_uring nor epoll can be set up. Lives as
  /// long as the context; its shutdown() destroys the handlers still pending, uninvoked.
  explicit AsioFloeService(asio::execution_context& context)
      : asio::execution_context::service(context),
        reactor_(RuntimeBackend::automatic, /*threaded=*/true) {}

  /// The reactor operations wait in; used only under lock().
  Reactor& reactor() noexcept { return reactor_; }
  /// Held for every use of the service and its reactor.
  std::unique_lock<std::recursive_mutex> lock() noexcept { return reactor_.lock(); }

  /// The first operation brings the executor the wait on the reactor's fd runs on. Throws
  /// floe::Error(io_setup_failed) if the fd cannot be duplicated.
  template <typename Executor>
  void attach(const Executor& executor) {
    const auto guard = lock();
    if (descriptor_) return;
    const int fd = ::dup(reactor_.pollable_fd());
    if (fd < 0) {
      throw Error(Errc::io_setup_failed, "floe: cannot duplicate the reactor's fd for Asio: " +
                                             std::generic_category().message(errno));
    }
    descriptor_.emplace(asio::any_io_executor(executor), fd);
    recheck_.emplace(asio::any_io_executor(executor));
  }

  /// These, schedule() and completed_outside_wakeup() expect lock() to be held.
  void add(AsioOperationNode& node) noexcept {
    node.key_ = ++next_key_;
    operations_.push_front(node);
  }
  void remove(AsioOperationNode& node) noexcept { operations_.remove(node); }

  /// Makes sure the context wakes for every pending operation, or stops waiting without any.
  /// Called whenever an operation starts or is cancelled: a new one may wait on a doorbell the
  /// armed wait does not cover yet, so the wait is armed again (announcing on every doorbell and
  /// submitting what is new; a no-op for the kernel when nothing is).
  void schedule() {
    if (shut_down_ || !descriptor_) return;
    // Announce on every doorbell, look once more; what completed meanwhile is handed out.
    while (!reactor_.idle() && reactor_.prepare_sleep()) {
    }
    if (reactor_.idle()) {
      reactor_.finish_sleep();
      if (waiting_) descriptor_->cancel();
      cancel_recheck();
      return;
    }
    reactor_.arm();
    arm_recheck();
    if (waiting_) return;
    waiting_ = true;
    descriptor_->async_wait(asio::posix::stream_descriptor::wait_read,
                            [this](const std::error_code& error) { on_wakeup(error); });
  }

  /// For an operation completing: true if the wake-up polling it hands its outcome to the
  /// handler (the first one it completes); the operation then waits for that, outside every
  /// list. Otherwise the operation posts its handler itself.
  bool keep_for_wakeup(AsioOperationNode& node) noexcept {
    if (!polling_wakeup_ || kept_for_wakeup_ != nullptr) return false;
    kept_for_wakeup_ = &node;
    return true;
  }
  /// Whether a wake-up is polling: it looks at idleness itself once its handler ran.
  bool polling_wakeup() const noexcept { return polling_wakeup_; }

  /// An operation completed outside a wake-up (cancelled, or its port went away): without any
  /// left, the wait must end or io_context::run() would never return.
  void completed_outside_wakeup() noexcept {
    if (!reactor_.idle() || !descriptor_) return;
    std::error_code ignored;
    if (waiting_) descriptor_->cancel(ignored);
    cancel_recheck();
  }

  /// For a cancellation slot, from any thread: cancels the operation if it is still pending
  /// (it may have completed on another thread meanwhile, its memory reused by a later one).
  void cancel(const AsioOperationNode* target, std::uint64_t key) {
    const auto guard = lock();
    if (shut_down_) return;
    for (AsioOperationNode* node = operations_.front(); node != nullptr;
         node = operations_.next(*node)) {
      if (node == target && node->key_ == key) {
        node->cancel_operation();  // completes through on_complete(), which frees it
        schedule();                // stops waiting if nothing else is pending
        return;
      }
    }
  }

 private:
  /// Bounds a lost wake-up (a peer cleared a `waiting` flag, so nothing rings): while
  /// operations are pending, look at them at least every safety_recheck even if the fd stays
  /// quiet. Armed once per interval, not per operation, so starting operations costs nothing;
  /// an operation's deadline (a wait_for_server or call timeout) brings it forward, so that the
  /// operation completes at its deadline and not at the next interval.
  void arm_recheck() {
    if (safety_recheck_.count() <= 0) return;
    auto when = std::chrono::steady_clock::now() + safety_recheck_;
    if (const auto deadline = reactor_.next_deadline(); deadline && *deadline < when) {
      when = *deadline;
    }
    if (rechecking_) {
      // Armed for later: cancelled, its handler arms it again (schedule()) for the deadline.
      if (when < recheck_at_) cancel_recheck();
      return;
    }
    rechecking_ = true;
    recheck_at_ = when;
    recheck_->expires_at(when);
    recheck_->async_wait([this](const std::error_code& error) {
      const auto guard = lock();
      rechecking_ = false;
      if (shut_down_) return;
      if (!error) {
        reactor_.finish_sleep();
        reactor_.recheck_peers();
        reactor_.poll_all(false);
      }
      // Re-arms this timer while something is pending, also after a cancel that an operation
      // started since has made stale (rechecking_ stayed set until now, so it was not armed).
      schedule();
    });
  }

  /// The fd turned readable (or the wait was cancelled): polls every operation, then arms the
  /// wait again or stops waiting. The first operation completed is handed to its handler here,
  /// after the lock is released: a handler that starts the next operation (a coroutine looping
  /// on receive) arms the wait itself, so the recheck timer is neither cancelled nor armed
  /// again (a timerfd_settime(2) each) and no posted handler makes the io_context poll its
  /// reactor once more (an epoll_wait(2)) before the handler runs.
  void on_wakeup(const std::error_code& error) {
    AsioOperationNode* completed = nullptr;
    {
      const auto guard = lock();
      waiting_ = false;
      if (shut_down_) return;
      if (!error) reactor_.take_events();
      reactor_.finish_sleep();
      polling_wakeup_ = true;
      reactor_.poll_all(false);
      polling_wakeup_ = false;
      completed = std::exchange(kept_for_wakeup_, nullptr);
      if (completed == nullptr) {
        schedule();
        return;
      }
    }
    try {
      completed->dispatch_completion();
    } catch (...) {
      // The handler threw, out of io_context::run(): what still waits is armed for first.
      try {
        rearm_after_wakeup();
      } catch (...) {
      }
      throw;
    }
    rearm_after_wakeup();
  }

  /// After a wake-up's handler: arms the wait for what is pending, or stops waiting, unless
  /// an operation started since armed it already (each start does).
  void rearm_after_wakeup() {
    const auto guard = lock();
    if (!shut_down_ && !waiting_) schedule();
  }

  void cancel_recheck() noexcept {
    if (!rechecking_) return;
    // Newer Asio has no error_code overload; cancelling a timer does not fail in practice.
    try {
      recheck_->cancel();
    } catch (...) {
    }
  }

  void shutdown() override {
    const auto guard = lock();
    shut_down_ = true;
    // Withdrawn first, while every port an announcement names still exists.
    reactor_.finish_sleep();
    while (AsioOperationNode* node = operations_.front()) {
      remove(*node);
      node->destroy();
    }
    recheck_.reset();
    descriptor_.reset();
  }

  Reactor reactor_;
  std::optional<asio::posix::stream_descriptor> descriptor_;
  std::optional<asio::steady_timer> recheck_;
  std::chrono::nanoseconds safety_recheck_ = RuntimeOptions{}.safety_recheck;
  bool rechecking_ = false;
  std::chrono::steady_clock::time_point recheck_at_;  // when the armed recheck fires
  IntrusiveList<AsioOperationNode, &AsioOperationNode::in_service_> operations_;
  std::uint64_t next_key_ = 0;
  bool waiting_ = false;
  bool shut_down_ = false;
  bool polling_wakeup_ = false;                   // on_wakeup() polls, under the lock
  AsioOperationNode* kept_for_wakeup_ = nullptr;  // its first completion, see keep_for_wakeup()
};

/// A floe operation (a receive, or a send waiting for room) completing through an Asio handler
/// instead of a coroutine.
template <typename Base, typename Handler>
class AsioOperation final : public Base, private AsioOperationNode {
 public:
  using Value = typename Base::value_type;

  /// Starts the operation: completes at once (posted) if it can, else waits.
  static void launch(AsioFloeService& service, Base operation, Handler handler) {
    auto allocator = allocator_for(handler);
    Allocator typed(allocator);
    AsioOperation* op = std::allocator_traits<Allocator>::allocate(typed, 1);
    try {
      std::allocator_traits<Allocator>::construct(typed, op, service, std::move(operation),
                                                  std::move(handler));
    } catch (...) {
      std::allocator_traits<Allocator>::deallocate(typed, op, 1);
      throw;
    }
    op->begin();
  }

  /// For launch() (through the handler's allocator) only.
  AsioOperation(AsioFloeService& service, Base operation, Handler handler)
      : Base(std::move(operation)),
        service_(service),
        handler_(std::move(handler)),
        work_(asio::prefer(asio::get_associated_executor(handler_),
                           asio::execution::outstanding_work.tracked)) {}

 private:
  using Allocator = typename std::allocator_traits<asio::associated_allocator_t<
      Handler, asio::recycling_allocator<void>>>::template rebind_alloc<AsioOperation>;
  static auto allocator_for(const Handler& handler) {
    return asio::get_associated_allocator(handler, asio::recycling_allocator<void>());
  }

  void begin() {
    if (this->await_ready()) {
      finish();
      return;
    }
    const auto guard = service_.lock();
    service_.add(*this);
    this->start(service_.reactor());
    // By key, not by pointer: the slot keeps its handler after the operation completed (on
    // whichever thread polled it) and its memory went to another; clearing the slot from there
    // could race with an emit on the handler's own executor.
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) {
      const AsioOperationNode* node = this;
      slot.template emplace<CancelOnSignal>(&service_, node, this->operation_key());
    }
    service_.schedule();  // may complete this operation already: `this` is not used after
  }

  struct CancelOnSignal {
    AsioFloeService* service;
    const AsioOperationNode* node;
    std::uint64_t key;
    void operator()(asio::cancellation_type type) const {
      if (type != asio::cancellation_type::none) service->cancel(node, key);
    }
  };

  void cancel_operation() noexcept override { this->cancel(); }

  void on_complete() noexcept override {
    AsioFloeService& service = service_;
    service.remove(*this);
    if (service.keep_for_wakeup(*this)) return;  // the wake-up dispatches it
    finish();
    if (!service.polling_wakeup()) service.completed_outside_wakeup();
  }

  void dispatch_completion() override { hand_over(/*may_run_here=*/true); }

  /// Posts the outcome to the handler's executor. Posted, never run here: the reactor may be in
  /// the middle of polling, and a handler run inline could start operations under it.
  void finish() noexcept { hand_over(/*may_run_here=*/false); }

  /// Hands the outcome to the handler on its executor and frees the operation first, so the
  /// handler may start the next operation with the memory just released.
  void hand_over(bool may_run_here) {
    std::error_code error = this->error();
    Value value = error ? Value{} : this->value();
    if (error == Errc::cancelled) error = asio::error::operation_aborted;
    Allocator typed(allocator_for(handler_));  // before the handler moves out
    Handler handler = std::move(handler_);
    auto work = std::move(work_);
    free(typed);
    auto completion = asio::experimental::append(std::move(handler), error, std::move(value));
    if (may_run_here) {
      asio::dispatch(work, std::move(completion));
    } else {
      asio::post(work, std::move(completion));
    }
  }

  /// At shutdown: destroys the handler uninvoked. The operation leaves its reactor and port
  /// first and the handler dies last, after the operation is freed: destroying the handler can
  /// destroy what it owns (an ActiveRequest, a PendingResponse), which cancels what waits on
  /// those ports, and this operation must no longer be among them.
  void destroy() noexcept override {
    this->abandon();
    asio::get_associated_cancellation_slot(handler_).clear();
    Allocator typed(allocator_for(handler_));
    Handler handler = std::move(handler_);
    free(typed);
  }

  void free(Allocator typed) noexcept {
    std::allocator_traits<Allocator>::destroy(typed, this);
    std::allocator_traits<Allocator>::deallocate(typed, this, 1);
  }

  AsioFloeService& service_;
  Handler handler_;
  std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                                     asio::execution::outstanding_work.tracked))>
      work_;
};

/// Starts `make_operation()`'s operation for `handler`. An error making it (a send that cannot
/// loan) completes the handler with that error, posted like any completion.
template <typename Value, typename Handler, typename MakeOperation>
void start_asio_operation(Handler handler, MakeOperation make_operation) {
  static_assert(!std::is_same_v<asio::associated_executor_t<Handler>, asio::system_executor>,
                "floe: the handler needs an executor; use a token that brings one "
                "(asio::use_awaitable), bind one (asio::bind_executor), or pass one first");
  auto executor = asio::get_associated_executor(handler);
  auto& service =
      asio::use_service<AsioFloeService>(asio::query(executor, asio::execution::context));
  service.attach(executor);
  using Operation = std::remove_cvref_t<decltype(make_operation())>;
  std::optional<Operation> operation;
  try {
    operation.emplace(make_operation());
  } catch (const Error& e) {
    auto work = asio::prefer(executor, asio::execution::outstanding_work.tracked);
    asio::post(work, asio::experimental::append(std::move(handler), e.code(), Value{}));
    return;
  }
  AsioOperation<Operation, Handler>::launch(service, std::move(*operation), std::move(handler));
}

}  // namespace detail

/// Waits for the next request. Completes with (error, ActiveRequest); error is
/// asio::error::operation_aborted when cancelled (or when the Server goes away first).
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_receive(
    Server<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>& server,
    CompletionToken&& token) {
  using Port = Server<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  using Value = typename Port::Active;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port) {
        detail::start_asio_operation<Value>(std::move(handler), [&] { return port->receive(); });
      },
      token, &server);
}

/// Waits for the next response of the stream. Completes with (error, std::optional<Response>):
/// std::nullopt once every server ended its stream, went away or died; operation_aborted when
/// cancelled (or when the PendingResponse goes away first).
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_receive(PendingResponse<RequestPayload, ResponsePayload, RequestUserHeader,
                                   ResponseUserHeader>& pending,
                   CompletionToken&& token) {
  using Port =
      PendingResponse<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  using Value = std::optional<typename Port::ResponseType>;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port) {
        detail::start_asio_operation<Value>(std::move(handler), [&] { return port->receive(); });
      },
      token, &pending);
}

/// Copies `response` into shared memory and sends it; with Backpressure::block, waits for room
/// in the client's buffer without blocking the thread. Completes with (error, delivered):
/// delivered is false when the client stopped listening or went away; error is
/// operation_aborted when cancelled (or the ActiveRequest or Server went away first; the
/// response is then not sent), Errc::exceeds_max_loans when no response can be loaned.
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_send_copy(
    ActiveRequest<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>& active,
    const ResponsePayload& response, CompletionToken&& token) {
  using Port =
      ActiveRequest<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  return asio::async_initiate<CompletionToken, void(std::error_code, bool)>(
      [](auto handler, Port* port, const ResponsePayload* value) {
        detail::start_asio_operation<bool>(std::move(handler),
                                           [&] { return port->async_send_copy(*value); });
      },
      token, &active, &response);
}

/// async_send_copy for a floe::Slice<T> response: copies `response`'s elements (any contiguous
/// range of T converts to the span) into a slice of its size when initiated, then sends it as
/// above. error is also Errc::exceeds_max_slice_len when it is longer than the server's
/// max_slice_len() (nothing is sent).
template <typename RequestPayload, typename T, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_send_copy(
    ActiveRequest<RequestPayload, Slice<T>, RequestUserHeader, ResponseUserHeader>& active,
    std::type_identity_t<std::span<const T>> response, CompletionToken&& token) {
  using Port = ActiveRequest<RequestPayload, Slice<T>, RequestUserHeader, ResponseUserHeader>;
  return asio::async_initiate<CompletionToken, void(std::error_code, bool)>(
      [](auto handler, Port* port, std::span<const T> values) {
        detail::start_asio_operation<bool>(std::move(handler),
                                           [&] { return port->async_send_copy(values); });
      },
      token, &active, response);
}

/// Sends a loaned response, waiting for room like async_send_copy.
template <typename ResponsePayload, typename ResponseUserHeader, typename CompletionToken>
auto async_send(ResponseMut<ResponsePayload, ResponseUserHeader>&& response,
                CompletionToken&& token) {
  using Loan = ResponseMut<ResponsePayload, ResponseUserHeader>;
  return asio::async_initiate<CompletionToken, void(std::error_code, bool)>(
      [](auto handler, Loan* loan) {
        detail::start_asio_operation<bool>(std::move(handler),
                                           [&] { return std::move(*loan).async_send(); });
      },
      token, &response);
}

/// Loans a value-initialized response to `active`, waiting without blocking the thread while
/// it has max_loaned_responses_per_request responses loaned (see ActiveRequest::LoanOperation).
/// Completes with (error, ResponseMut); error is operation_aborted when cancelled (or when the
/// ActiveRequest goes away first; nothing is then loaned). The ResponseMut is empty on error.
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_loan(
    ActiveRequest<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>& active,
    CompletionToken&& token) {
  using Port =
      ActiveRequest<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  using Value = typename Port::Loan;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port) {
        detail::start_asio_operation<Value>(std::move(handler), [&] { return port->async_loan(); });
      },
      token, &active);
}

/// async_loan for a floe::Slice<T> response of `n` value-initialized elements. error is also
/// Errc::exceeds_max_slice_len, at once, when n is above the server's max_slice_len() and the
/// server does not grow (AllocationStrategy::fixed), or when growing failed.
template <typename RequestPayload, typename T, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_loan_slice(
    ActiveRequest<RequestPayload, Slice<T>, RequestUserHeader, ResponseUserHeader>& active,
    std::uint64_t n, CompletionToken&& token) {
  using Port = ActiveRequest<RequestPayload, Slice<T>, RequestUserHeader, ResponseUserHeader>;
  using Value = typename Port::Loan;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port, std::uint64_t length) {
        detail::start_asio_operation<Value>(std::move(handler),
                                            [&] { return port->async_loan_slice(length); });
      },
      token, &active, n);
}

/// Loans a value-initialized request, waiting without blocking the thread while the client has
/// max_loaned_requests requests loaned (see Client::LoanOperation). Completes with (error,
/// RequestMut); error is operation_aborted when cancelled (or when the Client goes away first;
/// nothing is then loaned). The RequestMut is empty on error.
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_loan(
    Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>& client,
    CompletionToken&& token) {
  using Port = Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  using Value = typename Port::Loan;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port) {
        detail::start_asio_operation<Value>(std::move(handler), [&] { return port->async_loan(); });
      },
      token, &client);
}

/// async_loan for a floe::Slice<T> request of `n` value-initialized elements. error is also
/// Errc::exceeds_max_slice_len, at once, when n is above the client's max_slice_len() and the
/// client does not grow (AllocationStrategy::fixed), or when growing failed.
template <typename T, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_loan_slice(
    Client<Slice<T>, ResponsePayload, RequestUserHeader, ResponseUserHeader>& client,
    std::uint64_t n, CompletionToken&& token) {
  using Port = Client<Slice<T>, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  using Value = typename Port::Loan;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port, std::uint64_t length) {
        detail::start_asio_operation<Value>(std::move(handler),
                                            [&] { return port->async_loan_slice(length); });
      },
      token, &client, n);
}

/// Waits until the client's service has a server. Completes with (error, found): found is true
/// once a server is there (at once if one is), false when `timeout` passed first; error is
/// operation_aborted when cancelled (or when the Client goes away first).
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_wait_for_server(
    Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>& client,
    std::chrono::nanoseconds timeout, CompletionToken&& token) {
  using Port = Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  return asio::async_initiate<CompletionToken, void(std::error_code, bool)>(
      [](auto handler, Port* port, std::chrono::nanoseconds wait) {
        detail::start_asio_operation<bool>(std::move(handler),
                                           [&] { return port->wait_for_server(wait); });
      },
      token, &client, timeout);
}

/// floe::call in Asio: waits for a server, sends a copy of `request` (copied when this is
/// called) and completes with (error, Response), the first response; all within `timeout`.
/// error is Errc::no_server (no server came in time, or the request reached none),
/// Errc::timed_out (a server got it, no response came in time), Errc::no_response (the stream
/// ended without one), operation_aborted when cancelled (or when the Client goes away first),
/// Errc::exceeds_max_loans when no request can be loaned. The Response is empty on error.
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_call(
    Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>& client,
    const RequestPayload& request, std::chrono::nanoseconds timeout, CompletionToken&& token) {
  using Port = Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  using Value = Response<ResponsePayload, ResponseUserHeader>;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port, const RequestPayload* value, std::chrono::nanoseconds wait) {
        detail::start_asio_operation<Value>(std::move(handler),
                                            [&] { return call(*port, *value, wait); });
      },
      token, &client, &request, timeout);
}

/// async_call for a floe::Slice<T> request: copies `request`'s elements (any contiguous range
/// of T converts to the span) into a slice of its size when initiated, then completes as
/// above. error is also Errc::exceeds_max_slice_len when it is longer than the client's
/// max_slice_len() (nothing is sent).
template <typename T, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader, typename CompletionToken>
auto async_call(Client<Slice<T>, ResponsePayload, RequestUserHeader, ResponseUserHeader>& client,
                std::type_identity_t<std::span<const T>> request, std::chrono::nanoseconds timeout,
                CompletionToken&& token) {
  using Port = Client<Slice<T>, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  using Value = Response<ResponsePayload, ResponseUserHeader>;
  return asio::async_initiate<CompletionToken, void(std::error_code, Value)>(
      [](auto handler, Port* port, std::span<const T> values, std::chrono::nanoseconds wait) {
        detail::start_asio_operation<Value>(std::move(handler),
                                            [&] { return call(*port, values, wait); });
      },
      token, &client, request, timeout);
}

/// The same, completing on `executor` when the token brings none (a plain callback).
template <typename Executor, typename Port, typename CompletionToken>
requires asio::execution::is_executor<Executor>::value auto async_receive(const Executor& executor,
                                                                          Port& port,
                                                                          CompletionToken&& token) {
  return async_receive(port, asio::bind_executor(executor, std::forward<CompletionToken>(token)));
}

}  // namespace floe
