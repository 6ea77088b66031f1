#include "identity/token_service.h"

#include "core/hex.h"
#include "identity/credential_text.h"

namespace custos::identity {

using Clock = std::chrono::system_clock;

TokenService::TokenService(const config::Config& cfg, OidcVerifier& verifier,
                           store::KeyStore& store)
    : verifier_(verifier), store_(store), max_ttl_(cfg.tokens.max_ttl) {
  for (const config::Identity& id : cfg.identities) {
    groups_[id.name] = id.groups;
  }
}

Result<IssuedToken> TokenService::exchange(std::string_view identity,
                                           std::string_view workload_token, Clock::time_point now) {
  Result<VerifiedToken> verified = verifier_.verify(identity, workload_token, now);
  if (!verified) {
    return fail(ErrorCode::kAuth, verified.error().message);
  }
  Clock::time_point expires = now + max_ttl_;
  if (verified->expires_at < expires) {
    expires = verified->expires_at;
  }
  if (expires <= now + std::chrono::seconds(1)) {
    return fail(ErrorCode::kAuth, "workload token expires too soon to exchange");
  }
  IssuedToken out;
  out.token = generate_exchange_token();
  out.identity = verified->identity;
  out.expires_at = std::chrono::floor<std::chrono::seconds>(expires);
  out.token_jti = verified->jti;
  out.token_sub = verified->subject;
  store::StoredToken row;
  row.sha256_hex = core::sha256_hex(out.token.reveal());
  row.token_id = row.sha256_hex.substr(0, 12);
  row.identity = out.identity;
  row.token_jti = out.token_jti;
  row.token_sub = out.token_sub;
  row.created_at = now;
  row.expires_at = out.expires_at;
  if (Result<void> r = store_.insert_token(row); !r) {
    return fail(ErrorCode::kUnavailable, "cannot store token: " + r.error().message);
  }
  out.token_id = row.token_id;
  return out;
}

Result<Principal> TokenService::authenticate(std::string_view identity, std::string_view presented,
                                             Clock::time_point now) {
  if (!looks_like_exchange_token(presented) || presented.size() > 64) {
    return fail(ErrorCode::kAuth, "not a custos token");
  }
  auto groups = groups_.find(identity);
  if (groups == groups_.end()) {
    return fail(ErrorCode::kAuth, "unknown identity");
  }
  const std::string digest = core::sha256_hex(presented);
  Result<store::StoredToken> row = store_.get_token(digest.substr(0, 12));
  if (!row) {
    if (row.error().code == ErrorCode::kNotFound) {
      return fail(ErrorCode::kAuth, "no matching token");
    }
    return fail(ErrorCode::kAuth, "key store unavailable: " + row.error().message);
  }
  if (!core::constant_time_equal(digest, row->sha256_hex) || row->identity != identity) {
    return fail(ErrorCode::kAuth, "no matching token");
  }
  if (row->revoked_at) {
    return fail(ErrorCode::kAuth, "token " + row->token_id + " is revoked");
  }
  if (now >= row->expires_at) {
    return fail(ErrorCode::kAuth, "token " + row->token_id + " expired");
  }
  Principal p;
  p.identity = row->identity;
  p.groups = groups->second;
  p.auth_method = "token";
  p.key_id = row->token_id;
  p.token_jti = row->token_jti;
  p.token_sub = row->token_sub;
  return p;
}

Result<void> TokenService::revoke(const std::string& token_id, Clock::time_point now) {
  Result<store::StoredToken> row = store_.get_token(token_id);
  if (!row) {
    return fail(row.error().code, row.error().message);
  }
  return store_.revoke(token_id, now);
}

}  // namespace custos::identity
