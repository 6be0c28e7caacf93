#include "io/config_file.h"

#include <tokenflow/error.h>

#include "io/files.h"

#include <nlohmann/json.hpp>

namespace tokenflow::io {

using Json = nlohmann::json;

ConfigFile ConfigFile::read(const std::string& path) {
  auto json = std::make_shared<const Json>(Json::parse(read_text_file(path), nullptr, /*allow_exceptions=*/false));
  if (json->is_discarded() || !json->is_object()) throw Error(path + ": not a JSON object");
  return ConfigFile(std::move(json), path);
}

bool ConfigFile::has(const std::string& key) const {
  const auto found = json_->find(key);
  return found != json_->end() && !found->is_null();
}

int64_t ConfigFile::positive(const std::string& key) const {
  const auto found = json_->find(key);
  if (found == json_->end() || !found->is_number_integer() || found->get<int64_t>() <= 0) {
    fail(key + " is missing or not a positive integer");
  }
  return found->get<int64_t>();
}

int64_t ConfigFile::positive_or(const std::string& key, int64_t fallback) const {
  return has(key) ? positive(key) : fallback;
}

double ConfigFile::number_or(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const auto& value = (*json_)[key];
  if (!value.is_number() || value.get<double>() <= 0) fail(key + " is not a positive number");
  return value.get<double>();
}

std::string ConfigFile::text_or(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const auto& value = (*json_)[key];
  if (!value.is_string()) fail(key + " is not a string");
  return value.get<std::string>();
}

bool ConfigFile::flag_or(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& value = (*json_)[key];
  if (!value.is_boolean()) fail(key + " is not true or false");
  return value.get<bool>();
}

int64_t ConfigFile::id_or_none(const std::string& key) const {
  if (!has(key)) return -1;
  const auto& value = (*json_)[key];
  if (!value.is_number_integer() || value.get<int64_t>() < 0) fail(key + " is not a token id");
  return value.get<int64_t>();
}

void ConfigFile::fail(const std::string& problem) const { throw Error(path_ + ": " + problem); }

}  // namespace tokenflow::io
