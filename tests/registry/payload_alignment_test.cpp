// Payload alignment set on the builder: payloads in shared memory start at it in every process,
// and an opener may ask for at most what the service was created with.

#include <gtest/gtest.h>
#include <floe/floe.hpp>

#include <cstdint>

#include "support/fixture.hpp"

namespace floe {
namespace {

using test::ChildProcess;
using test::error_of;
using test::Signal;

bool aligned(const void* address, std::uintptr_t alignment) {
  return reinterpret_cast<std::uintptr_t>(address) % alignment == 0;
}

class PayloadAlignment : public test::U64ServiceTest {};

TEST_F(PayloadAlignment, LoanedPayloadsStartAtTheServicesAlignmentInEveryProcess) {
  auto service = builder()
                     .max_loaned_requests(3)
                     .request_payload_alignment(256)
                     .response_payload_alignment(1024)
                     .create();
  // The server's process asks for no alignment: its payloads still start at the service's.
  ChildProcess server = test::started([&](const Signal& ready) {
    auto opened = open_as("server");
    auto port = opened.server_builder().create();
    ready.notify();
    auto request = test::receive_within(port);
    FLOE_CHILD_CHECK(request);
    FLOE_CHILD_CHECK(aligned(&request->payload(), 256));
    for (int i = 0; i < 2; ++i) {
      auto response = request->loan();
      FLOE_CHILD_CHECK(aligned(&response.payload(), 1024));
      response.payload() = request->payload() + i;
      FLOE_CHILD_CHECK(std::move(response).send());
    }
    return 0;
  });
  auto client = service.client_builder().create();
  auto first = client.loan();
  auto second = client.loan();
  auto third = client.loan();
  EXPECT_TRUE(aligned(&first.payload(), 256));
  EXPECT_TRUE(aligned(&second.payload(), 256));
  EXPECT_TRUE(aligned(&third.payload(), 256));
  first.payload() = 40;
  auto pending = std::move(first).send();
  for (std::uint64_t expected : {40u, 41u}) {
    auto response = test::receive_within(pending);
    ASSERT_TRUE(response);
    EXPECT_TRUE(aligned(&response->payload(), 1024));
    EXPECT_EQ(response->payload(), expected);
  }
  EXPECT_EQ(server.wait(), 0);
}

TEST_F(PayloadAlignment, AnOpenerMayAskForAtMostTheServicesAlignment) {
  Signal done;
  ChildProcess creator = creator_holding(
      [](auto creating) { return creating.request_payload_alignment(64).create(); }, done);
  EXPECT_NO_THROW(builder().request_payload_alignment(64).open());
  EXPECT_NO_THROW(builder().request_payload_alignment(16).open());
  EXPECT_NO_THROW(builder().request_payload_alignment(1).response_payload_alignment(8).open())
      << "less than alignof(std::uint64_t) is alignof";
  try {
    builder().request_payload_alignment(128).open();
    ADD_FAILURE() << "a service aligned to 64 opened asking for 128";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::incompatible_types);
    EXPECT_NE(std::string(e.what()).find("aligns request payloads to 64 bytes, less than the 128"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(error_of([&] { builder().response_payload_alignment(16).open(); }),
            Errc::incompatible_types);
  done.notify();
  EXPECT_EQ(creator.wait(), 0);
}

TEST_F(PayloadAlignment, OnlyPowersOfTwoUpTo4096Are) {
  for (std::size_t alignment : {0, 3, 48, 8192}) {
    EXPECT_EQ(error_of([&] { builder().request_payload_alignment(alignment).create(); }),
              Errc::invalid_config)
        << alignment;
    EXPECT_EQ(error_of([&] { builder().response_payload_alignment(alignment).open_or_create(); }),
              Errc::invalid_config)
        << alignment;
  }
  auto largest =
      builder().request_payload_alignment(4096).response_payload_alignment(4096).create();
  auto client = largest.client_builder().create();
  auto loan = client.loan();
  EXPECT_TRUE(aligned(&loan.payload(), 4096));
}

}  // namespace
}  // namespace floe
