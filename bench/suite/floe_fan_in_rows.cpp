// floe's fan-in rows: n client processes (1 to 16) doing 8-byte round trips, by polling, against
// one polling server, all at once for a fixed time. The row's counters are the round trips of
// all clients together per second (round_trips_per_s) and the percentiles of every client's
// round trips pooled (p0 ... p100, from the samples each client writes to shared memory).
//
// Placement: every client is placed as place_client() places the benchmark process, the server
// as place_server() does. On the 2-core machines this suite runs on, "pinned" thus puts all n
// clients on cpu 0, sharing it, and the server alone on cpu 1; "one-core" puts everything on
// cpu 0; "unpinned" leaves it to the scheduler. Polling clients that share a core take turns
// by time slice, so beyond one client per core the percentiles show the scheduler's slices.

#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "suite.hpp"

namespace floe::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMaxClients = 16;
// Latency samples kept per row, split evenly between the clients (16 MiB of shared memory);
// a client that fills its share keeps going but records no more.
constexpr std::size_t kSamplesPerRow = 2'000'000;
// Untimed round trips each client makes before the row starts.
constexpr int kWarmup = 200;

auto fan_in_service(floe::Node& node) {
  return node.service_builder("Bench/FanIn").request_response<std::uint64_t, std::uint64_t>();
}

/// What one client reports, in shared memory.
struct ClientSlot {
  std::atomic<std::uint32_t> ready{0};
  std::uint64_t round_trips = 0;  // during the timed run
  std::uint64_t recorded = 0;     // of them, the samples written
};

/// The flags and counts the processes of a row share.
struct FanInControl {
  std::atomic<std::uint32_t> go{0};
  std::atomic<std::uint32_t> stop_clients{0};
  std::atomic<std::uint32_t> stop_server{0};
  std::array<ClientSlot, kMaxClients> clients;
};

/// Latency samples in memory shared with the forked clients, each writing its own share.
class SharedSamples {
 public:
  explicit SharedSamples(std::size_t count) : bytes_(count * sizeof(std::int64_t)) {
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    samples_ = static_cast<std::int64_t*>(p);
  }
  SharedSamples(const SharedSamples&) = delete;
  SharedSamples& operator=(const SharedSamples&) = delete;
  ~SharedSamples() { ::munmap(samples_, bytes_); }
  std::int64_t* data() const noexcept { return samples_; }

 private:
  std::size_t bytes_;
  std::int64_t* samples_;
};

/// A forked client process placed as the benchmark process is. wait() bounds its exit.
class ForkedClient {
 public:
  template <typename Body>
  explicit ForkedClient(Body body) {
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      place_client();
      int status = 1;
      try {
        status = body();
      } catch (const std::exception& error) {
        std::fprintf(stderr, "bench client: %s\n", error.what());
      }
      std::fflush(nullptr);
      ::_exit(status);
    }
  }
  ForkedClient(const ForkedClient&) = delete;
  ForkedClient& operator=(const ForkedClient&) = delete;
  ~ForkedClient() { wait(std::chrono::seconds(0)); }

  /// Waits at most `timeout` for the exit (then kills it); false if it failed or was killed.
  /// Adds its CPU time to `cpu_ns`.
  bool wait(std::chrono::seconds timeout, std::int64_t* cpu_ns = nullptr) {
    if (pid_ <= 0) return true;
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    rusage usage{};
    pid_t done;
    while ((done = ::wait4(pid_, &status, WNOHANG, &usage)) == 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (done == 0) {
      ::kill(pid_, SIGKILL);
      ::wait4(pid_, &status, 0, &usage);
    }
    pid_ = -1;
    if (cpu_ns != nullptr) {
      *cpu_ns += (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * std::int64_t{1'000'000'000} +
                 (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * std::int64_t{1'000};
    }
    return done > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  pid_t pid_ = -1;
};

/// Client `index`: warms up, says it is ready, and from `go` to `stop_clients` makes round trips,
/// timing each into its share of the samples. Every wait ends at stop_clients.
int run_client(const floe::Config& config, FanInControl& control, std::uint32_t index,
               std::int64_t* samples, std::size_t capacity) {
  floe::Node node = floe::Node::create("bench-client-" + std::to_string(index), config);
  auto opened = fan_in_service(node).open();
  auto client = opened.client_builder().create();
  // The share is touched now, so the timed run takes no page faults for it.
  std::memset(samples, 0, capacity * sizeof(std::int64_t));
  const auto stopped = [&] { return control.stop_clients.load(std::memory_order_relaxed) != 0; };
  // One round trip; false if the row stopped before the answer came.
  const auto round_trip = [&](std::uint64_t value) {
    auto pending = client.send_copy(value);
    for (;;) {
      if (auto response = pending.try_receive()) return response->payload() == value;
      if (stopped()) return false;
    }
  };
  for (int i = 0; i < kWarmup; ++i) {
    if (!round_trip(static_cast<std::uint64_t>(i))) return 1;
  }
  ClientSlot& slot = control.clients[index];
  slot.ready.store(1, std::memory_order_release);
  while (control.go.load(std::memory_order_acquire) == 0) {
    if (stopped()) return 1;
  }
  std::uint64_t round_trips = 0;
  std::uint64_t recorded = 0;
  while (!stopped()) {
    const auto start = Clock::now();
    if (!round_trip(round_trips)) break;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
    ++round_trips;
    if (recorded < capacity) samples[recorded++] = ns.count();
  }
  slot.round_trips = round_trips;
  slot.recorded = recorded;
  return 0;
}

void fan_in_floe_polling(benchmark::State& state, std::uint32_t clients,
                         std::chrono::milliseconds duration) {
  place_client();
  floe::Config config;
  config.domain = unique_name("floe-fan-in");
  floe::Node node = floe::Node::create("bench-coordinator", config);
  auto service = fan_in_service(node)
                     .max_clients(kMaxClients)
                     .max_servers(1)
                     .max_nodes(kMaxClients + 4)
                     .create();
  SharedAnonymous<FanInControl> control;
  const std::size_t capacity = kSamplesPerRow / clients;
  SharedSamples samples(kSamplesPerRow);
  ReadyFlag server_ready;
  ForkedServer server([&] {
    floe::Node n = floe::Node::create("bench-server", config);
    auto opened = fan_in_service(n).open();
    auto port = opened.server_builder().create();
    server_ready.raise();
    while (control->stop_server.load(std::memory_order_relaxed) == 0) {
      if (auto request = port.try_receive()) request->send_copy(request->payload());
    }
    return 0;
  });
  if (!server_ready.wait()) {
    state.SkipWithError("the server did not start");
    return;
  }
  std::vector<std::unique_ptr<ForkedClient>> forked;
  for (std::uint32_t i = 0; i < clients; ++i) {
    forked.push_back(std::make_unique<ForkedClient>([&, i] {
      return run_client(config, *control, i, samples.data() + i * capacity, capacity);
    }));
  }
  const auto all_ready_by = Clock::now() + std::chrono::seconds(20);
  const auto all_ready = [&] {
    for (std::uint32_t i = 0; i < clients; ++i) {
      if (control->clients[i].ready.load(std::memory_order_acquire) == 0) return false;
    }
    return true;
  };
  while (!all_ready() && Clock::now() < all_ready_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool started = all_ready();
  Clock::duration took{};
  for (auto _ : state) {
    const auto start = Clock::now();
    if (started) {
      control->go.store(1, std::memory_order_release);
      std::this_thread::sleep_for(duration);
    }
    control->stop_clients.store(1, std::memory_order_relaxed);
    took = Clock::now() - start;
    state.SetIterationTime(std::chrono::duration<double>(took).count());
  }
  bool clients_ok = true;
  std::int64_t client_cpu = 0;
  for (auto& client : forked)
    clients_ok = client->wait(std::chrono::seconds(20), &client_cpu) && clients_ok;
  control->stop_server.store(1, std::memory_order_relaxed);
  const std::int64_t server_cpu = server.finish();
  if (!started) {
    state.SkipWithError("a client did not start");
    return;
  }
  if (!clients_ok || server.failed()) {
    state.SkipWithError(clients_ok ? "the server failed" : "a client failed");
    return;
  }
  std::uint64_t round_trips = 0;
  std::uint64_t recorded = 0;
  for (std::uint32_t i = 0; i < clients; ++i) {
    round_trips += control->clients[i].round_trips;
    recorded += control->clients[i].recorded;
  }
  Latencies latencies(static_cast<std::int64_t>(recorded));
  for (std::uint32_t i = 0; i < clients; ++i) {
    const std::int64_t* share = samples.data() + i * capacity;
    for (std::uint64_t s = 0; s < control->clients[i].recorded; ++s)
      latencies.add(share[s]);
  }
  latencies.report(state);
  const double seconds = std::chrono::duration<double>(took).count();
  state.counters["round_trips_per_s"] = static_cast<double>(round_trips) / seconds;
  state.counters["clients"] = clients;
  state.SetItemsProcessed(static_cast<std::int64_t>(round_trips));
  report_cpu(state, client_cpu, server_cpu, static_cast<std::int64_t>(round_trips));
}

[[maybe_unused]] const bool registered = [] {
  // Each row runs its clients for this long (a twentieth, at least 250 ms, when quick).
  const auto duration = quick() ? std::chrono::milliseconds(250) : std::chrono::milliseconds(2000);
  for (std::uint32_t clients : {1u, 2u, 4u, 8u, 16u}) {
    const std::string name = "fan_in_" + std::to_string(clients) + "/floe/polling";
    register_whole_run(name, [clients, duration](benchmark::State& state) {
      fan_in_floe_polling(state, clients, duration);
    });
  }
  return true;
}();

}  // namespace
}  // namespace floe::bench
