#include "protocol/postgres/row_batch_masker.h"

#include <algorithm>

namespace custos::postgres {
namespace {

constexpr size_t kFrameHeader = 5;  // type byte and length

}  // namespace

std::optional<RowBatchMasker::Failure> RowBatchMasker::mask(
    const mask::MaskPlan& plan, bool csv, core::ByteView readable, const std::vector<Row>& rows,
    core::WorkerPool* workers, core::Bytes& out, mask::MaskCounts& counts) {
  const size_t pieces = (rows.size() + kPieceRows - 1) / kPieceRows;
  if (pieces_.size() < pieces) {
    pieces_.resize(pieces);
  }
  const auto mask_piece = [&](size_t p) {
    Piece& piece = pieces_[p];
    piece.out.clear();
    piece.counts = mask::MaskCounts{};
    piece.failure.reset();
    const size_t end = std::min(rows.size(), (p + 1) * kPieceRows);
    for (size_t i = p * kPieceRows; i < end; ++i) {
      const core::ByteView raw = readable.subspan(rows[i].offset, rows[i].wire_size);
      const core::ByteView payload = raw.subspan(kFrameHeader);
      const bool copy = raw[0] == 'd';
      auto changed = copy ? postgres::rewrite_copy_data(plan, csv, csv ? ',' : '\t', payload,
                                                    piece.out, piece.counts)
                          : postgres::rewrite_data_row(plan, payload, piece.out, piece.counts);
      if (!changed) {
        piece.failure = Failure{i, copy, changed.error().message};
        return;
      }
      if (!*changed) {
        core::append(piece.out, raw);
      }
    }
  };
  if (workers != nullptr) {
    workers->parallel_for(pieces, mask_piece);
  } else {
    for (size_t p = 0; p < pieces; ++p) {
      mask_piece(p);
    }
  }
  for (size_t p = 0; p < pieces; ++p) {
    Piece& piece = pieces_[p];
    core::append(out, core::ByteView(piece.out));
    counts.merge(piece.counts);
    if (piece.out.capacity() > (size_t{1} << 20)) {
      core::Bytes().swap(piece.out);  // one huge row must not stay resident
    }
    if (piece.failure) {
      return std::move(piece.failure);
    }
  }
  return std::nullopt;
}

}  // namespace custos::postgres
