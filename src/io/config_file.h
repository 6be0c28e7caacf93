#pragma once
// A Hugging Face model folder's config.json (or generation_config.json), with typed reads of its keys
// that fail with one line naming the file and the key: the files come from strangers.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace tokenflow::io {

class ConfigFile {
 public:
  // Throws tokenflow::Error naming `path` for a missing or unreadable file, or one that is not a
  // JSON object.
  static ConfigFile read(const std::string& path);

  // Whether `key` is there and not null.
  bool has(const std::string& key) const;
  int64_t positive(const std::string& key) const;  // a positive integer, required
  int64_t positive_or(const std::string& key, int64_t fallback) const;
  double number_or(const std::string& key, double fallback) const;  // a positive number
  std::string text_or(const std::string& key, const std::string& fallback) const;
  bool flag_or(const std::string& key, bool fallback) const;
  // An integer id (zero or more), or -1 when absent or null.
  int64_t id_or_none(const std::string& key) const;
  [[noreturn]] void fail(const std::string& problem) const;

  const std::string& path() const { return path_; }
  const nlohmann::json& json() const { return *json_; }

 private:
  ConfigFile(std::shared_ptr<const nlohmann::json> json, std::string path) : json_(std::move(json)), path_(std::move(path)) {}

  std::shared_ptr<const nlohmann::json> json_;
  std::string path_;
};

}  // namespace tokenflow::io
