#include "floe/node.hpp"

#include "floe/error.hpp"

namespace floe {

Node Node::create(std::string_view name) {
  return create(name, Config::from_environment());
}

Node Node::create(std::string_view name, Config config) {
  if (name.empty() || name.size() > 255) {
    throw Error(Errc::invalid_name, "floe: a node name has 1 to 255 characters");
  }
  auto state = std::make_shared<detail::NodeState>();
  state->name = std::string(name);
  state->config = std::move(config);
  return Node(std::move(state));
}

}  // namespace floe
