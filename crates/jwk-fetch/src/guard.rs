//! The SSRF guard: which addresses a URL source may reach, checked on the addresses the
//! client will actually connect to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Why an address is refused, or `None` for a public unicast address.
///
/// Refused: loopback, private (RFC 1918), link-local (incl. 169.254.169.254 cloud metadata),
/// unique-local, CGNAT (100.64/10), multicast, unspecified, broadcast, reserved (240/4),
/// benchmarking (198.18/15), documentation ranges, IETF protocol assignments (192.0.0/24),
/// the local-use NAT64 prefix (64:ff9b:1::/48, RFC 8215: a local network's translator), and
/// any IPv6 address whose embedded IPv4 address is refused: IPv4-mapped (::ffff:0:0/96),
/// IPv4-translated (::ffff:0:0:0/96, RFC 2765), IPv4-compatible (::/96), NAT64
/// (64:ff9b::/96), 6to4 (2002::/16, RFC 3056) and Teredo (2001::/32, RFC 4380: its server
/// address, and its client address, stored inverted).
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, _, _) => "loopback",
        (10, _, _) => "private",
        (172, 16..=31, _) => "private",
        (192, 168, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "carrier-grade NAT",
        (0, _, _) => "unspecified",
        (224..=239, _, _) => "multicast",
        (255, 255, 255) if ip.is_broadcast() => "broadcast",
        (240..=255, _, _) => "reserved",
        (198, 18..=19, _) => "benchmarking",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 0, 0) => "IETF protocol assignment",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    let v4 = |high: u16, low: u16| {
        Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    // IPv4-compatible (::a.b.c.d, deprecated), IPv4-translated (::ffff:0:a.b.c.d) and NAT64
    // (64:ff9b::/96): judge the IPv4 inside.
    if s[..6] == [0, 0, 0, 0, 0, 0]
        || s[..6] == [0, 0, 0, 0, 0xffff, 0]
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        return forbidden_v4(v4(s[6], s[7]));
    }
    if s[..3] == [0x64, 0xff9b, 1] {
        return Some("local-use NAT64");
    }
    // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    if s[0] == 0x2002 {
        return forbidden_v4(v4(s[1], s[2]));
    }
    // Teredo: 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, the server's IPv4 and the client's,
    // inverted.
    if s[0] == 0x2001 && s[1] == 0 {
        return forbidden_v4(v4(s[2], s[3])).or_else(|| forbidden_v4(v4(!s[6], !s[7])));
    }
    Some(match s[0] {
        0xfc00..=0xfdff => "unique-local",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xff00..=0xffff => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation",
        _ => return None,
    })
}

/// The first refused address seen by the resolver, to turn "host not found" into
/// "blocked address" with its reason.
pub(crate) type Blocked = Arc<Mutex<Option<(String, IpAddr, &'static str)>>>;

/// Resolves with the system resolver (or `R`, in tests), then, with the guard on, keeps only
/// allowed addresses. ureq consults it for every hop (IP-literal hosts and redirect targets
/// included) and connects only to the addresses it returns, so a name cannot be re-pointed
/// between check and connect. A failed lookup is `HostNotFound` (the system resolver reports
/// it as an I/O error, which would otherwise read as a connection failure).
#[derive(Debug)]
pub(crate) struct GuardedResolver<R = DefaultResolver> {
    inner: R,
    /// `None`: the guard is off (private networks allowed).
    allowed: Option<Vec<IpAddr>>,
    pub(crate) blocked: Blocked,
}

impl GuardedResolver {
    /// The system resolver, guarded unless `allowed` is `None`.
    pub(crate) fn new(allowed: Option<Vec<IpAddr>>) -> Self {
        GuardedResolver::with_inner(DefaultResolver::default(), allowed)
    }
}

impl<R: Resolver> GuardedResolver<R> {
    pub(crate) fn with_inner(inner: R, allowed: Option<Vec<IpAddr>>) -> Self {
        GuardedResolver {
            inner,
            allowed,
            blocked: Arc::new(Mutex::new(None)),
        }
    }
}

impl<R: Resolver> Resolver for GuardedResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let all = match self.inner.resolve(uri, config, timeout) {
            Err(ureq::Error::Io(_)) => return Err(ureq::Error::HostNotFound),
            other => other?,
        };
        let Some(allowed) = &self.allowed else {
            return Ok(all);
        };
        let mut kept = self.inner.empty();
        for addr in all.iter() {
            let exempt = allowed.contains(&addr.ip());
            match forbidden_reason(addr.ip()).filter(|_| !exempt) {
                None => kept.push(*addr),
                Some(reason) => {
                    let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
                    if blocked.is_none() {
                        let host = uri.host().unwrap_or_default().to_owned();
                        *blocked = Some((host, addr.ip(), reason));
                    }
                }
            }
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver that fails as the system one does when a name does not resolve (no DNS
    /// server, NXDOMAIN): an I/O error from getaddrinfo. No lookup leaves the machine.
    #[derive(Debug)]
    struct Failing;

    impl Resolver for Failing {
        fn resolve(
            &self,
            _: &Uri,
            _: &Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            Err(ureq::Error::Io(std::io::Error::other(
                "failed to lookup address information: Temporary failure in name resolution",
            )))
        }
    }

    #[test]
    fn a_failed_lookup_is_host_not_found_with_the_guard_on_or_off() {
        let uri: Uri = "https://idp.example/jwks".parse().unwrap();
        let config = Config::default();
        for allowed in [Some(Vec::new()), None] {
            let resolver = GuardedResolver::with_inner(Failing, allowed);
            let e = resolver
                .resolve(&uri, &config, NextTimeout::default())
                .unwrap_err();
            assert!(matches!(e, ureq::Error::HostNotFound), "{e:?}");
            assert!(resolver.blocked.lock().unwrap().is_none());
        }
    }

    fn reason(s: &str) -> Option<&'static str> {
        forbidden_reason(s.parse().unwrap())
    }

    #[test]
    fn classification_of_every_range() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.127.255.255", Some("carrier-grade NAT")),
            ("100.128.0.1", None),
            ("0.0.0.0", Some("unspecified")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("240.0.0.1", Some("reserved")),
            ("198.18.0.1", Some("benchmarking")),
            ("192.0.2.7", Some("documentation")),
            ("192.0.0.8", Some("IETF protocol assignment")),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fc00::1", Some("unique-local")),
            ("fd12:3456::1", Some("unique-local")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:8.8.8.8", None),
            ("::10.0.0.1", Some("private")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("64:ff9b::808:808", None),
            ("::ffff:0:7f00:1", Some("loopback")),
            ("::ffff:0:a00:1", Some("private")),
            ("::ffff:0:808:808", None),
            ("64:ff9b:1::808:808", Some("local-use NAT64")),
            ("64:ff9b:1:ffff::1", Some("local-use NAT64")),
            ("2002:7f00:1::1", Some("loopback")),
            ("2002:a9fe:a9fe::1", Some("link-local")),
            ("2002:c0a8:101:1::1", Some("private")),
            ("2002:808:808::1", None),
            // Teredo: server 127.0.0.1; client 10.0.0.1 (inverted: f5ff:fffe); both public.
            ("2001:0:7f00:1:0:0:f7f7:f7f7", Some("loopback")),
            ("2001:0:808:808:0:0:f5ff:fffe", Some("private")),
            ("2001:0:808:808:8000:fb4f:f7f7:f7f7", None),
            ("2001:4860::8888", None),
            ("2606:4700::1111", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(reason(ip), expected, "{ip}");
        }
    }
}
