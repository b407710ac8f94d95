//! DataLoaders: one query for all the rows a list needs, instead of one per
//! row. They are built per request, bound to its app and caller.

use std::collections::HashMap;
use std::sync::OnceLock;

use async_graphql::dataloader::{DataLoader, Loader};
use orbit_domain::entities::{
    agent, agent_reply, team, thread, thread_agent, thread_participant, user,
};
use orbit_domain::ids::{AppScope, UserId};
use orbit_domain::roles::{AppRole, TeamRole};
use orbit_persistence::{agent_replies, agents, app_members, teams, threads, users};
use uuid::Uuid;

use crate::Services;
use crate::viewer::Viewer;

/// The request's DataLoaders, each made on first use: most requests, and
/// every subscription, need few of them, and a subscription holds its
/// request for as long as it runs.
pub(crate) struct Loaders {
    services: Services,
    viewer: Viewer,
    users: OnceLock<DataLoader<UserLoader>>,
    teams: OnceLock<DataLoader<TeamLoader>>,
    threads: OnceLock<DataLoader<ThreadLoader>>,
    participants: OnceLock<DataLoader<ParticipantsLoader>>,
    unread: OnceLock<DataLoader<UnreadLoader>>,
    team_roles: OnceLock<DataLoader<TeamRoleLoader>>,
    presence: OnceLock<DataLoader<PresenceLoader>>,
    agents: OnceLock<DataLoader<AgentLoader>>,
    agent_participants: OnceLock<DataLoader<AgentParticipantsLoader>>,
    replies_asked: OnceLock<DataLoader<RepliesAskedLoader>>,
    app_roles: OnceLock<DataLoader<AppRoleLoader>>,
}

impl Loaders {
    pub fn new(services: &Services, viewer: Viewer) -> Self {
        Self {
            services: services.clone(),
            viewer,
            users: OnceLock::new(),
            teams: OnceLock::new(),
            threads: OnceLock::new(),
            participants: OnceLock::new(),
            unread: OnceLock::new(),
            team_roles: OnceLock::new(),
            presence: OnceLock::new(),
            agents: OnceLock::new(),
            agent_participants: OnceLock::new(),
            replies_asked: OnceLock::new(),
            app_roles: OnceLock::new(),
        }
    }

    pub fn get<T: RequestLoader>(&self) -> &DataLoader<T> {
        T::slot(self).get_or_init(|| {
            let scoped = Scoped {
                services: self.services.clone(),
                scope: self.viewer.app(),
            };
            DataLoader::new(T::build(scoped, self.viewer), tokio::spawn)
        })
    }
}

/// A loader the request makes on first use.
pub(crate) trait RequestLoader: Loader<Uuid> + Sized {
    /// Whether what it loads depends on the caller (their unread counts,
    /// their roles), not only on the app.
    const READS_VIEWER: bool;
    fn slot(loaders: &Loaders) -> &OnceLock<DataLoader<Self>>;
    fn build(scoped: Scoped, viewer: Viewer) -> Self;
}

macro_rules! request_loader {
    ($loader:ident, $slot:ident, reads_viewer: $reads:literal, |$scoped:ident, $viewer:ident| $build:expr) => {
        impl RequestLoader for $loader {
            const READS_VIEWER: bool = $reads;
            fn slot(loaders: &Loaders) -> &OnceLock<DataLoader<Self>> {
                &loaders.$slot
            }
            fn build($scoped: Scoped, $viewer: Viewer) -> Self {
                $build
            }
        }
    };
}

request_loader!(UserLoader, users, reads_viewer: false, |scoped, _viewer| UserLoader(scoped));
request_loader!(TeamLoader, teams, reads_viewer: false, |scoped, _viewer| TeamLoader(scoped));
request_loader!(ThreadLoader, threads, reads_viewer: false, |scoped, _viewer| ThreadLoader(scoped));
request_loader!(ParticipantsLoader, participants, reads_viewer: false, |scoped, _viewer| {
    ParticipantsLoader(scoped)
});
request_loader!(UnreadLoader, unread, reads_viewer: true, |scoped, viewer| UnreadLoader(
    scoped, viewer
));
request_loader!(TeamRoleLoader, team_roles, reads_viewer: true, |scoped, viewer| {
    TeamRoleLoader(scoped, viewer)
});
request_loader!(PresenceLoader, presence, reads_viewer: false, |scoped, _viewer| PresenceLoader(
    scoped
));
request_loader!(AppRoleLoader, app_roles, reads_viewer: true, |scoped, viewer| {
    AppRoleLoader(scoped, viewer)
});

request_loader!(AgentLoader, agents, reads_viewer: false, |scoped, _viewer| AgentLoader(scoped));
request_loader!(AgentParticipantsLoader, agent_participants, reads_viewer: false, |scoped, _viewer| {
    AgentParticipantsLoader(scoped)
});
request_loader!(RepliesAskedLoader, replies_asked, reads_viewer: false, |scoped, _viewer| {
    RepliesAskedLoader(scoped)
});

pub(crate) struct Scoped {
    services: Services,
    scope: AppScope,
}

fn by_id<M>(rows: Vec<M>, id: impl Fn(&M) -> Uuid) -> HashMap<Uuid, M> {
    rows.into_iter().map(|row| (id(&row), row)).collect()
}

fn logged(error: orbit_domain::DomainError) -> String {
    format!("{error:?}")
}

pub(crate) struct UserLoader(Scoped);

impl Loader<Uuid> for UserLoader {
    type Value = user::Model;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = users::find_many(self.0.services.db(), self.0.scope, keys)
            .await
            .map_err(logged)?;
        Ok(by_id(rows, |row| row.id))
    }
}

pub(crate) struct TeamLoader(Scoped);

impl Loader<Uuid> for TeamLoader {
    type Value = team::Model;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = teams::find_many(self.0.services.db(), self.0.scope, keys)
            .await
            .map_err(logged)?;
        Ok(by_id(rows, |row| row.id))
    }
}

pub(crate) struct ThreadLoader(Scoped);

impl Loader<Uuid> for ThreadLoader {
    type Value = thread::Model;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = threads::find_many(self.0.services.db(), self.0.scope, keys)
            .await
            .map_err(logged)?;
        Ok(by_id(rows, |row| row.id))
    }
}

pub(crate) struct ParticipantsLoader(Scoped);

impl Loader<Uuid> for ParticipantsLoader {
    type Value = Vec<thread_participant::Model>;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        threads::participants_of(self.0.services.db(), self.0.scope, keys)
            .await
            .map_err(logged)
    }
}

/// Unread counts for the calling user; nothing for a key.
pub(crate) struct UnreadLoader(Scoped, Viewer);

impl Loader<Uuid> for UnreadLoader {
    type Value = i64;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let Some(user) = self.1.user() else {
            return Ok(HashMap::new());
        };
        threads::unread_counts(self.0.services.db(), self.0.scope, user, keys)
            .await
            .map_err(logged)
    }
}

/// The calling user's role in teams.
pub(crate) struct TeamRoleLoader(Scoped, Viewer);

impl Loader<Uuid> for TeamRoleLoader {
    type Value = TeamRole;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let Some(user) = self.1.user() else {
            return Ok(HashMap::new());
        };
        teams::roles_of(self.0.services.db(), self.0.scope, user, keys)
            .await
            .map_err(logged)
    }
}

/// Users' presence: one round trip to the presence store for a whole list.
pub(crate) struct PresenceLoader(Scoped);

impl Loader<Uuid> for PresenceLoader {
    type Value = orbit_realtime::PresenceStatus;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let users: Vec<UserId> = keys.iter().copied().map(UserId).collect();
        let statuses = self
            .0
            .services
            .presence()
            .statuses(&self.0.services, self.0.scope, &users)
            .await
            .map_err(|error| error.to_string())?;
        Ok(keys.iter().copied().zip(statuses).collect())
    }
}

pub(crate) struct AgentLoader(Scoped);

impl Loader<Uuid> for AgentLoader {
    type Value = agent::Model;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = agents::find_many(self.0.services.db(), self.0.scope, keys)
            .await
            .map_err(logged)?;
        Ok(by_id(rows, |row| row.id))
    }
}

/// The agents taking part in each thread.
pub(crate) struct AgentParticipantsLoader(Scoped);

impl Loader<Uuid> for AgentParticipantsLoader {
    type Value = Vec<thread_agent::Model>;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        agents::in_threads(self.0.services.db(), self.0.scope, keys)
            .await
            .map_err(logged)
    }
}

/// The agent replies each message asked for.
pub(crate) struct RepliesAskedLoader(Scoped);

impl Loader<Uuid> for RepliesAskedLoader {
    type Value = Vec<agent_reply::Model>;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        agent_replies::asked_by(self.0.services.db(), self.0.scope, keys)
            .await
            .map_err(logged)
    }
}

/// The calling developer's role on apps; nothing for anyone else.
pub(crate) struct AppRoleLoader(Scoped, Viewer);

impl Loader<Uuid> for AppRoleLoader {
    type Value = AppRole;
    type Error = String;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let Viewer::User {
            user,
            developer: true,
            ..
        } = self.1
        else {
            return Ok(HashMap::new());
        };
        app_members::roles_of(self.0.services.db(), user, keys)
            .await
            .map_err(logged)
    }
}
