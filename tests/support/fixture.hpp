#pragma once
// What the port tests share: a service of their own per test, opened from other processes too.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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

/// The message of the floe::Error a call throws, empty when it throws none.
template <typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

/// A forked child running `body(ready)`, returned once it has notified `ready`; one that does
/// not within 10 s fails the test.
template <typename Body>
ChildProcess started(Body body) {
  Signal ready;
  ChildProcess child([&] { return body(ready); });
  EXPECT_EQ(ready.wait(), 1) << "the child did not get ready";
  return child;
}

/// The next request of a server or response of a pending response, waiting at most `timeout`.
template <typename Port>
auto receive_within(Port& port, std::chrono::milliseconds timeout = 10s) {
  decltype(port.try_receive()) received;
  eventually([&] { return (received = port.try_receive()).has_value(); }, timeout);
  return received;
}

/// Receives until the stream ends (bounded): every payload, in order. Drains once more after
/// is_connected() turned false: what the servers sent before they let go is still there.
template <typename Pending>
auto receive_stream(Pending& pending, std::chrono::milliseconds timeout = 10s) {
  std::vector<std::remove_cvref_t<decltype(pending.try_receive()->payload())>> values;
  const auto drain = [&] {
    while (auto r = pending.try_receive())
      values.push_back(r->payload());
  };
  const bool ended = eventually(
      [&] {
        drain();
        return !pending.is_connected();
      },
      timeout);
  drain();
  EXPECT_TRUE(ended) << "the stream did not end";
  return values;
}

/// A domain of the test's own with small limits for slice services: 2 clients, 1 server, 2
/// active requests and 2 loans each, 4 buffered responses, 2 borrowed and 2 loaned per request.
inline Config small_slice_config() {
  Config c = isolated_config();
  c.request_response.max_clients = 2;
  c.request_response.max_servers = 1;
  c.request_response.max_active_requests_per_client = 2;
  c.request_response.max_loaned_requests = 2;
  c.request_response.max_response_buffer_size = 4;
  c.request_response.max_borrowed_responses_per_pending_response = 2;
  c.request_response.max_loaned_responses_per_request = 2;
  return c;
}

using U64Service = Service<std::uint64_t, std::uint64_t>;
using U64Server = Server<std::uint64_t, std::uint64_t>;
using U64Client = Client<std::uint64_t, std::uint64_t>;
using U64Active = ActiveRequest<std::uint64_t, std::uint64_t>;
using U64Pending = PendingResponse<std::uint64_t, std::uint64_t>;

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

  /// A process that holds the service `create(builder)` creates, given the builder of a node of
  /// its own, until `release` is notified; returned once the service exists.
  template <typename Create>
  ChildProcess creator_holding(Create create, const Signal& release) {
    return started([&](const Signal& ready) {
      Node other = Node::create("creator", config);
      auto service = create(builder(other));
      ready.notify();
      return release.wait() == 1 ? 0 : 1;
    });
  }

  /// A server in another process, waiting for one request (at most 10 s) that it hands to
  /// `answer(request)`: a non-empty optional, which the answer may reset to let go of the
  /// request. What `answer` returns is the child's exit code.
  template <typename Answer>
  ChildProcess server_answering(Answer answer) {
    return started([&](const Signal& ready) {
      auto server = open_as("server").server_builder().create();
      ready.notify();
      auto request = receive_within(server);
      FLOE_CHILD_CHECK(request);
      return answer(request);
    });
  }

  /// A server in another process, waiting for one request: once `go` is notified it answers
  /// with three responses, the request's payload * 10 + 0, 1, 2, and the stream ends.
  ChildProcess server_answering_three_when(const Signal& go) {
    return server_answering([&](auto& request) {
      FLOE_CHILD_CHECK(go.wait() == 1);
      for (std::uint64_t i = 0; i < 3; ++i)
        FLOE_CHILD_CHECK(request->send_copy(request->payload() * 10 + i));
      return 0;
    });
  }

  /// A client in another process that has sent `payload` and holds the request pending until
  /// the test kills it.
  ChildProcess client_that_sent(std::uint64_t payload) {
    return started([&](const Signal& sent) {
      auto client = open_as("doomed-client").client_builder().create();
      auto pending = client.send_copy(payload);
      sent.notify();
      return wait_to_be_killed();
    });
  }
};

/// The floe::Errc an awaited operation failed with, or Errc{} when it succeeded.
template <typename Operation>
Task<Errc> error_of_await(Operation operation) {
  try {
    co_await std::move(operation);
  } catch (const Error& e) {
    co_return static_cast<Errc>(e.code().value());
  }
  co_return Errc{};
}

/// A request as the server holds it, with one response to it loaned and held.
struct HeldLoanStream {
  U64Pending pending;
  U64Active active;
  std::optional<U64Active::Loan> held;
};

/// A request `client` sends now, as `server` receives it (within 10 s, else
/// std::bad_optional_access), with one response loaned: under a service's
/// max_loaned_responses_per_request(1), the next loan of it waits for that one.
inline HeldLoanStream held_loan_stream(U64Client& client, U64Server& server,
                                       std::uint64_t request) {
  U64Pending pending = client.send_copy(request);
  U64Active active = receive_within(server).value();
  std::optional<U64Active::Loan> held = active.loan();
  return HeldLoanStream{std::move(pending), std::move(active), std::move(held)};
}

/// A U64 service whose tests wait in floe::Runtimes that never spin: every wait really sleeps,
/// so the notifier is what wakes it.
class AsyncServiceTest : public U64ServiceTest {
 protected:
  RuntimeOptions asleep{.spin_budget = {}};
  /// A loop that neither spins nor looks again on its own (no safety recheck): only a ring, a
  /// peer's death or a deadline wakes it, so a wait that ends before its timeout proves the
  /// wake-up, however slow the machine.
  RuntimeOptions rung_only{.spin_budget = {}, .safety_recheck = {}};

  /// In a forked child: a server in a runtime of its own that signals `ready`, takes one
  /// request and hands it to `answer(active, runtime)`, a Task<int> giving the exit code.
  template <typename Answer>
  int serve_one_request(const Signal& ready, Answer answer) {
    auto remote = open_as("server");
    auto server = remote.server_builder().create();
    Runtime runtime(asleep);
    ready.notify();
    return runtime.block_on([&]() -> Task<int> {
      auto active = co_await with_timeout(server.receive(), 10s);
      co_return co_await answer(active, runtime);
    }());
  }

  /// A client in another process, in a runtime of its own: sends each of `requests` at once,
  /// then receives each stream to its end and checks that it holds exactly
  /// `expected(request)`, in any order.
  template <typename Expected>
  ChildProcess client_expecting(std::vector<std::uint64_t> requests, Expected expected) {
    return ChildProcess([this, requests, expected] {
      auto client = open_as("client").client_builder().create();
      Runtime runtime(asleep);
      return runtime.block_on([&]() -> Task<int> {
        std::vector<U64Pending> pendings;
        for (const std::uint64_t r : requests)
          pendings.push_back(client.send_copy(r));
        for (std::size_t i = 0; i < requests.size(); ++i) {
          std::vector<std::uint64_t> seen;
          while (auto response = co_await with_timeout(pendings[i].receive(), 10s))
            seen.push_back(response->payload());
          std::vector<std::uint64_t> wanted = expected(requests[i]);
          std::sort(seen.begin(), seen.end());
          std::sort(wanted.begin(), wanted.end());
          FLOE_CHILD_CO_CHECK(seen == wanted);
        }
        co_return 0;
      }());
    });
  }

  /// A server in another process, waiting in a runtime for one request: it answers with
  /// 0 .. `count` - 1, notifies `streaming` and waits for the test to kill it mid-stream.
  ChildProcess server_streaming_until_killed(std::uint64_t count, const Signal& streaming) {
    return started([&](const Signal& ready) {
      return serve_one_request(ready, [&](auto& active, Runtime&) -> Task<int> {
        for (std::uint64_t i = 0; i < count; ++i)
          active.send_copy(i);
        streaming.notify();
        co_return wait_to_be_killed();
      });
    });
  }
};

}  // namespace floe::test
