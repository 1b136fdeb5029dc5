//! Turning a probe's `host` and `port` into socket addresses.
//!
//! IP literals (IPv4, IPv6 bare or in brackets) never touch the resolver.
//! Names go through std's `ToSocketAddrs`, which is getaddrinfo(3) and
//! BLOCKS (DNS, /etc/hosts, nsswitch). So this is the one probe function
//! the event loop must not call on every attempt: the lead resolves at
//! config load (and reload), keeps the addresses, and re-resolves a name at
//! most once per probe interval, only after a failure. Probe attempts
//! themselves take the resolved `&[SocketAddr]` and never resolve.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::plan::ProbeKind;

/// The addresses a probe connects to: `resolve(host, port)` for tcp and
/// http, no addresses (and no lookup) for exec. Blocks for names, see above.
pub fn resolve_probe(kind: &ProbeKind) -> Result<Vec<SocketAddr>, String> {
    match kind {
        ProbeKind::Exec(_) | ProbeKind::Shell(_) => Ok(Vec::new()),
        ProbeKind::Tcp { host, port } | ProbeKind::Http { host, port, .. } => resolve(host, *port),
    }
}

/// The addresses of `host:port`, in the resolver's order (the tcp
/// connector tries them in this order). Errors are one lowercase line:
/// `resolve db.internal: failed to lookup address information: ...`.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if bare.is_empty() || bare.contains(['[', ']']) {
        return Err(format!("resolve {host}: not a host name"));
    }
    match (bare, port).to_socket_addrs() {
        Ok(it) => {
            let addrs: Vec<SocketAddr> = it.collect();
            if addrs.is_empty() {
                Err(format!("resolve {host}: no addresses"))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(format!("resolve {host}: {}", super::os_text(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(
            resolve("127.0.0.1", 80).unwrap(),
            vec!["127.0.0.1:80".parse().unwrap()]
        );
        assert_eq!(
            resolve("[::1]", 8080).unwrap(),
            vec!["[::1]:8080".parse().unwrap()]
        );
        assert_eq!(
            resolve("::1", 8080).unwrap(),
            vec!["[::1]:8080".parse().unwrap()]
        );
    }

    #[test]
    fn probe_kinds() {
        let exec = ProbeKind::Shell("true".into());
        assert_eq!(resolve_probe(&exec).unwrap(), vec![]);
        let http = ProbeKind::Http {
            url: "http://127.0.0.1:3000/health".into(),
            host: "127.0.0.1".into(),
            port: 3000,
            path: "/health".into(),
        };
        assert_eq!(
            resolve_probe(&http).unwrap(),
            vec!["127.0.0.1:3000".parse().unwrap()]
        );
    }

    #[test]
    fn localhost_resolves_to_loopback() {
        let addrs = resolve("localhost", 9).unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 9),
            "{addrs:?}"
        );
    }

    #[test]
    fn bad_names_are_errors() {
        assert_eq!(resolve("", 1).unwrap_err(), "resolve : not a host name");
        assert_eq!(
            resolve("[::1", 1).unwrap_err(),
            "resolve [::1: not a host name"
        );
        // RFC 6761: .invalid never resolves.
        let e = resolve("no-such-host.invalid", 1).unwrap_err();
        assert!(e.starts_with("resolve no-such-host.invalid: "), "{e}");
    }
}
