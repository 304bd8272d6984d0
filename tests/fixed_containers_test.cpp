// floe::FixedString and floe::FixedVector: the standard containers' behaviour within a fixed
// capacity, writes past it refused whole, and reads bounded whatever another process wrote.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "floe/error.hpp"
#include "floe/fixed_string.hpp"
#include "floe/fixed_vector.hpp"
#include "floe/shm_compatible.hpp"
#include "support/fixture.hpp"

namespace floe::test {
namespace {

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  static constexpr std::string_view floe_type_name = "geo::Point";
  friend bool operator==(const Point&, const Point&) = default;
};

static_assert(ShmCompatible<FixedString<1>>);
static_assert(ShmCompatible<FixedString<4096>>);
static_assert(ShmCompatible<FixedVector<Point, 3>>);
static_assert(ShmCompatible<FixedVector<FixedString<8>, 3>>);
static_assert(FixedString<64>::floe_type_name == "floe::FixedString<64>");
static_assert(FixedVector<Point, 10>::floe_type_name == "floe::FixedVector<geo::Point, 10>");
static_assert(FixedVector<FixedString<8>, 3>::floe_type_name ==
              "floe::FixedVector<floe::FixedString<8>, 3>");
// Usable at compile time, as the standard containers are.
static_assert(FixedString<8>("abc").size() == 3);
static_assert(FixedString<8>("abc") == "abc");

template <typename Write>
Errc error_of(Write write) {
  try {
    write();
  } catch (const Error& e) {
    return static_cast<Errc>(e.code().value());
  }
  return Errc{};
}

TEST(FixedString, ReadsAndWritesLikeAString) {
  FixedString<16> text = "floe";
  text += '-';
  text += "shm";
  EXPECT_EQ(text, "floe-shm");
  EXPECT_EQ(text.size(), 8u);
  EXPECT_EQ(FixedString<16>::capacity(), 16u);
  EXPECT_EQ(text.str(), std::string("floe-shm"));
  std::string_view view = text;
  EXPECT_EQ(view, "floe-shm");
  text.pop_back();
  EXPECT_EQ(text.view(), "floe-sh");
  text.resize(9, '!');
  EXPECT_EQ(text, "floe-sh!!");
  EXPECT_EQ(text.at(0), 'f');
  EXPECT_THROW((void)text.at(9), std::out_of_range);
  std::ostringstream out;
  out << text;
  EXPECT_EQ(out.str(), "floe-sh!!");
  EXPECT_LT(FixedString<4>("ab"), FixedString<8>("b"));
  EXPECT_EQ(FixedString<4>("ab"), FixedString<8>("ab"));
  EXPECT_EQ(std::string(text.begin(), text.end()), "floe-sh!!");
  text.clear();
  EXPECT_TRUE(text.empty());
}

TEST(FixedString, AWritePastTheCapacityThrowsAndChangesNothing) {
  FixedString<5> text = "abcd";
  EXPECT_EQ(error_of([&] { text.append("ef"); }), Errc::exceeds_capacity);
  EXPECT_EQ(text, "abcd");
  text.push_back('e');
  EXPECT_TRUE(text.full());
  EXPECT_EQ(error_of([&] { text.push_back('f'); }), Errc::exceeds_capacity);
  EXPECT_FALSE(text.try_push_back('f'));
  EXPECT_FALSE(text.try_append("x"));
  EXPECT_EQ(error_of([&] { text.assign("abcdef"); }), Errc::exceeds_capacity);
  EXPECT_EQ(error_of([&] { text.resize(6); }), Errc::exceeds_capacity);
  EXPECT_EQ(error_of([] { FixedString<2> made{std::string_view("abc")}; }), Errc::exceeds_capacity);
  EXPECT_EQ(text, "abcde");
  try {
    text.append("xyz");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("floe::FixedString<5>: holds 5, cannot take 3 more"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("append_truncated"), std::string::npos) << e.what();
  }
}

TEST(FixedString, TruncationIsAskedForByName) {
  EXPECT_EQ(FixedString<3>::truncated("abcdef"), "abc");
  FixedString<5> text = "ab";
  EXPECT_EQ(text.append_truncated("cdefg"), 3u);
  EXPECT_EQ(text, "abcde");
  EXPECT_EQ(text.append_truncated("h"), 0u);
}

// A received string's length is another process's word.
TEST(FixedString, AForgedLengthIsBoundedByTheCapacity) {
  FixedString<8> text = "abc";
  const std::uint32_t forged = 0xFFFF'FFFF;
  std::memcpy(static_cast<void*>(&text), &forged, sizeof forged);  // the length field comes first
  EXPECT_EQ(text.size(), 8u);
  EXPECT_EQ(text.view().size(), 8u);
  EXPECT_EQ(text.view().substr(0, 3), "abc");
  EXPECT_FALSE(text.try_push_back('x'));
}

TEST(FixedVector, ReadsAndWritesLikeAVector) {
  FixedVector<Point, 4> points{{1, 2}, {3, 4}};
  points.push_back({5, 6});
  EXPECT_EQ(points.size(), 3u);
  EXPECT_EQ(points.back(), (Point{5, 6}));
  points.emplace_back(7, 8);
  EXPECT_TRUE(points.full());
  std::span<const Point> span = points;
  EXPECT_EQ(span.size(), 4u);
  EXPECT_EQ(span[1], (Point{3, 4}));
  points.erase(points.begin());
  EXPECT_EQ(points.front(), (Point{3, 4}));
  points.insert(points.begin() + 1, points.front());  // an element of its own
  EXPECT_EQ(points[0], (Point{3, 4}));
  EXPECT_EQ(points[1], (Point{3, 4}));
  EXPECT_EQ(points[2], (Point{5, 6}));
  EXPECT_EQ(points.erase(points.end()), points.end());
  EXPECT_THROW((void)points.at(4), std::out_of_range);
  points.pop_back();
  points.resize(2);
  EXPECT_EQ(points, (FixedVector<Point, 4>{{3, 4}, {3, 4}}));
  const std::vector<int> numbers{3, 1, 2};
  FixedVector<int, 8> sorted{std::span<const int>(numbers)};
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (FixedVector<int, 8>{1, 2, 3}));
  EXPECT_LT((FixedVector<int, 8>{1, 2}), sorted);
  // Whatever the capacities, as FixedStrings compare.
  EXPECT_EQ((FixedVector<int, 3>{1, 2, 3}), sorted);
  EXPECT_NE((FixedVector<int, 5>{1, 2}), sorted);
  EXPECT_LT((FixedVector<int, 2>{1, 2}), sorted);
  EXPECT_GT(sorted, (FixedVector<int, 2>{1, 2}));
}

TEST(FixedVector, AWritePastTheCapacityThrowsAndChangesNothing) {
  FixedVector<int, 3> numbers{1, 2};
  const std::array<int, 2> two{3, 4};
  EXPECT_EQ(error_of([&] { numbers.append(two); }), Errc::exceeds_capacity);
  EXPECT_EQ(numbers, (FixedVector<int, 3>{1, 2}));
  EXPECT_FALSE(numbers.try_append(two));
  numbers.push_back(3);
  EXPECT_EQ(error_of([&] { numbers.push_back(4); }), Errc::exceeds_capacity);
  EXPECT_EQ(error_of([&] { numbers.emplace_back(4); }), Errc::exceeds_capacity);
  EXPECT_EQ(error_of([&] { numbers.insert(numbers.begin(), 0); }), Errc::exceeds_capacity);
  EXPECT_EQ(error_of([&] { numbers.resize(4); }), Errc::exceeds_capacity);
  EXPECT_EQ(error_of([] { FixedVector<int, 1> made{1, 2}; }), Errc::exceeds_capacity);
  EXPECT_FALSE(numbers.try_push_back(4));
  EXPECT_EQ(numbers, (FixedVector<int, 3>{1, 2, 3}));
}

TEST(FixedVector, TruncationIsAskedForByName) {
  const std::array<int, 5> five{1, 2, 3, 4, 5};
  EXPECT_EQ((FixedVector<int, 3>::truncated(five)), (FixedVector<int, 3>{1, 2, 3}));
  FixedVector<int, 4> numbers{9};
  EXPECT_EQ(numbers.append_truncated(five), 3u);
  EXPECT_EQ(numbers, (FixedVector<int, 4>{9, 1, 2, 3}));
}

TEST(FixedVector, AForgedSizeIsBoundedByTheCapacity) {
  FixedVector<std::uint64_t, 4> numbers{1, 2};
  const std::uint32_t forged = 1'000'000;
  std::memcpy(static_cast<void*>(&numbers), &forged, sizeof forged);  // the size field comes first
  EXPECT_EQ(numbers.size(), 4u);
  EXPECT_EQ(numbers.span().size(), 4u);
  EXPECT_EQ(numbers.end() - numbers.begin(), 4);
  EXPECT_FALSE(numbers.try_push_back(3));
}

// Across processes: full containers arrive whole, and lengths a peer forged are read bounded (a
// read past the payload would be caught by the sanitizer stages).
struct Order {
  FixedString<16> customer;
  FixedVector<Point, 4> points;
  static constexpr std::string_view floe_type_name = "test::Order";
};

TEST(FixedVector, PrintsWithOperatorShiftAsItsFmtFormatterDoes) {
  auto printed = [](const auto& value) {
    std::ostringstream out;
    out << value;
    return out.str();
  };
  EXPECT_EQ(printed(FixedVector<int, 4>{1, 2, 3}), "[1, 2, 3]");
  EXPECT_EQ(printed(FixedVector<int, 4>{}), "[]");
  EXPECT_EQ(printed(FixedVector<char, 4>{'a', 'b'}), "['a', 'b']");
  EXPECT_EQ(printed(FixedVector<std::uint8_t, 4>{1, 65}), "[1, 65]") << "numbers, not characters";
  EXPECT_EQ(printed(FixedVector<std::int8_t, 4>{-1, 66}), "[-1, 66]");
  EXPECT_EQ(printed(FixedVector<FixedString<4>, 2>{FixedString<4>("x"), FixedString<4>("yz")}),
            "[\"x\", \"yz\"]");
}

TEST(FixedContainersAcrossProcesses, FullContainersArriveWholeAndForgedLengthsBounded) {
  const Config config = isolated_config();
  const auto open_service = [&](Node& node) {
    return node.service_builder("Test/Containers")
        .request_response<Order, Order>()
        .open_or_create();
  };
  Node node = Node::create("client", config);
  auto service = open_service(node);
  auto client = service.client_builder().create();
  ChildProcess server = started([&](const Signal& ready) {
    Node other = Node::create("server", config);
    auto opened = open_service(other);
    auto port = opened.server_builder().create();
    ready.notify();
    for (int i = 0; i < 2; ++i) {
      auto request = receive_within(port);
      FLOE_CHILD_CHECK(request);
      const Order& order = request->payload();
      Order echo;  // what the server could read, copied back
      echo.customer = FixedString<16>::truncated(order.customer.view());
      echo.points = FixedVector<Point, 4>::truncated(order.points.span());
      request->send_copy(echo);
    }
    return 0;
  });

  const auto round_trip = [&](auto write) {
    auto request = client.loan();
    write(request.payload());
    auto pending = std::move(request).send();
    auto response = receive_within(pending);
    EXPECT_TRUE(response) << "no echo";
    return response ? response->payload() : Order{};
  };

  const Order full = round_trip([](Order& order) {
    order.customer = "sixteen-chars-ok";
    for (std::int32_t i = 0; i < 4; ++i)
      order.points.push_back({i, -i});
  });
  EXPECT_EQ(full.customer, "sixteen-chars-ok");
  EXPECT_EQ(full.points, (FixedVector<Point, 4>{{0, 0}, {1, -1}, {2, -2}, {3, -3}}));

  const Order forged = round_trip([](Order& order) {
    order.customer = "abc";
    order.points.push_back({1, 1});
    const std::uint32_t huge = 0xFFFF'FFFF;
    std::memcpy(static_cast<void*>(&order.customer), &huge, sizeof huge);
    std::memcpy(static_cast<void*>(&order.points), &huge, sizeof huge);
  });
  EXPECT_EQ(forged.customer.size(), 16u);
  EXPECT_EQ(forged.customer.view().substr(0, 3), "abc");
  EXPECT_EQ(forged.points.size(), 4u);
  EXPECT_EQ(forged.points[0], (Point{1, 1}));
  EXPECT_EQ(server.wait(), 0);
}

}  // namespace
}  // namespace floe::test
