//! A Redis Cluster of the test's own: three masters, each with a replica,
//! on free loopback ports, their files in a temporary directory. A test may
//! kill a master, as a crash would, and wait for its replica to take its
//! slots over. Dropping the cluster kills every node and removes the
//! directory; the shared Redis on 6379 is never touched.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MASTERS: usize = 3;
const NODES: usize = MASTERS * 2;
/// How long the others wait on an unresponsive node before they take it
/// for failed. Short, so that a failover takes seconds; not shorter, so
/// that a node merely slowed by a busy test machine is not failed over.
const NODE_TIMEOUT_MS: u32 = 2000;
/// For the cluster to form, or a failover to complete.
const WITHIN: Duration = Duration::from_secs(60);
/// Tries to find ports every node can bind.
const STARTS: usize = 3;
/// A Redis Cluster node's bus listens on its port plus this.
const BUS_PORT_OFFSET: u16 = 10_000;

pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

struct Node {
    port: u16,
    process: Option<Child>,
}

/// A master that was killed and the replica that is to take its slots.
#[derive(Debug, Clone, Copy)]
pub struct Failover {
    pub killed: u16,
    pub replica: u16,
}

/// One line of `CLUSTER NODES`, as far as the tests need it.
#[derive(Debug)]
struct NodeView {
    id: String,
    port: u16,
    master: bool,
    failed: bool,
    /// A replica's master.
    replicates: Option<String>,
    slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// Starts six nodes, makes them a cluster (`redis-cli --cluster
    /// create`) and waits until every node says it is ok and every replica
    /// has synced with its master (only a synced replica can take over).
    pub async fn start() -> Self {
        // A port found free may be taken before its node binds it (by any
        // process's outgoing connection): then the nodes start over on
        // other ports.
        for _ in 0..STARTS {
            if let Some(cluster) = Self::start_on_free_ports().await {
                return cluster;
            }
        }
        panic!("no Redis Cluster started in {STARTS} tries");
    }

    async fn start_on_free_ports() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "orbit-redis-cluster-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory for the cluster");
        // Made before any node starts, so that a failure part way kills
        // what did start.
        let mut cluster = Self {
            nodes: free_node_ports(NODES)
                .into_iter()
                .map(|port| Node {
                    port,
                    process: None,
                })
                .collect(),
            dir,
        };
        for index in 0..NODES {
            if let Err(problem) = cluster.start_node(index).await {
                eprintln!("{problem}; starting the cluster over on other ports");
                return None;
            }
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = tokio::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .await
            .expect("redis-cli is installed");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&created.stdout),
            String::from_utf8_lossy(&created.stderr)
        );
        cluster
            .wait_until("the cluster formed", async |cluster| cluster.formed().await)
            .await;
        Some(cluster)
    }

    /// What Orbit takes as `REDIS_URL`: every node, as seeds.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The port of the master that serves `key` (a key or a shard channel).
    pub async fn master_of(&self, key: &str) -> u16 {
        let slot: u16 = self
            .ask_any(&["CLUSTER", "KEYSLOT", key])
            .await
            .trim()
            .parse()
            .expect("a slot");
        self.topology()
            .await
            .into_iter()
            .find(|node| {
                node.master
                    && !node.failed
                    && node
                        .slots
                        .iter()
                        .any(|(first, last)| (*first..=*last).contains(&slot))
            })
            .unwrap_or_else(|| panic!("no master serves slot {slot}"))
            .port
    }

    /// How many clients are subscribed to the shard channel `channel`, on
    /// all the nodes of the shard that serves it: a replica takes sharded
    /// subscriptions too, and hears what its master publishes.
    pub async fn shard_subscribers(&self, channel: &str) -> i64 {
        self.shard_subscribers_by_node(channel)
            .await
            .iter()
            .map(|(_, count)| count)
            .sum()
    }

    /// [`Self::shard_subscribers`], node by node (by port).
    pub async fn shard_subscribers_by_node(&self, channel: &str) -> Vec<(u16, i64)> {
        let master = self.master_of(channel).await;
        let topology = self.topology().await;
        let master_id = topology
            .iter()
            .find(|node| node.port == master)
            .map(|node| node.id.clone());
        let shard = topology
            .iter()
            .filter(|node| !node.failed && (node.port == master || node.replicates == master_id));
        let mut counts = Vec::new();
        for node in shard {
            let answer = ask(node.port, &["PUBSUB", "SHARDNUMSUB", channel])
                .await
                .unwrap_or_default();
            let count = answer
                .lines()
                .nth(1)
                .and_then(|count| count.trim().parse().ok())
                .unwrap_or_else(|| panic!("PUBSUB SHARDNUMSUB answered {answer:?}"));
            counts.push((node.port, count));
        }
        counts
    }

    /// Kills the master that serves `key`, as a crash would. Its replica
    /// takes over once the others agree it failed (see [`Self::promoted`]).
    pub async fn stop_master_of(&mut self, key: &str) -> Failover {
        let killed = self.master_of(key).await;
        let topology = self.topology().await;
        let master_id = &topology
            .iter()
            .find(|node| node.port == killed)
            .expect("the master is in the topology")
            .id;
        let replica = topology
            .iter()
            .find(|node| node.replicates.as_ref() == Some(master_id) && !node.failed)
            .unwrap_or_else(|| panic!("the master on {killed} has no replica"))
            .port;
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == killed)
            .expect("a node of this cluster");
        kill(node);
        Failover { killed, replica }
    }

    /// Whether the replica serves the killed master's slots and every node
    /// still running says the cluster is ok.
    pub async fn promoted(&self, failover: &Failover) -> bool {
        let role = ask(failover.replica, &["ROLE"]).await.unwrap_or_default();
        role.lines().next() == Some("master") && self.every_live_node_ok().await
    }

    /// Waits until [`Self::promoted`] holds.
    pub async fn wait_until_promoted(&self, failover: &Failover) {
        self.wait_until("the replica took over", async |cluster| {
            cluster.promoted(failover).await
        })
        .await;
    }

    async fn start_node(&mut self, index: usize) -> Result<(), String> {
        let port = self.nodes[index].port;
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
            // A replica may take over however long ago it last heard its
            // master: in a test it is always in sync.
            .args(["--cluster-replica-validity-factor", "0"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--appendonly", "no"])
            // Replicas sync over the socket, at once, with nothing on disk.
            .args(["--repl-diskless-sync", "yes"])
            .args(["--repl-diskless-sync-delay", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-server is installed");
        let stdout = child.stdout.take().expect("piped stdout");
        self.nodes[index].process = Some(child);
        if crate::redis_server_ready(stdout).await {
            Ok(())
        } else {
            Err(format!("redis-server did not become ready on port {port}"))
        }
    }

    /// Every node agrees the cluster is ok, knows all six nodes, sees three
    /// masters, and every replica's link to its master is up.
    async fn formed(&self) -> bool {
        if !self.every_live_node_ok().await {
            return false;
        }
        let topology = self.topology().await;
        if topology.len() != NODES || topology.iter().filter(|n| n.master).count() != MASTERS {
            return false;
        }
        for node in topology.iter().filter(|node| !node.master) {
            let replication = ask(node.port, &["INFO", "replication"])
                .await
                .unwrap_or_default();
            if !replication
                .lines()
                .any(|line| line.trim() == "master_link_status:up")
            {
                return false;
            }
        }
        true
    }

    async fn every_live_node_ok(&self) -> bool {
        for port in self.live_ports() {
            let info = ask(port, &["CLUSTER", "INFO"]).await.unwrap_or_default();
            if !info.lines().any(|line| line.trim() == "cluster_state:ok") {
                return false;
            }
        }
        true
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|node| node.process.is_some())
            .map(|node| node.port)
            .collect()
    }

    /// The first answer of a running node.
    async fn ask_any(&self, args: &[&str]) -> String {
        for port in self.live_ports() {
            if let Some(answer) = ask(port, args).await {
                return answer;
            }
        }
        panic!("no node of the cluster answered {args:?}")
    }

    async fn topology(&self) -> Vec<NodeView> {
        let nodes = self.ask_any(&["CLUSTER", "NODES"]).await;
        nodes.lines().filter_map(parse_node_line).collect()
    }

    /// Checks `holds` every 50 ms until it is true; fails the test with
    /// the topology after [`WITHIN`].
    async fn wait_until(&self, what: &str, holds: impl AsyncFn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + WITHIN;
        let mut every = tokio::time::interval(Duration::from_millis(50));
        loop {
            every.tick().await;
            if holds(self).await {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let nodes = self.ask_any(&["CLUSTER", "NODES"]).await;
                panic!("{what}: not within {WITHIN:?}; the cluster's nodes:\n{nodes}");
            }
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            kill(node);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn kill(node: &mut Node) {
    if let Some(mut child) = node.process.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `redis-cli` against one node; `None` when it could not reach it.
async fn ask(port: u16, args: &[&str]) -> Option<String> {
    let output = tokio::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("redis-cli is installed");
    let answer = String::from_utf8_lossy(&output.stdout).into_owned();
    // redis-cli exits 0 on a refused connection too, saying so on stderr.
    (output.status.success() && output.stderr.is_empty() && !answer.is_empty()).then_some(answer)
}

/// `<id> <ip:port@bus> <flags> <master|-> <ping> <pong> <epoch> <link> <slots...>`
fn parse_node_line(line: &str) -> Option<NodeView> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [id, address, flags, replicates, _, _, _, _, slots @ ..] = fields.as_slice() else {
        return None;
    };
    let port = address
        .split('@')
        .next()?
        .rsplit_once(':')?
        .1
        .parse()
        .ok()?;
    let flags: Vec<&str> = flags.split(',').collect();
    let slots = slots
        .iter()
        // `[slot->-node]` and `[slot-<-node]`: a slot on the move.
        .filter(|range| !range.starts_with('['))
        .filter_map(|range| match range.split_once('-') {
            Some((first, last)) => Some((first.parse().ok()?, last.parse().ok()?)),
            None => range.parse().ok().map(|slot| (slot, slot)),
        })
        .collect();
    Some(NodeView {
        id: (*id).to_owned(),
        port,
        master: flags.contains(&"master"),
        failed: flags.contains(&"fail") || flags.contains(&"fail?"),
        replicates: (*replicates != "-").then(|| (*replicates).to_owned()),
        slots,
    })
}

/// Ports free on loopback whose bus port (the port plus 10000) is free too,
/// each held until all are found so that none is handed out twice.
fn free_node_ports(count: usize) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::with_capacity(count);
    let mut tries = 0;
    while ports.len() < count {
        tries += 1;
        assert!(tries < 10_000, "no free ports for a Redis Cluster");
        let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = listener.local_addr().map(|address| address.port()) else {
            continue;
        };
        let Some(bus_port) = port.checked_add(BUS_PORT_OFFSET) else {
            continue;
        };
        let Ok(bus) = std::net::TcpListener::bind(("127.0.0.1", bus_port)) else {
            continue;
        };
        held.push((listener, bus));
        ports.push(port);
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_parse() {
        let master = parse_node_line(
            "07c3 127.0.0.1:30004@40004 myself,master - 0 1426238317239 4 connected 0-5460 7000 [93-<-292f]",
        )
        .unwrap();
        assert_eq!(master.port, 30004);
        assert!(master.master && !master.failed);
        assert_eq!(master.slots, [(0, 5460), (7000, 7000)]);
        let replica = parse_node_line(
            "6ec2 127.0.0.1:30005@40005 slave,fail 07c3 0 1426238316232 5 connected",
        )
        .unwrap();
        assert_eq!(replica.replicates.as_deref(), Some("07c3"));
        assert!(!replica.master && replica.failed);
        assert!(replica.slots.is_empty());
    }
}
