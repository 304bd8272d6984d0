#pragma once
// POSIX shared-memory objects, their mappings, and whole-object locks.

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "floe/error.hpp"
#include "platform/file_descriptor.hpp"
#include "platform/sigbus_guard.hpp"

namespace floe::detail {

/// Where POSIX shared-memory objects live (glibc's shm_open opens files here).
inline constexpr char kShmDirectory[] = "/dev/shm";

/// The floe condition an errno of a shared-memory call means, Errc{} when none fits.
Errc errc_of_os_error(int error) noexcept;
/// Throws floe::Error for a failed call: what failed and why, with the fitting Errc (else the
/// errno as a generic error code), so one `catch (floe::Error&)` sees every failure.
[[noreturn]] void throw_os_error(int error, const std::string& what);

/// A named object under /dev/shm. Creating and opening never truncates someone else's object.
class SharedMemoryObject {
 public:
  /// Creates an object without a name (O_TMPFILE in /dev/shm): it vanishes with its last
  /// descriptor and mapping until publish_as() names it.
  static SharedMemoryObject create_unnamed(mode_t mode);
  /// Gives an unnamed object its name; false, leaving it unnamed, if the name is taken. Needs
  /// Linux 6.10's linkat(AT_EMPTY_PATH), CAP_DAC_READ_SEARCH, or /proc/self/fd. Throws floe::Error.
  bool publish_as(const std::string& name);
  /// Opens an existing object, std::nullopt if there is none.
  static std::optional<SharedMemoryObject> open_existing(const std::string& name);
  /// Removes the name; mappings that exist stay valid.
  static void unlink(const std::string& name) noexcept;

  /// Sizes a new object and has the kernel back all of it now. Throws floe::Error
  /// (Errc::out_of_memory when /dev/shm cannot hold it).
  void reserve(std::size_t size);
  std::size_t size() const;
  int fd() const noexcept { return fd_.get(); }
  const std::string& name() const noexcept { return name_; }

 private:
  SharedMemoryObject(std::string name, FileDescriptor fd)
      : name_(std::move(name)), fd_(std::move(fd)) {}
  std::string name_;
  FileDescriptor fd_;
};

/// A read-write shared mapping of a whole object, guarded against the object shrinking under it
/// (platform/sigbus_guard.hpp). Throws floe::Error when mmap fails.
class Mapping {
 public:
  Mapping() noexcept = default;
  Mapping(int fd, std::size_t size);
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  /// Whether another process shrank the object under an access: the mapping then holds private
  /// zeros, and whatever it says is meaningless.
  bool damaged() const noexcept { return guard_.damaged(); }
  const std::atomic<bool>* damaged_flag() const noexcept { return guard_.damaged_flag(); }

 private:
  void unmap() noexcept;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  SigbusGuard guard_;
};

/// An exclusive flock(2) on an open file: held by the open file description, so a process that
/// dies releases it, and it serializes setup and teardown of a service between processes.
class ExclusiveLock {
 public:
  explicit ExclusiveLock(int fd);
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;
  ~ExclusiveLock();

 private:
  int fd_;
};

}  // namespace floe::detail
