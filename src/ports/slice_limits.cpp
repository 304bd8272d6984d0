#include "ports/slice_limits.hpp"

#include <string>

#include "floe/error.hpp"
#include "registry/service_segment.hpp"

namespace floe::detail {

namespace {

/// The most elements the service's chunks hold inline on `side` (0: not a slice).
std::uint64_t service_max_slice_len(const ServiceSegment& segment, SliceSide side) noexcept {
  return side == SliceSide::request ? segment.layout().request_slice_capacity()
                                    : segment.layout().response_slice_capacity();
}

}  // namespace

std::uint64_t port_max_slice_len(const ServiceSegment& segment, SliceSide side,
                                 SlicePolicy policy) {
  const bool request = side == SliceSide::request;
  const std::uint64_t service_max = service_max_slice_len(segment, side);
  if (policy.max_len == 0) return service_max;
  const std::string role = request ? "request" : "response";
  const std::string asked = "the " + std::string(request ? "client" : "server") +
                            " builder's initial_max_slice_len(" + std::to_string(policy.max_len) +
                            ")";
  if (service_max == 0) {
    throw Error(Errc::incompatible_limits, "floe: service '" + segment.service_name() +
                                               "': " + asked + " is given, but its " + role +
                                               " payload is not a floe::Slice");
  }
  // A growing port writes up to the service's max inline; its initial max above that is its
  // first data segment's (reserved at creation, DataPool::reserve).
  if (policy.max_len > service_max && policy.strategy != AllocationStrategy::fixed) {
    if (policy.max_len > kMaxSliceLen) {
      throw Error(Errc::incompatible_limits,
                  "floe: service '" + segment.service_name() + "': " + asked +
                      " is more than a slice may hold, floe::kMaxSliceLen = " +
                      std::to_string(kMaxSliceLen) + " elements");
    }
    return service_max;
  }
  if (policy.max_len > service_max) {
    throw Error(Errc::incompatible_limits,
                "floe: service '" + segment.service_name() + "': " + asked +
                    " is more than the service's " + role +
                    "_max_slice_len = " + std::to_string(service_max) +
                    ", which every chunk is sized for; ask for at most that, let the port grow "
                    "(allocation_strategy), or create the service with a larger " +
                    role + "_max_slice_len");
  }
  return policy.max_len;
}

void throw_exceeds_max_slice_len(const ServiceSegment& segment, SliceSide side, std::uint32_t slot,
                                 std::uint64_t length, std::uint64_t max, bool growing) {
  const bool request = side == SliceSide::request;
  const std::string service_max = request ? "request_max_slice_len" : "response_max_slice_len";
  const std::uint64_t service_capacity = service_max_slice_len(segment, side);
  const std::string grow =
      "let the port grow past the service's maximum "
      "(.allocation_strategy(floe::AllocationStrategy::power_of_two or best_fit) on its builder)";
  std::string fix;
  if (growing) {
    fix =
        " elements, the most any growing port's slice may hold (floe::kMaxSliceLen; its data "
        "segments are also capped at 4 GiB per slot and 64 GiB in all). Loan fewer elements, "
        "or split the payload over several messages";
  } else if (max < service_capacity) {
    fix = " elements, its initial_max_slice_len. Loan fewer, " + grow +
          ", or raise its initial_max_slice_len (up to the service's " + service_max + " = " +
          std::to_string(service_capacity) + ")";
  } else {
    fix = " elements, the service's " + service_max + ". Loan fewer, " + grow +
          ", or create the service with a larger " + service_max;
  }
  throw Error(Errc::exceeds_max_slice_len,
              "floe: " + std::string(request ? "client " : "server ") + std::to_string(slot) +
                  " of service '" + segment.service_name() + "' cannot loan a " +
                  (request ? "request" : "response") + " slice of " + std::to_string(length) +
                  " elements: it may loan at most " + std::to_string(max) + fix);
}

}  // namespace floe::detail
