#pragma once
// Generic access to libpg_query's protobuf-c parse tree by reflection, shared by the analyzers
// that must see every node (so no call or column reference hides in a node type they do not
// name): the active member of a Node, and every child message of a message.

#include <pg_query/pg_query.pb-c.h>

#include <cstring>
#include <string_view>

namespace custos::sql::pg_tree {

// The message of the active oneof member of a Node (or of any message with a oneof), or nullptr.
inline const ProtobufCMessage* active_child(const ProtobufCMessage* m) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  const auto* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE || !(f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
      continue;
    }
    uint32_t which = 0;
    std::memcpy(&which, base + f.quantifier_offset, sizeof(which));
    if (which == f.id) {
      const ProtobufCMessage* child = nullptr;
      std::memcpy(&child, base + f.offset, sizeof(child));
      return child;
    }
  }
  return nullptr;
}

// Calls visit(child) for every child message of m: singular message fields, every element of
// repeated message fields, and the active member of a oneof.
template <typename Visit>
void for_each_child(const ProtobufCMessage* m, Visit&& visit) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  const auto* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) {
      continue;
    }
    if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t which = 0;
      std::memcpy(&which, base + f.quantifier_offset, sizeof(which));
      if (which != f.id) {
        continue;
      }
    }
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      size_t count = 0;
      std::memcpy(&count, base + f.quantifier_offset, sizeof(count));
      const ProtobufCMessage* const* items = nullptr;
      std::memcpy(&items, base + f.offset, sizeof(items));
      for (size_t k = 0; k < count && items != nullptr; ++k) {
        if (items[k] != nullptr) {
          visit(items[k]);
        }
      }
      continue;
    }
    const ProtobufCMessage* child = nullptr;
    std::memcpy(&child, base + f.offset, sizeof(child));
    if (child != nullptr) {
      visit(child);
    }
  }
}

// The text of a String node ("" for anything else).
inline std::string_view string_of(const PgQuery__Node* n) {
  if (n == nullptr || n->node_case != PG_QUERY__NODE__NODE_STRING || n->string->sval == nullptr) {
    return {};
  }
  return n->string->sval;
}

}  // namespace custos::sql::pg_tree
