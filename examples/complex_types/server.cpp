// Answers each Order with a Receipt written in place: reads the customer's name as a
// std::string_view and the items as a std::span, builds the summary with append_truncated (a
// long name is cut by name, never overflows). Ends after `--seconds N` (default 5) or Ctrl-C.

#include <floe/floe.hpp>

#include <signal.h>
#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "../request_response/run_for.hpp"
#include "order.hpp"

namespace {

floe::Task<void> serve(floe::Server<Order, Receipt>& server,
                       std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = deadline - std::chrono::steady_clock::now();
    try {
      auto request = co_await floe::with_timeout(server.receive(), left);
      const Order& order = request.payload();
      const std::string_view customer = order.customer;
      const std::span<const std::uint32_t> items = order.item_ids;
      std::printf("order from %.*s: %zu item(s)\n", static_cast<int>(customer.size()),
                  customer.data(), items.size());

      auto response = request.loan();  // an empty Receipt in shared memory
      Receipt& receipt = response.payload();
      for (const std::uint32_t id : items) {
        if (id % 2 == 1) receipt.accepted_ids.push_back(id);  // fits: as many as ordered
      }
      receipt.summary.append_truncated("for ");
      receipt.summary.append_truncated(customer);
      receipt.summary.append_truncated(": " + std::to_string(receipt.accepted_ids.size()) + " of " +
                                       std::to_string(items.size()) + " item(s) accepted");
      std::move(response).send();
    } catch (const floe::Error& e) {
      if (e.code() == floe::Errc::timed_out || e.code() == floe::Errc::cancelled) co_return;
      throw;
    }
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 5);
  floe::Node node = floe::Node::create("shop-server");
  auto service =
      node.service_builder("Shop/Orders").request_response<Order, Receipt>().open_or_create();
  auto server = service.server_builder().create();
  std::printf("shop server ready\n");
  floe::Runtime runtime;
  runtime.stop_on({SIGINT, SIGTERM});
  runtime.spawn(serve(server, deadline));
  runtime.run();
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "server: %s\n", e.what());
  return 1;
}
