#pragma once
// Liveness that needs no /proc: a process marks each node it holds with an open-file-description
// lock on one byte of the service's object, and the kernel drops the lock when the process dies.

#include <cstdint>

namespace floe::detail {

/// Marks `node` of the object open at `fd` as held by this open file description (F_OFD_SETLK on
/// one byte far beyond any segment's end: locks past the end of a file are allowed and never
/// touch its data). False when another open file description holds the mark already. Throws
/// floe::Error when the kernel refuses (no locks left, say).
bool hold_liveness_mark(int fd, std::uint32_t node);

/// Drops the mark; it also goes when the last descriptor of the open file description closes,
/// which is what makes a killed process's marks go without anyone's help.
void drop_liveness_mark(int fd, std::uint32_t node) noexcept;

/// Whether another open file description (in this process or any other, in any PID namespace)
/// holds a mark on a node in [first, first + count). Marks held through `fd` itself do not count.
/// In doubt (the query fails) the answer is yes: a peer is declared dead only on the kernel's
/// positive word, never because something could not be looked at.
bool is_marked_alive(int fd, std::uint32_t first, std::uint32_t count = 1) noexcept;

}  // namespace floe::detail
