#pragma once
// The importing gateway's connection to the exporting one, in the log: connected, lost (and
// why gRPC is retrying), connected again. gRPC reconnects by itself; this only watches.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

namespace floe::gateway {

class ConnectionLog {
 public:
  ConnectionLog(std::shared_ptr<grpc::Channel> channel, std::string address);

 private:
  void watch(const std::stop_token& stop) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::string address_;
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace floe::gateway
