//! One rendering of an event for every subscriber who asked for the same.
//!
//! Subscribers of one topic nearly always send one document: a client app's
//! `threadEvents { ... }`, with only the thread and the resume cursor
//! varying. Rendering an event (running the selection, serialising the
//! `next` payload) is most of what a delivery costs, so it is done once per
//! event and *selection* and the text is shared; each subscriber then only
//! frames it with its operation id.
//!
//! A selection is the document, the operation and the values of the
//! variables used below the subscription field. The field's own arguments
//! (which topic, `after`) are left out: they decide which events a feed
//! delivers, not how an event renders.
//!
//! A result is shared only when rendering it read nothing of the caller
//! (`graphql::ViewerReads`): a selection with `email` or `unreadCount` is
//! rendered for each subscriber. Results are shared within one app, as an
//! event belongs to one app.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection as AstSelection,
    SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, Value, Variables};
use async_graphql_value::Value as AstValue;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::OnceCell;

use crate::realtime::envelope::Envelope;
use orbit_domain::events::EventType;

/// Rendered events kept for subscribers still to receive them; one that
/// comes later than this many newer renderings renders again.
const RENDERED_KEPT: usize = 1024;

/// What a subscription asks of each event, shared by every subscription
/// that asks the same.
pub(crate) struct Selection {
    query: String,
    operation_name: Option<String>,
    variables: Variables,
    document: ExecutableDocument,
    /// Event types whose rendering read the caller: rendered per subscriber
    /// without first waiting on a shared rendering.
    private_types: Mutex<HashSet<EventType>>,
}

impl Selection {
    /// A request for one rendering: the subscription's own document, already
    /// parsed.
    pub(crate) fn request(&self) -> async_graphql::Request {
        let mut request =
            async_graphql::Request::new(self.query.clone()).variables(self.variables.clone());
        if let Some(name) = &self.operation_name {
            request = request.operation_name(name.clone());
        }
        request.set_parsed_query(self.document.clone());
        request
    }

    fn is_private(&self, event_type: EventType) -> bool {
        lock(&self.private_types).contains(&event_type)
    }

    fn mark_private(&self, event_type: EventType) {
        lock(&self.private_types).insert(event_type);
    }
}

/// One rendering of an event for one subscriber.
pub(crate) enum Render {
    /// The `next` payload; `shareable` when it is the same for anyone who
    /// asked the same.
    Payload { text: Arc<str>, shareable: bool },
    /// The rendering every subscriber of the selection shares.
    Shared(Arc<SharedRendering>),
    /// The selection yields nothing for this event.
    Nothing,
    /// No data, only errors: the operation ends with them.
    Failed(Vec<ServerError>),
}

/// A `next` payload shared by every subscriber of one selection, with the
/// whole frames made of it: operations of different sockets nearly always
/// share an id (a client's first subscription is `"1"`), so the frame is
/// encoded once per id and the same bytes are written to each socket.
pub(crate) struct SharedRendering {
    text: Arc<str>,
    /// The frame for the first id to ask, which nearly every socket asks
    /// for: read without a lock, by both of the runtime's threads at once.
    first_frame: OnceLock<(Box<str>, Utf8Bytes)>,
    /// Frames for other ids.
    other_frames: Mutex<Vec<(Box<str>, Utf8Bytes)>>,
}

/// Distinct frame prefixes kept per rendering; past them (operation ids
/// that differ per client) each socket frames the payload itself.
const FRAMES_KEPT: usize = 4;

impl SharedRendering {
    fn new(text: Arc<str>) -> Self {
        Self {
            text,
            first_frame: OnceLock::new(),
            other_frames: Mutex::default(),
        }
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// The frame that begins with `prefix` and carries this payload, made
    /// by `frame` the first time this prefix asks.
    pub(crate) fn frame(&self, prefix: &str, frame: impl Fn(&str, &str) -> Utf8Bytes) -> Utf8Bytes {
        let (first, bytes) = self
            .first_frame
            .get_or_init(|| (Box::from(prefix), frame(prefix, &self.text)));
        if **first == *prefix {
            return bytes.clone();
        }
        let mut frames = lock(&self.other_frames);
        if let Some((_, bytes)) = frames.iter().find(|(kept, _)| **kept == *prefix) {
            return bytes.clone();
        }
        let bytes = frame(prefix, &self.text);
        if frames.len() < FRAMES_KEPT - 1 {
            frames.push((Box::from(prefix), bytes.clone()));
        }
        bytes
    }
}

#[derive(Default)]
pub(crate) struct SharedDeliveries {
    selections: Mutex<HashMap<String, Weak<Selection>>>,
    rendered: Mutex<Rendered>,
}

#[derive(Default)]
struct Rendered {
    /// `None` once the first rendering turned out to be its caller's alone.
    by_key: HashMap<RenderKey, Arc<OnceCell<Option<Arc<SharedRendering>>>>>,
    oldest_first: VecDeque<RenderKey>,
}

impl SharedDeliveries {
    /// The selection of a subscription, shared with every other that asks
    /// the same. `None` for a request that does not parse (it was refused
    /// before it got here).
    pub(crate) fn selection(
        &self,
        query: &str,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Option<Arc<Selection>> {
        let document = async_graphql::parser::parse_query(query).ok()?;
        let operation = find_operation(&document, operation_name)?;
        let used = variables_below_root_fields(&document, operation);
        let used_values: BTreeMap<&str, &Value> = variables
            .iter()
            .filter(|(name, _)| used.contains(name.as_str()))
            .map(|(name, value)| (name.as_str(), value))
            .collect();
        let key = format!(
            "{}\n{}\n{}",
            operation_name.unwrap_or_default(),
            serde_json::to_string(&used_values).unwrap_or_default(),
            query
        );
        let mut selections = lock(&self.selections);
        if let Some(selection) = selections.get(&key).and_then(Weak::upgrade) {
            return Some(selection);
        }
        let selection = Arc::new(Selection {
            query: query.to_owned(),
            operation_name: operation_name.map(str::to_owned),
            variables: variables.clone(),
            document,
            private_types: Mutex::default(),
        });
        // Forget selections nobody holds any more, now and then.
        if selections.len() >= 64 && selections.len().is_power_of_two() {
            selections.retain(|_, selection| selection.strong_count() > 0);
        }
        selections.insert(key, Arc::downgrade(&selection));
        Some(selection)
    }

    /// The rendering of `envelope` (delivered at `position`) for one
    /// subscriber of `selection`: the shared one when there is one, else
    /// `render`'s, which is shared in turn when it can be. Subscribers who
    /// come while the first rendering runs wait for it rather than render
    /// the same again.
    pub(crate) async fn render<F, Fut>(
        &self,
        selection: &Arc<Selection>,
        envelope: &Arc<Envelope>,
        position: i64,
        render: F,
    ) -> Render
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Render>,
    {
        if selection.is_private(envelope.event_type()) {
            return render().await;
        }
        let cell = self.cell(RenderKey {
            event: EventKey(envelope.clone()),
            position,
            selection: SelectionKey(selection.clone()),
        });
        let mut render = Some(render);
        let mut own = None;
        let shared = cell
            .get_or_init(|| async {
                let rendered = match render.take() {
                    Some(render) => render().await,
                    None => Render::Nothing,
                };
                let shared = match &rendered {
                    Render::Payload {
                        text,
                        shareable: true,
                    } => Some(Arc::new(SharedRendering::new(text.clone()))),
                    _ => None,
                };
                own = Some(rendered);
                shared
            })
            .await
            .clone();
        if let Some(rendered) = own {
            if let Render::Payload {
                shareable: false, ..
            } = rendered
            {
                selection.mark_private(envelope.event_type());
            }
            return rendered;
        }
        match (shared, render) {
            (Some(shared), _) => Render::Shared(shared),
            (None, Some(render)) => render().await,
            (None, None) => Render::Nothing,
        }
    }

    /// The shared rendering of `envelope` for `selection`, if it is done:
    /// what nearly every delivery finds, without waiting.
    pub(crate) fn rendered(
        &self,
        selection: &Arc<Selection>,
        envelope: &Arc<Envelope>,
        position: i64,
    ) -> Option<Arc<SharedRendering>> {
        let key = RenderKey {
            event: EventKey(envelope.clone()),
            position,
            selection: SelectionKey(selection.clone()),
        };
        lock(&self.rendered)
            .by_key
            .get(&key)
            .and_then(|cell| cell.get().cloned().flatten())
    }

    fn cell(&self, key: RenderKey) -> Arc<OnceCell<Option<Arc<SharedRendering>>>> {
        let mut rendered = lock(&self.rendered);
        if let Some(cell) = rendered.by_key.get(&key) {
            return cell.clone();
        }
        let cell = Arc::new(OnceCell::new());
        rendered.by_key.insert(key.clone(), cell.clone());
        rendered.oldest_first.push_back(key);
        while rendered.oldest_first.len() > RENDERED_KEPT {
            if let Some(oldest) = rendered.oldest_first.pop_front() {
                rendered.by_key.remove(&oldest);
            }
        }
        cell
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        lock(&self.rendered).by_key.len()
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct RenderKey {
    event: EventKey,
    /// Where the subscriber stands: an ephemeral event's cursor is the
    /// feed's position, which is not the same for every feed.
    position: i64,
    selection: SelectionKey,
}

/// A stored event is the same event however it arrived (from the broker,
/// or read back from the table by a feed catching up); an ephemeral one is
/// known only by its decoding, which every local subscriber shares. The key
/// holds the envelope, so its address is not reused while it is a key.
#[derive(Clone)]
struct EventKey(Arc<Envelope>);

impl PartialEq for EventKey {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.0, &other.0);
        match (a.seq, b.seq) {
            (Some(x), Some(y)) => x == y && a.app == b.app && a.topic == b.topic,
            (None, None) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for EventKey {}

impl Hash for EventKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.0.seq {
            Some(seq) => {
                seq.hash(state);
                self.0.topic.hash(state);
            }
            None => Arc::as_ptr(&self.0).hash(state),
        }
    }
}

/// Selections are interned, so one is known by its address.
#[derive(Clone)]
struct SelectionKey(Arc<Selection>);

impl PartialEq for SelectionKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SelectionKey {}

impl Hash for SelectionKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn find_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        _ => None,
    }
}

/// The variables the rendering of an event can depend on: every use but
/// the root fields' own arguments.
fn variables_below_root_fields(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
) -> HashSet<String> {
    let mut walk = VariableWalk {
        document,
        used: HashSet::new(),
        fragments_seen: HashSet::new(),
    };
    walk.directives(&operation.directives);
    walk.root_set(&operation.selection_set.node);
    walk.used
}

struct VariableWalk<'a> {
    document: &'a ExecutableDocument,
    used: HashSet<String>,
    fragments_seen: HashSet<&'a str>,
}

impl<'a> VariableWalk<'a> {
    fn root_set(&mut self, set: &'a SelectionSet) {
        for item in &set.items {
            match &item.node {
                AstSelection::Field(field) => {
                    self.directives(&field.node.directives);
                    self.set(&field.node.selection_set.node);
                }
                AstSelection::InlineFragment(fragment) => {
                    self.directives(&fragment.node.directives);
                    self.root_set(&fragment.node.selection_set.node);
                }
                // A named fragment at the root may carry root arguments;
                // counting them too only shares less.
                AstSelection::FragmentSpread(_) => self.selection(&item.node),
            }
        }
    }

    fn set(&mut self, set: &'a SelectionSet) {
        for item in &set.items {
            self.selection(&item.node);
        }
    }

    fn selection(&mut self, selection: &'a AstSelection) {
        match selection {
            AstSelection::Field(field) => {
                for (_, value) in &field.node.arguments {
                    self.value(&value.node);
                }
                self.directives(&field.node.directives);
                self.set(&field.node.selection_set.node);
            }
            AstSelection::InlineFragment(fragment) => {
                self.directives(&fragment.node.directives);
                self.set(&fragment.node.selection_set.node);
            }
            AstSelection::FragmentSpread(spread) => {
                self.directives(&spread.node.directives);
                let name = spread.node.fragment_name.node.as_str();
                if self.fragments_seen.insert(name)
                    && let Some(fragment) = self.document.fragments.get(&Name::new(name))
                {
                    self.directives(&fragment.node.directives);
                    self.set(&fragment.node.selection_set.node);
                }
            }
        }
    }

    fn directives(
        &mut self,
        directives: &'a [Positioned<async_graphql::parser::types::Directive>],
    ) {
        for directive in directives {
            for (_, value) in &directive.node.arguments {
                self.value(&value.node);
            }
        }
    }

    fn value(&mut self, value: &AstValue) {
        match value {
            AstValue::Variable(name) => {
                self.used.insert(name.to_string());
            }
            AstValue::List(items) => items.iter().for_each(|item| self.value(item)),
            AstValue::Object(fields) => fields.values().for_each(|field| self.value(field)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    const QUERY: &str = "subscription($thread: ID!, $after: String, $n: Int) {
        threadEvents(threadId: $thread, after: $after) {
            ... on MessageCreatedEvent { cursor message { id } }
            ... on ParticipantAddedEvent { user @include(if: true) { id } }
            ...more
        }
    }
    fragment more on MessageEditedEvent { message { thread { messages(first: $n) { edges { cursor } } } } }";

    fn variables(json: serde_json::Value) -> Variables {
        Variables::from_json(json)
    }

    #[test]
    fn subscriptions_differing_only_in_their_topic_and_cursor_share_a_selection() {
        let shared = SharedDeliveries::default();
        let a = shared
            .selection(
                QUERY,
                None,
                &variables(serde_json::json!({"thread": "thr_a", "n": 5})),
            )
            .unwrap();
        let b = shared
            .selection(
                QUERY,
                None,
                &variables(serde_json::json!({"thread": "thr_b", "after": "xyz", "n": 5})),
            )
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // A variable used inside the selection tells them apart.
        let c = shared
            .selection(
                QUERY,
                None,
                &variables(serde_json::json!({"thread": "thr_a", "n": 6})),
            )
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        // So does another document.
        let d = shared
            .selection(
                &QUERY.replace("cursor message", "message"),
                None,
                &variables(serde_json::json!({"n": 5})),
            )
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &d));
    }

    fn envelope(seq: Option<i64>) -> Arc<Envelope> {
        Arc::new(Envelope {
            app: Uuid::nil(),
            topic: "thread:thr_a".to_owned(),
            seq,
            event: orbit_domain::events::Event::MessageCreated(
                orbit_domain::events::MessageSnapshot {
                    message_id: orbit_domain::ids::MessageId::generate(),
                    thread_id: orbit_domain::ids::ThreadId::generate(),
                    author_id: None,
                    author_agent_id: None,
                    model: None,
                    prompt_tokens: None,
                    completion_tokens: None,
                    content: Some("hi".to_owned()),
                    metadata: None,
                    status: "sent".to_owned(),
                    created_at: Utc::now(),
                    edited_at: None,
                    deleted_at: None,
                },
            ),
            occurred_at: Utc::now(),
        })
    }

    fn payload(text: &str, shareable: bool) -> Render {
        Render::Payload {
            text: Arc::from(text),
            shareable,
        }
    }

    fn text(render: Render) -> String {
        match render {
            Render::Payload { text, .. } => text.to_string(),
            Render::Shared(shared) => shared.text().to_string(),
            Render::Nothing => "nothing".to_owned(),
            Render::Failed(_) => "failed".to_owned(),
        }
    }

    #[tokio::test]
    async fn an_event_renders_once_for_a_selection_and_stored_events_are_known_by_sequence() {
        let shared = SharedDeliveries::default();
        let selection = shared
            .selection(QUERY, None, &Variables::default())
            .unwrap();
        let first = shared
            .render(&selection, &envelope(Some(1)), 1, || async {
                payload("one", true)
            })
            .await;
        assert_eq!(text(first), "one");
        // The same stored event, decoded again elsewhere: not rendered again.
        let again = shared
            .render(&selection, &envelope(Some(1)), 1, || async {
                payload("rendered twice", true)
            })
            .await;
        assert_eq!(text(again), "one");
        // Ephemeral events are told apart by their decoding.
        let typing = envelope(None);
        let first = shared
            .render(&selection, &typing, 1, || async { payload("typing", true) })
            .await;
        let other = shared
            .render(&selection, &envelope(None), 1, || async {
                payload("other typing", true)
            })
            .await;
        let same = shared
            .render(&selection, &typing, 1, || async {
                payload("rendered twice", true)
            })
            .await;
        assert_eq!(
            (text(first), text(other), text(same)),
            ("typing".into(), "other typing".into(), "typing".into())
        );
        // At another position the cursor differs.
        let later = shared
            .render(&selection, &typing, 2, || async { payload("at 2", true) })
            .await;
        assert_eq!(text(later), "at 2");
    }

    #[tokio::test]
    async fn a_rendering_that_read_the_caller_is_never_shared() {
        let shared = SharedDeliveries::default();
        let selection = shared
            .selection(QUERY, None, &Variables::default())
            .unwrap();
        let event = envelope(Some(7));
        let mine = shared
            .render(&selection, &event, 7, || async {
                payload("alice's", false)
            })
            .await;
        let theirs = shared
            .render(&selection, &event, 7, || async { payload("bob's", false) })
            .await;
        assert_eq!(
            (text(mine), text(theirs)),
            ("alice's".into(), "bob's".into())
        );
        // Later events of that type render per subscriber straight away.
        assert!(selection.is_private(EventType::MessageCreated));
        let kept = shared.kept();
        let next = shared
            .render(&selection, &envelope(Some(8)), 8, || async {
                payload("carol's", false)
            })
            .await;
        assert_eq!(text(next), "carol's");
        assert_eq!(shared.kept(), kept);
    }

    #[tokio::test]
    async fn renderings_are_kept_up_to_a_bound() {
        let shared = SharedDeliveries::default();
        let selection = shared
            .selection(QUERY, None, &Variables::default())
            .unwrap();
        for seq in 0..(RENDERED_KEPT as i64 + 10) {
            shared
                .render(&selection, &envelope(Some(seq)), seq, || async {
                    payload("x", true)
                })
                .await;
        }
        assert_eq!(shared.kept(), RENDERED_KEPT);
    }

    #[test]
    fn a_shared_frame_is_made_once_per_operation_id_and_the_same_bytes_are_reused() {
        let shared = SharedRendering::new(Arc::from(r#"{"data":1}"#));
        let made = std::cell::Cell::new(0);
        let frame = |prefix: &str| {
            shared.frame(prefix, |prefix, payload| {
                made.set(made.get() + 1);
                Utf8Bytes::from(format!("{prefix}{payload}}}"))
            })
        };
        let first = frame(r#"{"id":"1","payload":"#);
        let again = frame(r#"{"id":"1","payload":"#);
        assert_eq!(first.as_str(), r#"{"id":"1","payload":{"data":1}}"#);
        // The same bytes, not a copy of them.
        assert_eq!(first.as_str().as_ptr(), again.as_str().as_ptr());
        assert_eq!(made.get(), 1);
        // Past the kept prefixes, frames are still right, made each time.
        for n in 0..FRAMES_KEPT + 2 {
            let prefix = format!(r#"{{"id":"op{n}","payload":"#);
            assert_eq!(
                frame(&prefix).as_str(),
                format!(r#"{prefix}{{"data":1}}}}"#)
            );
            assert_eq!(
                frame(&prefix).as_str(),
                format!(r#"{prefix}{{"data":1}}}}"#)
            );
        }
        assert_eq!(made.get(), 1 + (FRAMES_KEPT - 1) + 2 * 3);
    }
}
