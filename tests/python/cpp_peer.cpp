// A C++ peer for the Python tests (tests/python/), run as a process of its own: a server of a
// service whose requests and responses carry user headers and which has attributes, or of one
// whose payloads are slices, so the tests check that Python reads and writes them as C++ does.
//
//   floe_python_test_peer header-server N   creates "Py/Headers" (attributes origin=cpp,
//       version=1), prints "ready", then answers N requests, each with one response: payload
//       2 * request, user header {request tag + 1, request payload}. Exits 0 once done, 1 if no
//       N requests came within 10 s.
//   floe_python_test_peer slice-server N   creates "Py/Slices" (requests floe::Slice<std::byte>,
//       responses floe::Slice<Sample>, both at most 4096 elements), prints "ready", then answers
//       N requests, each with one response of a Sample per request byte {request length, index,
//       byte * 3 + index}, loaned in place. Exits 0 once done, 1 if no N requests came within
//       10 s.
//   floe_python_test_peer slice-client     opens "Py/Slices" (a Python server created it) and
//       sends requests of 0, 1 and 4096 bytes (byte i of a request of n bytes: i * 7 + n), each
//       loaned in place and then copied, checking each response Sample by Sample against the
//       slice-server's answer. Prints "response of n samples" per response. Exits 0 once all
//       six were right, 1 at the first wrong one or when one did not come within 10 s.

#include <floe/floe.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

namespace {

/// The request user header; tests/python/test_surface.py declares it as a ctypes.Structure.
struct RequestTag {
  std::uint32_t tag;
  double weight;
  static constexpr std::string_view floe_type_name = "tests::RequestTag";
};

/// The response user header.
struct ResponseEcho {
  std::uint64_t echoed_tag;
  std::uint64_t request_value;
  static constexpr std::string_view floe_type_name = "tests::ResponseEcho";
};

/// The element of the slice service's responses; tests/python/payloads.py declares it.
struct Sample {
  double weight;
  std::uint32_t index;
  std::uint32_t value;
  static constexpr std::string_view floe_type_name = "tests::Sample";
};

/// Prints "ready", then answers `requests` requests of `server` with answer(active), polling.
/// Returns 0, or 1 if they did not all come within 10 s.
template <typename Server, typename Answer>
int serve(Server& server, int requests, Answer answer) {
  std::printf("ready\n");
  std::fflush(stdout);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int served = 0; served < requests;) {
    auto active = server.try_receive();
    if (!active) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "served %d of %d requests\n", served, requests);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    answer(*active);
    std::fflush(stdout);
    ++served;
  }
  return 0;
}

int serve_slices(int requests) {
  floe::Node node = floe::Node::create("cpp-slice-server");
  auto service = node.service_builder("Py/Slices")
                     .request_response<floe::Slice<std::byte>, floe::Slice<Sample>>()
                     .request_max_slice_len(4096)
                     .response_max_slice_len(4096)
                     .create();
  auto server = service.server_builder().create();
  return serve(server, requests, [](auto& active) {
    const std::span<const std::byte> bytes = active.payload();
    auto response = active.loan_slice(bytes.size());
    const std::span<Sample> samples = response.payload();
    for (std::uint32_t index = 0; index < bytes.size(); ++index) {
      samples[index] = Sample{static_cast<double>(bytes.size()), index,
                              std::to_integer<std::uint32_t>(bytes[index]) * 3 + index};
    }
    std::move(response).send();
    std::printf("request of %zu bytes\n", bytes.size());
  });
}

/// The slice-server's answer to `bytes`, checked Sample by Sample. Prints what came.
bool is_answer_to(std::span<const std::byte> bytes, std::span<const Sample> samples) {
  std::printf("response of %zu samples\n", samples.size());
  if (samples.size() != bytes.size()) return false;
  for (std::uint32_t index = 0; index < bytes.size(); ++index) {
    const Sample& sample = samples[index];
    if (sample.weight != static_cast<double>(bytes.size()) || sample.index != index ||
        sample.value != std::to_integer<std::uint32_t>(bytes[index]) * 3 + index) {
      std::fprintf(stderr, "sample %u of the response to %zu bytes is wrong\n", index,
                   bytes.size());
      return false;
    }
  }
  return true;
}

int request_slices() {
  floe::Node node = floe::Node::create("cpp-slice-client");
  auto service = node.service_builder("Py/Slices")
                     .request_response<floe::Slice<std::byte>, floe::Slice<Sample>>()
                     .request_max_slice_len(4096)
                     .response_max_slice_len(4096)
                     .open();
  auto client = service.client_builder().create();
  const auto answered = [&](auto pending, std::span<const std::byte> bytes) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto response = pending.try_receive()) return is_answer_to(bytes, response->payload());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::fprintf(stderr, "no response to %zu bytes within 10 s\n", bytes.size());
    return false;
  };
  for (const std::size_t length : {std::size_t{0}, std::size_t{1}, std::size_t{4096}}) {
    std::vector<std::byte> bytes(length);
    for (std::size_t i = 0; i < length; ++i)
      bytes[i] = static_cast<std::byte>((i * 7 + length) & 0xFF);
    auto loaned = client.loan_slice_uninit(length);
    std::copy(bytes.begin(), bytes.end(), loaned.payload().begin());
    if (!answered(std::move(loaned).send(), bytes)) return 1;
    if (!answered(client.send_copy(bytes), bytes)) return 1;
  }
  return 0;
}

int serve_with_headers(int requests) {
  floe::Node node = floe::Node::create("cpp-header-server");
  auto service =
      node.service_builder("Py/Headers")
          .request_response<std::uint64_t, std::uint64_t>()
          .request_user_header<RequestTag>()
          .response_user_header<ResponseEcho>()
          .attributes(floe::AttributeSpecifier().define("origin", "cpp").define("version", "1"))
          .create();
  auto server = service.server_builder().create();
  return serve(server, requests, [](auto& active) {
    auto response = active.loan();
    response.user_header() = ResponseEcho{active.user_header().tag + 1u, active.payload()};
    response.payload() = 2 * active.payload();
    std::move(response).send();
    std::printf("request %llu tag %u weight %.2f\n",
                static_cast<unsigned long long>(active.payload()), active.user_header().tag,
                active.user_header().weight);
  });
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 3 && std::string_view(argv[1]) == "header-server") {
    return serve_with_headers(std::atoi(argv[2]));
  }
  if (argc == 3 && std::string_view(argv[1]) == "slice-server") {
    return serve_slices(std::atoi(argv[2]));
  }
  if (argc == 2 && std::string_view(argv[1]) == "slice-client") return request_slices();
  std::fprintf(stderr, "usage: %s header-server N | slice-server N | slice-client\n", argv[0]);
  return 2;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "floe_python_test_peer: %s\n", e.what());
  return 1;
}
