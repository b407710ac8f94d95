//! Loads an object together with what the caller is to it. An object the
//! caller may not see answers NOT_FOUND, exactly like one that does not exist.

use orbit_domain::entities::{team, thread};
use orbit_domain::ids::{TeamId, ThreadId, UserId};
use orbit_domain::policy::{TeamAccess, ThreadAccess};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::{teams, threads, users};

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
    let actor = viewer.actor()?;
    let not_found = || DomainError::not_found("thread").with_field(field);
    let thread = threads::find(services.db(), viewer.app(), id)
        .await?
        .ok_or_else(not_found)?;
    let access = match actor {
        Actor::App => ThreadAccess::App,
        Actor::User(user) => threads::access(services.db(), viewer.app(), &thread, user)
            .await?
            .ok_or_else(not_found)?,
    };
    Ok((thread, access))
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
