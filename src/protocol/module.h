#pragma once
// protocol::Module: what one protocol brings to the gateway. The gateway knows protocols only
// through this interface: it opens a listener at each module's address with a TLS context of
// the module's own (its ALPN), and hands every accepted socket to the module. A new protocol is
// a folder under src/protocol/ plus one line in registry.cc.

#include <asio/ssl.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "net/stream.h"

namespace custos::server {
struct Services;
}

namespace custos::protocol {

class Module {
 public:
  virtual ~Module() = default;
  // "postgres": the listener's name in logs and the connection type it serves.
  virtual std::string_view name() const = 0;
  // Where it listens (listen.<name>), or nullopt when the config gives it no listener.
  virtual std::optional<config::HostPort> listen_address(const config::Config& cfg) const = 0;
  // Installs the module's ALPN on its listener's TLS context (a TLS connection meant for another
  // protocol fails the handshake instead of being taken for this one).
  virtual void configure_tls(SSL_CTX* ctx) const = 0;
  // The listener's own TLS context (nullptr: no TLS), given once before the listener opens.
  virtual void use_tls(asio::ssl::context* tls) = 0;
  // Starts a session on an accepted socket.
  virtual void start(net::tcp::socket socket) = 0;
};

// A registered protocol: builds its module once the services exist (where the state its
// sessions share is made: caches, catalogs, upstream TLS). Throws on start-up errors.
struct Registration {
  std::string_view name;
  std::unique_ptr<Module> (*make)(server::Services& services);
};

// Every protocol this build serves.
const std::vector<Registration>& registry();

}  // namespace custos::protocol
