#include "exporter.hpp"

#include <floe/error.hpp>
#include <floe/runtime.hpp>
#include <floe/stream_end.hpp>

#include <atomic>
#include <cstring>
#include <optional>
#include <stop_token>

#include "description.hpp"
#include "log.hpp"
#include "remote_event.hpp"
#include "untyped_ops.hpp"

namespace floe::gateway {

namespace {

const char* stream_end_name(StreamEnd end) noexcept {
  switch (end) {
    case StreamEnd::open:
      return "open";
    case StreamEnd::finished:
      return "finished";
    case StreamEnd::no_server:
      return "no_server";
    case StreamEnd::server_gone:
      return "server_gone";
  }
  return "unknown";
}

/// One gRPC Call as gRPC's threads see it; the floe side (carry()) runs on the loop. gRPC
/// deletes it after Finish, which carry() calls last.
class ExportCall final : public grpc::ServerWriteReactor<v1::CallResponse> {
 public:
  ExportCall(grpc::CallbackServerContext& context, detail::Reactor& loop)
      : context_(context), peer_(context.peer()), written_(loop) {}

  void OnWriteDone(bool ok) override {
    write_ok_.store(ok, std::memory_order_relaxed);
    written_.set();
  }
  void OnCancel() override { cancel_.request_stop(); }
  void OnDone() override { delete this; }

  grpc::CallbackServerContext& context_;
  std::string peer_;  // the importing gateway's address (gRPC forgets it once a call breaks)
  RemoteEvent written_;
  std::atomic<bool> write_ok_{false};
  std::stop_source cancel_;
  v1::CallResponse message_;
};

grpc::Status status(grpc::StatusCode code, const std::string& message) {
  return grpc::Status(code, message);
}

/// In the log: a call of `service` from `peer` refused or failed, and why.
void log_unserved(const std::string& service, const std::string& peer, const grpc::Status& why) {
  detail::log(LogLevel::warn, [&] {
    return "floe-gateway: a call of service '" + service + "' from " + peer +
           " was not served: " + why.error_message();
  });
}

/// A Call ended before it began.
class RefusedCall final : public grpc::ServerWriteReactor<v1::CallResponse> {
 public:
  RefusedCall(const grpc::CallbackServerContext& context, const std::string& service,
              const grpc::Status& why) {
    log_unserved(service, context.peer(), why);
    Finish(why);
  }
  void OnDone() override { delete this; }
};

/// Ends `call` before its floe request was sent.
void refuse(ExportCall* call, const std::string& service, const grpc::Status& why) {
  log_unserved(service, call->peer_, why);
  call->Finish(why);
}

std::shared_ptr<detail::ClientCore> open_client(const ExportedService& service) {
  return std::make_shared<detail::ClientCore>(
      service.segment, service.max_active_requests_per_client, Backpressure::block,
      // A remote client's slice may have grown past the service's maximum: so may this one.
      service.description.request().slice()
          ? detail::SlicePolicy{0, AllocationStrategy::power_of_two}
          : detail::SlicePolicy{});
}

/// `request` loaned from `core`, copied in: its chunk.
std::uint32_t loan_copy(detail::ClientCore& core, const v1::ServiceDescription& d,
                        const v1::CallRequest& request, std::uint64_t payload_bytes) {
  std::uint32_t chunk = 0;
  const detail::ChunkView view =
      d.request().slice() ? core.loan(chunk, request.slice_len()) : core.loan(chunk);
  std::memcpy(view.payload, request.payload().data(), payload_bytes);
  if (!request.user_header().empty()) {
    std::memcpy(view.user_header, request.user_header().data(), request.user_header().size());
  }
  return chunk;
}

struct Sent {
  std::shared_ptr<detail::ClientCore> client;
  std::uint32_t channel = 0;
};

/// Sends on the first client with a free request channel, or says there is none.
std::optional<Sent> try_send(ExportedService& service, const v1::CallRequest& request,
                             std::uint64_t payload_bytes) {
  for (const std::shared_ptr<detail::ClientCore>& client : service.clients) {
    const std::uint32_t chunk = loan_copy(*client, service.description, request, payload_bytes);
    Sent sent{client};
    detail::Failure failure;
    if (client->try_send(chunk, sent.channel, failure)) return sent;
    client->release_loan(chunk);
    if (failure) failure.raise();
  }
  return std::nullopt;
}

/// The floe request of `request`, sent by the first of the service's clients with a free
/// request channel; a client more is opened when all are busy, up to the maximum; past it, the
/// call waits for a channel (until cancelled). Throws floe::Error.
Task<Sent> send_request(ExportedService& service, const v1::CallRequest& request,
                        std::uint64_t payload_bytes, std::stop_token cancelled) {
  const v1::ServiceDescription& d = service.description;
  for (;;) {
    if (service.waiting.empty()) {  // else those first go first
      if (std::optional<Sent> sent = try_send(service, request, payload_bytes)) co_return *sent;
    }
    if (service.clients.size() >= service.max_clients) break;
    try {
      service.clients.push_back(open_client(service));
      detail::log(LogLevel::info, [&] {
        return "floe-gateway: service '" + d.service() + "' has " +
               std::to_string(service.clients.size()) + " client port(s) for calls at once";
      });
    } catch (const Error& error) {
      if (error.code() != Errc::exceeds_max_clients) throw;
      service.max_clients = static_cast<std::uint32_t>(service.clients.size());
      detail::log(LogLevel::warn, [&] {
        return "floe-gateway: service '" + d.service() + "' has no client slot left (" +
               error.what() + "); calls beyond " +
               std::to_string(service.clients.size() * service.max_active_requests_per_client) +
               " at once wait";
      });
    }
  }
  // In line: the first waits for a channel of one client, the others for their turn.
  if (!service.waited) {
    service.waited = true;
    detail::log(LogLevel::info, [&] {
      return "floe-gateway: calls of service '" + d.service() + "' wait in line from now on: its " +
             std::to_string(service.clients.size()) + " client port(s) have all their " +
             std::to_string(service.max_active_requests_per_client) +
             " request channels open (--client-ports, max_active_requests_per_client; logged "
             "once)";
    });
  }
  auto turn = std::make_shared<RemoteEvent>(*detail::Reactor::current());
  service.waiting.push_back(turn);
  struct Leave {  // however this ends (sent, cancelled): the next in line has its turn
    ExportedService& service;
    const std::shared_ptr<RemoteEvent>& turn;
    ~Leave() {
      const bool first = service.waiting.front() == turn;
      std::erase(service.waiting, turn);
      if (first && !service.waiting.empty()) service.waiting.front()->set();
    }
  } leave{service, turn};
  if (service.waiting.front() == turn) turn->set();
  co_await turn->wait(cancelled);
  if (std::optional<Sent> sent = try_send(service, request, payload_bytes)) co_return *sent;
  Sent sent{service.clients[service.next_wait++ % service.clients.size()]};
  RequestSend send(sent.client, loan_copy(*sent.client, d, request, payload_bytes));
  send.set_stop_token(std::move(cancelled));
  sent.channel = co_await send;
  co_return sent;
}

/// Responses already there are sent together up to this many payload bytes: a message of the
/// call is then at most about one default flow-control window of the importing gateway.
constexpr std::size_t kBatchBytes = 64 * 1024;

/// The floe request of `request`, and its responses carried back, until the floe stream ends
/// or the call is cancelled.
Task<void> carry(ExportedService& service, ExportCall* call, const v1::CallRequest* request) {
  const v1::ServiceDescription& d = service.description;
  const bool slice = d.request().slice();
  const std::uint64_t payload_bytes =
      slice ? request->slice_len() * d.request().size() : d.request().size();
  if (request->types_digest() != service.types_digest) {
    refuse(call, d.service(),
           status(grpc::StatusCode::FAILED_PRECONDITION,
                  "floe-gateway: service '" + d.service() +
                      "' has other types here than the importing gateway was told when it "
                      "described the service (it was created again since, with other types): "
                      "restart the importing gateway to import it as it is now"));
    co_return;
  }
  if (request->payload().size() != payload_bytes ||
      request->user_header().size() != d.request_user_header().size()) {
    refuse(
        call, d.service(),
        status(grpc::StatusCode::INVALID_ARGUMENT,
               "floe-gateway: service '" + d.service() + "' takes requests of " +
                   std::to_string(payload_bytes) + " payload and " +
                   std::to_string(d.request_user_header().size()) +
                   " user header bytes; this one had " + std::to_string(request->payload().size()) +
                   " and " + std::to_string(request->user_header().size())));
    co_return;
  }
  Sent sent;
  try {
    sent = co_await send_request(service, *request, payload_bytes, call->cancel_.get_token());
  } catch (const Error& error) {
    refuse(call, d.service(),
           status(error.code() == Errc::cancelled ? grpc::StatusCode::CANCELLED
                                                  : grpc::StatusCode::RESOURCE_EXHAUSTED,
                  error.what()));
    co_return;
  }
  const std::shared_ptr<detail::ClientCore>& core = sent.client;
  const std::uint32_t channel = sent.channel;
  const std::stop_token cancelled = call->cancel_.get_token();
  const bool response_slice = d.response().slice();
  grpc::Status ending = grpc::Status::OK;
  try {
    for (;;) {
      StreamReceive receive(core, channel);
      receive.set_stop_token(cancelled);
      std::optional<detail::ClientCore::Received> received = co_await receive;
      if (!received) break;
      // This response, and those already behind it (up to kBatchBytes): one message.
      call->message_.clear_responses();
      std::size_t batched = 0;
      do {
        const detail::ChunkView& response = received->view;
        const std::uint64_t bytes =
            response_slice ? response.length * d.response().size() : d.response().size();
        v1::Response& message = *call->message_.add_responses();
        message.set_payload(response.payload, bytes);
        message.set_user_header(response.user_header, d.response_user_header().size());
        message.set_slice_len(response_slice ? response.length : 0);
        core->release_response(channel, received->server, received->chunk);
        batched += bytes;
        if (batched >= kBatchBytes) break;
        detail::Failure failure;
        received = core->try_receive(channel, failure);
        if (failure) failure.raise();
      } while (received);
      call->written_.reset();
      call->StartWrite(&call->message_);
      co_await call->written_.wait(cancelled);
      if (!call->write_ok_.load(std::memory_order_relaxed)) {
        ending = status(grpc::StatusCode::CANCELLED, "floe-gateway: the call went away");
        break;
      }
    }
  } catch (const Error& error) {
    ending = status(
        error.code() == Errc::cancelled ? grpc::StatusCode::CANCELLED : grpc::StatusCode::INTERNAL,
        error.what());
  }
  if (ending.ok()) {
    call->context_.AddTrailingMetadata("floe-stream-end",
                                       stream_end_name(core->end_reason(channel)));
  }
  core->drop_pending(channel);  // the servers see is_connected() == false
  if (ending.error_code() == grpc::StatusCode::CANCELLED) {
    detail::log(LogLevel::debug, [&] {
      return "floe-gateway: a call of service '" + d.service() + "' from " + call->peer_ +
             " ended there: its client let go, or the importing gateway went away";
    });
  } else if (!ending.ok()) {
    log_unserved(d.service(), call->peer_, ending);
  }
  call->Finish(ending);
}

/// Opens `name` in the domain of `state` as `service` for calls, or leaves `service` unopened
/// and throws floe::Error (service_does_not_exist while no server has created it).
void open_exported(const detail::NodeState& state, const std::string& name,
                   std::uint32_t client_ports, ExportedService& service) {
  try {
    service.description = describe_service(state.config.domain, name, state.config.group_access);
    service.types_digest = types_digest(service.description);
    LocalSpec local;
    local_spec_of(service.description, state.config, local);
    service.segment = detail::open_service(state, local.spec, detail::OpenMode::open);
    service.max_active_requests_per_client = local.spec.limits.max_active_requests_per_client;
    service.max_clients = client_ports;
    service.clients.push_back(open_client(service));
    service.opened = true;
  } catch (...) {
    service = ExportedService{};
    throw;
  }
}

}  // namespace

Exporter::Exporter(const Node& node, const std::vector<std::string>& services,
                   std::uint32_t client_ports, Mailbox& mailbox)
    : node_(node), client_ports_(client_ports), mailbox_(mailbox) {
  const auto& state = *detail::NodeAccess::state(node);
  for (const std::string& name : services) {
    ExportedService& exported = services_[name];
    try {
      open_exported(state, name, client_ports, exported);
    } catch (const Error& error) {
      if (error.code() != Errc::service_does_not_exist) throw;
      detail::log(LogLevel::info, [&] {
        return "floe-gateway: service '" + name + "' does not exist yet in domain '" +
               state.config.domain + "': it is exported once a server has created it";
      });
    }
  }
}

ExportedService* Exporter::opened(const std::string& name, grpc::Status& why) {
  const std::lock_guard lock(mutex_);
  const auto found = services_.find(name);
  if (found == services_.end()) {
    why = status(grpc::StatusCode::NOT_FOUND,
                 "floe-gateway: service '" + name + "' is not exported here");
    return nullptr;
  }
  ExportedService& service = found->second;
  if (service.opened) return &service;
  try {
    open_exported(*detail::NodeAccess::state(node_), name, client_ports_, service);
  } catch (const Error& error) {
    why =
        status(error.code() == Errc::service_does_not_exist ? grpc::StatusCode::FAILED_PRECONDITION
                                                            : grpc::StatusCode::INTERNAL,
               error.what());
    return nullptr;
  }
  detail::log(LogLevel::info,
              [&] { return "floe-gateway: service '" + name + "' exists now: exported"; });
  return &service;
}

grpc::ServerUnaryReactor* Exporter::Describe(grpc::CallbackServerContext* context,
                                             const v1::DescribeRequest* request,
                                             v1::ServiceDescription* description) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status refused;
  const ExportedService* service = opened(request->service(), refused);
  if (service == nullptr) {
    // Not created yet: the importing gateway asks again every 100 ms while it waits (it logs
    // that it waits; this gateway logged the service missing at start).
    const LogLevel level = refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION
                               ? LogLevel::debug
                               : LogLevel::warn;
    detail::log(level, [&] {
      return "floe-gateway: an import of service '" + request->service() + "' by " +
             context->peer() + " was refused: " + refused.error_message();
    });
    reactor->Finish(refused);
    return reactor;
  }
  detail::log(LogLevel::info, [&] {
    return "floe-gateway: service '" + request->service() + "' described to " + context->peer();
  });
  *description = service->description;
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::CallResponse>* Exporter::Call(grpc::CallbackServerContext* context,
                                                           const v1::CallRequest* request) {
  detail::Reactor* loop = mailbox_.reactor();
  if (loop == nullptr) {
    return new RefusedCall(
        *context, request->service(),
        status(grpc::StatusCode::UNAVAILABLE, "floe-gateway: the exporting gateway is stopping"));
  }
  grpc::Status refused;
  ExportedService* service = opened(request->service(), refused);
  if (service == nullptr) return new RefusedCall(*context, request->service(), refused);
  auto* call = new ExportCall(*context, *loop);
  mailbox_.post(
      [service, call, request] { Runtime::current()->spawn(carry(*service, call, request)); });
  return call;
}

}  // namespace floe::gateway
