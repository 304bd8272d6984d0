// iceoryx's rows (classic iceoryx 2.0, Debian's libiceoryx-posh-dev): request-response through
// an UntypedClient and an UntypedServer, every message loaned from RouDi's mempools and written
// in place (zero copy): the request's first 8 bytes carry its number, the 8-byte response the
// same number back (or, in a stream, its index).
//
// Each row starts an iox-roudi of its own (RouDiDaemon) and stops it when done, rather than one
// daemon for all iceoryx rows: its config holds just the mempools the row needs (only the 16 MiB
// row reserves 16 MiB chunks), nothing a failed row leaked (chunks, ports) reaches the next row,
// no idle daemon runs beside the other transports' rows, and the row reports its daemon's clean
// stop itself. It costs half a second to a second per row (RouDi builds its ~65 MB management
// segment; the client waits for RouDi's discovery loop to connect it).
// iceoryx runs one RouDi per host: while another runs (a second suite), the rows fail and say so.
//
// iceoryx lets a process initialize its runtime once (PoshRuntime::initRuntime), so neither side
// runs in the benchmark process: the client is a forked process too, timing each message and
// handing the samples back through shared memory, which the benchmark process then reports.
//
// allocs_per_op counts the client process's heap allocations while it is timed, iceoryx's
// runtime thread included: its keep-alive messages to RouDi allocate ~20 times a second, with
// no message sent, so slow rows show a few.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/mepoo/chunk_header.hpp>
#include <iceoryx_posh/mepoo/chunk_settings.hpp>
#include <iceoryx_posh/popo/rpc_header.hpp>
#include <iceoryx_posh/popo/untyped_client.hpp>
#include <iceoryx_posh/popo/untyped_server.hpp>
#include <iceoryx_posh/popo/wait_set.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "iceoryx_roudi.hpp"
#include "suite.hpp"

namespace floe::bench {
namespace {

using Clock = std::chrono::steady_clock;

enum class Wait { polling, waitset };

// No message for this long: the side waiting for it gives up and the row fails.
constexpr std::chrono::seconds kMessageLimit{5};
// The client process as a whole (connecting and every message): a backstop, it gives up sooner.
constexpr int kClientLimitMs = 120'000;
// A sleeping server wakes this often to see whether the row is over.
constexpr auto kServerStopCheck = iox::units::Duration::fromMilliseconds(100);
// Chunks of the 8-byte pool: a stream has up to 16 responses queued (iceoryx's maximum response
// queue) and 16 held by the client, the server 4 on loan; room to spare.
constexpr std::uint32_t kSmallChunks = 256;
// Chunks of a larger request's pool: the client loans one at a time, the server holds the one
// before until it released it; room to spare, at most 64 MiB for the 16 MiB row.
constexpr std::uint32_t kRequestChunks = 4;

/// What one row asks of its client and server.
struct Plan {
  std::uint32_t request_bytes = 8;
  Wait wait = Wait::polling;
  /// One request answered by `count` responses, instead of `warmup` + `count` round trips.
  bool stream = false;
  std::int64_t warmup = 0;
  std::int64_t count = 0;
};

/// What the forked client and server hand back to the benchmark process.
struct Outcome {
  alignas(64) std::atomic<bool> stop_server{false};
  char client_error[256] = {};
  char server_error[256] = {};
  std::int64_t client_cpu_ns = 0;
  std::int64_t server_cpu_ns = 0;
  std::uint64_t client_allocations = 0;
  std::int64_t stream_ns = 0;
};

/// The client's per-message latencies (ns), in memory shared with the benchmark process.
class SharedSamples {
 public:
  explicit SharedSamples(std::size_t count) : bytes_(std::max<std::size_t>(count, 1) * 8) {
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    samples_ = static_cast<std::int64_t*>(p);
  }
  SharedSamples(const SharedSamples&) = delete;
  SharedSamples& operator=(const SharedSamples&) = delete;
  ~SharedSamples() { ::munmap(samples_, bytes_); }
  std::int64_t& operator[](std::int64_t i) const { return samples_[i]; }

 private:
  std::size_t bytes_;
  std::int64_t* samples_;
};

int fail(char (&into)[256], const std::string& why) {
  std::snprintf(into, sizeof into, "%s", why.c_str());
  return 1;
}

iox::capro::ServiceDescription service(const std::string& row) {
  return {"Bench", iox::capro::IdString_t(iox::cxx::TruncateToCapacity, row.c_str()), "Ping"};
}

void init_runtime(const std::string& name) {
  // iceoryx logs each segment it maps at its default level; only trouble is worth printing.
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
  iox::runtime::PoshRuntime::initRuntime(
      iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
}

/// The mempool chunk size (RouDi's config counts it after the chunk header) that fits a
/// message of `bytes` with its RPC header, or nothing if iceoryx cannot make such a chunk.
std::optional<std::uint32_t> mempool_size_for(std::uint32_t bytes) {
  constexpr std::uint32_t header_size =
      std::max(sizeof(iox::popo::RequestHeader), sizeof(iox::popo::ResponseHeader));
  constexpr std::uint32_t header_alignment =
      std::max(alignof(iox::popo::RequestHeader), alignof(iox::popo::ResponseHeader));
  auto settings = iox::mepoo::ChunkSettings::create(bytes, alignof(std::uint64_t), header_size,
                                                    header_alignment);
  if (settings.has_error()) return std::nullopt;
  const std::uint32_t after_header =
      settings.value().requiredChunkSize() - sizeof(iox::mepoo::ChunkHeader);
  return (after_header + 7) / 8 * 8;  // mempools hold multiples of 8 bytes
}

/// The next message of `port` (client or server): spins on take() (no waitset) or sleeps in
/// `waitset`; nullptr after kMessageLimit without one.
template <typename Port>
const void* take_next(Port& port, iox::popo::WaitSet<>* waitset) {
  Clock::time_point deadline{};
  for (std::uint32_t tries = 1;; ++tries) {
    auto taken = port.take();
    if (!taken.has_error()) return taken.value();
    if (waitset != nullptr) {
      const auto limit = iox::units::Duration::fromSeconds(kMessageLimit.count());
      if (waitset->timedWait(limit).empty()) return nullptr;
    } else if (tries % 4096 == 0) {  // the clock is read rarely, off the fast path
      const auto now = Clock::now();
      if (deadline == Clock::time_point{}) {
        deadline = now + kMessageLimit;
      } else if (now > deadline) {
        return nullptr;
      }
    }
  }
}

/// Sends `value` in the 8-byte response to `request`; false (why in outcome.server_error) if it
/// cannot.
bool respond(iox::popo::UntypedServer& server, const void* request, std::uint64_t value,
             Outcome& outcome) {
  auto loaned = server.loan(iox::popo::RequestHeader::fromPayload(request), sizeof value,
                            alignof(std::uint64_t));
  if (loaned.has_error()) {
    fail(outcome.server_error,
         std::string("server: loan: ") + iox::popo::asStringLiteral(loaned.get_error()));
    return false;
  }
  std::memcpy(loaned.value(), &value, sizeof value);
  auto sent = server.send(loaned.value());
  if (sent.has_error()) {
    fail(outcome.server_error,
         std::string("server: send: ") + iox::popo::asStringLiteral(sent.get_error()));
    return false;
  }
  return true;
}

/// The forked server: answers each request with its number, or a stream request with as many
/// responses as it says, until the benchmark process sets stop_server. Its CPU time is counted
/// from the first timed request to the last response.
int serve(const Plan& plan, const std::string& row, Outcome& outcome, ReadyFlag& ready) {
  init_runtime(row + "-server");
  iox::popo::ServerOptions options;
  // A stream's responses wait for room in the client's queue rather than push out older ones.
  if (plan.stream)
    options.clientTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  iox::popo::UntypedServer server(service(row), options);
  std::optional<iox::popo::WaitSet<>> waitset;
  if (plan.wait == Wait::waitset) {
    waitset.emplace();
    if (waitset->attachState(server, iox::popo::ServerState::HAS_REQUEST).has_error())
      return fail(outcome.server_error, "server: cannot attach to a waitset");
  }
  ready.raise();
  const auto first_timed = static_cast<std::uint64_t>(plan.warmup);
  const auto last_timed = static_cast<std::uint64_t>(plan.warmup + plan.count - 1);
  std::int64_t cpu_start = 0;
  for (;;) {
    auto taken = server.take();
    if (taken.has_error()) {
      if (outcome.stop_server.load(std::memory_order_relaxed)) return 0;
      if (waitset) waitset->timedWait(kServerStopCheck);
      continue;
    }
    const void* request = taken.value();
    std::uint64_t value = 0;
    std::memcpy(&value, request, sizeof value);
    if (plan.stream) {
      cpu_start = cpu_time_ns();
      for (std::uint64_t index = 0; index < value; ++index) {
        if (!respond(server, request, index, outcome)) return 1;
      }
      outcome.server_cpu_ns = cpu_time_ns() - cpu_start;
    } else {
      if (value == first_timed) cpu_start = cpu_time_ns();
      if (!respond(server, request, value, outcome)) return 1;
      if (value == last_timed) outcome.server_cpu_ns = cpu_time_ns() - cpu_start;
    }
    server.releaseRequest(request);
  }
}

/// The forked client's part of a stream row: one request for plan.count responses, taken by
/// polling and checked to be all there, in order.
int take_stream(iox::popo::UntypedClient& client, const Plan& plan, Outcome& outcome) {
  const auto count = static_cast<std::uint64_t>(plan.count);
  const std::uint64_t allocations_before = allocations();
  const std::int64_t cpu_before = cpu_time_ns();
  const auto start = Clock::now();
  auto loaned = client.loan(sizeof count, alignof(std::uint64_t));
  if (loaned.has_error())
    return fail(outcome.client_error,
                std::string("loan: ") + iox::popo::asStringLiteral(loaned.get_error()));
  std::memcpy(loaned.value(), &count, sizeof count);
  if (client.send(loaned.value()).has_error()) return fail(outcome.client_error, "send failed");
  std::uint64_t received = 0;
  bool in_order = true;
  while (received < count) {
    const void* response = take_next(client, nullptr);
    if (response == nullptr) break;
    std::uint64_t index = 0;
    std::memcpy(&index, response, sizeof index);
    client.releaseResponse(response);
    in_order = in_order && index == received;
    ++received;
  }
  outcome.stream_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  outcome.client_cpu_ns = cpu_time_ns() - cpu_before;
  outcome.client_allocations = allocations() - allocations_before;
  if (received != count || !in_order || client.hasMissedResponses()) {
    return fail(outcome.client_error, "received " + std::to_string(received) + " of " +
                                          std::to_string(count) + " responses" +
                                          (in_order ? "" : ", out of order"));
  }
  return 0;
}

/// The forked client's part of a round-trip row: plan.warmup untimed round trips, then
/// plan.count timed one by one into `samples`.
int time_round_trips(iox::popo::UntypedClient& client, iox::popo::WaitSet<>* waitset,
                     const Plan& plan, Outcome& outcome, SharedSamples& samples) {
  std::string error;
  auto round_trip = [&](std::uint64_t number) {
    auto loaned = client.loan(plan.request_bytes, alignof(std::uint64_t));
    if (loaned.has_error()) {
      error = "loan of " + std::to_string(plan.request_bytes) +
              " bytes: " + iox::popo::asStringLiteral(loaned.get_error());
      return false;
    }
    std::memcpy(loaned.value(), &number, sizeof number);
    if (client.send(loaned.value()).has_error()) {
      error = "send failed";
      return false;
    }
    const void* response = take_next(client, waitset);
    if (response == nullptr) {
      error = "no response within " + std::to_string(kMessageLimit.count()) + " s";
      return false;
    }
    std::uint64_t answer = 0;
    std::memcpy(&answer, response, sizeof answer);
    client.releaseResponse(response);
    if (answer != number) {
      error = "response " + std::to_string(answer) + " to request " + std::to_string(number);
      return false;
    }
    return true;
  };
  for (std::int64_t i = 0; i < plan.warmup; ++i) {
    if (!round_trip(static_cast<std::uint64_t>(i))) return fail(outcome.client_error, error);
  }
  const std::uint64_t allocations_before = allocations();
  const std::int64_t cpu_before = cpu_time_ns();
  for (std::int64_t i = 0; i < plan.count; ++i) {
    const auto start = Clock::now();
    const bool answered = round_trip(static_cast<std::uint64_t>(plan.warmup + i));
    samples[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    if (!answered) return fail(outcome.client_error, error);
  }
  outcome.client_cpu_ns = cpu_time_ns() - cpu_before;
  outcome.client_allocations = allocations() - allocations_before;
  return 0;
}

/// The forked client: connects, then runs the row's messages.
int run_client(const Plan& plan, const std::string& row, Outcome& outcome, SharedSamples& samples,
               const ReadyFlag& server_ready) {
  place_client();
  if (!server_ready.wait()) return fail(outcome.client_error, "the server did not start");
  init_runtime(row + "-client");
  iox::popo::ClientOptions options;
  // A stream's responses wait for room in the queue rather than push out older ones.
  if (plan.stream) options.responseQueueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  iox::popo::UntypedClient client(service(row), options);
  std::optional<iox::popo::WaitSet<>> waitset;
  if (plan.wait == Wait::waitset) {
    waitset.emplace();
    if (waitset->attachState(client, iox::popo::ClientState::HAS_RESPONSE).has_error())
      return fail(outcome.client_error, "cannot attach the client to a waitset");
  }
  // RouDi connects client and server in its discovery loop, every 100 ms.
  const auto deadline = Clock::now() + kMessageLimit;
  while (client.getConnectionState() != iox::ConnectionState::CONNECTED) {
    if (Clock::now() > deadline) return fail(outcome.client_error, "no connection to the server");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (plan.stream) return take_stream(client, plan, outcome);
  return time_round_trips(client, waitset ? &*waitset : nullptr, plan, outcome, samples);
}

/// Sleeps until the process holding the write end of the pipe `read_end` closes it (or exits), or
/// `limit_ms` passed: the benchmark process waits without waking on the client's core.
void wait_for_hang_up(int read_end, int limit_ms) {
  pollfd hang_up{read_end, POLLIN, 0};
  ::poll(&hang_up, 1, limit_ms);
}

/// Runs one row: RouDi, the forked server and client; then reports what the client measured.
void run_row(benchmark::State& state, const Plan& plan) {
  const std::optional<std::uint32_t> small_pool = mempool_size_for(8);
  const std::optional<std::uint32_t> request_pool = mempool_size_for(plan.request_bytes);
  if (!small_pool || !request_pool) {
    state.SkipWithError(
        ("iceoryx cannot make a chunk of " + std::to_string(plan.request_bytes) + " bytes")
            .c_str());
    return;
  }
  std::vector<RouDiDaemon::Mempool> mempools{{*small_pool, kSmallChunks}};
  if (*request_pool > *small_pool) mempools.push_back({*request_pool, kRequestChunks});
  RouDiDaemon roudi(FLOE_BENCH_IOX_ROUDI, mempools);
  if (!roudi.error().empty()) {
    state.SkipWithError(roudi.error().c_str());
    return;
  }
  const std::string row = unique_name("iox");
  SharedAnonymous<Outcome> outcome;
  SharedSamples samples(static_cast<std::size_t>(plan.stream ? 0 : plan.count));
  ReadyFlag server_ready;
  // Both processes leave by std::exit: the runtime's static destructor unregisters them from
  // RouDi and removes their sockets, which ForkedServer's _exit would skip.
  ForkedServer server([&]() -> int { std::exit(serve(plan, row, *outcome, server_ready)); });
  int client_pipe[2];
  if (::pipe2(client_pipe, O_CLOEXEC) != 0) {
    outcome->stop_server.store(true, std::memory_order_relaxed);
    state.SkipWithError("pipe2 failed");
    return;
  }
  // The server leaves before the client: iceoryx 2.0 races when a client leaves while its
  // server runs (RouDi destroys the client's port, mutex included, while the server may still
  // lock it: POPO__CHUNK_LOCKING_ERROR, seen on a busy machine). So the client, done, closes
  // its end of the pipe and waits, touching nothing of iceoryx, until the server is gone.
  ReadyFlag client_may_leave;
  // ForkedServer places its process as a server; the body re-places it as the client.
  ForkedServer client([&]() -> int {
    const int status = run_client(plan, row, *outcome, samples, server_ready);
    ::close(client_pipe[1]);
    client_may_leave.wait(std::chrono::seconds(30));
    std::exit(status);
  });
  ::close(client_pipe[1]);
  wait_for_hang_up(client_pipe[0], kClientLimitMs);
  ::close(client_pipe[0]);
  outcome->stop_server.store(true, std::memory_order_relaxed);
  server.finish(std::chrono::seconds(5));
  client_may_leave.raise();
  client.finish(std::chrono::seconds(5));
  const std::string stop_problem = roudi.stop();
  if (!stop_problem.empty()) {
    std::fprintf(stderr, "iceoryx rows: %s\n", stop_problem.c_str());
    state.SetLabel(stop_problem);
  }
  if (outcome->client_error[0] != '\0' || outcome->server_error[0] != '\0') {
    state.SkipWithError((std::string(outcome->client_error) + " " + outcome->server_error).c_str());
    return;
  }
  if (client.failed() || server.failed()) {
    // iceoryx's own errors (it aborts on most) are on stderr.
    state.SkipWithError(client.failed() ? "the client failed, see stderr"
                                        : "the server failed, see stderr");
    return;
  }
  if (plan.stream) {
    for (auto _ : state)
      state.SetIterationTime(static_cast<double>(outcome->stream_ns) * 1e-9);
    const double seconds = static_cast<double>(outcome->stream_ns) * 1e-9;
    state.counters["responses_per_s"] = static_cast<double>(plan.count) / seconds;
    state.SetItemsProcessed(plan.count);
  } else {
    Latencies latencies(plan.count);
    std::int64_t i = 0;
    for (auto _ : state) {
      const std::int64_t ns = samples[i++];
      state.SetIterationTime(static_cast<double>(ns) * 1e-9);
      latencies.add(ns);
    }
    latencies.report(state);
  }
  state.counters["allocs_per_op"] =
      static_cast<double>(outcome->client_allocations) / static_cast<double>(plan.count);
  report_cpu(state, outcome->client_cpu_ns, outcome->server_cpu_ns, plan.count);
}

/// A round-trip row: a request of `Bytes` (8-byte response), its messages awaited as `W` says.
template <std::uint32_t Bytes, Wait W>
void round_trip_row(benchmark::State& state) {
  Plan plan;
  plan.request_bytes = Bytes;
  plan.wait = W;
  plan.count = state.max_iterations;
  plan.warmup = plan.count / 10;
  run_row(state, plan);
}

/// Registers the stream row: one request answered by `full` responses (a twentieth with
/// FLOE_BENCH_QUICK=1), taken by polling; one iteration is the whole stream.
void register_stream_row(const char* name, std::int64_t full) {
  const std::int64_t count = quick() ? full / 20 : full;
  register_whole_run(name, [count](benchmark::State& state) {
    Plan plan;
    plan.stream = true;
    plan.count = count;
    run_row(state, plan);
  });
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/iceoryx/polling", 200'000, round_trip_row<8, Wait::polling>);
  register_row("round_trip/iceoryx/asleep", 20'000, round_trip_row<8, Wait::waitset>);
  register_row("payload_8/iceoryx/loan", 20'000, round_trip_row<8, Wait::polling>);
  register_row("payload_4096/iceoryx/loan", 20'000, round_trip_row<4096, Wait::polling>);
  register_row("payload_65536/iceoryx/loan", 20'000, round_trip_row<65536, Wait::polling>);
  register_row("payload_1048576/iceoryx/loan", 20'000, round_trip_row<1048576, Wait::polling>);
  register_row("payload_16777216/iceoryx/loan", 20'000, round_trip_row<16777216, Wait::polling>);
  register_stream_row("stream/iceoryx/polling", 500'000);
  return true;
}();

}  // namespace
}  // namespace floe::bench
