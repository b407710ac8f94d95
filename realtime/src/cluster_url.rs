//! A `REDIS_URL` that names a Redis Cluster:
//! `redis+cluster://[user[:password]@]host:port[,host:port...]`.
//!
//! The nodes listed are only where the client starts: it asks them for the
//! cluster's current topology, so any one reachable node is enough, and a
//! node added later needs no change to the URL. One scheme of its own keeps
//! the choice visible in the one setting that already says where Redis is,
//! and a single-node URL (`redis://`) keeps meaning what it always meant.

pub(crate) const SCHEME: &str = "redis+cluster://";

/// Whether `url` asks for a cluster (the scheme, in any case).
pub(crate) fn names_a_cluster(url: &str) -> bool {
    url.get(..SCHEME.len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
}

/// A cluster URL, understood: the nodes it lists and the credentials every
/// node takes.
#[derive(Debug, Clone)]
pub(crate) struct ClusterNodes {
    /// `user:password@`, as written (percent-encoded), or empty.
    credentials: String,
    seeds: Vec<(String, u16)>,
}

impl ClusterNodes {
    /// Errors say what is wrong without repeating the URL, which may hold
    /// a password.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let rest = url.get(SCHEME.len()..).unwrap_or_default();
        let (authority, tail) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if !tail.is_empty() && tail != "/" {
            return Err(format!(
                "a {SCHEME} URL ends after its nodes: a cluster has only database 0, and takes no options"
            ));
        }
        // The password may hold '@' only percent-encoded, so the last one ends it.
        let (credentials, nodes) = match authority.rfind('@') {
            Some(at) => (&authority[..=at], &authority[at + 1..]),
            None => ("", authority),
        };
        if nodes.is_empty() {
            return Err(format!(
                "a {SCHEME} URL lists at least one node, as {SCHEME}host1:7000,host2:7001"
            ));
        }
        let seeds = nodes
            .split(',')
            .enumerate()
            .map(|(index, node)| {
                host_and_port(node)
                    .map(|(host, port)| (host.to_owned(), port))
                    .map_err(|problem| format!("node {} of the cluster URL {problem}", index + 1))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            credentials: credentials.to_owned(),
            seeds,
        })
    }

    /// The nodes the URL lists, as `(host, port)`.
    pub(crate) fn seeds(&self) -> &[(String, u16)] {
        &self.seeds
    }

    /// A single-node `redis://` URL of a node, with the credentials. `host`
    /// as the URL or the cluster names it (an IPv6 address with or without
    /// brackets).
    pub(crate) fn node_url(&self, host: &str, port: u16) -> String {
        let credentials = &self.credentials;
        if host.contains(':') && !host.starts_with('[') {
            format!("redis://{credentials}[{host}]:{port}")
        } else {
            format!("redis://{credentials}{host}:{port}")
        }
    }

    /// [`Self::node_url`] of every seed.
    pub(crate) fn seed_urls(&self) -> Vec<String> {
        self.seeds
            .iter()
            .map(|(host, port)| self.node_url(host, *port))
            .collect()
    }
}

fn host_and_port(node: &str) -> Result<(&str, u16), String> {
    if node.is_empty() {
        return Err("is empty (nodes are separated by single commas)".to_owned());
    }
    let Some((host, port)) = node.rsplit_once(':') else {
        return Err(format!("(`{node}`) has no port: write host:port"));
    };
    let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    if host.is_empty() || (host.contains(':') && !bracketed) {
        return Err(format!(
            "(`{node}`) has no host, or an IPv6 address not in brackets ([::1]:7000)"
        ));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok((host, port)),
        _ => Err(format!(
            "(`{node}`) has a port that is not a number from 1 to 65535"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_the_cluster_scheme_names_a_cluster() {
        assert!(names_a_cluster("redis+cluster://a:7000"));
        assert!(names_a_cluster("REDIS+CLUSTER://a:7000"));
        assert!(!names_a_cluster("redis://a:6379"));
        assert!(!names_a_cluster("rediss://a:6379"));
        assert!(!names_a_cluster("redis+"));
    }

    fn seed_nodes(url: &str) -> Result<Vec<String>, String> {
        ClusterNodes::parse(url).map(|nodes| nodes.seed_urls())
    }

    #[test]
    fn each_node_becomes_a_seed_with_the_credentials() {
        assert_eq!(
            seed_nodes("redis+cluster://127.0.0.1:7000,10.0.0.2:7001/").unwrap(),
            ["redis://127.0.0.1:7000", "redis://10.0.0.2:7001"]
        );
        assert_eq!(
            seed_nodes("redis+cluster://orbit:p%40ss@a:7000,[::1]:7001").unwrap(),
            [
                "redis://orbit:p%40ss@a:7000",
                "redis://orbit:p%40ss@[::1]:7001"
            ]
        );
    }

    #[test]
    fn nodes_the_cluster_names_get_the_credentials_too() {
        let nodes = ClusterNodes::parse("redis+cluster://orbit:secret@a:7000").unwrap();
        assert_eq!(
            nodes.node_url("10.0.0.9", 7005),
            "redis://orbit:secret@10.0.0.9:7005"
        );
        assert_eq!(
            nodes.node_url("fe80::1", 7005),
            "redis://orbit:secret@[fe80::1]:7005"
        );
    }

    #[test]
    fn malformed_urls_say_what_is_wrong_without_the_password() {
        for (url, expected) in [
            ("redis+cluster://", "at least one node"),
            ("redis+cluster://user:secret@", "at least one node"),
            (
                "redis+cluster://a:7000,,b:7001",
                "node 2 of the cluster URL is empty",
            ),
            (
                "redis+cluster://user:secret@a",
                "node 1 of the cluster URL (`a`) has no port",
            ),
            (
                "redis+cluster://a:7000,b:seven",
                "node 2 of the cluster URL (`b:seven`) has a port",
            ),
            ("redis+cluster://a:0", "has a port that is not"),
            ("redis+cluster://::1:7000", "IPv6 address not in brackets"),
            ("redis+cluster://:7000", "has no host"),
            ("redis+cluster://user:secret@a:7000/2", "only database 0"),
            ("redis+cluster://a:7000?protocol=3", "takes no options"),
        ] {
            let error = seed_nodes(url).unwrap_err();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("secret"), "{url}: {error}");
        }
    }
}
