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
        // A person's message asks the thread's agents for replies.
        Arc::new(Named(agent_replies::REACTION, |change, happened| {
            Box::pin(agent_replies::enqueue_for_messages(change, happened))
        })),
        // A reply ended: the routine run waiting for it ends.
        Arc::new(Named(routine_runs::REPLY_REACTION, |change, happened| {
            Box::pin(end_runs_waiting_on_replies(change, happened))
        })),
        // A routine's event trigger matches: a run is queued.
        Arc::new(Named(routine_runs::TRIGGER_REACTION, |change, happened| {
            Box::pin(async move {
                routine_runs::queue_for_events(change, happened).await?;
                Ok(())
            })
        })),
        // A delivery per webhook subscribed to the change's type.
        Arc::new(Named(webhooks::REACTION, |change, happened| {
            Box::pin(webhooks::enqueue(change, happened))
        })),
    ])
}

/// A reaction that is its name and a function.
struct Named(
    &'static str,
    for<'a> fn(&'a dyn InChange, &'a [Happened]) -> ReactionFuture<'a>,
);

impl Reaction for Named {
    fn name(&self) -> &'static str {
        self.0
    }

    fn react<'a>(
        &'a self,
        change: &'a dyn InChange,
        happened: &'a [Happened],
    ) -> ReactionFuture<'a> {
        (self.1)(change, happened)
    }
}

async fn end_runs_waiting_on_replies(
    change: &dyn InChange,
    happened: &[Happened],
) -> orbit_domain::DomainResult<()> {
    for happened in happened {
        if let Event::AgentReplyCompleted(ended) | Event::AgentReplyFailed(ended) =
            happened.event.as_ref()
        {
            routine_runs::reply_ended(change, ended).await?;
        }
    }
    Ok(())
}
