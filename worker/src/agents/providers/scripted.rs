//! The scripted provider: deterministic replies from the provider's script
//! (`orbit_domain::agents::Script`), streamed in small pieces with usage, so
//! demos and tests run without a model.

use async_trait::async_trait;
use orbit_domain::agents::Script;

use super::{
    ChatProvider, ChatRequest, ChatStream, Chunk, ProviderError, Role, Usage,
    estimate_message_tokens, estimate_tokens,
};

pub struct Scripted {
    script: Script,
}

impl Scripted {
    pub fn new(script: Script) -> Self {
        Self { script }
    }
}

#[async_trait]
impl ChatProvider for Scripted {
    async fn start(&self, request: &ChatRequest) -> Result<Box<dyn ChatStream>, ProviderError> {
        if let Some(failure) = &self.script.fail {
            return Err(ProviderError::fatal(format!(
                "the scripted provider failed as its script says: {failure}"
            )));
        }
        let last = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map_or("", |m| m.content.as_str());
        let reply = self.script.reply_to(last);
        let chars: Vec<char> = reply.chars().collect();
        let pieces: Vec<String> = chars
            .chunks(self.script.chunk_chars.max(1))
            .map(|piece| piece.iter().collect())
            .collect();
        let usage = Usage {
            prompt_tokens: request
                .messages
                .iter()
                .map(estimate_message_tokens)
                .fold(0, i32::saturating_add),
            completion_tokens: estimate_tokens(&reply),
        };
        Ok(Box::new(ScriptedStream {
            pieces: pieces.into_iter(),
            usage: Some(usage),
            model: request.model.clone(),
        }))
    }
}

struct ScriptedStream {
    pieces: std::vec::IntoIter<String>,
    usage: Option<Usage>,
    model: String,
}

#[async_trait]
impl ChatStream for ScriptedStream {
    async fn next(&mut self) -> Result<Option<Chunk>, ProviderError> {
        if let Some(text) = self.pieces.next() {
            return Ok(Some(Chunk {
                text,
                ..Chunk::default()
            }));
        }
        Ok(self.usage.take().map(|usage| Chunk {
            usage: Some(usage),
            model: Some(self.model.clone()),
            ..Chunk::default()
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::ChatMessage;
    use super::*;

    #[tokio::test]
    async fn streams_the_scripted_reply_in_pieces_with_usage() {
        let script = Script::parse(
            "script",
            Some(&serde_json::json!({"rules": [{"when": "ping", "reply": "pong pong"}], "chunkChars": 4})),
        )
        .unwrap();
        let request = ChatRequest {
            model: "demo".into(),
            messages: vec![ChatMessage::text(Role::User, "Ping?")],
            temperature: None,
            max_tokens: None,
            tools: Vec::new(),
            may_call_tools: true,
        };
        let mut stream = Scripted::new(script).start(&request).await.unwrap();
        let mut pieces = Vec::new();
        let mut usage = None;
        while let Some(chunk) = stream.next().await.unwrap() {
            if !chunk.text.is_empty() {
                pieces.push(chunk.text);
            }
            usage = chunk.usage.or(usage);
        }
        assert_eq!(pieces, vec!["pong", " pon", "g"]);
        assert_eq!(usage.unwrap().completion_tokens, 3);
    }
}
