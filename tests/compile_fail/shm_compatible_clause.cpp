// Must not compile: each FLOE_CLAUSE_* gives a payload that fails one clause of ShmCompatible,
// and the CompileFail test of that clause looks for the clause's own message.
#include <floe/floe.hpp>

#include <cstdint>
#include <string_view>

#if defined(FLOE_CLAUSE_REFERENCE)
using Payload = int&;
#elif defined(FLOE_CLAUSE_POINTER)
using Payload = int*;
#elif defined(FLOE_CLAUSE_STANDARD_LAYOUT)
struct Payload {
  int shown;

 private:
  int hidden = 0;  // mixed access: not standard layout
};
#elif defined(FLOE_CLAUSE_DEFAULT_CONSTRUCTIBLE)
struct Payload {
  explicit Payload(int v) : value(v) {}
  int value;
};
#elif defined(FLOE_CLAUSE_ALIGNMENT)
struct alignas(8192) Payload {
  char byte;
};
#elif defined(FLOE_CLAUSE_SIZE)
struct Payload {
  char bytes[(std::uint64_t{1} << 32) + 1];
};
#elif defined(FLOE_CLAUSE_TYPE_NAME_NOT_A_STRING)
struct Payload {
  static constexpr int floe_type_name = 7;
  int value;
};
#elif defined(FLOE_CLAUSE_TYPE_NAME_TOO_LONG)
struct Payload {
  static constexpr std::string_view floe_type_name =
      "0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789012345678901234567890123456789";
  int value;
};
#elif defined(FLOE_CLAUSE_TYPE_NAME_EMPTY)
struct Payload {
  static constexpr std::string_view floe_type_name = "";
  int value;
};
#else
#error "define one FLOE_CLAUSE_*"
#endif

int main() {
  auto node = floe::Node::create("compile-fail");
  auto service =
      node.service_builder("Compile/Fail").request_response<Payload, int>().open_or_create();
  (void)service;
}
