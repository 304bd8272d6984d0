// Answers every request with one response by copy, then a stream of loaned responses written
// in place, one task per request so that many clients are served at once. Waits with co_await:
// it sleeps in the kernel until a request arrives. Ends by itself after `--seconds N` (default 5),
// or on Ctrl-C.

#include <floe/floe.hpp>

#include <signal.h>
#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "run_for.hpp"
#include "transmission_data.hpp"

using namespace std::chrono_literals;

using Server = floe::Server<std::uint64_t, TransmissionData>;
using ActiveRequest = Server::Active;

namespace {

/// One request's stream: a first response by copy, then (request % 3) + 1 loaned ones, 100 ms
/// apart; the stream ends when the ActiveRequest goes out of scope.
floe::Task<void> answer(ActiveRequest request, std::int32_t counter) {
  const auto value = static_cast<unsigned long long>(request.payload());
  const TransmissionData first{5 + counter, 6 * counter, 789.123 * counter};
  std::printf("received request %llu, send response by copy: x=%d y=%d funky=%.3f\n", value,
              first.x, first.y, first.funky);
  request.send_copy(first);
  for (std::uint64_t n = 0; n <= request.payload() % 3; ++n) {
    co_await floe::sleep_for(100ms);
    if (!request.is_connected()) {
      std::printf("  client of request %llu stopped listening\n", value);
      co_return;
    }
    auto response = request.loan();
    response->x = counter;
    response->y = static_cast<std::int32_t>(n);
    response->funky = 0.5 * static_cast<double>(n);
    std::printf("  send loaned response %llu to request %llu\n", static_cast<unsigned long long>(n),
                value);
    std::move(response).send();
  }
}

floe::Task<void> serve(floe::Runtime& runtime, Server& server,
                       std::chrono::steady_clock::time_point deadline) {
  for (std::int32_t counter = 0;; ++counter) {
    const auto left = deadline - std::chrono::steady_clock::now();
    try {
      ActiveRequest request = co_await floe::with_timeout(server.receive(), left);
      runtime.spawn(answer(std::move(request), counter));
    } catch (const floe::Error& e) {
      // timed out: the example's time is up; cancelled: Ctrl-C.
      if (e.code() == floe::Errc::timed_out || e.code() == floe::Errc::cancelled) co_return;
      throw;
    }
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 5);
  floe::Node node = floe::Node::create("request-response-server");
  auto service = node.service_builder("My/Funk/ServiceName")
                     .request_response<std::uint64_t, TransmissionData>()
                     .open_or_create();
  auto server = service.server_builder().create();
  std::printf("server %d ready\n", static_cast<int>(::getpid()));

  floe::Runtime runtime;
  runtime.stop_on({SIGINT, SIGTERM});  // every wait ends with Errc::cancelled, run() returns
  runtime.spawn(serve(runtime, server, deadline));
  runtime.run();
  std::printf("server done\n");
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "server: %s\n", e.what());
  return 1;
}
