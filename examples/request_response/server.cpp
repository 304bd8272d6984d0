// Answers every request with one response by copy, then a stream of loaned responses
// written in place. Ends by itself after `--seconds N` (default 5).

#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "run_for.hpp"
#include "transmission_data.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 5);
  floe::Node node = floe::Node::create("request-response-server");
  auto service = node.service_builder("My/Funk/ServiceName")
                     .request_response<std::uint64_t, TransmissionData>()
                     .open_or_create();
  auto server = service.server_builder().create();
  std::printf("server ready\n");

  using Active = decltype(server)::Active;
  std::vector<Active> streams;  // requests still being answered, one response per cycle
  std::int32_t counter = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    while (auto request = server.try_receive()) {
      std::printf("received request: %llu\n", static_cast<unsigned long long>(request->payload()));
      const TransmissionData first{5 + counter, 6 * counter, 789.123 * counter};
      std::printf("  send response: x=%d y=%d funky=%.3f\n", first.x, first.y, first.funky);
      request->send_copy(first);
      streams.push_back(std::move(*request));
    }
    // The zero-copy stream: every open request gets one more loaned response per cycle, and
    // after (request % 3) + 1 of them its stream ends by dropping the ActiveRequest.
    for (auto it = streams.begin(); it != streams.end();) {
      if (!it->is_connected()) {
        it = streams.erase(it);
        continue;
      }
      auto response = it->loan();
      response->x = counter;
      response->y = static_cast<std::int32_t>(it->payload());
      response->funky = 0.5 * counter;
      std::printf("  send loaned response to request %llu: x=%d\n",
                  static_cast<unsigned long long>(it->payload()), response->x);
      std::move(response).send();
      if (counter % 3 == static_cast<std::int32_t>(it->payload() % 3)) {
        it = streams.erase(it);
      } else {
        ++it;
      }
    }
    ++counter;
    std::this_thread::sleep_for(100ms);
  }
  std::printf("server done\n");
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "server: %s\n", e.what());
  return 1;
}
