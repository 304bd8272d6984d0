// Answers each request, a run of bytes of any length, with a stream of responses of growing
// length (1, 2, 4, ... up to kMaxSamples samples, the last one what is left) that give every
// byte back as a Sample {offset, value}; a request of 0 bytes gets one response of 0 samples.
// Each response is loaned at its length (loan_slice_uninit) and written in place. One task per
// request; a send waits for room in that client's buffer. Ends after `--seconds N` (default 5)
// or Ctrl-C.

#include <signal.h>
#include <unistd.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>

#include "../request_response/run_for.hpp"
#include "dynamic_data_service.hpp"

namespace {

using Server = floe::Server<floe::Slice<std::byte>, floe::Slice<Sample>>;

floe::Task<void> answer(Server::Active request) {
  const std::span<const std::byte> bytes = request.payload();  // the length the client sent
  std::uint64_t offset = 0;
  std::uint64_t length = 1;
  std::uint64_t responses = 0;
  do {
    const std::uint64_t count = std::min(length, bytes.size() - offset);
    auto response = request.loan_slice_uninit(count);  // count samples, not zeroed
    const std::span<Sample> samples = response.payload();
    for (std::uint64_t i = 0; i < count; ++i) {
      samples[i] = Sample{static_cast<std::uint32_t>(offset + i),
                          std::to_integer<std::uint32_t>(bytes[offset + i])};
    }
    // false: the client went away; its stream ends here.
    if (!co_await std::move(response).async_send()) co_return;
    offset += count;
    length = std::min(length * 2, kMaxSamples);
    ++responses;
  } while (offset < bytes.size());
  std::printf("request of %zu byte(s): answered with %llu response(s)\n", bytes.size(),
              static_cast<unsigned long long>(responses));
}

floe::Task<void> serve(floe::Runtime& runtime, Server& server,
                       std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    try {
      auto request = co_await floe::with_timeout(server.receive(),
                                                 deadline - std::chrono::steady_clock::now());
      runtime.spawn(answer(std::move(request)));
    } catch (const floe::Error& e) {
      // timed out: the example's time is up; cancelled: Ctrl-C.
      if (e.code() == floe::Errc::timed_out || e.code() == floe::Errc::cancelled) co_return;
      throw;
    }
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const auto deadline = deadline_from_args(argc, argv, 5);
  floe::Node node = floe::Node::create("dynamic-data-server");
  auto service = open_dynamic_data_service(node);
  auto server = service.server_builder().backpressure(floe::Backpressure::block).create();
  std::printf("server %d ready\n", static_cast<int>(::getpid()));
  floe::Runtime runtime;
  runtime.stop_on({SIGINT, SIGTERM});
  runtime.spawn(serve(runtime, server, deadline));
  runtime.run();
  return 0;
} catch (const floe::Error& e) {
  std::fprintf(stderr, "server: %s\n", e.what());
  return 1;
}
