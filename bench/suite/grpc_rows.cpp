// gRPC's rows: an async gRPC server (a completion queue served by a thread of its own) in the
// server process, an async client in the benchmark process that waits on its completion queue
// itself; they talk over a Unix domain socket. The service is bench_service.proto; gRPC's settings
// are its defaults but for the message size limits, raised for the 16 MiB row.
//
// gRPC runs threads once it is up in a process, and a fork inherits their state but not them: a
// fork of the benchmark process cannot serve gRPC once the benchmark process ran a row. So the
// servers are forked by a spawner process instead, itself forked before gRPC first ran here.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "suite.hpp"

#ifdef FLOE_BENCH_GRPC_MISSING

namespace floe::bench {
namespace {

[[maybe_unused]] const bool registered = [] {
  for (const char* name :
       {"round_trip/grpc/async", "round_trip/grpc/tcp", "stream/grpc/tcp", "payload_8/grpc/async",
        "payload_4096/grpc/async", "payload_65536/grpc/async", "payload_1048576/grpc/async",
        "payload_16777216/grpc/async", "stream/grpc/async"}) {
    register_missing(name, FLOE_BENCH_GRPC_MISSING);
  }
  return true;
}();

}  // namespace
}  // namespace floe::bench

#else

#include <arpa/inet.h>
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "bench_service.grpc.pb.h"

namespace floe::bench {
namespace {

using floe_bench::BenchService;
using floe_bench::Payload;
using floe_bench::Value;

/// An Echo of this value stops the server, once answered.
constexpr std::uint64_t kStopValue = ~std::uint64_t{0};
/// Above the largest row's request (16 MiB) and its framing; gRPC's default is 4 MiB.
constexpr int kMaxMessageBytes = 32 << 20;
/// A call or a connection taking longer failed: the row reports an error instead of hanging.
constexpr std::chrono::seconds kCallTimeout{5};

std::chrono::system_clock::time_point call_deadline() {
  return std::chrono::system_clock::now() + kCallTimeout;
}

// The server process ----------------------------------------------------------------------------

/// What the server's calls share: the service they answer for, its completion queue, and the
/// promise the stop request keeps.
struct Serving {
  BenchService::AsyncService service;
  grpc::ServerCompletionQueue* queue = nullptr;
  std::promise<void> stop;
};

/// One call being served; its address is the tag of its operations on the completion queue.
/// Each call object asks for the next call of its method when its own arrives, and deletes
/// itself when done or when the server shuts down (ok false).
class ServerCall {
 public:
  virtual ~ServerCall() = default;
  virtual void proceed(bool ok) = 0;
};

void ask_for_call(Serving& serving, grpc::ServerContext* context, Value* request,
                  grpc::ServerAsyncResponseWriter<Value>* responder, void* tag) {
  serving.service.RequestEcho(context, request, responder, serving.queue, serving.queue, tag);
}

void ask_for_call(Serving& serving, grpc::ServerContext* context, Payload* request,
                  grpc::ServerAsyncResponseWriter<Value>* responder, void* tag) {
  serving.service.RequestUpload(context, request, responder, serving.queue, serving.queue, tag);
}

std::uint64_t answer_to(const Value& request) {
  return request.value();
}

std::uint64_t answer_to(const Payload& request) {
  return request.data().size();
}

/// Echo (Value) or Upload (Payload): one request, one Value answered.
template <typename Request>
class UnaryCall final : public ServerCall {
 public:
  explicit UnaryCall(Serving& serving) : serving_(serving), responder_(&context_) {
    ask_for_call(serving, &context_, &request_, &responder_, this);
  }

  void proceed(bool ok) override {
    if (ok && !answered_) {
      new UnaryCall(serving_);
      answered_ = true;
      response_.set_value(answer_to(request_));
      responder_.Finish(response_, grpc::Status::OK, this);
      return;
    }
    if (ok && response_.value() == kStopValue) serving_.stop.set_value();
    delete this;
  }

 private:
  Serving& serving_;
  grpc::ServerContext context_;
  Request request_;
  Value response_;
  grpc::ServerAsyncResponseWriter<Value> responder_;
  bool answered_ = false;
};

/// Stream: a request for n values answered by n - 1, n - 2, ..., 0, written one at a time (gRPC
/// allows one write in flight per call).
class StreamCall final : public ServerCall {
 public:
  explicit StreamCall(Serving& serving) : serving_(serving), writer_(&context_) {
    serving.service.RequestStream(&context_, &request_, &writer_, serving.queue, serving.queue,
                                  this);
  }

  void proceed(bool ok) override {
    if (!ok || finished_) {
      delete this;
      return;
    }
    if (!started_) {
      new StreamCall(serving_);
      started_ = true;
      left_ = request_.value();
    }
    if (left_ > 0) {
      --left_;
      response_.set_value(left_);
      writer_.Write(response_, this);
      return;
    }
    finished_ = true;
    writer_.Finish(grpc::Status::OK, this);
  }

 private:
  Serving& serving_;
  grpc::ServerContext context_;
  Value request_;
  Value response_;
  grpc::ServerAsyncWriter<Value> writer_;
  std::uint64_t left_ = 0;
  bool started_ = false;
  bool finished_ = false;
};

/// The server process's body: serves `address` until an Echo of kStopValue, calls `on_ready`
/// once it listens.
template <typename OnReady>
int serve(const char* address, OnReady&& on_ready) {
  Serving serving;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&serving.service);
  const std::unique_ptr<grpc::ServerCompletionQueue> queue = builder.AddCompletionQueue();
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  serving.queue = queue.get();
  new UnaryCall<Value>(serving);
  new UnaryCall<Payload>(serving);
  new StreamCall(serving);
  std::thread queue_thread([&] {
    void* tag = nullptr;
    bool ok = false;
    while (queue->Next(&tag, &ok))
      static_cast<ServerCall*>(tag)->proceed(ok);
  });
  on_ready();
  serving.stop.get_future().wait();
  server->Shutdown(call_deadline());
  queue->Shutdown();
  queue_thread.join();
  return 0;
}

// Forking the servers ---------------------------------------------------------------------------

/// A row's request to the spawner: fork a server for `address`. `row` tells its reports apart
/// from those of an earlier row that failed before reading them all.
struct SpawnRequest {
  std::uint64_t row;
  std::array<char, 128> address;
};

/// What the spawner (started, exited) and a server (ready) tell the benchmark process.
struct ServerReport {
  enum class Kind : std::uint8_t { started, ready, exited };
  std::uint64_t row;
  Kind kind;
  pid_t pid;
  int wait_status;      // exited: as wait4 tells it
  std::int64_t cpu_ns;  // exited: user + system
};

void send_report(int socket, const ServerReport& report) {
  // Nobody left to tell if it fails: the benchmark process is gone.
  (void)::send(socket, &report, sizeof report, MSG_NOSIGNAL);
}

std::int64_t ns_of(const timeval& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 +
         static_cast<std::int64_t>(t.tv_usec) * 1'000;
}

/// The spawner process's body: one server at a time, each a fork of this process, which never
/// runs gRPC itself; ends when the benchmark process closes its socket.
[[noreturn]] void run_spawner(int socket) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  SpawnRequest request{};
  while (::recv(socket, &request, sizeof request, 0) == sizeof request) {
    request.address.back() = '\0';
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      place_server();
      int status = 1;
      try {
        status = serve(request.address.data(), [&] {
          send_report(socket, {request.row, ServerReport::Kind::ready, ::getpid(), 0, 0});
        });
      } catch (const std::exception& error) {
        std::fprintf(stderr, "bench gRPC server: %s\n", error.what());
      }
      std::fflush(nullptr);
      ::_exit(status);
    }
    send_report(socket, {request.row, ServerReport::Kind::started, pid, 0, 0});
    int wait_status = 0;
    rusage usage{};
    if (pid < 0 || ::wait4(pid, &wait_status, 0, &usage) != pid) wait_status = -1;
    send_report(socket, {request.row, ServerReport::Kind::exited, pid, wait_status,
                         ns_of(usage.ru_utime) + ns_of(usage.ru_stime)});
  }
  ::_exit(0);
}

/// Forks the rows' gRPC servers. A fork of a process where gRPC runs inherits gRPC's state but
/// not its threads, and gRPC 1.51 does not come back once shut down (a channel made after
/// grpc_shutdown never connects): so the benchmark process keeps gRPC up from its first row on,
/// and its servers are forks of this process instead, forked before gRPC first ran.
class ServerSpawner {
 public:
  /// The one spawner, or nullptr if it could not be forked (or gRPC ran before).
  static ServerSpawner* get() {
    static const std::unique_ptr<ServerSpawner> spawner = fork_spawner();
    return spawner.get();
  }
  ServerSpawner(const ServerSpawner&) = delete;
  ServerSpawner& operator=(const ServerSpawner&) = delete;
  ~ServerSpawner() {
    ::close(socket_);
    ::waitpid(pid_, nullptr, 0);
  }

  bool spawn(std::uint64_t row, const std::string& address) {
    SpawnRequest request{row, {}};
    if (address.size() >= request.address.size()) return false;
    address.copy(request.address.data(), address.size());
    return ::send(socket_, &request, sizeof request, MSG_NOSIGNAL) == sizeof request;
  }

  /// The next report, or nothing if none came before `deadline` or the spawner is gone.
  std::optional<ServerReport> next_report(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{socket_, POLLIN, 0};
    if (left.count() < 0 || ::poll(&readable, 1, static_cast<int>(left.count())) != 1) {
      return std::nullopt;
    }
    ServerReport report{};
    if (::recv(socket_, &report, sizeof report, 0) != sizeof report) return std::nullopt;
    return report;
  }

 private:
  ServerSpawner(pid_t pid, int socket) : pid_(pid), socket_(socket) {}

  static std::unique_ptr<ServerSpawner> fork_spawner() {
    if (grpc_is_initialized() != 0) return nullptr;
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) return nullptr;
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(sockets[0]);
      run_spawner(sockets[1]);
    }
    ::close(sockets[1]);
    if (pid < 0) {
      ::close(sockets[0]);
      return nullptr;
    }
    grpc_init();  // up for the rest of the process's life: see above
    return std::unique_ptr<ServerSpawner>(new ServerSpawner(pid, sockets[0]));
  }

  pid_t pid_;
  int socket_;
};

/// One row's server, forked by the spawner: a ForkedServer, but not a child of this process.
class SpawnedServer {
 public:
  SpawnedServer(ServerSpawner& spawner, const std::string& address)
      : spawner_(spawner), row_(next_row_++) {
    failed_ = finished_ = !spawner.spawn(row_, address);
  }
  SpawnedServer(const SpawnedServer&) = delete;
  SpawnedServer& operator=(const SpawnedServer&) = delete;
  ~SpawnedServer() { finish(std::chrono::seconds(10)); }

  /// False if it is not listening after `timeout`.
  bool wait_ready(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!failed_ && !ready_ && !exited_ && take_report(deadline)) {
    }
    return ready_ && !exited_;
  }

  /// Waits for the exit (killing it after `timeout`) and returns its CPU time, as
  /// ForkedServer::finish does.
  std::int64_t finish(std::chrono::seconds timeout) {
    if (finished_) return cpu_ns_;
    finished_ = true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_ && take_report(deadline)) {
    }
    if (!exited_ && pid_ > 0) {
      std::fprintf(stderr, "bench gRPC server %d did not finish: killed\n", pid_);
      ::kill(pid_, SIGKILL);
      const auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!exited_ && take_report(kill_deadline)) {
      }
    }
    if (!exited_ || !WIFEXITED(wait_status_) || WEXITSTATUS(wait_status_) != 0) failed_ = true;
    return cpu_ns_;
  }

  bool failed() const noexcept { return failed_; }

 private:
  /// Takes the next report of this row's server: false if none came before `deadline`.
  bool take_report(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const std::optional<ServerReport> report = spawner_.next_report(deadline);
      if (!report) return false;
      if (report->row != row_) continue;
      switch (report->kind) {
        case ServerReport::Kind::started:
          pid_ = report->pid;
          if (pid_ < 0) failed_ = true;
          break;
        case ServerReport::Kind::ready:
          ready_ = true;
          break;
        case ServerReport::Kind::exited:
          exited_ = true;
          wait_status_ = report->wait_status;
          cpu_ns_ = report->cpu_ns;
          break;
      }
      return true;
    }
  }

  static inline std::uint64_t next_row_ = 0;
  ServerSpawner& spawner_;
  std::uint64_t row_;
  pid_t pid_ = -1;
  bool ready_ = false;
  bool exited_ = false;
  bool failed_ = false;
  bool finished_ = false;
  int wait_status_ = 0;
  std::int64_t cpu_ns_ = 0;
};

// The benchmark process -------------------------------------------------------------------------

/// A channel to the row's server and the completion queue its calls complete on, which the
/// benchmark thread itself waits on: one operation in flight at a time.
class BenchClient {
 public:
  explicit BenchClient(const std::string& address) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
    arguments.SetMaxSendMessageSize(kMaxMessageBytes);
    channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
    stub_ = BenchService::NewStub(channel_);
  }
  BenchClient(const BenchClient&) = delete;
  BenchClient& operator=(const BenchClient&) = delete;
  ~BenchClient() {
    stub_.reset();
    channel_.reset();
    queue_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  bool connect() { return channel_->WaitForConnected(call_deadline()); }

  /// An Echo call: the value answered, or nothing if the call failed.
  std::optional<std::uint64_t> echo(std::uint64_t value) {
    Value request;
    request.set_value(value);
    grpc::ClientContext context;
    return finish(context, *stub_->AsyncEcho(&context, request, &queue_));
  }

  /// An Upload call: the size answered, or nothing if the call failed.
  std::optional<std::uint64_t> upload(const Payload& request) {
    grpc::ClientContext context;
    return finish(context, *stub_->AsyncUpload(&context, request, &queue_));
  }

  BenchService::Stub& stub() { return *stub_; }
  grpc::CompletionQueue& queue() { return queue_; }

  /// Waits for the operation tagged `tag` of the call `context`: false if it failed or took
  /// longer than kCallTimeout (then the call is cancelled and its completion awaited, as
  /// nothing of it may outlive `context`).
  bool await(void* tag, grpc::ClientContext& context) {
    void* completed = nullptr;
    bool ok = false;
    if (queue_.AsyncNext(&completed, &ok, call_deadline()) == grpc::CompletionQueue::GOT_EVENT) {
      return ok && completed == tag;
    }
    context.TryCancel();
    queue_.Next(&completed, &ok);
    return false;
  }

 private:
  std::optional<std::uint64_t> finish(grpc::ClientContext& context,
                                      grpc::ClientAsyncResponseReader<Value>& call) {
    Value response;
    grpc::Status status;
    call.Finish(&response, &status, &response);
    if (!await(&response, context) || !status.ok()) return std::nullopt;
    return response.value();
  }

  grpc::CompletionQueue queue_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<BenchService::Stub> stub_;
};

/// One row: has the server forked, connects, runs `measure(client)` (which returns why it
/// failed, or nothing), stops the server and reports the CPU both used per message (the row's
/// iterations and `warmup` more).
/// Where a row's server listens: a Unix domain socket (mode "async"), or TCP on 127.0.0.1 (mode
/// "tcp", what floe-gateway's rows cross).
enum class Over { unix_socket, tcp };

/// A port of 127.0.0.1 free a moment ago (0 if none could be had).
int free_tcp_port() {
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

template <typename Measure>
void run_row(benchmark::State& state, std::int64_t warmup, Measure&& measure,
             Over over = Over::unix_socket) {
  place_client();
  ServerSpawner* const spawner = ServerSpawner::get();
  if (spawner == nullptr) {
    state.SkipWithError("could not fork the gRPC servers' spawner");
    return;
  }
  const std::string socket_path =
      over == Over::unix_socket ? "/tmp/" + unique_name("grpc") + ".sock" : "";
  const std::string address = over == Over::unix_socket
                                  ? "unix:" + socket_path
                                  : "127.0.0.1:" + std::to_string(free_tcp_port());
  SpawnedServer server(*spawner, address);
  std::optional<std::string> failure;
  std::int64_t client_cpu = 0;
  if (!server.wait_ready(std::chrono::seconds(20))) {
    failure = "the server did not start";
  } else {
    BenchClient client(address);
    if (!client.connect()) {
      failure = "the client did not connect";
    } else {
      const std::int64_t cpu_before = cpu_time_ns();
      failure = measure(client);
      client_cpu = cpu_time_ns() - cpu_before;
      if (client.echo(kStopValue) != kStopValue && !failure) failure = "the server did not stop";
    }
  }
  const std::int64_t server_cpu = server.finish(std::chrono::seconds(10));
  if (!socket_path.empty()) ::unlink(socket_path.c_str());
  if (!failure && server.failed()) failure = "the server failed";
  if (failure) {
    state.SkipWithError(failure->c_str());
    return;
  }
  report_cpu(state, client_cpu, server_cpu, warmup + state.iterations());
}

template <Over kOver>
void round_trip_grpc(benchmark::State& state) {
  const std::int64_t warmup = state.max_iterations / 10;
  run_row(
      state, warmup,
      [&](BenchClient& client) -> std::optional<std::string> {
        bool failed = false;
        time_each(state, warmup, [&](std::int64_t i) {
          if (failed) return;
          const auto value = static_cast<std::uint64_t>(i);
          failed = client.echo(value) != value;
        });
        if (failed) return "an Echo call failed";
        return std::nullopt;
      },
      kOver);
}

template <std::size_t kBytes>
void payload_grpc_async(benchmark::State& state) {
  // Two at least: HTTP/2's flow-control windows grow over the first large calls.
  const std::int64_t warmup = std::max<std::int64_t>(2, state.max_iterations / 10);
  run_row(state, warmup, [&](BenchClient& client) -> std::optional<std::string> {
    Payload request;
    request.mutable_data()->assign(kBytes, 'p');
    bool failed = false;
    time_each(state, warmup, [&](std::int64_t) {
      if (failed) return;
      failed = client.upload(request) != kBytes;
    });
    if (failed) return "an Upload call failed";
    return std::nullopt;
  });
}

/// One Stream call for as many responses as the row has iterations (and warm-up ones): each
/// iteration is one response read.
template <Over kOver>
void stream_grpc(benchmark::State& state) {
  const std::int64_t warmup = state.max_iterations / 10;
  run_row(
      state, warmup,
      [&](BenchClient& client) -> std::optional<std::string> {
        using Clock = std::chrono::steady_clock;
        const auto count = static_cast<std::uint64_t>(warmup + state.max_iterations);
        Value request;
        request.set_value(count);
        grpc::ClientContext context;
        const auto reader = client.stub().PrepareAsyncStream(&context, request, &client.queue());
        reader->StartCall(&request);
        if (!client.await(&request, context)) return "the Stream call did not start";
        Value response;
        bool failed = false;
        Clock::time_point timed_start;
        time_each(state, warmup, [&](std::int64_t i) {
          if (i == warmup) timed_start = Clock::now();
          if (failed) return;
          reader->Read(&response, &response);
          failed = !client.await(&response, context) ||
                   response.value() != count - 1 - static_cast<std::uint64_t>(i);
        });
        const std::chrono::duration<double> timed = Clock::now() - timed_start;
        if (failed) return "a Stream response was missing or wrong";
        // The stream ends (a read completes not ok), then its status says it ended well.
        reader->Read(&response, &response);
        if (client.await(&response, context)) return "the Stream call answered too much";
        grpc::Status status;
        reader->Finish(&status, &status);
        if (!client.await(&status, context) || !status.ok()) return "the Stream call failed";
        state.SetItemsProcessed(state.iterations());
        state.counters["responses_per_s"] = static_cast<double>(state.iterations()) / timed.count();
        return std::nullopt;
      },
      kOver);
}

/// A row of calls taking milliseconds: its quick share is a twentieth still, not samples()'s
/// minimum of 200.
void register_slow_row(const std::string& name, std::int64_t count,
                       void (*body)(benchmark::State&)) {
  register_row(name, count, body)->Iterations(quick() ? count / 20 : count);
}

[[maybe_unused]] const bool registered = [] {
  register_row("round_trip/grpc/async", 10'000, round_trip_grpc<Over::unix_socket>);
  register_row("round_trip/grpc/tcp", 10'000, round_trip_grpc<Over::tcp>);
  register_row("payload_8/grpc/async", 5'000, payload_grpc_async<8>);
  register_row("payload_4096/grpc/async", 5'000, payload_grpc_async<4096>);
  register_row("payload_65536/grpc/async", 2'000, payload_grpc_async<65536>);
  register_slow_row("payload_1048576/grpc/async", 200, payload_grpc_async<1048576>);
  register_slow_row("payload_16777216/grpc/async", 20, payload_grpc_async<16777216>);
  register_row("stream/grpc/async", 200'000, stream_grpc<Over::unix_socket>);
  register_row("stream/grpc/tcp", 200'000, stream_grpc<Over::tcp>);
  return true;
}();

}  // namespace
}  // namespace floe::bench

#endif
