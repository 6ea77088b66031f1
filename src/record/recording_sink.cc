#include "record/recording_sink.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "record/timestamp.h"

namespace custos::record {
namespace {

bool valid_session_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

RecordingFile::~RecordingFile() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

RecordingSink::RecordingSink(RecordingSinkOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<RecordingSink>> RecordingSink::open(RecordingSinkOptions options) {
  if (options.data_dir.empty()) {
    return fail(ErrorCode::kConfig, "recording sink: data_dir is empty");
  }
  if (options.fsync_interval.count() < 0) {
    return fail(ErrorCode::kConfig, "recording sink: fsync_interval must be >= 0");
  }
  std::unique_ptr<RecordingSink> sink(new RecordingSink(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(sink->recordings_dir(), ec);
  if (ec) {
    return fail(ErrorCode::kIo, "cannot create recordings directory " + sink->recordings_dir() +
                                    ": " + ec.message());
  }
  if (sink->options_.fsync_interval.count() == 0) {
    sink->inline_fsync_ = true;
  } else {
    sink->thread_ = std::thread([s = sink.get()] { s->run(); });
  }
  return sink;
}

RecordingSink::~RecordingSink() { stop(); }

std::string RecordingSink::recordings_dir() const {
  return (std::filesystem::path(options_.data_dir) / "recordings").string();
}

Result<std::shared_ptr<RecordingFile>> RecordingSink::create_file(
    std::string_view session_id, std::chrono::system_clock::time_point start) {
  if (!valid_session_id(session_id)) {
    return fail(ErrorCode::kRecording, "invalid session id for a recording file name");
  }
  std::filesystem::path dir = std::filesystem::path(recordings_dir()) / format_date(start);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return fail(ErrorCode::kRecording,
                "cannot create recording directory " + dir.string() + ": " + ec.message());
  }
  std::string path = (dir / (std::string(session_id) + ".jsonl")).string();
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    return fail(ErrorCode::kRecording,
                "cannot create recording " + path + ": " + errno_text(errno));
  }
  auto file = std::make_shared<RecordingFile>(fd, path);
  // Make the new directory entry durable too (once per session, not on the statement path).
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return file;
}

Result<void> RecordingSink::write(const std::shared_ptr<RecordingFile>& file,
                                  std::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n =
        options_.write_fn ? options_.write_fn(file->fd_, p, left) : ::write(file->fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(ErrorCode::kRecording,
                  "write to recording " + file->path_ + " failed: " + errno_text(errno));
    }
    if (n == 0) {
      return fail(ErrorCode::kRecording, "write to recording " + file->path_ + " made no progress");
    }
    p += n;
    left -= size_t(n);
  }
  bool fsync_now = inline_fsync_.load(std::memory_order_relaxed);
  if (!fsync_now && !file->dirty_.exchange(true, std::memory_order_acq_rel)) {
    std::lock_guard lock(mu_);
    if (stopping_) {
      fsync_now = true;  // the batcher's final pass may already be over
    } else {
      dirty_.push_back(file);
    }
  }
  if (fsync_now) {
    int rc;
    do {
      rc = ::fdatasync(file->fd_);
    } while (rc != 0 && errno == EINTR);
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    if (rc != 0) {
      fsync_failures_.fetch_add(1, std::memory_order_relaxed);
      return fail(ErrorCode::kRecording,
                  "fsync of recording " + file->path_ + " failed: " + errno_text(errno));
    }
  }
  return {};
}

bool RecordingSink::sync_one(RecordingFile& file) {
  // Clear first: a write finishing after this re-registers the file for the next pass.
  file.dirty_.store(false, std::memory_order_release);
  int rc;
  do {
    rc = ::fdatasync(file.fd_);
  } while (rc != 0 && errno == EINTR);
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  if (rc != 0) {
    fsync_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("recording: fsync of {} failed: {}", file.path_, errno_text(errno));
    return false;
  }
  return true;
}

void RecordingSink::sync_pending() {
  std::vector<std::shared_ptr<RecordingFile>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(dirty_);
  }
  for (auto& f : batch) {
    sync_one(*f);
  }
  fsync_passes_.fetch_add(1, std::memory_order_relaxed);
  // `batch` drops its references here: a file whose recorder is gone gets closed now.
}

void RecordingSink::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.fsync_interval, [this] { return stopping_; });
    lock.unlock();
    sync_pending();
    lock.lock();
  }
}

void RecordingSink::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
    // From now on durable writes fsync inline, so nothing is left to a batcher that is gone.
    inline_fsync_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  sync_pending();  // anything registered between the thread's last pass and inline_fsync_
}

}  // namespace custos::record
