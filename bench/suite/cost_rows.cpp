// The shared memory a floe service costs: a service made with the default limits and one made
// with large ones, one client and one server, after one round trip. Counters: the bytes of the
// /dev/shm objects of the service's domain (shm_segment_bytes), what tmpfs holds for them
// (shm_allocated_bytes: st_blocks; floe reserves every page at creation), and what each process
// has resident of its mapping after the round trip (shm_client_resident_bytes,
// shm_server_resident_bytes, from /proc/<pid>/smaps). The row's time is the service's creation.
//
// Two more rows weigh a service of 1 MiB responses against one whose responses are slices of at
// most 1 MiB (floe::Slice<std::byte>, response_max_slice_len(1 MiB)), with small limits so that
// a CI machine's /dev/shm holds them; each answers with 8 bytes. A third has slices of 4 KiB
// inline and a server that grows (AllocationStrategy::power_of_two) to answer with 64 KiB: its
// memory follows what the server sent, not a maximum reserved up front.

#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <floe/floe.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
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

/// The 1 MiB rows': one server, two clients, one active request each, a stream buffer of two
/// (P = 2 + 2 + 2 = 6 response chunks per request: 12 response chunks of 1 MiB).
constexpr RequestResponseLimits kOneMiBLimits{
    .max_clients = 2,
    .max_servers = 1,
    .max_active_requests_per_client = 1,
    .max_response_buffer_size = 2,
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

/// The /dev/shm objects of one domain: its services ("floe.<domain>.<hash>") and the data
/// segments of their grown ports ("floe_d.<domain>.<hash>.<port>-<n>").
std::vector<struct stat> domain_objects(const std::string& domain) {
  std::vector<struct stat> found;
  const std::string prefix = "floe." + domain + ".";
  const std::string data_prefix = "floe_d." + domain + ".";
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ignored)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with(prefix) && !file.starts_with(data_prefix)) continue;
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

/// 8-byte requests and responses; the server echoes the request.
struct EightBytes {
  static auto builder(floe::Node& node) {
    return node.service_builder("Bench/Cost").request_response<std::uint64_t, std::uint64_t>();
  }
  template <typename Active>
  static void answer(Active& request) {
    request.send_copy(request.payload());
  }
  template <typename Response>
  static std::uint64_t read(const Response& response) {
    return response.payload();
  }
};

/// 8-byte requests, 1 MiB responses: a fixed-size array, or a slice of up to 1 MiB. The server
/// answers with the request's value in the response's first 8 bytes (a slice of 8 bytes).
template <bool slice>
struct OneMiBResponses {
  static constexpr std::size_t kBytes = std::size_t{1} << 20;
  static auto builder(floe::Node& node) {
    auto named = node.service_builder("Bench/Cost");
    if constexpr (slice) {
      return named.request_response<std::uint64_t, floe::Slice<std::byte>>().response_max_slice_len(
          kBytes);
    } else {
      return named.request_response<std::uint64_t, std::array<std::byte, kBytes>>();
    }
  }
  template <typename Active>
  static void answer(Active& request) {
    const std::uint64_t value = request.payload();
    auto response = [&] {
      if constexpr (slice) {
        return request.loan_slice_uninit(sizeof value);
      } else {
        return request.loan_uninit();
      }
    }();
    const std::span<std::byte> bytes = response.payload();
    std::memcpy(bytes.data(), &value, sizeof value);
    std::move(response).send();
  }
  template <typename Response>
  static std::uint64_t read(const Response& response) {
    const std::span<const std::byte> bytes = response.payload();
    std::uint64_t value = 0;
    if (bytes.size() >= sizeof value) std::memcpy(&value, bytes.data(), sizeof value);
    return value;
  }
};

/// Slices of 4 KiB inline; the server grows to answer with 64 KiB (the request's value in its
/// first 8 bytes), so the service holds one data segment of the server's.
struct GrownResponses : OneMiBResponses<true> {
  static constexpr std::uint64_t kInline = 4096;
  static constexpr std::uint64_t kAnswer = 64 * 1024;
  static constexpr floe::AllocationStrategy kStrategy = floe::AllocationStrategy::power_of_two;
  static auto builder(floe::Node& node) {
    return node.service_builder("Bench/Cost")
        .request_response<std::uint64_t, floe::Slice<std::byte>>()
        .response_max_slice_len(kInline);
  }
  template <typename Active>
  static void answer(Active& request) {
    const std::uint64_t value = request.payload();
    auto response = request.loan_slice_uninit(kAnswer);
    std::memcpy(response.payload().data(), &value, sizeof value);
    std::move(response).send();
  }
};

/// Sets every limit of `limits` on `builder`.
template <typename Builder>
void apply(Builder& builder, const RequestResponseLimits& limits) {
  builder.max_clients(limits.max_clients)
      .max_servers(limits.max_servers)
      .max_nodes(limits.max_nodes)
      .max_active_requests_per_client(limits.max_active_requests_per_client)
      .max_loaned_requests(limits.max_loaned_requests)
      .max_response_buffer_size(limits.max_response_buffer_size)
      .max_borrowed_responses_per_pending_response(
          limits.max_borrowed_responses_per_pending_response)
      .max_loaned_responses_per_request(limits.max_loaned_responses_per_request);
}

/// One row: a service of `Kind` with `limits` (those of floe::Config when null), its client
/// here, its server forked, one round trip, then the counters.
template <typename Kind>
void shm_floe(benchmark::State& state, const RequestResponseLimits* limits) {
  place_client();
  floe::Config config;
  config.domain = unique_name("cost");
  floe::Node node = floe::Node::create("bench-client", config);
  std::string error;
  for (auto _ : state) {
    const auto start = Clock::now();
    auto builder = Kind::builder(node);
    if (limits != nullptr) apply(builder, *limits);
    auto service = builder.create();
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());

    // The server measures its own mapping after answering, and waits for the client's reading
    // before it lets go of the service.
    SharedAnonymous<std::atomic<std::int64_t>> server_resident;
    ReadyFlag ready, server_measured, client_measured;
    ForkedServer server([&] {
      floe::Node n = floe::Node::create("bench-server", config);
      auto opened = Kind::builder(n).open();
      auto port = [&] {
        if constexpr (requires { Kind::kStrategy; }) {
          return opened.server_builder().allocation_strategy(Kind::kStrategy).create();
        } else {
          return opened.server_builder().create();
        }
      }();
      ready.raise();
      const auto deadline = Clock::now() + 10s;
      for (;;) {
        if (auto request = port.try_receive()) {
          Kind::answer(*request);
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
        if (auto response = pending.try_receive()) answer = Kind::read(*response);
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
      const ServiceUsage usage = service.usage();
      if (usage.segment_size + usage.data_segment_bytes != static_cast<std::uint64_t>(segment)) {
        error =
            "the service's segment_size and data_segment_bytes are not the size of its /dev/shm "
            "objects";
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
  benchmark::AddCustomContext("shm_1mib_limits", describe(kOneMiBLimits));
  register_whole_run("shm/floe/default_limits",
                     [](benchmark::State& state) { shm_floe<EightBytes>(state, nullptr); });
  register_whole_run("shm/floe/large_limits",
                     [](benchmark::State& state) { shm_floe<EightBytes>(state, &kLargeLimits); });
  register_whole_run("shm/floe/fixed_1mib", [](benchmark::State& state) {
    shm_floe<OneMiBResponses<false>>(state, &kOneMiBLimits);
  });
  register_whole_run("shm/floe/slice_max_1mib", [](benchmark::State& state) {
    shm_floe<OneMiBResponses<true>>(state, &kOneMiBLimits);
  });
  register_whole_run("shm/floe/slice_grown_64kib", [](benchmark::State& state) {
    shm_floe<GrownResponses>(state, &kOneMiBLimits);
  });
  return true;
}();

}  // namespace
}  // namespace floe::bench
