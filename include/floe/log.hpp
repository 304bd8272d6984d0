#pragma once
// What floe says about itself: lifecycle events (services created, opened, removed), peers
// found dead and what was reclaimed after them, limits hit, damaged shared memory, the config
// file read and the event loop chosen. Off by default; never on a message's way (loan, send,
// receive and notify neither build a message nor look at the level when they succeed).
//
//   FLOE_LOG=debug|info|warn|error|off   read once, at floe's first log event of the process
//   floe::set_log_level(level)           overrides it (and makes floe ignore FLOE_LOG)
//   floe::set_log_sink(sink)             where lines go; nullptr: stderr again
//
// The default sink writes one line per event to stderr, with one write(2):
//   floe[pid 1234] info: service 'My/Funk' (domain default) created by pid 1234 (84.0 KiB at
//   /dev/shm/floe.default.1c2b...)   (one line)

#include <functional>
#include <string_view>

namespace floe {

/// How much an event matters; a level shows its events and those of every higher level.
enum class LogLevel : int {
  debug,  ///< what floe looked at and found in order (a node rejoining a service it holds)
  info,   ///< lifecycle: services created, opened, removed; peers dead; resources reclaimed
  warn,   ///< a limit hit, a config file floe cannot use
  error,  ///< damaged shared memory: another process wrote what no correct peer writes
  off,    ///< nothing at all (the default)
};

/// Receives every event at or above the level: its level, and one line of text without a
/// trailing newline (the message names the service, its domain, who and why). Calls are
/// serialized (one at a time, whichever thread logs), so a sink needs no lock of its own.
/// A sink must return promptly and must not call floe: it runs on the thread that logs, which
/// may hold a service's lock; events floe raises while a sink runs on that thread are dropped.
/// What it throws is swallowed.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

/// The level events must reach to be logged: FLOE_LOG's, read on first use (unset: off; a
/// value floe does not know: off, after one warning on stderr), unless set_log_level was called.
LogLevel log_level() noexcept;

/// Sets the level from now on, for every thread; FLOE_LOG is not read after this.
void set_log_level(LogLevel level) noexcept;

/// Sends events to `sink` from now on; an empty sink restores the default (stderr). Once it
/// returns, the previous sink is not running and is never called again. Thread-safe.
void set_log_sink(LogSink sink);

/// "debug", "info", "warn", "error" or "off".
std::string_view to_string(LogLevel level) noexcept;

}  // namespace floe
