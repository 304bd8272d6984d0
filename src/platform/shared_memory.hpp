#pragma once
// POSIX shared-memory objects, their mappings, and whole-object locks.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

#include "floe/error.hpp"
#include "platform/file_descriptor.hpp"

namespace floe::detail {

/// The floe condition an errno of a shared-memory call means, Errc{} when none fits.
Errc errc_of_os_error(int error) noexcept;
/// Throws floe::Error for a failed call: what failed and why, with the fitting Errc (else the
/// errno as a generic error code), so one `catch (floe::Error&)` sees every failure.
[[noreturn]] void throw_os_error(int error, const std::string& what);

/// The directory POSIX shared-memory objects live in (glibc's shm_open).
inline constexpr const char* kShmDirectory = "/dev/shm";

/// "uid 65534 (nobody), group 65534 (nogroup), mode 0666": who owns an object, for messages.
std::string describe_owner(const struct stat& status);

/// Why this process must not join an object with this status, std::nullopt when it may. floe
/// joins only a regular file that this process's effective uid owns, or, with `group_access`,
/// one whose group is one of this process's groups and whose mode is exactly 0660; never one
/// that other users may read or write, even its own. Root is no exception.
std::optional<std::string> refusal_to_join(const struct stat& status, bool group_access);

/// Why an object of this status cannot be a floe segment, std::nullopt when it can be: floe
/// reserves every byte of its objects (posix_fallocate), so an object with fewer bytes allocated
/// than its size is not floe's, or is damaged, and one larger than /dev/shm as a whole cannot be
/// floe's. Reading such an object could make tmpfs allocate a page for every page read.
std::optional<std::string> implausible_size(const struct stat& status);

/// A named object under /dev/shm. Creating and opening never truncates someone else's object,
/// and never follows a symbolic link.
class SharedMemoryObject {
 public:
  /// Creates the object, failing with std::nullopt if it exists already.
  static std::optional<SharedMemoryObject> create_exclusive(const std::string& name, mode_t mode);
  /// Opens an existing object this process may join (see refusal_to_join), std::nullopt if there
  /// is none. Throws floe::Error(Errc::permission_denied) for one it may not join or cannot open,
  /// naming its owner and mode; checked on the opened object (fstat), so the name cannot change
  /// under the check.
  static std::optional<SharedMemoryObject> open_existing(const std::string& name,
                                                         bool group_access);
  /// Opens whatever object is at the name, to look at it, not to join it: the caller decides
  /// from status(). std::nullopt if there is none; throws floe::Error as open_existing does
  /// for what cannot be opened.
  static std::optional<SharedMemoryObject> open_to_inspect(const std::string& name);
  /// The status of the name itself (lstat), without opening it: for messages and for deciding
  /// about objects that cannot be opened.
  static std::optional<struct stat> status_of_name(const std::string& name) noexcept;
  /// Removes the name, whatever it names now; mappings that exist stay valid. Only for names
  /// nobody else can take over (see remove_dead_temporaries).
  static void unlink(const std::string& name) noexcept;

  /// What unlink_if_still_named and unlink_if_own did.
  enum class Unlinked { yes, not_named, failed };
  /// Removes the name if it names a regular file of this process's effective uid (lstat), for a
  /// dead creator's temporary: another user's object at such a name is left alone. In sticky
  /// /dev/shm only its owner or root can replace an object of ours between check and unlink.
  static Unlinked unlink_if_own(const std::string& name, int* error = nullptr) noexcept;
  /// Removes the object's name if the name still refers to this very object (same device and
  /// inode as the descriptor); leaves a newer object at the name alone. The caller holds the
  /// object's lock (see ServiceSegment): every floe process that unlinks a service's name holds
  /// that object's lock, so nobody else can unlink and replace the name between the check and
  /// the unlink. `error` gets the errno when it failed (EPERM in sticky /dev/shm, say).
  Unlinked unlink_if_still_named(int* error = nullptr) const noexcept;
  /// Gives the object a second name with link(2), which fails (false) if the name exists: the
  /// object published is this object, whatever happens to its first name. The object is known by
  /// the new name from then on. Throws floe::Error for other failures.
  bool link_as(const std::string& name);

  /// Sizes a new object and has the kernel back all of it now. Throws floe::Error
  /// (Errc::out_of_memory when /dev/shm cannot hold it).
  void reserve(std::size_t size);
  std::size_t size() const;
  /// fstat of the descriptor. Throws floe::Error.
  struct stat status() const;
  int fd() const noexcept { return fd_.get(); }
  const std::string& name() const noexcept { return name_; }

 private:
  SharedMemoryObject(std::string name, FileDescriptor fd)
      : name_(std::move(name)), fd_(std::move(fd)) {}
  std::string name_;
  FileDescriptor fd_;
};

/// A read-write shared mapping of a whole object. Throws floe::Error when mmap fails.
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

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
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
