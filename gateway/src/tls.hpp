#pragma once
// The gateways' credentials: plain TCP without TLS files; TLS with a certificate and key on
// the exporting side; mutual TLS when the exporting side also names the CA importing gateways'
// certificates must come from. gRPC does the TLS; this only reads the files.

#include <grpcpp/grpcpp.h>

#include <memory>

#include "options.hpp"

namespace floe::gateway {

/// Throws floe::Error (Errc::invalid_config) for a file that cannot be read or a cert without
/// its key.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsFiles& tls);
std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const TlsFiles& tls);

}  // namespace floe::gateway
