//! Loads an object together with what the caller is to it. An object the
//! caller may not see answers NOT_FOUND, exactly like one that does not exist.

use orbit_domain::entities::{team, thread};
use orbit_domain::ids::{AppId, AppScope, TeamId, ThreadId, UserId};
use orbit_domain::policy::{AppAccess, AppAction, TeamAccess, ThreadAccess, authorize_app};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::{apps, teams, threads, users};

use crate::Services;
use crate::viewer::{Actor, Viewer};

pub async fn team(
    services: &Services,
    viewer: &Viewer,
    id: TeamId,
    field: &str,
) -> DomainResult<(team::Model, TeamAccess)> {
    let actor = viewer.actor()?;
    let not_found = || DomainError::not_found("team").with_field(field);
    let team = teams::find(services.db(), viewer.app(), id)
        .await?
        .ok_or_else(not_found)?;
    let access = match actor {
        Actor::App => TeamAccess::App,
        Actor::User(user) => TeamAccess::Member(
            teams::member_role(services.db(), viewer.app(), id, user)
                .await?
                .ok_or_else(not_found)?,
        ),
    };
    Ok((team, access))
}

pub async fn thread(
    services: &Services,
    viewer: &Viewer,
    id: ThreadId,
    field: &str,
) -> DomainResult<(thread::Model, ThreadAccess)> {
    let not_found = || DomainError::not_found("thread").with_field(field);
    match viewer.actor()? {
        Actor::App => {
            let thread = threads::find(services.db(), viewer.app(), id)
                .await?
                .ok_or_else(not_found)?;
            Ok((thread, ThreadAccess::App))
        }
        Actor::User(user) => {
            let (thread, access) = threads::find_with_access(services.db(), viewer.app(), id, user)
                .await?
                .ok_or_else(not_found)?;
            Ok((thread, access.ok_or_else(not_found)?))
        }
    }
}

/// A user the caller may see: themself or someone sharing a team (a secret key sees all).
pub async fn user(
    services: &Services,
    viewer: &Viewer,
    id: UserId,
    field: &str,
) -> DomainResult<orbit_domain::entities::user::Model> {
    let not_found = || DomainError::not_found("user").with_field(field);
    let visible = match viewer.actor()? {
        Actor::App => true,
        Actor::User(me) => users::is_visible(services.db(), viewer.app(), me, id).await?,
    };
    if !visible {
        return Err(not_found());
    }
    users::find(services.db(), viewer.app(), id)
        .await?
        .ok_or_else(not_found)
}

/// The app a control-plane operation acts on, once the caller may do
/// `action` there. The secret key acts on its own app (`appId` may be
/// omitted; another app's id is NOT_FOUND). A developer names the app in
/// `appId` and must be a member of it: an app they are not a member of
/// answers NOT_FOUND, exactly like one that does not exist. Users of an
/// app are not developers of it: FORBIDDEN. Like everything beyond signing
/// in, it is UNAUTHENTICATED with a publishable key or no credential.
pub async fn managed_app(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    action: AppAction,
) -> DomainResult<(AppScope, AppAccess)> {
    const FIELD: &str = "appId";
    let not_found = || DomainError::not_found("app").with_field(FIELD);
    let app_id = app_id.map(|id| AppId::parse_field(id, FIELD)).transpose()?;
    let (scope, access) = match *viewer {
        Viewer::Secret { app } => {
            if app_id.is_some_and(|id| id != app.app_id()) {
                return Err(not_found());
            }
            (app, AppAccess::SecretKey)
        }
        Viewer::User {
            user,
            developer: true,
            ..
        } => {
            let app_id = app_id.ok_or_else(|| {
                DomainError::bad_input(FIELD, "developers name the app they act on")
            })?;
            let role = apps::developer_role(services.db(), app_id, user)
                .await?
                .ok_or_else(not_found)?;
            (AppScope::new(app_id), AppAccess::Member(role))
        }
        Viewer::User { .. } => {
            return Err(DomainError::forbidden(
                "this needs the app's secret key or a developer of the app",
            ));
        }
        Viewer::Anonymous { .. } | Viewer::Publishable { .. } => {
            return Err(DomainError::unauthenticated(
                "this needs the app's secret key or a developer's access token",
            ));
        }
    };
    authorize_app(access, action)?;
    Ok((scope, access))
}
