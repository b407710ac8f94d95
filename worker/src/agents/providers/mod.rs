//! Model providers behind one interface: a chat request in, the reply out in
//! pieces as they come. [`openai`] speaks to any OpenAI-compatible chat
//! completions endpoint (OpenAI, Ollama, vLLM, the llama.cpp server);
//! [`scripted`] answers from a script, for demos and tests. Timeouts are
//! not theirs to apply: the reply runner bounds every wait.

pub mod openai;
pub mod scripted;

use std::time::Duration;

use async_trait::async_trait;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool call's result, answering the assistant turn that asked.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// An assistant turn's calls of tools.
    pub tool_calls: Vec<ToolCall>,
    /// A tool turn: the call it answers.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A call of a tool, as the model asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The model's id for the call.
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: JSON text, not yet checked.
    pub arguments: String,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON Schema of the arguments.
    pub parameters: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
    /// Tools the model may call; none sends no `tools`.
    pub tools: Vec<ToolSpec>,
    /// `false`: the tools are listed but the model must answer in words
    /// (`tool_choice: "none"`).
    pub may_call_tools: bool,
}

/// A piece of a tool call as it streams: OpenAI-compatible servers send the
/// id and the name first, then the arguments' text in fragments, all under
/// the call's index in the turn.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCallPiece {
    pub index: usize,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
}

/// A piece of the reply: text, and at the end (when the provider says) the
/// token usage and the model that answered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    pub text: String,
    pub usage: Option<Usage>,
    pub model: Option<String>,
    pub tool_calls: Vec<ToolCallPiece>,
}

/// Why a provider did not answer, in words a developer can act on (never
/// with the API key), and whether asking again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub message: String,
    pub retry: Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    No,
    /// Worth another attempt (429, 5xx, the connection failed), after the
    /// server's `Retry-After` when it gave one.
    Later(Option<Duration>),
}

impl ProviderError {
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: Retry::No,
        }
    }

    pub fn transient(message: impl Into<String>, after: Option<Duration>) -> Self {
        Self {
            message: message.into(),
            retry: Retry::Later(after),
        }
    }
}

#[async_trait]
pub trait ChatProvider: Send + Sync {
    /// Sends the request; the reply streams from what it returns.
    async fn start(&self, request: &ChatRequest) -> Result<Box<dyn ChatStream>, ProviderError>;
}

#[async_trait]
pub trait ChatStream: Send {
    /// The next piece, or `None` when the reply is whole. Cancel-safe: a
    /// call dropped while waiting loses nothing.
    async fn next(&mut self) -> Result<Option<Chunk>, ProviderError>;
}

/// Tokens of `text` as a rough count, for budgets and for providers that do
/// not report usage: about four characters a token, as English runs with
/// common tokenizers. No tokenizer is shipped, so this is an estimate.
pub fn estimate_tokens(text: &str) -> i32 {
    let chars = text.chars().count();
    i32::try_from(chars.div_ceil(4)).unwrap_or(i32::MAX)
}

/// What a message costs in the prompt: its words plus the few tokens chat
/// formats spend on each message's role and separators.
pub fn estimate_message_tokens(message: &ChatMessage) -> i32 {
    message
        .tool_calls
        .iter()
        .map(|call| estimate_tokens(&call.name).saturating_add(estimate_tokens(&call.arguments)))
        .fold(estimate_tokens(&message.content), i32::saturating_add)
        .saturating_add(4)
}
