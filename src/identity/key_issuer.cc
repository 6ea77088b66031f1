#include "identity/key_issuer.h"

#include "core/hex.h"
#include "identity/credential_text.h"

namespace custos::identity {

Result<IssuedKey> KeyIssuer::create(const std::string& identity,
                                    std::optional<std::chrono::seconds> ttl,
                                    std::chrono::system_clock::time_point now) {
  IssuedKey out;
  out.text = generate_api_key();
  out.row.identity = identity;
  out.row.sha256_hex = core::sha256_hex(out.text.reveal());
  out.row.key_id = out.row.sha256_hex.substr(0, 12);
  out.row.created_at = now;
  if (ttl) {
    out.row.expires_at = now + *ttl;
  }
  if (Result<void> r = store_.insert_key(out.row); !r) {
    return fail(r.error().code, r.error().message);
  }
  return out;
}

Result<IssuedKey> KeyIssuer::rotate(const std::string& key_id, std::chrono::seconds grace,
                                    std::chrono::system_clock::time_point now) {
  Result<store::StoredKey> old = store_.get_key(key_id);
  if (!old) {
    return fail(old.error().code, old.error().message);
  }
  if (!old->valid_at(now)) {
    return fail(ErrorCode::kDenied,
                "key " + key_id + " is " + old->state_at(now) + " and cannot be rotated");
  }
  std::optional<std::chrono::seconds> ttl;
  if (old->expires_at) {
    ttl = std::chrono::duration_cast<std::chrono::seconds>(*old->expires_at - old->created_at);
  }
  IssuedKey out;
  out.text = generate_api_key();
  out.row.identity = old->identity;
  out.row.sha256_hex = core::sha256_hex(out.text.reveal());
  out.row.key_id = out.row.sha256_hex.substr(0, 12);
  out.row.created_at = now;
  out.row.rotated_from = key_id;
  if (ttl) {
    out.row.expires_at = now + *ttl;
  }
  if (Result<void> r = store_.insert_key(out.row); !r) {
    return fail(r.error().code, r.error().message);
  }
  std::chrono::system_clock::time_point grace_until = now + grace;
  if (old->grace_until && *old->grace_until < grace_until) {
    grace_until = *old->grace_until;
  }
  if (Result<void> r = store_.set_grace(key_id, grace_until); !r) {
    return fail(r.error().code, r.error().message);
  }
  return out;
}

}  // namespace custos::identity
