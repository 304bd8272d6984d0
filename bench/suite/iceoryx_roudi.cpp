#include "iceoryx_roudi.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace floe::bench {
namespace {

using Clock = std::chrono::steady_clock;

// RouDi builds its management segment (~65 MB) before it is ready: ~1 s on a busy machine.
constexpr std::chrono::seconds kReadyLimit{20};
// RouDi stops in ~0.2 s once its clients are gone.
constexpr std::chrono::seconds kStopLimit{5};
// What RouDi prints (log level info) once it serves clients.
constexpr char kReadyLine[] = "RouDi is ready for clients";
// The file RouDi flocks: iceoryx runs one RouDi per host.
constexpr char kRouDiLock[] = "/tmp/iox-unique-roudi.lock";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// RouDi names its data segment after the group of the user running it (no segment entry in the
/// config names another).
std::string data_segment_name() {
  const group* own = ::getgrgid(::getegid());
  return own != nullptr ? own->gr_name : "";
}

std::vector<std::string> entries_of(const char* directory) {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(directory)) {
    while (const dirent* entry = ::readdir(dir))
      names.emplace_back(entry->d_name);
    ::closedir(dir);
  }
  return names;
}

/// The paths of iceoryx's objects now present: RouDi's management and data segments under
/// /dev/shm; its socket and lock files under /tmp, and the sockets of the processes it serves,
/// which are named after them (the rows name them "bench-iox-...", see unique_name).
std::set<std::string> iceoryx_objects() {
  std::set<std::string> found;
  const std::string segment = data_segment_name();
  for (const std::string& name : entries_of("/dev/shm")) {
    if (name == "iceoryx_mgmt" || name == segment) found.insert("/dev/shm/" + name);
  }
  for (const std::string& name : entries_of("/tmp")) {
    if (name == "roudi" || name == "roudi.lock" || "/tmp/" + name == kRouDiLock ||
        name.rfind("bench-iox-", 0) == 0) {
      found.insert("/tmp/" + name);
    }
  }
  return found;
}

std::string config_text(const std::vector<RouDiDaemon::Mempool>& mempools) {
  std::ostringstream text;
  text << "[general]\nversion = 1\n\n[[segment]]\n";
  for (const RouDiDaemon::Mempool& pool : mempools) {
    text << "\n[[segment.mempool]]\nsize = " << pool.payload_size << "\ncount = " << pool.count
         << "\n";
  }
  return text.str();
}

}  // namespace

RouDiDaemon::RouDiDaemon(const char* executable, const std::vector<Mempool>& mempools) {
  char directory[] = "/tmp/floe-bench-roudi-XXXXXX";
  if (::mkdtemp(directory) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  directory_ = directory;
  const std::string config = directory_ + "/roudi.toml";
  std::ofstream(config) << config_text(mempools);
  const int log =
      ::open((directory_ + "/roudi.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log < 0 || null < 0) {
    if (log >= 0) ::close(log);
    if (null >= 0) ::close(null);
    error_ = "cannot open RouDi's log or /dev/null";
    return;
  }
  objects_before_ = iceoryx_objects();
  // RouDi is not on the messages' path (connected ports talk through shared memory alone), so
  // it is left to the scheduler whatever the placement of client and server.
  cpu_set_t any_cpu;
  CPU_ZERO(&any_cpu);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    CPU_SET(cpu, &any_cpu);
  const pid_t parent = ::getpid();
  const char* argv[] = {executable, "-c", config.c_str(), "-l", "info", nullptr};
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    // RouDi goes when the benchmark does, even if it dies before stopping it.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::sched_setaffinity(0, sizeof any_cpu, &any_cpu);
    ::dup2(null, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execv(executable, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(log);
  ::close(null);
  if (pid_ < 0) {
    error_ = "fork failed";
    return;
  }
  const auto deadline = Clock::now() + kReadyLimit;
  for (;;) {
    if (read_file(directory_ + "/roudi.log").find(kReadyLine) != std::string::npos) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "iox-roudi exited before it was ready (another RouDi on this host?): " + log_tail();
      return;
    }
    if (Clock::now() > deadline) {
      error_ = "iox-roudi was not ready within " + std::to_string(kReadyLimit.count()) + " s";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

RouDiDaemon::~RouDiDaemon() {
  const std::string problem = stop();
  if (!problem.empty()) std::fprintf(stderr, "iceoryx rows: %s\n", problem.c_str());
}

std::string RouDiDaemon::stop() {
  std::string problem;
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kStopLimit;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        problem = "iox-roudi did not stop within " + std::to_string(kStopLimit.count()) +
                  " s of SIGTERM: killed. ";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }
  if (!directory_.empty()) {
    problem += remove_leftovers();
    ::unlink((directory_ + "/roudi.toml").c_str());
    ::unlink((directory_ + "/roudi.log").c_str());
    ::rmdir(directory_.c_str());
    directory_.clear();
  }
  return problem;
}

std::string RouDiDaemon::remove_leftovers() const {
  // Holding RouDi's lock, this process knows no other RouDi runs or starts meanwhile (the suite
  // may run twice at once): iceoryx objects that were not there before are leftovers.
  const bool lock_left = ::access(kRouDiLock, F_OK) == 0;
  const int lock = ::open(kRouDiLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    if (lock >= 0) ::close(lock);
    return "another RouDi runs: iceoryx objects left alone";
  }
  std::string left;
  for (const std::string& path : iceoryx_objects()) {
    if (objects_before_.count(path) != 0) continue;
    if (path == kRouDiLock && !lock_left) continue;  // made by this process just now
    ::unlink(path.c_str());
    left += " " + path;
  }
  if (!lock_left) ::unlink(kRouDiLock);
  ::close(lock);
  return left.empty() ? "" : "iceoryx left" + left + " (removed)";
}

std::string RouDiDaemon::log_tail() const {
  // One line, without the terminal colour codes RouDi writes.
  std::string log;
  bool in_escape = false;
  for (const char c : read_file(directory_ + "/roudi.log")) {
    if (c == '\x1b') {
      in_escape = true;
    } else if (in_escape) {
      in_escape = c != 'm';
    } else {
      log += c == '\n' ? ' ' : c;
    }
  }
  constexpr std::size_t kTail = 300;
  return log.size() > kTail ? log.substr(log.size() - kTail) : log;
}

}  // namespace floe::bench
