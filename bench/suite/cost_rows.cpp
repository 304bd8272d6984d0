// The shared memory a floe service costs: a service made with the default limits and one made
// with large ones, one client and one server, after one round trip. Counters: the bytes of the
// /dev/shm objects of the service's domain (shm_segment_bytes), what tmpfs holds for them
// (shm_allocated_bytes: st_blocks; floe reserves every page at creation), and what each process
// has resident of its mapping after the round trip (shm_client_resident_bytes,
// shm_server_resident_bytes, from /proc/<pid>/smaps). The row's time is the service's creation.

#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <floe/floe.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "suite.hpp"

namespace floe::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// "Large": eight times the default of most counts, 64 clients and 8 servers (a 46 MiB segment
/// for 8-byte payloads, where the maxima would need more than /dev/shm holds).
constexpr RequestResponseLimits kLargeLimits{
    .max_clients = 64,
    .max_servers = 8,
    .max_nodes = 64,
    .max_active_requests_per_client = 16,
    .max_loaned_requests = 8,
    .max_response_buffer_size = 64,
    .max_borrowed_responses_per_pending_response = 8,
    .max_loaned_responses_per_request = 8,
};

std::string describe(const RequestResponseLimits& limits) {
  std::ostringstream text;
  text << "max_clients=" << limits.max_clients << " max_servers=" << limits.max_servers
       << " max_nodes=" << limits.max_nodes
       << " max_active_requests_per_client=" << limits.max_active_requests_per_client
       << " max_loaned_requests=" << limits.max_loaned_requests
       << " max_response_buffer_size=" << limits.max_response_buffer_size
       << " max_borrowed_responses_per_pending_response="
       << limits.max_borrowed_responses_per_pending_response
       << " max_loaned_responses_per_request=" << limits.max_loaned_responses_per_request;
  return text.str();
}

/// The /dev/shm objects of one domain (floe names them "floe.<domain>.<hash>").
std::vector<struct stat> domain_objects(const std::string& domain) {
  std::vector<struct stat> found;
  const std::string prefix = "floe." + domain + ".";
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ignored)) {
    if (!entry.path().filename().string().starts_with(prefix)) continue;
    struct stat status {};
    if (::stat(entry.path().c_str(), &status) == 0) found.push_back(status);
  }
  return found;
}

/// Bytes of `pid`'s mappings of the objects `objects` that are resident (Rss in smaps). Matched
/// by inode: the creator maps the object before it has its name.
std::int64_t resident_bytes(const char* pid, const std::vector<struct stat>& objects) {
  std::ifstream smaps(std::string("/proc/") + pid + "/smaps");
  std::int64_t total = 0;
  bool ours = false;
  for (std::string line; std::getline(smaps, line);) {
    std::istringstream fields(line);
    std::string range, perms, offset, device;
    unsigned long long inode = 0;
    if (line.find('-') < line.find(' ') && fields >> range >> perms >> offset >> device >> inode) {
      ours = false;  // a mapping's header line: "start-end perms offset dev inode [path]"
      for (const struct stat& object : objects)
        ours = ours || object.st_ino == inode;
      continue;
    }
    std::string key;
    std::int64_t kilobytes = 0;
    std::istringstream entry(line);
    if (ours && entry >> key >> kilobytes && key == "Rss:") total += kilobytes * 1024;
  }
  return total;
}

auto cost_service(floe::Node& node) {
  return node.service_builder("Bench/Cost").request_response<std::uint64_t, std::uint64_t>();
}

/// One row: a service with `limits` (those of floe::Config when `large` is false), its client
/// here, its server forked, one round trip, then the counters.
void shm_floe(benchmark::State& state, bool large) {
  place_client();
  floe::Config config;
  config.domain = unique_name("cost");
  floe::Node node = floe::Node::create("bench-client", config);
  std::string error;
  for (auto _ : state) {
    const auto start = Clock::now();
    auto builder = cost_service(node);
    if (large) {
      builder.max_clients(kLargeLimits.max_clients)
          .max_servers(kLargeLimits.max_servers)
          .max_nodes(kLargeLimits.max_nodes)
          .max_active_requests_per_client(kLargeLimits.max_active_requests_per_client)
          .max_loaned_requests(kLargeLimits.max_loaned_requests)
          .max_response_buffer_size(kLargeLimits.max_response_buffer_size)
          .max_borrowed_responses_per_pending_response(
              kLargeLimits.max_borrowed_responses_per_pending_response)
          .max_loaned_responses_per_request(kLargeLimits.max_loaned_responses_per_request);
    }
    auto service = builder.create();
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());

    // The server measures its own mapping after answering, and waits for the client's reading
    // before it lets go of the service.
    SharedAnonymous<std::atomic<std::int64_t>> server_resident;
    ReadyFlag ready, server_measured, client_measured;
    ForkedServer server([&] {
      floe::Node n = floe::Node::create("bench-server", config);
      auto opened = cost_service(n).open();
      auto port = opened.server_builder().create();
      ready.raise();
      const auto deadline = Clock::now() + 10s;
      for (;;) {
        if (auto request = port.try_receive()) {
          request->send_copy(request->payload());
          break;
        }
        if (Clock::now() > deadline) return 1;
        std::this_thread::yield();
      }
      server_resident->store(resident_bytes("self", domain_objects(config.domain)));
      server_measured.raise();
      return client_measured.wait(10s) ? 0 : 1;
    });
    if (!ready.wait()) {
      error = "the server did not start";
      break;
    }
    try {
      auto client = service.client_builder().create();
      auto pending = client.send_copy(42);
      const auto deadline = Clock::now() + 5s;
      std::optional<std::uint64_t> answer;
      while (!answer && Clock::now() < deadline) {
        if (auto response = pending.try_receive()) answer = response->payload();
      }
      if (answer != 42u) error = "no echo within 5 s";
      const std::vector<struct stat> objects = domain_objects(config.domain);
      std::int64_t segment = 0, allocated = 0;
      for (const struct stat& object : objects) {
        segment += object.st_size;
        allocated += static_cast<std::int64_t>(object.st_blocks) * 512;
      }
      if (!server_measured.wait(5s)) error = "the server did not measure its mapping";
      state.counters["shm_segment_bytes"] = static_cast<double>(segment);
      state.counters["shm_allocated_bytes"] = static_cast<double>(allocated);
      state.counters["shm_client_resident_bytes"] =
          static_cast<double>(resident_bytes("self", objects));
      state.counters["shm_server_resident_bytes"] = static_cast<double>(server_resident->load());
      state.counters["shm_objects"] = static_cast<double>(objects.size());
      if (service.usage().segment_size != static_cast<std::uint64_t>(segment)) {
        error = "the service's segment_size is not the size of its /dev/shm object";
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    client_measured.raise();
    server.finish(error.empty() ? 30s : 2s);
    if (error.empty() && server.failed()) error = "the server failed";
  }
  if (!error.empty()) state.SkipWithError(error.c_str());
}

[[maybe_unused]] const bool registered = [] {
  benchmark::AddCustomContext("shm_large_limits", describe(kLargeLimits));
  for (const bool large : {false, true}) {
    register_whole_run(large ? "shm/floe/large_limits" : "shm/floe/default_limits",
                       [large](benchmark::State& state) { shm_floe(state, large); });
  }
  return true;
}();

}  // namespace
}  // namespace floe::bench
