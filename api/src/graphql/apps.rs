//! The developer control plane, apps and their members: `createApp`,
//! `updateApp`, `deleteApp`, and who develops an app with which role.
//! Every operation on an existing app goes through `access::managed_app`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::ids::{AppId, AppScope, UserId};
use orbit_domain::policy::{AppAccess, AppAction, authorize_app};
use orbit_domain::{DomainError, DomainResult, roles, validation};
use orbit_persistence::app_members::{self, Member};
use orbit_persistence::apps::{self, NewAppOwner};

use super::pagination::{Conn, CursorList};
use super::types::{AppNode, UserNode};
use super::{GqlResult, services, viewer};
use crate::application::access;
use crate::application::apps::create_app_with_keys;
use crate::viewer::Viewer;

/// A developer's role on an app.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "AppRole")]
pub enum AppRole {
    /// Everything, deleting the app included.
    Owner,
    /// Keys, settings and members below owner, besides what developers do.
    Admin,
    /// Builds: agents, model providers, routines, webhooks.
    Developer,
    /// Reads the app's configuration.
    Viewer,
}

impl From<roles::AppRole> for AppRole {
    fn from(role: roles::AppRole) -> Self {
        match role {
            roles::AppRole::Owner => AppRole::Owner,
            roles::AppRole::Admin => AppRole::Admin,
            roles::AppRole::Developer => AppRole::Developer,
            roles::AppRole::Viewer => AppRole::Viewer,
        }
    }
}

impl From<AppRole> for roles::AppRole {
    fn from(role: AppRole) -> Self {
        match role {
            AppRole::Owner => roles::AppRole::Owner,
            AppRole::Admin => roles::AppRole::Admin,
            AppRole::Developer => roles::AppRole::Developer,
            AppRole::Viewer => roles::AppRole::Viewer,
        }
    }
}

/// A developer of an app (a console user) and their role.
pub struct AppMemberNode(pub Member);

#[Object(name = "AppMember")]
impl AppMemberNode {
    async fn user(&self) -> UserNode {
        UserNode::new(self.0.user.clone())
    }
    /// The developer's email: fellow members see it, as they add and
    /// remove each other by it.
    async fn email(&self) -> &str {
        &self.0.user.email
    }
    async fn role(&self) -> GqlResult<AppRole> {
        Ok(app_members::parse_role(&self.0.membership.role)?.into())
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.membership.created_at
    }
}

/// `App.members`: for whoever may view the app's configuration.
pub(super) async fn members(
    ctx: &Context<'_>,
    app: AppId,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<Conn<AppMemberNode>> {
    let scope = viewable(ctx, app).await?;
    let list = CursorList::new("appMembers", app);
    let page =
        app_members::list(services(ctx).db(), scope, list.forward_args(first, after)?).await?;
    Ok(list.connection(page, |m| m.membership.user_id, AppMemberNode))
}

/// The app, when the caller may read its configuration (`AppAction::View`).
pub(super) async fn viewable(ctx: &Context<'_>, app: AppId) -> DomainResult<AppScope> {
    let (scope, _) = access::managed_app(
        services(ctx),
        viewer(ctx),
        Some(&app.to_string()),
        AppAction::View,
    )
    .await?;
    Ok(scope)
}

fn app_id_arg(id: &Option<ID>) -> Option<&str> {
    id.as_ref().map(|id| id.as_str())
}

#[derive(InputObject)]
pub struct CreateAppInput {
    name: String,
}

#[derive(SimpleObject)]
pub struct CreateAppPayload {
    app: AppNode,
    /// `pk_live_…`: shown only here.
    publishable_key: String,
    /// `sk_live_…`: shown only here; keep it on a server.
    secret_key: String,
}

#[derive(InputObject)]
pub struct UpdateAppInput {
    /// Required for developers; may be omitted with the app's secret key.
    app_id: Option<ID>,
    name: String,
}

#[derive(SimpleObject)]
pub struct UpdateAppPayload {
    app: AppNode,
}

#[derive(InputObject)]
pub struct DeleteAppInput {
    app_id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteAppPayload {
    deleted_app_id: ID,
}

#[derive(InputObject)]
pub struct AddAppMemberInput {
    app_id: Option<ID>,
    /// The email of an existing developer (console user).
    email: String,
    role: AppRole,
}

#[derive(SimpleObject)]
pub struct AddAppMemberPayload {
    member: AppMemberNode,
}

#[derive(InputObject)]
pub struct SetAppMemberRoleInput {
    app_id: Option<ID>,
    user_id: ID,
    role: AppRole,
}

#[derive(SimpleObject)]
pub struct SetAppMemberRolePayload {
    member: AppMemberNode,
}

#[derive(InputObject)]
pub struct RemoveAppMemberInput {
    app_id: Option<ID>,
    /// A member; your own id leaves the app.
    user_id: ID,
}

#[derive(SimpleObject)]
pub struct RemoveAppMemberPayload {
    removed_user_id: ID,
}

#[derive(Default)]
pub struct AppMutation;

#[Object]
impl AppMutation {
    /// Creates an app owned by the calling developer, with a live
    /// publishable and secret key, shown only in this answer.
    async fn create_app(
        &self,
        ctx: &Context<'_>,
        input: CreateAppInput,
    ) -> GqlResult<CreateAppPayload> {
        let developer = viewer(ctx).require_developer()?;
        let created = create_app_with_keys(
            services(ctx),
            &input.name,
            NewAppOwner::Developer(developer),
        )
        .await?;
        Ok(CreateAppPayload {
            app: AppNode(created.app),
            publishable_key: created.publishable_key,
            secret_key: created.secret_key,
        })
    }

    /// Renames the app (owners and admins, or its secret key).
    async fn update_app(
        &self,
        ctx: &Context<'_>,
        input: UpdateAppInput,
    ) -> GqlResult<UpdateAppPayload> {
        let services = services(ctx);
        let (scope, _) = access::managed_app(
            services,
            viewer(ctx),
            app_id_arg(&input.app_id),
            AppAction::Configure,
        )
        .await?;
        let name = validation::text_line("name", &input.name, validation::MAX_NAME_CHARS)?;
        let app = apps::rename(services.db(), scope, name, services.clock().now()).await?;
        Ok(UpdateAppPayload { app: AppNode(app) })
    }

    /// Deletes the app and everything in it (owners only). Its keys and its
    /// users' tokens stop working at once, and its sockets close (4403).
    async fn delete_app(
        &self,
        ctx: &Context<'_>,
        input: DeleteAppInput,
    ) -> GqlResult<DeleteAppPayload> {
        let services = services(ctx);
        let (scope, _) = access::managed_app(
            services,
            viewer(ctx),
            Some(input.app_id.as_str()),
            AppAction::Delete,
        )
        .await?;
        apps::delete(services.db(), scope, services.clock().now()).await?;
        services.signing_key_cache().forget(scope.app_id());
        Ok(DeleteAppPayload {
            deleted_app_id: ID(scope.app_id().to_string()),
        })
    }

    /// Makes an existing developer (by their console email) a member of
    /// the app. Admins add anyone but owners; owners anyone.
    async fn add_app_member(
        &self,
        ctx: &Context<'_>,
        input: AddAppMemberInput,
    ) -> GqlResult<AddAppMemberPayload> {
        let services = services(ctx);
        let role: roles::AppRole = input.role.into();
        let (scope, _) = access::managed_app(
            services,
            viewer(ctx),
            app_id_arg(&input.app_id),
            AppAction::ManageMember { role },
        )
        .await?;
        let email = validation::email("email", &input.email)?;
        let member = app_members::add(
            services.db(),
            scope,
            services.console(),
            &email.normalized,
            role,
            services.clock().now(),
        )
        .await?;
        Ok(AddAppMemberPayload {
            member: AppMemberNode(member),
        })
    }

    /// Changes a member's role: admins between viewer, developer and admin;
    /// owners any. The last owner cannot step down (CONFLICT).
    async fn set_app_member_role(
        &self,
        ctx: &Context<'_>,
        input: SetAppMemberRoleInput,
    ) -> GqlResult<SetAppMemberRolePayload> {
        let services = services(ctx);
        let (scope, access) = manage_members(ctx, app_id_arg(&input.app_id)).await?;
        let target = UserId::parse_field(&input.user_id, "userId")?;
        let from = member_role(ctx, scope, target).await?;
        let to: roles::AppRole = input.role.into();
        authorize_app(access, AppAction::ManageMember { role: from })?;
        authorize_app(access, AppAction::ManageMember { role: to })?;
        let member = app_members::set_role(services.db(), scope, target, to).await?;
        Ok(SetAppMemberRolePayload {
            member: AppMemberNode(member),
        })
    }

    /// Removes a member (admins: below owner; owners: anyone), or, with
    /// your own id, leaves the app. The last owner cannot go (CONFLICT).
    async fn remove_app_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveAppMemberInput,
    ) -> GqlResult<RemoveAppMemberPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let target = UserId::parse_field(&input.user_id, "userId")?;
        let leaving =
            matches!(*viewer, Viewer::User { user, developer: true, .. } if user == target);
        let scope = if leaving {
            let (scope, _) =
                access::managed_app(services, viewer, app_id_arg(&input.app_id), AppAction::View)
                    .await?;
            scope
        } else {
            let (scope, access) = manage_members(ctx, app_id_arg(&input.app_id)).await?;
            let role = member_role(ctx, scope, target).await?;
            authorize_app(access, AppAction::ManageMember { role })?;
            scope
        };
        app_members::remove(services.db(), scope, target).await?;
        Ok(RemoveAppMemberPayload {
            removed_user_id: input.user_id,
        })
    }
}

/// The app, once the caller may manage some members (admins and owners):
/// others are refused before anything about the member is looked up.
async fn manage_members(
    ctx: &Context<'_>,
    app_id: Option<&str>,
) -> DomainResult<(AppScope, AppAccess)> {
    access::managed_app(
        services(ctx),
        viewer(ctx),
        app_id,
        AppAction::ManageMember {
            role: roles::AppRole::Viewer,
        },
    )
    .await
}

async fn member_role(
    ctx: &Context<'_>,
    scope: AppScope,
    user: UserId,
) -> DomainResult<roles::AppRole> {
    let member = app_members::find(services(ctx).db(), scope, user)
        .await?
        .ok_or_else(|| DomainError::not_found("app member").with_field("userId"))?;
    app_members::parse_role(&member.membership.role)
}
