// Waits for a server, sends a first request by copy, then loaned requests written in place, and
// prints every response of each request's stream as it arrives: `co_await pending.receive()`
// sleeps until a server answers and returns std::nullopt once every server has ended its
// stream. Ends by itself after `--seconds N` (default 3).

#include <floe/floe.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "run_for.hpp"
#include "transmission_data.hpp"

using namespace std::chrono_literals;

namespace {

template <typename Client>
floe::Task<void> request_streams(Client& client, std::chrono::steady_clock::time_point deadline) {
  const int me = static_cast<int>(::getpid());
  std::uint64_t request_number = 0;
  std::uint64_t responses = 0;
  // A request reaches the servers there when it is sent: wait for one (woken by its creation).
  if (!co_await client.wait_for_server(5s)) {
    std::printf("client %d: no server came within 5 s\n", me);
    co_return;
  }
  auto pending = client.send_copy(request_number);
  std::printf("client %d: sent request %llu by copy, it reached %u server(s)\n", me,
              static_cast<unsigned long long>(request_number),
              pending.number_of_server_connections());
  while (std::chrono::steady_clock::now() < deadline) {
    // Bounded: a server that hangs without dying must not hang the client.
    while (auto response = co_await floe::with_timeout(pending.receive(), 2s)) {
      ++responses;
      std::printf("client %d: response to request %llu from server %llx: x=%d y=%d funky=%.3f\n",
                  me, static_cast<unsigned long long>(pending.payload()),
                  static_cast<unsigned long long>(response->header().server_id),
                  response->payload().x, response->payload().y, response->payload().funky);
    }
    std::printf("client %d: stream of request %llu ended\n", me,
                static_cast<unsigned long long>(pending.payload()));
    co_await floe::sleep_for(200ms);  // paces the demo; the waits above are not on a cycle

    auto request = client.loan();
    *request = ++request_number;
    pending = std::move(request).send();
    std::printf("client %d: sent loaned request %llu to %u server(s)\n", me,
                static_cast<unsigned long long>(request_number),
                pending.number_of_server_connections());
  }
  std::printf("client %d done: %llu requests, %llu responses\n", me,
              static_cast<unsigned long long>(request_number + 1),
              static_cast<unsigned long long>(responses));
}

}  // namespace

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 3);
  floe::Node node = floe::Node::create("request-response-client");
  auto service = node.service_builder("My/Funk/ServiceName")
                     .request_response<std::uint64_t, TransmissionData>()
                     .open_or_create();
  auto client = service.client_builder().create();
  floe::Runtime runtime;
  runtime.block_on(request_streams(client, deadline));
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "client: %s\n", e.what());
  return 1;
}
