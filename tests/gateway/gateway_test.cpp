// floe-gateway between two "hosts": two floe domains on this machine, an exporting gateway in
// one, an importing gateway in the other, over 127.0.0.1. Clients and servers are the typed
// C++ API in processes of their own.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <floe/floe.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
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

  /// The next line it printed that is not floe's log ("floe[pid] level: ..."), or nothing
  /// within `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::optional<std::string> next =
          any_line(std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now()));
      if (!next || !next->starts_with("floe[")) return next;
      log_ += *next + "\n";
    }
  }
  std::string first_line;  // what it said first (exported_port())
  /// The log lines line() skipped.
  const std::string& log() const noexcept { return log_; }

  /// The next line it printed, or nothing within `timeout`.
  std::optional<std::string> any_line(std::chrono::milliseconds timeout = 10s) {
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
  std::string log_;
};

/// The port an exporting gateway listening on 127.0.0.1:0 said it took, or 0.
int exported_port(GatewayProcess& exporter) {
  const std::optional<std::string> ready = exporter.line();
  if (!ready) return 0;
  exporter.first_line = *ready;
  const auto at = ready->rfind(", port ");
  return at == std::string::npos ? 0 : std::stoi(ready->substr(at + 7));
}

/// An exporting gateway of Test/Remote in the server side's domain, on a port of its choosing.
struct Gateways {
  std::string keepalive_ms;
  GatewayProcess exporter;
  int port = 0;
  explicit Gateways(const Config& server_side, std::string keepalive_ms = "1000",
                    const std::vector<std::string>& export_options = {})
      : keepalive_ms(std::move(keepalive_ms)),
        exporter(server_side.domain,
                 [&] {
                   std::vector<std::string> arguments{
                       "export",      "--listen",       "127.0.0.1:0",     "--service",
                       "Test/Remote", "--keepalive-ms", this->keepalive_ms};
                   arguments.insert(arguments.end(), export_options.begin(), export_options.end());
                   return arguments;
                 }()),
        port(exported_port(exporter)) {}
  std::unique_ptr<GatewayProcess> importer;

  /// Starts the importing gateway in `domain`: the first line it prints (that it imported the
  /// service, or why not), or nothing in 10 s.
  std::optional<std::string> import_into(const std::string& domain,
                                         const std::vector<std::string>& more = {}) {
    std::vector<std::string> arguments{"import", "--connect", "127.0.0.1:" + std::to_string(port),
                                       "--service", "Test/Remote"};
    arguments.insert(arguments.end(), more.begin(), more.end());
    importer = std::make_unique<GatewayProcess>(domain, std::move(arguments));
    return importer->line();
  }
};

/// A count a child process keeps and the test reads (shared anonymous memory).
struct SharedCounter {
  std::atomic<std::uint64_t> value{0};
  static SharedCounter* create() {
    void* memory = ::mmap(nullptr, sizeof(SharedCounter), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap");
    return new (memory) SharedCounter;
  }
  struct Unmap {
    void operator()(SharedCounter* counter) const { ::munmap(counter, sizeof(SharedCounter)); }
  };
};

/// What a gateway printed (lines at most `gap` apart) until it exited or `gap` passed without
/// one, and its exit code (stopped by SIGTERM then).
std::pair<int, std::string> outcome(GatewayProcess& gateway, std::chrono::milliseconds gap = 10s) {
  std::string output;
  while (const auto line = gateway.any_line(gap))
    output += *line + "\n";
  return {gateway.stop(), gateway.log() + output};
}

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
  /// until its client stops listening: exit 0 then, 3 if it still listens after 20 s (60 s with
  /// `sent`, where it counts the responses it sent).
  ChildProcess endless_server(Signal& ready, SharedCounter* sent = nullptr) {
    return ChildProcess([&] {
      Node node = Node::create("remote-server", server_side);
      auto service = builder(node).create();
      auto server = service.server_builder().backpressure(Backpressure::block).create();
      ready.notify();
      auto active = receive_within(server, 30s);
      FLOE_CHILD_CHECK(active);
      const auto deadline = std::chrono::steady_clock::now() + (sent ? 60s : 20s);
      for (std::uint64_t i = 0; active->is_connected(); ++i) {
        if (std::chrono::steady_clock::now() > deadline) return 3;
        (void)active->send_copy(Numbered{0, i});
        if (sent) sent->value.fetch_add(1);
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
    // Told apart from a stream the remote server ended, as a local client would be.
    EXPECT_EQ(pending.end_reason(), StreamEnd::server_gone);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

  /// Both gateways between the two domains, started once the server said it is `ready`
  /// (nullptr, with the failure recorded, if anything did not start).
  std::unique_ptr<Gateways> connect_domains(const Signal& ready,
                                            const std::string& keepalive_ms = "1000",
                                            const std::vector<std::string>& import_options = {}) {
    if (ready.wait() != 1) {
      ADD_FAILURE() << "the server did not get ready";
      return nullptr;
    }
    auto gateways = std::make_unique<Gateways>(server_side, keepalive_ms);
    if (gateways->port == 0 || !gateways->import_into(client_side.domain, import_options)) {
      ADD_FAILURE() << "the gateways did not start";
      return nullptr;
    }
    return gateways;
  }

  /// A server in the server side's domain answering each request n with n responses, after
  /// `delay`.
  ChildProcess numbering_server(Signal& ready, std::chrono::milliseconds delay = 0ms) {
    return ChildProcess([&] {
      Node node = Node::create("remote-server", server_side);
      auto service = builder(node).open_or_create();  // a second server joins the first
      // Blocking: the exporting gateway takes responses as fast as gRPC carries them.
      auto server = service.server_builder().backpressure(Backpressure::block).create();
      ready.notify();
      for (;;) {
        auto active = receive_within(server, 30s);
        if (!active) return 0;
        std::this_thread::sleep_for(delay);
        const std::uint64_t n = active->payload();
        for (std::uint64_t i = 0; i < n; ++i) {
          FLOE_CHILD_CHECK(active->send_copy(Numbered{n, i}));
        }
      }
    });
  }

  /// Asks a numbering_server for `n` responses through `client`: every one arrives, in order,
  /// and the stream ends as the remote server ended it.
  template <typename Client>
  static void expect_numbered_stream(Client& client, std::uint64_t n) {
    auto pending = client.send_copy(n);
    const auto values = receive_stream(pending);
    ASSERT_EQ(values.size(), n) << "the stream ends with the remote one, every response in it";
    for (std::uint64_t i = 0; i < n; ++i) {
      EXPECT_EQ(values[i].request, n);
      EXPECT_EQ(values[i].index, i);
    }
    EXPECT_FALSE(pending.is_connected());
    EXPECT_EQ(pending.end_reason(), StreamEnd::finished);
  }
};

TEST_F(GatewayTest, AStreamFromAServerInAnotherDomainArrivesWholeInOrderAndEnds) {
  Signal ready;
  ChildProcess server = numbering_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  auto client = local_client();
  for (const std::uint64_t n : {1u, 0u, 5u, 100u})
    expect_numbered_stream(client, n);
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

// The exporting gateway killed and started again on its port: meanwhile the imported service
// has no server (local clients see none, rather than one that cannot answer); once the
// importing gateway has reconnected, it has one again and streams cross as before.
TEST_F(GatewayTest, AfterTheExportingGatewayRestartsTheImportedServiceIsServedAgain) {
  Signal ready;
  ChildProcess server = numbering_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  auto client = local_client();
  {
    auto pending = client.send_copy(std::uint64_t{3});
    EXPECT_EQ(receive_stream(pending).size(), 3u);
  }
  EXPECT_EQ(client.number_of_servers(), 1u);
  // What `floe list` shows: the imported service, served by the importing gateway's node.
  bool served_by_gateway = false;
  for (const ServiceInfo& service : local.list_services()) {
    for (const NodeInfo& node : service.nodes) {
      served_by_gateway |= service.name == "Test/Remote" && node.servers == 1 &&
                           node.name.starts_with("floe-gateway import from 127.0.0.1:");
    }
  }
  EXPECT_TRUE(served_by_gateway);
  gateways->exporter.stop(SIGKILL);
  EXPECT_TRUE(eventually([&] { return client.number_of_servers() == 0; }, 10s))
      << "the imported service kept a server while the exporting gateway was gone";
  {
    auto pending = client.send_copy(std::uint64_t{3});
    EXPECT_TRUE(receive_stream(pending).empty());
    EXPECT_EQ(pending.end_reason(), StreamEnd::no_server);
  }
  GatewayProcess restarted(server_side.domain,
                           {"export", "--listen", "127.0.0.1:" + std::to_string(gateways->port),
                            "--service", "Test/Remote"});
  ASSERT_TRUE(restarted.line());
  EXPECT_TRUE(eventually([&] { return client.number_of_servers() == 1; }, 10s))
      << "the importing gateway did not serve the service again";
  expect_numbered_stream(client, 50);
  // The importing gateway logged the loss and the reconnection.
  const auto [code, output] = outcome(*gateways->importer, 1s);
  EXPECT_EQ(code, 0);
  EXPECT_NE(output.find("lost the exporting gateway at 127.0.0.1:"), std::string::npos) << output;
  EXPECT_NE(output.find("serving 'Test/Remote' again"), std::string::npos) << output;
}

/// Numbered's size and alignment under another name: a response type the importing gateway
/// was not told of.
struct Renumbered {
  std::uint64_t first = 0;
  std::uint64_t second = 0;
  static constexpr std::string_view floe_type_name = "test::Renumbered";
};

// The exporting host's service created again with another response type of the same size,
// behind a restarted exporting gateway: the importing gateway's calls are refused there, never
// handed bytes of a type its clients do not have.
TEST_F(GatewayTest, AServiceCreatedAgainWithOtherTypesIsRefusedNotMisread) {
  Signal ready;
  auto server = std::make_unique<ChildProcess>(numbering_server(ready));
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  auto client = local_client();
  expect_numbered_stream(client, 3);
  gateways->exporter.stop(SIGKILL);
  server.reset();  // killed: the service is left to nobody
  EXPECT_TRUE(eventually([&] { return client.number_of_servers() == 0; }, 10s));

  Signal other_ready;
  ChildProcess other_server([&] {
    Node node = Node::create("other-server", server_side);
    auto service = node.service_builder("Test/Remote")
                       .request_response<std::uint64_t, Renumbered>()
                       .enable_safe_overflow_for_responses(false)
                       .create();
    auto port = service.server_builder().backpressure(Backpressure::block).create();
    other_ready.notify();
    while (auto active = receive_within(port, 30s)) {
      for (std::uint64_t i = 0; i < active->payload(); ++i)
        (void)active->send_copy(Renumbered{7, 7});
    }
    return 0;
  });
  ASSERT_EQ(other_ready.wait(), 1);
  GatewayProcess restarted(server_side.domain,
                           {"export", "--listen", "127.0.0.1:" + std::to_string(gateways->port),
                            "--service", "Test/Remote"});
  ASSERT_TRUE(restarted.line());
  ASSERT_TRUE(eventually([&] { return client.number_of_servers() == 1; }, 10s))
      << "the importing gateway did not serve the service again";
  auto pending = client.send_copy(std::uint64_t{5});
  EXPECT_TRUE(receive_stream(pending).empty()) << "Renumbered bytes read as Numbered";
  EXPECT_EQ(pending.end_reason(), StreamEnd::server_gone);
  const auto [code, output] = outcome(restarted, 500ms);
  EXPECT_EQ(code, 0);
  EXPECT_NE(output.find("has other types here than the importing gateway was told"),
            std::string::npos)
      << output;
}

// Fan-out: a request reaches every server of the service on the remote host, and the local
// stream carries the responses of both, ending when both have ended.
TEST_F(GatewayTest, ARequestReachesEveryRemoteServerAndTheStreamEndsWithTheLast) {
  Signal first_ready, second_ready;
  ChildProcess first = numbering_server(first_ready);
  ASSERT_EQ(first_ready.wait(), 1);
  ChildProcess second = numbering_server(second_ready);
  first_ready.notify();  // connect_domains() waits for it
  ASSERT_EQ(second_ready.wait(), 1);
  const auto gateways = connect_domains(first_ready);
  ASSERT_TRUE(gateways);
  auto client = local_client();
  auto pending = client.send_copy(std::uint64_t{20});
  const auto values = receive_stream(pending);
  ASSERT_EQ(values.size(), 40u) << "20 responses from each of the two servers";
  std::vector<int> seen(20);
  for (const Numbered& value : values) {
    ASSERT_LT(value.index, 20u);
    ++seen[value.index];
  }
  for (std::uint64_t i = 0; i < 20; ++i)
    EXPECT_EQ(seen[i], 2) << i;
}

// The importing gateway killed mid-stream: the local client sees its server gone, and the
// remote server sees its client gone (the exporting gateway's call is cancelled).
TEST_F(GatewayTest, AKilledImportingGatewayEndsBothSidesOfTheStream) {
  Signal ready;
  ChildProcess server = endless_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  stream_end_after([&] { gateways->importer->stop(SIGKILL); }, 10s);
  EXPECT_EQ(server.wait(15s), 0) << "the remote server never saw the stream end";
}

// Flow control end to end: a local client that stops reading holds the remote server back once
// the service's buffers and one gRPC window (--window-kib) are full, instead of the importing
// gateway buffering without bound; when it reads again, every response comes, in order.
TEST_F(GatewayTest, AStalledClientHoldsTheRemoteServerBackAndLosesNothing) {
  std::unique_ptr<SharedCounter, SharedCounter::Unmap> sent(SharedCounter::create());
  Signal ready;
  ChildProcess server = endless_server(ready, sent.get());
  const auto gateways = connect_domains(ready, "1000", {"--window-kib", "64"});
  ASSERT_TRUE(gateways);
  auto client = local_client();
  auto pending = client.send_copy(std::uint64_t{0});
  ASSERT_TRUE(receive_within(pending, 10s));
  // Not read from now on: the count must settle (unchanged for a second), and low.
  std::uint64_t held = 0;
  const bool settled = eventually(
      [&] {
        const std::uint64_t before = sent->value.load();
        std::this_thread::sleep_for(1s);
        held = sent->value.load();
        return held == before;
      },
      30s);
  ASSERT_TRUE(settled) << "the remote server was never held back (" << held << " sent)";
  // 64 KiB of messages of ~23 bytes, and the responses the floe buffers hold on both hosts:
  // measured 4,800 (1,600 with 16 KiB, 14,400 with 256 KiB; 300,000 before the window was held).
  EXPECT_LT(held, 10'000u) << "responses buffered for one stalled call";
  std::uint64_t next = 1;
  for (; next < held + 1000; ++next) {
    const auto response = receive_within(pending, 10s);
    ASSERT_TRUE(response) << next;
    ASSERT_EQ(response->payload().index, next) << "lost or reordered";
  }
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

// Only the services an exporting gateway lists are reachable through it: an import of another
// is refused, saying so, and the exporting gateway logs the refusal.
TEST_F(GatewayTest, AServiceNotExportedCannotBeImported) {
  Signal ready;
  ChildProcess server = numbering_server(ready);
  ASSERT_EQ(ready.wait(), 1);
  Node node = Node::create("other-server", server_side);
  auto other =
      node.service_builder("Test/Other").request_response<std::uint64_t, std::uint64_t>().create();
  auto other_server = other.server_builder().create();
  Gateways gateways(server_side);
  ASSERT_NE(gateways.port, 0);
  gateways.importer = std::make_unique<GatewayProcess>(
      client_side.domain,
      std::vector<std::string>{"import", "--connect", "127.0.0.1:" + std::to_string(gateways.port),
                               "--service", "Test/Other"});
  const std::string said = gateways.importer->line().value_or("(nothing)");
  const auto [code, output] = outcome(*gateways.importer);
  EXPECT_EQ(code, 1) << said << output;
  EXPECT_NE(said.find("cannot import 'Test/Other': floe-gateway: service 'Test/Other' is not "
                      "exported here"),
            std::string::npos)
      << said << output;
  const auto [exporter_code, exporter_output] = outcome(gateways.exporter, 200ms);
  EXPECT_EQ(exporter_code, 0);
  EXPECT_NE(exporter_output.find("an import of service 'Test/Other' by ipv4:127.0.0.1:"),
            std::string::npos)
      << exporter_output;
}

// Start in any order: both gateways before the server. The exporting gateway starts without
// the service and exports it once created; the importing gateway waits for it.
TEST_F(GatewayTest, GatewaysStartedBeforeTheServerServeItOnceItIsCreated) {
  Gateways gateways(server_side);
  ASSERT_NE(gateways.port, 0) << "the exporting gateway did not start without its service";
  gateways.importer = std::make_unique<GatewayProcess>(
      client_side.domain,
      std::vector<std::string>{"import", "--connect", "127.0.0.1:" + std::to_string(gateways.port),
                               "--service", "Test/Remote"});
  // The importing gateway asks and waits; nothing is imported before the server is there.
  EXPECT_EQ(gateways.importer->line(300ms), std::nullopt);
  Signal ready;
  ChildProcess server = numbering_server(ready);
  ASSERT_EQ(ready.wait(), 1);
  const std::string said = gateways.importer->line().value_or("(nothing)");
  EXPECT_TRUE(said.starts_with("floe-gateway: imported 'Test/Remote' from 127.0.0.1:")) << said;
  auto client = local_client();
  expect_numbered_stream(client, 20);
  const auto [code, output] = outcome(*gateways.importer, 200ms);
  EXPECT_EQ(code, 0);
  EXPECT_NE(output.find("waiting for service 'Test/Remote' to be created on the exporting host"),
            std::string::npos)
      << output;
  const auto [exporter_code, exporter_output] = outcome(gateways.exporter, 200ms);
  EXPECT_EQ(exporter_code, 0);
  EXPECT_NE(exporter_output.find("service 'Test/Remote' does not exist yet in domain"),
            std::string::npos)
      << gateways.exporter.first_line << exporter_output;
  EXPECT_NE(exporter_output.find("service 'Test/Remote' exists now: exported"), std::string::npos)
      << exporter_output;
}

TEST_F(GatewayTest, AnImportOfAServiceNeverCreatedGivesUpAfterTheConnectTimeout) {
  Gateways gateways(server_side);
  ASSERT_NE(gateways.port, 0);
  const auto start = std::chrono::steady_clock::now();
  const std::string said =
      gateways.import_into(client_side.domain, {"--connect-timeout-s", "1"}).value_or("(nothing)");
  const auto [code, output] = outcome(*gateways.importer);
  EXPECT_EQ(code, 1) << said << output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  EXPECT_NE(said.find("cannot import 'Test/Remote' yet: floe-gateway: service 'Test/Remote' does "
                      "not exist in domain"),
            std::string::npos)
      << said << output;
  EXPECT_NE(said.find("(waited 1 s for it, --connect-timeout-s)"), std::string::npos) << said;
  // Nothing half-made is left in the client side's domain.
  EXPECT_TRUE(local.list_services().empty());
}

// A killed remote server ends the local stream; a server started again in its place answers the
// next request through the same gateways.
TEST_F(GatewayTest, AKilledRemoteServerEndsTheLocalStreamAndItsSuccessorAnswers) {
  Signal ready;
  ChildProcess server = endless_server(ready);
  const auto gateways = connect_domains(ready);
  ASSERT_TRUE(gateways);
  stream_end_after([&] { server.kill(); }, 10s);
  Signal successor_ready;
  ChildProcess successor = numbering_server(successor_ready);
  ASSERT_EQ(successor_ready.wait(), 1);
  auto client = local_client();
  auto pending = client.send_copy(std::uint64_t{10});
  EXPECT_EQ(receive_stream(pending).size(), 10u);
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

// Calls beyond what the exporting gateway's client ports can have open at once wait for one to
// end, instead of being refused: ten at once through one client port of four channels.
TEST_F(GatewayTest, CallsBeyondTheExportingClientsChannelsWaitForOne) {
  Signal ready;
  // Each answer 20 ms late: long enough for the other calls to queue up.
  ChildProcess server = numbering_server(ready, 20ms);
  ASSERT_EQ(ready.wait(), 1);
  Gateways gateways(server_side, "1000", {"--client-ports", "1"});
  ASSERT_NE(gateways.port, 0);
  ASSERT_TRUE(gateways.import_into(client_side.domain));
  std::vector<decltype(local_client())> clients;
  for (int c = 0; c < 3; ++c)
    clients.push_back(local_client());
  std::vector<decltype(clients[0].send_copy(std::uint64_t{}))> pending;
  for (std::uint64_t r = 0; r < 10; ++r)
    pending.push_back(clients[r % 3].send_copy(std::uint64_t{r + 1}));
  for (std::uint64_t r = 0; r < 10; ++r) {
    const auto values = receive_stream(pending[r]);
    ASSERT_EQ(values.size(), r + 1) << "request " << r << ": refused or cut short";
    for (std::uint64_t i = 0; i <= r; ++i)
      EXPECT_EQ(values[i].index, i);
  }
}

// A thousand streams open at once through one pair of gateways: the remote server holds every
// request before it answers any, and every stream arrives whole.
TEST_F(GatewayTest, AThousandConcurrentStreamsArriveWhole) {
  constexpr std::uint64_t kStreams = 1000;
  const auto many = [](Node& node) {
    return builder(node).max_clients(12).max_active_requests_per_client(256);
  };
  Signal ready;
  ChildProcess server([&] {
    Node node = Node::create("remote-server", server_side);
    auto service = many(node).create();
    auto server = service.server_builder().backpressure(Backpressure::block).create();
    ready.notify();
    std::vector<decltype(server.try_receive())::value_type> held;
    while (held.size() < kStreams) {
      auto active = receive_within(server, 30s);
      FLOE_CHILD_CHECK(active);
      held.push_back(std::move(*active));
    }
    for (auto& active : held) {
      for (std::uint64_t i = 0; i < 3; ++i)
        FLOE_CHILD_CHECK(active.send_copy(Numbered{active.payload(), i}));
    }
    held.clear();  // every stream ends
    std::this_thread::sleep_for(1s);
    return 0;
  });
  ASSERT_EQ(ready.wait(), 1);
  Gateways gateways(server_side, "1000", {"--client-ports", "4"});
  ASSERT_NE(gateways.port, 0);
  ASSERT_TRUE(gateways.import_into(client_side.domain));
  auto service = many(local).open();
  std::vector<decltype(service.client_builder().create())> clients;
  for (int c = 0; c < 4; ++c)
    clients.push_back(service.client_builder().create());
  std::vector<decltype(clients[0].send_copy(std::uint64_t{}))> pending;
  for (std::uint64_t r = 0; r < kStreams; ++r)
    pending.push_back(clients[r % 4].send_copy(r));
  for (std::uint64_t r = 0; r < kStreams; ++r) {
    const auto values = receive_stream(pending[r], 30s);
    ASSERT_EQ(values.size(), 3u) << "stream " << r;
    for (std::uint64_t i = 0; i < 3; ++i) {
      EXPECT_EQ(values[i].request, r);
      EXPECT_EQ(values[i].index, i);
    }
  }
  EXPECT_EQ(server.wait(15s), 0);
}

/// A CA, and certificates it signed for 127.0.0.1 (the exporting gateway's) and for an
/// importing gateway, made by the openssl command in a directory of their own.
class Certificates {
 public:
  Certificates() {
    char name[] = "/tmp/floe-gateway-test-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = name;
    std::ofstream(dir_ + "/make.sh") << R"(set -e
key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $key -keyout ca.key -out ca.pem -days 2 -subj /CN=floe-test-ca
printf 'subjectAltName=IP:127.0.0.1\n' > san.txt
for who in server client; do
  openssl req $key -keyout $who.key -out $who.csr -subj /CN=floe-test-$who
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem \
    -days 2 -extfile san.txt
done
)";
    made_ = std::system(("cd " + dir_ + " && sh make.sh > make.log 2>&1").c_str()) == 0;
  }
  ~Certificates() { std::filesystem::remove_all(dir_); }
  bool made() const noexcept { return made_; }
  std::string operator[](const std::string& file) const { return dir_ + "/" + file; }
  const std::string& dir() const noexcept { return dir_; }

 private:
  std::string dir_;
  bool made_ = false;
};

// TLS: a stream crosses whole; an importing gateway without TLS is refused (it says to check
// the TLS settings), not served in clear.
TEST_F(GatewayTest, WithTlsAStreamCrossesAndAPlainImporterIsRefused) {
  Certificates certificates;
  ASSERT_TRUE(certificates.made()) << "openssl failed: " << certificates["make.log"];
  Signal ready;
  ChildProcess server = numbering_server(ready);
  ASSERT_EQ(ready.wait(), 1);
  Gateways gateways(
      server_side, "1000",
      {"--tls-cert", certificates["server.pem"], "--tls-key", certificates["server.key"]});
  ASSERT_NE(gateways.port, 0);
  EXPECT_NE(gateways.exporter.first_line.find("(TLS)"), std::string::npos)
      << gateways.exporter.first_line;

  const std::string said =
      gateways.import_into(client_side.domain, {"--connect-timeout-s", "1"}).value_or("(nothing)");
  const auto [plain_code, plain_output] = outcome(*gateways.importer);
  EXPECT_EQ(plain_code, 1) << said << plain_output;
  EXPECT_NE(said.find("TLS settings"), std::string::npos) << said << plain_output;

  ASSERT_TRUE(gateways.import_into(client_side.domain, {"--tls-ca", certificates["ca.pem"]}));
  auto client = local_client();
  expect_numbered_stream(client, 100);
}

// Mutual TLS: the exporting gateway serves only importing gateways with a certificate its CA
// signed.
TEST_F(GatewayTest, WithMutualTlsOnlyAnImporterWithACertificateOfTheCaIsServed) {
  Certificates certificates;
  ASSERT_TRUE(certificates.made()) << "openssl failed: " << certificates["make.log"];
  Signal ready;
  ChildProcess server = numbering_server(ready);
  ASSERT_EQ(ready.wait(), 1);
  Gateways gateways(server_side, "1000",
                    {"--tls-cert", certificates["server.pem"], "--tls-key",
                     certificates["server.key"], "--tls-ca", certificates["ca.pem"]});
  ASSERT_NE(gateways.port, 0);
  EXPECT_NE(gateways.exporter.first_line.find("(mutual TLS)"), std::string::npos)
      << gateways.exporter.first_line;

  const std::string said =
      gateways
          .import_into(client_side.domain,
                       {"--connect-timeout-s", "1", "--tls-ca", certificates["ca.pem"]})
          .value_or("(nothing)");
  const auto [anonymous_code, anonymous_output] = outcome(*gateways.importer);
  EXPECT_EQ(anonymous_code, 1) << said << anonymous_output;
  EXPECT_NE(said.find("TLS settings"), std::string::npos) << said << anonymous_output;

  ASSERT_TRUE(gateways.import_into(
      client_side.domain, {"--tls-ca", certificates["ca.pem"], "--tls-cert",
                           certificates["client.pem"], "--tls-key", certificates["client.key"]}));
  auto client = local_client();
  auto pending = client.send_copy(std::uint64_t{5});
  EXPECT_EQ(receive_stream(pending).size(), 5u);
}

/// A port of 127.0.0.1 free a moment ago.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// Two "hosts", each one gateway process exporting a service of its own and importing the
// other's: one from a config file, the other from both subcommands on its command line.
TEST_F(GatewayTest, OneGatewayProcessExportsAndImportsFromItsConfigFile) {
  Signal ready;
  ChildProcess server = numbering_server(ready);  // Test/Remote, in the server side's domain
  ASSERT_EQ(ready.wait(), 1);
  auto back_service = local.service_builder("Test/Back")
                          .request_response<std::uint64_t, std::uint64_t>()
                          .create();  // in the client side's domain
  auto back_server = back_service.server_builder().create();
  const std::string a = "127.0.0.1:" + std::to_string(free_port());
  const std::string b = "127.0.0.1:" + std::to_string(free_port());
  Certificates files;  // only its directory: the config file goes there
  std::ofstream(files["gateway.toml"]) << "[export]\nlisten = \"" << a
                                       << "\"\nservices = [\"Test/Remote\"]\n\n[import]\n"
                                          "connect = \""
                                       << b << "\"\nservices = [\"Test/Back\"]\n";
  GatewayProcess host_a(server_side.domain, {"--config", files["gateway.toml"]});
  GatewayProcess host_b(client_side.domain, {"export", "--listen", b, "--service", "Test/Back",
                                             "import", "--connect", a, "--service", "Test/Remote"});
  for (GatewayProcess* gateway : {&host_a, &host_b}) {
    std::string said;
    for (int i = 0; i < 2; ++i)
      said += gateway->line().value_or("(nothing)") + "\n";
    EXPECT_NE(said.find("exporting 1 service(s)"), std::string::npos) << said << gateway->log();
    EXPECT_NE(said.find("imported '"), std::string::npos) << said << gateway->log();
  }
  // Host B's client streams from host A's server ...
  auto client = local_client();
  auto pending = client.send_copy(std::uint64_t{7});
  EXPECT_EQ(receive_stream(pending).size(), 7u);
  // ... and a client on host A reaches host B's server.
  Node node_a = Node::create("client-a", server_side);
  auto back_client = node_a.service_builder("Test/Back")
                         .request_response<std::uint64_t, std::uint64_t>()
                         .open()
                         .client_builder()
                         .create();
  auto back_pending = back_client.send_copy(std::uint64_t{41});
  auto request = receive_within(back_server, 10s);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->payload(), 41u);
  ASSERT_TRUE(request->send_copy(request->payload() + 1));
  const auto answer = receive_within(back_pending, 10s);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->payload(), 42u);
}

// A mistake in the config file names the file, line and column, and the key it likely meant.
TEST(GatewayConfig, AMisspeltKeyIsNamedWithItsPlaceAndTheLikelyKey) {
  Certificates files;
  std::ofstream(files["gateway.toml"]) << "[import]\nservices = [\"A\"]\nwindow_kb = 64\n";
  GatewayProcess gateway("default", {"--config", files["gateway.toml"]});
  const auto [code, output] = outcome(gateway);
  EXPECT_EQ(code, 2) << "an option it cannot use";
  EXPECT_NE(output.find("gateway.toml:3:1: unknown key 'import.window_kb' — did you mean "
                        "'window_kib'?"),
            std::string::npos)
      << output;
}

}  // namespace
}  // namespace floe::test
