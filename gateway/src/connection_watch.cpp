#include "connection_watch.hpp"

#include <chrono>

#include "log.hpp"

namespace floe::gateway {

ConnectionWatch::ConnectionWatch(std::shared_ptr<grpc::Channel> channel, std::string address,
                                 std::function<void(bool up)> changed)
    : channel_(std::move(channel)),
      address_(std::move(address)),
      changed_(std::move(changed)),
      thread_([this](const std::stop_token& stop) { watch(stop); }) {}

void ConnectionWatch::watch(const std::stop_token& stop) const {
  grpc_connectivity_state state = GRPC_CHANNEL_IDLE;
  bool was_connected = false;
  bool reported_failure = false;
  while (!stop.stop_requested()) {
    // An idle channel is asked to connect: a lost connection is then retried at once, not at
    // the next call.
    const grpc_connectivity_state now = channel_->GetState(true);
    if (now == state) {
      // Woken every 200 ms at most, to see a stop request.
      channel_->WaitForStateChange(
          state, std::chrono::system_clock::now() + std::chrono::milliseconds(200));
      continue;
    }
    state = now;
    if (state == GRPC_CHANNEL_READY) {
      detail::log(LogLevel::info, [&] {
        return "floe-gateway: connected to the exporting gateway at " + address_;
      });
      if (!was_connected) changed_(true);
      was_connected = true;
      reported_failure = false;
    } else if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_IDLE) {
      if (was_connected) {
        detail::log(LogLevel::warn, [&] {
          return "floe-gateway: lost the exporting gateway at " + address_ +
                 "; its calls in progress ended; reconnecting";
        });
        changed_(false);
        reported_failure = true;
      } else if (!reported_failure) {
        detail::log(LogLevel::warn, [&] {
          return "floe-gateway: cannot reach the exporting gateway at " + address_ +
                 " (not listening, or TLS settings that do not match); retrying";
        });
        reported_failure = true;
      }
      was_connected = false;
    }
  }
}

}  // namespace floe::gateway
