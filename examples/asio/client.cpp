// A floe client inside an Asio application: asks the streaming example's servers for
// `--count N` numbers (default 100000) and consumes the streams with floe::async_receive and
// asio::use_awaitable, each response checked, while a timer in the same thread reports progress.

#include <unistd.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <floe/asio.hpp>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../streaming/stream_service.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) try {
  std::uint64_t count = 100'000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--count") == 0) count = std::strtoull(argv[i + 1], nullptr, 10);
  }
  floe::Node node = floe::Node::create("asio-client");
  auto service = open_stream_service(node);
  auto client = service.client_builder().create();

  asio::io_context io;
  std::uint64_t received = 0;
  bool done = false;
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto pending = client.send_copy(count);
        const std::uint32_t servers = pending.number_of_server_connections();
        std::printf("asio client %d: asked %u server(s) for %llu numbers each\n",
                    static_cast<int>(::getpid()), servers, static_cast<unsigned long long>(count));
        bool in_range = true;
        while (auto response = co_await floe::async_receive(pending, asio::use_awaitable)) {
          in_range = in_range && response->payload() < count;
          ++received;
        }
        done = true;
        status = in_range && servers > 0 && received == count * servers ? 0 : 1;
        std::printf("asio client: stream ended, %llu numbers received\n",
                    static_cast<unsigned long long>(received));
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        while (!done) {
          timer.expires_after(100ms);
          co_await timer.async_wait(asio::use_awaitable);
          std::printf("asio client: %llu numbers so far\n",
                      static_cast<unsigned long long>(received));
        }
      },
      asio::detached);
  io.run_for(30s);
  return status;
} catch (const std::exception& e) {
  std::fprintf(stderr, "asio client: %s\n", e.what());
  return 1;
}
