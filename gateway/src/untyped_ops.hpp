#pragma once
// Awaitable operations on the compiled cores for payloads known only at run time (the
// gateway's byte copies), as the typed front ends' ReceiveOperation and Python's waits do for
// theirs. To be shared with python/src/module.cpp (one place for each wait) once both use it.

#include <floe/detail/operation.hpp>
#include <floe/detail/ports.hpp>

#include <memory>
#include <optional>

namespace floe::gateway {

/// `co_await StreamReceive(core, channel)`: the next response of the stream on `channel`, or
/// nothing once the stream ended (every server dropped its request, went away or died).
class StreamReceive
    : public detail::AwaitableOperation<StreamReceive,
                                        std::optional<detail::ClientCore::Received>> {
 public:
  StreamReceive(std::shared_ptr<detail::ClientCore> core, std::uint32_t channel) noexcept
      : core_(std::move(core)), channel_(channel) {}
  StreamReceive(StreamReceive&&) noexcept = default;
  ~StreamReceive() override { abandon(); }

 private:
  friend class detail::AwaitableOperation<StreamReceive,
                                          std::optional<detail::ClientCore::Received>>;
  bool attempt(bool check_liveness = false) noexcept {
    if (auto received = core_->try_receive(channel_, failure())) {
      result_ = *received;
      return true;
    }
    return static_cast<bool>(failure()) || core_->stream_ended(channel_, check_liveness);
  }
  std::optional<detail::ClientCore::Received> take_value() noexcept { return result_; }
  bool poll(const PollContext& context) noexcept override { return attempt(context.peers_changed); }
  detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  void watch_processes(detail::WakeSources& sources) const override {
    core_->watch_servers(channel_, sources);
  }
  detail::PortOperations* port_operations() const noexcept override {
    return &core_->stream_operations(channel_);
  }
  const char* awaited() const noexcept override { return "a response"; }

  std::shared_ptr<detail::ClientCore> core_;
  std::uint32_t channel_;
  std::optional<detail::ClientCore::Received> result_;
};

/// `co_await RequestSend(core, chunk)`: sends the loaned request `chunk`, waiting for one of
/// the client's request channels to be free (max_active_requests); the channel it went on. The
/// chunk is handed over, or given back when the wait ends otherwise (cancelled, damaged).
class RequestSend : public detail::AwaitableOperation<RequestSend, std::uint32_t> {
 public:
  RequestSend(std::shared_ptr<detail::ClientCore> core, std::uint32_t chunk) noexcept
      : core_(std::move(core)), chunk_(chunk) {}
  RequestSend(RequestSend&&) noexcept = default;
  ~RequestSend() override {
    abandon();
    give_back();
  }

 private:
  friend class detail::AwaitableOperation<RequestSend, std::uint32_t>;
  bool attempt() noexcept {
    if (core_->try_send(chunk_, channel_, failure())) {
      sent_ = true;
      return true;
    }
    return static_cast<bool>(failure());  // Errc::corrupted: the segment was damaged
  }
  std::uint32_t take_value() const noexcept { return channel_; }
  bool poll(const PollContext& context) noexcept override {
    if (context.peers_changed) core_->check_size();
    return attempt();
  }
  void give_back() noexcept {
    if (sent_) return;
    core_->release_loan(chunk_);
    sent_ = true;
  }
  void on_interrupted() noexcept override { give_back(); }
  detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  detail::PortOperations* port_operations() const noexcept override {
    return &core_->slot_operations();
  }
  const char* awaited() const noexcept override {
    return "a request channel to send on (max_active_requests)";
  }

  std::shared_ptr<detail::ClientCore> core_;
  std::uint32_t chunk_;
  std::uint32_t channel_ = 0;
  bool sent_ = false;
};

/// `co_await ServerReceive(core)`: the next request of a server port.
class ServerReceive : public detail::AwaitableOperation<ServerReceive, detail::ServerCore::Active> {
 public:
  explicit ServerReceive(std::shared_ptr<detail::ServerCore> core) noexcept
      : core_(std::move(core)) {}
  ServerReceive(ServerReceive&&) noexcept = default;
  ~ServerReceive() override { abandon(); }

 private:
  friend class detail::AwaitableOperation<ServerReceive, detail::ServerCore::Active>;
  bool attempt() noexcept {
    if (auto active = core_->try_receive(failure())) result_ = *active;
    return result_.has_value() || static_cast<bool>(failure());
  }
  detail::ServerCore::Active take_value() noexcept { return *result_; }
  bool poll(const PollContext& context) noexcept override {
    if (context.peers_changed) core_->check_size();
    return attempt();
  }
  detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  detail::PortOperations* port_operations() const noexcept override {
    return &core_->receive_operations();
  }
  const char* awaited() const noexcept override { return "a request"; }

  std::shared_ptr<detail::ServerCore> core_;
  std::optional<detail::ServerCore::Active> result_;
};

/// `co_await ResponseSend(core, active, chunk)`: sends the loaned response `chunk`, waiting for
/// room in the client's buffer under Backpressure::block; true if delivered. The chunk is
/// handed over or given back whatever happens (cancelled, or the client gone: given back).
class ResponseSend : public detail::AwaitableOperation<ResponseSend, bool> {
 public:
  ResponseSend(std::shared_ptr<detail::ServerCore> core, const detail::ServerCore::Active& active,
               std::uint32_t chunk) noexcept
      : core_(std::move(core)), active_(active), chunk_(chunk) {}
  ResponseSend(ResponseSend&&) noexcept = default;
  ~ResponseSend() override {
    abandon();
    give_back();
  }

 private:
  friend class detail::AwaitableOperation<ResponseSend, bool>;
  bool attempt() noexcept {
    if (settled_) return true;
    const std::optional<bool> delivered = core_->send_once(active_, chunk_);
    if (!delivered) return false;
    delivered_ = *delivered;
    settled_ = true;
    return true;
  }
  bool take_value() const noexcept { return delivered_; }
  bool poll(const PollContext& context) noexcept override {
    if (attempt()) return true;
    if (context.peers_changed && !core_->is_connected(active_)) {
      give_back();
      return true;
    }
    return false;
  }
  void give_back() noexcept {
    if (settled_) return;
    core_->release_loan(active_, chunk_);
    settled_ = true;
  }
  void on_interrupted() noexcept override { give_back(); }
  detail::DoorbellWords doorbell() const noexcept override { return core_->doorbell(); }
  void watch_processes(detail::WakeSources& sources) const override {
    core_->watch_client(active_, sources);
  }
  detail::PortOperations* port_operations() const noexcept override {
    return &core_->stream_operations(active_);
  }
  const char* awaited() const noexcept override { return "room in the client's buffer"; }

  std::shared_ptr<detail::ServerCore> core_;
  detail::ServerCore::Active active_;
  std::uint32_t chunk_;
  bool settled_ = false;
  bool delivered_ = false;
};

/// `co_await ClientLeftOr(core, active, event)`: true once `event` is set, false once the client
/// of `active` no longer listens (dropped its PendingResponse, went away or died).
template <typename Event>
class ClientLeftOr : public detail::AwaitableOperation<ClientLeftOr<Event>, bool> {
 public:
  ClientLeftOr(std::shared_ptr<detail::ServerCore> core, const detail::ServerCore::Active& active,
               const Event& event) noexcept
      : core_(std::move(core)), active_(active), event_(&event) {}
  ClientLeftOr(ClientLeftOr&&) noexcept = default;
  ~ClientLeftOr() override { this->abandon(); }

 private:
  friend class detail::AwaitableOperation<ClientLeftOr, bool>;
  using PollContext = detail::Operation::PollContext;
  bool attempt() noexcept {
    if (event_->is_set()) {
      value_ = true;
      return true;
    }
    return !core_->is_connected(active_);
  }
  bool take_value() const noexcept { return value_; }
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
  const char* awaited() const noexcept override { return "a response from the remote server"; }

  std::shared_ptr<detail::ServerCore> core_;
  detail::ServerCore::Active active_;
  const Event* event_;
  bool value_ = false;
};

}  // namespace floe::gateway
