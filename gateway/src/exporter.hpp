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
#include <mutex>
#include <string>
#include <vector>

#include "floe_gateway.grpc.pb.h"
#include "mailbox.hpp"
#include "remote_event.hpp"

namespace floe::gateway {

/// One exported service: its description and the floe clients carrying its calls. Opened when
/// it first exists (Exporter::opened); until then only `opened` is read, under the exporter's
/// mutex, and after it the loop's calls use the rest.
struct ExportedService {
  bool opened = false;
  v1::ServiceDescription description;
  std::uint64_t types_digest = 0;  // of `description`: a call must bring the same
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
  /// Exports each of `services` of `node`'s domain (which must outlive it) with the types and
  /// limits its segment records, with up to `client_ports` client ports each: those that exist
  /// now are opened now, the others when a Describe or Call first finds them created (a server
  /// may start after its gateway). Its calls run on the loop `mailbox` serves.
  Exporter(const Node& node, const std::vector<std::string>& services, std::uint32_t client_ports,
           Mailbox& mailbox);

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const v1::DescribeRequest* request,
                                     v1::ServiceDescription* description) override;
  grpc::ServerWriteReactor<v1::CallResponse>* Call(grpc::CallbackServerContext* context,
                                                   const v1::CallRequest* request) override;

 private:
  /// The exported service `name`, opened if it exists by now; nullptr with the refusal in `why`
  /// when it is not exported or not created yet (FAILED_PRECONDITION: an importing gateway
  /// waits for it).
  ExportedService* opened(const std::string& name, grpc::Status& why);

  const Node& node_;
  std::uint32_t client_ports_;
  std::mutex mutex_;  // guards each service's `opened` and its opening (gRPC's threads)
  std::map<std::string, ExportedService> services_;
  Mailbox& mailbox_;
};

}  // namespace floe::gateway
