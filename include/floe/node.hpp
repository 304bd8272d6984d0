#pragma once
// A node: one participant (usually one per process) that opens services and owns their ports.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "floe/config.hpp"
#include "floe/detail/service_spec.hpp"
#include "floe/introspection.hpp"
#include "floe/service.hpp"

namespace floe {

class Node;
namespace detail {
struct NodeAccess;
}

/// The first step of opening a service: its name is given, its pattern comes next.
class ServiceBuilder {
 public:
  /// A request-response service with these payload types (each must be ShmCompatible: checked
  /// at compile time, with a message that says why).
  template <typename Request, typename Response>
  RequestResponseBuilder<Request, Response> request_response() const {
    return RequestResponseBuilder<Request, Response>(node_, name_);
  }

 private:
  friend class floe::Node;
  /// Made by Node::service_builder(name).
  ServiceBuilder(std::shared_ptr<const detail::NodeState> node, std::string name)
      : node_(std::move(node)), name_(std::move(name)) {}

  std::shared_ptr<const detail::NodeState> node_;
  std::string name_;
};

/// May be shared between threads: every call is const, and the services it opens are
/// separate objects. A node counts once toward a service's max_nodes however many times it
/// opens the service: its handles share one mapping and one node record. Two Node objects
/// are two nodes, even in one process.
class Node {
 public:
  /// With the domain and limits of Config::from_environment() (FLOE_DOMAIN, FLOE_CONFIG or
  /// /etc/floe/floe.toml). Throws floe::Error: invalid_config for a config file it cannot use,
  /// invalid_name unless `name` has 1 to 255 bytes (any bytes: tools escape
  /// what is not printable).
  static Node create(std::string_view name);
  /// With this configuration: its domain separates its services from other domains', its
  /// limits are the defaults of the services it creates. Throws floe::Error(invalid_name).
  static Node create(std::string_view name, Config config);

  /// The name given at creation. Written into the node record of each service it opens, so
  /// tools (`floe nodes`, ServiceInfo::nodes) show it; it need not be unique.
  const std::string& name() const noexcept { return state_->name; }
  /// The configuration its services use.
  const Config& config() const noexcept { return state_->config; }

  /// `name`: 1 to 255 bytes of printable ASCII other than space ('!' to '~'), in '/'-separated
  /// parts, none of them empty, '.' or '..'; checked when the service is opened
  /// (floe::Error(invalid_name) states the rule).
  ServiceBuilder service_builder(std::string_view name) const {
    return ServiceBuilder(state_, std::string(name));
  }

  /// Every service of the node's domain, read without joining any, sorted by object name.
  /// Objects it may not read (another user's, another floe version's) and stale or damaged
  /// ones are listed with their state, never a reason to throw for the whole list. Throws
  /// floe::Error(invalid_config) only for an invalid domain.
  std::vector<ServiceInfo> list_services() const;
  /// Whether a live service has this name in the node's domain, whatever its types (a stale or
  /// damaged one does not count: open() would remove it). Throws floe::Error: invalid_name,
  /// invalid_config for an invalid domain.
  bool service_exists(std::string_view name) const;
  /// Reclaims now, in every service of the node's domain, what floe otherwise reclaims when a
  /// service is next opened or a port created: the node records of processes that are gone and
  /// their clients and servers (whose slots are then free). Removes the services no live process
  /// holds any more, as their last node leaving would have. Services it may not read are left
  /// alone. What was reclaimed is returned. Throws floe::Error(invalid_config) for an invalid
  /// domain.
  DeadNodeCleanup clean_up_dead_nodes() const;

 private:
  friend struct detail::NodeAccess;
  explicit Node(std::shared_ptr<const detail::NodeState> state) : state_(std::move(state)) {}
  std::shared_ptr<const detail::NodeState> state_;
};

namespace detail {
/// For a binding whose payload types are known only at run time (python/): a node's state, as
/// the typed builders pass it to open_service().
struct NodeAccess {
  static const std::shared_ptr<const NodeState>& state(const Node& node) noexcept {
    return node.state_;
  }
};
}  // namespace detail

}  // namespace floe
