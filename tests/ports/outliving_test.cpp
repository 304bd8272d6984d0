// Message handles outliving the ports they came from, across real processes, as in iceoryx2: a
// PendingResponse still receives after its Client (and Service and Node) went, an ActiveRequest
// still answers after its Server went, and while any such handle lives the service is there:
// nobody can create it anew until the last one is gone.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>
#include <optional>
#include <vector>

#include "support/fixture.hpp"

namespace floe::test {
namespace {

using Outliving = U64ServiceTest;

TEST_F(Outliving, APendingResponseReceivesAfterItsClientServiceAndNodeWent) {
  auto service = builder().create();
  auto server = service.server_builder().create();
  Signal answer;
  ChildProcess client_process = started([&](const Signal& sent) {
    std::optional<Node> n(Node::create("client", config));
    std::optional<U64Service> s(builder(*n).open());
    std::optional<U64Client> client(s->client_builder().create());
    auto pending = client->send_copy(4);
    client.reset();
    s.reset();
    n.reset();
    sent.notify();
    FLOE_CHILD_CHECK(answer.wait() == 1);
    FLOE_CHILD_CHECK(receive_stream(pending) == (std::vector<std::uint64_t>{40, 41, 42}));
    return 0;
  });
  auto request = receive_within(server);
  ASSERT_TRUE(request);
  EXPECT_TRUE(request->is_connected()) << "the PendingResponse still listens";
  for (std::uint64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(request->send_copy(request->payload() * 10 + i));
  request.reset();
  answer.notify();
  EXPECT_EQ(client_process.wait(), 0);
}

TEST_F(Outliving, AnActiveRequestAnswersAfterItsServerServiceAndNodeWent) {
  auto service = builder().create();
  auto client = service.client_builder().create();
  Signal sent, server_gone, answer;
  ChildProcess server_process = started([&](const Signal& ready) {
    std::optional<Node> n(Node::create("server", config));
    std::optional<U64Service> s(builder(*n).open());
    std::optional<U64Server> server(s->server_builder().create());
    ready.notify();
    FLOE_CHILD_CHECK(sent.wait() == 1);
    auto request = receive_within(*server);
    FLOE_CHILD_CHECK(request);
    server.reset();
    s.reset();
    n.reset();
    server_gone.notify();
    FLOE_CHILD_CHECK(answer.wait() == 1);
    FLOE_CHILD_CHECK(request->is_connected());
    auto loan = request->loan();
    *loan = 70;
    FLOE_CHILD_CHECK(std::move(loan).send());
    FLOE_CHILD_CHECK(request->send_copy(71));
    return 0;  // the request goes with the process: the stream ends after 71
  });
  auto pending = client.send_copy(7);
  ASSERT_EQ(pending.number_of_server_connections(), 1u);
  sent.notify();
  ASSERT_EQ(server_gone.wait(), 1);
  EXPECT_TRUE(pending.is_connected()) << "the ActiveRequest holds the stream open";
  answer.notify();
  EXPECT_EQ(receive_stream(pending), (std::vector<std::uint64_t>{70, 71}));
  EXPECT_EQ(server_process.wait(), 0);
}

// Which message handle the child keeps when it lets go of everything else.
enum class Kept { request_mut, pending_response, active_request };

TEST_F(Outliving, TheServiceCannotBeCreatedAgainWhileOnlyAMessageHandleHoldsIt) {
  for (const Kept kept : {Kept::request_mut, Kept::pending_response, Kept::active_request}) {
    SCOPED_TRACE(static_cast<int>(kept));
    config = isolated_config();
    Signal let_go, gone;
    ChildProcess holder = started([&](const Signal& holding) {
      std::optional<Node> n(Node::create("holder", config));
      std::optional<U64Service> s(builder(*n).create());
      std::optional<U64Client> client(s->client_builder().create());
      std::optional<U64Server> server(s->server_builder().create());
      std::optional<Client<std::uint64_t, std::uint64_t>::Loan> loan;
      std::optional<U64Pending> pending;
      std::optional<U64Active> active;
      switch (kept) {
        case Kept::request_mut:
          loan.emplace(client->loan());
          break;
        case Kept::pending_response:
          pending.emplace(client->send_copy(1));
          break;
        case Kept::active_request: {
          auto p = client->send_copy(1);
          auto request = server->try_receive();
          FLOE_CHILD_CHECK(request);
          active.emplace(std::move(*request));
          break;
        }
      }
      client.reset();
      server.reset();
      s.reset();
      n.reset();
      holding.notify();
      FLOE_CHILD_CHECK(let_go.wait() == 1);
      loan.reset();
      pending.reset();
      active.reset();
      gone.notify();
      return let_go.wait() == 1 ? 0 : 1;
    });
    Node here = Node::create("creator", config);
    EXPECT_EQ(error_of([&] { builder(here).create(); }), Errc::service_already_exists);
    // Opening it is still possible: the service is there, held by the handle alone.
    EXPECT_EQ(error_of([&] { builder(here).open(); }), Errc{});
    let_go.notify();
    ASSERT_EQ(gone.wait(), 1);
    EXPECT_EQ(error_of([&] { builder(here).create(); }), Errc{})
        << "the last handle went, the service with it";
    let_go.notify();
    EXPECT_EQ(holder.wait(), 0);
  }
}

}  // namespace
}  // namespace floe::test
