//! Where a link from Daily's API may lead (docs/behaviour.md#access-links). A link is a
//! URL a webhook's job names, so it is followed only over https to a public address: never
//! to loopback, a private network, link-local (the instance metadata service) or any other
//! special-purpose range. Only when `DAILY_API_URL` is itself a loopback stand-in (local
//! runs, tests) are links followed to loopback, and then to loopback only.
//!
//! An address written in the link is checked before any request; a host name is checked
//! as it resolves ([`Guarded`], the HTTP client's resolver), so a name that resolves to a
//! private address reaches nothing either.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

/// Which addresses requests may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Daily's API itself: wherever the operator's `DAILY_API_URL` points.
    Any,
    /// Links, with Daily's real API: public addresses over https.
    Public,
    /// Links, with a loopback stand-in as `DAILY_API_URL`: loopback only.
    Loopback,
}

impl Reach {
    /// The reach of links given the API's base URL.
    pub(crate) fn of_links(api_url: &str) -> Self {
        match api_url.parse::<http::Uri>() {
            Ok(uri) if uri.host().is_some_and(is_loopback_host) => Reach::Loopback,
            _ => Reach::Public,
        }
    }

    fn allows(self, ip: IpAddr) -> bool {
        match self {
            Reach::Any => true,
            Reach::Public => is_public(ip),
            Reach::Loopback => canonical(ip).is_loopback(),
        }
    }

    /// Whether `uri` may be requested, judged before any request: scheme and host as
    /// written (a host name is judged again as it resolves).
    pub(crate) fn admits(self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host() else {
            return false;
        };
        let host = unbracket(host);
        let address = host.parse::<IpAddr>().ok();
        match self {
            Reach::Any => true,
            Reach::Public => {
                uri.scheme_str() == Some("https")
                    && address.map_or_else(|| !is_localhost_name(host), is_public)
            }
            Reach::Loopback => {
                matches!(uri.scheme_str(), Some("http" | "https")) && is_loopback_host(host)
            }
        }
    }
}

fn unbracket(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// `localhost`, a name under it, or a loopback address.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = unbracket(host);
    is_localhost_name(host)
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| canonical(ip).is_loopback())
}

fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is an address of the public internet: none of the special-purpose ranges
/// of RFC 6890 and its successors.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // 6to4 (2002::/16) and NAT64 (64:ff9b::/96) lead to the IPv4 address they embed.
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        is_public_v4(Ipv4Addr::new(a, b, c, d))
    };
    if s[0] == 0x2002 {
        return embedded(s[1], s[2]);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return embedded(s[6], s[7]);
    }
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || s[..6] == [0; 6] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || s[..4] == [0x100, 0, 0, 0]; // discard
    !special
}

/// A host name that resolved to no address the reach allows: the link is not followed,
/// and no retry changes that.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to no address a link may reach")]
pub(crate) struct Unreachable;

/// The HTTP client's resolver: the system's, keeping only the addresses `reach` allows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Guarded(pub(crate) Reach);

type Resolved = Result<std::vec::IntoIter<SocketAddr>, Box<dyn std::error::Error + Send + Sync>>;

impl tower_service::Service<Name> for Guarded {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Resolved> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let reach = self.0;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| reach.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(Unreachable) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(allowed.into_iter())
        })
    }
}

/// Whether `error`, or any error it was caused by, is [`Unreachable`].
pub(crate) fn is_unreachable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<Unreachable>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_purpose_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2002:a00:1::",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["52.95.110.1", "8.8.8.8", "2600:1f18::1", "2002:808:808::"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn links_are_admitted_by_scheme_and_written_address() {
        let admits = |reach: Reach, url: &str| reach.admits(&url.parse().unwrap());
        assert!(admits(
            Reach::Public,
            "https://bucket.s3.amazonaws.com/k?X-Amz-Signature=1"
        ));
        assert!(admits(Reach::Public, "https://52.95.110.1/k"));
        for url in [
            "http://bucket.s3.amazonaws.com/k",
            "http://127.0.0.1:9000/f",
            "https://127.0.0.1/f",
            "https://[::1]/f",
            "https://localhost/f",
            "https://a.localhost./f",
            "https://10.0.0.1/f",
            "https://169.254.169.254/latest/meta-data",
            "ftp://52.95.110.1/f",
        ] {
            assert!(!admits(Reach::Public, url), "{url}");
        }
        assert!(admits(Reach::Loopback, "http://127.0.0.1:9000/f"));
        assert!(admits(Reach::Loopback, "http://localhost/f"));
        assert!(!admits(
            Reach::Loopback,
            "https://bucket.s3.amazonaws.com/k"
        ));
        assert!(!admits(Reach::Loopback, "http://127.0.0.1.example.com/f"));
        assert_eq!(Reach::of_links("http://127.0.0.1:9/v1"), Reach::Loopback);
        assert_eq!(Reach::of_links("https://api.daily.co/v1"), Reach::Public);
    }
}
