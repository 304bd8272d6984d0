// libFuzzer target: a peer writes arbitrary bytes anywhere into a service's shared segment
// (through its own mapping, as another process would) between a client's and a server's
// operations; every receive, send, loan, liveness check, a second node's open (which judges the
// scribbled header, attributes included) and the ports' destruction must keep working or report
// errors, and never touch memory outside the segment (ASan checks) or hang.
//
// Input: a list of patches, each [u32 offset][u8 length][length bytes], applied after the
// request was sent and taken, and again after the first answers. The same input is then
// applied to a service of slices (driven through the cores, as the typed layer and the Python
// binding drive them), whose descriptors a patch may forge: every length handed up must be
// within the chunk.
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

#include "floe/detail/ports.hpp"
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

constexpr std::uint64_t kSliceMax = 48;

/// A Slice<std::uint32_t> -> Slice<std::byte> service of at most kSliceMax elements each way.
std::shared_ptr<floe::detail::ServiceSegment> slice_segment(const floe::Node& node) {
  const auto& state = floe::detail::NodeAccess::state(node);
  floe::detail::ServiceSpec spec;
  spec.name = "Fuzz/Slices";
  spec.request = floe::TypeInfo::of<floe::Slice<std::uint32_t>>();
  spec.response = floe::TypeInfo::of<floe::Slice<std::byte>>();
  spec.request_user_header = floe::TypeInfo::of<floe::NoUserHeader>();
  spec.response_user_header = floe::TypeInfo::of<floe::NoUserHeader>();
  spec.limits = state->config.request_response;
  spec.limits.max_clients = 2;
  spec.limits.max_servers = 2;
  spec.limits.max_active_requests_per_client = 2;
  spec.limits.max_response_buffer_size = 4;
  spec.request_max_slice_len = kSliceMax;
  spec.response_max_slice_len = kSliceMax;
  return floe::detail::open_service(*state, spec, floe::detail::OpenMode::open_or_create);
}

/// Reads every byte of what a receiver was handed, as a user's span would; a length past the
/// chunk's capacity is a bug whatever a peer wrote.
void read_received(const floe::detail::ChunkView& view, std::uint64_t element_size) {
  if (view.length > kSliceMax) __builtin_trap();
  std::uint8_t sum = 0;
  for (std::uint64_t i = 0; i < view.length * element_size; ++i) {
    sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(view.payload[i]));
  }
  volatile std::uint8_t kept = sum;
  (void)kept;
}

/// The slice service's round: a request and responses of varying lengths around the patches.
void fuzz_slices(const floe::Config& config, const std::uint8_t* data, std::size_t size) {
  using floe::detail::ClientCore;
  using floe::detail::ServerCore;
  floe::Node node = floe::Node::create("slice-victim", config);
  const auto segment = slice_segment(node);
  PeerMapping peer(floe::detail::service_object_name(config.domain, "Fuzz/Slices"));
  if (peer.base == nullptr) return;
  auto server = std::make_shared<ServerCore>(segment, 2, floe::Backpressure::discard);
  auto client = std::make_shared<ClientCore>(segment, 2, floe::Backpressure::discard);
  std::optional<std::uint32_t> channel;
  tolerate([&] {
    std::uint32_t chunk = 0;
    const floe::detail::ChunkView loan = client->loan(chunk, size % (kSliceMax + 1));
    std::memset(loan.payload, 0x5a, loan.length * sizeof(std::uint32_t));
    channel = client->send(chunk);
  });
  std::size_t used = peer.scribble(data, size, 8);
  floe::detail::Failure failure;
  auto active = server->try_receive(failure);
  if (active) {
    read_received(active->request, sizeof(std::uint32_t));
    for (std::uint64_t length : {std::uint64_t{0}, std::uint64_t{1}, kSliceMax}) {
      tolerate([&] {
        std::uint32_t chunk = 0;
        const floe::detail::ChunkView loan = server->loan(*active, chunk, length);
        std::memset(loan.payload, 0x33, length);
        (void)server->send(*active, chunk);
      });
    }
  }
  used += peer.scribble(data + used, size - used, 8);
  if (channel) {
    for (int i = 0; i < 8; ++i) {
      const auto received = client->try_receive(*channel, failure);
      if (!received) break;
      read_received(received->view, 1);
      client->release_response(*channel, received->server, received->chunk);
    }
    (void)client->stream_ended(*channel);
    read_received(client->request_of(*channel), sizeof(std::uint32_t));
  }
  if (active) server->end(*active);
  if (channel) client->drop_pending(*channel);
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
  try {
    fuzz_slices(config, data, size);
  } catch (const floe::Error&) {
  }
  return 0;
}
