// What the cores do with slice lengths before anything is shared: a port's max is the service's
// or what its builder asked (never more), and a loan beyond it takes nothing.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <memory>

#include "floe/detail/ports.hpp"
#include "registry/names.hpp"
#include "support/fixture.hpp"
#include "support/process.hpp"
#include "support/slice_segment.hpp"

namespace floe {
namespace {

using detail::ChunkView;
using detail::ClientCore;
using detail::OpenMode;
using detail::ServerCore;
using detail::SlicePolicy;
using test::error_of;
using test::message_of;

class SliceCore : public ::testing::Test {
 protected:
  Config config = test::isolated_config();
  Node node = Node::create("slice-core", config);
  std::shared_ptr<detail::ServiceSegment> segment =
      test::slice_segment(node, "Test/SliceCore", 64, OpenMode::create);

  ServiceUsage usage() const { return detail::service_usage(*segment); }
};

TEST_F(SliceCore, PortMaxIsTheServicesOrLessAndALongerLoanTakesNothing) {
  EXPECT_EQ(ClientCore(segment, 4, Backpressure::discard).max_slice_len(), 64u)
      << "no policy: the service's max";
  EXPECT_EQ(error_of([&] { ClientCore(segment, 4, Backpressure::discard, SlicePolicy{65}); }),
            Errc::incompatible_limits);
  EXPECT_EQ(error_of([&] { ServerCore(segment, 2, Backpressure::discard, SlicePolicy{65}); }),
            Errc::incompatible_limits);
  EXPECT_EQ(usage().clients, 0u) << "a refused port takes no slot";
  EXPECT_EQ(usage().servers, 0u);

  auto client = std::make_shared<ClientCore>(segment, 4, Backpressure::discard, SlicePolicy{8});
  EXPECT_EQ(client->max_slice_len(), 8u);
  std::uint32_t chunk = 0;
  EXPECT_EQ(error_of([&] { client->loan(chunk, 9); }), Errc::exceeds_max_slice_len);
  EXPECT_EQ(message_of([&] { client->loan(chunk, 9); }),
            "floe: client 0 of service 'Test/SliceCore' cannot loan a request slice of 9 "
            "elements: it may loan at most 8 elements, its initial_max_slice_len. Loan fewer, "
            "let the port grow past the service's maximum "
            "(.allocation_strategy(floe::AllocationStrategy::power_of_two or best_fit) on its "
            "builder), or raise its initial_max_slice_len (up to the service's "
            "request_max_slice_len = 64)");
  detail::Failure failure;
  EXPECT_TRUE(client->try_loan(chunk, 9, failure)) << "done: it can never succeed";
  EXPECT_EQ(failure.code(), Errc::exceeds_max_slice_len);
  EXPECT_EQ(usage().request_chunks_in_use, 0u) << "a refused loan takes no chunk";

  const ChunkView empty = client->loan(chunk, 0);
  EXPECT_EQ(empty.length, 0u);
  EXPECT_NE(empty.payload, nullptr) << "a slice of 0 elements still starts somewhere";
  const ChunkView full = client->loan(chunk, 8);
  EXPECT_EQ(full.length, 8u);
  EXPECT_EQ(usage().request_chunks_in_use, 2u);
  // A port at the service's maximum: only the service's can be raised.
  client.reset();  // the service allows one client
  auto at_service_max = std::make_shared<ClientCore>(segment, 4, Backpressure::discard);
  EXPECT_EQ(message_of([&] { at_service_max->loan(chunk, 65); }),
            "floe: client 0 of service 'Test/SliceCore' cannot loan a request slice of 65 "
            "elements: it may loan at most 64 elements, the service's request_max_slice_len. "
            "Loan fewer, let the port grow past the service's maximum "
            "(.allocation_strategy(floe::AllocationStrategy::power_of_two or best_fit) on its "
            "builder), or create the service with a larger request_max_slice_len");
}

TEST_F(SliceCore, AServerLoansUpToItsMaxAndTheClientReceivesTheLengthSent) {
  auto server = std::make_shared<ServerCore>(segment, 2, Backpressure::discard, SlicePolicy{16});
  auto client = std::make_shared<ClientCore>(segment, 4, Backpressure::discard);
  std::uint32_t chunk = 0;
  client->loan(chunk, 64);
  const std::uint32_t channel = client->send(chunk);
  detail::Failure failure;
  const auto active = server->try_receive(failure);
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->request.length, 64u);
  std::uint32_t response = 0;
  EXPECT_EQ(error_of([&] { server->loan(*active, response, 17); }), Errc::exceeds_max_slice_len);
  EXPECT_EQ(usage().response_chunks_in_use, 0u);
  const ChunkView loan = server->loan(*active, response, 16);
  EXPECT_EQ(loan.length, 16u);
  ASSERT_EQ(server->send(*active, response), detail::ServerCore::SendStatus::delivered);
  const auto received = client->try_receive(channel, failure);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->view.length, 16u);
  client->release_response(channel, received->server, received->chunk);
  server->end(*active);
  client->drop_pending(channel);
}

TEST(SliceCoreFixed, AFixedPayloadHasNoSliceMax) {
  const Config config = test::isolated_config();
  Node node = Node::create("fixed", config);
  auto service = node.service_builder("Test/Fixed").request_response<int, int>().create();
  const auto& state = detail::NodeAccess::state(node);
  detail::ServiceSpec spec;
  spec.name = "Test/Fixed";
  spec.request = spec.response = TypeInfo::of<int>();
  spec.request_user_header = spec.response_user_header = TypeInfo::of<NoUserHeader>();
  spec.limits = state->config.request_response;
  const auto segment = detail::open_service(*state, spec, OpenMode::open);
  EXPECT_EQ(ClientCore(segment, 4, Backpressure::discard).max_slice_len(), 0u);
  EXPECT_EQ(error_of([&] { ClientCore(segment, 4, Backpressure::discard, SlicePolicy{4}); }),
            Errc::incompatible_limits);
}

}  // namespace
}  // namespace floe
