#include "ports/data_pool.hpp"

#include <algorithm>
#include <bit>
#include <bitset>
#include <string>

#include "floe/error.hpp"
#include "registry/names.hpp"
#include "registry/service_segment.hpp"

namespace floe::detail {

namespace {

/// Every this many loans (inline or into data segments), a pool with old segments looks for
/// drained ones; a growth always does first.
constexpr std::uint32_t kSweepEvery = 64;

}  // namespace

DataPool::DataPool(const ServiceSegment& segment, DataSegmentKind kind, std::uint32_t writer_slot,
                   std::uint32_t writer_generation, AllocationStrategy strategy,
                   SlotIsFree slot_is_free)
    : segment_(segment),
      kind_(kind),
      writer_slot_(writer_slot),
      writer_generation_(writer_generation),
      strategy_(strategy),
      slot_is_free_(std::move(slot_is_free)),
      number_of_slot_(data_segment_slots(segment.layout(), kind)) {}

DataPool::~DataPool() {
  // A segment with a chunk still queued or held stays named, so its receivers can still map
  // it: a server that sends its last response and closes at once must not take it along. The
  // service's removal (or the reclaim of this slot's prefix) unlinks it.
  std::bitset<kMaxDataSegmentNumber + 1> referenced;
  for (std::uint64_t slot = 0; slot < number_of_slot_.size(); ++slot) {
    const std::uint8_t number = number_of_slot_[slot].load(std::memory_order_relaxed);
    if (number != 0 && !slot_is_free_(slot)) referenced[number] = true;
  }
  for (const auto& data : live_) {
    if (!referenced[data->number()]) data->unlink();
  }
}

std::byte* DataPool::place(std::uint64_t slot, std::uint64_t length, std::uint32_t& number) {
  const std::lock_guard lock(mutex_);
  count_loan_locked();
  if (live_.empty() || length > live_.back()->geometry().max_slice_len) grow_locked(length);
  const WrittenDataSegment& newest = *live_.back();
  number = newest.number();
  number_of_slot_[slot].store(static_cast<std::uint8_t>(number), std::memory_order_relaxed);
  return newest.slot(slot);
}

void DataPool::reserve(std::uint64_t length) {
  const std::lock_guard lock(mutex_);
  if (live_.empty() || length > live_.back()->geometry().max_slice_len) grow_locked(length);
}

void DataPool::note_inline_loan(std::uint64_t slot) noexcept {
  number_of_slot_[slot].store(0, std::memory_order_relaxed);
  if (!has_old_segments_.load(std::memory_order_relaxed)) return;
  const std::lock_guard lock(mutex_);
  count_loan_locked();
}

void DataPool::count_loan_locked() noexcept {
  if (live_.size() > 1 && ++loans_since_sweep_ >= kSweepEvery) sweep_locked();
}

void DataPool::sweep() noexcept {
  const std::lock_guard lock(mutex_);
  sweep_locked();
}

void DataPool::sweep_locked() noexcept {
  loans_since_sweep_ = 0;
  if (live_.size() < 2) return;
  std::bitset<kMaxDataSegmentNumber + 1> referenced;  // on the stack: the sweep runs on loans
  for (std::uint64_t slot = 0; slot < number_of_slot_.size(); ++slot) {
    const std::uint8_t number = number_of_slot_[slot].load(std::memory_order_relaxed);
    if (number == 0 || number == live_.back()->number()) continue;
    if (slot_is_free_(slot)) {
      // Read by nobody now, and a later loan there goes inline or to the newest.
      number_of_slot_[slot].store(0, std::memory_order_relaxed);
    } else {
      referenced[number] = true;
    }
  }
  std::erase_if(live_, [&](const std::unique_ptr<WrittenDataSegment>& data) {
    if (data == live_.back() || referenced[data->number()]) return false;
    data->unlink();
    return true;
  });
  has_old_segments_.store(live_.size() > 1, std::memory_order_relaxed);
}

void DataPool::grow_locked(std::uint64_t length) {
  if (next_number_ > kMaxDataSegmentNumber) {
    refuse_growth(length, "the port grew " + std::to_string(kMaxDataSegmentNumber) +
                              " times, as often as one port may; create a new port (or loan "
                              "with allocation_strategy(power_of_two), which grows less often)");
  }
  // Growing is cold already (a new object, its mapping): the newest of now becomes old, and the
  // old ones every message of which was released go first.
  sweep_locked();
  if (live_.size() >= kMaxLiveDataSegments) {
    refuse_growth(length, "the port holds " + std::to_string(kMaxLiveDataSegments) +
                              " data segments whose chunks receivers still hold; drop received "
                              "messages first");
  }
  std::uint64_t max = length;
  if (strategy_ == AllocationStrategy::power_of_two) {
    max = std::min<std::uint64_t>(std::bit_ceil(length), kMaxSliceLen);
  }
  const auto geometry = data_segment_geometry(segment_.layout(), kind_, max);
  if (!geometry) {
    refuse_growth(length, "a data segment of one slot per chunk of the port, each of " +
                              std::to_string(max) +
                              " elements, would exceed 4 GiB per slot or 64 GiB in all; loan "
                              "fewer elements, or lower the service's limits");
  }
  const std::uint32_t number = next_number_;
  const auto writer =
      kind_ == DataSegmentKind::request ? DataSegmentWriter::client : DataSegmentWriter::server;
  live_.push_back(std::make_unique<WrittenDataSegment>(
      data_segment_name(segment_.object_name(), writer, writer_slot_, writer_generation_, number),
      make_data_segment_header(kind_, writer_slot_, writer_generation_, number, *geometry),
      *geometry, segment_.shared_with_group(), segment_.service_name()));
  ++next_number_;
  has_old_segments_.store(live_.size() > 1, std::memory_order_relaxed);
}

void DataPool::refuse_growth(std::uint64_t length, const std::string& why) const {
  const bool request = kind_ == DataSegmentKind::request;
  throw Error(Errc::exceeds_max_slice_len,
              "floe: " + std::string(request ? "client " : "server ") +
                  std::to_string(writer_slot_) + " of service '" + segment_.service_name() +
                  "' cannot grow to loan a " + (request ? "request" : "response") + " slice of " +
                  std::to_string(length) + " elements: " + why);
}

}  // namespace floe::detail
