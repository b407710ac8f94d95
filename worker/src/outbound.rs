//! Calls to URLs an app configured (webhooks, model providers, a routine's
//! `callUrl`, OAuth providers) go out from inside the platform's network, so
//! an app could otherwise aim them at the server's neighbours (databases,
//! cloud metadata at 169.254.169.254). Unless the server allows private
//! addresses (`ORBIT_WEBHOOK_ALLOW_PRIVATE`, for development and tests), such
//! a call may only reach public addresses ([`is_public`]).
//!
//! The rule is applied three times, each closing a gap the others leave:
//!
//! - [`Outbound::check`], when a URL is stored and again before each call,
//!   refuses a host written as an address in any spelling (the `url` crate
//!   turns `0x7f.1`, `2130706433`, `0177.0.0.1` and `127.1` into one
//!   `Ipv4Addr`; IPv6 forms that embed an IPv4 address are judged by it);
//! - the client's DNS resolver keeps only the public addresses of a name, so
//!   a name is refused before anything connects;
//! - a connector layer checks the peer of every connection the client makes,
//!   after connecting and before a byte of HTTP is written. This is the
//!   address actually connected to: hyper never asks the resolver about a
//!   host that is already an address, so without this layer a call that
//!   skipped `check` would reach `http://127.0.0.1` unchecked.
//!
//! The client never takes a proxy from the environment (`HTTP_PROXY` and
//! friends): a proxied request is resolved and connected by the proxy, so
//! neither the resolver nor the connector check would see the target, and
//! `http://localhost` would go out through it. Only a proxy the operator
//! names (`ORBIT_OUTBOUND_PROXY`) is used, and then that proxy must apply the
//! rule itself; `check` still refuses literal addresses. Redirects are not
//! followed.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("only http and https URLs can be called")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("{0} is not a public address")]
    PrivateAddress(IpAddr),
    /// The connection did not say where it goes: refused rather than trusted.
    #[error("the address connected to is unknown")]
    UnknownPeer,
    #[error("the outbound proxy {0}")]
    Proxy(String),
}

/// The HTTP client for app-configured URLs, and the rule it applies.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
    proxied: bool,
}

impl Outbound {
    /// `allow_private`: also call loopback, private and link-local addresses.
    /// Connects directly, whatever proxy the environment names.
    pub fn new(allow_private: bool) -> Self {
        // Without a proxy the builder has nothing that can fail but the TLS
        // backend starting, which `reqwest::Client::new` treats as a bug too.
        let client = client_builder(allow_private, None)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            client,
            allow_private,
            proxied: false,
        }
    }

    /// Like [`Outbound::new`], but with `proxy` (an `http://` or `https://`
    /// URL, `ORBIT_OUTBOUND_PROXY`) every call goes through that proxy, which
    /// must then refuse private addresses itself: the target is resolved and
    /// connected there, out of this process's sight.
    pub fn with_proxy(allow_private: bool, proxy: Option<&str>) -> Result<Self, OutboundError> {
        let Some(proxy) = proxy else {
            return Ok(Self::new(allow_private));
        };
        let parsed = Url::parse(proxy)
            .map_err(|error| OutboundError::Proxy(format!("is not a URL: {error}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(OutboundError::Proxy(
                "must be an http:// or https:// URL with a host".to_owned(),
            ));
        }
        let proxy = reqwest::Proxy::all(parsed.as_str())
            .map_err(|error| OutboundError::Proxy(error.to_string()))?;
        let client = client_builder(allow_private, Some(proxy))
            .build()
            .map_err(|error| OutboundError::Proxy(error.to_string()))?;
        Ok(Self {
            client,
            allow_private,
            proxied: true,
        })
    }

    /// The client. Call [`Outbound::check`] on a URL before sending to it:
    /// the client refuses private peers itself, but only once connected.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Whether calls go through an operator's proxy (`ORBIT_OUTBOUND_PROXY`).
    pub fn is_proxied(&self) -> bool {
        self.proxied
    }

    /// Checks what can be checked before sending: the scheme, and a host
    /// written as an IP address, in whatever spelling `url` normalised
    /// (names are checked when they are resolved, and every peer once
    /// connected).
    pub fn check(&self, url: &Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Scheme);
        }
        let ip = match url.host().ok_or(OutboundError::NoHost)? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return Ok(()),
        };
        self.allowed(ip)
    }

    fn allowed(&self, ip: IpAddr) -> Result<(), OutboundError> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(OutboundError::PrivateAddress(ip))
        }
    }
}

/// How the server's client is configured: a pure function of the settings,
/// never of the environment. `no_proxy` comes first so an environment proxy
/// is never used; a proxy the operator named replaces the local checks,
/// which would otherwise judge the proxy's own (often private) address.
fn client_builder(allow_private: bool, proxy: Option<reqwest::Proxy>) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Orbit/", env!("CARGO_PKG_VERSION")));
    match proxy {
        Some(proxy) => builder = builder.proxy(proxy),
        None if !allow_private => {
            builder = builder
                .dns_resolver(Arc::new(PublicOnly))
                .connector_layer(PublicPeersLayer);
        }
        None => {}
    }
    builder
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

/// Wraps the client's connector in [`PublicPeers`].
#[derive(Clone, Copy)]
struct PublicPeersLayer;

impl<S> tower::Layer<S> for PublicPeersLayer {
    type Service = PublicPeers<S>;

    fn layer(&self, inner: S) -> PublicPeers<S> {
        PublicPeers(inner)
    }
}

/// Drops a connection whose peer is not public, before the request is
/// written on it. Generic over the request so reqwest's unnameable
/// connector request type never has to be named.
#[derive(Clone)]
struct PublicPeers<S>(S);

impl<S, R> tower::Service<R> for PublicPeers<S>
where
    S: tower::Service<R>,
    S::Response: Connection + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.0.call(request);
        Box::pin(async move {
            let connection = connecting.await.map_err(Into::into)?;
            let mut extras = http::Extensions::new();
            connection.connected().get_extras(&mut extras);
            let peer = extras
                .get::<HttpInfo>()
                .map(|info| info.remote_addr().ip())
                .ok_or(OutboundError::UnknownPeer)?;
            if !is_public(peer) {
                return Err(OutboundError::PrivateAddress(peer).into());
            }
            Ok(connection)
        })
    }
}

/// Whether `ip` is reachable on the public internet.
///
/// IPv4: not `0.0.0.0/8` (this network, `0.0.0.0` included), `10/8`,
/// `100.64/10` (shared CGNAT space; Alibaba's metadata at 100.100.100.200),
/// `127/8`, `169.254/16` (link-local; AWS, GCP and Azure metadata at
/// 169.254.169.254), `172.16/12`, `192.0.0/24` (IETF protocol assignments;
/// Oracle's metadata at 192.0.0.192), `192.0.2/24`, `198.51.100/24`,
/// `203.0.113/24` (documentation), `192.88.99/24` (6to4 relays),
/// `192.168/16`, `198.18/15` (benchmarking), `224/4` (multicast) or
/// `240/4` (reserved, broadcast included).
///
/// IPv6: an address that stands for an IPv4 one is judged as that address:
/// IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16`.
/// Otherwise only global unicast `2000::/3` is public, and of it not Teredo
/// `2001::/32` (a tunnel to an IPv4 host), benchmarking `2001:2::/48`, ORCHID
/// `2001:10::/28` and `2001:20::/28`, documentation `2001:db8::/32` and
/// `3fff::/20`. Outside `2000::/3` lie `::` and `::1`, IPv4-compatible
/// `::/96` (`::127.0.0.1`), IPv4-translated `::ffff:0:0:0/96`, discard-only
/// `100::/64`, local-use NAT64 `64:ff9b:1::/48`, unique-local `fc00::/7`
/// (AWS metadata at fd00:ec2::254), link-local `fe80::/10`, site-local
/// `fec0::/10` and multicast `ff00::/8`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_documentation()
        || ip.is_multicast()
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // The socket, the NAT64 translator or the 6to4 relay goes on to the IPv4
    // address inside, so that address is what is being called.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    let global_unicast = s[0] & 0xe000 == 0x2000;
    global_unicast
        && !((s[0] == 0x2001 && s[1] == 0)
            || (s[0] == 0x2001 && s[1] == 2 && s[2] == 0)
            || (s[0] == 0x2001 && (0x10..0x30).contains(&s[1]))
            || (s[0] == 0x2001 && s[1] == 0x0db8)
            || (s[0] == 0x3fff && s[1] < 0x1000))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn refused(ip: &str) -> bool {
        !is_public(ip.parse().unwrap())
    }

    #[test]
    fn private_and_special_ipv4_ranges_are_not_public() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.100.100.200",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.192",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "223.255.255.254",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn private_and_special_ipv6_ranges_are_not_public() {
        for ip in [
            "::",
            "::1",
            "0:0:0:0:0:0:0:1",
            // IPv4-mapped, IPv4-compatible and IPv4-translated loopback.
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::7f00:1",
            "::8.8.8.8",
            "::ffff:0:127.0.0.1",
            "100::1",
            // NAT64 and 6to4 around a private IPv4 address, local-use NAT64.
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::1",
            // Teredo, benchmarking, ORCHID, documentation.
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:10::1",
            "2001:20::1",
            "2001:db8::1",
            "3fff::1",
            "3fff:fff::1",
            // Unique-local (AWS metadata), link-local, site-local, multicast.
            "fc00::1",
            "fd00::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "4000::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:1::1",
            "2001:4:112::1",
            "3fff:1000::1",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    /// Every way of writing a non-public address in a URL, as `check` sees
    /// it: `url` normalises the IPv4 spellings, `is_public` judges the rest.
    #[test]
    fn every_spelling_of_a_private_address_is_refused_before_sending() {
        let strict = Outbound::new(false);
        for (url, ip) in [
            // IPv4: dotted, short, decimal, octal, hex, mixed, trailing dot.
            ("http://127.0.0.1:8080/hook", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://127.0.1/", "127.0.0.1"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://0X7F.0.0.1/", "127.0.0.1"),
            ("http://0x7f.0.0.0x1/", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://0.0.0.0/", "0.0.0.0"),
            ("http://012.0.0.1/", "10.0.0.1"),
            ("http://167772161/", "10.0.0.1"),
            ("http://0xc0.0xa8.1.1/", "192.168.1.1"),
            ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
            ("http://2852039166/", "169.254.169.254"),
            ("http://0xa9fea9fe/", "169.254.169.254"),
            ("http://0251.0376.0251.0376/", "169.254.169.254"),
            ("http://169.254.43518/", "169.254.169.254"),
            ("http://100.100.100.200/", "100.100.100.200"),
            ("http://192.0.0.192/", "192.0.0.192"),
            // IPv6: short, long, mapped, compatible, translated, NAT64, 6to4,
            // Teredo, unique-local, link-local, site-local, multicast.
            ("http://[::1]/", "::1"),
            ("http://[0:0:0:0:0:0:0:1]/", "::1"),
            ("http://[0000:0000:0000:0000:0000:0000:0000:0001]/", "::1"),
            ("http://[::]/", "::"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
            ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
            ("http://[::127.0.0.1]/", "::127.0.0.1"),
            ("http://[::ffff:0:127.0.0.1]/", "::ffff:0:127.0.0.1"),
            ("http://[64:ff9b::127.0.0.1]/", "64:ff9b::7f00:1"),
            ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"),
            ("http://[2002:7f00:1::]/", "2002:7f00:1::"),
            ("http://[2002:a9fe:a9fe::]/", "2002:a9fe:a9fe::"),
            ("http://[2001:0:7f00:1::]/", "2001:0:7f00:1::"),
            ("http://[fd00::1]/", "fd00::1"),
            ("http://[fd00:ec2::254]/latest/meta-data", "fd00:ec2::254"),
            ("http://[fc00::1]/", "fc00::1"),
            ("http://[fe80::1]/", "fe80::1"),
            ("http://[fec0::1]/", "fec0::1"),
            ("http://[ff02::1]/", "ff02::1"),
        ] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(
                strict.check(&parsed),
                Err(OutboundError::PrivateAddress(ip.parse().unwrap())),
                "{url}"
            );
            assert!(Outbound::new(true).check(&parsed).is_ok(), "{url}");
        }
        for url in [
            "https://example.com/hook",
            "http://93.184.215.14/",
            "http://[2606:4700:4700::1111]/",
            "http://[::ffff:8.8.8.8]/",
        ] {
            assert!(strict.check(&Url::parse(url).unwrap()).is_ok(), "{url}");
        }
        assert_eq!(
            strict.check(&Url::parse("ftp://example.com/").unwrap()),
            Err(OutboundError::Scheme)
        );
        assert_eq!(
            strict.check(&Url::parse("file:///etc/passwd").unwrap()),
            Err(OutboundError::Scheme)
        );
    }

    /// What the chain of `error` says, down to the outbound rule's refusal.
    fn refusal(error: &reqwest::Error) -> Option<OutboundError> {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(current) = source {
            if let Some(refused) = current.downcast_ref::<OutboundError>() {
                return Some(refused.clone());
            }
            source = current.source();
        }
        None
    }

    /// A loopback listener that answers any request with `body`, and counts
    /// the requests whose first bytes it read.
    async fn answering(body: &'static str) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    if matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(answer.as_bytes()).await;
                    }
                });
            }
        });
        (port, requests)
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

    /// hyper connects to a literal address without asking the resolver; the
    /// connector layer still sees the peer, and nothing is written to it.
    #[tokio::test]
    async fn the_address_connected_to_is_checked_even_when_check_is_skipped() {
        let (port, requests) = answering("inside").await;
        let strict = Outbound::new(false);
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://0x7f.1:{port}/"),
        ] {
            let error = strict.client().get(&url).send().await.unwrap_err();
            assert!(
                matches!(refusal(&error), Some(OutboundError::PrivateAddress(ip)) if ip.is_loopback() || ip.to_canonical().is_loopback()),
                "{url}: {error:?}"
            );
        }
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 0);
        // The same client, allowed private addresses, gets through: the
        // refusal above was the rule's, not a dead listener's.
        let open = Outbound::new(true);
        let answer = open
            .client()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.text().await.unwrap(), "inside");
    }

    /// A proxy the operator names carries every call, names unresolved here,
    /// even though it listens on a private address itself; literal private
    /// addresses are still refused by `check`.
    #[tokio::test]
    async fn a_named_proxy_carries_the_calls() {
        let (port, requests) = answering("from the proxy").await;
        let proxied =
            Outbound::with_proxy(false, Some(&format!("http://127.0.0.1:{port}"))).unwrap();
        assert!(proxied.is_proxied());
        let answer = proxied
            .client()
            .get("http://orbit-outbound-test.invalid/hook")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.text().await.unwrap(), "from the proxy");
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(
            proxied
                .check(&Url::parse("http://[::ffff:10.0.0.1]/").unwrap())
                .is_err()
        );
        for bad in ["socks5://127.0.0.1:1080", "not a url", "http://"] {
            assert!(
                matches!(
                    Outbound::with_proxy(false, Some(bad)),
                    Err(OutboundError::Proxy(_))
                ),
                "{bad}"
            );
        }
        assert!(!Outbound::with_proxy(false, None).unwrap().is_proxied());
    }

    const CHILD: &str = "outbound::tests::in_a_process_with_proxy_variables";

    /// The server's client with `HTTP_PROXY` and friends in its environment
    /// (set only in a child process: tests share this one's environment).
    /// The proxy they name answers nothing, so a call that went to it would
    /// time out instead of reaching the target or being refused.
    #[test]
    fn environment_proxies_are_never_used() {
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", CHILD, "--include-ignored", "--nocapture"]);
        for name in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            child.env(name, &proxy_url);
        }
        for name in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
            child.env_remove(name);
        }
        child.env("ORBIT_TEST_PROXY_CHILD", "1");
        let output = child.output().unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{printed}");
        assert!(printed.contains("1 passed"), "the child ran: {printed}");
        proxy.set_nonblocking(true).unwrap();
        assert!(
            proxy.accept().is_err(),
            "nothing connected to the environment's proxy"
        );
    }

    #[tokio::test]
    #[ignore = "run by environment_proxies_are_never_used, with proxy variables set"]
    async fn in_a_process_with_proxy_variables() {
        assert!(std::env::var("ORBIT_TEST_PROXY_CHILD").is_ok());
        let (port, requests) = answering("direct").await;
        let target = format!("http://localhost:{port}/");
        let strict = Outbound::new(false);
        let error = strict
            .client()
            .get(&target)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(refusal(&error), Some(OutboundError::PrivateAddress(_))),
            "refused here, not sent through the proxy: {error:?}"
        );
        let open = Outbound::new(true);
        let answer = open
            .client()
            .get(&target)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.text().await.unwrap(), "direct");
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    proptest::proptest! {
        /// Any text as a URL: parsed and checked without a panic.
        #[test]
        fn any_url_text_is_checked_without_panicking(text in "(https?://)?\\PC{0,60}") {
            if let Ok(url) = Url::parse(&text) {
                let _ = Outbound::new(false).check(&url);
            }
        }

        /// Every spelling of an IPv4 address (dotted, one decimal number,
        /// hex, octal, IPv4-mapped and -compatible IPv6) gets the answer its
        /// dotted form gets.
        #[test]
        fn every_spelling_of_an_address_gets_the_same_answer(address in proptest::prelude::any::<u32>()) {
            let ip = Ipv4Addr::from(address);
            let [a, b, c, d] = ip.octets();
            let strict = Outbound::new(false);
            let verdict = |text: &str| strict.check(&Url::parse(text).unwrap()).is_ok();
            let dotted = verdict(&format!("http://{ip}/"));
            proptest::prop_assert_eq!(dotted, is_public(IpAddr::V4(ip)));
            for spelling in [
                format!("http://{address}/"),
                format!("http://{address:#x}/"),
                format!("http://0{a:o}.0{b:o}.0{c:o}.0{d:o}/"),
                format!("http://0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}/"),
            ] {
                proptest::prop_assert_eq!(verdict(&spelling), dotted, "{}", spelling);
            }
            let mapped = verdict(&format!("http://[::ffff:{ip}]/"));
            proptest::prop_assert_eq!(mapped, dotted);
            // IPv4-compatible (::a.b.c.d) is deprecated: never public.
            let compatible = format!("http://[::{ip}]/");
            proptest::prop_assert!(!verdict(&compatible), "{}", compatible);
        }
    }
}
