#pragma once
// One request, one response: floe::call waits for a server, sends a copy of the request and
// yields the first response, all within one deadline, telling apart what the stream's end
// alone does not (nobody got the request, nobody answered it, nobody answered in time).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <type_traits>
#include <utility>

#include "floe/client.hpp"
#include "floe/detail/operation.hpp"
#include "floe/error.hpp"
#include "floe/slice.hpp"
#include "floe/stream_end.hpp"

namespace floe {

/// Awaitable: `Response r = co_await floe::call(client, request, timeout);` waits until the
/// service has a server, sends a copy of `request` (copied into shared memory when the call is
/// made), and yields the first response; later responses of the stream are discarded. The
/// Response outlives the call and its stream. One deadline bounds it all; it throws
/// floe::Error with
///   Errc::no_server    no server came before the deadline, or the request reached none;
///   Errc::timed_out    a server got the request but no response came before the deadline;
///   Errc::no_response  the stream ended without a response (the server dropped the
///                      ActiveRequest unanswered, or its process died);
///   Errc::cancelled    the stop token, Runtime::stop() or the Client going;
///   Errc::exceeds_max_loans when no request can be loaned (thrown by floe::call itself).
/// A call waits for a free request channel too (max_active_requests), within its deadline.
/// For a floe::Slice<T> request, `request` is a std::span<const T> (any contiguous range of T
/// converts), copied into a slice of its size; Errc::exceeds_max_slice_len (thrown by
/// floe::call itself) when it is longer than the client's max_slice_len().
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class CallOperation
    : public detail::ClientWait<
          CallOperation<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>,
          Response<ResponsePayload, ResponseUserHeader>> {
 public:
  /// The port whose requests it sends.
  using ClientType = Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;
  /// What it yields.
  using ResponseType = Response<ResponsePayload, ResponseUserHeader>;
  /// What a request holds: the payload type, or a floe::Slice's element type.
  using RequestElement = typename detail::SliceTraits<RequestPayload>::element;

  /// Loans the request and copies `request` into it now; holds its own reference to the
  /// client's port (the Client may move meanwhile, and its going cancels this). Throws
  /// floe::Error(exceeds_max_loans).
  CallOperation(ClientType& client, const RequestPayload& request, std::chrono::nanoseconds timeout,
                std::stop_token token) requires(!detail::SliceTraits<RequestPayload>::is_slice)
      : detail::ClientWait<CallOperation, ResponseType>(client.core_),
        request_(client.loan_uninit()) {
    request_->payload() = request;
    this->set_deadline(detail::Operation::Clock::now() + timeout, /*is_timeout=*/true);
    this->set_stop_token(std::move(token));
  }
  /// For a floe::Slice request: loans a slice of request.size() elements and copies `request`
  /// into it now. Throws floe::Error(exceeds_max_slice_len, exceeds_max_loans).
  CallOperation(ClientType& client, std::span<const RequestElement> request,
                std::chrono::nanoseconds timeout,
                std::stop_token token) requires detail::SliceTraits<RequestPayload>::is_slice
      : detail::ClientWait<CallOperation, ResponseType>(client.core_),
        request_(client.loan_slice_uninit(request.size())) {
    std::copy(request.begin(), request.end(), request_->payload().begin());
    this->set_deadline(detail::Operation::Clock::now() + timeout, /*is_timeout=*/true);
    this->set_stop_token(std::move(token));
  }
  /// Only before it is awaited.
  CallOperation(CallOperation&&) noexcept = default;

 private:
  friend class detail::AwaitableOperation<CallOperation, ResponseType>;
  friend class detail::ClientWait<CallOperation, ResponseType>;
  const char* awaited() const noexcept override { return "the call's response"; }
  using PollContext = detail::Operation::PollContext;
  using Pending = typename ClientType::Pending;
  using detail::ClientWait<CallOperation, ResponseType>::core_;

  bool attempt(bool check_liveness = false) noexcept {
    if (!pending_ && !send()) return false;
    if (this->failure()) return true;
    if (auto response = Pending::receive_from(*core_, pending_->channel(), this->failure())) {
      response_.emplace(std::move(*response));
      return true;
    }
    if (this->failure()) return true;
    if (!core_->stream_ended(pending_->channel(), check_liveness)) return false;
    const bool gone = core_->end_reason(pending_->channel()) == StreamEnd::server_gone;
    this->failure().set(Errc::no_response,
                        gone ? "floe: the server went away (its process died, or it dropped its "
                               "Server) before it answered the request"
                             : "floe: the server dropped the request without answering it");
    return true;
  }

  /// Sends the request once a server is there and a channel is free; true once sent, or once
  /// the send failed (recorded in failure()).
  bool send() noexcept {
    if (core_->number_of_live_servers() == 0) {
      if (core_->damaged()) core_->describe_damage(this->failure());
      return static_cast<bool>(this->failure());
    }
    std::uint32_t channel = 0;
    if (!core_->try_send(request_->chunk(), channel, this->failure())) {
      return static_cast<bool>(this->failure());  // Errc::corrupted; else no channel is free yet
    }
    pending_.emplace(Pending(request_->handle_.hand_over(), channel, request_->view().length));
    request_.reset();
    if (core_->end_reason(channel) == StreamEnd::no_server) {
      this->failure().set(Errc::no_server,
                          "floe: the request reached no server (the server went away, or its "
                          "request buffer was full)");
    }
    return true;
  }

  ResponseType take_value() noexcept { return std::move(*response_); }
  bool poll(const PollContext& context) noexcept override {
    if (context.peers_changed) core_->check_size();
    return attempt(context.peers_changed);
  }
  void watch_processes(detail::WakeSources& sources) const override {
    if (pending_) core_->watch_servers(pending_->channel(), sources);
  }
  void on_interrupted() noexcept override {
    if (this->timed_out()) {
      if (!pending_ && core_->number_of_live_servers() == 0) {
        this->failure().set(Errc::no_server,
                            "floe: no server of the service came before the call's deadline; "
                            "start one, or give the call a longer timeout");
      } else if (!pending_) {
        this->failure().set(Errc::timed_out,
                            "floe: the client had max_active_requests requests open until the "
                            "call's deadline");
      } else {
        this->failure().set(Errc::timed_out,
                            "floe: a server got the request but sent no response before the "
                            "call's deadline");
      }
    }
    // Given back while the port is sure to exist (a Client going cancels this first).
    pending_.reset();
    request_.reset();
  }

  std::optional<typename ClientType::Loan> request_;
  std::optional<Pending> pending_;
  std::optional<ResponseType> response_;
};

/// The call; see CallOperation. Throws floe::Error(exceeds_max_loans) itself when no request
/// can be loaned; everything else is thrown by the co_await.
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
[[nodiscard]] CallOperation<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>
call(Client<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>& client,
     const RequestPayload& request, std::chrono::nanoseconds timeout,
     std::stop_token token = {}) requires(!detail::SliceTraits<RequestPayload>::is_slice) {
  return {client, request, timeout, std::move(token)};
}

/// The call of a floe::Slice<T> service: sends a copy of `request`'s elements (any contiguous
/// range of T converts to the span). Throws floe::Error(exceeds_max_slice_len,
/// exceeds_max_loans) itself; everything else is thrown by the co_await.
template <typename T, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
[[nodiscard]] CallOperation<Slice<T>, ResponsePayload, RequestUserHeader, ResponseUserHeader> call(
    Client<Slice<T>, ResponsePayload, RequestUserHeader, ResponseUserHeader>& client,
    std::type_identity_t<std::span<const T>> request, std::chrono::nanoseconds timeout,
    std::stop_token token = {}) {
  return {client, request, timeout, std::move(token)};
}

}  // namespace floe
