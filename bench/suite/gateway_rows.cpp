// floe-gateway's rows: a floe client in one domain and a floe server in another, joined by an
// exporting and an importing floe-gateway over TCP on 127.0.0.1 (two "hosts" on one machine).
// Both sides wait with co_await in a floe::Runtime. Against them stand gRPC's rows over TCP
// (grpc_rows.cpp, mode "tcp"): the table's "/ best peer" is the gateways' overhead over a
// direct gRPC client and server of the same payload.
//
// The gateways are the installed program, exec'd: gRPC runs only in them, never in a fork of
// this process. The exporting gateway runs where the server does, the importing one where the
// client does (FLOE_BENCH_PLACEMENT); their CPU counts with the server's.

#include <benchmark/benchmark.h>

#include <string>

#include "suite.hpp"

#ifdef FLOE_BENCH_GATEWAY_MISSING

namespace floe::bench {
namespace {

[[maybe_unused]] const bool registered = [] {
  for (const char* name : {"round_trip/floe-gateway/tcp", "stream/floe-gateway/tcp"})
    register_missing(name, FLOE_BENCH_GATEWAY_MISSING);
  return true;
}();

}  // namespace
}  // namespace floe::bench

#else

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace floe::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kStopValue = ~std::uint64_t{0};

auto bench_service(floe::Node& node) {
  return node.service_builder("Bench/Gateway")
      .request_response<std::uint64_t, std::uint64_t>()
      .enable_safe_overflow_for_responses(false);  // lossless, as the stream rows
}

/// A floe-gateway process, its output read through a pipe.
class Gateway {
 public:
  /// `on_client_side`: placed as the client is (the importing gateway), else as the server.
  Gateway(const std::string& domain, std::vector<std::string> arguments, bool on_client_side) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    read_ = fds[0];
    process_.emplace([&, write = fds[1]] {
      if (on_client_side) place_client();
      ::dup2(write, 1);
      ::setenv("FLOE_DOMAIN", domain.c_str(), 1);
      ::setenv("FLOE_LOG", "warn", 1);  // its info lines are not the row's business
      std::string path = FLOE_BENCH_GATEWAY_PATH;
      std::vector<char*> argv{path.data()};
      for (std::string& argument : arguments)
        argv.push_back(argument.data());
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      return 127;
    });
    ::close(fds[1]);
  }
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;
  ~Gateway() { ::close(read_); }

  /// The first line it printed, or nothing within 15 s.
  std::optional<std::string> first_line() {
    std::string seen;
    const auto deadline = Clock::now() + 15s;
    while (seen.find('\n') == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{read_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return {};
      char buffer[256];
      const ssize_t n = ::read(read_, buffer, sizeof buffer);
      if (n <= 0) return {};
      seen.append(buffer, static_cast<std::size_t>(n));
    }
    return seen.substr(0, seen.find('\n'));
  }
  /// Stops it (SIGTERM); the CPU it used, in ns.
  std::int64_t stop() {
    ::kill(process_->pid(), SIGTERM);
    return process_->finish(10s);
  }
  bool failed() const noexcept { return process_->failed(); }

 private:
  int read_ = -1;
  std::optional<ForkedServer> process_;
};

/// The row's two domains, the server's service created in the first, a server process there,
/// both gateways, and a client of the imported service in the second.
class GatewayRow {
 public:
  template <typename Serve>
  GatewayRow(benchmark::State& state, Serve serve) : state_(state) {
    place_client();
    server_side_.domain = unique_name("gw-a");
    client_side_.domain = unique_name("gw-b");
    ReadyFlag ready;
    server_.emplace([&] { return serve(server_side_, ready); });
    if (!ready.wait()) {
      fail("the server did not start");
      return;
    }
    exporter_ = std::make_unique<Gateway>(
        server_side_.domain,
        std::vector<std::string>{"export", "--listen", "127.0.0.1:0", "--service", "Bench/Gateway"},
        false);
    const std::optional<std::string> exported = exporter_->first_line();
    const auto at = exported ? exported->rfind(", port ") : std::string::npos;
    if (at == std::string::npos) {
      fail("the exporting gateway did not start");
      return;
    }
    importer_ = std::make_unique<Gateway>(
        client_side_.domain,
        std::vector<std::string>{"import", "--connect", "127.0.0.1:" + exported->substr(at + 7),
                                 "--service", "Bench/Gateway"},
        true);
    if (!importer_->first_line()) {
      fail("the importing gateway did not start");
      return;
    }
    node_.emplace(floe::Node::create("bench-client", client_side_));
    service_.emplace(bench_service(*node_).open());
    client_.emplace(service_->client_builder().create());
  }

  bool ready() const noexcept { return client_.has_value() && !failed_; }
  floe::Client<std::uint64_t, std::uint64_t>& client() { return *client_; }
  void fail(const std::string& why) {
    if (!failed_) state_.SkipWithError(why.c_str());
    failed_ = true;
  }

  /// Stops the server (after `stop`, which tells it to end) and the gateways; reports the CPU
  /// of all of them with the client's over `messages`.
  void finish(std::int64_t client_cpu_ns, std::int64_t messages) {
    std::int64_t others = server_ ? server_->finish(failed_ ? 2s : 30s) : 0;
    for (Gateway* gateway : {importer_.get(), exporter_.get()}) {
      if (gateway != nullptr) others += gateway->stop();
    }
    if (server_ && server_->failed()) fail("the server failed");
    if (!failed_) report_cpu(state_, client_cpu_ns, others, messages);
  }

 private:
  benchmark::State& state_;
  floe::Config server_side_;
  floe::Config client_side_;
  std::optional<ForkedServer> server_;
  std::unique_ptr<Gateway> exporter_;
  std::unique_ptr<Gateway> importer_;
  std::optional<floe::Node> node_;
  std::optional<decltype(bench_service(std::declval<floe::Node&>()).open())> service_;
  std::optional<floe::Client<std::uint64_t, std::uint64_t> > client_;
  bool failed_ = false;
};

/// The server side: the service created, a server answering each request n with `answer(n)`
/// responses (n itself, or n responses 0, 1, ...) until a request of kStopValue.
template <bool kStream>
int serve(const floe::Config& config, ReadyFlag& ready) {
  floe::Node node = floe::Node::create("bench-server", config);
  auto service = bench_service(node).max_response_buffer_size(256).create();
  auto server = service.server_builder().backpressure(floe::Backpressure::block).create();
  floe::Runtime runtime;
  ready.raise();
  return runtime.block_on([&]() -> floe::Task<int> {
    for (;;) {
      auto request = co_await floe::with_timeout(server.receive(), 60s);
      const std::uint64_t n = request.payload();
      if (!kStream || n == kStopValue) {
        co_await request.async_send_copy(n);
        if (n == kStopValue) co_return 0;
        continue;
      }
      for (std::uint64_t i = 0; i < n; ++i) {
        if (!co_await request.async_send_copy(i)) co_return 1;
      }
    }
  });
}

/// One request of value `value` whose first response is awaited: true if it echoes it.
floe::Task<bool> echo(floe::Client<std::uint64_t, std::uint64_t>& client, std::uint64_t value) {
  auto pending = client.send_copy(value);
  auto response = co_await pending.receive();
  co_return response && response->payload() == value;
}

void round_trip_gateway(benchmark::State& state) {
  GatewayRow row(state, serve<false>);
  if (!row.ready()) return row.finish(0, 1);
  floe::Runtime runtime;
  StallWatchdog watchdog([&runtime] { runtime.stop(); });
  const std::int64_t warmup = state.max_iterations / 10;
  const std::int64_t cpu_before = cpu_time_ns();
  try {
    runtime.block_on([&]() -> floe::Task<void> {
      std::uint64_t i = 0;
      for (; i < static_cast<std::uint64_t>(warmup); ++i) {
        if (!co_await echo(row.client(), i)) throw std::runtime_error("a wrong answer");
      }
      EachTiming timing(state);
      for (auto _ : state) {
        watchdog.tick();
        const auto start = Clock::now();
        if (!co_await echo(row.client(), i++)) throw std::runtime_error("a wrong answer");
        timing.record(start);
      }
      timing.report();
      co_await echo(row.client(), kStopValue);
    });
  } catch (const std::exception& error) {
    row.fail(watchdog.stalled() ? "no answer for 5 s" : error.what());
  }
  row.finish(cpu_time_ns() - cpu_before, warmup + state.iterations());
}

void stream_gateway(benchmark::State& state, std::uint64_t count) {
  GatewayRow row(state, serve<true>);
  if (!row.ready()) return row.finish(0, 1);
  floe::Runtime runtime;
  StallWatchdog watchdog([&runtime] { runtime.stop(); });
  const std::int64_t cpu_before = cpu_time_ns();
  std::uint64_t received = 0;
  bool in_order = true;
  Clock::duration took{};
  try {
    runtime.block_on([&]() -> floe::Task<void> {
      for (auto _ : state) {
        const auto start = Clock::now();
        auto pending = row.client().send_copy(count);
        while (auto response = co_await pending.receive()) {
          in_order = in_order && response->payload() == received;
          ++received;
          watchdog.tick();
        }
        took = Clock::now() - start;
        state.SetIterationTime(std::chrono::duration<double>(took).count());
      }
      co_await echo(row.client(), kStopValue);
    });
  } catch (const std::exception& error) {
    row.fail(watchdog.stalled() ? "no response for 5 s" : error.what());
  }
  if (received != count || !in_order) {
    row.fail("received " + std::to_string(received) + " of " + std::to_string(count) +
             " responses" + (in_order ? "" : ", out of order"));
  } else {
    state.counters["responses_per_s"] =
        static_cast<double>(count) / std::chrono::duration<double>(took).count();
    state.SetItemsProcessed(static_cast<std::int64_t>(count));
  }
  row.finish(cpu_time_ns() - cpu_before, static_cast<std::int64_t>(count));
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/floe-gateway/tcp", 10'000, round_trip_gateway);
  const std::uint64_t count = quick() ? 10'000 : 200'000;
  register_whole_run("stream/floe-gateway/tcp",
                     [count](benchmark::State& state) { stream_gateway(state, count); });
  return true;
}();

}  // namespace
}  // namespace floe::bench

#endif
