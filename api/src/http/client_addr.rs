//! The client's address, for the per-address abuse limits. It is the TCP
//! peer, unless the peer is a proxy the server was told to trust
//! (`ORBIT_TRUSTED_PROXIES`): then it is read from `X-Forwarded-For`, from
//! the right, skipping the trusted proxies in the chain. Only trusted
//! proxies are believed, because anyone can send the header: a client that
//! could name its own address would get a fresh allowance per request.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::HttpState;
use crate::ip_block::{IpBlock, canonical};
use crate::limits::ClientAddr;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpBlock>);

impl TrustedProxies {
    pub fn new(blocks: Vec<IpBlock>) -> Self {
        Self(blocks)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(address))
    }

    /// The client behind `peer`: the peer itself unless it is trusted; then
    /// the right-most address of `X-Forwarded-For` that is not a trusted
    /// proxy (the left-most when all are). A header that does not parse is
    /// ignored, and the peer counts.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut chain = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else {
                return peer;
            };
            for hop in value.split(',') {
                match hop.trim().parse::<IpAddr>() {
                    Ok(address) => chain.push(canonical(address)),
                    Err(_) => return peer,
                }
            }
        }
        chain
            .iter()
            .rev()
            .find(|address| !self.trusts(**address))
            .or(chain.first())
            .copied()
            .unwrap_or(peer)
    }
}

impl FromRequestParts<HttpState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        Ok(client_addr(parts, state))
    }
}

/// The client address of a request whose parts are at hand.
pub(super) fn client_addr(parts: &Parts, state: &HttpState) -> ClientAddr {
    // Every server is served with connect info; a request without it (a
    // test calling the router directly) counts as the unspecified address.
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
    ClientAddr(state.trusted_proxies.client(peer, &parts.headers))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(blocks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(blocks.iter().map(|b| IpBlock::parse(b).unwrap()).collect())
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_match() {
        let block = IpBlock::parse("10.0.0.0/8").unwrap();
        assert!(block.contains(ip("10.200.3.4")));
        assert!(!block.contains(ip("11.0.0.1")));
        assert!(
            IpBlock::parse("192.168.1.0/23")
                .unwrap()
                .contains(ip("192.168.0.9"))
        );
        assert!(
            IpBlock::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8:1::1"))
        );
        assert!(
            IpBlock::parse("127.0.0.1")
                .unwrap()
                .contains(ip("::ffff:127.0.0.1"))
        );
        assert!(IpBlock::parse("10.0.0.0/33").is_err());
        assert!(IpBlock::parse("proxy.internal").is_err());
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(
            proxies(&[]).client(ip("10.0.0.2"), &headers),
            ip("10.0.0.2")
        );
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("10.0.0.2"), &headers),
            ip("203.0.113.7")
        );
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client put a fake first hop; the proxies appended the rest.
        let headers = forwarded(&["1.1.1.1, 203.0.113.7", "10.0.0.5"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &headers), ip("203.0.113.7"));
        let all_trusted = forwarded(&["10.0.0.9, 10.0.0.5"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &all_trusted), ip("10.0.0.9"));
        let garbage = forwarded(&["not-an-ip"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &garbage), ip("10.0.0.2"));
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
    }
}
