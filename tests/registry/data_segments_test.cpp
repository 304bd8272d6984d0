#include "registry/data_segments.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>

#include "segment/in_memory_segment.hpp"
#include "support/fixture.hpp"

namespace floe::detail {
namespace {

using test::small_limits;
using test::stored_type;

class DataSegments : public ::testing::Test {
 protected:
  SegmentLayout layout =
      *SegmentLayout::compute(small_limits(), stored_type(16, 8), stored_type(8, 8),
                              stored_type(0, 1), stored_type(0, 1), 1, 1, 4, 2);
  std::string name = "/floe_d." + floe::test::isolated_config().domain + ".0123456789abcdef.c3-7-1";
  DataSegmentGeometry geometry = *data_segment_geometry(layout, DataSegmentKind::request, 64);

  ~DataSegments() override { ::shm_unlink(name.c_str()); }

  WrittenDataSegment create() {
    return WrittenDataSegment(name,
                              make_data_segment_header(DataSegmentKind::request, 3, 7, 1, geometry),
                              geometry, false, "Test/Service");
  }
  DataSegmentOpening open(std::uint32_t number = 1) {
    return open_data_segment(name, layout, DataSegmentKind::request, 3, 7, number, false);
  }
};

/// Whether a child that wrote through a read-only mapping died of it: by SIGSEGV, or under a
/// sanitizer (whose handler takes the fault) by its report and abort.
bool died_of_the_fault(int status) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
#endif
}

TEST_F(DataSegments, AReceiverReadsWhatTheWriterWroteReadOnly) {
  const WrittenDataSegment written = create();
  std::memset(written.slot(5), 0x5a, geometry.slot_stride);
  auto opening = open();
  ASSERT_EQ(opening.outcome, DataSegmentOpening::Outcome::mapped) << opening.problem;
  EXPECT_EQ(opening.segment->geometry().total_size, geometry.total_size);
  EXPECT_EQ(static_cast<unsigned char>(opening.segment->slot(5)[geometry.slot_stride - 1]), 0x5a);
  struct stat status {};
  ASSERT_EQ(::stat(("/dev/shm" + name).c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<std::uint64_t>(status.st_size), geometry.total_size);
  EXPECT_GE(static_cast<std::uint64_t>(status.st_blocks) * 512, geometry.total_size)
      << "every byte reserved";
  // Read-only: a write through the receiver's mapping faults.
  EXPECT_EXIT(
      {
        auto o = open();
        const_cast<std::byte*>(o.segment->slot(0))[0] = std::byte{1};
        std::exit(0);
      },
      died_of_the_fault, "");
  written.unlink();
  EXPECT_EQ(open().outcome, DataSegmentOpening::Outcome::missing);
  EXPECT_EQ(static_cast<unsigned char>(opening.segment->slot(5)[0]), 0x5a)
      << "a mapping outlives the name";
}

TEST_F(DataSegments, ALeftoverAtTheNameIsReplaced) {
  const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  ::close(fd);
  const WrittenDataSegment written = create();
  auto opening = open();
  EXPECT_EQ(opening.outcome, DataSegmentOpening::Outcome::mapped) << opening.problem;
}

TEST_F(DataSegments, HostileObjectsAreRefusedNeverMapped) {
  const WrittenDataSegment written = create();
  EXPECT_EQ(open(2).outcome, DataSegmentOpening::Outcome::refused) << "another number";
  EXPECT_EQ(open_data_segment(name, layout, DataSegmentKind::response, 3, 7, 1, false).outcome,
            DataSegmentOpening::Outcome::refused);
  EXPECT_EQ(open_data_segment(name, layout, DataSegmentKind::request, 3, 8, 1, false).outcome,
            DataSegmentOpening::Outcome::refused);
  // Readable by everyone: never joined.
  ASSERT_EQ(::chmod(("/dev/shm" + name).c_str(), 0666), 0);
  auto opening = open();
  EXPECT_EQ(opening.outcome, DataSegmentOpening::Outcome::refused);
  EXPECT_NE(opening.problem.find("every user"), std::string::npos) << opening.problem;
  ASSERT_EQ(::chmod(("/dev/shm" + name).c_str(), 0600), 0);
  // Shrunk: its size no longer matches its header.
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(geometry.total_size - 4096)), 0);
  EXPECT_EQ(open().outcome, DataSegmentOpening::Outcome::refused);
  // Smaller than a header page.
  ASSERT_EQ(::ftruncate(fd, 100), 0);
  EXPECT_EQ(open().outcome, DataSegmentOpening::Outcome::refused);
  // A header claiming a larger max, in an object fully sized (and allocated) for it, but with a
  // stride of its own.
  const auto larger = *data_segment_geometry(layout, DataSegmentKind::request, 128);
  ASSERT_EQ(::posix_fallocate(fd, 0, static_cast<off_t>(larger.total_size)), 0);
  DataSegmentHeader forged = make_data_segment_header(DataSegmentKind::request, 3, 7, 1, larger);
  forged.slot_stride = 1ull << 40;
  ASSERT_EQ(::pwrite(fd, &forged, sizeof forged, 0), static_cast<ssize_t>(sizeof forged));
  EXPECT_EQ(open().outcome, DataSegmentOpening::Outcome::refused);
  // The same header with the right stride: taken, with the geometry computed here.
  forged.slot_stride = larger.slot_stride;
  ASSERT_EQ(::pwrite(fd, &forged, sizeof forged, 0), static_cast<ssize_t>(sizeof forged));
  auto taken = open();
  ASSERT_EQ(taken.outcome, DataSegmentOpening::Outcome::mapped) << taken.problem;
  EXPECT_EQ(taken.segment->geometry().max_slice_len, 128u);
  ::close(fd);
}

}  // namespace
}  // namespace floe::detail
