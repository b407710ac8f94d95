//! What one call of an agent's tool may take, shared by HTTP tools and
//! MCP servers (a look at a server is held to the same), and how often
//! MCP servers are looked at again.

use std::time::Duration;

/// What one call of a tool may take (`ORBIT_TOOL_TIMEOUT`,
/// `ORBIT_TOOL_RESULT_MAX_BYTES`, `ORBIT_TOOL_APPROVAL_TIMEOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLimits {
    /// The longest one call may take, answer included.
    pub timeout: Duration,
    /// The most of an answer kept and shown to the model; more fails the call.
    pub max_result_bytes: usize,
    /// How long a call of a tool that requires approval waits for a
    /// decision before it counts as refused.
    pub approval_timeout: Duration,
    /// The most model turns any reply may take, whatever an agent's
    /// `maxSteps` (`ORBIT_TOOL_MAX_STEPS`).
    pub max_steps: i32,
    /// How long an MCP server's tools stand before the worker looks at the
    /// server again (`ORBIT_MCP_REFRESH_INTERVAL`).
    pub mcp_refresh: Duration,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_result_bytes: 64 * 1024,
            approval_timeout: Duration::from_secs(15 * 60),
            max_steps: 32,
            mcp_refresh: Duration::from_secs(10 * 60),
        }
    }
}
