// A guarded mapping survives its object shrinking under it; nothing else about SIGBUS changes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "platform/file_descriptor.hpp"
#include "platform/shared_memory.hpp"
#include "support/process.hpp"

namespace floe::test {
namespace {

constexpr std::size_t kSize = 3 * 4096;

/// An unnamed shared-memory object of kSize bytes.
detail::SharedMemoryObject make_object() {
  auto object = detail::SharedMemoryObject::create_unnamed(0600);
  object.reserve(kSize);
  return object;
}

/// A mapping floe does not guard, shrunk under it: touching it is a fault nobody absorbs.
volatile std::byte* unguarded_shrunk_mapping() {
  auto object = make_object();
  void* p = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, object.fd(), 0);
  if (p == MAP_FAILED || ::ftruncate(object.fd(), 0) != 0) ::_exit(3);
  return static_cast<volatile std::byte*>(p);
}

/// A SIGBUS that is not floe's ends the process as it would without floe: by SIGBUS, or under
/// a sanitizer (whose handler was there first, and gets it) by the sanitizer's report and exit.
bool killed_as_without_floe(int exit_code) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return exit_code > 0;  // the child returns 0 if it survived
#else
  return exit_code == 128 + SIGBUS;
#endif
}

TEST(SigbusGuard, AShrunkObjectTurnsIntoPrivateZerosNotADeadProcess) {
  ChildProcess child([] {
    auto object = make_object();
    detail::Mapping mapping(object.fd(), kSize);
    std::memset(mapping.data(), 0x5a, kSize);
    FLOE_CHILD_CHECK(!mapping.damaged());
    FLOE_CHILD_CHECK(::ftruncate(object.fd(), 4096) == 0);
    volatile std::byte* data = mapping.data();
    FLOE_CHILD_CHECK(data[2 * 4096] == std::byte{0});  // past the new end: absorbed
    FLOE_CHILD_CHECK(mapping.damaged());
    FLOE_CHILD_CHECK(data[0] == std::byte{0});  // the whole range is replaced, not one page
    data[2 * 4096] = std::byte{1};              // writable, and private
    FLOE_CHILD_CHECK(data[2 * 4096] == std::byte{1});
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
}

TEST(SigbusGuard, AFaultOutsideEveryGuardedRangeStillKills) {
  ChildProcess child([] {
    auto object = make_object();
    detail::Mapping guarded(object.fd(), kSize);  // floe's handler is installed
    volatile std::byte* foreign = unguarded_shrunk_mapping();
    return static_cast<int>(foreign[4096]);
  });
  EXPECT_TRUE(killed_as_without_floe(child.wait()));
}

TEST(SigbusGuard, ASentSigbusStillKills) {
  ChildProcess child([] {
    auto object = make_object();
    detail::Mapping guarded(object.fd(), kSize);
    ::raise(SIGBUS);
    return 0;
  });
  EXPECT_TRUE(killed_as_without_floe(child.wait()));
}

TEST(SigbusGuard, AHandlerInstalledBeforeFloeStillGetsFaultsOutsideFloesRanges) {
  ChildProcess child([] {
    struct sigaction own {};
    own.sa_handler = [](int) { ::_exit(42); };
    ::sigemptyset(&own.sa_mask);
    ::sigaction(SIGBUS, &own, nullptr);
    auto object = make_object();
    detail::Mapping guarded(object.fd(), kSize);
    volatile std::byte* foreign = unguarded_shrunk_mapping();
    return static_cast<int>(foreign[4096]);
  });
  EXPECT_EQ(child.wait(), 42);
}

TEST(SigbusGuard, ARangeNoLongerGuardedIsNotTouchedByTheHandler) {
  ChildProcess child([] {
    auto object = make_object();
    std::byte* was = nullptr;
    {
      detail::Mapping gone(object.fd(), kSize);
      was = gone.data();
    }
    // The same addresses mapped again without floe: a fault there is not floe's to absorb.
    void* p = ::mmap(was, kSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE,
                     object.fd(), 0);
    if (p == MAP_FAILED || ::ftruncate(object.fd(), 0) != 0) return 3;
    return static_cast<int>(static_cast<volatile std::byte*>(p)[4096]);
  });
  EXPECT_TRUE(killed_as_without_floe(child.wait()));
}

}  // namespace
}  // namespace floe::test
