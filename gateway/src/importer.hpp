#pragma once
// The importing side of floe-gateway: on the client's host, a floe server of each imported
// service (with the remote service's types and limits); every request it receives becomes a
// gRPC Call to the exporting gateway, every message of the call's stream a floe response.

#include <grpcpp/grpcpp.h>

#include <floe/detail/ports.hpp>
#include <floe/node.hpp>
#include <floe/task.hpp>

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "description.hpp"
#include "floe_gateway.grpc.pb.h"
#include "remote_event.hpp"

namespace floe::gateway {

struct ImportedService {
  v1::ServiceDescription description;
  std::uint64_t types_digest = 0;  // of `description`, sent with every call
  std::unique_ptr<LocalSpec> local;
  std::shared_ptr<detail::ServiceSegment> segment;
  /// Its server port while the exporting gateway is connected; none meanwhile, so that local
  /// clients see no server rather than one that cannot answer.
  std::shared_ptr<detail::ServerCore> server;
  std::unique_ptr<RemoteEvent> reconnected;  // set on the loop when the connection is back
};

class Importer {
 public:
  /// Describes each of `services` through `stub` (waiting up to `connect_timeout` in all for the
  /// exporting gateway, and for each service to be created on its host) and creates it in
  /// `node`'s domain, or joins it there when it exists with the same types and limits. Throws
  /// floe::Error.
  Importer(const Node& node, std::shared_ptr<grpc::Channel> channel,
           const std::vector<std::string>& services, std::chrono::milliseconds connect_timeout);

  /// Serves an imported service until the runtime stops: run it on the floe::Runtime whose
  /// loop calls on_connection(). While the connection is lost the service has no server port.
  Task<void> serve(ImportedService& service);
  std::vector<ImportedService>& services() noexcept { return services_; }

  /// On the loop: the connection to the exporting gateway was lost (`up` false) or made again.
  void on_connection(bool up);

 private:
  Task<void> forward(ImportedService& service, std::shared_ptr<detail::ServerCore> core,
                     detail::ServerCore::Active active);
  std::shared_ptr<detail::ServerCore> open_server(const ImportedService& service) const;
  /// Describe of `name`, asked again every kDescribeRetry while the exporting gateway says it
  /// is not created yet, until `deadline`: the last answer.
  grpc::Status describe(const std::string& name, std::chrono::system_clock::time_point deadline,
                        v1::ServiceDescription& description);
  static constexpr std::chrono::milliseconds kDescribeRetry{100};

  std::unique_ptr<v1::Gateway::Stub> stub_;
  std::vector<ImportedService> services_;
  bool connected_ = true;  // the constructor described every service through it
  std::stop_source lost_;  // stopped when the connection goes; a new one then
};

}  // namespace floe::gateway
