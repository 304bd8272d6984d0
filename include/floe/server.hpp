#pragma once
// The server side: receive requests as ActiveRequests and answer each with a stream of
// responses, copied or loaned and written in place.
//
// Lifetimes: an ActiveRequest keeps its server's port alive (the Server may go first); a
// ResponseMut (or a send operation not yet awaited) may outlive its ActiveRequest too: the
// stream then ends once the last of them is sent or dropped. One thread at a time may use a
// Server and what came from it.

#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <utility>

#include "floe/detail/forward.hpp"
#include "floe/detail/operation.hpp"
#include "floe/detail/payload_access.hpp"
#include "floe/detail/ports.hpp"
#include "floe/detail/unique_handle.hpp"
#include "floe/error.hpp"
#include "floe/header.hpp"
#include "floe/shm_compatible.hpp"
#include "floe/slice.hpp"

namespace floe {

namespace detail {

/// `co_await` a response send that waits for room in the client's buffer (safe overflow off):
/// only the awaiting task suspends, woken when the client takes a response. Yields true once
/// delivered, false when the client stopped listening, went away or died, or the buffer was full
/// under Backpressure::discard. Throws Errc::cancelled / timed_out (stop token, runtime stop,
/// the ActiveRequest or Server going away, with_timeout): the response is then not sent.
class ResponseSendOperation : public AwaitableOperation<ResponseSendOperation, bool> {
 public:
  /// Only before it is awaited (with_timeout moves it).
  ResponseSendOperation(ResponseSendOperation&&) noexcept = default;
  /// A response not sent yet goes back to the pool.
  ~ResponseSendOperation() override = default;

 private:
  friend class AwaitableOperation<ResponseSendOperation, bool>;
  template <typename, typename>
  friend class floe::ResponseMut;
  using Loan = UniqueHandle<ServerCore*, LoanedResponse>;
  explicit ResponseSendOperation(Loan loan) noexcept : loan_(std::move(loan)) {}

  /// True once settled either way.
  bool attempt() noexcept {
    if (!loan_) return true;
    const std::optional<bool> delivered = loan_.core().send_once(active(), loan_.held().chunk);
    if (!delivered) return false;
    loan_.hand_over();  // delivered, or returned to the pool by the core
    delivered_ = *delivered;
    return true;
  }
  bool take_value() const noexcept { return delivered_; }
  bool poll(const PollContext& context) noexcept override {
    if (attempt()) return true;
    if (context.peers_changed && !loan_.core().is_connected(active())) {
      loan_.reset();
      return true;
    }
    return false;
  }
  DoorbellWords doorbell() const noexcept override { return loan_.core().doorbell(); }
  void watch_processes(WakeSources& sources) const override {
    loan_.core().watch_client(active(), sources);
  }
  PortOperations* port_operations() const noexcept override {
    return &loan_.core().stream_operations(active());
  }
  const char* awaited() const noexcept override {
    return "room in the client's response buffer (Backpressure::block)";
  }
  void on_interrupted() noexcept override { loan_.reset(); }
  const ServerCore::Active& active() const noexcept { return loan_.held().active; }

  Loan loan_;  // empty once the chunk is handed over or returned
  bool delivered_ = false;
};

}  // namespace detail

/// A response loaned in shared memory: write it in place, then send it. Used by the thread that
/// uses its ActiveRequest.
template <typename ResponsePayload, typename ResponseUserHeader = NoUserHeader>
class ResponseMut {
  using Access = detail::PayloadAccess<ResponsePayload>;

 public:
  /// Holds no loan, as after a move: only for interfaces that need a value alongside an error
  /// (an Asio handler's `void(std::error_code, ResponseMut)`).
  ResponseMut() noexcept = default;
  /// Takes over the loan; `other` holds nothing any more.
  ResponseMut(ResponseMut&&) noexcept = default;
  /// Returns the loan held to the pool, then takes over `other`'s.
  ResponseMut& operator=(ResponseMut&&) noexcept = default;
  /// An unsent response goes back to the pool.
  ~ResponseMut() = default;

  /// The payload to write in place, in shared memory: for a floe::Slice<T> payload, a
  /// std::span<T> of the length loaned (ActiveRequest::loan_slice(n): n elements).
  typename Access::Mutable payload() noexcept {
    return Access::mutable_at(view().payload, view().length);
  }
  /// The same, read-only.
  typename Access::Const payload() const noexcept {
    return Access::const_at(view().payload, view().length);
  }
  /// payload().
  typename Access::Mutable operator*() noexcept { return payload(); }
  /// &payload(); not for a slice (use payload() or *response).
  ResponsePayload* operator->() noexcept requires(!detail::SliceTraits<ResponsePayload>::is_slice) {
    return &payload();
  }
  /// The elements of a slice response: the n it was loaned with, fixed for its life.
  std::size_t size() const noexcept requires detail::SliceTraits<ResponsePayload>::is_slice {
    return static_cast<std::size_t>(view().length);
  }
  /// The user header to write in place (value-initialized by loan()). The ResponseHeader is
  /// the server core's, written when sent.
  ResponseUserHeader& user_header() noexcept {
    return *detail::object_at<ResponseUserHeader>(view().user_header);
  }

  /// False when it could not be delivered: the client stopped listening, or its buffer was full
  /// with safe overflow off and Backpressure::discard. With Backpressure::block, blocks the
  /// thread until the client makes room (in a coroutine, prefer async_send()). True does not
  /// mean it will be read: with safe overflow a newer response may overwrite it in the client's
  /// buffer; the client sees that in PendingResponse::number_of_overwritten_responses().
  bool send() && noexcept {
    const detail::LoanedResponse& held = handle_.held();
    return handle_.hand_over()->send(held.active, held.chunk) ==
           detail::ServerCore::SendStatus::delivered;
  }

  /// Awaitable send: `bool delivered = co_await std::move(response).async_send();` With
  /// Backpressure::block only this task waits for room; see detail::ResponseSendOperation.
  [[nodiscard]] detail::ResponseSendOperation async_send() && noexcept {
    return detail::ResponseSendOperation(std::move(handle_));
  }

 private:
  template <typename, typename, typename, typename>
  friend class floe::ActiveRequest;
  ResponseMut(detail::ServerCore* core, const detail::ServerCore::Active& active,
              detail::ChunkView view, std::uint32_t chunk) noexcept
      : handle_(core, {active, view, chunk}) {}
  const detail::ChunkView& view() const noexcept { return handle_.held().view; }

  detail::UniqueHandle<detail::ServerCore*, detail::LoanedResponse> handle_;
};

/// One request as a server holds it open. Dropping it ends the stream for its client (and
/// cancels a send of it still waiting for room). Threads: used (with its ResponseMuts) by one
/// thread at a time, independently of its Server and of the Server's other ActiveRequests: it
/// touches only its own stream, so each may be answered on a thread of its own while the
/// Server receives on another. An awaited send of it counts as a use until it completes.
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class ActiveRequest {
  using RequestAccess = detail::PayloadAccess<RequestPayload>;
  static constexpr bool kSliceResponses = detail::SliceTraits<ResponsePayload>::is_slice;
  using ResponseElement = typename detail::SliceTraits<ResponsePayload>::element;

 public:
  /// A loaned response to this request.
  using Loan = ResponseMut<ResponsePayload, ResponseUserHeader>;

  /// Holds no request, as after a move: only for interfaces that need a value alongside an
  /// error (an Asio handler's `void(std::error_code, ActiveRequest)`).
  ActiveRequest() noexcept = default;
  /// Takes over the request; `other` holds nothing any more.
  ActiveRequest(ActiveRequest&&) noexcept = default;
  /// Ends the stream held (as the destructor does), then takes over `other`'s.
  ActiveRequest& operator=(ActiveRequest&&) noexcept = default;
  /// Ends the client's stream: its receive yields std::nullopt once it has what was sent. A
  /// send of it still awaiting is cancelled; while ResponseMuts of it are still loaned, the
  /// stream ends only once the last of them is sent (and delivered) or dropped.
  ~ActiveRequest() = default;

  /// The request in shared memory, valid while this ActiveRequest lives: for a floe::Slice<T>
  /// payload, a std::span<const T> of the length the client sent (checked against the chunk
  /// when received; a request whose length did not fit was refused, never delivered).
  typename RequestAccess::Const payload() const noexcept {
    return RequestAccess::const_at(active().request.payload, active().request.length);
  }
  /// payload().
  typename RequestAccess::Const operator*() const noexcept { return payload(); }
  /// &payload(); not for a slice (use payload() or *active).
  const RequestPayload* operator->() const noexcept
      requires(!detail::SliceTraits<RequestPayload>::is_slice) {
    return &payload();
  }
  /// The request's header: the client's id and the request id.
  const RequestHeader& header() const noexcept {
    return *detail::object_at<const RequestHeader>(active().request.header);
  }
  /// The user header the client wrote.
  const RequestUserHeader& user_header() const noexcept {
    return *detail::object_at<const RequestUserHeader>(active().request.user_header);
  }
  /// The client that sent the request.
  ClientId origin() const noexcept { return active().client_id; }

  /// False once the client dropped its PendingResponse, went away or died.
  bool is_connected() const noexcept { return handle_.core().is_connected(active()); }
  /// True once the client called PendingResponse::set_disconnect_hint(): it will stop
  /// listening soon, so send what is left and drop this. A hint, nothing more: sends still
  /// deliver. False again once the PendingResponse is gone (is_connected() says so then).
  bool has_disconnect_hint() const noexcept { return handle_.core().has_disconnect_hint(active()); }

  /// A value-initialized response. Throws floe::Error(exceeds_max_loans). For a floe::Slice
  /// response: loan_slice(n).
  Loan loan() requires(!kSliceResponses) { return loan_as(detail::ValueInitialize{}); }

  /// A response whose payload is default-initialized, not value-initialized: for a trivial
  /// payload its bytes are whatever the chunk last held (an earlier response on this channel),
  /// so a 64 MiB response costs no 64 MiB zero fill. Write all of it before sending. The
  /// header is written by send() as for loan(). Throws floe::Error(exceeds_max_loans).
  Loan loan_uninit() requires(!kSliceResponses) { return loan_as(detail::DefaultInitialize{}); }

  /// Copies `response` into shared memory (one pass: the chunk is not zeroed first) and sends
  /// it; see ResponseMut::send.
  bool send_copy(const ResponsePayload& response) requires(!kSliceResponses) {
    return loan_as(detail::CopyOf<ResponsePayload>{response}).send();
  }

  /// Awaitable: `bool delivered = co_await active.async_send_copy(response);` Copies now; with
  /// Backpressure::block only this task waits for room. Throws floe::Error(exceeds_max_loans)
  /// at once like loan().
  [[nodiscard]] detail::ResponseSendOperation async_send_copy(
      const ResponsePayload& response) requires(!kSliceResponses) {
    return loan_as(detail::CopyOf<ResponsePayload>{response}).async_send();
  }

  /// A response of a floe::Slice<T> service holding `n` value-initialized elements in shared
  /// memory (payload() is a std::span<T> of size n; 0 is allowed). Throws
  /// floe::Error(exceeds_max_slice_len) when n is above the server's max_slice_len(), before
  /// taking a chunk; (exceeds_max_loans) as loan() does.
  Loan loan_slice(std::uint64_t n) requires kSliceResponses {
    return loan_slice_as(n, detail::ValueInitializeElements{});
  }

  /// loan_slice(n) without the fill: the elements are default-initialized, so for a trivial T
  /// they hold whatever the chunk last held, and a 1 MiB slice costs no 1 MiB zero fill. Write
  /// all n before sending. Throws as loan_slice() does.
  Loan loan_slice_uninit(std::uint64_t n) requires kSliceResponses {
    return loan_slice_as(n, detail::DefaultInitializeElements{});
  }

  /// Awaitable: `auto response = co_await active.async_loan();` (or
  /// `co_await active.async_loan_slice(n)`) waits, suspending only this task, while this
  /// request has max_loaned_responses_per_request responses loaned: woken when one of them is
  /// sent (or its awaited send settles) or dropped. It also waits while every chunk of the
  /// stream is queued or held by the client, which an honest client never lets happen (each
  /// stream has a chunk per loan besides the client's buffer and borrows); such a chunk freed
  /// is seen at the next wake-up, the loop's safety recheck at the latest, and a client that
  /// died is reclaimed, its chunks freed. Throws floe::Error(cancelled) when `token` is
  /// stopped, the runtime stops or this ActiveRequest goes (the Server going changes nothing:
  /// the ActiveRequest holds the port); (timed_out) under floe::with_timeout; (corrupted). A
  /// slice longer than the server's max_slice_len() that it cannot grow to
  /// (AllocationStrategy::fixed, or a growth refused) throws (exceeds_max_slice_len) at once,
  /// without waiting: no chunk will ever hold it.
  class LoanOperation : public detail::AwaitableOperation<LoanOperation, Loan> {
   public:
    /// Waits on `request`'s stream, which may move meanwhile (its going cancels this); holds
    /// its own reference to the port. `length`: the elements of a slice response (0 for a
    /// fixed payload).
    LoanOperation(ActiveRequest& request, std::uint64_t length, std::stop_token token)
        : core_(request.handle_.core().shared_from_this()),
          active_(request.active()),
          length_(length) {
      this->set_stop_token(std::move(token));
    }
    /// Only before it is awaited (with_timeout moves it).
    LoanOperation(LoanOperation&&) noexcept = default;

   private:
    friend class detail::AwaitableOperation<LoanOperation, Loan>;
    using PollContext = detail::Operation::PollContext;

    bool attempt() noexcept {
      std::uint32_t chunk = 0;
      detail::ChunkView view;
      if constexpr (kSliceResponses) {
        if (!core_->try_loan(active_, chunk, length_, view, this->failure())) {
          return record_damage();
        }
        if (this->failed()) return true;  // nothing was taken
      } else {
        if (!core_->try_loan(active_, chunk)) return record_damage();
        view = core_->chunk_view(active_, chunk);
      }
      loan_ = LoanHandle(core_.get(), {active_, view, chunk});
      return true;
    }
    Loan take_value() noexcept {
      const detail::ChunkView view = loan_.held().view;
      if constexpr (kSliceResponses) {
        detail::begin_slice_chunk<ResponseUserHeader, ResponseElement>(
            view, detail::ValueInitializeElements{});
      } else {
        detail::begin_chunk<ResponseUserHeader, ResponsePayload>(view, detail::ValueInitialize{});
      }
      return Loan(loan_.hand_over(), active_, view, loan_.held().chunk);
    }
    bool record_damage() noexcept {
      if (!core_->damaged()) return false;
      core_->describe_damage(this->failure());
      return true;
    }
    bool poll(const PollContext& context) noexcept override {
      if (context.peers_changed) core_->recheck_client(active_);
      return attempt();
    }
    detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
    void watch_processes(detail::WakeSources& sources) const override {
      core_->watch_client(active_, sources);
    }
    detail::PortOperations* port_operations() const noexcept override {
      return &core_->stream_operations(active_);
    }
    const char* awaited() const noexcept override {
      return "a response to loan (max_loaned_responses_per_request)";
    }

    using LoanHandle = detail::UniqueHandle<detail::ServerCore*, detail::LoanedResponse>;
    std::shared_ptr<detail::ServerCore> core_;  // declared first: the loan gives back before
    detail::ServerCore::Active active_;
    std::uint64_t length_;
    LoanHandle loan_;  // the chunk taken, until the awaiting task takes it over
  };
  /// The awaitable loan; see LoanOperation. For a floe::Slice response: async_loan_slice(n).
  /// Never throws itself.
  [[nodiscard]] LoanOperation async_loan(std::stop_token token = {}) requires(!kSliceResponses) {
    return LoanOperation(*this, 0, std::move(token));
  }
  /// The awaitable loan of a slice response of `n` value-initialized elements; see
  /// LoanOperation. Never throws itself: n above the server's max_slice_len() completes the
  /// co_await with floe::Error(exceeds_max_slice_len) at once.
  [[nodiscard]] LoanOperation async_loan_slice(std::uint64_t n, std::stop_token token = {}) requires
      kSliceResponses {
    return LoanOperation(*this, n, std::move(token));
  }

  /// Copies the elements of `response` into a slice response of response.size() elements (one
  /// pass, no zero fill) and sends it; see ResponseMut::send. Throws as loan_slice() does.
  bool send_copy(std::span<const ResponseElement> response) requires kSliceResponses {
    return loan_slice_as(response.size(), detail::CopyOfElements<ResponseElement>{response}).send();
  }

  /// Awaitable: `bool delivered = co_await active.async_send_copy(span);` Copies now; with
  /// Backpressure::block only this task waits for room. Throws floe::Error(exceeds_max_slice_len,
  /// exceeds_max_loans) at once like loan_slice().
  [[nodiscard]] detail::ResponseSendOperation async_send_copy(
      std::span<const ResponseElement> response) requires kSliceResponses {
    return loan_slice_as(response.size(), detail::CopyOfElements<ResponseElement>{response})
        .async_send();
  }

 private:
  template <typename, typename, typename, typename>
  friend class floe::Server;
  ActiveRequest(std::shared_ptr<detail::ServerCore> core,
                const detail::ServerCore::Active& active) noexcept
      : handle_(std::move(core), {active}) {}
  const detail::ServerCore::Active& active() const noexcept { return handle_.held().active; }
  template <typename BeginPayload>
  Loan loan_as(BeginPayload begin_payload) {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = handle_.core().loan(active(), chunk);
    detail::begin_chunk<ResponseUserHeader, ResponsePayload>(view, begin_payload);
    return Loan(&handle_.core(), active(), view, chunk);
  }
  template <typename BeginElements>
  Loan loan_slice_as(std::uint64_t n, BeginElements begin_elements) {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = handle_.core().loan(active(), chunk, n);
    detail::begin_slice_chunk<ResponseUserHeader, ResponseElement>(view, begin_elements);
    return Loan(&handle_.core(), active(), view, chunk);
  }

  detail::UniqueHandle<std::shared_ptr<detail::ServerCore>, detail::HeldRequest> handle_;
};

/// Threads: the Server itself (try_receive, receive) is used by one thread at a time, and a
/// receive waiting in an event loop counts as a use until it completes; its ActiveRequests are
/// independent of it (see ActiveRequest). Distinct servers are independent.
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class Server {
 public:
  /// A request received, held open.
  using Active =
      ActiveRequest<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;

  /// Takes over the port; `other` holds nothing any more (a receive awaiting keeps waiting: it
  /// holds the port itself).
  Server(Server&&) noexcept = default;
  /// Cancels the receives waiting on the port held (as the destructor does), then takes over
  /// `other`'s.
  Server& operator=(Server&& other) noexcept {
    if (this != &other) {
      cancel_receives();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  /// Receives still waiting complete as cancelled. The port itself stays until its last
  /// ActiveRequest is gone.
  ~Server() { cancel_receives(); }

  /// This server's id within the service: the ResponseHeader::server_id of its responses.
  ServerId id() const noexcept { return core_->id(); }
  /// The responses this server may hold loaned per request (its builder's
  /// max_loaned_responses_per_request, the service's unless set lower).
  std::uint32_t max_loaned_responses_per_request() const noexcept {
    return core_->max_loaned_responses_per_request();
  }
  /// What a send does when a client's response buffer is full and safe overflow is off (its
  /// builder's backpressure()).
  Backpressure backpressure() const noexcept { return core_->backpressure(); }
  /// The most elements a response of this server may hold (floe::Slice services). A port of a fixed
  /// allocation_strategy (the default): its builder's initial_max_slice_len, the service's
  /// response_max_slice_len unless set lower. A growing port (power_of_two or best_fit):
  /// floe::kMaxSliceLen = 2^32 - 1, whatever its builder's initial_max_slice_len (its
  /// data segments are further capped at 4 GiB per slot and 64 GiB in all).
  std::uint64_t max_slice_len()
      const noexcept requires detail::SliceTraits<ResponsePayload>::is_slice {
    return core_->max_slice_len();
  }

  /// The next request, if one is there. Never blocks. Throws Errc::corrupted once another
  /// process damaged the service's shared memory.
  std::optional<Active> try_receive() {
    detail::Failure failure;
    auto active = core_->try_receive(failure);
    if (failure) failure.raise();
    if (!active) return std::nullopt;
    return Active(core_, *active);
  }
  /// Whether a request is waiting (it may still be withdrawn before try_receive()).
  bool has_requests() const noexcept { return core_->has_requests(); }

  /// Awaitable: `co_await server.receive()` yields the next request, suspending in the runtime
  /// until one arrives. Throws floe::Error(cancelled) when `token` is stopped or the runtime
  /// stops, (timed_out) under floe::with_timeout; a request is never taken and then lost.
  class ReceiveOperation : public detail::AwaitableOperation<ReceiveOperation, Active> {
   public:
    /// Holds its own reference to `server`'s port: the Server may move meanwhile, and its
    /// going cancels this.
    ReceiveOperation(Server& server, std::stop_token token) : core_(server.core_) {
      this->set_stop_token(std::move(token));
    }
    /// Only before it is awaited (with_timeout moves it).
    ReceiveOperation(ReceiveOperation&&) noexcept = default;

   private:
    friend class detail::AwaitableOperation<ReceiveOperation, Active>;
    using PollContext = detail::Operation::PollContext;

    bool attempt() noexcept {
      // The request takes over the operation's reference to the port: one count per request.
      if (auto active = core_->try_receive(this->failure())) {
        result_.emplace(Active(std::move(core_), *active));
      }
      return result_.has_value() || this->failure();  // Errc::corrupted
    }
    Active take_value() noexcept { return std::move(*result_); }
    bool poll(const PollContext& context) noexcept override {
      if (context.peers_changed) core_->check_size();  // at every safety recheck, too
      return attempt();
    }
    detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
    detail::PortOperations* port_operations() const noexcept override {
      return &core_->receive_operations();
    }
    const char* awaited() const noexcept override { return "a request"; }

    // Its own reference: the Server may move or go while this waits (it is then cancelled).
    std::shared_ptr<detail::ServerCore> core_;
    std::optional<Active> result_;
  };

  /// The awaitable next request; see ReceiveOperation. Never throws itself.
  [[nodiscard]] ReceiveOperation receive(std::stop_token token = {}) {
    return ReceiveOperation(*this, std::move(token));
  }

 private:
  template <typename, typename, typename, typename>
  friend class floe::ServerBuilder;
  explicit Server(std::shared_ptr<detail::ServerCore> core) noexcept : core_(std::move(core)) {}
  void cancel_receives() noexcept {
    if (core_ != nullptr) core_->receive_operations().cancel_all();
  }

  std::shared_ptr<detail::ServerCore> core_;
};

/// Sets a server's own limits, then creates it: Service::server_builder().create(). May outlive
/// its Service (it holds the segment).
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class ServerBuilder {
 public:
  /// At most the service's max_loaned_responses_per_request.
  ServerBuilder& max_loaned_responses_per_request(std::uint32_t value) noexcept {
    max_loaned_responses_per_request_ = value;
    return *this;
  }
  /// What a send does when a client's response buffer is full and safe overflow is off.
  ServerBuilder& backpressure(Backpressure value) noexcept {
    backpressure_ = value;
    return *this;
  }
  /// The most elements a response of this server may hold (floe::Slice responses): a loan
  /// above it throws floe::Error(exceeds_max_slice_len). At most the service's
  /// response_max_slice_len, which is the default; every response chunk has room for that
  /// many, so a lower cap bounds what this server sends, not the memory it uses. 0 is taken
  /// as 1. A growing port (allocation_strategy) may ask for more: it reserves a data segment
  /// for that many when created, so its first long loans do not grow.
  ServerBuilder& initial_max_slice_len(
      std::uint64_t n) noexcept requires detail::SliceTraits<ResponsePayload>::is_slice {
    initial_max_slice_len_ = n;
    return *this;
  }
  /// What a loan of more elements than this port may loan now does (floe::Slice responses):
  /// AllocationStrategy::fixed (the default) throws floe::Error(exceeds_max_slice_len);
  /// power_of_two and best_fit grow the port, within the service's response_max_slice_len for free,
  /// beyond it into data segments of the port's own (a slow path: see AllocationStrategy).
  ServerBuilder& allocation_strategy(AllocationStrategy strategy) noexcept requires
      detail::SliceTraits<ResponsePayload>::is_slice {
    allocation_strategy_ = strategy;
    return *this;
  }

  /// A server with its own port in the service; it may outlive the Service and the builder.
  /// Throws floe::Error(exceeds_max_servers) when the service has all its servers,
  /// (incompatible_limits) when max_loaned_responses_per_request is 0 or above the service's,
  /// or initial_max_slice_len above the service's response_max_slice_len (a growing port:
  /// above floe::kMaxSliceLen; or exceeds_max_slice_len / out_of_memory when its data segment
  /// cannot be made).
  Server<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader> create() const {
    if (max_loaned_responses_per_request_ == 0 ||
        max_loaned_responses_per_request_ > service_max_) {
      throw Error(Errc::incompatible_limits,
                  "floe: a server's max_loaned_responses_per_request(n) must be from 1 to the "
                  "service's max_loaned_responses_per_request = " +
                      std::to_string(service_max_) +
                      "; ask for fewer, or create the service with a larger "
                      "max_loaned_responses_per_request");
    }
    return Server<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>(
        std::make_shared<detail::ServerCore>(
            segment_, max_loaned_responses_per_request_, backpressure_,
            detail::slice_policy(initial_max_slice_len_, allocation_strategy_)));
  }

 private:
  template <typename, typename, typename, typename>
  friend class floe::Service;
  /// Made by Service::server_builder().
  ServerBuilder(std::shared_ptr<detail::ServiceSegment> segment, std::uint32_t service_max_loans)
      : segment_(std::move(segment)),
        service_max_(service_max_loans),
        max_loaned_responses_per_request_(service_max_loans) {}

  std::shared_ptr<detail::ServiceSegment> segment_;
  std::uint32_t service_max_;
  std::uint32_t max_loaned_responses_per_request_;
  Backpressure backpressure_ = Backpressure::discard;
  std::optional<std::uint64_t> initial_max_slice_len_;  // the service's unless set
  AllocationStrategy allocation_strategy_ = AllocationStrategy::fixed;
};

}  // namespace floe
