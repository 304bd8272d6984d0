// floe::FixedString and floe::FixedVector print with {fmt} as the standard containers do:
// the string through its std::string_view conversion, the vector as a range (fmt/ranges.h).

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>

#include "floe/fixed_string.hpp"
#include "floe/fixed_vector.hpp"

namespace floe::test {
namespace {

TEST(FixedContainersFmt, FormatAsTheirStandardCounterparts) {
  const FixedString<8> name = "floe";
  const FixedVector<int, 4> numbers{1, 2, 3};
  EXPECT_EQ(fmt::format("{}|{:>6}|{}", name, name, numbers), "floe|  floe|[1, 2, 3]");
  // operator<< prints as the formatter does.
  const FixedVector<std::uint8_t, 2> bytes{1, 65};
  const FixedVector<std::int8_t, 2> small{-1, 66};
  std::ostringstream streamed;
  streamed << numbers << FixedVector<char, 2>{'a', 'b'}
           << FixedVector<FixedString<4>, 2>{FixedString<4>("x"), FixedString<4>("yz")} << bytes
           << small;
  EXPECT_EQ(streamed.str(),
            fmt::format("{}{}{}{}{}", numbers, FixedVector<char, 2>{'a', 'b'},
                        FixedVector<FixedString<4>, 2>{FixedString<4>("x"), FixedString<4>("yz")},
                        bytes, small));
}

}  // namespace
}  // namespace floe::test
