// Slices (floe::Slice<T> payloads) between real processes: 0, 1, max and max + 1 elements, a
// port capped below the service's max, send_copy of spans, a stream of varying lengths, user
// headers beside 64-aligned elements, and services with a slice on one side only.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "support/fixture.hpp"
#include "support/slice_elements.hpp"

namespace floe::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kRequestMax = 4096;  // bytes per request
constexpr std::uint64_t kResponseMax = 64;   // samples per response

template <typename T>
bool aligned_start(std::span<T> elements) {
  return elements.data() != nullptr &&
         reinterpret_cast<std::uintptr_t>(elements.data()) % alignof(T) == 0;
}

class SliceTest : public ::testing::Test {
 protected:
  Config config = small_slice_config();
  Node node = Node::create("slice-test", config);

  /// Requests of up to kRequestMax bytes, answered by up to kResponseMax samples.
  auto builder(Node& n) {
    return n.service_builder("Test/Slices")
        .request_response<Slice<std::byte>, Slice<Sample>>()
        .request_max_slice_len(kRequestMax)
        .response_max_slice_len(kResponseMax);
  }
  auto builder() { return builder(node); }
  /// The service as another node (in a forked child: another process) opens it.
  auto open_as(const char* node_name) {
    Node other = Node::create(node_name, config);
    return builder(other).open();
  }

  /// A server in another process answering `count` requests, each checked to hold the bytes of
  /// its own length (the seed) and answered with min(length, kResponseMax) samples of that
  /// seed. Its exit code says whether every request was right.
  ChildProcess echoing_server(int count) {
    return started([&, count](const Signal& ready) {
      auto server = open_as("server").server_builder().create();
      ready.notify();
      for (int i = 0; i < count; ++i) {
        auto active = receive_within(server);
        FLOE_CHILD_CHECK(active);
        const std::span<const std::byte> request = active->payload();
        FLOE_CHILD_CHECK(aligned_start(request));
        FLOE_CHILD_CHECK(bytes_follow(request, request.size()));
        auto response =
            active->loan_slice_uninit(std::min<std::uint64_t>(request.size(), kResponseMax));
        fill_samples(response.payload(), request.size());
        FLOE_CHILD_CHECK(std::move(response).send());
      }
      return 0;
    });
  }

  /// Sends `n` bytes of seed n (written in place) to an echoing server and checks its answer.
  void round_trip(std::uint64_t n) {
    auto service = builder().create();
    ChildProcess server = echoing_server(1);
    auto client = service.client_builder().create();
    auto request = client.loan_slice(n);
    ASSERT_EQ(request.size(), n);
    ASSERT_EQ(request.payload().size(), n);
    fill_bytes(request.payload(), n);
    auto pending = std::move(request).send();
    EXPECT_EQ(pending.payload().size(), n);
    EXPECT_TRUE(bytes_follow(*pending, n));
    auto response = receive_within(pending);
    ASSERT_TRUE(response);
    const std::span<const Sample> samples = response->payload();
    EXPECT_EQ(samples.size(), std::min(n, kResponseMax));
    EXPECT_TRUE(aligned_start(samples));
    EXPECT_TRUE(samples_follow(samples, n));
    EXPECT_EQ(server.wait(), 0);
  }
};

TEST_F(SliceTest, ZeroElementsBothWays) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  ChildProcess client([&] {
    auto c = open_as("client").client_builder().create();
    auto request = c.loan_slice(0);
    FLOE_CHILD_CHECK(request.size() == 0 && request.payload().empty());
    FLOE_CHILD_CHECK(aligned_start(request.payload()));
    auto pending = std::move(request).send();
    FLOE_CHILD_CHECK(pending.payload().empty());
    auto response = receive_within(pending);
    FLOE_CHILD_CHECK(response);
    FLOE_CHILD_CHECK(response->payload().empty() && (**response).empty());
    FLOE_CHILD_CHECK(aligned_start(response->payload()));
    return 0;
  });

  auto active = receive_within(server);
  ASSERT_TRUE(active);
  EXPECT_TRUE(active->payload().empty());
  EXPECT_TRUE(aligned_start(active->payload()));
  auto response = active->loan_slice(0);
  EXPECT_TRUE(response.payload().empty());
  EXPECT_TRUE(aligned_start(response.payload()));
  EXPECT_TRUE(std::move(response).send());
  EXPECT_EQ(client.wait(), 0);
}

TEST_F(SliceTest, OneElement) {
  round_trip(1);
}

TEST_F(SliceTest, MaxElements) {
  round_trip(kRequestMax);
}

TEST_F(SliceTest, LoanSliceValueInitializesAndUninitKeepsWhatTheChunkHeld) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  const auto is = [](std::byte value) { return [=](std::byte b) { return b == value; }; };
  // Loans go round-robin over the client's chunks: one after another, each is written.
  const std::uint64_t chunks = service.usage().request_chunks / config.request_response.max_clients;
  for (std::uint64_t i = 0; i < chunks; ++i) {
    auto request = client.loan_slice(kRequestMax);
    ASSERT_TRUE(std::all_of(request.payload().begin(), request.payload().end(), is(std::byte{0})));
    std::fill(request.payload().begin(), request.payload().end(), std::byte{0xa5});
  }
  {
    auto uninit = client.loan_slice_uninit(kRequestMax);
    EXPECT_TRUE(std::all_of(uninit.payload().begin(), uninit.payload().end(), is(std::byte{0xa5})))
        << "loan_slice_uninit zeroed the elements";
  }
  auto zeroed = client.loan_slice(kRequestMax);
  EXPECT_TRUE(std::all_of(zeroed.payload().begin(), zeroed.payload().end(), is(std::byte{0})))
      << "loan_slice no longer zeroes the elements";
}

TEST_F(SliceTest, MaxPlusOneIsRefused) {
  auto service = builder().create();
  // The server's side, in its own process: every way of making a too long response fails
  // before a chunk is taken, and a response of the max still goes.
  ChildProcess server = started([&](const Signal& ready) {
    auto remote = open_as("server");
    auto server_port = remote.server_builder().create();
    ready.notify();
    auto active = receive_within(server_port);
    FLOE_CHILD_CHECK(active);
    const std::uint64_t in_use = remote.usage().response_chunks_in_use;
    const std::vector<Sample> too_many(kResponseMax + 1);
    FLOE_CHILD_CHECK(error_of([&] { (void)active->loan_slice(kResponseMax + 1); }) ==
                     Errc::exceeds_max_slice_len);
    FLOE_CHILD_CHECK(error_of([&] { (void)active->loan_slice_uninit(kResponseMax + 1); }) ==
                     Errc::exceeds_max_slice_len);
    FLOE_CHILD_CHECK(error_of([&] { (void)active->send_copy(too_many); }) ==
                     Errc::exceeds_max_slice_len);
    FLOE_CHILD_CHECK(error_of([&] { (void)active->async_send_copy(too_many); }) ==
                     Errc::exceeds_max_slice_len);
    FLOE_CHILD_CHECK(remote.usage().response_chunks_in_use == in_use);
    FLOE_CHILD_CHECK(server_port.max_slice_len() == kResponseMax);
    auto response = active->loan_slice(kResponseMax);
    fill_samples(response.payload(), 1);
    FLOE_CHILD_CHECK(std::move(response).send());
    return 0;
  });

  auto client = service.client_builder().create();
  EXPECT_EQ(client.max_slice_len(), kRequestMax);
  const std::vector<std::byte> too_many(kRequestMax + 1);
  EXPECT_EQ(error_of([&] { (void)client.loan_slice(kRequestMax + 1); }),
            Errc::exceeds_max_slice_len);
  EXPECT_EQ(error_of([&] { (void)client.loan_slice_uninit(kRequestMax + 1); }),
            Errc::exceeds_max_slice_len);
  EXPECT_EQ(error_of([&] { (void)client.send_copy(too_many); }), Errc::exceeds_max_slice_len);
  // The message names the length asked for and the max.
  const std::string message = message_of([&] { (void)client.loan_slice(kRequestMax + 1); });
  EXPECT_NE(message.find(std::to_string(kRequestMax + 1)), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(kRequestMax)), std::string::npos) << message;
  // Awaited: it fails at once (no chunk will ever hold it), not at the timeout.
  Runtime runtime;
  const auto start = Clock::now();
  EXPECT_EQ(runtime.block_on(error_of_await(
                with_timeout(client.async_loan_slice(kRequestMax + 1), std::chrono::seconds(5)))),
            Errc::exceeds_max_slice_len);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(service.usage().request_chunks_in_use, 0u);

  auto pending = client.send_copy(bytes_of(1, 1));
  auto response = receive_within(pending);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload().size(), kResponseMax);
  EXPECT_TRUE(samples_follow(response->payload(), 1));
  EXPECT_EQ(server.wait(), 0);
}

TEST_F(SliceTest, PortCapBelowServiceMax) {
  auto service = builder().create();
  // A server capped at 4 samples: 5 are refused, 4 go.
  ChildProcess server = started([&](const Signal& ready) {
    auto server_port = open_as("server").server_builder().initial_max_slice_len(4).create();
    ready.notify();
    FLOE_CHILD_CHECK(server_port.max_slice_len() == 4);
    auto active = receive_within(server_port);
    FLOE_CHILD_CHECK(active);
    FLOE_CHILD_CHECK(active->payload().size() == 8);
    FLOE_CHILD_CHECK(error_of([&] { (void)active->loan_slice(5); }) == Errc::exceeds_max_slice_len);
    std::array<Sample, 4> samples{};
    fill_samples(samples, 8);
    FLOE_CHILD_CHECK(active->send_copy(samples));
    return 0;
  });

  auto client = service.client_builder().initial_max_slice_len(8).create();
  EXPECT_EQ(client.max_slice_len(), 8u);
  EXPECT_EQ(error_of([&] { (void)client.loan_slice(9); }), Errc::exceeds_max_slice_len);
  EXPECT_EQ(error_of([&] { (void)client.send_copy(bytes_of(9, 9)); }), Errc::exceeds_max_slice_len);
  // Above the service's max: refused when the port is made.
  EXPECT_EQ(
      error_of([&] { service.client_builder().initial_max_slice_len(kRequestMax + 1).create(); }),
      Errc::incompatible_limits);
  EXPECT_EQ(
      error_of([&] { service.server_builder().initial_max_slice_len(kResponseMax + 1).create(); }),
      Errc::incompatible_limits);
  // 0 is taken as 1.
  EXPECT_EQ(service.client_builder().initial_max_slice_len(0).create().max_slice_len(), 1u);

  auto pending = client.send_copy(bytes_of(8, 8));
  auto response = receive_within(pending);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->payload().size(), 4u);
  EXPECT_TRUE(samples_follow(response->payload(), 8));
  EXPECT_EQ(server.wait(), 0);
}

TEST_F(SliceTest, SendCopyOfSpan) {
  auto service = builder().create();
  // The server copies from a std::vector and from a part of a std::array (spans of each).
  ChildProcess server = started([&](const Signal& ready) {
    auto server_port = open_as("server").server_builder().create();
    ready.notify();
    for (int i = 0; i < 2; ++i) {
      auto active = receive_within(server_port);
      FLOE_CHILD_CHECK(active);
      const std::uint64_t n = active->payload().size();
      FLOE_CHILD_CHECK(bytes_follow(active->payload(), n));
      std::vector<Sample> samples(std::min(n, kResponseMax));
      fill_samples(samples, n);
      FLOE_CHILD_CHECK(active->send_copy(samples));
      std::array<Sample, kResponseMax> all{};
      fill_samples(all, n + 1);
      FLOE_CHILD_CHECK(active->send_copy(std::span<const Sample>(all).first(3)));
    }
    return 0;
  });

  auto client = service.client_builder().create();
  for (const std::uint64_t n : {std::uint64_t{1000}, std::uint64_t{0}}) {
    const std::vector<std::byte> bytes = bytes_of(n, n);
    auto pending = client.send_copy(bytes);
    EXPECT_EQ(pending.payload().size(), n);
    EXPECT_NE(static_cast<const void*>(pending.payload().data()),
              static_cast<const void*>(bytes.data()));
    auto first = receive_within(pending);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->payload().size(), std::min(n, kResponseMax));
    EXPECT_TRUE(samples_follow(first->payload(), n));
    auto second = receive_within(pending);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->payload().size(), 3u);
    EXPECT_TRUE(samples_follow(second->payload(), n + 1));
  }
  EXPECT_EQ(server.wait(), 0);
}

TEST_F(SliceTest, StreamOfVaryingLengths) {
  auto service = builder().enable_safe_overflow_for_responses(false).create();
  // One request, answered by responses of 0, 1, ..., kResponseMax samples: the client's buffer
  // holds 4, the server waits for room (lossless).
  ChildProcess server = started([&](const Signal& ready) {
    auto server_port =
        open_as("server").server_builder().backpressure(Backpressure::block).create();
    ready.notify();
    auto active = receive_within(server_port);
    FLOE_CHILD_CHECK(active);
    for (std::uint64_t n = 0; n <= kResponseMax; ++n) {
      auto response = active->loan_slice_uninit(n);
      fill_samples(response.payload(), n);
      FLOE_CHILD_CHECK(std::move(response).send());
    }
    return 0;
  });

  auto client = service.client_builder().create();
  auto pending = client.send_copy(bytes_of(3, 3));
  std::uint64_t expected = 0;
  const bool ended = eventually([&] {
    while (auto response = pending.try_receive()) {
      EXPECT_EQ(response->payload().size(), expected);
      EXPECT_TRUE(samples_follow(response->payload(), expected));
      ++expected;
    }
    return !pending.is_connected() && !pending.has_response();
  });
  EXPECT_TRUE(ended);
  EXPECT_EQ(expected, kResponseMax + 1);
  EXPECT_EQ(pending.number_of_overwritten_responses(), 0u);
  EXPECT_EQ(server.wait(), 0);
}

struct alignas(64) Wide {
  std::uint64_t value;
  std::uint64_t check;
};
static_assert(sizeof(Wide) == 64);
struct RequestTag {
  std::uint32_t kind;
  std::uint64_t stamp;
};
struct ResponseTag {
  std::uint16_t part;
};

Wide wide_at(std::uint64_t i, std::uint64_t seed) {
  return {i + seed, ~(i + seed)};
}
bool wides_follow(std::span<const Wide> elements, std::uint64_t seed) {
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (elements[i].value != i + seed || elements[i].check != ~(i + seed)) return false;
  }
  return true;
}

TEST_F(SliceTest, WithUserHeaders) {
  auto headed = [](Node& n) {
    return n.service_builder("Test/HeadedSlices")
        .request_response<Slice<Wide>, Slice<Wide>>()
        .request_max_slice_len(16)
        .response_max_slice_len(16)
        .request_user_header<RequestTag>()
        .response_user_header<ResponseTag>();
  };
  auto service = headed(node).create();
  // Each request: stamp = its length; answered by one response of stamp + 1 elements, part 7.
  ChildProcess server = started([&](const Signal& ready) {
    Node other = Node::create("server", config);
    auto server_port = headed(other).open().server_builder().create();
    ready.notify();
    for (int i = 0; i < 3; ++i) {
      auto active = receive_within(server_port);
      FLOE_CHILD_CHECK(active);
      const std::span<const Wide> request = active->payload();
      FLOE_CHILD_CHECK(aligned_start(request));
      FLOE_CHILD_CHECK(active->user_header().kind == 3);
      FLOE_CHILD_CHECK(active->user_header().stamp == request.size());
      FLOE_CHILD_CHECK(wides_follow(request, 100));
      auto response = active->loan_slice(request.size() + 1);
      FLOE_CHILD_CHECK(response.user_header().part == 0);  // value-initialized
      FLOE_CHILD_CHECK(aligned_start(response.payload()));
      response.user_header().part = 7;
      for (std::size_t k = 0; k < response.size(); ++k)
        response.payload()[k] = wide_at(k, 200);
      FLOE_CHILD_CHECK(std::move(response).send());
    }
    return 0;
  });

  auto client = service.client_builder().create();
  for (const std::uint64_t n : {std::uint64_t{3}, std::uint64_t{0}, std::uint64_t{15}}) {
    auto request = client.loan_slice(n);
    EXPECT_EQ(request.user_header().kind, 0u);
    EXPECT_EQ(request.user_header().stamp, 0u);
    EXPECT_TRUE(aligned_start(request.payload()));
    request.user_header() = {3, n};
    for (std::size_t k = 0; k < n; ++k)
      request.payload()[k] = wide_at(k, 100);
    auto pending = std::move(request).send();
    EXPECT_EQ(pending.user_header().stamp, n);
    auto response = receive_within(pending);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->user_header().part, 7u);
    EXPECT_EQ(response->payload().size(), n + 1);
    EXPECT_TRUE(aligned_start(response->payload()));
    EXPECT_TRUE(wides_follow(response->payload(), 200));
  }
  EXPECT_EQ(server.wait(), 0);
}

TEST_F(SliceTest, FixedRequestSliceResponse) {
  auto count_to_samples = [](Node& n) {
    return n.service_builder("Test/CountToSamples")
        .request_response<std::uint32_t, Slice<Sample>>()
        .response_max_slice_len(32);
  };
  auto service = count_to_samples(node).create();
  // Each request is a count; the answer holds that many samples.
  ChildProcess server = started([&](const Signal& ready) {
    Node other = Node::create("server", config);
    auto server_port = count_to_samples(other).open().server_builder().create();
    ready.notify();
    for (int i = 0; i < 3; ++i) {
      auto active = receive_within(server_port);
      FLOE_CHILD_CHECK(active);
      const std::uint32_t count = active->payload();
      FLOE_CHILD_CHECK(**active == count);
      auto response = active->loan_slice(count);
      fill_samples(*response, count);
      FLOE_CHILD_CHECK(std::move(response).send());
    }
    return 0;
  });

  auto client = service.client_builder().create();
  for (const std::uint32_t count : {0u, 1u, 32u}) {
    auto request = client.loan();
    *request = count;
    auto pending = std::move(request).send();
    EXPECT_EQ(*pending, count);
    auto response = receive_within(pending);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->payload().size(), count);
    EXPECT_TRUE(samples_follow(**response, count));
  }
  EXPECT_EQ(server.wait(), 0);
}

TEST_F(SliceTest, SliceRequestFixedResponse) {
  auto sum_of = [](Node& n) {
    return n.service_builder("Test/SumOf")
        .request_response<Slice<std::uint32_t>, std::uint64_t>()
        .request_max_slice_len(100);
  };
  auto service = sum_of(node).create();
  // Each request is a run of numbers; the answer is their sum, sent as a copy.
  ChildProcess server = started([&](const Signal& ready) {
    Node other = Node::create("server", config);
    auto server_port = sum_of(other).open().server_builder().create();
    ready.notify();
    for (int i = 0; i < 3; ++i) {
      auto active = receive_within(server_port);
      FLOE_CHILD_CHECK(active);
      const std::span<const std::uint32_t> numbers = active->payload();
      FLOE_CHILD_CHECK(
          active->send_copy(std::accumulate(numbers.begin(), numbers.end(), std::uint64_t{0})));
    }
    return 0;
  });

  auto client = service.client_builder().create();
  std::vector<std::uint32_t> numbers(100);
  std::iota(numbers.begin(), numbers.end(), 1u);
  {
    auto pending = client.send_copy(numbers);  // 1 + ... + 100
    auto response = receive_within(pending);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->payload(), 5050u);
    EXPECT_EQ(**response, 5050u);
  }  // the client's two request slots are free for the calls

  // floe::call with a span: its copy goes, its one answer comes back.
  Runtime runtime;
  const std::uint64_t called = runtime.block_on([&]() -> Task<std::uint64_t> {
    auto first = co_await call(client, std::span<const std::uint32_t>(numbers).first(10), 10s);
    auto none = co_await call(client, std::vector<std::uint32_t>{}, 10s);
    co_return first.payload() * 1000 + none.payload();
  }());
  EXPECT_EQ(called, 55u * 1000);
  EXPECT_EQ(error_of([&] { (void)call(client, std::vector<std::uint32_t>(101), 10s); }),
            Errc::exceeds_max_slice_len);
  EXPECT_EQ(server.wait(), 0);
}

}  // namespace
}  // namespace floe::test
