#pragma once
// RecordingSink: one per gateway. Owns the recordings directory, creates one append-only file per
// session and runs the fsync batcher (a background thread that fsyncs every file written since its
// last pass, every fsync_interval; with an interval of 0 each durable write fsyncs inline).

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"

namespace custos::record {

// An open recording file. Shared between its SessionRecorder and the fsync thread, so the fd is
// closed only when both are done with it (no fsync on a closed or reused fd).
class RecordingFile {
 public:
  RecordingFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~RecordingFile();
  RecordingFile(const RecordingFile&) = delete;
  RecordingFile& operator=(const RecordingFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  friend class RecordingSink;
  int fd_;
  std::string path_;
  std::atomic<bool> dirty_{false};  // written since the fsync thread last synced it
};

struct RecordingSinkOptions {
  std::string data_dir;
  std::chrono::milliseconds fsync_interval{200};  // 0 = fsync inside every durable write
  // Test hook: replaces write(2). Same contract (returns bytes written or -1 with errno set).
  std::function<ssize_t(int fd, const void* buf, size_t n)> write_fn;
};

class RecordingSink {
 public:
  [[nodiscard]] static Result<std::unique_ptr<RecordingSink>> open(RecordingSinkOptions options);
  ~RecordingSink();  // stop()
  RecordingSink(const RecordingSink&) = delete;
  RecordingSink& operator=(const RecordingSink&) = delete;

  // Creates <data_dir>/recordings/<YYYY-MM-DD of start, UTC>/<session_id>.jsonl (directories
  // too). The session id must be 1..128 characters of [A-Za-z0-9_.-] (not starting with '.');
  // an existing file is never reopened (O_EXCL): a second writer would break the chain.
  [[nodiscard]] Result<std::shared_ptr<RecordingFile>> create_file(
      std::string_view session_id, std::chrono::system_clock::time_point start);

  // Writes all of `bytes` with write(2), looping on partial writes and EINTR. Then fsyncs inline
  // (interval 0, or after stop()) or marks the file for the batcher. Any failure is an error of
  // code kRecording; the caller must then treat the file as broken.
  [[nodiscard]] Result<void> write(const std::shared_ptr<RecordingFile>& file,
                                   std::string_view bytes);

  // Stops the batcher after a final fsync of every file written since its last pass. Idempotent.
  // Writes after stop() fsync inline.
  void stop();

  const std::string& data_dir() const { return options_.data_dir; }
  std::string recordings_dir() const;
  std::chrono::milliseconds fsync_interval() const { return options_.fsync_interval; }
  uint64_t fsync_passes() const { return fsync_passes_.load(); }
  uint64_t fsync_failures() const { return fsync_failures_.load(); }
  uint64_t fsyncs() const { return fsyncs_.load(); }

 private:
  explicit RecordingSink(RecordingSinkOptions options);
  void run();
  void sync_pending();
  bool sync_one(RecordingFile& file);

  RecordingSinkOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> inline_fsync_{false};
  std::vector<std::shared_ptr<RecordingFile>> dirty_;  // guarded by mu_
  std::thread thread_;
  std::atomic<uint64_t> fsync_passes_{0};
  std::atomic<uint64_t> fsync_failures_{0};
  std::atomic<uint64_t> fsyncs_{0};
};

}  // namespace custos::record
