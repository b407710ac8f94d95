//! Subscriptions: the one interface between the transports and real time.
//! A subscription opens a feed of a topic ([`open`], [`open_guarded`]):
//! access checked when it opens (and again when the feed hears it may have
//! changed), its `after` cursor validated, what was missed read from the
//! events table, then the live part from the broker (`feed.rs`). The
//! relay that publishes commits, typing and presence sit beside it in
//! this module.
//!
//! Over WebSocket, the socket delivers a subscription's feed itself, so
//! that subscribers who ask the same share each event's rendering: the
//! GraphQL resolver checks access and opens the feed, then leaves it in the
//! request's [`FeedHandoff`]; the socket takes it, and renders each event
//! by running the subscription's document with a [`RenderEvent`]. These
//! two types are the whole of the contract between the socket and the
//! resolvers: the feed listens once the resolver returns, so the socket
//! answers the client's next frame only after that.

use std::future::Future;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use orbit_domain::events::Topic;
use orbit_domain::ids::AppScope;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::outbox;

use super::envelope::Envelope;
use super::feed::{AccessCheck, AccessWatch, Feed};
use crate::Services;
use crate::viewer::Viewer;

/// A cursor names its topic and a position in it, so it cannot be replayed
/// against another topic by mistake.
pub(crate) fn encode_cursor(topic: &str, seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{topic}#{seq}"))
}

pub(crate) fn decode_cursor(topic: &str, cursor: &str) -> DomainResult<i64> {
    let invalid = || DomainError::bad_input("after", "not a cursor of this subscription");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (cursor_topic, seq) = text.rsplit_once('#').ok_or_else(invalid)?;
    if cursor_topic != topic {
        return Err(invalid());
    }
    seq.parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
        .ok_or_else(invalid)
}

/// Put in a subscription's request by the WebSocket handler, which delivers
/// the feed itself so that subscribers who ask the same share each event's
/// rendering (`http::shared_delivery`): the resolver checks access, opens
/// the feed, and leaves it here instead of streaming it.
#[derive(Default)]
pub(crate) struct FeedHandoff(std::sync::Mutex<Option<HandedFeed>>);

pub(crate) struct HandedFeed {
    pub feed: Feed,
    pub shows: ShowsEvent,
}

/// Whether the subscription's union shows an event of this type.
pub(crate) type ShowsEvent = Box<dyn Fn(&Arc<Envelope>) -> bool + Send + Sync>;

impl FeedHandoff {
    pub(crate) fn take(&self) -> Option<HandedFeed> {
        self.0.lock().ok().and_then(|mut handed| handed.take())
    }

    /// Leaves the feed for the socket to deliver.
    pub(crate) fn hand(&self, feed: Feed, shows: ShowsEvent) {
        if let Ok(mut handed) = self.0.lock() {
            *handed = Some(HandedFeed { feed, shows });
        }
    }
}

/// Put in a request that renders one event of a handed-off feed: the
/// subscription field yields just that event, with the feed's position.
pub(crate) struct RenderEvent(std::sync::Mutex<Option<(Arc<Envelope>, i64)>>);

impl RenderEvent {
    pub(crate) fn new(envelope: Arc<Envelope>, position: i64) -> Self {
        Self(std::sync::Mutex::new(Some((envelope, position))))
    }

    /// The event to render, once.
    pub(crate) fn take(&self) -> Option<(Arc<Envelope>, i64)> {
        self.0.lock().ok().and_then(|mut event| event.take())
    }
}

/// A team's or thread's feed: `may_read` is checked at subscribe time, and
/// again whenever the feed learns that access may have changed, where a
/// failure ends the feed.
pub(crate) async fn open_guarded<Check>(
    services: &Services,
    viewer: &Viewer,
    topic: Topic,
    after: Option<String>,
    may_read: impl Fn(Services) -> Check + Send + Sync + 'static,
) -> DomainResult<Feed>
where
    Check: Future<Output = DomainResult<()>> + Send + 'static,
{
    may_read(services.clone()).await?;
    let recheck_services = services.clone();
    let recheck: AccessCheck = Box::new(move || {
        let checked = may_read(recheck_services.clone());
        Box::pin(async move { checked.await.map_err(lost_access) })
    });
    open(services, viewer, viewer.app(), topic, after, Some(recheck)).await
}

fn lost_access(error: DomainError) -> DomainError {
    match error.code {
        orbit_domain::ErrorCode::NotFound => DomainError::forbidden("access to this topic ended")
            .with_field(error.field.unwrap_or_default()),
        _ => error,
    }
}

/// Subscribes to the broker first, then reads where the topic stands, so
/// that nothing committed in between falls through.
pub(crate) async fn open(
    services: &Services,
    viewer: &Viewer,
    scope: AppScope,
    topic: Topic,
    after: Option<String>,
    check: Option<AccessCheck>,
) -> DomainResult<Feed> {
    let key = topic.key();
    let live = services.broker().subscribe(&key).await;
    let position = outbox::position(services.db(), &key).await?;
    let (start_after, replay) = match after {
        Some(cursor) => {
            let after_seq = decode_cursor(&key, &cursor)?;
            if after_seq > position.last_seq {
                return Err(DomainError::bad_input(
                    "after",
                    "not a cursor of this subscription",
                ));
            }
            if !position.can_resume_after(after_seq) {
                return Err(DomainError::bad_input(
                    "after",
                    "this cursor is older than the event retention: resubscribe without `after` and refetch",
                ));
            }
            (after_seq, true)
        }
        None => (position.last_seq, false),
    };
    // Team and thread feeds also watch the viewer's own topic, where a
    // removal that ends their access is announced.
    let access = match (viewer.user(), check) {
        (Some(user), Some(check)) if !matches!(topic, Topic::User(_)) => Some(AccessWatch {
            user,
            user_topic: services.broker().subscribe(&Topic::User(user).key()).await,
            check,
        }),
        _ => None,
    };
    Ok(Feed::new(
        services.clone(),
        scope,
        live,
        start_after,
        replay,
        access,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_belong_to_their_topic() {
        let cursor = encode_cursor("thread:thr_a", 42);
        assert_eq!(decode_cursor("thread:thr_a", &cursor).unwrap(), 42);
        assert!(decode_cursor("thread:thr_b", &cursor).is_err());
        assert!(decode_cursor("thread:thr_a", "garbage!").is_err());
    }

    proptest::proptest! {
        #[test]
        fn event_cursors_never_panic_and_belong_to_their_topic(
            text in "\\PC{0,60}",
            seq in proptest::prelude::any::<i64>(),
            topic in "[a-z]{1,8}:[a-z0-9_#]{1,20}",
        ) {
            let _ = decode_cursor(&topic, &text);
            let cursor = encode_cursor(&topic, seq);
            if seq >= 0 {
                proptest::prop_assert_eq!(decode_cursor(&topic, &cursor).unwrap(), seq);
            }
            let other = format!("{topic}x");
            proptest::prop_assert!(decode_cursor(&other, &cursor).is_err());
        }
    }
}
