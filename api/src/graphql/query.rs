//! Reads.

use async_graphql::{Context, ID, Object};
use orbit_domain::ids::{AnyId, TeamId, ThreadId, UserId};
use orbit_domain::policy::AppAction;
use orbit_domain::{DomainError, ErrorCode};
use orbit_persistence::{apps, messages, sessions, teams, threads, users};

use super::auth::SessionNode;
use super::pagination::{Conn, CursorList, OrAll};
use super::types::{AppNode, MessageNode, Node, TeamNode, ThreadNode, UserNode, ViewerNode};
use super::{GqlResult, services, viewer};
use crate::application::access;
use crate::viewer::{Actor, Viewer};

#[derive(Default)]
pub struct Query;

/// Relay's `node` answers null for what the caller may not see.
fn hidden_as_null<T>(result: GqlResult<T>) -> GqlResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.code == ErrorCode::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Merged into the schema's `Query` (`graphql::Query`) with the other areas' reads.
#[Object(name = "CoreQuery")]
impl Query {
    /// Any object by its ID; null when it does not exist or the caller may not see it.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<Node>> {
        let any: AnyId = id.parse().map_err(|e: orbit_domain::ids::IdParseError| {
            DomainError::bad_input("id", e.to_string())
        })?;
        let services = services(ctx);
        let viewer = viewer(ctx);
        if !matches!(any, AnyId::App(_)) {
            // Everything but the caller's own app needs a user or the secret key.
            viewer.actor()?;
        }
        Ok(match any {
            AnyId::App(app_id) => {
                // The caller's own app, or one the developer is a member of.
                let visible = app_id == viewer.app().app_id()
                    || match *viewer {
                        Viewer::User {
                            user,
                            developer: true,
                            ..
                        } => apps::developer_role(services.db(), app_id, user)
                            .await?
                            .is_some(),
                        _ => false,
                    };
                if !visible {
                    return Ok(None);
                }
                apps::find(services.db(), app_id)
                    .await?
                    .map(|a| Node::App(AppNode(a)))
            }
            AnyId::User(user_id) => {
                hidden_as_null(access::user(services, viewer, user_id, "id").await)?
                    .map(|u| Node::User(UserNode::new(u)))
            }
            AnyId::Team(team_id) => {
                hidden_as_null(access::team(services, viewer, team_id, "id").await)?
                    .map(|(t, _)| Node::Team(TeamNode(t)))
            }
            AnyId::Thread(thread_id) => {
                hidden_as_null(access::thread(services, viewer, thread_id, "id").await)?
                    .map(|(t, _)| Node::Thread(ThreadNode(t)))
            }
            AnyId::Message(message_id) => {
                let Some(message) = messages::find(services.db(), viewer.app(), message_id).await?
                else {
                    return Ok(None);
                };
                hidden_as_null(
                    access::thread(services, viewer, ThreadId(message.thread_id), "id").await,
                )?
                .map(|_| Node::Message(MessageNode(message)))
            }
        })
    }

    /// Who is calling.
    async fn viewer(&self, ctx: &Context<'_>) -> ViewerNode {
        ViewerNode(*viewer(ctx))
    }

    /// The signed-in user; null for keys and anonymous callers.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        let Some(user) = viewer(ctx).user() else {
            return Ok(None);
        };
        Ok(users::find(services(ctx).db(), viewer(ctx).app(), user)
            .await?
            .map(UserNode::new))
    }

    /// The signed-in user's live sessions, oldest first: where they are
    /// logged in. `revokeSession` ends one.
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<SessionNode>> {
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let services = services(ctx);
        let list = CursorList::new("sessions", user);
        let page = sessions::list_live(
            services.db(),
            viewer.app(),
            user,
            services.clock().now(),
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(list.connection(page, |s| s.id, |s| SessionNode::new(s, viewer)))
    }

    /// The caller's app; with `id`, an app whose configuration the caller
    /// may read: a developer's (NOT_FOUND unless a member), or the secret
    /// key's own.
    async fn app(&self, ctx: &Context<'_>, id: Option<ID>) -> GqlResult<Option<AppNode>> {
        let services = services(ctx);
        let app_id = match id {
            None => viewer(ctx).app().app_id(),
            Some(id) => {
                access::managed_app(services, viewer(ctx), Some(&id), AppAction::View)
                    .await
                    // The argument here is `id`, not an input's `appId`.
                    .map_err(|error| match error.field {
                        Some(_) => error.with_field("id"),
                        None => error,
                    })?
                    .0
                    .app_id()
            }
        };
        Ok(apps::find(services.db(), app_id).await?.map(AppNode))
    }

    /// The apps a developer is a member of.
    async fn apps(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<AppNode>> {
        let Viewer::User {
            user,
            developer: true,
            ..
        } = *viewer(ctx)
        else {
            return Err(DomainError::forbidden(
                "only developers (console users) have apps",
            ));
        };
        let list = CursorList::new("apps", user);
        let page =
            apps::list_for_developer(services(ctx).db(), user, list.forward_args(first, after)?)
                .await?;
        Ok(list.connection(page, |a| a.id, AppNode))
    }

    /// NOT_FOUND (and null) for a user the caller may not see.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<UserNode>> {
        let id = UserId::parse_field(&id, "id")?;
        Ok(Some(UserNode::new(
            access::user(services(ctx), viewer(ctx), id, "id").await?,
        )))
    }

    /// Users the caller can see (sharing a team with them); all users for a secret key.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> GqlResult<Conn<UserNode>> {
        let viewer = viewer(ctx);
        let restrict_to = match viewer.actor()? {
            Actor::App => None,
            Actor::User(user) => Some(user),
        };
        if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(DomainError::bad_input(
                "search",
                "must be at most 100 characters",
            ));
        }
        // The search chooses the rows, so it is part of the list.
        let list = CursorList::new(
            "users",
            format_args!("{} {:?}", viewer.app().app_id(), search),
        );
        let page = users::list(
            services(ctx).db(),
            viewer.app(),
            restrict_to,
            search.as_deref(),
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(list.connection(page, |u| u.id, UserNode::new))
    }

    /// NOT_FOUND (and null) for a team the caller is not a member of.
    async fn team(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<TeamNode>> {
        let id = TeamId::parse_field(&id, "id")?;
        let (team, _) = access::team(services(ctx), viewer(ctx), id, "id").await?;
        Ok(Some(TeamNode(team)))
    }

    /// The caller's teams; every team for a secret key.
    async fn teams(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<TeamNode>> {
        let viewer = viewer(ctx);
        let member = match viewer.actor()? {
            Actor::App => None,
            Actor::User(user) => Some(user),
        };
        let list = CursorList::new("teams", viewer.app().app_id());
        let page = teams::list(
            services(ctx).db(),
            viewer.app(),
            member,
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(list.connection(page, |t| t.id, TeamNode))
    }

    /// NOT_FOUND (and null) for a thread the caller may not see.
    async fn thread(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<ThreadNode>> {
        let id = ThreadId::parse_field(&id, "id")?;
        let (thread, _) = access::thread(services(ctx), viewer(ctx), id, "id").await?;
        Ok(Some(ThreadNode(thread)))
    }

    /// Threads the caller can see, most recent activity first; `teamId` narrows to one team.
    async fn threads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        team_id: Option<ID>,
    ) -> GqlResult<Conn<ThreadNode>> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let team = match team_id {
            Some(team_id) => {
                let team_id = TeamId::parse_field(&team_id, "teamId")?;
                access::team(services, viewer, team_id, "teamId").await?;
                Some(team_id)
            }
            None => None,
        };
        let restrict_to = match viewer.actor()? {
            Actor::App => None,
            Actor::User(user) => Some(user),
        };
        let list = CursorList::new(
            "threads",
            format_args!("{} {}", viewer.app().app_id(), OrAll(team)),
        );
        let page = threads::list(
            services.db(),
            viewer.app(),
            restrict_to,
            team,
            list.forward_args(first, after)?,
        )
        .await?;
        Ok(list.connection(page, |t| t.activity_key, ThreadNode))
    }

    /// The app's outside OAuth providers, as configured (never the client
    /// secret): the secret key's own app, or the app a developer names.
    async fn identity_providers(
        &self,
        ctx: &Context<'_>,
        app_id: Option<ID>,
    ) -> GqlResult<Vec<super::identity_providers::IdentityProviderNode>> {
        super::identity_providers::list(ctx, app_id.as_ref().map(|id| id.as_str())).await
    }
}
