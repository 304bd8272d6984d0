// floe-gateway between two "hosts": two floe domains on this machine, an exporting gateway in
// one, an importing gateway in the other, over 127.0.0.1. Clients and servers are the typed
// C++ API in processes of their own.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/fixture.hpp"
#include "support/process.hpp"

namespace floe::test {
namespace {

using namespace std::chrono_literals;

/// A floe-gateway process in `domain`, its output read line by line.
class GatewayProcess {
 public:
  GatewayProcess(const std::string& domain, std::vector<std::string> arguments)
      : child_([&] {
          ::dup2(pipe_.write, 1);
          ::dup2(pipe_.write, 2);
          ::setenv("FLOE_DOMAIN", domain.c_str(), 1);
          std::string path = FLOE_GATEWAY_PATH;
          std::vector<char*> argv{path.data()};
          for (std::string& argument : arguments)
            argv.push_back(argument.data());
          argv.push_back(nullptr);
          ::execv(path.c_str(), argv.data());
          return 127;
        }) {
    ::close(pipe_.write);
  }
  ~GatewayProcess() { ::close(pipe_.read); }  // then child_ kills it if it still runs

  /// The next line it printed, or nothing within `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (const auto end = seen_.find('\n'); end != std::string::npos) {
        std::string found = seen_.substr(0, end);
        seen_.erase(0, end + 1);
        return found;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{pipe_.read, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return {};
      char buffer[256];
      const ssize_t n = ::read(pipe_.read, buffer, sizeof buffer);
      if (n <= 0) return {};
      seen_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  void signal(int signal) const { ::kill(child_.pid(), signal); }
  /// Sends `signal` and waits (bounded) for the exit: its exit code, or -1 (then killed).
  int stop(int signal = SIGTERM) {
    ::kill(child_.pid(), signal);
    return child_.wait(10s);
  }

 private:
  struct Pipe {
    int read = -1;
    int write = -1;
    Pipe() {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
      read = fds[0];
      write = fds[1];
    }
  };
  Pipe pipe_;  // before child_: the child writes into it
  ChildProcess child_;
  std::string seen_;
};

/// The port an exporting gateway listening on 127.0.0.1:0 said it took, or 0.
int exported_port(GatewayProcess& exporter) {
  const std::optional<std::string> ready = exporter.line();
  if (!ready) return 0;
  const auto at = ready->rfind("on port ");
  return at == std::string::npos ? 0 : std::stoi(ready->substr(at + 8));
}

/// An exporting gateway of Test/Remote in the server side's domain, on a port of its choosing.
struct Gateways {
  std::string keepalive_ms;
  GatewayProcess exporter;
  int port = 0;
  explicit Gateways(const Config& server_side, std::string keepalive_ms = "1000")
      : keepalive_ms(std::move(keepalive_ms)),
        exporter(server_side.domain, {"export", "--listen", "127.0.0.1:0", "--service",
                                      "Test/Remote", "--keepalive-ms", this->keepalive_ms}),
        port(exported_port(exporter)) {}
  std::unique_ptr<GatewayProcess> importer;

  /// Starts the importing gateway in `domain`: the first line it prints (that it imported the
  /// service, or why not), or nothing in 10 s.
  std::optional<std::string> import_into(const std::string& domain) {
    importer = std::make_unique<GatewayProcess>(
        domain, std::vector<std::string>{"import", "--connect", "127.0.0.1:" + std::to_string(port),
                                         "--service", "Test/Remote"});
    return importer->line();
  }
};

struct Numbered {
  std::uint64_t request = 0;
  std::uint64_t index = 0;
  static constexpr std::string_view floe_type_name = "test::Numbered";
};

class GatewayTest : public ::testing::Test {
 protected:
  Config server_side = isolated_config();
  Config client_side = [this] {
    Config c = isolated_config();
    c.domain = server_side.domain + "b";
    return c;
  }();

  static auto builder(Node& node) {
    // Lossless streams (a full buffer makes the server wait), as the gateways keep them.
    return node.service_builder("Test/Remote")
        .request_response<std::uint64_t, Numbered>()
        .enable_safe_overflow_for_responses(false);
  }
  Node local = Node::create("local", client_side);
  /// A client of the imported service in the client side's domain.
  auto local_client() { return builder(local).open().client_builder().create(); }

  /// A server in the server side's domain streaming responses 0, 1, 2, ... to the first request
  /// until its client stops listening: exit 0 then, 3 if it still listens after 20 s.
  ChildProcess endless_server(Signal& ready) {
    return ChildProcess([&] {
      Node node = Node::create("remote-server", server_side);
      auto service = builder(node).create();
      auto server = service.server_builder().backpressure(Backpressure::block).create();
      ready.notify();
      auto active = receive_within(server, 30s);
      FLOE_CHILD_CHECK(active);
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      for (std::uint64_t i = 0; active->is_connected(); ++i) {
        if (std::chrono::steady_clock::now() > deadline) return 3;
        (void)active->send_copy(Numbered{0, i});
      }
      return 0;
    });
  }

  /// A local stream from an endless remote server, three responses in, when `fault` happens to
  /// the other side: the local stream must end (its client sees is_connected() == false) within
  /// `bound`, never hang. Returns how long it took.
  template <typename Fault>
  std::chrono::milliseconds stream_end_after(Fault fault, std::chrono::milliseconds bound) {
    auto client = local_client();
    auto pending = client.send_copy(std::uint64_t{0});
    for (int i = 0; i < 3; ++i)
      EXPECT_TRUE(receive_within(pending, 10s)) << i;
    fault();
    const auto start = std::chrono::steady_clock::now();
    const bool ended = eventually(
        [&] {
          while (pending.try_receive()) {
          }
          return !pending.is_connected();
        },
        bound);
    EXPECT_TRUE(ended) << "the local stream outlived the fault by " << bound.count() << " ms";
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

  /// Both gateways between the two domains, started once the server said it is `ready`
  /// (nullptr, with the failure recorded, if anything did not start).
  std::unique_ptr<Gateways> connect_domains(const Signal& ready,
                                            const std::string& keepalive_ms = "1000") {
    if (ready.wait() != 1) {
      ADD_FAILURE() << "the server did not get ready";
      return nullptr;
    }
    auto gateways = std::make_unique<Gateways>(server_side, keepalive_ms);
    if (gateways->port == 0 || !gateways->import_into(client_side.domain)) {
      ADD_FAILURE() << "the gateways did not start";
      return nullptr;
    }
    return gateways;
  }

  /// A server in the server side's domain answering each request n with n responses.
  ChildProcess numbering_server(Signal& ready) {
    return ChildProcess([&] {
      Node node = Node::create("remote-server", server_side);
      auto service = builder(node).create();
      // Blocking: the exporting gateway takes responses as fast as gRPC carries them.
      auto server = service.server_builder().backpressure(Backpressure::block).create();
      ready.notify();
      for (;;) {
        auto active = receive_within(server, 30s);
        if (!active) return 0;
        const std::uint64_t n = active->payload();
        for (std::uint64_t i = 0; i < n; ++i) {
          FLOE_CHILD_CHECK(active->send_copy(Numbered{n, i}));
        }
      }
    });
  }
};

TEST_F(GatewayTest, AStreamFromAServerInAnotherDomainArrivesWholeInOrderAndEnds) {
  Signal ready;
  ChildProcess server = numbering_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  auto client = local_client();
  for (const std::uint64_t n : {1u, 0u, 5u, 100u}) {
    auto pending = client.send_copy(n);
    const auto values = receive_stream(pending);
    ASSERT_EQ(values.size(), n) << "the stream ends with the remote one, every response in it";
    for (std::uint64_t i = 0; i < n; ++i) {
      EXPECT_EQ(values[i].request, n);
      EXPECT_EQ(values[i].index, i);
    }
    EXPECT_FALSE(pending.is_connected());
  }
  EXPECT_EQ(gateways->importer->stop(), 0);
  EXPECT_EQ(gateways->exporter.stop(), 0);
}

// A local client dropping its PendingResponse mid-stream: the remote server sees
// is_connected() == false (the importing gateway cancels the call, the exporting one drops its
// request).
TEST_F(GatewayTest, ALocalClientLettingGoEndsTheRemoteServersStream) {
  Signal ready;
  ChildProcess server = endless_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  auto client = local_client();
  {
    auto pending = client.send_copy(std::uint64_t{0});
    for (std::uint64_t i = 0; i < 3; ++i) {
      auto response = receive_within(pending, 10s);
      ASSERT_TRUE(response) << i;
      EXPECT_EQ(response->payload().index, i);
    }
  }  // dropped: the remote server must see it
  EXPECT_EQ(server.wait(15s), 0) << "the remote server never saw the client go";
}

// The client's host already has the service with other types: the import is refused, saying so.
TEST_F(GatewayTest, AnImportOfAServiceWithOtherTypesHereIsRefused) {
  Signal ready;
  ChildProcess server = numbering_server(ready);
  ASSERT_EQ(ready.wait(), 1);
  Gateways gateways(server_side);
  ASSERT_NE(gateways.port, 0);
  auto other = local.service_builder("Test/Remote")
                   .request_response<std::uint32_t, std::uint32_t>()
                   .create();
  std::string output = gateways.import_into(client_side.domain).value_or("") + "\n";
  while (const auto line = gateways.importer->line())
    output += *line + "\n";
  EXPECT_EQ(gateways.importer->stop(), 1) << output;
  EXPECT_NE(output.find("cannot import 'Test/Remote' here: floe: service 'Test/Remote' has request "
                        "type unsigned int"),
            std::string::npos)
      << output;
}

TEST_F(GatewayTest, AKilledRemoteServerEndsTheLocalStream) {
  Signal ready;
  ChildProcess server = endless_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  stream_end_after([&] { server.kill(); }, 10s);
}

TEST_F(GatewayTest, AKilledExportingGatewayEndsTheLocalStream) {
  Signal ready;
  ChildProcess server = endless_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  stream_end_after([&] { gateways->exporter.stop(SIGKILL); }, 10s);
}

// A stalled exporting gateway (SIGSTOP: its connection stays open, nothing answers, as when the
// network goes) is given up on by gRPC's keepalive watchdog ("keepalive watchdog timeout"):
// about 2 s here, with --keepalive-ms from 200 to 3000 (gRPC keeps floors of its own).
TEST_F(GatewayTest, AStalledExportingGatewayIsGivenUpOnWithinSeconds) {
  Signal ready;
  ChildProcess server = endless_server(ready);
  const auto gateways = connect_domains(ready, "200");
  ASSERT_TRUE(gateways);
  const auto took = stream_end_after([&] { gateways->exporter.signal(SIGSTOP); }, 5s);
  EXPECT_GE(took.count(), 100) << "ended before any keepalive could have noticed";
  gateways->exporter.signal(SIGCONT);
}

}  // namespace
}  // namespace floe::test
