#include "io/files.h"

#include <tokenflow/error.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace tokenflow::io {

namespace {

std::string last_system_error() { return errno ? std::strerror(errno) : "unknown error"; }

}  // namespace

std::ifstream open_for_reading(const std::string& path) {
  // Linux opens directories for reading too; they would only fail later, with a misleading message.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) throw Error(path + ": cannot open (" + std::strerror(EISDIR) + ")");
  errno = 0;
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(path + ": cannot open (" + last_system_error() + ")");
  return file;
}

std::string read_text_file(const std::string& path) {
  std::ifstream file = open_for_reading(path);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) throw Error(path + ": cannot read (" + last_system_error() + ")");
  return text.str();
}

uint64_t file_size(std::ifstream& file) {
  file.seekg(0, std::ios::end);
  const std::streamoff end = file.tellg();
  file.seekg(0, std::ios::beg);
  return end < 0 ? 0 : static_cast<uint64_t>(end);
}

void read_exactly(std::ifstream& file, void* data, uint64_t size, const std::string& path, const std::string& what) {
  // istream::read takes a signed count; larger reads are split.
  constexpr uint64_t kChunk = uint64_t{1} << 30;
  auto* bytes = static_cast<char*>(data);
  for (uint64_t done = 0; done < size;) {
    const uint64_t chunk = std::min(kChunk, size - done);
    file.read(bytes + done, static_cast<std::streamsize>(chunk));
    if (static_cast<uint64_t>(file.gcount()) != chunk) throw Error(path + ": truncated file (" + what + ")");
    done += chunk;
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)), temporary_path_(path_ + ".tmp") {
  errno = 0;
  stream_.open(temporary_path_, std::ios::binary | std::ios::trunc);
  if (!stream_) throw Error(path_ + ": cannot write (" + last_system_error() + ")");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (committed_) return;
  stream_.close();
  std::remove(temporary_path_.c_str());
}

void AtomicFileWriter::write(const void* data, uint64_t size) {
  constexpr uint64_t kChunk = uint64_t{1} << 30;
  const auto* bytes = static_cast<const char*>(data);
  for (uint64_t done = 0; done < size && stream_;) {
    const uint64_t chunk = std::min(kChunk, size - done);
    stream_.write(bytes + done, static_cast<std::streamsize>(chunk));
    done += chunk;
  }
  if (!stream_) throw Error(path_ + ": cannot write (" + last_system_error() + ")");
}

void AtomicFileWriter::commit() {
  errno = 0;
  stream_.close();
  if (!stream_) throw Error(path_ + ": cannot write (" + last_system_error() + ")");
  if (std::rename(temporary_path_.c_str(), path_.c_str()) != 0) {
    throw Error(path_ + ": cannot write (rename failed: " + last_system_error() + ")");
  }
  committed_ = true;
}

void write_text_file(const std::string& path, const std::string& text) {
  AtomicFileWriter writer(path);
  writer.write(text.data(), text.size());
  writer.commit();
}

}  // namespace tokenflow::io
