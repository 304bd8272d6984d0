// Sends requests of 0, 1, 1000 and kMaxRequestBytes bytes, each written in place in shared memory
// (loan_slice_uninit(n): n bytes, not zeroed), and one copied from a std::string
// (send_copy(span)); checks that every server gives every byte back, in order, over a stream of
// responses of varying length. Then asks for one byte more than the service's maximum, which is
// refused (Errc::exceeds_max_slice_len) before anything is sent, and sends it from a second client
// that grows (AllocationStrategy::power_of_two): its longer requests go to a data segment of its
// own, which the servers map when they first meet it. Exits 1 if anything is wrong.

#include <unistd.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "dynamic_data_service.hpp"

using namespace std::chrono_literals;

namespace {

using Client = floe::Client<floe::Slice<std::byte>, floe::Slice<Sample>>;

/// The byte at `offset` of request `round`: a pattern the servers' samples are checked against.
std::byte pattern(std::uint64_t round, std::uint64_t offset) noexcept {
  return static_cast<std::byte>((round * 31 + offset) % 251);
}

/// Receives every server's stream for `sent` and checks it gives back each byte in order.
/// Returns false, saying why, if not.
floe::Task<bool> check_answers(Client::Pending pending, std::span<const std::byte> sent) {
  struct Progress {
    floe::ServerId server;
    std::uint64_t next_offset;
    std::uint64_t responses;
  };
  std::vector<Progress> progress;
  std::uint64_t longest = 0;
  while (auto response = co_await floe::with_timeout(pending.receive(), 5s)) {
    const std::span<const Sample> samples = response->payload();  // the length the server sent
    Progress* from = nullptr;
    for (Progress& known : progress) {
      if (known.server == response->origin()) from = &known;
    }
    if (from == nullptr) from = &progress.emplace_back(Progress{response->origin(), 0, 0});
    for (const Sample& sample : samples) {
      if (sample.offset != from->next_offset || from->next_offset >= sent.size() ||
          sample.value != std::to_integer<std::uint32_t>(sent[sample.offset])) {
        std::fprintf(stderr, "client: wrong sample at offset %u\n", sample.offset);
        co_return false;
      }
      ++from->next_offset;
    }
    ++from->responses;
    longest = std::max<std::uint64_t>(longest, samples.size());
  }
  // finished: every server that got the request ended its stream itself (none died), and some
  // server got it.
  bool complete = pending.end_reason() == floe::StreamEnd::finished && !progress.empty();
  for (const Progress& p : progress)
    complete = complete && p.next_offset == sent.size();
  if (!complete) {
    std::fprintf(stderr, "client: a stream ended before every byte came back\n");
    co_return false;
  }
  std::printf(
      "sent %zu byte(s): %u server(s) gave them back in %llu response(s) each, the "
      "longest %llu sample(s)\n",
      sent.size(), static_cast<unsigned>(progress.size()),
      static_cast<unsigned long long>(progress.front().responses),
      static_cast<unsigned long long>(longest));
  co_return true;
}

floe::Task<int> run(Client& client, Client& growing) {
  if (!co_await client.wait_for_server(5s)) {
    std::fprintf(stderr, "client: no dynamic_data server is running\n");
    co_return 1;
  }
  const std::uint64_t lengths[] = {0, 1, 1000, kMaxRequestBytes};
  for (std::uint64_t round = 0; round < std::size(lengths); ++round) {
    auto request = client.loan_slice_uninit(lengths[round]);  // in shared memory, not zeroed
    const std::span<std::byte> bytes = request.payload();
    for (std::uint64_t i = 0; i < bytes.size(); ++i)
      bytes[i] = pattern(round, i);
    const std::vector<std::byte> sent(bytes.begin(), bytes.end());  // to check the answers
    if (!co_await check_answers(std::move(request).send(), sent)) co_return 1;
  }

  // A buffer you already have: send_copy copies it into a loan of its length.
  const std::string text = "a request copied from a std::string";
  const std::span<const std::byte> text_bytes = std::as_bytes(std::span(text));
  if (!co_await check_answers(client.send_copy(text_bytes), text_bytes)) co_return 1;

  try {
    static_cast<void>(client.loan_slice_uninit(kMaxRequestBytes + 1));
    std::fprintf(stderr, "client: a loan longer than the service's maximum was granted\n");
    co_return 1;
  } catch (const floe::Error& e) {
    if (e.code() != floe::Errc::exceeds_max_slice_len) throw;
    std::printf("refused: %s\n", e.what());
  }

  // The same length and four times it from the growing client: no longer refused.
  for (const std::uint64_t length : {kMaxRequestBytes + 1, 4 * kMaxRequestBytes}) {
    auto request = growing.loan_slice_uninit(length);  // in a data segment of this client
    const std::span<std::byte> bytes = request.payload();
    for (std::uint64_t i = 0; i < bytes.size(); ++i)
      bytes[i] = pattern(length, i);
    const std::vector<std::byte> sent(bytes.begin(), bytes.end());
    std::printf("growing client: ");
    if (!co_await check_answers(std::move(request).send(), sent)) co_return 1;
  }
  co_return 0;
}

}  // namespace

int main() try {
  floe::Node node = floe::Node::create("dynamic-data-client");
  auto service = open_dynamic_data_service(node);
  auto client = service.client_builder().create();
  auto growing =
      service.client_builder().allocation_strategy(floe::AllocationStrategy::power_of_two).create();
  floe::Runtime runtime;
  return runtime.block_on(run(client, growing));
} catch (const floe::Error& e) {
  std::fprintf(stderr, "client: %s\n", e.what());
  return 1;
}
