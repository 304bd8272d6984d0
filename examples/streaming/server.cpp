// Answers each request for `count` numbers with a stream of `count` loaned responses, one task
// per request. A client that reads slowly (or not at all) holds up only its own stream: the
// send awaits room in that client's buffer, and the other streams go on meanwhile. Ends by
// itself after `--seconds N` (default 10), or on Ctrl-C.

#include <signal.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "../request_response/run_for.hpp"
#include "stream_service.hpp"

using namespace std::chrono_literals;

using Server = floe::Server<std::uint64_t, std::uint64_t>;

namespace {

floe::Task<void> stream(Server::Active request) {
  const std::uint64_t count = request.payload();
  for (std::uint64_t n = 0; n < count; ++n) {
    auto response = request.loan();
    *response = n;
    // Suspends this task alone while the client's buffer is full; false: the client went away,
    // its stream ends here.
    if (!co_await std::move(response).async_send()) co_return;
  }
  std::printf("server %d: streamed %llu numbers to client %llx\n", static_cast<int>(::getpid()),
              static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(request.origin()));
}

floe::Task<void> serve(floe::Runtime& runtime, Server& server,
                       std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    try {
      auto request = co_await floe::with_timeout(server.receive(),
                                                 deadline - std::chrono::steady_clock::now());
      runtime.spawn(stream(std::move(request)));
    } catch (const floe::Error& e) {
      // timed out: the example's time is up; cancelled: Ctrl-C.
      if (e.code() == floe::Errc::timed_out || e.code() == floe::Errc::cancelled) co_return;
      throw;
    }
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 10);
  floe::Node node = floe::Node::create("streaming-server");
  auto service = open_stream_service(node);
  auto server = service.server_builder().backpressure(floe::Backpressure::block).create();
  std::printf("server %d ready\n", static_cast<int>(::getpid()));
  floe::Runtime runtime;
  runtime.stop_on({SIGINT, SIGTERM});  // every wait ends with Errc::cancelled, run() returns
  runtime.spawn(serve(runtime, server, deadline));
  runtime.run();
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "server: %s\n", e.what());
  return 1;
}
