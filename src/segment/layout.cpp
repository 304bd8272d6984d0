#include "segment/layout.hpp"

#include <algorithm>
#include <cstdio>

#include "shm/atomics.hpp"

namespace floe::detail {
namespace {

/// Arithmetic on sizes that a hostile header may have chosen: every step checks for overflow.
class CheckedSize {
 public:
  explicit CheckedSize(std::uint64_t value = 0) : value_(value) {}
  CheckedSize& add(std::uint64_t v) {
    ok_ = ok_ && !__builtin_add_overflow(value_, v, &value_);
    return *this;
  }
  CheckedSize& multiply(std::uint64_t v) {
    ok_ = ok_ && !__builtin_mul_overflow(value_, v, &value_);
    return *this;
  }
  CheckedSize& align(std::uint64_t alignment) {
    const std::uint64_t rest = value_ % alignment;
    if (rest != 0) add(alignment - rest);
    return *this;
  }
  bool ok() const { return ok_; }
  std::uint64_t value() const { return value_; }

 private:
  std::uint64_t value_;
  bool ok_ = true;
};

bool is_power_of_two(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

bool is_valid_alignment(std::uint64_t alignment) {
  return is_power_of_two(alignment) && alignment <= 4096;
}

/// `with_state`: a 32-bit state word follows the header (response chunks). The payload starts
/// at the larger of its type's alignment and `payload_alignment`. `max_slice_len` != 0: the
/// payload is a slice of up to that many elements of `payload`, its descriptor after the
/// header (and state word).
std::optional<ChunkShape> shape_of(std::uint64_t header_size, bool with_state,
                                   const StoredType& user_header, const StoredType& payload,
                                   std::uint64_t payload_alignment, std::uint64_t max_slice_len) {
  for (const StoredType* t : {&user_header, &payload}) {
    if (!is_valid_alignment(t->alignment) || t->size > (1ull << 32)) return std::nullopt;
  }
  if (!is_valid_alignment(payload_alignment)) return std::nullopt;
  // A slice of elements of no size, or of more than a payload may hold, is a hostile header.
  CheckedSize payload_size(payload.size);
  if (max_slice_len != 0) {
    payload_size.multiply(max_slice_len);
    if (payload.size == 0 || max_slice_len > kMaxSliceLen || !payload_size.ok() ||
        payload_size.value() > (1ull << 32)) {
      return std::nullopt;
    }
  }
  payload_alignment = std::max(payload_alignment, payload.alignment);
  ChunkShape shape;
  CheckedSize at(header_size);
  if (with_state) {
    at.align(4);
    shape.state_offset = at.value();
    at.add(4);
  }
  if (max_slice_len != 0) {
    at.align(alignof(SliceDescriptor));
    shape.slice_offset = at.value();
    at.add(sizeof(SliceDescriptor));
  }
  at.align(user_header.alignment);
  shape.user_header_offset = at.value();
  at.add(user_header.size).align(payload_alignment);
  shape.payload_offset = at.value();
  // Chunks start on cache lines so two chunks never share one between writers.
  at.add(payload_size.value())
      .align(std::max<std::uint64_t>({64, user_header.alignment, payload_alignment}));
  shape.stride = at.value();
  if (!at.ok()) return std::nullopt;
  return shape;
}

}  // namespace

std::optional<SegmentLayout> SegmentLayout::compute(
    const StoredLimits& limits, const StoredType& request, const StoredType& response,
    const StoredType& request_user_header, const StoredType& response_user_header,
    std::uint64_t request_payload_alignment, std::uint64_t response_payload_alignment,
    std::uint64_t request_max_slice_len, std::uint64_t response_max_slice_len) noexcept {
  // The ranges creation checks; a flag is read as zero or not, whatever its byte holds.
  for (const LimitInfo& limit : kLimits) {
    if (!limit.is_flag && !limit.contains(limit_value(limits, limit.id))) return std::nullopt;
  }
  SegmentLayout l;
  l.limits_ = limits;
  l.request_chunks_ = limits.max_loaned_requests + limits.max_active_requests_per_client;
  l.response_chunks_ = limits.max_response_buffer_size +
                       limits.max_borrowed_responses_per_pending_response +
                       limits.max_loaned_responses_per_request;

  auto request_shape = shape_of(sizeof(RequestHeader), false, request_user_header, request,
                                request_payload_alignment, request_max_slice_len);
  auto response_shape = shape_of(sizeof(ResponseHeader), true, response_user_header, response,
                                 response_payload_alignment, response_max_slice_len);
  if (!request_shape || !response_shape) return std::nullopt;
  l.request_slice_capacity_ = request_max_slice_len;
  l.response_slice_capacity_ = response_max_slice_len;
  l.request_element_size_ = request.size;
  l.response_element_size_ = response.size;
  l.request_payload_alignment_ = std::max(request_payload_alignment, request.alignment);
  l.response_payload_alignment_ = std::max(response_payload_alignment, response.alignment);
  l.request_shape_ = *request_shape;
  l.response_shape_ = *response_shape;

  const std::uint64_t clients = limits.max_clients;
  const std::uint64_t servers = limits.max_servers;
  const std::uint64_t active = limits.max_active_requests_per_client;

  CheckedSize at(sizeof(ServiceHeader));
  at.align(64);
  l.nodes_ = at.value();
  at.add(sizeof(NodeRecord) * std::uint64_t{limits.max_nodes});
  l.clients_ = at.value();
  at.add(sizeof(PortRecord) * clients);
  l.servers_ = at.value();
  at.add(sizeof(PortRecord) * servers);
  l.client_channels_ = at.value();
  at.add(CheckedSize(sizeof(ClientChannel)).multiply(clients).multiply(active).value());
  l.request_chunk_states_ = at.value();
  at.add(CheckedSize(4).multiply(clients).multiply(l.request_chunks_).value()).align(64);

  l.request_queue_stride_ = CheckedSize(queue_bytes(active)).align(64).value();
  l.request_queues_ = at.value();
  at.add(CheckedSize(l.request_queue_stride_).multiply(clients).multiply(servers).value());

  // Chunks are aligned as their stride is (a multiple of their alignment and of 64): channels
  // start on such a boundary too.
  const std::uint64_t chunk_alignment = l.response_shape_.stride & ~(l.response_shape_.stride - 1);
  const std::uint64_t channel_alignment = std::min<std::uint64_t>(chunk_alignment, 4096);
  l.response_chunks_in_channel_ =
      CheckedSize(sizeof(ResponseChannelHead) + queue_bytes(limits.max_response_buffer_size))
          .align(channel_alignment)
          .value();
  const CheckedSize response_bytes =
      CheckedSize(l.response_shape_.stride).multiply(l.response_chunks_);
  l.response_channel_stride_ = CheckedSize(l.response_chunks_in_channel_)
                                   .add(response_bytes.value())
                                   .align(channel_alignment)
                                   .value();
  const CheckedSize channels = CheckedSize(servers).multiply(clients).multiply(active);
  at.align(channel_alignment);
  l.response_channels_ = at.value();
  at.add(CheckedSize(l.response_channel_stride_).multiply(channels.value()).value()).align(4096);

  l.request_chunks_offset_ = at.value();
  at.add(CheckedSize(l.request_shape_.stride).multiply(clients).multiply(l.request_chunks_).value())
      .align(4096);
  l.total_size_ = at.value();

  // A segment larger than 64 GiB is a mistake in the limits (or a hostile header).
  if (!at.ok() || !channels.ok() || !response_bytes.ok() || l.total_size_ > (64ull << 30)) {
    return std::nullopt;
  }
  return l;
}

void store_node_name(NodeRecord& record, std::string_view name) noexcept {
  const std::size_t length = std::min<std::size_t>(name.size(), kMaxNodeNameLength);
  for (std::size_t i = 0; i < length; ++i) {
    store(record.name[i], name[i], std::memory_order_relaxed);
  }
  store(record.name_length, static_cast<std::uint32_t>(length));
}

std::string node_name_of(const NodeRecord& record) {
  NodeRecord& shared = const_cast<NodeRecord&>(record);
  const std::uint32_t length = std::min(load(shared.name_length), kMaxNodeNameLength);
  std::string name(length, '\0');
  for (std::uint32_t i = 0; i < length; ++i) {
    name[i] = load(shared.name[i], std::memory_order_relaxed);
  }
  return name;
}

std::string human_size(std::uint64_t bytes) {
  constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::uint64_t SegmentLayout::response_chunk_bytes() const noexcept {
  // compute() checked that the whole segment's arithmetic does not overflow.
  return std::uint64_t{limits_.max_servers} * limits_.max_clients *
         limits_.max_active_requests_per_client * response_chunks_ * response_shape_.stride;
}

std::uint64_t SegmentLayout::request_chunk_bytes() const noexcept {
  return std::uint64_t{limits_.max_clients} * request_chunks_ * request_shape_.stride;
}

namespace {

/// "1.0 KiB", or for a slice "1.0 KiB (64 max elements x 16 B + 64 B)": a chunk's stride.
std::string describe_stride(const ChunkShape& shape, std::uint64_t max_slice_len,
                            std::uint64_t element_size) {
  std::string text = human_size(shape.stride);
  if (max_slice_len == 0) return text;
  const std::uint64_t elements = max_slice_len * element_size;
  return text + " (" + std::to_string(max_slice_len) + " max elements x " +
         human_size(element_size) + " + " + human_size(shape.stride - elements) + ")";
}

}  // namespace

std::string SegmentLayout::describe_size() const {
  const auto& l = limits_;
  const std::uint64_t response = response_chunk_bytes();
  const std::uint64_t request = request_chunk_bytes();
  return human_size(total_size_) + " = response chunks " + std::to_string(l.max_servers) +
         " max_servers x " + std::to_string(l.max_clients) + " max_clients x " +
         std::to_string(l.max_active_requests_per_client) + " max_active_requests_per_client x " +
         std::to_string(response_chunks_) + " (" + std::to_string(l.max_response_buffer_size) +
         " max_response_buffer_size + " +
         std::to_string(l.max_borrowed_responses_per_pending_response) +
         " max_borrowed_responses_per_pending_response + " +
         std::to_string(l.max_loaned_responses_per_request) +
         " max_loaned_responses_per_request) x " +
         describe_stride(response_shape_, response_slice_capacity_, response_element_size_) +
         " = " + human_size(response) + ", + request chunks " + std::to_string(l.max_clients) +
         " max_clients x " + std::to_string(request_chunks_) + " (" +
         std::to_string(l.max_loaned_requests) + " max_loaned_requests + " +
         std::to_string(l.max_active_requests_per_client) + " max_active_requests_per_client) x " +
         describe_stride(request_shape_, request_slice_capacity_, request_element_size_) + " = " +
         human_size(request) + ", + bookkeeping " +
         human_size(total_size_ - std::min(total_size_, response + request));
}

std::string SegmentLayout::limits_to_lower() const {
  if (response_chunk_bytes() >= request_chunk_bytes()) {
    return std::string(
               "max_response_buffer_size, max_borrowed_responses_per_pending_response, "
               "max_loaned_responses_per_request, max_active_requests_per_client, "
               "max_clients or max_servers (or ") +
           (response_slice_capacity_ != 0 ? "response_max_slice_len" : "the response size") + ")";
  }
  return std::string("max_loaned_requests, max_active_requests_per_client or max_clients (or ") +
         (request_slice_capacity_ != 0 ? "request_max_slice_len" : "the request size") + ")";
}

}  // namespace floe::detail
