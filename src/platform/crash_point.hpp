#pragma once
// Fault injection for the crash tests: with FLOE_TEST_CRASH_AT=<name> in its environment, a
// process kills itself with SIGKILL when it reaches the point of that name (creating, opening,
// claiming a port), so tests can show that a process dying anywhere there never leaves a service
// unusable. Only the slow paths (create, open, port creation) have points; reading the
// environment there costs nothing that matters.

namespace floe::detail {

void crash_point(const char* name) noexcept;

}  // namespace floe::detail
