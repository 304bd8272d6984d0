// ZeroMQ (libzmq through cppzmq) over ipc://, a Unix domain socket under the temporary directory,
// as a ZeroMQ user writes request-response between two processes:
// - round_trip and payload_<bytes>: REQ/REP, each side blocking in recv (blocking), or both
//   sides busy-polling recv with zmq::recv_flags::dontwait (polling, as floe's polling rows
//   poll). Either way libzmq moves the bytes on an I/O thread of its own in each process, pinned
//   with it (a polling client shares its core with that thread): ZeroMQ's design, and its CPU
//   is in cpu_ns_per_op too.
// - stream: DEALER/ROUTER. REQ/REP allows exactly one reply per request; a ROUTER may send any
//   number of messages to the peer that asked (addressed by its routing id), which is ZeroMQ's
//   asynchronous request-reply and the shape of a floe response stream. PUSH/PULL would need a
//   second socket pair for the request. ZMQ_ROUTER_MANDATORY makes the ROUTER wait when the
//   peer's queue is full instead of dropping responses, so every one of them is counted.
//
// allocs_per_op counts operator new only: libzmq allocates message bodies (over 33 bytes) with
// malloc, which it does not see.
//
// Without cppzmq at configure time (FLOE_BENCH_ZEROMQ 0), the same rows say it is not installed.

#include <benchmark/benchmark.h>
#include <signal.h>

#include <string>

#include "suite.hpp"

#if FLOE_BENCH_ZEROMQ
#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>
#endif

namespace floe::bench {
namespace {

constexpr const char* kRoundTripBlocking = "round_trip/zeromq/blocking";
constexpr const char* kRoundTripPolling = "round_trip/zeromq/polling";
constexpr const char* kStreamBlocking = "stream/zeromq/blocking";

std::string payload_row(std::size_t bytes) {
  return "payload_" + std::to_string(bytes) + "/zeromq/blocking";
}

#if FLOE_BENCH_ZEROMQ

using Clock = std::chrono::steady_clock;

constexpr std::size_t kValueBytes = sizeof(std::uint64_t);
/// How long a blocked recv or send waits for the peer before the row gives up.
constexpr int kPeerTimeoutMs = 5'000;
/// Closing a socket delivers what it still queues for at most this long, so that closing a
/// context never hangs on a peer that is gone.
constexpr int kLingerMs = 1'000;

/// An ipc:// endpoint in the temporary directory; its socket file is removed with this object
/// (libzmq removes it when the bound socket closes; this covers a server that was killed).
class IpcEndpoint {
 public:
  IpcEndpoint()
      : path_(std::filesystem::temp_directory_path() / (unique_name("zeromq") + ".ipc")) {}
  IpcEndpoint(const IpcEndpoint&) = delete;
  IpcEndpoint& operator=(const IpcEndpoint&) = delete;
  ~IpcEndpoint() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  std::string address() const { return "ipc://" + path_.string(); }

 private:
  std::filesystem::path path_;
};

zmq::socket_t bounded_socket(zmq::context_t& context, zmq::socket_type type) {
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, kLingerMs);
  socket.set(zmq::sockopt::rcvtimeo, kPeerTimeoutMs);
  socket.set(zmq::sockopt::sndtimeo, kPeerTimeoutMs);
  return socket;
}

/// Waits for a message with blocking recv (bounded by the socket's receive timeout) or by
/// polling recv with dontwait (bounded by the same time, looked at every 1024 polls).
void receive(zmq::socket_t& socket, zmq::message_t& message, bool polling) {
  if (!polling) {
    if (!socket.recv(message)) throw std::runtime_error("no message from the peer in 5 s");
    return;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(kPeerTimeoutMs);
  for (std::uint32_t polls = 1; !socket.recv(message, zmq::recv_flags::dontwait); ++polls) {
    if (polls % 1024 == 0 && Clock::now() > deadline) {
      throw std::runtime_error("no message from the peer in 5 s");
    }
  }
}

void send(zmq::socket_t& socket, const void* data, std::size_t size,
          zmq::send_flags flags = zmq::send_flags::none) {
  if (!socket.send(zmq::const_buffer(data, size), flags)) {
    throw std::runtime_error("the peer took no message in 5 s");
  }
}

std::uint64_t first_value(const zmq::message_t& message) {
  if (message.size() < kValueBytes) throw std::runtime_error("a message shorter than 8 bytes");
  std::uint64_t value = 0;
  std::memcpy(&value, message.data(), sizeof value);
  return value;
}

void expect(const zmq::message_t& message, std::int64_t wanted) {
  if (first_value(message) != static_cast<std::uint64_t>(wanted)) {
    throw std::runtime_error("a wrong response");
  }
}

/// The REP server: answers each request with its first 8 bytes; an empty request is the stop,
/// answered empty.
int serve_rep(const IpcEndpoint& endpoint, ReadyFlag& ready, bool polling) {
  zmq::context_t context;
  zmq::socket_t socket = bounded_socket(context, zmq::socket_type::rep);
  socket.bind(endpoint.address());
  ready.raise();
  zmq::message_t request;
  for (;;) {
    receive(socket, request, polling);
    if (request.size() == 0) {
      send(socket, nullptr, 0);
      return 0;
    }
    const std::uint64_t value = first_value(request);
    send(socket, &value, sizeof value);
  }
}

/// The ROUTER server: one request holding a count n, answered by responses 0, 1, ..., n - 1;
/// then it waits for the client's word that all arrived (any message), so that nothing it
/// queued is cut off when it closes.
int serve_router_stream(const IpcEndpoint& endpoint, ReadyFlag& ready) {
  zmq::context_t context;
  zmq::socket_t socket = bounded_socket(context, zmq::socket_type::router);
  socket.set(zmq::sockopt::router_mandatory, 1);
  socket.bind(endpoint.address());
  ready.raise();
  zmq::message_t peer;
  zmq::message_t request;
  receive(socket, peer, false);
  receive(socket, request, false);
  const std::uint64_t count = first_value(request);
  for (std::uint64_t i = 0; i < count; ++i) {
    send(socket, peer.data(), peer.size(), zmq::send_flags::sndmore);
    send(socket, &i, sizeof i);
  }
  receive(socket, peer, false);
  receive(socket, request, false);
  return 0;
}

/// The row around a client: starts `server_body` forked, runs `client(endpoint)` and reports
/// CPU per message of both processes (`client` returns how many messages it sent).
template <typename ServerBody, typename Client>
void run_row(benchmark::State& state, ServerBody server_body, Client client) {
  place_client();
  const IpcEndpoint endpoint;
  ReadyFlag ready;
  ForkedServer server([&] { return server_body(endpoint, ready); });
  if (!ready.wait()) {
    state.SkipWithError("the server did not start");
    return;
  }
  std::int64_t client_cpu = 0;
  std::int64_t messages = 0;
  try {
    const std::int64_t cpu_before = cpu_time_ns();
    messages = client(endpoint);
    client_cpu = cpu_time_ns() - cpu_before;
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    ::kill(server.pid(), SIGKILL);  // a client that gave up needs no server
  }
  report_cpu(state, client_cpu, server.finish(), messages);
  if (server.failed()) state.SkipWithError("the server failed");
}

/// REQ/REP with a request of `bytes` bytes (its first 8 a sequence number) answered by 8 bytes.
void req_rep_row(benchmark::State& state, std::size_t bytes, bool polling) {
  auto server = [polling](const IpcEndpoint& endpoint, ReadyFlag& ready) {
    return serve_rep(endpoint, ready, polling);
  };
  run_row(state, server, [&](const IpcEndpoint& endpoint) {
    // The context (and its I/O thread) is made after the fork: a context does not survive one.
    zmq::context_t context;
    zmq::socket_t socket = bounded_socket(context, zmq::socket_type::req);
    socket.connect(endpoint.address());
    std::vector<std::byte> request(bytes);
    zmq::message_t response;
    const std::int64_t warmup = state.max_iterations / 10;
    time_each(state, warmup, [&](std::int64_t i) {
      const auto value = static_cast<std::uint64_t>(i);
      std::memcpy(request.data(), &value, sizeof value);
      send(socket, request.data(), request.size());
      receive(socket, response, polling);
      expect(response, i);
    });
    send(socket, nullptr, 0);
    receive(socket, response, polling);
    return warmup + state.iterations();
  });
}

void round_trip_blocking(benchmark::State& state) {
  req_rep_row(state, kValueBytes, false);
}

void round_trip_polling(benchmark::State& state) {
  req_rep_row(state, kValueBytes, true);
}

template <std::size_t Bytes>
void payload_blocking(benchmark::State& state) {
  req_rep_row(state, Bytes, false);
}

/// One request for `count` responses, each received as it comes. As floe's stream rows: one
/// iteration is the whole stream, timed from sending the request to receiving the last response.
void stream_blocking(benchmark::State& state, std::uint64_t count) {
  run_row(state, serve_router_stream, [&](const IpcEndpoint& endpoint) {
    zmq::context_t context;
    zmq::socket_t socket = bounded_socket(context, zmq::socket_type::dealer);
    socket.connect(endpoint.address());
    zmq::message_t response;
    std::chrono::duration<double> took{};
    std::uint64_t allocated = 0;
    for (auto _ : state) {
      const std::uint64_t allocations_before = allocations();
      const auto start = Clock::now();
      send(socket, &count, sizeof count);
      for (std::uint64_t i = 0; i < count; ++i) {
        receive(socket, response, false);
        expect(response, static_cast<std::int64_t>(i));
      }
      took = Clock::now() - start;
      allocated = allocations() - allocations_before;
      state.SetIterationTime(took.count());
    }
    send(socket, nullptr, 0);
    const auto responses = static_cast<double>(count);
    state.counters["responses_per_s"] = responses / took.count();
    state.counters["allocs_per_op"] = static_cast<double>(allocated) / responses;
    state.SetItemsProcessed(static_cast<std::int64_t>(count));
    return static_cast<std::int64_t>(count);
  });
}

#endif  // FLOE_BENCH_ZEROMQ

[[maybe_unused]] const bool registered = [] {
#if FLOE_BENCH_ZEROMQ
  register_row(kRoundTripBlocking, 10'000, round_trip_blocking);
  register_row(payload_row(8), 10'000, payload_blocking<8>);
  register_row(payload_row(4096), 10'000, payload_blocking<4096>);
  register_row(payload_row(65536), 5'000, payload_blocking<65536>);
  register_row(payload_row(1048576), 500, payload_blocking<1048576>);
  // Milliseconds a sample: fewer than samples() allows when quick (at least 200).
  register_row(payload_row(16777216), 100, payload_blocking<16777216>)
      ->Iterations(quick() ? 20 : 100);
  // Like floe's stream rows: one iteration of one stream (a twentieth as long when quick).
  const std::uint64_t stream_count = quick() ? 1'000'000 / 20 : 1'000'000;
  register_whole_run(kStreamBlocking, [stream_count](benchmark::State& state) {
    stream_blocking(state, stream_count);
  });
  register_row(kRoundTripPolling, 10'000, round_trip_polling);
#else
  const char* why = "cppzmq-dev not installed";
  register_missing(kRoundTripBlocking, why);
  for (std::size_t bytes : {8, 4096, 65536, 1048576, 16777216})
    register_missing(payload_row(bytes), why);
  register_missing(kStreamBlocking, why);
  register_missing(kRoundTripPolling, why);
#endif
  return true;
}();

}  // namespace
}  // namespace floe::bench
