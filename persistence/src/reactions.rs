//! The standard reactions, registered with every database handle that
//! [`crate::connect`] opens. A new reaction is a type implementing
//! [`Reaction`], a line in [`standard`], and a [`crate::reaction::declare_interest`]
//! where it is set up.

use std::sync::Arc;

use orbit_domain::events::Event;

use crate::reaction::{Happened, InChange, Reaction, ReactionFuture, Reactions};
use crate::{agent_replies, routine_runs, webhooks};

/// Webhook deliveries, routine runs triggered by events, agents' replies to
/// messages, and routine runs that wait for a reply.
pub fn standard() -> Reactions {
    Reactions::new(vec![
        Arc::new(AgentReplies),
        Arc::new(RoutineReplies),
        Arc::new(RoutineTriggers),
        Arc::new(WebhookDeliveries),
    ])
}

/// Queues a reply from each agent of the thread that a person's message asks.
struct AgentReplies;

impl Reaction for AgentReplies {
    fn name(&self) -> &'static str {
        agent_replies::REACTION
    }

    fn react<'a>(
        &'a self,
        change: &'a dyn InChange,
        happened: &'a [Happened],
    ) -> ReactionFuture<'a> {
        Box::pin(agent_replies::enqueue_for_messages(change, happened))
    }
}

/// Ends the routine run waiting for a reply when the reply ends.
struct RoutineReplies;

impl Reaction for RoutineReplies {
    fn name(&self) -> &'static str {
        routine_runs::REPLY_REACTION
    }

    fn react<'a>(
        &'a self,
        change: &'a dyn InChange,
        happened: &'a [Happened],
    ) -> ReactionFuture<'a> {
        Box::pin(async move {
            for happened in happened {
                if let Event::AgentReplyCompleted(ended) | Event::AgentReplyFailed(ended) =
                    happened.event.as_ref()
                {
                    routine_runs::reply_ended(change, ended).await?;
                }
            }
            Ok(())
        })
    }
}

/// Queues a run of each active routine whose event trigger a change matches.
struct RoutineTriggers;

impl Reaction for RoutineTriggers {
    fn name(&self) -> &'static str {
        routine_runs::TRIGGER_REACTION
    }

    fn react<'a>(
        &'a self,
        change: &'a dyn InChange,
        happened: &'a [Happened],
    ) -> ReactionFuture<'a> {
        Box::pin(async move {
            routine_runs::queue_for_events(change, happened).await?;
            Ok(())
        })
    }
}

/// Queues a delivery of each change to each webhook subscribed to its type.
struct WebhookDeliveries;

impl Reaction for WebhookDeliveries {
    fn name(&self) -> &'static str {
        webhooks::REACTION
    }

    fn react<'a>(
        &'a self,
        change: &'a dyn InChange,
        happened: &'a [Happened],
    ) -> ReactionFuture<'a> {
        Box::pin(webhooks::enqueue(change, happened))
    }
}
