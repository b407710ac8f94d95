//! Any OpenAI-compatible chat completions endpoint, streamed: `POST
//! {baseUrl}/chat/completions` with `stream: true`, answered with
//! server-sent events (`data: {json}` lines, then `data: [DONE]`). That is
//! what OpenAI, Ollama (`http://localhost:11434/v1`), vLLM and the llama.cpp
//! server speak. Requests go through [`Outbound`], so an app's base URL
//! reaches public addresses only unless the server allows private ones.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use url::Url;

use super::{
    ChatMessage, ChatProvider, ChatRequest, ChatStream, Chunk, ProviderError, ToolCallPiece, Usage,
};
use crate::outbound::Outbound;

/// How much of an error body is kept in the stored error.
const MAX_ERROR_DETAIL: usize = 300;
/// A line of the event stream longer than this is not from a chat server.
const MAX_LINE_BYTES: usize = 1024 * 1024;

pub struct OpenAiCompatible {
    outbound: Outbound,
    /// The provider's name, for errors.
    name: String,
    base_url: String,
    api_key: Option<String>,
}

impl OpenAiCompatible {
    pub fn new(
        outbound: Outbound,
        name: String,
        base_url: String,
        api_key: Option<String>,
    ) -> Self {
        Self {
            outbound,
            name,
            base_url,
            api_key,
        }
    }

    fn endpoint(&self) -> Result<Url, ProviderError> {
        let base = self.base_url.trim_end_matches('/');
        Url::parse(&format!("{base}/chat/completions")).map_err(|_| {
            ProviderError::fatal(format!(
                "model provider \"{}\" has a base URL that is not a URL",
                self.name
            ))
        })
    }

    fn unreachable(&self, refused: impl std::fmt::Display) -> ProviderError {
        ProviderError::fatal(format!(
            "model provider \"{}\" is not reachable from here: {refused} (set ORBIT_WEBHOOK_ALLOW_PRIVATE to call local models)",
            self.name
        ))
    }
}

/// The outbound rule's refusal, anywhere in `error`'s chain: retrying will
/// not change it.
fn refused_address(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<crate::outbound::OutboundError>() {
            return Some(refused.to_string());
        }
        source = current.source();
    }
    None
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// The provider's own words about an error: OpenAI's `{"error": {"message"}}`
/// (Ollama and vLLM say it the same way, or as `{"error": "..."}`), else the
/// start of the body.
fn error_detail(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .or_else(|| v["message"].as_str())
            .map(str::to_owned)
    });
    let detail = message.unwrap_or_else(|| body.trim().to_owned());
    detail.chars().take(MAX_ERROR_DETAIL).collect()
}

/// A message as chat completions take it: an assistant turn with its tool
/// calls (`content` null when it said nothing), a tool turn with the call
/// it answers.
fn message_json(message: &ChatMessage) -> Value {
    let mut value = json!({ "role": message.role.as_str(), "content": message.content });
    if !message.tool_calls.is_empty() {
        if message.content.is_empty() {
            value["content"] = Value::Null;
        }
        value["tool_calls"] = message
            .tool_calls
            .iter()
            .map(|call| {
                json!({ "id": call.id, "type": "function", "function": {
                    "name": call.name, "arguments": call.arguments,
                } })
            })
            .collect();
    }
    if let Some(id) = &message.tool_call_id {
        value["tool_call_id"] = json!(id);
    }
    value
}

/// One `delta.tool_calls` entry: `{index, id?, function: {name?, arguments?}}`.
fn tool_call_piece(piece: &Value) -> Option<ToolCallPiece> {
    let index = usize::try_from(piece["index"].as_u64()?).ok()?;
    Some(ToolCallPiece {
        index,
        id: piece["id"].as_str().map(str::to_owned),
        name: piece["function"]["name"].as_str().map(str::to_owned),
        arguments: piece["function"]["arguments"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}

#[async_trait]
impl ChatProvider for OpenAiCompatible {
    async fn start(&self, request: &ChatRequest) -> Result<Box<dyn ChatStream>, ProviderError> {
        let url = self.endpoint()?;
        self.outbound
            .check(&url)
            .map_err(|refused| self.unreachable(refused))?;
        let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
        let mut body = json!({
            "model": request.model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|tool| {
                    json!({ "type": "function", "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    } })
                })
                .collect();
            body["tools"] = Value::Array(tools);
            if !request.may_call_tools {
                body["tool_choice"] = json!("none");
            }
        }
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        if let Some(max_tokens) = request.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        let mut call = self
            .outbound
            .client()
            .post(url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(|error| {
            if let Some(refused) = refused_address(&error) {
                return self.unreachable(refused);
            }
            let why = if error.is_connect() {
                "could not connect"
            } else if error.is_timeout() {
                "timed out connecting"
            } else {
                "the request failed"
            };
            ProviderError::transient(format!("model provider \"{}\": {why}", self.name), None)
        })?;
        let status = response.status();
        if !status.is_success() {
            let wait = retry_after(response.headers());
            let detail = error_detail(&response.text().await.unwrap_or_default());
            let message = format!(
                "model provider \"{}\" answered {status}: {detail}",
                self.name
            );
            let retryable = status.as_u16() == 429 || status.is_server_error();
            return Err(if retryable {
                ProviderError::transient(message, wait)
            } else {
                ProviderError::fatal(message)
            });
        }
        Ok(Box::new(EventStream {
            name: self.name.clone(),
            response,
            buffer: Vec::new(),
            done: false,
        }))
    }
}

/// Server-sent events, read line by line as the body arrives.
struct EventStream {
    name: String,
    response: reqwest::Response,
    buffer: Vec<u8>,
    done: bool,
}

impl EventStream {
    fn broken(&self, why: &str) -> ProviderError {
        ProviderError::fatal(format!(
            "model provider \"{}\" broke off the reply: {why}",
            self.name
        ))
    }

    /// The next `data:` payload already buffered.
    fn buffered_data(&mut self) -> Option<String> {
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(data) = line.strip_prefix("data:") {
                return Some(data.trim_start().to_owned());
            }
            // Comments (`: keep-alive`), `event:`/`id:` fields and the blank
            // lines between events carry nothing for chat completions.
        }
        None
    }

    fn chunk_of(&self, data: &str) -> Result<Chunk, ProviderError> {
        let value: Value =
            serde_json::from_str(data).map_err(|_| self.broken("an event that is not JSON"))?;
        if !value["error"].is_null() {
            return Err(ProviderError::fatal(format!(
                "model provider \"{}\" reported an error mid-reply: {}",
                self.name,
                error_detail(data)
            )));
        }
        let text = value["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let count = |key: &str| {
            value["usage"][key]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
        };
        let usage = match (count("prompt_tokens"), count("completion_tokens")) {
            (Some(prompt_tokens), Some(completion_tokens)) => Some(Usage {
                prompt_tokens,
                completion_tokens,
            }),
            _ => None,
        };
        let tool_calls = value["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .map(|pieces| pieces.iter().filter_map(tool_call_piece).collect())
            .unwrap_or_default();
        Ok(Chunk {
            text,
            usage,
            model: value["model"].as_str().map(str::to_owned),
            tool_calls,
        })
    }
}

#[async_trait]
impl ChatStream for EventStream {
    async fn next(&mut self) -> Result<Option<Chunk>, ProviderError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(data) = self.buffered_data() {
                if data == "[DONE]" {
                    self.done = true;
                    return Ok(None);
                }
                return self.chunk_of(&data).map(Some);
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(self.broken("a line longer than 1 MiB"));
            }
            // The only wait: dropping the call here loses nothing.
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.extend_from_slice(&bytes),
                // Some servers end the stream without `[DONE]`.
                Ok(None) => {
                    self.done = true;
                    let rest = std::mem::take(&mut self.buffer);
                    let rest = String::from_utf8_lossy(&rest);
                    let last = rest.trim().strip_prefix("data:").map(str::trim);
                    return match last {
                        Some(data) if data != "[DONE]" => self.chunk_of(data).map(Some),
                        _ => Ok(None),
                    };
                }
                Err(_) => return Err(self.broken("the connection dropped")),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_details_come_from_the_body() {
        assert_eq!(
            error_detail(r#"{"error": {"message": "Incorrect API key", "type": "auth"}}"#),
            "Incorrect API key"
        );
        assert_eq!(
            error_detail(r#"{"error": "model 'x' not found"}"#),
            "model 'x' not found"
        );
        assert_eq!(error_detail("  Bad Gateway  "), "Bad Gateway");
        assert_eq!(error_detail(&"x".repeat(500)).len(), MAX_ERROR_DETAIL);
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None, "a date in the past");
    }
}
