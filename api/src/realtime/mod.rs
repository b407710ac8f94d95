//! Real time on the server side: the outbox relay that publishes committed
//! events, the envelope they travel in, and each subscriber's feed.

pub(crate) mod envelope;
pub(crate) mod feed;
pub(crate) mod relay;
pub(crate) mod typing;
