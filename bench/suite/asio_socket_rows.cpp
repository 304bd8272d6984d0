// Asio over a Unix domain socket: request-response between two processes as an Asio user writes
// it today, with synchronous calls on both sides (blocking) or coroutines on both sides
// (co_await: asio::awaitable, co_spawn, use_awaitable, each side in its own io_context).
//
// Stream sockets (asio::local::stream_protocol), each message its length (8 bytes) then its
// bytes, rather than SOCK_SEQPACKET (asio::local::seq_packet_protocol), which would keep message
// boundaries by itself: a seqpacket message must fit the sender's SO_SNDBUF whole, at most twice
// net.core.wmem_max (208 KiB by default, 4 MiB on this machine), so a 1 MiB request fails with
// EMSGSIZE under the default and a 16 MiB one under any usual setting. Stream sockets carry every
// payload row, and one framing for all rows keeps them comparable.

#include <benchmark/benchmark.h>

// After a standard header (benchmark.h's): Asio picks aligned_alloc or operator new by whether
// libstdc++'s configuration is already seen, and every unit must pick alike (see floe/asio.hpp).
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <signal.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "suite.hpp"

namespace floe::bench {
namespace {

using Protocol = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kValueBytes = sizeof(std::uint64_t);

/// The path of a row's socket, in the temporary directory; the file is removed with this object.
class SocketPath {
 public:
  SocketPath()
      : path_(std::filesystem::temp_directory_path() / (unique_name("asio-socket") + ".sock")) {}
  SocketPath(const SocketPath&) = delete;
  SocketPath& operator=(const SocketPath&) = delete;
  ~SocketPath() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  Protocol::endpoint endpoint() const { return Protocol::endpoint(path_.string()); }

 private:
  std::filesystem::path path_;
};

/// Bounds the client's waits without touching them: a socket call has no timeout of its own, so
/// when the client made no progress for `limit`, this kills the server; the client's pending
/// read then fails (end of file) and the row reports the stall instead of hanging the suite.
class StallWatchdog {
 public:
  explicit StallWatchdog(pid_t server, std::chrono::seconds limit = std::chrono::seconds(5))
      : thread_([this, server, limit] { watch(server, limit); }) {}
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;
  ~StallWatchdog() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  /// Called by the client after each message: only this thread writes, so a plain store.
  void progress() noexcept {
    beats_.store(beats_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  bool fired() const noexcept { return fired_.load(); }

 private:
  void watch(pid_t server, std::chrono::seconds limit) {
    std::unique_lock lock(mutex_);
    std::uint64_t seen = beats_.load(std::memory_order_relaxed);
    auto last_progress = Clock::now();
    while (!wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_; })) {
      const std::uint64_t now_seen = beats_.load(std::memory_order_relaxed);
      if (now_seen != seen) {
        seen = now_seen;
        last_progress = Clock::now();
      } else if (Clock::now() - last_progress > limit) {
        fired_ = true;
        ::kill(server, SIGKILL);
        return;
      }
    }
  }

  std::atomic<std::uint64_t> beats_{0};
  std::atomic<bool> fired_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

/// The gather list of one message: its length, then its bytes.
struct Framed {
  Framed(const void* data, std::size_t size) : length(size), data(data) {}
  std::array<asio::const_buffer, 2> buffers() const {
    return {asio::buffer(&length, sizeof length), asio::buffer(data, length)};
  }
  std::uint64_t length;
  const void* data;
};

void check_length(std::uint64_t length, const std::vector<std::byte>& buffer) {
  if (length > buffer.size()) throw std::runtime_error("a message larger than expected");
}

void write_message(Protocol::socket& socket, const void* data, std::size_t size) {
  const Framed framed(data, size);
  asio::write(socket, framed.buffers());
}

/// Reads one message into `buffer`; false at the end of the stream (the peer closed).
bool read_message(Protocol::socket& socket, std::vector<std::byte>& buffer) {
  std::uint64_t length = 0;
  asio::error_code error;
  asio::read(socket, asio::buffer(&length, sizeof length), error);
  if (error == asio::error::eof) return false;
  if (error) throw asio::system_error(error);
  check_length(length, buffer);
  asio::read(socket, asio::buffer(buffer.data(), length));
  return true;
}

asio::awaitable<void> async_write_message(Protocol::socket& socket, const void* data,
                                          std::size_t size) {
  const Framed framed(data, size);
  co_await asio::async_write(socket, framed.buffers(), asio::use_awaitable);
}

asio::awaitable<bool> async_read_message(Protocol::socket& socket, std::vector<std::byte>& buffer) {
  std::uint64_t length = 0;
  asio::error_code error;
  co_await asio::async_read(socket, asio::buffer(&length, sizeof length),
                            asio::redirect_error(asio::use_awaitable, error));
  if (error == asio::error::eof) co_return false;
  if (error) throw asio::system_error(error);
  check_length(length, buffer);
  co_await asio::async_read(socket, asio::buffer(buffer.data(), length), asio::use_awaitable);
  co_return true;
}

std::uint64_t first_value(const std::vector<std::byte>& buffer) {
  std::uint64_t value = 0;
  std::memcpy(&value, buffer.data(), sizeof value);
  return value;
}

/// The blocking server: answers each request with its first 8 bytes until the client closes.
int serve_blocking(const SocketPath& path, ReadyFlag& ready) {
  asio::io_context io;
  Protocol::acceptor acceptor(io, path.endpoint());
  ready.raise();
  Protocol::socket socket = acceptor.accept();
  std::vector<std::byte> request(kValueBytes);
  while (read_message(socket, request)) {
    const std::uint64_t value = first_value(request);
    write_message(socket, &value, sizeof value);
  }
  return 0;
}

/// What the coroutine server does with a request.
enum class Answer {
  echo,    ///< one response: the request's first 8 bytes
  stream,  ///< the request holds a count n: responses 0, 1, ..., n - 1
};

asio::awaitable<void> answer_requests(Protocol::acceptor& acceptor, Answer answer,
                                      std::size_t max_request) {
  Protocol::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
  std::vector<std::byte> request(max_request);
  while (co_await async_read_message(socket, request)) {
    const std::uint64_t value = first_value(request);
    if (answer == Answer::echo) {
      co_await async_write_message(socket, &value, sizeof value);
      continue;
    }
    for (std::uint64_t i = 0; i < value; ++i)
      co_await async_write_message(socket, &i, sizeof i);
  }
}

/// The coroutine server: one coroutine on the server process's io_context.
int serve_co_await(const SocketPath& path, ReadyFlag& ready, Answer answer,
                   std::size_t max_request) {
  asio::io_context io;
  Protocol::acceptor acceptor(io, path.endpoint());
  ready.raise();
  std::exception_ptr failure;
  asio::co_spawn(io, answer_requests(acceptor, answer, max_request),
                 [&](std::exception_ptr error) { failure = error; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return 0;
}

/// time_each (suite.hpp) for a client that is a coroutine: each call of `one` is awaited.
template <typename One>
asio::awaitable<void> co_time_each(benchmark::State& state, std::int64_t warmup, One one) {
  for (std::int64_t i = 0; i < warmup; ++i)
    co_await one(i);
  Latencies latencies(state.max_iterations);
  std::int64_t i = warmup;
  const std::uint64_t allocations_before = allocations();
  for (auto _ : state) {
    const auto start = Clock::now();
    co_await one(i++);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
    state.SetIterationTime(static_cast<double>(ns.count()) * 1e-9);
    latencies.add(ns.count());
  }
  const std::uint64_t allocated = allocations() - allocations_before;
  state.counters["allocs_per_op"] =
      static_cast<double>(allocated) / static_cast<double>(state.iterations());
  latencies.report(state);
}

/// Runs the client coroutine `client` on an io_context of this process until it is done.
template <typename Client>
void run_client(Client client) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, client(io), [&](std::exception_ptr error) { failure = error; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

/// The row around a client: starts `server_body` forked, runs `client(socket, watchdog)` and
/// reports CPU per message of both processes (`client` returns how many messages it sent).
template <typename ServerBody, typename Client>
void run_row(benchmark::State& state, ServerBody server_body, Client client) {
  place_client();
  const SocketPath path;
  ReadyFlag ready;
  ForkedServer server([&] { return server_body(path, ready); });
  if (!ready.wait()) {
    state.SkipWithError("the server did not start");
    return;
  }
  std::int64_t client_cpu = 0;
  std::int64_t messages = 0;
  {
    StallWatchdog watchdog(server.pid());
    try {
      const std::int64_t cpu_before = cpu_time_ns();
      messages = client(path, watchdog);
      client_cpu = cpu_time_ns() - cpu_before;
    } catch (const std::exception& error) {
      state.SkipWithError(watchdog.fired() ? "the server stalled: killed" : error.what());
      ::kill(server.pid(), SIGKILL);  // a client that gave up needs no server
    }
  }
  report_cpu(state, client_cpu, server.finish(), messages);
  if (server.failed()) state.SkipWithError("the server failed");
}

void expect(std::uint64_t got, std::int64_t wanted) {
  if (got != static_cast<std::uint64_t>(wanted)) throw std::runtime_error("a wrong response");
}

void round_trip_blocking(benchmark::State& state) {
  run_row(state, serve_blocking, [&](const SocketPath& path, StallWatchdog& watchdog) {
    asio::io_context io;
    Protocol::socket socket(io);
    socket.connect(path.endpoint());
    std::vector<std::byte> response(kValueBytes);
    const std::int64_t warmup = state.max_iterations / 10;
    time_each(state, warmup, [&](std::int64_t i) {
      const auto value = static_cast<std::uint64_t>(i);
      write_message(socket, &value, sizeof value);
      if (!read_message(socket, response)) throw std::runtime_error("the server closed");
      expect(first_value(response), i);
      watchdog.progress();
    });
    return warmup + state.iterations();
  });
}

/// A request of `Bytes` bytes (its first 8 a sequence number), answered by 8 bytes; round_trip
/// is payload_8.
template <std::size_t Bytes>
void payload_co_await(benchmark::State& state) {
  auto server = [](const SocketPath& path, ReadyFlag& ready) {
    return serve_co_await(path, ready, Answer::echo, Bytes);
  };
  run_row(state, server, [&](const SocketPath& path, StallWatchdog& watchdog) {
    const std::int64_t warmup = state.max_iterations / 10;
    run_client([&](asio::io_context& io) -> asio::awaitable<void> {
      Protocol::socket socket(io);
      co_await socket.async_connect(path.endpoint(), asio::use_awaitable);
      std::vector<std::byte> request(Bytes);
      std::vector<std::byte> response(kValueBytes);
      co_await co_time_each(state, warmup, [&](std::int64_t i) -> asio::awaitable<void> {
        const auto value = static_cast<std::uint64_t>(i);
        std::memcpy(request.data(), &value, sizeof value);
        co_await async_write_message(socket, request.data(), request.size());
        if (!co_await async_read_message(socket, response)) {
          throw std::runtime_error("the server closed");
        }
        expect(first_value(response), i);
        watchdog.progress();
      });
    });
    return warmup + state.iterations();
  });
}

/// What the client of a stream row measured.
struct StreamTaken {
  std::chrono::duration<double> took{};
  std::uint64_t allocations = 0;
};

/// The client of a stream row: one request for `count` responses, each read as it comes. As
/// floe's stream rows: one iteration is the whole stream, timed from sending the request to
/// reading the last response. (A free function: GCC 12 fails on this as a lambda coroutine.)
asio::awaitable<void> take_streams(asio::io_context& io, const SocketPath& path,
                                   benchmark::State& state, std::uint64_t count,
                                   StallWatchdog& watchdog, StreamTaken& taken) {
  Protocol::socket socket(io);
  co_await socket.async_connect(path.endpoint(), asio::use_awaitable);
  std::vector<std::byte> response(kValueBytes);
  for (auto _ : state) {
    const std::uint64_t allocations_before = allocations();
    const auto start = Clock::now();
    co_await async_write_message(socket, &count, sizeof count);
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!co_await async_read_message(socket, response)) {
        throw std::runtime_error("the server closed");
      }
      expect(first_value(response), static_cast<std::int64_t>(i));
      watchdog.progress();
    }
    taken.took = Clock::now() - start;
    taken.allocations = allocations() - allocations_before;
    state.SetIterationTime(taken.took.count());
  }
}

void stream_co_await(benchmark::State& state, std::uint64_t count) {
  auto server = [](const SocketPath& path, ReadyFlag& ready) {
    return serve_co_await(path, ready, Answer::stream, kValueBytes);
  };
  run_row(state, server, [&](const SocketPath& path, StallWatchdog& watchdog) {
    StreamTaken taken;
    run_client([&](asio::io_context& io) {
      return take_streams(io, path, state, count, watchdog, taken);
    });
    const auto responses = static_cast<double>(count);
    state.counters["responses_per_s"] = responses / taken.took.count();
    state.counters["allocs_per_op"] = static_cast<double>(taken.allocations) / responses;
    state.SetItemsProcessed(static_cast<std::int64_t>(count));
    return static_cast<std::int64_t>(count);
  });
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/asio socket/blocking", 10'000, round_trip_blocking);
  register_row("round_trip/asio socket/co_await", 10'000, payload_co_await<kValueBytes>);
  register_row("payload_8/asio socket/co_await", 10'000, payload_co_await<8>);
  register_row("payload_4096/asio socket/co_await", 10'000, payload_co_await<4096>);
  register_row("payload_65536/asio socket/co_await", 5'000, payload_co_await<65536>);
  register_row("payload_1048576/asio socket/co_await", 500, payload_co_await<1048576>);
  // Milliseconds a sample: fewer than samples() allows when quick (at least 200).
  register_row("payload_16777216/asio socket/co_await", 100, payload_co_await<16777216>)
      ->Iterations(quick() ? 20 : 100);
  // Like floe's stream rows: one iteration of one stream (a twentieth as long when quick).
  const std::uint64_t stream_count = quick() ? 200'000 / 20 : 200'000;
  register_whole_run("stream/asio socket/co_await", [stream_count](benchmark::State& state) {
    stream_co_await(state, stream_count);
  });
  return true;
}();

}  // namespace
}  // namespace floe::bench
