#pragma once
// RowBatchMasker: masks a run of DataRow / CopyData frames from one upstream read. A large run is
// cut into pieces of kPieceRows rows that the session's thread and any idle worker claim from a
// shared counter (core::WorkerPool), so one big result can use a second core; the output keeps
// the input order. Pieces and their buffers are reused from one batch to the next.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/worker_pool.h"
#include "mask/mask_counts.h"
#include "protocol/postgres/row_rewriter.h"

namespace custos::postgres {

class RowBatchMasker {
 public:
  // A whole frame (type byte, length, payload) in the read buffer.
  struct Row {
    size_t offset = 0;
    size_t wire_size = 0;
  };
  // The first row that could not be masked.
  struct Failure {
    size_t row = 0;     // index in the batch
    bool copy = false;  // a CopyData row (else a DataRow)
    std::string error;
  };
  static constexpr size_t kPieceRows = 48;

  // Appends each row to `out` in order, masked under `plan` (COPY rows as CSV when `csv`, else
  // text), or as it came when nothing in it needs masking, and tallies into `counts`. Stops at
  // the first row that cannot be masked: the rows before it are in `out`, it and the rest are
  // not. `workers` may be null (everything on the calling thread).
  std::optional<Failure> mask(const mask::MaskPlan& plan, bool csv, core::ByteView readable,
                              const std::vector<Row>& rows, core::WorkerPool* workers,
                              core::Bytes& out, mask::MaskCounts& counts);

 private:
  struct Piece {  // a run of rows, masked by whichever thread claims it
    core::Bytes out;
    mask::MaskCounts counts;
    std::optional<Failure> failure;
  };
  std::vector<Piece> pieces_;
};

}  // namespace custos::postgres
