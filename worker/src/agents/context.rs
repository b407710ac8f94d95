//! What the model reads: the agent's instructions as the system message,
//! then as much of the thread's recent conversation as fits a token budget,
//! newest kept first, as `user` (people, other agents) and `assistant` (this
//! agent's own earlier replies) turns.

use orbit_domain::entities::message;
use uuid::Uuid;

use super::providers::{ChatMessage, Role, estimate_message_tokens};

/// Tokens of prompt a reply may use, instructions included. Local models
/// often have 8k-token windows; the reply needs room of its own.
pub const CONTEXT_BUDGET_TOKENS: i32 = 6_000;
/// Messages read from the thread at most.
pub const CONTEXT_MESSAGES: u64 = 100;

/// `history` is newest first (as the thread is read); `prompt` is the
/// question of a reply that no message asked for (a routine's).
pub fn build(
    instructions: &str,
    agent: Uuid,
    history: &[message::Model],
    prompt: Option<&str>,
    budget: i32,
) -> Vec<ChatMessage> {
    let system =
        (!instructions.trim().is_empty()).then(|| ChatMessage::text(Role::System, instructions));
    let last = prompt.map(|prompt| ChatMessage::text(Role::User, prompt));
    let mut left = budget
        - system.as_ref().map_or(0, estimate_message_tokens)
        - last.as_ref().map_or(0, estimate_message_tokens);
    let mut turns = Vec::new();
    for message in history {
        let Some(content) = message.content.as_deref() else {
            continue;
        };
        let role = if message.author_agent_id == Some(agent) {
            Role::Assistant
        } else {
            Role::User
        };
        let turn = ChatMessage::text(role, content);
        let cost = estimate_message_tokens(&turn);
        // The newest turn is what is being answered: always kept.
        if cost > left && !(turns.is_empty() && last.is_none()) {
            break;
        }
        left -= cost;
        turns.push(turn);
    }
    turns.reverse();
    system.into_iter().chain(turns).chain(last).collect()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn message(agent: Option<Uuid>, content: &str) -> message::Model {
        message::Model {
            id: Uuid::now_v7(),
            app_id: Uuid::nil(),
            thread_id: Uuid::nil(),
            author_user_id: agent.is_none().then(Uuid::nil),
            author_agent_id: agent,
            content: Some(content.to_owned()),
            metadata: None,
            status: "sent".into(),
            idempotency_key: None,
            created_at: Utc::now(),
            edited_at: None,
            deleted_at: None,
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
        }
    }

    #[test]
    fn keeps_the_newest_turns_that_fit_in_order() {
        let me = Uuid::now_v7();
        let old = message(None, &"x".repeat(400));
        let mine = message(Some(me), "earlier answer");
        let newest = message(None, "question");
        let history = [newest.clone(), mine, old];
        let built = build("Be brief.", me, &history, None, 40);
        let roles: Vec<Role> = built.iter().map(|m| m.role).collect();
        assert_eq!(roles, vec![Role::System, Role::Assistant, Role::User]);
        assert_eq!(built[2].content, "question");

        let everything = build("", me, &history, None, 10_000);
        assert_eq!(everything.len(), 3);
        assert_eq!(everything[0].content.len(), 400);
    }

    #[test]
    fn the_newest_message_or_the_prompt_is_always_sent() {
        let me = Uuid::now_v7();
        let long = message(None, &"y".repeat(10_000));
        let built = build("Be brief.", me, std::slice::from_ref(&long), None, 10);
        assert_eq!(built.len(), 2);
        let prompted = build("", me, &[long], Some("Summarise the day"), 10);
        assert_eq!(prompted.len(), 1);
        assert_eq!(prompted[0].content, "Summarise the day");
    }
}
