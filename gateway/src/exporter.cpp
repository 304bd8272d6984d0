#include "exporter.hpp"

#include <floe/error.hpp>
#include <floe/runtime.hpp>
#include <floe/stream_end.hpp>

#include <atomic>
#include <cstring>
#include <stop_token>

#include "description.hpp"
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
      : context_(context), written_(loop) {}

  void OnWriteDone(bool ok) override {
    write_ok_.store(ok, std::memory_order_relaxed);
    written_.set();
  }
  void OnCancel() override { cancel_.request_stop(); }
  void OnDone() override { delete this; }

  grpc::CallbackServerContext& context_;
  RemoteEvent written_;
  std::atomic<bool> write_ok_{false};
  std::stop_source cancel_;
  v1::CallResponse message_;
};

grpc::Status status(grpc::StatusCode code, const std::string& message) {
  return grpc::Status(code, message);
}

/// A Call ended before it began.
class RefusedCall final : public grpc::ServerWriteReactor<v1::CallResponse> {
 public:
  explicit RefusedCall(const grpc::Status& why) { Finish(why); }
  void OnDone() override { delete this; }
};

std::string message_of(const detail::Failure& failure) {
  try {
    failure.raise();
  } catch (const Error& error) {
    return error.what();
  }
}

/// The floe request of `request`, and its responses carried back, until the floe stream ends
/// or the call is cancelled.
Task<void> carry(ExportedService& service, ExportCall* call, const v1::CallRequest* request) {
  const v1::ServiceDescription& d = service.description;
  const std::shared_ptr<detail::ClientCore>& core = service.client;
  const bool slice = d.request().slice();
  const std::uint64_t payload_bytes =
      slice ? request->slice_len() * d.request().size() : d.request().size();
  if (request->payload().size() != payload_bytes ||
      request->user_header().size() != d.request_user_header().size()) {
    call->Finish(status(grpc::StatusCode::INVALID_ARGUMENT,
                        "floe-gateway: service '" + d.service() + "' takes requests of " +
                            std::to_string(payload_bytes) + " payload and " +
                            std::to_string(d.request_user_header().size()) +
                            " user header bytes; this one had " +
                            std::to_string(request->payload().size()) + " and " +
                            std::to_string(request->user_header().size())));
    co_return;
  }
  std::uint32_t chunk = 0;
  detail::ChunkView view;
  try {
    view = slice ? core->loan(chunk, request->slice_len()) : core->loan(chunk);
  } catch (const Error& error) {
    call->Finish(status(grpc::StatusCode::RESOURCE_EXHAUSTED, error.what()));
    co_return;
  }
  std::memcpy(view.payload, request->payload().data(), payload_bytes);
  if (!request->user_header().empty()) {
    std::memcpy(view.user_header, request->user_header().data(), request->user_header().size());
  }
  std::uint32_t channel = 0;
  detail::Failure failure;
  if (!core->try_send(chunk, channel, failure)) {
    core->release_loan(chunk);
    call->Finish(status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        failure ? message_of(failure)
                                : "floe-gateway: every request of the exporting gateway's client "
                                  "of '" +
                                      d.service() + "' is open; try again"));
    co_return;
  }
  const std::stop_token cancelled = call->cancel_.get_token();
  const bool response_slice = d.response().slice();
  grpc::Status ending = grpc::Status::OK;
  try {
    for (;;) {
      StreamReceive receive(core, channel);
      receive.set_stop_token(cancelled);
      const std::optional<detail::ClientCore::Received> received = co_await receive;
      if (!received) break;
      const detail::ChunkView& response = received->view;
      const std::uint64_t bytes =
          response_slice ? response.length * d.response().size() : d.response().size();
      call->message_.set_payload(response.payload, bytes);
      call->message_.set_user_header(response.user_header, d.response_user_header().size());
      call->message_.set_slice_len(response_slice ? response.length : 0);
      core->release_response(channel, received->server, received->chunk);
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
  call->Finish(ending);
}

}  // namespace

Exporter::Exporter(const Node& node, const std::vector<std::string>& services, Mailbox& mailbox)
    : mailbox_(mailbox) {
  const auto& state = *detail::NodeAccess::state(node);
  for (const std::string& name : services) {
    ExportedService exported;
    exported.description = describe_service(state.config.domain, name, state.config.group_access);
    LocalSpec local;
    local_spec_of(exported.description, state.config, local);
    exported.segment = detail::open_service(state, local.spec, detail::OpenMode::open);
    exported.client = std::make_shared<detail::ClientCore>(
        exported.segment, local.spec.limits.max_active_requests_per_client, Backpressure::block,
        // A remote client's slice may have grown past the service's maximum: so may this one.
        exported.description.request().slice()
            ? detail::SlicePolicy{0, AllocationStrategy::power_of_two}
            : detail::SlicePolicy{});
    services_.emplace(name, std::move(exported));
  }
}

grpc::ServerUnaryReactor* Exporter::Describe(grpc::CallbackServerContext* context,
                                             const v1::DescribeRequest* request,
                                             v1::ServiceDescription* description) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const auto found = services_.find(request->service());
  if (found == services_.end()) {
    reactor->Finish(
        status(grpc::StatusCode::NOT_FOUND,
               "floe-gateway: service '" + request->service() + "' is not exported here"));
    return reactor;
  }
  *description = found->second.description;
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::CallResponse>* Exporter::Call(grpc::CallbackServerContext* context,
                                                           const v1::CallRequest* request) {
  detail::Reactor* loop = mailbox_.reactor();
  const auto found = services_.find(request->service());
  if (loop == nullptr) {
    return new RefusedCall(
        status(grpc::StatusCode::UNAVAILABLE, "floe-gateway: the exporting gateway is stopping"));
  }
  if (found == services_.end()) {
    return new RefusedCall(
        status(grpc::StatusCode::NOT_FOUND,
               "floe-gateway: service '" + request->service() + "' is not exported here"));
  }
  auto* call = new ExportCall(*context, *loop);
  ExportedService* service = &found->second;
  mailbox_.post(
      [service, call, request] { Runtime::current()->spawn(carry(*service, call, request)); });
  return call;
}

}  // namespace floe::gateway
