// Sends a first request by copy, then loaned requests written in place, and prints every
// response of each request's stream. Ends by itself after `--seconds N` (default 3).

#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <thread>

#include "run_for.hpp"
#include "transmission_data.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 3);
  floe::Node node = floe::Node::create("request-response-client");
  auto service = node.service_builder("My/Funk/ServiceName")
                     .request_response<std::uint64_t, TransmissionData>()
                     .open_or_create();
  auto client = service.client_builder().create();

  std::uint64_t request_counter = 0;
  std::uint64_t response_counter = 0;
  std::printf("send request %llu (copy)\n", static_cast<unsigned long long>(request_counter));
  std::optional pending = client.send_copy(request_counter);
  std::printf("  reached %u server(s)\n", pending->number_of_server_connections());

  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    while (auto response = pending->try_receive()) {
      std::printf("received response %llu to request %llu: x=%d y=%d funky=%.3f\n",
                  static_cast<unsigned long long>(++response_counter),
                  static_cast<unsigned long long>(pending->payload()), response->payload().x,
                  response->payload().y, response->payload().funky);
    }
    if (!pending->is_connected()) {
      std::printf("stream of request %llu ended\n",
                  static_cast<unsigned long long>(pending->payload()));
    }
    auto request = client.loan();
    *request = ++request_counter;
    pending.reset();  // the previous stream is dropped: its server sees is_connected() == false
    pending.emplace(std::move(request).send());
    std::printf("send request %llu (loaned)\n", static_cast<unsigned long long>(request_counter));
  }
  std::printf("client done: %llu requests, %llu responses\n",
              static_cast<unsigned long long>(request_counter + 1),
              static_cast<unsigned long long>(response_counter));
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "client: %s\n", e.what());
  return 1;
}
