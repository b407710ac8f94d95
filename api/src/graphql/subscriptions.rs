//! The subscription root, `Subscription`: one object per topic, merged.
//! `userEvents`, `teamEvents`, `threadEvents` and `appEvents` each check
//! access, open their topic's feed (`realtime::subscribe`) and stream the
//! topic's union of typed events (`events.rs`); over WebSocket the socket
//! takes the feed and renders each event once for everyone who asked the
//! same.

use std::future::Future;
use std::sync::Arc;

use async_graphql::{Context, ID, MergedSubscription, Subscription};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use orbit_domain::events::Topic;
use orbit_domain::ids::{AppScope, TeamId, ThreadId};
use orbit_domain::policy::AppAction;
use orbit_domain::{DomainError, DomainResult};

use super::events::{AppEvent, EventBase, TeamEvent, ThreadEvent, UserEvent};
use super::matched::Matched;
use super::{GqlResult, services, viewer};
use crate::Services;
use crate::application::access;
use crate::realtime::envelope::Envelope;
use crate::realtime::feed::{Feed, FeedItem};
use crate::realtime::subscribe::{self, FeedHandoff, RenderEvent};
use crate::viewer::Viewer;

/// What a client subscribes to over WebSocket: each field streams one topic's
/// events, resumable from a cursor.
#[derive(MergedSubscription, Default)]
pub struct Subscription(
    UserSubscription,
    TeamSubscription,
    ThreadSubscription,
    AppSubscription,
);

#[derive(Default)]
pub struct UserSubscription;

#[Subscription]
impl UserSubscription {
    /// The viewer's own events. Needs a user's access token.
    async fn user_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<UserEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, UserEvent::select) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let user = viewer.require_user()?;
        let feed = open_feed(ctx, &viewer, viewer.app(), Topic::User(user), after).await?;
        Ok(stream_or_hand_off(ctx, feed, UserEvent::select))
    }
}

#[derive(Default)]
pub struct TeamSubscription;

#[Subscription]
impl TeamSubscription {
    /// A team's events: members, threads, presence. Members and the secret key.
    async fn team_events(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<TeamEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, TeamEvent::select) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let team = TeamId::parse_field(&team_id, "teamId")?;
        let may_read = move |services: Services| async move {
            access::team(&services, &viewer, team, "teamId")
                .await
                .map(drop)
        };
        let feed = guarded_feed(ctx, &viewer, Topic::Team(team), after, may_read).await?;
        Ok(stream_or_hand_off(ctx, feed, TeamEvent::select))
    }
}

#[derive(Default)]
pub struct ThreadSubscription;

#[Subscription]
impl ThreadSubscription {
    /// A thread's messages, participants and typing. Whoever may read the thread.
    async fn thread_events(
        &self,
        ctx: &Context<'_>,
        thread_id: ID,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<ThreadEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, ThreadEvent::select) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let thread = ThreadId::parse_field(&thread_id, "threadId")?;
        let may_read = move |services: Services| async move {
            access::thread(&services, &viewer, thread, "threadId")
                .await
                .map(drop)
        };
        let feed = guarded_feed(ctx, &viewer, Topic::Thread(thread), after, may_read).await?;
        Ok(stream_or_hand_off(ctx, feed, ThreadEvent::select))
    }
}

#[derive(Default)]
pub struct AppSubscription;

#[Subscription]
impl AppSubscription {
    /// The app's routine runs as they start and end: for its secret key
    /// and developers, who name the app in `appId`.
    async fn app_events(
        &self,
        ctx: &Context<'_>,
        app_id: Option<ID>,
        after: Option<String>,
    ) -> Result<BoxStream<'static, GqlResult<Matched<AppEvent>>>, DomainError> {
        if let Some(rendered) = render_one(ctx, AppEvent::select) {
            return Ok(rendered);
        }
        let viewer = *viewer(ctx);
        let (scope, _) = access::managed_app(
            services(ctx),
            &viewer,
            app_id.as_ref().map(|id| id.as_str()),
            AppAction::View,
        )
        .await?;
        let feed = open_feed(ctx, &viewer, scope, Topic::Builders(scope.app_id()), after).await?;
        Ok(stream_or_hand_off(ctx, feed, AppEvent::select))
    }
}

fn render_one<T: Send + 'static>(
    ctx: &Context<'_>,
    select: fn(EventBase) -> Option<T>,
) -> Option<BoxStream<'static, GqlResult<T>>> {
    let event = ctx.data_opt::<RenderEvent>()?.take();
    let rendered =
        event.and_then(|(envelope, position)| select(EventBase::new(envelope, position)));
    Some(futures::stream::iter(rendered.map(Ok)).boxed())
}

fn stream_or_hand_off<T: Send + 'static>(
    ctx: &Context<'_>,
    feed: Feed,
    select: fn(EventBase) -> Option<T>,
) -> BoxStream<'static, GqlResult<T>> {
    let Some(handoff) = ctx.data_opt::<Arc<FeedHandoff>>() else {
        return typed(feed, select).boxed();
    };
    let shows = Box::new(move |envelope: &Arc<Envelope>| {
        select(EventBase::new(envelope.clone(), 0)).is_some()
    });
    handoff.hand(feed, shows);
    futures::stream::empty().boxed()
}

/// A feed of `topic` for this request's viewer; see `realtime::subscribe::open`.
async fn open_feed(
    ctx: &Context<'_>,
    viewer: &Viewer,
    scope: AppScope,
    topic: Topic,
    after: Option<String>,
) -> GqlResult<Feed> {
    subscribe::open(services(ctx), viewer, scope, topic, after, None).await
}

/// A team's or thread's feed, `may_read` checked now and whenever access
/// may have changed; see `realtime::subscribe::open_guarded`.
async fn guarded_feed<Check>(
    ctx: &Context<'_>,
    viewer: &Viewer,
    topic: Topic,
    after: Option<String>,
    may_read: impl Fn(Services) -> Check + Send + Sync + 'static,
) -> GqlResult<Feed>
where
    Check: Future<Output = DomainResult<()>> + Send + 'static,
{
    subscribe::open_guarded(services(ctx), viewer, topic, after, may_read).await
}

fn typed<T: Send + 'static>(
    feed: Feed,
    select: fn(EventBase) -> Option<T>,
) -> impl Stream<Item = GqlResult<T>> + Send + use<T> {
    feed.into_stream().filter_map(move |item: FeedItem| {
        let out = match item {
            Ok((envelope, position)) => select(EventBase::new(envelope, position)).map(Ok),
            Err(error) => Some(Err(error)),
        };
        std::future::ready(out)
    })
}
