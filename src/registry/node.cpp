#include "floe/node.hpp"

#include "floe/error.hpp"
#include "registry/inspection.hpp"
#include "registry/names.hpp"
#include "registry/service_segment.hpp"

namespace floe {

Node Node::create(std::string_view name) {
  return create(name, Config::from_environment());
}

Node Node::create(std::string_view name, Config config) {
  if (name.empty() || name.size() > 255) {
    throw Error(Errc::invalid_name, "floe: a node name has 1 to 255 bytes, not " +
                                        std::to_string(name.size()) +
                                        (name.empty() ? "; give it a name" : "; shorten it"));
  }
  auto state = std::make_shared<detail::NodeState>();
  state->name = std::string(name);
  state->config = std::move(config);
  state->open_services = std::make_shared<detail::OpenServices>();
  return Node(std::move(state));
}

std::vector<ServiceInfo> Node::list_services() const {
  detail::check_domain(state_->config.domain);
  return detail::list_services(state_->config.domain, state_->config.group_access);
}

bool Node::service_exists(std::string_view name) const {
  const std::string service(name);
  detail::check_service_name(service);
  detail::check_domain(state_->config.domain);
  return detail::service_exists(state_->config.domain, service, state_->config.group_access);
}

DeadNodeCleanup Node::clean_up_dead_nodes() const {
  detail::check_domain(state_->config.domain);
  return detail::clean_up_dead_nodes(state_->config.domain, state_->config.group_access);
}

}  // namespace floe
