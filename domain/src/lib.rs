//! Orbit's domain: the data model (SeaORM entities), typed public IDs,
//! validation, the access policy, event types and the error type with stable
//! codes. It knows nothing of HTTP, GraphQL, Redis or JWT, so every transport
//! and store can share it.

pub mod agents;
pub mod app_vars;
pub mod builtin_tools;
pub mod clock;
pub mod entities;
pub mod error;
pub mod events;
pub mod identity_providers;
pub mod ids;
pub mod mcp;
pub mod policy;
pub mod roles;
pub mod routines;
pub mod schedule;
pub mod sealed;
pub mod tools;
pub mod validation;
pub mod webhooks;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{DomainError, DomainResult, ErrorCode, UNAVAILABLE_RETRY_AFTER_SECS};
pub use sealed::{SealContext, Sealer};
