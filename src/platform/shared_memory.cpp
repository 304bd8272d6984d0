#include "platform/shared_memory.hpp"

#include "floe/error.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace floe::detail {

Errc errc_of_os_error(int error) noexcept {
  switch (error) {
    case ENOMEM:
    case ENOSPC:
    case EFBIG:  // beyond RLIMIT_FSIZE or what tmpfs allows for one file
      return Errc::out_of_memory;
    case EACCES:
    case EPERM:
      return Errc::permission_denied;
    default:
      return Errc{};
  }
}

void throw_os_error(int error, const std::string& what) {
  const std::string message = "floe: " + what + ": " + std::strerror(error);
  if (const Errc code = errc_of_os_error(error); code != Errc{}) throw Error(code, message);
  // No floe condition fits (EMFILE, say): the errno itself is the most precise code, still
  // as a floe::Error so one catch handles every failure of floe.
  throw Error(std::error_code(error, std::generic_category()), message);
}

std::string cause_of(const Error& e) {
  std::string_view message = e.what();
  if (message.starts_with("floe: ")) message.remove_prefix(6);
  return std::string(message);
}

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw_os_error(errno, what);
}

}  // namespace

namespace {

std::string path_of(const std::string& name) {
  return std::string(kShmDirectory) + name;
}

/// "65534 (nobody)", or just the number when no user of that id is known.
std::string user_of(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  std::string text = std::to_string(uid);
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    text += std::string(" (") + found->pw_name + ")";
  }
  return text;
}

std::string group_of(gid_t gid) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  std::string text = std::to_string(gid);
  if (::getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    text += std::string(" (") + found->gr_name + ")";
  }
  return text;
}

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

bool is_one_of_my_groups(gid_t gid) {
  if (gid == ::getegid()) return true;
  const int count = ::getgroups(0, nullptr);
  if (count <= 0) return false;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  const int got = ::getgroups(count, groups.data());
  return got > 0 && std::find(groups.begin(), groups.begin() + got, gid) != groups.begin() + got;
}

/// Opens the object behind the name, never following a symbolic link (glibc's shm_open adds
/// O_NOFOLLOW; so do we, to say so) and never blocking on a FIFO or taking a terminal.
/// std::nullopt if there is none; a floe::Error that says what is there otherwise.
std::optional<FileDescriptor> open_object(const std::string& name,
                                          Access access = Access::read_write) {
  const int mode = access == Access::read_only ? O_RDONLY : O_RDWR;
  const int fd = ::shm_open(name.c_str(), mode | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
  if (fd >= 0) return FileDescriptor(fd);
  const int error = errno;
  const std::string path = path_of(name);
  switch (error) {
    case ENOENT:
      return std::nullopt;
    case ELOOP:
      throw Error(Errc::permission_denied,
                  "floe: " + path +
                      " is a symbolic link; floe never follows one there (it could lead to "
                      "another user's object or to any file). Remove it (rm " +
                      path + ") if you did not put it there on purpose");
    case EISDIR:
    case EINVAL: {  // glibc's shm_open turns EISDIR into EINVAL
      const auto status = SharedMemoryObject::status_of_name(name);
      if (!status || !S_ISDIR(status->st_mode)) throw_os_error(error, "shm_open(" + name + ")");
      throw Error(Errc::permission_denied,
                  "floe: " + path + " is a directory, not a shared-memory object");
    }
    case EACCES: {
      const auto status = SharedMemoryObject::status_of_name(name);
      throw Error(Errc::permission_denied,
                  "floe: permission denied opening " + path + ": it belongs to " +
                      (status ? describe_owner(*status) : std::string("another user")) +
                      " and this process (uid " + user_of(::geteuid()) +
                      ") may not open it (created without group access, or for another group)");
    }
    default:
      throw_os_error(error, "shm_open(" + name + ")");
  }
}

}  // namespace

std::string describe_owner(const struct stat& status) {
  return "uid " + user_of(status.st_uid) + ", group " + group_of(status.st_gid) + ", mode " +
         octal(status.st_mode);
}

std::optional<std::string> refusal_to_join(const struct stat& status, bool group_access) {
  if (!S_ISREG(status.st_mode)) {
    return std::string("is ") + kind_of(status.st_mode) + ", not a shared-memory object";
  }
  const mode_t bits = status.st_mode & 07777;
  if ((bits & 0007) != 0) {
    return "is readable or writable by every user (" + describe_owner(status) +
           "): anyone may have written it, so floe never joins it, even its own";
  }
  if (status.st_uid == ::geteuid()) return std::nullopt;
  if (group_access && bits == 0660 && is_one_of_my_groups(status.st_gid)) return std::nullopt;
  std::string why = "belongs to another user (" + describe_owner(status) +
                    ") than this process's (uid " + user_of(::geteuid()) +
                    "); floe joins only its own user's objects";
  why += group_access ? ", and those of another user whose group is one of this process's "
                        "groups and whose mode is exactly 0660"
                      : ", or with group access (group_access = true) those of a group it is in "
                        "with mode 0660";
  return why + " (root is no exception)";
}

std::optional<std::string> implausible_size(const struct stat& status) {
  const auto size = static_cast<std::uint64_t>(status.st_size);
  struct statvfs shm {};
  if (::statvfs(kShmDirectory, &shm) == 0) {
    const std::uint64_t total = std::uint64_t{shm.f_blocks} * shm.f_frsize;
    if (total > 0 && size > total) {
      return "is " + std::to_string(size) + " bytes, more than " + kShmDirectory +
             " holds in all (" + std::to_string(total) + " bytes)";
    }
  }
  const std::uint64_t allocated = static_cast<std::uint64_t>(status.st_blocks) * 512;
  if (allocated < size) {
    return "is " + std::to_string(size) + " bytes but only " + std::to_string(allocated) +
           " of them are allocated; floe reserves every byte of its segments, so this one is "
           "not floe's, or is damaged";
  }
  return std::nullopt;
}

SharedMemoryObject SharedMemoryObject::create_unnamed(mode_t mode) {
  FileDescriptor fd(::open(kShmDirectory, O_TMPFILE | O_RDWR | O_CLOEXEC, mode));
  if (!fd) throw_errno(std::string("open(") + kShmDirectory + ", O_TMPFILE)");
  // open honours the umask; the mode asked for is the mode meant.
  if (::fchmod(fd.get(), mode) != 0) throw_errno(std::string("fchmod(") + kShmDirectory + ")");
  return SharedMemoryObject(std::string(), std::move(fd));
}

bool SharedMemoryObject::publish_as(const std::string& name) {
  const std::string path = path_of(name);
  int result = ::linkat(fd_.get(), "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH);
  if (result != 0 && errno == ENOENT) {
    // Before Linux 6.10, AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH; the descriptor's /proc link
    // does the same for anyone.
    const std::string self = "/proc/self/fd/" + std::to_string(fd_.get());
    result = ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
  }
  if (result != 0) {
    if (errno == EEXIST) return false;
    throw_errno("linkat(" + path + ")");
  }
  name_ = name;
  return true;
}

std::optional<SharedMemoryObject> SharedMemoryObject::open_existing(const std::string& name,
                                                                    bool group_access,
                                                                    Access access) {
  auto fd = open_object(name, access);
  if (!fd) return std::nullopt;
  SharedMemoryObject object(name, std::move(*fd));
  if (const auto refusal = refusal_to_join(object.status(), group_access)) {
    throw Error(Errc::permission_denied,
                "floe: " + path_of(name) + " " + *refusal +
                    ". Whoever owns it (or root) can remove it if it is not in use (rm " +
                    path_of(name) +
                    "); to share a service between users, create it with "
                    "group_access = true for a group every one of them is in");
  }
  return object;
}

std::optional<SharedMemoryObject> SharedMemoryObject::open_to_inspect(const std::string& name) {
  auto fd = open_object(name);
  if (!fd) return std::nullopt;
  return SharedMemoryObject(name, std::move(*fd));
}

std::optional<struct stat> SharedMemoryObject::status_of_name(const std::string& name) noexcept {
  struct stat status {};
  if (::lstat(path_of(name).c_str(), &status) != 0) return std::nullopt;
  return status;
}

std::optional<bool> SharedMemoryObject::names_this() const noexcept {
  struct stat mine {};
  if (::fstat(fd_.get(), &mine) != 0) return std::nullopt;
  const auto named = status_of_name(name_);
  return named && named->st_dev == mine.st_dev && named->st_ino == mine.st_ino;
}

bool SharedMemoryObject::is_still_named() const noexcept {
  return names_this().value_or(true);
}

SharedMemoryObject::Unlinked SharedMemoryObject::unlink_if_still_named(int* error) const noexcept {
  const auto named = names_this();
  if (!named) {
    if (error != nullptr) *error = errno;
    return Unlinked::failed;
  }
  if (!*named) return Unlinked::not_named;
  if (::shm_unlink(name_.c_str()) != 0) {
    if (error != nullptr) *error = errno;
    return errno == ENOENT ? Unlinked::not_named : Unlinked::failed;
  }
  return Unlinked::yes;
}

void SharedMemoryObject::reserve(std::size_t size) {
  // posix_fallocate, not ftruncate: tmpfs then backs every page now, or fails with ENOSPC
  // now, instead of handing out a sparse object whose first touch beyond what /dev/shm holds
  // is a SIGBUS. It reports its error as its result, not in errno.
  const int error = ::posix_fallocate(fd_.get(), 0, static_cast<off_t>(size));
  if (error != 0) throw_os_error(error, "posix_fallocate(" + name_ + ")");
}

std::size_t SharedMemoryObject::size() const {
  return static_cast<std::size_t>(status().st_size);
}

struct stat SharedMemoryObject::status() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) throw_errno("fstat(" + name_ + ")");
  return st;
}

Mapping::Mapping(int fd, std::size_t size, Access access) : size_(size) {
  const int protection = access == Access::read_only ? PROT_READ : PROT_READ | PROT_WRITE;
  void* p = ::mmap(nullptr, size, protection, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_errno("mmap(" + std::to_string(size) + " bytes)");
  data_ = static_cast<std::byte*>(p);
  try {
    guard_ = SigbusGuard(data_, size_);
  } catch (...) {
    unmap();
    throw;
  }
}

Mapping::Mapping(Mapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      guard_(std::move(other.guard_)) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    guard_ = std::move(other.guard_);
  }
  return *this;
}

Mapping::~Mapping() {
  unmap();
}

void Mapping::unmap() noexcept {
  guard_ = SigbusGuard();  // unguarded before unmapped: the range may be reused at once
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

ExclusiveLock::ExclusiveLock(int fd) : fd_(fd) {
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) throw_errno("flock");
  }
}

ExclusiveLock::~ExclusiveLock() {
  ::flock(fd_, LOCK_UN);
}

}  // namespace floe::detail
