#pragma once
// The importing gateway's connection to the exporting one: connected, lost, connected again,
// in the log and to a callback. gRPC reconnects by itself; this watches, and asks an idle
// channel to connect at once.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace floe::gateway {

class ConnectionWatch {
 public:
  /// `changed(up)` is called on the watching thread when the connection is made (true) after
  /// being lost, and when it is lost (false).
  ConnectionWatch(std::shared_ptr<grpc::Channel> channel, std::string address,
                  std::function<void(bool up)> changed);

 private:
  void watch(const std::stop_token& stop) const;

  std::shared_ptr<grpc::Channel> channel_;
  std::string address_;
  std::function<void(bool up)> changed_;
  std::jthread thread_;  // last: stopped and joined first
};

}  // namespace floe::gateway
