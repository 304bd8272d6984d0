// Asks every streaming server for `--count N` numbers (default 1000000) and consumes the
// streams with `while (auto r = co_await pending.receive())`, checking that each server's
// numbers arrive complete and in order.

#include <unistd.h>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "stream_service.hpp"

namespace {

template <typename Client>
floe::Task<int> consume(Client& client, std::uint64_t count) {
  auto pending = client.send_copy(count);
  const std::uint32_t servers = pending.number_of_server_connections();
  if (servers == 0) {
    std::fprintf(stderr, "client: no streaming server is running\n");
    co_return 1;
  }
  struct Progress {
    floe::ServerId server;
    std::uint64_t next;
  };
  std::vector<Progress> progress;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t received = 0;
  while (auto response = co_await floe::with_timeout(pending.receive(), std::chrono::seconds(5))) {
    const floe::ServerId from = response->header().server_id;
    Progress* p = nullptr;
    for (Progress& known : progress) {
      if (known.server == from) p = &known;
    }
    if (p == nullptr) p = &progress.emplace_back(Progress{from, 0});
    if (response->payload() != p->next++) {
      std::fprintf(stderr, "client: server %llx sent %llu out of order\n",
                   static_cast<unsigned long long>(from),
                   static_cast<unsigned long long>(response->payload()));
      co_return 1;
    }
    ++received;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("client %d: %llu numbers from %u server(s) in %.3f s, %.2f million/s, all in order\n",
              static_cast<int>(::getpid()), static_cast<unsigned long long>(received), servers,
              seconds, static_cast<double>(received) / seconds / 1e6);
  co_return received == count* servers ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  std::uint64_t count = 1'000'000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--count") == 0) count = std::strtoull(argv[i + 1], nullptr, 10);
  }
  floe::Node node = floe::Node::create("streaming-client");
  auto service = open_stream_service(node);
  auto client = service.client_builder().create();
  floe::Runtime runtime;
  return runtime.block_on(consume(client, count));
} catch (const floe::Error& e) {
  std::fprintf(stderr, "client: %s\n", e.what());
  return 1;
}
