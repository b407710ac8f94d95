//! Real time on the server side: the outbox relay that publishes committed
//! events, the envelope they travel in, each subscriber's feed, typing and
//! presence, and the work signals between processes.

pub(crate) mod catch_up;
pub(crate) mod envelope;
pub(crate) mod ephemeral;
pub(crate) mod feed;
pub(crate) mod presence;
pub(crate) mod relay;
pub(crate) mod subscribe;
pub(crate) mod typing;
pub(crate) mod work_signals;
