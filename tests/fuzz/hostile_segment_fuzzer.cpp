// libFuzzer target: a peer writes arbitrary bytes anywhere into a service's shared segment
// (through its own mapping, as another process would) between a client's and a server's
// operations; every receive, send, loan, liveness check, a second node's open (which judges the
// scribbled header, attributes included) and the ports' destruction must keep working or report
// errors, and never touch memory outside the segment (ASan checks) or hang.
//
// Input: a list of patches, each [u32 offset][u8 length][length bytes], applied after the
// request was sent and taken, and again after the first answers.
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DFLOE_BUILD_FUZZERS=ON \
//     -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address
//   cmake --build build-fuzz --target hostile_segment_fuzzer
//   ./build-fuzz/tests/hostile_segment_fuzzer -max_total_time=60

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "registry/names.hpp"

namespace {

struct PeerMapping {
  std::uint8_t* base = nullptr;
  std::size_t size = 0;

  explicit PeerMapping(const std::string& object) {
    const int fd = ::open(("/dev/shm" + object).c_str(), O_RDWR);
    if (fd < 0) return;
    const off_t length = ::lseek(fd, 0, SEEK_END);
    void* p = ::mmap(nullptr, static_cast<std::size_t>(length), PROT_READ | PROT_WRITE, MAP_SHARED,
                     fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) return;
    base = static_cast<std::uint8_t*>(p);
    size = static_cast<std::size_t>(length);
  }
  PeerMapping(const PeerMapping&) = delete;
  PeerMapping& operator=(const PeerMapping&) = delete;
  ~PeerMapping() {
    if (base != nullptr) ::munmap(base, size);
  }

  /// Applies patches from `data` until `count` patches or the data ran out; returns the rest.
  std::size_t scribble(const std::uint8_t* data, std::size_t length, int count) {
    std::size_t at = 0;
    for (int n = 0; n < count && at + 5 <= length; ++n) {
      std::uint32_t offset = 0;
      std::memcpy(&offset, data + at, 4);
      const std::size_t bytes = data[at + 4];
      at += 5;
      const std::size_t take = std::min(bytes, length - at);
      const std::size_t where = offset % size;
      std::memcpy(base + where, data + at, std::min(take, size - where));
      at += take;
    }
    return at;
  }
};

template <typename F>
void tolerate(F&& f) {
  try {
    f();
  } catch (const floe::Error&) {
    // A clear error is an allowed outcome of garbage.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static int iteration = 0;
  floe::Config config;
  config.domain = "fuzz" + std::to_string(::getpid()) + "_" + std::to_string(iteration++ % 4);
  try {
    floe::Node node = floe::Node::create("victim", config);
    auto service = node.service_builder("Fuzz/Segment")
                       .request_response<std::uint64_t, std::uint64_t>()
                       .max_clients(2)
                       .max_servers(2)
                       .max_active_requests_per_client(2)
                       .max_response_buffer_size(4)
                       .attributes(floe::AttributeSpecifier().define("k", "v").define("k", "w"))
                       .open_or_create();
    PeerMapping peer(floe::detail::service_object_name(config.domain, "Fuzz/Segment"));
    if (peer.base == nullptr) return 0;

    auto server = service.server_builder().create();
    auto client = service.client_builder().create();
    std::optional<decltype(client.send_copy(0))> pending;
    tolerate([&] { pending.emplace(client.send_copy(7)); });
    auto active = server.try_receive();

    std::size_t used = peer.scribble(data, size, 8);

    tolerate([&] {
      if (active) {
        active->send_copy(1);
        auto loan = active->loan();
        *loan = 2;
        (void)std::move(loan).send();
        (void)active->is_connected();
      }
    });
    tolerate([&] {
      if (pending) {
        for (int i = 0; i < 8; ++i) {
          auto response = pending->try_receive();
          if (!response) break;
          volatile std::uint64_t value = response->payload();
          (void)value;
        }
        (void)pending->is_connected();
        (void)pending->number_of_server_connections();
      }
    });

    used += peer.scribble(data + used, size - used, 8);

    tolerate([&] {
      auto another = server.try_receive();
      (void)another;
      (void)server.has_requests();
    });
    tolerate([&] {
      auto second = client.send_copy(9);
      (void)second.try_receive();
    });
    tolerate([&] { (void)service.usage(); });
    tolerate([&] {
      floe::Node other = floe::Node::create("opener", config);
      auto again = other.service_builder("Fuzz/Segment")
                       .request_response<std::uint64_t, std::uint64_t>()
                       .required_attributes(floe::AttributeVerifier().require("k", "w"))
                       .open();
      (void)again.attributes().values("k");
    });
    active.reset();
    pending.reset();
  } catch (const floe::Error&) {
  }
  return 0;
}
