// The C++ side of test_type_mismatch.py, a process of its own:
//   type_peer create size|alignment|name   creates the request-response example's service with
//       one type differing from the example's (a 4-byte request, a response aligned to 1, a
//       response of another name), prints "ready", and holds it until stdin closes.
//   type_peer open   opens the service with the example's types: prints "opened" and exits 0,
//       or prints the error's code (incompatible_types or other) and message and exits 1.

#include <floe/floe.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include "transmission_data.hpp"

namespace {

constexpr const char* kService = "My/Funk/ServiceName";

struct [[gnu::packed]] PackedTransmissionData {
  std::int32_t x;
  std::int32_t y;
  double funky;
  static constexpr const char* floe_type_name = "examples::TransmissionData";
};

struct RenamedTransmissionData {
  std::int32_t x;
  std::int32_t y;
  double funky;
  static constexpr const char* floe_type_name = "tests::RenamedTransmissionData";
};

template <typename Request, typename Response>
int create_and_hold(floe::Node& node) {
  auto service = node.service_builder(kService).request_response<Request, Response>().create();
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::string variant = argc > 2 ? argv[2] : "";
  floe::Node node = floe::Node::create("type-peer");
  if (mode == "create" && variant == "size") {
    return create_and_hold<std::uint32_t, TransmissionData>(node);
  }
  if (mode == "create" && variant == "alignment") {
    return create_and_hold<std::uint64_t, PackedTransmissionData>(node);
  }
  if (mode == "create" && variant == "name") {
    return create_and_hold<std::uint64_t, RenamedTransmissionData>(node);
  }
  if (mode == "open") {
    try {
      node.service_builder(kService).request_response<std::uint64_t, TransmissionData>().open();
      std::printf("opened\n");
      return 0;
    } catch (const floe::Error& e) {
      std::printf("%s\n%s\n",
                  e.code() == floe::Errc::incompatible_types ? "incompatible_types" : "other",
                  e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "usage: %s create size|alignment|name | open\n", argv[0]);
  return 2;
}
