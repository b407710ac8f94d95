//! Calls to URLs an app configured (webhooks, model providers, a routine's
//! `callUrl`, OAuth providers) go out from inside the platform's network, so
//! an app could otherwise aim them at the server's neighbours (databases,
//! cloud metadata at 169.254.169.254). Unless the server allows private
//! addresses (`ORBIT_WEBHOOK_ALLOW_PRIVATE`, for development and tests), such
//! a call may only reach public addresses. The check sits in the HTTP
//! client's DNS resolver, so the address checked is the address connected to
//! (a name that resolves differently a second later gains nothing), and
//! redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// Why a URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("only http and https URLs can be called")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("{0} is not a public address")]
    PrivateAddress(IpAddr),
}

/// The HTTP client for app-configured URLs, and the rule it applies.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    /// `allow_private`: also call loopback, private and link-local addresses.
    pub fn new(allow_private: bool) -> Self {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Orbit/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        // Building fails only when the TLS backend cannot start, which
        // `reqwest::Client::new` treats as a bug too.
        let client = builder.build().unwrap_or_else(|_| reqwest::Client::new());
        Self {
            client,
            allow_private,
        }
    }

    /// The client; every request it makes must first pass [`Outbound::check`].
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Checks what can be checked before sending: the scheme, and a host
    /// written as an IP address (names are checked when they are resolved).
    pub fn check(&self, url: &Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Scheme);
        }
        let ip = match url.host().ok_or(OutboundError::NoHost)? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return Ok(()),
        };
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(OutboundError::PrivateAddress(ip))
        }
    }
}

/// Resolves like the system does, then keeps public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| is_public(addr.ip()))
                .collect();
            match (public.is_empty(), resolved.first()) {
                (false, _) => Ok(Box::new(public.into_iter()) as Addrs),
                (true, Some(first)) => Err(OutboundError::PrivateAddress(first.ip()).into()),
                (true, None) => Err(format!("{host} has no address").into()),
            }
        })
    }
}

/// Whether `ip` is reachable on the public internet: not loopback, private,
/// link-local, shared (CGNAT), documentation, benchmarking, multicast,
/// reserved or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn literal_addresses_are_checked_before_sending() {
        let strict = Outbound::new(false);
        let check = |url: &str| strict.check(&Url::parse(url).unwrap());
        assert_eq!(
            check("http://127.0.0.1:8080/hook"),
            Err(OutboundError::PrivateAddress("127.0.0.1".parse().unwrap()))
        );
        assert!(check("http://[::1]/").is_err());
        assert_eq!(check("ftp://example.com/"), Err(OutboundError::Scheme));
        assert!(check("https://example.com/hook").is_ok());
        let open = Outbound::new(true);
        assert!(
            open.check(&Url::parse("http://127.0.0.1/").unwrap())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_refused() {
        let strict = Outbound::new(false);
        let refused = strict
            .client()
            .get("http://localhost:9/")
            .send()
            .await
            .unwrap_err();
        let chain = format!("{:?}", refused);
        assert!(chain.contains("PrivateAddress(127.0.0.1)"), "{chain}");
    }
}
