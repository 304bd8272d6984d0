// Sends three orders and prints each receipt: one that fits, one whose customer name is longer
// than the field (truncated, asked for by name), and one with more items than the list holds
// (push_back throws floe::Errc::exceeds_capacity before anything is sent).

#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "order.hpp"

using namespace std::chrono_literals;

namespace {

using Client = floe::Client<Order, Receipt>;

/// The order, or nothing when it does not fit (the error says why; nothing is sent).
std::optional<Order> make_order(std::string_view customer,
                                std::initializer_list<std::uint32_t> items) {
  Order order;
  order.customer = floe::FixedString<24>::truncated(customer);
  try {
    for (const std::uint32_t id : items)
      order.item_ids.push_back(id);
  } catch (const floe::Error& e) {
    std::printf("not sent: %s\n", e.what());
    return std::nullopt;
  }
  return order;
}

floe::Task<void> send(Client& client, std::optional<Order> order) {
  if (!order) co_return;
  const auto response = co_await floe::call(client, *order, 5s);
  const Receipt& receipt = response.payload();
  std::printf("receipt: %s (accepted:", receipt.summary.str().c_str());
  for (const std::uint32_t id : receipt.accepted_ids)
    std::printf(" %u", id);
  std::printf(")\n");
}

floe::Task<void> shop(Client& client) {
  // Made before any co_await: g++ 12 rejects a braced list inside a co_await expression
  // ("array used as initializer").
  const std::optional<Order> orders[] = {
      make_order("Ada", {1, 2, 3}),
      make_order("Bartholomew Wigglesworth-Smythe the Third", {5, 7}),
      make_order("Grace", {1, 2, 3, 4, 5, 6, 7, 8, 9}),
  };
  for (const std::optional<Order>& order : orders)
    co_await send(client, order);
}

}  // namespace

int main() try {
  floe::Node node = floe::Node::create("shop-client");
  auto service =
      node.service_builder("Shop/Orders").request_response<Order, Receipt>().open_or_create();
  auto client = service.client_builder().create();
  floe::Runtime runtime;
  runtime.block_on(shop(client));
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "client: %s\n", e.what());
  return 1;
}
