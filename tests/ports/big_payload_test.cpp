// Big payloads: loan_uninit() skips the zero fill that loan() does, and a 64 MiB payload
// travels between processes when the limits are small.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <algorithm>
#include <cstdint>
#include <set>

#include "support/fixture.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::receive_within;
using test::Signal;
using namespace std::chrono_literals;

struct Block {
  unsigned char bytes[4096];
};

bool all_bytes(const Block& block, unsigned char value) {
  return std::all_of(std::begin(block.bytes), std::end(block.bytes),
                     [&](unsigned char b) { return b == value; });
}

class BigPayload : public ::testing::Test {
 protected:
  Config config = [] {
    Config c = test::isolated_config();
    c.request_response.max_clients = 1;
    c.request_response.max_servers = 1;
    c.request_response.max_active_requests_per_client = 1;
    c.request_response.max_loaned_requests = 2;  // 3 request chunks
    c.request_response.max_response_buffer_size = 1;
    c.request_response.max_borrowed_responses_per_pending_response = 1;
    c.request_response.max_loaned_responses_per_request = 2;  // 4 response chunks
    return c;
  }();
  Node node = Node::create("big-payload", config);
};

TEST_F(BigPayload, LoanUninitKeepsWhatTheRequestChunkHeldAndLoanStillZeroes) {
  auto service = node.service_builder("Big/Requests").request_response<Block, Block>().create();
  auto client = service.client_builder().create();
  auto server = service.server_builder().create();

  // Write a pattern into every request chunk (loans are handed out round-robin: collecting the
  // addresses proves each chunk was reached).
  std::set<const void*> chunks;
  for (int i = 0; i < 3; ++i) {
    auto request = client.loan();
    ASSERT_TRUE(all_bytes(*request, 0));
    std::fill(std::begin(request->bytes), std::end(request->bytes), 0xa5);
    chunks.insert(&request.payload());
  }
  ASSERT_EQ(chunks.size(), 3u);

  auto uninit = client.loan_uninit();
  EXPECT_TRUE(all_bytes(*uninit, 0xa5)) << "loan_uninit zeroed the payload";
  EXPECT_EQ(uninit.header().client_id, client.id());
  auto zeroed = client.loan();
  EXPECT_TRUE(all_bytes(*zeroed, 0)) << "loan no longer zeroes the payload";

  uninit->bytes[0] = 1;
  auto pending = std::move(uninit).send();
  auto active = server.try_receive();
  ASSERT_TRUE(active);
  EXPECT_EQ(active->header().client_id, client.id());
  EXPECT_EQ(active->header().request_id, pending.header().request_id);
  EXPECT_NE(active->header().request_id, 0u);
  EXPECT_EQ(active->payload().bytes[0], 1);
  EXPECT_EQ(active->payload().bytes[4095], 0xa5);
}

TEST_F(BigPayload, LoanUninitKeepsWhatTheResponseChunkHeldAndLoanStillZeroes) {
  auto service = node.service_builder("Big/Responses").request_response<Block, Block>().create();
  auto client = service.client_builder().create();
  auto server = service.server_builder().create();
  auto pending = client.send_copy(Block{});
  auto active = server.try_receive();
  ASSERT_TRUE(active);

  std::set<const void*> chunks;
  for (int i = 0; i < 4; ++i) {
    auto response = active->loan();
    ASSERT_TRUE(all_bytes(*response, 0));
    std::fill(std::begin(response->bytes), std::end(response->bytes), 0x5a);
    chunks.insert(&response.payload());
  }
  ASSERT_EQ(chunks.size(), 4u);

  auto uninit = active->loan_uninit();
  EXPECT_TRUE(all_bytes(*uninit, 0x5a)) << "loan_uninit zeroed the payload";
  auto zeroed = active->loan();
  EXPECT_TRUE(all_bytes(*zeroed, 0)) << "loan no longer zeroes the payload";

  ASSERT_TRUE(std::move(uninit).send());
  auto response = pending.try_receive();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->header().request_id, pending.header().request_id);
  EXPECT_EQ(response->header().server_id, server.id());
  EXPECT_TRUE(all_bytes(response->payload(), 0x5a));
}

struct Payload64MiB {
  unsigned char bytes[64 << 20];
};

unsigned char pattern_at(std::size_t i, std::uint64_t seed) {
  return static_cast<unsigned char>((i * 131 + seed) >> 3);
}

TEST_F(BigPayload, A64MiBResponseTravelsBetweenProcessesWithSmallLimits) {
  Config small = config;
  small.request_response.max_loaned_requests = 1;
  small.request_response.max_loaned_responses_per_request = 1;  // 3 response chunks: 192 MiB
  Node creator = Node::create("creator", small);
  auto service =
      creator.service_builder("Big/64MiB").request_response<std::uint64_t, Payload64MiB>().create();
  EXPECT_LT(service.usage().segment_size, 200u << 20);

  Signal ready;
  ChildProcess server_process([&] {
    Node other = Node::create("server", small);
    auto opened =
        other.service_builder("Big/64MiB").request_response<std::uint64_t, Payload64MiB>().open();
    auto server = opened.server_builder().create();
    ready.notify();
    auto active = receive_within(server, 20s);
    FLOE_CHILD_CHECK(active.has_value());
    auto response = active->loan_uninit();
    for (std::size_t i = 0; i < sizeof(Payload64MiB); ++i) {
      response->bytes[i] = pattern_at(i, active->payload());
    }
    FLOE_CHILD_CHECK(std::move(response).send());
    return 0;
  });
  ASSERT_EQ(ready.wait(20s), 1);

  auto client = service.client_builder().create();
  const std::uint64_t seed = 977;
  auto pending = client.send_copy(seed);
  auto response = receive_within(pending, 20s);
  ASSERT_TRUE(response);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < sizeof(Payload64MiB); ++i) {
    wrong += response->payload().bytes[i] != pattern_at(i, seed);
  }
  EXPECT_EQ(wrong, 0u);
  response.reset();
  EXPECT_EQ(server_process.wait(20s), 0);
}

}  // namespace
}  // namespace floe
