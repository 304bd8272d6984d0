#pragma once

#include <cstdint>

struct TransmissionData {
  std::int32_t x;
  std::int32_t y;
  double funky;
  static constexpr const char* floe_type_name = "examples::TransmissionData";
};
