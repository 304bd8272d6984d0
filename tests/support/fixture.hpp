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

/// A U64 service whose tests wait in floe::Runtimes that never spin: every wait really sleeps,
/// so the notifier is what wakes it.
class AsyncServiceTest : public U64ServiceTest {
 protected:
  RuntimeOptions asleep{.spin_budget = {}};

  /// In a forked child: a server in a runtime of its own that signals `ready`, takes one
  /// request and hands it to `answer(active, runtime)`, a Task<int> giving the exit code.
  template <typename Answer>
  int serve_one_request(Signal& ready, Answer answer) {
    auto remote = open_as("server");
    auto server = remote.server_builder().create();
    Runtime runtime(asleep);
    ready.notify();
    return runtime.block_on([&]() -> Task<int> {
      auto active = co_await with_timeout(server.receive(), 10s);
      co_return co_await answer(active, runtime);
    }());
  }
};

}  // namespace floe::test
