// Every limit: exactly the limit works, one more gives the contract's error.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/fixture.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::error_of;
using test::message_of;
using test::receive_within;
using test::Signal;

class Limits : public test::U64ServiceTest {};

/// Whether a reached limit's message names the limit and its value, the builder call and the
/// config key that raise it, and that an existing service keeps its limits.
::testing::AssertionResult says_how_to_raise(const std::string& message, const std::string& limit,
                                             std::uint32_t value) {
  for (const std::string& part :
       {limit + " = " + std::to_string(value) + " ", "." + limit + "(n) on its builder",
        "defaults.request_response." + limit + " = n in the config file (FLOE_CONFIG)",
        std::string("an existing service keeps its limits until every process has closed it")}) {
    if (message.find(part) == std::string::npos) {
      return ::testing::AssertionFailure() << "'" << part << "' is not in: " << message;
    }
  }
  return ::testing::AssertionSuccess();
}

/// Whether a port's own limit's message names it, its value, and its builder call up to the
/// service's limit.
::testing::AssertionResult says_how_to_raise_port(const std::string& message,
                                                  const std::string& setter, std::uint32_t value,
                                                  const std::string& limit,
                                                  std::uint32_t service_value) {
  for (const std::string& part : {setter + " = " + std::to_string(value) + " ",
                                  "give its builder ." + setter + "(n), up to the service's " +
                                      limit + " = " + std::to_string(service_value)}) {
    if (message.find(part) == std::string::npos) {
      return ::testing::AssertionFailure() << "'" << part << "' is not in: " << message;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST_F(Limits, MaxClientsAcrossProcesses) {
  auto service = builder().max_clients(2).create();
  Signal ready, release;
  auto hold_client = [&] {
    auto s = open_as("holder");
    auto client = s.client_builder().create();
    ready.notify();
    return release.wait() == 1 ? 0 : 1;
  };
  ChildProcess one(hold_client), two(hold_client);
  ASSERT_EQ(ready.wait(), 1);
  ASSERT_EQ(ready.wait(), 1);
  EXPECT_EQ(error_of([&] { service.client_builder().create(); }), Errc::exceeds_max_clients);
  EXPECT_EQ(message_of([&] { service.client_builder().create(); }),
            "floe: service 'Test/Service' has max_clients = 2 clients already; drop a client "
            "first. To allow more, create the service with .max_clients(n) on its builder or "
            "defaults.request_response.max_clients = n in the config file (FLOE_CONFIG); an "
            "existing service keeps its limits until every process has closed it");
  release.notify();
  release.notify();
  EXPECT_EQ(one.wait(), 0);
  EXPECT_EQ(two.wait(), 0);
  auto a = service.client_builder().create();
  auto b = service.client_builder().create();
  EXPECT_EQ(service.usage().clients, 2u);
}

TEST_F(Limits, MaxServersAcrossProcesses) {
  auto service = builder().max_servers(1).create();
  Signal ready, release;
  ChildProcess holder([&] {
    auto s = open_as("holder");
    auto server = s.server_builder().create();
    ready.notify();
    return release.wait() == 1 ? 0 : 1;
  });
  ASSERT_EQ(ready.wait(), 1);
  EXPECT_EQ(error_of([&] { service.server_builder().create(); }), Errc::exceeds_max_servers);
  EXPECT_TRUE(
      says_how_to_raise(message_of([&] { service.server_builder().create(); }), "max_servers", 1));
  release.notify();
  EXPECT_EQ(holder.wait(), 0);
  EXPECT_NO_THROW(service.server_builder().create());
}

TEST_F(Limits, MaxLoanedRequests) {
  auto service = builder().max_loaned_requests(3).create();
  auto client = service.client_builder().create();
  std::vector<decltype(client.loan())> loans;
  for (int i = 0; i < 3; ++i)
    loans.push_back(client.loan());
  EXPECT_EQ(error_of([&] { client.loan(); }), Errc::exceeds_max_loans);
  EXPECT_TRUE(says_how_to_raise(message_of([&] { client.loan(); }), "max_loaned_requests", 3));
  loans.pop_back();
  EXPECT_NO_THROW(client.loan());
}

TEST_F(Limits, MaxActiveRequestsCountsUnfinishedRequests) {
  auto service = builder().max_active_requests_per_client(3).create();
  auto client = service.client_builder().create();
  std::vector<PendingResponse<std::uint64_t, std::uint64_t>> pending;
  for (std::uint64_t i = 0; i < 3; ++i)
    pending.push_back(client.send_copy(i));
  auto loan = client.loan();
  const std::string message = message_of([&] { (void)std::move(loan).send(); });
  // The client's own limit is the service's: the service's is the one to raise.
  EXPECT_NE(message.find("the client has max_active_requests = 3 requests open"), std::string::npos)
      << message;
  EXPECT_TRUE(says_how_to_raise(message, "max_active_requests_per_client", 3));
  EXPECT_EQ(error_of([&] { (void)std::move(loan).send(); }), Errc::exceeds_max_active_requests);
  *loan = 99;  // a refused send leaves the loan with the caller
  pending.erase(pending.begin());
  auto fourth = std::move(loan).send();
  EXPECT_EQ(fourth.payload(), 99u);
}

TEST_F(Limits, ARequestHeldByAServerStaysActiveUntilTheServerLetsGo) {
  auto service = builder().max_active_requests_per_client(1).create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  std::optional<PendingResponse<std::uint64_t, std::uint64_t>> pending = client.send_copy(1);
  auto request = server.try_receive();
  ASSERT_TRUE(request);
  pending.reset();
  EXPECT_EQ(error_of([&] { (void)client.send_copy(2); }), Errc::exceeds_max_active_requests)
      << "the server still has the request open";
  request.reset();
  EXPECT_NO_THROW(pending = client.send_copy(3));
}

TEST_F(Limits, AnUnreadRequestIsWithdrawnWhenItsPendingResponseGoes) {
  auto service = builder().max_active_requests_per_client(1).create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  { auto pending = client.send_copy(1); }
  // Fire-and-forget is off and nobody listens: the request no server took is withdrawn, so
  // its channel is free at once.
  auto pending = client.send_copy(2);
  auto request = server.try_receive();
  ASSERT_TRUE(request);
  EXPECT_EQ(request->payload(), 2u);
  EXPECT_FALSE(server.try_receive());
}

TEST_F(Limits, ClientMaxActiveRequestsIsAtMostTheServices) {
  auto service = builder().max_active_requests_per_client(4).create();
  EXPECT_EQ(error_of([&] { service.client_builder().max_active_requests(5).create(); }),
            Errc::incompatible_limits);
  EXPECT_EQ(message_of([&] { service.client_builder().max_active_requests(5).create(); }),
            "floe: a client's max_active_requests(n) must be from 1 to the service's "
            "max_active_requests_per_client = 4; ask for fewer, or create the service with a "
            "larger max_active_requests_per_client");
  auto client = service.client_builder().max_active_requests(2).create();
  // A port says what it was created with.
  EXPECT_EQ(client.max_active_requests(), 2u);
  EXPECT_EQ(client.backpressure(), Backpressure::discard);
  EXPECT_EQ(service.client_builder().backpressure(Backpressure::block).create().backpressure(),
            Backpressure::block);
  EXPECT_EQ(service.client_builder().create().max_active_requests(), 4u);
  auto a = client.send_copy(1);
  auto b = client.send_copy(2);
  EXPECT_EQ(error_of([&] { (void)client.send_copy(3); }), Errc::exceeds_max_active_requests);
  EXPECT_TRUE(says_how_to_raise_port(message_of([&] { (void)client.send_copy(3); }),
                                     "max_active_requests", 2, "max_active_requests_per_client",
                                     4));
}

TEST_F(Limits, MaxBorrowedResponsesPerPendingResponse) {
  auto service = builder().max_borrowed_responses_per_pending_response(2).create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  auto request = server.try_receive();
  ASSERT_TRUE(request);
  for (std::uint64_t i = 0; i < 3; ++i)
    ASSERT_TRUE(request->send_copy(i));
  auto first = pending.try_receive();
  auto second = pending.try_receive();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(error_of([&] { pending.try_receive(); }), Errc::exceeds_max_loans);
  EXPECT_TRUE(says_how_to_raise(message_of([&] { pending.try_receive(); }),
                                "max_borrowed_responses_per_pending_response", 2));
  first.reset();
  auto third = pending.try_receive();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->payload(), 2u);
}

TEST_F(Limits, MaxLoanedResponsesPerRequest) {
  auto service = builder().max_loaned_responses_per_request(3).create();
  EXPECT_EQ(
      error_of([&] { service.server_builder().max_loaned_responses_per_request(4).create(); }),
      Errc::incompatible_limits);
  EXPECT_NE(message_of([&] {
              service.server_builder().max_loaned_responses_per_request(4).create();
            }).find("service's max_loaned_responses_per_request = 3; ask for fewer"),
            std::string::npos);
  auto server = service.server_builder().max_loaned_responses_per_request(2).create();
  EXPECT_EQ(server.max_loaned_responses_per_request(), 2u);
  EXPECT_EQ(server.backpressure(), Backpressure::discard);
  EXPECT_EQ(service.server_builder().create().max_loaned_responses_per_request(), 3u);
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  auto request = server.try_receive();
  ASSERT_TRUE(request);
  auto a = request->loan();
  auto b = request->loan();
  EXPECT_EQ(error_of([&] { request->loan(); }), Errc::exceeds_max_loans);
  EXPECT_TRUE(says_how_to_raise_port(message_of([&] { request->loan(); }),
                                     "max_loaned_responses_per_request", 2,
                                     "max_loaned_responses_per_request", 3));
  EXPECT_TRUE(std::move(a).send());
  EXPECT_NO_THROW(request->loan());
}

}  // namespace
}  // namespace floe
