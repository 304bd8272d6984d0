#pragma once
// The example's payloads: text and a list inside the message, no heap, so they may live in
// shared memory (a std::string or std::vector member would not compile as a payload).

#include <floe/floe.hpp>

#include <cstdint>
#include <string_view>

struct Order {
  floe::FixedString<24> customer;
  floe::FixedVector<std::uint32_t, 8> item_ids;
  static constexpr std::string_view floe_type_name = "shop::Order";
};

struct Receipt {
  floe::FixedString<64> summary;
  floe::FixedVector<std::uint32_t, 8> accepted_ids;  // the odd ids: the even ones are sold out
  static constexpr std::string_view floe_type_name = "shop::Receipt";
};
