#pragma once
// What the port tests share: a service of their own per test, opened from other processes too.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>

#include "support/process.hpp"

namespace floe::test {

/// The floe::Errc a call throws, or Errc{} when it throws nothing.
template <typename F>
Errc error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return static_cast<Errc>(e.code().value());
  }
  return Errc{};
}

/// The next request of a server or response of a pending response, waiting at most `timeout`.
template <typename Port>
auto receive_within(Port& port, std::chrono::milliseconds timeout = 10s) {
  decltype(port.try_receive()) received;
  eventually([&] { return (received = port.try_receive()).has_value(); }, timeout);
  return received;
}

/// A u64 -> u64 service in a domain of the test's own.
class U64ServiceTest : public ::testing::Test {
 protected:
  Config config = isolated_config();
  Node node = Node::create("test", config);

  auto builder(Node& n) {
    return n.service_builder("Test/Service").request_response<std::uint64_t, std::uint64_t>();
  }
  auto builder() { return builder(node); }

  /// The service as another node (in a forked child: another process) opens it.
  auto open_as(const char* node_name) {
    Node other = Node::create(node_name, config);
    return builder(other).open();
  }
};

}  // namespace floe::test
