#pragma once
// A TOML file a person wrote (floe's config file, floe-gateway's): read without ever blocking,
// parsed, and checked key by key, each mistake reported as "file:line:column: what", with the
// key a misspelt one most likely meant. Every error is Errc::invalid_config.

#include <toml++/toml.h>

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace floe::detail {

/// " (named by FLOE_CONFIG)" and the like: which setting led to the file ("" for none).
std::string origin_note(const char* origin);

class TomlFile {
 public:
  /// Reads and parses `path`. `program` begins each message ("floe", "floe-gateway");
  /// `origin` names the setting that named the file, if any.
  TomlFile(std::filesystem::path path, std::string program, const char* origin = nullptr);

  const toml::table& root() const noexcept { return root_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// Throws "program: file:line:column: what".
  [[noreturn]] void fail(const toml::source_region& where, const std::string& what) const;
  /// Rejects any key of `table` not in `known` (`prefix`: the table's dotted name and a dot): a
  /// misspelt setting silently ignored would leave its default in force unnoticed.
  void reject_unknown_keys(const toml::table& table, std::string_view prefix,
                           std::span<const std::string_view> known) const;
  /// The sub-table `key` of `parent`, nullptr when absent; anything but a table is an error.
  /// `full`: its dotted name, for the message.
  const toml::table* section(const toml::table& parent, std::string_view key,
                             std::string_view full) const;

 private:
  std::filesystem::path path_;
  std::string program_;
  toml::table root_;
};

}  // namespace floe::detail
