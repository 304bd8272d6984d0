#pragma once
// A node: one participant (usually one per process) that opens services and owns their ports.

#include <memory>
#include <string>
#include <string_view>

#include "floe/config.hpp"
#include "floe/detail/service_spec.hpp"
#include "floe/service.hpp"

namespace floe {

class ServiceBuilder {
 public:
  ServiceBuilder(std::shared_ptr<const detail::NodeState> node, std::string name)
      : node_(std::move(node)), name_(std::move(name)) {}

  template <typename Request, typename Response>
  RequestResponseBuilder<Request, Response> request_response() const {
    return RequestResponseBuilder<Request, Response>(node_, name_);
  }

 private:
  std::shared_ptr<const detail::NodeState> node_;
  std::string name_;
};

/// May be shared between threads: every call is const, and the services it opens are
/// separate objects.
class Node {
 public:
  /// With the domain and limits of Config::from_environment().
  static Node create(std::string_view name);
  static Node create(std::string_view name, Config config);

  const std::string& name() const noexcept { return state_->name; }
  const Config& config() const noexcept { return state_->config; }

  /// `name`: '/'-separated, at most 255 characters; checked when the service is opened.
  ServiceBuilder service_builder(std::string_view name) const {
    return ServiceBuilder(state_, std::string(name));
  }

 private:
  explicit Node(std::shared_ptr<const detail::NodeState> state) : state_(std::move(state)) {}
  std::shared_ptr<const detail::NodeState> state_;
};

}  // namespace floe
