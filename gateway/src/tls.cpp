#include "tls.hpp"

#include <floe/error.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace floe::gateway {

namespace {

std::string read_pem(const std::filesystem::path& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in || content.str().find("-----BEGIN") == std::string::npos) {
    throw Error(Errc::invalid_config, std::string("floe-gateway: the ") + what + " '" +
                                          path.string() + "' cannot be read as a PEM file");
  }
  return content.str();
}

void check_pair(const TlsFiles& tls) {
  if (tls.cert.empty() != tls.key.empty()) {
    throw Error(Errc::invalid_config,
                "floe-gateway: --tls-cert and --tls-key go together (a certificate and its key)");
  }
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsFiles& tls) {
  if (!tls.any()) return grpc::InsecureServerCredentials();
  check_pair(tls);
  if (tls.cert.empty()) {
    throw Error(Errc::invalid_config,
                "floe-gateway: an exporting gateway with TLS needs --tls-cert and --tls-key "
                "(--tls-ca alone only says whom to accept)");
  }
  // With a CA, importing gateways must show a certificate it signed: mutual TLS.
  grpc::SslServerCredentialsOptions options(
      tls.ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                     : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!tls.ca.empty()) options.pem_root_certs = read_pem(tls.ca, "CA certificate");
  options.pem_key_cert_pairs.push_back(
      {read_pem(tls.key, "private key"), read_pem(tls.cert, "certificate")});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const TlsFiles& tls) {
  if (!tls.any()) return grpc::InsecureChannelCredentials();
  check_pair(tls);
  grpc::SslCredentialsOptions options;
  if (!tls.ca.empty()) options.pem_root_certs = read_pem(tls.ca, "CA certificate");
  if (!tls.cert.empty()) {
    options.pem_private_key = read_pem(tls.key, "private key");
    options.pem_cert_chain = read_pem(tls.cert, "certificate");
  }
  return grpc::SslCredentials(options);
}

}  // namespace floe::gateway
