//! The application's use cases, under every transport: GraphQL resolvers,
//! the OAuth endpoints, the `/device` page and the operator's CLI call
//! these, and none of them imports another transport. Each entry point
//! checks what the caller may do and does the work through `persistence`;
//! what it returns is the domain's, and each transport shapes it (a
//! GraphQL payload, an OAuth token response, a line of JSON).
//!
//! Areas come here as their logic leaves the resolvers: sign-in and
//! sessions, emailed codes and magic links, the device flow's exchange,
//! apps and their keys, the login methods an app allows, and sending a
//! message.

pub mod access;
pub mod app_vars;
pub mod apps;
pub mod device;
pub mod login_methods;
pub mod mcp_servers;
pub mod messages;
pub mod oauth_login;
pub mod outbound;
pub mod passwordless;
pub mod sessions;
pub mod tools;
