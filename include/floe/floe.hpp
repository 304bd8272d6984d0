#pragma once
// Everything of floe's core: #include <floe/floe.hpp>.

#include "floe/attributes.hpp"
#include "floe/call.hpp"
#include "floe/client.hpp"
#include "floe/config.hpp"
#include "floe/error.hpp"
#include "floe/header.hpp"
#include "floe/introspection.hpp"
#include "floe/log.hpp"
#include "floe/node.hpp"
#include "floe/runtime.hpp"
#include "floe/server.hpp"
#include "floe/service.hpp"
#include "floe/shm_compatible.hpp"
#include "floe/stream_end.hpp"
#include "floe/task.hpp"
