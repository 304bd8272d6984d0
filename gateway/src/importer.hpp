#pragma once
// The importing side of floe-gateway: on the client's host, a floe server of each imported
// service (with the remote service's types and limits); every request it receives becomes a
// gRPC Call to the exporting gateway, every message of the call's stream a floe response.

#include <grpcpp/grpcpp.h>

#include <floe/detail/ports.hpp>
#include <floe/node.hpp>
#include <floe/task.hpp>

#include <memory>
#include <string>
#include <vector>

#include "description.hpp"
#include "floe_gateway.grpc.pb.h"

namespace floe::gateway {

struct ImportedService {
  v1::ServiceDescription description;
  std::unique_ptr<LocalSpec> local;
  std::shared_ptr<detail::ServiceSegment> segment;
  std::shared_ptr<detail::ServerCore> server;
};

class Importer {
 public:
  /// Describes each of `services` through `stub` (waiting up to `connect_timeout` for the
  /// exporting gateway) and creates it in `node`'s domain, or joins it there when it exists
  /// with the same types and limits. Throws floe::Error.
  Importer(const Node& node, std::shared_ptr<grpc::Channel> channel,
           const std::vector<std::string>& services, std::chrono::milliseconds connect_timeout);

  /// Serves every imported service until the runtime stops: run it on a floe::Runtime.
  Task<void> serve(ImportedService& service);
  std::vector<ImportedService>& services() noexcept { return services_; }

 private:
  Task<void> forward(ImportedService& service, detail::ServerCore::Active active);

  std::unique_ptr<v1::Gateway::Stub> stub_;
  std::vector<ImportedService> services_;
};

}  // namespace floe::gateway
