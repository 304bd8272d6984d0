// Answers each request for `count` numbers with a stream of `count` loaned responses, one task
// per request. Ends by itself after `--seconds N` (default 10).

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
    // false: the client went away; its stream ends here.
    if (!std::move(response).send()) co_return;
    // Sending blocks only while the client's buffer is full; now and then the other streams
    // get their turn.
    if (n % 4096 == 4095) co_await floe::sleep_for(0ms);
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
      if (e.code() == floe::Errc::timed_out) co_return;
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
  runtime.spawn(serve(runtime, server, deadline));
  runtime.run();
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "server: %s\n", e.what());
  return 1;
}
