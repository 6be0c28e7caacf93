#pragma once
// Opening files for reading and writing files atomically, with one-line errors that name the path.
// The readers in this directory copy raw little-endian bytes straight into tensors.
#include <tokenflow/files.h>

#include <cstdint>
#include <fstream>
#include <string>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tokenflow's file readers assume a little-endian machine"
#endif

namespace tokenflow::io {

// Opens `path` for binary reading; throws tokenflow::Error("<path>: cannot open (<reason>)").
std::ifstream open_for_reading(const std::string& path);

// The size of an open file in bytes (the read position is left at the start).
uint64_t file_size(std::ifstream& file);

// Reads exactly `size` bytes at the current position; throws "<path>: truncated file (<what>)"
// when the file ends first.
void read_exactly(std::ifstream& file, void* data, uint64_t size, const std::string& path, const std::string& what);

// The whole file as text; throws like open_for_reading, or "<path>: cannot read (<reason>)".
std::string read_text_file(const std::string& path);

// Writes `text` to `path` through AtomicFileWriter.
void write_text_file(const std::string& path, const std::string& text);

// Writes `path` through `path`.tmp, renamed over `path` on commit(), so that a reader never sees a
// half-written file. If commit() is not reached (an exception), the temporary file is removed.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void write(const void* data, uint64_t size);
  void commit();

 private:
  std::string path_;
  std::string temporary_path_;
  std::ofstream stream_;
  bool committed_ = false;
};

}  // namespace tokenflow::io
