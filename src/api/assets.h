#pragma once
// Files under src/api/assets/, compiled in by cmake/embed_assets.cmake (see custos_embed_asset in
// the top-level CMakeLists.txt): each is exactly the file's bytes, regenerated when it changes.

#include <string_view>

namespace custos::api::assets {

// The approvals page (api/approvals_page.h). The HTML is a template: {{title}} and
// {{approval_id}} are filled in per request.
extern const std::string_view kApprovalsHtml;
extern const std::string_view kApprovalsJs;
extern const std::string_view kApprovalsCss;

}  // namespace custos::api::assets
