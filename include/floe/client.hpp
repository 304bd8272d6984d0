#pragma once
// The client side: loan a request in shared memory, send it, and receive the stream of
// responses through its PendingResponse.
//
// Lifetimes: a RequestMut or PendingResponse keeps its client's port alive (the Client may go
// first); a Response may outlive its PendingResponse too (it then keeps the port, and its
// request slot, until it goes). One thread at a time may use a Client and what came from it.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <new>
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
#include "floe/stream_end.hpp"

namespace floe {
namespace detail {

/// An operation that waits on its client's own doorbell and is listed with the client's waits
/// for loans and channels, so that the Client going cancels it (async_loan, wait_for_server,
/// floe::call). It holds its own reference to the port: the Client may move while it waits.
/// `Derived` provides attempt() as AwaitableOperation asks, befriending this class too.
template <typename Derived, typename Value>
class ClientWait : public AwaitableOperation<Derived, Value> {
 protected:
  explicit ClientWait(std::shared_ptr<ClientCore> core) noexcept : core_(std::move(core)) {}
  ClientWait(ClientWait&&) noexcept = default;

  bool poll(const Operation::PollContext& context) noexcept override {
    if (context.peers_changed) core_->check_size();
    return static_cast<Derived&>(*this).attempt();
  }
  DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  PortOperations* port_operations() const noexcept override { return &core_->slot_operations(); }

  std::shared_ptr<ClientCore> core_;
};

}  // namespace detail

/// A response as it lies in shared memory, borrowed from its server until dropped. Used by the
/// thread that uses its Client (see Client).
template <typename ResponsePayload, typename ResponseUserHeader = NoUserHeader>
class Response {
  using Access = detail::PayloadAccess<ResponsePayload>;

 public:
  /// Holds no response, as after a move: only for interfaces that need a value alongside an
  /// error (an Asio handler's `void(std::error_code, Response)`, floe::async_call).
  Response() noexcept = default;
  /// Takes over the borrowed response; `other` holds nothing any more.
  Response(Response&&) noexcept = default;
  /// Gives back the response held, then takes over `other`'s.
  Response& operator=(Response&&) noexcept = default;
  /// Gives the chunk back to its server. May come after its PendingResponse (and Client) went:
  /// until then the request slot it came through is not reused.
  ~Response() = default;

  /// The payload in shared memory, valid while this Response lives: for a floe::Slice<T>
  /// payload, a std::span<const T> of the length the server sent (checked against the chunk).
  typename Access::Const payload() const noexcept {
    const detail::ChunkView& view = handle_.held().received.view;
    return Access::const_at(view.payload, view.length);
  }
  /// payload().
  typename Access::Const operator*() const noexcept { return payload(); }
  /// &payload(); not for a slice (use payload() or *response).
  const ResponsePayload* operator->() const noexcept
      requires(!detail::SliceTraits<ResponsePayload>::is_slice) {
    return &payload();
  }
  /// The header the server's core wrote: its id, the request id, the sequence number.
  const ResponseHeader& header() const noexcept {
    return *detail::object_at<const ResponseHeader>(handle_.held().received.view.header);
  }
  /// The user header the server wrote (NoUserHeader when the service has none).
  const ResponseUserHeader& user_header() const noexcept {
    return *detail::object_at<const ResponseUserHeader>(handle_.held().received.view.user_header);
  }
  /// The server that sent it: its Server::id(), as in header().server_id.
  ServerId origin() const noexcept { return header().server_id; }

 private:
  template <typename, typename, typename, typename>
  friend class floe::PendingResponse;
  Response(detail::ClientCore* core, std::uint32_t channel,
           const detail::ClientCore::Received& received) noexcept
      : handle_(core, {channel, received}) {}

  detail::UniqueHandle<detail::ClientCore*, detail::BorrowedResponse> handle_;
};

/// The stream of responses to one request. Used by the thread that uses its Client (see Client).
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class PendingResponse {
  using RequestAccess = detail::PayloadAccess<RequestPayload>;

 public:
  /// What receive() and try_receive() yield.
  using ResponseType = Response<ResponsePayload, ResponseUserHeader>;

  /// Takes over the stream; `other` holds nothing any more (a receive awaiting on the stream
  /// keeps waiting: it waits on the stream, not on this object).
  PendingResponse(PendingResponse&&) noexcept = default;
  /// Drops the stream held (as the destructor does), then takes over `other`'s.
  PendingResponse& operator=(PendingResponse&&) noexcept = default;
  /// Tells the servers nobody listens any more; their later responses are discarded. A
  /// receive still waiting completes as cancelled.
  ~PendingResponse() = default;

  /// The next response, if one is there. Never blocks. Throws floe::Error(exceeds_max_loans)
  /// when max_borrowed_responses_per_pending_response responses are still held.
  std::optional<ResponseType> try_receive() {
    detail::Failure failure;
    auto response = receive_from(core(), channel(), failure);
    if (failure) failure.raise();
    return response;
  }

  /// False as soon as every server the request reached has dropped its ActiveRequest, gone
  /// away or died, as in iceoryx2, even while responses they sent are still buffered: those
  /// are still delivered. Polling, drain after the end:
  ///
  ///   while (pending.is_connected()) {
  ///     while (auto r = pending.try_receive()) use(*r);
  ///     wait_a_little();
  ///   }
  ///   while (auto r = pending.try_receive()) use(*r);  // sent before the end, still there
  ///
  /// `co_await receive()` does this itself: its std::nullopt comes after the last response.
  bool is_connected() const noexcept { return core().is_connected(channel()); }
  /// Whether a response is there to take now: try_receive() would yield one (unless
  /// max_borrowed_responses_per_pending_response are held). Never waits, takes nothing.
  bool has_response() const noexcept { return core().has_response(channel()); }
  /// Tells the servers that this client will stop listening soon, so they can send a last
  /// response and drop their ActiveRequest (ActiveRequest::has_disconnect_hint() turns true).
  /// Only a hint, as in iceoryx2: the stream goes on, and responses keep arriving, until the
  /// servers end it or this PendingResponse goes. The hint goes with it.
  void set_disconnect_hint() noexcept { core().set_disconnect_hint(channel()); }
  /// The servers still holding the request open; 0 exactly when is_connected() is false.
  std::uint32_t number_of_server_connections() const noexcept {
    return core().number_of_server_connections(channel());
  }
  /// Why the stream is over, or StreamEnd::open while a server still holds the request (open
  /// exactly while is_connected()). Tells what receive()'s std::nullopt does not: `no_server`,
  /// nobody got the request (known at send, no look needed); `finished`, each server that got
  /// it ended its stream; `server_gone`, one went without ending it. Looks at the servers as
  /// is_connected() does (a syscall per server still open).
  StreamEnd end_reason() const noexcept { return core().end_reason(channel()); }
  /// Responses of this stream that were lost so far: overwritten in the response buffer by
  /// newer ones before they were received (enable_safe_overflow_for_responses). Counted from
  /// gaps in each server's ResponseHeader::sequence_number as responses arrive; the newest
  /// response is never the one overwritten, so once the stream is drained the count is final.
  /// Responses a server's send refused (it returned false) are not counted: the server knows.
  std::uint64_t number_of_overwritten_responses() const noexcept {
    return core().number_of_overwritten_responses(channel());
  }

  /// Awaitable: `co_await pending.receive()` yields the next response, or std::nullopt once
  /// every server's stream has ended (ActiveRequest dropped, server gone, or its process died)
  /// and everything they sent was received. Throws floe::Error(cancelled) when `token` is
  /// stopped or the runtime stops, (timed_out) under floe::with_timeout, (exceeds_max_loans)
  /// as try_receive does; a response is never taken and then lost.
  class ReceiveOperation
      : public detail::AwaitableOperation<ReceiveOperation, std::optional<ResponseType>> {
   public:
    /// Waits on `pending`'s stream, which must outlive it (dropping the PendingResponse
    /// cancels it); `pending` itself may move meanwhile.
    ReceiveOperation(PendingResponse& pending, std::stop_token token)
        : core_(&pending.core()), channel_(pending.channel()) {
      this->set_stop_token(std::move(token));
    }
    /// Only before it is awaited (with_timeout moves it).
    ReceiveOperation(ReceiveOperation&&) noexcept = default;

   private:
    friend class detail::AwaitableOperation<ReceiveOperation, std::optional<ResponseType>>;
    using PollContext = detail::Operation::PollContext;

    bool attempt(bool check_liveness = false, bool check_end = true) noexcept {
      if (auto response = receive_from(*core_, channel_, this->failure())) {
        result_.emplace(std::move(*response));
        return true;
      }
      return this->failure() || (check_end && core_->stream_ended(channel_, check_liveness));
    }
    std::optional<ResponseType> take_value() noexcept { return std::move(result_); }
    bool poll(const PollContext& context) noexcept override {
      return attempt(context.peers_changed,
                     !context.spinning || context.peers_changed || context.pass % 16 == 0);
    }
    detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
    void watch_processes(detail::WakeSources& sources) const override {
      core_->watch_servers(channel_, sources);
    }
    detail::PortOperations* port_operations() const noexcept override {
      return &core_->stream_operations(channel_);
    }
    const char* awaited() const noexcept override { return "a response"; }

    // Not the PendingResponse, which may move while this waits; dropping it cancels this.
    detail::ClientCore* core_;
    std::uint32_t channel_;
    std::optional<ResponseType> result_;
  };

  /// The awaitable next response; see ReceiveOperation. Never throws itself.
  [[nodiscard]] ReceiveOperation receive(std::stop_token token = {}) {
    return ReceiveOperation(*this, std::move(token));
  }

  /// The request this stream answers, as sent (it stays in shared memory while a server
  /// holds it or this PendingResponse lives): for a floe::Slice<T> payload, a
  /// std::span<const T> of the length loaned (remembered here, not read back from the chunk).
  typename RequestAccess::Const payload() const noexcept {
    return RequestAccess::const_at(core().request_of(channel()).payload, request_length_);
  }
  /// payload().
  typename RequestAccess::Const operator*() const noexcept { return payload(); }
  /// &payload(); not for a slice (use payload() or *pending).
  const RequestPayload* operator->() const noexcept
      requires(!detail::SliceTraits<RequestPayload>::is_slice) {
    return &payload();
  }
  /// The request's header: this client's id and the request id responses carry back.
  const RequestHeader& header() const noexcept {
    return *detail::object_at<const RequestHeader>(core().request_of(channel()).header);
  }
  /// The request's user header, as sent.
  const RequestUserHeader& user_header() const noexcept {
    return *detail::object_at<const RequestUserHeader>(core().request_of(channel()).user_header);
  }

 private:
  template <typename, typename, typename, typename>
  friend class floe::RequestMut;
  template <typename, typename, typename, typename>
  friend class floe::CallOperation;
  PendingResponse(std::shared_ptr<detail::ClientCore> core, std::uint32_t channel,
                  std::uint64_t request_length) noexcept
      : handle_(std::move(core), {channel}), request_length_(request_length) {}
  detail::ClientCore& core() const noexcept { return handle_.core(); }
  std::uint32_t channel() const noexcept { return handle_.held().channel; }
  static std::optional<ResponseType> receive_from(detail::ClientCore& core, std::uint32_t channel,
                                                  detail::Failure& failure) noexcept {
    auto received = core.try_receive(channel, failure);
    if (!received) return std::nullopt;
    return ResponseType(&core, channel, *received);
  }

  detail::UniqueHandle<std::shared_ptr<detail::ClientCore>, detail::OpenStream> handle_;
  std::uint64_t request_length_ = 0;  // elements of a slice request, as loaned
};

/// A request loaned in shared memory: write it in place, then send it. Used by the thread that
/// uses its Client (see Client).
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class RequestMut {
  using Access = detail::PayloadAccess<RequestPayload>;

 public:
  /// What send() yields.
  using Pending =
      PendingResponse<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;

  /// Holds no loan, as after a move: only for interfaces that need a value alongside an error
  /// (an Asio handler's `void(std::error_code, RequestMut)`).
  RequestMut() noexcept = default;
  /// Takes over the loan; `other` holds nothing any more.
  RequestMut(RequestMut&&) noexcept = default;
  /// Returns the loan held to the pool, then takes over `other`'s.
  RequestMut& operator=(RequestMut&&) noexcept = default;
  /// An unsent request goes back to the pool.
  ~RequestMut() = default;

  /// The payload to write in place, in shared memory: for a floe::Slice<T> payload, a
  /// std::span<T> of the length loaned (Client::loan_slice(n): n elements).
  typename Access::Mutable payload() noexcept {
    return Access::mutable_at(view().payload, view().length);
  }
  /// The same, read-only.
  typename Access::Const payload() const noexcept {
    return Access::const_at(view().payload, view().length);
  }
  /// payload().
  typename Access::Mutable operator*() noexcept { return payload(); }
  /// &payload(); not for a slice (use payload() or *request).
  RequestPayload* operator->() noexcept requires(!detail::SliceTraits<RequestPayload>::is_slice) {
    return &payload();
  }
  /// The elements of a slice request: the n it was loaned with, fixed for its life.
  std::size_t size() const noexcept requires detail::SliceTraits<RequestPayload>::is_slice {
    return static_cast<std::size_t>(view().length);
  }
  /// Written by the client's core: its id; the request id is 0 until send() sets it.
  const RequestHeader& header() const noexcept {
    return *detail::object_at<const RequestHeader>(view().header);
  }
  /// The user header to write in place (value-initialized by loan()).
  RequestUserHeader& user_header() noexcept {
    return *detail::object_at<RequestUserHeader>(view().user_header);
  }

  /// Delivers the request to every server connected now. Throws
  /// floe::Error(exceeds_max_active_requests); the request then stays loaned.
  [[nodiscard("dropping the PendingResponse withdraws a request no server took yet")]] Pending
  send() && {
    const std::uint32_t channel = handle_.core().send(chunk());
    return Pending(handle_.hand_over(), channel, view().length);
  }

  /// Awaitable: `co_await std::move(request).async_send()` sends once the client has fewer
  /// than max_active_requests requests open, suspending only this task until then (woken when
  /// a PendingResponse is dropped or a server ends its stream). Throws floe::Error(cancelled /
  /// timed_out) as receives do; the request is then not sent and goes back to the pool.
  class SendOperation : public detail::AwaitableOperation<SendOperation, Pending> {
   public:
    /// Owns the request until it is sent (or the operation ends without sending it).
    explicit SendOperation(RequestMut request) : request_(std::move(request)) {}
    /// Only before it is awaited (with_timeout moves it).
    SendOperation(SendOperation&&) noexcept = default;

   private:
    friend class detail::AwaitableOperation<SendOperation, Pending>;
    using PollContext = detail::Operation::PollContext;

    bool attempt() noexcept {
      std::uint32_t channel = 0;
      if (!request_.handle_.core().try_send(request_.chunk(), channel, this->failure())) {
        return static_cast<bool>(this->failure());  // Errc::corrupted: the segment was damaged
      }
      result_.emplace(Pending(request_.handle_.hand_over(), channel, request_.view().length));
      return true;
    }
    Pending take_value() noexcept { return std::move(*result_); }
    bool poll(const PollContext& context) noexcept override {
      if (context.peers_changed) request_.handle_.core().check_size();
      return attempt();
    }
    detail::DoorbellWords doorbell() const noexcept override {
      return request_.handle_.core().doorbell();
    }
    detail::PortOperations* port_operations() const noexcept override {
      return &request_.handle_.core().slot_operations();
    }
    const char* awaited() const noexcept override {
      return "a request channel to send on (max_active_requests)";
    }
    void on_interrupted() noexcept override { request_.handle_.reset(); }

    RequestMut request_;
    std::optional<Pending> result_;
  };
  /// The awaitable send; see SendOperation. This RequestMut holds nothing afterwards.
  [[nodiscard]] SendOperation async_send() && { return SendOperation(std::move(*this)); }

 private:
  template <typename, typename, typename, typename>
  friend class floe::Client;
  template <typename, typename, typename, typename>
  friend class floe::CallOperation;
  RequestMut(std::shared_ptr<detail::ClientCore> core, detail::ChunkView view,
             std::uint32_t chunk) noexcept
      : handle_(std::move(core), {view, chunk}) {}
  const detail::ChunkView& view() const noexcept { return handle_.held().view; }
  std::uint32_t chunk() const noexcept { return handle_.held().chunk; }

  detail::UniqueHandle<std::shared_ptr<detail::ClientCore>, detail::LoanedRequest> handle_;
};

/// Threads: a Client and everything that came from it (its RequestMuts, PendingResponses and
/// their Responses, which share the client's state) are used by one thread at a time, all
/// together; they may be handed to another thread between uses. Distinct clients are
/// independent. An operation waiting in an event loop may be polled on another thread; it
/// touches only the PendingResponse (or loan or request slot) it waits for, which counts as in
/// use until it completes.
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class Client {
  static constexpr bool kSliceRequests = detail::SliceTraits<RequestPayload>::is_slice;
  using RequestElement = typename detail::SliceTraits<RequestPayload>::element;

 public:
  /// A loaned request of this client.
  using Loan = RequestMut<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  /// The stream of responses to a sent request.
  using Pending =
      PendingResponse<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;

  /// Takes over the port; `other` holds nothing any more (loans and sends awaiting keep
  /// waiting: they hold the port themselves).
  Client(Client&&) noexcept = default;
  /// Cancels what waits on the port held (as the destructor does), then takes over `other`'s.
  Client& operator=(Client&& other) noexcept {
    if (this != &other) {
      cancel_waits();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  /// Loans and sends still waiting complete as cancelled. The port itself stays until its last
  /// RequestMut and PendingResponse are gone.
  ~Client() { cancel_waits(); }

  /// This client's id within the service: the RequestHeader::client_id of its requests.
  ClientId id() const noexcept { return core_->id(); }
  /// The requests this client may have sent and not yet seen end (its builder's
  /// max_active_requests, the service's max_active_requests_per_client unless set lower).
  std::uint32_t max_active_requests() const noexcept { return core_->max_active_requests(); }
  /// What a send does with nowhere to put the request (its builder's backpressure()).
  Backpressure backpressure() const noexcept { return core_->backpressure(); }
  /// The servers of the service now: a load per server slot, no syscall. A request sent while
  /// it is 0 reaches nobody (its PendingResponse's end_reason() is StreamEnd::no_server). A
  /// server whose process died still counts until its port is reclaimed (a receive finds out).
  std::uint32_t number_of_servers() const noexcept { return core_->number_of_servers(); }

  /// Awaitable: `bool found = co_await client.wait_for_server(timeout);` completes with true once
  /// the service has a server (at once if it has one now), false when `timeout` passed first.
  /// Woken by the server's creation, not by polling: a server port, once published, rings the
  /// doorbell of every client. Throws floe::Error(cancelled) when `token` is stopped, the
  /// runtime stops or this Client goes; (corrupted) when the segment was damaged.
  class ServerWaitOperation : public detail::ClientWait<ServerWaitOperation, bool> {
   public:
    /// Holds its own reference to `client`'s port: the Client may move meanwhile, and its going
    /// cancels this. Without a timeout it waits until a server comes (or it is cancelled).
    ServerWaitOperation(Client& client, std::optional<std::chrono::nanoseconds> timeout,
                        std::stop_token token)
        : detail::ClientWait<ServerWaitOperation, bool>(client.core_) {
      // Not a timeout error: the deadline completes the wait with its value, false.
      if (timeout) {
        this->set_deadline(detail::Operation::Clock::now() + *timeout, /*is_timeout=*/false);
      }
      this->set_stop_token(std::move(token));
    }
    /// Only before it is awaited (with_timeout moves it).
    ServerWaitOperation(ServerWaitOperation&&) noexcept = default;

   private:
    friend class detail::AwaitableOperation<ServerWaitOperation, bool>;
    friend class detail::ClientWait<ServerWaitOperation, bool>;
    const char* awaited() const noexcept override { return "a server"; }

    bool attempt() noexcept {
      found_ = this->core_->number_of_live_servers() != 0;
      if (found_ || !this->core_->damaged()) return found_;
      this->core_->describe_damage(this->failure());
      return true;
    }
    bool take_value() const noexcept { return found_; }

    bool found_ = false;
  };
  /// The awaitable wait for a server, without a deadline; see ServerWaitOperation.
  [[nodiscard]] ServerWaitOperation wait_for_server(std::stop_token token = {}) {
    return ServerWaitOperation(*this, std::nullopt, std::move(token));
  }
  /// The same, completing with false once `timeout` passed without a server.
  [[nodiscard]] ServerWaitOperation wait_for_server(std::chrono::nanoseconds timeout,
                                                    std::stop_token token = {}) {
    return ServerWaitOperation(*this, timeout, std::move(token));
  }

  /// A value-initialized request in shared memory. Throws floe::Error(exceeds_max_loans). For
  /// a floe::Slice request: loan_slice(n).
  Loan loan() requires(!kSliceRequests) {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = core_->loan(chunk);
    return make_loan(core_, view, chunk, detail::ValueInitialize{});
  }

  /// A request whose payload is default-initialized, not value-initialized: for a trivial
  /// payload its bytes are whatever the chunk last held (an earlier request of this client),
  /// so a 64 MiB request costs no 64 MiB zero fill. Write all of it before sending. Headers
  /// are written as by loan(). Throws floe::Error(exceeds_max_loans).
  Loan loan_uninit() requires(!kSliceRequests) {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = core_->loan(chunk);
    return make_loan(core_, view, chunk, detail::DefaultInitialize{});
  }

  /// A request of a floe::Slice<T> service holding `n` value-initialized elements in shared
  /// memory (payload() is a std::span<T> of size n; 0 is allowed). Throws
  /// floe::Error(exceeds_max_slice_len) when n is above max_slice_len(), before taking a chunk;
  /// (exceeds_max_loans) as loan() does.
  Loan loan_slice(std::uint64_t n) requires kSliceRequests {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = core_->loan(chunk, n);
    return make_slice_loan(core_, view, chunk, detail::ValueInitializeElements{});
  }

  /// loan_slice(n) without the fill: the elements are default-initialized, so for a trivial T
  /// they hold whatever the chunk last held, and a 1 MiB slice costs no 1 MiB zero fill. Write
  /// all n before sending. Throws as loan_slice() does.
  Loan loan_slice_uninit(std::uint64_t n) requires kSliceRequests {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = core_->loan(chunk, n);
    return make_slice_loan(core_, view, chunk, detail::DefaultInitializeElements{});
  }

  /// The most elements a request of this client may hold (floe::Slice services). A port of a fixed
  /// allocation_strategy (the default): its builder's initial_max_slice_len, the service's
  /// request_max_slice_len unless set lower. A growing port (power_of_two or best_fit):
  /// floe::kMaxSliceLen = 2^32 - 1, whatever its builder's initial_max_slice_len (its
  /// data segments are further capped at 4 GiB per slot and 64 GiB in all).
  std::uint64_t max_slice_len() const noexcept requires kSliceRequests {
    return core_->max_slice_len();
  }

  /// Awaitable: `auto request = co_await client.async_loan();` (or
  /// `co_await client.async_loan_slice(n)`) waits, suspending only this task, while
  /// max_loaned_requests requests are loaned. Throws floe::Error(cancelled / timed_out) as
  /// receives do; a slice longer than max_slice_len() that the client cannot grow to
  /// (AllocationStrategy::fixed, or a growth refused) throws (exceeds_max_slice_len) at once,
  /// without waiting: no chunk will ever hold it.
  class LoanOperation : public detail::ClientWait<LoanOperation, Loan> {
   public:
    /// Holds its own reference to `client`'s port (which the loan takes over): the Client may
    /// move meanwhile, and its going cancels this. `length`: the elements of a slice request
    /// (0 for a fixed payload).
    explicit LoanOperation(Client& client, std::uint64_t length = 0)
        : detail::ClientWait<LoanOperation, Loan>(client.core_), length_(length) {}
    /// Only before it is awaited (with_timeout moves it).
    LoanOperation(LoanOperation&&) noexcept = default;

   private:
    friend class detail::AwaitableOperation<LoanOperation, Loan>;
    friend class detail::ClientWait<LoanOperation, Loan>;
    const char* awaited() const noexcept override {
      return "a request to loan (max_loaned_requests)";
    }

    bool attempt() noexcept {
      if constexpr (kSliceRequests) {
        if (this->core_->try_loan(chunk_, length_, this->failure())) return true;
      } else {
        if (this->core_->try_loan(chunk_)) return true;
      }
      if (!this->core_->damaged()) return false;
      this->core_->describe_damage(this->failure());
      return true;
    }
    Loan take_value() noexcept {
      detail::ChunkView view = this->core_->chunk_view(chunk_);
      if constexpr (kSliceRequests) {
        view.length = length_;
        return make_slice_loan(std::move(this->core_), view, chunk_,
                               detail::ValueInitializeElements{});
      } else {
        return make_loan(std::move(this->core_), view, chunk_, detail::ValueInitialize{});
      }
    }

    std::uint32_t chunk_ = 0;
    std::uint64_t length_;
  };
  /// The awaitable loan; see LoanOperation. For a floe::Slice request: async_loan_slice(n).
  [[nodiscard]] LoanOperation async_loan() requires(!kSliceRequests) {
    return LoanOperation(*this);
  }
  /// The awaitable loan of a slice request of `n` value-initialized elements; see
  /// LoanOperation. Never throws itself: n above max_slice_len() completes the co_await with
  /// floe::Error(exceeds_max_slice_len) at once.
  [[nodiscard]] LoanOperation async_loan_slice(std::uint64_t n) requires kSliceRequests {
    return LoanOperation(*this, n);
  }

  /// Copies `request` into shared memory (one pass: the chunk is not zeroed first) and sends
  /// it. Throws as loan() and send() do.
  [[nodiscard("dropping the PendingResponse withdraws a request no server took yet")]] Pending
  send_copy(const RequestPayload& request) requires(!kSliceRequests) {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = core_->loan(chunk);
    return make_loan(core_, view, chunk, detail::CopyOf<RequestPayload>{request}).send();
  }

  /// Copies the elements of `request` into a slice request of request.size() elements (one
  /// pass, no zero fill) and sends it. Throws as loan_slice() and send() do.
  [[nodiscard("dropping the PendingResponse withdraws a request no server took yet")]] Pending
  send_copy(std::span<const RequestElement> request) requires kSliceRequests {
    std::uint32_t chunk = 0;
    const detail::ChunkView view = core_->loan(chunk, request.size());
    return make_slice_loan(core_, view, chunk, detail::CopyOfElements<RequestElement>{request})
        .send();
  }

 private:
  template <typename, typename, typename, typename>
  friend class floe::ClientBuilder;
  template <typename, typename, typename, typename>
  friend class floe::CallOperation;
  explicit Client(std::shared_ptr<detail::ClientCore> core) noexcept : core_(std::move(core)) {}
  template <typename BeginPayload>
  static Loan make_loan(std::shared_ptr<detail::ClientCore> core, detail::ChunkView view,
                        std::uint32_t chunk, BeginPayload begin_payload) {
    detail::begin_chunk<RequestUserHeader, RequestPayload>(view, begin_payload);
    return Loan(std::move(core), view, chunk);
  }
  template <typename BeginElements>
  static Loan make_slice_loan(std::shared_ptr<detail::ClientCore> core, detail::ChunkView view,
                              std::uint32_t chunk, BeginElements begin_elements) {
    detail::begin_slice_chunk<RequestUserHeader, RequestElement>(view, begin_elements);
    return Loan(std::move(core), view, chunk);
  }
  void cancel_waits() noexcept {
    if (core_ != nullptr) core_->slot_operations().cancel_all();
  }

  std::shared_ptr<detail::ClientCore> core_;
};

/// Sets a client's own limits, then creates it: Service::client_builder().create(). May outlive
/// its Service (it holds the segment).
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class ClientBuilder {
 public:
  /// At most the service's max_active_requests_per_client.
  ClientBuilder& max_active_requests(std::uint32_t value) noexcept {
    max_active_requests_ = value;
    return *this;
  }
  /// What a send does when a server's request buffer is full and safe overflow is off: kept for
  /// iceoryx2's API, recorded and nothing more. A client's queue to a server holds one entry per
  /// request slot, so an honest server never lets it fill; a queue a hostile peer filled gets
  /// the request withdrawn (that server does not count as connected), never a wait.
  ClientBuilder& backpressure(Backpressure value) noexcept {
    backpressure_ = value;
    return *this;
  }
  /// The most elements a request of this client may hold (floe::Slice requests): a loan above
  /// it throws floe::Error(exceeds_max_slice_len). At most the service's request_max_slice_len,
  /// which is the default; every request chunk has room for that many, so a lower cap bounds
  /// what this client sends, not the memory it uses. 0 is taken as 1. A growing port
  /// (allocation_strategy) may ask for more: it reserves a data segment for that many when
  /// created, so its first long loans do not grow.
  ClientBuilder& initial_max_slice_len(
      std::uint64_t n) noexcept requires detail::SliceTraits<RequestPayload>::is_slice {
    initial_max_slice_len_ = n;
    return *this;
  }
  /// What a loan of more elements than this port may loan now does (floe::Slice requests):
  /// AllocationStrategy::fixed (the default) throws floe::Error(exceeds_max_slice_len);
  /// power_of_two and best_fit grow the port, within the service's request_max_slice_len for free,
  /// beyond it into data segments of the port's own (a slow path: see AllocationStrategy).
  ClientBuilder& allocation_strategy(
      AllocationStrategy strategy) noexcept requires detail::SliceTraits<RequestPayload>::is_slice {
    allocation_strategy_ = strategy;
    return *this;
  }

  /// A client with its own port in the service; it may outlive the Service and the builder.
  /// Throws floe::Error(exceeds_max_clients) when the service has all its clients,
  /// (incompatible_limits) when max_active_requests is 0 or above the service's, or
  /// initial_max_slice_len above the service's request_max_slice_len (a growing port: above
  /// floe::kMaxSliceLen; or exceeds_max_slice_len / out_of_memory when its data segment cannot
  /// be made).
  Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader> create() const {
    if (max_active_requests_ == 0 || max_active_requests_ > service_max_) {
      throw Error(Errc::incompatible_limits,
                  "floe: a client's max_active_requests(n) must be from 1 to the service's "
                  "max_active_requests_per_client = " +
                      std::to_string(service_max_) +
                      "; ask for fewer, or create the service with a larger "
                      "max_active_requests_per_client");
    }
    return Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>(
        std::make_shared<detail::ClientCore>(
            segment_, max_active_requests_, backpressure_,
            detail::slice_policy(initial_max_slice_len_, allocation_strategy_)));
  }

 private:
  template <typename, typename, typename, typename>
  friend class floe::Service;
  /// Made by Service::client_builder().
  ClientBuilder(std::shared_ptr<detail::ServiceSegment> segment,
                std::uint32_t service_max_active_requests)
      : segment_(std::move(segment)),
        service_max_(service_max_active_requests),
        max_active_requests_(service_max_active_requests) {}

  std::shared_ptr<detail::ServiceSegment> segment_;
  std::uint32_t service_max_;
  std::uint32_t max_active_requests_;
  Backpressure backpressure_ = Backpressure::discard;
  std::optional<std::uint64_t> initial_max_slice_len_;  // the service's unless set
  AllocationStrategy allocation_strategy_ = AllocationStrategy::fixed;
};

}  // namespace floe
