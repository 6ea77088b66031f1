#!/usr/bin/env python3
"""Checks that every #include under src/ follows the layers of DESIGN.md: a layer includes only
the layers listed for it below (and itself). Run by ctest (label unit) and by the build, so a
wrong include fails before it is reviewed.

    scripts/check-layers.py [SRC_DIR]     # exit 1 and one line per violation
"""
import os
import re
import sys

# layer -> the layers it may include. A layer is a folder under src/ (protocol/<name> is one
# layer per protocol; server/ is split: its neutral headers are "services", gateway is "server").
ALLOWED = {
    "core": [],
    "net": ["core"],
    "config": ["core"],
    "secrets": ["core", "config"],
    "sql": ["core"],
    "identity": ["core", "config", "store"],
    "policy": ["core", "config", "sql", "identity"],
    "mask": ["core", "config", "sql"],
    "record": ["core"],
    "approval": ["core", "config", "record", "secrets"],
    "store": ["core", "approval"],
    "services": ["core", "config", "identity", "mask", "approval", "record", "store"],
    "session": ["core", "config", "identity", "policy", "sql", "mask", "approval", "record",
                "store", "services", "net"],
    "protocol": ["core", "config", "net", "services"],
    "protocol/postgres": ["core", "config", "net", "identity", "secrets", "policy", "sql", "mask",
                          "approval", "record", "store", "services", "session", "protocol"],
    "api": ["core", "config", "identity", "approval", "record", "store", "services"],
    "server": ["core", "config", "net", "identity", "secrets", "mask", "approval", "record",
               "store", "services", "api", "protocol"],
    "cli": ["*"],
}
# Single headers a layer may use beyond its table: the vocabularies config validates names
# against (detector names, statement kinds, built-in functions), and the one registry that
# names every protocol.
EXCEPTIONS = {
    "config": {"mask/detector.h", "sql/kind.h", "sql/function_catalog.h"},
    "protocol": {"protocol/postgres/module.h"},
}
# libpg_query is the PostgreSQL dialect's parser: only sql/ and protocol/postgres/ see it.
PG_QUERY_LAYERS = {"sql", "protocol/postgres"}


def layer_of(path):
    parts = path.split("/")
    if parts[0] == "protocol" and len(parts) > 2:
        return "protocol/" + parts[1]
    if parts[0] == "server":
        return "services" if parts[1].startswith(("services.", "session_registry.")) else "server"
    return parts[0]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..",
                                                              "src")
    problems = []
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".h", ".cc", ".inc")):
                continue
            path = os.path.relpath(os.path.join(root, name), src).replace(os.sep, "/")
            layer = layer_of(path)
            allowed = ALLOWED.get(layer)
            if allowed is None:
                problems.append(f"src/{path}: layer '{layer}' is not in the layer table")
                continue
            text = open(os.path.join(root, name), encoding="utf-8", errors="replace").read()
            for n, line in enumerate(text.splitlines(), 1):
                m = re.match(r'\s*#\s*include\s*[<"]([^">]+)[">]', line)
                if not m:
                    continue
                inc = m.group(1)
                if "pg_query" in inc and layer not in PG_QUERY_LAYERS:
                    problems.append(f"src/{path}:{n}: includes {inc}; only sql/ and "
                                    "protocol/postgres/ use libpg_query")
                if not os.path.exists(os.path.join(src, inc)):
                    continue  # a system or third-party header
                target = layer_of(inc)
                if (target == layer or "*" in allowed or target in allowed or
                        inc in EXCEPTIONS.get(layer, ())):
                    continue
                problems.append(f"src/{path}:{n}: layer '{layer}' may not include {inc} "
                                f"(layer '{target}')")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
