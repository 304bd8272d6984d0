#pragma once
// The exporting side of floe-gateway: on the server's host, a floe client of each exported
// service; every gRPC Call becomes a floe request, every floe response a message of its stream.

#include <grpcpp/grpcpp.h>

#include <floe/config.hpp>
#include <floe/detail/ports.hpp>
#include <floe/node.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "floe_gateway.grpc.pb.h"
#include "mailbox.hpp"

namespace floe::gateway {

/// One exported service: its description and the floe client carrying its calls.
struct ExportedService {
  v1::ServiceDescription description;
  std::shared_ptr<detail::ServiceSegment> segment;
  std::shared_ptr<detail::ClientCore> client;
};

class Exporter final : public v1::Gateway::CallbackService {
 public:
  /// Opens each of `services` in `node`'s domain (they must exist: a server runs there) with the
  /// types and limits its segment records. Its calls run on the loop `mailbox` serves.
  Exporter(const Node& node, const std::vector<std::string>& services, Mailbox& mailbox);

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
