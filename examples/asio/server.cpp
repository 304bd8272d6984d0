// A floe server inside an Asio application: an asio::awaitable coroutine answers each request of
// the request_response example's service with a response by copy and a stream of loaned ones,
// while a steady_timer in the same io_context prints a heartbeat. One thread, no floe::Runtime.
// Ends by itself after `--seconds N` (default 5), or on Ctrl-C (an asio::signal_set stops the
// io_context; the io_context is declared first, as Asio programs usually do, and is destroyed
// last, after the ports: any order is safe).

#include <unistd.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <floe/asio.hpp>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <variant>

#include "../request_response/run_for.hpp"
#include "../request_response/transmission_data.hpp"

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using Server = floe::Server<std::uint64_t, TransmissionData>;

namespace {

asio::awaitable<void> answer(Server::Active request) {
  auto executor = co_await asio::this_coro::executor;
  const auto value = static_cast<unsigned long long>(request.payload());
  std::printf("received request %llu\n", value);
  request.send_copy(TransmissionData{1, static_cast<std::int32_t>(value), 0.5});
  for (std::int32_t n = 0; n < 3 && request.is_connected(); ++n) {
    asio::steady_timer gap(executor, 50ms);
    co_await gap.async_wait(asio::use_awaitable);
    auto response = request.loan();
    response->x = n;
    response->y = static_cast<std::int32_t>(value);
    co_await floe::async_send(std::move(response), asio::use_awaitable);
  }
}

asio::awaitable<void> serve(Server& server, std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer end(executor, deadline);
  for (;;) {
    // Whichever comes first: a request, or the end of the run (the receive is then cancelled
    // and takes nothing).
    auto next = co_await (floe::async_receive(server, asio::use_awaitable) ||
                          end.async_wait(asio::use_awaitable));
    if (next.index() == 1) co_return;
    asio::co_spawn(executor, answer(std::move(std::get<0>(next))), asio::detached);
  }
}

asio::awaitable<void> heartbeat(std::chrono::steady_clock::time_point deadline) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int beat = 1; std::chrono::steady_clock::now() < deadline; ++beat) {
    timer.expires_after(1s);
    co_await timer.async_wait(asio::use_awaitable);
    std::printf("heartbeat %d (same thread as the floe server)\n", beat);
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 5);
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code&, int) { io.stop(); });
  floe::Node node = floe::Node::create("asio-server");
  auto service = node.service_builder("My/Funk/ServiceName")
                     .request_response<std::uint64_t, TransmissionData>()
                     .open_or_create();
  auto server = service.server_builder().create();
  std::printf("asio server %d ready\n", static_cast<int>(::getpid()));

  // Once serving ends, the signal wait is all that keeps io.run() going: end it too.
  asio::co_spawn(io, serve(server, deadline), [&](std::exception_ptr) { signals.cancel(); });
  asio::co_spawn(io, heartbeat(deadline), asio::detached);
  io.run();
  std::printf("asio server done\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "asio server: %s\n", e.what());
  return 1;
}
