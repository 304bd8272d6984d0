#include "options.hpp"

#include "registry/toml_file.hpp"

#include <string_view>

namespace floe::gateway {

namespace {

constexpr std::string_view kRootKeys[] = {"export", "import"};
constexpr std::string_view kExportKeys[] = {"listen",   "services", "keepalive_ms", "client_ports",
                                            "tls_cert", "tls_key",  "tls_ca"};
constexpr std::string_view kImportKeys[] = {
    "connect",  "services", "keepalive_ms", "window_kib",     "connect_timeout_s",
    "tls_cert", "tls_key",  "tls_ca",       "tls_server_name"};

class Reader {
 public:
  Reader(const detail::TomlFile& file, const toml::table& table, std::string_view section)
      : file_(file), table_(table), section_(section) {}

  void text(std::string_view key, std::string& into) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return;
    const auto value = node->value_exact<std::string>();
    if (!value || value->empty())
      file_.fail(node->source(), name(key) + " must be a non-empty string");
    into = *value;
  }
  /// A file's path, relative to the config file's folder.
  void path(std::string_view key, std::filesystem::path& into) const {
    std::string text_value;
    text(key, text_value);
    if (!text_value.empty()) into = file_.path().parent_path() / text_value;
  }
  void integer(std::string_view key, IntRange range, int& into) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return;
    const auto value = node->value_exact<std::int64_t>();
    if (!value || !range.contains(*value)) {
      file_.fail(node->source(), name(key) + " must be an integer from " +
                                     std::to_string(range.min) + " to " +
                                     std::to_string(range.max));
    }
    into = static_cast<int>(*value);
  }
  void tls(TlsFiles& into) const {
    path("tls_cert", into.cert);
    path("tls_key", into.key);
    path("tls_ca", into.ca);
  }
  void services(std::vector<std::string>& into) const {
    const toml::node* node = table_.get("services");
    const toml::array* array = node == nullptr ? nullptr : node->as_array();
    if (array == nullptr || array->empty()) {
      file_.fail(node == nullptr ? table_.source() : node->source(),
                 name("services") + " must list the services, as [\"My/Service\", ...]");
    }
    for (const toml::node& element : *array) {
      const auto value = element.value_exact<std::string>();
      if (!value || value->empty()) {
        file_.fail(element.source(), name("services") + " must hold service names (strings)");
      }
      into.push_back(*value);
    }
  }

 private:
  std::string name(std::string_view key) const {
    // Appended piece by piece: GCC 12 at -O3 takes "'" + a temporary for an overlapping memcpy
    // (a false -Wrestrict, an error under -Werror).
    std::string text = "'";
    text.append(section_).append(".").append(key).append("'");
    return text;
  }
  const detail::TomlFile& file_;
  const toml::table& table_;
  std::string_view section_;
};

}  // namespace

GatewayOptions read_options_file(const std::filesystem::path& path) {
  const detail::TomlFile file(path, "floe-gateway");
  file.reject_unknown_keys(file.root(), "", kRootKeys);
  GatewayOptions options;
  if (const toml::table* table = file.section(file.root(), "export", "export")) {
    file.reject_unknown_keys(*table, "export.", kExportKeys);
    const Reader read(file, *table, "export");
    ExportOptions& o = options.exporting.emplace();
    read.text("listen", o.listen);
    read.services(o.services);
    read.integer("keepalive_ms", kKeepaliveMsRange, o.keepalive_ms);
    read.integer("client_ports", kClientPortsRange, o.client_ports);
    read.tls(o.tls);
  }
  if (const toml::table* table = file.section(file.root(), "import", "import")) {
    file.reject_unknown_keys(*table, "import.", kImportKeys);
    const Reader read(file, *table, "import");
    ImportOptions& o = options.importing.emplace();
    read.text("connect", o.connect);
    read.services(o.services);
    read.integer("keepalive_ms", kKeepaliveMsRange, o.keepalive_ms);
    read.integer("window_kib", kWindowKibRange, o.window_kib);
    read.integer("connect_timeout_s", kConnectTimeoutSRange, o.connect_timeout_s);
    read.tls(o.tls);
    read.text("tls_server_name", o.tls_server_name);
  }
  if (!options.exporting && !options.importing) {
    file.fail(file.root().source(), "has neither an [export] nor an [import] table");
  }
  return options;
}

}  // namespace floe::gateway
