#pragma once
// The exporting side of floe-gateway: on the server's host, a floe client of each exported
// service; every gRPC Call becomes a floe request, every floe response a message of its stream.

#include <grpcpp/grpcpp.h>

#include <floe/config.hpp>
#include <floe/detail/ports.hpp>
#include <floe/node.hpp>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "floe_gateway.grpc.pb.h"
#include "mailbox.hpp"
#include "remote_event.hpp"

namespace floe::gateway {

/// One exported service: its description and the floe clients carrying its calls.
struct ExportedService {
  v1::ServiceDescription description;
  std::shared_ptr<detail::ServiceSegment> segment;
  std::uint32_t max_active_requests_per_client = 0;
  /// Opened as calls need them, up to max_clients (or the service's max_clients): each carries
  /// max_active_requests_per_client calls at once; calls beyond wait for a free request channel.
  std::vector<std::shared_ptr<detail::ClientCore>> clients;
  std::uint32_t max_clients = 1;
  /// The calls waiting for a request channel, in arrival order: only the first waits on a
  /// client (holding a loan: a client has few), the others for their turn.
  std::deque<std::shared_ptr<RemoteEvent>> waiting;
  std::size_t next_wait = 0;  // the client the next first call waits on (round robin)
  bool waited = false;        // a call has waited in line (logged once)
};

class Exporter final : public v1::Gateway::CallbackService {
 public:
  /// Opens each of `services` in `node`'s domain (they must exist: a server runs there) with the
  /// types and limits its segment records, with up to `client_ports` client ports each. Its
  /// calls run on the loop `mailbox` serves.
  Exporter(const Node& node, const std::vector<std::string>& services, std::uint32_t client_ports,
           Mailbox& mailbox);

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const v1::DescribeRequest* request,
                                     v1::ServiceDescription* description) override;
  grpc::ServerWriteReactor<v1::CallResponse>* Call(grpc::CallbackServerContext* context,
                                                   const v1::CallRequest* request) override;

 private:
  std::map<std::string, ExportedService> services_;
  Mailbox& mailbox_;
};

}  // namespace floe::gateway
