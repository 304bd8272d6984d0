#include "importer.hpp"

#include <floe/error.hpp>
#include <floe/runtime.hpp>

#include <atomic>
#include <cstring>
#include <thread>

#include "log.hpp"
#include "remote_event.hpp"
#include "untyped_ops.hpp"

namespace floe::gateway {

namespace {

/// One forwarded request's gRPC call. It keeps itself alive until gRPC is done with it
/// (OnDone), whoever else lets go first.
class ImportCall final : public grpc::ClientReadReactor<v1::CallResponse> {
 public:
  explicit ImportCall(detail::Reactor& loop) : read_(loop), done_(loop) {}

  void OnReadDone(bool ok) override {
    read_ok_.store(ok, std::memory_order_relaxed);
    read_.set();
  }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.set();
    self_.reset();  // last: may destroy this
  }

  std::shared_ptr<ImportCall> self_;
  grpc::ClientContext context_;
  v1::CallRequest request_;
  v1::CallResponse message_;
  RemoteEvent read_;
  RemoteEvent done_;
  std::atomic<bool> read_ok_{false};
  grpc::Status status_;  // written before done_ is set
};

/// Whether the remote server ended the call's stream itself (the exporting gateway says how a
/// stream ended in its trailing metadata), rather than the stream breaking off.
bool ended_by_remote_server(const ImportCall& call) {
  if (!call.status_.ok()) return false;
  const auto& trailing = call.context_.GetServerTrailingMetadata();
  const auto end = trailing.find("floe-stream-end");
  return end != trailing.end() && end->second == "finished";
}

}  // namespace

Importer::Importer(const Node& node, std::shared_ptr<grpc::Channel> channel,
                   const std::vector<std::string>& services,
                   std::chrono::milliseconds connect_timeout)
    : stub_(v1::Gateway::NewStub(channel)) {
  const auto& state = *detail::NodeAccess::state(node);
  const auto deadline = std::chrono::system_clock::now() + connect_timeout;
  for (const std::string& name : services) {
    ImportedService imported;
    const grpc::Status status = describe(name, deadline, imported.description);
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      throw Error(Errc::timed_out, "floe-gateway: cannot import '" + name +
                                       "' yet: " + status.error_message() + " (waited " +
                                       std::to_string(connect_timeout.count() / 1000) +
                                       " s for it, --connect-timeout-s)");
    }
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      throw Error(Errc::timed_out,
                  "floe-gateway: cannot import '" + name +
                      "': no exporting gateway answered within " +
                      std::to_string(connect_timeout.count() / 1000) +
                      " s; is one listening at the --connect address, with TLS settings that match "
                      "these (--tls-ca; --tls-cert and --tls-key for mutual TLS; "
                      "--tls-server-name when its certificate names another host)?");
    }
    if (!status.ok()) {
      throw Error(Errc::service_does_not_exist,
                  "floe-gateway: cannot import '" + name + "': " + status.error_message());
    }
    imported.local = std::make_unique<LocalSpec>();
    local_spec_of(imported.description, state.config, *imported.local);
    imported.types_digest = types_digest(imported.description);
    try {
      imported.segment =
          detail::open_service(state, imported.local->spec, detail::OpenMode::open_or_create);
    } catch (const Error& error) {
      // The same refusal a local process would get (incompatible_types, _limits, ...).
      throw Error(error.code(), "floe-gateway: cannot import '" + name + "' here: " + error.what());
    }
    imported.server = open_server(imported);
    services_.push_back(std::move(imported));
  }
}

grpc::Status Importer::describe(const std::string& name,
                                std::chrono::system_clock::time_point deadline,
                                v1::ServiceDescription& description) {
  v1::DescribeRequest request;
  request.set_service(name);
  bool told = false;
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    context.set_wait_for_ready(true);
    grpc::Status status = stub_->Describe(&context, request, &description);
    // FAILED_PRECONDITION: exported, but its server has not created it yet.
    if (status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return status;
    if (!told) {
      told = true;
      detail::log(LogLevel::info, [&] {
        return "floe-gateway: waiting for service '" + name +
               "' to be created on the exporting host: " + status.error_message();
      });
    }
    if (std::chrono::system_clock::now() + kDescribeRetry >= deadline) return status;
    std::this_thread::sleep_for(kDescribeRetry);
  }
}

std::shared_ptr<detail::ServerCore> Importer::open_server(const ImportedService& service) const {
  return std::make_shared<detail::ServerCore>(
      service.segment, service.local->spec.limits.max_loaned_responses_per_request,
      Backpressure::block,
      // A remote server's slice may have grown past the service's maximum: so may this one.
      service.description.response().slice()
          ? detail::SlicePolicy{0, AllocationStrategy::power_of_two}
          : detail::SlicePolicy{});
}

void Importer::on_connection(bool up) {
  if (up == connected_) return;
  connected_ = up;
  if (!up) {
    lost_.request_stop();  // every service's server port goes
    lost_ = std::stop_source();
    return;
  }
  for (ImportedService& service : services_) {
    if (service.reconnected) service.reconnected->set();
  }
}

Task<void> Importer::serve(ImportedService& service) {
  service.reconnected = std::make_unique<RemoteEvent>(*detail::Reactor::current());
  for (;;) {
    if (!connected_) {
      service.reconnected->reset();
      co_await service.reconnected->wait();
      continue;
    }
    if (!service.server) {
      service.server = open_server(service);
      detail::log(LogLevel::info, [&] {
        return "floe-gateway: serving '" + service.description.service() + "' again";
      });
    }
    const std::stop_token lost = lost_.get_token();
    try {
      for (;;) {
        ServerReceive receive(service.server);
        receive.set_stop_token(lost);
        const detail::ServerCore::Active active = co_await receive;
        Runtime::current()->spawn(forward(service, service.server, active));
      }
    } catch (const Error&) {
      if (!lost.stop_requested()) throw;  // the runtime stopped
    }
    // The port goes once the calls it carries have ended (they fail with the connection).
    service.server.reset();
    detail::log(LogLevel::warn, [&] {
      return "floe-gateway: '" + service.description.service() +
             "' has no server here until the exporting gateway is back";
    });
  }
}

Task<void> Importer::forward(ImportedService& service, std::shared_ptr<detail::ServerCore> core,
                             detail::ServerCore::Active active) {
  const v1::ServiceDescription& d = service.description;
  auto call = std::make_shared<ImportCall>(*detail::Reactor::current());
  const bool request_slice = d.request().slice();
  const std::uint64_t request_bytes =
      request_slice ? active.request.length * d.request().size() : d.request().size();
  call->request_.set_service(d.service());
  call->request_.set_payload(active.request.payload, request_bytes);
  call->request_.set_user_header(active.request.user_header, d.request_user_header().size());
  call->request_.set_slice_len(request_slice ? active.request.length : 0);
  call->request_.set_types_digest(service.types_digest);
  call->self_ = call;
  stub_->async()->Call(&call->context_, &call->request_, call.get());
  // Reads are started from the loop, outside gRPC's reactions: the hold keeps the call from
  // being done (and the next StartRead from being too late) until the loop lets go.
  call->AddHold();
  call->StartRead(&call->message_);
  call->StartCall();

  const bool response_slice = d.response().slice();
  bool client_left = false;
  bool broken = false;  // this gateway ended the stream: it could not carry a response
  try {
    for (;;) {
      if (!co_await ClientLeftOr<RemoteEvent>(core, active, call->read_)) {
        client_left = true;
        break;
      }
      call->read_.reset();
      if (!call->read_ok_.load(std::memory_order_relaxed)) break;  // the stream ended
      for (const v1::Response& message : call->message_.responses()) {
        const std::uint64_t bytes =
            response_slice ? message.slice_len() * d.response().size() : d.response().size();
        if (message.payload().size() != bytes ||
            message.user_header().size() != d.response_user_header().size()) {
          detail::log(LogLevel::error, [&] {
            return "floe-gateway: a response of service '" + d.service() +
                   "' from the exporting gateway does not fit its type; the "
                   "stream is ended";
          });
          broken = client_left = true;  // ends the remote call, and the local stream as gone
          break;
        }
        std::uint32_t chunk = 0;
        const detail::ChunkView view = response_slice
                                           ? core->loan(active, chunk, message.slice_len())
                                           : core->loan(active, chunk);
        std::memcpy(view.payload, message.payload().data(), bytes);
        if (!message.user_header().empty()) {
          std::memcpy(view.user_header, message.user_header().data(), message.user_header().size());
        }
        if (!co_await ResponseSend(core, active, chunk)) {
          client_left = true;
          break;
        }
      }
      if (client_left) break;
      call->StartRead(&call->message_);
    }
  } catch (const Error& error) {
    detail::log(LogLevel::error, [&] { return std::string("floe-gateway: ") + error.what(); });
    broken = client_left = true;
  }
  if (client_left) call->context_.TryCancel();  // the exporting side drops its request
  call->RemoveHold();
  co_await call->done_.wait();
  if (!call->status_.ok() && !client_left) {
    detail::log(LogLevel::warn, [&] {
      return "floe-gateway: a call of service '" + d.service() +
             "' ended: " + call->status_.error_message();
    });
  }
  // The local client reads the end as the remote one was: finished when the remote server
  // ended its stream; server_gone when it died, none was there, or the call failed on the way.
  core->end(active, broken || (!client_left && !ended_by_remote_server(*call)));
}

}  // namespace floe::gateway
