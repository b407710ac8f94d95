//! Agents answering in threads. A reply is queued (a row of
//! `agent_replies`) in the transaction of the message that asks for it, or
//! by [`orbit_persistence::agent_replies::enqueue_prompt`] for a prompt that
//! is not a message (routines); [`replies::run`] claims queued replies,
//! streams each from its agent's model provider to the thread's subscribers
//! and stores the result.

pub mod builtins;
pub mod context;
pub mod providers;
pub mod replies;
pub mod tools;
