#pragma once
// POSIX shared-memory objects, their mappings, and whole-object locks.

#include <sys/stat.h>
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
/// A floe::Error's message without its "floe: " prefix, to be quoted inside a longer message
/// ("floe: service 'x': cannot map ...: <cause>").
std::string cause_of(const Error& e);

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

/// How an object is opened and mapped: writers read and write; a receiver of data segments only
/// reads, so it cannot scribble on a writer's payloads either.
enum class Access { read_write, read_only };

/// A named object under /dev/shm. Creating and opening never truncates someone else's object,
/// and never follows a symbolic link.
class SharedMemoryObject {
 public:
  /// Creates an object without a name (O_TMPFILE in /dev/shm): it vanishes with its last
  /// descriptor and mapping until publish_as() names it, so a creator that dies midway leaves
  /// nothing, and the object published is the very one created.
  static SharedMemoryObject create_unnamed(mode_t mode);
  /// Gives an unnamed object its name; false, leaving it unnamed, if the name is taken. Needs
  /// Linux 6.10's linkat(AT_EMPTY_PATH), CAP_DAC_READ_SEARCH, or /proc/self/fd. Throws floe::Error.
  bool publish_as(const std::string& name);
  /// Opens an existing object this process may join (see refusal_to_join), std::nullopt if there
  /// is none. Throws floe::Error(Errc::permission_denied) for one it may not join or cannot open,
  /// naming its owner and mode; checked on the opened object (fstat), so the name cannot change
  /// under the check.
  static std::optional<SharedMemoryObject> open_existing(const std::string& name, bool group_access,
                                                         Access access = Access::read_write);
  /// Opens whatever object is at the name, to look at it, not to join it: the caller decides
  /// from status(). std::nullopt if there is none; throws floe::Error as open_existing does
  /// for what cannot be opened.
  static std::optional<SharedMemoryObject> open_to_inspect(const std::string& name);
  /// The status of the name itself (lstat), without opening it: for messages and for deciding
  /// about objects that cannot be opened.
  static std::optional<struct stat> status_of_name(const std::string& name) noexcept;

  /// What unlink_if_still_named did.
  enum class Unlinked { yes, not_named, failed };
  /// Removes the object's name if the name still refers to this very object (same device and
  /// inode as the descriptor); leaves a newer object at the name alone. The caller holds the
  /// object's lock (see ServiceSegment): every floe process that unlinks a service's name holds
  /// that object's lock, so nobody else can unlink and replace the name between the check and
  /// the unlink. `error` gets the errno when it failed (EPERM in sticky /dev/shm, say).
  Unlinked unlink_if_still_named(int* error = nullptr) const noexcept;
  /// Whether the name still refers to this very object (in doubt: yes).
  bool is_still_named() const noexcept;

  /// Sizes a new object and has the kernel back all of it now. Throws floe::Error
  /// (Errc::out_of_memory when /dev/shm cannot hold it).
  void reserve(std::size_t size);
  std::size_t size() const;
  /// fstat of the descriptor. Throws floe::Error.
  struct stat status() const;
  int fd() const noexcept { return fd_.get(); }
  const std::string& name() const noexcept { return name_; }

 private:
  /// Whether the name refers to this object; std::nullopt when fstat fails.
  std::optional<bool> names_this() const noexcept;
  SharedMemoryObject(std::string name, FileDescriptor fd)
      : name_(std::move(name)), fd_(std::move(fd)) {}
  std::string name_;
  FileDescriptor fd_;
};

/// A shared mapping (read-write unless `access` says otherwise) of a whole object, guarded against
/// the object shrinking under it (platform/sigbus_guard.hpp). Throws floe::Error when mmap fails.
class Mapping {
 public:
  Mapping() noexcept = default;
  Mapping(int fd, std::size_t size, Access access = Access::read_write);
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
  /// For an owner that found the object shrunk (fstat) before any access faulted.
  void mark_damaged() noexcept { guard_.mark_damaged(); }

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
